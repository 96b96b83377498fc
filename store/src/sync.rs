//! Device enrolment, the device logs, the record projection, blob
//! registration, returns, and the per-officer feed devices pull.
//!
//! Push is exactly-once by construction: an entry is stored under the
//! device's `(device_id, idx)` and its `entry_id`, both unique, with
//! `ON CONFLICT DO NOTHING`; what is stored is compared by hash, so a retry
//! gets the same answer and different content is a conflict. A batch is one
//! transaction, and the answer is sent only after it committed.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use choucha_checklists::Catalogue;
use choucha_shared::directory::{Target, TargetKey};
use choucha_shared::plan::{MemberRole, Task, TeamMember};
use choucha_shared::record::InspectionRecord;
use choucha_shared::review::{ReviewAction, ReviewState};
use choucha_shared::sync::{
    EnrolResponse, EntryResult, EntryVerdict, FeedItem, LogEntry, PullResponse, PushResponse,
    RecordStatus, StoredEntry, TaskBundle, chain_check,
};
use choucha_shared::value::Sha256Hex;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, corrupt, marks, now, parse_time, random_token, token_hash};

/// An authenticated device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCtx {
    pub device_id: String,
    pub officer_id: String,
}

/// A one-time enrolment code as handed to the officer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EnrolmentCode {
    /// Typeable: 12 characters (60 bits) without 0/O/1/I, shown as
    /// XXXX-XXXX-XXXX.
    pub code: String,
    pub officer_id: String,
    pub officer_name: String,
    pub expires_at: String,
}

/// 32 characters a person cannot mistake for one another (no 0/O, 1/I):
/// five bits each, so a random byte picks one without bias.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Characters in a code: 12 × 5 = 60 bits.
const CODE_LEN: usize = 12;

/// The part of a code failures are also counted under (its first group).
pub fn code_prefix(code: &str) -> String {
    normalise_code(code).chars().take(4).collect()
}

/// An entry the server already holds in some device's log.
#[derive(Debug, Clone)]
struct Held {
    device_id: String,
    entry: StoredEntry,
    /// Why its payload was refused, when it was (see `EntryVerdict::Refused`).
    refused: Option<String>,
}

fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// One row of an officer's feed: sequence, kind, reference, payload.
type FeedRow = (i64, String, String, String);

/// A device's pull, answered.
#[derive(Debug)]
pub struct Pulled {
    pub device: DeviceCtx,
    pub page: PullResponse,
    /// "Nothing new" told from memory, without the database.
    pub from_memory: bool,
}

impl Store {
    /// Creates a one-time enrolment code for an officer.
    #[tracing::instrument(level = "debug", name = "store.create_enrolment", skip_all)]
    pub async fn create_enrolment(
        &self,
        actor: &Actor,
        officer_id: &str,
        valid_for: Duration,
    ) -> Result<EnrolmentCode, StoreError> {
        // SQLite has one writer: every write waits its turn (a write
        // outside the queue made pushes fail with "database is locked").
        let _writer = self.writer().await;
        let officer: Option<(String, i64)> =
            sqlx::query_as("SELECT name, enforcement FROM officers WHERE credential_no = $1")
                .bind(officer_id)
                .fetch_optional(&self.pool)
                .await?;
        let (officer_name, _) = officer.ok_or_else(|| {
            StoreError::NotFound(format!("名录库中没有执法证号为 {officer_id} 的人员"))
        })?;
        let raw: [u8; CODE_LEN] = rand::random();
        let code: String = raw
            .iter()
            .map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char)
            .collect();
        let expires_at =
            (Utc::now() + valid_for).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO enrolment_codes (code_hash, officer_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&code))
        .bind(officer_id)
        .bind(actor.as_str())
        .bind(now())
        .bind(&expires_at)
        .execute(&mut *tx)
        .await?;
        // The code itself is a secret until used: the log names whom it
        // was for and until when, never the code.
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "device.enrolment_code",
                object: format!("officer:{officer_id}"),
                before: None,
                after: Some(serde_json::json!({ "expires_at": expires_at })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(EnrolmentCode {
            code: format!("{}-{}-{}", &code[..4], &code[4..8], &code[8..]),
            officer_id: officer_id.to_owned(),
            officer_name,
            expires_at,
        })
    }

    /// Exchanges a one-time code for a device token.
    #[tracing::instrument(level = "debug", name = "store.enrol", skip_all)]
    pub async fn enrol(&self, code: &str, device_name: &str) -> Result<EnrolResponse, StoreError> {
        let hash = token_hash(&normalise_code(code));
        let bad = || {
            StoreError::invalid(
                "注册码无效、已使用或已过期，请向质量科重新申请 (invalid enrolment code)",
                serde_json::json!({ "field": "code" }),
            )
        };
        let row: Option<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT officer_id, expires_at, used_at FROM enrolment_codes WHERE code_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let (officer_id, expires_at, used_at) = row.ok_or_else(bad)?;
        if used_at.is_some() || parse_time(&expires_at)? < Utc::now() {
            return Err(bad());
        }
        // Only a code that exists waits for the writer: a flood of wrong
        // codes is answered from reads and never queues ahead of pushes.
        let _writer = self.writer().await;
        let device_id = format!("DEV-{}", &random_token()[..16]);
        let token = random_token();
        let at = now();
        let mut tx = self.pool.begin().await?;
        // The conditional update makes the code single-use even under races.
        let used = sqlx::query("UPDATE enrolment_codes SET used_at = $1, device_id = $2 WHERE code_hash = $3 AND used_at IS NULL")
            .bind(&at)
            .bind(&device_id)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        if used.rows_affected() != 1 {
            return Err(bad());
        }
        sqlx::query("INSERT INTO devices (device_id, officer_id, name, token_hash, enrolled_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&device_id)
            .bind(&officer_id)
            .bind(device_name.trim())
            .bind(token_hash(&token))
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            Change {
                actor: &Actor::device(&device_id),
                action: "device.enrol",
                object: format!("device:{device_id}"),
                before: None,
                after: Some(serde_json::json!({
                    "officer_id": officer_id,
                    "name": device_name.trim(),
                })),
            },
        )
        .await?;
        tx.commit().await?;
        let (officer_name,): (String,) =
            sqlx::query_as("SELECT name FROM officers WHERE credential_no = $1")
                .bind(&officer_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(EnrolResponse {
            device_id,
            token,
            officer_id,
            officer_name,
        })
    }

    #[tracing::instrument(level = "debug", name = "store.revoke_device", skip_all)]
    pub async fn revoke_device(&self, actor: &Actor, device_id: &str) -> Result<(), StoreError> {
        // SQLite has one writer: every write waits its turn (a write
        // outside the queue made pushes fail with "database is locked").
        let _writer = self.writer().await;
        let at = now();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL",
        )
        .bind(&at)
        .bind(device_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            audit::append(
                &mut tx,
                Change {
                    actor,
                    action: "device.revoke",
                    object: format!("device:{device_id}"),
                    before: Some(serde_json::json!({ "revoked_at": null })),
                    after: Some(serde_json::json!({ "revoked_at": at })),
                },
            )
            .await?;
        }
        tx.commit().await?;
        // Also when nothing changed: a device revoked by another server
        // process must not stay trusted here either.
        self.device_tokens.forget_device(device_id);
        if let Some(q) = &self.quiet {
            q.forget_device(device_id);
        }
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "设备 {device_id} 不存在或已注销"
            )));
        }
        Ok(())
    }

    /// Records an enrolment attempt from `client`, for the limit on
    /// guessing codes (kept in the database: every instance counts it).
    pub async fn record_enrolment_attempt(
        &self,
        client: &str,
        code: &str,
        succeeded: bool,
    ) -> Result<(), StoreError> {
        // SQLite has one writer: every write waits its turn (a write
        // outside the queue made pushes fail with "database is locked").
        let _writer = self.writer().await;
        sqlx::query(
            "INSERT INTO enrolment_attempts (client, at, succeeded, code_prefix) VALUES ($1, $2, $3, $4)",
        )
        .bind(client)
        .bind(now())
        .bind(i64::from(succeeded))
        .bind(code_prefix(code))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Failed enrolments of codes starting as `code` does, since `window`
    /// ago, from any client.
    pub async fn recent_prefix_failures(
        &self,
        code: &str,
        window: chrono::Duration,
    ) -> Result<i64, StoreError> {
        self.failures_since(
            "enrolment_attempts",
            "code_prefix",
            &code_prefix(code),
            window,
        )
        .await
    }

    /// Failed enrolments from every client since `window` ago.
    pub async fn recent_enrolment_failures_anywhere(
        &self,
        window: chrono::Duration,
    ) -> Result<i64, StoreError> {
        let since = (Utc::now() - window).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM enrolment_attempts WHERE at > $1 AND succeeded = 0",
        )
        .bind(&since)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Failed enrolment attempts from `client` since `window` ago.
    pub async fn recent_enrolment_failures(
        &self,
        client: &str,
        window: chrono::Duration,
    ) -> Result<i64, StoreError> {
        self.failures_since("enrolment_attempts", "client", client, window)
            .await
    }

    /// Whether the token belonged to a device that has been revoked (so the
    /// device can be told to wipe itself rather than just "unauthorised").
    pub async fn token_revoked(&self, token: &str) -> Result<bool, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT device_id FROM devices WHERE token_hash = $1 AND revoked_at IS NOT NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.reads)
        .await?;
        Ok(row.is_some())
    }

    /// The device a token authenticates. On SQLite (one server process)
    /// answered from memory when the token was checked recently
    /// (`token_cache`); on PostgreSQL, which several instances share, the
    /// database is asked every time, so a revocation made through any
    /// instance is refused by all of them at the next request.
    pub async fn device_by_token(&self, token: &str) -> Result<Option<DeviceCtx>, StoreError> {
        let hash = token_hash(token);
        let cached = self.backend == super::Backend::Sqlite;
        if let Some(ctx) = self.device_tokens.get(&hash).filter(|_| cached) {
            return Ok(Some(ctx));
        }
        let ticket = self.device_tokens.ticket();
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT device_id, officer_id FROM devices WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind(&hash)
                .fetch_optional(&self.reads)
                .await?;
        let ctx = row.map(|(device_id, officer_id)| DeviceCtx {
            device_id,
            officer_id,
        });
        if let Some(ctx) = ctx.as_ref().filter(|_| cached) {
            self.device_tokens.put(ticket, hash, ctx.clone());
        }
        Ok(ctx)
    }

    /// Tells each officer on the drawn teams about their new tasks, and the
    /// teams of a replaced draw that theirs are withdrawn. Runs inside the
    /// draw's transaction.
    pub(crate) async fn feed_draw(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        tasks: &[Task],
        withdrawn: &[(String, Vec<TeamMember>)],
        reason: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        for t in tasks {
            for m in t.team.iter().filter(|m| m.role == MemberRole::Officer) {
                sqlx::query("INSERT INTO officer_feed (person_id, kind, ref_id, payload, created_at) VALUES ($1, 'task', $2, '', $3)")
                    .bind(&m.person_id)
                    .bind(&t.task_id)
                    .bind(&at)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        for (task_id, team) in withdrawn {
            for m in team.iter().filter(|m| m.role == MemberRole::Officer) {
                sqlx::query("INSERT INTO officer_feed (person_id, kind, ref_id, payload, created_at) VALUES ($1, 'withdrawn', $2, $3, $4)")
                    .bind(&m.person_id)
                    .bind(task_id)
                    .bind(reason)
                    .bind(&at)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// A task with its target's facts, if `officer_id` is on its team.
    pub async fn task_for_officer(
        &self,
        task_id: &str,
        officer_id: &str,
    ) -> Result<TaskBundle, StoreError> {
        let not_yours =
            || StoreError::NotFound(format!("任务 {task_id} 不存在或不属于您所在的检查组"));
        let on_team: Option<(String,)> =
            sqlx::query_as("SELECT role FROM task_members WHERE task_id = $1 AND person_id = $2")
                .bind(task_id)
                .bind(officer_id)
                .fetch_optional(&self.pool)
                .await?;
        if on_team.is_none() {
            return Err(not_yours());
        }
        self.task_bundle(task_id).await?.ok_or_else(not_yours)
    }

    async fn task_bundle(&self, task_id: &str) -> Result<Option<TaskBundle>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            i64,
            Option<String>,
            String,
            Option<String>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT draw_id, stratum_id, category, target_key, checklist_id, checklist_version, due, team, source FROM tasks WHERE task_id = $1",
        )
        .bind(task_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((draw_id, stratum_id, category, key, cl_id, cl_version, due, team, source)) = row
        else {
            return Ok(None);
        };
        let task = Task {
            format: choucha_shared::FORMAT_VERSION,
            task_id: task_id.to_owned(),
            draw_id,
            stratum_id,
            target: TargetKey(key.clone()),
            category: category.parse().map_err(corrupt)?,
            team: serde_json::from_str(&team).map_err(corrupt)?,
            checklist: choucha_shared::checklist::ChecklistRef {
                id: cl_id,
                version: cl_version as u32,
            },
            due: due.map(|d| d.parse()).transpose().map_err(corrupt)?,
            source,
        };
        let target: Target = match self.target(&category, &key).await? {
            Some((_, t)) => t,
            None => {
                return Err(corrupt(format!(
                    "task {task_id} names unknown target {key}"
                )));
            }
        };
        Ok(Some(TaskBundle { task, target }))
    }

    /// The officer's feed after `cursor`, at most `limit` items.
    #[tracing::instrument(level = "debug", name = "store.pull", skip_all)]
    pub async fn pull(
        &self,
        officer_id: &str,
        cursor: i64,
        limit: i64,
        catalogue: &Catalogue,
    ) -> Result<PullResponse, StoreError> {
        let rows: Vec<FeedRow> = sqlx::query_as(
            "SELECT seq, kind, ref_id, payload FROM officer_feed WHERE person_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(officer_id)
        .bind(cursor)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        self.feed_page(rows, cursor, limit, catalogue).await
    }

    /// A device's feed after `cursor`, authenticated by its token in the
    /// same query: `None` when no unrevoked device has that token.
    ///
    /// Devices pull far more often than they do anything else, and the
    /// token check and the feed read were two round trips per pull. On
    /// PostgreSQL, which several instances share and which therefore asks
    /// the database on every request (no token cache), they were most of
    /// the database's work under load. One query keeps revocation exact —
    /// the device row is read in the same statement as its feed.
    #[tracing::instrument(level = "debug", name = "store.pull", skip_all)]
    pub async fn pull_by_token(
        &self,
        token: &str,
        cursor: i64,
        limit: i64,
        catalogue: &Catalogue,
    ) -> Result<Option<Pulled>, StoreError> {
        type Row = (
            String,
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let hash = token_hash(token);
        if let Some(device) = self
            .quiet
            .as_ref()
            .and_then(|q| q.nothing_new(&hash, cursor))
        {
            return Ok(Some(Pulled {
                device,
                page: PullResponse::empty(cursor),
                from_memory: true,
            }));
        }
        let ticket = self.quiet.as_ref().map(|q| q.ticket());
        // A LEFT JOIN so that a device with nothing new still gets its one
        // row (feed columns NULL), telling "authenticated, empty" from
        // "unknown token".
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT d.device_id, d.officer_id, f.seq, f.kind, f.ref_id, f.payload \
             FROM devices d LEFT JOIN officer_feed f ON f.person_id = d.officer_id AND f.seq > $2 \
             WHERE d.token_hash = $1 AND d.revoked_at IS NULL ORDER BY f.seq LIMIT $3",
        )
        .bind(&hash)
        .bind(cursor)
        .bind(limit + 1)
        .fetch_all(&self.reads)
        .await?;
        let Some((device_id, officer_id, ..)) = rows.first().cloned() else {
            return Ok(None);
        };
        let ctx = DeviceCtx {
            device_id,
            officer_id,
        };
        let feed: Vec<FeedRow> = rows
            .into_iter()
            .filter_map(|(_, _, seq, kind, ref_id, payload)| {
                Some((seq?, kind?, ref_id?, payload.unwrap_or_default()))
            })
            .collect();
        // The newest item there is, when this page holds all of them.
        let newest = (feed.len() as i64 <= limit).then(|| feed.last().map_or(cursor, |f| f.0));
        let page = self.feed_page(feed, cursor, limit, catalogue).await?;
        if let (Some(q), Some(ticket), Some(newest)) = (&self.quiet, ticket, newest) {
            q.learn(ticket, &hash, &ctx, newest);
        }
        Ok(Some(Pulled {
            device: ctx,
            page,
            from_memory: false,
        }))
    }

    /// Turns feed rows (at most `limit + 1`, the extra one only telling
    /// that more follow) into the response, loading assigned tasks.
    async fn feed_page(
        &self,
        rows: Vec<FeedRow>,
        cursor: i64,
        limit: i64,
        catalogue: &Catalogue,
    ) -> Result<PullResponse, StoreError> {
        let more = rows.len() as i64 > limit;
        let mut items = Vec::new();
        let mut checklists = BTreeMap::new();
        let mut last = cursor;
        for (seq, kind, ref_id, payload) in rows.into_iter().take(limit as usize) {
            last = seq;
            match kind.as_str() {
                "task" => {
                    if let Some(bundle) = self.task_bundle(&ref_id).await? {
                        if let Some(c) = catalogue.get(&bundle.task.checklist) {
                            checklists.insert(c.reference(), c.clone());
                        }
                        items.push(FeedItem::TaskAssigned {
                            bundle: Box::new(bundle),
                        });
                    }
                }
                "recheck" => {
                    // Left out once done or with nothing left to re-check.
                    let mut conn = self.pool.acquire().await?;
                    let task = super::recheck::load(&mut conn, &ref_id).await?;
                    if let Some(task) = task.and_then(super::recheck::Loaded::for_device) {
                        items.push(FeedItem::RecheckAssigned {
                            task: Box::new(task),
                        });
                    }
                }
                "withdrawn" => items.push(FeedItem::TaskWithdrawn {
                    task_id: ref_id,
                    reason: payload,
                }),
                "return" => items.push(FeedItem::Returned {
                    r#return: serde_json::from_str(&payload).map_err(corrupt)?,
                }),
                "answer" => {
                    if let Some(answer) = self.answer_for_feed(&ref_id).await? {
                        items.push(FeedItem::QuestionAnswered { answer });
                    }
                }
                "faq" => {
                    if let Some(entry) = self.faq_entry(&ref_id).await? {
                        items.push(FeedItem::FaqPublished { entry });
                    }
                }
                other => return Err(corrupt(format!("unknown feed kind {other}"))),
            }
        }
        Ok(PullResponse {
            format: choucha_shared::FORMAT_VERSION,
            cursor: last,
            items,
            checklists: checklists.into_values().collect(),
            more,
        })
    }

    /// Stores a batch of one device's log entries; see the module docs.
    #[tracing::instrument(level = "debug", name = "store.push", skip_all)]
    pub async fn push(
        &self,
        device: &DeviceCtx,
        entries: &[LogEntry],
        catalogue: &Catalogue,
    ) -> Result<PushResponse, StoreError> {
        self.note_ingest();
        let writer = self.writer().await;
        let received_at = now();
        let mut tx = self.pool.begin().await?;
        if self.backend == super::Backend::Postgres {
            // Serialise one device's concurrent pushes (a retry racing the
            // original): the second waits and then sees the first's entries.
            sqlx::query("SELECT device_id FROM devices WHERE device_id = $1 FOR UPDATE")
                .bind(&device.device_id)
                .execute(&mut *tx)
                .await?;
        }
        // The head of the device's stored log: its last index and hash.
        let head: Option<(i64, String)> = sqlx::query_as(
            "SELECT idx, hash FROM device_log WHERE device_id = $1 ORDER BY idx DESC LIMIT 1",
        )
        .bind(&device.device_id)
        .fetch_optional(&mut *tx)
        .await?;
        let mut next = head.as_ref().map_or(0, |(i, _)| *i) as u64 + 1;
        let mut last_hash: Option<Sha256Hex> = match head {
            Some((_, h)) => Some(Sha256Hex::parse(&h).map_err(corrupt)?),
            None => None,
        };
        // What the device already has stored under the batch's indices and
        // entry IDs, read in two queries rather than two per entry: a push
        // holds the single writer, and per-entry round trips to the
        // database were most of its time. Entries stored by this batch are
        // added as they go, so a duplicate inside one batch is answered as
        // before.
        let (mut at_index, mut by_id) = self.stored_entries(&mut tx, device, entries).await?;
        // The chain decides which entries are taken (in order); their
        // payloads are then checked and applied together.
        let mut results = Vec::with_capacity(entries.len());
        let mut taken: Vec<(usize, &LogEntry)> = Vec::new();
        for e in entries {
            let at_index_e = at_index.get(&e.index).cloned();
            let by_id_e = by_id.get(&e.entry_id).cloned();
            let prev = if e.index == next {
                last_hash.clone()
            } else {
                None
            };
            let chain = match by_id_e.as_ref().map(|s| &s.device_id) {
                // Entry IDs are unique across devices: another device's
                // entry replayed here is not this device's to send.
                Some(owner) if *owner != device.device_id => Some(EntryVerdict::Conflict {
                    message: format!(
                        "条目 ID {} 已属于另一台设备，不会被接收 (entry ID of another device)",
                        e.entry_id
                    ),
                }),
                _ => chain_check(
                    e,
                    at_index_e.as_ref().map(|s| &s.entry),
                    by_id_e.as_ref().map(|s| &s.entry),
                    next,
                    prev.as_ref(),
                ),
            };
            let verdict = match chain {
                // A retry of an entry taken but refused: the same answer
                // (one taken earlier in this batch gets it below).
                Some(EntryVerdict::Duplicate) => match by_id_e.and_then(|s| s.refused) {
                    Some(message) => EntryVerdict::Refused { message },
                    None => EntryVerdict::Duplicate,
                },
                Some(v) => v,
                None => {
                    taken.push((results.len(), e));
                    next += 1;
                    last_hash = Some(e.hash.clone());
                    let held = Held {
                        device_id: device.device_id.clone(),
                        entry: StoredEntry {
                            entry_id: e.entry_id,
                            index: e.index,
                            hash: e.hash.clone(),
                        },
                        refused: None,
                    };
                    at_index.insert(e.index, held.clone());
                    by_id.insert(e.entry_id, held);
                    EntryVerdict::Stored
                }
            };
            results.push(EntryResult {
                entry_id: e.entry_id,
                index: e.index,
                verdict,
            });
        }
        let payloads: Vec<&LogEntry> = taken.iter().map(|(_, e)| *e).collect();
        let recipients = self.alert_recipients();
        let refusals = super::ingest::apply(
            &mut tx,
            self.backend,
            device,
            &payloads,
            &received_at,
            catalogue,
            &recipients,
        )
        .await?;
        let mut refused_here: HashMap<Uuid, String> = HashMap::new();
        for ((at, e), refusal) in taken.iter().zip(&refusals) {
            if let Some(message) = refusal {
                results[*at].verdict = EntryVerdict::Refused {
                    message: message.clone(),
                };
                refused_here.insert(e.entry_id, message.clone());
            }
        }
        for r in &mut results {
            if r.verdict == EntryVerdict::Duplicate {
                if let Some(message) = refused_here.get(&r.entry_id) {
                    r.verdict = EntryVerdict::Refused {
                        message: message.clone(),
                    };
                }
            }
        }
        let log_rows: Vec<(&LogEntry, Option<String>)> = payloads
            .iter()
            .zip(refusals)
            .map(|(e, refusal)| (*e, refusal))
            .collect();
        insert_log_rows(&mut tx, device, &log_rows, &received_at).await?;
        tx.commit().await?;
        // Committed: what follows only reads, and need not hold up the
        // next writer.
        drop(writer);
        let missing: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT rb.sha256 FROM records r JOIN record_blobs rb ON rb.record_id = r.record_id AND rb.version = r.version \
             WHERE r.device_id = $1 AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = rb.sha256) ORDER BY rb.sha256",
        )
        .bind(&device.device_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(PushResponse {
            results,
            next_index: next,
            missing_blobs: missing
                .into_iter()
                .filter_map(|(h,)| Sha256Hex::parse(&h).ok())
                .collect(),
        })
    }

    /// The device's stored entries at the batch's indices or with its entry
    /// IDs, by index and by ID (a row found one way is filed both ways;
    /// lookups are only ever for the batch's own indices and IDs).
    async fn stored_entries(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        device: &DeviceCtx,
        entries: &[LogEntry],
    ) -> Result<(HashMap<u64, Held>, HashMap<Uuid, Held>), StoreError> {
        let mut at_index = HashMap::new();
        let mut by_id = HashMap::new();
        // A few hundred entries per query keeps well under every database's
        // limit on bound parameters. Entry IDs are looked up on every
        // device: they are unique across the server.
        for part in entries.chunks(400) {
            let n = part.len();
            let sql = format!(
                "SELECT device_id, entry_id, idx, hash, refused FROM device_log WHERE device_id = $1 AND idx IN ({}) \
                 UNION ALL \
                 SELECT device_id, entry_id, idx, hash, refused FROM device_log WHERE entry_id IN ({})",
                marks(2, n),
                marks(n + 2, n)
            );
            type Row = (String, String, i64, String, Option<String>);
            let mut q = sqlx::query_as::<_, Row>(&sql).bind(&device.device_id);
            for e in part {
                q = q.bind(e.index.min(i64::MAX as u64) as i64);
            }
            for e in part {
                q = q.bind(e.entry_id.to_string());
            }
            for (owner, id, idx, h, refused) in q.fetch_all(&mut **tx).await? {
                let held = Held {
                    entry: StoredEntry {
                        entry_id: id.parse().map_err(corrupt)?,
                        index: idx as u64,
                        hash: Sha256Hex::parse(&h).map_err(corrupt)?,
                    },
                    refused,
                    device_id: owner,
                };
                if held.device_id == device.device_id {
                    at_index.insert(held.entry.index, held.clone());
                }
                by_id.insert(held.entry.entry_id, held);
            }
        }
        Ok((at_index, by_id))
    }

    /// Registers a verified blob and completes the records that waited for it.
    pub async fn blob_arrived(&self, sha256: &Sha256Hex, bytes: u64) -> Result<(), StoreError> {
        self.blobs_arrived(&[(sha256.clone(), bytes)]).await
    }

    /// Registers several verified blobs in one transaction (one commit, one
    /// fsync): see [`super::BlobRegistrar`], which groups concurrent
    /// uploads' registrations this way. All or nothing.
    pub async fn blobs_arrived(&self, blobs: &[(Sha256Hex, u64)]) -> Result<(), StoreError> {
        self.note_ingest();
        let _writer = self.writer_ahead().await;
        let mut attempt = 1;
        loop {
            let done = async {
                let mut tx = self.pool.begin().await?;
                register_blobs(&mut tx, self.backend, blobs).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(())
            }
            .await;
            match done {
                // PostgreSQL chose this transaction as a deadlock's victim
                // (another writer's locks in another order, e.g. a push):
                // it rolled back whole, so it is simply run again.
                Err(e) if e.is_transient() && attempt < TRANSIENT_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "blob registration retried");
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    pub async fn blob_known(&self, sha256: &Sha256Hex) -> Result<bool, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT sha256 FROM blobs WHERE sha256 = $1")
            .bind(sha256.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Every version of a record, newest last.
    pub async fn record_versions(&self, record_id: &Uuid) -> Result<Vec<StoredRecord>, StoreError> {
        type Row = (String, String, String, String, String, i64, String, String);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT version, task_id, device_id, state, missing, superseded, flags, record FROM records WHERE record_id = $1 ORDER BY received_at",
        )
        .bind(record_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        // Blobs a version names that have not arrived, listed first (in hash
        // order) before what the sealing rules found.
        let absent: Vec<(String, String)> = sqlx::query_as(
            "SELECT rb.version, rb.sha256 FROM record_blobs rb WHERE rb.record_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = rb.sha256) ORDER BY rb.sha256",
        )
        .bind(record_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |(version, task_id, device_id, state, missing, superseded, flags, record)| {
                    let mut lines: Vec<String> = absent
                        .iter()
                        .filter(|(v, _)| *v == version)
                        .map(|(_, sha256)| blob_missing_line(sha256))
                        .collect();
                    lines.extend(serde_json::from_str::<Vec<String>>(&missing).map_err(corrupt)?);
                    Ok(StoredRecord {
                        status: RecordStatus {
                            record_id: *record_id,
                            version: Sha256Hex::parse(&version).map_err(corrupt)?,
                            state: state.parse().map_err(corrupt)?,
                            missing: lines,
                        },
                        task_id,
                        device_id,
                        superseded: superseded != 0,
                        flags: serde_json::from_str(&flags).map_err(corrupt)?,
                        record: serde_json::from_str(&record).map_err(corrupt)?,
                    })
                },
            )
            .collect()
    }

    /// A device's log as stored: (index, entry id, hash), in index order.
    pub async fn device_log(
        &self,
        device_id: &str,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT idx, entry_id, hash FROM device_log WHERE device_id = $1 ORDER BY idx",
        )
        .bind(device_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Counts for tests and monitoring: (log entries, record versions, blobs).
    pub async fn sync_counts(&self) -> Result<(i64, i64, i64), StoreError> {
        let (a,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM device_log")
            .fetch_one(&self.pool)
            .await?;
        let (b,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM records")
            .fetch_one(&self.pool)
            .await?;
        let (c,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM blobs")
            .fetch_one(&self.pool)
            .await?;
        Ok((a, b, c))
    }
}

/// A stored record version with its review status.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredRecord {
    #[serde(flatten)]
    pub status: RecordStatus,
    pub task_id: String,
    pub device_id: String,
    pub superseded: bool,
    pub flags: Vec<String>,
    pub record: InspectionRecord,
}

/// How a blob a record names but the server lacks is listed among what the
/// record is missing.
pub(super) fn blob_missing_line(sha256: &str) -> String {
    format!("证据文件 {sha256} 尚未上传 (blob missing)")
}

/// The batch's stored entries as `device_log` rows, a few dozen per
/// statement.
async fn insert_log_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    device: &DeviceCtx,
    rows: &[(&LogEntry, Option<String>)],
    received_at: &str,
) -> Result<(), StoreError> {
    const COLUMNS: usize = 10;
    for part in rows.chunks(50) {
        let values: Vec<String> = (0..part.len())
            .map(|i| format!("($1, {})", marks(2 + i * COLUMNS, COLUMNS)))
            .collect();
        let sql = format!(
            "INSERT INTO device_log (device_id, idx, entry_id, hash, prev_hash, kind, record_id, created_at, received_at, entry, refused) \
             VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(&device.device_id);
        for (e, refused) in part {
            q = q
                .bind(e.index as i64)
                .bind(e.entry_id.to_string())
                .bind(e.hash.as_str())
                .bind(e.prev_hash.as_ref().map(|h| h.to_string()))
                .bind(e.payload.kind())
                .bind(e.payload.record_id().to_string())
                .bind(e.created_at.to_rfc3339())
                .bind(received_at)
                .bind(serde_json::to_string(e).map_err(corrupt)?)
                .bind(refused.clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Registers verified blobs inside a transaction: their rows, then every
/// record version one of them completes. A record waiting for other blobs
/// too is left as it is: its missing blobs are read when asked for, so
/// registering a group is three statements however many records wait.
async fn register_blobs(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: super::Backend,
    blobs: &[(Sha256Hex, u64)],
) -> Result<(), StoreError> {
    let hashes: Vec<&str> = blobs.iter().map(|(h, _)| h.as_str()).collect();
    super::ingest::lock_blobs(tx, backend, &hashes).await?;
    let stored_at = now();
    for part in blobs.chunks(300) {
        let rows: Vec<String> = (0..part.len())
            .map(|i| format!("(${}, ${}, $1)", 2 + 2 * i, 3 + 2 * i))
            .collect();
        let sql = format!(
            "INSERT INTO blobs (sha256, bytes, stored_at) VALUES {} ON CONFLICT DO NOTHING",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(&stored_at);
        for (sha256, bytes) in part {
            q = q.bind(sha256.as_str()).bind(*bytes as i64);
        }
        q.execute(&mut **tx).await?;
    }
    let from = ReviewState::Incomplete;
    let to = from
        .apply(ReviewAction::EvidenceComplete)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut complete = Vec::new();
    for part in blobs.chunks(400) {
        // Incomplete versions naming one of these blobs, whose sealing rules
        // passed (`missing` is empty) and which now lack no blob.
        let sql = format!(
            "SELECT DISTINCT r.task_id, r.record_id, r.version FROM record_blobs rb \
             JOIN records r ON r.record_id = rb.record_id AND r.version = rb.version \
             WHERE rb.sha256 IN ({}) AND r.state = ${} AND r.missing = '[]' \
             AND NOT EXISTS (SELECT 1 FROM record_blobs w WHERE w.record_id = r.record_id AND w.version = r.version \
                             AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = w.sha256))",
            marks(1, part.len()),
            part.len() + 1
        );
        let mut q = sqlx::query_as::<_, (String, String, String)>(&sql);
        for (sha256, _) in part {
            q = q.bind(sha256.as_str());
        }
        q = q.bind(from.as_str());
        complete.extend(q.fetch_all(&mut **tx).await?);
    }
    // Each update locks its record's row and, through the projection's
    // triggers, its task's row. Two registrations (two instances) that
    // locked the tasks of their records in different orders deadlocked
    // (seen at 1,000 devices behind HAProxy); in one order by task, the
    // second waits for the first instead.
    complete.sort_unstable();
    complete.dedup();
    for (_, record_id, version) in complete {
        sqlx::query(
            "UPDATE records SET state = $3 WHERE record_id = $1 AND version = $2 AND state = $4",
        )
        .bind(&record_id)
        .bind(&version)
        .bind(to.as_str())
        .bind(from.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Runs of a transaction that PostgreSQL aborted as a deadlock's victim.
const TRANSIENT_ATTEMPTS: u64 = 4;
