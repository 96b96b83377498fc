//! Partial uploads held in the database, for several server instances.
//!
//! Behind a round-robin load balancer the chunks of one blob arrive at
//! different instances, so the bytes received so far cannot live in one
//! process's memory or data directory. Here they are rows: `upload_parts`
//! holds the durable offset of each blob, `upload_chunks` the chunks that
//! tile `[0, held)`. An append locks its blob's row (`FOR UPDATE` on
//! PostgreSQL), checks that it starts at `held` and moves `held` in the
//! same transaction, so two instances can never both append at one offset,
//! and an acknowledged offset is committed before it is answered.

use super::{Backend, Store, StoreError, corrupt, now};

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartAppend {
    /// The chunk is committed; the part now holds this many bytes.
    Appended(u64),
    /// The part did not hold exactly the offset the chunk starts at
    /// (another request moved it first): nothing was written; it holds this.
    Moved(u64),
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(format!("negative upload offset {v}")))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| corrupt(format!("upload offset {v} out of range")))
}

impl Store {
    /// Bytes held for the blob (0 when none).
    pub async fn upload_part_held(&self, blob_sha256: &str) -> Result<u64, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT held FROM upload_parts WHERE blob_sha256 = $1")
                .bind(blob_sha256)
                .fetch_optional(&self.pool)
                .await?;
        row.map_or(Ok(0), |(h,)| to_u64(h))
    }

    /// Appends `bytes` at `at` if the part holds exactly `at` bytes.
    pub async fn upload_part_append(
        &self,
        blob_sha256: &str,
        at: u64,
        bytes: &[u8],
    ) -> Result<PartAppend, StoreError> {
        // Short, and each PATCH waits for it: ahead of the queue on SQLite.
        let _writer = self.writer_ahead().await;
        let mut tx = self.pool.begin().await?;
        let stamp = now();
        sqlx::query(
            "INSERT INTO upload_parts (blob_sha256, held, updated_at) VALUES ($1, 0, $2) \
             ON CONFLICT (blob_sha256) DO NOTHING",
        )
        .bind(blob_sha256)
        .bind(&stamp)
        .execute(&mut *tx)
        .await?;
        let lock = match self.backend {
            Backend::Postgres => "SELECT held FROM upload_parts WHERE blob_sha256 = $1 FOR UPDATE",
            // The writer lock and SQLite's single writer serialise appends.
            Backend::Sqlite => "SELECT held FROM upload_parts WHERE blob_sha256 = $1",
        };
        let (held,): (i64,) = sqlx::query_as(lock)
            .bind(blob_sha256)
            .fetch_one(&mut *tx)
            .await?;
        let held = to_u64(held)?;
        if held != at {
            tx.rollback().await?;
            return Ok(PartAppend::Moved(held));
        }
        if bytes.is_empty() {
            tx.commit().await?;
            return Ok(PartAppend::Appended(held));
        }
        let end = at + bytes.len() as u64;
        sqlx::query(
            "INSERT INTO upload_chunks (blob_sha256, start_offset, bytes) VALUES ($1, $2, $3)",
        )
        .bind(blob_sha256)
        .bind(to_i64(at)?)
        .bind(bytes.to_vec())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE upload_parts SET held = $1, updated_at = $2 WHERE blob_sha256 = $3")
            .bind(to_i64(end)?)
            .bind(&stamp)
            .bind(blob_sha256)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(PartAppend::Appended(end))
    }

    /// The part's bytes, which must be exactly `total` long and tile from 0.
    /// `Ok(None)` when the part no longer holds that (another instance
    /// finished or discarded it meanwhile).
    pub async fn upload_part_bytes(
        &self,
        blob_sha256: &str,
        total: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT start_offset, bytes FROM upload_chunks WHERE blob_sha256 = $1 ORDER BY start_offset",
        )
        .bind(blob_sha256)
        .fetch_all(&self.pool)
        .await?;
        let mut all = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        for (start, bytes) in rows {
            if to_u64(start)? != all.len() as u64 {
                return Err(corrupt(format!(
                    "upload of {blob_sha256}: a chunk starts at {start}, expected {}",
                    all.len()
                )));
            }
            all.extend_from_slice(&bytes);
        }
        Ok((all.len() as u64 == total).then_some(all))
    }

    /// Forgets the part (finished, or not a prefix of its blob).
    pub async fn upload_part_discard(&self, blob_sha256: &str) -> Result<(), StoreError> {
        let _writer = self.writer_ahead().await;
        let mut tx = self.pool.begin().await?;
        // The part's row first: that waits for an append holding its lock,
        // so the chunks deleted next include the one it committed.
        sqlx::query("DELETE FROM upload_parts WHERE blob_sha256 = $1")
            .bind(blob_sha256)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM upload_chunks WHERE blob_sha256 = $1")
            .bind(blob_sha256)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Parts not written since `before` (a stamp as [`now`] writes them),
    /// oldest first, at most `limit`.
    pub async fn upload_parts_idle(
        &self,
        before: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT blob_sha256 FROM upload_parts WHERE updated_at < $1 ORDER BY updated_at LIMIT $2",
        )
        .bind(before)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(h,)| h).collect())
    }

    /// Forgets the part if it was still not written since `before`; whether
    /// it did. The conditional delete takes the part's row lock, so an
    /// append on another instance either committed first (and the part is
    /// kept) or waits and then finds no part (and its device starts over).
    pub async fn upload_part_discard_idle(
        &self,
        blob_sha256: &str,
        before: &str,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer_ahead().await;
        let mut tx = self.pool.begin().await?;
        let gone =
            sqlx::query("DELETE FROM upload_parts WHERE blob_sha256 = $1 AND updated_at < $2")
                .bind(blob_sha256)
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
        if gone {
            sqlx::query("DELETE FROM upload_chunks WHERE blob_sha256 = $1")
                .bind(blob_sha256)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(gone)
    }
}
