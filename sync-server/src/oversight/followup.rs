//! Follow-up of findings (seed §五(二)): every finding with its
//! disposition; rectification orders with deadlines and the follow-up
//! inspection's outcome; cases filed and transfers (judicial organs,
//! discipline inspection, another department) with reference numbers.
//!
//! A finding starts as the officers recorded it on site (indexed from the
//! record). Every step taken in the console is appended to
//! `followup_actions`, applied to the finding's row and written to the
//! audit log (who, when, before/after) in one transaction; from then on the
//! console owns the finding (`managed`), so a later amendment of the record
//! cannot silently undo a recorded follow-up.

use choucha_shared::record::{DispositionKind, RectificationOutcome};
use choucha_shared::review::ReviewState;
use choucha_shared::value::CivilDate;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{OversightError, corrupt};
use crate::store::{Store, now};

/// Where a finding is transferred to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTo {
    /// 移送司法机关
    Judicial,
    /// 移交纪检监察机关
    Discipline,
    /// 通报相关部门
    Department,
}

impl TransferTo {
    fn kind(self) -> DispositionKind {
        match self {
            Self::Judicial => DispositionKind::TransferredToJudicial,
            Self::Discipline => DispositionKind::TransferredToDiscipline,
            Self::Department => DispositionKind::NoticeToDepartment,
        }
    }
}

/// One step recorded in the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum FollowUpAction {
    /// 责令整改通知书
    RectificationOrder {
        order_no: String,
        deadline: CivilDate,
        requirements: String,
    },
    /// The follow-up inspection of a rectification order (复查).
    FollowUpInspection {
        inspected_on: CivilDate,
        outcome: RectificationOutcome,
        #[serde(default)]
        note: Option<String>,
    },
    /// 立案
    CaseFiled { case_no: String },
    /// The case is concluded (结案).
    CaseClosed { note: String },
    Transfer {
        to: TransferTo,
        organ: String,
        reference: String,
    },
}

/// A finding as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingState {
    pub finding_id: String,
    pub record_id: String,
    pub task_id: String,
    pub town: String,
    pub category: String,
    pub item_id: String,
    pub description: String,
    pub kind: DispositionKind,
    pub order_no: Option<String>,
    pub deadline: Option<String>,
    pub reference: Option<String>,
    pub organ: Option<String>,
    pub followed_up_on: Option<String>,
    pub outcome: Option<String>,
    pub closed: bool,
    /// Overdue on the day asked: an open rectification order past its
    /// deadline.
    pub overdue: bool,
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

fn from_row(r: Row, today: NaiveDate) -> Result<FindingState, OversightError> {
    let today = today.format("%Y-%m-%d").to_string();
    let kind: DispositionKind =
        r.7.parse()
            .map_err(|e: choucha_shared::UnknownCode| OversightError::Corrupt(e.to_string()))?;
    let overdue = kind == DispositionKind::RectificationOrder
        && r.14 == 0
        && r.9.as_deref().is_some_and(|d| d < today.as_str());
    Ok(FindingState {
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
        overdue,
    })
}

/// The findings of a record's current version.
pub async fn findings_of_record(
    store: &Store,
    record_id: &str,
    today: NaiveDate,
) -> Result<Vec<FindingState>, OversightError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oversight_findings WHERE record_id = $1 ORDER BY finding_id"
    ))
    .bind(record_id)
    .fetch_all(store.pool())
    .await?;
    rows.into_iter().map(|r| from_row(r, today)).collect()
}

pub async fn finding(
    store: &Store,
    finding_id: &str,
    today: NaiveDate,
) -> Result<FindingState, OversightError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oversight_findings WHERE finding_id = $1"
    ))
    .bind(finding_id)
    .fetch_optional(store.pool())
    .await?;
    row.map(|r| from_row(r, today))
        .transpose()?
        .ok_or_else(|| OversightError::NotFound(format!("问题 {finding_id} 不存在")))
}

/// The steps recorded for a finding, oldest first: (action, actor, at).
pub async fn history(
    store: &Store,
    finding_id: &str,
) -> Result<Vec<(FollowUpAction, String, String)>, OversightError> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT data, actor, at FROM followup_actions WHERE finding_id = $1 ORDER BY seq",
    )
    .bind(finding_id)
    .fetch_all(store.pool())
    .await?;
    rows.into_iter()
        .map(|(data, actor, at)| Ok((serde_json::from_str(&data).map_err(corrupt)?, actor, at)))
        .collect()
}

fn required(field: &str, value: &str, what: &str) -> Result<String, OversightError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(OversightError::invalid(field, format!("{what}不能为空")));
    }
    if v.chars().count() > 200 {
        return Err(OversightError::invalid(
            field,
            format!("{what}过长（最多 200 字）"),
        ));
    }
    Ok(v.to_owned())
}

/// Records one follow-up step for a finding. Returns the finding after it.
pub async fn record_action(
    store: &Store,
    finding_id: &str,
    action: &FollowUpAction,
    actor: &crate::store::Actor,
    today: NaiveDate,
) -> Result<FindingState, OversightError> {
    let _writer = store.writer().await;
    let mut tx = store.pool().begin().await?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oversight_findings WHERE finding_id = $1"
    ))
    .bind(finding_id)
    .fetch_optional(&mut *tx)
    .await?;
    let before = row
        .map(|r| from_row(r, today))
        .transpose()?
        .ok_or_else(|| OversightError::NotFound(format!("问题 {finding_id} 不存在")))?;
    let (inspection_date,): (String,) = sqlx::query_as(
        "SELECT inspection_date FROM oversight_records WHERE record_id = $1 AND state <> $2 ORDER BY received_at DESC LIMIT 1",
    )
    .bind(&before.record_id)
    .bind(ReviewState::Superseded.as_str())
    .fetch_one(&mut *tx)
    .await?;
    let mut after = before.clone();
    match action {
        FollowUpAction::RectificationOrder {
            order_no,
            deadline,
            requirements,
        } => {
            let order_no = required("order_no", order_no, "责令整改通知书文号")?;
            required("requirements", requirements, "整改要求")?;
            if deadline.to_string() <= inspection_date {
                return Err(OversightError::invalid(
                    "deadline",
                    format!("整改期限 {deadline} 须晚于检查日期 {inspection_date}"),
                ));
            }
            after.kind = DispositionKind::RectificationOrder;
            after.order_no = Some(order_no);
            after.deadline = Some(deadline.to_string());
            after.followed_up_on = None;
            after.outcome = None;
            after.closed = false;
        }
        FollowUpAction::FollowUpInspection {
            inspected_on,
            outcome,
            ..
        } => {
            if before.kind != DispositionKind::RectificationOrder {
                return Err(OversightError::Conflict(format!(
                    "问题 {finding_id} 的处置方式是「{}」，没有整改可复查",
                    before.kind.label_zh()
                )));
            }
            if inspected_on.to_string() < inspection_date {
                return Err(OversightError::invalid(
                    "inspected_on",
                    format!("复查日期 {inspected_on} 早于检查日期 {inspection_date}"),
                ));
            }
            if inspected_on.date() > today {
                return Err(OversightError::invalid(
                    "inspected_on",
                    format!("复查日期 {inspected_on} 晚于今天"),
                ));
            }
            after.followed_up_on = Some(inspected_on.to_string());
            after.outcome = Some(outcome.as_str().into());
            after.closed = *outcome == RectificationOutcome::Rectified;
        }
        FollowUpAction::CaseFiled { case_no } => {
            after.kind = DispositionKind::CaseFiled;
            after.reference = Some(required("case_no", case_no, "立案编号")?);
            after.closed = false;
        }
        FollowUpAction::CaseClosed { note } => {
            if before.kind != DispositionKind::CaseFiled {
                return Err(OversightError::Conflict(format!(
                    "问题 {finding_id} 没有立案，无从结案"
                )));
            }
            required("note", note, "结案说明")?;
            after.closed = true;
        }
        FollowUpAction::Transfer {
            to,
            organ,
            reference,
        } => {
            after.kind = to.kind();
            after.organ = Some(required("organ", organ, "接收机关")?);
            after.reference = Some(required("reference", reference, "移送文号")?);
            after.closed = true;
        }
    }
    after.overdue = after.kind == DispositionKind::RectificationOrder
        && !after.closed
        && after
            .deadline
            .as_deref()
            .is_some_and(|d| d < today.format("%Y-%m-%d").to_string().as_str());
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
    let data = serde_json::to_string(action).map_err(corrupt)?;
    let action_code = serde_json::to_value(action).map_err(corrupt)?["action"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    sqlx::query(
        "INSERT INTO followup_actions (finding_id, action, data, actor, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(finding_id)
    .bind(&action_code)
    .bind(&data)
    .bind(actor.as_str())
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    super::audit_tx(
        &mut tx,
        actor,
        &format!("followup.{action_code}"),
        &format!("finding:{finding_id}"),
        Some(&serde_json::to_value(&before).map_err(corrupt)?),
        Some(&serde_json::to_value(&after).map_err(corrupt)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
