//! The `oversight_*` projection: one row per task of a current draw and per
//! sealed record version, with the town, team, stratum and dates the console
//! filters by, and one row per finding of a record's current version.
//!
//! # When it runs
//!
//! * [`index_record`] is the hook for the record ingest path: call it after
//!   the push transaction that stored a record version committed (it is
//!   idempotent, so calling it twice is harmless).
//! * [`catch_up`] indexes new draws and every record version the hook was
//!   not called for (received in the last minutes, or all of them the first
//!   time): the dashboard and the review queue call it before reading, so
//!   nothing is missed even where the hook is not wired. It costs one
//!   indexed range query when there is nothing to do.
//!
//! Review-state changes need neither: a trigger on `records` mirrors them.

use std::collections::BTreeSet;

use choucha_shared::plan::{MemberRole, TeamMember};
use choucha_shared::record::{Disposition, InspectionRecord, RectificationOutcome};
use choucha_shared::review::ReviewState;
use chrono::{Duration, SecondsFormat, Utc};

use super::{OversightError, corrupt};
use crate::store::{Backend, Store, now, parse_time};

/// How far back [`catch_up`] looks before the newest indexed record: a push
/// transaction takes its `received_at` when it starts and may commit after
/// a later one.
const CATCH_UP_OVERLAP_MIN: i64 = 10;

/// Stable key of a drawn team: its officers' credential numbers, sorted.
/// Teams are drawn per task, so the same two officers on several tasks are
/// one team for the dashboard.
pub fn team_key(team: &[TeamMember]) -> String {
    let ids: BTreeSet<&str> = team
        .iter()
        .filter(|m| m.role == MemberRole::Officer)
        .map(|m| m.person_id.as_str())
        .collect();
    ids.into_iter().collect::<Vec<_>>().join("+")
}

/// The team as people read it: officers' names in drawn order.
pub fn team_label(team: &[TeamMember]) -> String {
    team.iter()
        .filter(|m| m.role == MemberRole::Officer)
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

/// What a drawn task's row in `oversight_tasks` says of it: not inspected
/// yet, or the review state of its current record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// 待检查: no sealed record has arrived.
    Pending,
    Record(ReviewState),
}

impl TaskState {
    pub const PENDING: &'static str = "pending";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => Self::PENDING,
            Self::Record(s) => s.as_str(),
        }
    }
}

impl std::str::FromStr for TaskState {
    type Err = choucha_shared::UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == Self::PENDING {
            return Ok(Self::Pending);
        }
        s.parse()
            .map(Self::Record)
            .map_err(|_| choucha_shared::UnknownCode {
                kind: "task state",
                value: s.to_owned(),
            })
    }
}

/// Indexes every draw not yet indexed; a redraw replaces the tasks of the
/// draw it supersedes. Returns the number of tasks added.
pub async fn index_draws(store: &Store) -> Result<usize, OversightError> {
    let draws: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT d.draw_id, d.plan_id, d.supersedes FROM draws d \
         WHERE NOT EXISTS (SELECT 1 FROM oversight_draws o WHERE o.draw_id = d.draw_id) ORDER BY d.plan_id, d.seq",
    )
    .fetch_all(store.pool())
    .await?;
    let mut added = 0;
    for (draw_id, plan_id, supersedes) in draws {
        let _writer = store.writer().await;
        let mut tx = store.pool().begin().await?;
        let done: Option<(String,)> =
            sqlx::query_as("SELECT draw_id FROM oversight_draws WHERE draw_id = $1")
                .bind(&draw_id)
                .fetch_optional(&mut *tx)
                .await?;
        if done.is_some() {
            continue;
        }
        if let Some(old) = &supersedes {
            sqlx::query("DELETE FROM oversight_tasks WHERE draw_id = $1")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        type Row = (String, String, String, String, String, Option<String>);
        let tasks: Vec<Row> = sqlx::query_as(
            "SELECT t.task_id, t.stratum_id, t.category, t.target_key, t.team, tg.jurisdiction \
             FROM tasks t LEFT JOIN targets tg ON tg.category = t.category AND tg.target_key = t.target_key \
             WHERE t.draw_id = $1 ORDER BY t.seq",
        )
        .bind(&draw_id)
        .fetch_all(&mut *tx)
        .await?;
        for part in tasks.chunks(100) {
            let mut sql = String::from(
                "INSERT INTO oversight_tasks (task_id, plan_id, draw_id, stratum_id, category, jurisdiction, team_key, team_label, target_key, status) VALUES ",
            );
            for i in 0..part.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let cols: Vec<String> = (1..=9).map(|c| format!("${}", i * 9 + c)).collect();
                sql.push_str(&format!("({}, '{}')", cols.join(", "), TaskState::PENDING));
            }
            sql.push_str(" ON CONFLICT (task_id) DO NOTHING");
            let mut q = sqlx::query(&sql);
            for (task_id, stratum_id, category, target_key, team, town) in part {
                let team: Vec<TeamMember> = serde_json::from_str(team).map_err(corrupt)?;
                q = q
                    .bind(task_id.clone())
                    .bind(plan_id.clone())
                    .bind(draw_id.clone())
                    .bind(stratum_id.clone())
                    .bind(category.clone())
                    .bind(town.clone().unwrap_or_default())
                    .bind(team_key(&team))
                    .bind(team_label(&team))
                    .bind(target_key.clone());
            }
            q.execute(&mut *tx).await?;
            added += part.len();
        }
        // Records may have arrived before the draw was indexed: their
        // state becomes the task's status (the triggers move the counts).
        let superseded = ReviewState::Superseded.as_str();
        sqlx::query(&format!(
            "UPDATE oversight_tasks SET status = (SELECT o.state FROM oversight_records o \
             WHERE o.task_id = oversight_tasks.task_id AND o.state <> '{superseded}' ORDER BY o.received_at DESC LIMIT 1) \
             WHERE draw_id = $1 AND EXISTS (SELECT 1 FROM oversight_records o WHERE o.task_id = oversight_tasks.task_id AND o.state <> '{superseded}')",
        ))
        .bind(&draw_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO oversight_draws (draw_id, indexed_at) VALUES ($1, $2)")
            .bind(&draw_id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(added)
}

/// Where a task sits: from the task index, else from the task itself.
struct TaskFacts {
    plan_id: String,
    stratum_id: String,
    jurisdiction: String,
    team_key: String,
    team_label: String,
}

async fn task_facts(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    record: &InspectionRecord,
) -> Result<TaskFacts, OversightError> {
    let row: Option<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT plan_id, stratum_id, jurisdiction, team_key, team_label FROM oversight_tasks WHERE task_id = $1",
    )
    .bind(&record.task_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((plan_id, stratum_id, jurisdiction, team_key, team_label)) = row {
        return Ok(TaskFacts {
            plan_id,
            stratum_id,
            jurisdiction,
            team_key,
            team_label,
        });
    }
    // A task of a superseded draw (or one not yet indexed): the record still
    // belongs somewhere.
    let row: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT d.plan_id, t.stratum_id, tg.jurisdiction FROM tasks t JOIN draws d ON d.draw_id = t.draw_id \
         LEFT JOIN targets tg ON tg.category = t.category AND tg.target_key = t.target_key WHERE t.task_id = $1",
    )
    .bind(&record.task_id)
    .fetch_optional(&mut **tx)
    .await?;
    let (plan_id, stratum_id, town) = row.unwrap_or_default();
    Ok(TaskFacts {
        plan_id,
        stratum_id,
        jurisdiction: town.unwrap_or_default(),
        team_key: team_key(&record.team),
        team_label: team_label(&record.team),
    })
}

/// Indexes one stored record version (the ingest hook). Idempotent.
pub async fn index_record(
    store: &Store,
    record_id: &str,
    version: &str,
) -> Result<(), OversightError> {
    let _writer = store.writer().await;
    let mut tx = store.pool().begin().await?;
    index_in(&mut tx, store, record_id, version).await?;
    tx.commit().await?;
    Ok(())
}

/// Indexes many record versions, `batch` per transaction, with a few
/// multi-row statements per batch instead of several round trips per record
/// (the first catch-up over an existing database, bulk loads).
pub async fn index_records(
    store: &Store,
    versions: &[(String, String)],
    batch: usize,
) -> Result<(), OversightError> {
    for chunk in versions.chunks(batch.clamp(1, 200)) {
        let _writer = store.writer().await;
        let mut tx = store.pool().begin().await?;
        index_batch(&mut tx, store, chunk).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn index_batch(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    store: &Store,
    chunk: &[(String, String)],
) -> Result<(), OversightError> {
    let wanted: BTreeSet<(&str, &str)> = chunk
        .iter()
        .map(|(r, v)| (r.as_str(), v.as_str()))
        .collect();
    let ids: BTreeSet<&str> = chunk.iter().map(|(r, _)| r.as_str()).collect();
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let lock = if store.backend() == Backend::Postgres {
        " FOR UPDATE OF r"
    } else {
        ""
    };
    type Row = (
        String,
        String,
        String,
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let sql = format!(
        "SELECT r.record_id, r.version, r.state, r.superseded, r.record, r.received_at,          t.plan_id, t.stratum_id, t.jurisdiction, t.team_key, t.team_label          FROM records r LEFT JOIN oversight_tasks t ON t.task_id = r.task_id WHERE r.record_id IN ({}){lock}",
        placeholders.join(", ")
    );
    let mut q = sqlx::query_as::<_, Row>(&sql);
    for id in &ids {
        q = q.bind(*id);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    let with_findings: Vec<(String,)> = {
        let sql = format!(
            "SELECT DISTINCT record_id FROM oversight_findings WHERE record_id IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql);
        for id in &ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut **tx).await?
    };
    let with_findings: BTreeSet<String> = with_findings.into_iter().map(|r| r.0).collect();
    let mut values: Vec<(InspectionRecord, String, String, String, TaskFacts)> = Vec::new();
    for (record_id, version, state, superseded, json, received_at, plan, stratum, town, tk, tl) in
        rows
    {
        if !wanted.contains(&(record_id.as_str(), version.as_str())) {
            continue;
        }
        let record: InspectionRecord = serde_json::from_str(&json).map_err(corrupt)?;
        let facts = match (plan, stratum, town, tk, tl) {
            (
                Some(plan_id),
                Some(stratum_id),
                Some(jurisdiction),
                Some(team_key),
                Some(team_label),
            ) => TaskFacts {
                plan_id,
                stratum_id,
                jurisdiction,
                team_key,
                team_label,
            },
            _ => task_facts(tx, &record).await?,
        };
        let state = if superseded != 0 {
            ReviewState::Superseded.as_str().to_owned()
        } else {
            state
        };
        values.push((record, version, state, received_at, facts));
    }
    for part in values.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO oversight_records (record_id, version, task_id, plan_id, stratum_id, category, jurisdiction, team_key, team_label, \
             target_key, target_name, inspection_date, received_at, state, findings, duty_flags, duty_pending, disclosed) VALUES ",
        );
        for i in 0..part.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let b = i * 15;
            let cols: Vec<String> = (1..=15).map(|c| format!("${}", b + c)).collect();
            sql.push_str(&format!("({}, 0, 1, 0)", cols.join(", ")));
        }
        sql.push_str(" ON CONFLICT (record_id, version) DO UPDATE SET state = excluded.state");
        let mut q = sqlx::query(&sql);
        for (record, version, state, received_at, facts) in part {
            q = q
                .bind(record.record_id.to_string())
                .bind(version.clone())
                .bind(record.task_id.clone())
                .bind(facts.plan_id.clone())
                .bind(facts.stratum_id.clone())
                .bind(record.category.code())
                .bind(facts.jurisdiction.clone())
                .bind(facts.team_key.clone())
                .bind(facts.team_label.clone())
                .bind(record.target.to_string())
                .bind(record.target_name.clone())
                .bind(record.inspection_date.to_string())
                .bind(received_at.clone())
                .bind(state.clone())
                .bind(record.findings.len() as i64);
        }
        q.execute(&mut **tx).await?;
    }
    for (record, version, state, _, facts) in &values {
        let had = with_findings.contains(&record.record_id.to_string());
        if state != ReviewState::Superseded.as_str() && (had || !record.findings.is_empty()) {
            index_findings(tx, record, version, facts).await?;
        }
    }
    Ok(())
}

async fn index_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    store: &Store,
    record_id: &str,
    version: &str,
) -> Result<(), OversightError> {
    // Lock the record row so a concurrent state change waits for this
    // transaction; its mirror trigger then finds the row inserted here.
    let lock = if store.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row: Option<(String, i64, String, String)> = sqlx::query_as(&format!(
        "SELECT state, superseded, record, received_at FROM records WHERE record_id = $1 AND version = $2{lock}"
    ))
    .bind(record_id)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?;
    let (state, superseded, json, received_at) = row
        .ok_or_else(|| OversightError::NotFound(format!("记录 {record_id} 没有版本 {version}")))?;
    let record: InspectionRecord = serde_json::from_str(&json).map_err(corrupt)?;
    let facts = task_facts(tx, &record).await?;
    let state = if superseded != 0 {
        ReviewState::Superseded.as_str().to_owned()
    } else {
        state
    };
    sqlx::query(
        "INSERT INTO oversight_records (record_id, version, task_id, plan_id, stratum_id, category, jurisdiction, team_key, team_label, \
         target_key, target_name, inspection_date, received_at, state, findings, duty_flags, duty_pending, disclosed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, 1, 0) \
         ON CONFLICT (record_id, version) DO UPDATE SET state = excluded.state",
    )
    .bind(record_id)
    .bind(version)
    .bind(&record.task_id)
    .bind(&facts.plan_id)
    .bind(&facts.stratum_id)
    .bind(record.category.code())
    .bind(&facts.jurisdiction)
    .bind(&facts.team_key)
    .bind(&facts.team_label)
    .bind(record.target.as_str())
    .bind(&record.target_name)
    .bind(record.inspection_date.to_string())
    .bind(&received_at)
    .bind(&state)
    .bind(record.findings.len() as i64)
    .execute(&mut **tx)
    .await?;
    if state != ReviewState::Superseded.as_str() {
        index_findings(tx, &record, version, &facts).await?;
    }
    Ok(())
}

/// Indexes a record version unless it already is.
pub async fn ensure_indexed(
    store: &Store,
    record_id: &str,
    version: &str,
) -> Result<(), OversightError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT state FROM oversight_records WHERE record_id = $1 AND version = $2")
            .bind(record_id)
            .bind(version)
            .fetch_optional(store.pool())
            .await?;
    if row.is_none() {
        index_draws(store).await?;
        index_record(store, record_id, version).await?;
    }
    Ok(())
}

/// Makes the finding rows those of this (current) version: new findings
/// added, dropped ones removed, changed ones updated unless the console has
/// taken the finding over.
async fn index_findings(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    record: &InspectionRecord,
    version: &str,
    facts: &TaskFacts,
) -> Result<(), OversightError> {
    let record_id = record.record_id.to_string();
    let existing: Vec<(String,)> =
        sqlx::query_as("SELECT finding_id FROM oversight_findings WHERE record_id = $1")
            .bind(&record_id)
            .fetch_all(&mut **tx)
            .await?;
    let keep: BTreeSet<String> = record
        .findings
        .iter()
        .map(|f| f.finding_id.to_string())
        .collect();
    for (id,) in existing {
        if !keep.contains(&id) {
            sqlx::query("DELETE FROM oversight_findings WHERE finding_id = $1 AND managed = 0")
                .bind(&id)
                .execute(&mut **tx)
                .await?;
        }
    }
    let at = now();
    for f in &record.findings {
        let d = &f.disposition;
        let (order_no, deadline, reference, organ, followed_up_on, outcome) = match d {
            Disposition::RectificationOrder {
                order_no,
                deadline,
                follow_up,
                ..
            } => (
                Some(order_no.clone()),
                Some(deadline.to_string()),
                None,
                None,
                follow_up.as_ref().map(|f| f.inspected_on.to_string()),
                follow_up.as_ref().map(|f| f.outcome.as_str().to_owned()),
            ),
            Disposition::CaseFiled { case_no } => (None, None, case_no.clone(), None, None, None),
            Disposition::TransferredToJudicial { organ, reference }
            | Disposition::TransferredToDiscipline { organ, reference } => (
                None,
                None,
                reference.clone(),
                Some(organ.clone()),
                None,
                None,
            ),
            Disposition::NoticeToDepartment {
                department,
                reference,
            } => (
                None,
                None,
                reference.clone(),
                Some(department.clone()),
                None,
                None,
            ),
            Disposition::FixedOnSite { .. } => (None, None, None, None, None, None),
        };
        let closed = match d {
            Disposition::RectificationOrder { follow_up, .. } => follow_up
                .as_ref()
                .is_some_and(|f| f.outcome == RectificationOutcome::Rectified),
            Disposition::CaseFiled { .. } => false,
            _ => true,
        };
        sqlx::query(
            "INSERT INTO oversight_findings (finding_id, record_id, version, task_id, plan_id, jurisdiction, category, item_id, description, \
             kind, order_no, deadline, reference, organ, followed_up_on, outcome, closed, managed, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 0, $18) \
             ON CONFLICT (finding_id) DO UPDATE SET version = excluded.version, description = excluded.description, \
             item_id = excluded.item_id, kind = excluded.kind, order_no = excluded.order_no, deadline = excluded.deadline, \
             reference = excluded.reference, organ = excluded.organ, followed_up_on = excluded.followed_up_on, \
             outcome = excluded.outcome, closed = excluded.closed, updated_at = excluded.updated_at \
             WHERE oversight_findings.managed = 0",
        )
        .bind(f.finding_id.to_string())
        .bind(&record_id)
        .bind(version)
        .bind(&record.task_id)
        .bind(&facts.plan_id)
        .bind(&facts.jurisdiction)
        .bind(record.category.code())
        .bind(f.item_id.clone().unwrap_or_default())
        .bind(&f.description)
        .bind(d.kind().as_str())
        .bind(order_no)
        .bind(deadline)
        .bind(reference)
        .bind(organ)
        .bind(followed_up_on)
        .bind(outcome)
        .bind(i64::from(closed))
        .bind(&at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Indexes new draws and every record version not yet indexed (see the
/// module docs). Returns the record versions indexed.
pub async fn catch_up(store: &Store) -> Result<Vec<(String, String)>, OversightError> {
    index_draws(store).await?;
    let (newest,): (Option<String>,) =
        sqlx::query_as("SELECT MAX(received_at) FROM oversight_records")
            .fetch_one(store.pool())
            .await?;
    let since = match newest {
        Some(t) => (parse_time(&t)? - Duration::minutes(CATCH_UP_OVERLAP_MIN))
            .to_rfc3339_opts(SecondsFormat::Micros, true),
        None => String::new(),
    };
    let missing: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.record_id, r.version FROM records r WHERE r.received_at >= $1 \
         AND NOT EXISTS (SELECT 1 FROM oversight_records o WHERE o.record_id = r.record_id AND o.version = r.version) \
         ORDER BY r.received_at",
    )
    .bind(&since)
    .fetch_all(store.pool())
    .await?;
    index_records(store, &missing, 500).await?;
    Ok(missing)
}

/// Today's date where the inspections happen (China Standard Time): a
/// record inspected "today" must not count as late before the day is over
/// locally.
pub fn today_cst() -> chrono::NaiveDate {
    (Utc::now() + Duration::hours(8)).date_naive()
}
