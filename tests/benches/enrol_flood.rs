//! Pushes while enrolment codes are guessed at a high rate: eight devices
//! push one log entry at a time against a release server on SQLite (the
//! demo data), first for a quiet period, then for the same period while 32
//! clients (behind a trusted proxy, each from its own address) send wrong
//! codes as fast as they can. Reports push latency p50/p99 side by side and
//! the flood's rate and answers (422 wrong code, 429 slowed). A wrong code
//! is answered from reads alone, so pushes keep their latency.
//!
//! ```sh
//! cargo bench -p choucha-tests --bench enrol_flood
//! ```
//!
//! Without `--bench` (`cargo test --benches`) it is a 2-second smoke run.
//! Results: `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use choucha_shared::record::ItemEntry;
use choucha_shared::sync::EntryPayload;
use choucha_tests::TestServer;
use choucha_tests::device::{self, SimDevice};

const DEVICES: usize = 8;
const GUESSERS: usize = 32;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Every device pushes one entry after another until `stop`; the latency
/// of each push.
async fn push_for(
    devices: Vec<SimDevice>,
    record_ids: &[Uuid],
    period: Duration,
) -> (Vec<SimDevice>, Vec<Duration>) {
    let stop = Instant::now() + period;
    let mut all = Vec::new();
    let mut handles = Vec::new();
    for (mut dev, record_id) in devices.into_iter().zip(record_ids) {
        let record_id = *record_id;
        handles.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut n = 0u64;
            while Instant::now() < stop {
                n += 1;
                dev.append(
                    EntryPayload::ItemSet {
                        record_id,
                        item_id: "MET-1.01".into(),
                        entry: ItemEntry {
                            verdict: None,
                            note: Some(format!("第 {n} 次记录")),
                        },
                    },
                    Utc::now(),
                );
                let t = Instant::now();
                dev.sync_log().await.expect("push");
                times.push(t.elapsed());
            }
            (dev, times)
        }));
    }
    let mut devices = Vec::new();
    for h in handles {
        let (dev, times) = h.await.expect("pusher");
        devices.push(dev);
        all.extend(times);
    }
    all.sort();
    (devices, all)
}

fn main() -> anyhow::Result<()> {
    let bench = std::env::args().any(|a| a == "--bench");
    let period = Duration::from_secs(if bench { 20 } else { 2 });
    let server =
        TestServer::start_demo_with_env(None, &[("CHOUCHA_TRUSTED_PROXIES", "127.0.0.1")])?;
    println!(
        "enrol_flood: server at {} (SQLite), {DEVICES} pushing devices, {GUESSERS} guessing clients, {} s per phase",
        server.base_url,
        period.as_secs()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let http = reqwest::Client::new();
        let draw: Value = http
            .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
            .bearer_auth(server.token())
            .send()
            .await?
            .json()
            .await?;
        let tasks = draw["tasks"].as_array().cloned().unwrap_or_default();
        let mut devices = Vec::new();
        let mut records = Vec::new();
        for t in tasks.iter().take(DEVICES) {
            let officer = t["team"][0]["person_id"].as_str().unwrap_or_default();
            let mut dev = device::enrol(&http, &server.base_url, server.token(), officer).await?;
            let record_id = Uuid::now_v7();
            dev.append(
                EntryPayload::Started {
                    record_id,
                    task_id: t["task_id"].as_str().unwrap_or_default().to_owned(),
                    started_at: Utc::now(),
                },
                Utc::now(),
            );
            dev.sync_log().await?;
            devices.push(dev);
            records.push(record_id);
        }

        let (devices, quiet) = push_for(devices, &records, period).await;

        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let mut guessers = Vec::new();
        for g in 0..GUESSERS {
            let (stop, sent, url) = (stop.clone(), sent.clone(), server.url("/api/v1/device/enrol"));
            guessers.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut answers: BTreeMap<u16, u64> = BTreeMap::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let status = http
                        .post(&url)
                        .header("x-forwarded-for", format!("10.9.{g}.{}", n % 250))
                        .json(&json!({ "code": format!("G{g:02}{n:02}-2222-2222"), "device_name": "x" }))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    *answers.entry(status).or_default() += 1;
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                answers
            }));
        }
        let started = Instant::now();
        let (_, flooded) = push_for(devices, &records, period).await;
        stop.store(true, Ordering::Relaxed);
        let flood_secs = started.elapsed().as_secs_f64();
        let mut answers: BTreeMap<u16, u64> = BTreeMap::new();
        for g in guessers {
            for (k, v) in g.await? {
                *answers.entry(k).or_default() += v;
            }
        }
        println!("phase         pushes   push p50 ms   push p99 ms");
        for (name, t) in [("quiet", &quiet), ("flooded", &flooded)] {
            println!(
                "{name:<12} {:>7}   {:>11.1}   {:>11.1}",
                t.len(),
                pct(t, 0.5),
                pct(t, 0.99)
            );
        }
        println!(
            "flood: {} wrong codes in {flood_secs:.1} s ({:.0}/s); answers {answers:?}",
            sent.load(Ordering::Relaxed),
            sent.load(Ordering::Relaxed) as f64 / flood_secs
        );
        anyhow::Ok(())
    })?;
    Ok(())
}
