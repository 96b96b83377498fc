//! The public register (一公开) as stored: `disclosures`, one row per
//! published result, withdrawn rows kept and marked. What is published
//! (the matter, the authority, the result category, the deadline) is
//! decided by the caller from the record; this module checks the record may
//! be published and writes the row, the projection's `disclosed` flag and
//! the audit entry in one transaction.

use choucha_shared::record::InspectionRecord;
use choucha_shared::review::{PublishedResult, ReviewState};
use chrono::NaiveDate;
use serde::Serialize;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, corrupt, now};

/// One published result, exactly as the public sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicResult {
    pub seq: i64,
    /// 检查对象名称
    pub target_name: String,
    /// 统一社会信用代码 (of the issuer, for a standard)
    pub uscc: Option<String>,
    /// 检查事项
    pub matter: String,
    /// 检查日期
    pub inspection_date: String,
    /// 检查机关
    pub authority: String,
    /// 检查结果 (the category's Chinese label)
    pub result: String,
    pub published_at: String,
    /// Set when the result was withdrawn (撤回), with the public reason.
    pub withdrawn_at: Option<String>,
    pub withdrawal_reason: Option<String>,
}

/// One live published result in the national register's layout (国家企业
/// 信用信息公示系统): the plan and task it came from, read from the draw
/// the record's task belongs to — never from the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterRow {
    /// 抽查计划名称 (the plan's title) and 抽查计划编号 (its id).
    pub plan_title: String,
    pub plan_id: String,
    /// 抽查任务编号
    pub task_id: String,
    pub target_name: String,
    pub uscc: Option<String>,
    pub matter: String,
    pub result: String,
    pub inspection_date: String,
    pub authority: String,
    /// When it was published (the latest one dates the export).
    pub published_at: String,
}

/// What the caller decides to publish for a record.
#[derive(Debug, Clone)]
pub struct Publication {
    /// 检查事项
    pub matter: String,
    /// 发布机关
    pub authority: String,
    pub result: PublishedResult,
    /// The publication deadline (20 working days after the inspection).
    pub deadline: NaiveDate,
}

/// A record whose result is not public yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undisclosed {
    pub record_id: String,
    pub version: String,
    pub town: String,
    pub target_name: String,
    pub inspection_date: String,
    pub state: String,
}

const RESULT_COLUMNS: &str = "seq, target_name, uscc, matter, inspection_date, authority, result, published_at, withdrawn_at, withdrawal_reason";

type ResultRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn from_row(r: ResultRow) -> PublicResult {
    PublicResult {
        seq: r.0,
        target_name: r.1,
        uscc: r.2,
        matter: r.3,
        inspection_date: r.4,
        authority: r.5,
        result: r.6,
        published_at: r.7,
        withdrawn_at: r.8,
        withdrawal_reason: r.9,
    }
}

impl Store {
    /// Publishes the approved current version of a record, with what
    /// `decide` makes of it. A record has at most one live result.
    pub async fn publish(
        &self,
        record_id: &str,
        actor: &Actor,
        decide: impl FnOnce(&InspectionRecord) -> Publication,
    ) -> Result<PublicResult, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT version, state, record FROM records WHERE record_id = $1 AND superseded = 0",
        )
        .bind(record_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (version, state, json) =
            row.ok_or_else(|| StoreError::NotFound(format!("记录 {record_id} 不存在")))?;
        if state != ReviewState::Approved.as_str() {
            return Err(StoreError::Conflict(format!(
                "记录 {record_id} 尚未审核通过（当前状态 {state}），不能公示"
            )));
        }
        let live: Option<(i64,)> = sqlx::query_as(
            "SELECT seq FROM disclosures WHERE record_id = $1 AND withdrawn_at IS NULL",
        )
        .bind(record_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((seq,)) = live {
            return Err(StoreError::Conflict(format!(
                "记录 {record_id} 的检查结果已公示（第 {seq} 号），如需更正请先撤回"
            )));
        }
        let record: InspectionRecord = serde_json::from_str(&json).map_err(corrupt)?;
        let uscc: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT CASE WHEN issuer IS NULL THEN target_key ELSE issuer_uscc END FROM targets WHERE category = $1 AND target_key = $2",
        )
        .bind(record.category.code())
        .bind(record.target.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let uscc = match uscc {
            Some((u,)) => u,
            None if record.category.is_standard() => None,
            None => Some(record.target.to_string()),
        };
        let p = decide(&record);
        let at = now();
        sqlx::query(
            "INSERT INTO disclosures (record_id, version, target_key, target_name, uscc, matter, inspection_date, authority, result, deadline, published_at, published_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(record_id)
        .bind(&version)
        .bind(record.target.as_str())
        .bind(&record.target_name)
        .bind(&uscc)
        .bind(&p.matter)
        .bind(record.inspection_date.to_string())
        .bind(&p.authority)
        .bind(p.result.label_zh())
        .bind(p.deadline.format("%Y-%m-%d").to_string())
        .bind(&at)
        .bind(actor.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE oversight_records SET disclosed = 1 WHERE record_id = $1 AND version = $2",
        )
        .bind(record_id)
        .bind(&version)
        .execute(&mut *tx)
        .await?;
        let row: ResultRow = sqlx::query_as(&format!(
            "SELECT {RESULT_COLUMNS} FROM disclosures WHERE record_id = $1 AND withdrawn_at IS NULL"
        ))
        .bind(record_id)
        .fetch_one(&mut *tx)
        .await?;
        let published = from_row(row);
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "disclosure.publish",
                object: format!("record:{record_id}"),
                before: None,
                after: Some(serde_json::to_value(&published).map_err(corrupt)?),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(published)
    }

    /// Withdraws the live result of a record. The entry stays public,
    /// marked withdrawn with `reason`.
    pub async fn withdraw(
        &self,
        record_id: &str,
        reason: &str,
        actor: &Actor,
    ) -> Result<PublicResult, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let live: Option<(i64, String)> = sqlx::query_as(
            "SELECT seq, version FROM disclosures WHERE record_id = $1 AND withdrawn_at IS NULL",
        )
        .bind(record_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (seq, version) = live.ok_or_else(|| {
            StoreError::NotFound(format!("记录 {record_id} 没有公示中的检查结果"))
        })?;
        sqlx::query(
            "UPDATE disclosures SET withdrawn_at = $1, withdrawn_by = $2, withdrawal_reason = $3 WHERE seq = $4",
        )
        .bind(now())
        .bind(actor.as_str())
        .bind(reason)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE oversight_records SET disclosed = 0 WHERE record_id = $1 AND version = $2",
        )
        .bind(record_id)
        .bind(&version)
        .execute(&mut *tx)
        .await?;
        let row: ResultRow = sqlx::query_as(&format!(
            "SELECT {RESULT_COLUMNS} FROM disclosures WHERE seq = $1"
        ))
        .bind(seq)
        .fetch_one(&mut *tx)
        .await?;
        let withdrawn = from_row(row);
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "disclosure.withdraw",
                object: format!("record:{record_id}"),
                before: None,
                after: Some(serde_json::to_value(&withdrawn).map_err(corrupt)?),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(withdrawn)
    }

    /// Current record versions not public yet, oldest inspection first, at
    /// most `limit`; plus how many of them were inspected on or before
    /// `overdue_through` (one indexed range count).
    pub async fn undisclosed(
        &self,
        town: Option<&str>,
        overdue_through: NaiveDate,
        limit: i64,
    ) -> Result<(Vec<Undisclosed>, i64), StoreError> {
        let superseded = ReviewState::Superseded.as_str();
        let sql = format!(
            "SELECT record_id, version, jurisdiction, target_name, inspection_date, state FROM oversight_records \
             WHERE disclosed = 0 AND state <> '{superseded}' AND ($1 = '' OR jurisdiction = $1) \
             ORDER BY inspection_date, record_id LIMIT $2",
        );
        let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(&sql)
            .bind(town.unwrap_or_default())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let sql = format!(
            "SELECT COUNT(*) FROM oversight_records WHERE disclosed = 0 AND state <> '{superseded}' \
             AND inspection_date <= $1 AND ($2 = '' OR jurisdiction = $2)",
        );
        let (overdue,): (i64,) = sqlx::query_as(&sql)
            .bind(overdue_through.format("%Y-%m-%d").to_string())
            .bind(town.unwrap_or_default())
            .fetch_one(&self.pool)
            .await?;
        let rows = rows
            .into_iter()
            .map(
                |(record_id, version, town, target_name, inspection_date, state)| Undisclosed {
                    record_id,
                    version,
                    town,
                    target_name,
                    inspection_date,
                    state,
                },
            )
            .collect();
        Ok((rows, overdue))
    }

    /// Published results after `seq`, oldest first (the feeds).
    /// Every live (not withdrawn) published result with its plan and task,
    /// in publication order: the rows of the national register export.
    pub async fn register_rows(&self) -> Result<Vec<RegisterRow>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
            String,
            String,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT p.plan_id, p.spec, t.task_id, d.target_name, d.uscc, d.matter, d.result, \
             d.inspection_date, d.authority, d.published_at \
             FROM disclosures d \
             JOIN records r ON r.record_id = d.record_id AND r.version = d.version \
             JOIN tasks t ON t.task_id = r.task_id \
             JOIN draws w ON w.draw_id = t.draw_id \
             JOIN plans p ON p.plan_id = w.plan_id \
             WHERE d.withdrawn_at IS NULL ORDER BY d.seq",
        )
        .fetch_all(&self.reads)
        .await?;
        let mut titles: std::collections::HashMap<String, String> = Default::default();
        let mut out = Vec::with_capacity(rows.len());
        for (plan_id, spec, task_id, target_name, uscc, matter, result, date, authority, at) in rows
        {
            if !titles.contains_key(&plan_id) {
                let plan: choucha_shared::plan::DrawPlan =
                    serde_json::from_str(&spec).map_err(corrupt)?;
                titles.insert(plan_id.clone(), plan.title);
            }
            out.push(RegisterRow {
                plan_title: titles[&plan_id].clone(),
                plan_id,
                task_id,
                target_name,
                uscc,
                matter,
                result,
                inspection_date: date,
                authority,
                published_at: at,
            });
        }
        Ok(out)
    }

    pub async fn disclosures_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PublicResult>, StoreError> {
        let rows: Vec<ResultRow> = sqlx::query_as(&format!(
            "SELECT {RESULT_COLUMNS} FROM disclosures WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// Published results before `seq` (all when `None`), newest first (the
    /// public page).
    pub async fn disclosures_before(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<PublicResult>, StoreError> {
        let rows: Vec<ResultRow> = sqlx::query_as(&format!(
            "SELECT {RESULT_COLUMNS} FROM disclosures WHERE seq < $1 ORDER BY seq DESC LIMIT $2"
        ))
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, 500))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }
}
