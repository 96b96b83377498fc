//! Draw benchmark: a synthetic directory of 10 million targets in five
//! strata over 100 towns, 20,000 officers; draw 5 % of each stratum with teams
//! of two (algorithm version 1). Then, in the same run, version 2 over the
//! same targets with a credit-risk class each: per-risk quotas (A 2 %, B 5 %,
//! C 10 %, D 30 %) and 100,000 targets excluded as recently inspected.
//! Prints the time of each phase, a fingerprint of each draw's tasks (the
//! same fingerprint: the same draw) and the process's memory.
//!
//! `cargo bench -p choucha-shared --bench draw` (set CHOUCHA_BENCH_TARGETS to
//! change the size). Results are recorded in docs/benchmarks.md.

use std::sync::Arc;
use std::time::Instant;

use choucha_shared::TargetCategory;
use choucha_shared::draw::{self, Candidate, DrawInputs, FrozenStratum, PoolMember, TeamRules};
use choucha_shared::draw_v2::{self, DrawInputs2, Excluded, RiskClass};
use choucha_shared::plan::{DrawPlan, Quota, Stratum};

/// A memory figure of this process from `/proc/self/status` (`VmHWM`: the
/// peak, `VmRSS`: now), in MiB.
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// SHA-256 over every task's stratum, target and team, in draw order: two
/// runs (or two versions of the code) drew the same when these agree.
fn fingerprint(tasks: &[draw::DrawnTask]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for t in tasks {
        h.update(t.stratum_id.as_bytes());
        h.update(b"\t");
        h.update(t.target_key.as_bytes());
        for m in &t.team {
            h.update(b"\t");
            h.update(m.person_id.as_bytes());
        }
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Resets the peak (`VmHWM`) to the current size, so that the next phase's
/// peak is its own (Linux: writing 5 to `clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A cheap deterministic generator (SplitMix64): the benchmark needs
/// well-spread keys, not cryptographic randomness.
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn main() {
    let total: usize = std::env::var("CHOUCHA_BENCH_TARGETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let categories = [
        TargetCategory::ProductionLicence,
        TargetCategory::TestingBody,
        TargetCategory::Ccc,
        TargetCategory::VoluntaryCertification,
        TargetCategory::Metrology,
    ];
    let towns: Vec<Arc<str>> = (0..100).map(|i| Arc::from(format!("镇街{i:03}"))).collect();

    let t = Instant::now();
    let mut rng = Mix(2023);
    let alphabet = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut strata: Vec<Vec<Candidate>> =
        vec![Vec::with_capacity(total / categories.len() + 1); categories.len()];
    for i in 0..total {
        // USCC-shaped keys (18 characters); the check digit is irrelevant here.
        let mut key = String::with_capacity(18);
        key.push_str("915001");
        let mut r = rng.next();
        for _ in 0..12 {
            key.push(alphabet[(r % 31) as usize] as char);
            r /= 31;
        }
        let c = i % categories.len();
        strata[c].push(Candidate {
            key: key.into_boxed_str(),
            category: categories[c],
            jurisdiction: towns[(rng.next() % 100) as usize].clone(),
        });
    }
    let generate = t.elapsed();

    let t = Instant::now();
    let frozen: Vec<FrozenStratum> = strata
        .into_iter()
        .enumerate()
        .map(|(i, c)| FrozenStratum::new(format!("S{i}"), c))
        .collect();
    let sort = t.elapsed();
    let t = Instant::now();
    let hash = draw::snapshot_hash(&frozen);
    let hashing = t.elapsed();

    let officers: Vec<PoolMember> = (0..20_000)
        .map(|i| PoolMember {
            id: format!("渝5001{i:07}"),
            name: format!("执法员{i}"),
            unit: Some(towns[i % 100].to_string()),
            domains: categories.iter().copied().collect(),
            enforcement: true,
        })
        .collect();
    let plan = DrawPlan {
        format: 1,
        algorithm: 1,
        assigned: Vec::new(),
        exclude_inspected_since: None,
        plan_id: "BENCH".into(),
        title: "benchmark".into(),
        strata: categories
            .iter()
            .enumerate()
            .map(|(i, c)| Stratum {
                id: format!("S{i}"),
                category: *c,
                jurisdiction: None,
                risk_classes: Vec::new(),
                industry_prefixes: Vec::new(),
                standard_kind: None,
                quota: Quota::Ratio(0.05),
            })
            .collect(),
        team_size: 2,
        with_expert: false,
        officer_cap: 60,
        due: None,
    };
    let inputs = DrawInputs {
        strata: frozen,
        officers,
        experts: vec![],
        recusals: Default::default(),
    };

    let t = Instant::now();
    let tasks = draw::run(&plan, "20231229093000415926535897", &inputs).expect("draw succeeds");
    let drawing = t.elapsed();

    println!(
        "draw benchmark: {total} targets, 5 strata, 100 towns, 20000 officers, 5% per stratum, teams of 2"
    );
    println!(
        "  generate directory      {:>8.2} s",
        generate.as_secs_f64()
    );
    println!("  freeze: sort by key     {:>8.2} s", sort.as_secs_f64());
    println!(
        "  freeze: snapshot hash   {:>8.2} s  ({hash})",
        hashing.as_secs_f64()
    );
    println!(
        "  draw targets + teams    {:>8.2} s  ({} tasks, {})",
        drawing.as_secs_f64(),
        tasks.len(),
        fingerprint(&tasks)
    );
    println!("  peak RSS                {:>8.0} MiB", peak_rss_mib());

    // ---- Version 2 over the same directory.
    let t = Instant::now();
    let class = |key: &str| {
        // A fixed share per class: 40 % A, 30 % B, 20 % C, 10 % D.
        let h = key
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        match h % 10 {
            0..=3 => RiskClass::A,
            4..=6 => RiskClass::B,
            7 | 8 => RiskClass::C,
            _ => RiskClass::D,
        }
    };
    let mut excluded = Vec::with_capacity(100_000);
    let mut strata2 = Vec::with_capacity(inputs.strata.len());
    let per_stratum = 100_000usize.div_ceil(inputs.strata.len());
    let inspected = choucha_shared::CivilDate::parse("2026-06-30").expect("a date");
    for s in &inputs.strata {
        let step = (s.candidates.len() / per_stratum).max(1);
        let mut candidates = Vec::with_capacity(s.candidates.len());
        for (i, c) in s.candidates.iter().enumerate() {
            if i % step == 0 && excluded.len() < 100_000 {
                excluded.push(Excluded {
                    key: c.key.clone(),
                    category: c.category,
                    inspected,
                });
                continue;
            }
            candidates.push(draw_v2::Candidate {
                key: c.key.clone(),
                category: c.category,
                jurisdiction: c.jurisdiction.clone(),
                risk: Some(class(&c.key)),
            });
        }
        let quota = Quota::ByRisk(
            [
                (RiskClass::A, 0.02),
                (RiskClass::B, 0.05),
                (RiskClass::C, 0.1),
                (RiskClass::D, 0.3),
            ]
            .into(),
        );
        // Already in key order: the freeze kept the v1 order.
        strata2.push(draw_v2::FrozenStratum {
            stratum_id: s.stratum_id.clone(),
            quota,
            candidates,
        });
    }
    let inputs2 = DrawInputs2 {
        assigned: Vec::new(),
        strata: strata2,
        excluded,
        officers: inputs.officers.clone(),
        experts: Vec::new(),
        recusals: Default::default(),
    };
    drop(inputs);
    let freeze2 = t.elapsed();
    let t = Instant::now();
    let hash2 = draw_v2::snapshot_hash(&inputs2);
    let hashing2 = t.elapsed();
    // Per-risk quotas draw more than 5 % (7.3 % here): the cap leaves room.
    let rules = TeamRules {
        team_size: 2,
        with_expert: false,
        officer_cap: 100,
    };
    let before = status_mib("VmRSS:");
    reset_peak();
    let t = Instant::now();
    let tasks2 =
        draw_v2::run(rules, "20231229093000415926535897", &inputs2).expect("v2 draw succeeds");
    let drawing2 = t.elapsed();
    let peak = peak_rss_mib();
    println!(
        "version 2: the same targets with a risk class each, per-risk quotas A 2% B 5% C 10% D 30%, {} excluded",
        inputs2.excluded.len()
    );
    println!(
        "  freeze: classes, exclusions {:>8.2} s",
        freeze2.as_secs_f64()
    );
    println!(
        "  freeze: snapshot hash v2   {:>8.2} s  ({hash2})",
        hashing2.as_secs_f64()
    );
    println!(
        "  draw targets + teams       {:>8.2} s  ({} tasks, {})",
        drawing2.as_secs_f64(),
        tasks2.len(),
        fingerprint(&tasks2)
    );
    println!(
        "  memory: {before:.0} MiB before the draw, peak {peak:.0} MiB during it ({:.0} MiB for the draw itself)",
        peak - before
    );
}
