//! The dashboard (progress against the plan by stratum, town and team;
//! findings by checklist item and category; overdue rectifications) and
//! the review queue.
//!
//! Every query reads a counter table or walks one index: the dashboard
//! reads the trigger-maintained counters (a few hundred stratum rows, and
//! for one plan one row per drawn team), the
//! overdue list walks `oversight_findings_open`, and each review-queue
//! filter shape has an index ordered like the queue, so a page is a range
//! scan of `limit` rows with keyset pagination (no OFFSET) whatever the
//! number of records.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use choucha_shared::record::DispositionKind;
use choucha_shared::review::ReviewState;
use serde::{Deserialize, Serialize};

use choucha_shared::review::TaskState;

use super::{Backend, Store, StoreError, corrupt};

/// What a dashboard covers. A town-office lead's scope has `town` set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// One plan, or every plan.
    pub plan_id: Option<String>,
    /// One town/street, or every one.
    pub town: Option<String>,
}

/// Task counts by status for one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub key: String,
    pub label: String,
    /// Tasks drawn.
    pub planned: i64,
    /// Nothing received yet.
    pub pending: i64,
    pub incomplete: i64,
    pub received: i64,
    pub has_issues: i64,
    pub returned: i64,
    pub approved: i64,
}

impl Progress {
    fn add(&mut self, status: &str, n: i64) {
        use ReviewState as S;
        self.planned += n;
        match status.parse::<TaskState>() {
            Ok(TaskState::Pending) => self.pending += n,
            Ok(TaskState::Record(S::Incomplete)) => self.incomplete += n,
            Ok(TaskState::Record(S::Received)) => self.received += n,
            Ok(TaskState::Record(S::HasIssues)) => self.has_issues += n,
            Ok(TaskState::Record(S::Returned)) => self.returned += n,
            Ok(TaskState::Record(S::Approved)) => self.approved += n,
            // A task's current record is never a superseded version; an
            // unknown code counts as planned only.
            Ok(TaskState::Record(S::Superseded)) | Err(_) => {}
        }
    }

    /// Tasks with a record sealed on site (whatever its review state).
    pub fn inspected(&self) -> i64 {
        self.planned - self.pending
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingCount {
    pub category: String,
    pub item_id: String,
    /// Disposition kind → findings.
    pub by_kind: BTreeMap<String, i64>,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueRectification {
    pub finding_id: String,
    pub record_id: String,
    pub task_id: String,
    pub town: String,
    pub category: String,
    pub item_id: String,
    pub description: String,
    pub order_no: Option<String>,
    pub deadline: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    pub scope: Scope,
    pub total: Progress,
    pub by_stratum: Vec<Progress>,
    pub by_town: Vec<Progress>,
    pub by_team: Vec<Progress>,
    pub findings_by_item: Vec<FindingCount>,
    /// Target category → findings.
    pub findings_by_category: BTreeMap<String, i64>,
    /// The oldest overdue rectification orders (at most `overdue_limit`).
    pub overdue: Vec<OverdueRectification>,
    pub overdue_total: i64,
}

impl Store {
    /// The dashboard for `scope` on `today`.
    pub async fn dashboard(
        &self,
        scope: &Scope,
        today: NaiveDate,
        overdue_limit: i64,
    ) -> Result<Dashboard, StoreError> {
        let mut total = Progress {
            key: String::new(),
            label: "合计".into(),
            ..Default::default()
        };
        let mut strata: BTreeMap<String, Progress> = BTreeMap::new();
        let mut towns: BTreeMap<String, Progress> = BTreeMap::new();
        let mut teams: BTreeMap<String, Progress> = BTreeMap::new();
        let group =
            |m: &mut BTreeMap<String, Progress>, key: &str, label: &str, status: &str, n: i64| {
                m.entry(key.to_owned())
                    .or_insert_with(|| Progress {
                        key: key.to_owned(),
                        label: label.to_owned(),
                        ..Default::default()
                    })
                    .add(status, n);
            };
        // Totals and towns are sums of the stratum rows. Conditions are
        // spelled out per scope so that each query is a range of the primary
        // key (plan, dim, town, …) or of the (dim, plan) index.
        let (sql, args) = match (&scope.plan_id, &scope.town) {
            (Some(p), Some(t)) => (
                "SELECT jurisdiction, dim_key, status, label, n FROM oversight_progress WHERE plan_id = $1 AND dim = 'stratum' AND jurisdiction = $2 AND n <> 0",
                vec![p.clone(), t.clone()],
            ),
            (Some(p), None) => (
                "SELECT jurisdiction, dim_key, status, label, n FROM oversight_progress WHERE plan_id = $1 AND dim = 'stratum' AND n <> 0",
                vec![p.clone()],
            ),
            (None, Some(t)) => (
                "SELECT jurisdiction, dim_key, status, label, n FROM oversight_progress WHERE dim = 'stratum' AND jurisdiction = $1 AND n <> 0",
                vec![t.clone()],
            ),
            (None, None) => (
                "SELECT jurisdiction, dim_key, status, label, n FROM oversight_progress WHERE dim = 'stratum' AND n <> 0",
                vec![],
            ),
        };
        let mut q = sqlx::query_as::<_, (String, String, String, String, i64)>(sql);
        for a in &args {
            q = q.bind(a);
        }
        for (town, key, status, label, n) in q.fetch_all(&self.pool).await? {
            total.add(&status, n);
            group(&mut strata, &key, &label, &status, n);
            group(&mut towns, &town, &town, &status, n);
        }
        // Teams are drawn per plan: the breakdown is a plan's, one counter row
        // per team (a range of the primary key). A plan of 20,000 tasks has
        // thousands of teams: they come back as one JSON array in one row, as
        // row-by-row fetching through the driver cost more than the query
        // (SQLite hands each batch of rows from its worker thread to the
        // caller, which on a busy machine waits for a core every time).
        if let Some(plan) = &scope.plan_id {
            let rows = match self.backend {
                Backend::Sqlite => {
                    "SELECT json_group_array(json_array(jurisdiction, team_key, label, pending, incomplete, received, has_issues, returned, approved))"
                }
                Backend::Postgres => {
                    "SELECT CAST(COALESCE(json_agg(json_build_array(jurisdiction, team_key, label, pending, incomplete, received, has_issues, returned, approved)), '[]') AS TEXT)"
                }
            };
            let sql = match &scope.town {
                Some(_) => format!(
                    "{rows} FROM oversight_team_progress WHERE plan_id = $1 AND jurisdiction = $2"
                ),
                None => format!("{rows} FROM oversight_team_progress WHERE plan_id = $1"),
            };
            let mut q = sqlx::query_as::<_, (String,)>(&sql).bind(plan);
            if let Some(t) = &scope.town {
                q = q.bind(t);
            }
            let (json,) = q.fetch_one(&self.pool).await?;
            type T = (String, String, String, i64, i64, i64, i64, i64, i64);
            let rows: Vec<T> = serde_json::from_str(&json).map_err(corrupt)?;
            for (town, key, label, pending, incomplete, received, has_issues, returned, approved) in
                rows
            {
                let planned = pending + incomplete + received + has_issues + returned + approved;
                if planned == 0 {
                    continue;
                }
                let key = format!("{town}/{key}");
                teams.insert(
                    key.clone(),
                    Progress {
                        key,
                        label,
                        planned,
                        pending,
                        incomplete,
                        received,
                        has_issues,
                        returned,
                        approved,
                    },
                );
            }
        }
        // Findings per scope, spelled out like the progress query: a range of
        // the counters' primary key (plan, town, …) when a plan is chosen.
        const COUNTS: &str = "SELECT category, item_id, kind, CAST(SUM(n) AS BIGINT) FROM oversight_finding_counts WHERE n <> 0";
        let (cond, args) = match (&scope.plan_id, &scope.town) {
            (Some(p), Some(t)) => (
                " AND plan_id = $1 AND jurisdiction = $2",
                vec![p.clone(), t.clone()],
            ),
            (Some(p), None) => (" AND plan_id = $1", vec![p.clone()]),
            (None, Some(t)) => (" AND jurisdiction = $1", vec![t.clone()]),
            (None, None) => ("", vec![]),
        };
        let sql = format!(
            "{COUNTS}{cond} GROUP BY category, item_id, kind ORDER BY category, item_id, kind"
        );
        let mut q = sqlx::query_as::<_, (String, String, String, i64)>(&sql);
        for a in &args {
            q = q.bind(a);
        }
        let counts = q.fetch_all(&self.pool).await?;
        let mut by_item: BTreeMap<(String, String), FindingCount> = BTreeMap::new();
        let mut by_category: BTreeMap<String, i64> = BTreeMap::new();
        for (category, item_id, kind, n) in counts {
            *by_category.entry(category.clone()).or_default() += n;
            let c = by_item
                .entry((category.clone(), item_id.clone()))
                .or_insert_with(|| FindingCount {
                    category,
                    item_id,
                    by_kind: BTreeMap::new(),
                    total: 0,
                });
            *c.by_kind.entry(kind).or_default() += n;
            c.total += n;
        }
        let mut findings_by_item: Vec<FindingCount> = by_item.into_values().collect();
        findings_by_item.sort_by(|a, b| b.total.cmp(&a.total).then(a.item_id.cmp(&b.item_id)));
        let (overdue, overdue_total) = self
            .overdue_rectifications(scope, today, overdue_limit)
            .await?;
        Ok(Dashboard {
            scope: scope.clone(),
            total,
            by_stratum: strata.into_values().collect(),
            by_town: towns.into_values().collect(),
            by_team: teams.into_values().collect(),
            findings_by_item,
            findings_by_category: by_category,
            overdue,
            overdue_total,
        })
    }
}

impl Store {
    /// Open rectification orders whose deadline is before `today`, oldest
    /// deadline first, with their total count.
    pub async fn overdue_rectifications(
        &self,
        scope: &Scope,
        today: NaiveDate,
        limit: i64,
    ) -> Result<(Vec<OverdueRectification>, i64), StoreError> {
        let today = today.format("%Y-%m-%d").to_string();
        type Row = (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
        );
        // Spelled out per scope so each query walks the index made for it.
        let mut cond = format!(
            "kind = '{}' AND closed = 0 AND deadline < $1",
            DispositionKind::RectificationOrder.as_str()
        );
        let mut args = vec![today];
        if let Some(p) = &scope.plan_id {
            args.push(p.clone());
            cond.push_str(&format!(" AND plan_id = ${}", args.len()));
        }
        if let Some(t) = &scope.town {
            args.push(t.clone());
            cond.push_str(&format!(" AND jurisdiction = ${}", args.len()));
        }
        let sql = format!(
            "SELECT finding_id, record_id, task_id, jurisdiction, category, item_id, description, order_no, deadline \
         FROM oversight_findings WHERE {cond} ORDER BY deadline, finding_id LIMIT {}",
            limit.clamp(1, 1000)
        );
        let mut q = sqlx::query_as::<_, Row>(&sql);
        for a in &args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let sql = format!("SELECT COUNT(*) FROM oversight_findings WHERE {cond}");
        let mut q = sqlx::query_as::<_, (i64,)>(&sql);
        for a in &args {
            q = q.bind(a);
        }
        let (total,) = q.fetch_one(&self.pool).await?;
        Ok((
            rows.into_iter()
                .map(
                    |(
                        finding_id,
                        record_id,
                        task_id,
                        town,
                        category,
                        item_id,
                        description,
                        order_no,
                        deadline,
                    )| OverdueRectification {
                        finding_id,
                        record_id,
                        task_id,
                        town,
                        category,
                        item_id,
                        description,
                        order_no,
                        deadline,
                    },
                )
                .collect(),
            total,
        ))
    }
}

/// Filters of the review queue; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFilter {
    pub town: Option<String>,
    /// A team key as in [`team_key`](choucha_shared::plan::team_key).
    pub team: Option<String>,
    /// A review state code (`received`, `has_issues`, …, `superseded`).
    /// Without one, every current version.
    pub state: Option<String>,
    /// Inspection dates from/to, inclusive.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCursor {
    pub inspection_date: String,
    pub record_id: String,
    pub version: String,
}

impl QueueCursor {
    /// As one URL-safe token: `date~record~version`.
    pub fn to_token(&self) -> String {
        format!(
            "{}~{}~{}",
            self.inspection_date, self.record_id, self.version
        )
    }

    pub fn from_token(s: &str) -> Result<Self, StoreError> {
        let mut parts = s.split('~');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(d), Some(r), Some(v), None)
                if NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok()
                    && !r.is_empty()
                    && !v.is_empty() =>
            {
                Ok(Self {
                    inspection_date: d.to_owned(),
                    record_id: r.to_owned(),
                    version: v.to_owned(),
                })
            }
            _ => Err(StoreError::field(
                "after",
                format!("分页位置无效 (bad page cursor '{s}')"),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRow {
    pub record_id: String,
    pub version: String,
    pub task_id: String,
    pub plan_id: String,
    pub town: String,
    pub team_key: String,
    pub team_label: String,
    pub category: String,
    pub target_key: String,
    pub target_name: String,
    pub inspection_date: String,
    pub received_at: String,
    pub state: String,
    pub findings: i64,
    pub duty_flags: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuePage {
    pub rows: Vec<QueueRow>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<QueueCursor>,
}

impl Store {
    /// One page of the review queue, oldest inspection first.
    pub async fn review_queue(
        &self,
        filter: &QueueFilter,
        after: Option<&QueueCursor>,
        limit: i64,
    ) -> Result<QueuePage, StoreError> {
        if let Some(s) = &filter.state {
            if s.parse::<ReviewState>().is_err() {
                return Err(StoreError::field(
                    "state",
                    format!("未知的审核状态 '{s}' (unknown review state)"),
                ));
            }
        }
        if !(1..=500).contains(&limit) {
            return Err(StoreError::field(
                "limit",
                format!("每页条数须在 1 到 500 之间 (got {limit})"),
            ));
        }
        // Conditions are added only when a filter is set, so that the planner
        // sees plain equalities and picks the index made for that shape.
        let mut sql = String::from(
            "SELECT record_id, version, task_id, plan_id, jurisdiction, team_key, team_label, category, target_key, \
         target_name, inspection_date, received_at, state, findings, duty_flags FROM oversight_records WHERE ",
        );
        let mut args: Vec<String> = Vec::new();
        let mut cond = Vec::new();
        let arg = |v: String, args: &mut Vec<String>| {
            args.push(v);
            format!("${}", args.len())
        };
        if let Some(t) = &filter.town {
            cond.push(format!("jurisdiction = {}", arg(t.clone(), &mut args)));
        }
        if let Some(t) = &filter.team {
            cond.push(format!("team_key = {}", arg(t.clone(), &mut args)));
        }
        match &filter.state {
            Some(s) => cond.push(format!("state = {}", arg(s.clone(), &mut args))),
            None => cond.push(format!("state <> '{}'", ReviewState::Superseded.as_str())),
        }
        if let Some(d) = filter.from {
            cond.push(format!(
                "inspection_date >= {}",
                arg(d.format("%Y-%m-%d").to_string(), &mut args)
            ));
        }
        if let Some(d) = filter.to {
            cond.push(format!(
                "inspection_date <= {}",
                arg(d.format("%Y-%m-%d").to_string(), &mut args)
            ));
        }
        if let Some(c) = after {
            let d = arg(c.inspection_date.clone(), &mut args);
            let r = arg(c.record_id.clone(), &mut args);
            let v = arg(c.version.clone(), &mut args);
            cond.push(format!(
                "(inspection_date, record_id, version) > ({d}, {r}, {v})"
            ));
        }
        sql.push_str(&cond.join(" AND "));
        sql.push_str(&format!(
            " ORDER BY inspection_date, record_id, version LIMIT {}",
            limit + 1
        ));
        type Row = (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            i64,
            i64,
        );
        let mut q = sqlx::query_as::<_, Row>(&sql);
        for a in &args {
            q = q.bind(a);
        }
        let mut rows: Vec<QueueRow> = q
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|r| QueueRow {
                record_id: r.0,
                version: r.1,
                task_id: r.2,
                plan_id: r.3,
                town: r.4,
                team_key: r.5,
                team_label: r.6,
                category: r.7,
                target_key: r.8,
                target_name: r.9,
                inspection_date: r.10,
                received_at: r.11,
                state: r.12,
                findings: r.13,
                duty_flags: r.14,
            })
            .collect();
        let next = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| QueueCursor {
                inspection_date: r.inspection_date.clone(),
                record_id: r.record_id.clone(),
                version: r.version.clone(),
            })
        } else {
            None
        };
        Ok(QueuePage { rows, next })
    }
}
