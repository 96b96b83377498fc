//! 责令整改通知书: the rectification order the officers hand over on site,
//! one per order number among a record's findings disposed of by an order.
//! The tablet writes it offline for a portable printer or as a file; the
//! server writes it from the synced record; both call [`orders`], so the
//! same record gives the same document.
//!
//! It follows the usual form: the issuing authority and title, the
//! document number, the addressee, the facts found with the checklist item
//! and its legal basis, the requirements and deadline, the legal basis of
//! the order, the right to administrative reconsideration or litigation,
//! the officers' names with their 执法证号 and lines to sign, the seal and
//! date, and the enterprise's acknowledgement of receipt (签收).

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use uuid::Uuid;

use choucha_shared::checklist::{Checklist, ChecklistRef, Item};
use choucha_shared::directory::{Target, TargetIdentity};
use choucha_shared::plan::MemberRole;
use choucha_shared::record::{Disposition, Finding, InspectionRecord};
use choucha_shared::value::CivilDate;

use crate::DocumentError;
use crate::layout::{Block, Made, Sheet};

/// The sentence on the right to remedies printed on every order
/// (行政复议法: 60 days; 行政诉讼法 Art. 46: six months).
pub const REMEDY_NOTICE: &str = "如不服本通知，可以在收到本通知书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。";

/// One rectification order.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// 文书编号, as entered in the findings' dispositions.
    pub order_no: String,
    /// The findings the order covers, in record order.
    pub finding_ids: Vec<Uuid>,
    /// The document's content.
    pub sheet: Sheet,
}

impl Notice {
    /// The order as PDF/A-2b.
    pub fn pdf(&self) -> Result<Vec<u8>, DocumentError> {
        self.sheet.to_pdf()
    }

    /// A file name for it: `责令整改通知书-渝高市监责改〔2026〕17号.pdf`,
    /// with anything a file system refuses replaced.
    pub fn file_name(&self) -> String {
        let safe: String = self
            .order_no
            .chars()
            .map(|c| match c {
                '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '-',
                c if c.is_control() => '-',
                c => c,
            })
            .collect();
        format!("责令整改通知书-{safe}.pdf")
    }
}

/// Why the orders could not be produced. Chinese first, English in brackets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoticeError {
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

/// One order per distinct order number among the record's findings
/// disposed of by [`Disposition::RectificationOrder`]; findings sharing an
/// order number are listed together, in record order. Orders come out in
/// the order their number first appears.
pub fn orders(
    record: &InspectionRecord,
    target: &Target,
    checklist: &Checklist,
    authority: &str,
) -> Result<Vec<Notice>, NoticeError> {
    let authority = authority.trim();
    if authority.is_empty() {
        return Err(NoticeError::EmptyAuthority);
    }
    if record.target != target.key() {
        return Err(NoticeError::TargetMismatch {
            record: record.target.to_string(),
            target: target.key().to_string(),
        });
    }
    if record.checklist != checklist.reference() {
        return Err(NoticeError::ChecklistMismatch {
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
            return Err(NoticeError::EmptyOrderNo {
                finding_id: finding.finding_id,
            });
        }
        if requirements.trim().is_empty() {
            return Err(NoticeError::EmptyRequirements {
                finding_id: finding.finding_id,
            });
        }
        let item = match &finding.item_id {
            Some(id) => Some(checklist.item(id).ok_or_else(|| NoticeError::UnknownItem {
                finding_id: finding.finding_id,
                item_id: id.clone(),
            })?),
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
        return Err(NoticeError::NoOrders);
    }
    let officers: Vec<(&str, &str)> = record
        .team
        .iter()
        .filter(|m| m.role == MemberRole::Officer)
        .map(|m| (m.name.as_str(), m.person_id.as_str()))
        .collect();
    if officers.len() < 2 {
        return Err(NoticeError::TooFewOfficers(officers.len()));
    }
    Ok(groups
        .into_iter()
        .map(|(order_no, findings)| Notice {
            sheet: sheet(
                &order_no, &findings, record, target, checklist, authority, &officers,
            ),
            finding_ids: findings.iter().map(|f| f.finding.finding_id).collect(),
            order_no,
        })
        .collect())
}

fn sheet(
    order_no: &str,
    findings: &[OrderFinding<'_>],
    record: &InspectionRecord,
    target: &Target,
    checklist: &Checklist,
    authority: &str,
    officers: &[(&str, &str)],
) -> Sheet {
    let d = record.inspection_date.date();
    let made = Made {
        year: u16::try_from(d.year()).unwrap_or(0),
        month: d.month() as u8,
        day: d.day() as u8,
        hour: 0,
        minute: 0,
    };
    let mut s = Sheet::new(
        format!("责令整改通知书 {order_no}"),
        format!("{authority} — 责令整改通知书 {order_no}"),
        made,
    );
    s.push(Block::Subtitle(authority.to_owned()))
        .push(Block::Title("责令整改通知书".to_owned()))
        .push(Block::Right(format!("文书编号：{order_no}")));

    // Addressee (当事人).
    let (party, rows) = party_rows(target);
    s.push(Block::Plain(format!("{party}：")))
        .push(Block::Rows(
            rows.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ))
        .push(Block::Gap(2.0));

    // Facts found (检查发现的问题).
    let subject = match &target.identity {
        TargetIdentity::Organisation { .. } => "你单位".to_owned(),
        TargetIdentity::Standard { number, .. } => {
            format!(
                "你单位发布的标准 {}《{}》",
                number.as_str(),
                target.name.as_str()
            )
        }
        TargetIdentity::Product {
            certificate_no,
            model,
            ..
        } => format!(
            "你单位获得强制性产品认证的产品《{}》（型号 {model}，证书编号 {}）",
            target.name.as_str(),
            certificate_no.as_str()
        ),
    };
    s.push(Block::Para(format!(
        "本局执法人员于{}依法对{subject}开展“双随机、一公开”监督检查（{}），发现存在下列问题：",
        cn_date(&record.inspection_date),
        checklist.title
    )));
    for (i, f) in findings.iter().enumerate() {
        s.push(Block::Plain(format!(
            "（{}）{}",
            cn_number(i + 1),
            one_paragraph(&f.finding.description)
        )));
        if let Some(item) = f.item {
            s.push(Block::Plain(format!(
                "　　检查项 {}：{}",
                item.id, item.text
            )))
            .push(Block::Plain(format!("　　依据：{}", item.basis)));
        }
    }
    let item_bases = unique(
        findings
            .iter()
            .filter_map(|f| f.item.map(|i| i.basis.as_str())),
    );
    if !item_bases.is_empty() {
        s.push(Block::Para(format!(
            "上述问题不符合{}的规定。",
            item_bases.join("；")
        )));
    }
    // The inspection's conclusion under the checklist's rules.
    let conclusion = choucha_shared::conclusion::conclude(&record.items, checklist);
    s.push(Block::Para(format!("检查结论：{}", conclusion.label_zh())));

    // The order: legal basis, requirements and deadline.
    let laws = unique(
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
    s.push(Block::Para(format!(
        "依据{}的有关规定，现责令你单位{}整改完毕，并将整改情况书面报告本局：",
        laws.join("、"),
        if single_deadline {
            format!("于{}前按照下列要求", cn_date(&latest))
        } else {
            "按照下列要求和期限".to_owned()
        }
    )));
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
    for (i, (req, ds)) in printed.iter().enumerate() {
        let own = if single_deadline {
            String::new()
        } else {
            format!(
                "（整改期限：{}）",
                ds.iter().map(cn_date).collect::<Vec<_>>().join("、")
            )
        };
        s.push(Block::Plain(format!(
            "{}、{}{own}",
            cn_number(i + 1),
            one_paragraph(req)
        )));
    }
    s.push(Block::Rows(vec![(
        "整改期限".to_owned(),
        format!(
            "{}{}",
            cn_date(&latest),
            if single_deadline {
                "前"
            } else {
                "前（各项期限见上）"
            }
        ),
    )]))
    .push(Block::Para(
        "逾期不整改或者整改不符合要求的，本局将依法处理。".to_owned(),
    ))
    .push(Block::Para(REMEDY_NOTICE.to_owned()))
    .push(Block::Gap(3.0));

    // Officers with their credentials and lines to sign, seal and date.
    s.push(Block::Table {
        head: vec![
            "执法人员".to_owned(),
            "执法证号".to_owned(),
            "签名".to_owned(),
        ],
        widths: vec![2.0, 3.0, 3.0],
        rows: officers
            .iter()
            .map(|(name, credential)| {
                vec![(*name).to_owned(), (*credential).to_owned(), String::new()]
            })
            .collect(),
    })
    .push(Block::Gap(4.0))
    .push(Block::Right(format!("{authority}（印章）")))
    .push(Block::Right(cn_date(&record.inspection_date)))
    .push(Block::Gap(6.0));

    // Acknowledgement of receipt.
    s.push(Block::Plain("当事人签收：本人已收到本通知书。".to_owned()))
        .push(Block::Signatures(vec![
            "签收人（签名）".to_owned(),
            "职务".to_owned(),
        ]))
        .push(Block::Gap(4.0))
        .push(Block::Plain(format!(
            "本文书一式两份，一份送达当事人，一份由本局存档。检查任务：{}",
            record.task_id
        )));
    s
}

/// Text typed on a tablet as one paragraph: line breaks kept, other control
/// characters dropped, the ends trimmed.
fn one_paragraph(s: &str) -> String {
    s.trim()
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect()
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
