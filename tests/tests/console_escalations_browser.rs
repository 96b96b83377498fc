//! The quality section in a real headless Chromium (demo data) handles an
//! escalation and reads the town reports: from a synced record's page it
//! reports a safety hazard upward; the home page shows it at the top; an
//! 应急管控 measure is added with its owner and due date, marked done, and
//! the escalation closed with its outcome. Then the town reports of the demo
//! plan: the late towns listed against the seed's deadline, 西永街道's
//! submitted report read with its figures and analysis, and returned with a
//! comment. Screenshots go to `target/console-screenshots/`.

mod console_support;

use choucha_tests::TestServer;
use choucha_tests::browser::Browser;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};
use console_support::sync_far_record;

const TOWN: &str = "西永街道";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_section_handles_an_escalation_and_reads_town_reports_in_chromium() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).expect("passwords");
    let synced = sync_far_record(&server, TOWN, 11).await;
    let record_id = synced.record.record_id;

    let mut b = Browser::start("console-escalations")
        .await
        .expect("chromium");
    let base = server.base_url.clone();
    b.goto(&format!("{base}/console/login")).await.unwrap();
    b.fill("#username", "zhiliangke").await.unwrap();
    b.fill("#password", PASSWORD).await.unwrap();
    b.click("#login").await.unwrap();
    b.wait_text("#current-user", "zhiliangke").await.unwrap();

    // Reported upward from the record.
    b.goto(&format!("{base}/console/records/{record_id}"))
        .await
        .unwrap();
    b.click("#escalate summary").await.unwrap();
    b.set_value("#escalate-kind", "safety_hazard")
        .await
        .unwrap();
    let hazard = "储气罐安全阀铅封缺失、压力表超期，现场仍在充装";
    b.fill("#escalate-text", hazard).await.unwrap();
    b.click("#escalate-submit").await.unwrap();
    b.wait_text("#escalation-kind", "安全隐患").await.unwrap();
    b.wait_text("#escalation-text", hazard).await.unwrap();
    b.screenshot("escalation-raised").await.unwrap();
    let page = b.source().await.unwrap();
    let url = page
        .split("action=\"/console/escalations/")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .map(|id| format!("{base}/console/escalations/{id}"))
        .expect("the escalation's forms");

    // At the top of the home page.
    b.goto(&format!("{base}/console")).await.unwrap();
    b.wait("#escalations-banner").await.unwrap();

    // 应急管控 to closure.
    b.goto(&url).await.unwrap();
    b.fill("#measure-input", "责令立即停止充装，储气罐封存")
        .await
        .unwrap();
    b.fill("#owner-input", "西永所 李明").await.unwrap();
    b.set_value("#due-input", "2026-12-09").await.unwrap();
    b.click("#measure-add").await.unwrap();
    b.wait_text("#measures", "西永所 李明").await.unwrap();
    b.fill(".measure-done input[name='result']", "已停止充装并贴封条")
        .await
        .unwrap();
    b.click(".measure-done button").await.unwrap();
    b.wait_text("#measures", "已停止充装并贴封条")
        .await
        .unwrap();
    b.fill(
        "#outcome-input",
        "安全阀、压力表经检定合格后恢复使用，已立案查处",
    )
    .await
    .unwrap();
    b.click("#close-submit").await.unwrap();
    b.wait_text("#escalation-closed", "已立案查处")
        .await
        .unwrap();
    b.screenshot("escalation-closed").await.unwrap();

    // The town lead submits 西永街道's report (over HTTP).
    let lead = Session::login(&server.base_url, "xiyong", PASSWORD)
        .await
        .unwrap();
    let analysis = "辖区加气站安全附件管理薄弱，1 家存在安全隐患，已上报并落实应急管控。";
    let path = "/console/town-reports/GXQ-2023-ZBJR/%E8%A5%BF%E6%B0%B8%E8%A1%97%E9%81%93";
    let (status, _) = lead
        .post(
            &format!("{path}/save"),
            &[("analysis", analysis), ("measures", "开展加气站专项检查。")],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (status, _) = lead
        .post(&format!("{path}/submit"), &[("signed_by", "张西永")])
        .await
        .unwrap();
    assert_eq!(status, 303);

    // The quality section reads the reports and returns one.
    b.goto(&format!("{base}/console/town-reports?plan=GXQ-2023-ZBJR"))
        .await
        .unwrap();
    b.wait_text("#report-due", "2024-01-31").await.unwrap();
    b.wait_text("#late-towns", "虎溪街道").await.unwrap();
    b.wait_text(&format!("tr[data-town='{TOWN}']"), "已报送")
        .await
        .unwrap();
    b.screenshot("town-reports").await.unwrap();
    b.click(&format!("tr[data-town='{TOWN}'] a")).await.unwrap();
    b.wait_text("#analysis-text", analysis).await.unwrap();
    b.wait("#report-figures").await.unwrap();
    b.wait_text("#signed", "张西永").await.unwrap();
    let comment = "请写明安全隐患企业的名称和整改期限";
    b.fill("#return-text", comment).await.unwrap();
    b.click("#return-report").await.unwrap();
    b.wait_text("#return-comment", comment).await.unwrap();
    b.wait_text("#report-state", "已退回修改").await.unwrap();
    b.screenshot("town-report-returned").await.unwrap();
    b.close().await.unwrap();
}
