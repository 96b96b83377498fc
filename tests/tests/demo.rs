//! The demo the README's run command starts: the seed document's plan drawn
//! from a generated directory, idempotent, verifiable.

use std::process::Command;

use choucha_tests::{TempDir, TestServer, server_binary};
use serde_json::Value;

#[tokio::test]
async fn demo_draws_the_seed_plan_and_is_idempotent() {
    let dir = TempDir::new("demo").unwrap();
    for _ in 0..2 {
        let out = Command::new(server_binary().unwrap())
            .arg("--data-dir")
            .arg(dir.path())
            .arg("demo")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("190 个检查任务，复核一致"), "{stdout}");
    }

    let server = TestServer::start_in(dir.path(), None).unwrap();
    let client = reqwest::Client::new();
    let draw: Value = client
        .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tasks = draw["tasks"].as_array().unwrap();
    let count = |s: &str| tasks.iter().filter(|t| t["stratum_id"] == s).count();
    // 46 testing bodies, 114 enterprises, 30 standards (seed §四(一)).
    assert_eq!(count("JCJG"), 46);
    assert_eq!(
        count("SCXK") + count("CCC") + count("ZYRZ") + count("JL"),
        114
    );
    assert_eq!(count("BZ"), 30);
    for t in tasks {
        let team = t["team"].as_array().unwrap();
        assert_eq!(
            team.iter().filter(|m| m["role"] == "officer").count(),
            2,
            "{t}"
        );
        assert_eq!(
            team.iter().filter(|m| m["role"] == "expert").count(),
            1,
            "{t}"
        );
    }
    let plan: Value = client
        .get(server.url("/api/v1/public/plans/GXQ-2023-ZBJR"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let candidates: u64 = plan["strata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["candidates"].as_u64().unwrap())
        .sum();
    assert!(candidates > 2000, "a realistic directory, got {candidates}");
}

fn verify(dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(server_binary().unwrap())
        .arg("--data-dir")
        .arg(dir)
        .args(["verify", "GXQ-2023-ZBJR-D1"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn verify_reports_the_first_difference_after_tampering() {
    let dir = TempDir::new("tamper").unwrap();
    let out = Command::new(server_binary().unwrap())
        .arg("--data-dir")
        .arg(dir.path())
        .arg("demo")
        .output()
        .unwrap();
    assert!(out.status.success());
    let (ok, text) = verify(dir.path());
    assert!(ok && text.contains("一致 (match)"), "{text}");

    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("choucha.db").display()
    ))
    .await
    .unwrap();
    // Someone swaps the officers of the 3rd task in the stored result.
    let (team,): (String,) =
        sqlx::query_as("SELECT team FROM tasks WHERE task_id = 'GXQ-2023-ZBJR-D1-0003'")
            .fetch_one(&db)
            .await
            .unwrap();
    let mut members: Vec<Value> = serde_json::from_str(&team).unwrap();
    members.swap(0, 1);
    sqlx::query("UPDATE tasks SET team = $1 WHERE task_id = 'GXQ-2023-ZBJR-D1-0003'")
        .bind(serde_json::to_string(&members).unwrap())
        .execute(&db)
        .await
        .unwrap();
    let (ok, text) = verify(dir.path());
    assert!(!ok);
    assert!(text.contains("第 3 个任务"), "{text}");

    // Someone edits the frozen directory after the draw.
    sqlx::query("UPDATE plan_candidates SET target_key = target_key || 'X' WHERE pos = 0 AND stratum_pos = 0")
        .execute(&db)
        .await
        .unwrap();
    let (ok, text) = verify(dir.path());
    assert!(!ok);
    assert!(text.contains("名录快照哈希不一致"), "{text}");
}
