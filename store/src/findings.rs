//! Findings in the projection and the follow-up steps recorded for them
//! (`oversight_findings`, `followup_actions`). What a step does to a finding
//! is decided by [`FindingState::after`] in `choucha-shared`; this module
//! reads and writes it in one transaction with the audit entry.

use choucha_shared::followup::{FindingState, FollowUpAction, FollowUpError};
use choucha_shared::record::DispositionKind;
use choucha_shared::review::ReviewState;
use chrono::NaiveDate;

use super::audit::{self, Actor, Change};
use super::{Backend, Store, StoreError, corrupt, now, recheck};

impl From<FollowUpError> for StoreError {
    fn from(e: FollowUpError) -> Self {
        match e {
            FollowUpError::Invalid { field, message } => StoreError::field(field, message),
            FollowUpError::Conflict(m) => StoreError::Conflict(m),
        }
    }
}

const COLUMNS: &str = "finding_id, record_id, task_id, jurisdiction, category, item_id, description, kind, order_no, deadline, \
                       reference, organ, followed_up_on, outcome, closed, case_no, next_check";

/// A finding row, as [`COLUMNS`] reads it.
#[derive(sqlx::FromRow)]
struct Row {
    finding_id: String,
    record_id: String,
    task_id: String,
    jurisdiction: String,
    category: String,
    item_id: String,
    description: String,
    kind: String,
    order_no: Option<String>,
    deadline: Option<String>,
    reference: Option<String>,
    organ: Option<String>,
    followed_up_on: Option<String>,
    outcome: Option<String>,
    closed: i64,
    case_no: Option<String>,
    next_check: Option<String>,
}

fn from_row(r: Row, today: NaiveDate) -> Result<FindingState, StoreError> {
    let kind: DispositionKind = r.kind.parse().map_err(corrupt)?;
    let mut f = FindingState {
        finding_id: r.finding_id,
        record_id: r.record_id,
        task_id: r.task_id,
        town: r.jurisdiction,
        category: r.category,
        item_id: r.item_id,
        description: r.description,
        kind,
        order_no: r.order_no,
        deadline: r.deadline,
        case_no: r.case_no,
        reference: r.reference,
        organ: r.organ,
        next_check: r.next_check,
        followed_up_on: r.followed_up_on,
        outcome: r.outcome,
        closed: r.closed != 0,
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
        let after = followup_in(&mut tx, self.backend, finding_id, action, actor, today).await?;
        tx.commit().await?;
        Ok(after)
    }
}

/// Records one follow-up step for a finding in `tx`, with its audit entry:
/// the console's steps and the results of a 复查 record alike. An order
/// makes its 复查 task.
pub(crate) async fn followup_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    finding_id: &str,
    action: &FollowUpAction,
    actor: &Actor,
    today: NaiveDate,
) -> Result<FindingState, StoreError> {
    // On PostgreSQL the row is locked: a console step and a 复查 record
    // on two instances would otherwise both decide from the same state.
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oversight_findings WHERE finding_id = $1{lock}"
    ))
    .bind(finding_id)
    .fetch_optional(&mut **tx)
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
    .fetch_one(&mut **tx)
    .await?;
    let after = before.after(action, &inspection_date, today)?;
    let at = now();
    let requirements = match action {
        FollowUpAction::RectificationOrder { requirements, .. } => Some(requirements.trim()),
        _ => None,
    };
    sqlx::query(
        "UPDATE oversight_findings SET kind = $1, order_no = $2, deadline = $3, reference = $4, organ = $5, \
         followed_up_on = $6, outcome = $7, closed = $8, managed = 1, updated_at = $9, case_no = $10, next_check = $11, \
         requirements = COALESCE($12, requirements) WHERE finding_id = $13",
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
    .bind(&after.case_no)
    .bind(&after.next_check)
    .bind(requirements)
    .bind(finding_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO followup_actions (finding_id, action, data, actor, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(finding_id)
    .bind(action.code())
    .bind(serde_json::to_string(action).map_err(corrupt)?)
    .bind(actor.as_str())
    .bind(&at)
    .execute(&mut **tx)
    .await?;
    audit::append(
        tx,
        Change {
            actor,
            action: &format!("followup.{}", action.code()),
            object: format!("finding:{finding_id}"),
            before: Some(serde_json::to_value(&before).map_err(corrupt)?),
            after: Some(serde_json::to_value(&after).map_err(corrupt)?),
        },
    )
    .await?;
    if matches!(action, FollowUpAction::RectificationOrder { .. }) {
        recheck::ensure_tasks(tx, std::slice::from_ref(&after.task_id)).await?;
    }
    Ok(after)
}
