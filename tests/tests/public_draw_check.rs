//! A citizen checks a draw (issue #20): from `/public`, without logging
//! in, they open the draw's page, download the frozen candidate lists (the
//! exact text the snapshot hash covers) and the script, hash the file and
//! re-run the draw with the published seed — and get the tasks the page
//! lists, one by one. Failed before: `/public` linked to no draw and the
//! lists behind the hash were never published.

use std::process::Command;

use serde_json::Value;

use choucha_shared::value::Sha256Hex;
use choucha_tests::console::client;
use choucha_tests::{TempDir, TestServer};

fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    page.split(start)
        .nth(1)
        .and_then(|s| s.split(end).next())
        .unwrap_or_else(|| panic!("no {start} in the page"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_visitor_recomputes_a_draw_from_the_public_page() {
    let server = TestServer::start_demo(None).expect("demo server");
    let http = client();
    let get = |path: String| {
        let http = http.clone();
        let url = server.url(&path);
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.bytes().await.unwrap().to_vec()
        }
    };

    let public = String::from_utf8(get("/public".into()).await).unwrap();
    // The draws are listed on the public page.
    let link = between(&public, "href=\"/public/draws/", "\"").to_owned();
    let page = String::from_utf8(get(format!("/public/draws/{link}")).await).unwrap();
    let seed = between(&page, "id=\"seed\">", "<").to_owned();
    // Times in China time, to the minute, not stored UTC stamps.
    assert!(
        !page.contains("+00:00") && !page.contains("Z</td>"),
        "{page}"
    );
    let entered = between(&page, "种子录入时间</th><td>", "<");
    assert!(
        entered.len() == 16 && entered.as_bytes()[10] == b' ' && entered.as_bytes()[13] == b':',
        "YYYY-MM-DD HH:MM: {entered}"
    );
    let hash = between(&page, "id=\"snapshot-hash\">", "<").to_owned();
    let drawn: Vec<String> = between(&page, "id=\"tasks\">", "</table>")
        .split("<span class=\"muted\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect();
    assert!(
        drawn.len() > 100,
        "the demo draws 190 tasks: {}",
        drawn.len()
    );

    // The lists: the very text hashed.
    let snapshot = get(format!("/public/draws/{link}/snapshot.txt")).await;
    assert_eq!(Sha256Hex::of(&snapshot).as_str(), hash);
    let script = get("/public/draw_example.py".into()).await;
    let dir = TempDir::new("citizen").unwrap();
    std::fs::write(dir.path().join("snapshot.txt"), &snapshot).unwrap();
    std::fs::write(dir.path().join("draw_example.py"), &script).unwrap();

    // Re-run with the published seed, as the page says.
    let out = Command::new("python3")
        .current_dir(dir.path())
        .args(["draw_example.py", "--snapshot", "snapshot.txt", &seed])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["snapshot_hash"], hash.as_str());
    let recomputed: Vec<String> = result["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recomputed, drawn, "the same targets, in the same order");

    // No officer is named unless the bureau allows it.
    assert!(!page.contains("class=\"team\""), "no officers by default");
    let draw = choucha_tests::field::admin_get(&server, &format!("/api/v1/draws/{link}"))
        .await
        .unwrap();
    for m in draw["tasks"][0]["team"].as_array().unwrap() {
        let id = m["person_id"].as_str().unwrap();
        assert!(!page.contains(id), "officer {id} named on the public page");
    }

    // A changed list no longer gives the hash.
    let mut forged = snapshot.clone();
    let at = forged.len() / 2;
    forged[at] = if forged[at] == b'1' { b'2' } else { b'1' };
    assert_ne!(Sha256Hex::of(&forged).as_str(), hash);
}

/// Where the bureau's rules allow it (`public_draw_officers`), each team's
/// officers are listed by credential number — never by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officers_are_listed_by_credential_number_only_when_allowed() {
    let server = TestServer::start_demo_with_env(None, &[("CHOUCHA_PUBLIC_DRAW_OFFICERS", "true")])
        .expect("demo server");
    let draw = choucha_tests::field::admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    let r = client()
        .get(server.url("/public/draws/GXQ-2023-ZBJR-D1"))
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    let first = &draw["tasks"][0]["team"][0];
    let (id, name) = (
        first["person_id"].as_str().unwrap(),
        first["name"].as_str().unwrap(),
    );
    let teams = between(&page, "id=\"tasks\">", "</table>");
    assert!(
        teams.contains("class=\"team\"") && teams.contains(id),
        "{teams}"
    );
    assert!(!teams.contains(name), "no names: {name}");
}
