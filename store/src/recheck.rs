//! 复查 tasks and records (`recheck_tasks`, `recheck_records`): the
//! follow-up visit of a rectification order, done by the team in the field.
//!
//! A task is made, in the transaction that first shows the order, for each
//! (inspection task, order number) with an open finding under it
//! ([`ensure_tasks`]): when a record sealed with the order is projected, or
//! when the console records the order. Its officers get it through their
//! feed. The task as the tablet sees it ([`RecheckTask`]) is built from the
//! server's facts when it is pulled: the drawn team and target, the
//! findings under the order as they stand.
//!
//! A sealed 复查 record arrives in a push ([`ingest`]) and is decided
//! against the same facts: the device's officer is on the team, the record
//! names the task's target and team, and the sealing rules of
//! `choucha_shared::recheck` hold against the server's task. Each result
//! is then recorded on its finding as a follow-up step (by the device's
//! actor, with its audit entry), which closes a rectified finding and
//! leaves the others open for the quality section to escalate.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use choucha_shared::directory::TargetKey;
use choucha_shared::followup::FollowUpAction;
use choucha_shared::plan::TeamMember;
use choucha_shared::recheck::{self, OrderedFinding, RecheckRecord, RecheckTask};
use choucha_shared::record::DispositionKind;
use choucha_shared::review::ReviewState;
use choucha_shared::value::CivilDate;

use super::audit::Actor;
use super::findings::followup_in;
use super::sync::DeviceCtx;
use super::{Backend, Store, StoreError, corrupt, marks, now};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// `task_members.role` of an officer (`MemberRole::Officer` as serialised).
const OFFICER: &str = "officer";

/// The ID of the 复查 task of an order: derived from what identifies it, so
/// that two instances making it at once make the same row.
fn recheck_id(task_id: &str, order_no: &str) -> String {
    let mut h = Sha256::new();
    h.update(task_id.as_bytes());
    h.update([0]);
    h.update(order_no.as_bytes());
    format!("FC-{}", &hex::encode(h.finalize())[..16])
}

/// Makes the 复查 task of every open rectification order of `task_ids`
/// that has none, and tells the team's officers; moves the deadline of an
/// open one when its order's deadline changed.
pub(crate) async fn ensure_tasks(tx: &mut Tx<'_>, task_ids: &[String]) -> Result<(), StoreError> {
    let ids: Vec<&String> = task_ids
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for part in ids.chunks(400) {
        let sql = format!(
            "SELECT task_id, order_no, MAX(deadline) FROM oversight_findings \
             WHERE task_id IN ({}) AND kind = $1 AND closed = 0 AND order_no IS NOT NULL AND deadline IS NOT NULL \
             GROUP BY task_id, order_no ORDER BY task_id, order_no",
            marks(2, part.len())
        );
        let mut q = sqlx::query_as::<_, (String, String, String)>(&sql)
            .bind(DispositionKind::RectificationOrder.as_str());
        for id in part {
            q = q.bind(id.as_str());
        }
        let orders = q.fetch_all(&mut **tx).await?;
        let at = now();
        for (task_id, order_no, deadline) in orders {
            let id = recheck_id(&task_id, &order_no);
            let made = sqlx::query(
                "INSERT INTO recheck_tasks (recheck_id, task_id, order_no, deadline, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (recheck_id) DO NOTHING",
            )
            .bind(&id)
            .bind(&task_id)
            .bind(&order_no)
            .bind(&deadline)
            .bind(&at)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if made == 0 {
                sqlx::query(
                    "UPDATE recheck_tasks SET deadline = $1 WHERE recheck_id = $2 AND done_at IS NULL AND deadline <> $1",
                )
                .bind(&deadline)
                .bind(&id)
                .execute(&mut **tx)
                .await?;
                continue;
            }
            let fed: Vec<(String,)> = sqlx::query_as(
                "INSERT INTO officer_feed (person_id, kind, ref_id, payload, created_at) \
                 SELECT person_id, 'recheck', $1, '', $2 FROM task_members WHERE task_id = $3 AND role = $4 ORDER BY person_id \
                 RETURNING person_id",
            )
            .bind(&id)
            .bind(&at)
            .bind(&task_id)
            .bind(OFFICER)
            .fetch_all(&mut **tx)
            .await?;
            // No store at hand here (inside a push's ingest): see
            // `quiet_pulls::forget_everywhere`.
            let fed: Vec<String> = fed.into_iter().map(|(p,)| p).collect();
            super::quiet_pulls::forget_everywhere(&fed);
        }
    }
    Ok(())
}

/// A 复查 task as stored, with the findings under its order.
pub(crate) struct Loaded {
    pub task: RecheckTask,
    /// The findings under the order that are closed (by the console, or by
    /// an earlier 复查).
    pub closed: BTreeSet<Uuid>,
    /// The 复查 record that completed it.
    pub done_record: Option<String>,
}

type TaskRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
);
type FindingRow = (String, String, String, String, Option<String>, i64);

/// Reads a 复查 task with every finding under its order.
pub(crate) async fn load(
    conn: &mut sqlx::AnyConnection,
    recheck_id: &str,
) -> Result<Option<Loaded>, StoreError> {
    let row: Option<TaskRow> = sqlx::query_as(
        "SELECT r.recheck_id, r.task_id, r.order_no, r.deadline, r.done_record, t.category, t.target_key, t.team \
         FROM recheck_tasks r JOIN tasks t ON t.task_id = r.task_id WHERE r.recheck_id = $1",
    )
    .bind(recheck_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((recheck_id, task_id, order_no, deadline, done_record, category, key, team)) = row
    else {
        return Ok(None);
    };
    let rows: Vec<FindingRow> = sqlx::query_as(
        "SELECT finding_id, record_id, item_id, description, requirements, closed FROM oversight_findings \
         WHERE task_id = $1 AND order_no = $2 ORDER BY finding_id",
    )
    .bind(&task_id)
    .bind(&order_no)
    .fetch_all(&mut *conn)
    .await?;
    let Some(record_id) = rows.first().map(|r| r.1.clone()) else {
        return Ok(None);
    };
    let (target_name, inspection_date): (String, String) = sqlx::query_as(
        "SELECT target_name, inspection_date FROM oversight_records WHERE record_id = $1 AND state <> $2 \
         ORDER BY received_at DESC LIMIT 1",
    )
    .bind(&record_id)
    .bind(ReviewState::Superseded.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let mut closed = BTreeSet::new();
    let mut findings = Vec::new();
    for (finding_id, _, item_id, description, requirements, is_closed) in rows {
        let finding_id: Uuid = finding_id.parse().map_err(corrupt)?;
        if is_closed != 0 {
            closed.insert(finding_id);
        }
        findings.push(OrderedFinding {
            finding_id,
            item_id: Some(item_id).filter(|i| !i.is_empty()),
            description,
            requirements: requirements.unwrap_or_default(),
        });
    }
    let date = |s: &str| CivilDate::parse(s).map_err(corrupt);
    Ok(Some(Loaded {
        task: RecheckTask {
            recheck_id,
            task_id,
            record_id: record_id.parse().map_err(corrupt)?,
            target: TargetKey(key),
            target_name,
            category: category.parse().map_err(corrupt)?,
            team: serde_json::from_str::<Vec<TeamMember>>(&team).map_err(corrupt)?,
            order_no,
            deadline: date(&deadline)?,
            inspection_date: date(&inspection_date)?,
            findings,
        },
        closed,
        done_record,
    }))
}

impl Loaded {
    /// The task as a tablet is sent it: only the findings still open.
    pub(crate) fn for_device(mut self) -> Option<RecheckTask> {
        if self.done_record.is_some() {
            return None;
        }
        self.task
            .findings
            .retain(|f| !self.closed.contains(&f.finding_id));
        (!self.task.findings.is_empty()).then_some(self.task)
    }

    /// The task a sealed record is checked against: the findings still
    /// open, and closed ones the record re-checked all the same (it was
    /// pulled before they were closed).
    fn for_record(&self, record: &RecheckRecord) -> RecheckTask {
        let mut task = self.task.clone();
        task.findings.retain(|f| {
            !self.closed.contains(&f.finding_id)
                || record.results.contains_key(&f.finding_id.to_string())
        });
        task
    }
}

/// China Standard Time, in which officers date their work.
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("a valid offset")
}

/// Decides one sealed 复查 record of a push against the server's facts and
/// records it; returns why it was refused (`None`: taken).
pub(super) async fn ingest(
    tx: &mut Tx<'_>,
    backend: Backend,
    device: &DeviceCtx,
    record: &RecheckRecord,
    received_at: &str,
) -> Result<Option<String>, StoreError> {
    let record_id = record.record_id.to_string();
    if backend == Backend::Postgres {
        // One completion per task, whichever instance takes it.
        sqlx::query("SELECT recheck_id FROM recheck_tasks WHERE recheck_id = $1 FOR UPDATE")
            .bind(&record.recheck_id)
            .execute(&mut **tx)
            .await?;
    }
    let Some(loaded) = load(tx, &record.recheck_id).await? else {
        return Ok(Some(format!(
            "复查任务 {} 不存在 (no such follow-up task)",
            record.recheck_id
        )));
    };
    let task = &loaded.task;
    let on_team: Option<(String,)> = sqlx::query_as(
        "SELECT role FROM task_members WHERE task_id = $1 AND person_id = $2 AND role = $3",
    )
    .bind(&task.task_id)
    .bind(&device.officer_id)
    .bind(OFFICER)
    .fetch_optional(&mut **tx)
    .await?;
    if on_team.is_none() {
        return Ok(Some(format!(
            "复查任务 {} 不属于本设备执法人员所在的检查组 (not your team's follow-up)",
            task.recheck_id
        )));
    }
    let mut lies = Vec::new();
    if record.task_id != task.task_id {
        lies.push(format!("task_id：应为 {}", task.task_id));
    }
    if record.target != task.target {
        lies.push(format!("target：应为 {}", task.target.0));
    }
    if record.team != task.team {
        lies.push("team：与抽取的检查组不一致".to_owned());
    }
    if !lies.is_empty() {
        return Ok(Some(format!(
            "复查记录与复查任务 {} 不符，未予接收 (the record does not match its task)：{}",
            task.recheck_id,
            lies.join("；")
        )));
    }
    if let Some(done) = &loaded.done_record {
        if *done != record_id {
            return Ok(Some(format!(
                "复查任务 {} 已由另一份复查记录 {done} 完成 (already done)",
                task.recheck_id
            )));
        }
    }
    let stored: Option<(String,)> =
        sqlx::query_as("SELECT version FROM recheck_records WHERE record_id = $1")
            .bind(&record_id)
            .fetch_optional(&mut **tx)
            .await?;
    if stored.is_some() {
        return Ok(Some(format!("复查记录 {record_id} 已封存，不能再次提交")));
    }
    let violations = recheck::check(&loaded.for_record(record), record);
    if !violations.is_empty() {
        return Ok(Some(format!(
            "复查记录不符合封存要求，未予接收：{}",
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("；")
        )));
    }
    let received: DateTime<Utc> = super::parse_time(received_at)?;
    let today = received.with_timezone(&china()).date_naive();
    if record.inspected_on.date() > today {
        return Ok(Some(format!(
            "复查日期 {} 晚于服务器收到的日期 {today}",
            record.inspected_on
        )));
    }
    sqlx::query(
        "INSERT INTO recheck_records (record_id, recheck_id, device_id, version, inspected_on, body, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&record_id)
    .bind(&task.recheck_id)
    .bind(&device.device_id)
    .bind(record.version().as_str())
    .bind(record.inspected_on.to_string())
    .bind(serde_json::to_string(record).map_err(corrupt)?)
    .bind(received_at)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE recheck_tasks SET done_record = $1, done_at = $2 WHERE recheck_id = $3")
        .bind(&record_id)
        .bind(received_at)
        .bind(&task.recheck_id)
        .execute(&mut **tx)
        .await?;
    let actor = Actor::device(&device.device_id);
    for f in &task.findings {
        if loaded.closed.contains(&f.finding_id) {
            continue;
        }
        let Some(result) = record.results.get(&f.finding_id.to_string()) else {
            continue;
        };
        let action = FollowUpAction::FollowUpInspection {
            inspected_on: record.inspected_on,
            outcome: result.outcome,
            note: result.note.clone(),
        };
        let id = f.finding_id.to_string();
        match followup_in(tx, backend, &id, &action, &actor, today).await {
            // The quality section escalated the finding (a case filed, a
            // transfer) after the tablet pulled the 复查: the record keeps
            // its result, the finding its new course.
            Err(StoreError::Conflict(_)) => continue,
            other => other?,
        };
    }
    Ok(None)
}

/// A stored 复查 record, for the console.
#[derive(Debug, Clone)]
pub struct StoredRecheck {
    pub record: RecheckRecord,
    pub device_id: String,
    pub received_at: String,
}

/// A 复查 task as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecheckSummary {
    pub recheck_id: String,
    pub task_id: String,
    pub order_no: String,
    pub deadline: String,
    pub done_record: Option<String>,
    pub done_at: Option<String>,
}

impl Store {
    /// A 复查 task with every finding under its order, as stored.
    pub async fn recheck_task(&self, recheck_id: &str) -> Result<Option<RecheckTask>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(load(&mut conn, recheck_id).await?.map(|l| l.task))
    }

    /// The 复查 tasks of an inspection task, oldest order first.
    pub async fn rechecks_of_task(&self, task_id: &str) -> Result<Vec<RecheckSummary>, StoreError> {
        Ok(sqlx::query_as::<_, RecheckSummary>(
            "SELECT recheck_id, task_id, order_no, deadline, done_record, done_at FROM recheck_tasks \
             WHERE task_id = $1 ORDER BY created_at, recheck_id",
        )
        .bind(task_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The 复查 record that completed a task, if one did.
    pub async fn recheck_record(
        &self,
        recheck_id: &str,
    ) -> Result<Option<StoredRecheck>, StoreError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT body, device_id, received_at FROM recheck_records WHERE recheck_id = $1 ORDER BY received_at LIMIT 1",
        )
        .bind(recheck_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(body, device_id, received_at)| {
            Ok(StoredRecheck {
                record: serde_json::from_str(&body).map_err(corrupt)?,
                device_id,
                received_at,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_depends_on_task_and_order_only() {
        let a = recheck_id("T-1", "责改〔2026〕1号");
        assert_eq!(a, recheck_id("T-1", "责改〔2026〕1号"));
        assert_ne!(a, recheck_id("T-1", "责改〔2026〕2号"));
        assert_ne!(a, recheck_id("T-2", "责改〔2026〕1号"));
        // The separator keeps "T-1"+"2…" apart from "T-12"+"…".
        assert_ne!(recheck_id("T-1", "2x"), recheck_id("T-12", "x"));
        assert!(a.starts_with("FC-") && a.len() == 19);
    }
}
