//! The photo pipeline on real JPEG/PNG files made here: EXIF orientation
//! and GPS, resizing, the watermark, the digest, and every kind of bad input.

use std::time::{Duration, Instant};

use choucha_app_core::photo::fixture::{ExifSpec, exif_app1, jpeg, photo_like, with_app1};
use choucha_app_core::photo::watermark::{font_covers, ink, text_px};
use choucha_app_core::photo::{
    PhotoConfig, PhotoError, ProcessedPhoto, Watermark, exif_facts, process,
};
use choucha_shared::{GeoPoint, Sha256Hex};
use image::{GenericImageView, ImageFormat, Rgb, RgbImage, RgbaImage};
use sha2::{Digest, Sha256};

fn mark() -> Watermark {
    Watermark {
        taken_at: "2024-01-10T02:05:33Z".parse().unwrap(),
        gps: Some(GeoPoint::new(29.560_1, 106.330_7, Some(8.0)).unwrap()),
        target_name: "重庆某某科技有限公司".into(),
        officers: vec!["张三".into(), "李四".into()],
        task_id: "T-2024-0001".into(),
    }
}

fn run(input: &[u8]) -> ProcessedPhoto {
    process(input, &mark(), &PhotoConfig::default()).unwrap()
}

fn refuse(input: &[u8]) -> PhotoError {
    process(input, &mark(), &PhotoConfig::default()).unwrap_err()
}

fn decode(photo: &ProcessedPhoto) -> RgbImage {
    let img = image::load_from_memory_with_format(&photo.jpeg, ImageFormat::Jpeg).unwrap();
    assert_eq!(img.dimensions(), (photo.width, photo.height));
    img.into_rgb8()
}

/// Height of the watermark band for an output of this size (an upper bound:
/// five lines plus padding).
fn band_height(w: u32, h: u32) -> u32 {
    let px = text_px(w, h);
    (5.0 * (px * 1.3).round() + 2.0 * (px * 0.6).round()) as u32 + 2
}

fn solid(w: u32, h: u32, c: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(w, h, Rgb(c))
}

fn png(img: &RgbaImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn close(a: [u8; 3], b: [u8; 3], tol: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tol)
}

// ---- orientation and EXIF --------------------------------------------------

#[test]
fn exif_orientation_6_turns_a_landscape_shot_portrait() {
    // Stored as the sensor saw it: 400x200, top half red, bottom half blue.
    let img = RgbImage::from_fn(400, 200, |_, y| {
        if y < 100 {
            Rgb([220, 20, 20])
        } else {
            Rgb([20, 20, 220])
        }
    });
    let spec = ExifSpec {
        orientation: Some(6),
        gps: Some(GeoPoint::new(29.560_123, 106.330_789, Some(5.0)).unwrap()),
        taken_at: Some("2024:01:10 10:05:33".into()),
    };
    let input = with_app1(&jpeg(&img, 92), &exif_app1(&spec));
    let photo = run(&input);

    assert_eq!(
        (photo.width, photo.height),
        (200, 400),
        "portrait after rotation"
    );
    assert_eq!(photo.exif.orientation, 6);
    let gps = photo.exif.gps.unwrap();
    assert!((gps.lat - 29.560_123).abs() < 1e-6 && (gps.lon - 106.330_789).abs() < 1e-6);
    assert_eq!(gps.accuracy_m, Some(5.0));
    assert_eq!(
        photo.exif.taken_at.unwrap().to_string(),
        "2024-01-10 10:05:33"
    );
    assert_eq!(
        exif_facts(&input),
        photo.exif,
        "the same facts without processing"
    );

    // Rotated 90° clockwise: the top (red) is now on the right.
    let out = decode(&photo);
    assert!(
        close(out.get_pixel(30, 60).0, [20, 20, 220], 30),
        "{:?}",
        out.get_pixel(30, 60)
    );
    assert!(
        close(out.get_pixel(170, 60).0, [220, 20, 20], 30),
        "{:?}",
        out.get_pixel(170, 60)
    );

    // The output carries no orientation tag to apply a second time.
    let reread = image::ImageReader::new(std::io::Cursor::new(&photo.jpeg))
        .with_guessed_format()
        .unwrap();
    let mut decoder = reread.into_decoder().unwrap();
    use image::ImageDecoder;
    assert_eq!(
        decoder.orientation().unwrap(),
        image::metadata::Orientation::NoTransforms
    );
}

#[test]
fn all_eight_orientations() {
    // A white 200x200 block in the stored image's top-left corner.
    let img = RgbImage::from_fn(1200, 600, |x, y| {
        if x < 200 && y < 200 {
            Rgb([250, 250, 250])
        } else {
            Rgb([10, 120, 10])
        }
    });
    let base = jpeg(&img, 95);
    // (width, height, block on the right, block at the bottom) after each.
    let expect = |o: u16| match o {
        1 => (1200, 600, false, false),
        2 => (1200, 600, true, false),
        3 => (1200, 600, true, true),
        4 => (1200, 600, false, true),
        5 => (600, 1200, false, false),
        6 => (600, 1200, true, false),
        7 => (600, 1200, true, true),
        8 => (600, 1200, false, true),
        _ => unreachable!(),
    };
    for o in 1..=8u16 {
        let exif = exif_app1(&ExifSpec {
            orientation: Some(o),
            ..Default::default()
        });
        let photo = run(&with_app1(&base, &exif));
        let (w, h, right, bottom) = expect(o);
        assert_eq!((photo.width, photo.height), (w, h), "orientation {o}");
        assert_eq!(photo.exif.orientation, o);
        let out = decode(&photo);
        // Sample above the watermark band (which is under 170 px here).
        assert!(band_height(w, h) < 170);
        let y = if bottom { h - 180 } else { 100 };
        let (x, far_x) = if right {
            (w - 100, 100)
        } else {
            (100, w - 100)
        };
        assert!(
            close(out.get_pixel(x, y).0, [250, 250, 250], 8),
            "orientation {o}: no block at ({x},{y})"
        );
        assert!(
            close(out.get_pixel(far_x, y).0, [10, 120, 10], 12),
            "orientation {o}: block at ({far_x},{y})"
        );
    }
}

#[test]
fn no_or_broken_exif_means_upright_and_no_facts() {
    let plain = jpeg(&photo_like(64, 48, 4, 1), 90);
    let photo = run(&plain);
    assert_eq!(photo.exif.orientation, 1);
    assert_eq!(photo.exif.gps, None);
    assert_eq!(photo.exif.taken_at, None);

    // An APP1 that claims to be EXIF but holds rubbish does not fail the photo.
    let mut junk = vec![0xFF, 0xE1, 0x00, 0x10];
    junk.extend_from_slice(b"Exif\0\0MM\0\x2A\xFF\xFF\xFF\xFF");
    let photo = run(&with_app1(&plain, &junk));
    assert_eq!(
        (photo.width, photo.height, photo.exif.orientation),
        (64, 48, 1)
    );
}

// ---- size --------------------------------------------------------------------

/// A quick JPEG of a simple gradient (cheap to make in a debug build).
fn fast_jpeg(w: u16, h: u16) -> Vec<u8> {
    let img = RgbImage::from_fn(u32::from(w), u32::from(h), |x, y| {
        Rgb([(x / 16) as u8, (y / 12) as u8, 128])
    });
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

#[test]
fn long_edge_2048_from_4000x3000() {
    let photo = run(&fast_jpeg(4000, 3000));
    assert_eq!((photo.width, photo.height), (2048, 1536));

    let smaller = PhotoConfig {
        long_edge: 1024,
        ..PhotoConfig::default()
    };
    let photo = process(&fast_jpeg(1600, 1200), &mark(), &smaller).unwrap();
    assert_eq!((photo.width, photo.height), (1024, 768));
}

#[test]
fn portrait_keeps_its_aspect() {
    let input = jpeg(&photo_like(1500, 2500, 0, 8), 85);
    let config = PhotoConfig {
        long_edge: 1000,
        ..PhotoConfig::default()
    };
    let photo = process(&input, &mark(), &config).unwrap();
    assert_eq!((photo.width, photo.height), (600, 1000));
}

#[test]
fn small_images_are_not_upscaled() {
    let photo = run(&jpeg(&photo_like(800, 600, 3, 2), 90));
    assert_eq!((photo.width, photo.height), (800, 600));
    let photo = run(&jpeg(&photo_like(20, 12, 3, 2), 90));
    assert_eq!((photo.width, photo.height), (20, 12));
}

// ---- watermark ---------------------------------------------------------------

#[test]
fn watermark_band_is_readable_on_white_and_on_black() {
    for (name, bg) in [("white", [255u8, 255, 255]), ("black", [0, 0, 0])] {
        let photo = run(&jpeg(&solid(1000, 750, bg), 95));
        let out = decode(&photo);
        let band = band_height(1000, 750);
        let band_top = 750 - band;

        // Above the band the photo is untouched.
        for (x, y) in [(10, 10), (500, 300), (990, band_top - 20)] {
            assert!(
                close(out.get_pixel(x, y).0, bg, 6),
                "{name}: ({x},{y}) changed"
            );
        }
        // In the band: white text and dark ground, whatever the background.
        let mut bright = 0;
        let mut dark = 0;
        for y in band_top + 4..750 {
            for x in 0..1000 {
                let p = out.get_pixel(x, y).0;
                let l = (u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3;
                if l >= 200 {
                    bright += 1;
                } else if l <= 115 {
                    dark += 1;
                }
            }
        }
        let area = (750 - band_top - 4) * 1000;
        assert!(bright > 2000, "{name}: only {bright} text pixels");
        assert!(dark > area / 2, "{name}: band not dark ({dark} of {area})");
    }
}

#[test]
fn watermark_differs_from_input_only_at_the_bottom() {
    let img = photo_like(1200, 900, 0, 3);
    let input = jpeg(&img, 95);
    let photo = run(&input);
    let out = decode(&photo);
    let band_top = 900 - band_height(1200, 900);
    let diff = |y0: u32, y1: u32| -> f64 {
        let mut sum = 0u64;
        for y in y0..y1 {
            for x in 0..1200 {
                let (a, b) = (img.get_pixel(x, y).0, out.get_pixel(x, y).0);
                sum += a
                    .iter()
                    .zip(b)
                    .map(|(p, q)| u64::from(p.abs_diff(q)))
                    .sum::<u64>();
            }
        }
        sum as f64 / f64::from((y1 - y0) * 1200 * 3)
    };
    let above = diff(0, band_top - 10);
    let inside = diff(band_top + 2, 900);
    assert!(above < 4.0, "mean difference above the band {above}");
    assert!(inside > 40.0, "mean difference in the band {inside}");
}

#[test]
fn chinese_text_renders() {
    for c in "时间位置检查对象检查人员任务编号无定位：、±0123456789.,-mABCxyz·—".chars()
    {
        assert!(font_covers(c), "the bundled font lacks {c:?}");
    }
    // All of GB 2312's first and last hanzi, and a few names' characters.
    for c in "啊齄张王李赵钱孙喆堃".chars() {
        assert!(font_covers(c), "the bundled font lacks {c:?}");
    }
    assert!(ink("检查对象", 32.0) > 100.0, "检查对象 has no ink");
    assert!(
        ink("检", 32.0) > ink("一", 32.0),
        "complex glyphs carry more ink"
    );
    assert_eq!(ink("   ", 32.0), 0.0);
    // Outside the subset: reported, and drawn as the .notdef box (not blank).
    assert!(!font_covers('𠀀'));
    assert!(ink("𠀀", 32.0) > 0.0);
}

#[test]
fn watermark_without_gps_and_with_long_names_still_works() {
    let long = Watermark {
        gps: None,
        target_name: "重庆市沙坪坝区西永街道某某某某某某智能制造科技股份有限公司第一分公司"
            .repeat(3),
        officers: (1..=8).map(|i| format!("执法人员{i}")).collect(),
        task_id: "X".repeat(120),
        ..mark()
    };
    let lines = long.lines();
    assert_eq!(lines[1], ("位置：", "无定位".to_owned()));
    let photo = process(
        &jpeg(&photo_like(640, 480, 3, 4), 90),
        &long,
        &PhotoConfig::default(),
    )
    .unwrap();
    assert_eq!((photo.width, photo.height), (640, 480));
}

// ---- output ------------------------------------------------------------------

#[test]
fn sha256_is_the_digest_of_the_returned_bytes() {
    let photo = run(&jpeg(&photo_like(640, 480, 5, 5), 90));
    assert_eq!(photo.sha256, Sha256Hex::of(&photo.jpeg));
    assert_eq!(
        photo.sha256.as_str(),
        hex::encode(Sha256::digest(&photo.jpeg))
    );
    assert_eq!(&photo.jpeg[..2], &[0xFF, 0xD8]);
    assert_eq!(&photo.jpeg[photo.jpeg.len() - 2..], &[0xFF, 0xD9]);
}

#[test]
fn original_is_kept_only_when_configured() {
    let input = jpeg(&photo_like(320, 240, 5, 6), 90);
    assert_eq!(run(&input).original, None);
    let keep = PhotoConfig {
        keep_original: true,
        ..PhotoConfig::default()
    };
    let photo = process(&input, &mark(), &keep).unwrap();
    assert_eq!(photo.original.as_deref(), Some(input.as_slice()));
}

#[test]
fn output_is_deterministic() {
    let input = with_app1(
        &jpeg(&photo_like(900, 700, 8, 9), 90),
        &exif_app1(&ExifSpec {
            orientation: Some(8),
            ..Default::default()
        }),
    );
    let a = run(&input);
    let b = run(&input);
    assert_eq!(a.jpeg, b.jpeg);
    assert_eq!(a.sha256, b.sha256);
    // A different watermark gives a different photo.
    let other = Watermark {
        task_id: "T-2024-0002".into(),
        ..mark()
    };
    let c = process(&input, &other, &PhotoConfig::default()).unwrap();
    assert_ne!(a.sha256, c.sha256);
}

#[test]
fn quality_setting_changes_the_size() {
    let input = jpeg(&photo_like(800, 600, 8, 10), 95);
    let low = PhotoConfig {
        jpeg_quality: 40,
        ..PhotoConfig::default()
    };
    let high = PhotoConfig {
        jpeg_quality: 95,
        ..PhotoConfig::default()
    };
    let (low, high) = (
        process(&input, &mark(), &low).unwrap(),
        process(&input, &mark(), &high).unwrap(),
    );
    assert!(low.jpeg.len() < high.jpeg.len());
}

// ---- other accepted inputs ---------------------------------------------------

#[test]
fn png_with_transparency_goes_onto_white() {
    let img = RgbaImage::from_fn(400, 300, |x, _| {
        if x < 200 {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([30, 60, 200, 255])
        }
    });
    let photo = run(&png(&img));
    let out = decode(&photo);
    assert!(close(out.get_pixel(50, 50).0, [255, 255, 255], 6));
    assert!(close(out.get_pixel(350, 50).0, [30, 60, 200], 12));
}

#[test]
fn cmyk_jpeg_is_converted_to_rgb() {
    // Adobe-style CMYK, 200x100, even ink: a mid grey-ish colour.
    let cmyk: Vec<u8> = std::iter::repeat_n([40u8, 40, 40, 40], 200 * 100)
        .flatten()
        .collect();
    let mut input = Vec::new();
    jpeg_encoder::Encoder::new(&mut input, 90)
        .encode(&cmyk, 200, 100, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    let photo = run(&input);
    assert_eq!((photo.width, photo.height), (200, 100));
    let out = decode(&photo);
    let p = out.get_pixel(100, 10).0;
    assert!(
        p[0].abs_diff(p[1]) < 12 && p[1].abs_diff(p[2]) < 12,
        "{p:?}"
    );
}

#[test]
fn grey_and_progressive_jpegs_are_accepted() {
    let grey = image::GrayImage::from_fn(300, 200, |x, y| image::Luma([((x + y) % 256) as u8]));
    let mut grey_jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut grey_jpeg, 90)
        .encode_image(&grey)
        .unwrap();
    let photo = run(&grey_jpeg);
    assert_eq!((photo.width, photo.height), (300, 200));

    let img = photo_like(640, 480, 6, 11);
    let mut progressive = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut progressive, 90);
    enc.set_progressive(true);
    enc.encode(img.as_raw(), 640, 480, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let photo = run(&progressive);
    assert_eq!((photo.width, photo.height), (640, 480));
    // Cut in half, a progressive file is as truncated as a baseline one.
    let half = &progressive[..progressive.len() / 2];
    assert!(matches!(refuse(half), PhotoError::Truncated { .. }));
}

// ---- bad input ---------------------------------------------------------------

#[test]
fn zero_bytes_is_empty() {
    let err = refuse(&[]);
    assert_eq!(err, PhotoError::Empty);
    assert_eq!(err.to_string(), "照片文件为空 (the photo file is empty)");
}

#[test]
fn random_bytes_are_not_an_image() {
    let mut state = 0x1234_5678_9ABC_DEF0u64;
    let bytes: Vec<u8> = (0..50_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let err = refuse(&bytes);
    assert_eq!(err, PhotoError::NotAnImage);
    assert!(err.to_string().starts_with("文件不是图片"), "{err}");
    assert_eq!(
        refuse(b"hello, this is a text file"),
        PhotoError::NotAnImage
    );
}

#[test]
fn truncated_jpeg_is_refused() {
    let input = with_app1(
        &jpeg(&photo_like(1024, 768, 8, 12), 90),
        &exif_app1(&ExifSpec {
            orientation: Some(6),
            ..Default::default()
        }),
    );
    let half = &input[..input.len() / 2];
    let err = refuse(half);
    assert!(matches!(err, PhotoError::Truncated { .. }), "{err:?}");
    assert!(err.to_string().starts_with("照片文件不完整"), "{err}");
    // Missing only the end-of-image marker.
    assert!(matches!(
        refuse(&input[..input.len() - 2]),
        PhotoError::Truncated { .. }
    ));
    // Cut inside the header.
    assert!(matches!(refuse(&input[..40]), PhotoError::Truncated { .. }));
}

#[test]
fn every_prefix_of_a_jpeg_is_refused_without_panicking() {
    let input = jpeg(&photo_like(48, 32, 8, 13), 90);
    for cut in 1..input.len() - 1 {
        let result = process(&input[..cut], &mark(), &PhotoConfig::default());
        assert!(
            matches!(
                result,
                Err(PhotoError::Truncated { .. }
                    | PhotoError::Corrupt { .. }
                    | PhotoError::NotAnImage)
            ),
            "cut at {cut}: {result:?}"
        );
    }
}

#[test]
fn damaged_bytes_never_panic() {
    let input = jpeg(&photo_like(96, 64, 8, 14), 90);
    let mut state = 99u64;
    for _ in 0..300 {
        let mut bad = input.clone();
        for _ in 0..4 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let at = (state >> 33) as usize % bad.len();
            bad[at] = (state >> 20) as u8;
        }
        // Ok (a scan error the decoder concealed) or a clear error; no panic.
        let _ = process(&bad, &mark(), &PhotoConfig::default());
    }
}

#[test]
fn truncated_png_is_refused() {
    let img = RgbaImage::from_fn(300, 200, |x, y| image::Rgba([x as u8, y as u8, 77, 255]));
    let input = png(&img);
    let err = refuse(&input[..input.len() / 2]);
    assert!(matches!(err, PhotoError::Truncated { .. }), "{err:?}");
}

#[test]
fn corrupt_header_is_refused() {
    // A JPEG start followed by a frame header with zero components.
    let mut bad = vec![
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x08, 0x08, 0x00, 0x10, 0x00, 0x10, 0x00,
    ];
    bad.extend(std::iter::repeat_n(0x55, 200));
    bad.extend_from_slice(&[0xFF, 0xD9]);
    let err = refuse(&bad);
    assert!(matches!(err, PhotoError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().starts_with("照片文件已损坏"), "{err}");
}

/// Rewrites the SOF0 frame size of a baseline JPEG.
fn claim_jpeg_size(jpeg: &[u8], w: u16, h: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out
        .windows(2)
        .position(|p| p == [0xFF, 0xC0])
        .expect("SOF0");
    out[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    out
}

/// Rewrites a PNG's IHDR size and its CRC.
fn claim_png_size(png: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = png.to_vec();
    out[16..20].copy_from_slice(&w.to_be_bytes());
    out[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn huge_headers_are_refused_quickly() {
    let small_jpeg = jpeg(&photo_like(64, 48, 4, 15), 90);
    let small_png = png(&RgbaImage::from_pixel(64, 48, image::Rgba([1, 2, 3, 255])));
    let cases = [
        (
            "JPEG 12000x9000",
            claim_jpeg_size(&small_jpeg, 12000, 9000),
            12000,
            9000,
        ),
        (
            "JPEG 65535x65535",
            claim_jpeg_size(&small_jpeg, 65535, 65535),
            65535,
            65535,
        ),
        (
            "PNG 12000x9000",
            claim_png_size(&small_png, 12000, 9000),
            12000,
            9000,
        ),
        (
            "PNG 1000000x1000000",
            claim_png_size(&small_png, 1_000_000, 1_000_000),
            1_000_000,
            1_000_000,
        ),
    ];
    for (name, input, w, h) in cases {
        let start = Instant::now();
        let err = refuse(&input);
        let took = start.elapsed();
        assert_eq!(
            err,
            PhotoError::TooLarge {
                width: w,
                height: h,
                limit_pixels: 64_000_000
            },
            "{name}"
        );
        assert!(err.to_string().starts_with("照片像素过多"), "{err}");
        // Nothing the size of the claimed raster was allocated or decoded.
        assert!(took < Duration::from_millis(500), "{name} took {took:?}");
    }
    // A 100 MP photo is over the default limit; a raised limit lets it
    // through the header check (and the small body then fails as truncated
    // or corrupt, not as too large).
    let hundred_mp = claim_jpeg_size(&small_jpeg, 12_000, 8_400);
    assert!(matches!(refuse(&hundred_mp), PhotoError::TooLarge { .. }));
}

#[test]
fn too_many_bytes_is_refused_before_parsing() {
    let input = jpeg(&photo_like(320, 240, 8, 16), 90);
    let config = PhotoConfig {
        max_input_bytes: 1000,
        ..PhotoConfig::default()
    };
    let err = process(&input, &mark(), &config).unwrap_err();
    assert_eq!(
        err,
        PhotoError::TooManyBytes {
            size: input.len(),
            limit: 1000
        }
    );
}

#[test]
fn other_formats_are_unsupported() {
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0u8; 60]);
    let mut webp = b"RIFF\x24\x00\x00\x00WEBPVP8 ".to_vec();
    webp.extend_from_slice(&[0u8; 30]);
    let mut heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic".to_vec();
    heic.extend_from_slice(&[0u8; 30]);
    let mut tiff = b"II\x2A\x00\x08\x00\x00\x00".to_vec();
    tiff.extend_from_slice(&[0u8; 30]);
    for (input, name) in [
        (gif, "GIF"),
        (bmp, "BMP"),
        (webp, "WEBP"),
        (heic, "HEIC/HEIF"),
        (tiff, "TIFF"),
    ] {
        let err = refuse(&input);
        assert_eq!(
            err,
            PhotoError::Unsupported {
                format: name.into()
            },
            "{name}"
        );
        assert!(err.to_string().starts_with("不支持的图片格式"), "{err}");
    }
}

#[test]
fn invalid_configuration_is_reported() {
    let input = jpeg(&photo_like(64, 48, 4, 17), 90);
    for config in [
        PhotoConfig {
            long_edge: 0,
            ..PhotoConfig::default()
        },
        PhotoConfig {
            jpeg_quality: 0,
            ..PhotoConfig::default()
        },
        PhotoConfig {
            jpeg_quality: 101,
            ..PhotoConfig::default()
        },
    ] {
        let err = process(&input, &mark(), &config).unwrap_err();
        assert!(matches!(err, PhotoError::InvalidConfig { .. }), "{err:?}");
    }
}

#[test]
fn every_error_reads_chinese_first_then_english() {
    let errors = [
        PhotoError::Empty,
        PhotoError::TooManyBytes { size: 2, limit: 1 },
        PhotoError::NotAnImage,
        PhotoError::Unsupported {
            format: "GIF".into(),
        },
        PhotoError::TooLarge {
            width: 12000,
            height: 9000,
            limit_pixels: 64_000_000,
        },
        PhotoError::Truncated { detail: "x".into() },
        PhotoError::Corrupt { detail: "x".into() },
        PhotoError::Encode { detail: "x".into() },
        PhotoError::InvalidConfig { detail: "x".into() },
    ];
    for e in errors {
        let text = e.to_string();
        let first = text.chars().next().unwrap();
        assert!(('\u{4e00}'..='\u{9fff}').contains(&first), "{text}");
        assert!(text.contains(" ("), "no English part: {text}");
        assert!(text.ends_with(')'), "{text}");
    }
}
