//! The field app's engine against the real sync server: enrol, pull, a
//! whole inspection offline (every item, 12 camera photos through the photo
//! pipeline, drawn signatures), seal, sync — with the sync process killed at
//! random points on the way — and the server holds the complete, verified
//! record; then a supervisor's return arrives and the amendment syncs.

use std::process::{Command, Stdio};
use std::time::Duration;

use choucha_app_core::photo::PhotoConfig;
use choucha_app_core::{App, TaskStatus};
use choucha_shared::checklist::{Evidence, Verdict};
use choucha_shared::plan::MemberRole;
use choucha_shared::record::{PhotoSubject, SignerRole};
use choucha_tests::TestServer;
use choucha_tests::field::{admin_get, camera_jpeg, enrolment_code, scribble};
use chrono::Utc;
use reqwest::Client;
use serde_json::json;

/// Every team member and the enterprise sign the record's current content.
fn sign_everyone(app: &App, id: &uuid::Uuid, team: &[choucha_shared::plan::TeamMember], seed: f32) {
    for (i, m) in team.iter().enumerate() {
        let role = if m.role == MemberRole::Officer {
            SignerRole::Officer
        } else {
            SignerRole::Expert
        };
        app.sign_with_capture(
            id,
            role,
            Some(m.person_id.clone()),
            &m.name,
            &scribble(i as f32 + seed),
            Utc::now(),
        )
        .unwrap();
    }
    app.sign_with_capture(
        id,
        SignerRole::EnterpriseRepresentative,
        None,
        "赵企业",
        &scribble(9.0 + seed),
        Utc::now(),
    )
    .unwrap();
}

fn workload_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("choucha-app-workload");
    assert!(
        bin.is_file(),
        "{} missing: run cargo test --workspace",
        bin.display()
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_inspection_offline_then_sync_then_amend() {
    let server = TestServer::start_demo(None).unwrap();
    let client = Client::new();
    let draw = admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    // An on-site task of a category with photo-evidence items.
    let task = draw["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["category"] == "metrology")
        .unwrap()
        .clone();
    let officer = task["team"][0]["person_id"].as_str().unwrap().to_owned();
    let code = enrolment_code(&server, &officer).await.unwrap();

    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let key = root.path().join("keystore").join("device.key");
    let app = App::open(&data, &key).unwrap();
    let http = choucha_app_core::sync::http_client();

    // Bad code: a clear message.
    let err = app
        .enrol(&http, &server.base_url, "XXXX-XXXX", "平板")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("注册码无效"), "{err}");
    let e = app
        .enrol(&http, &server.base_url, &code, "西永所平板01")
        .await
        .unwrap();
    assert_eq!(e.officer_id, officer);
    let report = app.sync_once(&http).await.unwrap();
    assert!(report.new_tasks >= 1);
    let task_id = task["task_id"].as_str().unwrap();
    assert!(
        app.tasks()
            .unwrap()
            .iter()
            .any(|t| t.task_id == task_id && t.status == TaskStatus::Pending)
    );

    // --- Offline from here: nothing below talks to the server. ---
    let now = Utc::now();
    let id = app.start_task(task_id, now).unwrap();
    let record = app.record(&id).unwrap();
    let checklist = app.checklist(&record.checklist).unwrap();
    let config = PhotoConfig::default();
    let gps = choucha_shared::GeoPoint::new(29.6005, 106.3062, Some(6.0)).ok();
    let mut photos = 0;
    for item in checklist.items() {
        let pass = if checklist.allowed_verdicts(item).contains(&Verdict::Conform) {
            Verdict::Conform
        } else {
            Verdict::Pass
        };
        app.set_item(&id, &item.id, Some(pass), None, Utc::now())
            .unwrap();
        if item.evidence.contains(&Evidence::Photo) {
            app.take_photo(
                &id,
                PhotoSubject::Item(item.id.clone()),
                &camera_jpeg(photos, 1600, 1200),
                gps,
                None,
                &config,
                Utc::now(),
            )
            .unwrap();
            photos += 1;
        }
    }
    app.take_photo(
        &id,
        PhotoSubject::Gate,
        &camera_jpeg(100, 1600, 1200),
        gps,
        None,
        &config,
        Utc::now(),
    )
    .unwrap();
    photos += 1;
    while photos < 12 {
        app.take_photo(
            &id,
            PhotoSubject::Process,
            &camera_jpeg(200 + photos, 1600, 1200),
            gps,
            None,
            &config,
            Utc::now(),
        )
        .unwrap();
        photos += 1;
    }
    // A non-image "photo" is refused with a clear message, nothing stored.
    let before = app.record(&id).unwrap().photos.len();
    let err = app
        .take_photo(
            &id,
            PhotoSubject::Process,
            b"not a picture",
            gps,
            None,
            &config,
            Utc::now(),
        )
        .unwrap_err();
    assert!(!err.to_string().is_empty());
    assert_eq!(app.record(&id).unwrap().photos.len(), before);

    // Sealing before signatures lists what is missing.
    assert!(app.seal(&id, Utc::now()).is_err());
    let team = app.record(&id).unwrap().team;
    sign_everyone(&app, &id, &team, 0.0);
    assert_eq!(app.record(&id).unwrap().photos.len(), 12);
    let version = app.seal(&id, Utc::now()).unwrap();
    let progress = app.progress().unwrap();
    assert!(
        progress.entries_left > 20 && progress.blobs_left >= 12,
        "{progress:?}"
    );

    // --- Online again, and the sync is killed at random points. ---
    drop(app);
    let mut seed: u64 = 7;
    for _ in 0..4 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut child = Command::new(workload_binary())
            .arg(&data)
            .arg(&key)
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + (seed >> 33) % 250));
        let _ = child.kill();
        let _ = child.wait();
    }
    let app = App::open(&data, &key).unwrap();
    let report = app.sync_once(&http).await.unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    assert_eq!(
        (report.progress.entries_left, report.progress.blobs_left),
        (0, 0),
        "{report:?}"
    );
    assert_eq!(app.server_state(&id).unwrap().as_deref(), Some("received"));
    assert!(
        app.tasks()
            .unwrap()
            .iter()
            .any(|t| t.task_id == task_id && t.status == TaskStatus::Submitted)
    );

    // The server holds the complete, verified record, and exactly the log.
    let versions = admin_get(&server, &format!("/api/v1/records/{id}"))
        .await
        .unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["state"], "received", "{versions}");
    assert_eq!(versions[0]["version"], version.as_str());
    assert_eq!(
        versions[0]["record"]["photos"].as_array().unwrap().len(),
        12
    );
    let held = admin_get(&server, &format!("/api/v1/devices/{}/log", e.device_id))
        .await
        .unwrap();
    let local = app.log().unwrap();
    assert_eq!(
        held.as_array().unwrap().len(),
        local.len(),
        "each entry exactly once"
    );
    for (h, (l, confirmed)) in held.as_array().unwrap().iter().zip(&local) {
        assert_eq!(h["hash"], l.hash.as_str());
        assert!(confirmed);
    }

    // A supervisor returns it; the device learns on its next pull.
    let ret = client
        .post(server.url(&format!("/api/v1/records/{id}/return")))
        .bearer_auth(server.token())
        .json(&json!({ "version": version, "comment": "请补充计量器具台账情况", "item_comments": { "MET-1.01": "台账未拍照" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(ret.status(), 200);
    let report = app.sync_once(&http).await.unwrap();
    assert_eq!(report.returns, 1);
    assert!(
        app.tasks()
            .unwrap()
            .iter()
            .any(|t| t.task_id == task_id && t.status == TaskStatus::Returned)
    );
    let r = app.start_amendment(&id, Utc::now()).unwrap();
    assert_eq!(r.item_comments["MET-1.01"], "台账未拍照");
    app.set_item(
        &id,
        "MET-1.01",
        Some(Verdict::Conform),
        Some("已补充台账".into()),
        Utc::now(),
    )
    .unwrap();
    sign_everyone(&app, &id, &team, 0.5);
    let v2 = app.seal(&id, Utc::now()).unwrap();
    let report = app.sync_once(&http).await.unwrap();
    assert_eq!(
        (report.progress.entries_left, report.progress.blobs_left),
        (0, 0),
        "{report:?}"
    );
    let versions = admin_get(&server, &format!("/api/v1/records/{id}"))
        .await
        .unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[1]["version"], v2.as_str());
    assert_eq!(versions[1]["state"], "received", "{versions}");
    assert_eq!(versions[0]["superseded"], true);

    // Returned again, for an unreadable signature: the officer only has
    // the enterprise sign again. Same content, a new version; it syncs, and
    // so does everything after it.
    let ret = client
        .post(server.url(&format!("/api/v1/records/{id}/return")))
        .bearer_auth(server.token())
        .json(&json!({ "version": v2.as_str(), "comment": "企业签字无法辨认，请重新签字", "item_comments": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(ret.status(), 200);
    app.sync_once(&http).await.unwrap();
    app.start_amendment(&id, Utc::now()).unwrap();
    let unchanged = app.seal(&id, Utc::now());
    assert!(
        matches!(unchanged, Err(choucha_app_core::CoreError::Refused(_))),
        "an amendment that changes nothing is refused: {unchanged:?}"
    );
    let content = app.content_hash(&id).unwrap();
    app.sign_with_capture(
        &id,
        SignerRole::EnterpriseRepresentative,
        None,
        "赵企业",
        &scribble(20.0),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(app.content_hash(&id).unwrap(), content, "only re-signed");
    let v3 = app.seal(&id, Utc::now()).unwrap();
    assert_ne!(v3, v2);
    let report = app.sync_once(&http).await.unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    assert_eq!(
        (report.progress.entries_left, report.progress.blobs_left),
        (0, 0),
        "{report:?}"
    );
    let versions = admin_get(&server, &format!("/api/v1/records/{id}"))
        .await
        .unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 3, "{versions}");
    assert_eq!(versions[2]["version"], v3.as_str());
    assert_eq!(versions[2]["state"], "received", "{versions}");
    assert!(app.refused_entries().unwrap().is_empty());

    // Revocation: a clear notice, then (after the user saw it) a wipe.
    let revoke = client
        .post(server.url(&format!("/api/v1/devices/{}/revoke", e.device_id)))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    let err = app.sync_once(&http).await.unwrap_err();
    assert!(
        matches!(err, choucha_app_core::CoreError::Revoked(_)),
        "{err}"
    );
    app.wipe_after_revocation().unwrap();
    assert!(app.tasks().unwrap().is_empty());
    assert!(app.enrolment().unwrap().is_none());
}
