//! Escalations (上报) and their alerts (`escalations`,
//! `escalation_measures`, `alerts`, `alert_attempts`).
//!
//! An escalation is stored with the town of its task's target (the
//! server's), and in the same transaction one alert per configured
//! recipient is put in the outbox, so no escalation is ever stored without
//! its alerts, nor alerted twice: a sender claims an alert (a conditional
//! update of its next attempt time) before sending it, and records every
//! attempt. Control measures (应急管控) are steps with an owner and a due
//! date; an escalation closes only with an outcome and no measure open.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use choucha_shared::escalation::{Escalation, EscalationKind};
use choucha_shared::value::Sha256Hex;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, corrupt, parse_time};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// An escalation as the console shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EscalationRow {
    pub escalation: Escalation,
    pub jurisdiction: String,
    pub target_name: String,
    pub raised_by: String,
    pub received_at: DateTime<Utc>,
    pub closed: Option<Closed>,
    pub measures: Vec<Measure>,
    pub alerts: Vec<AlertState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closed {
    pub at: DateTime<Utc>,
    pub by: String,
    pub outcome: String,
}

/// One control measure (应急管控措施).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measure {
    pub seq: i64,
    pub measure: String,
    pub owner: String,
    pub due: String,
    pub added_by: String,
    pub done: Option<(DateTime<Utc>, String, String)>,
}

/// Where one alert stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertState {
    pub alert_id: String,
    pub channel: String,
    pub target: String,
    pub attempts: i64,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// An alert due to be sent, claimed by one sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueAlert {
    pub alert_id: String,
    pub channel: String,
    pub target: String,
    pub payload: String,
    pub attempts: i64,
}

/// Where alerts go: `(channel, target)`, e.g. `("webhook", url)`.
pub type Recipient = (String, String);

/// The pause after the n-th failed attempt: 1 s, 2 s, 4 s, … at most 10 min.
pub fn backoff(attempts: i64) -> Duration {
    let secs = 1i64 << attempts.clamp(0, 10);
    Duration::seconds(secs.min(600))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Store {
    /// Stores an escalation of a task and its alerts, in one transaction.
    /// `raised_by` is who raised it (an officer's device or a console
    /// user); the town is the task's target's.
    #[tracing::instrument(level = "debug", name = "store.raise_escalation", skip_all)]
    pub async fn raise_escalation(&self, e: &Escalation, actor: &Actor) -> Result<(), StoreError> {
        if let Err(why) = e.check() {
            return Err(StoreError::invalid(
                why,
                serde_json::json!({ "field": "description" }),
            ));
        }
        let _writer = self.writer().await;
        let recipients = self.alert_recipients();
        let mut tx = self.pool.begin().await?;
        raise_in(&mut tx, self.backend, e, actor, &recipients).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Escalations, open ones first (oldest first), then the closed ones.
    pub async fn escalations(
        &self,
        town: Option<&str>,
        open_only: bool,
    ) -> Result<Vec<EscalationRow>, StoreError> {
        let mut sql = String::from("SELECT escalation_id FROM escalations WHERE 1 = 1");
        if town.is_some() {
            sql.push_str(" AND jurisdiction = $1");
        }
        if open_only {
            sql.push_str(" AND closed_at IS NULL");
        }
        sql.push_str(
            " ORDER BY CASE WHEN closed_at IS NULL THEN 0 ELSE 1 END, received_at LIMIT 300",
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql);
        if let Some(t) = town {
            q = q.bind(t);
        }
        let ids = q.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(ids.len());
        for (id,) in ids {
            out.push(self.escalation(&id.parse().map_err(corrupt)?).await?);
        }
        Ok(out)
    }

    pub async fn escalation(&self, id: &Uuid) -> Result<EscalationRow, StoreError> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
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
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT task_id, record_id, finding_id, kind, description, photos, jurisdiction, target_name, \
             raised_by, raised_at, received_at, closed_at, closed_by, outcome FROM escalations WHERE escalation_id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let r = row.ok_or_else(|| StoreError::NotFound(format!("上报 {id} 不存在")))?;
        let photos: Vec<Sha256Hex> = serde_json::from_str(&r.5).map_err(corrupt)?;
        let escalation = Escalation {
            escalation_id: *id,
            task_id: r.0,
            record_id: r.1.map(|v| v.parse()).transpose().map_err(corrupt)?,
            finding_id: r.2.map(|v| v.parse()).transpose().map_err(corrupt)?,
            kind: r.3.parse::<EscalationKind>().map_err(corrupt)?,
            description: r.4,
            photos,
            raised_at: parse_time(&r.9)?,
        };
        let closed = match (r.11, r.12, r.13) {
            (Some(at), Some(by), Some(outcome)) => Some(Closed {
                at: parse_time(&at)?,
                by,
                outcome,
            }),
            _ => None,
        };
        type MRow = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let measures: Vec<MRow> = sqlx::query_as(
            "SELECT seq, measure, owner, due, added_by, done_at, done_by, result FROM escalation_measures \
             WHERE escalation_id = $1 ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let measures = measures
            .into_iter()
            .map(|(seq, measure, owner, due, added_by, at, by, result)| {
                let done = match (at, by, result) {
                    (Some(at), Some(by), Some(result)) => Some((parse_time(&at)?, by, result)),
                    _ => None,
                };
                Ok(Measure {
                    seq,
                    measure,
                    owner,
                    due,
                    added_by,
                    done,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        type ARow = (String, String, String, i64, Option<String>, Option<String>);
        let alerts: Vec<ARow> = sqlx::query_as(
            "SELECT alert_id, channel, target, attempts, delivered_at, last_error FROM alerts \
             WHERE escalation_id = $1 ORDER BY alert_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        let alerts = alerts
            .into_iter()
            .map(
                |(alert_id, channel, target, attempts, delivered, last_error)| {
                    Ok(AlertState {
                        alert_id,
                        channel,
                        target,
                        attempts,
                        delivered_at: delivered.map(|d| parse_time(&d)).transpose()?,
                        last_error,
                    })
                },
            )
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(EscalationRow {
            escalation,
            jurisdiction: r.6,
            target_name: r.7,
            raised_by: r.8,
            received_at: parse_time(&r.10)?,
            closed,
            measures,
            alerts,
        })
    }

    /// Adds a control measure to an open escalation.
    pub async fn add_measure(
        &self,
        id: &Uuid,
        measure: &str,
        owner: &str,
        due: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let (measure, owner) = (measure.trim(), owner.trim());
        if measure.is_empty() || owner.is_empty() {
            return Err(StoreError::invalid(
                "应急管控措施须写明措施内容和责任人",
                serde_json::json!({ "field": "measure" }),
            ));
        }
        let due: choucha_shared::value::CivilDate = due.parse().map_err(|e| {
            StoreError::invalid(
                format!("完成期限 '{due}' 无效：{e}"),
                serde_json::json!({ "field": "due" }),
            )
        })?;
        let _writer = self.writer().await;
        let row = self.escalation(id).await?;
        if row.closed.is_some() {
            return Err(StoreError::Conflict("该上报已办结，不能再添加措施".into()));
        }
        let mut tx = self.pool.begin().await?;
        let (last,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(seq) FROM escalation_measures WHERE escalation_id = $1")
                .bind(id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        let seq = last.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO escalation_measures (escalation_id, seq, measure, owner, due, added_by, added_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(seq)
        .bind(measure)
        .bind(owner)
        .bind(due.to_string())
        .bind(actor.as_str())
        .bind(ts(Utc::now()))
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "escalation.measure",
                object: format!("escalation:{id}"),
                before: None,
                after: Some(serde_json::json!({ "seq": seq, "measure": measure, "owner": owner, "due": due.to_string() })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a measure as done, with what it achieved.
    pub async fn complete_measure(
        &self,
        id: &Uuid,
        seq: i64,
        result: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let result = result.trim();
        if result.is_empty() {
            return Err(StoreError::invalid(
                "须写明措施的落实情况",
                serde_json::json!({ "field": "result" }),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE escalation_measures SET done_at = $1, done_by = $2, result = $3 \
             WHERE escalation_id = $4 AND seq = $5 AND done_at IS NULL",
        )
        .bind(ts(Utc::now()))
        .bind(actor.as_str())
        .bind(result)
        .bind(id.to_string())
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("措施 {seq} 不存在或已落实")));
        }
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "escalation.measure_done",
                object: format!("escalation:{id}"),
                before: None,
                after: Some(serde_json::json!({ "seq": seq, "result": result })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes an escalation: only with an outcome, and only once every
    /// control measure is done.
    pub async fn close_escalation(
        &self,
        id: &Uuid,
        outcome: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let outcome = outcome.trim();
        if outcome.is_empty() {
            return Err(StoreError::invalid(
                "办结须记录处理结果",
                serde_json::json!({ "field": "outcome" }),
            ));
        }
        let _writer = self.writer().await;
        let row = self.escalation(id).await?;
        let open: Vec<String> = row
            .measures
            .iter()
            .filter(|m| m.done.is_none())
            .map(|m| format!("{}（{}）", m.measure, m.owner))
            .collect();
        if !open.is_empty() {
            return Err(StoreError::Conflict(format!(
                "尚有应急管控措施未落实，不能办结：{}",
                open.join("；")
            )));
        }
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE escalations SET closed_at = $1, closed_by = $2, outcome = $3 WHERE escalation_id = $4 AND closed_at IS NULL",
        )
        .bind(ts(Utc::now()))
        .bind(actor.as_str())
        .bind(outcome)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict("该上报已办结".into()));
        }
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "escalation.close",
                object: format!("escalation:{id}"),
                before: Some(serde_json::json!({ "closed_at": null })),
                after: Some(serde_json::json!({ "outcome": outcome })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` alerts due now: each is moved to a later
    /// attempt time first, under a condition on the time it had, so two
    /// senders (instances) never send one alert at once.
    pub async fn claim_due_alerts(&self, limit: i64) -> Result<Vec<DueAlert>, StoreError> {
        let now = Utc::now();
        let rows: Vec<(String, String, String, String, i64, String)> = sqlx::query_as(
            "SELECT alert_id, channel, target, payload, attempts, next_at FROM alerts \
             WHERE delivered_at IS NULL AND next_at <= $1 ORDER BY next_at LIMIT $2",
        )
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for (alert_id, channel, target, payload, attempts, next_at) in rows {
            // Long enough for one attempt; a sender that died mid-way is
            // replaced after it.
            let lease = ts(now + Duration::seconds(60));
            let done = sqlx::query(
                "UPDATE alerts SET next_at = $1 WHERE alert_id = $2 AND next_at = $3 AND delivered_at IS NULL",
            )
            .bind(&lease)
            .bind(&alert_id)
            .bind(&next_at)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 1 {
                claimed.push(DueAlert {
                    alert_id,
                    channel,
                    target,
                    payload,
                    attempts,
                });
            }
        }
        Ok(claimed)
    }

    /// Records one attempt at a claimed alert: delivered, or failed with
    /// the next attempt after the backoff.
    pub async fn alert_attempted(
        &self,
        alert: &DueAlert,
        result: Result<String, String>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let attempt = alert.attempts + 1;
        let mut tx = self.pool.begin().await?;
        let (ok, detail) = match &result {
            Ok(d) => (1i64, d.clone()),
            Err(e) => (0i64, e.clone()),
        };
        sqlx::query(
            "INSERT INTO alert_attempts (alert_id, attempt, at, ok, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&alert.alert_id)
        .bind(attempt)
        .bind(ts(now))
        .bind(ok)
        .bind(&detail)
        .execute(&mut *tx)
        .await?;
        match result {
            Ok(_) => {
                sqlx::query(
                    "UPDATE alerts SET attempts = $1, delivered_at = $2, last_error = NULL WHERE alert_id = $3",
                )
                .bind(attempt)
                .bind(ts(now))
                .bind(&alert.alert_id)
                .execute(&mut *tx)
                .await?;
            }
            Err(e) => {
                sqlx::query(
                    "UPDATE alerts SET attempts = $1, next_at = $2, last_error = $3 WHERE alert_id = $4",
                )
                .bind(attempt)
                .bind(ts(now + backoff(attempt)))
                .bind(e)
                .bind(&alert.alert_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every attempt at an alert, in order: (attempt, at, ok, detail).
    pub async fn alert_attempts(
        &self,
        alert_id: &str,
    ) -> Result<Vec<(i64, String, bool, String)>, StoreError> {
        let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(
            "SELECT attempt, at, ok, detail FROM alert_attempts WHERE alert_id = $1 ORDER BY attempt",
        )
        .bind(alert_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(n, at, ok, d)| (n, at, ok != 0, d))
            .collect())
    }
}

/// Decides an escalation raised on a tablet (one entry of a push): the
/// device's officer must be on the task's drawn team. Returns why it was
/// refused (`None`: taken, or taken before).
pub(super) async fn ingest(
    tx: &mut Tx<'_>,
    backend: super::Backend,
    device: &super::sync::DeviceCtx,
    e: &Escalation,
    recipients: &[Recipient],
) -> Result<Option<String>, StoreError> {
    if let Err(why) = e.check() {
        return Ok(Some(format!("上报未予接收：{why}")));
    }
    let on_team: Option<(String,)> = sqlx::query_as(
        "SELECT role FROM task_members WHERE task_id = $1 AND person_id = $2 AND role = 'officer'",
    )
    .bind(&e.task_id)
    .bind(&device.officer_id)
    .fetch_optional(&mut **tx)
    .await?;
    if on_team.is_none() {
        return Ok(Some(format!(
            "任务 {} 不属于本设备执法人员所在的检查组，上报未予接收 (not your team's task)",
            e.task_id
        )));
    }
    // A record it names that the server holds must be of the same task.
    if let Some(record) = e.record_id {
        let of: Option<(String,)> =
            sqlx::query_as("SELECT task_id FROM records WHERE record_id = $1 LIMIT 1")
                .bind(record.to_string())
                .fetch_optional(&mut **tx)
                .await?;
        if of.is_some_and(|(task,)| task != e.task_id) {
            return Ok(Some(format!(
                "检查记录 {record} 不属于任务 {}，上报未予接收 (record of another task)",
                e.task_id
            )));
        }
    }
    let actor = Actor::device(&device.device_id);
    raise_in(tx, backend, e, &actor, recipients).await?;
    Ok(None)
}

/// Stores an escalation and its alerts inside `tx`.
pub(super) async fn raise_in(
    tx: &mut Tx<'_>,
    backend: super::Backend,
    e: &Escalation,
    actor: &Actor,
    recipients: &[Recipient],
) -> Result<(), StoreError> {
    let town: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT g.jurisdiction, g.name FROM tasks t LEFT JOIN targets g \
         ON g.category = t.category AND g.target_key = t.target_key WHERE t.task_id = $1",
    )
    .bind(&e.task_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((town, target_name)) = town else {
        return Err(StoreError::NotFound(format!("任务 {} 不存在", e.task_id)));
    };
    let (town, target_name) = (town.unwrap_or_default(), target_name.unwrap_or_default());
    let now = Utc::now();
    let done = sqlx::query(
        "INSERT INTO escalations (escalation_id, task_id, record_id, finding_id, kind, description, photos, \
         jurisdiction, target_name, raised_by, raised_at, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (escalation_id) DO NOTHING",
    )
    .bind(e.escalation_id.to_string())
    .bind(&e.task_id)
    .bind(e.record_id.map(|r| r.to_string()))
    .bind(e.finding_id.map(|f| f.to_string()))
    .bind(e.kind.code())
    .bind(e.description.trim())
    .bind(serde_json::to_string(&e.photos).map_err(corrupt)?)
    .bind(&town)
    .bind(&target_name)
    .bind(actor.as_str())
    .bind(ts(e.raised_at))
    .bind(ts(now))
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        // Raised before (a retried push): its alerts are already out.
        return Ok(());
    }
    let owner = format!("escalation:{}", e.escalation_id);
    super::unnamed_blobs::name_blobs(tx, backend, &owner, &e.photos).await?;
    // What the recipients are told: enough to act on without logging in.
    let payload = serde_json::json!({
        "event": "escalation",
        "escalation_id": e.escalation_id,
        "kind": e.kind.code(),
        "kind_zh": e.kind.label_zh(),
        "description": e.description.trim(),
        "task_id": e.task_id,
        "target_name": target_name,
        "jurisdiction": town,
        "raised_by": actor.as_str(),
        "raised_at": e.raised_at,
    })
    .to_string();
    for (i, (channel, target)) in recipients.iter().enumerate() {
        sqlx::query(
            "INSERT INTO alerts (alert_id, escalation_id, channel, target, payload, attempts, next_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
        )
        .bind(format!("{}-{}", e.escalation_id, i + 1))
        .bind(e.escalation_id.to_string())
        .bind(channel)
        .bind(target)
        .bind(&payload)
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
    }
    audit::append(
        tx,
        Change {
            actor,
            action: "escalation.raise",
            object: format!("escalation:{}", e.escalation_id),
            before: None,
            after: Some(serde_json::to_value(e).map_err(corrupt)?),
        },
    )
    .await?;
    Ok(())
}
