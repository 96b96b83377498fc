//! The console read at a glance and on paper (issue #20), in Chromium at
//! 1440 and 375 px with screenshots in `target/console-screenshots/glance-*`:
//! the dashboard (a card per target category with progress bars against the
//! plan, the strata by name, server-rendered charts of progress by town and
//! findings by item, nothing wider than a phone's screen; in English too),
//! and the draw record printed by the browser on A4: few pages, each headed
//! with the plan and numbered, IDs on one line, lines to sign at the end.

use fantoccini::Locator;

use choucha_tests::TestServer;
use choucha_tests::browser::Browser;
use choucha_tests::console::{PASSWORD, set_demo_passwords};

mod console_support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_reads_at_a_glance() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    // One record in, so the bars and charts are not all zero.
    console_support::sync_far_record(&server, "西永街道", 3).await;
    let base = server.base_url.clone();
    for (width, height) in [(1440u32, 1000u32), (375, 812)] {
        let mut b = Browser::start(&format!("glance-{width}")).await.unwrap();
        b.resize(width, height).await.unwrap();
        b.log_in(&base, "zhiliangke", PASSWORD).await.unwrap();
        b.goto(&format!("{base}/console/dashboard")).await.unwrap();

        // The whole plan's card, and one per category whose planned tasks
        // add up to it.
        let total: i64 = b
            .text("section.card[data-group='total'] .planned")
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert!(total > 0, "the drawn plan has tasks");
        let mut sum = 0;
        let cards = b
            .client
            .find_all(Locator::Css(
                "section.card:not([data-group='total']) .planned",
            ))
            .await
            .unwrap();
        assert!(cards.len() >= 2, "a card per category");
        for c in cards {
            sum += c.text().await.unwrap().parse::<i64>().unwrap();
        }
        assert_eq!(sum, total, "the categories' cards add up to the plan");
        let reported = b
            .client
            .find(Locator::Css(
                "section.card[data-group='total'] progress.reported",
            ))
            .await
            .unwrap();
        assert_eq!(reported.attr("max").await.unwrap(), Some(total.to_string()));
        assert_eq!(
            reported.attr("value").await.unwrap().as_deref(),
            Some("1"),
            "the synced record is counted"
        );

        // Strata by name, not by code alone.
        let strata = b.text("#progress-stratum").await.unwrap();
        assert!(strata.contains("检验检测机构"), "{strata}");
        assert!(
            strata.contains("JL/B · 计量有关企业 · B 类"),
            "a per-risk class named from its stratum: {strata}"
        );
        let groups = b
            .client
            .find_all(Locator::Css("section.card"))
            .await
            .unwrap()
            .len();
        assert!(
            groups <= 9,
            "cards per category, not per sub-stratum: {groups}"
        );

        // The charts, with a bar per town and per failing item.
        b.wait("#chart-town-progress g.bar").await.unwrap();
        let town = b
            .client
            .find(Locator::Css(
                "#chart-town-progress g.bar[data-label='西永街道']",
            ))
            .await
            .unwrap();
        assert!(town.attr("data-value").await.unwrap().is_some());
        b.wait("#chart-findings-by-item").await.unwrap();
        assert_fits(&b, width).await;
        b.screenshot("dashboard").await.unwrap();

        // English: no Chinese left in the cards' and charts' own words.
        b.goto(&format!("{base}/console/lang/en")).await.unwrap();
        b.goto(&format!("{base}/console/dashboard")).await.unwrap();
        let card = b.text("section.card[data-group='total']").await.unwrap();
        assert!(card.contains("Approved"), "{card}");
        assert!(card.contains("All targets"), "{card}");
        let total_row = b.text("#progress-total").await.unwrap();
        assert!(
            total_row.contains("Total") && !total_row.contains("合计"),
            "{total_row}"
        );
        b.screenshot("dashboard-en").await.unwrap();
        b.goto(&format!("{base}/console/lang/zh")).await.unwrap();
        b.close().await.unwrap();
    }
}

/// The demo's draw of 190 tasks, printed as Chromium prints it on A4
/// landscape (the size its page asks for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_draw_record_prints_on_a4() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let base = server.base_url.clone();
    let mut b = Browser::start("glance-print").await.unwrap();
    b.log_in(&base, "zhiliangke", PASSWORD).await.unwrap();
    b.goto(&format!("{base}/console/draws/GXQ-2023-ZBJR-D1"))
        .await
        .unwrap();
    assert_eq!(b.text("#task-count").await.unwrap(), "190");
    b.screenshot("draw-record").await.unwrap();
    let pdf = b.print_a4(true).await.unwrap();
    let out = choucha_tests::workspace_root()
        .join("target/console-screenshots/glance-print/draw-record.pdf");
    std::fs::write(&out, &pdf).unwrap();
    let pages = choucha_tests::pdf_text::pages(&out).unwrap();
    // 190 tasks, about 18 to a landscape page, after the draw's inputs and
    // frozen lists (it was 27 portrait pages with IDs wrapping).
    assert!(
        (3..=16).contains(&pages.len()),
        "{} pages: {out:?}",
        pages.len()
    );
    let n = pages.len();
    choucha_tests::pdf_text::check_headed_and_numbered(
        &pages,
        &["抽查计划 GXQ-2023-ZBJR — 抽取记录 GXQ-2023-ZBJR-D1"],
    )
    .unwrap();
    let last = &pages[n - 1];
    for role in ["种子录入人：", "见证人：", "记录人：", "日期："] {
        assert!(
            last.contains(role),
            "a line for {role} on the last page: {last}"
        );
    }
    let all = pages.join("\n");
    // Each task's ID whole on its line, the table's head on every page.
    for k in [1, 95, 190] {
        let id = format!("GXQ-2023-ZBJR-D1-{k:04}");
        assert!(
            all.split_whitespace().any(|w| w == id),
            "{id} is printed whole: {all}"
        );
    }
    let heads = pages.iter().filter(|p| p.contains("检查组")).count();
    assert!(heads >= n - 2, "the tasks' head repeats on their pages");
    let navigation = all.contains("后续处置");
    assert!(!navigation, "the menu is not printed");
    b.close().await.unwrap();
}

/// Nothing on the page is wider than the window (no sideways scrolling).
async fn assert_fits(b: &Browser, width: u32) {
    let laid_out = b.page_width().await.unwrap();
    assert!(
        laid_out <= u64::from(width),
        "the page is {laid_out} px wide in a {width} px window"
    );
}
