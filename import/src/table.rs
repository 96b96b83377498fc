//! Turning file bytes into a header and a stream of trimmed rows.
//!
//! CSV is decoded once (UTF-8 with or without BOM, otherwise GB18030, a
//! superset of GBK) and streamed through one reused [`csv::StringRecord`];
//! XLSX rows are rendered one at a time into a reused row buffer. Either way
//! the caller sees one [`Row`] at a time, numbered as a spreadsheet shows it
//! (the header is normally row 1), with fully empty rows skipped.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Cursor;

use calamine::{DataRef, Reader, SheetType, SheetVisible, Xlsx};
use csv::{ReaderBuilder, StringRecord};

/// How the bytes of an import file are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma-separated text (tab-separated is detected too), UTF-8 with or
    /// without BOM, or GBK/GB18030.
    Csv,
    /// An Office Open XML workbook; the first worksheet is read.
    Xlsx,
}

impl FileFormat {
    /// The format of a file that came without a name: an XLSX file is a
    /// ZIP archive (it starts with `PK\x03\x04`); anything else is read as
    /// CSV, whose own errors then say what is wrong.
    pub fn sniff(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"PK\x03\x04") {
            Self::Xlsx
        } else {
            Self::Csv
        }
    }

    /// The format a file name's extension stands for (`.csv`, `.xlsx`, any
    /// letter case). Anything else, including the old binary `.xls`, is
    /// `None`.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let (_, ext) = name.trim().rsplit_once('.')?;
        if ext.eq_ignore_ascii_case("csv") {
            Some(Self::Csv)
        } else if ext.eq_ignore_ascii_case("xlsx") {
            Some(Self::Xlsx)
        } else {
            None
        }
    }
}

/// A problem with the file as a whole: nothing in it can be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("文件为空 (the file is empty)")]
    Empty,
    #[error(
        "工作簿解压后过大：{unpacked_mib} MB，最多 {max_mib} MB；请删除图片等无关内容或拆分后导入 (the workbook unpacks to {unpacked_mib} MB, over {max_mib} MB)"
    )]
    XlsxTooLarge { unpacked_mib: u64, max_mib: u64 },
    #[error("工作表单元格过多：超过 {max} 个；请拆分后导入 (more than {max} cells)")]
    TooManyCells { max: usize },
    #[error("第 {row} 行第 {column} 列超出可读范围：最多 {max} 列 (cell beyond column {max})")]
    TooManyColumns {
        row: usize,
        column: usize,
        max: usize,
    },
    #[error(
        "文件只有表头（第 {header_row} 行），没有数据行 (the file has a header but no data rows)"
    )]
    NoDataRows { header_row: usize },
    #[error(
        "文件编码无法识别：既不是 UTF-8 也不是 GBK/GB18030，第 {line} 行有无法解码的字节 (the file is neither UTF-8 nor GBK/GB18030 text; undecodable bytes on line {line})"
    )]
    Undecodable { line: usize },
    #[error(
        "文件是 UTF-16 编码，请在 Excel 中另存为“CSV UTF-8（逗号分隔）” (UTF-16 text is not supported; save as CSV UTF-8)"
    )]
    Utf16,
    #[error(
        "文件内容是 XLSX 工作簿而不是 CSV 文本，请以 .xlsx 格式导入 (the file is an XLSX workbook, not CSV text)"
    )]
    XlsxAsCsv,
    #[error("文件含有二进制内容，不是 CSV 文本 (the file holds binary data, not CSV text)")]
    Binary,
    #[error("不是有效的 XLSX 文件：{0} (not a valid XLSX workbook)")]
    NotXlsx(String),
    #[error("工作簿中没有工作表 (the workbook has no worksheet)")]
    NoSheet,
    #[error(
        "缺少必填列：{} (missing required column(s)); 应有的列 (expected columns)：{}; 文件第 {header_row} 行的列 (found)：{}",
        .missing.join("、"),
        .expected.join("、"),
        if .found.is_empty() { "（无）".to_owned() } else { .found.join("、") }
    )]
    MissingColumns {
        /// Every missing required column (or pair of columns, one of which
        /// must be present, written "甲 或 乙").
        missing: Vec<String>,
        /// Every column the file kind knows, required ones first.
        expected: Vec<String>,
        /// The non-empty header cells of the file, as written.
        found: Vec<String>,
        header_row: usize,
    },
    #[error(
        "表头重复：第 {second} 列“{second_header}”与第 {first} 列“{first_header}”都表示“{column}” (duplicate header column)"
    )]
    DuplicateColumn {
        /// Canonical column name.
        column: String,
        /// Spreadsheet column letter of the first occurrence.
        first: String,
        first_header: String,
        /// Spreadsheet column letter of the second occurrence.
        second: String,
        second_header: String,
    },
    #[error("CSV 格式错误（第 {row} 行）：{message} (malformed CSV)")]
    Csv { row: usize, message: String },
}

/// A column a file kind knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Column {
    /// Canonical Chinese header name.
    pub name: &'static str,
    /// Other header names accepted for the same column.
    pub aliases: &'static [&'static str],
    /// The header must be present. Columns required only for some rows (or
    /// of which one of two must be present) are `false` here.
    pub required: bool,
}

/// Where each known column sits in the file, and what its header says.
#[derive(Debug)]
pub(crate) struct Layout {
    index: Vec<Option<usize>>,
    headers: Vec<String>,
    header_row: usize,
}

/// The cells of one physical row; `get` trims and yields "" past the end.
pub(crate) trait Cells {
    fn get(&self, i: usize) -> &str;
    fn len(&self) -> usize;
}

impl Cells for StringRecord {
    fn get(&self, i: usize) -> &str {
        StringRecord::get(self, i).map_or("", str::trim)
    }
    fn len(&self) -> usize {
        StringRecord::len(self)
    }
}

impl Cells for Vec<String> {
    fn get(&self, i: usize) -> &str {
        self.as_slice().get(i).map_or("", |s| s.trim())
    }
    fn len(&self) -> usize {
        self.as_slice().len()
    }
}

/// One data row, as the field parsers see it.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    number: usize,
    layout: &'a Layout,
    cells: &'a dyn Cells,
}

impl<'a> Row<'a> {
    /// 1-based row number as a spreadsheet shows it.
    pub(crate) fn number(&self) -> usize {
        self.number
    }

    /// The trimmed cell of a known column; "" if the column is absent.
    pub(crate) fn get(&self, field: usize) -> &'a str {
        match self.layout.index[field] {
            Some(i) => self.cells.get(i),
            None => "",
        }
    }

    /// 0-based position of a known column in the file (`usize::MAX` when
    /// absent), for ordering problems left to right.
    pub(crate) fn position(&self, field: usize) -> usize {
        self.layout.index[field].unwrap_or(usize::MAX)
    }

    pub(crate) fn has_column(&self, field: usize) -> bool {
        self.layout.index[field].is_some()
    }

    /// The header of a known column as the file writes it (canonical name
    /// when the column is absent).
    pub(crate) fn header(&self, field: usize) -> &'a str {
        &self.layout.headers[field]
    }
}

/// Read a table: resolve its header against `columns` (`any_of` lists pairs
/// of columns at least one of which must be present), then call `visit` for
/// every non-empty data row in file order.
pub(crate) fn read(
    bytes: &[u8],
    format: FileFormat,
    columns: &[Column],
    any_of: &[(usize, usize)],
    visit: impl FnMut(Row<'_>),
) -> Result<(), ImportError> {
    match format {
        FileFormat::Csv => read_csv(bytes, columns, any_of, visit),
        FileFormat::Xlsx => read_xlsx(bytes, columns, any_of, visit),
    }
}

fn read_csv(
    bytes: &[u8],
    columns: &[Column],
    any_of: &[(usize, usize)],
    mut visit: impl FnMut(Row<'_>),
) -> Result<(), ImportError> {
    let text = decode(bytes)?;
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut record = StringRecord::new();
    // A spreadsheet shows one row per record and per blank line (which the
    // CSV reader skips), and none for a line break inside a quoted field.
    // So: row = physical line where the record starts, less the line breaks
    // inside earlier records.
    let bytes = text.as_bytes();
    let (mut cursor, mut newlines_before) = (0usize, 0usize);
    let mut embedded_newlines = 0usize;
    let mut layout: Option<Layout> = None;
    let mut data_rows = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let row = e
                    .position()
                    .map_or(0, |p| p.line() as usize)
                    .saturating_sub(embedded_newlines);
                return Err(ImportError::Csv {
                    row,
                    message: e.to_string(),
                });
            }
        }
        // The reader's position is where it started looking, before the
        // blank lines it skipped; the record itself starts at the first
        // byte that is not a line break.
        let from = record
            .position()
            .map_or(cursor, |p| p.byte() as usize)
            .clamp(cursor, bytes.len());
        let start = bytes[from..]
            .iter()
            .position(|&b| b != b'\n' && b != b'\r')
            .map_or(bytes.len(), |i| from + i);
        newlines_before += count_newlines(&bytes[cursor..start]);
        cursor = start;
        let number = (newlines_before + 1).saturating_sub(embedded_newlines);
        let slice = record.as_slice();
        embedded_newlines += count_newlines(slice.as_bytes());
        if slice.trim().is_empty() {
            continue;
        }
        match &layout {
            None => layout = Some(resolve(columns, any_of, &record, number)?),
            Some(layout) => {
                data_rows += 1;
                visit(Row {
                    number,
                    layout,
                    cells: &record,
                });
            }
        }
    }
    finish(layout.as_ref(), data_rows)
}

/// What an XLSX file may unpack to: a directory of 500,000 targets is
/// well under 100 MB of XML; a zip bomb is stopped before it unpacks.
pub const MAX_XLSX_UNPACKED: u64 = 256 * 1024 * 1024;
/// Cells read from one sheet, and the widest row.
pub const MAX_XLSX_CELLS: usize = 10_000_000;
pub const MAX_XLSX_COLUMNS: usize = 1_000;

/// The sum of the entries' unpacked sizes, from the zip's directory.
fn check_unpacked_size(bytes: &[u8]) -> Result<(), ImportError> {
    // Not a zip: calamine says why below.
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    let mut total = 0u64;
    for i in 0..zip.len() {
        if let Ok(entry) = zip.by_index_raw(i) {
            total = total.saturating_add(entry.size());
        }
    }
    if total > MAX_XLSX_UNPACKED {
        return Err(ImportError::XlsxTooLarge {
            unpacked_mib: total / (1024 * 1024),
            max_mib: MAX_XLSX_UNPACKED / (1024 * 1024),
        });
    }
    Ok(())
}

fn read_xlsx(
    bytes: &[u8],
    columns: &[Column],
    any_of: &[(usize, usize)],
    mut visit: impl FnMut(Row<'_>),
) -> Result<(), ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    check_unpacked_size(bytes)?;
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
        ImportError::NotXlsx(if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            "这是旧版 .xls 或加密的工作簿，请在 Excel 中另存为 .xlsx (legacy .xls or encrypted workbook)"
                .to_owned()
        } else {
            e.to_string()
        })
    })?;
    let sheet = {
        let sheets = workbook.sheets_metadata();
        let worksheets = || sheets.iter().filter(|s| s.typ == SheetType::WorkSheet);
        worksheets()
            .find(|s| s.visible == SheetVisible::Visible)
            .or_else(|| worksheets().next())
            .map(|s| s.name.clone())
    }
    .ok_or(ImportError::NoSheet)?;
    // Cell by cell, in the sheet's row order: nothing is sized by the
    // sheet's extent (one cell in the last row and column would otherwise
    // ask for billions), and every bound is checked as it is met.
    let mut cells = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(|e| ImportError::NotXlsx(e.to_string()))?;
    let mut rows = RowSink {
        columns,
        any_of,
        layout: None,
        data_rows: 0,
    };
    let mut buffer: Vec<String> = Vec::new();
    let mut current: Option<u32> = None;
    let mut count = 0usize;
    while let Some(cell) = cells
        .next_cell()
        .map_err(|e| ImportError::NotXlsx(e.to_string()))?
    {
        let (row, col) = cell.get_position();
        count += 1;
        if count > MAX_XLSX_CELLS {
            return Err(ImportError::TooManyCells {
                max: MAX_XLSX_CELLS,
            });
        }
        let col = col as usize;
        if col >= MAX_XLSX_COLUMNS {
            return Err(ImportError::TooManyColumns {
                row: row as usize + 1,
                column: col + 1,
                max: MAX_XLSX_COLUMNS,
            });
        }
        if current != Some(row) {
            if let Some(done) = current {
                rows.row(done, &buffer, &mut visit)?;
            }
            buffer.iter_mut().for_each(String::clear);
            current = Some(row);
        }
        if buffer.len() <= col {
            buffer.resize_with(col + 1, String::new);
        }
        render_ref(cell.get_value(), &mut buffer[col]);
    }
    if let Some(done) = current {
        rows.row(done, &buffer, &mut visit)?;
    }
    finish(rows.layout.as_ref(), rows.data_rows)
}

/// The header, then data rows, as an XLSX sheet's rows arrive.
struct RowSink<'c> {
    columns: &'c [Column],
    any_of: &'c [(usize, usize)],
    layout: Option<Layout>,
    data_rows: usize,
}

impl RowSink<'_> {
    /// One row (0-based `row`); blank rows are skipped.
    fn row(
        &mut self,
        row: u32,
        cells: &Vec<String>, // the row type [`Cells`] is made for
        visit: &mut impl FnMut(Row<'_>),
    ) -> Result<(), ImportError> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return Ok(());
        }
        let number = row as usize + 1;
        match &self.layout {
            None => self.layout = Some(resolve(self.columns, self.any_of, cells, number)?),
            Some(layout) => {
                self.data_rows += 1;
                visit(Row {
                    number,
                    layout,
                    cells,
                });
            }
        }
        Ok(())
    }
}

/// A cell as text. Whole numbers lose the ".0" a float would print, so a
/// credential number typed as a number reads back as typed.
fn render_ref(cell: &DataRef<'_>, out: &mut String) {
    match cell {
        DataRef::Empty => {}
        DataRef::SharedString(s) => out.push_str(s),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => out.push_str(s),
        DataRef::Int(i) => {
            let _ = write!(out, "{i}");
        }
        DataRef::Float(f) => render_float(*f, out),
        DataRef::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        DataRef::DateTime(d) => render_excel_date(d.as_f64(), out),
        DataRef::Error(e) => {
            let _ = write!(out, "{e}");
        }
    }
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

fn finish(layout: Option<&Layout>, data_rows: usize) -> Result<(), ImportError> {
    match layout {
        None => Err(ImportError::Empty),
        Some(l) if data_rows == 0 => Err(ImportError::NoDataRows {
            header_row: l.header_row,
        }),
        Some(_) => Ok(()),
    }
}

fn render_float(f: f64, out: &mut String) {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e18 {
        let _ = write!(out, "{}", f as i64);
    } else {
        let _ = write!(out, "{f}");
    }
}

/// Excel serial date (1900 system) as `2024-01-31` or `2024-01-31 08:30:00`.
fn render_excel_date(serial: f64, out: &mut String) {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .filter(|_| serial.is_finite());
    let millis = (serial * 86_400_000.0).round() as i64;
    match epoch.and_then(|e| e.checked_add_signed(chrono::Duration::milliseconds(millis))) {
        Some(dt) if serial.fract() == 0.0 => {
            let _ = write!(out, "{}", dt.format("%Y-%m-%d"));
        }
        Some(dt) => {
            let _ = write!(out, "{}", dt.format("%Y-%m-%d %H:%M:%S"));
        }
        None => render_float(serial, out),
    }
}

/// UTF-8 (a BOM is dropped) when the bytes are valid UTF-8, else GB18030.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, ImportError> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(ImportError::XlsxAsCsv);
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(ImportError::Utf16);
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(body) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(body);
            if had_errors {
                let bad = text.find('\u{FFFD}').unwrap_or(0);
                let line = text[..bad].bytes().filter(|&b| b == b'\n').count() + 1;
                return Err(ImportError::Undecodable { line });
            }
            text
        }
    };
    if text.contains('\0') {
        return Err(ImportError::Binary);
    }
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(text)
}

/// Tab-separated when the first non-blank line has tabs and no comma.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.contains('\t') && !first.contains(',') {
        b'\t'
    } else {
        b','
    }
}

/// Header text as compared: no whitespace anywhere (wrapped header cells),
/// no required-marker asterisks, no "（必填）"/"（选填）" suffix.
pub(crate) fn normalise_header(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{FEFF}')
        .collect();
    for suffix in [
        "（必填）",
        "(必填)",
        "（选填）",
        "(选填)",
        "（可选）",
        "(可选)",
    ] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s.truncate(stripped.len());
        }
    }
    s.trim_matches(|c| c == '*' || c == '＊').to_owned()
}

/// Spreadsheet column letters for a 0-based index: A, B, …, Z, AA, ….
pub(crate) fn column_letter(mut i: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

fn resolve(
    columns: &[Column],
    any_of: &[(usize, usize)],
    cells: &dyn Cells,
    header_row: usize,
) -> Result<Layout, ImportError> {
    let mut index: Vec<Option<usize>> = vec![None; columns.len()];
    let mut headers: Vec<String> = columns.iter().map(|c| c.name.to_owned()).collect();
    let mut found = Vec::new();
    for i in 0..cells.len() {
        let raw = cells.get(i);
        let key = normalise_header(raw);
        if key.is_empty() {
            continue;
        }
        found.push(raw.to_owned());
        let Some(field) = columns
            .iter()
            .position(|c| c.name == key || c.aliases.contains(&key.as_str()))
        else {
            continue;
        };
        if let Some(first) = index[field] {
            return Err(ImportError::DuplicateColumn {
                column: columns[field].name.to_owned(),
                first: column_letter(first),
                first_header: headers[field].clone(),
                second: column_letter(i),
                second_header: raw.to_owned(),
            });
        }
        index[field] = Some(i);
        headers[field] = raw.to_owned();
    }
    let mut missing: Vec<String> = columns
        .iter()
        .zip(&index)
        .filter(|(c, i)| c.required && i.is_none())
        .map(|(c, _)| c.name.to_owned())
        .collect();
    for &(a, b) in any_of {
        if index[a].is_none() && index[b].is_none() {
            missing.push(format!("{} 或 {}", columns[a].name, columns[b].name));
        }
    }
    if !missing.is_empty() {
        let expected = columns
            .iter()
            .filter(|c| c.required)
            .chain(columns.iter().filter(|c| !c.required))
            .map(|c| c.name.to_owned())
            .collect();
        return Err(ImportError::MissingColumns {
            missing,
            expected,
            found,
            header_row,
        });
    }
    Ok(Layout {
        index,
        headers,
        header_row,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_name_is_read_by_its_first_bytes() {
        assert_eq!(
            FileFormat::sniff(b"PK\x03\x04rest of a zip"),
            FileFormat::Xlsx
        );
        assert_eq!(
            FileFormat::sniff("统一社会信用代码,名称\n".as_bytes()),
            FileFormat::Csv
        );
        assert_eq!(FileFormat::sniff(b""), FileFormat::Csv);
    }

    #[test]
    fn file_names() {
        assert_eq!(
            FileFormat::from_file_name("名录.CSV"),
            Some(FileFormat::Csv)
        );
        assert_eq!(
            FileFormat::from_file_name("a.b.Xlsx"),
            Some(FileFormat::Xlsx)
        );
        assert_eq!(FileFormat::from_file_name("a.xls"), None);
        assert_eq!(FileFormat::from_file_name("csv"), None);
    }

    #[test]
    fn header_normalisation() {
        assert_eq!(normalise_header(" *企业名称 "), "企业名称");
        assert_eq!(
            normalise_header("统一社会\n信用代码（必填）"),
            "统一社会信用代码"
        );
        assert_eq!(normalise_header("\u{FEFF}姓名"), "姓名");
    }

    #[test]
    fn letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27 * 26), "AAA");
    }

    #[test]
    fn floats_render_like_spreadsheets() {
        let mut s = String::new();
        render_ref(&calamine::DataRef::Float(50010023001.0), &mut s);
        assert_eq!(s, "50010023001");
        s.clear();
        render_ref(&calamine::DataRef::Float(106.5507), &mut s);
        assert_eq!(s, "106.5507");
        s.clear();
        render_excel_date(45322.0, &mut s);
        assert_eq!(s, "2024-01-31");
    }
}
