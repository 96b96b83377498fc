//! Store benchmark: the latency of saving one verdict (one committed
//! transaction: draft update + log append, `synchronous = FULL`) with 1,000
//! inspections already in the store. Prints p50/p99/max.
//!
//! `cargo bench -p choucha-app-core --bench store`

use std::time::Instant;

use choucha_app_core::App;
use choucha_app_core::testkit::{offline_enrolment, seed_inspections};
use choucha_shared::checklist::Verdict;
use chrono::Utc;

fn main() {
    let root = tempfile::tempdir().expect("temp dir");
    let app = App::open(
        &root.path().join("data"),
        &root.path().join("key").join("device.key"),
    )
    .expect("open");
    offline_enrolment(&app).expect("enrol");
    let t = Instant::now();
    let ids = seed_inspections(&app, 1000).expect("seed");
    let seed_time = t.elapsed();
    let record = app.record(&ids[500]).expect("record");
    let checklist = app.checklist(&record.checklist).expect("checklist");
    let items: Vec<String> = checklist.items().map(|i| i.id.clone()).collect();

    let mut samples = Vec::with_capacity(2000);
    for i in 0..2000 {
        let id = &ids[i % ids.len()];
        let item = &items[i % items.len()];
        let verdict = if i % 2 == 0 {
            Verdict::Conform
        } else {
            Verdict::Nonconform
        };
        let t = Instant::now();
        app.set_item(
            id,
            item,
            Some(verdict),
            Some(format!("第{i}次核查")),
            Utc::now(),
        )
        .expect("set_item");
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    let db = std::fs::metadata(root.path().join("data").join("choucha-app.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "store benchmark: save one verdict with 1000 inspections ({} items each) in the store",
        items.len()
    );
    println!(
        "  seeding 1000 inspections     {:>8.2} s",
        seed_time.as_secs_f64()
    );
    println!(
        "  database size                {:>8.1} MiB",
        db as f64 / 1048576.0
    );
    println!("  save verdict p50             {:>8.3} ms", pct(0.50));
    println!("  save verdict p99             {:>8.3} ms", pct(0.99));
    println!(
        "  save verdict max             {:>8.3} ms",
        samples[samples.len() - 1]
    );
}
