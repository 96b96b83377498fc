//! The console's projection is written with the change, and its pages only
//! read: a pushed record is in `oversight_records` (with the task's town)
//! the moment the push is answered, and once the server's background
//! checker has settled, every console, report and public page can be
//! fetched without a single commit to the database — SQLite's
//! `PRAGMA data_version` changes when any other connection commits.

mod console_support;

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

use choucha_shared::review::ReviewState;
use choucha_shared::sync::EntryPayload;
use choucha_tests::TestServer;
use choucha_tests::console::{PASSWORD, Session, demo_task, device_for, set_demo_passwords};
use choucha_tests::device::complete_record;
use console_support::{current_version, jpeg};

const TOWN: &str = "虎溪街道";

async fn data_version(db: &mut SqliteConnection) -> i64 {
    let (v,): (i64,) = sqlx::query_as("PRAGMA data_version")
        .fetch_one(&mut *db)
        .await
        .unwrap();
    v
}

/// Waits until the checker has nothing left to do (no complete, current
/// version waits for its proof-of-duty counts).
async fn checker_settled(db: &mut SqliteConnection) {
    let sql = format!(
        "SELECT COUNT(*) FROM oversight_records WHERE duty_pending = 1 AND state NOT IN ('{}', '{}')",
        ReviewState::Incomplete.as_str(),
        ReviewState::Superseded.as_str()
    );
    for _ in 0..300 {
        let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(&mut *db).await.unwrap();
        if n == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the checker did not settle in 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projection_is_written_with_the_push_and_pages_only_read() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).expect("passwords");
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let db_url = format!(
        "sqlite://{}?mode=ro",
        server.data_dir.join("choucha.db").display()
    );
    let mut db = SqliteConnection::connect(&db_url).await.unwrap();

    // Pushed with its photos: in the projection at once, placed by its task.
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (mut record, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let images: Vec<_> = (0..record.photos.len() as u32)
        .map(|i| jpeg(700 + i))
        .collect();
    let blobs =
        choucha_tests::console::with_photos(&mut record, &images, task.location, task.location);
    dev.append(
        EntryPayload::Sealed {
            record: record.clone(),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(r.results.iter().all(|x| x.verdict.is_confirmed()));
    let rid = record.record_id.to_string();
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT jurisdiction, state, duty_pending FROM oversight_records WHERE record_id = $1",
    )
    .bind(&rid)
    .fetch_optional(&mut db)
    .await
    .unwrap();
    assert_eq!(
        row,
        Some((
            TOWN.to_owned(),
            ReviewState::Incomplete.as_str().to_owned(),
            1
        )),
        "indexed in the push's own transaction"
    );
    for (_, bytes) in &blobs {
        assert!(dev.upload_blob(bytes, 64 * 1024, usize::MAX).await.unwrap());
    }
    let version = current_version(&server, &record).await;
    let (state,): (String,) =
        sqlx::query_as("SELECT state FROM oversight_records WHERE record_id = $1 AND version = $2")
            .bind(&rid)
            .bind(version.as_str())
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(state, ReviewState::Received.as_str());
    let finding = sqlx::query_as::<_, (String,)>(
        "SELECT finding_id FROM oversight_findings WHERE record_id = $1",
    )
    .bind(&rid)
    .fetch_optional(&mut db)
    .await
    .unwrap();

    // The checker settles; from here on nothing may commit.
    checker_settled(&mut db).await;
    let before = data_version(&mut db).await;
    let mut pages = vec![
        "/console/dashboard".to_owned(),
        "/console/dashboard?plan=*".to_owned(),
        format!("/console/dashboard?town={TOWN}"),
        "/console/review".to_owned(),
        "/console/review?state=received".to_owned(),
        format!("/console/records/{rid}"),
        format!("/console/records/{rid}/pdf"),
        "/console/followup".to_owned(),
        "/console/disclosure".to_owned(),
        "/console/abnormal".to_owned(),
        "/console/reports".to_owned(),
        "/console/reports/summary.xlsx".to_owned(),
        "/console/reports/summary.csv".to_owned(),
        "/console/reports/problems.csv".to_owned(),
        "/public".to_owned(),
        "/public/results.json".to_owned(),
        "/public/results.csv".to_owned(),
    ];
    if let Some((f,)) = finding {
        pages.push(format!("/console/followup/{f}"));
    }
    for p in &pages {
        let (st, body) = s.get(p).await.unwrap();
        assert_eq!(st, StatusCode::OK, "{p}: {body}");
        if p == "/console/review?state=received" {
            assert!(body.contains(&rid), "the record is in the queue");
        }
    }
    assert_eq!(
        data_version(&mut db).await,
        before,
        "a page read committed a write"
    );
}
