//! The quality section answers a question from the field in a real
//! headless Chromium (demo data): a question asked on the field app's
//! engine about a checklist item, with a photo, synced; in the console it
//! is waiting, with its wait; the question page shows the photo; the answer
//! with its legal basis and an image of the rule's text is sent and shown
//! with the response time, and the
//! question leaves the waiting list. Screenshots go to
//! `target/console-screenshots/`.

use chrono::Utc;

use choucha_app_core::consult::About;
use choucha_tests::TestServer;
use choucha_tests::browser::Browser;
use choucha_tests::console::{PASSWORD, demo_task, set_demo_passwords};
use choucha_tests::field::{camera_jpeg, sync_all, tablet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_section_answers_a_question_in_chromium() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).expect("passwords");
    let task = demo_task(&server, "西永街道").await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let app = tablet(&server, &task.officer_id, root.path(), "平板")
        .await
        .unwrap();
    let bundle = app.task(&task.task_id).unwrap();
    let item = app
        .checklist(&bundle.task.checklist)
        .unwrap()
        .items()
        .next()
        .unwrap()
        .id
        .clone();
    let question = "现场发现计量器具无检定标志但有电子检定证书，如何判定？";
    let qid = app
        .ask(
            &About {
                task_id: task.task_id.clone(),
                item_id: Some(item.clone()),
                finding_id: None,
            },
            question,
            &[camera_jpeg(77, 800, 600)],
            Utc::now(),
        )
        .unwrap();
    sync_all(&app).await.unwrap();

    let mut b = Browser::start("console-questions").await.expect("chromium");
    let base = server.base_url.clone();
    b.goto(&format!("{base}/console/login")).await.unwrap();
    b.fill("#username", "zhiliangke").await.unwrap();
    b.fill("#password", PASSWORD).await.unwrap();
    b.click("#login").await.unwrap();
    b.wait_text("#current-user", "zhiliangke").await.unwrap();

    b.goto(&format!("{base}/console/questions")).await.unwrap();
    let row = format!("tr[data-question='{qid}']");
    b.wait_text(&row, "已等待").await.unwrap();
    assert_eq!(b.text("#waiting-count").await.unwrap(), "1");
    b.screenshot("questions-waiting").await.unwrap();
    b.click(&format!("{row} a")).await.unwrap();
    b.wait_text("#question-text", question).await.unwrap();
    let loaded: bool = b
        .client
        .execute(
            "const img = document.querySelector('#question-photos img'); \
             return !!img && img.complete && img.naturalWidth > 0;",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap_or(false);
    assert!(loaded, "the photo shows");
    b.fill(
        "#answer-input",
        "电子检定证书有效且能与器具编号对应的，可判定符合；应提醒企业补贴检定标志。",
    )
    .await
    .unwrap();
    b.fill("#basis-input", "《计量器具检定标志管理办法》")
        .await
        .unwrap();
    // With an image of the rule's text, chosen in the file input.
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("管理办法第八条.jpg");
    std::fs::write(&image, camera_jpeg(78, 640, 480)).unwrap();
    b.attach("#answer-attachments", &image).await.unwrap();
    b.click("#answer-submit").await.unwrap();
    b.wait_text("#answer-text", "电子检定证书有效")
        .await
        .unwrap();
    let mut shown = false;
    for _ in 0..50 {
        shown = b
            .client
            .execute(
                "const img = document.querySelector('#answer-attachments-shown img'); \
                 return !!img && img.complete && img.naturalWidth > 0;",
                vec![],
            )
            .await
            .unwrap()
            .as_bool()
            .unwrap_or(false);
        if shown {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(shown, "the answer's image shows");
    b.wait_text("#answer", "用时").await.unwrap();
    b.screenshot("question-answered").await.unwrap();

    b.goto(&format!("{base}/console/questions")).await.unwrap();
    b.wait("#no-questions").await.unwrap();
    assert_eq!(b.text("#waiting-count").await.unwrap(), "0");
    b.close().await.unwrap();
}
