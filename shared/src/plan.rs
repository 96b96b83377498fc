//! Draw plans, draw results and tasks (the two randoms of 双随机).
//!
//! Only the data lives here; the draw algorithm itself is specified in
//! `docs/draw.md` and implemented where the directory snapshot is built.

use serde::{Deserialize, Serialize};

use crate::TargetCategory;
use crate::checklist::ChecklistRef;
use crate::directory::TargetKey;
use crate::value::{CivilDate, CredentialNo, Name};

/// How many targets a stratum draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Quota {
    /// Exactly this many.
    Count(u32),
    /// A share of the stratum: k = ceil(r × N).
    Ratio(f64),
}

impl Quota {
    /// Number of targets to draw from a stratum of `n` candidates. A ratio
    /// is computed in exact rational arithmetic over its decimal form, so
    /// that `ceil(0.05 × 100)` is 5 (not 6 from floating-point rounding).
    pub fn size(self, n: u64) -> u64 {
        match self {
            Quota::Count(k) => u64::from(k),
            Quota::Ratio(r) => {
                // r has at most 6 decimals in any plan a person writes.
                let micro = (r * 1_000_000.0).round() as u64;
                (micro * n).div_ceil(1_000_000)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stratum {
    /// Stable, short, used in the draw hash input (e.g. `TB`, `PL-XY`).
    pub id: String,
    pub category: TargetCategory,
    /// Only targets of this town/street, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Name>,
    pub quota: Quota,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrawPlan {
    #[serde(default = "crate::default_format")]
    pub format: u16,
    pub plan_id: String,
    pub title: String,
    pub strata: Vec<Stratum>,
    /// Officers per team; at least 2 (行政处罚法 Art. 42).
    pub team_size: u8,
    /// Draw one third-party expert per team.
    pub with_expert: bool,
    /// At most this many tasks per officer in this plan.
    pub officer_cap: u32,
    /// Date by which inspections should be done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<CivilDate>,
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
}

impl DrawPlan {
    pub fn validate(&self) -> Result<(), Vec<PlanError>> {
        let mut errs = Vec::new();
        if self.team_size < 2 {
            errs.push(PlanError::TeamTooSmall(self.team_size));
        }
        if self.strata.is_empty() {
            errs.push(PlanError::NoStrata);
        }
        if self.officer_cap == 0 {
            errs.push(PlanError::ZeroCap);
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.strata {
            if !seen.insert(s.id.as_str()) {
                errs.push(PlanError::DuplicateStratum(s.id.clone()));
            }
            if s.id.is_empty() || s.id.contains(',') || s.id.chars().any(char::is_whitespace) {
                errs.push(PlanError::BadStratum(
                    s.id.clone(),
                    "id must be non-empty with no commas or spaces",
                ));
            }
            match s.quota {
                Quota::Count(0) => errs.push(PlanError::BadStratum(
                    s.id.clone(),
                    "quota must be at least 1",
                )),
                Quota::Ratio(r) if !(r > 0.0 && r <= 1.0) => errs.push(PlanError::BadStratum(
                    s.id.clone(),
                    "ratio must be in (0, 1]",
                )),
                _ => {}
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}

/// Role of a team member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// 执法人员
    Officer,
    /// 第三方技术机构专家
    Expert,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Task {
    pub fn officers(&self) -> impl Iterator<Item = &TeamMember> {
        self.team.iter().filter(|m| m.role == MemberRole::Officer)
    }
}

/// The outcome of one draw, stored immutably. A redraw is a new draw that
/// names the one it replaces and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// Why a draw replaces an earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
            plan_id: "2023-GX".into(),
            title: "2023年度质量、标准、计量、认证认可领域双随机抽查".into(),
            strata: vec![
                Stratum {
                    id: "TB".into(),
                    category: TargetCategory::TestingBody,
                    jurisdiction: None,
                    quota: Quota::Count(0),
                },
                Stratum {
                    id: "TB".into(),
                    category: TargetCategory::Ccc,
                    jurisdiction: None,
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
