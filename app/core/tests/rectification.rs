//! The rectification order (责令整改通知书) as printable HTML.

use choucha_app_core::rectification::{
    REMEDY_NOTICE, RectificationError, chinese_date, escape_html, render_html,
};
use choucha_checklists::Catalogue;
use choucha_shared::TargetCategory;
use choucha_shared::checklist::{Checklist, ChecklistRef};
use choucha_shared::directory::{Target, TargetIdentity};
use choucha_shared::plan::{MemberRole, TeamMember};
use choucha_shared::record::{Disposition, Finding, InspectionRecord};
use choucha_shared::value::{CivilDate, Name, StandardNo, Uscc};
use chrono::{NaiveDate, TimeZone, Utc};
use uuid::Uuid;

const AUTHORITY: &str = "重庆高新区市场监督管理局";
const INJECTION: &str = "<script>alert('x')</script> & \"quoted\"";
const INJECTION_ESCAPED: &str =
    "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;";

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
        name: Name::parse("重庆某某计量器具有限公司").unwrap(),
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

const ORDER_A: &str = "渝高新市监责改〔2024〕12号";
const ORDER_B: &str = "渝高新市监责改〔2024〕13号";

fn record() -> InspectionRecord {
    let c = checklist();
    InspectionRecord {
        format: 1,
        record_id: Uuid::from_u128(0xabc),
        task_id: "T-2023-0042".to_owned(),
        target: target().key(),
        target_name: target().name.to_string(),
        category: TargetCategory::Metrology,
        checklist: c.reference(),
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
                order(
                    "渝高新市监责改〔2024〕12号",
                    "2024-01-25",
                    "停止使用超期计量器具，并申请检定",
                ),
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
                INJECTION,
                order(ORDER_B, "2024-02-05", &format!("{INJECTION}\n第二行要求")),
            ),
        ],
        signatures: vec![],
        refusal: None,
        outcome: Default::default(),
    }
}

fn render(record: &InspectionRecord) -> Vec<choucha_app_core::rectification::RectificationOrder> {
    render_html(record, &target(), &checklist(), AUTHORITY).unwrap()
}

#[test]
fn one_document_per_order_number() {
    let orders = render(&record());
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].order_no, ORDER_A);
    assert_eq!(
        orders[0].finding_ids,
        vec![Uuid::from_u128(1), Uuid::from_u128(3)]
    );
    assert_eq!(orders[1].order_no, ORDER_B);
    assert_eq!(orders[1].finding_ids, vec![Uuid::from_u128(4)]);

    let a = &orders[0].html;
    assert!(a.contains("电子计价秤2台超过检定周期仍在使用"));
    assert!(a.contains("压力表无检定合格标志"));
    assert!(
        !a.contains("现场发现包装标识不清"),
        "fixed on site is not ordered"
    );
    assert!(!a.contains("quoted"), "order B's finding is not in order A");
    let b = &orders[1].html;
    assert!(!b.contains("电子计价秤"));
}

#[test]
fn document_has_the_standard_parts() {
    let c = checklist();
    let html = &render(&record())[0].html;
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(html.contains("<h1 class=\"authority\">重庆高新区市场监督管理局</h1>"));
    assert!(html.contains("责令整改通知书"));
    // The conclusion the verdicts lead to under the checklist's rules.
    let conclusion = choucha_shared::conclusion::conclude(&record().items, &checklist());
    assert!(
        html.contains(&format!("检查结论：{}", conclusion.label_zh())),
        "{conclusion:?}"
    );
    assert!(html.contains("文书编号：渝高新市监责改〔2024〕12号"));
    // Addressee.
    assert!(html.contains("重庆某某计量器具有限公司"));
    assert!(html.contains("91500000MA5U5ERF5M"));
    assert!(html.contains("重庆市沙坪坝区西永大道28号"));
    // Facts: each finding with its checklist item and legal basis.
    for id in ["MET-1.02", "MET-1.03"] {
        let item = c.item(id).unwrap();
        assert!(html.contains(id));
        assert!(html.contains(&escape_html(&item.text)), "{id} text");
        assert!(html.contains(&escape_html(&item.basis)), "{id} basis");
    }
    assert!(html.contains("2024年1月15日"), "inspection date");
    // Requirements and deadline in Chinese date format.
    assert!(html.contains("停止使用超期计量器具，并申请检定"));
    assert!(html.contains("对压力表申请检定并张贴合格标志"));
    assert!(html.contains("整改期限"));
    assert!(html.contains("2024年1月25日"));
    assert!(!html.contains("2024-01-25"));
    // Legal basis of the order: the checklist's laws.
    for law in &c.legal_basis {
        assert!(html.contains(&escape_html(law)), "{law}");
    }
    // Remedies, officers, receipt.
    assert!(html.contains(REMEDY_NOTICE));
    assert!(html.contains("行政复议") && html.contains("行政诉讼"));
    for s in ["张三", "渝50010023001", "李四", "渝50010023002", "执法证号"] {
        assert!(html.contains(s), "{s}");
    }
    assert!(!html.contains("专家甲"), "experts do not sign the order");
    assert!(html.contains("签收"));
    assert!(html.contains("（印章）"));
}

#[test]
fn document_is_self_contained_and_printable() {
    for order in render(&record()) {
        let html = &order.html;
        assert!(html.contains("@page"));
        assert!(html.contains("size: A4"));
        assert!(html.contains("@media print"));
        for banned in [
            "http://", "https://", "src=", "<link", "<script", "url(", "@import", "<img",
        ] {
            assert!(!html.contains(banned), "{banned} in {}", order.order_no);
        }
        assert!(html.trim_end().ends_with("</html>"));
    }
}

#[test]
fn user_strings_are_escaped() {
    let html = &render(&record())[1].html;
    assert!(html.contains(INJECTION_ESCAPED), "description escaped");
    assert!(
        html.contains(&format!("{INJECTION_ESCAPED}<br>第二行要求")),
        "requirements escaped, line break kept"
    );
    assert!(html.contains("2024年2月5日"));

    // Names from the directory, the team and the authority too.
    let mut t = target();
    t.name = Name::parse("某某公司<img src=x onerror=alert(1)>").unwrap();
    t.address = Some("\"><script>alert(2)</script>".to_owned());
    let mut r = record();
    r.team[0].name = "张三</td><script>".to_owned();
    r.task_id = "T-1'\"<>&".to_owned();
    let orders = render_html(&r, &t, &checklist(), "<b>某局</b> & Co").unwrap();
    for o in &orders {
        let html = &o.html;
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("某某公司&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
        assert!(html.contains("张三&lt;/td&gt;&lt;script&gt;"));
        assert!(html.contains("&lt;b&gt;某局&lt;/b&gt; &amp; Co"));
        assert!(html.contains("T-1&#39;&quot;&lt;&gt;&amp;"));
    }
    // An order number is escaped too.
    let mut r = record();
    r.findings.truncate(1);
    r.findings[0].disposition = order("<i>1</i>", "2024-01-25", "整改");
    let o = &render_html(&r, &target(), &checklist(), AUTHORITY).unwrap()[0];
    assert_eq!(o.order_no, "<i>1</i>");
    assert!(o.html.contains("文书编号：&lt;i&gt;1&lt;/i&gt;"));
    assert!(!o.html.contains("<i>"));
}

#[test]
fn escape_function() {
    assert_eq!(
        escape_html("<a href=\"x\" title='y'>&amp;</a>"),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
    );
    assert_eq!(escape_html("重庆 plain"), "重庆 plain");
    assert_eq!(escape_html(""), "");
    assert_eq!(escape_html(INJECTION), INJECTION_ESCAPED);
}

#[test]
fn chinese_dates() {
    let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
    assert_eq!(chinese_date(d(2024, 1, 25)), "2024年1月25日");
    assert_eq!(chinese_date(d(2024, 1, 5)), "2024年1月5日");
    assert_eq!(chinese_date(d(2023, 12, 31)), "2023年12月31日");
}

#[test]
fn different_deadlines_in_one_order_are_listed_per_requirement() {
    let mut r = record();
    r.findings[2].disposition = order(ORDER_A, "2024-02-10", "对压力表申请检定并张贴合格标志");
    let html = &render(&r)[0].html;
    assert!(html.contains("（整改期限：2024年1月25日）"), "{html}");
    assert!(html.contains("（整改期限：2024年2月10日）"));
    assert!(html.contains("2024年2月10日前（各项期限见上）"));
}

#[test]
fn standards_are_addressed_to_their_issuer() {
    let t = Target {
        category: TargetCategory::Standard,
        identity: TargetIdentity::Standard {
            number: StandardNo::parse("T/CQSES 001-2023").unwrap(),
            issuer: Name::parse("重庆市某某协会").unwrap(),
            issuer_uscc: None,
        },
        name: Name::parse("火锅底料团体标准").unwrap(),
        jurisdiction: Name::parse("西永街道").unwrap(),
        address: None,
        location: None,
        profile: Default::default(),
    };
    let c = Catalogue::embedded()
        .unwrap()
        .get(&ChecklistRef {
            id: "standard".to_owned(),
            version: 1,
        })
        .unwrap()
        .clone();
    let mut r = record();
    r.target = t.key();
    r.category = TargetCategory::Standard;
    r.checklist = c.reference();
    r.findings = vec![finding(
        9,
        None,
        "未在公共服务平台自我声明公开",
        order(
            "渝高新市监责改〔2024〕20号",
            "2024-03-01",
            "依法进行自我声明公开",
        ),
    )];
    let orders = render_html(&r, &t, &c, AUTHORITY).unwrap();
    assert_eq!(orders.len(), 1);
    let html = &orders[0].html;
    assert!(html.contains("<strong>重庆市某某协会</strong>："));
    assert!(html.contains("T/CQSES 001-2023"));
    assert!(html.contains("火锅底料团体标准"));
    assert!(html.contains("（未登记）"));
    assert!(html.contains("2024年3月1日"));
}

#[test]
fn errors() {
    let c = checklist();
    let err = |r: &InspectionRecord| render_html(r, &target(), &c, AUTHORITY).unwrap_err();

    let mut none = record();
    none.findings
        .retain(|f| !matches!(f.disposition, Disposition::RectificationOrder { .. }));
    assert_eq!(err(&none), RectificationError::NoOrders);
    assert!(err(&none).to_string().contains("没有需要责令整改的问题"));
    none.findings.clear();
    assert_eq!(err(&none), RectificationError::NoOrders);

    assert_eq!(
        render_html(&record(), &target(), &c, "  ").unwrap_err(),
        RectificationError::EmptyAuthority
    );

    let mut blank_no = record();
    blank_no.findings[0].disposition = order("  ", "2024-01-25", "整改");
    assert_eq!(
        err(&blank_no),
        RectificationError::EmptyOrderNo {
            finding_id: Uuid::from_u128(1)
        }
    );

    let mut blank_req = record();
    blank_req.findings[0].disposition = order(ORDER_A, "2024-01-25", " \n");
    assert!(matches!(
        err(&blank_req),
        RectificationError::EmptyRequirements { .. }
    ));

    let mut unknown = record();
    unknown.findings[0].item_id = Some("MET-9.99".to_owned());
    assert_eq!(
        err(&unknown),
        RectificationError::UnknownItem {
            finding_id: Uuid::from_u128(1),
            item_id: "MET-9.99".to_owned()
        }
    );

    let mut other_target = target();
    other_target.identity = TargetIdentity::Organisation {
        uscc: Uscc::parse("91350100M000100Y43").unwrap(),
    };
    assert!(matches!(
        render_html(&record(), &other_target, &c, AUTHORITY).unwrap_err(),
        RectificationError::TargetMismatch { .. }
    ));

    let mut other_checklist = c.clone();
    other_checklist.version = 2;
    assert!(matches!(
        render_html(&record(), &target(), &other_checklist, AUTHORITY).unwrap_err(),
        RectificationError::ChecklistMismatch { .. }
    ));

    let mut lone = record();
    lone.team.retain(|m| m.name != "李四");
    assert_eq!(err(&lone), RectificationError::TooFewOfficers(1));
}
