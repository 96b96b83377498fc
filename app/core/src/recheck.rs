//! 复查 on the tablet: the follow-up visit of a rectification order.
//!
//! The server sends a [`RecheckTask`] through the feed when an order's
//! 复查 is due; it lands in `rechecks`. The officers start it, give each
//! ordered finding its result (已整改 / 部分整改 / 未整改 with a note),
//! photograph the gate and each finding's state, sign with the enterprise
//! and seal. The draft lives only on the device (in `recheck_records`);
//! sealing checks the rules of `choucha_shared::recheck` and appends one
//! `RecheckSealed` log entry, which syncs exactly once like every entry.
//! Each edit is one IMMEDIATE transaction that reads, changes and writes
//! the draft, as for inspection records.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use choucha_shared::completeness::Violation;
use choucha_shared::plan::MemberRole;
use choucha_shared::recheck::{self, Recheck, RecheckRecord, RecheckTask};
use choucha_shared::record::{
    Photo, PhotoSubject, RectificationOutcome, SignatureRefusal, SignerRole,
};
use choucha_shared::sync::EntryPayload;
use choucha_shared::value::{CivilDate, Sha256Hex};

use crate::app::{App, PhotoMeta, append, china_time, note_blob, put_signature};
use crate::error::CoreError;

const DRAFT: &str = "draft";
const SEALED: &str = "sealed";

/// A 复查 task on the task list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecheckSummary {
    pub task: RecheckTask,
    /// Days until the deadline (negative: passed).
    pub days_left: i64,
    /// The record started for it, if any, and whether it is sealed.
    pub record_id: Option<Uuid>,
    pub sealed: bool,
}

impl App {
    /// The 复查 tasks on this device, the earliest deadline first.
    pub fn rechecks(&self, today: NaiveDate) -> Result<Vec<RecheckSummary>, CoreError> {
        let mut out = self.recheck_rows(None, today)?;
        out.sort_by(|a, b| {
            (a.sealed, a.task.deadline, &a.task.recheck_id).cmp(&(
                b.sealed,
                b.task.deadline,
                &b.task.recheck_id,
            ))
        });
        Ok(out)
    }

    /// One 复查 task with the record started for it.
    pub fn recheck_summary(
        &self,
        recheck_id: &str,
        today: NaiveDate,
    ) -> Result<RecheckSummary, CoreError> {
        self.recheck_rows(Some(recheck_id), today)?
            .pop()
            .ok_or_else(|| CoreError::NotFound(format!("复查任务 {recheck_id}")))
    }

    /// The 复查 tasks on this device (only `one`, when given), each with
    /// its record.
    fn recheck_rows(
        &self,
        one: Option<&str>,
        today: NaiveDate,
    ) -> Result<Vec<RecheckSummary>, CoreError> {
        let rows: Vec<(String, Option<String>, Option<String>)> = self.store.read(|c| {
            let mut st = c.prepare(
                "SELECT t.task, r.record_id, r.state FROM rechecks t \
                 LEFT JOIN recheck_records r ON r.recheck_id = t.recheck_id \
                 WHERE ?1 IS NULL OR t.recheck_id = ?1",
            )?;
            let rows = st
                .query_map([one], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(task, record_id, state)| {
                let task: RecheckTask = serde_json::from_str(&task)?;
                Ok(RecheckSummary {
                    days_left: task.days_to_deadline(today),
                    task,
                    record_id: record_id
                        .map(|r| Uuid::parse_str(&r))
                        .transpose()
                        .map_err(|e| CoreError::Format(e.to_string()))?,
                    sealed: state.as_deref() == Some(SEALED),
                })
            })
            .collect::<Result<Vec<_>, CoreError>>()
    }

    /// One 复查 task as pulled.
    pub fn recheck_task(&self, recheck_id: &str) -> Result<RecheckTask, CoreError> {
        let body: Option<String> = self.store.read(|c| {
            Ok(c.query_row(
                "SELECT task FROM rechecks WHERE recheck_id = ?1",
                [recheck_id],
                |r| r.get(0),
            )
            .optional()?)
        })?;
        let body = body.ok_or_else(|| CoreError::NotFound(format!("复查任务 {recheck_id}")))?;
        Ok(serde_json::from_str(&body)?)
    }

    /// Starts (or resumes) the 复查 of a task this device's officer is on.
    pub fn start_recheck(&self, recheck_id: &str, now: DateTime<Utc>) -> Result<Uuid, CoreError> {
        let enrolment = self.enrolment()?.ok_or(CoreError::NotEnrolled)?;
        let task = self.recheck_task(recheck_id)?;
        if !task
            .team
            .iter()
            .any(|m| m.role == MemberRole::Officer && m.person_id == enrolment.officer_id)
        {
            return Err(CoreError::Refused(format!(
                "您不在复查任务 {recheck_id} 的检查组中，不能开始复查"
            )));
        }
        let today = CivilDate::new(now.with_timezone(&china_time()).date_naive())
            .map_err(|e| CoreError::Format(e.to_string()))?;
        let record = RecheckRecord::new(&task, self.new_id(), now, today);
        self.store.write(|tx| {
            // Looked up under the writer: a double tap starts one record.
            let existing: Option<String> = tx
                .query_row(
                    "SELECT record_id FROM recheck_records WHERE recheck_id = ?1",
                    [recheck_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(existing) = existing {
                return Uuid::parse_str(&existing).map_err(|e| CoreError::Format(e.to_string()));
            }
            tx.execute(
                "INSERT INTO recheck_records (record_id, recheck_id, state, record, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                (
                    record.record_id.to_string(),
                    recheck_id,
                    DRAFT,
                    serde_json::to_string(&record)?,
                    now.to_rfc3339(),
                ),
            )?;
            Ok(record.record_id)
        })
    }

    /// A 复查 record as it stands.
    pub fn recheck_record(&self, record_id: &Uuid) -> Result<RecheckRecord, CoreError> {
        self.store.read(|c| {
            let body: String = c
                .query_row(
                    "SELECT record FROM recheck_records WHERE record_id = ?1",
                    [record_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| CoreError::NotFound(format!("复查记录 {record_id}")))?;
            Ok(serde_json::from_str(&body)?)
        })
    }

    /// Reads the draft, changes it with `f` and writes it back in one
    /// IMMEDIATE transaction; refused once sealed.
    fn edit_recheck(
        &self,
        record_id: &Uuid,
        now: DateTime<Utc>,
        f: impl FnOnce(
            &mut RecheckRecord,
            &RecheckTask,
            &rusqlite::Transaction<'_>,
        ) -> Result<(), CoreError>,
    ) -> Result<RecheckRecord, CoreError> {
        self.store.write(|tx| {
            let (state, mut record) = load(tx, record_id)?;
            if state == SEALED {
                return Err(CoreError::Refused(
                    "复查记录已封存，不能修改 (sealed)".into(),
                ));
            }
            let task = self.recheck_task(&record.recheck_id)?;
            f(&mut record, &task, tx)?;
            tx.execute(
                "UPDATE recheck_records SET record = ?1, updated_at = ?2 WHERE record_id = ?3",
                (
                    serde_json::to_string(&record)?,
                    now.to_rfc3339(),
                    record_id.to_string(),
                ),
            )?;
            Ok(record)
        })
    }

    /// Sets the result of one ordered finding.
    pub fn set_recheck_result(
        &self,
        record_id: &Uuid,
        finding_id: &Uuid,
        outcome: RectificationOutcome,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        self.edit_recheck(record_id, now, |record, task, _| {
            if !task.findings.iter().any(|f| &f.finding_id == finding_id) {
                return Err(CoreError::NotFound(format!("整改事项 {finding_id}")));
            }
            let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
            record
                .results
                .insert(finding_id.to_string(), Recheck { outcome, note });
            Ok(())
        })?;
        Ok(())
    }

    /// Stores a processed photo of the gate or of one finding's state.
    pub fn attach_recheck_photo(
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
        self.edit_recheck(record_id, now, |record, task, tx| {
            match &photo.subject {
                PhotoSubject::Gate => {}
                PhotoSubject::Finding(id) if task.findings.iter().any(|f| &f.finding_id == id) => {}
                other => {
                    return Err(CoreError::Refused(format!(
                        "复查只拍摄大门和整改事项的照片，不能拍摄「{}」",
                        other.label_zh()
                    )));
                }
            }
            if !record
                .photos
                .iter()
                .any(|p| p.sha256 == photo.sha256 && p.subject == photo.subject)
            {
                record.photos.push(photo.clone());
            }
            note_blob(tx, &sha, jpeg.len(), record_id, "photo")
        })?;
        Ok(sha)
    }

    /// The hash a signer of the 复查 record signs.
    pub fn recheck_content_hash(&self, record_id: &Uuid) -> Result<Sha256Hex, CoreError> {
        Ok(self.recheck_record(record_id)?.content_hash())
    }

    /// Stores a signature image made over `content_hash`, replacing an
    /// earlier signature of the same person.
    #[allow(clippy::too_many_arguments)]
    pub fn add_recheck_signature(
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
        self.edit_recheck(record_id, now, |record, _, tx| {
            put_signature(&mut record.signatures, &mut record.refusal, sig);
            note_blob(tx, &sha, png.len(), record_id, "signature")
        })?;
        Ok(())
    }

    /// The enterprise refused to sign the 复查 record.
    pub fn record_recheck_refusal(
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
        self.edit_recheck(record_id, now, |record, _, _| {
            record
                .signatures
                .retain(|s| s.role != SignerRole::EnterpriseRepresentative);
            record.refusal = Some(refusal);
            Ok(())
        })?;
        Ok(())
    }

    /// Every violation of the 复查 sealing rules.
    pub fn check_recheck(&self, record_id: &Uuid) -> Result<Vec<Violation>, CoreError> {
        let record = self.recheck_record(record_id)?;
        let task = self.recheck_task(&record.recheck_id)?;
        Ok(recheck::check(&task, &record))
    }

    /// Seals the 复查 record: refused with every violation listed when it
    /// is not complete; sealed once.
    pub fn seal_recheck(
        &self,
        record_id: &Uuid,
        now: DateTime<Utc>,
    ) -> Result<Sha256Hex, CoreError> {
        self.store.write(|tx| {
            let (state, record) = load(tx, record_id)?;
            if state == SEALED {
                return Err(CoreError::Refused("复查记录已封存 (already sealed)".into()));
            }
            let task = self.recheck_task(&record.recheck_id)?;
            let violations = recheck::check(&task, &record);
            if !violations.is_empty() {
                return Err(CoreError::Incomplete(violations));
            }
            let version = record.version();
            tx.execute(
                "UPDATE recheck_records SET state = ?1, updated_at = ?2 WHERE record_id = ?3",
                (SEALED, now.to_rfc3339(), record_id.to_string()),
            )?;
            append(
                tx,
                self.new_id(),
                EntryPayload::RecheckSealed { record },
                now,
            )?;
            Ok(version)
        })
    }
}

/// A 复查 record's (state, content), read inside `tx`.
fn load(
    tx: &rusqlite::Transaction<'_>,
    record_id: &Uuid,
) -> Result<(String, RecheckRecord), CoreError> {
    let (state, body): (String, String) = tx
        .query_row(
            "SELECT state, record FROM recheck_records WHERE record_id = ?1",
            [record_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| CoreError::NotFound(format!("复查记录 {record_id}")))?;
    Ok((state, serde_json::from_str(&body)?))
}
