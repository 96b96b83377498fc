//! The `oversight_*` projection: one row per task of a current draw and per
//! sealed record version, with the town, team, stratum and dates the console
//! filters by, and one row per finding of a record's current version.
//!
//! # When it is written
//!
//! In the same transaction as the write that changes it, so a page never
//! reads a record the projection does not hold and no read has to write:
//!
//! * [`index_draw`] — by [`Store::run_draw`](super::Store::run_draw), for the
//!   draw's tasks (a redraw replaces the tasks of the draw it supersedes);
//! * [`index_versions`] — by the push (`ingest`), for the record versions
//!   it stores;
//! * review-state changes (approve, return, has-issues, an amendment
//!   superseding a version, the last blob arriving) — by the trigger
//!   `oversight_mirror_state` on `records`;
//! * follow-up steps — by [`Store::record_followup`](super::Store::record_followup).
//!
//! [`Store::catch_up_projection`] indexes what an older database (or a bulk
//! load that wrote `records` directly) holds and the projection does not;
//! the store runs it once when it opens.

use std::collections::BTreeSet;

use choucha_shared::plan::{TeamMember, team_key, team_label};
use choucha_shared::record::{Disposition, InspectionRecord, RectificationOutcome};
use choucha_shared::review::{ReviewState, TaskState};
use chrono::{Duration, SecondsFormat};

use super::{Backend, Store, StoreError, corrupt, marks, now, parse_time};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// How far back a catch-up looks before the newest indexed record: a push
/// transaction takes its `received_at` when it starts and may commit after
/// a later one.
const CATCH_UP_OVERLAP_MIN: i64 = 10;

/// A task's team changed (one seat replaced, draw version 2): the task
/// row and the dashboard's per-team counts follow. The triggers keep the
/// counts only on status changes, so the team's move is counted here.
pub(super) async fn retag_team(
    tx: &mut Tx<'_>,
    task_id: &str,
    before: &[TeamMember],
    after: &[TeamMember],
) -> Result<(), StoreError> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT plan_id, jurisdiction, status FROM oversight_tasks WHERE task_id = $1",
    )
    .bind(task_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((plan_id, town, status)) = row else {
        // Not indexed yet: indexing will read the new team.
        return Ok(());
    };
    sqlx::query(
        "UPDATE oversight_progress SET n = n - 1 WHERE plan_id = $1 AND jurisdiction = $2 AND dim = 'team' AND dim_key = $3 AND status = $4",
    )
    .bind(&plan_id)
    .bind(&town)
    .bind(team_key(before))
    .bind(&status)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO oversight_progress (plan_id, jurisdiction, dim, dim_key, status, label, n) VALUES ($1, $2, 'team', $3, $4, $5, 1) \
         ON CONFLICT (plan_id, dim, jurisdiction, dim_key, status) DO UPDATE SET n = oversight_progress.n + 1",
    )
    .bind(&plan_id)
    .bind(&town)
    .bind(team_key(after))
    .bind(&status)
    .bind(team_label(after))
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE oversight_tasks SET team_key = $1, team_label = $2 WHERE task_id = $3")
        .bind(team_key(after))
        .bind(team_label(after))
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Indexes the tasks of one draw; a redraw replaces the tasks of the draw it
/// supersedes. Idempotent. Returns the number of tasks added.
pub(super) async fn index_draw(tx: &mut Tx<'_>, draw_id: &str) -> Result<usize, StoreError> {
    let done: Option<(String,)> =
        sqlx::query_as("SELECT draw_id FROM oversight_draws WHERE draw_id = $1")
            .bind(draw_id)
            .fetch_optional(&mut **tx)
            .await?;
    if done.is_some() {
        return Ok(0);
    }
    let (plan_id, supersedes): (String, Option<String>) =
        sqlx::query_as("SELECT plan_id, supersedes FROM draws WHERE draw_id = $1")
            .bind(draw_id)
            .fetch_one(&mut **tx)
            .await?;
    if let Some(old) = &supersedes {
        sqlx::query("DELETE FROM oversight_tasks WHERE draw_id = $1")
            .bind(old)
            .execute(&mut **tx)
            .await?;
    }
    type Row = (String, String, String, String, String, Option<String>);
    let tasks: Vec<Row> = sqlx::query_as(
        "SELECT t.task_id, t.stratum_id, t.category, t.target_key, t.team, tg.jurisdiction \
         FROM tasks t LEFT JOIN targets tg ON tg.category = t.category AND tg.target_key = t.target_key \
         WHERE t.draw_id = $1 ORDER BY t.seq",
    )
    .bind(draw_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut added = 0;
    for part in tasks.chunks(100) {
        let rows: Vec<String> = (0..part.len())
            .map(|i| format!("({}, '{}')", marks(i * 9 + 1, 9), TaskState::PENDING))
            .collect();
        let sql = format!(
            "INSERT INTO oversight_tasks (task_id, plan_id, draw_id, stratum_id, category, jurisdiction, team_key, team_label, target_key, status) \
             VALUES {} ON CONFLICT (task_id) DO NOTHING",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (task_id, stratum_id, category, target_key, team, town) in part {
            let team: Vec<TeamMember> = serde_json::from_str(team).map_err(corrupt)?;
            q = q
                .bind(task_id.clone())
                .bind(plan_id.clone())
                .bind(draw_id.to_owned())
                .bind(stratum_id.clone())
                .bind(category.clone())
                .bind(town.clone().unwrap_or_default())
                .bind(team_key(&team))
                .bind(team_label(&team))
                .bind(target_key.clone());
        }
        q.execute(&mut **tx).await?;
        added += part.len();
    }
    // Records may have arrived before the draw was indexed (an older
    // database): their state becomes the task's status (the triggers move
    // the counts).
    let superseded = ReviewState::Superseded.as_str();
    sqlx::query(&format!(
        "UPDATE oversight_tasks SET status = (SELECT o.state FROM oversight_records o \
         WHERE o.task_id = oversight_tasks.task_id AND o.state <> '{superseded}' ORDER BY o.received_at DESC LIMIT 1) \
         WHERE draw_id = $1 AND EXISTS (SELECT 1 FROM oversight_records o WHERE o.task_id = oversight_tasks.task_id AND o.state <> '{superseded}')",
    ))
    .bind(draw_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO oversight_draws (draw_id, indexed_at) VALUES ($1, $2)")
        .bind(draw_id)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    Ok(added)
}

/// Where a task sits: from the task index, else from the task itself.
#[derive(Clone)]
pub(super) struct TaskFacts {
    pub(super) plan_id: String,
    pub(super) stratum_id: String,
    pub(super) jurisdiction: String,
    pub(super) team_key: String,
    pub(super) team_label: String,
}

impl TaskFacts {
    /// From the task index's columns (plan, stratum, town, team key, team
    /// label) of a left join: `None` when the index has no row.
    pub(super) fn indexed(columns: [Option<String>; 5]) -> Option<Self> {
        let [
            Some(plan_id),
            Some(stratum_id),
            Some(jurisdiction),
            Some(team_key),
            Some(team_label),
        ] = columns
        else {
            return None;
        };
        Some(TaskFacts {
            plan_id,
            stratum_id,
            jurisdiction,
            team_key,
            team_label,
        })
    }

    /// From the task itself (one of a superseded draw, which the task index
    /// no longer holds): its plan, stratum, team and the target's town.
    pub(super) fn of_task(
        plan_id: String,
        stratum_id: String,
        team: &[TeamMember],
        town: Option<String>,
    ) -> Self {
        TaskFacts {
            plan_id,
            stratum_id,
            jurisdiction: town.unwrap_or_default(),
            team_key: team_key(team),
            team_label: team_label(team),
        }
    }
}

async fn task_facts(tx: &mut Tx<'_>, record: &InspectionRecord) -> Result<TaskFacts, StoreError> {
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
    // A task of a superseded draw: the record still belongs somewhere.
    let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT d.plan_id, t.stratum_id, t.team, tg.jurisdiction FROM tasks t JOIN draws d ON d.draw_id = t.draw_id \
         LEFT JOIN targets tg ON tg.category = t.category AND tg.target_key = t.target_key WHERE t.task_id = $1",
    )
    .bind(&record.task_id)
    .fetch_optional(&mut **tx)
    .await?;
    let (plan_id, stratum_id, team, town) = row.unwrap_or_default();
    let team: Vec<TeamMember> = if team.is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(&team).map_err(corrupt)?
    };
    Ok(TaskFacts::of_task(plan_id, stratum_id, &team, town))
}

/// One record version as the projection holds it.
pub(super) struct Version<'a> {
    pub(super) record: &'a InspectionRecord,
    pub(super) version: &'a str,
    pub(super) state: &'a str,
    pub(super) received_at: &'a str,
}

const RECORD_COLUMNS: &str = "record_id, version, task_id, plan_id, stratum_id, category, jurisdiction, team_key, team_label, \
     target_key, target_name, inspection_date, received_at, state, findings, outcome, duty_flags, duty_pending, disclosed";

/// Inserts (or, when already there, refreshes the state of) record
/// versions, a few hundred per statement.
async fn insert_versions(
    tx: &mut Tx<'_>,
    values: &[(Version<'_>, TaskFacts)],
) -> Result<(), StoreError> {
    for part in values.chunks(100) {
        let rows: Vec<String> = (0..part.len())
            .map(|i| format!("({}, 0, 1, 0)", marks(i * 16 + 1, 16)))
            .collect();
        let sql = format!(
            "INSERT INTO oversight_records ({RECORD_COLUMNS}) VALUES {} \
             ON CONFLICT (record_id, version) DO UPDATE SET state = excluded.state",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (v, facts) in part {
            // The task's own target and category, not the device's word.
            q = q
                .bind(v.record.record_id.to_string())
                .bind(v.version.to_owned())
                .bind(v.record.task_id.clone())
                .bind(facts.plan_id.clone())
                .bind(facts.stratum_id.clone())
                .bind(v.record.category.code())
                .bind(facts.jurisdiction.clone())
                .bind(facts.team_key.clone())
                .bind(facts.team_label.clone())
                .bind(v.record.target.to_string())
                .bind(v.record.target_name.clone())
                .bind(v.record.inspection_date.to_string())
                .bind(v.received_at.to_owned())
                .bind(v.state.to_owned())
                .bind(v.record.findings.len() as i64)
                .bind(v.record.outcome.kind().as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Indexes record versions just stored (by the push, in its transaction):
/// their rows, and the findings of the current ones.
pub(super) async fn index_versions(
    tx: &mut Tx<'_>,
    values: &[(Version<'_>, TaskFacts)],
) -> Result<(), StoreError> {
    insert_versions(tx, values).await?;
    let current: Vec<&(Version<'_>, TaskFacts)> = values
        .iter()
        .filter(|(v, _)| v.state != ReviewState::Superseded.as_str())
        .collect();
    index_findings(tx, &current).await
}

/// Indexes stored record versions the projection does not hold yet, in one
/// transaction, with a few multi-row statements instead of several round
/// trips per record.
async fn index_batch(
    tx: &mut Tx<'_>,
    backend: Backend,
    chunk: &[(String, String)],
) -> Result<(), StoreError> {
    let wanted: BTreeSet<(&str, &str)> = chunk
        .iter()
        .map(|(r, v)| (r.as_str(), v.as_str()))
        .collect();
    let ids: BTreeSet<&str> = chunk.iter().map(|(r, _)| r.as_str()).collect();
    let placeholders = marks(1, ids.len());
    // Lock the record rows so a concurrent state change waits for this
    // transaction; its mirror trigger then finds the rows inserted here.
    let lock = if backend == Backend::Postgres {
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
    // The task index joined in: one query for the batch, not one per
    // record (a task of a superseded draw falls back to `task_facts`).
    let sql = format!(
        "SELECT r.record_id, r.version, r.state, r.superseded, r.record, r.received_at, \
         t.plan_id, t.stratum_id, t.jurisdiction, t.team_key, t.team_label \
         FROM records r LEFT JOIN oversight_tasks t ON t.task_id = r.task_id \
         WHERE r.record_id IN ({placeholders}){lock}"
    );
    let mut q = sqlx::query_as::<_, Row>(&sql);
    for id in &ids {
        q = q.bind(*id);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    let mut parsed: Vec<(InspectionRecord, String, String, String, Option<TaskFacts>)> = Vec::new();
    for (record_id, version, state, superseded, json, received_at, plan, stratum, town, tk, tl) in
        rows
    {
        if !wanted.contains(&(record_id.as_str(), version.as_str())) {
            continue;
        }
        // One unreadable row must not keep the rest (or the server) out:
        // it is named in the log and left for an operator.
        let record: InspectionRecord = match serde_json::from_str(&json) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%record_id, %version, error = %e, "record not indexed: unreadable");
                continue;
            }
        };
        let state = if superseded != 0 {
            ReviewState::Superseded.as_str().to_owned()
        } else {
            state
        };
        let indexed = TaskFacts::indexed([plan, stratum, town, tk, tl]);
        parsed.push((record, version, state, received_at, indexed));
    }
    let mut values = Vec::with_capacity(parsed.len());
    for (record, version, state, received_at, indexed) in &parsed {
        let facts = match indexed {
            Some(f) => f.clone(),
            None => task_facts(tx, record).await?,
        };
        values.push((
            Version {
                record,
                version,
                state,
                received_at,
            },
            facts,
        ));
    }
    index_versions(tx, &values).await
}

/// The disposition's columns of a finding row. Once the quality section has
/// taken a finding over (`managed`: a console step, a 复查), an amended
/// record no longer changes them — but the row still follows the record's
/// current version, its item and its words.
const DISPOSITION_COLUMNS: [&str; 10] = [
    "kind",
    "order_no",
    "deadline",
    "reference",
    "organ",
    "followed_up_on",
    "outcome",
    "closed",
    "requirements",
    "case_no",
];

/// The columns a finding's disposition fills.
#[derive(Default)]
struct DispositionColumns {
    order_no: Option<String>,
    deadline: Option<String>,
    requirements: Option<String>,
    case_no: Option<String>,
    reference: Option<String>,
    organ: Option<String>,
    followed_up_on: Option<String>,
    outcome: Option<String>,
    closed: bool,
}

fn disposition_columns(d: &Disposition) -> DispositionColumns {
    match d {
        Disposition::RectificationOrder {
            order_no,
            deadline,
            requirements,
            follow_up,
        } => DispositionColumns {
            order_no: Some(order_no.clone()),
            deadline: Some(deadline.to_string()),
            requirements: Some(requirements.clone()),
            followed_up_on: follow_up.as_ref().map(|f| f.inspected_on.to_string()),
            outcome: follow_up.as_ref().map(|f| f.outcome.as_str().to_owned()),
            closed: follow_up
                .as_ref()
                .is_some_and(|f| f.outcome == RectificationOutcome::Rectified),
            ..Default::default()
        },
        Disposition::CaseFiled { case_no } => DispositionColumns {
            case_no: case_no.clone(),
            ..Default::default()
        },
        // A transfer keeps the finding under continued supervision
        // (加强后续监管): open until the console ends it.
        Disposition::TransferredToJudicial { organ, reference }
        | Disposition::TransferredToDiscipline { organ, reference } => DispositionColumns {
            reference: reference.clone(),
            organ: Some(organ.clone()),
            ..Default::default()
        },
        Disposition::NoticeToDepartment {
            department,
            reference,
        } => DispositionColumns {
            reference: reference.clone(),
            organ: Some(department.clone()),
            ..Default::default()
        },
        Disposition::FixedOnSite { .. } => DispositionColumns {
            closed: true,
            ..Default::default()
        },
    }
}

/// Makes the finding rows those of these (current) versions: new findings
/// added, dropped ones removed, changed ones updated unless the console has
/// taken the finding over. A few statements for the whole group.
async fn index_findings(
    tx: &mut Tx<'_>,
    versions: &[&(Version<'_>, TaskFacts)],
) -> Result<(), StoreError> {
    let ids: Vec<String> = versions
        .iter()
        .map(|(v, _)| v.record.record_id.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let keep: BTreeSet<(String, String)> = versions
        .iter()
        .flat_map(|(v, _)| {
            v.record
                .findings
                .iter()
                .map(|f| (v.record.record_id.to_string(), f.finding_id.to_string()))
        })
        .collect();
    let mut dropped = Vec::new();
    for part in ids.chunks(400) {
        let sql = format!(
            "SELECT record_id, finding_id FROM oversight_findings WHERE record_id IN ({})",
            marks(1, part.len())
        );
        let mut q = sqlx::query_as::<_, (String, String)>(&sql);
        for id in part {
            q = q.bind(id.as_str());
        }
        for row in q.fetch_all(&mut **tx).await? {
            if !keep.contains(&row) {
                dropped.push(row.1);
            }
        }
    }
    for part in dropped.chunks(400) {
        let sql = format!(
            "DELETE FROM oversight_findings WHERE managed = 0 AND finding_id IN ({})",
            marks(1, part.len())
        );
        let mut q = sqlx::query(&sql);
        for id in part {
            q = q.bind(id.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    // One row per finding ID, the last version's (as one upsert after the
    // other would leave it): a statement may not touch a row twice.
    let mut rows = Vec::new();
    let mut seen = BTreeSet::new();
    for (v, facts) in versions.iter().rev() {
        for f in v.record.findings.iter().rev() {
            if seen.insert(f.finding_id) {
                rows.push((v, facts, f));
            }
        }
    }
    rows.reverse();
    const COLUMNS: usize = 19;
    let at = now();
    for part in rows.chunks(50) {
        let values: Vec<String> = (0..part.len())
            .map(|i| format!("({}, 0, $1)", marks(2 + i * COLUMNS, COLUMNS)))
            .collect();
        let sql = format!(
            "INSERT INTO oversight_findings (finding_id, record_id, version, task_id, plan_id, jurisdiction, category, item_id, description, \
             kind, order_no, deadline, reference, organ, followed_up_on, outcome, closed, requirements, case_no, managed, updated_at) \
             VALUES {} \
             ON CONFLICT (finding_id) DO UPDATE SET version = excluded.version, description = excluded.description, \
             item_id = excluded.item_id, updated_at = excluded.updated_at, {}",
            values.join(", "),
            DISPOSITION_COLUMNS
                .iter()
                .map(|c| format!(
                    "{c} = CASE WHEN oversight_findings.managed = 0 THEN excluded.{c} ELSE oversight_findings.{c} END"
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut q = sqlx::query(&sql).bind(&at);
        for (v, facts, f) in part {
            let c = disposition_columns(&f.disposition);
            q = q
                .bind(f.finding_id.to_string())
                .bind(v.record.record_id.to_string())
                .bind(v.version.to_owned())
                .bind(v.record.task_id.clone())
                .bind(facts.plan_id.clone())
                .bind(facts.jurisdiction.clone())
                .bind(v.record.category.code())
                .bind(f.item_id.clone().unwrap_or_default())
                .bind(f.description.clone())
                .bind(f.disposition.kind().as_str())
                .bind(c.order_no)
                .bind(c.deadline)
                .bind(c.reference)
                .bind(c.organ)
                .bind(c.followed_up_on)
                .bind(c.outcome)
                .bind(i64::from(c.closed))
                .bind(c.requirements)
                .bind(c.case_no);
        }
        q.execute(&mut **tx).await?;
    }
    // Orders issued on site get their 复查 task now.
    let ordered: Vec<String> = versions
        .iter()
        .filter(|(v, _)| {
            v.record
                .findings
                .iter()
                .any(|f| matches!(f.disposition, Disposition::RectificationOrder { .. }))
        })
        .map(|(v, _)| v.record.task_id.clone())
        .collect();
    if !ordered.is_empty() {
        super::recheck::ensure_tasks(tx, &ordered).await?;
    }
    Ok(())
}

impl Store {
    /// Indexes every draw and record version the projection does not hold
    /// (see the module docs): all of them the first time over an older
    /// database, else the last minutes' (one indexed range query when
    /// there is nothing to do). Returns the record versions indexed.
    pub async fn catch_up_projection(&self) -> Result<Vec<(String, String)>, StoreError> {
        let draws: Vec<(String,)> = sqlx::query_as(
            "SELECT d.draw_id FROM draws d \
             WHERE NOT EXISTS (SELECT 1 FROM oversight_draws o WHERE o.draw_id = d.draw_id) ORDER BY d.plan_id, d.seq",
        )
        .fetch_all(&self.pool)
        .await?;
        for (draw_id,) in draws {
            let _writer = self.writer().await;
            let mut tx = self.pool.begin().await?;
            index_draw(&mut tx, &draw_id).await?;
            tx.commit().await?;
        }
        let (newest,): (Option<String>,) =
            sqlx::query_as("SELECT MAX(received_at) FROM oversight_records")
                .fetch_one(&self.pool)
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
        .fetch_all(&self.pool)
        .await?;
        for chunk in missing.chunks(500) {
            let _writer = self.writer().await;
            let mut tx = self.pool.begin().await?;
            index_batch(&mut tx, self.backend, chunk).await?;
            tx.commit().await?;
        }
        Ok(missing)
    }
}
