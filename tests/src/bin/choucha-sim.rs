//! Runs the deterministic sync simulation (`choucha_tests::sim`) over many
//! seeds and prints what it did, or replays one seed with its trace.
//!
//!   choucha-sim [--postgres] [--first SEED] [--count N]   (default: seeds 1..=10000)
//!   choucha-sim [--postgres] --seed SEED                  (one schedule, with its trace)
//!
//! `--postgres`: two server instances on one database of a throwaway
//! PostgreSQL cluster (started from Debian's `postgresql` binaries) instead
//! of one on SQLite.

use std::time::Instant;

use anyhow::Context;

use choucha_tests::sim;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let topology = match args.iter().position(|a| a == "--postgres") {
        Some(i) => {
            args.remove(i);
            sim::Topology::PostgresPair
        }
        None => sim::Topology::Sqlite,
    };
    let value = |flag: &str| -> anyhow::Result<Option<u64>> {
        match args.iter().position(|a| a == flag) {
            Some(i) => Ok(Some(
                args.get(i + 1)
                    .with_context(|| format!("{flag} needs a number"))?
                    .parse()
                    .with_context(|| format!("{flag} needs a number"))?,
            )),
            None => Ok(None),
        }
    };
    if let Some(seed) = value("--seed")? {
        let template = sim::Template::new(topology).await?;
        let started = Instant::now();
        let out = sim::run(seed, &template).await;
        match out {
            Ok(out) => {
                for line in &out.trace {
                    println!("{line}");
                }
                println!(
                    "schedule {seed}: ok in {:.2} s; {} entries, {} blobs, {} record versions; faults {:?}",
                    started.elapsed().as_secs_f64(),
                    out.entries,
                    out.blobs,
                    out.records,
                    out.faults
                );
                return Ok(());
            }
            Err(e) => return Err(e.context(format!("schedule {seed} failed"))),
        }
    }
    let first = value("--first")?.unwrap_or(1);
    let count = value("--count")?.unwrap_or(10_000);
    let started = Instant::now();
    let (faults, total) = sim::run_many(topology, first, count).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{count} schedules (seeds {first}..={}) on {topology:?} passed in {secs:.1} s ({:.1} ms each)",
        first + count - 1,
        secs * 1000.0 / count as f64
    );
    println!(
        "{} model devices and the real tablet, {} rounds of {} faulty steps each then a healed network; {} log entries, {} blobs, {} record versions checked",
        sim::DEVICES,
        sim::ROUNDS,
        sim::STEPS,
        total.entries,
        total.blobs,
        total.records
    );
    println!("faults and events injected:");
    for (kind, n) in faults {
        println!("  {kind:<28} {n}");
    }
    Ok(())
}
