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

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::TargetCategory;
use crate::par;
use crate::plan::{DrawPlan, MemberRole, TeamMember};
use crate::value::Sha256Hex;

pub const ALGORITHM_VERSION: u16 = 1;

/// One frozen target candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    /// USCC or standard number; the sort key.
    pub key: Box<str>,
    pub category: TargetCategory,
    /// 所属镇街. Shared between candidates: a directory has few towns.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub jurisdiction: Arc<str>,
}

/// A stratum's frozen candidate list, sorted ascending by key bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    digest_mod(&Sha256::digest(message.as_bytes()).into(), n)
}

/// A SHA-256 digest read as a big-endian 256-bit integer, modulo `n`.
fn digest_mod(digest: &[u8; 32], n: u64) -> u64 {
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

/// The digests of one sequence of picks: SHA-256(`prefix` + decimal(i)) for
/// i = 1, 2, … The hasher keeps its state after the prefix, so that a pick
/// hashes only its counter and no message string is built per pick.
#[derive(Clone)]
struct PickHashes(Sha256);

impl PickHashes {
    /// The prefix in parts, e.g. `[seed, ",", stratum_id, ","]`.
    fn new(prefix: &[&str]) -> Self {
        let mut h = Sha256::new();
        for part in prefix {
            h.update(part.as_bytes());
        }
        Self(h)
    }

    /// `seed,role,target_key,`: the picks of a target's team.
    fn team(seed: &str, role: &str, target_key: &str) -> Self {
        Self::new(&[seed, ",", role, ",", target_key, ","])
    }

    fn nth(&self, i: u64) -> [u8; 32] {
        let mut digits = [0u8; 20];
        let mut h = self.0.clone();
        h.update(decimal(i, &mut digits));
        h.finalize().into()
    }
}

/// `i` in decimal ASCII, written at the end of `buf` (a u64 has at most 20
/// digits).
fn decimal(mut i: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (i % 10) as u8;
        i /= 10;
        if i == 0 {
            return &buf[start..];
        }
    }
}

/// Picks above this many are checked against a bitmap, fewer by a scan.
const SCAN_AT_MOST: usize = 16;

/// The indices a sequence of picks has drawn. A team's few picks are
/// scanned; a stratum's many are kept in a bitmap of its list (n bits: less
/// than the list itself, and no hashing per pick as a set would need).
enum Drawn {
    Scan,
    Bits(Vec<u64>),
}

impl Drawn {
    fn new(n: usize, k: usize) -> Self {
        if k <= SCAN_AT_MOST {
            Self::Scan
        } else {
            Self::Bits(vec![0; n.div_ceil(64)])
        }
    }

    /// Records `idx`; false when it was drawn before (`picked` holds the
    /// sequence's picks so far).
    fn insert(&mut self, idx: usize, picked: &[usize]) -> bool {
        match self {
            Self::Scan => !picked.contains(&idx),
            Self::Bits(bits) => {
                let (word, bit) = (idx / 64, 1u64 << (idx % 64));
                let new = bits[word] & bit == 0;
                bits[word] |= bit;
                new
            }
        }
    }
}

/// Appends to `picked` `k` distinct indices into a list of `n`, in draw
/// order: the i-th digest modulo n for i = 1, 2, …, skipping an index
/// drawn before.
fn pick_distinct_into(
    picked: &mut Vec<usize>,
    n: usize,
    k: usize,
    mut digest: impl FnMut(u64) -> [u8; 32],
) {
    let start = picked.len();
    let mut drawn = Drawn::new(n, k);
    let mut i: u64 = 0;
    while picked.len() - start < k {
        i += 1;
        let idx = digest_mod(&digest(i), n as u64) as usize;
        if drawn.insert(idx, &picked[start..]) {
            picked.push(idx);
        }
    }
}

fn pick_distinct(n: usize, k: usize, digest: impl FnMut(u64) -> [u8; 32]) -> Vec<usize> {
    let mut picked = Vec::with_capacity(k);
    pick_distinct_into(&mut picked, n, k, digest);
    picked
}

/// Targets drawn from one stratum: indices into its sorted list.
pub fn draw_targets(seed: &str, stratum_id: &str, n: usize, k: usize) -> Vec<usize> {
    assert!(k <= n, "quota {k} exceeds {n} candidates");
    let hashes = PickHashes::new(&[seed, ",", stratum_id, ","]);
    pick_distinct(n, k, |i| hashes.nth(i))
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
    let hashes = PickHashes::team(seed, role, target_key);
    pick_distinct(eligible, m, |j| hashes.nth(j))
}

/// One drawn target and its team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// A drawn target whose team is still to be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TeamTarget<'t> {
    pub stratum_id: &'t str,
    pub key: &'t str,
    pub category: TargetCategory,
    pub jurisdiction: &'t str,
    /// Version 2: the upstream list of an assigned target.
    pub source: Option<&'t str>,
}

/// The digests of one target's team picks. The first m officer picks and
/// the expert's pick are hashed beforehand ([`hash_ahead`], on any thread);
/// an officer pick after a repeated one is hashed here.
struct TeamHashes<'h> {
    seed: &'h str,
    key: &'h str,
    /// Officer picks 1..=m, then the expert's pick when there is one.
    ahead: &'h [[u8; 32]],
    m: usize,
}

impl TeamHashes<'_> {
    fn officer(&self, j: u64) -> [u8; 32] {
        match usize::try_from(j) {
            Ok(j) if j <= self.m => self.ahead[j - 1],
            _ => PickHashes::team(self.seed, "officer", self.key).nth(j),
        }
    }

    fn expert(&self) -> [u8; 32] {
        self.ahead[self.m]
    }
}

/// Fills a target's [`TeamHashes::ahead`]: officer picks 1..=m, then the
/// expert's first pick (the only one it needs) if `out` has room for it.
fn hash_ahead(seed: &str, target_key: &str, m: usize, out: &mut [[u8; 32]]) {
    let officer = PickHashes::team(seed, "officer", target_key);
    for (j, digest) in out.iter_mut().take(m).enumerate() {
        *digest = officer.nth(j as u64 + 1);
    }
    if let Some(expert) = out.get_mut(m) {
        *expert = PickHashes::team(seed, "expert", target_key).nth(1);
    }
}

fn member(p: &PoolMember, role: MemberRole) -> TeamMember {
    TeamMember {
        role,
        person_id: p.id.clone(),
        name: p.name.clone(),
    }
}

/// Draws teams target after target under the team rules, keeping each
/// officer's load in the draw (version 1's second random; version 2 uses
/// it unchanged).
#[derive(Debug)]
pub struct TeamDrawer<'a> {
    rules: TeamRules,
    /// Enforcement officers, by dense index, as the team members they
    /// become: a seat clones one from this compact table (reading each
    /// officer's strings where the pool keeps them cost a cache miss).
    officers: Vec<TeamMember>,
    /// The town offices, by (unit, category): indices into `open`.
    offices: HashMap<(&'a str, TargetCategory), usize>,
    /// Per office, its officers still under the cap, sorted by credential
    /// number. For a target without recusals this is the eligible list
    /// itself: its length is the count and its idx-th entry the pick, so
    /// no target scans its office. Officers leave it at the cap.
    open: Vec<Vec<usize>>,
    /// Per officer, the offices whose lists hold them.
    offices_of: Vec<Vec<usize>>,
    /// Per category, the experts qualified for it, sorted by ID.
    experts: HashMap<TargetCategory, Vec<&'a PoolMember>>,
    recused_for: HashMap<&'a str, HashSet<&'a str>>,
    load: Vec<u32>,
}

impl<'a> TeamDrawer<'a> {
    pub fn new(inputs: &'a DrawInputs, rules: TeamRules) -> Self {
        Self::from_pools(&inputs.officers, &inputs.experts, &inputs.recusals, rules)
    }

    /// Indexes the pools once: the per-target work is then a look-up of
    /// one town office's open list.
    pub fn from_pools(
        officers: &'a [PoolMember],
        experts: &'a [PoolMember],
        recusals: &'a BTreeSet<(String, String)>,
        rules: TeamRules,
    ) -> Self {
        let officers: Vec<&PoolMember> = officers.iter().filter(|o| o.enforcement).collect();
        let mut offices: HashMap<(&str, TargetCategory), usize> = HashMap::new();
        let mut open: Vec<Vec<usize>> = Vec::new();
        let mut offices_of = vec![Vec::new(); officers.len()];
        for (i, o) in officers.iter().enumerate() {
            let Some(unit) = o.unit.as_deref() else {
                continue;
            };
            for c in &o.domains {
                let office = *offices.entry((unit, *c)).or_insert_with(|| {
                    open.push(Vec::new());
                    open.len() - 1
                });
                open[office].push(i);
                offices_of[i].push(office);
            }
        }
        for list in &mut open {
            // Stable: officers with the same credential number keep pool order.
            list.sort_by(|a, b| officers[*a].id.cmp(&officers[*b].id));
            if rules.officer_cap == 0 {
                // Nobody is ever under a cap of 0.
                list.clear();
            }
        }
        let mut sorted: Vec<&PoolMember> = experts.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let mut experts: HashMap<TargetCategory, Vec<&PoolMember>> = HashMap::new();
        for e in sorted {
            for c in &e.domains {
                experts.entry(*c).or_default().push(e);
            }
        }
        let mut recused_for: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (person, target) in recusals {
            recused_for
                .entry(target.as_str())
                .or_default()
                .insert(person.as_str());
        }
        let load = vec![0u32; officers.len()];
        Self {
            rules,
            officers: officers
                .iter()
                .map(|o| member(o, MemberRole::Officer))
                .collect(),
            offices,
            open,
            offices_of,
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
        let target = TeamTarget {
            stratum_id,
            key,
            category,
            jurisdiction,
            source: None,
        };
        let m = usize::from(self.rules.team_size);
        let mut ahead = vec![[0u8; 32]; m + usize::from(self.rules.with_expert)];
        hash_ahead(seed, key, m, &mut ahead);
        let hashes = TeamHashes {
            seed,
            key,
            ahead: &ahead,
            m,
        };
        let mut seats = Vec::with_capacity(m);
        let expert = self.seat(&target, &hashes, &mut seats)?;
        Ok(seats
            .iter()
            .map(|&o| self.officers[o].clone())
            .chain(expert.map(|e| member(e, MemberRole::Expert)))
            .collect())
    }

    /// The teams of `targets`, in draw order, as the draw's tasks; or every
    /// shortfall.
    ///
    /// Only seating depends on draw order (through the loads), and with the
    /// open lists it is a few operations per target. The work before and
    /// after it runs on every core: the tasks are made, the picks hashed,
    /// and the teams filled in.
    pub(crate) fn draw_all(
        &mut self,
        seed: &str,
        targets: &[TeamTarget<'_>],
    ) -> Result<Vec<DrawnTask>, Vec<Shortfall>> {
        let m = usize::from(self.rules.team_size);
        let per_target = m + usize::from(self.rules.with_expert);
        // The tasks with empty teams. Reading a key in the directory is a
        // cache miss per target; it is paid once here, and the hashing
        // below reads the copies, which lie together.
        let mut tasks = par::map_range(targets.len(), |i| {
            let t = &targets[i];
            DrawnTask {
                stratum_id: t.stratum_id.to_owned(),
                target_key: t.key.to_owned(),
                category: t.category,
                team: Vec::with_capacity(per_target),
                source: t.source.map(str::to_owned),
            }
        });
        let mut ahead = vec![[0u8; 32]; targets.len() * per_target];
        par::for_each_chunk_mut(&mut ahead, per_target, |i, out| {
            hash_ahead(seed, &tasks[i].target_key, m, out);
        });
        // Officers' pool indices, m per target; experts, one per target.
        let mut seats = Vec::with_capacity(targets.len() * m);
        let mut experts = Vec::new();
        let mut shortfalls = Vec::new();
        for (i, target) in targets.iter().enumerate() {
            // The task's copy of the key, near the others (the recusals are
            // looked up by it).
            let target = TeamTarget {
                key: &tasks[i].target_key,
                ..*target
            };
            let hashes = TeamHashes {
                seed,
                key: target.key,
                ahead: &ahead[i * per_target..(i + 1) * per_target],
                m,
            };
            match self.seat(&target, &hashes, &mut seats) {
                Ok(expert) => experts.extend(expert),
                Err(s) => shortfalls.push(s),
            }
        }
        if !shortfalls.is_empty() {
            return Err(shortfalls);
        }
        let officers = &self.officers;
        par::for_each_chunk_mut(&mut tasks, 1, |i, task| {
            let team = &mut task[0].team;
            team.extend(
                seats[i * m..(i + 1) * m]
                    .iter()
                    .map(|&o| officers[o].clone()),
            );
            team.extend(experts.get(i).map(|e| member(e, MemberRole::Expert)));
        });
        Ok(tasks)
    }

    /// Seats one target's team, the next in draw order: appends its officers
    /// (pool indices) to `seats`, raises their loads, and returns its expert
    /// when the plan wants one. On a shortfall nothing is appended; an
    /// expert shortfall leaves the officers' loads raised, as the draw
    /// always has.
    fn seat(
        &mut self,
        target: &TeamTarget<'_>,
        hashes: &TeamHashes<'_>,
        seats: &mut Vec<usize>,
    ) -> Result<Option<&'a PoolMember>, Shortfall> {
        let m = usize::from(self.rules.team_size);
        let start = seats.len();
        {
            let eligible = self.eligible(target);
            if eligible.len() < m {
                return Err(Shortfall::Officers {
                    stratum_id: target.stratum_id.to_owned(),
                    target_key: target.key.to_owned(),
                    needed: m,
                    eligible: eligible.len(),
                });
            }
            pick_distinct_into(seats, eligible.len(), m, |j| hashes.officer(j));
            for seat in &mut seats[start..] {
                *seat = eligible[*seat];
            }
        }
        for &o in &seats[start..] {
            self.add_task(o);
        }
        if !self.rules.with_expert {
            return Ok(None);
        }
        match self.expert(target, hashes) {
            Some(e) => Ok(Some(e)),
            None => {
                seats.truncate(start);
                Err(Shortfall::Expert {
                    stratum_id: target.stratum_id.to_owned(),
                    target_key: target.key.to_owned(),
                })
            }
        }
    }

    /// The officers eligible for a target, sorted by credential number: its
    /// office's open list, less anyone recused from the target (recusals are
    /// few, so only then is a list built).
    fn eligible(&self, target: &TeamTarget<'_>) -> Cow<'_, [usize]> {
        let open = self
            .offices
            .get(&(target.jurisdiction, target.category))
            .map_or(&[][..], |&office| &self.open[office]);
        match self.recused_for.get(target.key) {
            None => Cow::Borrowed(open),
            Some(recused) => Cow::Owned(
                open.iter()
                    .copied()
                    .filter(|&o| !recused.contains(self.officers[o].person_id.as_str()))
                    .collect(),
            ),
        }
    }

    /// One more task for officer `o`; at the cap they leave the open lists.
    fn add_task(&mut self, o: usize) {
        self.load[o] += 1;
        if self.load[o] == self.rules.officer_cap {
            for &office in &self.offices_of[o] {
                self.open[office].retain(|&other| other != o);
            }
        }
    }

    /// The target's expert: one of the experts qualified for its category
    /// and not recused from it, sorted by ID; `None` when there is none.
    fn expert(&self, target: &TeamTarget<'_>, hashes: &TeamHashes<'_>) -> Option<&'a PoolMember> {
        let qualified = self
            .experts
            .get(&target.category)
            .map_or(&[][..], Vec::as_slice);
        let eligible: Cow<'_, [&'a PoolMember]> = match self.recused_for.get(target.key) {
            None => Cow::Borrowed(qualified),
            Some(recused) => Cow::Owned(
                qualified
                    .iter()
                    .copied()
                    .filter(|e| !recused.contains(e.id.as_str()))
                    .collect(),
            ),
        };
        if eligible.is_empty() {
            return None;
        }
        Some(eligible[digest_mod(&hashes.expert(), eligible.len() as u64) as usize])
    }
}

/// The strata whose quota is above their candidates (`strata` in the
/// plan's strata order). Known as soon as the candidates are frozen, so
/// freezing refuses them rather than leaving a plan no seed can draw.
pub fn stratum_shortfalls(plan: &DrawPlan, strata: &[FrozenStratum]) -> Vec<Shortfall> {
    plan.strata
        .iter()
        .zip(strata)
        .filter_map(|(stratum, frozen)| {
            let n = frozen.candidates.len() as u64;
            let k = stratum.quota.size(n);
            (k > n).then(|| Shortfall::Stratum {
                stratum_id: stratum.id.clone(),
                quota: k,
                candidates: n,
            })
        })
        .collect()
}

/// Runs the whole draw. The plan must have passed [`DrawPlan::validate`] and
/// `inputs.strata` must follow the plan's strata order.
pub fn run(
    plan: &DrawPlan,
    seed: &str,
    inputs: &DrawInputs,
) -> Result<Vec<DrawnTask>, Vec<Shortfall>> {
    let shortfalls = stratum_shortfalls(plan, &inputs.strata);
    if !shortfalls.is_empty() {
        // Teams for a partial target list would be meaningless.
        return Err(shortfalls);
    }
    let strata: Vec<(&str, &FrozenStratum, usize)> = plan
        .strata
        .iter()
        .zip(&inputs.strata)
        .map(|(stratum, frozen)| {
            let k = stratum.quota.size(frozen.candidates.len() as u64);
            (stratum.id.as_str(), frozen, k as usize)
        })
        .collect();
    // The strata's picks do not depend on each other (only the teams depend
    // on draw order), so they are drawn in parallel.
    let picks = par::map_each(&strata, |&(stratum_id, frozen, k)| {
        draw_targets(seed, stratum_id, frozen.candidates.len(), k)
            .into_iter()
            .map(|idx| {
                let c = &frozen.candidates[idx];
                TeamTarget {
                    stratum_id,
                    key: &c.key,
                    category: c.category,
                    jurisdiction: &c.jurisdiction,
                    source: None,
                }
            })
            .collect::<Vec<_>>()
    });
    TeamDrawer::new(inputs, TeamRules::of(plan)).draw_all(seed, &picks.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a tiny deterministic generator, so every case replays.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n
        }
    }

    const TOWNS: [&str; 2] = ["西永街道", "曾家镇"];
    const CATEGORIES: [TargetCategory; 2] = [TargetCategory::Metrology, TargetCategory::Ccc];

    fn person(rng: &mut Rng, id: String, unit: Option<&str>) -> PoolMember {
        PoolMember {
            name: format!("name of {id}"),
            id,
            unit: unit.map(str::to_owned),
            domains: CATEGORIES
                .into_iter()
                .filter(|_| rng.below(4) != 0)
                .collect(),
            enforcement: rng.below(10) != 0,
        }
    }

    /// Pools of 4–19 officers (now and then two with one credential
    /// number), 0–2 experts, recusals; 0–29 targets; teams of 1–4, caps of
    /// 1–10, sometimes an expert.
    fn case(rng: &mut Rng) -> (TeamRules, DrawInputs, Vec<(String, TargetCategory, &str)>) {
        let mut officers: Vec<PoolMember> = (0..4 + rng.below(16))
            .map(|i| {
                let town = TOWNS[rng.below(2) as usize];
                person(rng, format!("渝5001{:03}", 197 - i * 7), Some(town))
            })
            .collect();
        if rng.below(5) == 0 {
            let twin = officers[0].id.clone();
            officers.last_mut().unwrap().id = twin;
        }
        let experts: Vec<PoolMember> = (0..rng.below(3))
            .map(|i| person(rng, format!("E{}", 9 - i), None))
            .collect();
        let targets: Vec<(String, TargetCategory, &str)> = (0..rng.below(30))
            .map(|i| {
                (
                    format!("K{i:03}"),
                    CATEGORIES[rng.below(2) as usize],
                    TOWNS[rng.below(2) as usize],
                )
            })
            .collect();
        let mut recusals = BTreeSet::new();
        for _ in 0..rng.below(6) {
            let people = officers.len() + experts.len();
            let p = rng.below(people as u64) as usize;
            let id = officers.iter().chain(&experts).nth(p).unwrap().id.clone();
            if let Some((key, _, _)) = targets.get(rng.below(30) as usize) {
                recusals.insert((id, key.clone()));
            }
        }
        let rules = TeamRules {
            team_size: 1 + rng.below(4) as u8,
            with_expert: rng.below(3) == 0,
            officer_cap: 1 + rng.below(10) as u32,
        };
        let inputs = DrawInputs {
            strata: Vec::new(),
            officers,
            experts,
            recusals,
        };
        (rules, inputs, targets)
    }

    /// `k` distinct picks from `n`, straight from the spec's words.
    fn pick(prefix: &str, n: usize, k: usize) -> Vec<usize> {
        let mut picked = Vec::new();
        let mut i = 0;
        while picked.len() < k {
            i += 1;
            let idx = hash_mod(&format!("{prefix}{i}"), n as u64) as usize;
            if !picked.contains(&idx) {
                picked.push(idx);
            }
        }
        picked
    }

    /// The teams as `docs/draw.md` states the rules, one target at a time:
    /// the whole pool filtered and sorted for every target.
    fn reference(
        rules: TeamRules,
        seed: &str,
        inputs: &DrawInputs,
        targets: &[TeamTarget<'_>],
    ) -> Result<Vec<DrawnTask>, Vec<Shortfall>> {
        let officers = &inputs.officers;
        let m = usize::from(rules.team_size);
        let mut load = vec![0u32; officers.len()];
        let (mut tasks, mut shortfalls) = (Vec::new(), Vec::new());
        for t in targets {
            let recused = |id: &str| inputs.recusals.contains(&(id.to_owned(), t.key.to_owned()));
            let mut eligible: Vec<usize> = (0..officers.len())
                .filter(|&i| {
                    let o = &officers[i];
                    o.enforcement
                        && o.unit.as_deref() == Some(t.jurisdiction)
                        && o.domains.contains(&t.category)
                        && load[i] < rules.officer_cap
                        && !recused(&o.id)
                })
                .collect();
            eligible.sort_by(|a, b| officers[*a].id.cmp(&officers[*b].id));
            if eligible.len() < m {
                shortfalls.push(Shortfall::Officers {
                    stratum_id: t.stratum_id.to_owned(),
                    target_key: t.key.to_owned(),
                    needed: m,
                    eligible: eligible.len(),
                });
                continue;
            }
            let prefix = format!("{seed},officer,{},", t.key);
            let mut team = Vec::new();
            for i in pick(&prefix, eligible.len(), m) {
                load[eligible[i]] += 1;
                team.push(member(&officers[eligible[i]], MemberRole::Officer));
            }
            if rules.with_expert {
                let mut experts: Vec<&PoolMember> = inputs
                    .experts
                    .iter()
                    .filter(|e| e.domains.contains(&t.category) && !recused(&e.id))
                    .collect();
                experts.sort_by(|a, b| a.id.cmp(&b.id));
                if experts.is_empty() {
                    shortfalls.push(Shortfall::Expert {
                        stratum_id: t.stratum_id.to_owned(),
                        target_key: t.key.to_owned(),
                    });
                    continue;
                }
                let prefix = format!("{seed},expert,{},", t.key);
                let e = experts[pick(&prefix, experts.len(), 1)[0]];
                team.push(member(e, MemberRole::Expert));
            }
            tasks.push(DrawnTask {
                stratum_id: t.stratum_id.to_owned(),
                target_key: t.key.to_owned(),
                category: t.category,
                team,
                source: t.source.map(str::to_owned),
            });
        }
        if shortfalls.is_empty() {
            Ok(tasks)
        } else {
            Err(shortfalls)
        }
    }

    #[test]
    fn teams_drawn_together_are_the_spec_s_teams_one_by_one() {
        let mut rng = Rng(20_261_207);
        let (mut drawn, mut short) = (0, 0);
        for case_no in 0..400 {
            let (rules, inputs, keys) = case(&mut rng);
            let seed = format!("seed-{case_no}");
            let targets: Vec<TeamTarget<'_>> = keys
                .iter()
                .map(|(key, category, town)| TeamTarget {
                    stratum_id: "S",
                    key,
                    category: *category,
                    jurisdiction: town,
                    source: None,
                })
                .collect();
            let want = reference(rules, &seed, &inputs, &targets);
            let got = TeamDrawer::new(&inputs, rules).draw_all(&seed, &targets);
            assert_eq!(got, want, "case {case_no}");
            // The one-target entry point agrees target by target.
            let mut one_by_one = TeamDrawer::new(&inputs, rules);
            for (i, t) in targets.iter().enumerate() {
                let team = one_by_one.draw(&seed, t.stratum_id, t.key, t.category, t.jurisdiction);
                if let Ok(tasks) = &want {
                    assert_eq!(team.as_ref(), Ok(&tasks[i].team), "case {case_no}");
                }
            }
            match want {
                Ok(_) => drawn += 1,
                Err(_) => short += 1,
            }
        }
        assert!(drawn > 100 && short > 100, "{drawn} drawn, {short} short");
    }
}
