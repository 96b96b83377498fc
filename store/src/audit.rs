//! The audit log (操作日志): who changed what, with the state before and
//! after. Every store method that carries out a use case appends its entry
//! through [`append`] inside the transaction of the change itself, so an
//! entry exists exactly when the change committed — never one without the
//! other, whichever transport asked.

use serde_json::Value;

use super::{StoreError, now};

/// Who did something, as the audit log names them. Transports build it
/// from what they authenticated (a console session, an admin token, the
/// command line); nothing a client merely claims becomes an actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// A console user, by username.
    pub fn user(username: &str) -> Self {
        Self(username.to_owned())
    }

    /// Whoever holds an admin API token: the person it was issued to and
    /// the token's id (one person may hold several).
    pub fn admin_token(name: &str, id: &str) -> Self {
        Self(format!("admin-token:{name}#{id}"))
    }

    /// The `choucha-server` command line, run by whoever holds the data
    /// directory or the database URL.
    pub fn cli() -> Self {
        Self("cli".to_owned())
    }

    /// The demo loader.
    pub fn demo() -> Self {
        Self("demo".to_owned())
    }

    /// An enrolled device, acting for its officer.
    pub fn device(device_id: &str) -> Self {
        Self(format!("device:{device_id}"))
    }

    /// The server itself (deadlines, background work).
    pub fn system() -> Self {
        Self("system".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One audit entry to append: `action` is a stable code such as
/// `record.approve`, `object` names what changed (`record:<id>`).
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub object: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Appends `change` inside `tx`.
pub(crate) async fn append(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    change: Change<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, object, before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now())
    .bind(change.actor.as_str())
    .bind(change.action)
    .bind(change.object)
    .bind(change.before.as_ref().map(Value::to_string))
    .bind(change.after.as_ref().map(Value::to_string))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
