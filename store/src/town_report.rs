//! The town report (镇街报告, seed §五(四)): each town office sends the
//! quality section its 监督检查情况、存在问题 for a plan by the plan's
//! `report_due`. The town lead drafts it — the figures come from the
//! records, the analysis of problems and the measures are the lead's own
//! words — signs and submits it; the figures are frozen then, so the report
//! says what the town knew when it signed. The quality section may return
//! it with comments; the lead amends and submits again. Every step is
//! audited.

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use choucha_shared::value::china_offset;

use super::audit::{self, Actor, Change};
use super::dashboard::Scope;
use super::{Store, StoreError, corrupt};

/// Longest analysis or measures text taken (characters).
pub const MAX_TEXT_CHARS: usize = 20_000;

/// Where a town's report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// Nothing written yet.
    NotStarted,
    Draft,
    Submitted,
    /// Sent back by the quality section with comments.
    Returned,
}

impl ReportState {
    pub fn code(self) -> &'static str {
        match self {
            Self::NotStarted => "not_started",
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::Returned => "returned",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::NotStarted => "未起草",
            Self::Draft => "起草中",
            Self::Submitted => "已报送",
            Self::Returned => "已退回修改",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::NotStarted => "Not started",
            Self::Draft => "Draft",
            Self::Submitted => "Submitted",
            Self::Returned => "Returned",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "draft" => Ok(Self::Draft),
            "submitted" => Ok(Self::Submitted),
            "returned" => Ok(Self::Returned),
            other => Err(corrupt(format!("unknown report state '{other}'"))),
        }
    }
}

/// The town's figures for the plan, from the records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Tasks drawn for the town.
    pub planned: i64,
    /// Inspected (a record synced).
    pub inspected: i64,
    /// Of those, where the inspection could not be done as planned (无法联系,
    /// 未发现相关活动, 已关闭, 不配合).
    pub not_inspectable: i64,
    pub approved: i64,
    pub findings: i64,
    pub fixed_on_site: i64,
    pub rectification_orders: i64,
    /// Orders whose follow-up (复查) is not closed.
    pub rectification_open: i64,
    pub cases_filed: i64,
    pub transferred: i64,
}

/// One town's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TownReport {
    pub plan_id: String,
    pub town: String,
    pub state: ReportState,
    /// 存在问题及原因分析.
    pub analysis: String,
    /// 采取的措施及建议.
    pub measures: String,
    /// As frozen at submission, or as the records say now.
    pub figures: Figures,
    pub signed_by: Option<String>,
    pub submitted_at: Option<String>,
    pub return_comment: Option<String>,
    pub returned_by: Option<String>,
    pub returned_at: Option<String>,
    pub updated_at: Option<String>,
    /// The plan's deadline, and whether the report is late against it
    /// (not submitted by the end of that day, China time).
    pub due: Option<NaiveDate>,
    pub late: bool,
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn china_today() -> NaiveDate {
    Utc::now().with_timezone(&china_offset()).date_naive()
}

/// Late: not submitted and the due day is over, or submitted after it.
fn is_late(due: Option<NaiveDate>, state: ReportState, submitted_at: Option<&str>) -> bool {
    let Some(due) = due else { return false };
    let submitted_on = submitted_at
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&china_offset()).date_naive());
    match (state, submitted_on) {
        (ReportState::Submitted, Some(day)) => day > due,
        _ => china_today() > due,
    }
}

fn text_ok(field: &str, label: &str, text: &str) -> Result<(), StoreError> {
    let n = text.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(StoreError::invalid(
            format!("{label}过长：{n} 个字，最多 {MAX_TEXT_CHARS} 个字"),
            serde_json::json!({ "field": field }),
        ));
    }
    Ok(())
}

impl Store {
    /// The plan's report deadline.
    pub async fn report_due(&self, plan_id: &str) -> Result<Option<NaiveDate>, StoreError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT report_due FROM plans WHERE plan_id = $1")
                .bind(plan_id)
                .fetch_optional(&self.pool)
                .await?;
        let Some((due,)) = row else {
            return Err(StoreError::NotFound(format!("抽查计划 {plan_id} 不存在")));
        };
        due.map(|d| d.parse().map_err(corrupt)).transpose()
    }

    /// Sets (or clears) the plan's report deadline.
    pub async fn set_report_due(
        &self,
        plan_id: &str,
        due: Option<NaiveDate>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let before = self.report_due(plan_id).await?;
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE plans SET report_due = $1 WHERE plan_id = $2")
            .bind(due.map(|d| d.to_string()))
            .bind(plan_id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "town_report.due",
                object: format!("plan:{plan_id}"),
                before: Some(serde_json::json!({ "report_due": before })),
                after: Some(serde_json::json!({ "report_due": due })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The towns with tasks in the plan.
    pub async fn plan_towns(&self, plan_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT jurisdiction FROM oversight_tasks WHERE plan_id = $1 ORDER BY jurisdiction",
        )
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(t,)| t).collect())
    }

    /// What the records say of the town in the plan now.
    pub async fn town_figures(&self, plan_id: &str, town: &str) -> Result<Figures, StoreError> {
        let summary = self
            .town_summary(&Scope {
                plan_id: Some(plan_id.to_owned()),
                town: Some(town.to_owned()),
            })
            .await?;
        let mut f = Figures::default();
        for r in &summary.rows {
            f.planned += r.planned;
            f.inspected += r.inspected;
            f.approved += r.approved;
            f.findings += r.findings;
            f.fixed_on_site += r.fixed_on_site;
            f.rectification_orders += r.rectification_orders;
            f.rectification_open += r.rectification_open;
            f.cases_filed += r.cases_filed;
            f.transferred += r.transferred;
        }
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(DISTINCT task_id) FROM oversight_records \
             WHERE plan_id = $1 AND jurisdiction = $2 AND outcome <> 'normal'",
        )
        .bind(plan_id)
        .bind(town)
        .fetch_one(&self.pool)
        .await?;
        f.not_inspectable = n;
        Ok(f)
    }

    /// One town's report as it stands (a blank draft when nothing is
    /// written yet); `NotFound` when the town has no task in the plan.
    pub async fn town_report(&self, plan_id: &str, town: &str) -> Result<TownReport, StoreError> {
        let due = self.report_due(plan_id).await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT state, analysis, measures, figures, signed_by, submitted_at, return_comment, \
             returned_by, returned_at, updated_at FROM town_reports WHERE plan_id = $1 AND town = $2",
        )
        .bind(plan_id)
        .bind(town)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            if !self.plan_towns(plan_id).await?.iter().any(|t| t == town) {
                return Err(StoreError::NotFound(format!(
                    "抽查计划 {plan_id} 没有 {town} 的检查任务"
                )));
            }
            return Ok(TownReport {
                plan_id: plan_id.to_owned(),
                town: town.to_owned(),
                state: ReportState::NotStarted,
                analysis: String::new(),
                measures: String::new(),
                figures: self.town_figures(plan_id, town).await?,
                signed_by: None,
                submitted_at: None,
                return_comment: None,
                returned_by: None,
                returned_at: None,
                updated_at: None,
                due,
                late: is_late(due, ReportState::NotStarted, None),
            });
        };
        let (state, analysis, measures, figures, signed_by, submitted_at, rc, rb, ra, updated_at) =
            row;
        let state = ReportState::parse(&state)?;
        let figures = match (&figures, state) {
            (Some(json), ReportState::Submitted) => serde_json::from_str(json).map_err(corrupt)?,
            _ => self.town_figures(plan_id, town).await?,
        };
        Ok(TownReport {
            plan_id: plan_id.to_owned(),
            town: town.to_owned(),
            late: is_late(due, state, submitted_at.as_deref()),
            state,
            analysis,
            measures,
            figures,
            signed_by,
            submitted_at,
            return_comment: rc,
            returned_by: rb,
            returned_at: ra,
            updated_at: Some(updated_at),
            due,
        })
    }

    /// Every town's report of the plan, in town order.
    pub async fn town_reports(&self, plan_id: &str) -> Result<Vec<TownReport>, StoreError> {
        let mut out = Vec::new();
        for town in self.plan_towns(plan_id).await? {
            out.push(self.town_report(plan_id, &town).await?);
        }
        Ok(out)
    }

    /// Saves the lead's draft. A submitted report cannot be changed until
    /// the quality section returns it.
    pub async fn save_town_report(
        &self,
        plan_id: &str,
        town: &str,
        analysis: &str,
        measures: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        text_ok("analysis", "存在问题及原因分析", analysis)?;
        text_ok("measures", "采取的措施及建议", measures)?;
        let _writer = self.writer().await;
        let current = self.town_report(plan_id, town).await?;
        if current.state == ReportState::Submitted {
            return Err(StoreError::Conflict(
                "报告已报送，质量科退回后才能修改".into(),
            ));
        }
        let state = match current.state {
            ReportState::Returned => ReportState::Returned,
            _ => ReportState::Draft,
        };
        let now = Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO town_reports (plan_id, town, state, analysis, measures, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (plan_id, town) DO UPDATE SET analysis = excluded.analysis, \
             measures = excluded.measures, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(plan_id)
        .bind(town)
        .bind(state.code())
        .bind(analysis.trim())
        .bind(measures.trim())
        .bind(actor.as_str())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "town_report.save",
                object: format!("town_report:{plan_id}/{town}"),
                before: Some(serde_json::json!({ "analysis": current.analysis, "measures": current.measures })),
                after: Some(serde_json::json!({ "analysis": analysis.trim(), "measures": measures.trim() })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The lead signs and submits: the analysis is required and the
    /// figures are frozen as they are now.
    pub async fn submit_town_report(
        &self,
        plan_id: &str,
        town: &str,
        signed_by: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let signed_by = signed_by.trim();
        if signed_by.is_empty() {
            return Err(StoreError::invalid(
                "请填写签发人姓名",
                serde_json::json!({ "field": "signed_by" }),
            ));
        }
        let _writer = self.writer().await;
        let current = self.town_report(plan_id, town).await?;
        match current.state {
            ReportState::Submitted => {
                return Err(StoreError::Conflict("报告已报送".into()));
            }
            ReportState::NotStarted => {
                return Err(StoreError::invalid(
                    "请先填写并保存存在问题及原因分析",
                    serde_json::json!({ "field": "analysis" }),
                ));
            }
            _ => {}
        }
        if current.analysis.trim().is_empty() {
            return Err(StoreError::invalid(
                "请先填写并保存存在问题及原因分析",
                serde_json::json!({ "field": "analysis" }),
            ));
        }
        let figures = self.town_figures(plan_id, town).await?;
        let now = Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE town_reports SET state = 'submitted', figures = $1, signed_by = $2, submitted_at = $3, \
             updated_by = $4, updated_at = $3 WHERE plan_id = $5 AND town = $6 AND state <> 'submitted'",
        )
        .bind(serde_json::to_string(&figures).map_err(corrupt)?)
        .bind(signed_by)
        .bind(&now)
        .bind(actor.as_str())
        .bind(plan_id)
        .bind(town)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "town_report.submit",
                object: format!("town_report:{plan_id}/{town}"),
                before: Some(serde_json::json!({ "state": current.state.code() })),
                after: Some(serde_json::json!({ "state": "submitted", "signed_by": signed_by, "figures": figures })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The quality section sends a submitted report back with comments.
    pub async fn return_town_report(
        &self,
        plan_id: &str,
        town: &str,
        comment: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let comment = comment.trim();
        if comment.is_empty() {
            return Err(StoreError::invalid(
                "退回须写明修改意见",
                serde_json::json!({ "field": "comment" }),
            ));
        }
        let _writer = self.writer().await;
        let now = Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE town_reports SET state = 'returned', return_comment = $1, returned_by = $2, returned_at = $3 \
             WHERE plan_id = $4 AND town = $5 AND state = 'submitted'",
        )
        .bind(comment)
        .bind(actor.as_str())
        .bind(&now)
        .bind(plan_id)
        .bind(town)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict("只有已报送的报告可以退回".into()));
        }
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "town_report.return",
                object: format!("town_report:{plan_id}/{town}"),
                before: Some(serde_json::json!({ "state": "submitted" })),
                after: Some(serde_json::json!({ "state": "returned", "comment": comment })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
