//! Model-based test of exactly-once delivery: random sequences of appends,
//! pushes (partial, duplicated, reordered), cut connections (the answer is
//! lost) and server kills, against the real server. Invariant: after the
//! devices catch up, the server holds every entry each device wrote, exactly
//! once and in order — and at no point did a device believe the server had
//! an entry it did not have.

use std::cell::RefCell;

use choucha_shared::record::ItemEntry;
use choucha_shared::sync::{EntryPayload, LogEntry};
use choucha_tests::TestServer;
use choucha_tests::device::{SimDevice, enrol};
use chrono::Utc;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Client;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    Append {
        dev: usize,
        n: usize,
    },
    Push {
        dev: usize,
        take: usize,
        duplicate: bool,
        reverse: bool,
    },
    /// The batch reaches the server but the answer never reaches the device.
    Cut {
        dev: usize,
        take: usize,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 1..6usize).prop_map(|(dev, n)| Op::Append { dev, n }),
        4 => (0..2usize, 1..8usize, any::<bool>(), any::<bool>())
            .prop_map(|(dev, take, duplicate, reverse)| Op::Push { dev, take, duplicate, reverse }),
        2 => (0..2usize, 1..8usize).prop_map(|(dev, take)| Op::Cut { dev, take }),
        1 => Just(Op::Restart),
    ]
}

async fn server_log(
    client: &Client,
    server: &TestServer,
    dev: &SimDevice,
) -> Vec<(u64, String, String)> {
    let v: Vec<Value> = client
        .get(server.url(&format!("/api/v1/devices/{}/log", dev.enrolment.device_id)))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["entry_id"].as_str().unwrap().to_owned(),
                e["hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn item_entry(dev: &mut SimDevice, record_id: Uuid, n: usize) {
    let payload = EntryPayload::ItemSet {
        record_id,
        item_id: format!("MET-1.{:02}", n % 9 + 1),
        entry: ItemEntry {
            verdict: None,
            note: Some(format!("第 {n} 次修改")),
        },
    };
    dev.append(payload, Utc::now());
}

fn batch(dev: &SimDevice, take: usize) -> Vec<LogEntry> {
    let start = dev.confirmed as usize;
    let end = (start + take).min(dev.log.len());
    dev.log[start..end].to_vec()
}

async fn run_case(server: &mut TestServer, client: &Client, officer: &str, ops: Vec<Op>) {
    let mut devs = Vec::new();
    for _ in 0..2 {
        devs.push(
            enrol(client, &server.base_url, server.token(), officer)
                .await
                .unwrap(),
        );
    }
    let record_id = Uuid::now_v7();
    let mut written = 0;
    for op in ops {
        match op {
            Op::Append { dev, n } => {
                for _ in 0..n {
                    written += 1;
                    item_entry(&mut devs[dev], record_id, written);
                }
            }
            Op::Push {
                dev,
                take,
                duplicate,
                reverse,
            } => {
                let d = &mut devs[dev];
                let mut b = batch(d, take);
                if b.is_empty() {
                    continue;
                }
                if duplicate {
                    b.extend(b.clone());
                }
                if reverse {
                    b.reverse();
                }
                let (_, resp) = d.push_entries(&b).await.unwrap();
                // The device advances only over a confirmed, gapless prefix.
                for r in resp.results.iter().filter(|r| r.verdict.is_confirmed()) {
                    if r.index == d.confirmed + 1 {
                        d.confirmed = r.index;
                    }
                }
                d.confirmed = d.confirmed.max(resp.next_index - 1).min(d.log.len() as u64);
                let held = server_log(client, server, d).await.len() as u64;
                assert!(
                    held >= d.confirmed,
                    "device believes {} confirmed, server holds {held}",
                    d.confirmed
                );
            }
            Op::Cut { dev, take } => {
                let d = &devs[dev];
                let b = batch(d, take);
                if !b.is_empty() {
                    let _ = d.push_entries(&b).await.unwrap();
                }
            }
            Op::Restart => server.restart().unwrap(),
        }
    }
    for d in &mut devs {
        for _ in 0..3 {
            if d.confirmed < d.log.len() as u64 {
                d.sync_log().await.unwrap();
            }
        }
        assert_eq!(d.confirmed, d.log.len() as u64, "device could not catch up");
        let held = server_log(client, server, d).await;
        let wrote: Vec<(u64, String, String)> = d
            .log
            .iter()
            .map(|e| (e.index, e.entry_id.to_string(), e.hash.to_string()))
            .collect();
        assert_eq!(
            held, wrote,
            "server must hold exactly what the device wrote, once, in order"
        );
    }
}

#[test]
fn exactly_once_under_random_faults() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = RefCell::new(TestServer::start_demo(None).unwrap());
    let client = Client::new();
    let (url, token) = {
        let s = server.borrow();
        (
            s.url("/api/v1/draws/GXQ-2023-ZBJR-D1"),
            s.token().to_owned(),
        )
    };
    let officer = rt.block_on(async {
        let draw: Value = client
            .get(&url)
            .bearer_auth(&token)
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
    });
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(op(), 4..30), |ops| {
            rt.block_on(run_case(&mut server.borrow_mut(), &client, &officer, ops));
            Ok(())
        })
        .unwrap();
}
