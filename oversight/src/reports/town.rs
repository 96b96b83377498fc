//! The town reports (镇街报告, seed §五(四)) as one workbook: the first
//! sheet lists every town's state and figures with a total line (the
//! combined report), then one sheet per town with its figures, the lead's
//! analysis and measures, and who signed it when.

use choucha_store::town_report::{Figures, TownReport};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};

use super::pdf;
use crate::OversightError;

/// The figures' labels, in the order of [`numbers`].
const FIGURES: [&str; 10] = [
    "计划检查",
    "已检查",
    "无法检查",
    "已审核通过",
    "发现问题",
    "当场整改",
    "责令整改",
    "整改未办结",
    "立案查处",
    "移送、通报",
];

fn numbers(f: &Figures) -> [i64; 10] {
    [
        f.planned,
        f.inspected,
        f.not_inspectable,
        f.approved,
        f.findings,
        f.fixed_on_site,
        f.rectification_orders,
        f.rectification_open,
        f.cases_filed,
        f.transferred,
    ]
}

use choucha_shared::value::china_minute_of as china_time;

/// A sheet name Excel takes: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(town: &str, i: usize) -> String {
    let clean: String = town
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c))
        .take(26)
        .collect();
    format!(
        "{}{}",
        i + 1,
        if clean.is_empty() {
            "镇街".into()
        } else {
            format!(" {clean}")
        }
    )
}

/// Every report given, and their total.
pub fn town_reports_xlsx(plan_id: &str, reports: &[TownReport]) -> Result<Vec<u8>, OversightError> {
    let err = |e: XlsxError| OversightError::Report(e.to_string());
    let mut wb = Workbook::new();
    let bold = Format::new()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let cell = Format::new().set_border(FormatBorder::Thin);
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let heading = Format::new().set_bold().set_font_size(14);
    {
        let ws = wb.add_worksheet().set_name("汇总").map_err(err)?;
        ws.write_string_with_format(
            0,
            0,
            format!("{plan_id} 各镇街监督检查情况报告汇总"),
            &heading,
        )
        .map_err(err)?;
        let header = ["镇街", "状态", "逾期", "签发人", "报送时间"];
        for (c, h) in header.iter().chain(FIGURES.iter()).enumerate() {
            ws.write_string_with_format(2, c as u16, *h, &bold)
                .map_err(err)?;
        }
        let mut total = [0i64; 10];
        for (i, r) in reports.iter().enumerate() {
            let row = 3 + i as u32;
            let texts = [
                r.town.clone(),
                r.state.label_zh().to_owned(),
                if r.late { "是".into() } else { String::new() },
                r.signed_by.clone().unwrap_or_default(),
                china_time(r.submitted_at.as_deref()),
            ];
            for (c, t) in texts.iter().enumerate() {
                ws.write_string_with_format(row, c as u16, t, &cell)
                    .map_err(err)?;
            }
            for (j, n) in numbers(&r.figures).iter().enumerate() {
                total[j] += n;
                ws.write_number_with_format(row, (texts.len() + j) as u16, *n as f64, &cell)
                    .map_err(err)?;
            }
        }
        let row = 3 + reports.len() as u32;
        ws.write_string_with_format(row, 0, "合计", &bold)
            .map_err(err)?;
        for (j, n) in total.iter().enumerate() {
            ws.write_number_with_format(row, (header.len() + j) as u16, *n as f64, &bold)
                .map_err(err)?;
        }
        ws.set_column_width(0, 14).map_err(err)?;
        ws.set_column_width(4, 18).map_err(err)?;
    }
    for (i, r) in reports.iter().enumerate() {
        let ws = wb
            .add_worksheet()
            .set_name(sheet_name(&r.town, i))
            .map_err(err)?;
        ws.write_string_with_format(
            0,
            0,
            format!("{}监督检查情况、存在问题报告", r.town),
            &heading,
        )
        .map_err(err)?;
        ws.write_string(1, 0, format!("抽查计划 {plan_id} · {}", r.state.label_zh()))
            .map_err(err)?;
        for (j, (label, n)) in FIGURES.iter().zip(numbers(&r.figures)).enumerate() {
            let row = 3 + j as u32;
            ws.write_string_with_format(row, 0, *label, &cell)
                .map_err(err)?;
            ws.write_number_with_format(row, 1, n as f64, &cell)
                .map_err(err)?;
        }
        let row = 4 + FIGURES.len() as u32;
        ws.write_string_with_format(row, 0, "存在问题及原因分析", &bold)
            .map_err(err)?;
        ws.write_string_with_format(row + 1, 0, &r.analysis, &wrap)
            .map_err(err)?;
        ws.write_string_with_format(row + 3, 0, "采取的措施及建议", &bold)
            .map_err(err)?;
        ws.write_string_with_format(row + 4, 0, &r.measures, &wrap)
            .map_err(err)?;
        let signed = match &r.signed_by {
            Some(by) => format!(
                "签发人：{by}　报送时间：{}",
                china_time(r.submitted_at.as_deref())
            ),
            None => "未签发".to_owned(),
        };
        ws.write_string(row + 6, 0, signed).map_err(err)?;
        ws.set_column_width(0, 60).map_err(err)?;
        ws.set_row_height(row + 1, 120).map_err(err)?;
        ws.set_row_height(row + 4, 90).map_err(err)?;
    }
    wb.save_to_buffer().map_err(err)
}

/// The same as PDF: the combined report first (every town's state and the
/// total figures), then each town's report on its own page, with room for
/// the signature.
pub fn town_reports_pdf(plan_id: &str, reports: &[TownReport]) -> Result<Vec<u8>, OversightError> {
    let perr = |e: pdf::PdfError| OversightError::Report(e.to_string());
    let mut doc = pdf::Document::new().map_err(perr)?;
    let mut total = [0i64; 10];
    for r in reports {
        for (t, n) in total.iter_mut().zip(numbers(&r.figures)) {
            *t += n;
        }
    }
    doc.title(16.0, "各镇街监督检查情况报告汇总");
    doc.fields(10.5, &[("抽查计划", plan_id.to_owned())]);
    doc.rule();
    let states: Vec<(&str, String)> = reports
        .iter()
        .map(|r| {
            let mut s = r.state.label_zh().to_owned();
            if let Some(by) = &r.signed_by {
                s.push_str(&format!(
                    "　签发人 {by}　{}",
                    china_time(r.submitted_at.as_deref())
                ));
            }
            if r.late {
                s.push_str("　逾期");
            }
            (r.town.as_str(), s)
        })
        .collect();
    doc.fields(10.5, &states);
    doc.rule();
    let figures: Vec<(&str, String)> = FIGURES
        .iter()
        .zip(total)
        .map(|(l, n)| (*l, n.to_string()))
        .collect();
    doc.fields(10.5, &figures);
    for r in reports {
        doc.new_page();
        doc.title(16.0, &format!("{}监督检查情况、存在问题报告", r.town));
        doc.fields(
            10.5,
            &[
                ("抽查计划", plan_id.to_owned()),
                ("状态", r.state.label_zh().to_owned()),
            ],
        );
        doc.rule();
        let figures: Vec<(&str, String)> = FIGURES
            .iter()
            .zip(numbers(&r.figures))
            .map(|(l, n)| (*l, n.to_string()))
            .collect();
        doc.fields(10.5, &figures);
        doc.rule();
        doc.paragraph(12.0, 0.0, "存在问题及原因分析");
        doc.paragraph(
            10.5,
            12.0,
            if r.analysis.is_empty() {
                "（未填写）"
            } else {
                &r.analysis
            },
        );
        doc.space(6.0);
        doc.paragraph(12.0, 0.0, "采取的措施及建议");
        doc.paragraph(
            10.5,
            12.0,
            if r.measures.is_empty() {
                "（未填写）"
            } else {
                &r.measures
            },
        );
        doc.space(18.0);
        let signed = match &r.signed_by {
            Some(by) => format!(
                "签发人：{by}　　报送时间：{}",
                china_time(r.submitted_at.as_deref())
            ),
            None => "签发人：＿＿＿＿＿＿　　日期：＿＿＿＿＿＿".to_owned(),
        };
        doc.paragraph(10.5, 0.0, &signed);
    }
    Ok(doc.finish())
}
