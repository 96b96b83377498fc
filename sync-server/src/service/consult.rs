//! Answering officers' questions (咨询). The console comes here; the
//! question arrives through a device's push (`store::consult::ingest`).

use uuid::Uuid;

use choucha_shared::Sha256Hex;
use choucha_shared::consult::{Answer, FaqEntry, MAX_PHOTOS};

use super::{Actor, ServiceError, ServiceResult};
use crate::store::Store;

/// Records the quality section's answer to a question; the asking
/// officer's tablet gets it on its next pull.
#[tracing::instrument(skip_all, fields(actor = %actor, question_id = %question_id))]
#[allow(clippy::too_many_arguments)]
pub async fn answer(
    store: &Store,
    blobs: &dyn crate::blobs::BlobStore,
    actor: &Actor,
    question_id: &Uuid,
    text: &str,
    basis: Option<&str>,
    answered_by: &str,
    attachments: &[(String, Vec<u8>)],
) -> ServiceResult<Answer> {
    if answered_by.trim().is_empty() {
        return Err(ServiceError::bad_input(
            "须填写答复人（显示给执法人员）(answered_by)",
        ));
    }
    if text.trim().is_empty() {
        return Err(ServiceError::bad_input("请填写答复内容 (text)"));
    }
    let hashes = store_attachments(blobs, attachments).await?;
    Ok(store
        .answer_question(question_id, text, basis, answered_by, &hashes, actor)
        .await?)
}

/// Largest image sent with an answer.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// Checks the answer's images (JPEG or PNG, at most [`MAX_PHOTOS`], none
/// over [`MAX_ATTACHMENT_BYTES`]; the first bad one named) and stores them
/// as evidence, so the asking officer's tablet can fetch them.
async fn store_attachments(
    blobs: &dyn crate::blobs::BlobStore,
    files: &[(String, Vec<u8>)],
) -> ServiceResult<Vec<Sha256Hex>> {
    if files.len() > MAX_PHOTOS {
        return Err(ServiceError::bad_input(format!(
            "附件过多：{} 个，最多 {MAX_PHOTOS} 个 (attachments)",
            files.len()
        )));
    }
    let mut out = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let image =
            bytes.starts_with(&[0xFF, 0xD8]) || bytes.starts_with(&[0x89, b'P', b'N', b'G']);
        if !image {
            return Err(ServiceError::bad_input(format!(
                "附件“{name}”不是 JPEG 或 PNG 图片 (attachments)"
            )));
        }
        if bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(ServiceError::bad_input(format!(
                "附件“{name}”过大（{} MB），最大 {} MB (attachments)",
                bytes.len() / (1024 * 1024),
                MAX_ATTACHMENT_BYTES / (1024 * 1024)
            )));
        }
        let sha = Sha256Hex::of(bytes);
        blobs
            .put_verified(&sha, crate::blobs::BlobSource::Bytes(bytes.clone().into()))
            .await
            .map_err(|e| ServiceError::Internal(format!("附件保存失败：{e}")))?;
        out.push(sha);
    }
    Ok(out)
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
