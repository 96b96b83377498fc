//! Console users: add one, set a password. The admin's user page, the
//! `choucha-server user` command line and the demo all come here.

use super::passwords::{self, PasswordError};
use super::{Actor, ServiceError, ServiceResult};
use crate::store::{ConsoleUser, Role, Store};

/// Hashing takes ~50 ms of CPU on purpose; it runs off the async threads.
async fn hash(password: String) -> ServiceResult<String> {
    tokio::task::spawn_blocking(move || passwords::hash_password(&password))
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?
        .map_err(|e| match e {
            PasswordError::TooShort => ServiceError::bad_input(e.to_string()),
            other => ServiceError::Internal(other.to_string()),
        })
}

/// The hash of `password`, or of a generated one, which is returned to
/// be shown once.
async fn hash_or_generate(password: Option<String>) -> ServiceResult<(String, Option<String>)> {
    let (password, generated) = match password {
        Some(p) => (p, None),
        None => {
            let p = passwords::generate_password();
            (p.clone(), Some(p))
        }
    };
    Ok((hash(password).await?, generated))
}

/// A town lead's town, checked against the directory's towns; other
/// roles have none.
async fn checked_town<'a>(
    store: &Store,
    role: Role,
    jurisdiction: Option<&'a str>,
) -> ServiceResult<Option<&'a str>> {
    let jurisdiction = jurisdiction.map(str::trim).filter(|j| !j.is_empty());
    match (role, jurisdiction) {
        (Role::TownLead, None) => Err(ServiceError::bad_field(
            "jurisdiction",
            "镇街负责人须指定所属镇街 (a town lead needs a town)",
        )),
        (Role::TownLead, Some(j)) => {
            if store.jurisdictions().await?.contains(j) {
                Ok(Some(j))
            } else {
                Err(ServiceError::bad_field(
                    "jurisdiction",
                    format!("镇街“{j}”不在名录中 (unknown town)"),
                ))
            }
        }
        (_, Some(_)) => Err(ServiceError::bad_field(
            "jurisdiction",
            "只有镇街负责人可以限定镇街 (only a town lead has a town)",
        )),
        (_, None) => Ok(None),
    }
}

/// Checks and adds a user; returns the generated password when none was
/// given. A town lead must name a known town/street; other roles none.
#[tracing::instrument(skip_all, fields(actor = %actor, username = %username))]
pub async fn create_user(
    store: &Store,
    actor: &Actor,
    username: &str,
    role: Role,
    jurisdiction: Option<&str>,
    password: Option<String>,
) -> ServiceResult<(ConsoleUser, Option<String>)> {
    let username = username.trim();
    if username.is_empty()
        || username.chars().count() > 64
        || username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ServiceError::bad_field(
            "username",
            format!("用户名 '{username}' 无效：须为 1–64 个字符且不含空格 (invalid username)"),
        ));
    }
    let jurisdiction = checked_town(store, role, jurisdiction).await?;
    let (hash, generated) = hash_or_generate(password).await?;
    let user = store
        .add_console_user(actor, username, role, jurisdiction, &hash)
        .await?;
    Ok((user, generated))
}

/// Sets a user's password (ends their sessions); returns the generated
/// password when none was given.
#[tracing::instrument(skip_all, fields(actor = %actor, username = %username))]
pub async fn set_password(
    store: &Store,
    actor: &Actor,
    username: &str,
    password: Option<String>,
) -> ServiceResult<Option<String>> {
    let (hash, generated) = hash_or_generate(password).await?;
    store.set_console_password(actor, username, &hash).await?;
    Ok(generated)
}

/// Disables or enables a user; nobody disables themselves (they would be
/// locked out mid-task), and the last administrator stays enabled.
#[tracing::instrument(skip_all, fields(actor = %actor, username = %username))]
pub async fn set_disabled(
    store: &Store,
    actor: &Actor,
    acting_username: &str,
    username: &str,
    disabled: bool,
) -> ServiceResult<ConsoleUser> {
    if disabled && acting_username == username {
        return Err(ServiceError::Conflict(
            "不能停用自己的账户 (you cannot disable yourself)".into(),
        ));
    }
    Ok(store
        .set_console_user_disabled(actor, username, disabled)
        .await?)
}

/// Changes a user's role and town (a town lead's town checked).
#[tracing::instrument(skip_all, fields(actor = %actor, username = %username))]
pub async fn change_role(
    store: &Store,
    actor: &Actor,
    username: &str,
    role: Role,
    jurisdiction: Option<&str>,
) -> ServiceResult<ConsoleUser> {
    let jurisdiction = checked_town(store, role, jurisdiction).await?;
    Ok(store
        .set_console_user_role(actor, username, role, jurisdiction)
        .await?)
}
