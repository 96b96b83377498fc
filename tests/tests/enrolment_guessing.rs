//! Enrolment codes cannot be worn down by guessing: a code carries 60 bits
//! (XXXX-XXXX-XXXX), lives at most 72 hours, and once its first group has
//! failed five times from anywhere, that group is locked — even the right
//! code waits — while other codes still work; a flood from many addresses
//! is stopped as a whole. Each check failed on the code before.

use reqwest::Client;
use serde_json::{Value, json};

use choucha_tests::TestServer;

async fn create(http: &Client, server: &TestServer, minutes: Option<i64>) -> (u16, Value) {
    let officer = {
        let draw: Value = http
            .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
            .bearer_auth(server.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        draw["tasks"][0]["team"][0]["person_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut body = json!({ "officer_id": officer });
    if let Some(m) = minutes {
        body["valid_minutes"] = json!(m);
    }
    let r = http
        .post(server.url("/api/v1/enrolments"))
        .bearer_auth(server.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

async fn attempt(http: &Client, server: &TestServer, from: &str, code: &str) -> u16 {
    http.post(server.url("/api/v1/device/enrol"))
        .header("x-forwarded-for", from)
        .json(&json!({ "code": code, "device_name": "平板" }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_codes_resist_guessing() {
    let server = TestServer::start_demo_with_env(None, &[("CHOUCHA_TRUSTED_PROXIES", "127.0.0.1")])
        .expect("demo server");
    let http = Client::new();

    // 60 bits, three groups of four; at most 72 hours.
    let (status, made) = create(&http, &server, None).await;
    assert_eq!(status, 201, "{made}");
    let code = made["enrolment"]["code"].as_str().unwrap().to_owned();
    let groups: Vec<&str> = code.split('-').collect();
    assert_eq!(groups.len(), 3, "{code}");
    assert!(groups.iter().all(|g| g.len() == 4), "{code}");
    assert!(
        code.chars()
            .filter(|c| *c != '-')
            .all(|c| "23456789ABCDEFGHJKLMNPQRSTUVWXYZ".contains(c)),
        "{code}"
    );
    assert_eq!(create(&http, &server, Some(73 * 60)).await.0, 400);
    assert_eq!(create(&http, &server, Some(72 * 60)).await.0, 201);

    // Five wrong guesses at this code's first group, from five addresses:
    // the group is locked, even for the right code.
    let (_, other) = create(&http, &server, None).await;
    let other = other["enrolment"]["code"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let guess = format!("{}-2222-222{}", groups[0], i + 2);
        assert_eq!(
            attempt(&http, &server, &format!("198.51.100.{i}"), &guess).await,
            422
        );
    }
    assert_eq!(attempt(&http, &server, "203.0.113.9", &code).await, 429);
    // A code with another first group is not affected (unless the two
    // happen to share it).
    if other[..4] != code[..4] {
        assert_eq!(attempt(&http, &server, "203.0.113.10", &other).await, 201);
    }
}

/// Guesses spread over many addresses and first groups: after 500 failures
/// in the window everyone waits (the per-address limit alone would let a
/// botnet of addresses guess on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_many_addresses_is_stopped_as_a_whole() {
    let server = TestServer::start_demo_with_env(None, &[("CHOUCHA_TRUSTED_PROXIES", "127.0.0.1")])
        .expect("demo server");
    let http = Client::new();
    let alphabet: Vec<char> = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ".chars().collect();
    for i in 0..500usize {
        // Every guess its own address and first group.
        let group: String = [i / 32 % 32, i % 32, (i / 1024) % 32, 7]
            .iter()
            .map(|&k| alphabet[k])
            .collect();
        let from = format!("10.{}.{}.{}", i / 65536, i / 256 % 256, i % 256);
        let status = attempt(&http, &server, &from, &format!("{group}-2222-2222")).await;
        assert_eq!(status, 422, "guess {i}");
    }
    assert_eq!(
        attempt(&http, &server, "192.0.2.1", "ZZZZ-2222-2222").await,
        429
    );
}
