//! 责令整改通知书 as PDF/A-2b: one per order number; the parts an order has
//! (authority, number, addressee, facts with the item and its basis, the
//! conclusion, requirements and deadline in Chinese dates, the laws, the
//! remedies, the officers with their 执法证号 but not the expert, seal,
//! receipt), read back from the PDF with `pdftotext`; a rare character in
//! the company's name prints; refusals name what is missing.

use std::process::Command;

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use choucha_checklists::Catalogue;
use choucha_documents::notice::{NoticeError, REMEDY_NOTICE, orders};
use choucha_shared::TargetCategory;
use choucha_shared::checklist::{Checklist, ChecklistRef};
use choucha_shared::directory::{Target, TargetIdentity};
use choucha_shared::plan::{MemberRole, TeamMember};
use choucha_shared::record::{Disposition, Finding, InspectionRecord};
use choucha_shared::value::{CivilDate, Name, Uscc};

const AUTHORITY: &str = "重庆高新区市场监督管理局";
const ORDER_A: &str = "渝高新市监责改〔2024〕12号";
const ORDER_B: &str = "渝高新市监责改〔2024〕13号";
const COMPANY: &str = "重庆堃喆犇计量器具有限公司";

fn checklist() -> Checklist {
    Catalogue::embedded()
        .unwrap()
        .get(&ChecklistRef {
            id: "metrology".to_owned(),
            version: 1,
        })
        .unwrap()
        .clone()
}

fn target() -> Target {
    Target {
        category: TargetCategory::Metrology,
        identity: TargetIdentity::Organisation {
            uscc: Uscc::parse("91500000MA5U5ERF5M").unwrap(),
        },
        name: Name::parse(COMPANY).unwrap(),
        jurisdiction: Name::parse("西永街道").unwrap(),
        address: Some("重庆市沙坪坝区西永大道28号".to_owned()),
        location: None,
        profile: Default::default(),
    }
}

fn date(s: &str) -> CivilDate {
    CivilDate::parse(s).unwrap()
}

fn member(role: MemberRole, id: &str, name: &str) -> TeamMember {
    TeamMember {
        role,
        person_id: id.to_owned(),
        name: name.to_owned(),
    }
}

fn order(order_no: &str, deadline: &str, requirements: &str) -> Disposition {
    Disposition::RectificationOrder {
        order_no: order_no.to_owned(),
        deadline: date(deadline),
        requirements: requirements.to_owned(),
        follow_up: None,
    }
}

fn finding(n: u128, item: Option<&str>, description: &str, disposition: Disposition) -> Finding {
    Finding {
        finding_id: Uuid::from_u128(n),
        item_id: item.map(str::to_owned),
        description: description.to_owned(),
        disposition,
    }
}

fn record() -> InspectionRecord {
    InspectionRecord {
        format: 1,
        record_id: Uuid::from_u128(0xabc),
        task_id: "T-2023-0042".to_owned(),
        target: target().key(),
        target_name: target().name.to_string(),
        category: TargetCategory::Metrology,
        checklist: checklist().reference(),
        team: vec![
            member(MemberRole::Officer, "渝50010023001", "张三"),
            member(MemberRole::Expert, "EXP-007", "专家甲"),
            member(MemberRole::Officer, "渝50010023002", "李四"),
        ],
        started_at: Utc.with_ymd_and_hms(2024, 1, 15, 1, 30, 0).unwrap(),
        inspection_date: date("2024-01-15"),
        items: Default::default(),
        photos: vec![],
        findings: vec![
            finding(
                1,
                Some("MET-1.02"),
                "电子计价秤2台超过检定周期仍在使用",
                order(ORDER_A, "2024-01-25", "停止使用超期计量器具，并申请检定"),
            ),
            finding(
                2,
                None,
                "现场发现包装标识不清",
                Disposition::FixedOnSite {
                    description: "已当场更换标签".to_owned(),
                },
            ),
            finding(
                3,
                Some("MET-1.03"),
                "压力表无检定合格标志",
                order(ORDER_A, "2024-01-25", "对压力表申请检定并张贴合格标志"),
            ),
            finding(
                4,
                None,
                "<script>x</script> 第二张通知书的问题",
                order(ORDER_B, "2024-02-05", "整改要求第一行\n第二行要求"),
            ),
        ],
        signatures: vec![],
        refusal: None,
        outcome: Default::default(),
    }
}

/// The PDF's text as `pdftotext` reads it, whitespace removed.
fn read_back(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("order.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by scripts/setup.sh)");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn flat(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn one_order_per_order_number() {
    let notices = orders(&record(), &target(), &checklist(), AUTHORITY).unwrap();
    assert_eq!(notices.len(), 2);
    assert_eq!(notices[0].order_no, ORDER_A);
    assert_eq!(
        notices[0].finding_ids,
        vec![Uuid::from_u128(1), Uuid::from_u128(3)]
    );
    assert_eq!(notices[1].order_no, ORDER_B);
    assert_eq!(notices[1].finding_ids, vec![Uuid::from_u128(4)]);
    let a = notices[0].sheet.text();
    assert!(a.contains("电子计价秤2台超过检定周期仍在使用") && a.contains("压力表无检定合格标志"));
    assert!(
        !a.contains("现场发现包装标识不清"),
        "fixed on site is not ordered"
    );
    assert!(
        !a.contains("第二张通知书"),
        "order B's finding is not in order A"
    );
    assert_eq!(
        notices[0].file_name(),
        format!("责令整改通知书-{ORDER_A}.pdf")
    );
}

#[test]
fn the_pdf_has_every_part_of_an_order() {
    let c = checklist();
    let notices = orders(&record(), &target(), &c, AUTHORITY).unwrap();
    let text = read_back(&notices[0].pdf().expect("PDF/A-2b"));
    let conclusion = choucha_shared::conclusion::conclude(&record().items, &c);
    let mut needed: Vec<String> = vec![
        AUTHORITY.into(),
        "责令整改通知书".into(),
        format!("文书编号：{ORDER_A}"),
        COMPANY.into(),
        "91500000MA5U5ERF5M".into(),
        "重庆市沙坪坝区西永大道28号".into(),
        "2024年1月15日".into(),
        "停止使用超期计量器具，并申请检定".into(),
        "对压力表申请检定并张贴合格标志".into(),
        "整改期限".into(),
        "2024年1月25日前".into(),
        format!("检查结论：{}", conclusion.label_zh()),
        REMEDY_NOTICE.into(),
        "张三".into(),
        "渝50010023001".into(),
        "李四".into(),
        "渝50010023002".into(),
        "执法证号".into(),
        "（印章）".into(),
        "当事人签收".into(),
        "第1页，共".into(),
    ];
    for id in ["MET-1.02", "MET-1.03"] {
        let item = c.item(id).unwrap();
        needed.push(id.into());
        needed.push(item.text.clone());
        needed.push(item.basis.clone());
    }
    needed.extend(c.legal_basis.iter().cloned());
    for n in &needed {
        assert!(text.contains(&flat(n)), "«{n}» is in the PDF: {text}");
    }
    assert!(
        !text.contains("2024-01-25"),
        "dates are written the Chinese way"
    );
    assert!(!text.contains("专家甲"), "experts do not sign the order");
    // Order B: its two deadlines' order, its typed text as it was typed.
    let b = read_back(&notices[1].pdf().unwrap());
    assert!(b.contains("<script>x</script>第二张通知书的问题"), "{b}");
    assert!(b.contains("整改要求第一行第二行要求"), "{b}");
}

#[test]
fn refusals_name_what_is_missing() {
    let c = checklist();
    assert_eq!(
        orders(&record(), &target(), &c, "  "),
        Err(NoticeError::EmptyAuthority)
    );
    let mut r = record();
    r.team.retain(|m| m.name != "李四");
    assert_eq!(
        orders(&r, &target(), &c, AUTHORITY),
        Err(NoticeError::TooFewOfficers(1))
    );
    let mut r = record();
    r.findings
        .retain(|f| !matches!(f.disposition, Disposition::RectificationOrder { .. }));
    assert_eq!(
        orders(&r, &target(), &c, AUTHORITY),
        Err(NoticeError::NoOrders)
    );
    let mut r = record();
    r.findings[0].item_id = Some("MET-9.99".into());
    assert!(matches!(
        orders(&r, &target(), &c, AUTHORITY),
        Err(NoticeError::UnknownItem { .. })
    ));
}
