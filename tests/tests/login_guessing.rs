//! Console login under guessing, behind a (simulated) TLS proxy that
//! forwards the client's address: a flood of wrong passwords from one
//! address, sent in parallel, is counted before any password is checked —
//! most are refused without running Argon2 — and it does not lock the user
//! out: the right password from another address logs in at once. From one
//! address, after three failures each next try must wait, with the wait
//! said. Each check failed on the code before.

use reqwest::{Client, StatusCode};

use choucha_tests::TestServer;
use choucha_tests::console::{PASSWORD, client, set_cookie_value, set_demo_passwords};

/// One login through the form from `from`; its status and page.
async fn login(http: &Client, base: &str, from: &str, password: &str) -> (StatusCode, String) {
    let form = http
        .get(format!("{base}/console/login"))
        .send()
        .await
        .unwrap();
    let csrf = set_cookie_value(&form, "choucha_login_csrf").unwrap();
    let r = http
        .post(format!("{base}/console/login"))
        .header("x-forwarded-for", from)
        .header("cookie", format!("choucha_login_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "zhiliangke"),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_is_counted_first_and_locks_nobody_else_out() {
    let server = TestServer::start_demo_with_env(None, &[("CHOUCHA_TRUSTED_PROXIES", "127.0.0.1")])
        .expect("demo server");
    set_demo_passwords(&server).unwrap();
    let base = server.base_url.clone();
    let http = client();

    // Forty wrong passwords at once from one address.
    let flood: Vec<_> = (0..40)
        .map(|i| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                login(&http, &base, "198.51.100.7", &format!("guess-{i}"))
                    .await
                    .0
            })
        })
        .collect();
    let mut refused_unchecked = 0;
    for f in flood {
        match f.await.unwrap() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => refused_unchecked += 1,
            other => panic!("{other}"),
        }
    }
    // At most three passwords were checked freely from that address; the
    // rest were refused before Argon2 (a few may slip between the count
    // and the check of another, never most).
    assert!(
        refused_unchecked >= 30,
        "only {refused_unchecked} of 40 refused unchecked"
    );

    // The user, from the office's own address, logs in at once.
    let (status, page) = login(&http, &base, "203.0.113.5", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");

    // From one address: three failures free, then a wait that is said.
    for i in 0..3 {
        let (status, _) = login(&http, &base, "203.0.113.6", &format!("typo-{i}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, page) = login(&http, &base, "203.0.113.6", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(page.contains("秒后再试"), "{page}");
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let (status, page) = login(&http, &base, "203.0.113.6", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "after the wait: {page}");
}
