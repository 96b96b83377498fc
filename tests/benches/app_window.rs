//! The field app in its real window under Xvfb (release build): cold start
//! to the task list, and the time to open a 60-item checklist.
//!
//! ```sh
//! cargo bench -p choucha-tests --bench app_window
//! ```
//!
//! The app is enrolled once (as an officer with a production-licence task,
//! whose checklist has 60 items) and pulls its tasks; then it is started
//! `CHOUCHA_BENCH_STARTS` times (default 5) as a new process, and each time
//! the front end reports when the task list is on screen, measured from
//! the process's start (the shell's clock, so WebDriver's own start-up is
//! not counted). Opening the checklist is measured in the front end from
//! the tap on 开始检查/继续检查 to the first item on screen, over
//! `CHOUCHA_BENCH_OPENS` taps (default 10). Targets: ≤ 2 s and ≤ 300 ms.
//! Results: `docs/benchmarks.md`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Client;
use serde_json::{Value, json};

use choucha_tests::webapp::FieldApp;
use choucha_tests::{TempDir, TestServer};

fn env_n(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("{name} must be a positive number, got {v}")),
        Err(_) => Ok(default),
    }
}

/// `name ms since_start_ms` lines the app wrote.
fn timings(file: &Path, name: &str) -> Vec<(f64, f64)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            (p.next()? == name).then_some(())?;
            Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?))
        })
        .collect()
}

async fn wait_for_timing(file: &Path, name: &str, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while timings(file, name).len() < count {
        anyhow::ensure!(Instant::now() < deadline, "the app did not report {name}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn summary(label: &str, mut v: Vec<f64>, target_ms: f64) {
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    println!(
        "{label}: median {median:.0} ms, min {:.0} ms, max {:.0} ms over {} runs (target ≤ {target_ms:.0} ms: {})",
        v[0],
        v[v.len() - 1],
        v.len(),
        if median <= target_ms { "met" } else { "MISSED" }
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let starts = env_n("CHOUCHA_BENCH_STARTS", 5)?;
    let opens = env_n("CHOUCHA_BENCH_OPENS", 10)?;
    let server = TestServer::start_demo(None)?;
    let http = Client::new();
    let draw: Value = http
        .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
        .bearer_auth(server.token())
        .send()
        .await?
        .json()
        .await?;
    let task = draw["tasks"]
        .as_array()
        .context("draw tasks")?
        .iter()
        .find(|t| t["category"] == "production_licence")
        .context("no production-licence task")?
        .clone();
    let task_id = task["task_id"].as_str().context("task id")?.to_owned();
    let officer = task["team"][0]["person_id"].as_str().context("officer")?;
    let code: Value = http
        .post(server.url("/api/v1/enrolments"))
        .bearer_auth(server.token())
        .json(&json!({ "officer_id": officer }))
        .send()
        .await?
        .json()
        .await?;
    let qr = code["qr_payload"]
        .as_str()
        .context("qr payload")?
        .to_owned();
    let home = TempDir::new("field-app-bench")?;
    let file = home.path().join("timings.txt");
    let env = [
        ("CHOUCHA_ENROL", qr),
        ("CHOUCHA_LOCATION", "simulated".to_owned()),
        ("CHOUCHA_TIMINGS_FILE", file.display().to_string()),
    ];

    // First start: enrol and pull (not measured).
    let app = FieldApp::launch(home.path(), &env, "bench").await?;
    app.wait(&format!(".task-card[data-task='{task_id}']"))
        .await?;
    let tasks = app
        .client
        .find_all(fantoccini::Locator::Css(".task-card"))
        .await?
        .len();
    app.close().await?;

    let mut cold = Vec::new();
    for run in 0..starts {
        let before = timings(&file, "tasks_shown").len();
        let app = FieldApp::launch(home.path(), &env, "bench").await?;
        wait_for_timing(&file, "tasks_shown", before + 1).await?;
        app.wait(&format!(".task-card[data-task='{task_id}']"))
            .await?;
        let (_, since_start) = timings(&file, "tasks_shown")[before];
        cold.push(since_start);
        if run + 1 < starts {
            app.close().await?;
            continue;
        }
        // The last start also opens the 60-item checklist, again and again.
        let mut open = Vec::new();
        let mut seen_by_driver = Vec::new();
        for i in 0..opens {
            app.click(&format!(".task-card[data-task='{task_id}']"))
                .await?;
            app.wait("#start-inspection").await?;
            let before = timings(&file, "checklist_open").len();
            let t = Instant::now();
            app.click("#start-inspection").await?;
            app.wait("#screen-items").await?;
            seen_by_driver.push(t.elapsed().as_secs_f64() * 1000.0);
            wait_for_timing(&file, "checklist_open", before + 1).await?;
            let (ms, _) = timings(&file, "checklist_open")[before];
            let items: usize = app
                .wait("#progress-text")
                .await?
                .text()
                .await?
                .split('/')
                .nth(1)
                .and_then(|n| n.trim().parse().ok())
                .context("progress")?;
            anyhow::ensure!(items == 60, "the checklist has {items} items, not 60");
            // The first tap also creates the record.
            if i > 0 {
                open.push(ms);
            }
            app.click("#nav-tasks").await?;
            app.wait("#screen-tasks").await?;
        }
        println!("field app ({tasks} tasks, release build, Xvfb, WebKitGTK):");
        summary("cold start to the task list", cold.clone(), 2000.0);
        summary(
            "open a 60-item checklist (tap to first item, in the app)",
            open,
            300.0,
        );
        summary(
            "  same, seen through WebDriver (adds its round trips)",
            seen_by_driver,
            300.0,
        );
        app.close().await?;
    }
    Ok(())
}
