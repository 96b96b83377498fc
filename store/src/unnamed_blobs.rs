//! Evidence nothing names (未被引用的证据文件): what keeps a device from
//! filling the server with blobs no record, question or escalation names,
//! and what collects such blobs once they have waited long enough.
//!
//! A blob is *named* when a record version lists it (`record_blobs`) or a
//! question, an answer or an escalation does (`blob_names`, written in the
//! same transaction as its row). The tablet pushes its records before it
//! uploads their photos, so an honest device's uploads are named before
//! they start; only uploads of unnamed blobs are counted against the
//! device's quota (`unnamed_uploads`). Naming and collecting a blob take
//! the same per-blob lock (PostgreSQL advisory lock; the writer on SQLite),
//! so a blob is never collected while something names it in a transaction
//! still open.

use serde::Serialize;

use super::ingest::lock_blobs;
use super::{Backend, Store, StoreError, now, stamp_of};
use choucha_shared::value::Sha256Hex;

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// The SQL condition "nothing names the blob `{col}`".
fn unnamed(col: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM record_blobs rb WHERE rb.sha256 = {col}) \
         AND NOT EXISTS (SELECT 1 FROM blob_names n WHERE n.sha256 = {col})"
    )
}

/// Records, inside `tx`, that `owner` (`question:<id>`, `answer:<id>`,
/// `escalation:<id>`) names these blobs.
pub(crate) async fn name_blobs(
    tx: &mut Tx<'_>,
    backend: Backend,
    owner: &str,
    hashes: &[Sha256Hex],
) -> Result<(), StoreError> {
    if hashes.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = hashes.iter().map(Sha256Hex::as_str).collect();
    lock_blobs(tx, backend, &keys).await?;
    for h in keys {
        sqlx::query(
            "INSERT INTO blob_names (sha256, named_by) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(h)
        .bind(owner)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Whether a device may begin uploading a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadAdmission {
    /// Something names it: no quota applies.
    Named,
    /// Unnamed, and within the quota: `used` bytes with this one.
    Admitted { used: u64 },
    /// Unnamed, and this one would take the device's unnamed uploads over
    /// `quota`; `used` are the bytes it already holds.
    OverQuota { used: u64, quota: u64 },
}

/// What one collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Collected {
    /// Blobs forgotten by the database, with their sizes: the caller
    /// deletes their bytes.
    pub blobs: Vec<(Sha256Hex, u64)>,
    /// Bookkeeping of unfinished unnamed uploads whose parts were swept.
    pub stale_uploads: u64,
}

/// Candidates looked at per collection round.
const BATCH: i64 = 500;

impl Store {
    /// Decides whether `device_id` may begin uploading `sha256` (`total`
    /// bytes) and, when it is unnamed and admitted, counts it. Uploads of
    /// unnamed blobs that began before `idle_before` and never finished are
    /// not counted: their parts have been swept.
    pub async fn admit_upload(
        &self,
        device_id: &str,
        sha256: &Sha256Hex,
        total: u64,
        quota: u64,
        idle_before: std::time::SystemTime,
    ) -> Result<UploadAdmission, StoreError> {
        let named: Option<(String,)> =
            sqlx::query_as(&format!("SELECT 'named' WHERE NOT ({})", unnamed("$1")))
                .bind(sha256.as_str())
                .fetch_optional(&self.reads)
                .await?;
        if named.is_some() {
            return Ok(UploadAdmission::Named);
        }
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        // One device's admissions in turn (PostgreSQL): two parallel
        // starts must not both fit in the room left for one.
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("unnamed-uploads:{device_id}"))
                .execute(&mut *tx)
                .await?;
        }
        let (used,): (i64,) = sqlx::query_as(&format!(
            "SELECT CAST(COALESCE(SUM(u.bytes), 0) AS BIGINT) FROM unnamed_uploads u \
             WHERE u.device_id = $1 AND u.sha256 <> $2 AND {} \
             AND (u.started_at >= $3 OR EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = u.sha256))",
            unnamed("u.sha256")
        ))
        .bind(device_id)
        .bind(sha256.as_str())
        .bind(stamp_of(idle_before))
        .fetch_one(&mut *tx)
        .await?;
        let used = used.max(0) as u64;
        if used.saturating_add(total) > quota {
            return Ok(UploadAdmission::OverQuota { used, quota });
        }
        sqlx::query(
            "INSERT INTO unnamed_uploads (device_id, sha256, bytes, started_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (device_id, sha256) DO UPDATE SET bytes = $3, started_at = $4",
        )
        .bind(device_id)
        .bind(sha256.as_str())
        .bind(total as i64)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(UploadAdmission::Admitted { used: used + total })
    }

    /// One round of collection: forgets up to a batch of blobs that
    /// arrived before `grace_before` and that nothing names, and the
    /// bookkeeping of unnamed uploads begun before `idle_before` that never
    /// finished. Each blob is checked again under its lock as it goes, so
    /// one named meanwhile is kept. The caller deletes the bytes of what
    /// is returned; an empty answer means nothing is left to collect.
    pub async fn collect_unnamed_blobs(
        &self,
        grace_before: std::time::SystemTime,
        idle_before: std::time::SystemTime,
    ) -> Result<Collected, StoreError> {
        let grace = stamp_of(grace_before);
        let candidates: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT b.sha256, b.bytes FROM blobs b WHERE b.stored_at < $1 AND {} \
             ORDER BY b.sha256 LIMIT {BATCH}",
            unnamed("b.sha256")
        ))
        .bind(&grace)
        .fetch_all(&self.reads)
        .await?;
        let mut out = Collected::default();
        for (sha, bytes) in candidates {
            // Taken blob by blob: pushes wait for one small delete at most.
            let _writer = self.writer().await;
            let mut tx = self.pool.begin().await?;
            lock_blobs(&mut tx, self.backend, &[sha.as_str()]).await?;
            let gone = sqlx::query(&format!(
                "DELETE FROM blobs WHERE sha256 = $1 AND stored_at < $2 AND {}",
                unnamed("blobs.sha256")
            ))
            .bind(&sha)
            .bind(&grace)
            .execute(&mut *tx)
            .await?;
            if gone.rows_affected() == 1 {
                for table in ["unnamed_uploads", "photo_hashes"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE sha256 = $1"))
                        .bind(&sha)
                        .execute(&mut *tx)
                        .await?;
                }
                out.blobs.push((
                    Sha256Hex::parse(&sha).map_err(super::corrupt)?,
                    bytes.max(0) as u64,
                ));
            }
            tx.commit().await?;
        }
        let stale = sqlx::query(
            "DELETE FROM unnamed_uploads WHERE started_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = unnamed_uploads.sha256)",
        )
        .bind(stamp_of(idle_before))
        .execute(&self.pool)
        .await?;
        out.stale_uploads = stale.rows_affected();
        Ok(out)
    }
}
