//! Answering officers' questions (咨询). The console comes here; the
//! question arrives through a device's push (`store::consult::ingest`).

use uuid::Uuid;

use choucha_shared::consult::{Answer, FaqEntry};

use super::{Actor, ServiceError, ServiceResult};
use crate::store::Store;

/// Records the quality section's answer to a question; the asking
/// officer's tablet gets it on its next pull.
#[tracing::instrument(skip_all, fields(actor = %actor, question_id = %question_id))]
pub async fn answer(
    store: &Store,
    actor: &Actor,
    question_id: &Uuid,
    text: &str,
    basis: Option<&str>,
    answered_by: &str,
) -> ServiceResult<Answer> {
    if answered_by.trim().is_empty() {
        return Err(ServiceError::bad_input(
            "须填写答复人（显示给执法人员）(answered_by)",
        ));
    }
    Ok(store
        .answer_question(question_id, text, basis, answered_by, actor)
        .await?)
}

/// Makes an answered question an entry of its checklist's FAQ, as the
/// quality section words it for every officer.
#[tracing::instrument(skip_all, fields(actor = %actor, question_id = %question_id))]
pub async fn publish_faq(
    store: &Store,
    actor: &Actor,
    question_id: &Uuid,
    question: &str,
    answer: &str,
) -> ServiceResult<FaqEntry> {
    Ok(store
        .publish_faq(question_id, question, answer, actor)
        .await?)
}
