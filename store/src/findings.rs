//! Findings in the projection and the follow-up steps recorded for them
//! (`oversight_findings`, `followup_actions`). What a step does to a finding
//! is decided by [`FindingState::after`] in `choucha-shared`; this module
//! reads and writes it in one transaction with the audit entry.

use choucha_shared::followup::{FindingState, FollowUpAction, FollowUpError};
use choucha_shared::record::DispositionKind;
use choucha_shared::review::ReviewState;
use chrono::NaiveDate;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, corrupt, now};

impl From<FollowUpError> for StoreError {
    fn from(e: FollowUpError) -> Self {
        match e {
            FollowUpError::Invalid { field, message } => StoreError::field(field, message),
            FollowUpError::Conflict(m) => StoreError::Conflict(m),
        }
    }
}

const COLUMNS: &str = "finding_id, record_id, task_id, jurisdiction, category, item_id, description, kind, order_no, deadline, \
                       reference, organ, followed_up_on, outcome, closed";

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

fn from_row(r: Row, today: NaiveDate) -> Result<FindingState, StoreError> {
    let kind: DispositionKind = r.7.parse().map_err(corrupt)?;
    let mut f = FindingState {
        finding_id: r.0,
        record_id: r.1,
        task_id: r.2,
        town: r.3,
        category: r.4,
        item_id: r.5,
        description: r.6,
        kind,
        order_no: r.8,
        deadline: r.9,
        reference: r.10,
        organ: r.11,
        followed_up_on: r.12,
        outcome: r.13,
        closed: r.14 != 0,
        overdue: false,
    };
    f.overdue = f.is_overdue(today);
    Ok(f)
}

fn not_found(finding_id: &str) -> StoreError {
    StoreError::NotFound(format!("问题 {finding_id} 不存在"))
}

impl Store {
    /// The findings of a record's current version.
    pub async fn findings_of_record(
        &self,
        record_id: &str,
        today: NaiveDate,
    ) -> Result<Vec<FindingState>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM oversight_findings WHERE record_id = $1 ORDER BY finding_id"
        ))
        .bind(record_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| from_row(r, today)).collect()
    }

    pub async fn finding(
        &self,
        finding_id: &str,
        today: NaiveDate,
    ) -> Result<FindingState, StoreError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM oversight_findings WHERE finding_id = $1"
        ))
        .bind(finding_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| from_row(r, today))
            .transpose()?
            .ok_or_else(|| not_found(finding_id))
    }

    /// The steps recorded for a finding, oldest first: (action, actor, at).
    pub async fn followup_history(
        &self,
        finding_id: &str,
    ) -> Result<Vec<(FollowUpAction, String, String)>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT data, actor, at FROM followup_actions WHERE finding_id = $1 ORDER BY seq",
        )
        .bind(finding_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(data, actor, at)| Ok((serde_json::from_str(&data).map_err(corrupt)?, actor, at)))
            .collect()
    }

    /// Records one follow-up step for a finding, with its audit entry, in
    /// one transaction. Returns the finding after it.
    pub async fn record_followup(
        &self,
        finding_id: &str,
        action: &FollowUpAction,
        actor: &Actor,
        today: NaiveDate,
    ) -> Result<FindingState, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM oversight_findings WHERE finding_id = $1"
        ))
        .bind(finding_id)
        .fetch_optional(&mut *tx)
        .await?;
        let before = row
            .map(|r| from_row(r, today))
            .transpose()?
            .ok_or_else(|| not_found(finding_id))?;
        let (inspection_date,): (String,) = sqlx::query_as(
            "SELECT inspection_date FROM oversight_records WHERE record_id = $1 AND state <> $2 ORDER BY received_at DESC LIMIT 1",
        )
        .bind(&before.record_id)
        .bind(ReviewState::Superseded.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let after = before.after(action, &inspection_date, today)?;
        let at = now();
        sqlx::query(
            "UPDATE oversight_findings SET kind = $1, order_no = $2, deadline = $3, reference = $4, organ = $5, \
             followed_up_on = $6, outcome = $7, closed = $8, managed = 1, updated_at = $9 WHERE finding_id = $10",
        )
        .bind(after.kind.as_str())
        .bind(&after.order_no)
        .bind(&after.deadline)
        .bind(&after.reference)
        .bind(&after.organ)
        .bind(&after.followed_up_on)
        .bind(&after.outcome)
        .bind(i64::from(after.closed))
        .bind(&at)
        .bind(finding_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO followup_actions (finding_id, action, data, actor, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(finding_id)
        .bind(action.code())
        .bind(serde_json::to_string(action).map_err(corrupt)?)
        .bind(actor.as_str())
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: &format!("followup.{}", action.code()),
                object: format!("finding:{finding_id}"),
                before: Some(serde_json::to_value(&before).map_err(corrupt)?),
                after: Some(serde_json::to_value(&after).map_err(corrupt)?),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}
