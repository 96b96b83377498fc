//! Writes from several threads at once (the UI, a background sync, a
//! double tap): every read-modify-write of a record is one transaction in
//! the core, so no edit is lost, nothing lands on a sealed record, a record
//! is sealed once, and a task is started once.

use std::sync::Barrier;

use choucha_app_core::testkit::{OFFICER, give_tasks, offline_enrolment, photo_meta};
use choucha_app_core::{App, CoreError};
use choucha_shared::TargetCategory;
use choucha_shared::checklist::{Evidence, Verdict};
use choucha_shared::record::{PhotoSubject, SignerRole};
use choucha_shared::sync::EntryPayload;
use chrono::Utc;

const THREADS: usize = 6;

fn open() -> (tempfile::TempDir, App) {
    let root = tempfile::tempdir().unwrap();
    let app = App::open(
        &root.path().join("data"),
        &root.path().join("keystore").join("device.key"),
    )
    .unwrap();
    offline_enrolment(&app).unwrap();
    give_tasks(&app, TargetCategory::Metrology, 1).unwrap();
    (root, app)
}

fn passing(app: &App, record_id: &uuid::Uuid) -> Vec<(String, Verdict, bool)> {
    let record = app.record(record_id).unwrap();
    let checklist = app.checklist(&record.checklist).unwrap();
    checklist
        .items()
        .map(|item| {
            let v = if checklist.allowed_verdicts(item).contains(&Verdict::Conform) {
                Verdict::Conform
            } else {
                Verdict::Pass
            };
            (item.id.clone(), v, item.evidence.contains(&Evidence::Photo))
        })
        .collect()
}

#[test]
fn concurrent_edits_lose_nothing() {
    let (_root, app) = open();
    let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
    let items = passing(&app, &id);
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (app, items, barrier) = (&app, &items, &barrier);
            s.spawn(move || {
                barrier.wait();
                // Each thread owns every THREADS-th item: a verdict, a note,
                // and a photo where the item needs one.
                for (n, (item, verdict, photo)) in items.iter().enumerate() {
                    if n % THREADS != t {
                        continue;
                    }
                    app.set_item(&id, item, Some(*verdict), Some(format!("t{t}")), Utc::now())
                        .unwrap();
                    if *photo {
                        let jpeg = format!("photo of {item} by {t}").into_bytes();
                        app.attach_photo(
                            &id,
                            PhotoSubject::Item(item.clone()),
                            &jpeg,
                            photo_meta(),
                            Utc::now(),
                        )
                        .unwrap();
                    }
                }
            });
        }
    });
    let record = app.record(&id).unwrap();
    for (n, (item, verdict, photo)) in items.iter().enumerate() {
        let entry = record
            .items
            .get(item)
            .unwrap_or_else(|| panic!("item {item} was lost"));
        assert_eq!(entry.verdict, Some(*verdict), "{item}");
        assert_eq!(
            entry.note.as_deref(),
            Some(format!("t{}", n % THREADS).as_str())
        );
        if *photo {
            assert!(
                record
                    .photos
                    .iter()
                    .any(|p| p.subject == PhotoSubject::Item(item.clone())),
                "photo of {item} was lost"
            );
        }
    }
}

/// A record ready to seal: every item passing, photos, three signatures.
fn ready_to_seal(app: &App) -> uuid::Uuid {
    let id = app.start_task("TEST-D1-0000", Utc::now()).unwrap();
    for (item, verdict, photo) in passing(app, &id) {
        app.set_item(&id, &item, Some(verdict), None, Utc::now())
            .unwrap();
        if photo {
            let jpeg = format!("photo of {item}").into_bytes();
            app.attach_photo(
                &id,
                PhotoSubject::Item(item),
                &jpeg,
                photo_meta(),
                Utc::now(),
            )
            .unwrap();
        }
    }
    for (subject, bytes) in [
        (PhotoSubject::Gate, &b"gate"[..]),
        (PhotoSubject::Process, &b"process"[..]),
    ] {
        app.attach_photo(&id, subject, bytes, photo_meta(), Utc::now())
            .unwrap();
    }
    let hash = app.content_hash(&id).unwrap();
    for (role, person, name) in [
        (SignerRole::Officer, Some(OFFICER), "张建国"),
        (SignerRole::Officer, Some("渝50010723002"), "王晓东"),
        (SignerRole::EnterpriseRepresentative, None, "企业负责人"),
    ] {
        app.add_signature(
            &id,
            role,
            person.map(Into::into),
            name,
            format!("{name} signs {hash}").as_bytes(),
            hash.clone(),
            Utc::now(),
        )
        .unwrap();
    }
    assert!(app.check(&id).unwrap().is_empty());
    id
}

fn sealed_entries(app: &App) -> Vec<choucha_shared::record::InspectionRecord> {
    app.log()
        .unwrap()
        .iter()
        .filter_map(|(e, _)| match &e.payload {
            EntryPayload::Sealed { record } => Some(record.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_double_tap_seals_once() {
    let (_root, app) = open();
    let id = ready_to_seal(&app);
    let barrier = Barrier::new(THREADS);
    let results: Vec<Result<_, CoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (app, barrier) = (&app, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    app.seal(&id, Utc::now())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "exactly one seal succeeds: {results:?}"
    );
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, CoreError::Refused(m) if m.contains("已封存")),
                "the others are told it is sealed: {e}"
            );
        }
    }
    let sealed = sealed_entries(&app);
    assert_eq!(sealed.len(), 1, "one Sealed entry in the log");
    assert_eq!(sealed[0], app.record(&id).unwrap());
}

#[test]
fn an_edit_racing_a_seal_lands_before_it_or_is_refused() {
    for _round in 0..5 {
        let (_root, app) = open();
        let id = ready_to_seal(&app);
        let (item, verdict, _) = passing(&app, &id)[0].clone();
        let barrier = Barrier::new(THREADS);
        // Half the threads seal; the others change a note, which makes the
        // signatures stale if it lands first.
        let results: Vec<(bool, Result<(), CoreError>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (app, item, barrier) = (&app, &item, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        if t % 2 == 0 {
                            (true, app.seal(&id, Utc::now()).map(|_| ()))
                        } else {
                            let note = Some(format!("备注 {t}"));
                            (
                                false,
                                app.set_item(&id, item, Some(verdict), note, Utc::now()),
                            )
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let seals_ok = results
            .iter()
            .filter(|(seal, r)| *seal && r.is_ok())
            .count();
        let edits_ok = results
            .iter()
            .filter(|(seal, r)| !*seal && r.is_ok())
            .count();
        assert!(seals_ok <= 1, "{results:?}");
        for (seal, r) in &results {
            match r {
                Ok(()) => {}
                Err(CoreError::Refused(m)) if m.contains("已封存") => {}
                // A seal after an edit finds the signatures stale: right.
                Err(CoreError::Incomplete(v)) if *seal && edits_ok > 0 => {
                    assert!(!v.is_empty());
                }
                Err(e) => panic!("unexpected: {e} in {results:?}"),
            }
        }
        let sealed = sealed_entries(&app);
        assert_eq!(sealed.len(), seals_ok);
        if seals_ok == 1 {
            // What was sealed is what is stored: no edit landed after it.
            assert_eq!(sealed[0], app.record(&id).unwrap());
            assert!(app.is_sealed(&id).unwrap());
        } else {
            assert!(
                edits_ok > 0,
                "nothing sealed only because an edit came first"
            );
            assert!(!app.is_sealed(&id).unwrap());
        }
    }
}

#[test]
fn a_task_started_twice_at_once_has_one_record() {
    let (_root, app) = open();
    let barrier = Barrier::new(THREADS);
    let ids: Vec<uuid::Uuid> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (app, barrier) = (&app, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    app.start_task("TEST-D1-0000", Utc::now()).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let started = app
        .log()
        .unwrap()
        .iter()
        .filter(|(e, _)| matches!(e.payload, EntryPayload::Started { .. }))
        .count();
    assert_eq!(started, 1);
}
