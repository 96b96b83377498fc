//! Faults around the protocol that need more set-up: the evidence store is
//! a real S3-compatible server that goes down mid-upload; device clocks that
//! cannot be right; two devices inspecting the same task offline.

use choucha_shared::sync::EntryPayload;
use choucha_tests::TestServer;
use choucha_tests::device::{SimDevice, complete_record, enrol, sign};
use choucha_tests::s3::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use chrono::{Duration, TimeZone, Utc};
use reqwest::{Client, StatusCode};
use serde_json::Value;

async fn admin_get(client: &Client, server: &TestServer, path: &str) -> Value {
    client
        .get(server.url(path))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The first task of the demo draw and its two officers' devices.
async fn two_devices(client: &Client, server: &TestServer) -> (SimDevice, SimDevice, String) {
    let draw = admin_get(client, server, "/api/v1/draws/GXQ-2023-ZBJR-D1").await;
    let task = &draw["tasks"][0];
    let a = task["team"][0]["person_id"].as_str().unwrap();
    let b = task["team"][1]["person_id"].as_str().unwrap();
    let da = enrol(client, &server.base_url, server.token(), a)
        .await
        .unwrap();
    let db = enrol(client, &server.base_url, server.token(), b)
        .await
        .unwrap();
    (da, db, task["task_id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn s3_outage_mid_upload_loses_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let mut s3 = S3Server::start(&scratch.path().join("s3")).await;
    let endpoint = s3.endpoint();
    let server = TestServer::start_demo_with_env(
        None,
        &[
            ("CHOUCHA_S3_ENDPOINT", endpoint.as_str()),
            ("CHOUCHA_S3_BUCKET", BUCKET),
            ("CHOUCHA_S3_ACCESS_KEY", ACCESS_KEY),
            ("CHOUCHA_S3_SECRET_KEY", SECRET_KEY),
            ("CHOUCHA_S3_MAX_RETRIES", "1"),
            ("CHOUCHA_S3_RETRY_TIMEOUT_SECS", "2"),
        ],
    )
    .unwrap();
    let client = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let (mut dev, _, task_id) = two_devices(&client, &server).await;
    let (bundle, checklist) = dev.pull_task(&task_id).await.unwrap();
    let (record, blobs) = complete_record(&bundle, &checklist, 3_000, 0);
    dev.append(
        EntryPayload::Sealed {
            record: record.clone(),
        },
        Utc::now(),
    );
    dev.sync_log().await.unwrap();

    let (first, rest) = blobs.split_first().unwrap();
    assert!(dev.upload_blob(&first.1, 1024, usize::MAX).await.unwrap());
    // The blob went through the S3 server, not the local disk.
    let in_s3 = walk(&scratch.path().join("s3"))
        .into_iter()
        .any(|p| p.ends_with(first.0.as_str()));
    assert!(in_s3, "blob not found in the S3 server's directory");

    // The object store goes down: the last step fails with a clear 503, the
    // bytes stay on the server, and HEAD says nothing more must be sent.
    s3.stop().await;
    let (sha, bytes) = &rest[0];
    let (s, body) = dev
        .blob_chunk(
            sha,
            bytes.len(),
            0,
            bytes,
            &choucha_shared::Sha256Hex::of(bytes),
        )
        .await
        .unwrap();
    assert!(
        s == StatusCode::SERVICE_UNAVAILABLE || s == StatusCode::INSUFFICIENT_STORAGE,
        "{s} {body}"
    );
    assert_eq!(body["details"]["offset"], bytes.len());
    let (_, offset, complete) = dev.blob_offset(sha, bytes.len()).await.unwrap();
    assert_eq!((offset, complete), (bytes.len() as u64, false));
    let v = admin_get(
        &client,
        &server,
        &format!("/api/v1/records/{}", record.record_id),
    )
    .await;
    assert_eq!(v[0]["state"], "incomplete");

    // Back up: finishing needs no byte resent.
    s3.restart().await;
    for (_, b) in rest {
        assert!(dev.upload_blob(b, 1024, usize::MAX).await.unwrap());
    }
    let v = admin_get(
        &client,
        &server,
        &format!("/api/v1/records/{}", record.record_id),
    )
    .await;
    assert_eq!(v[0]["state"], "received", "{v}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p))
            } else {
                out.push(p)
            }
        }
    }
    out
}

#[tokio::test]
async fn implausible_device_clocks_are_flagged() {
    let server = TestServer::start_demo(None).unwrap();
    let client = Client::new();
    let (mut dev, _, task_id) = two_devices(&client, &server).await;
    let (bundle, checklist) = dev.pull_task(&task_id).await.unwrap();
    let (mut record, mut blobs) = complete_record(&bundle, &checklist, 1_000, 0);
    // A tablet whose clock says 2020 for the start and next week for a photo,
    // whose GPS fix says otherwise.
    record.started_at = Utc.with_ymd_and_hms(2020, 1, 1, 9, 0, 0).unwrap();
    record.photos[0].taken_at = Utc::now() + Duration::days(7);
    record.photos[1].gps_time = Some(record.photos[1].taken_at - Duration::hours(3));
    sign(&mut record, &mut blobs);
    dev.append(
        EntryPayload::Sealed {
            record: record.clone(),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(r.results.iter().all(|x| x.verdict.is_confirmed()), "{r:?}");
    let v = admin_get(
        &client,
        &server,
        &format!("/api/v1/records/{}", record.record_id),
    )
    .await;
    let flags: Vec<&str> = v[0]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        flags.iter().any(|f| f.contains("早于任务下达时间")),
        "{flags:?}"
    );
    assert!(
        flags.iter().any(|f| f.contains("晚于服务器接收时间")),
        "{flags:?}"
    );
    assert!(
        flags.iter().any(|f| f.contains("卫星定位时间")),
        "{flags:?}"
    );
}

#[tokio::test]
async fn two_devices_on_one_task_keep_both_records_flagged() {
    let server = TestServer::start_demo(None).unwrap();
    let client = Client::new();
    let (mut a, mut b, task_id) = two_devices(&client, &server).await;
    let mut ids = Vec::new();
    for dev in [&mut a, &mut b] {
        let (bundle, checklist) = dev.pull_task(&task_id).await.unwrap();
        let (record, _) = complete_record(&bundle, &checklist, 1_000, 0);
        dev.append(
            EntryPayload::Sealed {
                record: record.clone(),
            },
            Utc::now(),
        );
        let r = dev.sync_log().await.unwrap();
        assert!(r.results.iter().all(|x| x.verdict.is_confirmed()), "{r:?}");
        ids.push(record.record_id);
    }
    for id in ids {
        let v = admin_get(&client, &server, &format!("/api/v1/records/{id}")).await;
        assert_eq!(v.as_array().unwrap().len(), 1, "both records kept");
        let flags = v[0]["flags"].to_string();
        assert!(flags.contains("同一任务有多份记录"), "{flags}");
    }
}

#[tokio::test]
async fn server_killed_while_a_batch_is_in_flight_loses_and_duplicates_nothing() {
    let mut server = TestServer::start_demo(None).unwrap();
    let client = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let (mut dev, _, _) = two_devices(&client, &server).await;
    let record_id = uuid::Uuid::now_v7();
    let mut seed: u64 = 99;
    for round in 0..5 {
        for n in 0..400 {
            let entry = choucha_shared::record::ItemEntry {
                verdict: None,
                note: Some(format!("r{round} n{n} {}", "备注".repeat(40))),
            };
            dev.append(
                EntryPayload::ItemSet {
                    record_id,
                    item_id: "MET-1.01".into(),
                    entry,
                },
                Utc::now(),
            );
        }
        let batch = dev.log[dev.confirmed as usize..].to_vec();
        let sender = dev.clone();
        let in_flight = tokio::spawn(async move { sender.push_entries(&batch).await });
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        tokio::time::sleep(std::time::Duration::from_millis((seed >> 33) % 60)).await;
        server.restart().unwrap();
        // Whatever the in-flight request saw, the device just syncs again.
        let _ = in_flight.await;
        for _ in 0..3 {
            if dev.confirmed < dev.log.len() as u64 {
                dev.sync_log().await.unwrap();
            }
        }
        assert_eq!(dev.confirmed, dev.log.len() as u64);
    }
    let held = admin_get(
        &client,
        &server,
        &format!("/api/v1/devices/{}/log", dev.enrolment.device_id),
    )
    .await;
    let held = held.as_array().unwrap();
    assert_eq!(held.len(), dev.log.len(), "every entry exactly once");
    for (h, e) in held.iter().zip(&dev.log) {
        assert_eq!(h["hash"], e.hash.as_str());
    }
}
