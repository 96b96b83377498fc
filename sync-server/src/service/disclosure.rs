//! Publication of inspection results (一公开): publish an approved record's
//! result, withdraw a published one. What is published comes from the
//! record, the checklist catalogue and the bureau's settings.

use choucha_checklists::Catalogue;
use choucha_shared::review::PublishedResult;

use super::{Actor, ServiceError, ServiceResult};
use crate::oversight::OversightConfig;
use crate::oversight::disclosure::suggested_result;
use crate::store::Store;
use crate::store::disclosure::{PublicResult, Publication};

/// Publishes the approved current version of a record. `result` overrides
/// the category the record suggests.
#[tracing::instrument(skip_all, fields(actor = %actor, record_id = %record_id))]
pub async fn publish(
    store: &Store,
    catalogue: &Catalogue,
    cfg: &OversightConfig,
    calendar: &choucha_shared::calendar::WorkCalendar,
    actor: &Actor,
    record_id: &str,
    result: Option<PublishedResult>,
) -> ServiceResult<PublicResult> {
    Ok(store
        .publish(record_id, actor, |record| Publication {
            matter: catalogue
                .get(&record.checklist)
                .map(|c| c.title.clone())
                .unwrap_or_else(|| format!("{}监督检查", record.category.label_zh())),
            authority: cfg.authority.clone(),
            result: result.unwrap_or_else(|| suggested_result(record)),
            deadline: calendar.publication_deadline(record.inspection_date),
        })
        .await?)
}

/// Withdraws the live result of a record (overturned on review,
/// reconsideration or litigation). The entry stays public, marked withdrawn
/// with the reason, which is required.
#[tracing::instrument(skip_all, fields(actor = %actor, record_id = %record_id))]
pub async fn withdraw(
    store: &Store,
    actor: &Actor,
    record_id: &str,
    reason: &str,
) -> ServiceResult<PublicResult> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ServiceError::BadInput {
            message: "reason: 撤回公示须说明理由 (a withdrawal needs a reason)".into(),
            details: serde_json::json!({ "field": "reason" }),
        });
    }
    Ok(store.withdraw(record_id, reason, actor).await?)
}
