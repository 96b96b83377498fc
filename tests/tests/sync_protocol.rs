//! The sync protocol over real HTTP against the real server: enrolment and
//! access control, exactly-once log pushes under retries, reordering,
//! conflicts and tampering, returns and amendments, and a server killed in
//! the middle of a batch. The same story runs on SQLite and PostgreSQL.

use choucha_shared::Sha256Hex;
use choucha_shared::sync::{EntryPayload, EntryVerdict};
use choucha_tests::device::{SimDevice, complete_record, enrol};
use choucha_tests::{TestServer, pg};
use chrono::Utc;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn admin_get(client: &Client, server: &TestServer, path: &str) -> (StatusCode, Value) {
    let r = client
        .get(server.url(path))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// The first officer of the first task of the demo draw, and an officer of
/// another town who is not on that task's team.
async fn officers(client: &Client, server: &TestServer) -> (String, String, String) {
    let (_, draw) = admin_get(client, server, "/api/v1/draws/GXQ-2023-ZBJR-D1").await;
    let tasks = draw["tasks"].as_array().unwrap();
    let first = &tasks[0];
    let officer = first["team"][0]["person_id"].as_str().unwrap().to_owned();
    let task_id = first["task_id"].as_str().unwrap().to_owned();
    let stranger = tasks
        .iter()
        .flat_map(|t| t["team"].as_array().unwrap())
        .map(|m| m["person_id"].as_str().unwrap())
        .find(|p| {
            p.starts_with("渝")
                && !first["team"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["person_id"] == *p)
        })
        .unwrap()
        .to_owned();
    (officer, task_id, stranger)
}

async fn story(mut server: TestServer) {
    // No idle connections: the server is killed and restarted below, and a
    // pooled connection to the dead process would only add noise.
    let client = Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let (officer, task_id, stranger) = officers(&client, &server).await;

    // Enrolment: one-time code, wrong code refused, no token no data.
    let anon = client
        .get(server.url("/api/v1/device/pull"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let wrong = client
        .post(server.url("/api/v1/device/enrol"))
        .json(&json!({ "code": "ABCD-EFGH", "device_name": "平板" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("注册码无效"));
    let code: Value = client
        .post(server.url("/api/v1/enrolments"))
        .bearer_auth(server.token())
        .json(&json!({ "officer_id": officer }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = code["enrolment"]["code"].as_str().unwrap();
    assert_eq!(c.len(), 14, "typeable, 60 bits in three groups: {c}");
    assert!(code["qr_payload"].as_str().unwrap().contains(c));
    let first = client
        .post(server.url("/api/v1/device/enrol"))
        .json(&json!({ "code": c.to_lowercase().replace('-', ""), "device_name": "平板一" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        first.status(),
        201,
        "codes are forgiving about case and dashes"
    );
    let again = client
        .post(server.url("/api/v1/device/enrol"))
        .json(&json!({ "code": c, "device_name": "平板二" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 422, "a code works once");

    let mut dev: SimDevice = enrol(&client, &server.base_url, server.token(), &officer)
        .await
        .unwrap();
    let (tasks, checklists, _) = dev.pull_all().await.unwrap();
    assert!(!tasks.is_empty());
    assert!(
        tasks
            .iter()
            .all(|t| t.task.team.iter().any(|m| m.person_id == officer)),
        "only the officer's own tasks"
    );
    let bundle = tasks
        .iter()
        .find(|t| t.task.task_id == task_id)
        .unwrap()
        .clone();
    let checklist = checklists
        .iter()
        .find(|c| c.reference() == bundle.task.checklist)
        .unwrap()
        .clone();
    // Pulling again from the cursor gives nothing new.
    let (again, _, _) = dev.pull_all().await.unwrap();
    assert!(again.is_empty());
    // Page by page: one item per page, `more` until the last, the same
    // tasks in the same order.
    let mut cursor = 0;
    let mut paged = Vec::new();
    loop {
        let page: Value = client
            .get(server.url(&format!("/api/v1/device/pull?cursor={cursor}&limit=1")))
            .bearer_auth(&dev.enrolment.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 1, "{page}");
        paged.extend(items.iter().map(|i| i["bundle"]["task"]["task_id"].clone()));
        assert!(page["cursor"].as_i64().unwrap() > cursor || items.is_empty());
        cursor = page["cursor"].as_i64().unwrap();
        if !page["more"].as_bool().unwrap() {
            break;
        }
    }
    let all: Vec<Value> = tasks.iter().map(|t| json!(t.task.task_id)).collect();
    assert!(
        all.len() >= 2,
        "two tasks at least, so that paging is exercised"
    );
    assert_eq!(paged, all);
    // An unknown token is unauthorised, not "revoked".
    let bogus = client
        .get(server.url("/api/v1/device/pull"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 401);
    assert_eq!(bogus.json::<Value>().await.unwrap()["code"], "unauthorized");

    // Another team's task: never data.
    let stranger_dev = enrol(&client, &server.base_url, server.token(), &stranger)
        .await
        .unwrap();
    let peek = client
        .get(server.url(&format!("/api/v1/device/tasks/{task_id}")))
        .bearer_auth(&stranger_dev.enrolment.token)
        .send()
        .await
        .unwrap();
    assert_eq!(peek.status(), 404);
    let own = client
        .get(server.url(&format!("/api/v1/device/tasks/{task_id}")))
        .bearer_auth(&dev.enrolment.token)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);

    // A whole inspection in the log.
    let (record, blobs) = complete_record(&bundle, &checklist, 2_000, 0);
    dev.append(
        EntryPayload::Started {
            record_id: record.record_id,
            task_id: task_id.clone(),
            started_at: record.started_at,
        },
        Utc::now(),
    );
    for (item_id, entry) in record.items.iter().take(5) {
        dev.append(
            EntryPayload::ItemSet {
                record_id: record.record_id,
                item_id: item_id.clone(),
                entry: entry.clone(),
            },
            Utc::now(),
        );
    }
    for p in record.photos.iter().take(2) {
        dev.append(
            EntryPayload::PhotoTaken {
                record_id: record.record_id,
                photo: p.clone(),
            },
            Utc::now(),
        );
    }
    dev.append(
        EntryPayload::Sealed {
            record: record.clone(),
        },
        Utc::now(),
    );
    let all = dev.log.clone();

    // Out of order: the tail first is a gap naming the expected index.
    let (s, r) = dev.push_entries(&all[4..]).await.unwrap();
    assert_eq!(s, 409);
    assert_eq!(
        r.results[0].verdict,
        EntryVerdict::Gap { expected_index: 1 }
    );
    assert_eq!(r.next_index, 1);

    // Server killed in the middle of a batch: the first half is committed
    // or not, never partly; a full resend then completes exactly once.
    let (s, _) = dev.push_entries(&all[..4]).await.unwrap();
    assert_eq!(s, 200);
    server.restart().unwrap();
    let (s, r) = dev.push_entries(&all).await.unwrap();
    assert_eq!(s, 200, "{r:?}");
    assert!(
        r.results[..4]
            .iter()
            .all(|x| x.verdict == EntryVerdict::Duplicate)
    );
    assert!(
        r.results[4..]
            .iter()
            .all(|x| x.verdict == EntryVerdict::Stored)
    );
    assert_eq!(r.next_index, all.len() as u64 + 1);
    dev.confirmed = all.len() as u64;

    // The same batch again: the same answers, nothing new stored.
    let (s, r2) = dev.push_entries(&all).await.unwrap();
    assert_eq!(s, 200);
    assert!(
        r2.results
            .iter()
            .all(|x| x.verdict == EntryVerdict::Duplicate)
    );

    // Sealed, but the evidence has not arrived: incomplete, and the server
    // names every missing blob.
    assert_eq!(
        r2.missing_blobs.len(),
        blobs
            .iter()
            .map(|b| &b.0)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    let (s, versions) = admin_get(
        &client,
        &server,
        &format!("/api/v1/records/{}", record.record_id),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(versions[0]["state"], "incomplete");
    assert!(
        versions[0]["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("尚未上传"))
    );

    // Evidence: resumable chunked uploads. One blob is cut after its first
    // chunk and the server is killed; the upload resumes from the durable
    // offset the server reports.
    let (last_blob, rest) = blobs.split_last().unwrap();
    for (_, bytes) in rest {
        assert!(dev.upload_blob(bytes, 512, usize::MAX).await.unwrap());
    }
    // Still incomplete, and what it lacks is now exactly the one blob not
    // yet sent.
    let (_, versions) = admin_get(
        &client,
        &server,
        &format!("/api/v1/records/{}", record.record_id),
    )
    .await;
    assert_eq!(versions[0]["state"], "incomplete");
    let missing: Vec<&str> = versions[0]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(
        rest.iter().all(|(sha, _)| sha != &last_blob.0),
        "the last blob is sent only once"
    );
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].contains(last_blob.0.as_str()), "{missing:?}");
    assert!(!dev.upload_blob(&last_blob.1, 512, 1).await.unwrap());
    server.restart().unwrap();
    let (s, offset, _) = dev
        .blob_offset(&last_blob.0, last_blob.1.len())
        .await
        .unwrap();
    assert_eq!((s, offset), (StatusCode::OK, 512));
    // A chunk with a wrong checksum, or at the wrong offset, moves nothing.
    let piece = &last_blob.1[512..1024];
    let (s, body) = dev
        .blob_chunk(
            &last_blob.0,
            last_blob.1.len(),
            512,
            piece,
            &Sha256Hex::of(b"x"),
        )
        .await
        .unwrap();
    assert_eq!(s.as_u16(), 460, "{body}");
    let (s, body) = dev
        .blob_chunk(
            &last_blob.0,
            last_blob.1.len(),
            0,
            piece,
            &Sha256Hex::of(piece),
        )
        .await
        .unwrap();
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["details"]["offset"], 512);
    assert_eq!(
        dev.blob_offset(&last_blob.0, last_blob.1.len())
            .await
            .unwrap()
            .1,
        512
    );
    assert!(
        dev.upload_blob(&last_blob.1, 512, usize::MAX)
            .await
            .unwrap()
    );
    // Uploading a blob again is a no-op that reports completion.
    assert!(
        dev.blob_offset(&last_blob.0, last_blob.1.len())
            .await
            .unwrap()
            .2
    );

    // Bytes that are not what their name says are refused whole.
    let liar = Sha256Hex::of(b"what the device claims");
    let (s, body) = dev
        .blob_chunk(&liar, 5, 0, b"other", &Sha256Hex::of(b"other"))
        .await
        .unwrap();
    assert_eq!(s, 422, "{body}");
    // Size limits come back as JSON naming the limit.
    let (s, body) = dev
        .blob_chunk(&liar, 30 * 1024 * 1024, 0, b"x", &Sha256Hex::of(b"x"))
        .await
        .unwrap();
    assert_eq!(s, 413);
    assert_eq!(body["details"]["limit"], 25 * 1024 * 1024, "{body}");
    let huge = vec![0u8; 9 * 1024 * 1024];
    let (s, body) = dev
        .blob_chunk(&liar, 20 * 1024 * 1024, 0, &huge, &Sha256Hex::of(&huge))
        .await
        .unwrap();
    assert_eq!(s, 413);
    assert_eq!(body["code"], "payload_too_large", "{body}");

    // Every blob arrived: the record is submitted.
    let (_, versions) = admin_get(
        &client,
        &server,
        &format!("/api/v1/records/{}", record.record_id),
    )
    .await;
    assert_eq!(versions[0]["state"], "received", "{versions}");
    let (_, r) = dev.push_entries(&[]).await.unwrap();
    assert!(r.missing_blobs.is_empty());

    // Same ID, different content: a conflict, nothing overwritten.
    let mut forged = all[1].clone();
    if let EntryPayload::ItemSet { entry, .. } = &mut forged.payload {
        entry.note = Some("事后改动".into());
    }
    forged.hash = forged.compute_hash();
    let (s, r) = dev.push_entries(&[forged.clone()]).await.unwrap();
    assert_eq!(s, 409);
    assert!(
        matches!(&r.results[0].verdict, EntryVerdict::Conflict { message } if message.contains("不会被覆盖"))
    );
    // A tampered entry (content changed, hash not): refused.
    let mut tampered = all[2].clone();
    tampered.created_at = Utc::now();
    let (s, _) = dev.push_entries(&[tampered]).await.unwrap();
    assert_eq!(s, 422);
    // A broken chain: right index, wrong previous hash.
    let mut broken = dev.clone();
    broken.log.truncate(all.len());
    broken.append(
        EntryPayload::Started {
            record_id: record.record_id,
            task_id: task_id.clone(),
            started_at: Utc::now(),
        },
        Utc::now(),
    );
    let mut last = broken.log.last().unwrap().clone();
    last.prev_hash = Some(all[0].hash.clone());
    last.hash = last.compute_hash();
    let (s, r) = dev.push_entries(&[last]).await.unwrap();
    assert_eq!(s, 422, "{r:?}");

    // A sealed record for a task of another team is taken into the
    // intruder's log but refused: nothing of it is stored.
    let mut intruder = stranger_dev.clone();
    intruder.append(
        EntryPayload::Sealed {
            record: record.clone(),
        },
        Utc::now(),
    );
    let (s, r) = intruder.push_entries(&intruder.log.clone()).await.unwrap();
    assert_eq!(s, 200, "{r:?}");
    assert!(
        r.results
            .iter()
            .any(|x| matches!(&x.verdict, EntryVerdict::Refused { message } if message.contains("检查组"))),
        "{r:?}"
    );

    // Revocation: every call is 401 afterwards.
    let revoke = client
        .post(server.url(&format!(
            "/api/v1/devices/{}/revoke",
            stranger_dev.enrolment.device_id
        )))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    let after = client
        .get(server.url("/api/v1/device/pull"))
        .bearer_auth(&stranger_dev.enrolment.token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    assert_eq!(
        after.json::<Value>().await.unwrap()["code"],
        "device_revoked"
    );

    // A supervisor returns the record; the device gets it on its next pull
    // and sends an amendment of that version; amending a stale version is a
    // conflict.
    let version = versions[0]["version"].as_str().unwrap().to_owned();
    let ret = client
        .post(server.url(&format!("/api/v1/records/{}/return", record.record_id)))
        .bearer_auth(server.token())
        .json(&json!({ "version": version, "comment": "大门照片不清晰，请补拍", "item_comments": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(ret.status(), 200);
    let (_, _, feed) = dev.pull_all().await.unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0]["kind"], "returned");
    assert_eq!(feed[0]["return"]["comment"], "大门照片不清晰，请补拍");
    let mut amended = record.clone();
    let mut new_blobs = Vec::new();
    amended.items.values_mut().next().unwrap().note = Some("已按退回意见补充".into());
    choucha_tests::device::sign(&mut amended, &mut new_blobs);
    let replaces = Sha256Hex::parse(&version).unwrap();
    dev.append(
        EntryPayload::Amended {
            replaces: Sha256Hex::of(b"stale"),
            record: amended.clone(),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(
        matches!(&r.results[0].verdict, EntryVerdict::Refused { message } if message.contains("不是当前版本")),
        "{r:?}"
    );
    // Taken into the log, so the right amendment simply follows it.
    dev.append(
        EntryPayload::Amended {
            replaces,
            record: amended.clone(),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(r.results.iter().all(|x| x.verdict.is_confirmed()), "{r:?}");
    for (_, bytes) in &new_blobs {
        assert!(dev.upload_blob(bytes, 4096, usize::MAX).await.unwrap());
    }
    let (_, versions) = admin_get(
        &client,
        &server,
        &format!("/api/v1/records/{}", record.record_id),
    )
    .await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["superseded"], true);
    assert_eq!(versions[0]["state"], "returned");
    assert_eq!(versions[1]["state"], "received", "{versions}");

    // Exactly once: the log holds each entry once.
    let (s, status) = dev_get(
        &client,
        &server,
        &dev,
        &format!("/api/v1/device/records/{}", record.record_id),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(status.as_array().unwrap().len(), 2);
    let (_, log) = admin_get(
        &client,
        &server,
        &format!("/api/v1/devices/{}/log", dev.enrolment.device_id),
    )
    .await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), dev.log.len());
    for (held, wrote) in log.iter().zip(&dev.log) {
        assert_eq!(held["hash"], wrote.hash.as_str());
    }
}

async fn dev_get(
    client: &Client,
    server: &TestServer,
    dev: &SimDevice,
    path: &str,
) -> (StatusCode, Value) {
    let r = client
        .get(server.url(path))
        .bearer_auth(&dev.enrolment.token)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sync_protocol_on_sqlite() {
    story(TestServer::start_demo(None).unwrap()).await;
}

#[tokio::test]
async fn sync_protocol_on_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    story(TestServer::start_demo(Some(&url)).unwrap()).await;
}
