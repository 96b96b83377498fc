//! Enrolment codes cannot be worn down by guessing: a code carries 60 bits
//! (XXXX-XXXX-XXXX), lives at most 72 hours, and once its first group has
//! failed five times from anywhere, that group is locked — even the right
//! code waits — while other codes still work; a flood from many addresses
//! is stopped as a whole. Each check failed on the code before.

use reqwest::Client;
use serde_json::{Value, json};

use choucha_tests::TestServer;

async fn create(http: &Client, server: &TestServer, minutes: Option<i64>) -> (u16, Value) {
    choucha_tests::field::new_enrolment(http, server, minutes)
        .await
        .unwrap()
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

/// Pushes while wrong codes pour in from many addresses: every push is
/// taken. Recording the failed attempts used to write outside the SQLite
/// writer's queue, and pushes then failed with "database is locked" (500).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_go_through_while_codes_are_guessed() {
    use choucha_shared::record::ItemEntry;
    use choucha_shared::sync::EntryPayload;
    use chrono::Utc;

    let server = TestServer::start_demo_with_env(None, &[("CHOUCHA_TRUSTED_PROXIES", "127.0.0.1")])
        .expect("demo server");
    let http = Client::new();
    let draw: Value = http
        .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task = &draw["tasks"][0];
    let officer = task["team"][0]["person_id"].as_str().unwrap();
    let mut dev = choucha_tests::device::enrol(&http, &server.base_url, server.token(), officer)
        .await
        .unwrap();
    let record_id = uuid::Uuid::now_v7();
    dev.append(
        EntryPayload::Started {
            record_id,
            task_id: task["task_id"].as_str().unwrap().to_owned(),
            started_at: Utc::now(),
        },
        Utc::now(),
    );
    dev.sync_log().await.unwrap();

    let flood: Vec<_> = (0..16)
        .map(|g| {
            let (http, url) = (http.clone(), server.url("/api/v1/device/enrol"));
            tokio::spawn(async move {
                for n in 0..40 {
                    let _ = http
                        .post(&url)
                        .header("x-forwarded-for", format!("10.7.{g}.{n}"))
                        .json(&json!({ "code": format!("F{g:02}{n:02}-2222-2222"), "device_name": "x" }))
                        .send()
                        .await;
                }
            })
        })
        .collect();
    for n in 0..60 {
        dev.append(
            EntryPayload::ItemSet {
                record_id,
                item_id: "MET-1.01".into(),
                entry: ItemEntry {
                    verdict: None,
                    note: Some(format!("第 {n} 次")),
                },
            },
            Utc::now(),
        );
        dev.sync_log().await.expect("a push during the flood");
    }
    for f in flood {
        f.await.unwrap();
    }
}
