//! Two writers at once on one record version, over real HTTP, on SQLite, on
//! PostgreSQL, and on two instances behind HAProxy (where the two writers
//! usually reach different processes): exactly one wins and the other is
//! told so.
//!
//! * Two supervisors, one approving and one returning the same received
//!   version: one gets 2xx, the other 409, and the state is the winner's.
//! * Both officers of the team amend the same returned version from their
//!   own tablets: one amendment is stored, the other is refused (taken into
//!   its device's log, so that device's sync goes on), and the record has
//!   exactly one current version.

mod console_support;

use chrono::Utc;
use reqwest::{Client, StatusCode};
use serde_json::json;

use choucha_shared::plan::MemberRole;
use choucha_shared::record::InspectionRecord;
use choucha_shared::sync::{EntryPayload, EntryVerdict};
use choucha_shared::value::Sha256Hex;
use choucha_tests::console::{DemoTask, demo_task, device_for, push, with_photos};
use choucha_tests::device::{SimDevice, complete_record, enrol, sign};
use choucha_tests::{Deployment, TestServer};
use console_support::{jpeg, record_versions};

const TOWN: &str = "虎溪街道";

async fn review(server: &TestServer, rid: &str, version: &str, approve: bool) -> StatusCode {
    let (path, body) = if approve {
        ("approve", json!({ "version": version }))
    } else {
        (
            "return",
            json!({ "version": version, "comment": "签字不清，请重新签字", "item_comments": {} }),
        )
    };
    Client::new()
        .post(server.url(&format!("/api/v1/records/{rid}/{path}")))
        .bearer_auth(server.token())
        .json(&body)
        .send()
        .await
        .expect("review request")
        .status()
}

/// A new record like `template` with its own real photos (seeded from
/// `seed`), sealed and pushed with its blobs by `dev`.
async fn seal_another(
    dev: &mut SimDevice,
    template: &InspectionRecord,
    task: &DemoTask,
    seed: u32,
) -> InspectionRecord {
    let mut record = template.clone();
    record.record_id = uuid::Uuid::now_v7();
    let images: Vec<_> = (0..record.photos.len() as u32)
        .map(|i| jpeg(seed + i))
        .collect();
    let blobs = with_photos(&mut record, &images, task.location, task.location);
    push(
        dev,
        EntryPayload::Sealed {
            record: record.clone(),
        },
        &blobs,
    )
    .await
    .unwrap();
    record
}

async fn reviewers_race(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (template, _) = complete_record(&bundle, &checklist, 1_000, 0);
    for round in 0..8u32 {
        let record = seal_another(&mut dev, &template, &task, 20_000 + round * 100).await;
        let rid = record.record_id.to_string();
        let version = record.version().to_string();
        let (a, r) = tokio::join!(
            review(&server, &rid, &version, true),
            review(&server, &rid, &version, false)
        );
        let won: Vec<bool> = [a, r].iter().map(|s| s.is_success()).collect();
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: approve {a}, return {r}"
        );
        let loser = if won[0] { r } else { a };
        assert_eq!(loser, StatusCode::CONFLICT, "round {round}");
        let state = &record_versions(&server, &rid).await[0]["state"];
        assert_eq!(
            state,
            if won[0] { "approved" } else { "returned" },
            "round {round}"
        );
    }
}

async fn officers_amend_at_once(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut first, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let other = bundle
        .task
        .team
        .iter()
        .find(|m| m.role == MemberRole::Officer && m.person_id != task.officer_id)
        .expect("a second officer")
        .person_id
        .clone();
    let mut second = enrol(&Client::new(), &server.base_url, server.token(), &other)
        .await
        .unwrap();
    let (template, _) = complete_record(&bundle, &checklist, 1_000, 0);
    for round in 0..5u32 {
        let record = seal_another(&mut first, &template, &task, 30_000 + round * 100).await;
        let rid = record.record_id.to_string();
        let version = record.version();
        assert!(
            review(&server, &rid, version.as_str(), false)
                .await
                .is_success()
        );
        // Each officer corrects the record on their own tablet.
        let amend = |note: &str| {
            let mut r = record.clone();
            let entry = r.items.values_mut().next().unwrap();
            entry.note = Some(note.to_owned());
            let mut extra = Vec::new();
            sign(&mut r, &mut extra);
            EntryPayload::Amended {
                replaces: Sha256Hex::parse(version.as_str()).unwrap(),
                record: r,
            }
        };
        first.append(amend("甲补正"), Utc::now());
        second.append(amend("乙补正"), Utc::now());
        let (a, b) = tokio::join!(first.sync_log(), second.sync_log());
        let verdicts = [
            a.unwrap().results.last().unwrap().verdict.clone(),
            b.unwrap().results.last().unwrap().verdict.clone(),
        ];
        let stored = verdicts
            .iter()
            .filter(|v| **v == EntryVerdict::Stored)
            .count();
        let refused = verdicts
            .iter()
            .filter(|v| matches!(v, EntryVerdict::Refused { .. }))
            .count();
        assert_eq!((stored, refused), (1, 1), "round {round}: {verdicts:?}");
        // Both devices are settled: nothing is sent again.
        assert_eq!(first.confirmed as usize, first.log.len());
        assert_eq!(second.confirmed as usize, second.log.len());
        let held = record_versions(&server, &rid).await;
        let current: Vec<_> = held.iter().filter(|v| v["superseded"] == false).collect();
        assert_eq!(current.len(), 1, "round {round}: {held:?}");
        assert_eq!(held.len(), 2, "round {round}: {held:?}");
    }
}

choucha_tests::on_every_deployment!(reviewers_race, officers_amend_at_once);
