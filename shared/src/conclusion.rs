//! The conclusion of a walk-through (检查结论), from the verdicts and the
//! checklist's own rules.
//!
//! The rules are data in the checklist file (`[conclusion]`, see
//! `checklists/README.md`), because they differ between checklists: the
//! production-licence condition review fails on any 严重不合格 and on more
//! than a set number of 一般不合格, while a 符合/不符合 checklist fails on a
//! veto item (否决项) alone. [`conclude`] is pure and runs on the tablet
//! before sealing and on the server on receipt, so both show the same.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::checklist::{Checklist, Verdict};
use crate::record::ItemEntry;

/// When a veto item (否决项) fails the whole inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VetoRule {
    /// Any nonconforming verdict on a veto item (不符合, 一般不合格 or
    /// 严重不合格).
    Any,
    /// Only 严重不合格 on a veto item.
    Major,
}

/// How a checklist's verdicts decide the conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConclusionRules {
    /// When a veto item fails the inspection (none: the checklist has no
    /// veto items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veto: Option<VetoRule>,
    /// Whether any 严重不合格 fails the inspection.
    pub major_fails: bool,
    /// More nonconforming items than this fail the inspection; none: no
    /// limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonconforming_limit: Option<u32>,
}

impl Default for ConclusionRules {
    /// The rules of a checklist that states none: a failed veto item or
    /// any 严重不合格 fails the inspection; other findings are ordered to be
    /// rectified.
    fn default() -> Self {
        Self {
            veto: Some(VetoRule::Any),
            major_fails: true,
            nonconforming_limit: None,
        }
    }
}

/// Why an inspection failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum FailReason {
    /// A veto item (否决项) is nonconforming.
    Veto { item_id: String },
    /// An item is 严重不合格.
    Major { item_id: String },
    /// More nonconforming items than the checklist allows.
    TooMany { count: u32, limit: u32 },
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Veto { item_id } => write!(f, "否决项 {item_id} 不合格"),
            Self::Major { item_id } => write!(f, "检查项 {item_id} 严重不合格"),
            Self::TooMany { count, limit } => {
                write!(f, "不合格项 {count} 项，超过本检查表允许的 {limit} 项")
            }
        }
    }
}

/// The conclusion of a walk-through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "conclusion", rename_all = "snake_case")]
pub enum Conclusion {
    /// 合格（符合要求）: nothing nonconforming.
    Pass,
    /// 基本合格，存在问题须整改: nonconformities within what the rules
    /// allow, each with its finding and disposition.
    PassWithIssues { nonconforming: u32 },
    /// 不合格（不符合要求）, with every reason.
    Fail { reasons: Vec<FailReason> },
}

impl Conclusion {
    pub fn label_zh(&self) -> &'static str {
        match self {
            Self::Pass => "合格（符合要求）",
            Self::PassWithIssues { .. } => "基本合格，存在问题须整改",
            Self::Fail { .. } => "不合格（不符合要求）",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Self::Pass => "Pass",
            Self::PassWithIssues { .. } => "Pass, with issues to rectify",
            Self::Fail { .. } => "Fail",
        }
    }

    pub fn is_fail(&self) -> bool {
        matches!(self, Self::Fail { .. })
    }
}

/// The conclusion the verdicts given so far lead to under the checklist's
/// rules (items without a verdict count as not nonconforming, so the
/// tablet can show where an inspection is heading before it is complete).
pub fn conclude(items: &BTreeMap<String, ItemEntry>, checklist: &Checklist) -> Conclusion {
    let rules = checklist.conclusion_rules();
    let mut reasons = Vec::new();
    let mut nonconforming = 0u32;
    for item in checklist.items() {
        let Some(verdict) = items.get(&item.id).and_then(|e| e.verdict) else {
            continue;
        };
        if !verdict.is_nonconforming() {
            continue;
        }
        nonconforming += 1;
        let vetoed = item.veto
            && match rules.veto {
                Some(VetoRule::Any) => true,
                Some(VetoRule::Major) => verdict == Verdict::Major,
                None => false,
            };
        if vetoed {
            reasons.push(FailReason::Veto {
                item_id: item.id.clone(),
            });
        } else if rules.major_fails && verdict == Verdict::Major {
            reasons.push(FailReason::Major {
                item_id: item.id.clone(),
            });
        }
    }
    if let Some(limit) = rules.nonconforming_limit {
        if nonconforming > limit {
            reasons.push(FailReason::TooMany {
                count: nonconforming,
                limit,
            });
        }
    }
    match (reasons.is_empty(), nonconforming) {
        (false, _) => Conclusion::Fail { reasons },
        (true, 0) => Conclusion::Pass,
        (true, n) => Conclusion::PassWithIssues { nonconforming: n },
    }
}
