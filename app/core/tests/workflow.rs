//! The inspection workflow on the encrypted offline store, without a server.

use choucha_app_core::testkit::{OFFICER, give_tasks, offline_enrolment, photo_meta};
use choucha_app_core::{App, CoreError, PhotoMeta, TaskStatus};
use choucha_shared::TargetCategory;
use choucha_shared::checklist::{Evidence, Verdict};
use choucha_shared::completeness::Violation;
use choucha_shared::record::{PhotoSubject, SignerRole};
use choucha_shared::sync::{EntryPayload, FeedItem, PullResponse, RecordReturn};
use chrono::Utc;

struct Dirs {
    _root: tempfile::TempDir,
    data: std::path::PathBuf,
    key: std::path::PathBuf,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let key = root.path().join("keystore").join("device.key");
    Dirs {
        data,
        key,
        _root: root,
    }
}

/// Fills every item (first passing verdict), photos where needed, gate and
/// process photos, and both officers' and the enterprise's signatures.
fn complete(app: &App, record_id: &uuid::Uuid) {
    let record = app.record(record_id).unwrap();
    let checklist = app.checklist(&record.checklist).unwrap();
    for (n, item) in checklist.items().enumerate() {
        let pass = if checklist.allowed_verdicts(item).contains(&Verdict::Conform) {
            Verdict::Conform
        } else {
            Verdict::Pass
        };
        app.set_item(record_id, &item.id, Some(pass), None, Utc::now())
            .unwrap();
        if item.evidence.contains(&Evidence::Photo) {
            let jpeg = format!("photo of {} #{n}", item.id).into_bytes();
            app.attach_photo(
                record_id,
                PhotoSubject::Item(item.id.clone()),
                &jpeg,
                photo_meta(),
                Utc::now(),
            )
            .unwrap();
        }
    }
    app.attach_photo(
        record_id,
        PhotoSubject::Gate,
        b"gate photo",
        photo_meta(),
        Utc::now(),
    )
    .unwrap();
    app.attach_photo(
        record_id,
        PhotoSubject::Process,
        b"process photo",
        photo_meta(),
        Utc::now(),
    )
    .unwrap();
    sign_all(app, record_id);
}

const SIGNERS: [(SignerRole, Option<&str>, &str); 3] = [
    (SignerRole::Officer, Some(OFFICER), "张建国"),
    (SignerRole::Officer, Some("渝50010723002"), "王晓东"),
    (SignerRole::EnterpriseRepresentative, None, "企业负责人"),
];

fn sign_all(app: &App, record_id: &uuid::Uuid) {
    sign(app, record_id, &SIGNERS);
}

/// `signers` sign the record's current content.
fn sign(app: &App, record_id: &uuid::Uuid, signers: &[(SignerRole, Option<&str>, &str)]) {
    let hash = app.content_hash(record_id).unwrap();
    for &(role, id, name) in signers {
        let png = format!("signature of {name} over {hash}").into_bytes();
        app.add_signature(
            record_id,
            role,
            id.map(Into::into),
            name,
            &png,
            hash.clone(),
            Utc::now(),
        )
        .unwrap();
    }
}

#[test]
fn start_is_refused_for_unknown_or_foreign_tasks() {
    let d = dirs();
    let app = App::open(&d.data, &d.key).unwrap();
    assert!(matches!(
        app.start_task("TEST-D1-0000", Utc::now()),
        Err(CoreError::NotEnrolled)
    ));
    offline_enrolment(&app).unwrap();
    give_tasks(&app, TargetCategory::Metrology, 1).unwrap();
    let err = app.start_task("OTHER-TEAM-0001", Utc::now()).unwrap_err();
    assert!(
        err.to_string().contains("未分配给本设备的执法人员"),
        "{err}"
    );
    let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
    // Starting again resumes the same inspection.
    assert_eq!(app.start_task("TEST-D1-0000", Utc::now()).unwrap(), id);
    assert_eq!(app.tasks().unwrap()[0].status, TaskStatus::InProgress);
}

#[test]
fn verdicts_must_be_on_the_items_scale() {
    let d = dirs();
    let app = App::open(&d.data, &d.key).unwrap();
    offline_enrolment(&app).unwrap();
    give_tasks(&app, TargetCategory::Metrology, 1).unwrap();
    let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
    let err = app
        .set_item(&id, "MET-1.01", Some(Verdict::Major), None, Utc::now())
        .unwrap_err();
    assert!(
        err.to_string().contains("不允许使用结论「严重不合格」"),
        "{err}"
    );
    let err = app
        .set_item(&id, "MET-9.99", Some(Verdict::Conform), None, Utc::now())
        .unwrap_err();
    assert!(matches!(err, CoreError::NotFound(_)));
}

#[test]
fn sealing_lists_every_violation_then_seals_a_complete_record() {
    let d = dirs();
    let app = App::open(&d.data, &d.key).unwrap();
    offline_enrolment(&app).unwrap();
    give_tasks(&app, TargetCategory::Metrology, 1).unwrap();
    let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
    let Err(CoreError::Incomplete(v)) = app.seal(&id, Utc::now()) else {
        panic!("an empty record must not seal")
    };
    assert!(v.contains(&Violation::GatePhotoMissing));
    assert!(v.contains(&Violation::OfficerSignaturesMissing { found: 0 }));
    assert!(
        v.iter()
            .filter(|x| matches!(x, Violation::ItemWithoutVerdict { .. }))
            .count()
            > 10
    );

    complete(&app, &id);
    assert!(
        app.check(&id).unwrap().is_empty(),
        "{:?}",
        app.check(&id).unwrap()
    );
    assert!(!app.is_sealed(&id).unwrap());
    let version = app.seal(&id, Utc::now()).unwrap();
    assert!(app.is_sealed(&id).unwrap());
    assert!(matches!(
        app.is_sealed(&uuid::Uuid::nil()),
        Err(CoreError::NotFound(_))
    ));
    assert_eq!(version, app.record(&id).unwrap().version());
    let err = app
        .set_item(&id, "MET-1.01", Some(Verdict::Nonconform), None, Utc::now())
        .unwrap_err();
    assert!(err.to_string().contains("已封存"), "{err}");
    assert_eq!(app.tasks().unwrap()[0].status, TaskStatus::AwaitingSync);

    // The log tells the whole story, hash-chained, ending with the seal.
    let log = app.log().unwrap();
    assert!(matches!(log[0].0.payload, EntryPayload::Started { .. }));
    assert!(matches!(
        log.last().unwrap().0.payload,
        EntryPayload::Sealed { .. }
    ));
    for w in log.windows(2) {
        assert_eq!(w[1].0.prev_hash.as_ref(), Some(&w[0].0.hash));
        assert_eq!(w[1].0.index, w[0].0.index + 1);
        assert_eq!(w[1].0.compute_hash(), w[1].0.hash);
    }
}

#[test]
fn data_at_rest_is_encrypted_and_needs_the_key() {
    let d = dirs();
    {
        let app = App::open(&d.data, &d.key).unwrap();
        offline_enrolment(&app).unwrap();
        give_tasks(&app, TargetCategory::Metrology, 1).unwrap();
        let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
        app.attach_photo(
            &id,
            PhotoSubject::Gate,
            "大门照片-明文标记".as_bytes(),
            photo_meta(),
            Utc::now(),
        )
        .unwrap();
    }
    let needle = "重庆某某计量器具有限公司".as_bytes();
    for entry in walk(&d.data) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "plaintext in {}",
            entry.display()
        );
        let mark = "大门照片-明文标记".as_bytes();
        assert!(
            !bytes.windows(mark.len()).any(|w| w == mark),
            "plaintext evidence in {}",
            entry.display()
        );
    }
    // Another key cannot open the data.
    let other = d.key.with_file_name("other.key");
    let err = App::open(&d.data, &other).unwrap_err();
    assert!(err.to_string().contains("密钥不符"), "{err}");
    // The key must not sit in the data directory.
    assert!(App::open(&d.data, &d.data.join("k")).is_err());
    assert!(App::open(&d.data, &d.key).is_ok());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn a_returned_record_is_amended_as_a_new_version() {
    let d = dirs();
    let app = App::open(&d.data, &d.key).unwrap();
    offline_enrolment(&app).unwrap();
    give_tasks(&app, TargetCategory::Metrology, 1).unwrap();
    let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
    complete(&app, &id);
    let v1 = app.seal(&id, Utc::now()).unwrap();
    assert!(
        app.start_amendment(&id, Utc::now()).is_err(),
        "not returned yet"
    );

    let ret = RecordReturn {
        record_id: id,
        task_id: "TEST-D1-0000".into(),
        version: v1.clone(),
        comment: "请补充说明".into(),
        item_comments: [("MET-1.01".to_owned(), "备案信息不清".to_owned())].into(),
        returned_at: Utc::now(),
    };
    let page = PullResponse {
        format: 1,
        cursor: 2,
        items: vec![FeedItem::Returned { r#return: ret }],
        checklists: vec![],
        more: false,
    };
    app.apply_pull(&page, &mut Default::default()).unwrap();
    assert_eq!(app.tasks().unwrap()[0].status, TaskStatus::Returned);
    assert!(app.is_sealed(&id).unwrap());
    let got = app.start_amendment(&id, Utc::now()).unwrap();
    assert!(!app.is_sealed(&id).unwrap(), "amending reopens the record");
    assert_eq!(got.item_comments["MET-1.01"], "备案信息不清");
    // Sealing the amendment unchanged would only repeat the returned
    // version: refused, with what to do.
    let Err(CoreError::Refused(why)) = app.seal(&id, Utc::now()) else {
        panic!("an unchanged amendment must be refused")
    };
    assert!(why.contains("完全相同"), "{why}");
    assert!(!app.is_sealed(&id).unwrap());
    app.set_item(
        &id,
        "MET-1.01",
        Some(Verdict::Conform),
        Some("已补充备案信息".into()),
        Utc::now(),
    )
    .unwrap();
    // Content changed: the old signatures no longer sign it.
    let Err(CoreError::Incomplete(v)) = app.seal(&id, Utc::now()) else {
        panic!("stale signatures must block")
    };
    assert!(
        v.iter()
            .all(|x| matches!(x, Violation::SignatureStale { .. })),
        "{v:?}"
    );
    sign_all(&app, &id);
    let v2 = app.seal(&id, Utc::now()).unwrap();
    assert_ne!(v1, v2);
    let last = app.log().unwrap().pop().unwrap().0;
    match last.payload {
        EntryPayload::Amended { replaces, record } => {
            assert_eq!(replaces, v1);
            assert_eq!(record.version(), v2);
        }
        other => panic!("expected an amendment, got {other:?}"),
    }
}

#[test]
fn log_entries_keep_their_hash_with_measured_coordinates() {
    // Measured positions are arbitrary floats and an entry's hash covers
    // them: read back from the store (and by the server), every digit must
    // come back, or the server refuses the entry as tampered with.
    let d = dirs();
    let app = App::open(&d.data, &d.key).unwrap();
    offline_enrolment(&app).unwrap();
    give_tasks(&app, TargetCategory::Metrology, 1).unwrap();
    let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..200 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let f = (x >> 11) as f64 / (1u64 << 53) as f64;
        let gps =
            choucha_shared::GeoPoint::new(29.0 + f, 106.0 + f * 0.7, Some(3.0 + f * 12.0)).ok();
        let photo = PhotoMeta {
            gps,
            ..photo_meta()
        };
        app.attach_photo(
            &id,
            PhotoSubject::Process,
            format!("photo {i}").as_bytes(),
            photo,
            Utc::now(),
        )
        .unwrap();
    }
    let log = app.log().unwrap();
    assert!(log.len() > 200);
    for (entry, _) in &log {
        let json = serde_json::to_string(entry).unwrap();
        let again: choucha_shared::sync::LogEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(
            entry.compute_hash(),
            entry.hash,
            "entry {} read back from the store",
            entry.index
        );
        assert_eq!(
            again.compute_hash(),
            entry.hash,
            "entry {} as the server reads it",
            entry.index
        );
    }
}

#[test]
fn an_unreachable_target_is_sealed_with_its_evidence_instead_of_verdicts() {
    use choucha_shared::GeoPoint;
    use choucha_shared::outcome::{
        ContactAttempt, ContactWay, Outcome, OutcomeKind, PremisesFound, UnreachableEvidence,
    };
    let d = dirs();
    let app = App::open(&d.data, &d.key).unwrap();
    offline_enrolment(&app).unwrap();
    give_tasks(&app, TargetCategory::Metrology, 1).unwrap();
    let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
    let evidence = UnreachableEvidence {
        premises: PremisesFound::Locked,
        description: "卷帘门紧闭，门口堆放杂物".into(),
        observed_at: Utc::now(),
        attempts: vec![ContactAttempt {
            way: ContactWay::Phone,
            whom: "登记电话 023-6512 0000".into(),
            at: Utc::now(),
            result: "空号".into(),
        }],
    };
    app.set_outcome(&id, Outcome::Unreachable(evidence), Utc::now())
        .unwrap();
    // Not a walk-through: no verdicts asked for, the case's evidence is.
    let v = app.check(&id).unwrap();
    assert_eq!(
        v,
        vec![
            Violation::AddressPhotoMissing,
            Violation::OfficerSignaturesMissing { found: 0 }
        ]
    );
    let mut meta = photo_meta();
    meta.gps = Some(GeoPoint::new(29.61, 106.30, Some(8.0)).unwrap());
    app.attach_photo(
        &id,
        PhotoSubject::Address,
        b"registered address, locked",
        meta,
        Utc::now(),
    )
    .unwrap();
    // The two officers sign; nobody of the company was there.
    sign(&app, &id, &SIGNERS[..2]);
    assert_eq!(app.check(&id).unwrap(), vec![]);
    app.seal(&id, Utc::now()).unwrap();
    let log = app.log().unwrap();
    let EntryPayload::Sealed { record } = &log.last().unwrap().0.payload else {
        panic!("the last entry is the seal")
    };
    assert_eq!(record.outcome.kind(), OutcomeKind::Unreachable);
    assert!(record.items.is_empty());
}

#[test]
fn the_conclusion_follows_the_checklists_rules_before_sealing() {
    use choucha_shared::conclusion::{Conclusion, FailReason};
    let d = dirs();
    let app = App::open(&d.data, &d.key).unwrap();
    offline_enrolment(&app).unwrap();
    give_tasks(&app, TargetCategory::Metrology, 1).unwrap();
    let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
    complete(&app, &id);
    assert_eq!(app.conclusion(&id).unwrap(), Conclusion::Pass);
    let record = app.record(&id).unwrap();
    let checklist = app.checklist(&record.checklist).unwrap();
    let veto = checklist.items().find(|i| i.veto).expect("a veto item");
    let ordinary = checklist
        .items()
        .find(|i| !i.veto)
        .expect("an ordinary item");
    app.set_item(
        &id,
        &ordinary.id,
        Some(Verdict::Nonconform),
        Some("记录不全".into()),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(
        app.conclusion(&id).unwrap(),
        Conclusion::PassWithIssues { nonconforming: 1 }
    );
    app.set_item(
        &id,
        &veto.id,
        Some(Verdict::Nonconform),
        Some("未按规定检定".into()),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(
        app.conclusion(&id).unwrap(),
        Conclusion::Fail {
            reasons: vec![FailReason::Veto {
                item_id: veto.id.clone()
            }]
        }
    );
}
