//! The one CJK font: Noto Sans CJK SC Regular, subset to 《通用规范汉字表》's
//! 8,105 characters, GB 2312, ASCII and Latin-1, and the signs documents
//! print (see `assets/fonts/README.md`). The tablet's watermark uses it too,
//! through this crate.

use std::sync::OnceLock;

/// The font file (OpenType, CFF outlines).
pub const CJK: &[u8] = include_bytes!("../assets/fonts/NotoSansSC-Regular-TGHZ.otf");

fn face() -> &'static ttf_parser::Face<'static> {
    static FACE: OnceLock<ttf_parser::Face<'static>> = OnceLock::new();
    // The asset is fixed at build time and parsed by this crate's tests.
    FACE.get_or_init(|| ttf_parser::Face::parse(CJK, 0).expect("the embedded font parses"))
}

/// Whether the font has a glyph for `c` (else it prints as a box).
pub fn covers(c: char) -> bool {
    face().glyph_index(c).is_some_and(|g| g.0 != 0)
}

/// How wide `c` is set, in ems (a missing glyph: as wide as `.notdef`).
pub fn advance(c: char) -> f32 {
    let f = face();
    let gid = f.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
    f32::from(f.glyph_hor_advance(gid).unwrap_or(0)) / f32::from(f.units_per_em())
}

/// How wide `text` is set at `size` points.
pub fn width(text: &str, size: f32) -> f32 {
    text.chars().map(advance).sum::<f32>() * size
}

/// The characters of `text` the font lacks, each once, in order.
pub fn missing(text: &str) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if !c.is_control() && !covers(c) && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}
