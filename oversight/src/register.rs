//! The register in the national layout (抽查结果公示 for 国家企业信用信息
//! 公示系统): every live published result, one row each, as CSV and XLSX,
//! with a manifest (the file's SHA-256 and row count) a recipient checks
//! the file against. The columns and where each comes from:
//!
//! | 列 | column | source |
//! |---|---|---|
//! | 抽查计划名称 | plan title | the plan of the draw the record's task belongs to |
//! | 抽查计划编号 | plan id | the same plan |
//! | 抽查任务编号 | task id | the record's task (the server's, not the device's) |
//! | 检查对象名称 | target name | as published (the directory's name) |
//! | 统一社会信用代码 | USCC | as published (of the issuer, for a standard) |
//! | 检查事项 | matter | as published |
//! | 检查结果 | result | as published (the category's wording) |
//! | 检查日期 | inspection date | the record's, `YYYY-MM-DD` |
//! | 检查实施机关 | authority | as published |
//!
//! Withdrawn results (撤回) are left out. Both files are the same for the
//! same published results: the XLSX's creation time is the last
//! publication's, so a manifest made later still matches.

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatBorder, Workbook};
use serde::Serialize;

use crate::OversightError;
use crate::disclosure::csv_field;
use choucha_store::disclosure::RegisterRow;

/// The columns, in order.
pub const COLUMNS: [&str; 9] = [
    "抽查计划名称",
    "抽查计划编号",
    "抽查任务编号",
    "检查对象名称",
    "统一社会信用代码",
    "检查事项",
    "检查结果",
    "检查日期",
    "检查实施机关",
];

fn cells(r: &RegisterRow) -> [&str; 9] {
    [
        &r.plan_title,
        &r.plan_id,
        &r.task_id,
        &r.target_name,
        r.uscc.as_deref().unwrap_or(""),
        &r.matter,
        &r.result,
        &r.inspection_date,
        &r.authority,
    ]
}

/// UTF-8 with a BOM (spreadsheets then read the Chinese), CRLF lines,
/// formula-looking cells neutralised.
pub fn csv(rows: &[RegisterRow]) -> Vec<u8> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend_from_slice(COLUMNS.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
    for r in rows {
        let line: Vec<String> = cells(r).iter().map(|c| csv_field(c)).collect();
        out.extend_from_slice(line.join(",").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One sheet, 抽查结果, headed by the columns.
pub fn xlsx(rows: &[RegisterRow]) -> Result<Vec<u8>, OversightError> {
    let err = |e: rust_xlsxwriter::XlsxError| OversightError::Report(e.to_string());
    let mut wb = Workbook::new();
    // Dated by the last publication, not by now: the same results give the
    // same bytes, and so the same manifest.
    let stamp = rows
        .iter()
        .map(|r| r.published_at.as_str())
        .max()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.naive_utc())
        .unwrap_or_default();
    let created = ExcelDateTime::from_ymd(
        chrono::Datelike::year(&stamp).clamp(1900, 9999) as u16,
        chrono::Datelike::month(&stamp) as u8,
        chrono::Datelike::day(&stamp) as u8,
    )
    .and_then(|d| {
        d.and_hms(
            chrono::Timelike::hour(&stamp) as u16,
            chrono::Timelike::minute(&stamp) as u8,
            chrono::Timelike::second(&stamp) as f64,
        )
    })
    .map_err(err)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title("双随机抽查结果")
            .set_creation_datetime(&created),
    );
    let bold = Format::new().set_bold().set_border(FormatBorder::Thin);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let ws = wb.add_worksheet().set_name("抽查结果").map_err(err)?;
    for (c, h) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(err)?;
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, v) in cells(r).iter().enumerate() {
            ws.write_string_with_format(1 + i as u32, c as u16, *v, &cell)
                .map_err(err)?;
        }
    }
    ws.set_column_width(0, 28).map_err(err)?;
    ws.set_column_width(3, 30).map_err(err)?;
    ws.set_column_width(4, 22).map_err(err)?;
    ws.set_column_width(5, 24).map_err(err)?;
    ws.set_column_width(6, 24).map_err(err)?;
    ws.set_column_width(8, 24).map_err(err)?;
    wb.save_to_buffer().map_err(err)
}

/// What a recipient checks the file against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// The file's name as downloaded.
    pub file: String,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
    /// Results in it (rows below the header).
    pub rows: usize,
    pub columns: Vec<&'static str>,
    /// The last publication it holds (RFC 3339, UTC).
    pub as_of: Option<String>,
    /// How to check: `sha256sum` of the file equals `sha256`.
    pub check: &'static str,
    /// The bureau's signature over [`Manifest::signed_text`], when signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<ManifestSignature>,
}

/// An Ed25519 signature over a manifest, with what a recipient needs to
/// check it against the bureau's published key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestSignature {
    pub algorithm: &'static str,
    /// The signing key's public half, hex (32 bytes); compare it with the
    /// key the bureau publishes at `/public/signing-key.pem`.
    pub public_key: String,
    /// The exact text signed (UTF-8), as [`Manifest::signed_text`] wrote it.
    pub signed_text: String,
    /// The signature, hex (64 bytes).
    pub signature: String,
    /// How to check it with OpenSSL.
    pub verify: &'static str,
}

impl Manifest {
    /// The text a signature covers: what identifies the file, one field
    /// per line, so any tool can rebuild and check it.
    pub fn signed_text(&self) -> String {
        format!(
            "choucha-register-manifest/1\nfile: {}\nsha256: {}\nrows: {}\nas_of: {}\n",
            self.file,
            self.sha256,
            self.rows,
            self.as_of.as_deref().unwrap_or("")
        )
    }
}

/// How a recipient checks a signed manifest with OpenSSL 3.
pub const VERIFY_STEPS: &str = "把 signed_text 存为 signed.txt（UTF-8，不加换行以外的内容），把 signature 按十六进制转为 sig.bin（xxd -r -p），再运行：openssl pkeyutl -verify -pubin -inkey signing-key.pem -rawin -in signed.txt -sigfile sig.bin（signing-key.pem 取自本局公开页面 /public/signing-key.pem）";

pub fn manifest(file: &str, bytes: &[u8], rows: &[RegisterRow]) -> Manifest {
    Manifest {
        file: file.to_owned(),
        sha256: choucha_shared::value::Sha256Hex::of(bytes).to_string(),
        rows: rows.len(),
        columns: COLUMNS.to_vec(),
        as_of: rows.iter().map(|r| r.published_at.clone()).max(),
        check: "sha256sum 文件，结果应与 sha256 一致；行数（不含表头）应与 rows 一致",
        signature: None,
    }
}
