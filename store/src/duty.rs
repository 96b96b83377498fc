//! What the proof-of-duty checks read and keep: the record version and the
//! store's clock flags, the target's registered location, the cache of
//! perceptual photo hashes (`photo_hashes`, cut into five bands for an
//! indexed near-duplicate search), the other records naming a photo, and the
//! flag counts the review queue shows. The checks themselves are
//! `oversight::duty`.

use choucha_shared::TargetCategory;
use choucha_shared::directory::TargetKey;
use choucha_shared::record::InspectionRecord;
use choucha_shared::review::ReviewState;
use choucha_shared::value::GeoPoint;

use super::{Store, StoreError, corrupt, now};

/// A cached perceptual hash: the hash, or `None` when the blob could not be
/// decoded as a picture.
pub type CachedHash = Option<i64>;

/// A perceptual hash to cache, with its five bands.
#[derive(Debug, Clone)]
pub struct PhotoHash {
    pub hash: Option<i64>,
    pub bands: [Option<i64>; 5],
    pub error: Option<String>,
}

/// Another current record naming a photo.
#[derive(Debug, Clone)]
pub struct OtherUse {
    pub record_id: String,
    pub task_id: String,
    pub record: InspectionRecord,
}

impl Store {
    /// A stored record version with the flags the push gave it, or
    /// `None` when there is no such version.
    pub async fn record_version(
        &self,
        record_id: &str,
        version: &str,
    ) -> Result<Option<(InspectionRecord, ReviewState, Vec<String>)>, StoreError> {
        let row: Option<(String, String, i64, String)> = sqlx::query_as(
            "SELECT record, state, superseded, flags FROM records WHERE record_id = $1 AND version = $2",
        )
        .bind(record_id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        let Some((json, state, superseded, flags)) = row else {
            return Ok(None);
        };
        let record: InspectionRecord = serde_json::from_str(&json).map_err(corrupt)?;
        let state = if superseded != 0 {
            ReviewState::Superseded
        } else {
            state.parse().map_err(corrupt)?
        };
        let flags: Vec<String> = serde_json::from_str(&flags).map_err(corrupt)?;
        Ok(Some((record, state, flags)))
    }

    /// A target's registered coordinates and town.
    pub async fn target_place(
        &self,
        category: TargetCategory,
        key: &TargetKey,
    ) -> Result<(Option<GeoPoint>, Option<String>), StoreError> {
        let row: Option<(Option<f64>, Option<f64>, String)> = sqlx::query_as(
            "SELECT lat, lon, jurisdiction FROM targets WHERE category = $1 AND target_key = $2",
        )
        .bind(category.code())
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some((lat, lon, town)) => {
                let at = match (lat, lon) {
                    (Some(lat), Some(lon)) => GeoPoint::new(lat, lon, None).ok(),
                    _ => None,
                };
                (at, Some(town))
            }
            None => (None, None),
        })
    }

    /// The cached perceptual hash of a photo; `None` when not computed yet.
    pub async fn photo_hash(&self, sha: &str) -> Result<Option<CachedHash>, StoreError> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT phash FROM photo_hashes WHERE sha256 = $1")
                .bind(sha)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(h,)| h))
    }

    /// Other photos agreeing with `bands` in at least one band (candidates
    /// for "the same picture"): (sha256, hash).
    pub async fn photos_sharing_a_band(
        &self,
        sha: &str,
        bands: [i64; 5],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT sha256, phash FROM photo_hashes WHERE (b0 = $1 OR b1 = $2 OR b2 = $3 OR b3 = $4 OR b4 = $5) AND sha256 <> $6",
        )
        .bind(bands[0])
        .bind(bands[1])
        .bind(bands[2])
        .bind(bands[3])
        .bind(bands[4])
        .bind(sha)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, h)| h.map(|h| (s, h)))
            .collect())
    }

    /// Current versions of records other than `record_id` that name the
    /// blob `sha`.
    pub async fn other_records_naming(
        &self,
        sha: &str,
        record_id: &str,
    ) -> Result<Vec<OtherUse>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT DISTINCT rb.record_id, r.task_id, r.record FROM record_blobs rb \
             JOIN records r ON r.record_id = rb.record_id AND r.version = rb.version \
             WHERE rb.sha256 = $1 AND rb.record_id <> $2 AND r.superseded = 0",
        )
        .bind(sha)
        .bind(record_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(record_id, task_id, json)| {
                Ok(OtherUse {
                    record_id,
                    task_id,
                    record: serde_json::from_str(&json).map_err(corrupt)?,
                })
            })
            .collect()
    }

    /// Keeps what the checks of one version found: the perceptual hashes
    /// they computed (the first one cached wins; they are equal anyway) and
    /// the number of flags for the review queue, `pending` while some photo
    /// could not be checked yet. One transaction, one turn of the writer.
    pub async fn save_duty_check(
        &self,
        record_id: &str,
        version: &str,
        hashes: &[(String, PhotoHash)],
        flags: usize,
        pending: bool,
    ) -> Result<(), StoreError> {
        // Every write queues for SQLite's one writer, or a push that read
        // before this committed fails with "database is locked".
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let at = now();
        for (sha, h) in hashes {
            sqlx::query(
                "INSERT INTO photo_hashes (sha256, phash, b0, b1, b2, b3, b4, error, computed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(sha)
            .bind(h.hash)
            .bind(h.bands[0])
            .bind(h.bands[1])
            .bind(h.bands[2])
            .bind(h.bands[3])
            .bind(h.bands[4])
            .bind(&h.error)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE oversight_records SET duty_flags = $1, duty_pending = $2 WHERE record_id = $3 AND version = $4",
        )
        .bind(flags as i64)
        .bind(i64::from(pending))
        .bind(record_id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` current, complete record versions whose checks have
    /// not all run (new, or a photo had not arrived): (record_id, version).
    pub async fn duty_unchecked(&self, limit: i64) -> Result<Vec<(String, String)>, StoreError> {
        let sql = format!(
            "SELECT record_id, version FROM oversight_records WHERE duty_pending = 1 AND state <> '{}' AND state <> '{}' \
             ORDER BY received_at LIMIT $1",
            ReviewState::Incomplete.as_str(),
            ReviewState::Superseded.as_str()
        );
        Ok(sqlx::query_as(&sql)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}
