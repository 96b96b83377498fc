//! What the field app's engine is given in the cross-crate tests:
//! camera-like photos, signature scribbles, the admin's reads of the real
//! server it syncs with, and whole pieces of field work done on the engine
//! (an inspection that ends in a rectification order, its 复查, a company
//! not found at its registered address).

use anyhow::Context;
use std::io::Cursor;
use std::path::Path;

use chrono::{Duration, Utc};
use serde_json::Value;
use uuid::Uuid;

use choucha_app_core::App;
use choucha_app_core::photo::PhotoConfig;
use choucha_app_core::signature::{Capture, Point, Stroke};
use choucha_shared::checklist::{Evidence, Verdict};
use choucha_shared::outcome::{
    ContactAttempt, ContactWay, Outcome, PremisesFound, UnreachableEvidence,
};
use choucha_shared::plan::{MemberRole, TeamMember};
use choucha_shared::record::{
    Disposition, Finding, PhotoSubject, RectificationOutcome, SignerRole,
};
use choucha_shared::value::{CivilDate, GeoPoint};

use crate::TestServer;

/// A camera-like JPEG (gradient and texture), different for every `seed`.
pub fn camera_jpeg(seed: u32, width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let n = (x.wrapping_mul(31) ^ y.wrapping_mul(17) ^ seed.wrapping_mul(97)) % 40;
        image::Rgb([(x / 7 % 255) as u8, (y / 5 % 255) as u8, (120 + n) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap_or_else(|e| unreachable!("encoding a JPEG in memory: {e}"));
    out.into_inner()
}

/// A signature-like scribble on an 800×300 pad.
pub fn scribble(seed: f32) -> Capture {
    let points = (0..60)
        .map(|i| {
            let t = i as f32 / 10.0;
            Point {
                x: 40.0 + t * 90.0,
                y: 150.0 + (t * 2.0 + seed).sin() * 60.0,
                t_ms: i * 16,
                pressure: None,
            }
        })
        .collect();
    Capture {
        width: 800,
        height: 300,
        strokes: vec![Stroke { points }],
    }
}

/// GET `path` with the admin token, as JSON.
pub async fn admin_get(server: &TestServer, path: &str) -> anyhow::Result<Value> {
    Ok(reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(server.token())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// An enrolment code for the first member of the demo draw's first task,
/// asked for through `http` (which may trust a test CA), valid `minutes`
/// when given: the status and the answer.
pub async fn new_enrolment(
    http: &reqwest::Client,
    server: &TestServer,
    minutes: Option<i64>,
) -> anyhow::Result<(u16, Value)> {
    let draw: Value = http
        .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
        .bearer_auth(server.token())
        .send()
        .await?
        .json()
        .await?;
    let officer = draw["tasks"][0]["team"][0]["person_id"]
        .as_str()
        .context("no officer in the demo draw")?;
    let mut body = serde_json::json!({ "officer_id": officer });
    if let Some(m) = minutes {
        body["valid_minutes"] = serde_json::json!(m);
    }
    let r = http
        .post(server.url("/api/v1/enrolments"))
        .bearer_auth(server.token())
        .json(&body)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or_default()))
}

/// A one-time enrolment code for `officer`, made with the admin token.
pub async fn enrolment_code(server: &TestServer, officer: &str) -> anyhow::Result<String> {
    let created: Value = reqwest::Client::new()
        .post(server.url("/api/v1/enrolments"))
        .bearer_auth(server.token())
        .json(&serde_json::json!({ "officer_id": officer }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    created["enrolment"]["code"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no enrolment code in {created}"))
}

/// A fresh field app in `root/name`, enrolled for `officer` and pulled.
pub async fn tablet(
    server: &TestServer,
    officer: &str,
    root: &Path,
    name: &str,
) -> anyhow::Result<App> {
    let code = enrolment_code(server, officer).await?;
    let app = App::open(
        &root.join(name).join("data"),
        &root.join(format!("{name}.key")),
    )?;
    let http = choucha_app_core::sync::http_client();
    app.enrol(&http, &server.base_url, &code, name).await?;
    app.sync_once(&http).await?;
    Ok(app)
}

/// Syncs until nothing is left to send (five tries).
pub async fn sync_all(app: &App) -> anyhow::Result<()> {
    let http = choucha_app_core::sync::http_client();
    for _ in 0..5 {
        app.sync_once(&http).await?;
        let p = app.progress()?;
        if p.entries_left == 0 && p.blobs_left == 0 {
            return Ok(());
        }
    }
    anyhow::bail!("still not synced: {:?}", app.progress()?)
}

/// Where the test photos are taken (the demo targets' district).
fn here() -> Option<GeoPoint> {
    GeoPoint::new(29.6005, 106.3062, Some(6.0)).ok()
}

/// Every team member and the enterprise sign through `sign`.
pub fn sign_all(
    team: &[TeamMember],
    sign: impl Fn(SignerRole, Option<String>, &str, &Capture) -> Result<(), choucha_app_core::CoreError>,
) -> anyhow::Result<()> {
    for (i, m) in team.iter().enumerate() {
        let role = if m.role == MemberRole::Officer {
            SignerRole::Officer
        } else {
            SignerRole::Expert
        };
        sign(
            role,
            Some(m.person_id.clone()),
            &m.name,
            &scribble(i as f32),
        )?;
    }
    sign(
        SignerRole::EnterpriseRepresentative,
        None,
        "赵企业",
        &scribble(9.0),
    )?;
    Ok(())
}

/// An inspection, offline and sealed: every item conforms but the first
/// `failing` that can fail, each with a finding under the rectification
/// order `order_no`, due two weeks after the inspection. Returns the
/// record, its findings and the deadline.
pub fn inspect_with_order(
    app: &App,
    task_id: &str,
    order_no: &str,
    failing: usize,
) -> anyhow::Result<(Uuid, Vec<Uuid>, CivilDate)> {
    let config = PhotoConfig::default();
    let id = app.start_task(task_id, Utc::now())?;
    let record = app.record(&id)?;
    let checklist = app.checklist(&record.checklist)?;
    let deadline = CivilDate::new(record.inspection_date.date() + Duration::days(14))?;
    let mut findings = Vec::new();
    for (n, item) in checklist.items().enumerate() {
        let allowed = checklist.allowed_verdicts(item);
        let bad = [Verdict::Nonconform, Verdict::Minor]
            .into_iter()
            .find(|v| allowed.contains(v))
            .filter(|_| findings.len() < failing);
        let verdict = match bad {
            Some(v) => v,
            None if allowed.contains(&Verdict::Conform) => Verdict::Conform,
            None => Verdict::Pass,
        };
        let note = bad.map(|_| format!("第 {} 项不符合要求", item.id));
        app.set_item(&id, &item.id, Some(verdict), note.clone(), Utc::now())?;
        if bad.is_some() || item.evidence.contains(&Evidence::Photo) {
            let jpeg = camera_jpeg(n as u32, 800, 600);
            app.take_photo(
                &id,
                PhotoSubject::Item(item.id.clone()),
                &jpeg,
                here(),
                None,
                &config,
                Utc::now(),
            )?;
        }
        if let Some(description) = note.filter(|_| bad.is_some()) {
            let finding = Finding {
                finding_id: Uuid::now_v7(),
                item_id: Some(item.id.clone()),
                description,
                disposition: Disposition::RectificationOrder {
                    order_no: order_no.into(),
                    deadline,
                    requirements: format!("{} 限期整改到位", item.id),
                    follow_up: None,
                },
            };
            findings.push(finding.finding_id);
            app.add_finding(&id, finding, Utc::now())?;
        }
    }
    anyhow::ensure!(
        findings.len() == failing,
        "only {} items could fail",
        findings.len()
    );
    for (n, subject) in [PhotoSubject::Gate, PhotoSubject::Process]
        .into_iter()
        .enumerate()
    {
        let jpeg = camera_jpeg(500 + n as u32, 800, 600);
        app.take_photo(&id, subject, &jpeg, here(), None, &config, Utc::now())?;
    }
    sign_all(&record.team, |role, person, name, capture| {
        app.sign_with_capture(&id, role, person, name, capture, Utc::now())
    })?;
    app.seal(&id, Utc::now())?;
    Ok((id, findings, deadline))
}

/// The 复查 of `recheck_id`, offline and sealed: each finding's result
/// (with a note when not rectified), the gate photo, a photo of each
/// finding, everyone's signatures. Returns the 复查 record's ID.
pub fn recheck(
    app: &App,
    recheck_id: &str,
    results: &[(Uuid, RectificationOutcome, Option<&str>)],
) -> anyhow::Result<Uuid> {
    let config = PhotoConfig::default();
    let rid = app.start_recheck(recheck_id, Utc::now())?;
    for (finding, outcome, note) in results {
        app.set_recheck_result(&rid, finding, *outcome, note.map(str::to_owned), Utc::now())?;
    }
    let subjects = std::iter::once(PhotoSubject::Gate)
        .chain(results.iter().map(|(f, _, _)| PhotoSubject::Finding(*f)));
    for (n, subject) in subjects.enumerate() {
        let jpeg = camera_jpeg(700 + n as u32, 800, 600);
        app.take_recheck_photo(&rid, subject, &jpeg, here(), None, &config, Utc::now())?;
    }
    let team = app.recheck_task(recheck_id)?.team;
    sign_all(&team, |role, person, name, capture| {
        app.sign_recheck_with_capture(&rid, role, person, name, capture, Utc::now())
    })?;
    app.seal_recheck(&rid, Utc::now())?;
    Ok(rid)
}

/// A company not found at its registered address (无法联系), offline and
/// sealed: the photo there with its position, what was found, two attempts
/// to reach it, the officers' signatures. Returns the record's ID.
pub fn seal_unreachable(app: &App, task_id: &str) -> anyhow::Result<Uuid> {
    let now = Utc::now();
    let bundle = app.task(task_id)?;
    let id = app.start_task(task_id, now)?;
    app.set_outcome(
        &id,
        Outcome::Unreachable(UnreachableEvidence {
            premises: PremisesFound::Locked,
            description: "登记地址卷帘门紧闭，门口无招牌".into(),
            observed_at: now,
            attempts: vec![
                ContactAttempt {
                    way: ContactWay::Phone,
                    whom: "登记电话 023-6512 0000".into(),
                    at: now,
                    result: "空号".into(),
                },
                ContactAttempt {
                    way: ContactWay::Neighbour,
                    whom: "楼栋物业管理处".into(),
                    at: now,
                    result: "称该企业半年前已搬走".into(),
                },
            ],
        }),
        now,
    )?;
    let jpeg = camera_jpeg(900, 800, 600);
    app.take_photo(
        &id,
        PhotoSubject::Address,
        &jpeg,
        bundle.target.location,
        None,
        &PhotoConfig::default(),
        now,
    )?;
    let team = app.record(&id)?.team;
    for (i, m) in team
        .iter()
        .filter(|m| m.role == MemberRole::Officer)
        .enumerate()
    {
        app.sign_with_capture(
            &id,
            SignerRole::Officer,
            Some(m.person_id.clone()),
            &m.name,
            &scribble(i as f32),
            now,
        )?;
    }
    app.seal(&id, now)?;
    Ok(id)
}
