//! The verifiable draw, algorithm version 2 (`docs/draw.md`, "Version 2").
//!
//! What bureaus need beyond version 1: sampling ratios per credit-risk
//! class (信用风险分类), targets assigned by an upstream list (总局, 市局)
//! that get a drawn team but no target draw, targets excluded because they
//! were inspected recently (避免重复检查), and replacing one officer's seat
//! without redrawing the plan. Everything not said here is version 1
//! ([`crate::draw`]): the target picks, the team rules and the team picks
//! are the same functions. Version 1 is kept exactly as it is, so its stored
//! draws still verify.
//!
//! The candidates of a stratum arrive here already filtered (存续 targets
//! of the category matching the stratum's filters, minus assigned and
//! excluded targets): filtering is the freeze's work, and the snapshot hash
//! publishes its result.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::TargetCategory;
use crate::draw::{
    DrawnTask, PoolMember, Shortfall, TeamDrawer, TeamRules, TeamTarget, draw_targets, hash_mod,
};
use crate::par;
use crate::plan::{MemberRole, Quota, TeamMember};
use crate::value::{CivilDate, Sha256Hex};

pub const ALGORITHM_VERSION: u16 = 2;

/// The stratum ID of assigned targets' tasks (they are drawn from no
/// stratum; their [`DrawnTask::source`] says where they come from).
pub const ASSIGNED: &str = "assigned";

pub use crate::directory::RiskClass;

/// One frozen candidate, with its risk class when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    pub key: Box<str>,
    pub category: TargetCategory,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub jurisdiction: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskClass>,
}

/// A stratum's frozen candidates (filtered, sorted by key bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FrozenStratum {
    pub stratum_id: String,
    pub quota: Quota,
    pub candidates: Vec<Candidate>,
}

impl FrozenStratum {
    /// Sorts by key as UTF-8 bytes.
    pub fn new(stratum_id: String, quota: Quota, mut candidates: Vec<Candidate>) -> Self {
        candidates.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Self {
            stratum_id,
            quota,
            candidates,
        }
    }
}

/// A target named by an upstream list: inspected without a target draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assigned {
    pub key: Box<str>,
    pub category: TargetCategory,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub jurisdiction: Arc<str>,
    /// The list it comes from (总局2023年自愿性认证从业机构抽查名单…).
    pub source: String,
}

/// A target left out because it was inspected on or after the plan's
/// `exclude_inspected_since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Excluded {
    pub key: Box<str>,
    pub category: TargetCategory,
    /// The date of its latest inspection.
    pub inspected: CivilDate,
}

/// Everything a version-2 draw reads, frozen before the seed is known.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrawInputs2 {
    #[serde(default)]
    pub assigned: Vec<Assigned>,
    pub strata: Vec<FrozenStratum>,
    #[serde(default)]
    pub excluded: Vec<Excluded>,
    pub officers: Vec<PoolMember>,
    #[serde(default)]
    pub experts: Vec<PoolMember>,
    #[serde(default)]
    pub recusals: std::collections::BTreeSet<(String, String)>,
}

/// A (sub-)stratum as drawn: its ID, its sorted candidates, its quota.
#[derive(Debug, Clone, PartialEq)]
pub struct SubStratum<'a> {
    pub id: String,
    pub candidates: Vec<&'a Candidate>,
    pub k: u64,
}

/// The (sub-)strata of the draw in plan order: a per-risk stratum S is
/// split into `S/A`, `S/B`, `S/C`, `S/D` for the classes its quota names.
pub fn sub_strata(inputs: &DrawInputs2) -> Vec<SubStratum<'_>> {
    let mut out = Vec::new();
    for s in &inputs.strata {
        match &s.quota {
            Quota::Count(_) | Quota::Ratio(_) => out.push(SubStratum {
                id: s.stratum_id.clone(),
                candidates: s.candidates.iter().collect(),
                k: s.quota.size(s.candidates.len() as u64),
            }),
            Quota::ByRisk(ratios) => {
                // One pass over the stratum puts each candidate in the list
                // of its class (in key order, as the stratum is sorted).
                let mut by_class: [Option<Vec<&Candidate>>; RiskClass::ALL.len()] =
                    Default::default();
                for class in ratios.keys() {
                    by_class[*class as usize] = Some(Vec::new());
                }
                for c in &s.candidates {
                    if let Some(list) = c.risk.and_then(|class| by_class[class as usize].as_mut()) {
                        list.push(c);
                    }
                }
                for (class, r) in ratios {
                    let candidates = by_class[*class as usize].take().unwrap_or_default();
                    let k = Quota::ratio_size(*r, candidates.len() as u64);
                    out.push(SubStratum {
                        id: format!("{}/{}", s.stratum_id, class.code()),
                        candidates,
                        k,
                    });
                }
            }
        }
    }
    out
}

fn by_key_bytes<T>(items: &[T], key: impl Fn(&T) -> (&str, &str)) -> Vec<&T> {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by(|a, b| key(a).cmp(&key(b)));
    sorted
}

/// The version-2 snapshot hash: SHA-256 over the lines of `docs/draw.md`
/// (the version tag, the assigned targets, each (sub-)stratum with its N
/// and k and its candidates, the excluded targets), each ending in `\n`.
pub fn snapshot_hash(inputs: &DrawInputs2) -> Sha256Hex {
    let mut h = Sha256::new();
    write_snapshot(inputs, |chunk| h.update(chunk));
    Sha256Hex::from_digest(h.finalize().into())
}

/// The very lines [`snapshot_hash`] hashes, as a file anyone can download
/// and hash (`sha256sum` gives the published snapshot hash) and re-run the
/// draw on (`docs/draw_example.py --snapshot`).
pub fn snapshot_text(inputs: &DrawInputs2) -> Vec<u8> {
    let mut out = Vec::new();
    write_snapshot(inputs, |chunk| out.extend_from_slice(chunk));
    out
}

/// Writes the snapshot's lines to `sink` in chunks of about 64 KiB:
/// feeding a hasher (or formatting) one short line at a time cost more
/// than the hashing itself.
fn write_snapshot(inputs: &DrawInputs2, mut sink: impl FnMut(&[u8])) {
    const FLUSH: usize = 64 * 1024;
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH + 1024);
    let mut line = |parts: &[&str], sink: &mut dyn FnMut(&[u8])| {
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            buf.extend_from_slice(p.as_bytes());
        }
        buf.push(b'\n');
        if buf.len() >= FLUSH {
            sink(&buf);
            buf.clear();
        }
    };
    let sink: &mut dyn FnMut(&[u8]) = &mut sink;
    line(&["choucha-draw-v2"], sink);
    for a in by_key_bytes(&inputs.assigned, |a| (&a.key, a.category.code())) {
        line(
            &[
                "assigned",
                &a.key,
                a.category.code(),
                &a.jurisdiction,
                &a.source,
            ],
            sink,
        );
    }
    for s in sub_strata(inputs) {
        let (n, k) = (s.candidates.len().to_string(), s.k.to_string());
        line(&["stratum", &s.id, &n, &k], sink);
        for c in &s.candidates {
            line(
                &[
                    &c.key,
                    c.category.code(),
                    &c.jurisdiction,
                    c.risk.map_or("-", RiskClass::code),
                ],
                sink,
            );
        }
    }
    for e in by_key_bytes(&inputs.excluded, |e| (&e.key, e.category.code())) {
        let inspected = format!("inspected:{}", e.inspected);
        line(&["excluded", &e.key, e.category.code(), &inspected], sink);
    }
    sink(&buf);
}

/// The (sub-)strata whose quota is above their candidates, known as soon
/// as the inputs are frozen.
pub fn stratum_shortfalls(inputs: &DrawInputs2) -> Vec<Shortfall> {
    sub_strata(inputs)
        .iter()
        .filter(|s| s.k > s.candidates.len() as u64)
        .map(|s| Shortfall::Stratum {
            stratum_id: s.id.clone(),
            quota: s.k,
            candidates: s.candidates.len() as u64,
        })
        .collect()
}

/// Runs a version-2 draw: assigned targets (sorted by key bytes) first,
/// then each (sub-)stratum's picks in plan order; every target's team as
/// in version 1.
pub fn run(
    rules: TeamRules,
    seed: &str,
    inputs: &DrawInputs2,
) -> Result<Vec<DrawnTask>, Vec<Shortfall>> {
    let shortfalls = stratum_shortfalls(inputs);
    if !shortfalls.is_empty() {
        return Err(shortfalls);
    }
    let strata = sub_strata(inputs);
    let mut targets: Vec<TeamTarget<'_>> =
        by_key_bytes(&inputs.assigned, |a| (&a.key, a.category.code()))
            .into_iter()
            .map(|a| TeamTarget {
                stratum_id: ASSIGNED,
                key: &a.key,
                category: a.category,
                jurisdiction: &a.jurisdiction,
                source: Some(&a.source),
            })
            .collect();
    // The (sub-)strata's picks do not depend on each other (only the teams
    // depend on draw order), so they are drawn in parallel.
    let picks = par::map_each(&strata, |s| {
        draw_targets(seed, &s.id, s.candidates.len(), s.k as usize)
            .into_iter()
            .map(|idx| {
                let c = s.candidates[idx];
                TeamTarget {
                    stratum_id: &s.id,
                    key: &c.key,
                    category: c.category,
                    jurisdiction: &c.jurisdiction,
                    source: None,
                }
            })
            .collect::<Vec<_>>()
    });
    targets.extend(picks.into_iter().flatten());
    TeamDrawer::from_pools(&inputs.officers, &inputs.experts, &inputs.recusals, rules)
        .draw_all(seed, &targets)
}

/// One seat replaced after the draw: on task `target_key`, `leaving` gave
/// way to `joining`. Immutable once recorded, in the order recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Replacement {
    pub target_key: String,
    pub category: TargetCategory,
    pub leaving: String,
    pub joining: TeamMember,
}

/// Why a seat cannot be replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplaceError {
    #[error("抽取结果中没有检查对象 {0}")]
    NoSuchTask(String),
    #[error("{person} 不在检查对象 {target_key} 的检查组中")]
    NotOnTeam { target_key: String, person: String },
    #[error(
        "检查对象 {target_key} 没有可替换 {person} 的执法人员（属地、领域、未回避、未超任务上限且不在本组）"
    )]
    NoneEligible { target_key: String, person: String },
}

/// The tasks with every replacement applied in order.
pub fn current_teams(tasks: &[DrawnTask], replacements: &[Replacement]) -> Vec<DrawnTask> {
    let mut out = tasks.to_vec();
    for r in replacements {
        if let Some(t) = out
            .iter_mut()
            .find(|t| t.target_key == r.target_key && t.category == r.category)
        {
            if let Some(seat) = t.team.iter_mut().find(|m| m.person_id == r.leaving) {
                *seat = r.joining.clone();
            }
        }
    }
    out
}

/// The next replacement of a draw (its `replacements.len() + 1`-th): who
/// takes `leaving`'s seat on the task of `target_key`. The officers eligible
/// for the task under version 1's rules — with the loads of the draw after
/// every earlier replacement, `leaving`'s lowered by one — and not on its
/// current team, sorted by credential bytes; the pick is
/// SHA-256(`seed,replace,key,leaving,r`) mod their number.
#[allow(clippy::too_many_arguments)]
pub fn replace_seat(
    rules: TeamRules,
    seed: &str,
    inputs: &DrawInputs2,
    tasks: &[DrawnTask],
    replacements: &[Replacement],
    target_key: &str,
    category: TargetCategory,
    leaving: &str,
) -> Result<Replacement, ReplaceError> {
    let current = current_teams(tasks, replacements);
    let task = current
        .iter()
        .find(|t| t.target_key == target_key && t.category == category)
        .ok_or_else(|| ReplaceError::NoSuchTask(target_key.to_owned()))?;
    if !task
        .team
        .iter()
        .any(|m| m.role == MemberRole::Officer && m.person_id == leaving)
    {
        return Err(ReplaceError::NotOnTeam {
            target_key: target_key.to_owned(),
            person: leaving.to_owned(),
        });
    }
    let jurisdiction = inputs
        .assigned
        .iter()
        .filter(|a| &*a.key == target_key && a.category == category)
        .map(|a| &a.jurisdiction)
        .chain(
            inputs
                .strata
                .iter()
                .flat_map(|s| &s.candidates)
                .filter(|c| &*c.key == target_key && c.category == category)
                .map(|c| &c.jurisdiction),
        )
        .next()
        .ok_or_else(|| ReplaceError::NoSuchTask(target_key.to_owned()))?;
    let mut load: BTreeMap<&str, u32> = BTreeMap::new();
    for t in &current {
        for m in t.team.iter().filter(|m| m.role == MemberRole::Officer) {
            *load.entry(&m.person_id).or_default() += 1;
        }
    }
    if let Some(l) = load.get_mut(leaving) {
        *l = l.saturating_sub(1);
    }
    let on_team = |id: &str| task.team.iter().any(|m| m.person_id == id);
    let recused = |id: &str| {
        inputs
            .recusals
            .contains(&(id.to_owned(), target_key.to_owned()))
    };
    let mut eligible: Vec<&PoolMember> = inputs
        .officers
        .iter()
        .filter(|o| {
            o.enforcement
                && o.unit.as_deref() == Some(&**jurisdiction)
                && o.domains.contains(&category)
                && load.get(o.id.as_str()).copied().unwrap_or(0) < rules.officer_cap
                && !recused(&o.id)
                && !on_team(&o.id)
        })
        .collect();
    eligible.sort_by(|a, b| a.id.cmp(&b.id));
    if eligible.is_empty() {
        return Err(ReplaceError::NoneEligible {
            target_key: target_key.to_owned(),
            person: leaving.to_owned(),
        });
    }
    let r = replacements.len() + 1;
    let idx = hash_mod(
        &format!("{seed},replace,{target_key},{leaving},{r}"),
        eligible.len() as u64,
    ) as usize;
    let o = eligible[idx];
    Ok(Replacement {
        target_key: target_key.to_owned(),
        category,
        leaving: leaving.to_owned(),
        joining: TeamMember {
            role: MemberRole::Officer,
            person_id: o.id.clone(),
            name: o.name.clone(),
        },
    })
}
