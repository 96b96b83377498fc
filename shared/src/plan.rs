//! Draw plans, draw results and tasks (the two randoms of 双随机).
//!
//! Only the data lives here; the draw algorithm itself is specified in
//! `docs/draw.md` and implemented where the directory snapshot is built.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::TargetCategory;
use crate::checklist::ChecklistRef;
use crate::directory::{RiskClass, TargetKey};
use crate::value::{CivilDate, CredentialNo, Name};

/// How many targets a stratum draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Quota {
    /// Exactly this many.
    Count(u32),
    /// A share of the stratum: k = ceil(r × N).
    Ratio(f64),
    /// A share per credit-risk class (信用风险分类), algorithm version 2
    /// only: the stratum is split into one sub-stratum per class named,
    /// each drawing ⌈r × N⌉ of its class; classes not named, and targets
    /// of unknown class, are not drawn.
    ByRisk(BTreeMap<RiskClass, f64>),
}

impl Quota {
    /// Number of targets to draw from a stratum of `n` candidates. A
    /// per-risk quota has no single size: version 2 sizes each class's
    /// sub-stratum with [`Quota::ratio_size`], and version 1 plans cannot
    /// hold one ([`DrawPlan::validate`] refuses it), so it counts 0 here.
    pub fn size(&self, n: u64) -> u64 {
        match self {
            Quota::Count(k) => u64::from(*k),
            Quota::Ratio(r) => Self::ratio_size(*r, n),
            Quota::ByRisk(_) => 0,
        }
    }

    /// ⌈r × n⌉ in exact rational arithmetic over r's decimal form, so that
    /// `ceil(0.05 × 100)` is 5 (not 6 from floating-point rounding).
    pub fn ratio_size(r: f64, n: u64) -> u64 {
        // r has at most 6 decimals in any plan a person writes.
        let micro = (r * 1_000_000.0).round() as u64;
        (micro * n).div_ceil(1_000_000)
    }

    fn problem(&self) -> Option<&'static str> {
        let bad_ratio = |r: f64| !(r > 0.0 && r <= 1.0);
        match self {
            Quota::Count(0) => Some("quota must be at least 1"),
            Quota::Ratio(r) if bad_ratio(*r) => Some("ratio must be in (0, 1]"),
            Quota::ByRisk(m) if m.is_empty() => {
                Some("a per-risk quota must name at least one risk class")
            }
            Quota::ByRisk(m) if m.values().any(|r| bad_ratio(*r)) => {
                Some("every per-risk ratio must be in (0, 1]")
            }
            _ => None,
        }
    }
}

/// 团体标准 (`T/…`) or 企业标准 (`Q/…`), for strata of standards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StandardKind {
    /// 团体标准
    Group,
    /// 企业标准
    Enterprise,
}

impl StandardKind {
    /// The prefix of the standard number (its key).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Group => "T/",
            Self::Enterprise => "Q/",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Group => "团体标准",
            Self::Enterprise => "企业标准",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stratum {
    /// Stable, short, used in the draw hash input (e.g. `TB`, `PL-XY`).
    pub id: String,
    pub category: TargetCategory,
    /// Only targets of this town/street, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Name>,
    /// Version 2: only targets of these credit-risk classes, when set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_classes: Vec<RiskClass>,
    /// Version 2: only targets whose 行业代码 starts with one of these
    /// (GB/T 4754-2017 prefixes such as `C38`), when set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub industry_prefixes: Vec<String>,
    /// Version 2, standards only: 团体标准 or 企业标准.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_kind: Option<StandardKind>,
    pub quota: Quota,
}

impl Stratum {
    /// A stratum of one category with a quota and no filters.
    pub fn new(id: impl Into<String>, category: TargetCategory, quota: Quota) -> Self {
        Self {
            id: id.into(),
            category,
            jurisdiction: None,
            risk_classes: Vec::new(),
            industry_prefixes: Vec::new(),
            standard_kind: None,
            quota,
        }
    }

    /// Whether the stratum uses anything only version 2 knows.
    fn needs_v2(&self) -> bool {
        !self.risk_classes.is_empty()
            || !self.industry_prefixes.is_empty()
            || self.standard_kind.is_some()
            || matches!(self.quota, Quota::ByRisk(_))
    }
}

/// A target an upstream list (总局, 市局) names for inspection: it gets a
/// drawn team but no target draw (algorithm version 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssignedTarget {
    pub key: TargetKey,
    pub category: TargetCategory,
    /// The list, e.g. 总局2023年自愿性认证从业机构抽查名单.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrawPlan {
    #[serde(default = "crate::default_format")]
    pub format: u16,
    /// Version of the draw algorithm (`docs/draw.md`): 1 for plans written
    /// before version 2 existed (their draws must still verify), 2 for
    /// plans with risk filters, per-risk quotas, assigned targets or
    /// exclusions.
    #[serde(default = "algorithm_v1")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2))]
    pub algorithm: u16,
    /// Letters, digits, `-` and `_`, at most 64: it names files and
    /// printed records.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{1,64}$"))]
    pub plan_id: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub title: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub strata: Vec<Stratum>,
    /// Version 2: targets named by upstream lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assigned: Vec<AssignedTarget>,
    /// Version 2 (避免重复检查): a target with a current record of the same
    /// category inspected on or after this date is excluded at freeze.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_inspected_since: Option<CivilDate>,
    /// Officers per team; at least 2 (行政处罚法 Art. 42).
    #[cfg_attr(feature = "openapi", schema(minimum = 2, maximum = 255))]
    pub team_size: u8,
    /// Draw one third-party expert per team.
    pub with_expert: bool,
    /// At most this many tasks per officer in this plan.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub officer_cap: u32,
    /// Date by which inspections should be done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<CivilDate>,
}

fn algorithm_v1() -> u16 {
    1
}

/// Problems with a plan before anything is drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("team size {0} is below the legal minimum of 2 enforcement officers")]
    TeamTooSmall(u8),
    #[error("a plan needs at least one stratum")]
    NoStrata,
    #[error("stratum id '{0}' is used twice")]
    DuplicateStratum(String),
    #[error("stratum '{0}': {1}")]
    BadStratum(String, &'static str),
    #[error("officer cap must be at least 1")]
    ZeroCap,
    #[error("draw algorithm version {0} is not known (1 or 2)")]
    UnknownAlgorithm(u16),
    #[error("{0} needs draw algorithm version 2")]
    NeedsV2(String),
    #[error("assigned target {0}: {1}")]
    BadAssigned(String, &'static str),
}

impl DrawPlan {
    pub fn validate(&self) -> Result<(), Vec<PlanError>> {
        let mut errs = Vec::new();
        let v2 = self.algorithm == 2;
        if !matches!(self.algorithm, 1 | 2) {
            errs.push(PlanError::UnknownAlgorithm(self.algorithm));
        }
        if self.team_size < 2 {
            errs.push(PlanError::TeamTooSmall(self.team_size));
        }
        // A version-2 plan may consist of assigned targets only.
        if self.strata.is_empty() && (!v2 || self.assigned.is_empty()) {
            errs.push(PlanError::NoStrata);
        }
        if self.officer_cap == 0 {
            errs.push(PlanError::ZeroCap);
        }
        if !v2 {
            if !self.assigned.is_empty() {
                errs.push(PlanError::NeedsV2("assigned targets".into()));
            }
            if self.exclude_inspected_since.is_some() {
                errs.push(PlanError::NeedsV2("exclude_inspected_since".into()));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.strata {
            if !seen.insert(s.id.as_str()) {
                errs.push(PlanError::DuplicateStratum(s.id.clone()));
            }
            // `/` is reserved for the per-risk sub-strata (`S/A`).
            if s.id.is_empty()
                || s.id.contains([',', '/'])
                || s.id.chars().any(char::is_whitespace)
                || s.id == crate::draw_v2::ASSIGNED
            {
                errs.push(PlanError::BadStratum(
                    s.id.clone(),
                    "id must be non-empty with no commas, slashes or spaces, and not 'assigned'",
                ));
            }
            if let Some(p) = s.quota.problem() {
                errs.push(PlanError::BadStratum(s.id.clone(), p));
            }
            if !v2 && s.needs_v2() {
                errs.push(PlanError::NeedsV2(format!("stratum '{}'", s.id)));
            }
            if s.standard_kind.is_some() && s.category != TargetCategory::Standard {
                errs.push(PlanError::BadStratum(
                    s.id.clone(),
                    "standard kind applies to standards only",
                ));
            }
            if s.industry_prefixes.iter().any(|p| !industry_prefix_ok(p)) {
                errs.push(PlanError::BadStratum(
                    s.id.clone(),
                    "industry prefix must be a GB/T 4754-2017 section letter (A-T) and up to 4 digits",
                ));
            }
        }
        let mut assigned = std::collections::BTreeSet::new();
        for a in &self.assigned {
            if !assigned.insert((a.key.as_str(), a.category)) {
                errs.push(PlanError::BadAssigned(a.key.to_string(), "listed twice"));
            }
            if a.source.trim().is_empty() {
                errs.push(PlanError::BadAssigned(
                    a.key.to_string(),
                    "the list it comes from (来源) is required",
                ));
            }
            if a.source.contains(['\t', '\n', '\r']) {
                errs.push(PlanError::BadAssigned(
                    a.key.to_string(),
                    "来源 must be one line",
                ));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// `C`, `C38`, `C3823`: a section letter and at most four digits.
fn industry_prefix_ok(p: &str) -> bool {
    let mut chars = p.chars();
    chars.next().is_some_and(|c| ('A'..='T').contains(&c))
        && p.len() <= 5
        && chars.all(|c| c.is_ascii_digit())
}

/// Role of a team member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// 执法人员
    Officer,
    /// 第三方技术机构专家
    Expert,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamMember {
    pub role: MemberRole,
    /// Credential number for officers, expert id for experts.
    pub person_id: String,
    pub name: String,
}

impl TeamMember {
    pub fn officer(credential: &CredentialNo, name: &Name) -> Self {
        Self {
            role: MemberRole::Officer,
            person_id: credential.to_string(),
            name: name.to_string(),
        }
    }
}

/// One drawn target with its drawn team: what an inspection is done for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    #[serde(default = "crate::default_format")]
    pub format: u16,
    pub task_id: String,
    pub draw_id: String,
    pub stratum_id: String,
    pub target: TargetKey,
    pub category: TargetCategory,
    pub team: Vec<TeamMember>,
    pub checklist: ChecklistRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<CivilDate>,
    /// For an assigned target (algorithm version 2): the upstream list
    /// that named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Task {
    pub fn officers(&self) -> impl Iterator<Item = &TeamMember> {
        self.team.iter().filter(|m| m.role == MemberRole::Officer)
    }
}

/// The outcome of one draw, stored immutably. A redraw is a new draw that
/// names the one it replaces and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrawResult {
    #[serde(default = "crate::default_format")]
    pub format: u16,
    pub draw_id: String,
    pub plan_id: String,
    /// Version of the draw algorithm (see `docs/draw.md`).
    pub algorithm: u16,
    /// SHA-256 of the frozen candidate lists, published before the seed.
    pub snapshot_hash: String,
    /// The public seed, fixed after freezing.
    pub seed: String,
    pub seed_entered_by: String,
    pub seed_entered_at: chrono::DateTime<chrono::Utc>,
    pub tasks: Vec<Task>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Redraw>,
    /// Seats replaced after the draw (version 2), in order; the tasks'
    /// teams above already include them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replacements: Vec<SeatReplacement>,
}

/// One seat of a drawn team replaced (an officer fell ill, or a conflict
/// surfaced after the draw): an immutable amendment of the draw, re-derived
/// by verification (`docs/draw.md`, version 2, rule 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeatReplacement {
    /// r: 1 for the draw's first replacement, then 2, …
    pub seq: u32,
    pub task_id: String,
    pub target: TargetKey,
    pub category: TargetCategory,
    /// The credential number of the officer who left.
    pub leaving: String,
    pub joining: TeamMember,
    pub reason: String,
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Why a draw replaces an earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Redraw {
    pub draw_id: String,
    pub reason: String,
}

/// Stable key of a drawn team: its officers' credential numbers, sorted and
/// joined by `+`. Teams are drawn per task, so the same two officers on
/// several tasks are one team for the dashboard.
pub fn team_key(team: &[TeamMember]) -> String {
    let ids: std::collections::BTreeSet<&str> = team
        .iter()
        .filter(|m| m.role == MemberRole::Officer)
        .map(|m| m.person_id.as_str())
        .collect();
    ids.into_iter().collect::<Vec<_>>().join("+")
}

/// The team as people read it: officers' names in drawn order.
pub fn team_label(team: &[TeamMember]) -> String {
    team.iter()
        .filter(|m| m.role == MemberRole::Officer)
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_quota_is_exact_ceiling() {
        assert_eq!(Quota::Ratio(0.05).size(100), 5);
        assert_eq!(Quota::Ratio(0.05).size(101), 6);
        assert_eq!(Quota::Ratio(0.1).size(30), 3);
        assert_eq!(Quota::Ratio(1.0).size(7), 7);
        assert_eq!(Quota::Count(46).size(1000), 46);
    }

    #[test]
    fn plan_validation_lists_every_problem() {
        let plan = DrawPlan {
            format: 1,
            algorithm: 1,
            assigned: Vec::new(),
            exclude_inspected_since: None,
            plan_id: "2023-GX".into(),
            title: "2023年度质量、标准、计量、认证认可领域双随机抽查".into(),
            strata: vec![
                Stratum {
                    id: "TB".into(),
                    category: TargetCategory::TestingBody,
                    jurisdiction: None,
                    risk_classes: Vec::new(),
                    industry_prefixes: Vec::new(),
                    standard_kind: None,
                    quota: Quota::Count(0),
                },
                Stratum {
                    id: "TB".into(),
                    category: TargetCategory::Ccc,
                    jurisdiction: None,
                    risk_classes: Vec::new(),
                    industry_prefixes: Vec::new(),
                    standard_kind: None,
                    quota: Quota::Ratio(1.5),
                },
            ],
            team_size: 1,
            with_expert: false,
            officer_cap: 0,
            due: None,
        };
        let errs = plan.validate().unwrap_err();
        assert_eq!(errs.len(), 5, "{errs:?}");
        assert!(errs.contains(&PlanError::TeamTooSmall(1)));
    }
}
