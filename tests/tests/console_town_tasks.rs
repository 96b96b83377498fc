//! 镇街任务 (issue #20): a town lead's view of their town's tasks and teams,
//! printable. Over HTTP: the towns' lists partition the draw, a lead sees
//! only their own town whatever the address asks, the synced task shows
//! its state and the rest are marked overdue against the demo's deadline.
//! In Chromium at 1440 and 375 px (screenshots in
//! `target/console-screenshots/town-tasks-*`): the lead's menu leads there
//! (folded behind its button on the phone),
//! the page fits, and it prints on A4 headed with the plan and town,
//! numbered, with lines to sign.

use choucha_tests::TestServer;
use choucha_tests::browser::Browser;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};

mod console_support;

const PLAN: &str = "GXQ-2023-ZBJR";
const TOWN: &str = "西永街道";

/// The rows of a tasks page: each `<tr data-task=…>` tag's attributes.
fn row_tags(html: &str) -> Vec<&str> {
    html.split("<tr data-task=\"")
        .skip(1)
        .map(|rest| rest.split_once('>').map_or(rest, |(tag, _)| tag))
        .collect()
}

/// The task IDs (in page order) and `#task-total` of a tasks page.
fn rows(html: &str) -> (Vec<String>, usize) {
    let ids = row_tags(html)
        .iter()
        .map(|t| t.split_once('"').expect("a quoted ID").0.to_owned())
        .collect();
    (ids, number_in(html, "id=\"task-total\">"))
}

/// The number right after `marker`.
fn number_in(html: &str, marker: &str) -> usize {
    let (_, rest) = html
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker} in the page"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {marker}"))
}

/// One attribute of a task's row.
fn attr_of(html: &str, task: &str, attr: &str) -> String {
    let tag = row_tags(html)
        .into_iter()
        .find(|t| t.starts_with(&format!("{task}\"")))
        .unwrap_or_else(|| panic!("no row for {task}"));
    let (_, rest) = tag
        .split_once(&format!(" {attr}=\""))
        .unwrap_or_else(|| panic!("no {attr} on {task}'s row"));
    rest.split_once('"').unwrap().0.to_owned()
}

/// A value for a query string.
fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_town_lead_sees_their_towns_tasks_only() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let synced = console_support::sync_far_record(&server, TOWN, 7).await;
    let base = server.base_url.clone();

    // The quality section: every town's list, which together are the draw.
    let admin = Session::login(&base, "zhiliangke", PASSWORD).await.unwrap();
    let (_, draw) = admin
        .get(&format!("/console/draws/{PLAN}-D1"))
        .await
        .unwrap();
    let drawn = number_in(&draw, "id=\"task-count\">");
    let mut seen = std::collections::BTreeSet::new();
    let mut towns_total = 0;
    let mut xiyong = Vec::new();
    for (town, _, _) in choucha_sync_server::demo::TOWNS {
        let (status, html) = admin
            .get(&format!("/console/tasks?plan={PLAN}&town={}", enc(town)))
            .await
            .unwrap();
        assert_eq!(status, 200, "{town}: {html}");
        let (ids, total) = rows(&html);
        assert_eq!(ids.len(), total, "{town}: the count matches the rows");
        for id in &ids {
            assert!(seen.insert(id.clone()), "{id} is listed in two towns");
        }
        towns_total += total;
        if town == TOWN {
            xiyong = ids;
        }
    }
    assert_eq!(towns_total, drawn, "the towns' lists add up to the draw");
    assert!(!xiyong.is_empty(), "the demo draws targets in {TOWN}");

    // The town lead of 西永街道: their list, whatever town the address names.
    let lead = Session::login(&base, "xiyong", PASSWORD).await.unwrap();
    let (status, home) = lead.get("/console").await.unwrap();
    assert_eq!(status, 200);
    assert!(
        home.contains("本镇街任务"),
        "the lead's menu offers the list"
    );
    for path in [
        "/console/tasks".to_owned(),
        format!("/console/tasks?plan={PLAN}&town={}", enc("虎溪街道")),
    ] {
        let (status, html) = lead.get(&path).await.unwrap();
        assert_eq!(status, 200, "{path}");
        assert_eq!(rows(&html).0, xiyong, "{path}: the lead's own town");
        assert!(!html.contains("虎溪街道"), "{path}: no other town offered");
    }

    // The synced task shows its state; the demo's deadline (2024-01-31)
    // has passed for every task nothing has arrived for.
    let (_, html) = lead.get("/console/tasks").await.unwrap();
    let task = &synced.task.task_id;
    assert_ne!(
        attr_of(&html, task, "data-status"),
        "pending",
        "{task} was synced"
    );
    assert_eq!(attr_of(&html, task, "data-overdue"), "false");
    let other = xiyong.iter().find(|t| *t != task).expect("a second task");
    assert_eq!(attr_of(&html, other, "data-status"), "pending");
    assert_eq!(attr_of(&html, other, "data-overdue"), "true");
    let overdue = format!("逾期未检查 {} 项", xiyong.len() - 1);
    assert!(
        html.contains(&overdue),
        "the summary counts the overdue: {overdue}"
    );
    // Each team is named with credential numbers.
    for name in &synced.task.officer_names {
        assert!(html.contains(name.as_str()), "{name} is on the team");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_town_lead_prints_the_list_on_a4() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let base = server.base_url.clone();
    for (width, height) in [(1440u32, 1000u32), (375, 812)] {
        let mut b = Browser::start(&format!("town-tasks-{width}"))
            .await
            .unwrap();
        b.resize(width, height).await.unwrap();
        b.log_in(&base, "xiyong", PASSWORD).await.unwrap();
        if width < 700 {
            // On a phone the menu is folded behind its button.
            let shown = |b: &Browser| {
                let b = b.client.clone();
                async move {
                    b.execute(
                        "return document.querySelector('#nav-tasks').offsetParent !== null;",
                        vec![],
                    )
                    .await
                    .unwrap()
                    .as_bool()
                    .unwrap()
                }
            };
            assert!(!shown(&b).await, "the menu is folded at {width} px");
            b.click("#menu-toggle").await.unwrap();
            assert!(shown(&b).await, "the button unfolds the menu");
        }
        b.click("#nav-tasks").await.unwrap();
        b.wait("#town-tasks").await.unwrap();
        let laid_out = b.page_width().await.unwrap();
        assert!(
            laid_out <= u64::from(width),
            "the page is {laid_out} px wide in a {width} px window"
        );
        b.screenshot("tasks").await.unwrap();
        if width != 1440 {
            b.close().await.unwrap();
            continue;
        }
        let total: usize = b.text("#task-total").await.unwrap().parse().unwrap();
        let pdf = b.print_a4(true).await.unwrap();
        let out = choucha_tests::workspace_root()
            .join("target/console-screenshots/town-tasks-1440/tasks.pdf");
        std::fs::write(&out, &pdf).unwrap();
        let pages = choucha_tests::pdf_text::pages(&out).unwrap();
        let n = pages.len();
        assert!(n >= 1 && n <= total / 4 + 2, "{n} pages for {total} tasks");
        choucha_tests::pdf_text::check_headed_and_numbered(&pages, &[PLAN, TOWN]).unwrap();
        let last = &pages[n - 1];
        for role in ["镇街负责人：", "质量科经办人：", "日期："] {
            assert!(last.contains(role), "a line for {role}: {last}");
        }
        let all = pages.join("\n");
        assert!(!all.contains("后续处置"), "the menu is not printed");
        assert!(!all.contains("查看"), "the filter form is not printed");
        b.close().await.unwrap();
    }
}
