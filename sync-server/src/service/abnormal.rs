//! 经营异常名录: a company that could not be reached at its registered
//! address is listed by the bureau within [`LISTING_WORKING_DAYS`] working
//! days of the inspection (企业信息公示暂行条例, 企业经营异常名录管理暂行办法).
//! The console lists such companies against that deadline; recording the
//! listing is this use case.

use choucha_shared::calendar::WorkCalendar;
use choucha_shared::value::CivilDate;
use chrono::NaiveDate;

use super::{Actor, ServiceError, ServiceResult};
use crate::store::Store;
use crate::store::abnormal::Listing;

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
    let date = NaiveDate::parse_from_str(listed_on.trim(), "%Y-%m-%d").map_err(|_| {
        ServiceError::BadInput {
            message: format!("listed_on: 列入日期须为 YYYY-MM-DD，收到「{listed_on}」"),
            details: serde_json::json!({ "field": "listed_on" }),
        }
    })?;
    if date > today {
        return Err(ServiceError::BadInput {
            message: format!("listed_on: 列入日期 {date} 晚于今天"),
            details: serde_json::json!({ "field": "listed_on" }),
        });
    }
    Ok(store
        .record_abnormal_listing(actor, record_id, &date.to_string(), decision_no)
        .await?)
}
