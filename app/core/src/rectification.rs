//! The rectification order (责令整改通知书) as a printable document.
//!
//! [`render_html`] turns the findings of a record that were disposed of by a
//! rectification order into one self-contained HTML document per order
//! number: UTF-8, inline CSS with an A4 `@page` and print styles, no scripts,
//! images, fonts or links to fetch, so the tablet can print it (or save it as
//! PDF) offline. The document follows the usual form: issuing authority and
//! title, document number, addressee, the facts found with the checklist item
//! and its legal basis, the requirements and deadline, the legal basis of the
//! order, the right to administrative reconsideration or litigation, the
//! officers' signature lines with their 执法证号, the seal and date, and the
//! enterprise's acknowledgement of receipt (签收).
//!
//! Every string that comes from users or directories is escaped with
//! [`escape_html`].

use std::collections::BTreeSet;
use std::fmt::Write as _;

use choucha_shared::checklist::{Checklist, ChecklistRef, Item};
use choucha_shared::directory::{Target, TargetIdentity};
use choucha_shared::plan::MemberRole;
use choucha_shared::record::{Disposition, Finding, InspectionRecord};
use choucha_shared::value::CivilDate;
use chrono::{Datelike, NaiveDate};
use uuid::Uuid;

/// The sentence on the right to remedies printed on every order
/// (行政复议法: 60 days; 行政诉讼法 Art. 46: six months).
pub const REMEDY_NOTICE: &str = "如不服本通知，可以在收到本通知书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。";

/// One printable rectification order.
#[derive(Debug, Clone, PartialEq)]
pub struct RectificationOrder {
    /// 文书编号, as entered in the findings' dispositions.
    pub order_no: String,
    /// The findings the order covers, in record order.
    pub finding_ids: Vec<Uuid>,
    /// The complete HTML document.
    pub html: String,
}

/// Why the orders could not be produced. Chinese first, English in brackets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RectificationError {
    #[error(
        "本记录没有需要责令整改的问题，无需出具责令整改通知书 (the record has no finding disposed of by a rectification order)"
    )]
    NoOrders,
    #[error("未设置出具文书的执法机关名称 (the issuing authority is empty)")]
    EmptyAuthority,
    #[error("问题 {finding_id} 的责令整改通知书未填写文书编号 (the order number is empty)")]
    EmptyOrderNo { finding_id: Uuid },
    #[error("问题 {finding_id} 未填写整改要求 (the rectification requirements are empty)")]
    EmptyRequirements { finding_id: Uuid },
    #[error(
        "检查记录的检查对象 {record} 与名录中的 {target} 不一致 (the record's target does not match the directory entry)"
    )]
    TargetMismatch { record: String, target: String },
    #[error(
        "检查记录使用的检查表 {record} 与提供的 {given} 不一致 (the record's checklist does not match the one given)"
    )]
    ChecklistMismatch {
        record: ChecklistRef,
        given: ChecklistRef,
    },
    #[error(
        "问题 {finding_id} 引用的检查项 {item_id} 不在检查表中 (the finding names an item that is not in the checklist)"
    )]
    UnknownItem { finding_id: Uuid, item_id: String },
    #[error(
        "检查组只有 {0} 名执法人员，责令整改通知书须由两名以上执法人员署名 (an order needs at least two enforcement officers)"
    )]
    TooFewOfficers(usize),
}

/// Escape text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Escape multi-line text: line breaks become `<br>`, other control
/// characters are dropped.
fn escape_multiline(s: &str) -> String {
    let cleaned: String = s
        .trim()
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect();
    escape_html(&cleaned).replace('\n', "<br>")
}

/// A date as Chinese official documents write it: `2024年1月25日`.
pub fn chinese_date(date: NaiveDate) -> String {
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

fn cn_date(d: &CivilDate) -> String {
    chinese_date(d.date())
}

/// Chinese numeral for list numbering: 一 … 九十九.
fn cn_number(n: usize) -> String {
    const DIGITS: [&str; 10] = ["〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => DIGITS[n].to_owned(),
        10..=19 => format!("十{}", if n == 10 { "" } else { DIGITS[n - 10] }),
        20..=99 => format!(
            "{}十{}",
            DIGITS[n / 10],
            if n % 10 == 0 { "" } else { DIGITS[n % 10] }
        ),
        _ => n.to_string(),
    }
}

struct OrderFinding<'a> {
    finding: &'a Finding,
    item: Option<&'a Item>,
    deadline: CivilDate,
    requirements: &'a str,
}

/// One document per distinct order number among the record's findings
/// disposed of by [`Disposition::RectificationOrder`]; findings sharing an
/// order number are listed together, in record order. Orders come out in
/// the order their number first appears.
pub fn render_html(
    record: &InspectionRecord,
    target: &Target,
    checklist: &Checklist,
    authority: &str,
) -> Result<Vec<RectificationOrder>, RectificationError> {
    let authority = authority.trim();
    if authority.is_empty() {
        return Err(RectificationError::EmptyAuthority);
    }
    if record.target != target.key() {
        return Err(RectificationError::TargetMismatch {
            record: record.target.to_string(),
            target: target.key().to_string(),
        });
    }
    if record.checklist != checklist.reference() {
        return Err(RectificationError::ChecklistMismatch {
            record: record.checklist.clone(),
            given: checklist.reference(),
        });
    }

    let mut groups: Vec<(String, Vec<OrderFinding<'_>>)> = Vec::new();
    for finding in &record.findings {
        let Disposition::RectificationOrder {
            order_no,
            deadline,
            requirements,
            ..
        } = &finding.disposition
        else {
            continue;
        };
        let order_no = order_no.trim();
        if order_no.is_empty() {
            return Err(RectificationError::EmptyOrderNo {
                finding_id: finding.finding_id,
            });
        }
        if requirements.trim().is_empty() {
            return Err(RectificationError::EmptyRequirements {
                finding_id: finding.finding_id,
            });
        }
        let item = match &finding.item_id {
            Some(id) => {
                Some(
                    checklist
                        .item(id)
                        .ok_or_else(|| RectificationError::UnknownItem {
                            finding_id: finding.finding_id,
                            item_id: id.clone(),
                        })?,
                )
            }
            None => None,
        };
        let entry = OrderFinding {
            finding,
            item,
            deadline: *deadline,
            requirements,
        };
        match groups.iter_mut().find(|(no, _)| no == order_no) {
            Some((_, list)) => list.push(entry),
            None => groups.push((order_no.to_owned(), vec![entry])),
        }
    }
    if groups.is_empty() {
        return Err(RectificationError::NoOrders);
    }

    let officers: Vec<(&str, &str)> = record
        .team
        .iter()
        .filter(|m| m.role == MemberRole::Officer)
        .map(|m| (m.name.as_str(), m.person_id.as_str()))
        .collect();
    if officers.len() < 2 {
        return Err(RectificationError::TooFewOfficers(officers.len()));
    }

    Ok(groups
        .into_iter()
        .map(|(order_no, findings)| RectificationOrder {
            html: document(
                &order_no, &findings, record, target, checklist, authority, &officers,
            ),
            finding_ids: findings.iter().map(|f| f.finding.finding_id).collect(),
            order_no,
        })
        .collect())
}

const CSS: &str = r#"
@page { size: A4; margin: 25mm 22mm 22mm 25mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: #000; background: #fff;
  font-family: "FangSong", "仿宋", "STFangsong", "FangSong_GB2312", "Noto Serif CJK SC", "Source Han Serif SC", "Songti SC", "SimSun", serif;
  font-size: 14pt; line-height: 1.75; }
.doc { width: 100%; }
header { text-align: center; margin-bottom: 6mm; }
.authority { font-family: "SimHei", "黑体", "Noto Sans CJK SC", sans-serif; font-size: 18pt; font-weight: bold; margin: 0; letter-spacing: 0.1em; }
.title { font-family: "SimHei", "黑体", "Noto Sans CJK SC", sans-serif; font-size: 22pt; font-weight: bold; margin: 2mm 0 0; letter-spacing: 0.3em; }
.doc-no { text-align: right; margin: 3mm 0 0; font-size: 12pt; }
p { margin: 0 0 2mm; text-indent: 2em; text-align: justify; }
p.flush, .addressee p.party { text-indent: 0; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; font-size: 12pt; }
th, td { border: 1px solid #000; padding: 1.5mm 2.5mm; vertical-align: top; text-align: left; }
th { width: 32mm; font-weight: normal; white-space: nowrap; }
.finding { margin: 0 0 3mm; page-break-inside: avoid; break-inside: avoid; }
.finding p { text-indent: 0; margin-left: 2em; }
.finding .no { margin-left: 0; }
.finding .item, .finding .basis { font-size: 12pt; }
.deadline { font-weight: bold; }
.remedy { margin-top: 3mm; }
.signatures { margin-top: 8mm; page-break-inside: avoid; break-inside: avoid; }
.signatures td.sign { width: 45mm; }
.seal { text-align: right; margin-top: 10mm; text-indent: 0; }
.receipt { margin-top: 8mm; border-top: 1px dashed #000; padding-top: 4mm; page-break-inside: avoid; break-inside: avoid; }
.line { display: inline-block; min-width: 40mm; border-bottom: 1px solid #000; }
.note { font-size: 10.5pt; text-indent: 0; margin-top: 6mm; }
@media screen {
  body { background: #e8e8e8; }
  .doc { width: 210mm; min-height: 297mm; margin: 10mm auto; padding: 25mm 22mm 22mm 25mm; background: #fff; box-shadow: 0 0 4mm rgba(0,0,0,.25); }
}
@media print {
  body { background: #fff; }
  .doc { width: auto; margin: 0; padding: 0; box-shadow: none; }
}
"#;

fn document(
    order_no: &str,
    findings: &[OrderFinding<'_>],
    record: &InspectionRecord,
    target: &Target,
    checklist: &Checklist,
    authority: &str,
    officers: &[(&str, &str)],
) -> String {
    let e = escape_html;
    let mut h = String::with_capacity(8 * 1024);
    // Writing to a String cannot fail.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>责令整改通知书 {no}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main class=\"doc\">\n\
         <header>\n<h1 class=\"authority\">{auth}</h1>\n<h2 class=\"title\">责令整改通知书</h2>\n\
         <p class=\"doc-no flush\">文书编号：{no}</p>\n</header>\n",
        no = e(order_no),
        auth = e(authority),
    );

    // Addressee (当事人).
    let (party, rows) = party_rows(target);
    let _ = write!(
        h,
        "<section class=\"addressee\">\n<p class=\"party flush\"><strong>{}</strong>：</p>\n<table class=\"party-info\">\n",
        e(&party)
    );
    for (label, value) in rows {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", e(label), e(&value));
    }
    h.push_str("</table>\n</section>\n");

    // Facts found (检查发现的问题).
    let subject = match &target.identity {
        TargetIdentity::Organisation { .. } => "你单位".to_owned(),
        TargetIdentity::Standard { number, .. } => {
            format!(
                "你单位发布的标准 {}《{}》",
                e(number.as_str()),
                e(target.name.as_str())
            )
        }
        TargetIdentity::Product {
            certificate_no,
            model,
            ..
        } => format!(
            "你单位获得强制性产品认证的产品《{}》（型号 {}，证书编号 {}）",
            e(target.name.as_str()),
            e(model),
            e(certificate_no.as_str())
        ),
    };
    let _ = write!(
        h,
        "<section class=\"facts\">\n<p>本局执法人员于{date}依法对{subject}开展“双随机、一公开”监督检查（{title}），发现存在下列问题：</p>\n",
        date = cn_date(&record.inspection_date),
        title = e(&checklist.title),
    );
    for (i, f) in findings.iter().enumerate() {
        let _ = write!(
            h,
            "<div class=\"finding\">\n<p class=\"no desc\">（{n}）{desc}</p>\n",
            n = cn_number(i + 1),
            desc = escape_multiline(&f.finding.description),
        );
        if let Some(item) = f.item {
            let _ = write!(
                h,
                "<p class=\"item\">检查项 {id}：{text}</p>\n<p class=\"basis\">依据：{basis}</p>\n",
                id = e(&item.id),
                text = e(&item.text),
                basis = e(&item.basis),
            );
        }
        h.push_str("</div>\n");
    }
    let item_bases: Vec<&str> = unique(
        findings
            .iter()
            .filter_map(|f| f.item.map(|i| i.basis.as_str())),
    );
    if !item_bases.is_empty() {
        let _ = writeln!(
            h,
            "<p>上述问题不符合{}的规定。</p>",
            item_bases
                .iter()
                .map(|b| e(b))
                .collect::<Vec<_>>()
                .join("；")
        );
    }
    // The inspection's conclusion under the checklist's rules, as the
    // record states it.
    let conclusion = choucha_shared::conclusion::conclude(&record.items, checklist);
    let _ = writeln!(
        h,
        "<p class=\"conclusion\">检查结论：{}</p>",
        e(conclusion.label_zh())
    );
    h.push_str("</section>\n");

    // The order: legal basis, requirements and deadline.
    let laws: Vec<&str> = unique(
        checklist
            .legal_basis
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty()),
    );
    let deadlines: BTreeSet<CivilDate> = findings.iter().map(|f| f.deadline).collect();
    let latest = *deadlines
        .iter()
        .next_back()
        .unwrap_or(&record.inspection_date);
    let single_deadline = deadlines.len() == 1;
    let _ = write!(
        h,
        "<section class=\"order\">\n<p>依据{laws}的有关规定，现责令你单位{when}整改完毕，并将整改情况书面报告本局：</p>\n",
        laws = laws.iter().map(|b| e(b)).collect::<Vec<_>>().join("、"),
        when = if single_deadline {
            format!(
                "于<span class=\"deadline\">{}</span>前按照下列要求",
                cn_date(&latest)
            )
        } else {
            "按照下列要求和期限".to_owned()
        },
    );
    // Identical requirements for several findings are printed once.
    let mut printed: Vec<(&str, BTreeSet<CivilDate>)> = Vec::new();
    for f in findings {
        let req = f.requirements.trim();
        match printed.iter_mut().find(|(r, _)| *r == req) {
            Some((_, ds)) => {
                ds.insert(f.deadline);
            }
            None => printed.push((req, [f.deadline].into())),
        }
    }
    h.push_str("<div class=\"requirements\">\n");
    for (i, (req, ds)) in printed.iter().enumerate() {
        let own = if single_deadline {
            String::new()
        } else {
            format!(
                "（整改期限：{}）",
                ds.iter().map(cn_date).collect::<Vec<_>>().join("、")
            )
        };
        let _ = writeln!(
            h,
            "<p class=\"requirement\">{n}、{req}{own}</p>",
            n = cn_number(i + 1),
            req = escape_multiline(req),
        );
    }
    h.push_str("</div>\n");
    let _ = write!(
        h,
        "<table class=\"deadline-table\"><tr><th>整改期限</th><td class=\"deadline\">{}{}</td></tr></table>\n\
         <p>逾期不整改或者整改不符合要求的，本局将依法处理。</p>\n</section>\n",
        cn_date(&latest),
        if single_deadline {
            "前"
        } else {
            "前（各项期限见上）"
        },
    );

    // Remedies.
    let _ = writeln!(
        h,
        "<section class=\"remedy\">\n<p>{}</p>\n</section>",
        e(REMEDY_NOTICE)
    );

    // Officers' signatures, seal and date.
    h.push_str(
        "<section class=\"signatures\">\n<table class=\"officers\">\n<tr><th>执法人员</th><th>执法证号</th><th>签名</th></tr>\n",
    );
    for (name, credential) in officers {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"sign\"></td></tr>",
            e(name),
            e(credential)
        );
    }
    let _ = write!(
        h,
        "</table>\n<p class=\"seal\">{auth}（印章）<br>{date}</p>\n</section>\n",
        auth = e(authority),
        date = cn_date(&record.inspection_date),
    );

    // Acknowledgement of receipt.
    let _ = write!(
        h,
        "<section class=\"receipt\">\n<p class=\"flush\">当事人签收：本人已收到本通知书。</p>\n\
         <p class=\"flush\">签收人（签名）：<span class=\"line\"></span>　职务：<span class=\"line\"></span></p>\n\
         <p class=\"flush\">签收日期：<span class=\"line\"></span></p>\n</section>\n\
         <p class=\"note\">本文书一式两份，一份送达当事人，一份由本局存档。检查记录：{task}</p>\n\
         </main>\n</body>\n</html>\n",
        task = e(&record.task_id),
    );
    h
}

/// The addressee and the rows identifying it.
fn party_rows(target: &Target) -> (String, Vec<(&'static str, String)>) {
    let address = target
        .address
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("（未登记）")
        .to_owned();
    match &target.identity {
        TargetIdentity::Organisation { uscc } => (
            target.name.to_string(),
            vec![
                ("名称", target.name.to_string()),
                ("统一社会信用代码", uscc.to_string()),
                ("地址", address),
            ],
        ),
        TargetIdentity::Standard {
            number,
            issuer,
            issuer_uscc,
        } => {
            let mut rows = vec![
                ("发布单位", issuer.to_string()),
                ("标准编号", number.to_string()),
                ("标准名称", target.name.to_string()),
            ];
            if let Some(u) = issuer_uscc {
                rows.push(("统一社会信用代码", u.to_string()));
            }
            rows.push(("地址", address));
            (issuer.to_string(), rows)
        }
        // The order goes to the certificate holder.
        TargetIdentity::Product {
            certificate_no,
            model,
            holder,
            holder_uscc,
        } => (
            holder.to_string(),
            vec![
                ("持证人", holder.to_string()),
                ("统一社会信用代码", holder_uscc.to_string()),
                ("产品名称", target.name.to_string()),
                ("型号", model.clone()),
                ("CCC 证书编号", certificate_no.to_string()),
                ("地址", address),
            ],
        ),
    }
}

/// Distinct values in first-seen order.
fn unique<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for s in it {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
