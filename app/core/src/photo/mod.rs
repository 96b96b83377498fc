//! The photo pipeline: a camera or file photo in, an evidence JPEG out.
//!
//! [`process`] takes the bytes of a JPEG or PNG and
//!
//! 1. refuses empty, oversized (bytes or pixels), non-image, unsupported and
//!    truncated input from the headers, before anything large is allocated;
//! 2. reads the EXIF facts (orientation, GPS, time taken);
//! 3. decodes (zune-jpeg through `image`, or `png`) into RGB;
//! 4. downscales to [`PhotoConfig::long_edge`] (never upscales) with a SIMD
//!    Lanczos-3 resizer (`fast_image_resize`);
//! 5. applies the EXIF orientation (on the small image, where it is cheap);
//! 6. burns in the watermark: a darkened band at the bottom with white text
//!    (时间, 位置, 检查对象, 检查人员, 任务编号) in the bundled Noto Sans SC
//!    subset, readable on any background;
//! 7. encodes a baseline 4:2:0 JPEG (`jpeg-encoder`, AVX2 when available),
//!    carrying the input's ICC profile and no EXIF (the orientation has been
//!    applied, and the facts travel in [`ExifFacts`]);
//! 8. hashes the result with SHA-256.
//!
//! The function is pure: it writes no file, so a refused or failed photo
//! leaves nothing behind; the caller stores [`ProcessedPhoto::jpeg`]
//! atomically. The output is deterministic for the same input, watermark,
//! configuration and build on the same CPU (the SIMD code paths may round
//! differently on another CPU, which is why the digest is of the output).
//!
//! Accepted formats are JPEG (baseline and progressive, grey, RGB, CMYK) and
//! PNG (any bit depth; transparency is composited onto white). GIF, BMP,
//! WebP, TIFF, HEIC and the rest are refused with [`PhotoError::Unsupported`]:
//! tablets' cameras write JPEG, and an evidence photo should not be a
//! re-encoded animation or screenshot format.

mod decode;
mod exif;
pub mod fixture;
mod transform;
pub mod watermark;

use std::time::{Duration, Instant};

use choucha_shared::{GeoPoint, Sha256Hex};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

pub use watermark::Watermark;

/// How photos are processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhotoConfig {
    /// The longer side of the output in pixels; smaller photos are not
    /// upscaled. Default 2048.
    pub long_edge: u32,
    /// JPEG quality 1-100. Default 85.
    pub jpeg_quality: u8,
    /// Return the untouched input in [`ProcessedPhoto::original`]. Default
    /// false: the original (with its full-resolution EXIF) is dropped.
    pub keep_original: bool,
    /// Photos with more pixels than this are refused from their header.
    /// Default 64 000 000 (a 64 MP photo decodes to 192 MB of RGB; 100 MP is
    /// refused).
    pub max_input_pixels: u64,
    /// Files larger than this are refused before they are parsed. Default
    /// 64 MiB.
    pub max_input_bytes: usize,
}

impl Default for PhotoConfig {
    fn default() -> Self {
        Self {
            long_edge: 2048,
            jpeg_quality: 85,
            keep_original: false,
            max_input_pixels: 64_000_000,
            max_input_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What the input's EXIF says. Absent or unreadable EXIF gives the defaults
/// (orientation 1, no GPS, no time): EXIF is informative, never a reason to
/// refuse a photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExifFacts {
    /// EXIF Orientation 1-8 (1 when absent or out of range); already applied
    /// to the output.
    pub orientation: u16,
    /// GPSLatitude/GPSLongitude (with their Ref) and GPSHPositioningError as
    /// the accuracy, when present and valid.
    pub gps: Option<GeoPoint>,
    /// DateTimeOriginal (else DateTime), camera-local time as written.
    pub taken_at: Option<NaiveDateTime>,
}

impl Default for ExifFacts {
    fn default() -> Self {
        Self {
            orientation: 1,
            gps: None,
            taken_at: None,
        }
    }
}

/// The evidence JPEG and what is known about it.
#[derive(Clone, PartialEq)]
pub struct ProcessedPhoto {
    /// The watermarked JPEG.
    pub jpeg: Vec<u8>,
    /// SHA-256 of [`Self::jpeg`].
    pub sha256: Sha256Hex,
    /// Output width after resizing and orientation.
    pub width: u32,
    /// Output height after resizing and orientation.
    pub height: u32,
    /// The input bytes, when [`PhotoConfig::keep_original`] is set.
    pub original: Option<Vec<u8>>,
    /// The input's EXIF facts.
    pub exif: ExifFacts,
}

impl std::fmt::Debug for ProcessedPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessedPhoto")
            .field("jpeg_bytes", &self.jpeg.len())
            .field("sha256", &self.sha256)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("original_bytes", &self.original.as_ref().map(Vec::len))
            .field("exif", &self.exif)
            .finish()
    }
}

/// Why a photo was refused. Messages are Chinese first (shown to officers)
/// with English in parentheses (for logs and support).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("照片文件为空 (the photo file is empty)")]
    Empty,
    #[error(
        "照片文件过大：{size} 字节，上限 {limit} 字节 (the photo file is {size} bytes; at most {limit} are accepted)"
    )]
    TooManyBytes { size: usize, limit: usize },
    #[error(
        "文件不是图片，请选择 JPEG 或 PNG 照片 (the file is not an image: neither JPEG nor PNG)"
    )]
    NotAnImage,
    #[error(
        "不支持的图片格式 {format}，请使用 JPEG 或 PNG (unsupported image format {format}; use JPEG or PNG)"
    )]
    Unsupported { format: String },
    #[error(
        "照片像素过多：{width}×{height}，上限 {limit_pixels} 像素 (the photo is {width}x{height} pixels; at most {limit_pixels} pixels are accepted)"
    )]
    TooLarge {
        width: u32,
        height: u32,
        limit_pixels: u64,
    },
    #[error("照片文件不完整，可能在传输或保存时中断 (the photo file is truncated: {detail})")]
    Truncated { detail: String },
    #[error("照片文件已损坏 (the photo file is corrupt: {detail})")]
    Corrupt { detail: String },
    #[error("照片编码失败 (encoding the output JPEG failed: {detail})")]
    Encode { detail: String },
    #[error("照片处理设置无效 (invalid photo configuration: {detail})")]
    InvalidConfig { detail: String },
}

/// Runs the whole pipeline on `input` (see the module docs). Never writes
/// anything and never panics on bad input: a decoder panic is caught and
/// reported as [`PhotoError::Corrupt`].
pub fn process(
    input: &[u8],
    mark: &Watermark,
    config: &PhotoConfig,
) -> Result<ProcessedPhoto, PhotoError> {
    process_timed(input, mark, config).map(|(photo, _)| photo)
}

/// Wall-clock time of each stage of one [`process`] run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimings {
    /// Format, size limits, JPEG structure.
    pub probe: Duration,
    pub exif: Duration,
    pub decode: Duration,
    pub resize: Duration,
    pub orient: Duration,
    pub watermark: Duration,
    pub encode: Duration,
    pub hash: Duration,
}

impl StageTimings {
    pub fn total(&self) -> Duration {
        self.probe
            + self.exif
            + self.decode
            + self.resize
            + self.orient
            + self.watermark
            + self.encode
            + self.hash
    }
}

/// [`process`], also reporting how long each stage took (for the benchmark).
pub fn process_timed(
    input: &[u8],
    mark: &Watermark,
    config: &PhotoConfig,
) -> Result<(ProcessedPhoto, StageTimings), PhotoError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut timings = StageTimings::default();
        process_inner(input, mark, config, &mut timings).map(|p| (p, timings))
    }))
    .unwrap_or_else(|_| {
        Err(PhotoError::Corrupt {
            detail: "the decoder gave up on malformed data".into(),
        })
    })
}

/// Runs `f`, adding its duration to `slot`.
fn timed<T>(slot: &mut Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    *slot += start.elapsed();
    out
}

fn process_inner(
    input: &[u8],
    mark: &Watermark,
    config: &PhotoConfig,
    t: &mut StageTimings,
) -> Result<ProcessedPhoto, PhotoError> {
    check_config(config)?;
    if input.is_empty() {
        return Err(PhotoError::Empty);
    }
    if input.len() > config.max_input_bytes {
        return Err(PhotoError::TooManyBytes {
            size: input.len(),
            limit: config.max_input_bytes,
        });
    }
    let probed = timed(&mut t.probe, || {
        decode::probe(input, config.max_input_pixels)
    })?;
    let exif = timed(&mut t.exif, || exif::read(input));
    let decoded = timed(&mut t.decode, || decode::decode(probed))?;
    let resized = timed(&mut t.resize, || {
        transform::fit_long_edge(decoded.rgb, config.long_edge)
    })?;
    let mut img = timed(&mut t.orient, || {
        transform::orient(resized, exif.orientation)
    });
    timed(&mut t.watermark, || watermark::burn_in(&mut img, mark));
    let jpeg = timed(&mut t.encode, || {
        encode(&img, config.jpeg_quality, decoded.icc.as_deref())
    })?;
    let sha256 = timed(&mut t.hash, || Sha256Hex::of(&jpeg));
    Ok(ProcessedPhoto {
        jpeg,
        sha256,
        width: img.width,
        height: img.height,
        original: config.keep_original.then(|| input.to_vec()),
        exif,
    })
}

/// The EXIF facts of a photo without processing it (for example to compare
/// the camera's GPS with the device's before deciding what to watermark).
/// The same facts [`process`] returns in [`ProcessedPhoto::exif`].
pub fn exif_facts(input: &[u8]) -> ExifFacts {
    std::panic::catch_unwind(|| exif::read(input)).unwrap_or_default()
}

fn check_config(config: &PhotoConfig) -> Result<(), PhotoError> {
    let bad = |detail: String| Err(PhotoError::InvalidConfig { detail });
    if !(16..=u32::from(u16::MAX)).contains(&config.long_edge) {
        return bad(format!(
            "long_edge {} must be 16-65535 pixels",
            config.long_edge
        ));
    }
    if !(1..=100).contains(&config.jpeg_quality) {
        return bad(format!(
            "jpeg_quality {} must be 1-100",
            config.jpeg_quality
        ));
    }
    if config.max_input_pixels == 0 || config.max_input_bytes == 0 {
        return bad("max_input_pixels and max_input_bytes must be positive".into());
    }
    Ok(())
}

/// An 8-bit RGB raster, rows top to bottom, no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

fn encode(img: &Rgb, quality: u8, icc: Option<&[u8]>) -> Result<Vec<u8>, PhotoError> {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
    let enc_err = |e: jpeg_encoder::EncodingError| PhotoError::Encode {
        detail: e.to_string(),
    };
    let (w, h) = match (u16::try_from(img.width), u16::try_from(img.height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => {
            return Err(PhotoError::Encode {
                detail: format!("{}x{} exceeds JPEG's 65535", img.width, img.height),
            });
        }
    };
    // About 1 bit per pixel at quality 85 is typical for photos.
    let mut out = Vec::with_capacity(img.data.len() / 6 + 4096);
    let mut encoder = Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(SamplingFactor::F_2_2);
    if let Some(icc) = icc {
        // A profile too large for APP2 segments is dropped rather than
        // failing the photo: the colours are then interpreted as sRGB.
        let _ = encoder.add_icc_profile(icc);
    }
    encoder
        .encode(&img.data, w, h, ColorType::Rgb)
        .map_err(enc_err)?;
    Ok(out)
}

/// Text of a `DateTime<Utc>` in China Standard Time (UTC+8), as the
/// watermark shows it: `2024-01-10 10:05:33`.
pub fn china_time(t: DateTime<Utc>) -> String {
    let cst = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    t.with_timezone(&cst)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}
