//! The server decides what a record is about. Over real HTTP on the demo
//! data, on SQLite, on PostgreSQL, and through HAProxy in front of two
//! instances on PostgreSQL and S3 (the hostile-device suite through the
//! pair):
//!
//! * an amendment that only re-signs (the supervisor returned the record
//!   because a signature was unreadable) is a new version, and the device's
//!   sync goes on with what it records afterwards;
//! * a sealed record whose target, name, category, checklist or team differ
//!   from its task is taken into the device's log but refused, entry by
//!   entry, naming each field; nothing of it is stored, and the entries
//!   after it go on.

mod console_support;

use chrono::Utc;
use reqwest::Client;
use serde_json::json;

use choucha_shared::directory::TargetKey;
use choucha_shared::plan::{MemberRole, TeamMember};
use choucha_shared::record::SignerRole;
use choucha_shared::sync::{EntryPayload, EntryVerdict};
use choucha_shared::value::Sha256Hex;
use choucha_tests::Deployment;
use choucha_tests::console::{demo_task, device_for, push, with_photos};
use choucha_tests::device::complete_record;
use console_support::{jpeg, record_versions as versions};

const TOWN: &str = "虎溪街道";

choucha_tests::on_every_deployment!(
    a_re_signed_amendment_is_a_new_version_and_sync_goes_on,
    a_sealed_record_must_match_its_task,
    amendments_only_of_a_returned_current_version_by_its_team,
    one_batch_is_decided_record_by_record,
    another_devices_entry_id_is_a_conflict
);

async fn a_re_signed_amendment_is_a_new_version_and_sync_goes_on(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (mut record, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let images: Vec<_> = (0..record.photos.len() as u32)
        .map(|i| jpeg(900 + i))
        .collect();
    let blobs = with_photos(&mut record, &images, task.location, task.location);
    push(
        &mut dev,
        EntryPayload::Sealed {
            record: record.clone(),
        },
        &blobs,
    )
    .await
    .unwrap();
    let rid = record.record_id.to_string();
    let first = versions(&server, &rid).await;
    let version = first[0]["version"].as_str().unwrap().to_owned();

    // Returned: the enterprise's signature cannot be read.
    let ret = Client::new()
        .post(server.url(&format!("/api/v1/records/{rid}/return")))
        .bearer_auth(server.token())
        .json(&json!({ "version": version, "comment": "企业签字无法辨认，请重新签字", "item_comments": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(ret.status(), 200);

    // The officer only has the enterprise sign again: same content.
    let mut amended = record.clone();
    let sig = amended
        .signatures
        .iter_mut()
        .find(|s| s.role == SignerRole::EnterpriseRepresentative)
        .expect("an on-site record has the enterprise's signature");
    let png = b"a clearer signature".repeat(300);
    sig.image_sha256 = Sha256Hex::of(&png);
    sig.signed_at = Utc::now();
    assert_eq!(amended.content_hash(), record.content_hash());
    assert_ne!(amended.version(), record.version());
    push(
        &mut dev,
        EntryPayload::Amended {
            replaces: Sha256Hex::parse(&version).unwrap(),
            record: amended.clone(),
        },
        &[(Sha256Hex::of(&png), png.clone())],
    )
    .await
    .expect("the amendment is stored");

    // And what the tablet records afterwards reaches the server too.
    let task2 = bundle.task.task_id.clone();
    dev.append(
        EntryPayload::Started {
            record_id: uuid::Uuid::now_v7(),
            task_id: task2,
            started_at: Utc::now(),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(r.results.iter().all(|x| x.verdict.is_confirmed()), "{r:?}");
    assert_eq!(dev.confirmed as usize, dev.log.len());

    let after = versions(&server, &rid).await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0]["superseded"], true);
    assert_eq!(after[1]["version"], amended.version().as_str());
    assert_eq!(after[1]["state"], "received", "{after:?}");
}

async fn a_sealed_record_must_match_its_task(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (honest, _) = complete_record(&bundle, &checklist, 1_000, 0);

    // Each lie on its own record, so each verdict names its field.
    type Lie = (
        &'static str,
        fn(&mut choucha_shared::record::InspectionRecord),
    );
    let lies: Vec<Lie> = vec![
        ("target_name", |r| r.target_name = "另一家公司".into()),
        ("target", |r| {
            r.target = TargetKey("91500000MA00000000".into())
        }),
        ("checklist", |r| r.checklist.version += 1),
        // A drawn officer left out (so "signatures missing" would stay quiet).
        ("team", |r| {
            let i = r
                .team
                .iter()
                .position(|m| m.role == MemberRole::Officer)
                .unwrap();
            r.team.remove(i);
        }),
        // A made-up officer added.
        ("team", |r| {
            r.team.push(TeamMember {
                role: MemberRole::Officer,
                person_id: "1234567890".into(),
                name: "冒名".into(),
            })
        }),
        // A member relabelled: an expert as officer (or, on a team without
        // one, an officer as expert), so the signature rules count wrong.
        ("team", |r| {
            match r.team.iter_mut().find(|m| m.role == MemberRole::Expert) {
                Some(m) => m.role = MemberRole::Officer,
                None => {
                    let m = r
                        .team
                        .iter_mut()
                        .find(|m| m.role == MemberRole::Officer)
                        .unwrap();
                    m.role = MemberRole::Expert;
                }
            }
        }),
        // Another checklist altogether.
        ("checklist", |r| r.checklist.id = "lighter-checklist".into()),
        ("category", |r| {
            use choucha_shared::category::TargetCategory;
            r.category = match r.category {
                TargetCategory::TestingBody => TargetCategory::Ccc,
                _ => TargetCategory::TestingBody,
            }
        }),
        // A task that was never drawn.
        ("TASK-NEVER-DRAWN", |r| {
            r.task_id = "TASK-NEVER-DRAWN".into()
        }),
    ];
    for (field, lie) in lies {
        let mut record = honest.clone();
        record.record_id = uuid::Uuid::now_v7();
        lie(&mut record);
        let mut blobs = Vec::new();
        choucha_tests::device::sign(&mut record, &mut blobs);
        dev.append(
            EntryPayload::Sealed {
                record: record.clone(),
            },
            Utc::now(),
        );
        let r = dev.sync_log().await.unwrap();
        let verdict = &r.results.last().expect("a verdict").verdict;
        match verdict {
            EntryVerdict::Refused { message } => {
                assert!(message.contains(field), "{field}: {message}")
            }
            other => panic!("{field}: answered {other:?}"),
        }
        assert_eq!(dev.confirmed as usize, dev.log.len(), "{field}: settled");
        assert!(
            versions(&server, &record.record_id.to_string())
                .await
                .is_empty(),
            "{field}: nothing stored"
        );
    }
    // Signatures over other content: signed, then the findings changed.
    let mut forged = honest.clone();
    forged.record_id = uuid::Uuid::now_v7();
    choucha_tests::device::sign(&mut forged, &mut Vec::new());
    forged.photos[0].width += 1;
    // A task of another team (one this officer is not on).
    let draw: serde_json::Value = Client::new()
        .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let foreign = draw["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            !t["team"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["person_id"] == task.officer_id.as_str())
        })
        .expect("a task of another team")["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut theirs = honest.clone();
    theirs.record_id = uuid::Uuid::now_v7();
    theirs.task_id = foreign.clone();
    choucha_tests::device::sign(&mut theirs, &mut Vec::new());
    for (what, record) in [("签字", &forged), (foreign.as_str(), &theirs)] {
        dev.append(
            EntryPayload::Sealed {
                record: record.clone(),
            },
            Utc::now(),
        );
        let r = dev.sync_log().await.unwrap();
        match &r.results.last().expect("a verdict").verdict {
            EntryVerdict::Refused { message } => {
                assert!(message.contains(what), "{what}: {message}")
            }
            other => panic!("{what}: answered {other:?}"),
        }
        assert!(
            versions(&server, &record.record_id.to_string())
                .await
                .is_empty(),
            "{what}: nothing stored"
        );
    }
    // The refused entries are the user's to see; the log goes on, and the
    // honest record after them is stored.
    dev.append(
        EntryPayload::Sealed {
            record: honest.clone(),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert_eq!(
        r.results.last().unwrap().verdict,
        EntryVerdict::Stored,
        "{r:?}"
    );
    assert_eq!(
        versions(&server, &honest.record_id.to_string()).await.len(),
        1
    );
}

async fn amendments_only_of_a_returned_current_version_by_its_team(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (record, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let mut sealed = record.clone();
    let mut blobs = Vec::new();
    choucha_tests::device::sign(&mut sealed, &mut blobs);
    dev.append(
        EntryPayload::Sealed {
            record: sealed.clone(),
        },
        Utc::now(),
    );
    assert!(
        dev.sync_log().await.unwrap().results[0]
            .verdict
            .is_confirmed()
    );
    let rid = sealed.record_id.to_string();
    let v1 = Sha256Hex::parse(
        versions(&server, &rid).await[0]["version"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let amend = |note: &str| {
        let mut a = sealed.clone();
        a.items.values_mut().next().unwrap().note = Some(note.into());
        let mut b = Vec::new();
        choucha_tests::device::sign(&mut a, &mut b);
        a
    };
    let refused = |r: &choucha_shared::sync::PushResponse| {
        matches!(
            r.results.last().map(|x| &x.verdict),
            Some(EntryVerdict::Refused { .. })
        )
    };

    // Not returned: the version is the reviewer's, not the device's.
    dev.append(
        EntryPayload::Amended {
            replaces: v1.clone(),
            record: amend("未经退回的修改"),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(refused(&r), "{r:?}");

    // Returned; another team's device cannot take the record over.
    let ret = Client::new()
        .post(server.url(&format!("/api/v1/records/{rid}/return")))
        .bearer_auth(server.token())
        .json(&json!({ "version": v1.as_str(), "comment": "请补充说明", "item_comments": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(ret.status(), 200);
    let other_task = demo_task(&server, "曾家镇").await.unwrap();
    let (mut stranger, _, _) = device_for(&server, &other_task).await.unwrap();
    if !other_task
        .officer_names
        .iter()
        .any(|n| task.officer_names.contains(n))
    {
        stranger.append(
            EntryPayload::Amended {
                replaces: v1.clone(),
                record: amend("他组冒名补正"),
            },
            Utc::now(),
        );
        let r = stranger.sync_log().await.unwrap();
        assert!(refused(&r), "{r:?}");
    }

    // The team's amendment of the returned version is stored...
    let good = amend("已按退回意见补充");
    dev.append(
        EntryPayload::Amended {
            replaces: v1.clone(),
            record: good.clone(),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert_eq!(
        r.results.last().unwrap().verdict,
        EntryVerdict::Stored,
        "{r:?}"
    );
    // ...and the superseded version cannot be amended again.
    dev.append(
        EntryPayload::Amended {
            replaces: v1.clone(),
            record: amend("再次替代旧版本"),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(refused(&r), "{r:?}");
    let held = versions(&server, &rid).await;
    assert_eq!(held.len(), 2, "{held:?}");
    assert_eq!(held[1]["version"], good.version().as_str());
    assert_eq!(
        dev.confirmed as usize,
        dev.log.len(),
        "nothing left to send"
    );
}

/// A push's records are decided one by one against what the server knew
/// and what the same batch stored before them: two honest records for one
/// task are both stored and each names the other; a lie between them is
/// refused alone. And when a write breaks a constraint the checks could
/// not foresee (on PostgreSQL, a row another writer changed meanwhile; here
/// an extra unique index), only that entry is refused and the rest of the
/// batch is taken.
async fn one_batch_is_decided_record_by_record(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (first, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let another = |mutate: fn(&mut choucha_shared::record::InspectionRecord)| {
        let mut r = first.clone();
        r.record_id = uuid::Uuid::now_v7();
        mutate(&mut r);
        choucha_tests::device::sign(&mut r, &mut Vec::new());
        r
    };
    let lie = another(|r| r.target_name = "另一家公司".into());
    let second = another(|_| {});
    for record in [&first, &lie, &second] {
        dev.append(
            EntryPayload::Sealed {
                record: record.clone(),
            },
            Utc::now(),
        );
    }
    let r = dev.sync_log().await.unwrap();
    let verdicts: Vec<&EntryVerdict> = r.results.iter().map(|x| &x.verdict).collect();
    assert_eq!(verdicts[0], &EntryVerdict::Stored, "{r:?}");
    assert!(
        matches!(verdicts[1], EntryVerdict::Refused { message } if message.contains("target_name")),
        "{r:?}"
    );
    assert_eq!(verdicts[2], &EntryVerdict::Stored, "{r:?}");
    let flags_of = |v: &[serde_json::Value]| -> Vec<String> {
        serde_json::from_value(v[0]["flags"].clone()).unwrap()
    };
    let (a, b) = (first.record_id.to_string(), second.record_id.to_string());
    let fa = flags_of(&versions(&server, &a).await);
    let fb = flags_of(&versions(&server, &b).await);
    assert!(fa.iter().any(|f| f.contains(&b)), "{fa:?}");
    assert!(fb.iter().any(|f| f.contains(&a)), "{fb:?}");
    assert!(!fb.iter().any(|f| f.contains(&lie.record_id.to_string())));

    // A constraint the checks do not know of: the next record and the
    // second may not both be stored.
    let third = another(|_| {});
    let fourth = another(|_| {});
    let index = format!(
        "CREATE UNIQUE INDEX test_unforeseen ON records (task_id) WHERE record_id = '{b}' OR record_id = '{}'",
        third.record_id
    );
    match &server.database_url {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(&index).execute(&pool).await.unwrap();
            pool.close().await;
        }
        None => {
            let path = server.data_dir.join("choucha.db");
            let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display()))
                .await
                .unwrap();
            sqlx::query(&index).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
    for record in [&third, &fourth] {
        dev.append(
            EntryPayload::Sealed {
                record: record.clone(),
            },
            Utc::now(),
        );
    }
    let r = dev.sync_log().await.unwrap();
    let verdicts: Vec<&EntryVerdict> = r.results.iter().map(|x| &x.verdict).collect();
    assert!(
        matches!(verdicts[0], EntryVerdict::Refused { message } if message.contains("冲突")),
        "{r:?}"
    );
    assert_eq!(verdicts[1], &EntryVerdict::Stored, "{r:?}");
    assert_eq!(dev.confirmed as usize, dev.log.len(), "settled");
    let c = third.record_id.to_string();
    assert!(versions(&server, &c).await.is_empty());
    let fd = flags_of(&versions(&server, &fourth.record_id.to_string()).await);
    assert!(
        fd.iter().any(|f| f.contains(&a) && f.contains(&b)),
        "{fd:?}"
    );
    assert!(!fd.iter().any(|f| f.contains(&c)), "{fd:?}");
    // What the refused entry had begun to write was undone.
    let fa = flags_of(&versions(&server, &a).await);
    assert!(!fa.iter().any(|f| f.contains(&c)), "{fa:?}");
}

/// Entry IDs are unique across the server: a device that sends an entry
/// under an ID another device's entry already has is told `conflict` (it
/// used to be answered `stored` while its log row was silently dropped),
/// and neither log changes.
async fn another_devices_entry_id_is_a_conflict(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut a, _, _) = device_for(&server, &task).await.unwrap();
    let (mut b, _, _) = device_for(&server, &task).await.unwrap();
    let started = |record_id| EntryPayload::Started {
        record_id,
        task_id: task.task_id.clone(),
        started_at: Utc::now(),
    };
    a.append(started(uuid::Uuid::now_v7()), Utc::now());
    let r = a.sync_log().await.unwrap();
    assert_eq!(r.results[0].verdict, EntryVerdict::Stored);
    let taken = a.log[0].entry_id;
    b.log.push(choucha_shared::sync::LogEntry::new(
        taken,
        1,
        None,
        Utc::now(),
        started(uuid::Uuid::now_v7()),
    ));
    let r = b.sync_log().await.unwrap();
    assert!(
        matches!(&r.results[0].verdict, EntryVerdict::Conflict { message } if message.contains("另一台设备")),
        "{r:?}"
    );
    assert_eq!(b.confirmed, 0, "not confirmed");
    let log = |dev: &choucha_tests::device::SimDevice| {
        let id = dev.enrolment.device_id.clone();
        let url = server.url(&format!("/api/v1/devices/{id}/log"));
        let token = server.token().to_owned();
        async move {
            Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Vec<serde_json::Value>>()
                .await
                .unwrap()
        }
    };
    assert!(
        log(&b).await.is_empty(),
        "nothing in the second device's log"
    );
    assert_eq!(log(&a).await.len(), 1, "the first device's log unchanged");
}
