//! 经营异常名录: a company that could not be reached at its registered
//! address is listed by the bureau within [`LISTING_WORKING_DAYS`] working
//! days of the inspection (企业信息公示暂行条例, 企业经营异常名录管理暂行办法).
//! The console lists such companies against that deadline; recording the
//! listing is this use case. A company that refused the inspection
//! (不配合检查（情节严重）) goes the case path: recording the case filed
//! (立案) is the other.

use choucha_shared::calendar::WorkCalendar;
use choucha_shared::value::CivilDate;
use chrono::NaiveDate;

use super::{Actor, ServiceError, ServiceResult};
use crate::store::Store;
use crate::store::abnormal::{CaseFiling, Listing};

/// Working days from the inspection within which the company is listed.
pub const LISTING_WORKING_DAYS: u32 = 10;

/// The listing deadline of a case inspected on `inspected`.
pub fn listing_deadline(calendar: &WorkCalendar, inspected: CivilDate) -> NaiveDate {
    calendar.add_working_days(inspected.date(), LISTING_WORKING_DAYS)
}

/// Records that the company of `record_id` was listed on `listed_on` by
/// decision `decision_no`. A date in the future is refused here, one
/// before the inspection by the store.
#[tracing::instrument(skip_all, fields(actor = %actor, record_id = %record_id))]
pub async fn record_listing(
    store: &Store,
    actor: &Actor,
    record_id: &str,
    listed_on: &str,
    decision_no: &str,
    today: NaiveDate,
) -> ServiceResult<Listing> {
    let date = past_date("listed_on", "列入日期", listed_on, today)?;
    Ok(store
        .record_abnormal_listing(actor, record_id, &date.to_string(), decision_no)
        .await?)
}

/// Records that a case was filed on `filed_on` under `case_no` against the
/// company of `record_id`, which refused the inspection. A date in the
/// future is refused here, one before the inspection by the store.
#[tracing::instrument(skip_all, fields(actor = %actor, record_id = %record_id))]
pub async fn record_case(
    store: &Store,
    actor: &Actor,
    record_id: &str,
    filed_on: &str,
    case_no: &str,
    today: NaiveDate,
) -> ServiceResult<CaseFiling> {
    let date = past_date("filed_on", "立案日期", filed_on, today)?;
    Ok(store
        .record_uncooperative_case(actor, record_id, &date.to_string(), case_no)
        .await?)
}

/// A `YYYY-MM-DD` date no later than `today`, or why not (naming `field`).
fn past_date(
    field: &'static str,
    label: &str,
    value: &str,
    today: NaiveDate,
) -> ServiceResult<NaiveDate> {
    let bad = |message: String| ServiceError::BadInput {
        message: format!("{field}: {message}"),
        details: serde_json::json!({ "field": field }),
    };
    let date = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map_err(|_| bad(format!("{label}须为 YYYY-MM-DD，收到「{value}」")))?;
    if date > today {
        return Err(bad(format!("{label} {date} 晚于今天")));
    }
    Ok(date)
}
