//! The field app end to end in its real window: Xvfb, tauri-driver with
//! WebKitWebDriver, a WebDriver client, the real server with the demo draw.
//!
//! 1. Enrol (after a wrong code and an unreachable server, each with its
//!    message on screen), pull, then — with the server stopped — a whole
//!    inspection: every checklist item, photos chosen from fixture files
//!    (and a text file refused), a finding with its rectification order
//!    previewed, a refused seal listing the violations, four signatures
//!    drawn with pointer actions, the seal; then the server is back, the
//!    app syncs and the server holds the submitted record.
//!    The inspection's rectification order then comes back as a 复查 task:
//!    pulled, done on its screen (a refused seal, the result, photos,
//!    signatures), sealed and synced; the console shows the finding closed.
//!    The review screen shows the conclusion 不合格 before sealing (the
//!    failed item is a veto item).
//! 2. The network drops in the middle of the sync (server stopped behind a
//!    slow link, then restarted): the app finishes on its own and the
//!    server holds every log entry exactly once.
//!
//! 3. A company not found at its registered address (无法联系): the case
//!    chosen instead of the walk-through, its evidence, sealed and synced.
//!
//! 4. 咨询: a question asked on an item while the server is away, synced,
//!    answered in the console, the answer shown under the item, and the
//!    FAQ entry made of it shown with the item.
//!
//! 5. Revocation: the notice over every screen after the next sync, then,
//!    once confirmed, the data, photos and key wiped and the app empty.
//!
//! Screenshots of the key screens go to `target/e2e-screenshots/`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use fantoccini::Locator;
use reqwest::Client;
use serde_json::{Value, json};

use choucha_tests::throttle::SlowLink;
use choucha_tests::webapp::FieldApp;
use choucha_tests::{TempDir, TestServer, workspace_root};

fn fixture(name: &str) -> PathBuf {
    workspace_root().join("tests/fixtures/photos").join(name)
}

async fn admin(client: &Client, server: &TestServer, path: &str) -> Value {
    client
        .get(server.url(path))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A drawn task of `category` and a fresh enrolment code (with its QR
/// payload) for the task's first officer.
async fn task_and_code(
    client: &Client,
    server: &TestServer,
    category: &str,
) -> (Value, String, String) {
    let draw = admin(client, server, "/api/v1/draws/GXQ-2023-ZBJR-D1").await;
    let task = draw["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["category"] == category)
        .unwrap_or_else(|| panic!("no {category} task in the demo draw"))
        .clone();
    let officer = task["team"][0]["person_id"].as_str().unwrap().to_owned();
    let code: Value = client
        .post(server.url("/api/v1/enrolments"))
        .bearer_auth(server.token())
        .json(&json!({ "officer_id": officer }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        task,
        code["enrolment"]["code"].as_str().unwrap().to_owned(),
        code["qr_payload"].as_str().unwrap().to_owned(),
    )
}

/// What an inspection run through the UI should include.
struct Plan {
    /// Make one item nonconforming (`finding_item`, else the first), with a
    /// note, a photo and a finding disposed of by a rectification order.
    with_finding: bool,
    /// The item that fails; a veto item (否决项) makes the conclusion
    /// 不合格, which the review screen must show before sealing.
    finding_item: Option<&'static str>,
    /// Try a text file as a photo and sealing before signing.
    bad_inputs: bool,
    /// Process photos beyond the one required.
    extra_process_photos: usize,
    /// Record the enterprise's refusal instead of its signature.
    refusal: bool,
    screenshots: bool,
}

async fn count(app: &FieldApp, css: &str) -> usize {
    app.client
        .find_all(Locator::Css(css))
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

async fn wait_count(app: &FieldApp, css: &str, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(app, css).await < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{css}: fewer than {n} within 60 s; screen:\n{}",
            app.body_text().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Runs a whole inspection of `task_id` in the window; returns the record ID.
async fn inspect(app: &mut FieldApp, task_id: &str, plan: &Plan) -> anyhow::Result<String> {
    app.click(&format!(".task-card[data-task='{task_id}']"))
        .await?;
    app.wait("#screen-task").await?;
    if plan.screenshots {
        app.screenshot("task-detail").await?;
    }
    app.click("#start-inspection").await?;
    app.wait("#screen-items").await?;
    let record_id = app
        .wait(".inspect-nav")
        .await?
        .attr("data-record")
        .await?
        .context("no record id on screen")?;

    let total: usize = app
        .wait("#progress-text")
        .await?
        .text()
        .await?
        .split('/')
        .nth(1)
        .and_then(|t| t.trim().parse().ok())
        .context("progress text")?;
    for n in 0..total {
        let item = app.wait("#item-id").await?.text().await?;
        let first = n == 0;
        let failing = plan.with_finding && plan.finding_item.map_or(first, |id| item.trim() == id);
        let verdict = if failing {
            if count(app, "[data-verdict='nonconform']").await > 0 {
                "nonconform"
            } else {
                "minor"
            }
        } else if count(app, "[data-verdict='conform']").await > 0 {
            "conform"
        } else {
            "pass"
        };
        app.click(&format!(".verdict[data-verdict='{verdict}']"))
            .await?;
        app.wait(&format!(".verdict.chosen[data-verdict='{verdict}']"))
            .await?;
        if failing {
            app.fill("#item-note", "现场未见计量器具检定证书").await?;
            // The screen re-renders while the note is typed (offline, the
            // sync status counts down every poll): the typed text stays.
            tokio::time::sleep(Duration::from_millis(3200)).await;
            let typed = app
                .wait("#item-note")
                .await?
                .prop("value")
                .await?
                .unwrap_or_default();
            anyhow::ensure!(
                typed.contains("检定证书"),
                "the unsaved note was wiped by a re-render: {typed:?}"
            );
            // The note is saved when the field loses focus.
            app.click("#basis-toggle").await?;
            app.wait("#basis").await?;
            if plan.screenshots {
                app.screenshot("checklist-item-legal-basis").await?;
            }
        }
        if count(app, "#item-photo-input").await > 0 {
            let before = count(app, ".item-thumb").await;
            if first && plan.bad_inputs {
                let junk = app.home.join("not-a-photo.txt");
                std::fs::write(&junk, "这不是照片 — not a photo")?;
                app.attach("#item-photo-input", &junk).await?;
                app.wait_text("#error", "不是图片").await?;
                if plan.screenshots {
                    app.screenshot("error-not-an-image").await?;
                }
            }
            app.attach("#item-photo-input", &fixture("item.jpg"))
                .await?;
            wait_count(app, "img.item-thumb", before + 1).await?;
        }
        if failing {
            let note = app
                .wait("#item-note")
                .await?
                .prop("value")
                .await?
                .unwrap_or_default();
            anyhow::ensure!(note.contains("检定证书"), "note not kept: {note}");
        }
        if n + 1 < total {
            app.click("#item-next").await?;
            app.wait_js(
                &format!("document.querySelector('#item-id') && document.querySelector('#item-id').textContent !== {}", json!(item)),
                Duration::from_secs(20),
            )
            .await?;
        }
    }
    app.wait_text("#progress-text", &format!("{total}/{total}"))
        .await?;
    if plan.screenshots {
        app.screenshot("checklist-done").await?;
    }

    // Gate/signboard and process photos, the watermarked result on screen.
    app.click("#tab-photos").await?;
    app.wait("#screen-photos").await?;
    app.attach("#gate-photo-input", &fixture("gate.jpg"))
        .await?;
    wait_count(app, ".gate-photos img.thumb", 1).await?;
    for k in 0..=plan.extra_process_photos {
        let name = if k % 2 == 0 {
            "process.jpg"
        } else {
            "gate.jpg"
        };
        app.attach("#process-photo-input", &fixture(name)).await?;
        wait_count(app, ".process-photos img.thumb", k + 1).await?;
    }
    app.wait("#photo-result").await?;
    if plan.screenshots {
        app.screenshot("photos-watermarked").await?;
    }

    if plan.with_finding {
        app.click("#tab-findings").await?;
        app.wait("#screen-findings").await?;
        app.fill(
            "#finding-desc",
            "在用计量器具（电子秤 2 台）未按规定申请强制检定",
        )
        .await?;
        app.fill("#finding-order-no", "渝高新市监责改〔2024〕17号")
            .await?;
        let deadline = (Utc::now() + chrono::Duration::days(30))
            .format("%Y-%m-%d")
            .to_string();
        app.client
            .execute(
                "document.querySelector('#finding-deadline').value = arguments[0];",
                vec![json!(deadline)],
            )
            .await?;
        app.fill("#finding-req", "于期限内申请强制检定并提交检定证书复印件")
            .await?;
        app.click("#finding-add").await?;
        wait_count(app, ".finding", 1).await?;
        app.click("#orders-preview").await?;
        app.wait_text("#order-no", "17号").await?;
        // Written as a PDF on the tablet, offline, its text shown to read.
        let text = app.wait_text("#order-text", "责令整改通知书").await?;
        anyhow::ensure!(text.contains("执法证号"), "{text}");
        let file = app
            .client
            .find(fantoccini::Locator::Css(".order-file .mono"))
            .await?
            .text()
            .await?;
        let pdf = std::fs::read(&file).with_context(|| format!("the order's PDF {file}"))?;
        anyhow::ensure!(pdf.starts_with(b"%PDF-"), "{file} is a PDF");
        if plan.screenshots {
            app.screenshot("rectification-order").await?;
        }
    }

    app.click("#tab-review").await?;
    app.wait("#screen-review").await?;
    if let Some(item) = plan.finding_item {
        // The veto item failed: 不合格 before anything is sealed.
        app.wait("#conclusion[data-conclusion='fail']").await?;
        app.wait_text("#conclusion", &format!("否决项 {item}"))
            .await?;
        if plan.screenshots {
            app.screenshot("conclusion-fail").await?;
        }
    }
    if plan.bad_inputs {
        // Sealing with violations: refused, every violation listed.
        app.click("#seal").await?;
        app.wait_text("#error", "不能封存").await?;
        app.wait(".violation.refused").await?;
        if plan.screenshots {
            app.screenshot("seal-refused-violations").await?;
        }
        // Jump from a violation to where it is fixed.
        app.click(".violation .jump-btn").await?;
    } else {
        app.click("#tab-sign").await?;
    }
    app.wait("#screen-sign").await?;

    let members: Vec<String> = {
        let mut v = Vec::new();
        for e in app
            .client
            .find_all(Locator::Css(".signer[data-person]"))
            .await?
        {
            v.push(e.attr("data-person").await?.unwrap_or_default());
        }
        v
    };
    anyhow::ensure!(members.len() >= 2, "team on the sign screen: {members:?}");
    for (k, person) in members.iter().enumerate() {
        app.click(&format!(".sign-btn[data-signer='{person}']"))
            .await?;
        app.wait("#pad").await?;
        app.draw_signature("#pad", k as f64).await?;
        app.wait_js(
            "document.querySelector('#pad-save') && !document.querySelector('#pad-save').disabled",
            Duration::from_secs(10),
        )
        .await?;
        if k == 0 && plan.screenshots {
            app.screenshot("signature-pad").await?;
        }
        app.click("#pad-save").await?;
        app.wait(&format!(
            ".signer[data-person='{person}'] .sig-status[data-status='signed']"
        ))
        .await?;
    }
    if plan.refusal {
        app.click(".refusal summary").await?;
        app.fill("#refusal-reason", "企业负责人以需请示总公司为由拒绝签字")
            .await?;
        app.fill("#refusal-witness", "物业管理处 李明").await?;
        app.click("#refusal-save").await?;
        app.wait("#refusal-recorded").await?;
    } else {
        app.fill("#ent-name", "赵建华").await?;
        app.click(".sign-btn[data-signer='enterprise']").await?;
        app.wait("#pad").await?;
        app.draw_signature("#pad", 7.0).await?;
        app.click("#pad-save").await?;
        wait_count(app, ".sig-status[data-status='signed']", members.len() + 1).await?;
    }
    if plan.screenshots {
        app.screenshot("signatures").await?;
    }

    app.click("#tab-review").await?;
    app.wait("#review-ok").await?;
    app.click("#seal").await?;
    app.wait("#sealed-note").await?;
    if plan.screenshots {
        app.screenshot("sealed").await?;
    }
    Ok(record_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_inspection_in_the_app_window_offline_then_synced() -> anyhow::Result<()> {
    let mut server = TestServer::start_demo(None)?;
    let http = Client::new();
    let (task, code, _qr) = task_and_code(&http, &server, "metrology").await;
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let home = TempDir::new("field-app")?;
    let mut app = FieldApp::launch(
        home.path(),
        &[("CHOUCHA_LOCATION", "29.60052,106.30631,8".into())],
        "inspection",
    )
    .await?;

    // Enrolment, with the two mistakes an officer makes.
    app.wait("#screen-enrol").await?;
    app.screenshot("enrol").await?;
    app.fill("#enrol-server", &server.base_url).await?;
    app.fill("#enrol-code", "XXXX-XXXX").await?;
    app.click("#enrol-submit").await?;
    app.wait_text("#error", "注册码无效").await?;
    app.screenshot("error-wrong-code").await?;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    app.fill("#enrol-server", &format!("http://{closed}"))
        .await?;
    app.fill("#enrol-code", &code).await?;
    app.click("#enrol-submit").await?;
    app.wait_text("#error", "无法连接服务器").await?;
    app.screenshot("error-server-unreachable").await?;
    app.fill("#enrol-server", &server.base_url).await?;
    app.click("#enrol-submit").await?;
    app.wait("#screen-tasks").await?;
    app.wait(&format!(".task-card[data-task='{task_id}']"))
        .await?;
    app.wait_text(
        &format!(".task-card[data-task='{task_id}'] .task-state"),
        "待检查",
    )
    .await?;
    app.screenshot("tasks").await?;
    app.click("#lang-toggle").await?;
    app.wait_text("#screen-tasks h1", "Today's tasks").await?;
    app.screenshot("tasks-english").await?;
    app.click("#lang-toggle").await?;
    app.wait_text("#screen-tasks h1", "今日任务").await?;
    app.set_size(800, 1280).await?;
    app.screenshot("tasks-portrait").await?;
    app.set_size(1280, 800).await?;

    // Offline from here: the server is down for the whole inspection.
    server.kill();
    let plan = Plan {
        with_finding: true,
        // MET-1.04 is a veto item of the metrology checklist.
        finding_item: Some("MET-1.04"),
        bad_inputs: true,
        extra_process_photos: 1,
        refusal: false,
        screenshots: true,
    };
    let record_id = inspect(&mut app, &task_id, &plan).await?;

    // Back online: sync, and the server holds the submitted record.
    server.restart()?;
    app.click("#nav-sync").await?;
    app.wait("#screen-sync").await?;
    app.click("#sync-now").await?;
    app.wait_text("#sync-headline", "已全部同步").await?;
    app.screenshot("sync-done").await?;
    let versions = admin(&http, &server, &format!("/api/v1/records/{record_id}")).await;
    let versions = versions.as_array().context("record versions")?;
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0]["state"], "received", "{versions:?}");
    let record = &versions[0]["record"];
    assert_eq!(record["task_id"], task_id.as_str());
    assert_eq!(record["signatures"].as_array().unwrap().len(), 4);
    assert_eq!(record["findings"].as_array().unwrap().len(), 1);
    let photos = record["photos"].as_array().unwrap();
    assert!(photos.iter().any(|p| p["subject"]["kind"] == "gate"));
    assert!(
        photos.iter().all(|p| p["gps"]["lat"].as_f64().is_some()),
        "every photo carries the position"
    );

    app.click("#nav-tasks").await?;
    app.wait_text(
        &format!(".task-card[data-task='{task_id}'] .task-state"),
        "已提交",
    )
    .await?;
    app.screenshot("tasks-submitted").await?;

    // The order's 复查 comes back as field work.
    let finding_id = record["findings"][0]["finding_id"]
        .as_str()
        .context("finding id")?
        .to_owned();
    recheck_in_the_window(&mut app, &server).await?;
    app.close().await?;
    // The server took it: the finding is closed, its 复查 shown.
    choucha_tests::console::set_demo_passwords(&server)?;
    let s = choucha_tests::console::Session::login(
        &server.base_url,
        "zhiliangke",
        choucha_tests::console::PASSWORD,
    )
    .await?;
    let (status, html) = s.get(&format!("/console/followup/{finding_id}")).await?;
    assert_eq!(status, 200);
    assert!(html.contains("已复查") && html.contains("已整改"), "{html}");
    Ok(())
}

/// Pulls the 复查 of the inspection's order, does it on its screen — a
/// refused seal first, then the result, the photos and the signatures —
/// seals it and syncs.
async fn recheck_in_the_window(app: &mut FieldApp, server: &TestServer) -> anyhow::Result<()> {
    let _ = server;
    app.click("#nav-sync").await?;
    app.wait("#screen-sync").await?;
    app.click("#sync-now").await?;
    app.wait_text("#sync-headline", "已全部同步").await?;
    app.click("#nav-tasks").await?;
    app.wait(".recheck-card").await?;
    app.wait_text(".recheck-card .deadline", "天后到期").await?;
    app.wait_text(".recheck-card .recheck-state", "待复查")
        .await?;
    app.screenshot("recheck-listed").await?;
    app.click(".recheck-card").await?;
    app.wait("#screen-recheck").await?;
    app.wait_text("#recheck-order", "17号").await?;
    app.click("#recheck-start").await?;
    app.wait(".recheck-finding").await?;
    // Sealing now is refused, listing what is missing.
    app.click("#recheck-seal").await?;
    app.wait_text("#error", "不能封存").await?;
    app.wait(".violation.refused").await?;
    app.screenshot("recheck-seal-refused").await?;
    app.click(".recheck-outcome[data-outcome='rectified']")
        .await?;
    app.wait(".recheck-outcome.chosen[data-outcome='rectified']")
        .await?;
    app.fill("#recheck-note-0", "已送检，检定证书已张贴")
        .await?;
    app.click("#recheck-order").await?;
    app.attach("#recheck-gate-input", &fixture("gate.jpg"))
        .await?;
    wait_count(app, ".gate-photos img", 1).await?;
    app.attach("#recheck-photo-0", &fixture("item.jpg")).await?;
    wait_count(app, "img.recheck-thumb", 1).await?;
    let members: Vec<String> = {
        let mut v = Vec::new();
        for e in app
            .client
            .find_all(Locator::Css("#screen-recheck .signer[data-person]"))
            .await?
        {
            v.push(e.attr("data-person").await?.unwrap_or_default());
        }
        v
    };
    anyhow::ensure!(members.len() >= 2, "team on the 复查 screen: {members:?}");
    for (k, person) in members.iter().enumerate() {
        app.click(&format!(".sign-btn[data-signer='{person}']"))
            .await?;
        app.wait("#pad").await?;
        app.draw_signature("#pad", 20.0 + k as f64).await?;
        app.wait_js(
            "document.querySelector('#pad-save') && !document.querySelector('#pad-save').disabled",
            Duration::from_secs(10),
        )
        .await?;
        app.click("#pad-save").await?;
        app.wait(&format!(
            ".signer[data-person='{person}'] .sig-status[data-status='signed']"
        ))
        .await?;
    }
    app.fill("#ent-name", "赵建华").await?;
    app.click(".sign-btn[data-signer='enterprise']").await?;
    app.wait("#pad").await?;
    app.draw_signature("#pad", 27.0).await?;
    app.click("#pad-save").await?;
    wait_count(
        app,
        "#screen-recheck .sig-status[data-status='signed']",
        members.len() + 1,
    )
    .await?;
    app.wait("#recheck-ok").await?;
    app.screenshot("recheck-complete").await?;
    app.click("#recheck-seal").await?;
    app.wait("#recheck-sealed").await?;
    app.click("#nav-sync").await?;
    app.wait("#screen-sync").await?;
    app.click("#sync-now").await?;
    app.wait_text("#sync-headline", "已全部同步").await?;
    app.click("#nav-tasks").await?;
    app.wait_text(".recheck-card .recheck-state", "已封存")
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_drops_mid_sync_and_the_app_finishes_on_its_own() -> anyhow::Result<()> {
    let mut server = TestServer::start_demo(None)?;
    let http = Client::new();
    let (task, _code, qr) = task_and_code(&http, &server, "standard").await;
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    // The app reaches the server over a slow link (300 KB/s up).
    let upstream = server.base_url.trim_start_matches("http://").to_owned();
    let link = SlowLink::start(&upstream, 300 * 1024).await?;
    let qr = qr.replace(&server.base_url, &link.url);
    assert!(qr.contains(&link.url), "{qr}");
    let home = TempDir::new("field-app-drop")?;
    let mut app = FieldApp::launch(
        home.path(),
        &[
            ("CHOUCHA_ENROL", qr),
            ("CHOUCHA_LOCATION", "simulated".into()),
        ],
        "network-drop",
    )
    .await?;
    // Enrolled on start (as the demo does), tasks pulled.
    app.wait(&format!(".task-card[data-task='{task_id}']"))
        .await?;
    let plan = Plan {
        with_finding: false,
        finding_item: None,
        bad_inputs: false,
        extra_process_photos: 5,
        refusal: true,
        screenshots: false,
    };
    let sent_before = link.uploaded();
    let record_id = inspect(&mut app, &task_id, &plan).await?;

    // Sealing starts the upload; stop the server once part of it is through.
    let deadline = Instant::now() + Duration::from_secs(60);
    while link.uploaded() < sent_before + 600 * 1024 {
        anyhow::ensure!(Instant::now() < deadline, "the upload did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    app.click("#nav-sync").await?;
    app.wait_text("#sync-error", "无法连接服务器").await?;
    let waiting = app.wait("#sync-waiting").await?.text().await?;
    assert!(
        waiting.contains("等待上传"),
        "something must be left when the link drops: {waiting}"
    );
    app.screenshot("sync-interrupted").await?;

    tokio::time::sleep(Duration::from_secs(2)).await;
    server.restart()?;
    // No taps from here: the background sync retries and finishes.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let headline = app.wait("#sync-headline").await?.text().await?;
        if headline.contains("已全部同步") {
            break;
        }
        if Instant::now() > deadline {
            let screen = app.body_text().await;
            app.close().await?;
            let local = choucha_tests::webapp::open_local(home.path())?;
            let device = local.enrolment()?.context("enrolled")?.device_id;
            let held = admin(&http, &server, &format!("/api/v1/devices/{device}/log")).await;
            let log = local.log()?;
            let report = local
                .sync_once(&choucha_app_core::sync::http_client())
                .await;
            anyhow::bail!(
                "the app did not finish on its own: {headline}\n{screen}\nserver holds {} entries, \
                 device has {} ({} confirmed); a sync now: {report:?}",
                held.as_array().map_or(0, Vec::len),
                log.len(),
                log.iter().filter(|(_, c)| *c).count()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    app.screenshot("sync-finished-on-its-own").await?;
    app.close().await?;

    // Nothing lost, nothing duplicated: the server holds the device's log
    // exactly as the device wrote it, and one version of the record.
    let local = choucha_tests::webapp::open_local(home.path())?;
    let device = local.enrolment()?.context("enrolled")?.device_id;
    let held = admin(&http, &server, &format!("/api/v1/devices/{device}/log")).await;
    let held = held.as_array().context("device log")?;
    let log = local.log()?;
    assert_eq!(held.len(), log.len(), "each entry exactly once");
    for (h, (l, confirmed)) in held.iter().zip(&log) {
        assert_eq!(h["hash"], l.hash.as_str());
        assert!(confirmed);
    }
    let versions = admin(&http, &server, &format!("/api/v1/records/{record_id}")).await;
    let versions = versions.as_array().context("record versions")?;
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(versions[0]["state"], "received", "{versions:?}");
    assert_eq!(
        versions[0]["record"]["photos"].as_array().unwrap().len(),
        local.record(&record_id.parse()?)?.photos.len()
    );
    Ok(())
}

/// A company not found at its registered address, in the window: the
/// outcome chosen instead of the walk-through, what was found, two attempts
/// to reach it (each with its time), the photo at the address with its
/// position, the officers' signatures, the seal; synced, the server holds
/// it as 无法联系.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_not_found_at_its_address_is_recorded_in_the_app_window() -> anyhow::Result<()> {
    let server = TestServer::start_demo(None)?;
    let http = Client::new();
    let (task, code, _qr) = task_and_code(&http, &server, "metrology").await;
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let home = TempDir::new("field-app")?;
    let mut app = FieldApp::launch(
        home.path(),
        &[("CHOUCHA_LOCATION", "29.60052,106.30631,8".into())],
        "unreachable",
    )
    .await?;
    app.wait("#screen-enrol").await?;
    app.fill("#enrol-server", &server.base_url).await?;
    app.fill("#enrol-code", &code).await?;
    app.click("#enrol-submit").await?;
    app.wait(&format!(".task-card[data-task='{task_id}']"))
        .await?;
    app.click(&format!(".task-card[data-task='{task_id}']"))
        .await?;
    app.click("#start-inspection").await?;
    app.wait("#screen-items").await?;
    let record_id = app
        .wait(".inspect-nav")
        .await?
        .attr("data-record")
        .await?
        .context("no record id on screen")?;

    app.click("#tab-outcome").await?;
    app.wait("#screen-outcome[data-outcome='normal']").await?;
    app.click(".outcome-choice[data-outcome='unreachable']")
        .await?;
    app.select("#premises", "locked").await?;
    app.fill("#outcome-desc", "登记地址卷帘门紧闭，门口无招牌，无人办公")
        .await?;
    app.click("#outcome-save").await?;
    app.wait("#screen-outcome[data-outcome='unreachable']")
        .await?;
    for (k, (way, whom, result)) in [
        ("phone", "登记电话 023-6512 0000", "空号"),
        ("neighbour", "隔壁五金店店主", "称该企业半年前已搬走"),
    ]
    .into_iter()
    .enumerate()
    {
        app.select("#attempt-way", way).await?;
        app.fill("#attempt-whom", whom).await?;
        app.fill("#attempt-result", result).await?;
        app.click("#attempt-add").await?;
        wait_count(&app, "#attempts .attempt", k + 1).await?;
    }
    app.attach("#address-photo-input", &fixture("gate.jpg"))
        .await?;
    wait_count(&app, ".address-photos img", 1).await?;
    app.screenshot("outcome-unreachable").await?;

    // Only the officers' signatures are missing now: no item verdicts.
    app.click("#tab-review").await?;
    app.wait("#outcome-summary[data-outcome='unreachable']")
        .await?;
    app.wait_text("#violations", "执法人员签字").await?;
    let violations = count(&app, "#violations .violation").await;
    anyhow::ensure!(
        violations == 1,
        "{violations} violations, expected the signatures only"
    );
    app.click("#tab-sign").await?;
    app.wait("#screen-sign").await?;
    let mut officers = Vec::new();
    for e in app
        .client
        .find_all(Locator::Css(".signer[data-person]"))
        .await?
    {
        let person = e.attr("data-person").await?.unwrap_or_default();
        let hint = e.text().await?;
        if hint.contains("执法人员") {
            officers.push(person);
        }
    }
    anyhow::ensure!(
        officers.len() >= 2,
        "officers on the sign screen: {officers:?}"
    );
    for (k, person) in officers.iter().enumerate() {
        app.click(&format!(".sign-btn[data-signer='{person}']"))
            .await?;
        app.wait("#pad").await?;
        app.draw_signature("#pad", 40.0 + k as f64).await?;
        app.wait_js(
            "document.querySelector('#pad-save') && !document.querySelector('#pad-save').disabled",
            Duration::from_secs(10),
        )
        .await?;
        app.click("#pad-save").await?;
        app.wait(&format!(
            ".signer[data-person='{person}'] .sig-status[data-status='signed']"
        ))
        .await?;
    }
    app.click("#tab-review").await?;
    app.wait("#review-ok").await?;
    app.click("#seal").await?;
    app.wait("#sealed-note").await?;
    app.click("#nav-sync").await?;
    app.wait("#screen-sync").await?;
    app.click("#sync-now").await?;
    app.wait_text("#sync-headline", "已全部同步").await?;
    app.close().await?;

    let versions = admin(&http, &server, &format!("/api/v1/records/{record_id}")).await;
    let v = &versions[0];
    assert_eq!(v["state"], "received", "{versions}");
    let outcome = &v["record"]["outcome"];
    assert_eq!(outcome["kind"], "unreachable", "{outcome}");
    assert_eq!(outcome["attempts"].as_array().map(Vec::len), Some(2));
    assert!(
        v["record"]["photos"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["subject"]["kind"] == "address" && p["gps"]["lat"].is_number()),
        "the address photo with its position"
    );
    Ok(())
}

/// 咨询 in the window: on an item of the checklist the officer asks the
/// quality section a question while the server is away; it syncs when the
/// server is back, the quality section answers in the console, and after
/// the next sync the answer shows under the item. A safety hazard reported
/// upward (上报) from the findings screen, offline too, reaches the quality
/// section with the same sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_asked_on_an_item_is_answered_in_the_app_window() -> anyhow::Result<()> {
    let mut server = TestServer::start_demo(None)?;
    choucha_tests::console::set_demo_passwords(&server)?;
    let http = Client::new();
    let (task, code, _qr) = task_and_code(&http, &server, "metrology").await;
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let home = TempDir::new("field-app")?;
    let mut app = FieldApp::launch(
        home.path(),
        &[("CHOUCHA_LOCATION", "29.60052,106.30631,8".into())],
        "question",
    )
    .await?;
    app.wait("#screen-enrol").await?;
    app.fill("#enrol-server", &server.base_url).await?;
    app.fill("#enrol-code", &code).await?;
    app.click("#enrol-submit").await?;
    let card = format!(".task-card[data-task='{task_id}']");
    app.wait(&card).await?;
    app.click(&card).await?;
    app.click("#start-inspection").await?;
    app.wait("#screen-items").await?;
    let item = app.wait("#item-id").await?.text().await?;

    // Offline: asked and kept.
    server.kill();
    let question = "加油机检定合格标志过期 3 天但已预约复检，本项如何判定？";
    app.click("#ask-toggle").await?;
    app.fill("#question-input", question).await?;
    app.click("#ask-send").await?;
    app.wait_text("#item-questions .question[data-state='waiting']", question)
        .await?;
    app.screenshot("question-asked").await?;
    let question_id = app
        .wait("#item-questions .question")
        .await?
        .attr("data-question")
        .await?
        .context("no question id on screen")?;
    // 上报, offline too: a safety hazard reported from the findings screen.
    app.click("#tab-findings").await?;
    app.wait("#screen-findings").await?;
    let hazard = "加油机防爆挠性管老化开裂，现场有油气味，企业仍在加油";
    app.fill("#escalate-text", hazard).await?;
    app.select("#escalate-kind", "safety_hazard").await?;
    app.click("#escalate-send").await?;
    app.wait_text("#escalations .escalation", hazard).await?;
    app.wait_text("#escalations .escalation", "安全隐患")
        .await?;
    app.screenshot("escalated").await?;
    let escalation_id = app
        .wait("#escalations .escalation")
        .await?
        .attr("data-escalation")
        .await?
        .context("no escalation id on screen")?;

    // The server is back: the question syncs; the quality section answers.
    server.restart()?;
    app.click("#nav-sync").await?;
    app.click("#sync-now").await?;
    app.wait_text("#sync-headline", "已全部同步").await?;
    let s = choucha_tests::console::Session::login(
        &server.base_url,
        "zhiliangke",
        choucha_tests::console::PASSWORD,
    )
    .await?;
    let (_, page) = s.get(&format!("/console/questions/{question_id}")).await?;
    anyhow::ensure!(page.contains(question) && page.contains(&item), "{page}");
    let (status, page) = s
        .get(&format!("/console/escalations/{escalation_id}"))
        .await?;
    anyhow::ensure!(status == 200 && page.contains(hazard), "{status} {page}");
    anyhow::ensure!(page.contains("安全隐患（需应急管控）"), "{page}");
    let answer = "应判不符合：检定合格标志过期即未按规定检定，责令改正。";
    let (status, _) = s
        .post(
            &format!("/console/questions/{question_id}/answer"),
            &[
                ("text", answer),
                ("basis", "《中华人民共和国计量法》第九条"),
                ("answered_by", "质量科 王建国"),
            ],
        )
        .await?;
    anyhow::ensure!(status == 303, "answer: {status}");
    // …and makes it an entry of the checklist's FAQ for every officer.
    let (status, _) = s
        .post(
            &format!("/console/questions/{question_id}/faq"),
            &[
                (
                    "question",
                    "加油机检定合格标志过期但已预约复检，本项如何判定？",
                ),
                ("answer", answer),
            ],
        )
        .await?;
    anyhow::ensure!(status == 303, "faq: {status}");

    // The next sync brings the answer and the FAQ entry; both show with
    // the item.
    app.click("#sync-now").await?;
    app.wait_text("#sync-headline", "已全部同步").await?;
    app.click("#nav-tasks").await?;
    app.click(&card).await?;
    app.click("#start-inspection").await?;
    app.wait("#screen-items").await?;
    app.wait_text(
        "#item-questions .question[data-state='answered'] .answer",
        answer,
    )
    .await?;
    app.wait_text("#item-questions .basis", "计量法").await?;
    app.wait_text("#item-faq .faq-entry[data-seq='1']", "已预约复检")
        .await?;
    app.screenshot("question-answered").await?;
    app.close().await?;
    Ok(())
}

/// Revocation in the window: the tablet is revoked by the bureau; the next
/// sync shows the notice over every screen; the officer confirms and the
/// app wipes its records, photos and key, then shows itself empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tablet_shows_the_notice_then_wipes_itself() -> anyhow::Result<()> {
    let server = TestServer::start_demo(None)?;
    let http = Client::new();
    let (task, code, _qr) = task_and_code(&http, &server, "metrology").await;
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let officer = task["team"][0]["person_id"].as_str().unwrap().to_owned();
    let home = TempDir::new("field-app")?;
    let mut app = FieldApp::launch(
        home.path(),
        &[("CHOUCHA_LOCATION", "29.60052,106.30631,8".into())],
        "revoked",
    )
    .await?;
    app.wait("#screen-enrol").await?;
    app.fill("#enrol-server", &server.base_url).await?;
    app.fill("#enrol-code", &code).await?;
    app.click("#enrol-submit").await?;
    let card = format!(".task-card[data-task='{task_id}']");
    app.wait(&card).await?;
    app.click(&card).await?;
    app.click("#start-inspection").await?;
    app.wait("#screen-items").await?;
    let key = home.path().join("keystore").join("vault.json");
    anyhow::ensure!(
        key.exists(),
        "the wrapped data key is where the shell keeps it"
    );

    // The bureau revokes this officer's tablet.
    let store = choucha_sync_server::store::Store::open(None, &server.data_dir).await?;
    let (device_id,): (String,) =
        sqlx::query_as("SELECT device_id FROM devices WHERE officer_id = $1")
            .bind(&officer)
            .fetch_one(store.raw_pool())
            .await?;
    let r = http
        .post(server.url(&format!("/api/v1/devices/{device_id}/revoke")))
        .bearer_auth(server.token())
        .send()
        .await?;
    anyhow::ensure!(r.status() == 204, "revoke: {}", r.status());

    app.click("#nav-sync").await?;
    // A sync the app began before the revocation (when the inspection
    // started) may still end well; the officer taps again until the server
    // answers the revocation, as anyone would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let notice = app
            .client
            .find(fantoccini::Locator::Css("#revoked-notice"))
            .await
            .is_ok();
        if notice {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no revocation notice after tapping 立即同步 for 60 s; the screen shows:\n{}",
            app.body_text().await
        );
        if let Ok(b) = app.client.find(fantoccini::Locator::Css("#sync-now")).await {
            if b.is_enabled().await.unwrap_or(false) {
                b.click().await.ok();
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    app.wait_text("#revoked-notice", "将被清除").await?;
    anyhow::ensure!(key.exists(), "nothing is wiped before the notice is read");
    app.screenshot("revoked-notice").await?;
    app.click("#wipe-confirm").await?;
    app.wait_text("#screen-wiped", "已清除").await?;
    app.screenshot("revoked-wiped").await?;
    anyhow::ensure!(!key.exists(), "the key is gone");
    let evidence = std::fs::read_dir(home.path().join("data").join("evidence"))?.count();
    anyhow::ensure!(evidence == 0, "{evidence} evidence files left");
    app.close().await?;
    Ok(())
}

/// The PIN lock in the window: the first start asked for a PIN (in
/// `launch`); after the idle time the lock screen comes back by itself; a
/// wrong PIN says how many tries are left; the PIN is changed in the
/// settings, and the next start opens with the new one, data kept. The
/// data key is nowhere on disk in plain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_locks_when_idle_and_opens_only_with_the_pin() -> anyhow::Result<()> {
    let server = TestServer::start_demo(None)?;
    let http = Client::new();
    let (task, code, _qr) = task_and_code(&http, &server, "metrology").await;
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let home = TempDir::new("field-app")?;
    let env = [
        ("CHOUCHA_LOCATION", "29.60052,106.30631,8".to_owned()),
        ("CHOUCHA_APP_IDLE_LOCK_S", "6".to_owned()),
    ];
    let mut app = FieldApp::launch(home.path(), &env, "pin-lock").await?;
    app.wait("#screen-enrol").await?;
    app.fill("#enrol-server", &server.base_url).await?;
    app.fill("#enrol-code", &code).await?;
    app.click("#enrol-submit").await?;
    let card = format!(".task-card[data-task='{task_id}']");
    app.wait(&card).await?;
    let keystore = home.path().join("keystore");
    anyhow::ensure!(keystore.join("vault.json").exists(), "the vault is made");
    anyhow::ensure!(
        !keystore.join("device.key").exists(),
        "no plain key file is left"
    );

    // Left alone past the idle time: the lock screen comes back.
    app.wait_js(
        "document.querySelector('#pin-screen')",
        Duration::from_secs(20),
    )
    .await?;
    app.screenshot("pin-locked").await?;
    app.fill("#pin-input", "111111").await?;
    app.click("#pin-submit").await?;
    app.wait_text("#pin-tries", "已连续输错 1 次").await?;
    app.wait_text("#error", "PIN 不正确").await?;
    app.pass_pin(choucha_tests::webapp::TEST_PIN).await?;
    app.wait(&card).await?;

    // A new PIN, from the settings.
    app.click("#nav-settings").await?;
    app.fill("#pin-old", choucha_tests::webapp::TEST_PIN)
        .await?;
    app.fill("#pin-new", "13572468").await?;
    app.fill("#pin-new-again", "13572468").await?;
    app.click("#pin-change").await?;
    app.wait_text("#info", "PIN 已更改").await?;
    app.close().await?;

    // The next start opens with the new PIN, the tasks still there.
    let app = FieldApp::launch_with_pin(home.path(), &env, "pin-lock-2", "13572468").await?;
    app.wait(&card).await?;
    app.close().await?;
    Ok(())
}
