//! Directory writes: versioned upserts with history.
//!
//! A re-import updates rows by key and copies the replaced version into the
//! history table first; rows absent from a file are left alone (a file is
//! never a reason to silently drop a target). Unchanged rows are detected by
//! a content hash and not rewritten. Nothing is written unless the whole file
//! is valid, or the caller asked to import the good rows only.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

use choucha_shared::directory::{Expert, Officer, Target, TargetIdentity};

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, now};
use choucha_import::{Parsed, RecusalRow, RowError};

/// Outcome of one import, returned to the user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    /// False when errors stopped the import: nothing was written.
    pub imported: bool,
    pub import_id: Option<i64>,
    pub total_rows: usize,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: usize,
    pub errors: Vec<RowError>,
    /// A full import: the targets the file no longer has, marked 不在最新名录
    /// (never deleted; their history kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<Retired>,
}

/// A target a full import found missing from the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Retired {
    pub category: String,
    pub key: String,
    pub name: String,
}

/// How an import treats the rows it has, and the targets it lacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Any bad row stops the import: nothing is written.
    #[default]
    AllOrNothing,
    /// The good rows are imported even when some are bad.
    Partial,
    /// The file is the whole target directory: targets it lacks are marked
    /// 不在最新名录 (never deleted). Any bad row stops it (a bad row's
    /// target would otherwise read as missing).
    Full,
}

/// The audit entry of an import that committed.
fn import_change<'a>(
    actor: &'a Actor,
    kind: &str,
    file_name: &str,
    summary: &ImportSummary,
) -> Change<'a> {
    Change {
        actor,
        action: "directory.import",
        object: format!("directory:{kind}"),
        before: None,
        after: Some(serde_json::json!({
            "file": file_name,
            "imported": summary.imported,
            "rows": summary.total_rows,
            "inserted": summary.inserted,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "rejected": summary.rejected,
        })),
    }
}

/// A value bound into a query; the `Any` driver needs concrete types.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Text(Option<String>),
    Int(i64),
    Real(Option<f64>),
}

pub(crate) fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    vals: Vec<Val>,
) -> Query<'q, Any, AnyArguments<'q>> {
    // sqlx's `Any` driver sends a NULL double as a NULL *float4* (0.8.6), and
    // a connection caches each statement with the parameter types of its
    // first use: once an entry without coordinates was written, the same
    // statement with a coordinate failed on PostgreSQL ("incorrect binary
    // data format in bind parameter 6"). A statement carrying a NULL double
    // is therefore prepared for this use only, never cached.
    if vals.iter().any(|v| matches!(v, Val::Real(None))) {
        q = q.persistent(false);
    }
    for v in vals {
        q = match v {
            Val::Text(t) => q.bind(t),
            Val::Int(i) => q.bind(i),
            Val::Real(r) => q.bind(r),
        };
    }
    q
}

/// A directory entry that is stored versioned.
pub(crate) trait DirectoryRow: Serialize {
    const TABLE: &'static str;
    const HISTORY: &'static str;
    const KEY_COLUMNS: &'static [&'static str];
    /// Structured columns besides the key, used by queries (the full value is
    /// also stored as JSON in `data`).
    const COLUMNS: &'static [&'static str];
    /// Secondary indexes as `(name, CREATE INDEX statement)`, exactly as the
    /// migrations create them: a bulk load into an empty table drops them
    /// and builds them once at the end (see `import_versioned`).
    const SECONDARY_INDEXES: &'static [(&'static str, &'static str)] = &[];
    fn key(&self) -> Vec<String>;
    fn values(&self) -> Vec<Val>;
    /// Column and value whose reuse under another key is a duplicate
    /// against the directory (e.g. the same company name, another USCC).
    fn unique_name(&self) -> Option<(&'static str, String)> {
        None
    }
    /// The entry as a full import leaves it when the file lacks it (`None`:
    /// as it is), with what the summary says of it.
    fn retired(&self) -> Option<(Self, Retired)>
    where
        Self: Sized,
    {
        None
    }
}

fn text(s: impl Into<String>) -> Val {
    Val::Text(Some(s.into()))
}

fn opt_text(s: Option<impl Into<String>>) -> Val {
    Val::Text(s.map(Into::into))
}

fn domains(d: &BTreeSet<choucha_shared::TargetCategory>) -> String {
    d.iter().map(|c| c.code()).collect::<Vec<_>>().join(",")
}

impl DirectoryRow for Target {
    const TABLE: &'static str = "targets";
    const HISTORY: &'static str = "target_history";
    const KEY_COLUMNS: &'static [&'static str] = &["category", "target_key"];
    const SECONDARY_INDEXES: &'static [(&'static str, &'static str)] = &[(
        "targets_by_name",
        "CREATE INDEX targets_by_name ON targets (category, name)",
    )];
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "jurisdiction",
        "address",
        "lat",
        "lon",
        "issuer",
        "issuer_uscc",
        "status",
        "risk_class",
        "industry_code",
    ];
    fn key(&self) -> Vec<String> {
        vec![self.category.code().to_owned(), self.key().0]
    }
    fn values(&self) -> Vec<Val> {
        let (issuer, issuer_uscc) = match &self.identity {
            TargetIdentity::Organisation { .. } => (None, None),
            TargetIdentity::Standard {
                issuer,
                issuer_uscc,
                ..
            } => (
                Some(issuer.to_string()),
                issuer_uscc.as_ref().map(ToString::to_string),
            ),
            // The issuer columns hold whoever answers for the target: a
            // standard's issuer, a product's certificate holder.
            TargetIdentity::Product {
                holder,
                holder_uscc,
                ..
            } => (Some(holder.to_string()), Some(holder_uscc.to_string())),
        };
        vec![
            text(self.name.as_str()),
            text(self.jurisdiction.as_str()),
            opt_text(self.address.clone()),
            Val::Real(self.location.map(|p| p.lat)),
            Val::Real(self.location.map(|p| p.lon)),
            opt_text(issuer),
            opt_text(issuer_uscc),
            text(self.profile.status.code()),
            opt_text(self.profile.risk.map(|r| r.code())),
            opt_text(
                self.profile
                    .industry
                    .as_ref()
                    .map(|i| i.as_str().to_owned()),
            ),
        ]
    }
    fn retired(&self) -> Option<(Self, Retired)> {
        if !self.profile.status.is_active() {
            // Already 注销, 吊销, 迁出 or retired: the last word stands.
            return None;
        }
        let mut t = self.clone();
        t.profile.status = choucha_shared::directory::BusinessStatus::NotInLatest;
        Some((
            t,
            Retired {
                category: self.category.code().to_owned(),
                key: self.key().0,
                name: self.name.to_string(),
            },
        ))
    }
    fn unique_name(&self) -> Option<(&'static str, String)> {
        matches!(self.identity, TargetIdentity::Organisation { .. }).then(|| {
            (
                "企业名称",
                format!("{}\u{1f}{}", self.category.code(), self.name),
            )
        })
    }
}

impl DirectoryRow for Officer {
    const TABLE: &'static str = "officers";
    const HISTORY: &'static str = "officer_history";
    const KEY_COLUMNS: &'static [&'static str] = &["credential_no"];
    const COLUMNS: &'static [&'static str] = &["name", "unit", "domains", "enforcement"];
    fn key(&self) -> Vec<String> {
        vec![self.credential_no.to_string()]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            text(self.name.as_str()),
            text(self.unit.as_str()),
            text(domains(&self.domains)),
            Val::Int(i64::from(self.enforcement)),
        ]
    }
}

impl DirectoryRow for Expert {
    const TABLE: &'static str = "experts";
    const HISTORY: &'static str = "expert_history";
    const KEY_COLUMNS: &'static [&'static str] = &["expert_id"];
    const COLUMNS: &'static [&'static str] = &["name", "organisation", "domains"];
    fn key(&self) -> Vec<String> {
        vec![self.expert_id.clone()]
    }
    fn values(&self) -> Vec<Val> {
        vec![
            text(self.name.as_str()),
            text(self.organisation.as_str()),
            text(domains(&self.domains)),
        ]
    }
}

/// Rows per multi-row INSERT: large enough to amortise round trips, small
/// enough to stay under SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 400;

/// From this many new rows into an empty table, secondary indexes are built
/// after the load instead of maintained row by row.
const BULK_LOAD_ROWS: usize = 10_000;

/// A parsed row with what storing it needs: its key, its JSON and the
/// JSON's hash (what re-imports compare).
struct Prepared<T> {
    row_no: usize,
    key: Vec<String>,
    value: T,
    data: String,
    hash: String,
}

/// Serialises and hashes every row, on every core: for a million-row file
/// this is seconds of CPU that would otherwise run before the first insert
/// on one core. Order is kept.
fn prepare_rows<T: DirectoryRow + Send>(
    rows: Vec<(usize, T)>,
) -> Result<Vec<Prepared<T>>, StoreError> {
    fn one<T: DirectoryRow>((row_no, value): (usize, T)) -> Result<Prepared<T>, StoreError> {
        let data = serde_json::to_string(&value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let hash = super::token_hash(&data);
        Ok(Prepared {
            row_no,
            key: value.key(),
            value,
            data,
            hash,
        })
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || rows.len() < 10_000 {
        return rows.into_iter().map(one).collect();
    }
    let per = rows.len().div_ceil(threads);
    let mut parts: Vec<Vec<(usize, T)>> = Vec::with_capacity(threads);
    let mut rest = rows;
    while rest.len() > per {
        let tail = rest.split_off(per);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    let done: Vec<Result<Vec<Prepared<T>>, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| s.spawn(move || part.into_iter().map(one).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StoreError::Corrupt("row preparation panicked".into())))
            })
            .collect()
    });
    let mut out = Vec::new();
    for part in done {
        out.extend(part?);
    }
    Ok(out)
}

impl Store {
    pub async fn add_jurisdictions(&self, names: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for n in names {
            sqlx::query("INSERT INTO jurisdictions (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(n.trim())
                .bind(now())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn jurisdictions(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM jurisdictions ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    pub async fn import_targets(
        &self,
        parsed: Parsed<Target>,
        mode: ImportMode,
        file_name: &str,
        actor: &Actor,
    ) -> Result<ImportSummary, StoreError> {
        self.import_versioned("targets", parsed, mode, file_name, actor)
            .await
    }

    pub async fn import_officers(
        &self,
        parsed: Parsed<Officer>,
        partial: bool,
        file_name: &str,
        actor: &Actor,
    ) -> Result<ImportSummary, StoreError> {
        let mode = if partial {
            ImportMode::Partial
        } else {
            ImportMode::AllOrNothing
        };
        self.import_versioned("officers", parsed, mode, file_name, actor)
            .await
    }

    pub async fn import_experts(
        &self,
        parsed: Parsed<Expert>,
        partial: bool,
        file_name: &str,
        actor: &Actor,
    ) -> Result<ImportSummary, StoreError> {
        let mode = if partial {
            ImportMode::Partial
        } else {
            ImportMode::AllOrNothing
        };
        self.import_versioned("experts", parsed, mode, file_name, actor)
            .await
    }

    #[tracing::instrument(level = "debug", name = "store.import_versioned", skip_all)]
    async fn import_versioned<T: DirectoryRow + serde::de::DeserializeOwned + Send + 'static>(
        &self,
        kind: &str,
        parsed: Parsed<T>,
        mode: ImportMode,
        file_name: &str,
        actor: &Actor,
    ) -> Result<ImportSummary, StoreError> {
        let partial = mode == ImportMode::Partial;
        let _writer = self.writer().await;
        let Parsed { rows, mut errors } = parsed;
        let total_rows = rows.len() + errors.iter().map(|e| e.row).collect::<BTreeSet<_>>().len();

        // What is stored now: key -> (row hash, unique name).
        let key_cols = T::KEY_COLUMNS.join(", ");
        let name_col = match T::TABLE {
            "targets" => "category || '\u{1f}' || name",
            _ => "''",
        };
        let sql = format!("SELECT {key_cols}, row_hash, {name_col} FROM {}", T::TABLE);
        let mut existing: HashMap<Vec<String>, String> = HashMap::new();
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        {
            use futures_util::TryStreamExt;
            let mut stream = sqlx::query(&sql).fetch(&self.pool);
            while let Some(row) = stream.try_next().await? {
                let n = T::KEY_COLUMNS.len();
                let key: Vec<String> = (0..n)
                    .map(|i| row.try_get::<String, _>(i))
                    .collect::<Result<_, _>>()?;
                let hash: String = row.try_get(n)?;
                let name: String = row.try_get(n + 1)?;
                if !name.is_empty() {
                    names.insert(name, key.clone());
                }
                existing.insert(key, hash);
            }
        }

        let prepared = tokio::task::spawn_blocking(move || prepare_rows(rows))
            .await
            .map_err(|e| StoreError::Corrupt(format!("preparing rows: {e}")))??;
        let mut inserts: Vec<(Vec<String>, T, String, String)> = Vec::new();
        let mut updates = Vec::new();
        let mut unchanged = 0;
        let mut seen_keys: Vec<Vec<String>> = Vec::new();
        for Prepared {
            row_no,
            key,
            value,
            data,
            hash,
        } in prepared
        {
            if mode == ImportMode::Full {
                seen_keys.push(key.clone());
            }
            if let Some((column, name)) = value.unique_name() {
                if let Some(other) = names.get(&name).filter(|k| **k != key) {
                    errors.push(RowError {
                        row: row_no,
                        column: column.to_owned(),
                        value: name.split('\u{1f}').nth(1).unwrap_or_default().to_owned(),
                        reason: format!(
                            "名录库中已有同名对象（代码 {}），请核对统一社会信用代码",
                            other.last().cloned().unwrap_or_default()
                        ),
                    });
                    continue;
                }
            }
            match existing.get(&key) {
                None => inserts.push((key, value, data, hash)),
                Some(h) if *h == hash => unchanged += 1,
                Some(_) => updates.push((key, value, data, hash)),
            }
        }
        // A full import: what the file lacks is retired, read back from its
        // stored entry and written as an update (its history kept).
        let mut retired = Vec::new();
        if mode == ImportMode::Full && errors.is_empty() {
            let in_file: std::collections::HashSet<&Vec<String>> = seen_keys.iter().collect();
            let absent: std::collections::HashSet<Vec<String>> = existing
                .keys()
                .filter(|k| !in_file.contains(k))
                .cloned()
                .collect();
            if !absent.is_empty() {
                use futures_util::TryStreamExt;
                let sql = format!("SELECT {key_cols}, data FROM {}", T::TABLE);
                let mut stream = sqlx::query(&sql).fetch(&self.pool);
                let mut gone = Vec::new();
                while let Some(row) = stream.try_next().await? {
                    let n = T::KEY_COLUMNS.len();
                    let key: Vec<String> = (0..n)
                        .map(|i| row.try_get::<String, _>(i))
                        .collect::<Result<_, _>>()?;
                    if !absent.contains(&key) {
                        continue;
                    }
                    let data: String = row.try_get(n)?;
                    let value: T = serde_json::from_str(&data).map_err(super::corrupt)?;
                    if let Some((value, what)) = value.retired() {
                        gone.push((0, value));
                        retired.push(what);
                    }
                }
                drop(stream);
                for p in prepare_rows(gone)? {
                    updates.push((p.key, p.value, p.data, p.hash));
                }
            }
        }
        errors.sort_by(|a, b| (a.row, &a.column).cmp(&(b.row, &b.column)));
        let rejected = errors.iter().map(|e| e.row).collect::<BTreeSet<_>>().len();
        let mut summary = ImportSummary {
            imported: false,
            import_id: None,
            total_rows,
            inserted: inserts.len(),
            updated: updates.len(),
            unchanged,
            rejected,
            errors,
            retired,
        };
        if !summary.errors.is_empty() && !partial {
            summary.inserted = 0;
            summary.updated = 0;
            summary.unchanged = 0;
            return Ok(summary);
        }

        let at = now();
        let sqlite = self.backend == super::Backend::Sqlite;
        let mut conn = self.pool.acquire().await?;
        if sqlite {
            // A large import inserts into two indexes at random places; with
            // SQLite's default 2 MiB page cache nearly every row evicts a
            // dirty page to the WAL and reads another back. Give this
            // connection a 256 MiB cache (allocated only as pages are used)
            // and close it afterwards rather than return it to the pool, so
            // the memory goes with it.
            conn.close_on_drop();
            sqlx::query("PRAGMA cache_size = -262144")
                .execute(&mut *conn)
                .await?;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        // Rows go in in key order: the primary-key index then grows at its
        // right edge instead of splitting pages all over the tree, which is
        // most of the work of a large first import. (Vec<String> compares
        // bytewise, as SQLite's BINARY collation does.)
        inserts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // Loading an empty table: a secondary index built once from sorted
        // keys is cheaper than one fed a million random inserts. Inside the
        // transaction, so a failed import leaves the index as it was.
        let rebuild_indexes = sqlite && existing.is_empty() && inserts.len() >= BULK_LOAD_ROWS;
        if rebuild_indexes {
            for (name, _) in T::SECONDARY_INDEXES {
                sqlx::query(&format!("DROP INDEX {name}"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let (import_id,): (i64,) = sqlx::query_as(
            "INSERT INTO imports (kind, file_name, actor, total_rows, inserted, updated, unchanged, rejected, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING import_id",
        )
        .bind(kind)
        .bind(file_name)
        .bind(actor.as_str())
        .bind(total_rows as i64)
        .bind(summary.inserted as i64)
        .bind(summary.updated as i64)
        .bind(summary.unchanged as i64)
        .bind(rejected as i64)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;

        let all_cols: Vec<&str> = T::KEY_COLUMNS
            .iter()
            .chain(T::COLUMNS)
            .copied()
            .chain(["data", "row_hash", "version", "import_id", "updated_at"])
            .collect();
        let width = all_cols.len();
        // SQLite only:
        // * OR FAIL: a multi-row INSERT that may ABORT on a constraint keeps
        //   a statement journal (a copy of every page it changes, spilled to
        //   a temporary file past 64 KiB) to undo just itself; OR FAIL needs
        //   none. The outcome is the same: the keys were checked against the
        //   table under the writer lock, and any error drops (rolls back)
        //   the whole transaction.
        // * anonymous `?` placeholders: sqlx binds each `$N` by looking its
        //   name up, which SQLite does by a linear scan, so binding a chunk
        //   (up to 5,600 parameters) was quadratic.
        let insert = if sqlite {
            "INSERT OR FAIL INTO"
        } else {
            "INSERT INTO"
        };
        for chunk in inserts.chunks(INSERT_CHUNK) {
            let mut sql = format!("{insert} {} ({}) VALUES ", T::TABLE, all_cols.join(", "));
            let mut vals = Vec::with_capacity(chunk.len() * width);
            for (i, (key, value, data, hash)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for j in 0..width {
                    if j > 0 {
                        sql.push_str(", ");
                    }
                    if sqlite {
                        sql.push('?');
                    } else {
                        sql.push_str(&format!("${}", i * width + j + 1));
                    }
                }
                sql.push(')');
                vals.extend(key.iter().map(|k| text(k.as_str())));
                vals.extend(value.values());
                vals.extend([
                    text(data.as_str()),
                    text(hash.as_str()),
                    Val::Int(1),
                    Val::Int(import_id),
                    text(at.as_str()),
                ]);
            }
            bind_all(sqlx::query(&sql), vals).execute(&mut *tx).await?;
        }
        if rebuild_indexes {
            for (_, create) in T::SECONDARY_INDEXES {
                sqlx::query(create).execute(&mut *tx).await?;
            }
        }

        let key_where: String = T::KEY_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(" AND ");
        let nk = T::KEY_COLUMNS.len();
        let history_sql = format!(
            "INSERT INTO {h} ({keys}, version, data, replaced_at, replaced_by_import) \
             SELECT {keys}, version, data, ${a}, ${b} FROM {t} WHERE {key_where}",
            h = T::HISTORY,
            t = T::TABLE,
            keys = key_cols,
            a = nk + 1,
            b = nk + 2,
        );
        let set: Vec<String> = T::COLUMNS
            .iter()
            .chain(&["data", "row_hash", "import_id", "updated_at"])
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", nk + i + 1))
            .collect();
        let update_sql = format!(
            "UPDATE {} SET {}, version = version + 1 WHERE {key_where}",
            T::TABLE,
            set.join(", ")
        );
        for (key, value, data, hash) in &updates {
            let mut vals: Vec<Val> = key.iter().map(|k| text(k.as_str())).collect();
            vals.extend([text(at.as_str()), Val::Int(import_id)]);
            bind_all(sqlx::query(&history_sql), vals)
                .execute(&mut *tx)
                .await?;
            let mut vals: Vec<Val> = key.iter().map(|k| text(k.as_str())).collect();
            vals.extend(value.values());
            vals.extend([
                text(data.as_str()),
                text(hash.as_str()),
                Val::Int(import_id),
                text(at.as_str()),
            ]);
            bind_all(sqlx::query(&update_sql), vals)
                .execute(&mut *tx)
                .await?;
        }
        summary.imported = true;
        summary.import_id = Some(import_id);
        audit::append(&mut tx, import_change(actor, kind, file_name, &summary)).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// Adds recusal pairs; an existing pair keeps its first reason.
    #[tracing::instrument(level = "debug", name = "store.import_recusals", skip_all)]
    pub async fn import_recusals(
        &self,
        parsed: Parsed<RecusalRow>,
        partial: bool,
        file_name: &str,
        actor: &Actor,
    ) -> Result<ImportSummary, StoreError> {
        let _writer = self.writer().await;
        let total_rows = parsed.rows.len() + parsed.errors.len();
        let mut summary = ImportSummary {
            total_rows,
            rejected: parsed
                .errors
                .iter()
                .map(|e| e.row)
                .collect::<BTreeSet<_>>()
                .len(),
            errors: parsed.errors,
            ..Default::default()
        };
        if !summary.errors.is_empty() && !partial {
            return Ok(summary);
        }
        let mut tx = self.pool.begin().await?;
        for (_, r) in &parsed.rows {
            let done = sqlx::query(
                "INSERT INTO recusals (person, target_key, reason, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (person, target_key) DO NOTHING",
            )
            .bind(&r.person)
            .bind(&r.target_key)
            .bind(&r.reason)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                summary.inserted += 1
            } else {
                summary.unchanged += 1
            }
        }
        summary.imported = true;
        audit::append(
            &mut tx,
            import_change(actor, "recusals", file_name, &summary),
        )
        .await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// Past versions of a target, oldest first, as stored JSON.
    pub async fn target_history(
        &self,
        category: &str,
        key: &str,
    ) -> Result<Vec<(i64, Target)>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT version, data FROM target_history WHERE category = $1 AND target_key = $2 ORDER BY version",
        )
        .bind(category)
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(v, d)| {
                serde_json::from_str(&d)
                    .map(|t| (v, t))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// The current version of a target.
    pub async fn target(
        &self,
        category: &str,
        key: &str,
    ) -> Result<Option<(i64, Target)>, StoreError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT version, data FROM targets WHERE category = $1 AND target_key = $2",
        )
        .bind(category)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(v, d)| {
            serde_json::from_str(&d)
                .map(|t| (v, t))
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .transpose()
    }

    pub async fn count(&self, table: DirectoryTable) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(&self.pool).await?;
        Ok(n)
    }
}

/// Tables whose size callers may ask for.
#[derive(Debug, Clone, Copy)]
pub enum DirectoryTable {
    Targets,
    Officers,
    Experts,
    Recusals,
}

impl DirectoryTable {
    fn name(self) -> &'static str {
        match self {
            Self::Targets => "targets",
            Self::Officers => "officers",
            Self::Experts => "experts",
            Self::Recusals => "recusals",
        }
    }
}
