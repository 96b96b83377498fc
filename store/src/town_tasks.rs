//! A town's tasks (镇街任务): what a 镇街负责人 needs to know which of the
//! plan's inspections fall in their town, who goes, by when, and how far
//! each has got — the list they print, sign and keep.

use chrono::NaiveDate;
use serde::Serialize;

use choucha_shared::plan::TeamMember;
use choucha_shared::review::TaskState;

use super::{Store, StoreError, corrupt};

/// One task of the current draw whose target is in the town.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TownTask {
    pub task_id: String,
    pub stratum_id: String,
    pub category: String,
    pub target_key: String,
    /// The directory's name of the target (absent only if the directory
    /// lost the row, which imports never do).
    pub target_name: Option<String>,
    pub checklist_id: String,
    pub due: Option<NaiveDate>,
    pub team: Vec<TeamMember>,
    /// `pending` or the review state of the task's latest record.
    pub status: String,
}

impl TownTask {
    /// Nothing sealed has arrived and the deadline has passed.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.status == TaskState::PENDING && self.due.is_some_and(|d| d < today)
    }
}

impl Store {
    /// The tasks of `plan_id`'s current draw whose targets are in `town`,
    /// in draw order. Reads the oversight projection's (plan, town) index,
    /// so a town's list costs its own rows only.
    pub async fn town_tasks(&self, plan_id: &str, town: &str) -> Result<Vec<TownTask>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            String,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT o.task_id, o.stratum_id, o.category, o.target_key, g.name, t.checklist_id, t.due, t.team, o.status \
             FROM oversight_tasks o JOIN tasks t ON t.task_id = o.task_id \
             LEFT JOIN targets g ON g.category = o.category AND g.target_key = o.target_key \
             WHERE o.plan_id = $1 AND o.jurisdiction = $2 ORDER BY t.seq",
        )
        .bind(plan_id)
        .bind(town)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |(
                    task_id,
                    stratum_id,
                    category,
                    target_key,
                    target_name,
                    checklist_id,
                    due,
                    team,
                    status,
                )| {
                    Ok(TownTask {
                        task_id,
                        stratum_id,
                        category,
                        target_key,
                        target_name,
                        checklist_id,
                        due: due.map(|d| d.parse()).transpose().map_err(corrupt)?,
                        team: serde_json::from_str(&team).map_err(corrupt)?,
                        status,
                    })
                },
            )
            .collect()
    }
}
