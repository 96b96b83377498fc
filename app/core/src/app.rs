//! The app core's facade: what the Tauri commands call. Every method that
//! changes something is one committed transaction that updates the draft
//! and appends to the device log (see `store`), so an acknowledged action
//! survives a crash or a dead battery.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use choucha_shared::checklist::{Checklist, ChecklistRef, Verdict};
use choucha_shared::completeness::{self, Violation};
use choucha_shared::conclusion::{self, Conclusion};
use choucha_shared::outcome::Outcome;
use choucha_shared::plan::MemberRole;
use choucha_shared::record::{
    Finding, InspectionRecord, ItemEntry, Photo, PhotoSubject, Signature, SignatureRefusal,
    SignerRole,
};
use choucha_shared::review::ReviewState;
use choucha_shared::sync::{EntryPayload, LogEntry, RecordReturn, TaskBundle};
use choucha_shared::value::{CivilDate, GeoPoint, Sha256Hex};

use crate::error::CoreError;
use crate::evidence::EvidenceStore;
use crate::keys::DeviceKey;
use crate::store::{Store, meta_get, meta_set};

/// The device's enrolment with a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    pub server_url: String,
    pub device_id: String,
    pub token: String,
    pub officer_id: String,
    pub officer_name: String,
    /// The bureau's certificate authority (PEM), pinned at enrolment from
    /// the QR code: the server's certificate must come from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// Task states as the task list shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// 待检查
    Pending,
    /// 进行中
    InProgress,
    /// 待签字
    AwaitingSignatures,
    /// 待同步 (sealed, not everything delivered)
    AwaitingSync,
    /// 已提交 (the server holds it complete)
    Submitted,
    /// 被退回
    Returned,
    /// 已撤回 (the draw was replaced)
    Withdrawn,
}

impl TaskStatus {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Pending => "待检查",
            Self::InProgress => "进行中",
            Self::AwaitingSignatures => "待签字",
            Self::AwaitingSync => "待同步",
            Self::Submitted => "已提交",
            Self::Returned => "被退回",
            Self::Withdrawn => "已撤回",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub task_id: String,
    pub target_name: String,
    pub category: String,
    pub due: Option<CivilDate>,
    pub status: TaskStatus,
    pub status_zh: &'static str,
    pub record_id: Option<Uuid>,
}

/// Metadata of a photo already through the photo pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoMeta {
    pub taken_at: DateTime<Utc>,
    pub gps: Option<GeoPoint>,
    pub gps_time: Option<DateTime<Utc>>,
    pub width: u32,
    pub height: u32,
}

/// The file that says the data directory was wiped after a revocation.
pub(crate) const WIPED_MARKER: &str = "WIPED";

/// Where an open app's data key came from.
#[derive(Debug)]
pub(crate) enum KeyHolder {
    /// A plain key file (tests, tools and the simulation).
    File(PathBuf),
    /// The PIN-protected vault (the tablet).
    Vault(std::sync::Arc<crate::vault::Vault>),
}

impl KeyHolder {
    /// Makes the data key unrecoverable.
    pub(crate) fn destroy(&self) -> Result<(), CoreError> {
        match self {
            Self::File(path) => match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(CoreError::io("removing the device key", e)),
            },
            Self::Vault(v) => v.destroy(),
        }
    }
}

/// Removes the store, its journal files, the evidence and the wipe marker
/// from a data directory whose key is gone (or is being destroyed).
pub fn remove_local_data(data_dir: &Path) -> Result<(), CoreError> {
    for leftover in [
        data_dir.join("choucha-app.db"),
        data_dir.join("choucha-app.db-wal"),
        data_dir.join("choucha-app.db-shm"),
        data_dir.join("evidence"),
        data_dir.join(WIPED_MARKER),
    ] {
        let removed = if leftover.is_dir() {
            std::fs::remove_dir_all(&leftover)
        } else {
            std::fs::remove_file(&leftover)
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CoreError::io("removing the wiped data", e)),
        }
    }
    Ok(())
}

/// The app's engine over one data directory.

#[derive(Debug)]
pub struct App {
    pub(crate) store: Store,
    pub(crate) evidence: EvidenceStore,
    data_dir: PathBuf,
    /// Where the data key is kept, destroyed with the data after a
    /// revocation.
    pub(crate) key_holder: KeyHolder,
    /// Set once the local data and key are wiped: the open store still
    /// holds the old key, so nothing may be written until a restart makes
    /// a new one.
    pub(crate) wiped: std::sync::atomic::AtomicBool,
    /// Plain HTTP to another machine allowed (development only).
    pub(crate) allow_plain_http: std::sync::atomic::AtomicBool,
    /// The HTTP client pinned to the bureau's CA, with that CA (PEM).
    pub(crate) pinned: std::sync::Mutex<Option<(String, reqwest::Client)>>,
    /// Parsed checklists: versions are immutable, so a cache never goes
    /// stale, and every edit needs one (parsing it each time cost more than
    /// the write itself).
    checklists:
        std::sync::Mutex<std::collections::HashMap<ChecklistRef, std::sync::Arc<Checklist>>>,
    /// Where new record and entry IDs come from: `None`, time-ordered
    /// random UUIDs (the app); `Some((seed, n))`, a counted sequence, so that
    /// the sync simulation replays a schedule byte for byte.
    ids: std::sync::Mutex<Option<(u64, u64)>>,
}

/// Record states on the device.
const DRAFT: &str = "draft";
const SEALED: &str = "sealed";
const AMENDING: &str = "amending";

impl App {
    /// Opens (creating) the store in `data_dir`, encrypted with the key in
    /// `key_file` (which must not be inside `data_dir`).
    pub fn open(data_dir: &Path, key_file: &Path) -> Result<Self, CoreError> {
        if key_file.starts_with(data_dir) {
            return Err(CoreError::Key(
                "密钥文件不能放在数据目录内 (key file must live outside the data directory)".into(),
            ));
        }
        Self::finish_wipe(data_dir)?;
        let key = DeviceKey::load_or_create(key_file)?;
        Self::open_with(data_dir, &key, KeyHolder::File(key_file.to_owned()))
    }

    /// Opens (creating) the store in `data_dir` with the data key the
    /// officer's PIN unlocked from `vault`: how the tablet opens it.
    pub fn open_unlocked(
        data_dir: &Path,
        key: &DeviceKey,
        vault: std::sync::Arc<crate::vault::Vault>,
    ) -> Result<Self, CoreError> {
        Self::finish_wipe(data_dir)?;
        Self::open_with(data_dir, key, KeyHolder::Vault(vault))
    }

    fn open_with(data_dir: &Path, key: &DeviceKey, holder: KeyHolder) -> Result<Self, CoreError> {
        let store = Store::open(&data_dir.join("choucha-app.db"), key)?;
        let evidence = EvidenceStore::open(&data_dir.join("evidence"), key)?;
        Ok(Self {
            store,
            evidence,
            data_dir: data_dir.to_owned(),
            key_holder: holder,
            wiped: Default::default(),
            allow_plain_http: Default::default(),
            pinned: Default::default(),
            checklists: Default::default(),
            ids: Default::default(),
        })
    }

    /// Wiped after a revocation: the emptied database's key is gone, so
    /// its file goes too and the app starts afresh.
    fn finish_wipe(data_dir: &Path) -> Result<(), CoreError> {
        if data_dir.join(WIPED_MARKER).exists() {
            remove_local_data(data_dir)?;
        }
        Ok(())
    }

    /// From now on, new record and log-entry IDs are `seed`'s counted
    /// sequence instead of random: for the deterministic simulation only
    /// (two devices with one seed would collide).
    pub fn seed_ids(&self, seed: u64, from: u64) {
        *self.ids.lock().unwrap_or_else(|p| p.into_inner()) = Some((seed, from));
    }

    /// A new record or log-entry ID.
    pub(crate) fn new_id(&self) -> Uuid {
        match self.ids.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some((seed, n)) => {
                *n += 1;
                Uuid::from_u64_pair(*seed, *n)
            }
            None => Uuid::now_v7(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn enrolment(&self) -> Result<Option<Enrolment>, CoreError> {
        self.store.read(|c| {
            meta_get(c, "enrolment")?
                .map(|j| Ok(serde_json::from_str(&j)?))
                .transpose()
        })
    }

    pub(crate) fn save_enrolment(&self, e: &Enrolment) -> Result<(), CoreError> {
        let json = serde_json::to_string(e)?;
        self.store.write(|tx| meta_set(tx, "enrolment", &json))
    }

    pub fn checklist(&self, r: &ChecklistRef) -> Result<std::sync::Arc<Checklist>, CoreError> {
        if let Some(c) = self
            .checklists
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(r)
        {
            return Ok(c.clone());
        }
        let parsed: Checklist = self.store.read(|c| {
            let body: Option<String> = c
                .query_row(
                    "SELECT body FROM checklists WHERE id = ?1 AND version = ?2",
                    (&r.id, r.version),
                    |row| row.get(0),
                )
                .optional()?;
            let body = body.ok_or_else(|| CoreError::NotFound(format!("检查表 {r}")))?;
            Ok(serde_json::from_str(&body)?)
        })?;
        let parsed = std::sync::Arc::new(parsed);
        self.checklists
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(r.clone(), parsed.clone());
        Ok(parsed)
    }

    pub fn task(&self, task_id: &str) -> Result<TaskBundle, CoreError> {
        self.store.read(|c| {
            let body: Option<String> = c
                .query_row(
                    "SELECT bundle FROM tasks WHERE task_id = ?1",
                    [task_id],
                    |r| r.get(0),
                )
                .optional()?;
            let body = body.ok_or_else(|| CoreError::NotFound(format!("任务 {task_id}")))?;
            Ok(serde_json::from_str(&body)?)
        })
    }

    /// Today's tasks with their states, due date first.
    pub fn tasks(&self) -> Result<Vec<TaskSummary>, CoreError> {
        let rows: Vec<(String, String, Option<String>)> = self.store.read(|c| {
            let mut st =
                c.prepare("SELECT task_id, bundle, withdrawn FROM tasks ORDER BY task_id")?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for (task_id, bundle, withdrawn) in rows {
            let b: TaskBundle = serde_json::from_str(&bundle)?;
            let (status, record_id) = if withdrawn.is_some() {
                (TaskStatus::Withdrawn, None)
            } else {
                self.task_status(&task_id)?
            };
            out.push(TaskSummary {
                task_id,
                target_name: b.target.name.to_string(),
                category: b.task.category.label_zh().to_owned(),
                due: b.task.due,
                status,
                status_zh: status.label_zh(),
                record_id,
            });
        }
        out.sort_by(|a, b| (a.due, &a.task_id).cmp(&(b.due, &b.task_id)));
        Ok(out)
    }

    fn task_status(&self, task_id: &str) -> Result<(TaskStatus, Option<Uuid>), CoreError> {
        let row: Option<(String, String, Option<String>, Option<String>)> = self.store.read(|c| {
            Ok(c.query_row(
                "SELECT record_id, state, sealed_version, server_state FROM records WHERE task_id = ?1 ORDER BY updated_at DESC LIMIT 1",
                [task_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
        })?;
        let Some((record_id, state, _version, server_state)) = row else {
            return Ok((TaskStatus::Pending, None));
        };
        let id: Uuid = record_id
            .parse()
            .map_err(|e: uuid::Error| CoreError::Format(e.to_string()))?;
        let server_state: Option<ReviewState> = server_state.and_then(|s| s.parse().ok());
        let status = match state.as_str() {
            AMENDING => TaskStatus::Returned,
            SEALED if server_state == Some(ReviewState::Returned) => TaskStatus::Returned,
            SEALED => {
                let pending = self.pending_for(&record_id)?;
                if pending == 0
                    && matches!(
                        server_state,
                        Some(ReviewState::Received | ReviewState::Approved)
                    )
                {
                    TaskStatus::Submitted
                } else {
                    TaskStatus::AwaitingSync
                }
            }
            _ => {
                let record = self.record(&id)?;
                let checklist = self.checklist(&record.checklist)?;
                let v = completeness::check(&record, &checklist);
                let only_signatures = !v.is_empty()
                    && v.iter().all(|x| {
                        matches!(
                            x,
                            Violation::OfficerSignaturesMissing { .. }
                                | Violation::ExpertSignatureMissing { .. }
                                | Violation::EnterpriseSignatureMissing
                                | Violation::SignatureStale { .. }
                        )
                    });
                if only_signatures {
                    TaskStatus::AwaitingSignatures
                } else {
                    TaskStatus::InProgress
                }
            }
        };
        Ok((status, Some(id)))
    }

    /// Unconfirmed log entries and unsent blobs of one record.
    fn pending_for(&self, record_id: &str) -> Result<i64, CoreError> {
        self.store.read(|c| {
            let blobs: i64 = c.query_row(
                "SELECT COUNT(*) FROM blobs WHERE record_id = ?1 AND uploaded = 0",
                [record_id],
                |r| r.get(0),
            )?;
            let entries: i64 =
                c.query_row("SELECT COUNT(*) FROM log WHERE confirmed = 0", [], |r| {
                    r.get(0)
                })?;
            Ok(blobs + entries)
        })
    }

    pub fn record(&self, record_id: &Uuid) -> Result<InspectionRecord, CoreError> {
        self.store.read(|c| {
            let body: Option<String> = c
                .query_row(
                    "SELECT record FROM records WHERE record_id = ?1",
                    [record_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let body = body.ok_or_else(|| CoreError::NotFound(format!("检查记录 {record_id}")))?;
            Ok(serde_json::from_str(&body)?)
        })
    }

    /// Starts (or resumes) the inspection of a task assigned to this
    /// device's officer.
    pub fn start_task(&self, task_id: &str, now: DateTime<Utc>) -> Result<Uuid, CoreError> {
        let enrolment = self.enrolment()?.ok_or(CoreError::NotEnrolled)?;
        let bundle = self.task(task_id).map_err(|_| {
            CoreError::Refused(format!("任务 {task_id} 未分配给本设备的执法人员，不能开始检查 (task not assigned to this device)"))
        })?;
        let withdrawn: Option<String> = self.store.read(|c| {
            Ok(c.query_row(
                "SELECT withdrawn FROM tasks WHERE task_id = ?1",
                [task_id],
                |r| r.get(0),
            )?)
        })?;
        if let Some(reason) = withdrawn {
            return Err(CoreError::Refused(format!(
                "任务 {task_id} 已撤回：{reason}"
            )));
        }
        if !bundle
            .task
            .team
            .iter()
            .any(|m| m.role == MemberRole::Officer && m.person_id == enrolment.officer_id)
        {
            return Err(CoreError::Refused(format!(
                "您不在任务 {task_id} 的检查组中，不能开始检查"
            )));
        }
        if let (_, Some(existing)) = self.task_status(task_id)? {
            return Ok(existing);
        }
        let checklist = self.checklist(&bundle.task.checklist)?;
        let record = InspectionRecord {
            format: choucha_shared::FORMAT_VERSION,
            record_id: self.new_id(),
            task_id: task_id.to_owned(),
            target: bundle.task.target.clone(),
            target_name: bundle.target.name.to_string(),
            category: bundle.task.category,
            checklist: checklist.reference(),
            team: bundle.task.team.clone(),
            started_at: now,
            inspection_date: CivilDate::new(now.with_timezone(&china_time()).date_naive())
                .map_err(|e| CoreError::Format(e.to_string()))?,
            items: Default::default(),
            photos: Vec::new(),
            findings: Vec::new(),
            signatures: Vec::new(),
            refusal: None,
            outcome: Default::default(),
        };
        let id = record.record_id;
        self.store.write(|tx| {
            // Looked up again under the writer: two starts at once (a
            // double tap) find one record, not one each.
            let existing: Option<String> = tx
                .query_row(
                    "SELECT record_id FROM records WHERE task_id = ?1 ORDER BY updated_at DESC LIMIT 1",
                    [task_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(existing) = existing {
                return Uuid::parse_str(&existing).map_err(|e| CoreError::Format(e.to_string()));
            }
            tx.execute(
                "INSERT INTO records (record_id, task_id, state, record, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                (id.to_string(), task_id, DRAFT, serde_json::to_string(&record)?, now.to_rfc3339()),
            )?;
            append(tx, self.new_id(), EntryPayload::Started { record_id: id, task_id: task_id.to_owned(), started_at: now }, now)?;
            Ok(id)
        })
    }

    /// Loads an editable record, changes it with `f`, saves it and logs
    /// `payload(record)` in one transaction.
    fn edit(
        &self,
        record_id: &Uuid,
        now: DateTime<Utc>,
        f: impl FnOnce(&mut InspectionRecord, &Checklist) -> Result<Option<EntryPayload>, CoreError>,
    ) -> Result<InspectionRecord, CoreError> {
        self.edit_in(record_id, now, |record, checklist, _| f(record, checklist))
    }

    /// [`App::edit`] with the transaction handed to `f`, for changes that
    /// write more than the record (a blob row with a signature).
    ///
    /// The record is read, changed and written back inside one IMMEDIATE
    /// transaction, so two edits (two taps, the UI and a background task)
    /// never both start from the same version and lose one another, and no
    /// edit lands on a record that was sealed meanwhile.
    fn edit_in(
        &self,
        record_id: &Uuid,
        now: DateTime<Utc>,
        f: impl FnOnce(
            &mut InspectionRecord,
            &Checklist,
            &rusqlite::Transaction<'_>,
        ) -> Result<Option<EntryPayload>, CoreError>,
    ) -> Result<InspectionRecord, CoreError> {
        self.store.write(|tx| {
            let (state, _, mut record) = load_record(tx, record_id)?;
            if state == SEALED {
                return Err(CoreError::Refused(
                    "记录已封存，不能修改；如被退回，请先点击「补正」再修改 (record is sealed)"
                        .into(),
                ));
            }
            let checklist = self.checklist(&record.checklist)?;
            let payload = f(&mut record, &checklist, tx)?;
            tx.execute(
                "UPDATE records SET record = ?1, updated_at = ?2 WHERE record_id = ?3",
                (
                    serde_json::to_string(&record)?,
                    now.to_rfc3339(),
                    record_id.to_string(),
                ),
            )?;
            if let Some(p) = payload {
                append(tx, self.new_id(), p, now)?;
            }
            Ok(record)
        })
    }

    /// Sets the verdict and note of a checklist item.
    pub fn set_item(
        &self,
        record_id: &Uuid,
        item_id: &str,
        verdict: Option<Verdict>,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        self.edit(record_id, now, |record, checklist| {
            let item = checklist
                .item(item_id)
                .ok_or_else(|| CoreError::NotFound(format!("检查项 {item_id}")))?;
            if let Some(v) = verdict {
                if !checklist.allowed_verdicts(item).contains(&v) {
                    return Err(CoreError::Refused(format!(
                        "检查项 {item_id} 不允许使用结论「{}」",
                        v.label_zh()
                    )));
                }
            }
            let entry = ItemEntry {
                verdict,
                note: note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
            };
            record.items.insert(item_id.to_owned(), entry.clone());
            Ok(Some(EntryPayload::ItemSet {
                record_id: *record_id,
                item_id: item_id.to_owned(),
                entry,
            }))
        })?;
        Ok(())
    }

    /// Stores a processed photo (JPEG from the photo pipeline) and attaches it.
    pub fn attach_photo(
        &self,
        record_id: &Uuid,
        subject: PhotoSubject,
        jpeg: &[u8],
        meta: PhotoMeta,
        now: DateTime<Utc>,
    ) -> Result<Sha256Hex, CoreError> {
        // The file first: a crash between the two leaves an orphan file,
        // never a record naming a file that does not exist.
        let sha = self.evidence.put(jpeg)?;
        let photo = Photo {
            sha256: sha.clone(),
            subject,
            taken_at: meta.taken_at,
            gps: meta.gps,
            gps_time: meta.gps_time,
            bytes: jpeg.len() as u64,
            width: meta.width,
            height: meta.height,
        };
        let bytes = jpeg.len() as i64;
        self.edit(record_id, now, |record, checklist| {
            if let PhotoSubject::Item(id) = &photo.subject {
                checklist
                    .item(id)
                    .ok_or_else(|| CoreError::NotFound(format!("检查项 {id}")))?;
            }
            if record
                .photos
                .iter()
                .any(|p| p.sha256 == photo.sha256 && p.subject == photo.subject)
            {
                return Ok(None);
            }
            record.photos.push(photo.clone());
            Ok(Some(EntryPayload::PhotoTaken {
                record_id: *record_id,
                photo: photo.clone(),
            }))
        })?;
        self.store
            .write(|tx| note_blob(tx, &sha, bytes as usize, record_id, "photo"))?;
        Ok(sha)
    }

    pub fn remove_photo(
        &self,
        record_id: &Uuid,
        sha: &Sha256Hex,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        self.edit(record_id, now, |record, _| {
            record.photos.retain(|p| &p.sha256 != sha);
            Ok(None)
        })?;
        Ok(())
    }

    pub fn add_finding(
        &self,
        record_id: &Uuid,
        finding: Finding,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        if finding.description.trim().is_empty() {
            return Err(CoreError::Refused(
                "请填写发现的问题 (finding description is empty)".into(),
            ));
        }
        self.edit(record_id, now, |record, checklist| {
            if let Some(id) = &finding.item_id {
                checklist
                    .item(id)
                    .ok_or_else(|| CoreError::NotFound(format!("检查项 {id}")))?;
            }
            record
                .findings
                .retain(|f| f.finding_id != finding.finding_id);
            record.findings.push(finding);
            Ok(None)
        })?;
        Ok(())
    }

    pub fn remove_finding(
        &self,
        record_id: &Uuid,
        finding_id: &Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        self.edit(record_id, now, |record, _| {
            record.findings.retain(|f| &f.finding_id != finding_id);
            Ok(None)
        })?;
        Ok(())
    }

    /// The hash a signer signs: the record's current attested content.
    pub fn content_hash(&self, record_id: &Uuid) -> Result<Sha256Hex, CoreError> {
        Ok(self.record(record_id)?.content_hash())
    }

    /// Stores a signature image (PNG from the signature module) made over
    /// `content_hash`, replacing an earlier signature of the same person.
    #[allow(clippy::too_many_arguments)]
    pub fn add_signature(
        &self,
        record_id: &Uuid,
        role: SignerRole,
        person_id: Option<String>,
        name: &str,
        png: &[u8],
        content_hash: Sha256Hex,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let (sig, sha) = self.stored_signature(role, person_id, name, png, content_hash, now)?;
        self.edit_in(record_id, now, |record, _, tx| {
            put_signature(&mut record.signatures, &mut record.refusal, sig);
            note_blob(tx, &sha, png.len(), record_id, "signature")?;
            Ok(None)
        })?;
        Ok(())
    }

    /// Stores a signature image in the encrypted evidence store and makes
    /// the signature that names it (inspection and 复查 alike).
    pub(crate) fn stored_signature(
        &self,
        role: SignerRole,
        person_id: Option<String>,
        name: &str,
        png: &[u8],
        content_hash: Sha256Hex,
        now: DateTime<Utc>,
    ) -> Result<(Signature, Sha256Hex), CoreError> {
        let sha = self.evidence.put(png)?;
        let sig = Signature {
            role,
            person_id,
            name: name.trim().to_owned(),
            image_sha256: sha.clone(),
            signed_at: now,
            content_hash,
        };
        Ok((sig, sha))
    }

    /// The enterprise refused to sign: recorded instead of its signature.
    pub fn record_refusal(
        &self,
        record_id: &Uuid,
        refusal: SignatureRefusal,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        if refusal.reason.trim().is_empty() {
            return Err(CoreError::Refused(
                "请填写拒签理由 (refusal needs a reason)".into(),
            ));
        }
        self.edit(record_id, now, |record, _| {
            record
                .signatures
                .retain(|s| s.role != SignerRole::EnterpriseRepresentative);
            record.refusal = Some(refusal);
            Ok(None)
        })?;
        Ok(())
    }

    /// What became of the task: the walk-through (正常检查), or a case in
    /// which the target could not be inspected, with its evidence. Chosen at
    /// the start or at any point before sealing; verdicts already given are
    /// kept (they may still be wanted if the officers go back to a
    /// walk-through).
    pub fn set_outcome(
        &self,
        record_id: &Uuid,
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        self.edit(record_id, now, |record, _| {
            record.outcome = outcome;
            Ok(None)
        })?;
        Ok(())
    }

    /// The conclusion (检查结论) the verdicts given so far lead to under the
    /// checklist's rules, shown before sealing.
    pub fn conclusion(&self, record_id: &Uuid) -> Result<Conclusion, CoreError> {
        let record = self.record(record_id)?;
        let checklist = self.checklist(&record.checklist)?;
        Ok(conclusion::conclude(&record.items, &checklist))
    }

    /// Every violation of the sealing rules, for the completeness screen.
    pub fn check(&self, record_id: &Uuid) -> Result<Vec<Violation>, CoreError> {
        let record = self.record(record_id)?;
        let checklist = self.checklist(&record.checklist)?;
        Ok(completeness::check(&record, &checklist))
    }

    /// Seals the record (or its amendment after a return): refused with
    /// every violation listed when it is not complete.
    pub fn seal(&self, record_id: &Uuid, now: DateTime<Utc>) -> Result<Sha256Hex, CoreError> {
        // Checked and sealed in one IMMEDIATE transaction: no edit can slip
        // in between the check and the seal, and a second seal (a double
        // tap) finds the record sealed and is refused.
        self.store.write(|tx| {
            let (state, sealed_version, record) = load_record(tx, record_id)?;
            if state == SEALED {
                return Err(CoreError::Refused("记录已封存 (already sealed)".into()));
            }
            let checklist = self.checklist(&record.checklist)?;
            let violations = completeness::check(&record, &checklist);
            if !violations.is_empty() {
                return Err(CoreError::Incomplete(violations));
            }
            let version = record.version();
            if state == AMENDING && sealed_version.as_deref() == Some(version.as_str()) {
                return Err(CoreError::Refused(
                    "补正内容与被退回的版本完全相同，请按退回意见修改（如重新签字、补拍照片）后再封存 (the amendment changes nothing)"
                        .into(),
                ));
            }
            let payload = match (state.as_str(), sealed_version) {
                (AMENDING, Some(old)) => EntryPayload::Amended {
                    replaces: Sha256Hex::parse(&old)
                        .map_err(|e| CoreError::Format(e.to_string()))?,
                    record,
                },
                _ => EntryPayload::Sealed { record },
            };
            tx.execute(
                "UPDATE records SET state = ?1, sealed_version = ?2, server_state = NULL, updated_at = ?3 WHERE record_id = ?4",
                (SEALED, version.as_str(), now.to_rfc3339(), record_id.to_string()),
            )?;
            append(tx, self.new_id(), payload, now)?;
            Ok(version)
        })
    }

    /// Whether the record is sealed (immutable until a return is amended).
    pub fn is_sealed(&self, record_id: &Uuid) -> Result<bool, CoreError> {
        let state: Option<String> = self.store.read(|c| {
            Ok(c.query_row(
                "SELECT state FROM records WHERE record_id = ?1",
                [record_id.to_string()],
                |r| r.get(0),
            )
            .optional()?)
        })?;
        match state {
            Some(s) => Ok(s == SEALED),
            None => Err(CoreError::NotFound(format!("检查记录 {record_id}"))),
        }
    }

    /// Reopens a returned record for an amendment.
    pub fn start_amendment(
        &self,
        record_id: &Uuid,
        now: DateTime<Utc>,
    ) -> Result<RecordReturn, CoreError> {
        let ret = self.latest_return(record_id)?.ok_or_else(|| {
            CoreError::Refused(
                "该记录未被退回，封存后不能修改 (only a returned record can be amended)".into(),
            )
        })?;
        self.store.write(|tx| {
            let n = tx.execute(
                "UPDATE records SET state = ?1, updated_at = ?2 WHERE record_id = ?3 AND state = ?4 AND sealed_version = ?5",
                (AMENDING, now.to_rfc3339(), record_id.to_string(), SEALED, ret.version.as_str()),
            )?;
            if n == 0 {
                return Err(CoreError::Refused("退回的版本不是本机最后封存的版本，请先同步".into()));
            }
            Ok(())
        })?;
        Ok(ret)
    }

    pub fn latest_return(&self, record_id: &Uuid) -> Result<Option<RecordReturn>, CoreError> {
        self.store.read(|c| {
            let body: Option<String> = c
                .query_row(
                    "SELECT body FROM returns WHERE record_id = ?1 ORDER BY rowid DESC LIMIT 1",
                    [record_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            body.map(|b| Ok(serde_json::from_str(&b)?)).transpose()
        })
    }

    /// The device log as stored (for tests and diagnostics).
    pub fn log(&self) -> Result<Vec<(LogEntry, bool)>, CoreError> {
        self.store.read(|c| {
            let mut st = c.prepare("SELECT entry, confirmed FROM log ORDER BY idx")?;
            let rows: Vec<(String, i64)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            rows.into_iter()
                .map(|(e, c)| Ok((serde_json::from_str(&e)?, c != 0)))
                .collect()
        })
    }

    /// Entries the server took but refused on their merits, oldest first,
    /// with its words: what the sync screen shows the officer.
    pub fn refused_entries(&self) -> Result<Vec<(LogEntry, String)>, CoreError> {
        self.store.read(|c| {
            let mut st =
                c.prepare("SELECT entry, refused FROM log WHERE refused IS NOT NULL ORDER BY idx")?;
            let rows: Vec<(String, String)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            rows.into_iter()
                .map(|(e, m)| Ok((serde_json::from_str(&e)?, m)))
                .collect()
        })
    }

    /// Reads an evidence file's plaintext.
    pub fn evidence(&self, sha: &Sha256Hex) -> Result<Vec<u8>, CoreError> {
        self.evidence.get(sha)
    }
}

/// A record's (state, sealed version, content), read inside `tx`.
fn load_record(
    tx: &rusqlite::Transaction<'_>,
    record_id: &Uuid,
) -> Result<(String, Option<String>, InspectionRecord), CoreError> {
    let (state, sealed, body): (String, Option<String>, String) = tx
        .query_row(
            "SELECT state, sealed_version, record FROM records WHERE record_id = ?1",
            [record_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| CoreError::NotFound(format!("检查记录 {record_id}")))?;
    Ok((state, sealed, serde_json::from_str(&body)?))
}

/// Puts `sig` among `signatures`, replacing an earlier signature of the same
/// person (or, for the enterprise, the same name); an enterprise signature
/// replaces a recorded refusal.
pub(crate) fn put_signature(
    signatures: &mut Vec<Signature>,
    refusal: &mut Option<SignatureRefusal>,
    sig: Signature,
) {
    if sig.role == SignerRole::EnterpriseRepresentative {
        *refusal = None;
    }
    signatures.retain(|s| {
        !(s.role == sig.role
            && s.person_id == sig.person_id
            && (sig.person_id.is_some() || s.name == sig.name))
    });
    signatures.push(sig);
}

/// Notes inside `tx` that a record names an evidence file (`kind`: photo or
/// signature), for the uploader.
pub(crate) fn note_blob(
    tx: &rusqlite::Transaction<'_>,
    sha: &Sha256Hex,
    bytes: usize,
    record_id: &Uuid,
    kind: &str,
) -> Result<(), CoreError> {
    tx.execute(
        "INSERT INTO blobs (sha256, bytes, record_id, kind) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        (sha.as_str(), bytes as i64, record_id.to_string(), kind),
    )?;
    Ok(())
}

/// Appends an entry with ID `entry_id` to the device log inside `tx`.
pub(crate) fn append(
    tx: &rusqlite::Transaction<'_>,
    entry_id: Uuid,
    payload: EntryPayload,
    now: DateTime<Utc>,
) -> Result<LogEntry, CoreError> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT idx, hash FROM log ORDER BY idx DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (index, prev) = match last {
        Some((i, h)) => (
            i as u64 + 1,
            Some(Sha256Hex::parse(&h).map_err(|e| CoreError::Format(e.to_string()))?),
        ),
        None => (1, None),
    };
    let entry = LogEntry::new(entry_id, index, prev, now, payload);
    tx.execute(
        "INSERT INTO log (idx, entry_id, hash, entry) VALUES (?1, ?2, ?3, ?4)",
        (
            index as i64,
            entry.entry_id.to_string(),
            entry.hash.as_str(),
            serde_json::to_string(&entry)?,
        ),
    )?;
    Ok(entry)
}

/// China Standard Time: inspection dates and watermarks use local time.
pub fn china_time() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("valid offset"))
}
