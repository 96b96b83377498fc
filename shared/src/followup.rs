//! What happens to a finding after the inspection (后续处置): the steps the
//! quality section records in the console and the one function that decides
//! what a step does to the finding, as plain values. The server's store reads
//! the finding inside a transaction, calls [`FindingState::after`] and writes
//! what it returns, so the rules live here and nowhere else.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::record::{DispositionKind, RectificationOutcome};
use crate::value::CivilDate;

/// Where a finding is transferred to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransferTo {
    /// 移送司法机关
    Judicial,
    /// 移交纪检监察机关
    Discipline,
    /// 通报相关部门
    Department,
}

impl TransferTo {
    pub fn kind(self) -> DispositionKind {
        match self {
            Self::Judicial => DispositionKind::TransferredToJudicial,
            Self::Discipline => DispositionKind::TransferredToDiscipline,
            Self::Department => DispositionKind::NoticeToDepartment,
        }
    }
}

/// One step recorded in the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FollowUpAction {
    /// 责令整改通知书
    RectificationOrder {
        order_no: String,
        deadline: CivilDate,
        requirements: String,
    },
    /// The follow-up inspection of a rectification order (复查).
    FollowUpInspection {
        inspected_on: CivilDate,
        outcome: RectificationOutcome,
        #[serde(default)]
        note: Option<String>,
    },
    /// 立案
    CaseFiled { case_no: String },
    /// The case is concluded (结案).
    CaseClosed { note: String },
    /// A transfer keeps the finding under continued supervision
    /// (加强后续监管) until a check ends it: `next_check` is when the bureau
    /// looks at it again. Stored transfers from before had none.
    Transfer {
        to: TransferTo,
        organ: String,
        reference: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_check: Option<CivilDate>,
    },
    /// A check of a finding under continued supervision: what was found,
    /// and the next check, or none to end the supervision (closing it).
    SupervisionCheck {
        checked_on: CivilDate,
        note: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_check: Option<CivilDate>,
    },
}

impl FollowUpAction {
    /// The stable code, as serialised (`action`) and as written in the
    /// audit log (`followup.<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::RectificationOrder { .. } => "rectification_order",
            Self::FollowUpInspection { .. } => "follow_up_inspection",
            Self::CaseFiled { .. } => "case_filed",
            Self::CaseClosed { .. } => "case_closed",
            Self::Transfer { .. } => "transfer",
            Self::SupervisionCheck { .. } => "supervision_check",
        }
    }
}

/// A finding as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingState {
    pub finding_id: String,
    pub record_id: String,
    pub task_id: String,
    pub town: String,
    pub category: String,
    pub item_id: String,
    pub description: String,
    pub kind: DispositionKind,
    pub order_no: Option<String>,
    pub deadline: Option<String>,
    /// 立案编号, once a case is filed.
    pub case_no: Option<String>,
    /// The transfer's reference (移送文号).
    pub reference: Option<String>,
    pub organ: Option<String>,
    /// Under continued supervision after a transfer: when it is next
    /// checked.
    pub next_check: Option<String>,
    pub followed_up_on: Option<String>,
    pub outcome: Option<String>,
    pub closed: bool,
    /// Overdue on the day asked: an open rectification order past its
    /// deadline.
    pub overdue: bool,
}

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FollowUpError {
    /// Bad input: `field` names what is wrong.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The step does not fit the finding as it stands.
    #[error("{0}")]
    Conflict(String),
}

fn invalid(field: &'static str, message: String) -> FollowUpError {
    FollowUpError::Invalid { field, message }
}

fn required(field: &'static str, value: &str, what: &str) -> Result<String, FollowUpError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, format!("{what}不能为空")));
    }
    if v.chars().count() > 200 {
        return Err(invalid(field, format!("{what}过长（最多 200 字）")));
    }
    Ok(v.to_owned())
}

/// A next-check date, which must lie after `today`.
fn next_check_after(
    next_check: Option<CivilDate>,
    today: NaiveDate,
) -> Result<Option<String>, FollowUpError> {
    match next_check {
        Some(d) if d.date() <= today => Err(invalid(
            "next_check",
            format!("下次检查日期 {d} 须晚于今天"),
        )),
        d => Ok(d.map(|d| d.to_string())),
    }
}

impl FindingState {
    /// Whether an open rectification order is past its deadline on `today`.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        let today = today.format("%Y-%m-%d").to_string();
        self.kind == DispositionKind::RectificationOrder
            && !self.closed
            && self.deadline.as_deref().is_some_and(|d| d < today.as_str())
    }

    /// Whether a 复查 found the order not (fully) carried out and nothing
    /// further was decided yet: the quality section escalates it (a case
    /// filed, a further order).
    pub fn awaits_escalation(&self) -> bool {
        self.kind == DispositionKind::RectificationOrder
            && !self.closed
            && matches!(
                self.outcome.as_deref(),
                Some(o) if o != RectificationOutcome::Rectified.as_str()
            )
    }

    /// The finding after `action`, for a record inspected on
    /// `inspection_date` (`YYYY-MM-DD`), or why the step is refused.
    pub fn after(
        &self,
        action: &FollowUpAction,
        inspection_date: &str,
        today: NaiveDate,
    ) -> Result<FindingState, FollowUpError> {
        let mut after = self.clone();
        match action {
            FollowUpAction::RectificationOrder {
                order_no,
                deadline,
                requirements,
            } => {
                let order_no = required("order_no", order_no, "责令整改通知书文号")?;
                required("requirements", requirements, "整改要求")?;
                if deadline.to_string().as_str() <= inspection_date {
                    return Err(invalid(
                        "deadline",
                        format!("整改期限 {deadline} 须晚于检查日期 {inspection_date}"),
                    ));
                }
                after.kind = DispositionKind::RectificationOrder;
                after.order_no = Some(order_no);
                after.deadline = Some(deadline.to_string());
                after.followed_up_on = None;
                after.outcome = None;
                after.closed = false;
            }
            FollowUpAction::FollowUpInspection {
                inspected_on,
                outcome,
                ..
            } => {
                if self.kind != DispositionKind::RectificationOrder {
                    return Err(FollowUpError::Conflict(format!(
                        "问题 {} 的处置方式是「{}」，没有整改可复查",
                        self.finding_id,
                        self.kind.label_zh()
                    )));
                }
                if inspected_on.to_string().as_str() < inspection_date {
                    return Err(invalid(
                        "inspected_on",
                        format!("复查日期 {inspected_on} 早于检查日期 {inspection_date}"),
                    ));
                }
                if inspected_on.date() > today {
                    return Err(invalid(
                        "inspected_on",
                        format!("复查日期 {inspected_on} 晚于今天"),
                    ));
                }
                after.followed_up_on = Some(inspected_on.to_string());
                after.outcome = Some(outcome.as_str().into());
                after.closed = *outcome == RectificationOutcome::Rectified;
            }
            FollowUpAction::CaseFiled { case_no } => {
                after.kind = DispositionKind::CaseFiled;
                after.case_no = Some(required("case_no", case_no, "立案编号")?);
                after.closed = false;
            }
            FollowUpAction::CaseClosed { note } => {
                // Rows from before `case_no` kept the case number in
                // `reference` with the kind 立案.
                if self.case_no.is_none() && self.kind != DispositionKind::CaseFiled {
                    return Err(FollowUpError::Conflict(format!(
                        "问题 {} 没有立案，无从结案",
                        self.finding_id
                    )));
                }
                required("note", note, "结案说明")?;
                after.closed = true;
            }
            FollowUpAction::Transfer {
                to,
                organ,
                reference,
                next_check,
            } => {
                after.kind = to.kind();
                after.organ = Some(required("organ", organ, "接收机关")?);
                after.reference = Some(required("reference", reference, "移送文号")?);
                let next = next_check_after(*next_check, today)?.ok_or_else(|| {
                    invalid("next_check", "移送后须继续监管，请填写下次检查日期".into())
                })?;
                after.next_check = Some(next);
                after.closed = false;
            }
            FollowUpAction::SupervisionCheck {
                checked_on,
                note,
                next_check,
            } => {
                if self.next_check.is_none() || self.closed {
                    return Err(FollowUpError::Conflict(format!(
                        "问题 {} 不在后续监管中，无从记录监管检查",
                        self.finding_id
                    )));
                }
                if checked_on.date() > today {
                    return Err(invalid(
                        "checked_on",
                        format!("检查日期 {checked_on} 晚于今天"),
                    ));
                }
                required("note", note, "检查情况")?;
                after.next_check = next_check_after(*next_check, today)?;
                after.closed = after.next_check.is_none();
            }
        }
        after.overdue = after.is_overdue(today);
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(kind: DispositionKind) -> FindingState {
        FindingState {
            finding_id: "f1".into(),
            record_id: "r1".into(),
            task_id: "t1".into(),
            town: "镇".into(),
            category: "enterprise".into(),
            item_id: "1.1".into(),
            description: "问题".into(),
            kind,
            order_no: None,
            deadline: None,
            case_no: None,
            reference: None,
            organ: None,
            next_check: None,
            followed_up_on: None,
            outcome: None,
            closed: false,
            overdue: false,
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn codes_are_the_serialised_tags() {
        let actions = [
            FollowUpAction::RectificationOrder {
                order_no: "1".into(),
                deadline: CivilDate::parse("2026-01-02").unwrap(),
                requirements: "r".into(),
            },
            FollowUpAction::FollowUpInspection {
                inspected_on: CivilDate::parse("2026-01-02").unwrap(),
                outcome: RectificationOutcome::Rectified,
                note: None,
            },
            FollowUpAction::CaseFiled {
                case_no: "c".into(),
            },
            FollowUpAction::CaseClosed { note: "n".into() },
            FollowUpAction::Transfer {
                to: TransferTo::Judicial,
                organ: "o".into(),
                reference: "r".into(),
                next_check: None,
            },
            FollowUpAction::SupervisionCheck {
                checked_on: CivilDate::parse("2026-01-02").unwrap(),
                note: "n".into(),
                next_check: None,
            },
        ];
        for a in actions {
            let v = serde_json::to_value(&a).unwrap();
            assert_eq!(v["action"], a.code());
        }
    }

    #[test]
    fn a_rectification_order_opens_and_a_rectified_follow_up_closes() {
        let f = finding(DispositionKind::FixedOnSite);
        let ordered = f
            .after(
                &FollowUpAction::RectificationOrder {
                    order_no: " 整改〔2026〕1号 ".into(),
                    deadline: CivilDate::parse("2026-03-10").unwrap(),
                    requirements: "限期整改".into(),
                },
                "2026-03-01",
                day("2026-03-20"),
            )
            .unwrap();
        assert_eq!(ordered.order_no.as_deref(), Some("整改〔2026〕1号"));
        assert!(ordered.overdue && !ordered.closed);
        let done = ordered
            .after(
                &FollowUpAction::FollowUpInspection {
                    inspected_on: CivilDate::parse("2026-03-12").unwrap(),
                    outcome: RectificationOutcome::Rectified,
                    note: None,
                },
                "2026-03-01",
                day("2026-03-20"),
            )
            .unwrap();
        assert!(done.closed && !done.overdue);
        assert!(!done.awaits_escalation());
        let not_done = ordered
            .after(
                &FollowUpAction::FollowUpInspection {
                    inspected_on: CivilDate::parse("2026-03-12").unwrap(),
                    outcome: RectificationOutcome::NotRectified,
                    note: None,
                },
                "2026-03-01",
                day("2026-03-20"),
            )
            .unwrap();
        assert!(not_done.awaits_escalation() && !not_done.closed);
        let filed = not_done
            .after(
                &FollowUpAction::CaseFiled {
                    case_no: "立〔2026〕1号".into(),
                },
                "2026-03-01",
                day("2026-03-20"),
            )
            .unwrap();
        assert!(!filed.awaits_escalation(), "escalated");
    }

    #[test]
    fn refusals_name_the_field_or_the_conflict() {
        let f = finding(DispositionKind::FixedOnSite);
        let e = f
            .after(
                &FollowUpAction::CaseFiled {
                    case_no: "  ".into(),
                },
                "2026-03-01",
                day("2026-03-20"),
            )
            .unwrap_err();
        assert!(matches!(
            e,
            FollowUpError::Invalid {
                field: "case_no",
                ..
            }
        ));
        let e = f
            .after(
                &FollowUpAction::CaseClosed { note: "n".into() },
                "2026-03-01",
                day("2026-03-20"),
            )
            .unwrap_err();
        assert!(matches!(e, FollowUpError::Conflict(_)));
        let e = f
            .after(
                &FollowUpAction::RectificationOrder {
                    order_no: "1".into(),
                    deadline: CivilDate::parse("2026-03-01").unwrap(),
                    requirements: "r".into(),
                },
                "2026-03-01",
                day("2026-03-20"),
            )
            .unwrap_err();
        assert!(matches!(
            e,
            FollowUpError::Invalid {
                field: "deadline",
                ..
            }
        ));
    }

    #[test]
    fn a_transfer_keeps_the_finding_under_supervision_beside_its_case() {
        let today = day("2026-04-01");
        let f = finding(DispositionKind::RectificationOrder);
        let filed = f
            .after(
                &FollowUpAction::CaseFiled {
                    case_no: "渝市监立〔2026〕7号".into(),
                },
                "2026-03-01",
                today,
            )
            .unwrap();
        let transfer = |next_check: Option<&str>| FollowUpAction::Transfer {
            to: TransferTo::Judicial,
            organ: "区公安分局".into(),
            reference: "渝市监移〔2026〕3号".into(),
            next_check: next_check.map(|d| CivilDate::parse(d).unwrap()),
        };
        // A transfer needs its next check, after today.
        for bad in [None, Some("2026-04-01")] {
            let e = filed
                .after(&transfer(bad), "2026-03-01", today)
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    FollowUpError::Invalid {
                        field: "next_check",
                        ..
                    }
                ),
                "{e}"
            );
        }
        let moved = filed
            .after(&transfer(Some("2026-06-01")), "2026-03-01", today)
            .unwrap();
        assert!(!moved.closed, "a transfer does not close the finding");
        assert_eq!(moved.kind, DispositionKind::TransferredToJudicial);
        assert_eq!(moved.case_no.as_deref(), Some("渝市监立〔2026〕7号"));
        assert_eq!(moved.reference.as_deref(), Some("渝市监移〔2026〕3号"));
        assert_eq!(moved.next_check.as_deref(), Some("2026-06-01"));
        // A check with a further date keeps it; one without ends it.
        let check = |next: Option<&str>| FollowUpAction::SupervisionCheck {
            checked_on: CivilDate::parse("2026-04-01").unwrap(),
            note: "已移送，正在侦查".into(),
            next_check: next.map(|d| CivilDate::parse(d).unwrap()),
        };
        let kept = moved
            .after(&check(Some("2026-09-01")), "2026-03-01", today)
            .unwrap();
        assert!(!kept.closed);
        assert_eq!(kept.next_check.as_deref(), Some("2026-09-01"));
        let ended = kept.after(&check(None), "2026-03-01", today).unwrap();
        assert!(ended.closed && ended.next_check.is_none());
        // Not under supervision: refused.
        let e = f.after(&check(None), "2026-03-01", today).unwrap_err();
        assert!(matches!(e, FollowUpError::Conflict(_)));
        // The case can still be closed after the transfer.
        let closed = moved
            .after(
                &FollowUpAction::CaseClosed {
                    note: "结案".into(),
                },
                "2026-03-01",
                today,
            )
            .unwrap();
        assert!(closed.closed);
    }
}
