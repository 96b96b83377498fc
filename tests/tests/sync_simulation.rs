//! The deterministic sync simulation (`choucha_tests::sim`) over two hundred
//! seeds: lost, duplicated and reordered requests, lost answers, device and
//! server crashes, a full disk, skewed clocks and a supervisor returning
//! records while devices amend them; one device is the field app's real
//! engine, crashed in the middle of its sync and reopened from its store.
//! A share of the schedules runs again against two server instances on one
//! PostgreSQL database, every request reaching either and a crash taking
//! one down while the other serves.
//! A failing seed is named with the command that replays it.
//! `CHOUCHA_SIM_SCHEDULES` and `CHOUCHA_SIM_PG_SCHEDULES` set how many (the
//! `choucha-sim` binary runs 10,000).

use choucha_tests::sim::{self, Topology};

fn schedules(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every kind of fault the simulation injects.
const FAULTS: &[&str] = &[
    "request lost",
    "request duplicated",
    "request reordered",
    "answer lost",
    "device crash",
    "server crash",
    "disk full",
    "clock skew",
    "supervisor returns",
    "supervisor approves",
    "amendment after a return",
    "tablet: request lost",
    "tablet: request delayed",
    "tablet: request duplicated",
    "tablet: answer lost",
    "tablet: link cut",
    "tablet: crash mid-sync",
    "tablet: crash",
];

/// Every kind named was injected by at least one schedule.
fn assert_injected(faults: &sim::Faults, kinds: &[&str]) {
    for kind in kinds {
        assert!(
            faults.get(kind).copied().unwrap_or(0) > 0,
            "no schedule injected {kind}: {faults:?}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_schedule_keeps_the_invariants() {
    let count = schedules("CHOUCHA_SIM_SCHEDULES", 200);
    let (faults, total) = sim::run_many(Topology::Sqlite, 1, count).await.unwrap();
    // The schedules did meet every kind of fault.
    assert_injected(&faults, FAULTS);
    assert!(total.entries > 0 && total.blobs > 0);
}

/// The pair: the same invariants with chunks, pushes, pulls and reviews
/// spread over two instances that share only the database and the blob
/// store, and one of them crashing now and then.
#[tokio::test(flavor = "current_thread")]
async fn the_postgres_pair_keeps_the_invariants() {
    let count = schedules("CHOUCHA_SIM_PG_SCHEDULES", 40);
    let (faults, total) = sim::run_many(Topology::PostgresPair, 1, count)
        .await
        .unwrap();
    assert_injected(&faults, FAULTS);
    assert!(total.entries > 0 && total.blobs > 0);
}
