//! The demo the README's run command starts: the seed document's plan drawn
//! (algorithm version 2) from a generated directory, idempotent,
//! verifiable; and the command line's draw commands on it: an upstream list
//! for a new plan, a seat replaced, tampering found by `verify`.

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
    assert_eq!(draw["algorithm"], 2);
    let tasks = draw["tasks"].as_array().unwrap();
    let count = |c: &str| tasks.iter().filter(|t| t["category"] == c).count();
    // 46 testing bodies, 114 enterprises, 30 standards (seed §四(一)).
    assert_eq!(count("testing_body"), 46);
    assert_eq!(
        count("production_licence")
            + count("ccc")
            + count("voluntary_certification")
            + count("metrology"),
        114
    );
    assert_eq!(count("standard"), 30);
    // The voluntary-certification bodies and the standards come from the
    // 总局 and 市局 lists, the enterprises by credit-risk class.
    let source = |t: &Value| t["source"].as_str().unwrap_or_default().to_owned();
    for t in tasks {
        match t["category"].as_str().unwrap() {
            "voluntary_certification" => assert!(source(t).starts_with("总局"), "{t}"),
            "standard" => assert!(source(t).starts_with("市局"), "{t}"),
            "testing_body" => assert_eq!(t["stratum_id"], "JCJG"),
            _ => {
                let stratum = t["stratum_id"].as_str().unwrap();
                assert!(
                    ["/A", "/B", "/C", "/D"]
                        .iter()
                        .any(|c| stratum.ends_with(c)),
                    "{t}"
                );
            }
        }
    }
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
    // Testing bodies, licence and CCC holders, metrology companies.
    assert!(candidates > 1400, "a realistic directory, got {candidates}");
    let assigned = plan["assigned"].as_array().unwrap();
    assert_eq!(assigned.len(), 14 + 30, "the 总局 and 市局 lists");
    assert!(assigned.iter().all(|a| a["source"].is_string()));
}

/// Runs the server's command line on `dir`: (success, stdout + stderr).
fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(server_binary().unwrap())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
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

fn verify(dir: &std::path::Path) -> (bool, String) {
    cli(dir, &["verify", "GXQ-2023-ZBJR-D1"])
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

    // An officer of the 5th task falls ill: his seat is replaced, and the
    // amended draw verifies.
    let (team,): (String,) =
        sqlx::query_as("SELECT team FROM tasks WHERE task_id = 'GXQ-2023-ZBJR-D1-0005'")
            .fetch_one(&db)
            .await
            .unwrap();
    let members: Vec<Value> = serde_json::from_str(&team).unwrap();
    let leaving = members[0]["person_id"].as_str().unwrap().to_owned();
    let (ok, text) = cli(
        dir.path(),
        &[
            "replace",
            "GXQ-2023-ZBJR-D1",
            "--task",
            "GXQ-2023-ZBJR-D1-0005",
            "--leaving",
            &leaving,
            "--reason",
            "因病无法到场",
        ],
    );
    assert!(ok && text.contains("第 1 次人员替换"), "{text}");
    let (ok, text) = verify(dir.path());
    assert!(ok && text.contains("一致 (match)"), "{text}");
    // Someone records another officer as the one who joined.
    sqlx::query("UPDATE draw_replacements SET joining_id = 'someone-else'")
        .execute(&db)
        .await
        .unwrap();
    let (ok, text) = verify(dir.path());
    assert!(!ok);
    assert!(text.contains("第 1 次人员替换"), "{text}");
    sqlx::query("UPDATE draw_replacements SET joining_id = (SELECT person_id FROM task_members WHERE task_id = 'GXQ-2023-ZBJR-D1-0005' AND person_id NOT IN ($1) AND role = 'officer' ORDER BY person_id LIMIT 1)")
        .bind(members[1]["person_id"].as_str().unwrap())
        .execute(&db)
        .await
        .unwrap();
    let (ok, text) = verify(dir.path());
    assert!(ok, "restored: {text}");
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

#[tokio::test]
async fn the_command_line_takes_an_upstream_list_for_a_v2_plan() {
    let dir = TempDir::new("cli-v2").unwrap();
    let (ok, text) = cli(dir.path(), &["demo"]);
    assert!(ok, "{text}");
    let plan = dir.path().join("plan.json");
    std::fs::write(
        &plan,
        serde_json::json!({
            "algorithm": 2,
            "plan_id": "CLI-V2",
            "title": "命令行抽查计划",
            "strata": [{ "id": "JCJG", "category": "testing_body",
                         "risk_classes": ["C", "D"],
                         "quota": { "kind": "count", "value": 3 } }],
            "team_size": 2, "with_expert": false, "officer_cap": 30
        })
        .to_string(),
    )
    .unwrap();
    let (ok, text) = cli(dir.path(), &["plan", plan.to_str().unwrap()]);
    assert!(ok, "{text}");

    // The testing bodies the demo drew are the list's candidates.
    let server = TestServer::start_in(dir.path(), None).unwrap();
    let draw: Value = reqwest::Client::new()
        .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    drop(server);
    let keys: Vec<String> = draw["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["category"] == "testing_body")
        .take(2)
        .map(|t| t["target"].as_str().unwrap().to_owned())
        .collect();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "检查对象代码,检查对象类别\n{},检验检测机构\n{},计量有关企业\n",
            keys[0], keys[1]
        ),
    )
    .unwrap();
    let (ok, text) = cli(dir.path(), &["assign", "CLI-V2", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        text.contains("第 2 行") && text.contains("第 3 行"),
        "{text}"
    );
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!(
            "检查对象代码,检查对象类别\n{},检验检测机构\n{},检验检测机构\n",
            keys[0], keys[1]
        ),
    )
    .unwrap();
    let (ok, text) = cli(
        dir.path(),
        &[
            "assign",
            "CLI-V2",
            good.to_str().unwrap(),
            "--source",
            "市局2024年检验检测机构专项抽查名单",
        ],
    );
    assert!(ok && text.contains("2 个"), "{text}");
    let (ok, text) = cli(dir.path(), &["freeze", "CLI-V2"]);
    assert!(ok && text.contains("指定检查对象 2 个"), "{text}");
    assert!(text.contains("分层 JCJG：候选对象"), "{text}");
    let (ok, text) = cli(
        dir.path(),
        &[
            "draw",
            "CLI-V2",
            "--seed",
            "61524 33125 46612 15243 66251",
            "--by",
            "质量科",
        ],
    );
    assert!(ok && text.contains("5 tasks"), "{text}");
    let (ok, text) = cli(dir.path(), &["verify", "CLI-V2-D1"]);
    assert!(ok && text.contains("一致 (match)"), "{text}");
}
