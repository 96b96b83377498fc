//! Review of synced records: approve, mark "has issues", return with
//! comments. The console and the REST API both come here.

use std::collections::BTreeMap;

use uuid::Uuid;

use choucha_shared::review::ReviewAction;
use choucha_shared::sync::RecordReturn;
use choucha_shared::value::Sha256Hex;

use super::{Actor, ServiceError, ServiceResult};
use crate::store::{ReviewChange, Store};

/// A reviewer's decision that needs no comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// 审核通过
    Approve,
    /// 存在问题: to be cleared up before approving or returning.
    HasIssues,
}

/// Approves or flags the record's current version `version`.
#[tracing::instrument(skip_all, fields(actor = %actor, record_id = %record_id, ?decision))]
pub async fn decide(
    store: &Store,
    actor: &Actor,
    record_id: &Uuid,
    version: &Sha256Hex,
    decision: Decision,
) -> ServiceResult<ReviewChange> {
    let action = match decision {
        Decision::Approve => ReviewAction::Approve,
        Decision::HasIssues => ReviewAction::MarkHasIssues,
    };
    Ok(store
        .review_record(actor, record_id, version, action)
        .await?)
}

/// Returns the current version to its team. There must be something to
/// fix: an overall comment or a comment on an item the version has.
#[tracing::instrument(skip_all, fields(actor = %actor, record_id = %record_id))]
pub async fn return_record(
    store: &Store,
    actor: &Actor,
    record_id: &Uuid,
    version: &Sha256Hex,
    comment: &str,
    item_comments: BTreeMap<String, String>,
) -> ServiceResult<RecordReturn> {
    let comment = comment.trim();
    let item_comments: BTreeMap<String, String> = item_comments
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_owned()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if comment.is_empty() && item_comments.is_empty() {
        return Err(ServiceError::bad_input(
            "退回须说明需要修改的内容：请填写总体意见或逐项意见 (comment)",
        ));
    }
    if !item_comments.is_empty() {
        let versions = store.record_versions(record_id).await?;
        let record = versions
            .iter()
            .find(|v| &v.status.version == version)
            .map(|v| &v.record)
            .ok_or_else(|| {
                ServiceError::NotFound(format!("记录 {record_id} 没有版本 {version}"))
            })?;
        if let Some(item) = item_comments
            .keys()
            .find(|item| !record.items.contains_key(item.as_str()))
        {
            return Err(ServiceError::bad_input(format!(
                "检查项 '{item}' 不在此记录中 (unknown item)"
            )));
        }
    }
    Ok(store
        .return_record(actor, record_id, version, comment, item_comments)
        .await?)
}
