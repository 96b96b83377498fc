//! Escalation (上报, seed §五(三)) end to end, on SQLite and PostgreSQL: the
//! quality section escalates a record's safety hazard from the console; the
//! alert to the configured webhook fails while the receiver is down and is
//! retried with backoff, every attempt logged, until the receiver (a real
//! local HTTP server started by the test) takes it — once; the escalation
//! tops the home page; 应急管控 measures with owners and due dates are
//! recorded; it cannot close without an outcome or with a measure open,
//! and then closes; another town's lead cannot see it, by URL either.

mod console_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::Value;

use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};
use choucha_tests::{TestServer, free_port, pg};
use console_support::sync_far_record;

const TOWN: &str = "西永街道";

/// A webhook receiver on `port`: every body it gets, in order.
async fn receiver(port: u16) -> Arc<Mutex<Vec<String>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    got
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} did not happen in 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn story(database_url: Option<&str>) {
    let port = free_port().unwrap();
    let hook = format!("http://127.0.0.1:{port}/hook");
    let server =
        TestServer::start_demo_with_env(database_url, &[("CHOUCHA_ALERT_WEBHOOKS", &hook)])
            .expect("demo server");
    set_demo_passwords(&server).unwrap();
    let synced = sync_far_record(&server, TOWN, 3).await;
    let record_id = synced.record.record_id;
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let (_, home) = s.get("/console").await.unwrap();
    assert!(
        !home.contains("escalations-banner"),
        "nothing escalated yet"
    );

    // Raised from the record while the receiver is down.
    let (_, page) = s
        .get(&format!("/console/records/{record_id}"))
        .await
        .unwrap();
    assert!(page.contains("id=\"escalate-form\""), "{page}");
    let situation = "加气站储气瓶组检定标志过期且压力表失效，存在爆炸风险，企业仍在营业";
    let (status, _) = s
        .post(
            &format!("/console/records/{record_id}/escalate"),
            &[("kind", "safety_hazard"), ("description", situation)],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, list) = s.get("/console/escalations").await.unwrap();
    let id = list
        .split("data-escalation=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the escalation is listed")
        .to_owned();
    let path = format!("/console/escalations/{id}");
    wait_for("two failed attempts", async || {
        let (_, p) = s.get(&path).await.unwrap();
        p.matches("class=\"attempt\"").count() >= 2
    })
    .await;
    let (_, p) = s.get(&path).await.unwrap();
    assert!(p.contains("data-delivered=\"false\""), "{p}");
    assert!(p.contains("无法连接接收方"), "{p}");

    // The receiver comes up: the next retry delivers, once.
    let got = receiver(port).await;
    wait_for("delivery", async || !got.lock().unwrap().is_empty()).await;
    wait_for("the delivery recorded", async || {
        let (_, p) = s.get(&path).await.unwrap();
        p.contains("data-delivered=\"true\"")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "delivered once: {bodies:?}");
    let alert: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(alert["kind"], "safety_hazard");
    assert_eq!(alert["kind_zh"], "安全隐患（需应急管控）");
    assert_eq!(alert["jurisdiction"], TOWN);
    assert_eq!(alert["description"], situation);
    assert_eq!(alert["task_id"], synced.task.task_id.as_str());

    // At the top of the home page; not for another town's lead.
    let (_, home) = s.get("/console").await.unwrap();
    assert!(home.contains("escalations-banner"), "{home}");
    let other = Session::login(&server.base_url, "huxi", PASSWORD)
        .await
        .unwrap();
    let (status, _) = other.get(&path).await.unwrap();
    assert_eq!(status, 404);
    let (_, list) = other.get("/console/escalations").await.unwrap();
    assert!(!list.contains(&id), "{list}");

    // 应急管控 until closed with an outcome.
    let (status, _) = s
        .post(
            &format!("{path}/measures"),
            &[
                ("measure", "责令立即停止充装，储气瓶组封存待检"),
                ("owner", "西永所 张建国"),
                ("due", "2026-12-08"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (status, _) = s
        .post(&format!("{path}/close"), &[("outcome", "")])
        .await
        .unwrap();
    assert_eq!(status, 400, "an outcome is required");
    let (status, html) = s
        .post(&format!("{path}/close"), &[("outcome", "已整改")])
        .await
        .unwrap();
    assert_eq!(status, 409, "a measure is open: {html}");
    assert!(html.contains("停止充装"), "{html}");
    let (status, _) = s
        .post(
            &format!("{path}/measures/1/done"),
            &[("result", "已停止充装，气瓶组已贴封条")],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (status, _) = s
        .post(
            &format!("{path}/close"),
            &[("outcome", "储气瓶组经检定合格后恢复使用，已立案查处")],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, p) = s.get(&path).await.unwrap();
    assert!(p.contains("id=\"escalation-closed\""), "{p}");
    let (_, home) = s.get("/console").await.unwrap();
    assert!(!home.contains("escalations-banner"), "nothing open");
    let (_, audit) = s
        .get(&format!("/console/audit?object=escalation:{id}"))
        .await
        .unwrap();
    for action in [
        "escalation.raise",
        "escalation.measure",
        "escalation.measure_done",
        "escalation.close",
    ] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safety_hazard_is_escalated_alerted_and_closed_on_sqlite() {
    story(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_safety_hazard_is_escalated_alerted_and_closed_on_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    story(Some(&url)).await;
}
