//! Draw benchmark: a synthetic directory of 10 million targets in five
//! strata over 100 towns, 20,000 officers; draw 5 % of each stratum with teams
//! of two. Prints the time of each phase and the process's peak memory.
//!
//! `cargo bench -p choucha-shared --bench draw` (set CHOUCHA_BENCH_TARGETS to
//! change the size). Results are recorded in docs/benchmarks.md.

use std::sync::Arc;
use std::time::Instant;

use choucha_shared::TargetCategory;
use choucha_shared::draw::{self, Candidate, DrawInputs, FrozenStratum, PoolMember};
use choucha_shared::plan::{DrawPlan, Quota, Stratum};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
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
        plan_id: "BENCH".into(),
        title: "benchmark".into(),
        strata: categories
            .iter()
            .enumerate()
            .map(|(i, c)| Stratum {
                id: format!("S{i}"),
                category: *c,
                jurisdiction: None,
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
        "  draw targets + teams    {:>8.2} s  ({} tasks)",
        drawing.as_secs_f64(),
        tasks.len()
    );
    println!("  peak RSS                {:>8.0} MiB", peak_rss_mib());
}
