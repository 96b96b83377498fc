//! Admin API tokens (接口令牌): issue one to a named person for a bounded
//! time, list them, revoke one. The command line (`choucha-server token`)
//! and the admin's console page both come here; the secret is returned to
//! the transport once, to show on a terminal or a page, never to a log.

use super::{Actor, ServiceResult};
use crate::store::{AdminToken, Store};

/// Issues a token and returns its secret with its listing.
#[tracing::instrument(skip_all, fields(actor = %actor))]
pub async fn issue(
    store: &Store,
    actor: &Actor,
    name: &str,
    days: u32,
) -> ServiceResult<(String, AdminToken)> {
    let (secret, token) = store.issue_admin_token(actor, name, days).await?;
    // The id names it; the secret never reaches a log line.
    tracing::info!(id = %token.id, name = %token.name, expires_at = %token.expires_at, "admin token issued");
    Ok((secret, token))
}

/// Every token ever issued, newest first, without secrets.
pub async fn list(store: &Store) -> ServiceResult<Vec<AdminToken>> {
    Ok(store.admin_tokens().await?)
}

/// Revokes a token by id; effective on every instance at once.
#[tracing::instrument(skip_all, fields(actor = %actor, id = %id))]
pub async fn revoke(store: &Store, actor: &Actor, id: &str) -> ServiceResult<AdminToken> {
    let token = store.revoke_admin_token(actor, id).await?;
    tracing::info!(id = %token.id, name = %token.name, "admin token revoked");
    Ok(token)
}
