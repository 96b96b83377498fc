//! The working-day calendar the server counts deadlines with: the built-in
//! years and the deployment's file (`calendar_file`), plus the years the
//! quality section entered in the console once the State Council announced
//! them. Read afresh for each computation (a few rows), so every instance
//! counts with a year as soon as it is entered.

use choucha_shared::calendar::WorkCalendar;

use super::{Actor, ServiceError, ServiceResult};
use crate::AppState;

/// The calendar as it stands now.
pub async fn current(state: &AppState) -> ServiceResult<WorkCalendar> {
    let mut cal = state.oversight.calendar.clone();
    for y in state.store.calendar_years().await? {
        // A year the deployment's file gained after it was entered in the
        // console: the file (read at start) wins; the entry stays on record.
        if cal.covers(y.year) {
            continue;
        }
        if let Err(e) = cal.add_year(y.year, &y.holidays, &y.working_weekends) {
            tracing::warn!(year = y.year, error = %e, "an entered calendar year does not apply");
        }
    }
    Ok(cal)
}

/// Dates as typed: separated by spaces, commas, 、 or new lines.
fn dates(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | '、' | ';' | '；'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Enters a year's arrangement: the weekdays off and the weekend days
/// worked, each checked (a date of that year; a holiday on a weekday; a
/// worked day on a weekend); a year the calendar already covers is refused.
#[tracing::instrument(skip_all, fields(actor = %actor, year))]
pub async fn enter_year(
    state: &AppState,
    actor: &Actor,
    year: i32,
    holidays: &str,
    working_weekends: &str,
) -> ServiceResult<()> {
    let (holidays, working_weekends) = (dates(holidays), dates(working_weekends));
    if holidays.is_empty() {
        return Err(ServiceError::BadInput {
            message: "请填写放假的工作日 (holidays: none given)".into(),
            details: serde_json::json!({ "field": "holidays" }),
        });
    }
    let mut cal = current(state).await?;
    cal.add_year(year, &holidays, &working_weekends)
        .map_err(|e| ServiceError::BadInput {
            message: e.to_string(),
            details: serde_json::json!({ "field": "year" }),
        })?;
    state
        .store
        .enter_calendar_year(actor, year, &holidays, &working_weekends)
        .await?;
    Ok(())
}
