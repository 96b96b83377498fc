//! Follow-up of findings (后续处置): the console records a step, the rules in
//! [`FindingState::after`](choucha_shared::followup::FindingState::after)
//! decide what it does, and the store writes it with its audit entry.

use choucha_shared::followup::{FindingState, FollowUpAction};
use chrono::NaiveDate;

use super::{Actor, ServiceResult};
use crate::store::Store;

/// Records one follow-up step for a finding; returns the finding after it.
#[tracing::instrument(skip_all, fields(actor = %actor, finding_id = %finding_id, action = action.code()))]
pub async fn record(
    store: &Store,
    actor: &Actor,
    finding_id: &str,
    action: &FollowUpAction,
    today: NaiveDate,
) -> ServiceResult<FindingState> {
    Ok(store
        .record_followup(finding_id, action, actor, today)
        .await?)
}
