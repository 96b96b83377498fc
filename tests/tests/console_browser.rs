//! The supervisor console in a real headless Chromium against the real
//! server (demo data): log in, run a draw ceremony, review a record synced
//! by a simulated device (a proof-of-duty flag for the gate photo taken
//! 5 km away; return it with a comment on one item, the device receives the
//! return and amends, approve the amendment), publish it, export the PDF
//! and the XLSX summary and read them back; see a company not found at its
//! registered address (its evidence, its 经营异常名录 deadline) and the 复查
//! of a rectification order synced from the field app's engine, escalating
//! the finding not rectified; and load the public page as an anonymous
//! visitor: the result is there, nothing personal is.
//! Screenshots go to `target/console-screenshots/`.

mod console_support;

use fantoccini::Locator;

use choucha_shared::sync::EntryPayload;
use choucha_tests::TestServer;
use choucha_tests::browser::Browser;
use choucha_tests::console::{PASSWORD, push, set_demo_passwords};
use console_support::{GATE_OFFSET_M, current_version, sync_far_record};

const TOWN: &str = "西永街道";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_chromium() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).expect("passwords");
    let synced = sync_far_record(&server, TOWN, 1).await;
    let record_id = synced.record.record_id.to_string();
    let mut device = synced.device;

    let mut b = Browser::start("console").await.expect("chromium");
    let base = server.base_url.clone();

    // Anonymous: the console sends to the login page.
    b.goto(&format!("{base}/console/review")).await.unwrap();
    b.wait("#login-form").await.unwrap();
    b.screenshot("login").await.unwrap();

    // A wrong password is refused, the right one lets in.
    b.fill("#username", "zhiliangke").await.unwrap();
    b.fill("#password", "wrong-password-99").await.unwrap();
    b.click("#login").await.unwrap();
    b.wait_text("#error", "用户名或密码错误").await.unwrap();
    b.fill("#username", "zhiliangke").await.unwrap();
    b.fill("#password", PASSWORD).await.unwrap();
    b.click("#login").await.unwrap();
    b.wait_text("#current-user", "zhiliangke").await.unwrap();
    b.screenshot("home").await.unwrap();

    // Draw ceremony: create, freeze (hash shown before any seed), enter
    // the seed with who entered it, draw, print record, verify.
    b.goto(&format!("{base}/console/plans")).await.unwrap();
    b.fill("#plan_id", "BT-2026-01").await.unwrap();
    b.fill("#title", "浏览器测试抽查计划").await.unwrap();
    b.fill("#strata", "JCJG,testing_body,3\nJL,metrology,2")
        .await
        .unwrap();
    b.click("#create-plan").await.unwrap();
    let question = b.click_and_answer("#freeze", true).await.unwrap();
    assert!(question.contains("确定冻结"), "{question}");
    let hash = b.text("#snapshot-hash").await.unwrap();
    assert_eq!(hash.len(), 64, "snapshot hash shown: {hash}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    b.screenshot("plan-frozen").await.unwrap();
    let seed = "31415 92653 58979 32384 62643";
    b.fill("#seed", seed).await.unwrap();
    b.fill("#entered_by", "质量科 王建国").await.unwrap();
    b.click("#run-draw").await.unwrap();
    assert_eq!(b.text("#task-count").await.unwrap(), "5");
    assert_eq!(b.text("#seed-value").await.unwrap(), seed);
    let record_text = b.text("#draw-record").await.unwrap();
    assert!(record_text.contains("质量科 王建国"), "{record_text}");
    assert!(
        record_text.contains(&hash),
        "the draw names the frozen hash"
    );
    let rows = b.client.find_all(Locator::Css("#tasks tr")).await.unwrap();
    assert_eq!(rows.len(), 6, "header and five tasks with their teams");
    b.screenshot("draw-record").await.unwrap();
    b.click("#verify").await.unwrap();
    b.wait_text("#verify-result", "一致").await.unwrap();
    b.screenshot("draw-verified").await.unwrap();

    // Review queue → the synced record.
    b.goto(&format!("{base}/console/review?town={TOWN}"))
        .await
        .unwrap();
    let link = format!("tr[data-record='{record_id}'] a");
    b.wait(&link).await.unwrap();
    b.screenshot("review-queue").await.unwrap();
    b.click(&link).await.unwrap();
    b.wait_text("#review-state", "已接收").await.unwrap();
    let flag = b
        .text("#duty-flags li[data-flag='photo_far_from_target']")
        .await
        .unwrap();
    assert!(flag.contains("5.0 公里"), "flag says how far: {flag}");
    let distances: Vec<f64> = {
        let mut out = Vec::new();
        for e in b
            .client
            .find_all(Locator::Css("#photos td.distance"))
            .await
            .unwrap()
        {
            let t = e.text().await.unwrap();
            if let Some(m) = t.strip_suffix(" m") {
                out.push(m.parse::<f64>().unwrap());
            }
        }
        out
    };
    assert!(
        distances.iter().any(|d| (d - GATE_OFFSET_M).abs() < 50.0),
        "the gate photo is shown 5 km away: {distances:?}"
    );
    assert!(distances.iter().any(|d| *d < 10.0), "{distances:?}");
    b.screenshot("record-with-duty-flag").await.unwrap();

    // A photo full size: the image the link opens decodes in the browser.
    let href = b
        .wait("#photos a")
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    b.goto(&format!("{base}{href}")).await.unwrap();
    let width = b
        .client
        .execute(
            "return document.images.length ? document.images[0].naturalWidth : 0",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(width.as_u64(), Some(160), "the full-size photo loads");
    b.goto(&format!("{base}/console/records/{record_id}"))
        .await
        .unwrap();

    // Return with a comment on one item.
    let item = synced.record.items.keys().next().expect("an item").clone();
    b.fill("#return-comment", "大门照片拍摄位置与登记地址不符，请核实")
        .await
        .unwrap();
    b.fill(&format!("input[data-item='{item}']"), "请补充现场说明")
        .await
        .unwrap();
    b.click("#return").await.unwrap();
    b.wait_text("#review-state", "已退回").await.unwrap();
    b.wait_text("#returns", "请补充现场说明").await.unwrap();
    b.screenshot("record-returned").await.unwrap();

    // The device receives the return on its next pull and amends.
    let (_, _, feed) = device.pull_all().await.unwrap();
    let ret = feed
        .iter()
        .find(|f| f["kind"] == "returned")
        .expect("the return is in the device's feed");
    assert_eq!(ret["return"]["item_comments"][&item], "请补充现场说明");
    let mut amended = synced.record.clone();
    amended.items.get_mut(&item).unwrap().note = Some("已补充：现场为分支机构经营场所".into());
    let mut new_blobs = Vec::new();
    choucha_tests::device::sign(&mut amended, &mut new_blobs);
    push(
        &mut device,
        EntryPayload::Amended {
            replaces: synced.version.clone(),
            record: amended.clone(),
        },
        &new_blobs,
    )
    .await
    .unwrap();
    let new_version = current_version(&server, &amended).await;
    assert_ne!(new_version, synced.version);

    // The amendment is the current version; approve it.
    b.goto(&format!("{base}/console/records/{record_id}"))
        .await
        .unwrap();
    b.wait_text("#version", new_version.as_str()).await.unwrap();
    b.wait_text("#review-state", "已接收").await.unwrap();
    b.wait_text("#items", "已补充：现场为分支机构经营场所")
        .await
        .unwrap();
    b.click("#approve").await.unwrap();
    b.wait_text("#review-state", "已审核通过").await.unwrap();
    b.screenshot("record-approved").await.unwrap();

    // Publish the result.
    b.click("#disclosure-state button.publish").await.unwrap();
    b.wait_text("#disclosure-state", "已公示").await.unwrap();

    // PDF of the record, through the browser's download.
    b.click("#export-pdf").await.unwrap();
    let pdf_path = b.wait_download(".pdf").await.unwrap();
    let pdf = std::fs::read(&pdf_path).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text: String = pdf_extract::extract_text(&pdf_path)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let target_name: String = synced
        .task
        .target_name
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(text.contains(&target_name), "PDF names the target: {text}");
    assert!(text.contains("已补充：现场为分支机构经营场所"), "{text}");
    assert!(text.contains("已审核通过"), "{text}");

    // XLSX summary for the town.
    b.goto(&format!("{base}/console/reports")).await.unwrap();
    b.screenshot("reports").await.unwrap();
    b.click("#export-xlsx").await.unwrap();
    let xlsx_path = b.wait_download(".xlsx").await.unwrap();
    let name = xlsx_path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("summary-") && name.len() > "summary-all-20260101.xlsx".len() - 4,
        "named with what, which plan and when: {name}"
    );
    let cells = xlsx_cells(&xlsx_path);
    assert!(
        cells.iter().any(|c| c == TOWN),
        "the summary has a line for {TOWN}: {cells:?}"
    );
    assert!(
        cells.iter().any(|c| c.contains("监督检查情况")),
        "{cells:?}"
    );

    // Field work beyond the walk-through, done on the field app's engine
    // and synced: a company not found at its registered address, and the
    // 复查 of a rectification order (one finding rectified, one not).
    let field = field_work(&server).await;
    b.goto(&format!("{base}/console/records/{}", field.unreachable))
        .await
        .unwrap();
    b.wait("#outcome[data-outcome='unreachable']")
        .await
        .unwrap();
    b.wait_text("#outcome-evidence", "卷帘门紧闭")
        .await
        .unwrap();
    b.screenshot("record-unreachable").await.unwrap();
    b.goto(&format!("{base}/console/abnormal")).await.unwrap();
    b.wait_text(
        &format!("tr[data-record='{}']", field.unreachable),
        "待列入",
    )
    .await
    .unwrap();
    b.screenshot("abnormal-listing-due").await.unwrap();
    b.goto(&format!("{base}/console/followup/{}", field.rectified))
        .await
        .unwrap();
    b.wait_text("#rechecks .recheck-result", "已整改")
        .await
        .unwrap();
    b.wait_text("#finding-closed", "是").await.unwrap();
    b.screenshot("finding-rechecked").await.unwrap();
    b.goto(&format!("{base}/console/followup/{}", field.not_rectified))
        .await
        .unwrap();
    b.wait_text("#rechecks .recheck-result", "未整改")
        .await
        .unwrap();
    b.wait_text("#finding-closed", "否").await.unwrap();
    // Escalated from the page: a case is filed.
    b.fill(
        "#form-case input[name='case_no']",
        "渝高新市监立〔2026〕9号",
    )
    .await
    .unwrap();
    b.click("#form-case button").await.unwrap();
    b.wait_text("#finding-case", "渝高新市监立〔2026〕9号")
        .await
        .unwrap();
    b.screenshot("finding-escalated").await.unwrap();

    // The public page, as an anonymous visitor.
    b.forget_cookies().await.unwrap();
    b.goto(&format!("{base}/public")).await.unwrap();
    b.wait_text("#results", &synced.task.target_name)
        .await
        .unwrap();
    b.screenshot("public").await.unwrap();
    let html = b.source().await.unwrap();
    assert!(!html.contains("<img"), "no photos or signatures");
    assert!(!html.contains(&record_id), "no internal IDs");
    assert!(!html.contains("企业负责人"), "no enterprise staff");
    assert!(!html.contains("logout"), "not logged in");
    for name in &synced.task.officer_names {
        assert!(
            !html.contains(name.as_str()),
            "officer {name} is on the public page"
        );
    }
    for p in &amended.photos {
        assert!(
            !html.contains(p.sha256.as_str()),
            "photo hash on the public page"
        );
    }
    // And the console is closed to them again.
    b.goto(&format!("{base}/console/records/{record_id}"))
        .await
        .unwrap();
    b.wait("#login-form").await.unwrap();

    b.close().await.unwrap();
}

/// Every non-empty cell of every sheet, as text.
/// What [`field_work`] left on the server.
struct FieldWork {
    unreachable: uuid::Uuid,
    rectified: uuid::Uuid,
    not_rectified: uuid::Uuid,
    _root: tempfile::TempDir,
}

/// On the field app's engine, synced to `server`: a metrology inspection
/// with two findings under one order, then its 复查 (the first finding
/// rectified, the second not); and, by an officer of another on-site task,
/// a company not found at its registered address.
async fn field_work(server: &TestServer) -> FieldWork {
    use choucha_shared::record::RectificationOutcome;
    use choucha_tests::field::{
        admin_get, inspect_with_order, recheck, seal_unreachable, sync_all, tablet,
    };
    let draw = admin_get(server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    let tasks = draw["tasks"].as_array().unwrap();
    let officer = |t: &serde_json::Value| {
        t["team"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["role"] == "officer")
            .and_then(|m| m["person_id"].as_str())
            .unwrap()
            .to_owned()
    };
    let metrology = tasks.iter().find(|t| t["category"] == "metrology").unwrap();
    let other = tasks
        .iter()
        .find(|t| {
            !matches!(t["category"].as_str(), Some("metrology" | "standard"))
                && officer(t) != officer(metrology)
        })
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let app = tablet(server, &officer(metrology), root.path(), "平板甲")
        .await
        .unwrap();
    let (_, findings, _) = inspect_with_order(
        &app,
        metrology["task_id"].as_str().unwrap(),
        "渝高新市监责改〔2026〕30号",
        2,
    )
    .unwrap();
    sync_all(&app).await.unwrap();
    sync_all(&app).await.unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&choucha_app_core::app::china_time())
        .date_naive();
    let task = app.rechecks(today).unwrap().remove(0).task;
    recheck(
        &app,
        &task.recheck_id,
        &[
            (findings[0], RectificationOutcome::Rectified, None),
            (
                findings[1],
                RectificationOutcome::NotRectified,
                Some("台账仍未建立"),
            ),
        ],
    )
    .unwrap();
    sync_all(&app).await.unwrap();
    let other_app = tablet(server, &officer(other), root.path(), "平板乙")
        .await
        .unwrap();
    let unreachable = seal_unreachable(&other_app, other["task_id"].as_str().unwrap()).unwrap();
    sync_all(&other_app).await.unwrap();
    FieldWork {
        unreachable,
        rectified: findings[0],
        not_rectified: findings[1],
        _root: root,
    }
}

fn xlsx_cells(path: &std::path::Path) -> Vec<String> {
    use calamine::{Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> = open_workbook(path).expect("an XLSX file");
    let mut out = Vec::new();
    for name in wb.sheet_names().to_owned() {
        out.push(name.clone());
        let range = wb.worksheet_range(&name).expect("a sheet");
        for row in range.rows() {
            for c in row {
                let s = c.to_string();
                if !s.is_empty() {
                    out.push(s);
                }
            }
        }
    }
    out
}
