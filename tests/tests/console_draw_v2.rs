//! The version-2 draw ceremony in a real headless Chromium against the real
//! server (demo data): a plan with a per-risk stratum, a 团体标准 stratum and
//! an industry filter, excluding what was inspected lately; a bad upstream
//! list is refused row by row, a good one taken; the frozen page shows every
//! (sub-)stratum's N and k, the assigned targets with their list and the
//! excluded company before any seed; the draw record shows the assigned
//! tasks' list; one officer's seat is replaced through the form; the draw
//! verifies; and the public record shows the inputs and the verification
//! without naming any officer. Screenshots go to
//! `target/console-screenshots/`.

mod console_support;

use fantoccini::Locator;

use choucha_tests::TestServer;
use choucha_tests::browser::Browser;
use choucha_tests::console::{PASSWORD, set_demo_passwords};
use choucha_tests::field::admin_get;
use console_support::sync_far_record;

const SOURCE: &str = "市局2024年团体标准、企业标准抽查名单";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draw_v2_ceremony_in_chromium() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).expect("passwords");
    // A company inspected (its record synced): the plan leaves it out.
    let synced = sync_far_record(&server, "西永街道", 7).await;
    let inspected_key = synced.record.target.as_str().to_owned();
    let inspected_on = synced.record.inspection_date;
    let demo = admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    let standards: Vec<String> = demo["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["category"] == "standard")
        .take(2)
        .map(|t| t["target"].as_str().unwrap().to_owned())
        .collect();

    let mut b = Browser::start("console-v2").await.expect("chromium");
    let base = server.base_url.clone();
    b.goto(&format!("{base}/console/login")).await.unwrap();
    b.fill("#username", "zhiliangke").await.unwrap();
    b.fill("#password", PASSWORD).await.unwrap();
    b.click("#login").await.unwrap();
    b.wait_text("#current-user", "zhiliangke").await.unwrap();

    b.goto(&format!("{base}/console/plans")).await.unwrap();
    b.fill("#plan_id", "BT-2026-V2").await.unwrap();
    b.fill("#title", "按信用风险分类的抽查计划").await.unwrap();
    let category = synced.record.category.code();
    b.fill(
        "#strata",
        &format!(
            "FX,{category},A=0.02 B=0.05 C=0.1 D=0.3\nTBZ,standard,3,标准:团体\nDX,production_licence,0.1,行业:C38"
        ),
    )
    .await
    .unwrap();
    b.set_value("#exclude_inspected_since", &inspected_on.to_string())
        .await
        .unwrap();
    b.click("#create-plan").await.unwrap();
    b.wait_text("#exclude-since", &inspected_on.to_string())
        .await
        .unwrap();
    b.wait("#assigned-none").await.unwrap();

    // A bad list: the unknown code and the row without 来源 are named.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "检查对象代码,检查对象类别,来源\n{},团体标准,{SOURCE}\nT/CQXX 999-2023,团体标准,{SOURCE}\n{},团体标准,\n",
            standards[0], standards[1]
        ),
    )
    .unwrap();
    b.attach("#assigned-file", &bad).await.unwrap();
    b.click("#upload-assigned").await.unwrap();
    b.wait_text("#assigned-result", "未保存").await.unwrap();
    let rows = b
        .client
        .find_all(Locator::Css("#assigned-errors tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "header and the two bad rows");
    let errors = b.text("#assigned-errors").await.unwrap();
    assert!(errors.contains("名录中没有"), "{errors}");
    b.screenshot("v2-assigned-refused").await.unwrap();

    // The good list, its source given once for the whole file.
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!(
            "标准编号,检查对象类别\n{},团体标准、企业标准\n{},团体标准、企业标准\n",
            standards[0], standards[1]
        ),
    )
    .unwrap();
    b.goto(&format!("{base}/console/plans/BT-2026-V2"))
        .await
        .unwrap();
    b.attach("#assigned-file", &good).await.unwrap();
    b.fill("#assigned-source", SOURCE).await.unwrap();
    b.click("#upload-assigned").await.unwrap();
    b.wait_text("#assigned", SOURCE).await.unwrap();

    // Frozen: the inputs are shown before the seed form.
    b.click_and_answer("#freeze", true).await.unwrap();
    b.wait("#snapshot-hash").await.unwrap();
    let sub = b.text("#sub-strata").await.unwrap();
    for id in ["FX/A", "FX/B", "FX/C", "FX/D", "TBZ", "DX"] {
        assert!(sub.contains(id), "{id} in {sub}");
    }
    assert!(b.text("#assigned").await.unwrap().contains(SOURCE));
    let excluded = b.text("#excluded").await.unwrap();
    assert!(excluded.contains(&inspected_key), "{excluded}");
    assert!(
        excluded.contains(&format!("已于 {inspected_on} 检查")),
        "{excluded}"
    );
    b.screenshot("v2-plan-frozen").await.unwrap();

    b.fill("#seed", "27182 81828 45904 52353 60287")
        .await
        .unwrap();
    b.fill("#entered_by", "质量科 王建国").await.unwrap();
    b.click("#run-draw").await.unwrap();
    b.wait("#task-count").await.unwrap();
    let sources = b
        .client
        .find_all(Locator::Css("#tasks span.source"))
        .await
        .unwrap();
    assert_eq!(sources.len(), 2, "the two assigned tasks show their list");
    let tasks = b.text("#tasks").await.unwrap();
    assert!(
        !tasks.contains(&inspected_key),
        "the excluded company is not drawn"
    );
    b.screenshot("v2-draw-record").await.unwrap();

    // One seat replaced through the form.
    b.fill("#replace-reason", "因病无法到场").await.unwrap();
    b.click("#replace-submit").await.unwrap();
    let replaced = b.wait_text("#replacements", "因病无法到场").await.unwrap();
    b.screenshot("v2-seat-replaced").await.unwrap();
    let joining = b.text("#replacements td.joining").await.unwrap();
    let joining_name = joining.split_whitespace().next().unwrap().to_owned();
    assert!(!joining_name.is_empty(), "{replaced}");
    b.click("#verify").await.unwrap();
    b.wait_text("#verify-result", "一致").await.unwrap();

    // The public record, for anyone: inputs, draw, replacement, verified;
    // no officer named.
    b.forget_cookies().await.unwrap();
    b.goto(&format!("{base}/public/draws/BT-2026-V2-D1"))
        .await
        .unwrap();
    b.wait_text("#verify-result", "复核一致").await.unwrap();
    assert!(b.text("#assigned").await.unwrap().contains(SOURCE));
    assert!(b.text("#excluded").await.unwrap().contains(&inspected_key));
    assert!(
        b.text("#replacements")
            .await
            .unwrap()
            .contains("因病无法到场")
    );
    let page = b.source().await.unwrap();
    assert!(
        !page.contains(&joining_name),
        "no officer on the public page"
    );
    b.screenshot("v2-public-record").await.unwrap();
    b.close().await.unwrap();
}
