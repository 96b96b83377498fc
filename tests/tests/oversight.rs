//! Oversight functions over real SQLite and real PostgreSQL: the indexed
//! projection and its triggers, proof-of-duty flags with real JPEG photos
//! (one taken 5 km from the registered address, one re-used from another
//! inspection), the review queue and dashboard, follow-up with audit, and
//! the public register with its streamed feeds.
//!
//! Records travel the real path: a device is enrolled, its log is pushed
//! through `Store::push`, the photo blobs are stored and registered; only
//! HTTP is skipped (the console's routes are tested in its own tests).

use std::collections::BTreeMap;

use choucha_shared::checklist::Checklist;
use choucha_shared::followup::{FollowUpAction, TransferTo};
use choucha_shared::plan::team_key;
use choucha_shared::record::{
    Disposition, Finding, InspectionRecord, PhotoSubject, RectificationOutcome,
};
use choucha_shared::sync::{EntryPayload, LogEntry, TaskBundle};
use choucha_shared::value::{CivilDate, GeoPoint, Sha256Hex};
use choucha_sync_server::blobs::BlobSource;
use choucha_sync_server::oversight::disclosure::{self, FeedFormat};
use choucha_sync_server::oversight::duty::{self, DutyFlag};
use choucha_sync_server::oversight::{OversightConfig, today_cst};
use choucha_sync_server::service::ServiceError;
use choucha_sync_server::service::{self, Actor};
use choucha_sync_server::store::StoreError;
use choucha_sync_server::store::dashboard::{QueueCursor, QueueFilter, Scope};
use choucha_sync_server::store::{DeviceCtx, Store};
use choucha_sync_server::{AppState, BlobConfig, demo};
use choucha_tests::device::{complete_record, sign};
use choucha_tests::{TempDir, pg};
use chrono::{Duration, Utc};
use futures_util::TryStreamExt;
use image::{Rgb, RgbImage};
use uuid::Uuid;

/// A synthetic photo: a smooth scene whose layout depends on `seed` (low
/// frequencies only, so that a resized copy is the same picture), as a JPEG.
fn scene_jpeg(seed: u32, w: u32, h: u32, quality: u8) -> Vec<u8> {
    let mut x = u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 10_000) as f64 / 10_000.0
    };
    let (ax, ay, phase) = (
        1.0 + 3.0 * next(),
        1.0 + 3.0 * next(),
        std::f64::consts::TAU * next(),
    );
    let (bx, by, r) = (next(), next(), 0.15 + 0.2 * next());
    let img = RgbImage::from_fn(w, h, |x, y| {
        let fx = x as f64 / w as f64;
        let fy = y as f64 / h as f64;
        let wave = ((fx * ax + fy * ay) * 3.0 + phase).sin() * 0.5 + 0.5;
        let disc = if (fx - bx).powi(2) + (fy - by).powi(2) < r * r {
            60.0
        } else {
            0.0
        };
        let g = (wave * 180.0 + disc).min(255.0) as u8;
        Rgb([g, g.saturating_sub(30), 255 - g])
    });
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    img.write_with_encoder(enc).unwrap();
    out
}

struct World {
    state: AppState,
    _dir: TempDir,
}

async fn world(database_url: Option<&str>) -> World {
    let dir = TempDir::new("oversight").unwrap();
    let store = Store::open(database_url, dir.path()).await.unwrap();
    let state = AppState::open(store, dir.path(), BlobConfig::Filesystem)
        .await
        .unwrap();
    demo::load(&state).await.unwrap();
    World { state, _dir: dir }
}

impl World {
    fn store(&self) -> &Store {
        &self.state.store
    }

    /// On-site tasks of the demo draw whose target has a registered location.
    async fn on_site_tasks(&self, n: usize) -> Vec<(TaskBundle, Checklist)> {
        let draw_id = self
            .store()
            .current_draw_id(demo::PLAN_ID)
            .await
            .unwrap()
            .unwrap();
        let draw = self.store().draw(&draw_id).await.unwrap();
        let mut out = Vec::new();
        for t in draw.tasks.iter().filter(|t| t.category.is_on_site()) {
            let officer = t.officers().next().unwrap().person_id.clone();
            let bundle = self
                .store()
                .task_for_officer(&t.task_id, &officer)
                .await
                .unwrap();
            if bundle.target.location.is_none() {
                continue;
            }
            let checklist = self.state.checklists.get(&t.checklist).unwrap().clone();
            out.push((bundle, checklist));
            if out.len() == n {
                break;
            }
        }
        assert_eq!(out.len(), n);
        out
    }

    /// Enrols a device for the task's first officer and pushes the record
    /// sealed, then stores and registers every blob.
    async fn submit(&self, record: &InspectionRecord, blobs: &[(Sha256Hex, Vec<u8>)]) {
        self.push(EntryPayload::Sealed {
            record: record.clone(),
        })
        .await;
        self.store_blobs(blobs).await;
    }

    /// Enrols a device for the record's first officer and pushes one entry
    /// (no blobs).
    async fn push(&self, payload: EntryPayload) {
        let record = match &payload {
            EntryPayload::Sealed { record } | EntryPayload::Amended { record, .. } => record,
            other => panic!("not a record entry: {other:?}"),
        };
        let officer = record
            .team
            .iter()
            .find(|m| m.role == choucha_shared::plan::MemberRole::Officer)
            .unwrap()
            .person_id
            .clone();
        let code = self
            .store()
            .create_enrolment(&Actor::cli(), &officer, Duration::hours(1))
            .await
            .unwrap();
        let e = self.store().enrol(&code.code, "平板").await.unwrap();
        let device = DeviceCtx {
            device_id: e.device_id,
            officer_id: e.officer_id,
        };
        let entry = LogEntry::new(Uuid::now_v7(), 1, None, Utc::now(), payload);
        let resp = self
            .store()
            .push(&device, &[entry], &self.state.checklists)
            .await
            .unwrap();
        assert!(
            matches!(
                resp.results[0].verdict,
                choucha_shared::sync::EntryVerdict::Stored
            ),
            "{resp:?}"
        );
    }

    /// Stores and registers blobs as the upload path does.
    async fn store_blobs(&self, blobs: &[(Sha256Hex, Vec<u8>)]) {
        for (sha, bytes) in blobs {
            self.state
                .uploads
                .store()
                .put_verified(sha, BlobSource::Bytes(bytes.clone().into()))
                .await
                .unwrap();
            self.store()
                .blob_arrived(sha, bytes.len() as u64)
                .await
                .unwrap();
        }
    }
}

/// A complete record whose photos are real JPEGs of distinct scenes taken
/// at the registered location; `photo_seed` picks the scenes.
fn record_with_photos(
    bundle: &TaskBundle,
    checklist: &Checklist,
    photo_seed: u32,
) -> (InspectionRecord, Vec<(Sha256Hex, Vec<u8>)>) {
    let (mut record, blobs) = complete_record(bundle, checklist, 1, 0);
    let photo_shas: Vec<Sha256Hex> = record.photos.iter().map(|p| p.sha256.clone()).collect();
    let mut blobs: Vec<(Sha256Hex, Vec<u8>)> = blobs
        .into_iter()
        .filter(|(s, _)| !photo_shas.contains(s))
        .collect();
    for (i, p) in record.photos.iter_mut().enumerate() {
        let bytes = scene_jpeg(photo_seed * 100 + i as u32, 320, 240, 85);
        p.sha256 = Sha256Hex::of(&bytes);
        p.bytes = bytes.len() as u64;
        p.gps = bundle.target.location;
        blobs.push((p.sha256.clone(), bytes));
    }
    resign(&mut record, &mut blobs);
    (record, blobs)
}

/// Signs again after a change; the old signature images are dropped.
fn resign(record: &mut InspectionRecord, blobs: &mut Vec<(Sha256Hex, Vec<u8>)>) {
    let old: Vec<Sha256Hex> = record
        .signatures
        .iter()
        .map(|s| s.image_sha256.clone())
        .collect();
    blobs.retain(|(s, _)| !old.contains(s));
    sign(record, blobs);
    // Real signature images (PNG ink strokes on transparency), as the
    // tablet sends; the image is not part of the signed content.
    for (n, sig) in record.signatures.iter_mut().enumerate() {
        let img = image::RgbaImage::from_fn(200, 60, |x, y| {
            let stroke = ((x as f64 / 12.0 + n as f64).sin() * 18.0 + 30.0 - y as f64).abs() < 2.5;
            if stroke {
                image::Rgba([10, 10, 80, 255])
            } else {
                image::Rgba([0, 0, 0, 0])
            }
        });
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        blobs.retain(|(s, _)| *s != sig.image_sha256);
        sig.image_sha256 = Sha256Hex::of(&png);
        blobs.push((sig.image_sha256.clone(), png));
    }
}

fn has(flags: &[DutyFlag], code: &str) -> bool {
    flags.iter().any(|f| f.code() == code)
}

async fn story(database_url: Option<&str>) {
    let w = world(database_url).await;
    let store = w.store();
    let cfg = OversightConfig::default();
    let today = today_cst();

    // Draw indexed: every task planned, none inspected.
    let scope = Scope {
        plan_id: Some(demo::PLAN_ID.into()),
        town: None,
    };
    let d = store.dashboard(&scope, today, 10).await.unwrap();
    assert_eq!(d.total.planned, 190);
    assert_eq!(d.total.pending, 190);
    // JCJG, the per-risk sub-strata of SCXK, CCC and JL (A–D each), and
    // the assigned targets (the 总局 and 市局 lists).
    assert_eq!(d.by_stratum.len(), 1 + 3 * 4 + 1);
    assert!(d.by_stratum.iter().any(|p| p.key == "assigned"));
    let jcjg = d.by_stratum.iter().find(|p| p.key == "JCJG").unwrap();
    assert_eq!(jcjg.planned, 46);
    assert_eq!(
        d.by_town.iter().map(|p| p.planned).sum::<i64>(),
        190,
        "towns add up"
    );
    assert_eq!(d.by_team.iter().map(|p| p.planned).sum::<i64>(), 190);

    let tasks = w.on_site_tasks(4).await;

    // R1: clean, with a rectification order due 15 days after inspection.
    let (b1, c1) = &tasks[0];
    let (mut r1, mut blobs1) = record_with_photos(b1, c1, 1);
    let inspected = r1.inspection_date.date();
    r1.findings.push(Finding {
        finding_id: Uuid::now_v7(),
        item_id: None,
        description: "计量器具未按期送检".into(),
        disposition: Disposition::RectificationOrder {
            order_no: "渝市监责改〔2023〕17号".into(),
            deadline: CivilDate::new(inspected + Duration::days(15)).unwrap(),
            requirements: "十五日内送检".into(),
            follow_up: None,
        },
    });
    resign(&mut r1, &mut blobs1);
    w.submit(&r1, &blobs1).await;

    // R2: the gate photo was taken 5 km from the registered address.
    let (b2, c2) = &tasks[1];
    let (mut r2, mut blobs2) = record_with_photos(b2, c2, 2);
    let home = b2.target.location.unwrap();
    let far = GeoPoint::new(home.lat + 0.045, home.lon, Some(8.0)).unwrap();
    let gate = r2
        .photos
        .iter_mut()
        .find(|p| p.subject == PhotoSubject::Gate)
        .unwrap();
    gate.gps = Some(far);
    let far_sha = gate.sha256.to_string();
    resign(&mut r2, &mut blobs2);
    w.submit(&r2, &blobs2).await;

    // R3: its gate photo is R1's, recompressed and shrunk (other bytes,
    // same picture).
    let (b3, c3) = &tasks[2];
    let (mut r3, mut blobs3) = record_with_photos(b3, c3, 3);
    let r1_gate_seed = 100
        + r1.photos
            .iter()
            .position(|p| p.subject == PhotoSubject::Gate)
            .unwrap() as u32;
    let reused = scene_jpeg(r1_gate_seed, 256, 192, 40);
    let reused_sha = Sha256Hex::of(&reused);
    let gate3 = r3
        .photos
        .iter_mut()
        .find(|p| p.subject == PhotoSubject::Gate)
        .unwrap();
    let old = gate3.sha256.clone();
    gate3.sha256 = reused_sha.clone();
    blobs3.retain(|(s, _)| *s != old);
    blobs3.push((reused_sha.clone(), reused));
    resign(&mut r3, &mut blobs3);
    w.submit(&r3, &blobs3).await;

    // R4: only one officer signed, and photo times go backwards.
    let (b4, c4) = &tasks[3];
    let (mut r4, mut blobs4) = record_with_photos(b4, c4, 4);
    let n = r4.photos.len();
    r4.photos[n - 1].taken_at = r4.photos[0].taken_at - Duration::seconds(30);
    resign(&mut r4, &mut blobs4);
    let first_officer = r4
        .signatures
        .iter()
        .position(|s| s.role == choucha_shared::record::SignerRole::Officer)
        .unwrap();
    r4.signatures.remove(first_officer);
    w.submit(&r4, &blobs4).await;

    // Proof of duty. The server's checker hashes the photos and keeps the
    // queue's flag counts (R4 waits: its evidence is incomplete); the
    // reports below only read.
    let (checked, settled) = duty::refresh_pending(&w.state, &cfg, 100).await.unwrap();
    assert_eq!((checked, settled), (3, 3));
    assert_eq!(
        duty::refresh_pending(&w.state, &cfg, 100).await.unwrap(),
        (0, 0)
    );
    let v = |r: &InspectionRecord| r.version().to_string();
    let f1 = duty::report(&w.state, &cfg, &r1.record_id.to_string(), &v(&r1))
        .await
        .unwrap();
    assert!(f1.pending_photos.is_empty());
    for code in [
        "gate_photo_missing",
        "photo_far_from_target",
        "photos_out_of_order",
        "officer_signatures_missing",
        "photo_outside_window",
    ] {
        assert!(!has(&f1.flags, code), "R1 {code}: {:?}", f1.flags);
    }
    assert!(f1.photos.iter().all(|p| p.distance_m.unwrap() < 1.0));
    let f2 = duty::report(&w.state, &cfg, &r2.record_id.to_string(), &v(&r2))
        .await
        .unwrap();
    let far_flag = f2
        .flags
        .iter()
        .find_map(|f| match f {
            DutyFlag::PhotoFarFromTarget {
                sha256, distance_m, ..
            } => Some((sha256.clone(), *distance_m)),
            _ => None,
        })
        .expect("5 km photo flagged");
    assert_eq!(far_flag.0, far_sha);
    assert!((4_800.0..5_200.0).contains(&far_flag.1), "{}", far_flag.1);
    assert!(f2.flags.iter().any(|f| f.to_string().contains("5.0 公里")));
    let f3 = duty::report(&w.state, &cfg, &r3.record_id.to_string(), &v(&r3))
        .await
        .unwrap();
    let reuse = f3
        .flags
        .iter()
        .find_map(|f| match f {
            DutyFlag::PhotoUsedElsewhere {
                other_record_id,
                distance,
                ..
            } => Some((other_record_id.clone(), *distance)),
            _ => None,
        })
        .expect("re-used photo flagged");
    assert_eq!(reuse.0, r1.record_id.to_string());
    assert!(matches!(reuse.1, Some(d) if d <= cfg.phash_max_distance));
    // R2's photos are other scenes: not flagged as re-used.
    assert!(!has(&f2.flags, "photo_used_elsewhere"), "{:?}", f2.flags);
    let f4 = duty::report(&w.state, &cfg, &r4.record_id.to_string(), &v(&r4))
        .await
        .unwrap();
    assert!(has(&f4.flags, "officer_signatures_missing"));
    assert!(has(&f4.flags, "photos_out_of_order"));
    // The queue: R1-R3 received, R4 incomplete (one officer signature).
    let page = store
        .review_queue(
            &QueueFilter {
                state: Some("received".into()),
                ..Default::default()
            },
            None,
            50,
        )
        .await
        .unwrap();
    let ids: Vec<&str> = page.rows.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(page.next.is_none());
    let r2_row = page
        .rows
        .iter()
        .find(|r| r.record_id == r2.record_id.to_string())
        .unwrap();
    assert!(r2_row.duty_flags >= 1);
    assert_eq!(r2_row.town, b2.target.jurisdiction.to_string());
    // Keyset pages of one row walk the same records in the same order.
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let p = store
            .review_queue(&QueueFilter::default(), after.as_ref(), 1)
            .await
            .unwrap();
        walked.extend(p.rows.iter().map(|r| r.record_id.clone()));
        match p.next {
            Some(c) => {
                let token = c.to_token();
                after = Some(QueueCursor::from_token(&token).unwrap());
            }
            None => break,
        }
    }
    assert_eq!(walked.len(), 4);
    // Town filter: only that town's records.
    let town = b1.target.jurisdiction.to_string();
    let by_town = store
        .review_queue(
            &QueueFilter {
                town: Some(town.clone()),
                ..Default::default()
            },
            None,
            50,
        )
        .await
        .unwrap();
    assert!(by_town.rows.iter().all(|r| r.town == town));
    assert!(
        by_town
            .rows
            .iter()
            .any(|r| r.record_id == r1.record_id.to_string())
    );
    // Team filter.
    let team = team_key(&r1.team);
    let by_team = store
        .review_queue(
            &QueueFilter {
                team: Some(team.clone()),
                ..Default::default()
            },
            None,
            50,
        )
        .await
        .unwrap();
    assert!(!by_team.rows.is_empty());
    assert!(by_team.rows.iter().all(|r| r.team_key == team));
    // Date filter that excludes everything.
    let none = store
        .review_queue(
            &QueueFilter {
                to: Some(inspected - Duration::days(1)),
                ..Default::default()
            },
            None,
            50,
        )
        .await
        .unwrap();
    assert!(none.rows.is_empty());
    // Bad input is named.
    let e = store
        .review_queue(
            &QueueFilter {
                state: Some("x' OR 1=1 --".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid { .. }) && e.field_name() == Some("state"),
        "{e}"
    );
    assert!(QueueCursor::from_token("garbage").is_err());

    // Review actions made by the sync store show up through the trigger.
    service::review::decide(
        store,
        &Actor::user("审核员"),
        &r1.record_id,
        &r1.version(),
        service::review::Decision::Approve,
    )
    .await
    .unwrap();
    service::review::return_record(
        store,
        &Actor::user("审核员"),
        &r3.record_id,
        &r3.version(),
        "大门照片疑似重复使用",
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let d = store.dashboard(&scope, today, 10).await.unwrap();
    assert_eq!(d.total.planned, 190);
    assert_eq!(d.total.pending, 186);
    assert_eq!(d.total.approved, 1);
    assert_eq!(d.total.returned, 1);
    assert_eq!(d.total.received, 1);
    assert_eq!(d.total.incomplete, 1);
    assert_eq!(d.findings_by_category.values().sum::<i64>(), 1);
    assert_eq!(d.findings_by_item[0].by_kind["rectification_order"], 1);
    // A town lead's scope sees only that town.
    let town_d = store
        .dashboard(
            &Scope {
                plan_id: Some(demo::PLAN_ID.into()),
                town: Some(town.clone()),
            },
            today,
            10,
        )
        .await
        .unwrap();
    assert_eq!(town_d.by_town.len(), 1);
    assert_eq!(town_d.by_town[0].key, town);
    assert!(town_d.total.planned < 190);

    // Follow-up: the order is overdue 20 days on; recording the follow-up
    // inspection closes it, with an audit entry.
    let later = inspected + Duration::days(20);
    let (overdue, total) = store
        .overdue_rectifications(&scope, later, 10)
        .await
        .unwrap();
    assert_eq!(total, 1);
    let finding_id = overdue[0].finding_id.clone();
    assert_eq!(finding_id, r1.findings[0].finding_id.to_string());
    let (_, before_deadline) = store
        .overdue_rectifications(&scope, today, 10)
        .await
        .unwrap();
    assert_eq!(before_deadline, 0);
    let bad = service::followup::record(
        store,
        &Actor::user("质量科"),
        &finding_id,
        &FollowUpAction::CaseFiled {
            case_no: "  ".into(),
        },
        later,
    )
    .await
    .unwrap_err();
    assert_eq!(bad.field_name(), Some("case_no"), "{bad}");
    let after_fu = service::followup::record(
        store,
        &Actor::user("质量科"),
        &finding_id,
        &FollowUpAction::FollowUpInspection {
            inspected_on: CivilDate::new(inspected + Duration::days(16)).unwrap(),
            outcome: RectificationOutcome::Rectified,
            note: Some("已送检，检定合格".into()),
        },
        later,
    )
    .await
    .unwrap();
    assert!(after_fu.closed);
    assert_eq!(after_fu.outcome.as_deref(), Some("rectified"));
    let (_, total) = store
        .overdue_rectifications(&scope, later, 10)
        .await
        .unwrap();
    assert_eq!(total, 0);
    let hist = store.followup_history(&finding_id).await.unwrap();
    assert_eq!(hist.len(), 1);
    let (audits,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE object = $1 AND action = 'followup.follow_up_inspection'",
    )
    .bind(format!("finding:{finding_id}"))
    .fetch_one(store.raw_pool())
    .await
    .unwrap();
    assert_eq!(audits, 1);
    // Transfer with a reference number.
    let t = service::followup::record(
        store,
        &Actor::user("质量科"),
        &finding_id,
        &FollowUpAction::Transfer {
            to: TransferTo::Judicial,
            organ: "区公安分局".into(),
            reference: "渝市监移〔2023〕3号".into(),
            next_check: Some(CivilDate::new(later + Duration::days(30)).unwrap()),
        },
        later,
    )
    .await
    .unwrap();
    assert_eq!(
        t.kind,
        choucha_shared::record::DispositionKind::TransferredToJudicial
    );
    assert_eq!(t.reference.as_deref(), Some("渝市监移〔2023〕3号"));
    assert!(!t.closed, "a transfer keeps the finding under supervision");
    assert!(t.next_check.is_some());

    // Disclosure: only approved records; nothing personal in the feeds.
    let e = service::disclosure::publish(
        store,
        &w.state.checklists,
        &cfg,
        &cfg.calendar,
        &Actor::user("质量科"),
        &r3.record_id.to_string(),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ServiceError::Conflict(_)), "{e}");
    let published = service::disclosure::publish(
        store,
        &w.state.checklists,
        &cfg,
        &cfg.calendar,
        &Actor::user("质量科"),
        &r1.record_id.to_string(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(published.result, "发现问题已责令改正");
    assert_eq!(published.uscc.as_deref(), Some(r1.target.as_str()));
    let again = service::disclosure::publish(
        store,
        &w.state.checklists,
        &cfg,
        &cfg.calendar,
        &Actor::user("质量科"),
        &r1.record_id.to_string(),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(again, ServiceError::Conflict(_)));
    let json = feed_text(store, FeedFormat::Json).await;
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let results = parsed["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["target_name"], r1.target_name.as_str());
    assert!(results[0]["withdrawn_at"].is_null());
    for m in &r1.team {
        assert!(!json.contains(&m.name), "officer name {} in feed", m.name);
        assert!(!json.contains(&m.person_id));
    }
    for s in &r1.signatures {
        assert!(!json.contains(&s.name), "signer {} in feed", s.name);
        assert!(!json.contains(s.image_sha256.as_str()));
    }
    for p in &r1.photos {
        assert!(!json.contains(p.sha256.as_str()));
    }
    let csv = feed_text(store, FeedFormat::Csv).await;
    assert!(csv.starts_with('\u{feff}'));
    assert!(csv.contains(&r1.target_name));
    assert_eq!(csv.lines().count(), 2);
    // Due and overdue: R2-R4 are not public; 40 days on they are overdue.
    let (due, overdue_n) = disclosure::due_list(store, &cfg.calendar, None, today, 50)
        .await
        .unwrap();
    assert_eq!(due.len(), 3);
    assert_eq!(overdue_n, 0);
    let (_, overdue_n) = disclosure::due_list(
        store,
        &cfg.calendar,
        None,
        inspected + Duration::days(40),
        50,
    )
    .await
    .unwrap();
    assert_eq!(overdue_n, 3);
    // Withdrawal stays visible.
    let e = service::disclosure::withdraw(
        store,
        &Actor::user("质量科"),
        &r1.record_id.to_string(),
        " ",
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ServiceError::BadInput { .. }), "{e}");
    service::disclosure::withdraw(
        store,
        &Actor::user("质量科"),
        &r1.record_id.to_string(),
        "行政复议决定撤销原检查结果",
    )
    .await
    .unwrap();
    let json = feed_text(store, FeedFormat::Json).await;
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let results = parsed["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert!(results[0]["withdrawn_at"].is_string());
    assert_eq!(
        results[0]["withdrawal_reason"],
        "行政复议决定撤销原检查结果"
    );
    let (due, _) = disclosure::due_list(store, &cfg.calendar, None, today, 50)
        .await
        .unwrap();
    assert_eq!(due.len(), 4, "a withdrawn result is due again");
}

async fn feed_text(store: &Store, format: FeedFormat) -> String {
    let chunks: Vec<bytes::Bytes> = disclosure::feed_stream(store.clone(), format)
        .try_collect()
        .await
        .unwrap();
    String::from_utf8(chunks.concat()).unwrap()
}

/// The town summary (XLSX and CSV) and the record PDF, read back.
async fn reports(database_url: Option<&str>) {
    use calamine::{Reader, Xlsx};
    use choucha_sync_server::oversight::reports;
    let w = world(database_url).await;
    let store = w.store();
    let cfg = OversightConfig::default();
    let tasks = w.on_site_tasks(2).await;
    let (b1, c1) = &tasks[0];
    let (mut r1, mut blobs1) = record_with_photos(b1, c1, 1);
    let inspected = r1.inspection_date.date();
    r1.findings.push(Finding {
        finding_id: Uuid::now_v7(),
        item_id: None,
        description: "强检计量器具超期未检定=HYPERLINK(\"x\")".into(),
        disposition: Disposition::RectificationOrder {
            order_no: "渝市监责改〔2023〕18号".into(),
            deadline: CivilDate::new(inspected + Duration::days(10)).unwrap(),
            requirements: "送检".into(),
            follow_up: None,
        },
    });
    resign(&mut r1, &mut blobs1);
    w.submit(&r1, &blobs1).await;
    let (b2, c2) = &tasks[1];
    let (r2, blobs2) = record_with_photos(b2, c2, 2);
    w.submit(&r2, &blobs2).await;
    service::review::decide(
        store,
        &Actor::user("审核员"),
        &r1.record_id,
        &r1.version(),
        service::review::Decision::Approve,
    )
    .await
    .unwrap();

    let town = b1.target.jurisdiction.to_string();
    let scope = Scope {
        plan_id: Some(demo::PLAN_ID.into()),
        town: Some(town.clone()),
    };
    let summary = store.town_summary(&scope).await.unwrap();
    assert!(summary.rows.iter().all(|r| r.town == town));
    let planned: i64 = summary.rows.iter().map(|r| r.planned).sum();
    let d = store.dashboard(&scope, today_cst(), 5).await.unwrap();
    assert_eq!(planned, d.total.planned);
    assert_eq!(summary.problems.len(), 1);
    assert_eq!(summary.problems[0].target_name, r1.target_name);
    assert_eq!(summary.problems[0].status, "整改中");

    let xlsx = reports::summary_xlsx(&summary, "2023年度监督检查情况").unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(xlsx)).unwrap();
    assert_eq!(book.sheet_names(), vec!["监督检查情况", "存在问题"]);
    let sheet = book.worksheet_range("监督检查情况").unwrap();
    assert_eq!(
        sheet.get_value((0, 0)).unwrap().to_string(),
        "2023年度监督检查情况"
    );
    assert_eq!(sheet.get_value((2, 2)).unwrap().to_string(), "计划检查数");
    let last = sheet.height() as u32 - 1;
    assert_eq!(sheet.get_value((last, 0)).unwrap().to_string(), "合计");
    assert_eq!(
        sheet.get_value((last, 2)).unwrap().to_string(),
        planned.to_string()
    );
    assert_eq!(sheet.get_value((last, 5)).unwrap().to_string(), "1");
    let problems = book.worksheet_range("存在问题").unwrap();
    assert_eq!(
        problems.get_value((1, 2)).unwrap().to_string(),
        r1.target_name
    );
    assert_eq!(
        problems.get_value((1, 3)).unwrap().to_string(),
        r1.target.as_str()
    );
    assert_eq!(problems.get_value((1, 7)).unwrap().to_string(), "责令整改");

    let csv = String::from_utf8(reports::problems_csv(&summary)).unwrap();
    assert!(csv.contains(&r1.target_name));
    // A formula-looking description is kept as text, never a formula.
    assert!(!csv.contains(",=HYPERLINK"));
    let csv = String::from_utf8(reports::summary_csv(&summary)).unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with(&town));

    let pdf = reports::record_pdf(
        &w.state,
        &w.state.checklists,
        &cfg,
        &r1.record_id.to_string(),
        r1.version().as_str(),
    )
    .await
    .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let images = pdf
        .windows(b"/Subtype /Image".len())
        .filter(|w| *w == b"/Subtype /Image")
        .count();
    assert_eq!(images, r1.photos.len() + r1.signatures.len());
    let dir = TempDir::new("oversight-pdf").unwrap();
    let path = dir.path().join("record.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = pdf_extract::extract_text(&path).unwrap();
    let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for expected in [
        r1.target_name.as_str(),
        r1.target.as_str(),
        "一、检查内容及结论",
        "结论：符合",
        "检查结果类型正常检查",
        &format!(
            "检查结论{}",
            choucha_shared::conclusion::conclude(&r1.items, c1).label_zh()
        ),
        "大门/牌匾",
        "渝市监责改〔2023〕18号",
        "已审核通过",
    ] {
        let e: String = expected.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(flat.contains(&e), "PDF text lacks {expected}: {text}");
    }
    for m in r1.team.iter() {
        assert!(flat.contains(&m.name), "PDF lacks signer {}", m.name);
    }
    let item = c1.items().next().unwrap();
    let first_words: String = item
        .text
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(8)
        .collect();
    assert!(
        flat.contains(&first_words),
        "PDF lacks item text {first_words}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_sqlite() {
    reports(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    reports(Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversight_story_sqlite() {
    story(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversight_story_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    story(Some(&url)).await;
}

/// A finding whose follow-up the quality section took over keeps its
/// disposition when the record is amended afterwards, but follows the
/// record: it belongs to the current version, with its new description.
async fn managed_finding_follows_an_amendment(database_url: Option<&str>) {
    let w = world(database_url).await;
    let store = w.store();
    let tasks = w.on_site_tasks(1).await;
    let (b, c) = &tasks[0];
    let (mut r, mut blobs) = record_with_photos(b, c, 7);
    let finding_id = Uuid::now_v7();
    r.findings.push(Finding {
        finding_id,
        item_id: None,
        description: "计量器具未按期送检".into(),
        disposition: Disposition::RectificationOrder {
            order_no: "渝市监责改〔2026〕8号".into(),
            deadline: CivilDate::new(r.inspection_date.date() + Duration::days(15)).unwrap(),
            requirements: "十五日内送检".into(),
            follow_up: None,
        },
    });
    resign(&mut r, &mut blobs);
    w.submit(&r, &blobs).await;
    let id = finding_id.to_string();
    service::followup::record(
        store,
        &Actor::user("质量科"),
        &id,
        &FollowUpAction::CaseFiled {
            case_no: "渝市监立〔2026〕3号".into(),
        },
        today_cst(),
    )
    .await
    .unwrap();
    service::review::return_record(
        store,
        &Actor::user("审核员"),
        &r.record_id,
        &r.version(),
        "请补充问题描述",
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let mut amended = r.clone();
    amended.findings[0].description = "计量器具（电子秤 2 台）未按期送检".into();
    let mut new_blobs = Vec::new();
    resign(&mut amended, &mut new_blobs);
    w.push(EntryPayload::Amended {
        replaces: r.version(),
        record: amended.clone(),
    })
    .await;
    let f = store.finding(&id, today_cst()).await.unwrap();
    assert_eq!(
        f.kind,
        choucha_shared::record::DispositionKind::CaseFiled,
        "the case stands"
    );
    assert_eq!(f.case_no.as_deref(), Some("渝市监立〔2026〕3号"));
    assert_eq!(
        f.description, "计量器具（电子秤 2 台）未按期送检",
        "the amended words"
    );
    let (version,): (String,) =
        sqlx::query_as("SELECT version FROM oversight_findings WHERE finding_id = $1")
            .bind(&id)
            .fetch_one(store.raw_pool())
            .await
            .unwrap();
    assert_eq!(
        version,
        amended.version().as_str(),
        "the current version's finding"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_finding_follows_an_amendment_sqlite() {
    managed_finding_follows_an_amendment(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_finding_follows_an_amendment_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    managed_finding_follows_an_amendment(Some(&url)).await;
}

/// Tasks per status, in `Progress`'s column order.
type Counts = [i64; 6];

fn column(status: &str) -> usize {
    match status {
        "pending" => 0,
        "incomplete" => 1,
        "received" => 2,
        "has_issues" => 3,
        "returned" => 4,
        "approved" => 5,
        other => panic!("unexpected task status {other}"),
    }
}

/// The per-team counts of the demo plan recounted from the source of
/// truth: each task of the current draw, its target's town, its team, and
/// the state of its newest current record version ('pending' without one).
async fn recount_teams(store: &Store) -> BTreeMap<(String, String), Counts> {
    let draw_id = store.current_draw_id(demo::PLAN_ID).await.unwrap().unwrap();
    let rows: Vec<(Option<String>, String, Option<String>)> = sqlx::query_as(
        "SELECT tg.jurisdiction, t.team, \
         (SELECT r.state FROM records r WHERE r.task_id = t.task_id AND r.superseded = 0 \
          ORDER BY r.received_at DESC LIMIT 1) \
         FROM tasks t LEFT JOIN targets tg ON tg.category = t.category AND tg.target_key = t.target_key \
         WHERE t.draw_id = $1",
    )
    .bind(&draw_id)
    .fetch_all(store.raw_pool())
    .await
    .unwrap();
    let mut out: BTreeMap<(String, String), Counts> = BTreeMap::new();
    for (town, team, state) in rows {
        let team: Vec<choucha_shared::plan::TeamMember> = serde_json::from_str(&team).unwrap();
        let key = (town.unwrap_or_default(), team_key(&team));
        out.entry(key).or_default()[column(state.as_deref().unwrap_or("pending"))] += 1;
    }
    out
}

/// The counter rows of the demo plan (teams with no task left omitted).
async fn team_counters(store: &Store) -> BTreeMap<(String, String), Counts> {
    type Row = (String, String, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT jurisdiction, team_key, pending, incomplete, received, has_issues, returned, approved \
         FROM oversight_team_progress WHERE plan_id = $1",
    )
    .bind(demo::PLAN_ID)
    .fetch_all(store.raw_pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(town, team, a, b, c, d, e, f)| ((town, team), [a, b, c, d, e, f]))
        .filter(|(_, n)| n.iter().any(|x| *x != 0))
        .collect()
}

/// The dashboard's team breakdown, the counter table and a recount from
/// the records agree; returns the recount.
async fn check_teams(store: &Store, step: &str) -> BTreeMap<(String, String), Counts> {
    let scope = Scope {
        plan_id: Some(demo::PLAN_ID.into()),
        town: None,
    };
    let d = store.dashboard(&scope, today_cst(), 10).await.unwrap();
    let expected = recount_teams(store).await;
    assert_eq!(team_counters(store).await, expected, "{step}: counter rows");
    let shown: BTreeMap<String, Counts> = d
        .by_team
        .iter()
        .map(|p| {
            let n = [
                p.pending,
                p.incomplete,
                p.received,
                p.has_issues,
                p.returned,
                p.approved,
            ];
            assert_eq!(p.planned, n.iter().sum::<i64>(), "{step}: {}", p.key);
            (p.key.clone(), n)
        })
        .collect();
    let want: BTreeMap<String, Counts> = expected
        .iter()
        .map(|((town, team), n)| (format!("{town}/{team}"), *n))
        .collect();
    assert_eq!(shown, want, "{step}: dashboard by team");
    let (strata,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM oversight_progress WHERE plan_id = $1",
    )
    .bind(demo::PLAN_ID)
    .fetch_one(store.raw_pool())
    .await
    .unwrap();
    assert_eq!(strata, d.total.planned, "{step}: only stratum rows remain");
    expected
}

/// Per-team counters through every status change a record goes through:
/// received → returned → amended (received) → approved, and incomplete →
/// received when the missing photos arrive.
async fn team_progress(database_url: Option<&str>) {
    let w = world(database_url).await;
    let store = w.store();
    let tasks = w.on_site_tasks(2).await;
    let start = check_teams(store, "drawn").await;
    assert_eq!(start.values().map(|n| n[0]).sum::<i64>(), 190);
    let team_of = |b: &TaskBundle| (b.target.jurisdiction.to_string(), team_key(&b.task.team));
    // The expected counts of one team: the drawn ones, `moves` applied.
    let expect = |team: &(String, String), moves: &[(&str, i64)]| {
        let mut n = start[team];
        for (status, d) in moves {
            n[column(status)] += d;
        }
        n
    };

    let (ba, ca) = &tasks[0];
    let team_a = team_of(ba);
    let (ra, blobs_a) = record_with_photos(ba, ca, 11);
    w.submit(&ra, &blobs_a).await;
    let now = check_teams(store, "A received").await;
    assert_eq!(
        now[&team_a],
        expect(&team_a, &[("pending", -1), ("received", 1)])
    );

    service::review::return_record(
        store,
        &Actor::user("审核员"),
        &ra.record_id,
        &ra.version(),
        "请补充现场说明",
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let now = check_teams(store, "A returned").await;
    assert_eq!(
        now[&team_a],
        expect(&team_a, &[("pending", -1), ("returned", 1)])
    );

    let mut amended = ra.clone();
    amended.items.values_mut().next().unwrap().note = Some("已按退回意见补充".into());
    let mut new_blobs = Vec::new();
    resign(&mut amended, &mut new_blobs);
    w.push(EntryPayload::Amended {
        replaces: ra.version(),
        record: amended.clone(),
    })
    .await;
    w.store_blobs(&new_blobs).await;
    let now = check_teams(store, "A amended").await;
    assert_eq!(
        now[&team_a],
        expect(&team_a, &[("pending", -1), ("received", 1)]),
        "the amendment is the task's current version"
    );

    service::review::decide(
        store,
        &Actor::user("审核员"),
        &amended.record_id,
        &amended.version(),
        service::review::Decision::Approve,
    )
    .await
    .unwrap();
    let now = check_teams(store, "A approved").await;
    assert_eq!(
        now[&team_a],
        expect(&team_a, &[("pending", -1), ("approved", 1)])
    );

    // B: sealed before its photos arrive.
    let (bb, cb) = &tasks[1];
    let team_b = team_of(bb);
    let (rb, blobs_b) = record_with_photos(bb, cb, 12);
    w.push(EntryPayload::Sealed { record: rb.clone() }).await;
    let now = check_teams(store, "B incomplete").await;
    let mut moves_b = vec![("pending", -1), ("incomplete", 1)];
    if team_b == team_a {
        moves_b.extend([("pending", -1), ("approved", 1)]);
    }
    assert_eq!(now[&team_b], expect(&team_b, &moves_b));
    w.store_blobs(&blobs_b).await;
    let now = check_teams(store, "B received").await;
    moves_b[1] = ("received", 1);
    assert_eq!(now[&team_b], expect(&team_b, &moves_b));

    // A town lead's breakdown is the town's rows of the same counters.
    let town_d = store
        .dashboard(
            &Scope {
                plan_id: Some(demo::PLAN_ID.into()),
                town: Some(team_b.0.clone()),
            },
            today_cst(),
            10,
        )
        .await
        .unwrap();
    let town_teams: Vec<String> = now
        .keys()
        .filter(|(town, _)| *town == team_b.0)
        .map(|(town, team)| format!("{town}/{team}"))
        .collect();
    assert_eq!(
        town_d
            .by_team
            .iter()
            .map(|p| p.key.clone())
            .collect::<Vec<_>>(),
        town_teams
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_progress_sqlite() {
    team_progress(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_progress_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    team_progress(Some(&url)).await;
}

/// Every plan's counter rows with their labels (rows of no task omitted).
async fn all_team_counters(
    pool: &sqlx::AnyPool,
) -> BTreeMap<(String, String, String), (String, Counts)> {
    type Row = (String, String, String, String, i64, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT plan_id, jurisdiction, team_key, label, pending, incomplete, received, has_issues, returned, approved \
         FROM oversight_team_progress",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(p, j, t, label, a, b, c, d, e, f)| ((p, j, t), (label, [a, b, c, d, e, f])))
        .filter(|(_, (_, n))| n.iter().any(|x| *x != 0))
        .collect()
}

/// The same, recounted from the task rows.
async fn recount_tasks(
    pool: &sqlx::AnyPool,
) -> BTreeMap<(String, String, String), (String, Counts)> {
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT plan_id, jurisdiction, team_key, team_label, status FROM oversight_tasks",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out: BTreeMap<(String, String, String), (String, Counts)> = BTreeMap::new();
    for (p, j, t, label, status) in rows {
        out.entry((p, j, t)).or_insert_with(|| (label, [0; 6])).1[column(&status)] += 1;
    }
    out
}

/// A database made before migration 0005 keeps its team counts: they move
/// from the (team, status) rows into one row per team, and the replaced
/// triggers keep them from then on.
async fn team_progress_migration(url: &str, backend: &str) {
    // The schema up to 0004, from copies of the repository's migrations.
    let migrations = TempDir::new("migrations-0004").unwrap();
    let from = choucha_tests::workspace_root()
        .join("store/migrations")
        .join(backend);
    for e in std::fs::read_dir(&from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.as_str() < "0005" {
            std::fs::copy(e.path(), migrations.path().join(&name)).unwrap();
        }
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::migrate::Migrator::new(migrations.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let task = |i: usize, plan: &str, town: &str, team: &str, status: &str| {
        let pool = pool.clone();
        let (plan, town, team, status) = (
            plan.to_owned(),
            town.to_owned(),
            team.to_owned(),
            status.to_owned(),
        );
        async move {
            sqlx::query(
                "INSERT INTO oversight_tasks (task_id, plan_id, draw_id, stratum_id, category, jurisdiction, team_key, team_label, target_key, status) \
                 VALUES ($1, $2, $3, 'JL', 'metrology', $4, $5, $6, $7, $8)",
            )
            .bind(format!("T{i}"))
            .bind(&plan)
            .bind(format!("{plan}-D1"))
            .bind(&town)
            .bind(&team)
            .bind(format!("{team} 组"))
            .bind(format!("K{i}"))
            .bind(&status)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    let statuses = [
        "pending",
        "incomplete",
        "received",
        "has_issues",
        "returned",
        "approved",
    ];
    let mut i = 0;
    for (plan, town, team, n) in [
        ("P1", "西永街道", "A+B", 9),
        ("P1", "西永街道", "A+C", 4),
        ("P1", "虎溪街道", "A+B", 3),
        ("P2", "西永街道", "A+B", 7),
    ] {
        for k in 0..n {
            task(i, plan, town, team, statuses[k % 6]).await;
            i += 1;
        }
    }
    let set = |i: usize, status: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE oversight_tasks SET status = $1 WHERE task_id = $2")
                .bind(status)
                .bind(format!("T{i}"))
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    set(0, "received").await;
    set(1, "approved").await;
    set(10, "returned").await;
    sqlx::query("DELETE FROM oversight_tasks WHERE task_id IN ('T13', 'T14', 'T15')")
        .execute(&pool)
        .await
        .unwrap();
    let (team_rows,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM oversight_progress WHERE dim = 'team'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(team_rows > 0, "the 0004 triggers wrote team rows");
    let strata_before: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT plan_id, jurisdiction, dim_key, status, n FROM oversight_progress WHERE dim = 'stratum' ORDER BY 1, 2, 3, 4",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;

    // Opening the store applies 0005.
    let dir = TempDir::new("oversight-migration").unwrap();
    let store = Store::open(Some(url), dir.path()).await.unwrap();
    let pool = store.raw_pool();
    let expected = recount_tasks(pool).await;
    assert_eq!(expected.len(), 3, "the deleted town team has no tasks left");
    assert_eq!(all_team_counters(pool).await, expected, "backfilled");
    let (team_rows,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM oversight_progress WHERE dim = 'team'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(team_rows, 0, "team rows left in oversight_progress");
    let strata_after: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT plan_id, jurisdiction, dim_key, status, n FROM oversight_progress WHERE dim = 'stratum' ORDER BY 1, 2, 3, 4",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(strata_after, strata_before);

    // The new triggers on the migrated database: insert, move, delete.
    sqlx::query(
        "INSERT INTO oversight_tasks (task_id, plan_id, draw_id, stratum_id, category, jurisdiction, team_key, team_label, target_key, status) \
         VALUES ('T100', 'P2', 'P2-D1', 'JL', 'metrology', '虎溪街道', 'B+C', 'B+C 组', 'K100', 'pending')",
    )
    .execute(pool)
    .await
    .unwrap();
    for (task, status) in [
        ("T100", "received"),
        ("T2", "approved"),
        ("T20", "returned"),
    ] {
        sqlx::query("UPDATE oversight_tasks SET status = $1 WHERE task_id = $2")
            .bind(status)
            .bind(task)
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM oversight_tasks WHERE task_id IN ('T9', 'T10', 'T11', 'T12')")
        .execute(pool)
        .await
        .unwrap();
    let expected = recount_tasks(pool).await;
    let key = |p: &str, j: &str, t: &str| (p.to_owned(), j.to_owned(), t.to_owned());
    assert!(!expected.contains_key(&key("P1", "西永街道", "A+C")));
    assert_eq!(
        expected[&key("P2", "虎溪街道", "B+C")].1,
        [0, 0, 1, 0, 0, 0]
    );
    assert_eq!(all_team_counters(pool).await, expected, "after 0005");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_progress_migration_sqlite() {
    let dir = TempDir::new("oversight-migration-db").unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    team_progress_migration(&url, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_progress_migration_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    team_progress_migration(&url, "postgres").await;
}
