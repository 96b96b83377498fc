//! A record whose last blob arrives while the record itself is being
//! pushed, on PostgreSQL (read committed, several connections): the push
//! reads whether the blob is there, the blob's registration looks for the
//! records waiting for it, and the two commit concurrently. Unless the two
//! are serialised, each can miss the other and the record stays
//! `incomplete` for good although every blob arrived.
//!
//! A real server on a real PostgreSQL, over real HTTP: one device pushes
//! each record while a second device of the same officer uploads the
//! record's last blob at the same moment, at a spread of small delays so
//! that the registration lands at every point of the push.

mod console_support;

use std::time::Duration;

use chrono::Utc;

use choucha_shared::sync::{EntryPayload, EntryVerdict};
use choucha_tests::console::{demo_task, device_for, with_photos};
use choucha_tests::device::complete_record;
use choucha_tests::{TestServer, pg};
use console_support::{jpeg, record_versions};

const ROUNDS: u32 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blob_registered_during_its_records_push_completes_the_record_on_postgres() {
    let url = pg::shared().create_database().await.expect("database");
    let server = TestServer::start_demo(Some(&url)).expect("demo server");
    let task = demo_task(&server, "虎溪街道").await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (uploader, _, _) = device_for(&server, &task).await.unwrap();
    let (template, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let mut records = Vec::new();
    for round in 0..ROUNDS {
        let mut record = template.clone();
        record.record_id = uuid::Uuid::now_v7();
        let images: Vec<_> = (0..record.photos.len() as u32)
            .map(|i| jpeg(10_000 + round * 100 + i))
            .collect();
        let blobs = with_photos(&mut record, &images, task.location, task.location);
        // Every blob but one is there before the push.
        let (last, before) = blobs.split_last().expect("a record with evidence");
        for (_, bytes) in before {
            assert!(
                uploader
                    .upload_blob(bytes, 64 * 1024, usize::MAX)
                    .await
                    .unwrap()
            );
        }
        dev.append(
            EntryPayload::Sealed {
                record: record.clone(),
            },
            Utc::now(),
        );
        let delay = Duration::from_micros(u64::from(round % 10) * 700);
        let (pushed, uploaded) = tokio::join!(dev.sync_log(), async {
            tokio::time::sleep(delay).await;
            uploader.upload_blob(&last.1, 64 * 1024, usize::MAX).await
        });
        let pushed = pushed.unwrap();
        assert_eq!(
            pushed.results.last().map(|r| &r.verdict),
            Some(&EntryVerdict::Stored),
            "{pushed:?}"
        );
        assert!(uploaded.unwrap(), "round {round}: upload completes");
        records.push(record.record_id.to_string());
    }
    let mut stuck = Vec::new();
    for (round, id) in records.iter().enumerate() {
        let v = record_versions(&server, id).await;
        if v[0]["state"] != "received" {
            stuck.push(format!(
                "round {round}: {} {}",
                v[0]["state"], v[0]["missing"]
            ));
        }
    }
    assert!(
        stuck.is_empty(),
        "{} of {ROUNDS} records left waiting for blobs that arrived: {stuck:#?}",
        stuck.len()
    );
}

/// Two transactions that lock two rows in opposite orders: PostgreSQL
/// aborts one as the deadlock's victim, and the store calls that error
/// transient, so a blob registration that was the victim (two instances
/// registering blobs of records on the same tasks, seen at 1,000 devices
/// behind HAProxy) is run again instead of answering 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deadlock_victim_is_told_apart_as_transient() {
    use choucha_sync_server::store::StoreError;
    let url = pg::shared().create_database().await.expect("database");
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO t VALUES (1, 0), (2, 0)")
        .execute(&pool)
        .await
        .unwrap();
    let one_way = |first: i32, second: i32| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE t SET v = v + 1 WHERE id = $1")
                .bind(first)
                .execute(&mut *tx)
                .await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            sqlx::query("UPDATE t SET v = v + 1 WHERE id = $1")
                .bind(second)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
    };
    let (a, b) = tokio::join!(one_way(1, 2), one_way(2, 1));
    let victim = match (a, b) {
        (Err(e), Ok(())) | (Ok(()), Err(e)) => e,
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    let e = StoreError::from(victim);
    assert!(e.is_transient(), "{e}");
    assert!(!StoreError::Conflict("x".into()).is_transient());
    pool.close().await;
}
