//! Signatures (签名): stroke capture → a PNG bound to the record hash.
//!
//! The signing pad hands over the strokes it captured ([`Capture`]); [`render`]
//! checks them, draws them anti-aliased in black on white at the pad's size
//! (scaled down to at most [`MAX_WIDTH`]×[`MAX_HEIGHT`]) and writes a
//! grayscale PNG. No font is needed: who signed, in what role, when, and the
//! record content hash they signed are embedded as PNG iTXt chunks (UTF-8),
//! together with the SHA-256 of the strokes, so [`read_metadata`] and
//! [`check_binding`] can tell afterwards which record a signature image
//! belongs to. The same input always gives the same PNG bytes.
//!
//! When the enterprise refuses to sign (拒绝签字), [`refusal`] records the
//! reason and, where there is one, the witness.

use std::io::Cursor;

use choucha_shared::record::{Signature, SignatureRefusal, SignerRole};
use choucha_shared::value::{Name, Sha256Hex, ValueError};
use chrono::{DateTime, SecondsFormat, Utc};

/// Largest rendered width in pixels; larger pads are scaled down.
pub const MAX_WIDTH: u32 = 1600;
/// Largest rendered height in pixels; larger pads are scaled down.
pub const MAX_HEIGHT: u32 = 800;
/// Fewer points than this in all strokes together is not a signature.
pub const MIN_POINTS: usize = 10;
/// More points than this is refused (bounds the rendering work).
pub const MAX_POINTS: usize = 50_000;
/// Least pen width in pad pixels at normal pressure. Larger pads get a pen
/// of 1/200 of their longer side, so a signature looks the same whatever
/// the resolution the pad reports its points in.
pub const PEN_WIDTH: f32 = 3.0;
/// Longest refusal reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Version of the metadata layout written into the PNG.
pub const METADATA_FORMAT: u16 = 1;
/// iTXt keyword of the signer's name.
pub const KEY_SIGNER_NAME: &str = "choucha:signer_name";
/// iTXt keyword of the signer's role (`officer`, `expert`, `enterprise_representative`).
pub const KEY_SIGNER_ROLE: &str = "choucha:signer_role";
/// iTXt keyword of the signing time (UTC, RFC 3339).
pub const KEY_SIGNED_AT: &str = "choucha:signed_at";
/// iTXt keyword of the record content hash that was signed.
pub const KEY_CONTENT_HASH: &str = "choucha:content_hash";
/// iTXt keyword of the SHA-256 of the strokes JSON.
pub const KEY_STROKES_SHA256: &str = "choucha:strokes_sha256";
/// iTXt keyword of the metadata layout version.
pub const KEY_FORMAT: &str = "choucha:format";
/// Standard PNG keyword with a human-readable summary (for image viewers).
pub const KEY_DESCRIPTION: &str = "Description";

const OUR_KEYS: [&str; 6] = [
    KEY_FORMAT,
    KEY_SIGNER_NAME,
    KEY_SIGNER_ROLE,
    KEY_SIGNED_AT,
    KEY_CONTENT_HASH,
    KEY_STROKES_SHA256,
];

pub use choucha_shared::pad::{Capture, Point, Stroke};

/// Reads a capture back from the strokes JSON stored beside its PNG.
pub fn capture_from_json(json: &str) -> Result<Capture, SignatureError> {
    serde_json::from_str(json).map_err(|e| SignatureError::StrokesJson(e.to_string()))
}

/// A rendered signature: the PNG, its SHA-256 (what
/// [`Signature::image_sha256`] names) and the strokes it was drawn from.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureImage {
    pub png: Vec<u8>,
    pub sha256: Sha256Hex,
    pub strokes_json: String,
}

/// The metadata read back from a signature PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureMeta {
    pub signer_name: String,
    pub role: SignerRole,
    pub signed_at: DateTime<Utc>,
    /// The record content hash the signer signed.
    pub content_hash: Sha256Hex,
    /// SHA-256 of the strokes JSON the image was drawn from.
    pub strokes_sha256: Sha256Hex,
    /// Size of the rendered image.
    pub width: u32,
    pub height: u32,
}

impl SignatureMeta {
    /// Whether `strokes_json` is the stroke record this image was drawn from.
    pub fn matches_strokes(&self, strokes_json: &str) -> bool {
        Sha256Hex::of(strokes_json.as_bytes()) == self.strokes_sha256
    }
}

/// Why a signature could not be captured, rendered or verified. Messages are
/// Chinese first (what the tablet shows), English in brackets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignatureError {
    #[error("签名为空，请在签名框内签字 (the signature is empty)")]
    Empty,
    #[error(
        "签名笔画过少（{points} 个点，至少需要 {MIN_POINTS} 个），请重新签字 (the signature has only {points} points; at least {MIN_POINTS} are needed)"
    )]
    TooFewPoints { points: usize },
    #[error(
        "签名点数过多（{points} 个点，最多 {MAX_POINTS} 个），请清除后重新签字 (the signature has {points} points; at most {MAX_POINTS} are allowed)"
    )]
    TooManyPoints { points: usize },
    #[error(
        "签名只是一个点，请在签名框内完整签字 (all points are in one spot; please write the full signature)"
    )]
    SingleSpot,
    #[error("签名框尺寸无效（{width}×{height}）(the signature pad has zero size)")]
    ZeroSize { width: u32, height: u32 },
    #[error(
        "签名第 {stroke} 笔第 {point} 个点 ({x}, {y}) 超出签名框 {width}×{height}，请在签名框内签字 (a point lies outside the signature pad)"
    )]
    OutOfBounds {
        stroke: usize,
        point: usize,
        x: f32,
        y: f32,
        width: u32,
        height: u32,
    },
    #[error(
        "签名第 {stroke} 笔第 {point} 个点的坐标或压力不是有效数字 (a coordinate or pressure is not a valid number)"
    )]
    NotFinite { stroke: usize, point: usize },
    #[error("签名人姓名无效：{0} (invalid signer name)")]
    SignerName(ValueError),
    #[error("拒绝签字须填写理由 (a refusal to sign needs a reason)")]
    RefusalReasonEmpty,
    #[error(
        "拒绝签字理由过长（{0} 字，最多 {MAX_REASON_CHARS} 字）(the refusal reason is too long)"
    )]
    RefusalReasonTooLong(usize),
    #[error("见证人姓名无效：{0} (invalid witness name)")]
    WitnessName(ValueError),
    #[error("签名笔迹数据无法读取：{0} (the strokes JSON is unreadable)")]
    StrokesJson(String),
    #[error("签名图片生成失败：{0} (PNG encoding failed)")]
    Encode(String),
    #[error("签名图片无法读取：{0} (not a readable PNG)")]
    Decode(String),
    #[error("签名图片缺少 {0} 信息 (the signature image lacks the {0} metadata)")]
    MissingMetadata(&'static str),
    #[error("签名图片中 {0} 信息重复出现 (the {0} metadata appears more than once)")]
    DuplicateMetadata(String),
    #[error("签名图片中 {key} 信息无效：'{value}' (invalid {key} metadata)")]
    BadMetadata { key: &'static str, value: String },
    #[error("签名图片的哈希与签名记录不符 (the image hash does not match the signature record)")]
    ImageHashMismatch,
    #[error(
        "签名图片中的 {field} 与签名记录不符 (the image's {field} does not match the signature record)"
    )]
    Mismatch { field: &'static str },
}

/// Check the capture, render it and bind it to `content_hash`.
///
/// The PNG is 8-bit grayscale, black strokes on white, at the pad size
/// scaled down (keeping the aspect ratio) to fit [`MAX_WIDTH`]×[`MAX_HEIGHT`].
/// Its iTXt chunks carry the signer name (trimmed), the role, the time (UTC,
/// RFC 3339) and the content hash; see [`read_metadata`].
pub fn render(
    capture: &Capture,
    signer_name: &str,
    role: SignerRole,
    signed_at: DateTime<Utc>,
    content_hash: &Sha256Hex,
) -> Result<SignatureImage, SignatureError> {
    let name = Name::parse(signer_name).map_err(SignatureError::SignerName)?;
    validate(capture)?;
    let (out_w, out_h, scale) = output_size(capture.width, capture.height);
    let gray = rasterise(capture, out_w, out_h, scale)?;

    let strokes_json = capture.to_json();
    let strokes_sha256 = Sha256Hex::of(strokes_json.as_bytes());
    let signed_at_text = format_time(signed_at);
    let role_code = role_code(role);
    let description = format!(
        "签名人：{name}（{role_zh}）；签名时间：{signed_at_text}；记录哈希：{content_hash}",
        role_zh = role.label_zh(),
    );
    let chunks = [
        (KEY_FORMAT, METADATA_FORMAT.to_string()),
        (KEY_SIGNER_NAME, name.as_str().to_owned()),
        (KEY_SIGNER_ROLE, role_code.to_owned()),
        (KEY_SIGNED_AT, signed_at_text),
        (KEY_CONTENT_HASH, content_hash.as_str().to_owned()),
        (KEY_STROKES_SHA256, strokes_sha256.as_str().to_owned()),
        (KEY_DESCRIPTION, description),
    ];

    let png = encode_png(&gray, out_w, out_h, &chunks)?;
    let sha256 = Sha256Hex::of(&png);
    Ok(SignatureImage {
        png,
        sha256,
        strokes_json,
    })
}

/// Read the signer, role, time and content hash back from a signature PNG
/// written by [`render`]. The whole image is decoded, so a truncated or
/// corrupt file is refused too.
pub fn read_metadata(png: &[u8]) -> Result<SignatureMeta, SignatureError> {
    let decode = |e: png::DecodingError| SignatureError::Decode(e.to_string());
    // A signature image is at most MAX_WIDTH×MAX_HEIGHT; anything asking for
    // far more memory is not one of ours.
    let limits = png::Limits {
        bytes: 4 * (MAX_WIDTH as usize) * (MAX_HEIGHT as usize) + (1 << 20),
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(png), limits);
    decoder.set_ignore_text_chunk(false);
    let mut reader = decoder.read_info().map_err(decode)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| SignatureError::Decode("image too large".to_owned()))?;
    let mut buf = vec![0; size];
    reader.next_frame(&mut buf).map_err(decode)?;
    reader.finish().map_err(decode)?;
    let info = reader.info();

    let mut found: Vec<(String, String)> = Vec::new();
    for c in &info.uncompressed_latin1_text {
        found.push((c.keyword.clone(), c.text.clone()));
    }
    for c in &info.compressed_latin1_text {
        found.push((c.keyword.clone(), c.get_text().map_err(decode)?));
    }
    for c in &info.utf8_text {
        found.push((c.keyword.clone(), c.get_text().map_err(decode)?));
    }
    for key in OUR_KEYS {
        if found.iter().filter(|(k, _)| k == key).count() > 1 {
            return Err(SignatureError::DuplicateMetadata(key.to_owned()));
        }
    }
    let get = |key: &'static str| {
        found
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .ok_or(SignatureError::MissingMetadata(key))
    };
    let bad = |key: &'static str, value: &str| SignatureError::BadMetadata {
        key,
        value: value.to_owned(),
    };

    let format = get(KEY_FORMAT)?;
    if format != METADATA_FORMAT.to_string() {
        return Err(bad(KEY_FORMAT, format));
    }
    let name = get(KEY_SIGNER_NAME)?;
    let signer_name = Name::parse(name)
        .map_err(|_| bad(KEY_SIGNER_NAME, name))?
        .as_str()
        .to_owned();
    let role_text = get(KEY_SIGNER_ROLE)?;
    let role = parse_role(role_text).ok_or_else(|| bad(KEY_SIGNER_ROLE, role_text))?;
    let at = get(KEY_SIGNED_AT)?;
    let signed_at = DateTime::parse_from_rfc3339(at)
        .map_err(|_| bad(KEY_SIGNED_AT, at))?
        .with_timezone(&Utc);
    let hash = get(KEY_CONTENT_HASH)?;
    let content_hash = Sha256Hex::parse(hash).map_err(|_| bad(KEY_CONTENT_HASH, hash))?;
    let strokes = get(KEY_STROKES_SHA256)?;
    let strokes_sha256 = Sha256Hex::parse(strokes).map_err(|_| bad(KEY_STROKES_SHA256, strokes))?;

    Ok(SignatureMeta {
        signer_name,
        role,
        signed_at,
        content_hash,
        strokes_sha256,
        width: info.width,
        height: info.height,
    })
}

/// Check that `png` is the image a [`Signature`] names and that its embedded
/// metadata agrees with the signature: same image hash, signer, role, time
/// and content hash. Returns the metadata on success.
pub fn check_binding(png: &[u8], signature: &Signature) -> Result<SignatureMeta, SignatureError> {
    if Sha256Hex::of(png) != signature.image_sha256 {
        return Err(SignatureError::ImageHashMismatch);
    }
    let meta = read_metadata(png)?;
    let mismatch = |field| Err(SignatureError::Mismatch { field });
    if meta.content_hash != signature.content_hash {
        return mismatch("content_hash");
    }
    if meta.role != signature.role {
        return mismatch("role");
    }
    if meta.signer_name != signature.name.trim() {
        return mismatch("name");
    }
    if meta.signed_at != signature.signed_at {
        return mismatch("signed_at");
    }
    Ok(meta)
}

/// Record that the enterprise refused to sign (拒绝签字). The reason is
/// required; the witness is optional and trimmed (blank means none).
pub fn refusal(
    reason: &str,
    witness: Option<&str>,
    at: DateTime<Utc>,
) -> Result<SignatureRefusal, SignatureError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(SignatureError::RefusalReasonEmpty);
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(SignatureError::RefusalReasonTooLong(chars));
    }
    let witness = match witness.map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => Some(
            Name::parse(w)
                .map_err(SignatureError::WitnessName)?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    Ok(SignatureRefusal {
        reason: reason.to_owned(),
        witness,
        recorded_at: at,
    })
}

fn role_code(role: SignerRole) -> &'static str {
    match role {
        SignerRole::Officer => "officer",
        SignerRole::Expert => "expert",
        SignerRole::EnterpriseRepresentative => "enterprise_representative",
    }
}

fn parse_role(s: &str) -> Option<SignerRole> {
    [
        SignerRole::Officer,
        SignerRole::Expert,
        SignerRole::EnterpriseRepresentative,
    ]
    .into_iter()
    .find(|r| role_code(*r) == s)
}

/// UTC, RFC 3339, with exactly the sub-second digits the time has, so it
/// reads back to the same instant.
fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn validate(capture: &Capture) -> Result<(), SignatureError> {
    let (w, h) = (capture.width, capture.height);
    if w == 0 || h == 0 {
        return Err(SignatureError::ZeroSize {
            width: w,
            height: h,
        });
    }
    let total = capture.point_count();
    if total == 0 {
        return Err(SignatureError::Empty);
    }
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (si, stroke) in capture.strokes.iter().enumerate() {
        for (pi, p) in stroke.points.iter().enumerate() {
            let (stroke, point) = (si + 1, pi + 1);
            if !p.x.is_finite() || !p.y.is_finite() || p.pressure.is_some_and(|v| !v.is_finite()) {
                return Err(SignatureError::NotFinite { stroke, point });
            }
            if p.x < 0.0 || p.y < 0.0 || p.x > w as f32 || p.y > h as f32 {
                return Err(SignatureError::OutOfBounds {
                    stroke,
                    point,
                    x: p.x,
                    y: p.y,
                    width: w,
                    height: h,
                });
            }
            min_x = min_x.min(p.x);
            min_y = min_y.min(p.y);
            max_x = max_x.max(p.x);
            max_y = max_y.max(p.y);
        }
    }
    if total > MAX_POINTS {
        return Err(SignatureError::TooManyPoints { points: total });
    }
    if total < MIN_POINTS {
        return Err(SignatureError::TooFewPoints { points: total });
    }
    let min_extent = (0.02 * w.max(h) as f32).max(10.0);
    if (max_x - min_x).max(max_y - min_y) < min_extent {
        return Err(SignatureError::SingleSpot);
    }
    Ok(())
}

/// Output size and scale: the pad size, scaled down to fit the cap.
fn output_size(w: u32, h: u32) -> (u32, u32, f32) {
    let scale = (MAX_WIDTH as f64 / w as f64)
        .min(MAX_HEIGHT as f64 / h as f64)
        .min(1.0);
    let out = |v: u32| ((v as f64 * scale).round() as u32).max(1);
    (out(w), out(h), scale as f32)
}

fn rasterise(
    capture: &Capture,
    out_w: u32,
    out_h: u32,
    scale: f32,
) -> Result<Vec<u8>, SignatureError> {
    use tiny_skia::{Color, FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Transform};

    let mut pixmap = Pixmap::new(out_w, out_h)
        .ok_or_else(|| SignatureError::Encode(format!("cannot allocate {out_w}×{out_h}")))?;
    pixmap.fill(Color::WHITE);
    let mut paint = Paint::default();
    paint.set_color(Color::BLACK);
    paint.anti_alias = true;
    let transform = Transform::from_scale(scale, scale);
    let base = PEN_WIDTH.max(capture.width.max(capture.height) as f32 / 200.0);
    let pen = |p: &Point| match p.pressure {
        Some(v) => base * (0.4 + 1.2 * v.clamp(0.0, 1.0)),
        None => base,
    };
    let dot = |pixmap: &mut Pixmap, p: &Point, width: f32| {
        if let Some(path) = PathBuilder::from_circle(p.x, p.y, width / 2.0) {
            pixmap.fill_path(&path, &paint, FillRule::Winding, transform, None);
        }
    };

    for stroke in &capture.strokes {
        let pts = &stroke.points;
        let Some(first) = pts.first() else { continue };
        let same_spot = pts.iter().all(|p| p.x == first.x && p.y == first.y);
        if pts.len() == 1 || same_spot {
            dot(&mut pixmap, first, pen(first));
            continue;
        }
        let mut stroke_style = tiny_skia::Stroke {
            width: base,
            line_cap: LineCap::Round,
            line_join: LineJoin::Round,
            ..Default::default()
        };
        if pts.iter().any(|p| p.pressure.is_some()) {
            // Pressure varies the width: one round-capped segment at a time.
            for pair in pts.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                let width = (pen(a) + pen(b)) / 2.0;
                if a.x == b.x && a.y == b.y {
                    dot(&mut pixmap, a, width);
                    continue;
                }
                let mut pb = PathBuilder::new();
                pb.move_to(a.x, a.y);
                pb.line_to(b.x, b.y);
                if let Some(path) = pb.finish() {
                    stroke_style.width = width;
                    pixmap.stroke_path(&path, &paint, &stroke_style, transform, None);
                }
            }
        } else {
            // Constant width: one smooth path through the midpoints.
            let mut pb = PathBuilder::new();
            pb.move_to(first.x, first.y);
            for pair in pts[1..].windows(2) {
                let (c, n) = (&pair[0], &pair[1]);
                pb.quad_to(c.x, c.y, (c.x + n.x) / 2.0, (c.y + n.y) / 2.0);
            }
            let last = &pts[pts.len() - 1];
            pb.line_to(last.x, last.y);
            if let Some(path) = pb.finish() {
                pixmap.stroke_path(&path, &paint, &stroke_style, transform, None);
            }
        }
    }
    // Opaque black on opaque white: every channel holds the gray level.
    Ok(pixmap.data().chunks_exact(4).map(|px| px[0]).collect())
}

fn encode_png(
    gray: &[u8],
    width: u32,
    height: u32,
    chunks: &[(&str, String)],
) -> Result<Vec<u8>, SignatureError> {
    let err = |e: png::EncodingError| SignatureError::Encode(e.to_string());
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        for (key, text) in chunks {
            encoder
                .add_itxt_chunk((*key).to_owned(), text.clone())
                .map_err(err)?;
        }
        let mut writer = encoder.write_header().map_err(err)?;
        writer.write_image_data(gray).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    Ok(out)
}
