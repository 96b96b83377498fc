//! Resizing and EXIF orientation.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::{PhotoError, Rgb};

/// The output size for `w`x`h` with the longer side at most `long_edge`,
/// keeping the aspect ratio (each side at least 1 pixel).
pub(super) fn target_size(w: u32, h: u32, long_edge: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= long_edge {
        return (w, h);
    }
    let scale = |side: u32| {
        let v = (u64::from(side) * u64::from(long_edge) + u64::from(long) / 2) / u64::from(long);
        (v as u32).clamp(1, long_edge)
    };
    (scale(w), scale(h))
}

/// Downscales so the longer side is `long_edge` (Lanczos-3, SIMD); returns
/// the image untouched when it is already small enough.
pub(super) fn fit_long_edge(src: Rgb, long_edge: u32) -> Result<Rgb, PhotoError> {
    let (w, h) = target_size(src.width, src.height, long_edge);
    if (w, h) == (src.width, src.height) {
        return Ok(src);
    }
    let resize_err = |e: &dyn std::fmt::Display| PhotoError::Corrupt {
        detail: format!("resizing failed: {e}"),
    };
    let view = ImageRef::new(src.width, src.height, &src.data, PixelType::U8x3)
        .map_err(|e| resize_err(&e))?;
    let mut dst = Image::new(w, h, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(&view, &mut dst, &options)
        .map_err(|e| resize_err(&e))?;
    Ok(Rgb {
        width: w,
        height: h,
        data: dst.into_vec(),
    })
}

/// Applies EXIF orientation `o` (1-8) so the image displays upright without
/// the tag. Any other value leaves the image as it is.
pub(super) fn orient(src: Rgb, o: u16) -> Rgb {
    let (w, h) = (src.width as usize, src.height as usize);
    // For each output pixel (x, y): the source pixel.
    match o {
        2 => remap(&src, w, h, |x, y| (w - 1 - x, y)),
        3 => remap(&src, w, h, |x, y| (w - 1 - x, h - 1 - y)),
        4 => remap(&src, w, h, |x, y| (x, h - 1 - y)),
        5 => remap(&src, h, w, |x, y| (y, x)),
        6 => remap(&src, h, w, |x, y| (y, h - 1 - x)),
        7 => remap(&src, h, w, |x, y| (w - 1 - y, h - 1 - x)),
        8 => remap(&src, h, w, |x, y| (w - 1 - y, x)),
        _ => src,
    }
}

/// A `dw`x`dh` image whose pixel (x, y) is `src`'s pixel `map(x, y)`.
/// Works in tiles so that the column-wise reads of a rotation stay in cache.
fn remap(src: &Rgb, dw: usize, dh: usize, map: impl Fn(usize, usize) -> (usize, usize)) -> Rgb {
    const TILE: usize = 64;
    let sw = src.width as usize;
    let mut data = vec![0u8; src.data.len()];
    for ty in (0..dh).step_by(TILE) {
        for tx in (0..dw).step_by(TILE) {
            let tx_end = (tx + TILE).min(dw);
            for y in ty..(ty + TILE).min(dh) {
                let row = &mut data[(y * dw + tx) * 3..(y * dw + tx_end) * 3];
                for (px, x) in row.chunks_exact_mut(3).zip(tx..tx_end) {
                    let (sx, sy) = map(x, y);
                    let s = (sy * sw + sx) * 3;
                    px.copy_from_slice(&src.data[s..s + 3]);
                }
            }
        }
    }
    Rgb {
        width: dw as u32,
        height: dh as u32,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::metadata::Orientation;
    use image::{DynamicImage, RgbImage};

    #[test]
    fn sizes() {
        assert_eq!(target_size(4000, 3000, 2048), (2048, 1536));
        assert_eq!(target_size(3000, 4000, 2048), (1536, 2048));
        assert_eq!(target_size(800, 600, 2048), (800, 600));
        assert_eq!(target_size(100_000, 10, 2048), (2048, 1));
    }

    #[test]
    fn orientation_matches_the_image_crate() {
        let img = RgbImage::from_fn(5, 3, |x, y| {
            image::Rgb([x as u8, y as u8, (x * 7 + y) as u8])
        });
        for o in 1..=8u8 {
            let mut expected = DynamicImage::ImageRgb8(img.clone());
            expected.apply_orientation(Orientation::from_exif(o).unwrap());
            let expected = expected.into_rgb8();
            let got = orient(
                Rgb {
                    width: 5,
                    height: 3,
                    data: img.clone().into_raw(),
                },
                u16::from(o),
            );
            assert_eq!(
                (got.width, got.height),
                expected.dimensions(),
                "orientation {o}"
            );
            assert_eq!(got.data, expected.into_raw(), "orientation {o}");
        }
    }
}
