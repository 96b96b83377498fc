//! Admin API tokens with a lifecycle (issue #18): the server never makes
//! or prints one (its output is a service log); an operator issues one to
//! a named person on a terminal or the admin's console page, shown once;
//! it expires, is listed without its secret, and is revoked at once; every
//! change made with it is audited under its holder and id. Each check
//! failed on the code before (a first token printed to stdout, never
//! expiring, no way to list or revoke one).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::Value;

use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};
use choucha_tests::{TEST_TOKEN_HOLDER, TempDir, TestServer, issue_token, server_binary};

/// `GET /api/v1/jurisdictions` with `token`: status and JSON body.
async fn call(http: &Client, base: &str, token: &str) -> (StatusCode, Value) {
    let r = http
        .get(format!("{base}/api/v1/jurisdictions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `choucha-server token …` on the server's database: stdout and stderr.
fn token_cli(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(server_binary().unwrap())
        .arg("--data-dir")
        .arg(&server.data_dir)
        .arg("token")
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_never_writes_a_token_to_its_output() {
    // A server started by hand, its whole output kept as a service's log
    // would be, at the most talkative level.
    let dir = TempDir::new("token-log").unwrap();
    let mut child = Command::new(server_binary().unwrap())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).ok();
        s
    });
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out_reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let base = rx.recv_timeout(Duration::from_secs(60)).expect("listening");

    // No token exists until an operator issues one; the server says how.
    let http = Client::new();
    let token = issue_token(dir.path(), None, &[], "张三").unwrap();
    let (status, _) = call(&http, &base, &token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&http, &base, &format!("{token}0")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let _ = child.kill();
    let _ = child.wait();
    let out = out_reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert!(
        err.contains("token new --name"),
        "the log says how to issue the first token: {err}"
    );
    for (name, text) in [("stdout", &out), ("stderr", &err)] {
        assert!(
            !text.contains(&token),
            "the token is in the server's {name}"
        );
        assert!(
            !text.contains("admin token:"),
            "the server printed a token on its {name}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_are_listed_without_secrets_and_are_revoked_at_once() {
    let server = TestServer::start().expect("server");
    let http = Client::new();
    let base = server.base_url.clone();

    // Issued on the command line: the secret alone on stdout, the rest said
    // on stderr.
    let (ok, secret, said) = token_cli(&server, &["new", "--name", "李四", "--days", "7"]);
    assert!(ok, "{said}");
    let secret = secret.trim().to_owned();
    assert_eq!(secret.len(), 64, "{secret}");
    assert!(
        said.contains("李四") && said.contains("只显示这一次"),
        "{said}"
    );
    assert_eq!(call(&http, &base, &secret).await.0, StatusCode::OK);

    // Bad requests are refused by what is wrong.
    let (ok, _, said) = token_cli(&server, &["new", "--name", "王五", "--days", "400"]);
    assert!(!ok && said.contains("1 至 365"), "{said}");
    let (ok, _, said) = token_cli(&server, &["new", "--name", " ", "--days", "7"]);
    assert!(!ok && said.contains("持有人"), "{said}");

    // Listed with holder, issuer and state — never a secret.
    let (ok, list, said) = token_cli(&server, &["list"]);
    assert!(ok, "{said}");
    assert!(
        !list.contains(&secret) && !list.contains(server.token()),
        "{list}"
    );
    let line = list.lines().find(|l| l.contains("李四")).expect(&list);
    let cols: Vec<&str> = line.split('\t').collect();
    assert_eq!(
        (cols[1], cols[2], cols[5]),
        ("李四", "cli", "有效"),
        "{line}"
    );
    let id = cols[0].to_owned();
    assert!(list.contains(TEST_TOKEN_HOLDER), "{list}");

    // Expired: the API says so, with when.
    let store = choucha_sync_server::store::Store::open(None, &server.data_dir)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE admin_tokens SET expires_at = '2026-01-01T00:00:00.000000Z' WHERE label = $1",
    )
    .bind(TEST_TOKEN_HOLDER)
    .execute(store.raw_pool())
    .await
    .unwrap();
    let (status, body) = call(&http, &base, server.token()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "token_expired", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("2026-01-01 08:00"),
        "the expiry in China time: {body}"
    );
    let (_, list, _) = token_cli(&server, &["list"]);
    assert!(
        list.lines()
            .any(|l| l.contains(TEST_TOKEN_HOLDER) && l.ends_with("已过期")),
        "{list}"
    );

    // Revoked: refused on the next request.
    let (ok, out, said) = token_cli(&server, &["revoke", &id]);
    assert!(ok && out.contains("已撤销"), "{out}{said}");
    let (status, body) = call(&http, &base, &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "token_revoked", "{body}");
    let (ok, _, said) = token_cli(&server, &["revoke", "0123456789ab"]);
    assert!(
        !ok && said.contains("没有编号为 0123456789ab 的令牌"),
        "{said}"
    );

    // The metrics route takes only a live token too.
    let r = http
        .get(format!("{base}/metrics"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_issues_and_revokes_tokens_in_the_console() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let http = Client::new();
    let base = server.base_url.clone();

    // Only the admin has the page.
    let supervisor = Session::login(&base, "zhiliangke", PASSWORD).await.unwrap();
    assert_eq!(
        supervisor.get("/console/tokens").await.unwrap().0,
        StatusCode::FORBIDDEN
    );
    let admin = Session::login(&base, "admin", PASSWORD).await.unwrap();
    let (status, page) = admin.get("/console/tokens").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("接口令牌") && page.contains(TEST_TOKEN_HOLDER),
        "{page}"
    );

    // A bad form says what is wrong and keeps nothing.
    let (status, page) = admin
        .post("/console/tokens", &[("name", "赵六"), ("days", "0")])
        .await
        .unwrap();
    assert!(status.is_client_error(), "{status}");
    assert!(page.contains("有效期须为 1 至 365 天"), "{page}");

    // Issued: the secret on the answer page once, and never again.
    let (status, page) = admin
        .post("/console/tokens", &[("name", "赵六"), ("days", "3")])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{page}");
    let secret = page
        .split("id=\"token-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect(&page)
        .to_owned();
    assert_eq!(secret.len(), 64);
    let (_, again) = admin.get("/console/tokens").await.unwrap();
    assert!(!again.contains(&secret), "the list shows a secret");

    // Used on the API, audited under its holder and id.
    let draw = choucha_tests::field::admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    let officer = draw["tasks"][0]["team"][0]["person_id"].as_str().unwrap();
    let r = http
        .post(format!("{base}/api/v1/enrolments"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({ "officer_id": officer }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let store = choucha_sync_server::store::Store::open(None, &server.data_dir)
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, action, object FROM audit_log WHERE action IN ('admin_token.issue', 'device.enrolment_code') ORDER BY seq",
    )
    .fetch_all(store.raw_pool())
    .await
    .unwrap();
    let issued = rows
        .iter()
        .find(|(actor, action, _)| actor == "admin" && action == "admin_token.issue")
        .unwrap_or_else(|| panic!("{rows:#?}"));
    let id = issued.2.trim_start_matches("admin-token:").to_owned();
    let used_by = format!("admin-token:赵六#{id}");
    assert!(
        rows.iter()
            .any(|(actor, action, _)| *actor == used_by && action == "device.enrolment_code"),
        "{used_by} in {rows:#?}"
    );

    // Revoked from the console: refused at once.
    let (status, page) = admin
        .post(&format!("/console/tokens/{id}/revoke"), &[])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("已撤销"), "{page}");
    let row = page
        .split(&format!("data-token=\"{id}\""))
        .nth(1)
        .and_then(|s| s.split("</tr>").next())
        .expect(&page);
    assert!(row.contains("已撤销"), "{row}");
    let (status, body) = call(&http, &base, &secret).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );
    store.close().await;
}
