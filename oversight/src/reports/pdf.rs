//! A small PDF writer: pages of CJK text (real, extractable text), lines,
//! JPEG photos and PNG signature images. Just what the record PDF needs.
//!
//! Text is set in the project's Noto Sans SC subset (the same font the
//! tablet burns watermarks in) as a Type 0 font with Identity-H encoding:
//! each character is written as its 2-byte CID, the font's CFF program is
//! embedded (`FontFile3`/`CIDFontType0C`), `/W` gives the advance widths,
//! and a `/ToUnicode` map lets any reader (and the tests) extract the text
//! as Unicode. Photos are embedded as they are (`DCTDecode`, no
//! re-encoding); signature PNGs are decoded and flattened onto white.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use flate2::Compression;
use flate2::write::ZlibEncoder;

/// Choucha's one CJK font, owned by the documents crate.
static FONT: &[u8] = choucha_documents::font::CJK;

pub const A4: (f32, f32) = (595.0, 842.0);

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("font cannot be read: {0}")]
    Font(String),
    #[error("image cannot be embedded: {0}")]
    Image(String),
}

/// Glyph lookup and metrics of the embedded font.
struct Font {
    /// char → (cid, advance in 1/1000 em)
    glyphs: BTreeMap<char, (u16, u32)>,
    cff: Vec<u8>,
    ascent: i32,
    descent: i32,
    bbox: [i32; 4],
    notdef_width: u32,
}

impl Font {
    fn load() -> Result<Self, PdfError> {
        let face = ttf_parser::Face::parse(FONT, 0).map_err(|e| PdfError::Font(e.to_string()))?;
        let upem = f32::from(face.units_per_em());
        let scale = |v: f32| (v * 1000.0 / upem).round();
        let cff_table = face.tables().cff;
        let raw = face
            .raw_face()
            .table(ttf_parser::Tag::from_bytes(b"CFF "))
            .ok_or_else(|| PdfError::Font("no CFF table".into()))?;
        let mut glyphs = BTreeMap::new();
        if let Some(cmap) = face.tables().cmap {
            for sub in cmap.subtables {
                if !sub.is_unicode() {
                    continue;
                }
                sub.codepoints(|cp| {
                    let Some(c) = char::from_u32(cp) else { return };
                    if let Some(gid) = sub.glyph_index(cp) {
                        // A CID-keyed CFF addresses glyphs by CID; otherwise
                        // the glyph index is the CID.
                        let cid = cff_table
                            .as_ref()
                            .and_then(|t| t.glyph_cid(gid))
                            .unwrap_or(gid.0);
                        let adv = face.glyph_hor_advance(gid).unwrap_or(0);
                        glyphs
                            .entry(c)
                            .or_insert((cid, scale(f32::from(adv)) as u32));
                    }
                });
            }
        }
        let b = face.global_bounding_box();
        Ok(Self {
            glyphs,
            cff: raw.to_vec(),
            ascent: scale(f32::from(face.ascender())) as i32,
            descent: scale(f32::from(face.descender())) as i32,
            bbox: [
                scale(f32::from(b.x_min)) as i32,
                scale(f32::from(b.y_min)) as i32,
                scale(f32::from(b.x_max)) as i32,
                scale(f32::from(b.y_max)) as i32,
            ],
            notdef_width: 1000,
        })
    }

    fn glyph(&self, c: char) -> (u16, u32) {
        self.glyphs
            .get(&c)
            .copied()
            .unwrap_or((0, self.notdef_width))
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).1 as f32).sum::<f32>() * size / 1000.0
    }
}

/// An image ready to be placed.
enum Image {
    Jpeg {
        data: Vec<u8>,
        width: u32,
        height: u32,
        components: u8,
    },
    Rgb {
        data: Vec<u8>,
        width: u32,
        height: u32,
    },
}

impl Image {
    fn size(&self) -> (u32, u32) {
        match self {
            Self::Jpeg { width, height, .. } | Self::Rgb { width, height, .. } => (*width, *height),
        }
    }
}

/// A document being laid out top to bottom.
pub struct Document {
    font: Font,
    pages: Vec<String>,
    images: Vec<Image>,
    used: BTreeMap<char, (u16, u32)>,
    /// Current baseline position on the current page.
    y: f32,
    pub margin: f32,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("pages", &self.pages.len())
            .field("images", &self.images.len())
            .finish_non_exhaustive()
    }
}

fn escape_hex(out: &mut String, cids: impl Iterator<Item = u16>) {
    out.push('<');
    for c in cids {
        let _ = write!(out, "{c:04X}");
    }
    out.push('>');
}

impl Document {
    pub fn new() -> Result<Self, PdfError> {
        let mut d = Self {
            font: Font::load()?,
            pages: Vec::new(),
            images: Vec::new(),
            used: BTreeMap::new(),
            y: 0.0,
            margin: 50.0,
        };
        d.new_page();
        Ok(d)
    }

    pub fn new_page(&mut self) {
        self.pages.push(String::new());
        self.y = A4.1 - self.margin;
    }

    fn width_available(&self) -> f32 {
        A4.0 - 2.0 * self.margin
    }

    /// Makes room for `h` points, starting a new page if needed.
    pub fn ensure(&mut self, h: f32) {
        if self.y - h < self.margin {
            self.new_page();
        }
    }

    fn page(&mut self) -> &mut String {
        if self.pages.is_empty() {
            self.pages.push(String::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Draws one line of text at (x, y) without wrapping.
    pub fn text_at(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let mut cids = Vec::with_capacity(text.len());
        for c in text.chars().filter(|c| !c.is_control()) {
            let g = self.font.glyph(c);
            self.used.insert(c, g);
            cids.push(g.0);
        }
        let mut s = format!("BT /F1 {size:.1} Tf {x:.2} {y:.2} Td ");
        escape_hex(&mut s, cids.into_iter());
        s.push_str(" Tj ET\n");
        self.page().push_str(&s);
    }

    /// Breaks text into lines that fit `width` (CJK breaks anywhere; no
    /// hyphenation needed).
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            let mut w = 0.0;
            for c in para.chars() {
                let cw = self.font.glyph(c).1 as f32 * size / 1000.0;
                if w + cw > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    w = 0.0;
                }
                line.push(c);
                w += cw;
            }
            lines.push(line);
        }
        lines
    }

    /// A wrapped paragraph at the left margin plus `indent`.
    pub fn paragraph(&mut self, size: f32, indent: f32, text: &str) {
        let leading = size * 1.45;
        let lines = self.wrap(text, size, self.width_available() - indent);
        for line in lines {
            self.ensure(leading);
            self.y -= leading;
            let (x, y) = (self.margin + indent, self.y);
            self.text_at(x, y, size, &line);
        }
    }

    /// A heading centred on the page.
    pub fn title(&mut self, size: f32, text: &str) {
        let w = self.font.width(text, size);
        self.ensure(size * 2.0);
        self.y -= size * 1.6;
        let x = (A4.0 - w) / 2.0;
        let y = self.y;
        self.text_at(x.max(self.margin), y, size, text);
        self.y -= size * 0.4;
    }

    /// Label/value rows in two columns, values wrapped.
    pub fn fields(&mut self, size: f32, rows: &[(&str, String)]) {
        let label_w = 110.0;
        let leading = size * 1.45;
        for (label, value) in rows {
            let lines = self.wrap(value, size, self.width_available() - label_w);
            self.ensure(leading * lines.len().max(1) as f32);
            self.y -= leading;
            let (x, y) = (self.margin, self.y);
            self.text_at(x, y, size, label);
            for (i, line) in lines.iter().enumerate() {
                if i > 0 {
                    self.y -= leading;
                }
                let (x, y) = (self.margin + label_w, self.y);
                self.text_at(x, y, size, line);
            }
        }
    }

    /// A horizontal rule.
    pub fn rule(&mut self) {
        self.ensure(10.0);
        self.y -= 6.0;
        let (x0, x1, y) = (self.margin, A4.0 - self.margin, self.y);
        self.page()
            .push_str(&format!("0.6 w {x0:.1} {y:.1} m {x1:.1} {y:.1} l S\n"));
        self.y -= 4.0;
    }

    pub fn space(&mut self, h: f32) {
        self.y -= h;
    }

    /// Adds a JPEG (embedded as is) or PNG; returns its handle.
    fn add_image(&mut self, bytes: &[u8]) -> Result<usize, PdfError> {
        let format = image::guess_format(bytes).map_err(|e| PdfError::Image(e.to_string()))?;
        let img = match format {
            image::ImageFormat::Jpeg => {
                let dec = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes))
                    .map_err(|e| PdfError::Image(e.to_string()))?;
                use image::ImageDecoder;
                let (width, height) = dec.dimensions();
                let components = match dec.color_type() {
                    image::ColorType::L8 | image::ColorType::L16 => 1,
                    _ => 3,
                };
                // CMYK or exotic JPEGs: decode and embed as RGB.
                if dec.original_color_type() == image::ExtendedColorType::Cmyk8 {
                    self.rgb_image(bytes)?
                } else {
                    Image::Jpeg {
                        data: bytes.to_vec(),
                        width,
                        height,
                        components,
                    }
                }
            }
            _ => self.rgb_image(bytes)?,
        };
        self.images.push(img);
        Ok(self.images.len() - 1)
    }

    fn rgb_image(&self, bytes: &[u8]) -> Result<Image, PdfError> {
        let img = image::load_from_memory(bytes).map_err(|e| PdfError::Image(e.to_string()))?;
        let rgba = img.to_rgba8();
        let (width, height) = rgba.dimensions();
        let mut data = Vec::with_capacity((width * height * 3) as usize);
        for p in rgba.pixels() {
            let a = u16::from(p.0[3]);
            for c in &p.0[..3] {
                // Alpha onto white: signatures are ink on transparency.
                data.push(((u16::from(*c) * a + 255 * (255 - a)) / 255) as u8);
            }
        }
        Ok(Image::Rgb {
            data,
            width,
            height,
        })
    }

    /// Places an image scaled to fit `max_w` × `max_h` at the left margin
    /// plus `indent`; returns the placed height.
    pub fn image(
        &mut self,
        bytes: &[u8],
        indent: f32,
        max_w: f32,
        max_h: f32,
    ) -> Result<f32, PdfError> {
        let id = self.add_image(bytes)?;
        let (w, h) = self.images[id].size();
        let scale = (max_w / w as f32).min(max_h / h as f32);
        let (dw, dh) = (w as f32 * scale, h as f32 * scale);
        self.ensure(dh + 4.0);
        self.y -= dh + 4.0;
        let (x, y) = (self.margin + indent, self.y);
        self.page().push_str(&format!(
            "q {dw:.2} 0 0 {dh:.2} {x:.2} {y:.2} cm /Im{id} Do Q\n"
        ));
        Ok(dh)
    }

    /// The finished PDF.
    pub fn finish(self) -> Vec<u8> {
        let mut w = Writer::default();
        // 1: catalog, 2: pages; the rest follow.
        let font_file = w.reserve();
        let descriptor = w.reserve();
        let cid_font = w.reserve();
        let to_unicode = w.reserve();
        let type0 = w.reserve();
        w.stream(font_file, "/Subtype /CIDFontType0C", &self.font.cff);
        let f = &self.font;
        w.object(
            descriptor,
            &format!(
                "<< /Type /FontDescriptor /FontName /NotoSansSC-Regular /Flags 4 /FontBBox [{} {} {} {}] /ItalicAngle 0 \
                 /Ascent {} /Descent {} /CapHeight {} /StemV 120 /FontFile3 {font_file} 0 R >>",
                f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3], f.ascent, f.descent, f.ascent
            ),
        );
        let mut widths = String::from("[");
        let mut by_cid: BTreeMap<u16, (u32, char)> = BTreeMap::new();
        for (c, (cid, adv)) in &self.used {
            by_cid.entry(*cid).or_insert((*adv, *c));
        }
        for (cid, (adv, _)) in &by_cid {
            let _ = write!(widths, " {cid} [{adv}]");
        }
        widths.push_str(" ]");
        w.object(
            cid_font,
            &format!(
                "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /NotoSansSC-Regular \
                 /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
                 /FontDescriptor {descriptor} 0 R /DW 1000 /W {widths} >>"
            ),
        );
        let mut cmap = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        let entries: Vec<(u16, char)> = by_cid.iter().map(|(cid, (_, c))| (*cid, *c)).collect();
        for chunk in entries.chunks(100) {
            let _ = writeln!(cmap, "{} beginbfchar", chunk.len());
            for (cid, c) in chunk {
                let mut units = [0u16; 2];
                let hex: String = c
                    .encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("{u:04X}"))
                    .collect();
                let _ = writeln!(cmap, "<{cid:04X}> <{hex}>");
            }
            cmap.push_str("endbfchar\n");
        }
        cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        w.stream(to_unicode, "", cmap.as_bytes());
        w.object(
            type0,
            &format!(
                "<< /Type /Font /Subtype /Type0 /BaseFont /NotoSansSC-Regular /Encoding /Identity-H \
                 /DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>"
            ),
        );
        let mut xobjects = String::new();
        for (i, img) in self.images.iter().enumerate() {
            let id = w.reserve();
            match img {
                Image::Jpeg {
                    data,
                    width,
                    height,
                    components,
                } => {
                    let cs = if *components == 1 {
                        "/DeviceGray"
                    } else {
                        "/DeviceRGB"
                    };
                    w.raw_stream(
                        id,
                        &format!(
                            "/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace {cs} \
                             /BitsPerComponent 8 /Filter /DCTDecode"
                        ),
                        data,
                    );
                }
                Image::Rgb {
                    data,
                    width,
                    height,
                } => w.stream(
                    id,
                    &format!(
                        "/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceRGB /BitsPerComponent 8"
                    ),
                    data,
                ),
            }
            let _ = write!(xobjects, " /Im{i} {id} 0 R");
        }
        let resources = w.reserve();
        w.object(
            resources,
            &format!("<< /Font << /F1 {type0} 0 R >> /XObject <<{xobjects} >> >>"),
        );
        let mut kids = Vec::new();
        for content in &self.pages {
            let c = w.reserve();
            w.stream(c, "", content.as_bytes());
            let p = w.reserve();
            w.object(
                p,
                &format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources {resources} 0 R /Contents {c} 0 R >>",
                    A4.0, A4.1
                ),
            );
            kids.push(format!("{p} 0 R"));
        }
        w.object(1, "<< /Type /Catalog /Pages 2 0 R >>");
        w.object(
            2,
            &format!(
                "<< /Type /Pages /Kids [{}] /Count {} >>",
                kids.join(" "),
                kids.len()
            ),
        );
        w.finish()
    }
}

/// Objects, then the cross-reference table.
struct Writer {
    next: usize,
    objects: BTreeMap<usize, Vec<u8>>,
}

impl Default for Writer {
    fn default() -> Self {
        Self {
            next: 3,
            objects: BTreeMap::new(),
        }
    }
}

impl Writer {
    fn reserve(&mut self) -> usize {
        self.next += 1;
        self.next - 1
    }

    fn object(&mut self, id: usize, body: &str) {
        self.objects
            .insert(id, format!("{id} 0 obj\n{body}\nendobj\n").into_bytes());
    }

    /// A Flate-compressed stream.
    fn stream(&mut self, id: usize, dict: &str, data: &[u8]) {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        // Writing to a Vec cannot fail.
        let _ = enc.write_all(data);
        let packed = enc.finish().unwrap_or_default();
        self.raw_stream(id, &format!("{dict} /Filter /FlateDecode"), &packed);
    }

    fn raw_stream(&mut self, id: usize, dict: &str, data: &[u8]) {
        let mut out =
            format!("{id} 0 obj\n<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\nendstream\nendobj\n");
        self.objects.insert(id, out);
    }

    fn finish(self) -> Vec<u8> {
        let mut out = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = BTreeMap::new();
        for (id, bytes) in &self.objects {
            offsets.insert(*id, out.len());
            out.extend_from_slice(bytes);
        }
        let size = self.next;
        let xref = out.len();
        let mut table = format!("xref\n0 {size}\n0000000000 65535 f \n");
        for id in 1..size {
            match offsets.get(&id) {
                Some(o) => {
                    let _ = writeln!(table, "{o:010} 00000 n ");
                }
                None => table.push_str("0000000000 65535 f \n"),
            }
        }
        let _ = write!(
            table,
            "trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
        );
        out.extend_from_slice(table.as_bytes());
        out
    }
}
