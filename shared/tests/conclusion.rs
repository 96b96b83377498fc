//! The conclusion (检查结论) from the verdicts under a checklist's rules, and
//! the loader refusing rules that contradict the checklist they sit in.

use std::collections::BTreeMap;

use choucha_shared::checklist::{self, Verdict};
use choucha_shared::conclusion::{Conclusion, FailReason, conclude};
use choucha_shared::record::ItemEntry;

/// A production-licence style checklist: two veto items rated 合格 /
/// 严重不合格, two general items on the graded scale; more than one
/// nonconforming item fails.
const GRADED: &str = r#"
schema = 1
id = "graded"
version = 2
category = "production_licence"
title = "生产许可获证企业监督检查表"
effective = "2026-12-07"
legal_basis = ["《中华人民共和国工业产品生产许可证管理条例》"]
verdicts = ["pass", "minor", "major", "not_applicable"]

[conclusion]
veto = "major"
major_fails = true
nonconforming_limit = 1

[[sections]]
id = "1"
title = "证照信息"

[[sections.items]]
id = "PL-1.01"
text = "是否取得生产许可证"
basis = "第五条"
evidence = ["document"]
verdicts = ["pass", "major"]
veto = true

[[sections.items]]
id = "PL-1.02"
text = "生产地址是否一致"
basis = "第五条"
evidence = ["site_check"]
verdicts = ["pass", "major", "not_applicable"]
veto = true

[[sections.items]]
id = "PL-1.03"
text = "质量管理职责是否明确"
basis = "第九条"
evidence = ["document"]

[[sections.items]]
id = "PL-1.04"
text = "检验设备是否检定"
basis = "第九条"
evidence = ["record"]
"#;

fn verdicts(given: &[(&str, Verdict)]) -> BTreeMap<String, ItemEntry> {
    given
        .iter()
        .map(|(id, v)| {
            (
                (*id).to_owned(),
                ItemEntry {
                    verdict: Some(*v),
                    note: None,
                },
            )
        })
        .collect()
}

#[test]
fn the_checklists_rules_decide() {
    let c = checklist::parse("graded.v2.toml", GRADED).unwrap();
    let all_pass = verdicts(&[
        ("PL-1.01", Verdict::Pass),
        ("PL-1.02", Verdict::NotApplicable),
        ("PL-1.03", Verdict::Pass),
        ("PL-1.04", Verdict::Pass),
    ]);
    assert_eq!(conclude(&all_pass, &c), Conclusion::Pass);

    // One 一般不合格 is within the limit; the second is over it.
    let mut one_minor = all_pass.clone();
    one_minor.get_mut("PL-1.03").unwrap().verdict = Some(Verdict::Minor);
    assert_eq!(
        conclude(&one_minor, &c),
        Conclusion::PassWithIssues { nonconforming: 1 }
    );
    let mut two_minor = one_minor.clone();
    two_minor.get_mut("PL-1.04").unwrap().verdict = Some(Verdict::Minor);
    assert_eq!(
        conclude(&two_minor, &c),
        Conclusion::Fail {
            reasons: vec![FailReason::TooMany { count: 2, limit: 1 }]
        }
    );

    // A veto item 严重不合格 fails alone, named as the veto; a general item
    // 严重不合格 fails too (major_fails), named as such; every reason listed.
    let mut vetoed = all_pass.clone();
    vetoed.get_mut("PL-1.01").unwrap().verdict = Some(Verdict::Major);
    let fail = conclude(&vetoed, &c);
    assert_eq!(
        fail,
        Conclusion::Fail {
            reasons: vec![FailReason::Veto {
                item_id: "PL-1.01".into()
            }]
        }
    );
    assert_eq!(fail.label_zh(), "不合格（不符合要求）");
    vetoed.get_mut("PL-1.04").unwrap().verdict = Some(Verdict::Major);
    let Conclusion::Fail { reasons } = conclude(&vetoed, &c) else {
        panic!("a veto and a major item fail")
    };
    assert_eq!(
        reasons,
        vec![
            FailReason::Veto {
                item_id: "PL-1.01".into()
            },
            FailReason::Major {
                item_id: "PL-1.04".into()
            },
            FailReason::TooMany { count: 2, limit: 1 },
        ]
    );
    assert_eq!(reasons[0].to_string(), "否决项 PL-1.01 不合格");
}

#[test]
fn without_a_conclusion_section_a_failed_veto_item_fails() {
    let text = GRADED
        .replace(
            "[conclusion]\nveto = \"major\"\nmajor_fails = true\nnonconforming_limit = 1\n",
            "",
        )
        .replace(
            "[\"pass\", \"major\", \"not_applicable\"]\nveto = true",
            "[\"pass\", \"minor\", \"major\", \"not_applicable\"]\nveto = true",
        );
    let c = checklist::parse("graded.v2.toml", &text).unwrap();
    assert!(c.conclusion.is_none());
    // Default: any nonconforming verdict on a veto item fails, no limit.
    let minor_on_veto = verdicts(&[("PL-1.02", Verdict::Minor), ("PL-1.03", Verdict::Minor)]);
    assert_eq!(
        conclude(&minor_on_veto, &c),
        Conclusion::Fail {
            reasons: vec![FailReason::Veto {
                item_id: "PL-1.02".into()
            }]
        }
    );
    let minors = verdicts(&[("PL-1.03", Verdict::Minor), ("PL-1.04", Verdict::Minor)]);
    assert_eq!(
        conclude(&minors, &c),
        Conclusion::PassWithIssues { nonconforming: 2 }
    );
}

/// The line of `text` holding `needle` (1-based).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in the text"))
        + 1
}

/// The one problem loading `text` finds: the line it names and the
/// message.
fn refused(text: &str) -> (usize, String) {
    let err = checklist::parse("graded.v2.toml", text).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(err.to_string().starts_with("graded.v2.toml:"), "{err}");
    (err.problems[0].line, err.to_string())
}

#[test]
fn inconsistent_rules_fail_to_load_with_file_line_and_reason() {
    // A veto rule with no veto item.
    let text = GRADED.replace("veto = true\n", "");
    let (line, msg) = refused(&text);
    assert_eq!(line, line_of(&text, "veto = \"major\""), "{msg}");
    assert!(msg.contains("no item is a veto item"), "{msg}");

    // Veto items, but no veto rule.
    let text = GRADED.replace("veto = \"major\"\n", "");
    let (line, msg) = refused(&text);
    assert_eq!(line, line_of(&text, "id = \"PL-1.01\""), "{msg}");
    assert!(
        msg.contains("'PL-1.01' is a veto item but [conclusion] sets no veto rule"),
        "{msg}"
    );

    // veto = "major" on a veto item that cannot be 严重不合格.
    let text = GRADED.replace(
        "verdicts = [\"pass\", \"major\", \"not_applicable\"]\nveto = true",
        "verdicts = [\"pass\", \"minor\", \"not_applicable\"]\nveto = true  # PL-1.02",
    );
    let (line, msg) = refused(&text);
    assert_eq!(line, line_of(&text, "veto = true  # PL-1.02"), "{msg}");
    assert!(msg.contains("'PL-1.02' can never fail"), "{msg}");

    // major_fails where no scale has 严重不合格.
    let text = GRADED
        .replace("\"minor\", \"major\"", "\"minor\"")
        .replace("[\"pass\", \"major\"", "[\"pass\", \"minor\"")
        .replace("veto = \"major\"", "veto = \"any\"");
    let (line, msg) = refused(&text);
    assert_eq!(line, line_of(&text, "major_fails"), "{msg}");
    assert!(msg.contains("major_fails = true but no item"), "{msg}");

    // A limit the checklist can never exceed.
    let text = GRADED.replace("nonconforming_limit = 1", "nonconforming_limit = 4");
    let (line, msg) = refused(&text);
    assert_eq!(line, line_of(&text, "nonconforming_limit"), "{msg}");
    assert!(
        msg.contains("can never be exceeded: the checklist has 4 items"),
        "{msg}"
    );

    // A misspelt rule is an unknown field, not a silent default.
    let text = GRADED.replace("major_fails = true", "major_fail = true");
    let (line, msg) = refused(&text);
    assert_eq!(line, line_of(&text, "major_fail "), "{msg}");
    assert!(msg.contains("major_fail"), "{msg}");
}
