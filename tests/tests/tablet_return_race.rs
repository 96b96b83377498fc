//! A supervisor returns a record while the tablet is in the middle of its
//! sync: after the tablet's pull has read the feed but before it asks the
//! server for its sealed records' states. The tablet must never show a
//! record as returned (退回) while it does not hold the return itself — the
//! comment and what to fix — or the officer taps 修改 and is refused with
//! "该记录未被退回". Found by the simulation (PostgreSQL pair, schedule 14,
//! where a pull can also be answered a moment before the other instance's
//! return is known).

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use serde_json::{Value, json};

use choucha_app_core::TaskStatus;
use choucha_sync_client::http::HttpTransport;
use choucha_sync_client::{Request, Response, Transport};
use choucha_tests::TestServer;
use choucha_tests::field::{admin_get, seal_unreachable, sync_all, tablet};

/// The real HTTP transport, which has a supervisor return the record (a
/// real request to the server) just before the first request for a
/// record's state.
struct ReturnMidSync {
    inner: HttpTransport,
    http: reqwest::Client,
    return_url: String,
    admin_token: String,
    version: String,
    done: AtomicBool,
}

impl Transport for ReturnMidSync {
    async fn send(&self, request: Request) -> Result<Response, String> {
        if request.path.starts_with("/api/v1/device/records/")
            && !self.done.swap(true, Ordering::SeqCst)
        {
            let status = self
                .http
                .post(&self.return_url)
                .bearer_auth(&self.admin_token)
                .json(&json!({ "version": self.version, "comment": COMMENT, "item_comments": {} }))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .status();
            assert_eq!(status, 200, "the supervisor's return");
        }
        self.inner.send(request).await
    }
}

const COMMENT: &str = "无法联系的证据不足，请补拍门牌";

fn officers(task: &Value) -> Vec<String> {
    task["team"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "officer")
        .map(|m| m["person_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_between_pull_and_state_check_is_not_shown_without_its_comment() {
    let server = TestServer::start_demo(None).unwrap();
    let root = tempfile::tempdir().unwrap();
    let draw = admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    let task = draw["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["category"] == "metrology")
        .unwrap()
        .clone();
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let app = tablet(&server, &officers(&task)[0], root.path(), "平板")
        .await
        .unwrap();
    let id = seal_unreachable(&app, &task_id).unwrap();
    sync_all(&app).await.unwrap();
    let versions = admin_get(&server, &format!("/api/v1/records/{id}"))
        .await
        .unwrap();
    let version = versions[0]["version"].as_str().unwrap().to_owned();

    // The return lands after this sync's pull and before its state check.
    let http = choucha_app_core::sync::http_client();
    app.sync_over(|e| ReturnMidSync {
        inner: HttpTransport::new(http.clone(), &e.server_url),
        http: reqwest::Client::new(),
        return_url: server.url(&format!("/api/v1/records/{id}/return")),
        admin_token: server.token().to_owned(),
        version,
        done: AtomicBool::new(false),
    })
    .await
    .unwrap();

    let status = |app: &choucha_app_core::App| {
        app.tasks()
            .unwrap()
            .into_iter()
            .find(|t| t.task_id == task_id)
            .unwrap()
            .status
    };
    // Whatever the tablet shows, what it shows holds: returned means the
    // return is here and the amendment can start.
    if status(&app) == TaskStatus::Returned {
        app.start_amendment(&id, Utc::now())
            .expect("a record shown as returned can be amended");
    } else {
        // The next sync brings the return with its comment.
        app.sync_once(&http).await.unwrap();
        assert_eq!(status(&app), TaskStatus::Returned);
        let r = app.start_amendment(&id, Utc::now()).unwrap();
        assert_eq!(r.comment, COMMENT);
    }
}
