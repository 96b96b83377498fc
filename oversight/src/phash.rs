//! Perceptual photo hash (DCT pHash) for "the same photo used in another
//! inspection".
//!
//! A SHA-256 only finds the same *file*; a photo re-saved, recompressed,
//! resized or watermarked again has different bytes but nearly the same
//! picture. pHash captures the picture: the image is reduced to 32×32 grey
//! levels, transformed with a 2-D DCT-II, and the 8×8 lowest frequencies
//! are compared with the median of the 63 non-DC ones (the DC term is only
//! overall brightness and would skew the median) — one bit each. Small edits move few bits; different scenes differ in about
//! half. Two photos whose hashes differ in at most [`MAX_DISTANCE`] bits are
//! treated as the same photo.
//!
//! Lookup is indexed: the 64 bits are cut into [`BANDS`] bands; two hashes
//! within distance 4 must agree exactly on at least one of the five bands
//! (pigeonhole), so candidates come from five equality lookups.

use image::imageops::FilterType;

/// Largest Hamming distance the band index can find.
pub const MAX_DISTANCE: u32 = 4;
/// Bands the hash is cut into for lookup (`MAX_DISTANCE + 1`).
pub const BANDS: usize = 5;

const SIZE: usize = 32;
const LOW: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PhashError {
    #[error("照片无法解码 (photo cannot be decoded: {0})")]
    Decode(#[from] image::ImageError),
}

/// The pHash of an encoded image (JPEG or PNG).
pub fn phash(bytes: &[u8]) -> Result<u64, PhashError> {
    let img = image::load_from_memory(bytes)?;
    Ok(phash_image(&img))
}

/// The pHash of a decoded image.
pub fn phash_image(img: &image::DynamicImage) -> u64 {
    // A cheap first reduction keeps the filtered resize below fast for
    // 12-megapixel photos; the DCT only looks at 32×32 anyway.
    let small = if img.width() > 512 || img.height() > 512 {
        img.thumbnail(256, 256)
    } else {
        img.clone()
    };
    let grey = small
        .resize_exact(SIZE as u32, SIZE as u32, FilterType::Triangle)
        .to_luma8();
    let mut pixels = [[0f64; SIZE]; SIZE];
    for (x, y, p) in grey.enumerate_pixels() {
        pixels[y as usize][x as usize] = f64::from(p.0[0]);
    }
    let dct = dct_2d(&pixels);
    let mut low = [0f64; LOW * LOW];
    for v in 0..LOW {
        for u in 0..LOW {
            low[v * LOW + u] = dct[v][u];
        }
    }
    let mut sorted: Vec<f64> = low[1..].to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let mut hash = 0u64;
    for (i, c) in low.iter().enumerate() {
        if *c > median {
            hash |= 1 << i;
        }
    }
    hash
}

/// Separable 2-D DCT-II (unnormalised; only the order of values matters).
fn dct_2d(input: &[[f64; SIZE]; SIZE]) -> [[f64; SIZE]; SIZE] {
    let mut cos = [[0f64; SIZE]; SIZE];
    for (k, row) in cos.iter_mut().enumerate() {
        for (n, c) in row.iter_mut().enumerate() {
            *c = (std::f64::consts::PI / SIZE as f64 * (n as f64 + 0.5) * k as f64).cos();
        }
    }
    let mut rows = [[0f64; SIZE]; SIZE];
    for y in 0..SIZE {
        for k in 0..LOW {
            rows[y][k] = (0..SIZE).map(|n| input[y][n] * cos[k][n]).sum();
        }
    }
    let mut out = [[0f64; SIZE]; SIZE];
    for k in 0..LOW {
        for u in 0..LOW {
            out[k][u] = (0..SIZE).map(|n| rows[n][u] * cos[k][n]).sum();
        }
    }
    out
}

/// Bits in which two hashes differ.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The hash cut into [`BANDS`] bands of 13, 13, 13, 13 and 12 bits.
pub fn bands(hash: u64) -> [i64; BANDS] {
    let mut out = [0i64; BANDS];
    for (i, band) in out.iter_mut().enumerate() {
        let shift = 13 * i;
        let width = if i == BANDS - 1 { 64 - shift } else { 13 };
        *band = ((hash >> shift) & ((1u64 << width) - 1)) as i64;
    }
    out
}

/// Stored as a signed 64-bit integer (both databases' native integer).
pub fn to_db(hash: u64) -> i64 {
    i64::from_ne_bytes(hash.to_ne_bytes())
}

pub fn from_db(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, Rgb, RgbImage};

    /// A synthetic "scene": gradients and blocks that depend on `seed`.
    fn scene(seed: u32, w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let fx = x as f64 / w as f64;
            let fy = y as f64 / h as f64;
            let s = f64::from(seed);
            let v = ((fx * (3.0 + s) + fy * (1.0 + s * 0.7)).sin() * 0.5 + 0.5) * 200.0;
            let block = if ((fx * (2.0 + s)) as u32 + (fy * 3.0) as u32) % 2 == 0 {
                40.0
            } else {
                0.0
            };
            let g = (v + block).min(255.0) as u8;
            Rgb([g, g.saturating_sub(30), 255 - g])
        })
    }

    fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
        img.write_with_encoder(enc).unwrap();
        out
    }

    #[test]
    fn recompressed_and_resized_photo_is_near() {
        let original = scene(1, 1600, 1200);
        let a = phash(&jpeg(&original, 92)).unwrap();
        let b = phash(&jpeg(&original, 40)).unwrap();
        let resized = DynamicImage::ImageRgb8(original.clone())
            .resize_exact(800, 600, FilterType::Lanczos3)
            .to_rgb8();
        let c = phash(&jpeg(&resized, 75)).unwrap();
        assert!(distance(a, b) <= MAX_DISTANCE, "{}", distance(a, b));
        assert!(distance(a, c) <= MAX_DISTANCE, "{}", distance(a, c));
    }

    #[test]
    fn different_scenes_are_far() {
        let hashes: Vec<u64> = (1..8)
            .map(|s| phash(&jpeg(&scene(s, 640, 480), 85)).unwrap())
            .collect();
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                let d = distance(hashes[i], hashes[j]);
                assert!(
                    d > 2 * MAX_DISTANCE,
                    "scenes {i} and {j} differ in {d} bits only"
                );
            }
        }
    }

    #[test]
    fn bands_cover_every_bit_and_find_near_hashes() {
        let h = 0xDEAD_BEEF_0123_4567u64;
        let b = bands(h);
        let mut back = 0u64;
        for (i, v) in b.iter().enumerate() {
            back |= (*v as u64) << (13 * i);
        }
        assert_eq!(back, h);
        // Flip any MAX_DISTANCE bits: some band still matches exactly.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            let mut other = h;
            for _ in 0..MAX_DISTANCE {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                other ^= 1 << (x % 64);
            }
            let ob = bands(other);
            assert!(b.iter().zip(ob.iter()).any(|(p, q)| p == q));
        }
        assert_eq!(from_db(to_db(u64::MAX)), u64::MAX);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = phash(b"not an image").unwrap_err();
        assert!(e.to_string().contains("照片无法解码"), "{e}");
    }
}
