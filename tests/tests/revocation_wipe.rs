//! A revoked tablet gives nothing away: after the revocation notice, the
//! wipe leaves no task, record, question, escalation, photo or enrolment
//! in the store, removes the device key, and refuses to enrol again until
//! the app restarts (with a new key). The questions and escalations were
//! left behind by the wipe before.

use chrono::Utc;

use choucha_app_core::consult::About;
use choucha_app_core::escalation::EscalationKind;
use choucha_app_core::{App, CoreError};
use choucha_tests::TestServer;
use choucha_tests::console::demo_task;
use choucha_tests::field::{camera_jpeg, enrolment_code, sync_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tablet_is_wiped_and_its_key_removed() {
    let server = TestServer::start_demo(None).expect("demo server");
    let task = demo_task(&server, "西永街道").await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let (data, key) = (root.path().join("data"), root.path().join("device.key"));
    let app = App::open(&data, &key).unwrap();
    let http = choucha_app_core::sync::http_client();
    let code = enrolment_code(&server, &task.officer_id).await.unwrap();
    let enrolment = app
        .enrol(&http, &server.base_url, &code, "平板")
        .await
        .unwrap();
    app.sync_once(&http).await.unwrap();
    // Work that names the company: a question with a photo, an escalation,
    // a started record.
    let about = About {
        task_id: task.task_id.clone(),
        item_id: None,
        finding_id: None,
    };
    app.ask(
        &about,
        "企业拒绝出示台账，如何处理？",
        &[camera_jpeg(5, 640, 480)],
        Utc::now(),
    )
    .unwrap();
    app.escalate(
        &task.task_id,
        None,
        EscalationKind::Major,
        "企业拒绝检查",
        &[],
        Utc::now(),
    )
    .unwrap();
    app.start_task(&task.task_id, Utc::now()).unwrap();
    sync_all(&app).await.unwrap();

    // The bureau revokes the tablet; its next sync hears it.
    let r = reqwest::Client::new()
        .post(server.url(&format!("/api/v1/devices/{}/revoke", enrolment.device_id)))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(matches!(
        app.sync_once(&http).await,
        Err(CoreError::Revoked(_))
    ));

    app.wipe_after_revocation().unwrap();
    assert!(app.tasks().unwrap().is_empty());
    assert!(app.questions(&task.task_id).unwrap().is_empty());
    assert!(app.escalations(&task.task_id).unwrap().is_empty());
    assert!(app.log().unwrap().is_empty());
    assert!(app.enrolment().unwrap().is_none());
    assert!(!key.exists(), "the device key is gone");
    let evidence = std::fs::read_dir(data.join("evidence")).unwrap().count();
    assert_eq!(evidence, 0, "no evidence file left");
    // The database file holds none of it either.
    let db = std::fs::read(data.join("choucha-app.db")).unwrap();
    let text = String::from_utf8_lossy(&db);
    assert!(
        !text.contains("企业拒绝"),
        "the words are gone from the file"
    );

    // No enrolment on the old key: restart first.
    let again = enrolment_code(&server, &task.officer_id).await.unwrap();
    let refused = app.enrol(&http, &server.base_url, &again, "平板").await;
    assert!(matches!(refused, Err(CoreError::Refused(_))), "{refused:?}");
    drop(app);
    let app = App::open(&data, &key).unwrap();
    assert!(key.exists(), "a new key");
    app.enrol(&http, &server.base_url, &again, "平板")
        .await
        .unwrap();
}
