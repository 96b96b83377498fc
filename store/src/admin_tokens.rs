//! Admin API tokens (接口令牌) and their lifecycle: each is issued to a
//! named person for a bounded time, listed without its secret, and revoked
//! by its short id. The secret itself is returned once, by [`Store::issue_admin_token`],
//! and only its SHA-256 is stored, so neither the database nor a listing
//! yields a usable token.

use chrono::{Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::json;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, now, random_token, token_hash};

/// The longest a token may live; a person who still needs one after that
/// is issued a new one, which keeps forgotten tokens from working forever.
pub const MAX_TOKEN_DAYS: u32 = 365;
/// What a token lives when the issuer does not say.
pub const DEFAULT_TOKEN_DAYS: u32 = 30;
/// Hex digits of the token's hash that name it in lists and the audit log.
const ID_LEN: usize = 12;

/// One token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminToken {
    /// The first hex digits of the token's hash: enough to revoke it by,
    /// useless to authenticate with.
    pub id: String,
    /// The person who holds it (持有人).
    pub name: String,
    /// Who issued it: a console user or the command line.
    pub issued_by: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

/// Where a token stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

impl AdminToken {
    pub fn state(&self) -> TokenState {
        if self.revoked_at.is_some() {
            TokenState::Revoked
        } else if self.expires_at.as_str() <= now().as_str() {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    /// The actor every change made with this token is audited under.
    pub fn actor(&self) -> Actor {
        Actor::admin_token(&self.name, &self.id)
    }
}

type TokenRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

const COLUMNS: &str =
    "token_hash, label, issued_by, created_at, expires_at, revoked_at, revoked_by";

fn from_row(
    (hash, name, issued_by, created_at, expires_at, revoked_at, revoked_by): TokenRow,
) -> AdminToken {
    AdminToken {
        id: hash[..ID_LEN.min(hash.len())].to_owned(),
        name,
        issued_by,
        created_at,
        // Rows have one since migration 0020; an empty one never passes.
        expires_at: expires_at.unwrap_or_default(),
        revoked_at,
        revoked_by,
    }
}

impl Store {
    /// Issues a token for `name`, valid for `days` (1 to [`MAX_TOKEN_DAYS`]),
    /// and returns its secret, which is shown once and never stored.
    pub async fn issue_admin_token(
        &self,
        actor: &Actor,
        name: &str,
        days: u32,
    ) -> Result<(String, AdminToken), StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(StoreError::field(
                "name",
                "请填写令牌持有人姓名（1 至 64 个字）(the holder's name, 1 to 64 characters)",
            ));
        }
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(StoreError::field(
                "days",
                format!(
                    "有效期须为 1 至 {MAX_TOKEN_DAYS} 天 (valid for 1 to {MAX_TOKEN_DAYS} days), not {days}"
                ),
            ));
        }
        let secret = random_token();
        let hash = token_hash(&secret);
        let created_at = now();
        let expires_at = (Utc::now() + Duration::days(i64::from(days)))
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        let token = AdminToken {
            id: hash[..ID_LEN].to_owned(),
            name: name.to_owned(),
            issued_by: Some(actor.as_str().to_owned()),
            created_at: created_at.clone(),
            expires_at: expires_at.clone(),
            revoked_at: None,
            revoked_by: None,
        };
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO admin_tokens (token_hash, label, issued_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&hash)
        .bind(name)
        .bind(actor.as_str())
        .bind(&created_at)
        .bind(&expires_at)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "admin_token.issue",
                object: format!("admin-token:{}", token.id),
                before: None,
                after: Some(json!({ "name": name, "expires_at": expires_at })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((secret, token))
    }

    /// Every token ever issued, newest first.
    pub async fn admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        let rows: Vec<TokenRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM admin_tokens ORDER BY created_at DESC, token_hash"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// Revokes the token with this id; at once, on every instance (nothing
    /// caches a token's validity).
    pub async fn revoke_admin_token(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<AdminToken, StoreError> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() != ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::field(
                "id",
                format!(
                    "令牌编号应为 {ID_LEN} 位十六进制数 (a token id is {ID_LEN} hex digits): '{id}'"
                ),
            ));
        }
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let row: Option<TokenRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM admin_tokens WHERE substr(token_hash, 1, {ID_LEN}) = $1"
        ))
        .bind(&id)
        .fetch_optional(&mut *tx)
        .await?;
        let mut token = row.map(from_row).ok_or_else(|| {
            StoreError::NotFound(format!("没有编号为 {id} 的令牌 (no token {id})"))
        })?;
        if token.revoked_at.is_some() {
            return Ok(token);
        }
        let at = now();
        sqlx::query(&format!(
            "UPDATE admin_tokens SET revoked_at = $1, revoked_by = $2 WHERE substr(token_hash, 1, {ID_LEN}) = $3"
        ))
        .bind(&at)
        .bind(actor.as_str())
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "admin_token.revoke",
                object: format!("admin-token:{id}"),
                before: Some(json!({ "name": token.name, "expires_at": token.expires_at })),
                after: Some(json!({ "revoked_at": at })),
            },
        )
        .await?;
        tx.commit().await?;
        token.revoked_at = Some(at);
        token.revoked_by = Some(actor.as_str().to_owned());
        Ok(token)
    }

    /// The token a request presents, in whatever state it is (the caller
    /// checks [`AdminToken::state`], to say why one no longer works).
    pub async fn admin_token(&self, secret: &str) -> Result<Option<AdminToken>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM admin_tokens WHERE token_hash = $1"
        ))
        .bind(token_hash(secret))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(from_row))
    }

    /// Whether any token is still active (the server says how to make the
    /// first one when none is).
    pub async fn has_active_admin_token(&self) -> Result<bool, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM admin_tokens WHERE revoked_at IS NULL AND expires_at > $1",
        )
        .bind(now())
        .fetch_one(&self.pool)
        .await?;
        Ok(count > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, dir.path()).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_token_works_until_it_expires_or_is_revoked() {
        let (_dir, store) = store().await;
        let cli = Actor::cli();
        let (secret, token) = store.issue_admin_token(&cli, "张三", 30).await.unwrap();
        assert_eq!(token.state(), TokenState::Active);
        let found = store.admin_token(&secret).await.unwrap().unwrap();
        assert_eq!(found, token);
        assert_eq!(
            found.actor().as_str(),
            format!("admin-token:张三#{}", token.id)
        );
        assert!(store.admin_token("not-a-token").await.unwrap().is_none());
        // The secret is stored nowhere: neither the list nor the table has it.
        let listed = store.admin_tokens().await.unwrap();
        assert_eq!(listed, vec![token.clone()]);
        let (hashes,): (String,) = sqlx::query_as("SELECT token_hash FROM admin_tokens")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_ne!(hashes, secret);

        // Expired: an hour ago.
        let (other, _) = store.issue_admin_token(&cli, "李四", 1).await.unwrap();
        sqlx::query("UPDATE admin_tokens SET expires_at = $1 WHERE label = '李四'")
            .bind(super::super::stamp_of(
                std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
            ))
            .execute(&store.pool)
            .await
            .unwrap();
        let expired = store.admin_token(&other).await.unwrap().unwrap();
        assert_eq!(expired.state(), TokenState::Expired);

        let revoked = store.revoke_admin_token(&cli, &token.id).await.unwrap();
        assert_eq!(revoked.state(), TokenState::Revoked);
        assert_eq!(revoked.revoked_by.as_deref(), Some("cli"));
        let gone = store.admin_token(&secret).await.unwrap().unwrap();
        assert_eq!(gone.state(), TokenState::Revoked);
        assert!(!store.has_active_admin_token().await.unwrap());
    }

    #[tokio::test]
    async fn bad_names_days_and_ids_are_refused_by_field() {
        let (_dir, store) = store().await;
        let cli = Actor::cli();
        for (name, days, field) in [
            ("  ", 30, "name"),
            ("王五", 0, "days"),
            ("王五", 366, "days"),
        ] {
            match store.issue_admin_token(&cli, name, days).await {
                Err(StoreError::Invalid { details, .. }) => assert_eq!(details["field"], field),
                other => panic!("{name}/{days}: {other:?}"),
            }
        }
        assert!(matches!(
            store.revoke_admin_token(&cli, "xyz").await,
            Err(StoreError::Invalid { .. })
        ));
        assert!(matches!(
            store.revoke_admin_token(&cli, "0123456789ab").await,
            Err(StoreError::NotFound(_))
        ));
    }
}
