//! Escalations (上报): raised from the console (a record) — the tablet's
//! arrive in a push — with their alerts to the configured recipients;
//! control measures (应急管控) until closed with an outcome.

use chrono::Utc;
use uuid::Uuid;

use choucha_shared::escalation::{Escalation, EscalationKind};

use super::{Actor, ServiceError, ServiceResult};
use crate::AppState;

/// Raises an escalation of a task (from one of its records), alerting
/// every recipient. Returns its ID.
#[tracing::instrument(skip_all, fields(actor = %actor, task_id = %task_id))]
pub async fn raise(
    state: &AppState,
    actor: &Actor,
    task_id: &str,
    record_id: Option<Uuid>,
    kind: &str,
    description: &str,
) -> ServiceResult<Uuid> {
    let kind: EscalationKind = kind.parse().map_err(|e: String| ServiceError::BadInput {
        message: e,
        details: serde_json::json!({ "field": "kind" }),
    })?;
    let e = Escalation {
        escalation_id: Uuid::now_v7(),
        task_id: task_id.to_owned(),
        record_id,
        finding_id: None,
        kind,
        description: description.trim().to_owned(),
        photos: Vec::new(),
        raised_at: Utc::now(),
    };
    state.store.raise_escalation(&e, actor).await?;
    Ok(e.escalation_id)
}
