//! Reports produced by the server, never hand-written:
//!
//! * the town summary ([`TownSummary`], read by
//!   `Store::town_summary`) — what the town offices send the quality section
//!   (seed §六: "监督检查情况、存在问题"): progress and findings per town and
//!   target category, and every problem with its handling; exported with
//!   [`summary_xlsx`] (two sheets) and [`summary_csv`] / [`problems_csv`].
//! * [`record_pdf`] — one inspection as a signed record: target, team,
//!   every item's verdict and note, findings, photos with time, place and
//!   distance, signatures, and the content hash the signatures sign.
//!
//! * [`town_reports_xlsx`] / [`town_reports_pdf`] — the town reports
//!   (镇街报告) of a plan and their total, one sheet or page per town.
//!
//! The console serves them at `GET /console/reports/summary.xlsx?plan=…&town=…`,
//! `GET /console/reports/summary.csv`, `GET /console/reports/problems.csv` and
//! `GET /console/records/{id}/pdf`, each limited to the user's town for a
//! town-office lead.

pub mod pdf;
mod town;

pub use town::{town_reports_pdf, town_reports_xlsx};

use std::collections::BTreeMap;

use choucha_checklists::Catalogue;
use choucha_shared::conclusion::{self, Conclusion};
use choucha_shared::outcome::Outcome;
use choucha_shared::record::{Disposition, InspectionRecord, SignerRole};
use choucha_shared::review::ReviewState;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};

use super::disclosure::csv_field;
use super::{OversightConfig, OversightError};
use crate::Sources;
pub use choucha_store::reports::{ProblemRow, SummaryRow, TownSummary};

const SUMMARY_HEADER: [&str; 11] = [
    "镇街",
    "检查对象类别",
    "计划检查数",
    "已检查数",
    "已审核通过数",
    "发现问题数",
    "现场整改",
    "责令整改",
    "整改未完成",
    "立案查处",
    "移送/通报",
];

const PROBLEM_HEADER: [&str; 11] = [
    "镇街",
    "检查对象类别",
    "检查对象",
    "统一社会信用代码/标准编号",
    "检查日期",
    "检查项",
    "存在问题",
    "处置方式",
    "整改期限",
    "文号",
    "办理情况",
];

fn summary_cells(r: &SummaryRow) -> [String; 11] {
    [
        r.town.clone(),
        r.category.clone(),
        r.planned.to_string(),
        r.inspected.to_string(),
        r.approved.to_string(),
        r.findings.to_string(),
        r.fixed_on_site.to_string(),
        r.rectification_orders.to_string(),
        r.rectification_open.to_string(),
        r.cases_filed.to_string(),
        r.transferred.to_string(),
    ]
}

fn problem_cells(p: &ProblemRow) -> [String; 11] {
    [
        p.town.clone(),
        p.category.clone(),
        p.target_name.clone(),
        p.target_key.clone(),
        p.inspection_date.clone(),
        p.item_id.clone(),
        p.description.clone(),
        p.disposition.clone(),
        p.deadline.clone().unwrap_or_default(),
        p.reference.clone().unwrap_or_default(),
        p.status.clone(),
    ]
}

fn csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    // BOM: spreadsheet software then reads the file as UTF-8.
    let mut out = "\u{feff}".as_bytes().to_vec();
    out.extend_from_slice(header.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
    for r in rows {
        let line: Vec<String> = r.iter().map(|f| csv_field(f)).collect();
        out.extend_from_slice(line.join(",").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// 监督检查情况 as CSV.
pub fn summary_csv(s: &TownSummary) -> Vec<u8> {
    csv(
        &SUMMARY_HEADER,
        s.rows.iter().map(|r| summary_cells(r).to_vec()),
    )
}

/// 存在问题 as CSV.
pub fn problems_csv(s: &TownSummary) -> Vec<u8> {
    csv(
        &PROBLEM_HEADER,
        s.problems.iter().map(|p| problem_cells(p).to_vec()),
    )
}

/// Both parts as one workbook: sheet 监督检查情况 (with a total line) and
/// sheet 存在问题.
pub fn summary_xlsx(s: &TownSummary, title: &str) -> Result<Vec<u8>, OversightError> {
    let err = |e: rust_xlsxwriter::XlsxError| OversightError::Report(e.to_string());
    let mut wb = Workbook::new();
    let bold = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let heading = Format::new().set_bold().set_font_size(14);
    {
        let ws = wb.add_worksheet().set_name("监督检查情况").map_err(err)?;
        ws.write_string_with_format(0, 0, title, &heading)
            .map_err(err)?;
        for (c, h) in SUMMARY_HEADER.iter().enumerate() {
            ws.write_string_with_format(2, c as u16, *h, &bold)
                .map_err(err)?;
        }
        let mut total = SummaryRow {
            town: "合计".into(),
            ..Default::default()
        };
        for (i, r) in s.rows.iter().enumerate() {
            let row = 3 + i as u32;
            ws.write_string_with_format(row, 0, &r.town, &cell)
                .map_err(err)?;
            ws.write_string_with_format(row, 1, &r.category, &cell)
                .map_err(err)?;
            let nums = [
                r.planned,
                r.inspected,
                r.approved,
                r.findings,
                r.fixed_on_site,
                r.rectification_orders,
                r.rectification_open,
                r.cases_filed,
                r.transferred,
            ];
            for (j, n) in nums.iter().enumerate() {
                ws.write_number_with_format(row, 2 + j as u16, *n as f64, &cell)
                    .map_err(err)?;
            }
            total.planned += r.planned;
            total.inspected += r.inspected;
            total.approved += r.approved;
            total.findings += r.findings;
            total.fixed_on_site += r.fixed_on_site;
            total.rectification_orders += r.rectification_orders;
            total.rectification_open += r.rectification_open;
            total.cases_filed += r.cases_filed;
            total.transferred += r.transferred;
        }
        let row = 3 + s.rows.len() as u32;
        let cells = summary_cells(&total);
        ws.write_string_with_format(row, 0, &cells[0], &bold)
            .map_err(err)?;
        for (j, v) in cells.iter().enumerate().skip(2) {
            let n: f64 = v.parse().unwrap_or(0.0);
            ws.write_number_with_format(row, j as u16, n, &bold)
                .map_err(err)?;
        }
        ws.set_column_width(0, 14).map_err(err)?;
        ws.set_column_width(1, 26).map_err(err)?;
    }
    {
        let ws = wb.add_worksheet().set_name("存在问题").map_err(err)?;
        for (c, h) in PROBLEM_HEADER.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)
                .map_err(err)?;
        }
        for (i, p) in s.problems.iter().enumerate() {
            for (j, v) in problem_cells(p).iter().enumerate() {
                // Strings always: a USCC or a date must stay as written.
                ws.write_string_with_format(1 + i as u32, j as u16, v, &cell)
                    .map_err(err)?;
            }
        }
        ws.set_column_width(2, 30).map_err(err)?;
        ws.set_column_width(3, 22).map_err(err)?;
        ws.set_column_width(6, 40).map_err(err)?;
    }
    wb.save_to_buffer().map_err(err)
}

/// The record of one inspection as PDF, with its photos and signatures as
/// stored. A blob that has not arrived is named instead of shown.
pub async fn record_pdf(
    state: &impl Sources,
    catalogue: &Catalogue,
    cfg: &OversightConfig,
    record_id: &str,
    version: &str,
) -> Result<Vec<u8>, OversightError> {
    let store = state.store();
    let (record, review_state, _) = store
        .record_version(record_id, version)
        .await?
        .ok_or_else(|| OversightError::NotFound(format!("记录 {record_id} 没有版本 {version}")))?;
    let duty = super::duty::report(state, cfg, record_id, version).await?;
    let (_, town) = store.target_place(record.category, &record.target).await?;
    let mut blobs = BTreeMap::new();
    for h in record.blob_hashes() {
        if let Some(b) = state.blobs().read_all(h).await? {
            blobs.insert(h.to_string(), b.to_vec());
        }
    }
    let checklist = catalogue.get(&record.checklist).cloned();
    let review_state = review_state.as_str().to_owned();
    // Layout and compression are CPU work: off the async workers.
    tokio::task::spawn_blocking(move || {
        render_record(
            &record,
            checklist.as_ref(),
            &review_state,
            town,
            &duty,
            &blobs,
        )
    })
    .await
    .map_err(|e| OversightError::Report(format!("PDF rendering panicked: {e}")))?
}

fn render_record(
    record: &InspectionRecord,
    checklist: Option<&choucha_shared::checklist::Checklist>,
    review_state: &str,
    town: Option<String>,
    duty: &super::duty::DutyReport,
    blobs: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<u8>, OversightError> {
    let perr = |e: pdf::PdfError| OversightError::Report(e.to_string());
    let cst = |t: chrono::DateTime<chrono::Utc>| {
        (t + chrono::Duration::hours(8))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let mut doc = pdf::Document::new().map_err(perr)?;
    let title = checklist.map_or_else(
        || format!("{}监督检查记录", record.category.label_zh()),
        |c| c.title.clone(),
    );
    doc.title(16.0, &title);
    doc.title(11.0, "监督检查记录（电子签名件）");
    let officers: Vec<String> = record
        .team
        .iter()
        .map(|m| format!("{}（{}）", m.name, m.person_id))
        .collect();
    // The conclusion of a walk-through under the checklist's rules, with
    // every reason for a 不合格; a target not inspected has its case.
    let conclusion = match (&record.outcome, checklist) {
        (Outcome::Normal, Some(c)) => match conclusion::conclude(&record.items, c) {
            Conclusion::Fail { reasons } => format!(
                "不合格（{}）",
                reasons
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("；")
            ),
            other => other.label_zh().to_owned(),
        },
        (Outcome::Normal, None) => "—".to_owned(),
        (other, _) => other.kind().label_zh().to_owned(),
    };
    doc.fields(
        10.0,
        &[
            ("检查对象", record.target_name.clone()),
            ("统一社会信用代码", record.target.to_string()),
            ("对象类别", record.category.label_zh().to_owned()),
            ("所属镇街", town.unwrap_or_default()),
            ("检查日期", record.inspection_date.to_string()),
            ("开始时间", cst(record.started_at)),
            ("检查人员", officers.join("、")),
            ("检查表", format!("{}", record.checklist)),
            ("检查结果类型", record.outcome.kind().label_zh().to_owned()),
            ("检查结论", conclusion),
            ("任务编号", record.task_id.clone()),
            ("记录编号", record.record_id.to_string()),
            (
                "审核状态",
                review_state
                    .parse::<ReviewState>()
                    .map(|s| s.label_zh().to_owned())
                    .unwrap_or_else(|_| review_state.to_owned()),
            ),
        ],
    );
    doc.rule();
    doc.paragraph(12.0, 0.0, "一、检查内容及结论");
    let items: Vec<(String, String)> = match checklist {
        Some(c) => c.items().map(|i| (i.id.clone(), i.text.clone())).collect(),
        None => record
            .items
            .keys()
            .map(|k| (k.clone(), String::new()))
            .collect(),
    };
    for (id, text) in items {
        let entry = record.items.get(&id);
        let verdict = entry
            .and_then(|e| e.verdict)
            .map_or("未填写", |v| v.label_zh());
        doc.paragraph(9.5, 0.0, &format!("{id}  {text}"));
        doc.paragraph(9.5, 24.0, &format!("结论：{verdict}"));
        if let Some(note) = entry.and_then(|e| e.note.as_deref()) {
            doc.paragraph(9.5, 24.0, &format!("说明：{note}"));
        }
    }
    doc.rule();
    doc.paragraph(12.0, 0.0, "二、发现的问题及处置");
    if record.findings.is_empty() {
        doc.paragraph(10.0, 0.0, "未发现问题。");
    }
    for (n, f) in record.findings.iter().enumerate() {
        doc.paragraph(
            10.0,
            0.0,
            &format!(
                "{}. {}{}",
                n + 1,
                f.description,
                f.item_id
                    .as_deref()
                    .map(|i| format!("（检查项 {i}）"))
                    .unwrap_or_default()
            ),
        );
        let how = match &f.disposition {
            Disposition::FixedOnSite { description } => format!("现场整改：{description}"),
            Disposition::RectificationOrder {
                order_no,
                deadline,
                requirements,
                follow_up,
            } => {
                let mut s =
                    format!("责令整改（{order_no}），期限 {deadline}，要求：{requirements}");
                if let Some(fu) = follow_up {
                    s.push_str(&format!("；复查 {}：{:?}", fu.inspected_on, fu.outcome));
                }
                s
            }
            Disposition::CaseFiled { case_no } => {
                format!("立案查处 {}", case_no.clone().unwrap_or_default())
            }
            Disposition::TransferredToJudicial { organ, reference } => format!(
                "移送司法机关：{organ} {}",
                reference.clone().unwrap_or_default()
            ),
            Disposition::TransferredToDiscipline { organ, reference } => format!(
                "移交纪检监察机关：{organ} {}",
                reference.clone().unwrap_or_default()
            ),
            Disposition::NoticeToDepartment {
                department,
                reference,
            } => format!(
                "通报相关部门：{department} {}",
                reference.clone().unwrap_or_default()
            ),
        };
        doc.paragraph(9.5, 24.0, &how);
    }
    doc.rule();
    doc.paragraph(12.0, 0.0, "三、履职核查提示");
    if duty.flags.is_empty() {
        doc.paragraph(10.0, 0.0, "无。");
    }
    for f in &duty.flags {
        doc.paragraph(9.5, 0.0, &format!("• {f}"));
    }
    doc.rule();
    doc.paragraph(12.0, 0.0, "四、现场照片");
    for (p, facts) in record.photos.iter().zip(duty.photos.iter()) {
        let subject = p.subject.label_zh();
        let place = match (p.gps, facts.distance_m) {
            (Some(g), Some(d)) => format!("{:.5}, {:.5}，距登记地址 {:.0} 米", g.lat, g.lon, d),
            (Some(g), None) => format!("{:.5}, {:.5}", g.lat, g.lon),
            _ => "无定位".into(),
        };
        doc.ensure(190.0);
        doc.paragraph(
            9.0,
            0.0,
            &format!("{subject}｜{}｜{place}", cst(p.taken_at)),
        );
        match blobs.get(p.sha256.as_str()) {
            Some(bytes) => {
                if doc.image(bytes, 0.0, 240.0, 170.0).is_err() {
                    doc.paragraph(9.0, 0.0, &format!("（照片 {} 无法显示）", p.sha256));
                }
            }
            None => doc.paragraph(9.0, 0.0, &format!("（照片 {} 尚未上传）", p.sha256)),
        }
    }
    doc.rule();
    doc.paragraph(12.0, 0.0, "五、签名");
    for s in &record.signatures {
        let role = match s.role {
            SignerRole::Officer => "执法人员",
            SignerRole::Expert => "第三方专家",
            SignerRole::EnterpriseRepresentative => "企业负责人或委托人",
        };
        doc.ensure(80.0);
        doc.paragraph(
            9.5,
            0.0,
            &format!(
                "{role}：{}{}　签名时间 {}",
                s.name,
                s.person_id
                    .as_deref()
                    .map(|p| format!("（{p}）"))
                    .unwrap_or_default(),
                cst(s.signed_at)
            ),
        );
        if let Some(bytes) = blobs.get(s.image_sha256.as_str()) {
            if doc.image(bytes, 24.0, 160.0, 50.0).is_err() {
                doc.paragraph(9.0, 24.0, "（签名图像无法显示）");
            }
        }
    }
    if let Some(r) = &record.refusal {
        doc.paragraph(
            9.5,
            0.0,
            &format!(
                "企业拒绝签字：{}{}",
                r.reason,
                r.witness
                    .as_deref()
                    .map(|w| format!("（见证人 {w}）"))
                    .unwrap_or_default()
            ),
        );
    }
    doc.rule();
    doc.paragraph(
        8.0,
        0.0,
        &format!("记录内容哈希（签名所签内容）：{}", record.content_hash()),
    );
    Ok(doc.finish())
}
