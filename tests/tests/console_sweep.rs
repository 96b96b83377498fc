//! Every console page as each role meets it (issue #20). Over HTTP, a
//! crawl from the home page and from `/public` follows every link a page
//! offers: none may answer an error to the user it was offered to (the
//! navigation offers no page a role cannot open). Then in Chromium at 1440
//! and 375 px, every page found, as the quality section's admin and as a
//! town lead, and every public page: nothing wider than the window, no raw
//! UTC time (`2024-01-05T03:04`, `+00:00`, microseconds) in what is shown,
//! and a screenshot in `target/console-screenshots/sweep-*`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use choucha_tests::TestServer;
use choucha_tests::browser::Browser;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};

mod console_support;

/// Files, not pages: downloads are fetched (they must answer) but not
/// crawled or shown.
const DOWNLOADS: &[&str] = &[
    "/pdf", ".xlsx", ".csv", ".pdf", ".json", ".py", ".txt", ".pem", "/blobs/", "/photos/",
];

/// Links that change state or the session rather than show a page.
fn not_followed(path: &str) -> bool {
    path.starts_with("/console/lang/") || path == "/console/logout" || path == "/console/login"
}

/// The same kind of page: IDs (segments with a digit) and the query's
/// values blanked, so a list of 190 records is visited once, not 190 times.
fn kind_of(path: &str) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let segs: Vec<String> = p
        .split('/')
        .map(|s| {
            if s.chars().any(|c| c.is_ascii_digit()) || s.contains('%') {
                "{}".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect();
    let keys: Vec<&str> = q
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').map_or(kv, |(k, _)| k))
        .collect();
    format!("{}?{}", segs.join("/"), keys.join("&"))
}

/// The same-site links of a page, as paths.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(h, _)| h.replace("&amp;", "&")))
        .filter(|h| h.starts_with("/console") || h.starts_with("/public"))
        .filter(|h| !h.starts_with("/console/assets/"))
        .map(|h| h.split_once('#').map_or(h.clone(), |(p, _)| p.to_owned()))
        .collect()
}

/// Crawls what `session` is offered from `start`; every link must answer
/// 200. Returns one path per kind of page.
async fn crawl(session: &Session, who: &str, start: &[&str]) -> Vec<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut kinds: BTreeMap<String, String> = BTreeMap::new();
    let mut queue: VecDeque<(String, String)> = start
        .iter()
        .map(|s| (s.to_string(), "(start)".to_owned()))
        .collect();
    let mut failures = Vec::new();
    while let Some((path, from)) = queue.pop_front() {
        if !seen.insert(path.clone()) || not_followed(&path) {
            continue;
        }
        let download = DOWNLOADS.iter().any(|d| path.contains(d));
        let kind = kind_of(&path);
        if !download && kinds.contains_key(&kind) {
            continue;
        }
        let (status, location, body) = session.get_following(&path).await.unwrap();
        if status.is_redirection() {
            // A town lead's 镇街报告 goes straight to their own town's.
            match location {
                Some(to) => queue.push_back((to, path.clone())),
                None => failures.push(format!("{who}: {path} redirects nowhere")),
            }
            continue;
        }
        if status != 200 {
            failures.push(format!(
                "{who}: {path} (linked from {from}) answered {status}"
            ));
            continue;
        }
        if download {
            continue;
        }
        kinds.insert(kind, path.clone());
        let html = String::from_utf8_lossy(&body);
        for link in links(&html) {
            if !seen.contains(&link) {
                queue.push_back((link, path.clone()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "links that fail:\n{}",
        failures.join("\n")
    );
    kinds.into_values().collect()
}

/// A time as the database keeps it, where people read China time.
fn raw_utc(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    for i in 0..chars.len() {
        // 2024-01-05T03:04
        let iso = (0..4).all(|k| digit(i + k))
            && chars.get(i + 4) == Some(&'-')
            && digit(i + 5)
            && digit(i + 6)
            && chars.get(i + 7) == Some(&'-')
            && digit(i + 8)
            && digit(i + 9)
            && chars.get(i + 10) == Some(&'T')
            && digit(i + 11);
        // 03:04:05.123456 (seconds with a fraction)
        let micro = (0..2).all(|k| digit(i + k))
            && chars.get(i + 2) == Some(&':')
            && digit(i + 3)
            && digit(i + 4)
            && chars.get(i + 5) == Some(&':')
            && digit(i + 6)
            && digit(i + 7)
            && chars.get(i + 8) == Some(&'.')
            && digit(i + 9);
        if iso || micro {
            let end = (i + 32).min(chars.len());
            return Some(chars[i..end].iter().collect());
        }
    }
    ["+00:00", " UTC"]
        .iter()
        .find(|m| text.contains(*m))
        .map(|m| m.to_string())
}

async fn sweep_in_browser(base: &str, who: &str, paths: &[String]) {
    for (width, height) in [(1440u32, 1000u32), (375, 812)] {
        let mut b = Browser::start(&format!("sweep-{who}-{width}"))
            .await
            .unwrap();
        b.resize(width, height).await.unwrap();
        if who != "public" {
            b.log_in(base, who, PASSWORD).await.unwrap();
        }
        let mut problems = Vec::new();
        for (n, path) in paths.iter().enumerate() {
            b.goto(&format!("{base}{path}")).await.unwrap();
            b.wait("body").await.unwrap();
            let laid_out = b.page_width().await.unwrap();
            if laid_out > u64::from(width) {
                problems.push(format!("{path}: {laid_out} px wide in a {width} px window"));
            }
            let text = b.text("body").await.unwrap();
            if let Some(t) = raw_utc(&text) {
                problems.push(format!("{path}: a raw UTC time «{t}»"));
            }
            let name: String = path
                .trim_start_matches('/')
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .take(60)
                .collect();
            b.screenshot(&format!("{n:02}-{name}")).await.unwrap();
        }
        b.close().await.unwrap();
        assert!(
            problems.is_empty(),
            "{who} at {width} px:\n{}",
            problems.join("\n")
        );
    }
}

#[test]
fn raw_times_are_recognised() {
    assert!(raw_utc("冻结于 2024-01-05T03:04:05.123Z").is_some());
    assert!(raw_utc("12:30:01.000123").is_some());
    assert!(raw_utc("at 2024-01-05 11:04 +00:00").is_some());
    assert_eq!(
        raw_utc("冻结于 2024-01-05 11:04，任务 GXQ-2023-ZBJR-D1-0001"),
        None
    );
    assert_eq!(
        kind_of("/console/records/R-0012?x=1&y=2"),
        "/console/records/{}?x&y"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_each_role_is_offered_opens_and_reads() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    // A record in, so the review, record and follow-up pages have rows.
    console_support::sync_far_record(&server, "西永街道", 5).await;
    let base = server.base_url.clone();
    let mut pages = BTreeMap::new();
    for (user, _, _) in choucha_sync_server::demo::CONSOLE_USERS {
        let session = Session::login(&base, user, PASSWORD).await.unwrap();
        pages.insert(user, crawl(&session, user, &["/console", "/public"]).await);
    }
    let admin = &pages["admin"];
    for needed in [
        "/console/plans",
        "/console/dashboard",
        "/console/tasks",
        "/console/audit",
    ] {
        assert!(
            admin.iter().any(|p| p.starts_with(needed)),
            "the admin's crawl reaches {needed}: {admin:?}"
        );
    }
    assert!(
        admin.iter().any(|p| p.starts_with("/console/records/")),
        "a record page is reached: {admin:?}"
    );
    let lead = &pages["xiyong"];
    assert!(lead.iter().any(|p| p.starts_with("/console/tasks")));
    assert!(
        !lead.iter().any(|p| p.starts_with("/console/plans")),
        "a town lead is offered no plan page: {lead:?}"
    );
    let public: Vec<String> = admin
        .iter()
        .filter(|p| p.starts_with("/public"))
        .cloned()
        .collect();
    assert!(public.iter().any(|p| p.starts_with("/public/draws/")));
    let console = |ps: &Vec<String>| -> Vec<String> {
        ps.iter()
            .filter(|p| p.starts_with("/console"))
            .cloned()
            .collect()
    };
    sweep_in_browser(&base, "admin", &console(admin)).await;
    sweep_in_browser(&base, "xiyong", &console(lead)).await;
    sweep_in_browser(&base, "public", &public).await;
}
