//! Synthetic camera photos for tests and benchmarks: photo-like pixels, JPEG
//! encoding, and a hand-built EXIF APP1 segment (orientation, GPS, time) so
//! that fixtures carry the same metadata a phone writes.
//!
//! Not used by the pipeline itself.

use choucha_shared::GeoPoint;
use image::{Rgb, RgbImage};

/// What [`exif_app1`] writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifSpec {
    /// Orientation tag (0x0112), omitted when `None`.
    pub orientation: Option<u16>,
    /// GPS IFD with latitude/longitude (and accuracy, as
    /// GPSHPositioningError) when `Some`.
    pub gps: Option<GeoPoint>,
    /// DateTimeOriginal, `YYYY:MM:DD HH:MM:SS`.
    pub taken_at: Option<String>,
}

/// A photo-like image: smooth colour gradients, a few hard-edged shapes (a
/// "signboard", a "door") and per-pixel sensor-like noise of `noise`
/// amplitude, from a fixed `seed` (same seed, same pixels).
pub fn photo_like(width: u32, height: u32, noise: u8, seed: u64) -> RgbImage {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (x as f32 / w, y as f32 / h);
        let mut c = [
            60.0 + 150.0 * u + 30.0 * (v * 9.0).sin(),
            90.0 + 100.0 * v + 25.0 * (u * 13.0 + v * 5.0).cos(),
            140.0 - 90.0 * u * v + 20.0 * ((u - v) * 17.0).sin(),
        ];
        if (0.2..0.8).contains(&u) && (0.1..0.25).contains(&v) {
            c = [200.0, 30.0, 30.0]; // red signboard
        } else if (0.4..0.6).contains(&u) && v > 0.45 {
            c = [70.0 + 40.0 * v, 50.0, 35.0]; // door
        }
        let r = next();
        let mut px = [0u8; 3];
        for (k, out) in px.iter_mut().enumerate() {
            let n = if noise == 0 {
                0.0
            } else {
                ((r >> (k * 16)) % (2 * u64::from(noise) + 1)) as f32 - f32::from(noise)
            };
            *out = (c[k] + n).clamp(0.0, 255.0) as u8;
        }
        Rgb(px)
    })
}

/// Encodes with the `image` crate's JPEG encoder (as a different encoder
/// from the pipeline's, like a camera's would be).
pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("encoding to memory cannot fail");
    out
}

/// Inserts an APP1 segment right after SOI (where cameras put EXIF).
pub fn with_app1(jpeg: &[u8], app1: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "not a JPEG");
    let mut out = Vec::with_capacity(jpeg.len() + app1.len());
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A complete APP1 segment (`FF E1`, length, `Exif\0\0`, big-endian TIFF)
/// carrying the tags of `spec`.
pub fn exif_app1(spec: &ExifSpec) -> Vec<u8> {
    let tiff = exif_tiff(spec);
    let mut seg = vec![0xFF, 0xE1];
    let len = u16::try_from(2 + 6 + tiff.len()).expect("EXIF fits one segment");
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

enum Val {
    Short(u16),
    Long(u32),
    Ascii(Vec<u8>),
    Rationals(Vec<(u32, u32)>),
    Bytes(Vec<u8>),
}

struct Entry {
    tag: u16,
    val: Val,
}

/// Big-endian TIFF: IFD0 (Orientation, ExifIFD pointer, GPS pointer), the
/// Exif IFD (DateTimeOriginal) and the GPS IFD.
fn exif_tiff(spec: &ExifSpec) -> Vec<u8> {
    let mut ifd0 = Vec::new();
    if let Some(o) = spec.orientation {
        ifd0.push(Entry {
            tag: 0x0112,
            val: Val::Short(o),
        });
    }
    let exif_ifd: Vec<Entry> = spec
        .taken_at
        .iter()
        .map(|t| {
            let mut s = t.as_bytes().to_vec();
            s.push(0);
            Entry {
                tag: 0x9003,
                val: Val::Ascii(s),
            }
        })
        .collect();
    let gps_ifd: Vec<Entry> = match &spec.gps {
        None => Vec::new(),
        Some(p) => {
            let dms = |v: f64| {
                let v = v.abs();
                let d = v.trunc();
                let m = ((v - d) * 60.0).trunc();
                let s = ((v - d) * 60.0 - m) * 60.0;
                vec![
                    (d as u32, 1),
                    (m as u32, 1),
                    ((s * 10_000.0).round() as u32, 10_000),
                ]
            };
            let mut e = vec![
                Entry {
                    tag: 0x0000,
                    val: Val::Bytes(vec![2, 3, 0, 0]),
                },
                Entry {
                    tag: 0x0001,
                    val: Val::Ascii(if p.lat < 0.0 { b"S\0" } else { b"N\0" }.to_vec()),
                },
                Entry {
                    tag: 0x0002,
                    val: Val::Rationals(dms(p.lat)),
                },
                Entry {
                    tag: 0x0003,
                    val: Val::Ascii(if p.lon < 0.0 { b"W\0" } else { b"E\0" }.to_vec()),
                },
                Entry {
                    tag: 0x0004,
                    val: Val::Rationals(dms(p.lon)),
                },
            ];
            if let Some(a) = p.accuracy_m {
                e.push(Entry {
                    tag: 0x001F,
                    val: Val::Rationals(vec![((a * 100.0).round() as u32, 100)]),
                });
            }
            e
        }
    };
    // Layout: header (8) | IFD0 | Exif IFD | GPS IFD, each followed by its
    // out-of-line values. Pointers are filled in once offsets are known.
    let ifd_size = |n: usize| 2 + n * 12 + 4;
    let ifd0_entries =
        ifd0.len() + usize::from(!exif_ifd.is_empty()) + usize::from(!gps_ifd.is_empty());
    let mut out = b"MM\0\x2A\0\0\0\x08".to_vec();
    let ifd0_end = 8 + ifd_size(ifd0_entries) + extra_size(&ifd0);
    let exif_off = ifd0_end;
    let gps_off = exif_off
        + if exif_ifd.is_empty() {
            0
        } else {
            ifd_size(exif_ifd.len()) + extra_size(&exif_ifd)
        };
    if !exif_ifd.is_empty() {
        ifd0.push(Entry {
            tag: 0x8769,
            val: Val::Long(exif_off as u32),
        });
    }
    if !gps_ifd.is_empty() {
        ifd0.push(Entry {
            tag: 0x8825,
            val: Val::Long(gps_off as u32),
        });
    }
    write_ifd(&mut out, &ifd0);
    if !exif_ifd.is_empty() {
        write_ifd(&mut out, &exif_ifd);
    }
    if !gps_ifd.is_empty() {
        write_ifd(&mut out, &gps_ifd);
    }
    out
}

fn raw(v: &Val) -> (u16, u32, Vec<u8>) {
    match v {
        Val::Short(s) => (3, 1, s.to_be_bytes().to_vec()),
        Val::Long(l) => (4, 1, l.to_be_bytes().to_vec()),
        Val::Ascii(a) => (2, a.len() as u32, a.clone()),
        Val::Bytes(b) => (1, b.len() as u32, b.clone()),
        Val::Rationals(r) => (
            5,
            r.len() as u32,
            r.iter()
                .flat_map(|(n, d)| n.to_be_bytes().into_iter().chain(d.to_be_bytes()))
                .collect(),
        ),
    }
}

fn extra_size(entries: &[Entry]) -> usize {
    entries
        .iter()
        .map(|e| raw(&e.val).2.len())
        .filter(|&n| n > 4)
        .map(|n| n + n % 2)
        .sum()
}

/// Writes an IFD at the current end of `out` (entries sorted by tag), then
/// its out-of-line values.
fn write_ifd(out: &mut Vec<u8>, entries: &[Entry]) {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.tag);
    let start = out.len();
    let mut extra_at = start + 2 + sorted.len() * 12 + 4;
    let mut extra = Vec::new();
    out.extend_from_slice(&(sorted.len() as u16).to_be_bytes());
    for e in sorted {
        let (ty, count, bytes) = raw(&e.val);
        out.extend_from_slice(&e.tag.to_be_bytes());
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        if bytes.len() <= 4 {
            let mut inline = bytes.clone();
            inline.resize(4, 0);
            out.extend_from_slice(&inline);
        } else {
            out.extend_from_slice(&(extra_at as u32).to_be_bytes());
            extra.extend_from_slice(&bytes);
            if bytes.len() % 2 == 1 {
                extra.push(0);
            }
            extra_at += bytes.len() + bytes.len() % 2;
        }
    }
    out.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    out.extend_from_slice(&extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_exif_reads_back() {
        let spec = ExifSpec {
            orientation: Some(6),
            gps: Some(GeoPoint::new(29.560_123, -106.330_789, Some(7.5)).unwrap()),
            taken_at: Some("2024:01:10 10:05:33".into()),
        };
        let file = with_app1(&jpeg(&photo_like(16, 8, 4, 1), 90), &exif_app1(&spec));
        let facts = super::super::exif::read(&file);
        assert_eq!(facts.orientation, 6);
        let gps = facts.gps.unwrap();
        assert!((gps.lat - 29.560_123).abs() < 1e-6, "{gps:?}");
        assert!((gps.lon + 106.330_789).abs() < 1e-6, "{gps:?}");
        assert_eq!(gps.accuracy_m, Some(7.5));
        assert_eq!(facts.taken_at.unwrap().to_string(), "2024-01-10 10:05:33");
    }
}
