//! The deterministic sync simulation (`choucha_tests::sim`) over two hundred
//! seeds: lost, duplicated and reordered requests, lost answers, device and
//! server crashes, a full disk, skewed clocks and a supervisor returning
//! records while devices amend them; one device is the field app's real
//! engine, crashed in the middle of its sync and reopened from its store.
//! A failing seed is named with the command that replays it.
//! `CHOUCHA_SIM_SCHEDULES` sets how many (the `choucha-sim` binary runs
//! 10,000).

#[tokio::test(flavor = "current_thread")]
async fn every_schedule_keeps_the_invariants() {
    let count = std::env::var("CHOUCHA_SIM_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (faults, total) = choucha_tests::sim::run_many(1, count).await.unwrap();
    // The schedules did meet every kind of fault.
    for kind in [
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
    ] {
        assert!(
            faults.get(kind).copied().unwrap_or(0) > 0,
            "no schedule injected {kind}: {faults:?}"
        );
    }
    assert!(total.entries > 0 && total.blobs > 0);
}
