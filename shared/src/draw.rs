//! The verifiable double-random draw, algorithm version 1 (`docs/draw.md`).
//!
//! Everything here is a pure function of public inputs (the frozen candidate
//! lists, the officer pool, the recusals, the plan and the seed), so anyone
//! can re-run a draw and compare. The algorithm is kept exactly as written
//! in the docs; changing it means a new [`ALGORITHM_VERSION`].
//!
//! * Targets: for stratum S with sorted list L (|L| = N) and quota k, for
//!   i = 1, 2, …: h = SHA-256(`seed,S,i`) as a big-endian integer,
//!   idx = h mod N, skip an index already drawn, stop at k distinct.
//! * Teams: for each drawn target T (strata in plan order, targets in draw
//!   order), the eligible officers sorted by credential number; for
//!   j = 1, 2, …: h = SHA-256(`seed,officer,T.key,j`), idx = h mod |E|, skip
//!   duplicates until m distinct. One expert likewise with `,expert,`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::TargetCategory;
use crate::plan::{DrawPlan, MemberRole, TeamMember};
use crate::value::Sha256Hex;

pub const ALGORITHM_VERSION: u16 = 1;

/// One frozen target candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// USCC or standard number; the sort key.
    pub key: Box<str>,
    pub category: TargetCategory,
    /// 所属镇街. Shared between candidates: a directory has few towns.
    pub jurisdiction: Arc<str>,
}

/// A stratum's frozen candidate list, sorted ascending by key bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenStratum {
    pub stratum_id: String,
    pub candidates: Vec<Candidate>,
}

impl FrozenStratum {
    /// Sorts by key as UTF-8 bytes (Rust's `str` order is byte order).
    pub fn new(stratum_id: String, mut candidates: Vec<Candidate>) -> Self {
        candidates.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Self {
            stratum_id,
            candidates,
        }
    }
}

/// A person in the drawable pool, as frozen with the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolMember {
    /// Credential number (officers) or expert id (experts); the sort key.
    pub id: String,
    pub name: String,
    /// Officers: their town/street office. Experts: `None` (zone-wide).
    pub unit: Option<String>,
    pub domains: BTreeSet<TargetCategory>,
    /// Enforcement officer (officers only; experts are never).
    pub enforcement: bool,
}

/// Everything a draw reads, frozen before the seed is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawInputs {
    pub strata: Vec<FrozenStratum>,
    pub officers: Vec<PoolMember>,
    pub experts: Vec<PoolMember>,
    /// `(person id, target key)` pairs that must never be drawn together.
    pub recusals: BTreeSet<(String, String)>,
}

/// SHA-256 over `key\tcategory\tjurisdiction\n` for every candidate of every
/// stratum in plan order (category as its code, e.g. `testing_body`).
pub fn snapshot_hash(strata: &[FrozenStratum]) -> Sha256Hex {
    // Lines are gathered into a 64 KiB buffer: feeding the hasher one short
    // line at a time costs more than the hashing itself.
    const FLUSH: usize = 64 * 1024;
    let mut h = Sha256::new();
    let mut buf = Vec::with_capacity(FLUSH + 512);
    for s in strata {
        for c in &s.candidates {
            buf.extend_from_slice(c.key.as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(c.category.code().as_bytes());
            buf.push(b'\t');
            buf.extend_from_slice(c.jurisdiction.as_bytes());
            buf.push(b'\n');
            if buf.len() >= FLUSH {
                h.update(&buf);
                buf.clear();
            }
        }
    }
    h.update(&buf);
    Sha256Hex::from_digest(h.finalize().into())
}

/// SHA-256 of `message` read as a big-endian 256-bit integer, modulo `n`.
pub fn hash_mod(message: &str, n: u64) -> u64 {
    let digest = Sha256::digest(message.as_bytes());
    let n = u128::from(n);
    // Horner's rule 64 bits at a time: r < n < 2^64, so r·2^64 + chunk
    // fits in 128 bits; four divisions instead of one per byte (the
    // divisions were most of a draw's time).
    digest.chunks_exact(8).fold(0u128, |r, chunk| {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        ((r << 64) | u128::from(u64::from_be_bytes(word))) % n
    }) as u64
}

/// Indices into a list of `n` candidates, in draw order: `k` distinct picks
/// driven by `prefix` + i for i = 1, 2, …
fn pick_distinct(
    prefix: &str,
    n: usize,
    k: usize,
    mut allowed: impl FnMut(usize) -> bool,
) -> Vec<usize> {
    let mut picked = Vec::with_capacity(k);
    let mut seen = HashSet::with_capacity(k);
    let mut message = String::with_capacity(prefix.len() + 20);
    let mut i: u64 = 0;
    while picked.len() < k {
        i += 1;
        message.clear();
        message.push_str(prefix);
        {
            use std::fmt::Write as _;
            let _ = write!(message, "{i}");
        }
        let idx = hash_mod(&message, n as u64) as usize;
        if seen.insert(idx) && allowed(idx) {
            picked.push(idx);
        }
    }
    picked
}

/// Targets drawn from one stratum: indices into its sorted list.
pub fn draw_targets(seed: &str, stratum_id: &str, n: usize, k: usize) -> Vec<usize> {
    assert!(k <= n, "quota {k} exceeds {n} candidates");
    pick_distinct(&format!("{seed},{stratum_id},"), n, k, |_| true)
}

/// Team members drawn for one target: indices into the sorted eligible list.
pub fn draw_team(
    seed: &str,
    role: &str,
    target_key: &str,
    eligible: usize,
    m: usize,
) -> Vec<usize> {
    assert!(m <= eligible, "team of {m} from {eligible} eligible");
    pick_distinct(&format!("{seed},{role},{target_key},"), eligible, m, |_| {
        true
    })
}

/// One drawn target and its team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawnTask {
    pub stratum_id: String,
    pub target_key: String,
    pub category: TargetCategory,
    pub team: Vec<TeamMember>,
    /// Version 2: the upstream list an assigned target comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Why a draw could not be completed. Every shortfall is listed; nothing is
/// saved when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shortfall {
    #[error("分层 {stratum_id} 需抽取 {quota} 个对象，但只有 {candidates} 个候选对象（缺 {short} 个）", short = quota - candidates)]
    Stratum {
        stratum_id: String,
        quota: u64,
        candidates: u64,
    },
    #[error(
        "检查对象 {target_key}（分层 {stratum_id}）需 {needed} 名执法人员，但符合条件（属地、领域、未回避、未超任务上限）的只有 {eligible} 名"
    )]
    Officers {
        stratum_id: String,
        target_key: String,
        needed: usize,
        eligible: usize,
    },
    #[error("检查对象 {target_key}（分层 {stratum_id}）需 1 名第三方专家，但没有符合条件的专家")]
    Expert {
        stratum_id: String,
        target_key: String,
    },
}

/// The plan's rules for teams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeamRules {
    /// Officers per team (m).
    pub team_size: u8,
    pub with_expert: bool,
    /// At most this many tasks per officer in the draw.
    pub officer_cap: u32,
}

impl TeamRules {
    pub fn of(plan: &DrawPlan) -> Self {
        Self {
            team_size: plan.team_size,
            with_expert: plan.with_expert,
            officer_cap: plan.officer_cap,
        }
    }
}

/// Draws teams target after target under the team rules, keeping each
/// officer's load in the draw (version 1's second random; version 2 uses
/// it unchanged).
#[derive(Debug)]
pub struct TeamDrawer<'a> {
    rules: TeamRules,
    /// Enforcement officers, by dense index.
    officers: Vec<&'a PoolMember>,
    /// Officers by (unit, category), each list sorted by credential number.
    by_unit: HashMap<(&'a str, TargetCategory), Vec<usize>>,
    /// Experts sorted by ID.
    experts: Vec<&'a PoolMember>,
    recused_for: HashMap<&'a str, HashSet<&'a str>>,
    load: Vec<u32>,
}

impl<'a> TeamDrawer<'a> {
    /// Indexes the pools once: the per-target work is then a scan of one
    /// town office's list.
    pub fn new(inputs: &'a DrawInputs, rules: TeamRules) -> Self {
        let officers: Vec<&PoolMember> = inputs.officers.iter().filter(|o| o.enforcement).collect();
        let mut by_unit: HashMap<(&str, TargetCategory), Vec<usize>> = HashMap::new();
        for (i, o) in officers.iter().enumerate() {
            if let Some(unit) = o.unit.as_deref() {
                for c in &o.domains {
                    by_unit.entry((unit, *c)).or_default().push(i);
                }
            }
        }
        for list in by_unit.values_mut() {
            list.sort_by(|a, b| officers[*a].id.cmp(&officers[*b].id));
        }
        let mut experts: Vec<&PoolMember> = inputs.experts.iter().collect();
        experts.sort_by(|a, b| a.id.cmp(&b.id));
        let mut recused_for: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (person, target) in &inputs.recusals {
            recused_for
                .entry(target.as_str())
                .or_default()
                .insert(person.as_str());
        }
        let load = vec![0u32; officers.len()];
        Self {
            rules,
            officers,
            by_unit,
            experts,
            recused_for,
            load,
        }
    }

    /// The team of one target (the next in draw order): its officers, each
    /// one's load raised, and its expert when the plan wants one.
    pub fn draw(
        &mut self,
        seed: &str,
        stratum_id: &str,
        key: &str,
        category: TargetCategory,
        jurisdiction: &str,
    ) -> Result<Vec<TeamMember>, Shortfall> {
        let m = usize::from(self.rules.team_size);
        let recused_here = self.recused_for.get(key);
        let recused = |id: &str| recused_here.is_some_and(|r| r.contains(id));
        let eligible: Vec<usize> = self
            .by_unit
            .get(&(jurisdiction, category))
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(|&i| self.load[i] < self.rules.officer_cap && !recused(&self.officers[i].id))
            .collect();
        if eligible.len() < m {
            return Err(Shortfall::Officers {
                stratum_id: stratum_id.to_owned(),
                target_key: key.to_owned(),
                needed: m,
                eligible: eligible.len(),
            });
        }
        let mut team: Vec<TeamMember> = Vec::with_capacity(m + 1);
        for i in draw_team(seed, "officer", key, eligible.len(), m) {
            self.load[eligible[i]] += 1;
            let o = self.officers[eligible[i]];
            team.push(TeamMember {
                role: MemberRole::Officer,
                person_id: o.id.clone(),
                name: o.name.clone(),
            });
        }
        if self.rules.with_expert {
            let eligible: Vec<&PoolMember> = self
                .experts
                .iter()
                .copied()
                .filter(|e| e.domains.contains(&category) && !recused(&e.id))
                .collect();
            if eligible.is_empty() {
                return Err(Shortfall::Expert {
                    stratum_id: stratum_id.to_owned(),
                    target_key: key.to_owned(),
                });
            }
            let e = eligible[draw_team(seed, "expert", key, eligible.len(), 1)[0]];
            team.push(TeamMember {
                role: MemberRole::Expert,
                person_id: e.id.clone(),
                name: e.name.clone(),
            });
        }
        Ok(team)
    }
}

/// Runs the whole draw. The plan must have passed [`DrawPlan::validate`] and
/// `inputs.strata` must follow the plan's strata order.
pub fn run(
    plan: &DrawPlan,
    seed: &str,
    inputs: &DrawInputs,
) -> Result<Vec<DrawnTask>, Vec<Shortfall>> {
    let mut shortfalls = Vec::new();
    let mut drawn: Vec<(&str, &Candidate)> = Vec::new();
    for (stratum, frozen) in plan.strata.iter().zip(&inputs.strata) {
        let n = frozen.candidates.len();
        let k = stratum.quota.size(n as u64);
        if k > n as u64 {
            shortfalls.push(Shortfall::Stratum {
                stratum_id: stratum.id.clone(),
                quota: k,
                candidates: n as u64,
            });
            continue;
        }
        for idx in draw_targets(seed, &stratum.id, n, k as usize) {
            drawn.push((&stratum.id, &frozen.candidates[idx]));
        }
    }
    if !shortfalls.is_empty() {
        // Teams for a partial target list would be meaningless.
        return Err(shortfalls);
    }
    let mut teams = TeamDrawer::new(inputs, TeamRules::of(plan));
    let mut tasks = Vec::with_capacity(drawn.len());
    for (stratum_id, target) in drawn {
        match teams.draw(
            seed,
            stratum_id,
            &target.key,
            target.category,
            &target.jurisdiction,
        ) {
            Ok(team) => tasks.push(DrawnTask {
                stratum_id: stratum_id.to_owned(),
                target_key: target.key.to_string(),
                category: target.category,
                team,
                source: None,
            }),
            Err(s) => shortfalls.push(s),
        }
    }
    if shortfalls.is_empty() {
        Ok(tasks)
    } else {
        Err(shortfalls)
    }
}
