//! The audit log in words: each action code (`record.approve`,
//! `followup.case_filed`, …) as the quality section says it, and a change
//! as the fields that changed, before → after, instead of raw JSON.

use serde_json::Value;

use super::page::Lang;
use choucha_shared::review::ReviewAction;

/// Every action code written to the audit log, with its Chinese and
/// English names; the filter's list and the table's wording.
pub const ACTIONS: &[(&str, &str, &str)] = &[
    ("login", "登录", "Login"),
    ("logout", "退出", "Logout"),
    ("directory.import", "名录导入", "Directory import"),
    ("plan.create", "新建抽查计划", "Plan created"),
    ("plan.assign", "上级指定检查对象", "Assigned targets"),
    ("plan.freeze", "冻结名录快照", "Plan frozen"),
    ("draw.run", "随机抽取", "Draw run"),
    ("draw.replace_seat", "更换检查人员", "Seat replaced"),
    ("device.enrolment_code", "生成注册码", "Enrolment code"),
    ("device.enrol", "设备注册", "Device enrolled"),
    ("device.revoke", "注销设备", "Device revoked"),
    ("record.evidence_complete", "证据到齐", "Evidence complete"),
    ("record.has_issues", "标记存在问题", "Marked with issues"),
    ("record.approve", "审核通过", "Approved"),
    ("record.return", "退回", "Returned"),
    ("record.supersede", "补正替代", "Superseded"),
    (
        "followup.rectification_order",
        "责令整改",
        "Rectification order",
    ),
    (
        "followup.follow_up_inspection",
        "复查",
        "Follow-up inspection",
    ),
    ("followup.case_filed", "立案", "Case filed"),
    ("followup.case_closed", "结案", "Case closed"),
    ("followup.transfer", "移送", "Transfer"),
    (
        "followup.supervision_check",
        "后续监管检查",
        "Supervision check",
    ),
    ("disclosure.publish", "结果公示", "Published"),
    ("disclosure.withdraw", "撤回公示", "Withdrawn"),
    ("abnormal.list", "列入经营异常名录", "Listed as abnormal"),
    (
        "uncooperative.case_filed",
        "拒不配合立案",
        "Case filed (refused inspection)",
    ),
    ("question.answer", "答复现场咨询", "Question answered"),
    ("faq.publish", "发布常见问题", "FAQ published"),
    ("escalation.raise", "问题上报", "Escalation raised"),
    ("escalation.measure", "上报处置措施", "Escalation measure"),
    ("escalation.measure_done", "处置措施完成", "Measure done"),
    ("escalation.close", "上报办结", "Escalation closed"),
    ("town_report.due", "镇街报告期限", "Town report due"),
    ("town_report.save", "保存镇街报告", "Town report saved"),
    (
        "town_report.submit",
        "提交镇街报告",
        "Town report submitted",
    ),
    ("town_report.return", "退回镇街报告", "Town report returned"),
    ("user.add", "新增用户", "User added"),
    ("user.password", "设置密码", "Password set"),
    ("user.disable", "停用用户", "User disabled"),
    ("user.enable", "启用用户", "User enabled"),
    ("user.role", "修改角色", "Role changed"),
    ("admin_token.issue", "签发接口令牌", "API token issued"),
    ("admin_token.revoke", "撤销接口令牌", "API token revoked"),
    (
        "calendar.enter_year",
        "录入节假日安排",
        "Holiday arrangement entered",
    ),
];

/// The action's name in `lang`; an unknown code (a newer server's) as is.
pub fn action_label(lang: Lang, code: &str) -> String {
    if let Some((_, zh, en)) = ACTIONS.iter().find(|(c, _, _)| *c == code) {
        return lang.t(zh, en).to_owned();
    }
    // Review actions are listed above; any added later still reads.
    if let Some(rest) = code.strip_prefix("record.") {
        if let Some(a) = ReviewAction::ALL.iter().find(|a| a.as_str() == rest) {
            return a.label_zh().to_owned();
        }
    }
    code.to_owned()
}

fn short(v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        // A stored time (RFC 3339, UTC) as people read it: China time.
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
            choucha_shared::value::china_minute_of(Some(s))
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The change as lines `field: before → after`, only what changed; a
/// change that is not an object is one line.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    match (before, after) {
        (Some(Value::Object(b)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter_map(|k| {
                    let (x, y) = (b.get(k), a.get(k));
                    (x != y).then(|| {
                        format!(
                            "{k}: {} → {}",
                            x.map_or("—".into(), short),
                            y.map_or("—".into(), short)
                        )
                    })
                })
                .collect()
        }
        (None, Some(Value::Object(a))) => a
            .iter()
            .map(|(k, v)| format!("{k}: {}", short(v)))
            .collect(),
        (Some(Value::Object(b)), None) => b
            .iter()
            .map(|(k, v)| format!("{k}: {} → —", short(v)))
            .collect(),
        (None, None) => Vec::new(),
        (b, a) => vec![format!(
            "{} → {}",
            b.map_or("—".into(), short),
            a.map_or("—".into(), short)
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_change_reads_as_the_fields_that_changed() {
        let lines = diff(
            Some(&json!({ "frozen_at": null, "title": "计划" })),
            Some(&json!({ "frozen_at": "2026-12-07", "title": "计划" })),
        );
        assert_eq!(lines, vec!["frozen_at: — → 2026-12-07".to_owned()]);
        assert_eq!(
            diff(None, Some(&json!({ "n": 1 }))),
            vec!["n: 1".to_owned()]
        );
        // A stored UTC time reads as China time.
        assert_eq!(
            diff(None, Some(&json!({ "at": "2026-12-07T16:30:05.123456Z" }))),
            vec!["at: 2026-12-08 00:30".to_owned()]
        );
        assert_eq!(action_label(Lang::Zh, "record.approve"), "审核通过");
        assert_eq!(action_label(Lang::En, "plan.freeze"), "Plan frozen");
        assert_eq!(action_label(Lang::Zh, "something.new"), "something.new");
    }
}
