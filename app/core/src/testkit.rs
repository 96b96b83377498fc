//! Building blocks for tests, benchmarks and the crash workload: a fake
//! enrolment and a pulled task built from the embedded checklists, without
//! a server. Not used by the app itself.

use choucha_checklists::Catalogue;
use choucha_shared::TargetCategory;
use choucha_shared::directory::{Target, TargetIdentity, TargetKey};
use choucha_shared::plan::{MemberRole, Task, TeamMember};
use choucha_shared::sync::{FeedItem, PullResponse, TaskBundle};
use choucha_shared::value::{GeoPoint, Name, Uscc};
use chrono::Utc;

use crate::app::{App, Enrolment};
use crate::error::CoreError;
use crate::sync::SyncReport;

pub const OFFICER: &str = "渝50010723001";

/// Metadata of a photo taken now, without a position, at 2048×1536.
pub fn photo_meta() -> crate::PhotoMeta {
    crate::PhotoMeta {
        taken_at: Utc::now(),
        gps: None,
        gps_time: None,
        width: 2048,
        height: 1536,
    }
}

/// Enrols the app as [`OFFICER`] against a server that is never contacted.
pub fn offline_enrolment(app: &App) -> Result<(), CoreError> {
    app.save_enrolment(&Enrolment {
        server_url: "http://127.0.0.1:9".into(),
        device_id: "DEV-TEST".into(),
        token: "0".repeat(64),
        officer_id: OFFICER.into(),
        officer_name: "张建国".into(),
        ca_pem: None,
    })
}

/// Gives the app `n` tasks of `category`, as if pulled.
pub fn give_tasks(app: &App, category: TargetCategory, n: usize) -> Result<Vec<String>, CoreError> {
    let catalogue = Catalogue::embedded().map_err(|e| CoreError::Format(e.to_string()))?;
    let today = choucha_shared::CivilDate::new(Utc::now().date_naive())
        .map_err(|e| CoreError::Format(e.to_string()))?;
    let checklist = catalogue
        .current(category, today)
        .ok_or_else(|| CoreError::NotFound("checklist".into()))?
        .clone();
    let mut items = Vec::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let uscc = Uscc::with_check_char(&format!("91500107MA{i:07}"))
            .map_err(|e| CoreError::Format(e.to_string()))?;
        let task_id = format!("TEST-D1-{i:04}");
        ids.push(task_id.clone());
        let bundle = TaskBundle {
            task: Task {
                format: 1,
                task_id,
                draw_id: "TEST-D1".into(),
                source: None,
                stratum_id: "S".into(),
                target: TargetKey(uscc.to_string()),
                category,
                team: vec![
                    TeamMember {
                        role: MemberRole::Officer,
                        person_id: OFFICER.into(),
                        name: "张建国".into(),
                    },
                    TeamMember {
                        role: MemberRole::Officer,
                        person_id: "渝50010723002".into(),
                        name: "王晓东".into(),
                    },
                ],
                checklist: checklist.reference(),
                due: None,
            },
            target: Target {
                category,
                identity: TargetIdentity::Organisation { uscc },
                name: Name::parse(&format!("重庆某某计量器具有限公司{i}"))
                    .map_err(|e| CoreError::Format(e.to_string()))?,
                jurisdiction: Name::parse("西永街道")
                    .map_err(|e| CoreError::Format(e.to_string()))?,
                address: Some("重庆市高新区西永大道1号".into()),
                location: GeoPoint::new(29.6005, 106.3062, None).ok(),
                profile: Default::default(),
            },
        };
        items.push(FeedItem::TaskAssigned {
            bundle: Box::new(bundle),
        });
    }
    let page = PullResponse {
        format: 1,
        cursor: 1,
        items,
        checklists: vec![checklist],
        more: false,
    };
    app.apply_pull(&page, &mut SyncReport::default())?;
    Ok(ids)
}

/// Puts `n` started inspections with every item answered into the store in
/// one transaction (the store benchmark's "1,000 inspections" background).
pub fn seed_inspections(app: &App, n: usize) -> Result<Vec<uuid::Uuid>, CoreError> {
    use choucha_shared::checklist::Verdict;
    use choucha_shared::record::{InspectionRecord, ItemEntry};
    use choucha_shared::sync::EntryPayload;
    let tasks = give_tasks(app, TargetCategory::Metrology, n)?;
    let now = Utc::now();
    let mut ids = Vec::with_capacity(n);
    let bundle = app.task(&tasks[0])?;
    let checklist = app.checklist(&bundle.task.checklist)?;
    app.store.write(|tx| {
        for task_id in &tasks {
            let bundle = app.task(task_id)?;
            let mut record = InspectionRecord {
                format: 1,
                record_id: uuid::Uuid::now_v7(),
                task_id: task_id.clone(),
                target: bundle.task.target.clone(),
                target_name: bundle.target.name.to_string(),
                category: bundle.task.category,
                checklist: checklist.reference(),
                team: bundle.task.team.clone(),
                started_at: now,
                inspection_date: choucha_shared::CivilDate::new(now.date_naive())
                    .map_err(|e| CoreError::Format(e.to_string()))?,
                items: Default::default(),
                photos: vec![],
                findings: vec![],
                signatures: vec![],
                refusal: None,
                outcome: Default::default(),
            };
            for item in checklist.items() {
                let entry = ItemEntry { verdict: Some(Verdict::Conform), note: Some("现场核查符合要求".into()) };
                record.items.insert(item.id.clone(), entry.clone());
                crate::app::append(
                    tx,
                    uuid::Uuid::now_v7(),
                    EntryPayload::ItemSet { record_id: record.record_id, item_id: item.id.clone(), entry },
                    now,
                )?;
            }
            tx.execute(
                "INSERT INTO records (record_id, task_id, state, record, updated_at) VALUES (?1, ?2, 'draft', ?3, ?4)",
                (record.record_id.to_string(), task_id, serde_json::to_string(&record)?, now.to_rfc3339()),
            )?;
            ids.push(record.record_id);
        }
        Ok(())
    })?;
    Ok(ids)
}
