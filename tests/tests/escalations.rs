//! Escalation (上报, seed §五(三)) end to end, on SQLite and PostgreSQL: the
//! quality section escalates a record's safety hazard from the console; the
//! alert to the configured webhook fails while the receiver is down and is
//! retried with backoff, every attempt logged, until the receiver (a real
//! local HTTP server started by the test) takes it — once; the escalation
//! tops the home page; 应急管控 measures with owners and due dates are
//! recorded; it cannot close without an outcome or with a measure open,
//! and then closes; another town's lead cannot see it, by URL either.
//! And from the tablet, offline: a major situation with a photo reaches the
//! quality section and the webhook once it syncs; another team's device
//! cannot raise one on the task. By e-mail too: through a local SMTP server
//! started by the test, busy (451) at first, then taking the message once.

mod console_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::Value;

use chrono::Utc;
use uuid::Uuid;

use choucha_shared::escalation::{Escalation, EscalationKind};
use choucha_shared::sync::{EntryPayload, EntryVerdict};
use choucha_tests::console::{PASSWORD, Session, demo_task, set_demo_passwords};
use choucha_tests::field::{admin_get, camera_jpeg, sync_all, tablet};
use choucha_tests::smtp::SmtpServer;
use choucha_tests::{TestServer, device, free_port, pg};
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
        assert!(
            audit.contains(&format!("data-action=\"{action}\"")),
            "{action} in {audit}"
        );
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

/// The draw's tasks (the demo plan).
async fn demo_tasks(server: &TestServer) -> Vec<Value> {
    admin_get(server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap()["tasks"]
        .as_array()
        .unwrap()
        .clone()
}

fn team_of(task: &Value) -> Vec<String> {
    task["team"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["person_id"].as_str().unwrap().to_owned())
        .collect()
}

/// From the tablet, offline: a major situation (重大情况) with a photo,
/// raised on the spot; it reaches the server on the next sync, once; the
/// mail goes at once, the webhook (down at first) is retried until its
/// receiver is up, and delivered once. The server takes it only from the task's
/// drawn team and files it under the task's town, whatever the device says.
async fn from_the_tablet(database_url: Option<&str>) {
    // The webhook receiver is down at first; the mail server is up.
    let port = free_port().unwrap();
    let hook = format!("http://127.0.0.1:{port}/hook");
    let smtp = SmtpServer::start().await.unwrap();
    let smtp_url = smtp.url();
    let server = TestServer::start_demo_with_env(
        database_url,
        &[
            ("CHOUCHA_ALERT_WEBHOOKS", &hook),
            ("CHOUCHA_ALERT_EMAILS", "zhiliangke@bureau.test"),
            ("CHOUCHA_SMTP_URL", &smtp_url),
        ],
    )
    .expect("demo server");
    let task = demo_task(&server, TOWN).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let app = tablet(&server, &task.officer_id, root.path(), "平板一")
        .await
        .unwrap();

    // Offline; bad input says what is wrong and keeps nothing.
    let kind = EscalationKind::Major;
    let none = app.escalate(&task.task_id, None, kind, "   ", &[], Utc::now());
    assert!(none.unwrap_err().to_string().contains("请说明"));
    let not_jpeg = app.escalate(
        &task.task_id,
        None,
        kind,
        "x",
        &[b"GIF89a".to_vec()],
        Utc::now(),
    );
    assert!(not_jpeg.unwrap_err().to_string().contains("第 1 张照片"));
    assert!(
        app.escalate("NO-SUCH-TASK", None, kind, "x", &[], Utc::now())
            .is_err()
    );
    assert_eq!(app.progress().unwrap().entries_left, 0);
    let situation = "企业擅自改装在用电梯控制柜，已有住户被困，企业拒绝停梯";
    let photo = camera_jpeg(41, 800, 600);
    let id = app
        .escalate(
            &task.task_id,
            None,
            kind,
            situation,
            std::slice::from_ref(&photo),
            Utc::now(),
        )
        .unwrap();
    assert_eq!(app.escalations(&task.task_id).unwrap().len(), 1);
    assert_eq!(app.progress().unwrap().blobs_left, 1);

    sync_all(&app).await.unwrap();
    assert!(app.refused_entries().unwrap().is_empty());
    // Mailed at once; the webhook tried and failed, then delivered once
    // the receiver is up.
    wait_for("the mail", async || !smtp.mails().is_empty()).await;
    assert!(smtp.mails()[0].text().contains(situation));
    set_demo_passwords(&server).unwrap();
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    wait_for("a failed webhook attempt", async || {
        let (_, p) = s.get(&format!("/console/escalations/{id}")).await.unwrap();
        p.contains("无法连接接收方")
    })
    .await;
    let got = receiver(port).await;
    wait_for("the alert", async || !got.lock().unwrap().is_empty()).await;
    let alert: Value = serde_json::from_str(&got.lock().unwrap()[0]).unwrap();
    assert_eq!(alert["escalation_id"], id.to_string());
    assert_eq!(alert["kind_zh"], "重大情况");
    assert_eq!(alert["jurisdiction"], TOWN);
    assert_eq!(alert["target_name"], task.target_name.as_str());
    assert_eq!(alert["description"], situation);
    // Synced again: nothing is raised or alerted twice.
    sync_all(&app).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(got.lock().unwrap().len(), 1);

    assert_eq!(smtp.mails().len(), 1, "mailed once");

    // The quality section sees it with its photo.
    let (_, home) = s.get("/console").await.unwrap();
    assert!(home.contains("escalations-banner"), "{home}");
    let (_, page) = s.get(&format!("/console/escalations/{id}")).await.unwrap();
    assert!(page.contains(situation), "{page}");
    let sha = app.escalations(&task.task_id).unwrap()[0].photos[0].clone();
    let src = format!("/console/escalations/{id}/photos/{sha}");
    assert!(page.contains(&src), "{page}");
    let (status, _) = s.get(&src).await.unwrap();
    assert_eq!(status, 200);

    // An officer of another team cannot raise one on this task.
    let tasks = demo_tasks(&server).await;
    let team = team_of(
        tasks
            .iter()
            .find(|t| t["task_id"] == task.task_id.as_str())
            .unwrap(),
    );
    let outsider = tasks
        .iter()
        .flat_map(team_of)
        .find(|p| !team.contains(p))
        .unwrap();
    let http = reqwest::Client::new();
    let mut dev = device::enrol(&http, &server.base_url, server.token(), &outsider)
        .await
        .unwrap();
    dev.append(
        EntryPayload::Escalated {
            escalation: Escalation {
                escalation_id: Uuid::now_v7(),
                task_id: task.task_id.clone(),
                record_id: None,
                finding_id: None,
                kind: EscalationKind::Industry,
                description: "伪造的上报".into(),
                photos: vec![],
                raised_at: Utc::now(),
            },
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    match &r.results[0].verdict {
        EntryVerdict::Refused { message } => assert!(message.contains("检查组"), "{message}"),
        other => panic!("taken from another team: {other:?}"),
    }
    let (_, list) = s.get("/console/escalations").await.unwrap();
    assert!(!list.contains("伪造的上报"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raised_on_a_tablet_offline_reaches_the_quality_section_on_sqlite() {
    from_the_tablet(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raised_on_a_tablet_offline_reaches_the_quality_section_on_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    from_the_tablet(Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_is_mailed_once_the_mail_server_takes_it() {
    let smtp = SmtpServer::start().await.unwrap();
    smtp.refuse(true);
    let url = smtp.url();
    let server = TestServer::start_demo_with_env(
        None,
        &[
            ("CHOUCHA_ALERT_EMAILS", "zhiliangke@bureau.test"),
            ("CHOUCHA_SMTP_URL", &url),
            ("CHOUCHA_ALERT_MAIL_FROM", "抽查系统 <choucha@bureau.test>"),
        ],
    )
    .expect("demo server");
    set_demo_passwords(&server).unwrap();
    let synced = sync_far_record(&server, TOWN, 5).await;
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let situation = "多家加油站使用同一批次未经检定的加油机，属行业性问题";
    let (status, _) = s
        .post(
            &format!("/console/records/{}/escalate", synced.record.record_id),
            &[("kind", "industry"), ("description", situation)],
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

    // The mail server is busy: the attempt is logged with its answer.
    wait_for("a refused attempt", async || {
        let (_, p) = s.get(&path).await.unwrap();
        p.contains("class=\"attempt\"")
    })
    .await;
    let (_, p) = s.get(&path).await.unwrap();
    assert!(p.contains("发信服务器未接收"), "{p}");
    assert!(p.contains("data-delivered=\"false\""), "{p}");
    assert!(smtp.mails().is_empty());

    // It takes mail again: delivered, once.
    smtp.refuse(false);
    wait_for("the mail", async || !smtp.mails().is_empty()).await;
    wait_for("the delivery recorded", async || {
        let (_, p) = s.get(&path).await.unwrap();
        p.contains("data-delivered=\"true\"")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "mailed once: {mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.from, "choucha@bureau.test");
    assert_eq!(mail.to, vec!["zhiliangke@bureau.test".to_owned()]);
    let subject = mail.subject();
    assert!(subject.contains("【问题上报·行业性问题】"), "{subject}");
    assert!(subject.contains(TOWN), "{subject}");
    let text = mail.text();
    for part in [situation, "行业性问题", TOWN, &id, "质量科："] {
        assert!(text.contains(part), "{part} in {text}");
    }
}
