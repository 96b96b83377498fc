//! The burned-in watermark: a darkened band across the bottom of the photo
//! with five labelled lines of white text (black shadow), so it reads on a
//! white wall and in a dark corridor alike.
//!
//! ```text
//! 时间：2024-01-10 10:05:33
//! 位置：29.560100, 106.330700 ±8 m        (or 无定位)
//! 检查对象：重庆某某科技有限公司
//! 检查人员：张三、李四
//! 任务编号：T-2024-0001
//! ```
//!
//! The font is Choucha's one CJK font, owned by the documents crate: Noto
//! Sans CJK SC cut down to the 8,105 characters of 《通用规范汉字表》, GB 2312
//! and ASCII (SIL OFL 1.1), so 堃、喆、犇 print as themselves. A character
//! the subset lacks is drawn as the font's box, never silently dropped. Text is
//! sized from the shorter side of the image (1/40 of it, at least 12 px);
//! long values wrap, at most three lines each, the last ending in "…".

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use choucha_shared::GeoPoint;
use chrono::{DateTime, Utc};

use super::Rgb;

/// The font (see `documents/assets/fonts/README.md`).
pub const FONT: &[u8] = choucha_documents::font::CJK;

/// What is burned into the photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    /// When the photo was taken; shown in China Standard Time (UTC+8).
    pub taken_at: DateTime<Utc>,
    /// Where, as the device measured it; `None` shows 无定位.
    pub gps: Option<GeoPoint>,
    /// 检查对象: the inspected enterprise, body or standard.
    pub target_name: String,
    /// 检查人员: the officers present.
    pub officers: Vec<String>,
    /// 任务编号.
    pub task_id: String,
}

impl Watermark {
    /// The (label, value) pairs burned in, in order.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let place = match &self.gps {
            Some(p) => match p.accuracy_m {
                Some(a) => format!("{:.6}, {:.6} ±{} m", p.lat, p.lon, a.round() as i64),
                None => format!("{:.6}, {:.6}", p.lat, p.lon),
            },
            None => "无定位".to_owned(),
        };
        let officers = if self.officers.is_empty() {
            "—".to_owned()
        } else {
            self.officers.join("、")
        };
        [
            ("时间：", super::china_time(self.taken_at)),
            ("位置：", place),
            ("检查对象：", self.target_name.clone()),
            ("检查人员：", officers),
            ("任务编号：", self.task_id.clone()),
        ]
        .into_iter()
        .map(|(label, value)| (label, clean(&value)))
        .collect()
    }
}

/// Control characters (a pasted newline, a tab) become spaces.
fn clean(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn font() -> &'static FontRef<'static> {
    static FONT_REF: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT_REF.get_or_init(|| FontRef::try_from_slice(FONT).expect("the bundled font parses"))
}

/// Whether the bundled font has a glyph for `c`.
pub fn font_covers(c: char) -> bool {
    font().glyph_id(c).0 != 0
}

/// Total ink (sum of coverage, in pixels) of `text` drawn at `px` pixels.
/// Zero for text made only of spaces; a glyph-less character still inks its
/// box.
pub fn ink(text: &str, px: f32) -> f32 {
    let font = font().as_scaled(PxScale::from(px));
    let mut x = 0.0;
    let mut total = 0.0;
    for c in text.chars() {
        let glyph = font
            .glyph_id(c)
            .with_scale_and_position(px, point(x, font.ascent()));
        x += font.h_advance(glyph.id);
        if let Some(outline) = font.outline_glyph(glyph) {
            outline.draw(|_, _, cov| total += cov);
        }
    }
    total
}

/// Text size in pixels for an image of this size.
pub fn text_px(width: u32, height: u32) -> f32 {
    (width.min(height) as f32 / 40.0).max(12.0)
}

const MAX_LINES_PER_FIELD: usize = 3;

pub(super) fn burn_in(img: &mut Rgb, mark: &Watermark) {
    let px = text_px(img.width, img.height);
    let font = font().as_scaled(PxScale::from(px));
    let pad = (px * 0.6).round();
    let line_h = (px * 1.3).round();
    let avail = img.width as f32 - 2.0 * pad;

    // Lay out: (x, baseline row index, text).
    let mut runs: Vec<(f32, usize, String)> = Vec::new();
    let mut row = 0;
    for (label, value) in mark.lines() {
        let label_w = width(&font, label);
        runs.push((pad, row, label.to_owned()));
        let pieces = wrap(&font, &value, (avail - label_w).max(px));
        for piece in pieces {
            runs.push((pad + label_w, row, piece));
            row += 1;
        }
    }
    let rows = row.max(1);

    let band_h = (rows as f32 * line_h + 2.0 * pad) as u32;
    let band_top = img.height.saturating_sub(band_h);
    darken(img, band_top);

    let shadow = (px / 16.0).round().max(1.0);
    // The font is a regular weight (the one the documents print with): on a
    // photo each line is struck twice, `bold` apart, as a bold face would
    // be, so thin strokes survive JPEG and a small screen.
    let bold = (px / 20.0).round().max(1.0);
    let ascent = font.ascent();
    let top_gap = (line_h - px) / 2.0;
    for (x, row, text) in &runs {
        let baseline = band_top as f32 + pad + *row as f32 * line_h + top_gap + ascent;
        for dx in [0.0, bold] {
            draw(
                img,
                &font,
                text,
                x + shadow + dx,
                baseline + shadow,
                [0, 0, 0],
                0.8,
            );
        }
        for dx in [0.0, bold] {
            draw(img, &font, text, x + dx, baseline, [255, 255, 255], 1.0);
        }
    }
}

fn width<F: Font>(font: &ab_glyph::PxScaleFont<F>, text: &str) -> f32 {
    text.chars().map(|c| font.h_advance(font.glyph_id(c))).sum()
}

/// Breaks `text` into pieces no wider than `max` (at any character: CJK has
/// no spaces to break at), at most [`MAX_LINES_PER_FIELD`], the last ending
/// in "…" when something was cut.
fn wrap<F: Font>(font: &ab_glyph::PxScaleFont<F>, text: &str, max: f32) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut w = 0.0;
    for c in text.chars() {
        let adv = font.h_advance(font.glyph_id(c));
        let full = lines.len() == MAX_LINES_PER_FIELD;
        let current = lines.last_mut().expect("never empty");
        if w + adv > max && !current.is_empty() {
            if full {
                let ellipsis = font.h_advance(font.glyph_id('…'));
                while width(font, current) + ellipsis > max && current.pop().is_some() {}
                current.push('…');
                return lines;
            }
            lines.push(String::new());
            w = 0.0;
            if c == ' ' {
                continue;
            }
        }
        lines.last_mut().expect("never empty").push(c);
        w += adv;
    }
    lines
}

/// Multiplies every pixel from row `top` down by 0.4 (black at 60 %).
fn darken(img: &mut Rgb, top: u32) {
    let start = top as usize * img.width as usize * 3;
    for v in &mut img.data[start..] {
        *v = ((u16::from(*v) * 2 + 2) / 5) as u8;
    }
}

fn draw<F: Font>(
    img: &mut Rgb,
    font: &ab_glyph::PxScaleFont<F>,
    text: &str,
    x0: f32,
    baseline: f32,
    color: [u8; 3],
    opacity: f32,
) {
    let (w, h) = (img.width as i64, img.height as i64);
    let mut x = x0;
    for c in text.chars() {
        let id = font.glyph_id(c);
        let glyph = id.with_scale_and_position(font.scale(), point(x, baseline));
        x += font.h_advance(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, cov| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            if px < 0 || py < 0 || px >= w || py >= h {
                return;
            }
            let a = (cov * opacity).clamp(0.0, 1.0);
            let i = ((py * w + px) * 3) as usize;
            for (k, &c) in color.iter().enumerate() {
                let d = f32::from(img.data[i + k]);
                img.data[i + k] = (d + (f32::from(c) - d) * a).round() as u8;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> Watermark {
        Watermark {
            taken_at: "2024-01-10T02:05:33Z".parse().unwrap(),
            gps: Some(GeoPoint::new(29.5601, 106.3307, Some(8.4)).unwrap()),
            target_name: "重庆某某科技有限公司".into(),
            officers: vec!["张三".into(), "李四".into()],
            task_id: "T-2024-0001".into(),
        }
    }

    #[test]
    fn lines_read_as_specified() {
        let lines: Vec<String> = mark()
            .lines()
            .into_iter()
            .map(|(l, v)| format!("{l}{v}"))
            .collect();
        assert_eq!(
            lines,
            [
                "时间：2024-01-10 10:05:33",
                "位置：29.560100, 106.330700 ±8 m",
                "检查对象：重庆某某科技有限公司",
                "检查人员：张三、李四",
                "任务编号：T-2024-0001",
            ]
        );
        let no_fix = Watermark {
            gps: None,
            ..mark()
        };
        assert_eq!(no_fix.lines()[1].1, "无定位");
    }

    #[test]
    fn long_values_wrap_and_are_cut() {
        let font = font().as_scaled(PxScale::from(20.0));
        let long = "很长的名称".repeat(40);
        let lines = wrap(&font, &long, 200.0);
        assert_eq!(lines.len(), MAX_LINES_PER_FIELD);
        assert!(lines.iter().all(|l| width(&font, l) <= 200.0), "{lines:?}");
        assert!(lines[2].ends_with('…'));
        assert_eq!(wrap(&font, "短", 200.0), ["短"]);
    }
}
