//! Pages from blocks: a [`Sheet`] is a document's content as [`Block`]s
//! (titles, paragraphs, label–value rows, tables, signature lines); it is
//! broken into lines that fit the width (Chinese text at any character, a
//! closing mark never starting a line, Latin words whole where they fit),
//! the lines into A4 pages — a table's head repeated on each page it runs
//! onto, no row split — each page headed with the document's running head
//! and numbered 第 n 页，共 m 页, and written as PDF/A-2b.

use std::sync::Arc;

use krilla::Document;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::{DateTime, Metadata};
use krilla::page::PageSettings;
use krilla::paint::Stroke;
use krilla::text::{Font, TextDirection};
use krilla::{Data, SerializeSettings};

use crate::DocumentError;
use crate::font;

/// Points per millimetre.
const MM: f32 = 72.0 / 25.4;
/// A4, in points.
const A4: (f32, f32) = (210.0 * MM, 297.0 * MM);
const MARGIN: f32 = 18.0 * MM;
const BODY: f32 = 11.0;
const SMALL: f32 = 9.0;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.5;
/// Where the baseline sits below the top of a line, in ems (the font's
/// ascender, with the line's extra space split above and below).
const BASELINE: f32 = 1.13;

/// One piece of a document's content, in reading order.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Centred, large: the document's name (责令整改通知书).
    Title(String),
    /// Centred, the issuing body above the title.
    Subtitle(String),
    /// A section's heading.
    Heading(String),
    /// A paragraph, its first line indented two characters.
    Para(String),
    /// A paragraph set flush left (lists, labels).
    Plain(String),
    /// A line set flush right (a document number, a date).
    Right(String),
    /// Label and value pairs in a two-column ruled table.
    Rows(Vec<(String, String)>),
    /// A ruled table: its head, each column's share of the width, its rows.
    Table {
        head: Vec<String>,
        widths: Vec<f32>,
        rows: Vec<Vec<String>>,
    },
    /// A line to sign on for each role, two to a row, and the date.
    Signatures(Vec<String>),
    /// Vertical space, in millimetres.
    Gap(f32),
}

/// When a document was made, China time to the minute: the PDF's creation
/// date (PDF/A needs one). Taken from what the document is about (the
/// inspection, the draw), not the clock, so the tablet and the server write
/// the same document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Made {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
}

/// A document: its title (the PDF's metadata), the running head printed at
/// the top of every page, and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub title: String,
    pub head: String,
    pub made: Made,
    pub landscape: bool,
    pub blocks: Vec<Block>,
}

/// Something drawn, in points from the page's top-left corner.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    /// Text whose line box starts at `y`.
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
    },
}

/// An unbreakable run of content (a line, a table row) and its height.
#[derive(Debug, Clone, Default)]
struct Unit {
    height: f32,
    /// Relative to the unit's top-left corner.
    ops: Vec<Op>,
    /// A table's head, drawn again above this unit on a new page.
    head: Option<Box<Unit>>,
    /// Kept on the page of the unit that follows (a heading).
    keep_with_next: bool,
}

impl Sheet {
    pub fn new(title: impl Into<String>, head: impl Into<String>, made: Made) -> Self {
        Self {
            title: title.into(),
            head: head.into(),
            made,
            landscape: false,
            blocks: Vec::new(),
        }
    }

    pub fn push(&mut self, block: Block) -> &mut Self {
        self.blocks.push(block);
        self
    }

    fn size(&self) -> (f32, f32) {
        if self.landscape { (A4.1, A4.0) } else { A4 }
    }

    /// The content as plain text, block by block in reading order: what a
    /// reader of the PDF reads, to compare two renderings of one document.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for b in &self.blocks {
            match b {
                Block::Title(t)
                | Block::Subtitle(t)
                | Block::Heading(t)
                | Block::Para(t)
                | Block::Plain(t)
                | Block::Right(t) => {
                    out.push_str(t);
                    out.push('\n');
                }
                Block::Rows(rows) => {
                    for (k, v) in rows {
                        out.push_str(&format!("{k}\t{v}\n"));
                    }
                }
                Block::Table { head, rows, .. } => {
                    out.push_str(&head.join("\t"));
                    out.push('\n');
                    for r in rows {
                        out.push_str(&r.join("\t"));
                        out.push('\n');
                    }
                }
                Block::Signatures(roles) => {
                    for r in roles {
                        out.push_str(&format!("{r}：\n"));
                    }
                    out.push_str("日期：\n");
                }
                Block::Gap(_) => {}
            }
        }
        out
    }

    /// The pages, each a list of what is drawn on it.
    fn pages(&self) -> Vec<Vec<Op>> {
        let (w, h) = self.size();
        let width = w - 2.0 * MARGIN;
        let top = MARGIN + SMALL * LEADING * 1.6;
        let bottom = h - MARGIN - SMALL * LEADING * 1.6;
        let units: Vec<Unit> = self.blocks.iter().flat_map(|b| units(b, width)).collect();
        let mut pages: Vec<Vec<Op>> = vec![Vec::new()];
        let mut y = top;
        let mut i = 0;
        while i < units.len() {
            let u = &units[i];
            // A heading moves with what follows it.
            let needed = if u.keep_with_next {
                u.height + units.get(i + 1).map_or(0.0, |n| n.height)
            } else {
                u.height
            };
            if y + needed > bottom && y > top {
                pages.push(Vec::new());
                y = top;
                if let Some(head) = &u.head {
                    place(pages.last_mut().expect("a page"), head, MARGIN, y);
                    y += head.height;
                }
            }
            place(pages.last_mut().expect("a page"), u, MARGIN, y);
            y += u.height;
            i += 1;
        }
        let n = pages.len();
        for (k, page) in pages.iter_mut().enumerate() {
            page.push(Op::Text {
                x: MARGIN,
                y: MARGIN,
                size: SMALL,
                text: self.head.clone(),
            });
            let number = format!("第 {} 页，共 {n} 页", k + 1);
            page.push(Op::Text {
                x: w - MARGIN - font::width(&number, SMALL),
                y: h - MARGIN - SMALL * LEADING,
                size: SMALL,
                text: number,
            });
        }
        pages
    }

    /// The document as PDF/A-2b.
    pub fn to_pdf(&self) -> Result<Vec<u8>, DocumentError> {
        let configuration = ConfigurationBuilder::new()
            .with_archival_validator(Archival::A2_B)
            .finish()
            .map_err(|e| DocumentError::Pdf(format!("{e:?}")))?;
        let settings = SerializeSettings {
            configuration,
            ..SerializeSettings::default()
        };
        let mut doc = Document::new_with(settings);
        let m = self.made;
        let made = DateTime::new(m.year)
            .month(m.month)
            .day(m.day)
            .hour(m.hour)
            .minute(m.minute)
            .second(0)
            .utc_offset_hour(8)
            .utc_offset_minute(0);
        doc.set_metadata(
            Metadata::new()
                .creation_date(made)
                .title(self.title.clone())
                .language("zh-CN".to_owned())
                .creator("Choucha".to_owned()),
        );
        let data: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(font::CJK);
        let face = Font::new(Data::from(data), 0)
            .ok_or_else(|| DocumentError::Pdf("the font cannot be read".to_owned()))?;
        let (w, h) = self.size();
        for ops in self.pages() {
            let settings = PageSettings::from_wh(w, h)
                .ok_or_else(|| DocumentError::Pdf("bad page size".to_owned()))?;
            let mut page = doc.start_page_with(settings);
            let mut s = page.surface();
            for op in ops {
                match op {
                    Op::Text { x, y, size, text } => s.draw_text(
                        Point::from_xy(x, y + size * BASELINE),
                        face.clone(),
                        size,
                        &text,
                        false,
                        TextDirection::Auto,
                    ),
                    Op::Line { x1, y1, x2, y2 } => {
                        let mut p = PathBuilder::new();
                        p.move_to(x1, y1);
                        p.line_to(x2, y2);
                        if let Some(path) = p.finish() {
                            s.set_fill(None);
                            s.set_stroke(Some(Stroke {
                                width: 0.6,
                                ..Stroke::default()
                            }));
                            s.draw_path(&path);
                            s.set_stroke(None);
                            s.set_fill(Some(krilla::paint::Fill::default()));
                        }
                    }
                }
            }
            s.finish();
            page.finish();
        }
        doc.finish()
            .map_err(|e| DocumentError::Pdf(format!("{e:?}")))
    }
}

fn place(page: &mut Vec<Op>, u: &Unit, x0: f32, y0: f32) {
    for op in &u.ops {
        page.push(match op {
            Op::Text { x, y, size, text } => Op::Text {
                x: x0 + x,
                y: y0 + y,
                size: *size,
                text: text.clone(),
            },
            Op::Line { x1, y1, x2, y2 } => Op::Line {
                x1: x0 + x1,
                y1: y0 + y1,
                x2: x0 + x2,
                y2: y0 + y2,
            },
        });
    }
}

fn text_line(x: f32, size: f32, text: String) -> Unit {
    Unit {
        height: size * LEADING,
        ops: vec![Op::Text {
            x,
            y: 0.0,
            size,
            text,
        }],
        ..Unit::default()
    }
}

/// A block as the units it is laid out in, `width` points wide.
fn units(block: &Block, width: f32) -> Vec<Unit> {
    match block {
        Block::Title(t) => centred(t, 18.0, width),
        Block::Subtitle(t) => centred(t, 14.0, width),
        Block::Heading(t) => {
            let mut us: Vec<Unit> = wrap(t, 12.0, width, 0.0)
                .into_iter()
                .map(|l| text_line(0.0, 12.0, l))
                .collect();
            for u in &mut us {
                u.keep_with_next = true;
            }
            us
        }
        Block::Para(t) => paragraph(t, width, 2.0 * BODY),
        Block::Plain(t) => paragraph(t, width, 0.0),
        Block::Right(t) => wrap(t, BODY, width, 0.0)
            .into_iter()
            .map(|l| {
                let x = width - font::width(&l, BODY);
                text_line(x, BODY, l)
            })
            .collect(),
        Block::Rows(rows) => {
            let label = width * 0.28;
            rows.iter()
                .map(|(k, v)| row(&[k.as_str(), v.as_str()], &[label, width - label], BODY))
                .collect()
        }
        Block::Table { head, widths, rows } => {
            let total: f32 = widths.iter().sum::<f32>().max(f32::EPSILON);
            let cols: Vec<f32> = widths.iter().map(|w| w / total * width).collect();
            let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
            let head_unit = row(&head_refs, &cols, SMALL + 0.5);
            let mut out = vec![Unit {
                keep_with_next: true,
                ..head_unit.clone()
            }];
            for r in rows {
                let cells: Vec<&str> = r.iter().map(String::as_str).collect();
                let mut u = row(&cells, &cols, SMALL + 0.5);
                u.head = Some(Box::new(head_unit.clone()));
                out.push(u);
            }
            out
        }
        Block::Signatures(roles) => {
            let mut all: Vec<&str> = roles.iter().map(String::as_str).collect();
            all.push("日期");
            all.chunks(2)
                .map(|pair| {
                    let half = width / 2.0;
                    let height = BODY * LEADING * 2.2;
                    let mut ops = Vec::new();
                    for (i, role) in pair.iter().enumerate() {
                        let x = i as f32 * half;
                        let label = format!("{role}：");
                        let lw = font::width(&label, BODY);
                        let y = height - BODY * LEADING;
                        ops.push(Op::Text {
                            x,
                            y,
                            size: BODY,
                            text: label,
                        });
                        ops.push(Op::Line {
                            x1: x + lw,
                            y1: height - BODY * 0.3,
                            x2: x + half - 12.0,
                            y2: height - BODY * 0.3,
                        });
                    }
                    Unit {
                        height,
                        ops,
                        ..Unit::default()
                    }
                })
                .collect()
        }
        Block::Gap(mm) => vec![Unit {
            height: mm * MM,
            ..Unit::default()
        }],
    }
}

fn centred(t: &str, size: f32, width: f32) -> Vec<Unit> {
    wrap(t, size, width, 0.0)
        .into_iter()
        .map(|l| {
            let x = (width - font::width(&l, size)) / 2.0;
            text_line(x.max(0.0), size, l)
        })
        .collect()
}

fn paragraph(t: &str, width: f32, indent: f32) -> Vec<Unit> {
    wrap(t, BODY, width, indent)
        .into_iter()
        .enumerate()
        .map(|(i, l)| text_line(if i == 0 { indent } else { 0.0 }, BODY, l))
        .collect()
}

/// One ruled table row: each cell wrapped in its column, the row as tall as
/// its tallest cell.
fn row(cells: &[&str], cols: &[f32], size: f32) -> Unit {
    let pad = 3.0;
    let wrapped: Vec<Vec<String>> = cells
        .iter()
        .zip(cols)
        .map(|(c, w)| wrap(c, size, w - 2.0 * pad, 0.0))
        .collect();
    let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let line = size * LEADING;
    let height = lines as f32 * line + 2.0 * pad;
    let mut ops = Vec::new();
    let total: f32 = cols.iter().sum();
    let mut x = 0.0;
    ops.push(Op::Line {
        x1: 0.0,
        y1: 0.0,
        x2: total,
        y2: 0.0,
    });
    ops.push(Op::Line {
        x1: 0.0,
        y1: height,
        x2: total,
        y2: height,
    });
    for (cell, w) in wrapped.iter().zip(cols) {
        ops.push(Op::Line {
            x1: x,
            y1: 0.0,
            x2: x,
            y2: height,
        });
        for (i, l) in cell.iter().enumerate() {
            ops.push(Op::Text {
                x: x + pad,
                y: pad + i as f32 * line,
                size,
                text: l.clone(),
            });
        }
        x += w;
    }
    ops.push(Op::Line {
        x1: total,
        y1: 0.0,
        x2: total,
        y2: height,
    });
    Unit {
        height,
        ops,
        ..Unit::default()
    }
}

/// Marks that may not begin a line (标点挤压: they hang at the end of the
/// line before instead).
fn closing(c: char) -> bool {
    "，。、；：？！）》〉」』】”’…—,.;:?!)]}%".contains(c)
}

/// `text` broken into lines of at most `width` points at `size` (the first
/// `first_indent` narrower); a line break in the text starts a new line.
pub fn wrap(text: &str, size: f32, width: f32, first_indent: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for (n, para) in text.split('\n').enumerate() {
        let mut line = String::new();
        let mut w = if n == 0 { first_indent } else { 0.0 };
        let mut avail = width;
        // Where the line may break without splitting a Latin word: the
        // byte offset just after the last space or CJK character.
        let mut last_break: Option<usize> = None;
        for c in para.chars().filter(|c| !c.is_control()) {
            let cw = font::advance(c) * size;
            if w + cw > avail && !line.is_empty() && !closing(c) {
                let word = c.is_ascii_alphanumeric();
                let (head, tail) = match last_break {
                    Some(b) if word && b > 0 && b < line.len() => {
                        (line[..b].to_owned(), line[b..].to_owned())
                    }
                    _ => (line.clone(), String::new()),
                };
                lines.push(head.trim_end().to_owned());
                line = tail;
                w = font::width(&line, size);
                avail = width;
                last_break = None;
            }
            line.push(c);
            w += cw;
            if c == ' ' || !c.is_ascii() {
                last_break = Some(line.len());
            }
        }
        lines.push(line.trim_end().to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_breaks_anywhere_but_before_a_closing_mark() {
        let size = 10.0;
        // Ten characters of 1 em each fit in 10 ems.
        let lines = wrap("一二三四五六七八九十，十一", size, 10.0 * size, 0.0);
        assert_eq!(lines, vec!["一二三四五六七八九十，", "十一"]);
        let lines = wrap("一二三四五六七八九十", size, 5.0 * size, 2.0 * size);
        assert_eq!(
            lines[0].chars().count(),
            3,
            "the indent takes two: {lines:?}"
        );
    }

    #[test]
    fn latin_words_stay_whole() {
        let size = 10.0;
        let lines = wrap("依据 GB/T 19001 standard 标准", size, 8.0 * size, 0.0);
        for l in &lines {
            assert!(!l.ends_with("stan"), "{lines:?}");
        }
        assert_eq!(lines.concat().replace(' ', ""), "依据GB/T19001standard标准");
    }

    #[test]
    fn a_long_table_repeats_its_head_and_numbers_its_pages() {
        let mut s = Sheet::new("表", "测试 — 表", Made::default());
        s.push(Block::Table {
            head: vec!["序号".into(), "名称".into()],
            widths: vec![1.0, 4.0],
            rows: (1..=120)
                .map(|i| vec![i.to_string(), format!("第{i}行")])
                .collect(),
        });
        let pages = s.pages();
        assert!(pages.len() >= 2, "{} pages", pages.len());
        for (k, p) in pages.iter().enumerate() {
            let texts: Vec<&str> = p
                .iter()
                .filter_map(|o| match o {
                    Op::Text { text, .. } => Some(text.as_str()),
                    Op::Line { .. } => None,
                })
                .collect();
            assert!(texts.contains(&"序号"), "page {} has the head", k + 1);
            assert!(texts.contains(&"测试 — 表"));
            let number = format!("第 {} 页，共 {} 页", k + 1, pages.len());
            assert!(texts.contains(&number.as_str()), "{number}");
        }
    }
}
