//! Reporting a problem upward (上报) from the tablet, offline too.
//!
//! Like a question (`consult`): one transaction puts the photos into the
//! evidence store (noted for the uploader), the escalation into
//! `escalations` and one `Escalated` entry onto the device log; it syncs
//! exactly once. The server files it under the task's town and alerts the
//! quality section as soon as it arrives.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use choucha_shared::escalation::{Escalation, EscalationKind};
use choucha_shared::sync::EntryPayload;

use crate::app::{App, append, note_blob};
use crate::consult::check_attached_photos;
use crate::error::CoreError;

impl App {
    /// Reports a problem of a task (its record, a finding of it) upward,
    /// with photos (JPEG). Works offline: the escalation waits in the log.
    pub fn escalate(
        &self,
        task_id: &str,
        finding_id: Option<Uuid>,
        kind: EscalationKind,
        description: &str,
        photos: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<Uuid, CoreError> {
        self.task(task_id)?; // a task this tablet holds
        let record_id = self
            .tasks()?
            .into_iter()
            .find(|t| t.task_id == task_id)
            .and_then(|t| t.record_id);
        check_attached_photos(photos)?;
        let escalation_id = self.new_id();
        let mut hashes = Vec::with_capacity(photos.len());
        for p in photos {
            hashes.push(self.evidence.put(p)?);
        }
        let escalation = Escalation {
            escalation_id,
            task_id: task_id.to_owned(),
            record_id,
            finding_id,
            kind,
            description: description.trim().to_owned(),
            photos: hashes.clone(),
            raised_at: now,
        };
        escalation.check().map_err(CoreError::Refused)?;
        self.store.write(|tx| {
            for (sha, p) in hashes.iter().zip(photos) {
                note_blob(tx, sha, p.len(), &escalation_id, "photo")?;
            }
            tx.execute(
                "INSERT INTO escalations (escalation_id, task_id, escalation) VALUES (?1, ?2, ?3)",
                (
                    escalation_id.to_string(),
                    task_id,
                    serde_json::to_string(&escalation)?,
                ),
            )?;
            append(
                tx,
                self.new_id(),
                EntryPayload::Escalated {
                    escalation: escalation.clone(),
                },
                now,
            )?;
            Ok(())
        })?;
        Ok(escalation_id)
    }

    /// What this device reported upward about a task, oldest first.
    pub fn escalations(&self, task_id: &str) -> Result<Vec<Escalation>, CoreError> {
        self.store.read(|c| {
            let mut st = c.prepare(
                "SELECT escalation FROM escalations WHERE task_id = ?1 ORDER BY escalation_id",
            )?;
            let rows: Vec<String> = st
                .query_map([task_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            rows.iter().map(|e| Ok(serde_json::from_str(e)?)).collect()
        })
    }
}
