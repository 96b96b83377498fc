//! Storage: one interface over two backends.
//!
//! SQLite (a file in the data directory, WAL) is the default; PostgreSQL is
//! used when `DATABASE_URL` is a `postgres://` URL. Both run the same SQL
//! through sqlx's `Any` driver: queries use `$N` placeholders (which both
//! accept), values are plain text/integers/reals (times as RFC 3339 UTC text,
//! documents as JSON text), and the few dialect differences live in the two
//! migration directories. So one code path is tested against both backends.
//!
//! # What this crate owns, and what it may not touch
//!
//! The schema (`migrations/`), every query, the SQLite writer lock and the
//! PostgreSQL row locks, the audit log (every method that carries out a use
//! case appends its entry in its own transaction), and the console's
//! projection (`projection`, kept current in the transactions that change
//! it) with the read models over it. Nothing outside reaches the pool
//! ([`Store::raw_pool`] exists only for tests, feature `test-support`).
//! It knows no HTTP, no blob bytes and no transport's types; the rules that
//! are not SQL (the draw, the sealing rules, review transitions, follow-up
//! steps) come from `choucha-shared` as functions over values.

pub mod abnormal;
mod admin_tokens;
pub mod analysis;
pub mod audit;
mod calendar_years;
mod console;
pub mod consult;
pub mod dashboard;
pub(crate) mod directory;
pub mod disclosure;
mod draw_v2;
mod draws;
pub mod duty;
pub mod escalation;
pub mod findings;
mod group_commit;
mod ingest;
mod projection;
mod quiet_pulls;
pub mod recheck;
pub mod reports;
mod review;
mod signing_key;
mod sync;
mod token_cache;
pub mod town_report;
pub mod town_tasks;
mod unnamed_blobs;
mod upload_parts;

pub use admin_tokens::{AdminToken, DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, TokenState};
pub use audit::{Actor, Change};
pub use calendar_years::CalendarYear;
pub use console::{
    AuditEntry, AuditFilter, ConsoleUser, DrawSummary, NewSession, PlanStage, PlanSummary,
    RecentFailures, ReturnEntry, Role, SessionUser, TaskPlace,
};
pub use directory::{DirectoryTable, ImportMode, ImportSummary, Retired};
pub use draws::{DrawRecord, PlanRecord, SubStratumSize, VerifyOutcome};
pub use group_commit::BlobRegistrar;
pub use review::ReviewChange;
pub use sync::{DeviceCtx, EnrolmentCode, Pulled, StoredRecord};
pub use unnamed_blobs::{Collected, UploadAdmission};
pub use upload_parts::PartAppend;

use std::path::Path;
use std::str::FromStr;

use chrono::{SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Connection, Executor};

/// Failures of the store, mapped to each transport's errors by the server.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Invalid {
        message: String,
        details: serde_json::Value,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn invalid(message: impl Into<String>, details: serde_json::Value) -> Self {
        Self::Invalid {
            message: message.into(),
            details,
        }
    }

    /// PostgreSQL aborted the transaction as a deadlock's victim (40P01) or
    /// for a serialisation failure (40001): nothing of it was written and
    /// running it again is the documented remedy.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Db(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("40P01") | Some("40001"))
            }
            _ => false,
        }
    }

    /// Bad input in one named field: the message leads with the field, and
    /// the details carry it (`{"field": …}`) for clients that point at it.
    pub fn field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::Invalid {
            message: format!("{field}: {message}"),
            details: serde_json::json!({ "field": field }),
        }
    }

    /// The field a [`StoreError::field`] error names.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            Self::Invalid { details, .. } => details.get("field").and_then(|f| f.as_str()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The server's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// The devices' frequent short reads (the token check, the pull): on
    /// PostgreSQL a few connections of their own, so that they never queue
    /// behind uploads' and pushes' transactions for a pooled connection
    /// (1,000 devices uploading held all 16 for seconds, and pull p99 was
    /// the wait). On SQLite the same pool: readers never wait on the writer.
    reads: AnyPool,
    backend: Backend,
    /// SQLite allows one writer; a read-then-write transaction that loses
    /// the race fails with "database is locked" instead of waiting. Writers
    /// that read first therefore queue here (PostgreSQL needs no such lock).
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Ordinary writers queue here first, so at most one of them waits on
    /// `write_lock` at a time and [`Store::writer_ahead`] never waits behind
    /// more than the holder and that one.
    write_queue: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Device tokens already checked (see `token_cache`).
    device_tokens: std::sync::Arc<token_cache::TokenCache>,
    /// On PostgreSQL: what lets a pull with nothing new be answered
    /// without the database (see `quiet_pulls`).
    quiet: Option<std::sync::Arc<quiet_pulls::QuietPulls>>,
    /// Who is alerted of an escalation (`escalation`), as configured.
    alert_recipients: std::sync::Arc<std::sync::RwLock<Vec<escalation::Recipient>>>,
    /// Told how long each writer waited for the SQLite writer (seconds),
    /// once the server has said where to ([`Store::observe_writer_wait`]).
    writer_wait: std::sync::Arc<WriterWait>,
    /// When a device last pushed or finished a blob (milliseconds since
    /// `opened`), so background work can wait for a quiet moment.
    last_ingest: std::sync::Arc<std::sync::atomic::AtomicU64>,
    opened: std::time::Instant,
}

#[derive(Default)]
struct WriterWait(std::sync::OnceLock<Box<dyn Fn(f64) + Send + Sync>>);

impl WriterWait {
    fn get(&self) -> Option<&(dyn Fn(f64) + Send + Sync)> {
        self.0.get().map(|b| b.as_ref())
    }
}

impl std::fmt::Debug for WriterWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "WriterWait(observed)"
        } else {
            "WriterWait"
        })
    }
}

/// Connections of the PostgreSQL pool kept for devices' short reads: a
/// pull or token check takes ~1 ms of database time, so 4 serve thousands a
/// second.
const READ_CONNECTIONS: u32 = 4;

/// The PostgreSQL advisory lock held while an instance migrates and
/// catches up at start (an arbitrary constant: "choucha" in ASCII).
const STARTUP_LOCK: i64 = 0x63_686f_7563_6861;

/// The migrations of a backend. Migrations are additive only (new tables,
/// new nullable columns, new indexes; see `docs/deploy.md`), so an instance
/// of the previous release keeps serving a database the next one has
/// migrated: migrations applied that this binary does not know are allowed.
fn migrator(backend: Backend) -> sqlx::migrate::Migrator {
    let mut m = match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    m.set_ignore_missing(true);
    m
}

impl Store {
    /// Opens (and migrates) the database: `database_url` when given, else
    /// `choucha.db` in `data_dir`, which is created if needed.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        install_default_drivers();
        let (url, backend) = match database_url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                (u.to_owned(), Backend::Postgres)
            }
            Some(u) if u.starts_with("sqlite:") => (u.to_owned(), Backend::Sqlite),
            Some(u) => {
                return Err(StoreError::invalid(
                    format!("DATABASE_URL must start with postgres:// or sqlite:, got '{u}'"),
                    serde_json::Value::Null,
                ));
            }
            None => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
                (
                    format!(
                        "sqlite://{}?mode=rwc",
                        data_dir.join("choucha.db").display()
                    ),
                    Backend::Sqlite,
                )
            }
        };
        let mut options = AnyPoolOptions::new();
        if backend == Backend::Sqlite {
            // One writer at a time is SQLite's model (writers queue on
            // `write_lock`, not here); WAL lets readers proceed meanwhile.
            // Every device request reads (its token, its feed), so with 200
            // devices uploading, 4 connections made pulls wait behind token
            // checks (pull p99 > 200 ms); 8 keep them short at ≈ 2 MiB of
            // page cache each.
            options = options.max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    // synchronous = FULL: a confirmed push must survive a
                    // power cut, not just a process crash.
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                        .await?;
                    Ok(())
                })
            });
        } else {
            options = options.max_connections(16);
        }
        let pool = options.connect(&url).await?;
        // Several instances starting together on one PostgreSQL: one
        // migrates and catches the projection up, the others wait here and
        // then find nothing to do. A session lock on a connection of its
        // own (detached from the pool), so that any failure closes the
        // connection and frees the lock with it.
        let startup = match backend {
            Backend::Postgres => {
                let mut conn = pool.acquire().await?.detach();
                sqlx::query("SELECT 1 FROM (SELECT pg_advisory_lock($1)) AS held")
                    .bind(STARTUP_LOCK)
                    .execute(&mut conn)
                    .await?;
                Some(conn)
            }
            Backend::Sqlite => None,
        };
        migrator(backend).run(&pool).await?;
        let reads = match backend {
            Backend::Sqlite => pool.clone(),
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(READ_CONNECTIONS)
                    .connect(&url)
                    .await?
            }
        };
        let quiet = (backend == Backend::Postgres).then(|| {
            let quiet = std::sync::Arc::new(quiet_pulls::QuietPulls::default());
            quiet.spawn_listener(url.clone());
            quiet
        });
        let store = Self {
            pool,
            reads,
            backend,
            write_lock: Default::default(),
            write_queue: Default::default(),
            device_tokens: Default::default(),
            quiet,
            alert_recipients: Default::default(),
            writer_wait: Default::default(),
            last_ingest: Default::default(),
            opened: std::time::Instant::now(),
        };
        // A database from before the projection was written with each
        // change (or bulk-loaded): index what it lacks, once, here.
        store.catch_up_projection().await?;
        if let Some(mut conn) = startup {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_unlock($1)) AS freed")
                .bind(STARTUP_LOCK)
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Ok(store)
    }

    /// Who is alerted of every escalation from now on: `(channel, target)`.
    pub fn set_alert_recipients(&self, recipients: Vec<escalation::Recipient>) {
        *self
            .alert_recipients
            .write()
            .unwrap_or_else(|p| p.into_inner()) = recipients;
    }

    pub(crate) fn alert_recipients(&self) -> Vec<escalation::Recipient> {
        self.alert_recipients
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// After a commit that added feed items for `officers`: see
    /// [`quiet_pulls::QuietPulls::forget_officers`].
    pub(crate) fn feed_written<'a>(&self, officers: impl IntoIterator<Item = &'a str>) {
        if let Some(q) = &self.quiet {
            q.forget_officers(officers);
        }
    }

    /// Held around read-then-write transactions on SQLite; a no-op on
    /// PostgreSQL, whose row locks and unique constraints suffice.
    pub(crate) async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => {
                let started = std::time::Instant::now();
                let _queued = self.write_queue.lock().await;
                let guard = self.write_lock.lock().await;
                if let Some(observe) = self.writer_wait.get() {
                    observe(started.elapsed().as_secs_f64());
                }
                Some(guard)
            }
            Backend::Postgres => None,
        }
    }

    /// [`Store::writer`] ahead of the queue, for short transactions that
    /// others wait on. Finished uploads are registered this way: each
    /// device's PATCH waits for its blob's registration, and behind 200
    /// devices' queued pushes that wait was most of a PATCH's time (p50
    /// ≈ 150 ms) while the disk and cores had room.
    pub(crate) async fn writer_ahead(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        }
    }

    /// A device pushed or finished a blob just now.
    pub(crate) fn note_ingest(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_ingest
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long since a device last pushed or finished a blob (since the
    /// store opened, when none has). Background work that competes with
    /// ingest for the writer and the disk (the proof-of-duty checker)
    /// waits for a quiet spell.
    pub fn ingest_quiet_for(&self) -> std::time::Duration {
        let last = self.last_ingest.load(std::sync::atomic::Ordering::Relaxed);
        self.opened
            .elapsed()
            .saturating_sub(std::time::Duration::from_millis(last))
    }

    /// Where to report each writer's wait for the SQLite writer (seconds),
    /// e.g. a metrics histogram. Set once; later calls are ignored.
    pub fn observe_writer_wait(&self, observe: impl Fn(f64) + Send + Sync + 'static) {
        let _ = self.writer_wait.0.set(Box::new(observe));
    }

    /// (connections open, of which idle), for `/metrics`.
    pub fn pool_use(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The raw pool, for the cross-crate tests' assertions and the console
    /// benchmark's bulk loader only (feature `test-support`): the server
    /// reaches its database through the store's methods alone.
    #[cfg(feature = "test-support")]
    pub fn raw_pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection (both pools), waiting for those in use.
    pub async fn close(&self) {
        if let Some(q) = &self.quiet {
            q.stop();
        }
        self.pool.close().await;
        self.reads.close().await;
    }
}

/// A 256-bit random token, hex encoded.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Tokens are stored as SHA-256: a stolen database does not yield tokens.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Current time as stored: RFC 3339, UTC, microseconds.
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A point in time as [`now`] stamps it, so stored stamps compare with it
/// as text.
pub fn stamp_of(at: std::time::SystemTime) -> String {
    chrono::DateTime::<Utc>::from(at).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stored value that does not read back (bad JSON, an unknown code).
pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Numbered bind markers `$first, …, $(first + n − 1)`, for an `IN (…)`
/// list or a row of a multi-row insert built at run time.
pub(crate) fn marks(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn parse_time(s: &str) -> Result<chrono::DateTime<Utc>, StoreError> {
    chrono::DateTime::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad time '{s}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 0006 on a database written before it: blob lines leave
    /// `records.missing` (what the sealing rules found stays), and a version
    /// that then lacks nothing becomes `received`.
    #[tokio::test]
    async fn migration_0006_moves_missing_blobs_out_of_stored_lists() {
        install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let before = dir.path().join("before-0006");
        std::fs::create_dir(&before).unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        for entry in std::fs::read_dir(&source).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if name.as_str() < "0006" {
                std::fs::copy(&path, before.join(&name)).unwrap();
            }
        }
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        let pool = AnyPoolOptions::new().connect(&url).await.unwrap();
        sqlx::migrate::Migrator::new(before.as_path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();

        let line = sync::blob_missing_line;
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let rule = "检查项 MET-1.01 未填写结论".to_owned();
        sqlx::query(
            "INSERT INTO blobs (sha256, bytes, stored_at) VALUES ($1, 1, 'now'), ($2, 1, 'now')",
        )
        .bind(&a)
        .bind(&c)
        .execute(&pool)
        .await
        .unwrap();
        // r1 waits for b and fails a rule; r2 lacks nothing any more; r3
        // waits for b only.
        let rows: [(&str, Vec<String>, Vec<&String>); 3] = [
            ("r1", vec![line(&a), line(&b), rule.clone()], vec![&a, &b]),
            ("r2", vec![line(&c)], vec![&c]),
            ("r3", vec![line(&b)], vec![&b]),
        ];
        for (id, missing, blobs) in &rows {
            sqlx::query("INSERT INTO records (record_id, version, task_id, device_id, replaces, superseded, state, missing, flags, record, received_at) \
                         VALUES ($1, 'v1', 'T', 'D', NULL, 0, 'incomplete', $2, '[]', '{}', 'now')")
                .bind(*id)
                .bind(serde_json::to_string(missing).unwrap())
                .execute(&pool)
                .await
                .unwrap();
            for h in blobs {
                sqlx::query(
                    "INSERT INTO record_blobs (record_id, version, sha256) VALUES ($1, 'v1', $2)",
                )
                .bind(*id)
                .bind(h.as_str())
                .execute(&pool)
                .await
                .unwrap();
            }
        }
        pool.close().await;

        let store = Store::open(Some(&url), dir.path()).await.unwrap();
        let after: Vec<(String, String, String)> =
            sqlx::query_as("SELECT record_id, state, missing FROM records ORDER BY record_id")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        let parsed: Vec<(String, String, Vec<String>)> = after
            .into_iter()
            .map(|(id, state, m)| (id, state, serde_json::from_str(&m).unwrap()))
            .collect();
        assert_eq!(
            parsed,
            vec![
                ("r1".to_owned(), "incomplete".to_owned(), vec![rule]),
                ("r2".to_owned(), "received".to_owned(), vec![]),
                ("r3".to_owned(), "incomplete".to_owned(), vec![]),
            ]
        );
    }
}
