//! The town summary (镇街汇总) over the projection: planned, inspected and
//! approved tasks and the findings by disposition, per town and target
//! category, with every problem found. Rendered as XLSX/CSV by
//! `oversight::reports`.

use std::collections::BTreeMap;

use choucha_shared::record::{DispositionKind, RectificationOutcome};
use choucha_shared::review::{ReviewState, TaskState};
use serde::Serialize;

use super::dashboard::Scope;
use super::{Store, StoreError, corrupt};

/// One line of the summary: a town and target category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    pub town: String,
    pub category: String,
    pub planned: i64,
    pub inspected: i64,
    pub approved: i64,
    pub findings: i64,
    pub fixed_on_site: i64,
    pub rectification_orders: i64,
    pub rectification_open: i64,
    pub cases_filed: i64,
    pub transferred: i64,
}

/// One problem found (存在问题).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProblemRow {
    pub town: String,
    pub category: String,
    pub target_name: String,
    pub target_key: String,
    pub inspection_date: String,
    pub item_id: String,
    pub description: String,
    pub disposition: String,
    pub deadline: Option<String>,
    pub reference: Option<String>,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TownSummary {
    pub scope: Scope,
    pub rows: Vec<SummaryRow>,
    pub problems: Vec<ProblemRow>,
}

fn category_label(code: &str) -> String {
    code.parse::<choucha_shared::TargetCategory>()
        .map(|c| c.label_zh().to_owned())
        .unwrap_or_else(|_| code.to_owned())
}

/// The summary for a plan and/or town.
impl Store {
    pub async fn town_summary(&self, scope: &Scope) -> Result<TownSummary, StoreError> {
        let store = self;
        let plan = scope.plan_id.clone().unwrap_or_default();
        let town = scope.town.clone().unwrap_or_default();
        let tasks: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT jurisdiction, category, status, COUNT(*) FROM oversight_tasks \
         WHERE ($1 = '' OR plan_id = $1) AND ($2 = '' OR jurisdiction = $2) GROUP BY jurisdiction, category, status",
    )
    .bind(&plan)
    .bind(&town)
    .fetch_all(&store.pool)
    .await?;
        let mut rows: BTreeMap<(String, String), SummaryRow> = BTreeMap::new();
        let row = |rows: &mut BTreeMap<(String, String), SummaryRow>, t: &str, c: &str| {
            rows.entry((t.to_owned(), c.to_owned()))
                .or_insert_with(|| SummaryRow {
                    town: t.to_owned(),
                    category: category_label(c),
                    ..Default::default()
                })
                .clone()
        };
        for (t, c, status, n) in tasks {
            let mut r = row(&mut rows, &t, &c);
            r.planned += n;
            let status: TaskState = status.parse().map_err(corrupt)?;
            if status != TaskState::Pending {
                r.inspected += n;
            }
            if status == TaskState::Record(ReviewState::Approved) {
                r.approved += n;
            }
            rows.insert((t, c), r);
        }
        type P = (
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
            i64,
        );
        let problems: Vec<P> = sqlx::query_as(
        "SELECT f.jurisdiction, f.category, o.target_name, o.target_key, o.inspection_date, f.item_id, f.description, \
         f.kind, f.deadline, \
         CASE WHEN f.case_no IS NULL THEN f.reference WHEN f.reference IS NULL THEN f.case_no ELSE f.case_no || '；' || f.reference END, \
         f.outcome, f.closed FROM oversight_findings f \
         JOIN oversight_records o ON o.record_id = f.record_id AND o.version = f.version \
         WHERE ($1 = '' OR f.plan_id = $1) AND ($2 = '' OR f.jurisdiction = $2) \
         ORDER BY f.jurisdiction, o.inspection_date, o.target_name, f.finding_id",
    )
    .bind(&plan)
    .bind(&town)
    .fetch_all(&store.pool)
    .await?;
        let mut out = Vec::with_capacity(problems.len());
        for (
            t,
            c,
            target_name,
            target_key,
            date,
            item,
            desc,
            kind,
            deadline,
            reference,
            outcome,
            closed,
        ) in problems
        {
            let kind: DispositionKind = kind.parse().map_err(corrupt)?;
            let outcome: Option<RectificationOutcome> =
                outcome.map(|o| o.parse()).transpose().map_err(corrupt)?;
            let mut r = row(&mut rows, &t, &c);
            r.findings += 1;
            match kind {
                DispositionKind::FixedOnSite => r.fixed_on_site += 1,
                DispositionKind::RectificationOrder => {
                    r.rectification_orders += 1;
                    if closed == 0 {
                        r.rectification_open += 1;
                    }
                }
                DispositionKind::CaseFiled => r.cases_filed += 1,
                DispositionKind::TransferredToJudicial
                | DispositionKind::TransferredToDiscipline
                | DispositionKind::NoticeToDepartment => r.transferred += 1,
            }
            rows.insert((t.clone(), c.clone()), r);
            use DispositionKind as K;
            use RectificationOutcome as O;
            let status = match (kind, closed, outcome) {
                (_, 1, Some(O::Rectified)) => "已整改".to_owned(),
                (K::FixedOnSite, _, _) => "已现场整改".to_owned(),
                (_, 1, _) => "已办结".to_owned(),
                (K::RectificationOrder, _, Some(o @ (O::PartlyRectified | O::NotRectified))) => {
                    o.label_zh().to_owned()
                }
                (K::RectificationOrder, _, _) => "整改中".to_owned(),
                _ => "办理中".to_owned(),
            };
            out.push(ProblemRow {
                town: t,
                category: category_label(&c),
                target_name,
                target_key,
                inspection_date: date,
                item_id: item,
                description: desc,
                disposition: kind.label_zh().to_owned(),
                deadline,
                reference,
                status,
            });
        }
        Ok(TownSummary {
            scope: scope.clone(),
            rows: rows.into_values().collect(),
            problems: out,
        })
    }
}
