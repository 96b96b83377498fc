//! The tablet's offline store: SQLite encrypted with SQLCipher, WAL,
//! forward-only migrations keyed by `PRAGMA user_version`, one write handle
//! and one read handle. Every user action is one transaction that updates
//! the draft *and* appends to the device log, committed (`synchronous =
//! FULL`: a dead battery loses nothing acknowledged) before the UI hears
//! back.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, Transaction};

use crate::error::CoreError;
use crate::keys::DeviceKey;

/// Migrations, in order, never edited once shipped.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Tasks as pulled: the bundle JSON (task + target facts).
CREATE TABLE tasks (
    task_id   TEXT PRIMARY KEY,
    bundle    TEXT NOT NULL,
    withdrawn TEXT
);
CREATE TABLE checklists (
    id      TEXT NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (id, version)
);
-- The current state of each inspection on this device.
CREATE TABLE records (
    record_id   TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL,
    state       TEXT NOT NULL,          -- draft | sealed | amending
    record      TEXT NOT NULL,          -- InspectionRecord JSON
    sealed_version TEXT,                -- content hash of the last sealed version
    server_state TEXT,                  -- what the server last said
    updated_at  TEXT NOT NULL
);
CREATE INDEX records_by_task ON records (task_id);
-- Supervisor returns received.
CREATE TABLE returns (
    record_id TEXT NOT NULL,
    version   TEXT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
);
-- The device's append-only log; `confirmed` once the server committed it.
CREATE TABLE log (
    idx       INTEGER PRIMARY KEY,
    entry_id  TEXT NOT NULL UNIQUE,
    hash      TEXT NOT NULL,
    entry     TEXT NOT NULL,
    confirmed INTEGER NOT NULL DEFAULT 0
);
-- Evidence the records name, and how far each upload got.
CREATE TABLE blobs (
    sha256    TEXT PRIMARY KEY,
    bytes     INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    kind      TEXT NOT NULL,            -- photo | signature
    uploaded  INTEGER NOT NULL DEFAULT 0
);
"#,
    r#"
-- 1 once a chunk of the blob was sent: only then can the server hold part
-- of it, and only then is it asked where the upload stands (HEAD).
ALTER TABLE blobs ADD COLUMN started INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- Set when the server took the entry but refused what it carries (a record
-- that does not match its task…): its words, for the sync screen.
ALTER TABLE log ADD COLUMN refused TEXT;
"#,
    r#"
-- 复查 tasks as pulled (the RecheckTask JSON), and the records made for
-- them: a draft stays here until sealed, then travels as one log entry.
CREATE TABLE rechecks (
    recheck_id TEXT PRIMARY KEY,
    task       TEXT NOT NULL
);
CREATE TABLE recheck_records (
    record_id  TEXT PRIMARY KEY,
    recheck_id TEXT NOT NULL UNIQUE,
    state      TEXT NOT NULL,           -- draft | sealed
    record     TEXT NOT NULL,           -- RecheckRecord JSON
    updated_at TEXT NOT NULL
);
"#,
    r#"
-- Questions asked from this device (咨询) and their answers once they came
-- (Question and Answer JSON).
CREATE TABLE questions (
    question_id TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL,
    question    TEXT NOT NULL,
    answer      TEXT
);
CREATE INDEX questions_by_task ON questions (task_id);
"#,
    r#"
-- The checklists' FAQ (常见问题) as the quality section published it
-- (FaqEntry JSON), numbered per checklist.
CREATE TABLE faq (
    faq_id       TEXT PRIMARY KEY,
    checklist_id TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    entry        TEXT NOT NULL
);
CREATE INDEX faq_by_checklist ON faq (checklist_id, seq);
"#,
    r#"
-- Problems reported upward from this device (上报), Escalation JSON.
CREATE TABLE escalations (
    escalation_id TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL,
    escalation    TEXT NOT NULL
);
CREATE INDEX escalations_by_task ON escalations (task_id);
"#,
];

/// The open store.
#[derive(Debug)]
pub struct Store {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn open_conn(path: &Path, key: &DeviceKey) -> Result<Connection, CoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "key", key.database_pragma())?;
    // Fails here (not later) when the key is wrong.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .map_err(|_| {
            CoreError::Key(
                "无法打开本机数据库：密钥不符或文件已损坏 (wrong key or corrupt database)".into(),
            )
        })?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

impl Store {
    pub fn open(path: &Path, key: &DeviceKey) -> Result<Self, CoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| CoreError::io("creating the data directory", e))?;
        }
        let mut writer = open_conn(path, key)?;
        migrate(&mut writer)?;
        let reader = open_conn(path, key)?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// Runs `f` in one immediate transaction; committed before returning.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }

    /// Deletes every row (revoked device), keeping the schema.
    /// Empties every table (whatever the migrations have added: a list
    /// written here once left questions, escalations and 复查 behind).
    pub fn wipe(&self) -> Result<(), CoreError> {
        self.write(|tx| {
            let tables: Vec<String> = {
                let mut st = tx.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                )?;
                st.query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            for t in tables {
                tx.execute(&format!("DELETE FROM \"{t}\""), [])?;
            }
            Ok(())
        })?;
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        conn.execute_batch("VACUUM")?;
        Ok(())
    }
}

fn migrate(conn: &mut Connection) -> Result<(), CoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Reads a `meta` value.
pub fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>, CoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub fn meta_set(tx: &Transaction<'_>, key: &str, value: &str) -> Result<(), CoreError> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}
