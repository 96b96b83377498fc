//! Consultation (咨询, seed §五(三)): questions officers ask on site and
//! the quality section's answers (`questions`).
//!
//! A question arrives in a push ([`ingest`]) and is decided against the
//! server's facts: the device's officer is on the task's drawn team, and
//! the item it names is on the task's checklist. The town it is filed under
//! is the task's target's, not anything the device says, so a town lead
//! sees exactly their town's questions. An answer is recorded once
//! ([`Store::answer_question`]) and reaches the asking officer through the
//! feed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use choucha_checklists::Catalogue;
use choucha_shared::checklist::ChecklistRef;
use choucha_shared::consult::{Answer, FaqEntry, Question};
use choucha_shared::value::Sha256Hex;

use super::audit::{self, Actor, Change};
use super::sync::DeviceCtx;
use super::{Store, StoreError, corrupt, now, parse_time};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// A question as the console shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionRow {
    pub question_id: Uuid,
    pub task_id: String,
    pub officer_id: String,
    /// The asking officer's name, from the directory.
    pub officer_name: Option<String>,
    pub item_id: Option<String>,
    pub finding_id: Option<Uuid>,
    /// The task's target's town (the server's, not the device's).
    pub jurisdiction: String,
    pub category: String,
    pub target_name: Option<String>,
    pub text: String,
    pub photos: Vec<Sha256Hex>,
    pub asked_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub answer: Option<Answer>,
}

impl QuestionRow {
    /// How long the officer waited (from arrival on the server), for an
    /// answered question.
    pub fn response_time(&self) -> Option<chrono::Duration> {
        self.answer
            .as_ref()
            .map(|a| a.answered_at - self.received_at)
    }
}

/// Decides one question of a push; returns why it was refused (`None`:
/// taken, or taken before).
pub(super) async fn ingest(
    tx: &mut Tx<'_>,
    backend: super::Backend,
    device: &DeviceCtx,
    question: &Question,
    received_at: &str,
    catalogue: &Catalogue,
) -> Result<Option<String>, StoreError> {
    if let Err(e) = question.check() {
        return Ok(Some(format!("问题未予接收：{e}")));
    }
    type TaskRow = (String, String, String, i64, Option<String>);
    let task: Option<TaskRow> = sqlx::query_as(
        "SELECT t.category, t.target_key, t.checklist_id, t.checklist_version, g.jurisdiction \
         FROM tasks t LEFT JOIN targets g ON g.category = t.category AND g.target_key = t.target_key \
         WHERE t.task_id = $1",
    )
    .bind(&question.task_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((category, _, checklist_id, checklist_version, town)) = task else {
        return Ok(Some(format!(
            "任务 {} 不存在，问题未予接收 (no such task)",
            question.task_id
        )));
    };
    let on_team: Option<(String,)> = sqlx::query_as(
        "SELECT role FROM task_members WHERE task_id = $1 AND person_id = $2 AND role = 'officer'",
    )
    .bind(&question.task_id)
    .bind(&device.officer_id)
    .fetch_optional(&mut **tx)
    .await?;
    if on_team.is_none() {
        return Ok(Some(format!(
            "任务 {} 不属于本设备执法人员所在的检查组，问题未予接收 (not your team's task)",
            question.task_id
        )));
    }
    if let Some(item) = &question.item_id {
        let checklist = catalogue.get(&ChecklistRef {
            id: checklist_id.clone(),
            version: checklist_version as u32,
        });
        if !checklist.is_some_and(|c| c.items().any(|i| &i.id == item)) {
            return Ok(Some(format!(
                "检查表 {checklist_id} 第 {checklist_version} 版没有检查项 {item}，问题未予接收"
            )));
        }
    }
    let photos = serde_json::to_string(&question.photos).map_err(corrupt)?;
    let done = sqlx::query(
        "INSERT INTO questions (question_id, task_id, officer_id, device_id, item_id, finding_id, \
         jurisdiction, category, text, photos, asked_at, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (question_id) DO NOTHING",
    )
    .bind(question.question_id.to_string())
    .bind(&question.task_id)
    .bind(&device.officer_id)
    .bind(&device.device_id)
    .bind(question.item_id.clone())
    .bind(question.finding_id.map(|f| f.to_string()))
    .bind(town.unwrap_or_default())
    .bind(&category)
    .bind(question.text.trim())
    .bind(&photos)
    .bind(question.asked_at.to_rfc3339())
    .bind(received_at)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        let owner = format!("question:{}", question.question_id);
        super::unnamed_blobs::name_blobs(tx, backend, &owner, &question.photos).await?;
    }
    if done.rows_affected() == 0 {
        // The same question again (a retried push) is fine; another
        // device's question under this ID is not.
        let (device_id,): (String,) =
            sqlx::query_as("SELECT device_id FROM questions WHERE question_id = $1")
                .bind(question.question_id.to_string())
                .fetch_one(&mut **tx)
                .await?;
        if device_id != device.device_id {
            return Ok(Some("问题编号已被另一设备使用，未予接收".to_owned()));
        }
    }
    Ok(None)
}

/// Which questions the console lists.
#[derive(Debug, Clone, Default)]
pub struct QuestionFilter {
    /// Only this town's (a town lead's scope, or a chosen town).
    pub town: Option<String>,
    /// Only those still waiting for an answer.
    pub open_only: bool,
}

// sqlx reads tuples of at most 16 columns, so who answered, when and the
// answer's attachments come as one column (`by TAB at TAB [attachments]`,
// NULL until answered).
const COLUMNS: &str = "q.question_id, q.task_id, q.officer_id, o.name, q.item_id, q.finding_id, \
    q.jurisdiction, q.category, g.name, q.text, q.photos, q.asked_at, q.received_at, \
    q.answer, q.basis, q.answered_by || '\t' || q.answered_at || '\t' || COALESCE(q.answer_attachments, '[]')";

const FROM: &str = "FROM questions q \
    LEFT JOIN officers o ON o.credential_no = q.officer_id \
    LEFT JOIN tasks t ON t.task_id = q.task_id \
    LEFT JOIN targets g ON g.category = t.category AND g.target_key = t.target_key";

type Row = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn row(r: Row) -> Result<QuestionRow, StoreError> {
    let (id, task_id, officer_id, officer_name, item_id, finding_id, town, category, target) =
        (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8);
    let (text, photos, asked_at, received_at) = (r.9, r.10, r.11, r.12);
    let question_id: Uuid = id.parse().map_err(corrupt)?;
    let by_at: Option<Vec<&str>> = r.15.as_deref().map(|s| s.splitn(3, '\t').collect());
    let answer = match (r.13, by_at.as_deref()) {
        (Some(text), Some([by, at, attachments])) => Some(Answer {
            question_id,
            task_id: task_id.clone(),
            item_id: item_id.clone(),
            text,
            basis: r.14,
            answered_by: (*by).to_owned(),
            answered_at: parse_time(at)?,
            attachments: serde_json::from_str(attachments).map_err(corrupt)?,
        }),
        _ => None,
    };
    Ok(QuestionRow {
        question_id,
        task_id,
        officer_id,
        officer_name,
        item_id,
        finding_id: finding_id.map(|f| f.parse()).transpose().map_err(corrupt)?,
        jurisdiction: town,
        category,
        target_name: target,
        text,
        photos: serde_json::from_str(&photos).map_err(corrupt)?,
        asked_at: parse_time(&asked_at)?,
        received_at: parse_time(&received_at)?,
        answer,
    })
}

impl Store {
    /// Questions, the oldest waiting first, then the answered ones newest
    /// first.
    pub async fn questions(&self, filter: &QuestionFilter) -> Result<Vec<QuestionRow>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} {FROM} WHERE 1 = 1");
        if filter.town.is_some() {
            sql.push_str(" AND q.jurisdiction = $1");
        }
        if filter.open_only {
            sql.push_str(" AND q.answered_at IS NULL");
        }
        sql.push_str(
            " ORDER BY CASE WHEN q.answered_at IS NULL THEN 0 ELSE 1 END, \
             CASE WHEN q.answered_at IS NULL THEN q.received_at END ASC, q.answered_at DESC LIMIT 500",
        );
        let mut q = sqlx::query_as::<_, Row>(&sql);
        if let Some(town) = &filter.town {
            q = q.bind(town);
        }
        q.fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(row)
            .collect()
    }

    pub async fn question(&self, question_id: &Uuid) -> Result<QuestionRow, StoreError> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE q.question_id = $1");
        let r: Option<Row> = sqlx::query_as(&sql)
            .bind(question_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row(r.ok_or_else(|| StoreError::NotFound(format!("问题 {question_id} 不存在")))?)
    }

    /// Records the answer to a question (once) and sends it to the asking
    /// officer's feed.
    #[tracing::instrument(level = "debug", name = "store.answer_question", skip_all)]
    pub async fn answer_question(
        &self,
        question_id: &Uuid,
        text: &str,
        basis: Option<&str>,
        answered_by: &str,
        attachments: &[Sha256Hex],
        actor: &Actor,
    ) -> Result<Answer, StoreError> {
        let _writer = self.writer().await;
        let before = self.question(question_id).await?;
        if let Some(a) = &before.answer {
            return Err(StoreError::Conflict(format!(
                "该问题已于 {} 由 {} 答复",
                choucha_shared::value::china_minute(a.answered_at),
                a.answered_by
            )));
        }
        let answer = Answer {
            question_id: *question_id,
            task_id: before.task_id.clone(),
            item_id: before.item_id.clone(),
            text: text.trim().to_owned(),
            basis: basis
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .map(str::to_owned),
            answered_by: answered_by.trim().to_owned(),
            answered_at: Utc::now(),
            attachments: attachments.to_vec(),
        };
        if let Err(e) = answer.check() {
            return Err(StoreError::invalid(
                e.to_string(),
                serde_json::json!({ "field": "text" }),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE questions SET answer = $1, basis = $2, answered_by = $3, answered_at = $4, \
             answer_attachments = $6 WHERE question_id = $5 AND answered_at IS NULL",
        )
        .bind(&answer.text)
        .bind(answer.basis.clone())
        .bind(&answer.answered_by)
        .bind(answer.answered_at.to_rfc3339())
        .bind(question_id.to_string())
        .bind(serde_json::to_string(&answer.attachments).map_err(corrupt)?)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "该问题刚刚已被答复，请刷新".to_owned(),
            ));
        }
        let owner = format!("answer:{question_id}");
        super::unnamed_blobs::name_blobs(&mut tx, self.backend, &owner, &answer.attachments)
            .await?;
        sqlx::query(
            "INSERT INTO officer_feed (person_id, kind, ref_id, payload, created_at) VALUES ($1, 'answer', $2, '', $3)",
        )
        .bind(&before.officer_id)
        .bind(question_id.to_string())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "question.answer",
                object: format!("question:{question_id}"),
                before: Some(serde_json::json!({ "answered_at": null })),
                after: Some(serde_json::to_value(&answer).map_err(corrupt)?),
            },
        )
        .await?;
        tx.commit().await?;
        self.feed_written([before.officer_id.as_str()]);
        Ok(answer)
    }

    /// Makes an answered question about an item an entry of its
    /// checklist's FAQ (常见问题), worded as the quality section edits it,
    /// and sends it to every officer with a task on that checklist.
    #[tracing::instrument(level = "debug", name = "store.publish_faq", skip_all)]
    pub async fn publish_faq(
        &self,
        question_id: &Uuid,
        question: &str,
        answer: &str,
        actor: &Actor,
    ) -> Result<FaqEntry, StoreError> {
        let _writer = self.writer().await;
        let q = self.question(question_id).await?;
        let (Some(a), Some(item_id)) = (&q.answer, &q.item_id) else {
            return Err(StoreError::Conflict(
                "只有已答复、且针对某一检查项的问题才能收入常见问题".to_owned(),
            ));
        };
        let (question, answer) = (question.trim(), answer.trim());
        if question.is_empty() || answer.is_empty() {
            return Err(StoreError::invalid(
                "常见问题须有问题和答复",
                serde_json::json!({ "field": "question" }),
            ));
        }
        let (checklist_id,): (String,) =
            sqlx::query_as("SELECT checklist_id FROM tasks WHERE task_id = $1")
                .bind(&q.task_id)
                .fetch_one(&self.pool)
                .await?;
        let mut tx = self.pool.begin().await?;
        let (last,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(seq) FROM faq WHERE checklist_id = $1")
                .bind(&checklist_id)
                .fetch_one(&mut *tx)
                .await?;
        let entry = FaqEntry {
            faq_id: *question_id,
            checklist_id: checklist_id.clone(),
            item_id: item_id.clone(),
            seq: last.unwrap_or(0) as u32 + 1,
            question: question.to_owned(),
            answer: answer.to_owned(),
            basis: a.basis.clone(),
            published_at: Utc::now(),
        };
        sqlx::query(
            "INSERT INTO faq (faq_id, checklist_id, item_id, seq, question, answer, basis, published_by, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(entry.faq_id.to_string())
        .bind(&entry.checklist_id)
        .bind(&entry.item_id)
        .bind(i64::from(entry.seq))
        .bind(&entry.question)
        .bind(&entry.answer)
        .bind(entry.basis.clone())
        .bind(actor.as_str())
        .bind(entry.published_at.to_rfc3339())
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            // The same question twice, or two entries taking one number.
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(
                "该问题已收入常见问题，或另一条正同时收入，请刷新".to_owned(),
            ),
            other => other.into(),
        })?;
        let officers: Vec<(String,)> = sqlx::query_as(
            "INSERT INTO officer_feed (person_id, kind, ref_id, payload, created_at) \
             SELECT DISTINCT m.person_id, 'faq', $1, '', $2 FROM task_members m \
             JOIN tasks t ON t.task_id = m.task_id WHERE t.checklist_id = $3 AND m.role = 'officer' \
             RETURNING person_id",
        )
        .bind(entry.faq_id.to_string())
        .bind(now())
        .bind(&checklist_id)
        .fetch_all(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "faq.publish",
                object: format!("question:{question_id}"),
                before: None,
                after: Some(serde_json::to_value(&entry).map_err(corrupt)?),
            },
        )
        .await?;
        tx.commit().await?;
        self.feed_written(officers.iter().map(|(p,)| p.as_str()));
        Ok(entry)
    }

    /// A published FAQ entry.
    pub async fn faq_entry(&self, faq_id: &str) -> Result<Option<FaqEntry>, StoreError> {
        type Row = (
            String,
            String,
            String,
            i64,
            String,
            String,
            Option<String>,
            String,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT faq_id, checklist_id, item_id, seq, question, answer, basis, published_at FROM faq WHERE faq_id = $1",
        )
        .bind(faq_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(
            |(id, checklist_id, item_id, seq, question, answer, basis, at)| {
                Ok(FaqEntry {
                    faq_id: id.parse().map_err(corrupt)?,
                    checklist_id,
                    item_id,
                    seq: seq as u32,
                    question,
                    answer,
                    basis,
                    published_at: parse_time(&at)?,
                })
            },
        )
        .transpose()
    }

    /// The answer of a question, for the feed.
    pub(super) async fn answer_for_feed(
        &self,
        question_id: &str,
    ) -> Result<Option<Answer>, StoreError> {
        let Ok(id) = question_id.parse::<Uuid>() else {
            return Ok(None);
        };
        Ok(self.question(&id).await.ok().and_then(|q| q.answer))
    }
}
