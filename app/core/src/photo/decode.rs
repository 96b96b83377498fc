//! Recognising, checking and decoding the input.
//!
//! Everything that can refuse a photo cheaply happens in [`probe`], from the
//! header alone: the format, the dimensions against the pixel limit, and (for
//! JPEG) a walk over the marker structure that finds a truncated file before
//! the decoder would quietly fill the missing part with grey.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use super::{PhotoError, Rgb};

/// A recognised JPEG or PNG whose header passed the checks.
pub(super) struct Probed<'a> {
    pub input: &'a [u8],
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// The decoded raster and the input's colour profile.
pub(super) struct Decoded {
    pub rgb: Rgb,
    pub icc: Option<Vec<u8>>,
}

pub(super) fn probe(input: &[u8], max_pixels: u64) -> Result<Probed<'_>, PhotoError> {
    let format = match image::guess_format(input) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png)) => f,
        Ok(other) => {
            return Err(PhotoError::Unsupported {
                format: format_name(other),
            });
        }
        Err(_) if is_heif(input) => {
            return Err(PhotoError::Unsupported {
                format: "HEIC/HEIF".into(),
            });
        }
        Err(_) => return Err(PhotoError::NotAnImage),
    };
    let reader = ImageReader::with_format(Cursor::new(input), format);
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| header_error(e, format, input))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(PhotoError::TooLarge {
            width,
            height,
            limit_pixels: max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt {
            detail: format!("the header says {width}x{height} pixels"),
        });
    }
    if format == ImageFormat::Jpeg {
        jpeg_structure(input)?;
    }
    Ok(Probed {
        input,
        format,
        width,
        height,
    })
}

/// Decodes to 8-bit RGB. Grey is expanded; transparency is composited onto
/// white (a transparent pixel's colour is otherwise arbitrary).
pub(super) fn decode(p: Probed<'_>) -> Result<Decoded, PhotoError> {
    let mut reader = ImageReader::with_format(Cursor::new(p.input), p.format);
    let mut limits = Limits::default();
    // Enough for a 16-bit RGBA raster of the (already checked) dimensions,
    // plus room for PNG metadata chunks; nothing the header did not announce.
    let raster = u64::from(p.width) * u64::from(p.height) * 8;
    limits.max_alloc = Some(raster + 64 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    // Only an RGB profile describes the RGB output (a CMYK or grey one would
    // make viewers misread every pixel).
    let icc = decoder
        .icc_profile()
        .ok()
        .flatten()
        .filter(|p| p.get(16..20) == Some(b"RGB "));
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    let (width, height) = (image.width(), image.height());
    let data = match image {
        DynamicImage::ImageRgb8(buf) => buf.into_raw(),
        other if other.color().has_alpha() => over_white(other.into_rgba8().into_raw()),
        other => other.into_rgb8().into_raw(),
    };
    Ok(Decoded {
        rgb: Rgb {
            width,
            height,
            data,
        },
        icc,
    })
}

fn over_white(rgba: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgba.len() / 4 * 3);
    for px in rgba.chunks_exact(4) {
        let a = u32::from(px[3]);
        for &c in &px[..3] {
            // c*a + 255*(1-a), rounded, in 0..=255.
            out.push(((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8);
        }
    }
    out
}

fn format_name(f: ImageFormat) -> String {
    match f {
        ImageFormat::OpenExr => "EXR".into(),
        other => format!("{other:?}").to_ascii_uppercase(),
    }
}

/// ISO-BMFF `ftyp` box with a HEIF brand (iPhone photos).
fn is_heif(input: &[u8]) -> bool {
    input.len() >= 12
        && &input[4..8] == b"ftyp"
        && matches!(
            &input[8..12],
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1"
        )
}

fn header_error(e: ImageError, format: ImageFormat, input: &[u8]) -> PhotoError {
    match e {
        ImageError::Unsupported(u) => PhotoError::Unsupported {
            format: u.to_string(),
        },
        // A JPEG header that ends early: say so rather than "corrupt".
        e if format == ImageFormat::Jpeg => match jpeg_structure(input) {
            Err(truncated @ PhotoError::Truncated { .. }) => truncated,
            _ => PhotoError::Corrupt {
                detail: e.to_string(),
            },
        },
        e if looks_truncated(&e) => PhotoError::Truncated {
            detail: format!("the header is incomplete ({e})"),
        },
        e => PhotoError::Corrupt {
            detail: e.to_string(),
        },
    }
}

fn decode_error(e: ImageError) -> PhotoError {
    match e {
        ImageError::Unsupported(u) => PhotoError::Unsupported {
            format: u.to_string(),
        },
        ImageError::Limits(l) => PhotoError::Corrupt {
            detail: format!("the decoder needed more memory than the header announced ({l})"),
        },
        e if looks_truncated(&e) => PhotoError::Truncated {
            detail: e.to_string(),
        },
        e => PhotoError::Corrupt {
            detail: e.to_string(),
        },
    }
}

fn looks_truncated(e: &ImageError) -> bool {
    if let ImageError::IoError(io) = e {
        return io.kind() == std::io::ErrorKind::UnexpectedEof;
    }
    let text = e.to_string().to_ascii_lowercase();
    [
        "eof",
        "end of file",
        "unexpected end",
        "no more bytes",
        "truncated",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// Walks the JPEG marker structure from SOI to EOI: segment lengths, then
/// each scan's entropy-coded data up to the next marker. A file that ends
/// before EOI is truncated. Bytes after EOI (maker-note trailers, MPF
/// previews) are ignored. Costs one `memchr` pass over the file.
pub(super) fn jpeg_structure(data: &[u8]) -> Result<(), PhotoError> {
    let truncated = |at: usize, what: &str| PhotoError::Truncated {
        detail: format!("the JPEG ends at byte {at} of {}, {what}", data.len()),
    };
    if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
        return Err(PhotoError::Corrupt {
            detail: "the JPEG does not start with SOI".into(),
        });
    }
    let mut pos = 2;
    let mut scans = 0u32;
    loop {
        // Find the next marker; tolerate stray bytes and fill bytes.
        let Some(ff) = memchr::memchr(0xFF, &data[pos..]) else {
            return Err(truncated(data.len(), "before its end-of-image marker"));
        };
        pos += ff;
        while pos < data.len() && data[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else {
            return Err(truncated(data.len(), "inside a marker"));
        };
        pos += 1;
        match marker {
            0xD9 => {
                return if scans == 0 {
                    Err(PhotoError::Corrupt {
                        detail: "the JPEG has no image data".into(),
                    })
                } else {
                    Ok(())
                };
            }
            // Standalone markers without a length (RSTn, TEM); 0x00 is a
            // stuffed byte where it should not be: skip it like decoders do.
            0xD0..=0xD7 | 0x01 | 0x00 => {}
            _ => {
                let Some(len) = data.get(pos..pos + 2) else {
                    return Err(truncated(data.len(), "inside a segment header"));
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                if len < 2 {
                    return Err(PhotoError::Corrupt {
                        detail: format!("segment 0xFF{marker:02X} at byte {pos} has length {len}"),
                    });
                }
                pos += len;
                if pos > data.len() {
                    return Err(truncated(data.len(), "inside a segment"));
                }
                if marker == 0xDA {
                    scans += 1;
                    pos = skip_entropy_data(data, pos)
                        .ok_or_else(|| truncated(data.len(), "inside the image data"))?;
                }
            }
        }
    }
}

/// From the start of entropy-coded data, the position of the next real
/// marker (the 0xFF that starts it), or None when the data runs out first.
fn skip_entropy_data(data: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        pos += memchr::memchr(0xFF, data.get(pos..)?)?;
        match data.get(pos + 1)? {
            // Stuffed zero, restart markers, fill bytes: still in the scan.
            0x00 | 0xD0..=0xD7 => pos += 2,
            0xFF => pos += 1,
            _ => return Some(pos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_jpeg() -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 8, y as u8 * 10, 90]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out
    }

    #[test]
    fn structure_accepts_whole_file_and_trailer() {
        let mut jpeg = tiny_jpeg();
        jpeg_structure(&jpeg).unwrap();
        jpeg.extend_from_slice(b"\0\0trailer written by some cameras");
        jpeg_structure(&jpeg).unwrap();
    }

    #[test]
    fn structure_finds_every_truncation() {
        let jpeg = tiny_jpeg();
        for cut in 4..jpeg.len() - 1 {
            let err = jpeg_structure(&jpeg[..cut]).unwrap_err();
            assert!(
                matches!(
                    err,
                    PhotoError::Truncated { .. } | PhotoError::Corrupt { .. }
                ),
                "cut at {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn alpha_goes_onto_white() {
        assert_eq!(
            over_white(vec![0, 0, 0, 0, 10, 20, 30, 255]),
            vec![255, 255, 255, 10, 20, 30]
        );
    }
}
