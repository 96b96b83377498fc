//! Review states of a synced record and the result categories published to
//! the public (一公开).

use serde::{Deserialize, Serialize};

/// Where a record stands on the server, modelled on ODK Central's review
/// states plus `Incomplete` for records whose evidence has not all arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// 证据不全: sealed, but some named blob is missing or the rules fail.
    Incomplete,
    /// 已接收: complete, waiting for review.
    Received,
    /// 存在问题: a reviewer flagged it, not yet returned.
    HasIssues,
    /// 已退回: returned to the team with comments; expects an amendment.
    Returned,
    /// 已审核通过
    Approved,
    /// 已被替代: an amendment replaced this version.
    Superseded,
}

/// What changes a record version's review state. Every state change on
/// the server goes through [`ReviewState::apply`], so an illegal one (approving
/// a returned version, returning an approved one) is refused in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// The last missing blob arrived and the sealing rules pass.
    EvidenceComplete,
    /// A reviewer flagged the version (存在问题).
    #[serde(rename = "has_issues")]
    MarkHasIssues,
    /// A reviewer approved it (审核通过).
    Approve,
    /// A reviewer returned it to the team (退回).
    Return,
    /// An amendment from the team replaced it (补正).
    Supersede,
}

impl ReviewAction {
    pub const ALL: [ReviewAction; 5] = [
        Self::EvidenceComplete,
        Self::MarkHasIssues,
        Self::Approve,
        Self::Return,
        Self::Supersede,
    ];

    /// The stable code, as serialised and as written in the audit log
    /// (`record.<code>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EvidenceComplete => "evidence_complete",
            Self::MarkHasIssues => "has_issues",
            Self::Approve => "approve",
            Self::Return => "return",
            Self::Supersede => "supersede",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::EvidenceComplete => "证据到齐",
            Self::MarkHasIssues => "标记存在问题",
            Self::Approve => "审核通过",
            Self::Return => "退回",
            Self::Supersede => "补正替代",
        }
    }
}

/// A state change [`ReviewState::apply`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("记录当前状态为“{}”，不能{} (cannot {} a record that is {})", .from.label_zh(), .action.label_zh(), .action.as_str(), .from.as_str())]
pub struct IllegalTransition {
    pub from: ReviewState,
    pub action: ReviewAction,
}

impl ReviewState {
    pub const ALL: [ReviewState; 6] = [
        Self::Incomplete,
        Self::Received,
        Self::HasIssues,
        Self::Returned,
        Self::Approved,
        Self::Superseded,
    ];

    /// The stable code: the serialised form and what the database stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incomplete => "incomplete",
            Self::Received => "received",
            Self::HasIssues => "has_issues",
            Self::Returned => "returned",
            Self::Approved => "approved",
            Self::Superseded => "superseded",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Incomplete => "证据不全",
            Self::Received => "已接收",
            Self::HasIssues => "存在问题",
            Self::Returned => "已退回",
            Self::Approved => "已审核通过",
            Self::Superseded => "已被替代",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Incomplete => "Evidence incomplete",
            Self::Received => "Received",
            Self::HasIssues => "Has issues",
            Self::Returned => "Returned",
            Self::Approved => "Approved",
            Self::Superseded => "Superseded",
        }
    }

    /// Waiting for a reviewer's decision.
    pub fn awaits_review(self) -> bool {
        matches!(self, Self::Received | Self::HasIssues)
    }

    /// The state after `action`, or why it may not happen. The one place
    /// that says which review transitions are legal:
    ///
    /// | from | action | to |
    /// |---|---|---|
    /// | incomplete | evidence complete | received |
    /// | received | mark has issues | has issues |
    /// | received, has issues | approve | approved |
    /// | incomplete, received, has issues | return | returned |
    /// | anything but approved or superseded | supersede (amendment) | superseded |
    pub fn apply(self, action: ReviewAction) -> Result<ReviewState, IllegalTransition> {
        use ReviewAction as A;
        use ReviewState as S;
        let to = match (self, action) {
            (S::Incomplete, A::EvidenceComplete) => S::Received,
            (S::Received, A::MarkHasIssues) => S::HasIssues,
            (S::Received | S::HasIssues, A::Approve) => S::Approved,
            (S::Incomplete | S::Received | S::HasIssues, A::Return) => S::Returned,
            // Only a version returned to its team may be amended: a received
            // or approved one is the reviewer's, not the device's.
            (S::Returned, A::Supersede) => S::Superseded,
            (from, action) => return Err(IllegalTransition { from, action }),
        };
        Ok(to)
    }
}

impl std::fmt::Display for ReviewState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ReviewState {
    type Err = crate::UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::UnknownCode::find("review state", s, Self::ALL, Self::as_str)
    }
}

/// Where a drawn task stands: not inspected yet, or the review state of
/// its current record (the console's progress counts by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskState {
    /// 待检查: no sealed record has arrived.
    Pending,
    Record(ReviewState),
}

impl TaskState {
    pub const PENDING: &'static str = "pending";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => Self::PENDING,
            Self::Record(s) => s.as_str(),
        }
    }
}

impl std::str::FromStr for TaskState {
    type Err = crate::UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == Self::PENDING {
            return Ok(Self::Pending);
        }
        s.parse().map(Self::Record).map_err(|_| crate::UnknownCode {
            kind: "task state",
            value: s.to_owned(),
        })
    }
}

/// Result categories used when publishing inspection results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PublishedResult {
    /// 未发现问题
    NoProblemFound,
    /// 发现问题已责令改正
    ProblemOrderedCorrected,
    /// 发现问题待后续处理
    ProblemPendingFurtherAction,
    /// 不配合检查情节严重
    SeriousNonCooperation,
    /// 通过登记的住所（经营场所）无法联系
    UnreachableAtRegisteredAddress,
    /// 未发现开展本次抽查涉及的经营活动
    ActivityNotFound,
    /// 已关闭退出
    ClosedOrExited,
}

impl PublishedResult {
    pub const ALL: [PublishedResult; 7] = [
        Self::NoProblemFound,
        Self::ProblemOrderedCorrected,
        Self::ProblemPendingFurtherAction,
        Self::SeriousNonCooperation,
        Self::UnreachableAtRegisteredAddress,
        Self::ActivityNotFound,
        Self::ClosedOrExited,
    ];

    /// The stable code (the serialised form).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoProblemFound => "no_problem_found",
            Self::ProblemOrderedCorrected => "problem_ordered_corrected",
            Self::ProblemPendingFurtherAction => "problem_pending_further_action",
            Self::SeriousNonCooperation => "serious_non_cooperation",
            Self::UnreachableAtRegisteredAddress => "unreachable_at_registered_address",
            Self::ActivityNotFound => "activity_not_found",
            Self::ClosedOrExited => "closed_or_exited",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::NoProblemFound => "未发现问题",
            Self::ProblemOrderedCorrected => "发现问题已责令改正",
            Self::ProblemPendingFurtherAction => "发现问题待后续处理",
            Self::SeriousNonCooperation => "不配合检查情节严重",
            Self::UnreachableAtRegisteredAddress => "通过登记的住所（经营场所）无法联系",
            Self::ActivityNotFound => "未发现开展本次抽查涉及的经营活动",
            Self::ClosedOrExited => "已关闭退出",
        }
    }
}

impl std::str::FromStr for PublishedResult {
    type Err = crate::UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::UnknownCode::find("published result", s, Self::ALL, Self::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_serde_names_and_parse_back() {
        for s in ReviewState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(s.as_str().parse::<ReviewState>().unwrap(), s);
        }
        for a in ReviewAction::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        for r in PublishedResult::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(r.as_str().parse::<PublishedResult>().unwrap(), r);
        }
        let e = "bogus".parse::<ReviewState>().unwrap_err();
        assert_eq!(e.to_string(), "unknown review state 'bogus'");
    }

    #[test]
    fn every_transition_is_decided_by_the_table() {
        use ReviewAction as A;
        use ReviewState as S;
        let legal = [
            (S::Incomplete, A::EvidenceComplete, S::Received),
            (S::Received, A::MarkHasIssues, S::HasIssues),
            (S::Received, A::Approve, S::Approved),
            (S::HasIssues, A::Approve, S::Approved),
            (S::Incomplete, A::Return, S::Returned),
            (S::Received, A::Return, S::Returned),
            (S::HasIssues, A::Return, S::Returned),
            // Only a returned version may be amended.
            (S::Returned, A::Supersede, S::Superseded),
        ];
        for from in S::ALL {
            for action in A::ALL {
                let expected = legal
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                match (from.apply(action), expected) {
                    (Ok(to), Some(e)) => assert_eq!(to, e, "{from} {action:?}"),
                    (Err(err), None) => {
                        assert_eq!(err, IllegalTransition { from, action });
                    }
                    (got, want) => panic!("{from} {action:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        // Approved and superseded versions are final.
        for action in A::ALL {
            assert!(S::Approved.apply(action).is_err());
            assert!(S::Superseded.apply(action).is_err());
        }
        let msg = S::Approved.apply(A::Return).unwrap_err().to_string();
        assert!(msg.contains("已审核通过") && msg.contains("退回"), "{msg}");
    }
}
