//! Holiday arrangements (节假日安排) entered in the console for years the
//! embedded calendar and the deployment's file do not cover. The server
//! adds them to its calendar on every computation, so every instance
//! counts the same deadlines as soon as one is entered.

use serde_json::json;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, corrupt, now};

/// One entered year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarYear {
    pub year: i32,
    /// Weekdays off and weekend days worked, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    pub working_weekends: Vec<String>,
    pub entered_by: String,
    pub entered_at: String,
}

impl Store {
    /// Every year entered in the console, by year.
    pub async fn calendar_years(&self) -> Result<Vec<CalendarYear>, StoreError> {
        let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
            "SELECT year, holidays, working_weekends, entered_by, entered_at FROM calendar_years ORDER BY year",
        )
        .fetch_all(&self.reads)
        .await?;
        rows.into_iter()
            .map(|(year, h, w, by, at)| {
                Ok(CalendarYear {
                    year: year as i32,
                    holidays: serde_json::from_str(&h).map_err(corrupt)?,
                    working_weekends: serde_json::from_str(&w).map_err(corrupt)?,
                    entered_by: by,
                    entered_at: at,
                })
            })
            .collect()
    }

    /// Stores a year's arrangement (checked by the caller against the
    /// calendar it extends); a year already entered is a conflict.
    pub async fn enter_calendar_year(
        &self,
        actor: &Actor,
        year: i32,
        holidays: &[String],
        working_weekends: &[String],
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO calendar_years (year, holidays, working_weekends, entered_by, entered_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (year) DO NOTHING",
        )
        .bind(i64::from(year))
        .bind(serde_json::to_string(holidays).map_err(corrupt)?)
        .bind(serde_json::to_string(working_weekends).map_err(corrupt)?)
        .bind(actor.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "{year} 年的节假日安排已录入 (year already entered)"
            )));
        }
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "calendar.enter_year",
                object: format!("calendar:{year}"),
                before: None,
                after: Some(json!({ "holidays": holidays, "working_weekends": working_weekends })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
