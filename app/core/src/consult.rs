//! Asking the quality section (咨询) from the tablet, offline too.
//!
//! A question is one transaction: its photos into the evidence store (noted
//! for the uploader), the question into `questions`, one `QuestionAsked`
//! entry onto the device log. It syncs exactly once like every entry; the
//! answer comes back through the feed and is shown with the item it is
//! about.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use choucha_shared::consult::QuestionView;
use choucha_shared::consult::{Answer, FaqEntry, Question};
use choucha_shared::sync::EntryPayload;
use choucha_shared::value::Sha256Hex;
use choucha_sync_client::{Client, Transport, wire};

use crate::app::{App, append, note_blob};
use crate::error::CoreError;

/// Largest photo attached to a question or an escalation.
const MAX_PHOTO_BYTES: usize = 12 * 1024 * 1024;

/// Photos attached to a question or an escalation: camera JPEGs, none
/// larger than [`MAX_PHOTO_BYTES`]; the first bad one named by position.
pub(crate) fn check_attached_photos(photos: &[Vec<u8>]) -> Result<(), CoreError> {
    for (i, p) in photos.iter().enumerate() {
        if !p.starts_with(&[0xFF, 0xD8]) {
            return Err(CoreError::Refused(format!(
                "第 {} 张照片不是 JPEG 图片",
                i + 1
            )));
        }
        if p.len() > MAX_PHOTO_BYTES {
            return Err(CoreError::Refused(format!(
                "第 {} 张照片过大（{} MB），最大 {} MB",
                i + 1,
                p.len() / (1024 * 1024),
                MAX_PHOTO_BYTES / (1024 * 1024)
            )));
        }
    }
    Ok(())
}

/// What a question is about, as the officer chose it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    pub task_id: String,
    #[serde(default)]
    pub item_id: Option<String>,
    #[serde(default)]
    pub finding_id: Option<Uuid>,
}

impl App {
    /// Asks the quality section about a task (an item, a finding of it),
    /// with photos (JPEG). Works offline: the question waits in the log.
    pub fn ask(
        &self,
        about: &About,
        text: &str,
        photos: &[Vec<u8>],
        now: DateTime<Utc>,
    ) -> Result<Uuid, CoreError> {
        let bundle = self.task(&about.task_id)?;
        if let Some(item) = &about.item_id {
            let checklist = self.checklist(&bundle.task.checklist)?;
            if !checklist.items().any(|i| &i.id == item) {
                return Err(CoreError::Refused(format!("检查表中没有检查项 {item}")));
            }
        }
        check_attached_photos(photos)?;
        let question_id = self.new_id();
        let mut hashes = Vec::with_capacity(photos.len());
        for p in photos {
            hashes.push(self.evidence.put(p)?);
        }
        let question = Question {
            question_id,
            task_id: about.task_id.clone(),
            item_id: about.item_id.clone(),
            finding_id: about.finding_id,
            text: text.trim().to_owned(),
            photos: hashes.clone(),
            asked_at: now,
        };
        question
            .check()
            .map_err(|e| CoreError::Refused(e.to_string()))?;
        self.store.write(|tx| {
            for (sha, p) in hashes.iter().zip(photos) {
                note_blob(tx, sha, p.len(), &question_id, "photo")?;
            }
            tx.execute(
                "INSERT INTO questions (question_id, task_id, question) VALUES (?1, ?2, ?3)",
                (
                    question_id.to_string(),
                    &question.task_id,
                    serde_json::to_string(&question)?,
                ),
            )?;
            append(
                tx,
                self.new_id(),
                EntryPayload::QuestionAsked {
                    question: question.clone(),
                },
                now,
            )?;
            Ok(())
        })?;
        Ok(question_id)
    }

    /// The questions asked from this device about a task, oldest first,
    /// with their answers.
    pub fn questions(&self, task_id: &str) -> Result<Vec<QuestionView>, CoreError> {
        self.store.read(|c| {
            let mut st = c.prepare(
                "SELECT question, answer FROM questions WHERE task_id = ?1 ORDER BY question_id",
            )?;
            let rows: Vec<(String, Option<String>)> = st
                .query_map([task_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            rows.into_iter()
                .map(|(q, a)| {
                    Ok(QuestionView {
                        question: serde_json::from_str(&q)?,
                        answer: a.map(|a| serde_json::from_str(&a)).transpose()?,
                    })
                })
                .collect()
        })
    }

    /// The FAQ of a checklist (every version of it), in published order.
    pub fn faq(&self, checklist_id: &str) -> Result<Vec<FaqEntry>, CoreError> {
        self.store.read(|c| {
            let mut st = c.prepare("SELECT entry FROM faq WHERE checklist_id = ?1 ORDER BY seq")?;
            let rows: Vec<String> = st
                .query_map([checklist_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            rows.into_iter()
                .map(|e| Ok(serde_json::from_str(&e)?))
                .collect()
        })
    }

    /// Stores an FAQ entry from the feed (again is harmless).
    pub(crate) fn take_faq(
        tx: &rusqlite::Transaction<'_>,
        entry: &FaqEntry,
    ) -> Result<bool, CoreError> {
        let changed = tx.execute(
            "INSERT INTO faq (faq_id, checklist_id, seq, entry) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            (
                entry.faq_id.to_string(),
                &entry.checklist_id,
                entry.seq,
                serde_json::to_string(entry)?,
            ),
        )?;
        Ok(changed == 1)
    }

    /// Stores an answer from the feed (again is harmless).
    pub(crate) fn take_answer(
        tx: &rusqlite::Transaction<'_>,
        answer: &Answer,
    ) -> Result<bool, CoreError> {
        let changed = tx.execute(
            "UPDATE questions SET answer = ?1 WHERE question_id = ?2",
            (
                serde_json::to_string(answer)?,
                answer.question_id.to_string(),
            ),
        )?;
        Ok(changed == 1)
    }

    /// Brings the images answers came with into the evidence store, once:
    /// the answer shows at once, its images as soon as they are here. One
    /// the server no longer has (404) is left for a later sync; one that
    /// does not match its hash is refused.
    pub(crate) async fn fetch_attachments<T: Transport + Sync>(
        &self,
        client: &Client<T>,
    ) -> Result<usize, CoreError> {
        let answers: Vec<String> = self.store.read(|c| {
            let mut st = c.prepare("SELECT answer FROM questions WHERE answer IS NOT NULL")?;
            let rows = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        let mut fetched = 0;
        for json in answers {
            let answer: Answer = serde_json::from_str(&json)?;
            for sha in answer
                .attachments
                .iter()
                .filter(|s| !self.evidence.contains(s))
            {
                let path = format!(
                    "/api/v1/device/questions/{}/attachments/{sha}",
                    answer.question_id
                );
                let resp = client.send(wire::get(client.token(), path)).await?;
                if resp.status == 404 {
                    continue;
                }
                if !resp.is_success() {
                    return Err(CoreError::Format(format!(
                        "答复附件下载失败：HTTP {} (attachment {sha})",
                        resp.status
                    )));
                }
                if Sha256Hex::of(&resp.body) != *sha {
                    return Err(CoreError::Format(format!(
                        "答复附件与其校验值不符 (attachment {sha})"
                    )));
                }
                self.evidence.put(&resp.body)?;
                fetched += 1;
            }
        }
        Ok(fetched)
    }
}
