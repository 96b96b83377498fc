//! Draw algorithm version 2 over real HTTP against the real server, on
//! every deployment: a plan of the demo zone with a per-risk stratum,
//! filtered strata (industry prefix, 团体标准 only), an upstream list of
//! assigned targets and the exclusion of targets inspected lately.
//!
//! The story: a company of the demo draw is inspected on a tablet and
//! synced; a bad upstream list is refused row by row and nothing is kept; a
//! good one is taken; the freeze publishes the sub-strata, the assigned
//! targets with their list and the inspected company as excluded with its
//! date; the draw gives the assigned targets a team, draws every sub-stratum
//! and never the excluded company; one officer falls ill and his seat is
//! replaced (the joining officer's tablet gets the task, the leaving
//! officer's shows it withdrawn); the draw still verifies, and a seat on a
//! task already inspected cannot be replaced. CCC-certified products
//! (强制性产品认证产品) are drawn like any category, onto their own checklist.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use choucha_app_core::app::TaskStatus;
use choucha_tests::field::{admin_get, seal_unreachable, sync_all, tablet};
use choucha_tests::{Deployment, TestServer};

choucha_tests::on_every_deployment!(a_v2_plan_is_frozen_drawn_amended_and_verified);

const SEED: &str = "36142 55231 64413 21565 34126";
const SOURCE: &str = "总局2023年自愿性认证从业机构抽查名单";

async fn post(server: &TestServer, path: &str, body: Value) -> (StatusCode, Value) {
    let resp = Client::new()
        .post(server.url(path))
        .bearer_auth(server.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn upload(server: &TestServer, path: &str, csv: String) -> (StatusCode, Value) {
    let resp = Client::new()
        .post(server.url(path))
        .bearer_auth(server.token())
        .body(csv.into_bytes())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn officers(task: &Value) -> Vec<String> {
    task["team"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "officer")
        .map(|m| m["person_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_v2_plan_is_frozen_drawn_amended_and_verified(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let root = tempfile::tempdir().unwrap();
    let demo = admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    let tasks = demo["tasks"].as_array().unwrap();

    // A metrology company of the demo draw is inspected today.
    let inspected = tasks
        .iter()
        .find(|t| t["category"] == "metrology")
        .unwrap()
        .clone();
    let app = tablet(&server, &officers(&inspected)[0], root.path(), "平板一")
        .await
        .unwrap();
    seal_unreachable(&app, inspected["task_id"].as_str().unwrap()).unwrap();
    sync_all(&app).await.unwrap();
    let inspected_key = inspected["target"].as_str().unwrap().to_owned();
    let today = Utc::now()
        .with_timezone(&choucha_app_core::app::china_time())
        .date_naive();

    // The upstream list names three voluntary-certification bodies (the
    // demo draw drew them too; another plan may inspect them again).
    let voluntary: Vec<String> = tasks
        .iter()
        .filter(|t| t["category"] == "voluntary_certification")
        .take(3)
        .map(|t| t["target"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(voluntary.len(), 3);

    let plan = json!({
        "algorithm": 2,
        "plan_id": "GXQ-2024-V2",
        "title": "2024年度认证认可与计量领域双随机抽查（按信用风险分类）",
        "strata": [
            { "id": "JL", "category": "metrology",
              "quota": { "kind": "by_risk", "value": { "A": 0.02, "B": 0.05, "C": 0.1, "D": 0.3 } } },
            { "id": "DX", "category": "production_licence", "industry_prefixes": ["C38"],
              "quota": { "kind": "ratio", "value": 0.1 } },
            { "id": "TBZ", "category": "standard", "standard_kind": "group",
              "quota": { "kind": "count", "value": 5 } },
            { "id": "ZYRZ", "category": "voluntary_certification",
              "quota": { "kind": "count", "value": 4 } },
            { "id": "CP", "category": "ccc_product",
              "quota": { "kind": "count", "value": 2 } }
        ],
        "exclude_inspected_since": (today - Duration::days(30)).to_string(),
        "team_size": 2,
        "with_expert": false,
        "officer_cap": 25
    });
    let (s, created) = post(&server, "/api/v1/plans", plan).await;
    assert_eq!(s, 201, "{created}");

    // A bad upstream list: every bad row named, nothing kept.
    let bad = format!(
        "检查对象代码,检查对象类别,来源\n{},自愿性认证获证组织,{SOURCE}\n91500107MA0000000X,自愿性认证获证组织,{SOURCE}\n{},检验检测机构,{SOURCE}\n{},自愿性认证获证组织,\n",
        voluntary[0], voluntary[1], voluntary[2]
    );
    let (s, refused) = upload(
        &server,
        "/api/v1/plans/GXQ-2024-V2/assigned?file_name=list.csv",
        bad,
    )
    .await;
    assert_eq!(s, 422, "{refused}");
    let errors = refused["details"]["errors"].as_array().unwrap();
    let rows: Vec<u64> = errors.iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, vec![3, 4, 5], "{refused}");
    assert!(
        errors[1]["reason"].as_str().unwrap().contains("名录中没有"),
        "{refused}"
    );
    assert!(
        errors[2]["reason"].as_str().unwrap().contains("来源"),
        "{refused}"
    );
    let plan = admin_get(&server, "/api/v1/plans/GXQ-2024-V2")
        .await
        .unwrap();
    assert!(plan["plan"]["assigned"].is_null(), "nothing kept: {plan}");

    // The good list; its rows have no 来源, the upload names the list.
    let good = format!(
        "统一社会信用代码,检查对象类别\n{}\n",
        voluntary
            .iter()
            .map(|k| format!("{k},自愿性认证获证组织"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (s, plan) = upload(
        &server,
        &format!(
            "/api/v1/plans/GXQ-2024-V2/assigned?file_name=list.csv&source={}",
            urlencoding(SOURCE)
        ),
        good,
    )
    .await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(plan["plan"]["assigned"].as_array().unwrap().len(), 3);

    // The freeze publishes the sub-strata, the assigned targets with their
    // list and the exclusion with its date, before any seed exists.
    let (s, frozen) = post(&server, "/api/v1/plans/GXQ-2024-V2/freeze", json!({})).await;
    assert_eq!(s, 200, "{frozen}");
    assert_eq!(frozen["assigned"], 3);
    assert_eq!(frozen["excluded"], 1, "{frozen}");
    let public = Client::new()
        .get(server.url("/api/v1/public/plans/GXQ-2024-V2"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let ids: Vec<&str> = public["sub_strata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["JL/A", "JL/B", "JL/C", "JL/D", "DX", "TBZ", "ZYRZ", "CP"],
        "{public}"
    );
    let n = |id: &str| {
        public["sub_strata"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| {
                (
                    s["candidates"].as_u64().unwrap(),
                    s["quota"].as_u64().unwrap(),
                )
            })
            .unwrap()
    };
    let metrology: u64 = ["JL/A", "JL/B", "JL/C", "JL/D"]
        .iter()
        .map(|id| n(id).0)
        .sum();
    assert_eq!(
        metrology,
        880 - 1,
        "every metrology company but the inspected one"
    );
    assert_eq!(n("ZYRZ").0, 620 - 3, "assigned targets are not candidates");
    assert_eq!(n("TBZ").0, 210, "the 团体标准 half of the 420 standards");
    assert!(n("DX").0 > 0 && n("DX").0 < 240, "{:?}", n("DX"));
    for id in ["JL/A", "JL/B", "JL/C", "JL/D"] {
        let (candidates, k) = n(id);
        let ratio = match &id[3..] {
            "A" => 20_000,
            "B" => 50_000,
            "C" => 100_000,
            _ => 300_000,
        };
        assert_eq!(k, (candidates * ratio).div_ceil(1_000_000), "{id}");
    }
    assert_eq!(public["assigned"][0]["source"], SOURCE);
    assert_eq!(public["excluded"][0]["key"], inspected_key.as_str());
    assert_eq!(public["excluded"][0]["inspected"], today.to_string());

    // The draw.
    let (s, draw) = post(
        &server,
        "/api/v1/plans/GXQ-2024-V2/draws",
        json!({ "seed": SEED, "entered_by": "王科长" }),
    )
    .await;
    assert_eq!(s, 201, "{draw}");
    assert_eq!(draw["algorithm"], 2);
    let tasks = draw["tasks"].as_array().unwrap().clone();
    let quota: u64 = ids.iter().map(|id| n(id).1).sum();
    assert_eq!(tasks.len() as u64, 3 + quota);
    for t in &tasks[..3] {
        assert_eq!(t["stratum_id"], "assigned");
        assert_eq!(t["source"], SOURCE);
        assert_eq!(officers(t).len(), 2);
    }
    let assigned_keys: BTreeSet<&str> = tasks[..3]
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        assigned_keys,
        voluntary
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
    );
    assert!(
        tasks.iter().all(|t| t["target"] != inspected_key.as_str()),
        "an excluded company is never drawn"
    );
    for t in &tasks[3..] {
        assert!(t["source"].is_null());
        let stratum = t["stratum_id"].as_str().unwrap();
        assert!(ids.contains(&stratum), "{stratum}");
        if stratum == "TBZ" {
            assert!(t["target"].as_str().unwrap().starts_with("T/"));
        }
        // A certified product is inspected on its own checklist, keyed by
        // its certificate; officers qualify through 可检查领域.
        if stratum == "CP" {
            assert_eq!(t["checklist"]["id"], "ccc-product", "{t}");
            assert_eq!(t["target"].as_str().unwrap().len(), 16, "{t}");
            assert_eq!(officers(t).len(), 2);
        }
    }
    let draw_id = draw["draw_id"].as_str().unwrap().to_owned();
    let verify = |server: &TestServer, draw_id: &str| {
        let url = server.url(&format!("/api/v1/public/draws/{draw_id}/verify"));
        async move {
            Client::new()
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let v = verify(&server, &draw_id).await;
    assert_eq!(v["matches"], true, "{v}");

    // One officer of a drawn task falls ill; his tablet has the task.
    let task = tasks[4].clone();
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let team = officers(&task);
    let leaving = team[0].clone();
    let ill = tablet(&server, &leaving, root.path(), "平板二")
        .await
        .unwrap();
    assert!(ill.task(&task_id).is_ok(), "the drawn officer has the task");

    let replace = format!("/api/v1/draws/{draw_id}/replacements");
    let (s, e) = post(
        &server,
        &replace,
        json!({ "task_id": task_id, "leaving": leaving, "reason": " " }),
    )
    .await;
    assert_eq!(s, 422, "a replacement needs a reason: {e}");
    let (s, e) = post(
        &server,
        &replace,
        json!({ "task_id": task_id, "leaving": "渝500107230099", "reason": "因病无法到场" }),
    )
    .await;
    assert_eq!(s, 422, "only a member's seat: {e}");
    let (s, r) = post(
        &server,
        &replace,
        json!({ "task_id": task_id, "leaving": leaving, "reason": "因病无法到场" }),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["seq"], 1);
    assert_eq!(r["leaving"], leaving.as_str());
    let joining = r["joining"]["person_id"].as_str().unwrap().to_owned();
    assert!(!team.contains(&joining), "a new member joins");
    let after = admin_get(&server, &format!("/api/v1/draws/{draw_id}"))
        .await
        .unwrap();
    assert_eq!(after["replacements"][0]["reason"], "因病无法到场");
    let now_team = officers(
        after["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task_id"] == task_id.as_str())
            .unwrap(),
    );
    assert_eq!(now_team, vec![joining.clone(), team[1].clone()]);
    let v = verify(&server, &draw_id).await;
    assert_eq!(v["matches"], true, "the amended draw still verifies: {v}");

    // Both tablets hear of it on their next sync.
    let http = choucha_app_core::sync::http_client();
    ill.sync_once(&http).await.unwrap();
    let status = ill
        .tasks()
        .unwrap()
        .into_iter()
        .find(|t| t.task_id == task_id)
        .map(|t| t.status);
    assert_eq!(status, Some(TaskStatus::Withdrawn));
    let new = tablet(&server, &joining, root.path(), "平板三")
        .await
        .unwrap();
    assert_eq!(new.task(&task_id).unwrap().task.team.len(), 2);

    // Once the task is inspected its team is what it is.
    seal_unreachable(&new, &task_id).unwrap();
    sync_all(&new).await.unwrap();
    let (s, e) = post(
        &server,
        &replace,
        json!({ "task_id": task_id, "leaving": team[1], "reason": "发现利害关系" }),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("已有检查记录"),
        "{e}"
    );

    // A v2 plan short of candidates is refused at freezing, naming every
    // short (sub-)stratum; it stays open, and nothing is drawn.
    let short = json!({
        "algorithm": 2,
        "plan_id": "GXQ-2024-SHORT",
        "title": "候选对象不足的计划",
        "strata": [
            { "id": "CP", "category": "ccc_product", "quota": { "kind": "count", "value": 999 } },
            { "id": "JC", "category": "testing_body", "risk_classes": ["D"],
              "quota": { "kind": "count", "value": 500 } }
        ],
        "team_size": 2, "with_expert": false, "officer_cap": 30
    });
    let (s, _) = post(&server, "/api/v1/plans", short).await;
    assert_eq!(s, 201);
    let (s, e) = post(&server, "/api/v1/plans/GXQ-2024-SHORT/freeze", json!({})).await;
    assert_eq!(s, 422, "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("分层 CP") && message.contains("分层 JC"),
        "{e}"
    );
    assert!(message.contains("未冻结"), "{e}");
    let (s, e) = post(
        &server,
        "/api/v1/plans/GXQ-2024-SHORT/draws",
        json!({ "seed": SEED, "entered_by": "王科长" }),
    )
    .await;
    assert!(s == 409 || s == 422, "{s} {e}");
    let got = Client::new()
        .get(server.url("/api/v1/draws/GXQ-2024-SHORT-D1"))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 404, "nothing saved");

    // A version-1 draw has no one-seat replacement: it is redrawn.
    let v1 = json!({
        "plan_id": "GXQ-2024-V1",
        "title": "第 1 版算法的计划",
        "strata": [{ "id": "JC", "category": "testing_body",
                     "quota": { "kind": "count", "value": 1 } }],
        "team_size": 2, "with_expert": false, "officer_cap": 30
    });
    let (s, _) = post(&server, "/api/v1/plans", v1).await;
    assert_eq!(s, 201);
    let (s, _) = post(&server, "/api/v1/plans/GXQ-2024-V1/freeze", json!({})).await;
    assert_eq!(s, 200);
    let (s, d1) = post(
        &server,
        "/api/v1/plans/GXQ-2024-V1/draws",
        json!({ "seed": SEED, "entered_by": "王科长" }),
    )
    .await;
    assert_eq!(s, 201, "{d1}");
    assert_eq!(d1["algorithm"], 1);
    let (s, e) = post(
        &server,
        "/api/v1/draws/GXQ-2024-V1-D1/replacements",
        json!({
            "task_id": d1["tasks"][0]["task_id"],
            "leaving": officers(&d1["tasks"][0])[0],
            "reason": "因病"
        }),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    assert!(e["message"].as_str().unwrap().contains("第 1 版"), "{e}");
    let v = verify(&server, &draw_id).await;
    assert_eq!(v["matches"], true, "{v}");
}

fn urlencoding(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}
