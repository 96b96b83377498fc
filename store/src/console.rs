//! The console's tables: users, sessions, the audit log and login attempts.
//!
//! Session tokens are stored as SHA-256 only; password hashes are Argon2id
//! PHC strings made in `crate::console::auth` (the store never sees a
//! password).

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, corrupt, now, parse_time, random_token, token_hash};

/// What a console user may do (stored as its code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Users, imports, everything a supervisor does.
    Admin,
    /// The quality section (质量科): draws, review, follow-up, reports.
    Supervisor,
    /// A town/street office lead: review and follow-up in their
    /// jurisdiction only.
    TownLead,
    /// Reads everything, changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Supervisor, Role::TownLead, Role::Auditor];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::TownLead => "town_lead",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Supervisor => "质量科",
            Role::TownLead => "镇街负责人",
            Role::Auditor => "审计（只读）",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Supervisor => "Quality section",
            Role::TownLead => "Town office lead",
            Role::Auditor => "Auditor (read-only)",
        }
    }
}

/// The logged-in console user, extracted from the session cookie. A
/// handler that takes it cannot run for anonymous visitors./// The user behind a live console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub jurisdiction: Option<String>,
    /// The session's CSRF token.
    pub csrf_token: String,
}

/// A console user as listed (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsoleUser {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub jurisdiction: Option<String>,
    pub created_at: String,
    pub disabled: bool,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A new session: the cookie value (shown once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

/// Failed logins counted for the rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentFailures {
    /// From this client, for any name.
    pub from_client: i64,
    /// For this name from this client.
    pub for_pair: i64,
    /// When the pair last failed before the attempt being decided.
    pub previous_pair_failure: Option<chrono::DateTime<Utc>>,
}

type UserRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
);

fn user_from_row(
    (user_id, username, role, jurisdiction, created_at, disabled_at): UserRow,
) -> Result<ConsoleUser, StoreError> {
    Ok(ConsoleUser {
        user_id,
        username,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("unknown role '{role}'")))?,
        jurisdiction,
        created_at,
        disabled: disabled_at.is_some(),
    })
}

impl Store {
    /// Adds a console user. The username must be new.
    #[tracing::instrument(level = "debug", name = "store.add_console_user", skip_all)]
    pub async fn add_console_user(
        &self,
        actor: &Actor,
        username: &str,
        role: Role,
        jurisdiction: Option<&str>,
        password_hash: &str,
    ) -> Result<ConsoleUser, StoreError> {
        // A town lead's town is what scopes everything they see: none
        // would mean every town to the queries that filter on it.
        if role == Role::TownLead && jurisdiction.is_none_or(|j| j.trim().is_empty()) {
            return Err(StoreError::invalid(
                "镇街负责人须指定所属镇街",
                serde_json::json!({ "field": "jurisdiction" }),
            ));
        }
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT user_id FROM console_users WHERE username = $1")
                .bind(username)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "用户名 '{username}' 已存在 (username already exists)"
            )));
        }
        let user_id = uuid::Uuid::now_v7().to_string();
        let created_at = now();
        sqlx::query(
            "INSERT INTO console_users (user_id, username, role, jurisdiction, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&user_id)
        .bind(username)
        .bind(role.code())
        .bind(jurisdiction)
        .bind(password_hash)
        .bind(&created_at)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "user.add",
                object: format!("user:{username}"),
                before: None,
                after: Some(serde_json::json!({
                    "username": username,
                    "role": role.code(),
                    "jurisdiction": jurisdiction,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ConsoleUser {
            user_id,
            username: username.to_owned(),
            role,
            jurisdiction: jurisdiction.map(str::to_owned),
            created_at,
            disabled: false,
        })
    }

    /// Replaces a user's password hash and ends their sessions.
    #[tracing::instrument(level = "debug", name = "store.set_console_password", skip_all)]
    pub async fn set_console_password(
        &self,
        actor: &Actor,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let row: Option<(String,)> =
            sqlx::query_as("SELECT user_id FROM console_users WHERE username = $1")
                .bind(username)
                .fetch_optional(&mut *tx)
                .await?;
        let (user_id,) =
            row.ok_or_else(|| StoreError::NotFound(format!("没有用户 '{username}'")))?;
        sqlx::query("UPDATE console_users SET password_hash = $1 WHERE user_id = $2")
            .bind(password_hash)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        end_sessions(&mut tx, &user_id).await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "user.password",
                object: format!("user:{username}"),
                before: None,
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables (ending their sessions) or enables a user. The last enabled
    /// administrator cannot be disabled: nobody could then manage users.
    #[tracing::instrument(level = "debug", name = "store.set_console_user_disabled", skip_all)]
    pub async fn set_console_user_disabled(
        &self,
        actor: &Actor,
        username: &str,
        disabled: bool,
    ) -> Result<ConsoleUser, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let before = user_in(&mut tx, username).await?;
        if before.disabled == disabled {
            return Ok(before);
        }
        if disabled && before.role == Role::Admin && enabled_admins(&mut tx).await? <= 1 {
            return Err(StoreError::Conflict(
                "不能停用最后一个系统管理员 (the last administrator cannot be disabled)".into(),
            ));
        }
        sqlx::query("UPDATE console_users SET disabled_at = $1 WHERE user_id = $2")
            .bind(disabled.then(now))
            .bind(&before.user_id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            end_sessions(&mut tx, &before.user_id).await?;
        }
        audit::append(
            &mut tx,
            Change {
                actor,
                action: if disabled {
                    "user.disable"
                } else {
                    "user.enable"
                },
                object: format!("user:{username}"),
                before: Some(serde_json::json!({ "disabled": before.disabled })),
                after: Some(serde_json::json!({ "disabled": disabled })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ConsoleUser { disabled, ..before })
    }

    /// Changes a user's role and town (checked by the caller), ending
    /// their sessions so the new role applies at once. The last enabled
    /// administrator keeps the role.
    #[tracing::instrument(level = "debug", name = "store.set_console_user_role", skip_all)]
    pub async fn set_console_user_role(
        &self,
        actor: &Actor,
        username: &str,
        role: Role,
        jurisdiction: Option<&str>,
    ) -> Result<ConsoleUser, StoreError> {
        if role == Role::TownLead && jurisdiction.is_none_or(|j| j.trim().is_empty()) {
            return Err(StoreError::invalid(
                "镇街负责人须指定所属镇街",
                serde_json::json!({ "field": "jurisdiction" }),
            ));
        }
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let before = user_in(&mut tx, username).await?;
        if before.role == Role::Admin
            && role != Role::Admin
            && !before.disabled
            && enabled_admins(&mut tx).await? <= 1
        {
            return Err(StoreError::Conflict(
                "最后一个系统管理员不能改为其他角色 (the last administrator keeps the role)".into(),
            ));
        }
        sqlx::query("UPDATE console_users SET role = $1, jurisdiction = $2 WHERE user_id = $3")
            .bind(role.code())
            .bind(jurisdiction)
            .bind(&before.user_id)
            .execute(&mut *tx)
            .await?;
        end_sessions(&mut tx, &before.user_id).await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "user.role",
                object: format!("user:{username}"),
                before: Some(serde_json::json!({ "role": before.role.code(), "jurisdiction": before.jurisdiction })),
                after: Some(serde_json::json!({ "role": role.code(), "jurisdiction": jurisdiction })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ConsoleUser {
            role,
            jurisdiction: jurisdiction.map(str::to_owned),
            ..before
        })
    }

    /// Every console user, by username.
    pub async fn console_users(&self) -> Result<Vec<ConsoleUser>, StoreError> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT user_id, username, role, jurisdiction, created_at, disabled_at FROM console_users ORDER BY username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(user_from_row).collect()
    }

    /// The user and password hash for a login, if the user exists and is
    /// not disabled.
    pub async fn console_login_lookup(
        &self,
        username: &str,
    ) -> Result<Option<(ConsoleUser, String)>, StoreError> {
        type Row = (
            String,
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            String,
        );
        let row: Option<Row> =
            sqlx::query_as(
                "SELECT user_id, username, role, jurisdiction, created_at, disabled_at, password_hash FROM console_users WHERE username = $1 AND disabled_at IS NULL",
            )
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(a, b, c, d, e, f, hash)| Ok((user_from_row((a, b, c, d, e, f))?, hash)))
            .transpose()
    }

    /// Opens a session for a user, valid for `ttl`.
    pub async fn create_console_session(
        &self,
        user_id: &str,
        ttl: Duration,
    ) -> Result<NewSession, StoreError> {
        // SQLite has one writer: every write waits its turn (a write
        // outside the queue made pushes fail with "database is locked").
        let _writer = self.writer().await;
        let token = random_token();
        let csrf_token = random_token();
        let expires = (Utc::now() + ttl).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(&csrf_token)
        .bind(now())
        .bind(expires)
        .execute(&self.pool)
        .await?;
        Ok(NewSession { token, csrf_token })
    }

    /// The user behind a session cookie, if the session is live and the
    /// user is not disabled.
    pub async fn console_session_user(
        &self,
        token: &str,
    ) -> Result<Option<SessionUser>, StoreError> {
        type Row = (String, String, String, Option<String>, String, String);
        let row: Option<Row> = sqlx::query_as(
            "SELECT u.user_id, u.username, u.role, u.jurisdiction, s.csrf_token, s.expires_at FROM console_sessions s JOIN console_users u ON u.user_id = s.user_id WHERE s.token_hash = $1 AND u.disabled_at IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some((user_id, username, role, jurisdiction, csrf_token, expires_at)) = row else {
            return Ok(None);
        };
        if parse_time(&expires_at)? <= Utc::now() {
            return Ok(None);
        }
        Ok(Some(SessionUser {
            user_id,
            username,
            role: Role::parse(&role).ok_or_else(|| corrupt(format!("unknown role '{role}'")))?,
            jurisdiction,
            csrf_token,
        }))
    }

    /// Ends a session (logout).
    pub async fn delete_console_session(&self, token: &str) -> Result<(), StoreError> {
        // SQLite has one writer: every write waits its turn (a write
        // outside the queue made pushes fail with "database is locked").
        let _writer = self.writer().await;
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a login attempt for the rate limit.
    /// Records a login attempt as failed before its password is checked
    /// (so parallel attempts all count), returning its time to mark it
    /// succeeded by ([`Store::login_attempt_succeeded`]).
    pub async fn begin_login_attempt(
        &self,
        username: &str,
        client: &str,
    ) -> Result<String, StoreError> {
        // SQLite has one writer: every write waits its turn (a write
        // outside the queue made pushes fail with "database is locked").
        let _writer = self.writer().await;
        let at = now();
        sqlx::query(
            "INSERT INTO login_attempts (username, client, at, succeeded) VALUES ($1, $2, $3, 0)",
        )
        .bind(username)
        .bind(client)
        .bind(&at)
        .execute(&self.pool)
        .await?;
        Ok(at)
    }

    pub async fn login_attempt_succeeded(
        &self,
        username: &str,
        client: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        // SQLite has one writer: every write waits its turn (a write
        // outside the queue made pushes fail with "database is locked").
        let _writer = self.writer().await;
        sqlx::query(
            "UPDATE login_attempts SET succeeded = 1 WHERE username = $1 AND client = $2 AND at = $3",
        )
        .bind(username)
        .bind(client)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Failed logins since `window` ago from this client, and for this
    /// username from it, the attempt at `this` (already recorded) included
    /// in the counts but not as the previous failure.
    pub async fn recent_login_failures(
        &self,
        username: &str,
        client: &str,
        this: &str,
        window: Duration,
    ) -> Result<RecentFailures, StoreError> {
        let since = (Utc::now() - window).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let (for_pair,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM login_attempts WHERE username = $1 AND client = $2 AND at > $3 AND succeeded = 0",
        )
        .bind(username)
        .bind(client)
        .bind(&since)
        .fetch_one(&self.pool)
        .await?;
        let previous: Option<(String,)> = sqlx::query_as(
            "SELECT at FROM login_attempts WHERE username = $1 AND client = $2 AND at > $3 AND at < $4 \
             AND succeeded = 0 ORDER BY at DESC LIMIT 1",
        )
        .bind(username)
        .bind(client)
        .bind(&since)
        .bind(this)
        .fetch_optional(&self.pool)
        .await?;
        Ok(RecentFailures {
            from_client: self
                .failures_since("login_attempts", "client", client, window)
                .await?,
            for_pair,
            previous_pair_failure: previous.map(|(at,)| parse_time(&at)).transpose()?,
        })
    }

    /// Failed attempts in an attempts table (`login_attempts`,
    /// `enrolment_attempts`) whose `column` is `key`, since `window` ago.
    /// `table` and `column` are this crate's constants, never input.
    pub(crate) async fn failures_since(
        &self,
        table: &'static str,
        column: &'static str,
        key: &str,
        window: Duration,
    ) -> Result<i64, StoreError> {
        let since = (Utc::now() - window).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE {column} = $1 AND at > $2 AND succeeded = 0"
        );
        let (n,): (i64,) = sqlx::query_as(&sql)
            .bind(key)
            .bind(&since)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        object: &str,
        before: Option<&Value>,
        after: Option<&Value>,
    ) -> Result<(), StoreError> {
        // SQLite has one writer: every write waits its turn (a write
        // outside the queue made pushes fail with "database is locked").
        let _writer = self.writer().await;
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, object, before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(object)
        .bind(before.map(Value::to_string))
        .bind(after.map(Value::to_string))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest audit entries (optionally about one object), newest first.
    pub async fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
        );
        let mut sql = String::from(
            "SELECT seq, at, actor, action, object, before_json, after_json FROM audit_log WHERE 1 = 1",
        );
        let mut binds: Vec<&str> = Vec::new();
        for (column, op, value) in [
            ("object", "=", filter.object.as_deref()),
            ("actor", "=", filter.actor.as_deref()),
            ("action", "=", filter.action.as_deref()),
            ("at", ">=", filter.from.as_deref()),
            ("at", "<", filter.until.as_deref()),
        ] {
            if let Some(v) = value {
                binds.push(v);
                sql.push_str(&format!(" AND {column} {op} ${}", binds.len()));
            }
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", binds.len() + 1));
        let mut q = sqlx::query_as::<_, Row>(&sql);
        for b in binds {
            q = q.bind(b);
        }
        let rows: Vec<Row> = q.bind(limit).fetch_all(&self.pool).await?;
        let json = |s: Option<String>| -> Result<Option<Value>, StoreError> {
            s.map(|s| serde_json::from_str(&s).map_err(corrupt))
                .transpose()
        };
        rows.into_iter()
            .map(|(seq, at, actor, action, object, before, after)| {
                Ok(AuditEntry {
                    seq,
                    at,
                    actor,
                    action,
                    object,
                    before: json(before)?,
                    after: json(after)?,
                })
            })
            .collect()
    }
}

/// A plan as listed on the draw page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    pub plan_id: String,
    pub title: String,
    pub created_by: String,
    pub created_at: String,
    pub frozen_at: Option<String>,
    pub snapshot_hash: Option<String>,
    /// Draws run on the plan (0 until its seed is entered).
    pub draws: i64,
}

impl PlanSummary {
    /// Where the plan is in its life: 未冻结 → 已冻结 → 已抽取.
    pub fn stage(&self) -> PlanStage {
        match (self.frozen_at.is_some(), self.draws > 0) {
            (_, true) => PlanStage::Drawn,
            (true, false) => PlanStage::Frozen,
            (false, false) => PlanStage::Open,
        }
    }
}

/// A plan's stage as the plan list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStage {
    /// 未冻结: strata and candidates may still change.
    Open,
    /// 已冻结: the snapshot hash is fixed; waiting for the seed.
    Frozen,
    /// 已抽取: at least one draw has been run.
    Drawn,
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// A user by name, inside `tx`.
async fn user_in(tx: &mut Tx<'_>, username: &str) -> Result<ConsoleUser, StoreError> {
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT user_id, username, role, jurisdiction, created_at, disabled_at FROM console_users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(&mut **tx)
    .await?;
    user_from_row(row.ok_or_else(|| StoreError::NotFound(format!("没有用户 '{username}'")))?)
}

/// Enabled administrators, inside `tx` (the last one is kept).
async fn enabled_admins(tx: &mut Tx<'_>) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM console_users WHERE role = 'admin' AND disabled_at IS NULL",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(n)
}

/// Ends every session of a user, inside `tx` (a new password, role or a
/// disabled account applies at once).
async fn end_sessions(tx: &mut Tx<'_>, user_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Which audit entries to list: each given part must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// `record:<id>`, `plan:<id>`, …
    pub object: Option<String>,
    pub actor: Option<String>,
    /// An action code (`record.approve`).
    pub action: Option<String>,
    /// Stored times (RFC 3339, UTC): from (inclusive) and until (exclusive).
    pub from: Option<String>,
    pub until: Option<String>,
}

/// A draw as listed under its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrawSummary {
    pub draw_id: String,
    pub seq: i64,
    pub seed_entered_by: String,
    pub seed_entered_at: String,
    pub supersedes: Option<String>,
}

/// Where a task's target is: its name and town, from the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskPlace {
    pub task_id: String,
    pub target_name: Option<String>,
    pub jurisdiction: Option<String>,
}

impl Store {
    /// Every plan, newest first.
    pub async fn console_plans(&self) -> Result<Vec<PlanSummary>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT plan_id, spec, created_by, created_at, frozen_at, snapshot_hash, \
             (SELECT COUNT(*) FROM draws d WHERE d.plan_id = plans.plan_id) \
             FROM plans ORDER BY created_at DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |(plan_id, spec, created_by, created_at, frozen_at, snapshot_hash, draws)| {
                    let spec: Value = serde_json::from_str(&spec).map_err(corrupt)?;
                    Ok(PlanSummary {
                        plan_id,
                        title: spec
                            .get("title")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        created_by,
                        created_at,
                        frozen_at,
                        snapshot_hash,
                        draws,
                    })
                },
            )
            .collect()
    }

    /// A plan's draws, oldest first.
    pub async fn plan_draws(&self, plan_id: &str) -> Result<Vec<DrawSummary>, StoreError> {
        let rows: Vec<(String, i64, String, String, Option<String>)> = sqlx::query_as(
            "SELECT draw_id, seq, seed_entered_by, seed_entered_at, supersedes FROM draws WHERE plan_id = $1 ORDER BY seq",
        )
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(draw_id, seq, seed_entered_by, seed_entered_at, supersedes)| DrawSummary {
                    draw_id,
                    seq,
                    seed_entered_by,
                    seed_entered_at,
                    supersedes,
                },
            )
            .collect())
    }

    /// Target name and town of every task of a draw, in task order.
    pub async fn draw_task_places(&self, draw_id: &str) -> Result<Vec<TaskPlace>, StoreError> {
        let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT t.task_id, g.name, g.jurisdiction FROM tasks t LEFT JOIN targets g ON g.category = t.category AND g.target_key = t.target_key WHERE t.draw_id = $1 ORDER BY t.seq",
        )
        .bind(draw_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(task_id, target_name, jurisdiction)| TaskPlace {
                task_id,
                target_name,
                jurisdiction,
            })
            .collect())
    }
}

/// A return as shown in the record's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReturnEntry {
    pub version: String,
    pub comment: String,
    pub item_comments: std::collections::BTreeMap<String, String>,
    pub returned_by: String,
    pub returned_at: String,
}

impl Store {
    /// The town (属地) of a target, which decides who may see its records.
    pub async fn target_jurisdiction(
        &self,
        category: &str,
        target_key: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT jurisdiction FROM targets WHERE category = $1 AND target_key = $2",
        )
        .bind(category)
        .bind(target_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(j,)| j))
    }

    /// Every return of a record, oldest first.
    pub async fn record_returns(&self, record_id: &str) -> Result<Vec<ReturnEntry>, StoreError> {
        let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT version, comment, item_comments, returned_by, returned_at FROM returns WHERE record_id = $1 ORDER BY returned_at",
        )
        .bind(record_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |(version, comment, item_comments, returned_by, returned_at)| {
                    Ok(ReturnEntry {
                        version,
                        comment,
                        item_comments: serde_json::from_str(&item_comments).map_err(corrupt)?,
                        returned_by,
                        returned_at,
                    })
                },
            )
            .collect()
    }

    /// The record IDs that name a blob (photo or signature).
    pub async fn records_with_blob(&self, sha256: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT record_id FROM record_blobs WHERE sha256 = $1")
                .bind(sha256)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }
}

impl Store {
    /// IDs of findings not yet closed, in one town or all, overdue-first
    /// order (by deadline, then finding).
    pub async fn open_finding_ids(
        &self,
        town: Option<&str>,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT finding_id FROM oversight_findings WHERE closed = 0 AND ($1 = '' OR jurisdiction = $1) \
             ORDER BY deadline, finding_id LIMIT $2",
        )
        .bind(town.unwrap_or_default())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(f,)| f).collect())
    }
}

impl Store {
    /// Whether a record has a live (not withdrawn) public result.
    pub async fn record_disclosed(&self, record_id: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT seq FROM disclosures WHERE record_id = $1 AND withdrawn_at IS NULL",
        )
        .bind(record_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}
