//! Review decisions on a record's current version: approve, mark "has
//! issues", return to the team. Each is one transaction that reads the
//! version's state, asks [`ReviewState::apply`] whether the decision is
//! legal, writes the new state only if nobody changed it meanwhile, and
//! appends the audit entry — so the console, the REST API and any later
//! transport cannot drift apart.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use choucha_shared::review::{ReviewAction, ReviewState};
use choucha_shared::sync::RecordReturn;
use choucha_shared::value::Sha256Hex;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, corrupt, now};

/// What a review decision changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewChange {
    pub task_id: String,
    pub before: ReviewState,
    pub after: ReviewState,
}

/// Reads the current version's state, applies `action` and writes the new
/// state if the row still has the state read (compare and set).
async fn transition(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    record_id: &Uuid,
    version: &Sha256Hex,
    action: ReviewAction,
) -> Result<ReviewChange, StoreError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT state, task_id FROM records WHERE record_id = $1 AND version = $2 AND superseded = 0",
    )
    .bind(record_id.to_string())
    .bind(version.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let (state, task_id) = row
        .ok_or_else(|| StoreError::NotFound(format!("记录 {record_id} 没有当前版本 {version}")))?;
    let before: ReviewState = state.parse().map_err(corrupt)?;
    let after = before
        .apply(action)
        .map_err(|e| StoreError::Conflict(format!("记录 {record_id} 的版本 {version}：{e}")))?;
    let done = sqlx::query(
        "UPDATE records SET state = $1 WHERE record_id = $2 AND version = $3 AND superseded = 0 AND state = $4",
    )
    .bind(after.as_str())
    .bind(record_id.to_string())
    .bind(version.as_str())
    .bind(before.as_str())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict(format!(
            "记录 {record_id} 的版本 {version} 刚被他人处理，请刷新后重试 (changed meanwhile)"
        )));
    }
    Ok(ReviewChange {
        task_id,
        before,
        after,
    })
}

fn object(record_id: &Uuid) -> String {
    format!("record:{record_id}")
}

impl Store {
    /// Approves (审核通过) or marks "has issues" (存在问题) the current
    /// version of a record, with its audit entry.
    #[tracing::instrument(level = "debug", name = "store.review_record", skip_all)]
    pub async fn review_record(
        &self,
        actor: &Actor,
        record_id: &Uuid,
        version: &Sha256Hex,
        action: ReviewAction,
    ) -> Result<ReviewChange, StoreError> {
        debug_assert!(matches!(
            action,
            ReviewAction::Approve | ReviewAction::MarkHasIssues
        ));
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let change = transition(&mut tx, record_id, version, action).await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: &format!("record.{}", action.as_str()),
                object: object(record_id),
                before: Some(json!({ "version": version, "state": change.before })),
                after: Some(json!({ "version": version, "state": change.after })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(change)
    }

    /// Returns the current version of a record to its team ("please fix"):
    /// the state, the return note, one feed item per officer of the team
    /// and the audit entry, in one transaction.
    #[tracing::instrument(level = "debug", name = "store.return_record", skip_all)]
    pub async fn return_record(
        &self,
        actor: &Actor,
        record_id: &Uuid,
        version: &Sha256Hex,
        comment: &str,
        item_comments: BTreeMap<String, String>,
    ) -> Result<RecordReturn, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let change = transition(&mut tx, record_id, version, ReviewAction::Return).await?;
        let ret = RecordReturn {
            record_id: *record_id,
            task_id: change.task_id.clone(),
            version: version.clone(),
            comment: comment.to_owned(),
            item_comments,
            returned_at: Utc::now(),
        };
        sqlx::query("INSERT INTO returns (record_id, version, comment, item_comments, returned_by, returned_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(record_id.to_string())
            .bind(version.as_str())
            .bind(comment)
            .bind(serde_json::to_string(&ret.item_comments).map_err(corrupt)?)
            .bind(actor.as_str())
            .bind(now())
            .execute(&mut *tx)
            .await?;
        let members: Vec<(String,)> = sqlx::query_as(
            "SELECT person_id FROM task_members WHERE task_id = $1 AND role = 'officer'",
        )
        .bind(&change.task_id)
        .fetch_all(&mut *tx)
        .await?;
        let payload = serde_json::to_string(&ret).map_err(corrupt)?;
        for (person,) in &members {
            sqlx::query("INSERT INTO officer_feed (person_id, kind, ref_id, payload, created_at) VALUES ($1, 'return', $2, $3, $4)")
                .bind(person)
                .bind(record_id.to_string())
                .bind(&payload)
                .bind(now())
                .execute(&mut *tx)
                .await?;
        }
        audit::append(
            &mut tx,
            Change {
                actor,
                action: &format!("record.{}", ReviewAction::Return.as_str()),
                object: object(record_id),
                before: Some(json!({ "version": version, "state": change.before })),
                after: Some(json!({
                    "version": version,
                    "state": change.after,
                    "comment": ret.comment,
                    "item_comments": ret.item_comments,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        self.feed_written(members.iter().map(|(p,)| p.as_str()));
        Ok(ret)
    }
}
