//! What became of an inspection task (检查结果类型).
//!
//! Most tasks are inspected item by item against the checklist (正常检查).
//! Every real batch also has targets that cannot be inspected as planned,
//! and each of those cases is a result category of its own in the public
//! register (企业信息公示暂行条例, 市场监管总局《关于公示企业抽查检查结果的
//! 规定》): the company cannot be reached at its registered address, does
//! not do the business the inspection is about, has closed, or refuses to
//! cooperate. Each case needs its own evidence instead of item verdicts;
//! the rules are in [`crate::completeness`], beside the walk-through's, and
//! run on the tablet before sealing and on the server on receipt.
//!
//! The outcome is part of the attested content: officers sign what they
//! found at the gate just as they sign verdicts.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::{Disposition, Finding};
use crate::review::PublishedResult;

/// The outcome of a task, with the evidence its case needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// 正常检查: the checklist walk-through.
    #[default]
    Normal,
    /// 通过登记的住所（经营场所）无法联系.
    Unreachable(UnreachableEvidence),
    /// 未发现开展本次抽查涉及的经营活动.
    ActivityNotFound(ActivityNotFoundEvidence),
    /// 已关闭退出.
    Closed(ClosedEvidence),
    /// 不配合检查（情节严重）.
    Uncooperative(UncooperativeEvidence),
}

/// What the officers found at the registered address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PremisesFound {
    /// 大门紧锁、无人办公
    Locked,
    /// 房屋已拆除
    Demolished,
    /// 已由他人使用
    OtherOccupant,
    /// 场所空置
    Vacant,
    /// 其他（须说明）
    Other,
}

impl PremisesFound {
    pub const ALL: [PremisesFound; 5] = [
        Self::Locked,
        Self::Demolished,
        Self::OtherOccupant,
        Self::Vacant,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Demolished => "demolished",
            Self::OtherOccupant => "other_occupant",
            Self::Vacant => "vacant",
            Self::Other => "other",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Locked => "大门紧锁、无人办公",
            Self::Demolished => "房屋已拆除",
            Self::OtherOccupant => "已由他人使用",
            Self::Vacant => "场所空置",
            Self::Other => "其他情况",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Locked => "Locked, nobody working",
            Self::Demolished => "Building demolished",
            Self::OtherOccupant => "Used by someone else",
            Self::Vacant => "Empty",
            Self::Other => "Other",
        }
    }
}

/// How the officers tried to reach the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContactWay {
    /// 拨打登记的联系电话
    Phone,
    /// 询问周边住户、商户
    Neighbour,
    /// 询问物业、村（社区）
    PropertyManager,
    /// 其他方式
    Other,
}

impl ContactWay {
    pub const ALL: [ContactWay; 4] = [
        Self::Phone,
        Self::Neighbour,
        Self::PropertyManager,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Neighbour => "neighbour",
            Self::PropertyManager => "property_manager",
            Self::Other => "other",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Phone => "拨打登记的联系电话",
            Self::Neighbour => "询问周边住户、商户",
            Self::PropertyManager => "询问物业、村（社区）",
            Self::Other => "其他方式",
        }
    }
}

/// One attempt to reach the company: how, whom, when, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactAttempt {
    pub way: ContactWay,
    /// The number called, the neighbour or office asked.
    pub whom: String,
    pub at: DateTime<Utc>,
    /// What came of it (无人接听、空号、称企业已搬离…).
    pub result: String,
}

/// 无法联系: the premises as found and every attempt to reach the company.
/// The photo at the registered address (with its GPS fix) is a record photo
/// of subject [`crate::record::PhotoSubject::Address`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnreachableEvidence {
    pub premises: PremisesFound,
    /// What the officers saw (required for [`PremisesFound::Other`]).
    #[serde(default)]
    pub description: String,
    pub observed_at: DateTime<Utc>,
    #[serde(default)]
    pub attempts: Vec<ContactAttempt>,
}

/// 未发现开展本次抽查涉及的经营活动: what the company does instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityNotFoundEvidence {
    /// What business the premises actually show (e.g. 现场仅从事仓储，
    /// 未从事认证活动).
    pub description: String,
}

/// 已关闭退出: what shows that the company has closed and on what ground.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClosedEvidence {
    /// What the officers found (停业公告、设备已搬空…).
    pub description: String,
    /// The ground: a deregistration, a notice, the company's statement.
    pub basis: String,
}

/// A witness of a refusal (见证人).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Witness {
    pub name: String,
    /// Unit, role or telephone: how the witness can be found again.
    pub contact: String,
}

/// 不配合检查（情节严重）: what was refused, the warning given, and who saw
/// it. The enterprise's refusal to sign is the record's
/// [`crate::record::SignatureRefusal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UncooperativeEvidence {
    /// What the company refused (拒绝进入现场、拒绝提供资料…).
    pub refused: String,
    /// The warning given of the legal consequences (告知拒绝、阻碍检查的
    /// 法律责任).
    pub warning: String,
    pub warned_at: DateTime<Utc>,
    pub witness: Witness,
}

/// Which case an [`Outcome`] is, without its evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    Normal,
    Unreachable,
    ActivityNotFound,
    Closed,
    Uncooperative,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 5] = [
        Self::Normal,
        Self::Unreachable,
        Self::ActivityNotFound,
        Self::Closed,
        Self::Uncooperative,
    ];

    /// The stable code (the serde tag of [`Outcome`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Unreachable => "unreachable",
            Self::ActivityNotFound => "activity_not_found",
            Self::Closed => "closed",
            Self::Uncooperative => "uncooperative",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Normal => "正常检查",
            Self::Unreachable => "通过登记的住所（经营场所）无法联系",
            Self::ActivityNotFound => "未发现开展本次抽查涉及的经营活动",
            Self::Closed => "已关闭退出",
            Self::Uncooperative => "不配合检查（情节严重）",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Normal => "Inspected",
            Self::Unreachable => "Unreachable at the registered address",
            Self::ActivityNotFound => "The activity inspected was not found",
            Self::Closed => "Closed or exited",
            Self::Uncooperative => "Refused to cooperate (serious)",
        }
    }

    /// Whether the case needs the officers on site (every case but a
    /// normal inspection: an off-site check of a standard cannot find a
    /// locked gate).
    pub fn needs_site_visit(self) -> bool {
        self != Self::Normal
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutcomeKind {
    type Err = crate::UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::UnknownCode::find("outcome", s, Self::ALL, Self::as_str)
    }
}

impl Outcome {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Self::Normal => OutcomeKind::Normal,
            Self::Unreachable(_) => OutcomeKind::Unreachable,
            Self::ActivityNotFound(_) => OutcomeKind::ActivityNotFound,
            Self::Closed(_) => OutcomeKind::Closed,
            Self::Uncooperative(_) => OutcomeKind::Uncooperative,
        }
    }

    pub fn is_normal(&self) -> bool {
        matches!(self, Self::Normal)
    }

    /// The result category the record publishes: the case itself when the
    /// target could not be inspected, else what the findings and their
    /// dispositions say.
    pub fn published_result(&self, findings: &[Finding]) -> PublishedResult {
        match self {
            Self::Unreachable(_) => PublishedResult::UnreachableAtRegisteredAddress,
            Self::ActivityNotFound(_) => PublishedResult::ActivityNotFound,
            Self::Closed(_) => PublishedResult::ClosedOrExited,
            Self::Uncooperative(_) => PublishedResult::SeriousNonCooperation,
            Self::Normal if findings.is_empty() => PublishedResult::NoProblemFound,
            Self::Normal => {
                let pending = findings.iter().any(|f| {
                    !matches!(
                        f.disposition,
                        Disposition::FixedOnSite { .. } | Disposition::RectificationOrder { .. }
                    )
                });
                if pending {
                    PublishedResult::ProblemPendingFurtherAction
                } else {
                    PublishedResult::ProblemOrderedCorrected
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-10T02:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn codes_are_the_serde_tags_and_parse_back() {
        let all = [
            Outcome::Normal,
            Outcome::Unreachable(UnreachableEvidence {
                premises: PremisesFound::Locked,
                description: String::new(),
                observed_at: at(),
                attempts: vec![],
            }),
            Outcome::ActivityNotFound(ActivityNotFoundEvidence {
                description: "x".into(),
            }),
            Outcome::Closed(ClosedEvidence {
                description: "x".into(),
                basis: "y".into(),
            }),
            Outcome::Uncooperative(UncooperativeEvidence {
                refused: "x".into(),
                warning: "y".into(),
                warned_at: at(),
                witness: Witness {
                    name: "张三".into(),
                    contact: "物业".into(),
                },
            }),
        ];
        for o in &all {
            let v = serde_json::to_value(o).unwrap();
            assert_eq!(v["kind"], o.kind().as_str());
            assert_eq!(o.kind().as_str().parse::<OutcomeKind>().unwrap(), o.kind());
            let back: Outcome = serde_json::from_value(v).unwrap();
            assert_eq!(&back, o);
        }
        let kinds: std::collections::BTreeSet<_> = all.iter().map(Outcome::kind).collect();
        assert_eq!(kinds.len(), OutcomeKind::ALL.len());
        for p in PremisesFound::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        for w in ContactWay::ALL {
            assert_eq!(serde_json::to_value(w).unwrap(), w.as_str());
        }
    }

    #[test]
    fn each_case_publishes_its_own_category() {
        let finding = |disposition| Finding {
            finding_id: Uuid::nil(),
            item_id: None,
            description: "x".into(),
            disposition,
        };
        assert_eq!(
            Outcome::Normal.published_result(&[]),
            PublishedResult::NoProblemFound
        );
        let fixed = finding(Disposition::FixedOnSite {
            description: "x".into(),
        });
        assert_eq!(
            Outcome::Normal.published_result(std::slice::from_ref(&fixed)),
            PublishedResult::ProblemOrderedCorrected
        );
        let case = finding(Disposition::CaseFiled { case_no: None });
        assert_eq!(
            Outcome::Normal.published_result(&[fixed, case]),
            PublishedResult::ProblemPendingFurtherAction
        );
        let closed = Outcome::Closed(ClosedEvidence {
            description: "x".into(),
            basis: "y".into(),
        });
        assert_eq!(
            closed.published_result(&[]),
            PublishedResult::ClosedOrExited
        );
    }
}
