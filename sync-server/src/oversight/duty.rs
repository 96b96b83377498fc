//! Proof-of-duty checks (证实履职到位): evidence that the officers were
//! really on site, as flags for the reviewer. A flag is not a verdict; it
//! says where to look.
//!
//! Checked for every record version:
//! * no gate/signboard photo (大门/牌匾) on an on-site inspection;
//! * a photo located farther than the threshold (default 1 km) from the
//!   target's registered location, or with no location at all;
//! * a photo taken outside the inspection window (from the start of the
//!   inspection to the last signature, with some slack), or photos whose
//!   times go backwards;
//! * a photo that is the same file (SHA-256), or the same picture
//!   (perceptual hash, [`super::phash`]), as a photo of another inspection;
//! * a device clock the sync store already found implausible;
//! * fewer than two enforcement officers of the team signed.
//!
//! # Photo hashes: when they are computed
//!
//! Lazily, and cached in `photo_hashes`: [`report`] (the record view) and
//! [`refresh`] hash any photo of the record whose blob is stored and not yet
//! hashed. For eager hashing the ingest path can call [`on_blob_stored`]
//! when a blob has been verified, and [`refresh_pending`] catches up with
//! every record whose checks could not all run yet (`duty_pending`).

use std::collections::{BTreeMap, BTreeSet};

use choucha_shared::completeness::MIN_OFFICER_SIGNATURES;
use choucha_shared::plan::MemberRole;
use choucha_shared::record::{InspectionRecord, PhotoSubject, SignerRole};
use choucha_shared::review::ReviewState;
use choucha_shared::value::{GeoPoint, Sha256Hex};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::phash;
use super::{OversightConfig, OversightError, corrupt};
use crate::AppState;
use crate::blobs::BlobStore;
use crate::store::{Store, now};

/// One reason to doubt that the officers were on site.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum DutyFlag {
    GatePhotoMissing,
    PhotoFarFromTarget {
        sha256: String,
        distance_m: f64,
        threshold_m: f64,
    },
    PhotoWithoutLocation {
        sha256: String,
    },
    /// The target has no registered location: distances cannot be checked.
    TargetLocationUnknown,
    PhotoOutsideWindow {
        sha256: String,
        taken_at: DateTime<Utc>,
        window_start: DateTime<Utc>,
        window_end: DateTime<Utc>,
    },
    PhotosOutOfOrder {
        sha256: String,
        taken_at: DateTime<Utc>,
        previous: DateTime<Utc>,
    },
    /// The same photo (identical file when `distance` is `None`, else the
    /// perceptual-hash distance) appears in another inspection's record.
    PhotoUsedElsewhere {
        sha256: String,
        other_record_id: String,
        other_task_id: String,
        other_target_name: String,
        distance: Option<u32>,
    },
    PhotoUnreadable {
        sha256: String,
    },
    DeviceClockImplausible {
        detail: String,
    },
    OfficerSignaturesMissing {
        found: usize,
    },
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

impl DutyFlag {
    /// Stable code for filters and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::GatePhotoMissing => "gate_photo_missing",
            Self::PhotoFarFromTarget { .. } => "photo_far_from_target",
            Self::PhotoWithoutLocation { .. } => "photo_without_location",
            Self::TargetLocationUnknown => "target_location_unknown",
            Self::PhotoOutsideWindow { .. } => "photo_outside_window",
            Self::PhotosOutOfOrder { .. } => "photos_out_of_order",
            Self::PhotoUsedElsewhere { .. } => "photo_used_elsewhere",
            Self::PhotoUnreadable { .. } => "photo_unreadable",
            Self::DeviceClockImplausible { .. } => "device_clock_implausible",
            Self::OfficerSignaturesMissing { .. } => "officer_signatures_missing",
        }
    }
}

/// Chinese first: shown to reviewers as is.
impl std::fmt::Display for DutyFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::GatePhotoMissing => write!(f, "缺少大门/牌匾照片 (no gate photo)"),
            Self::PhotoFarFromTarget {
                sha256,
                distance_m,
                threshold_m,
            } => write!(
                f,
                "照片 {} 的拍摄位置距登记地址 {:.1} 公里，超过 {:.1} 公里 (photo taken far from the registered address)",
                short(sha256),
                distance_m / 1000.0,
                threshold_m / 1000.0
            ),
            Self::PhotoWithoutLocation { sha256 } => write!(
                f,
                "照片 {} 没有定位信息 (photo without location)",
                short(sha256)
            ),
            Self::TargetLocationUnknown => write!(
                f,
                "检查对象没有登记坐标，无法核对拍摄位置 (target has no registered location)"
            ),
            Self::PhotoOutsideWindow {
                sha256, taken_at, ..
            } => write!(
                f,
                "照片 {} 的拍摄时间 {} 不在检查时段内 (photo taken outside the inspection)",
                short(sha256),
                taken_at.format("%Y-%m-%d %H:%M")
            ),
            Self::PhotosOutOfOrder {
                sha256,
                taken_at,
                previous,
            } => write!(
                f,
                "照片 {} 的拍摄时间 {} 早于前一张照片的 {} (photo times out of order)",
                short(sha256),
                taken_at.format("%H:%M:%S"),
                previous.format("%H:%M:%S")
            ),
            Self::PhotoUsedElsewhere {
                sha256,
                other_record_id,
                other_target_name,
                distance,
                ..
            } => write!(
                f,
                "照片 {} 与另一检查（{}，记录 {}）的照片{} (photo used in another inspection)",
                short(sha256),
                other_target_name,
                short(other_record_id),
                match distance {
                    None => "完全相同".to_owned(),
                    Some(d) => format!("高度相似（相差 {d} 位）"),
                }
            ),
            Self::PhotoUnreadable { sha256 } => write!(
                f,
                "照片 {} 无法解码，未能比对是否重复使用 (photo cannot be decoded)",
                short(sha256)
            ),
            Self::DeviceClockImplausible { detail } => {
                write!(f, "设备时钟可疑：{detail}")
            }
            Self::OfficerSignaturesMissing { found } => write!(
                f,
                "执法人员签名不足两人（{found} 人）(fewer than two officer signatures)"
            ),
        }
    }
}

/// A photo as the record view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoFacts {
    pub sha256: String,
    pub subject: PhotoSubject,
    pub taken_at: DateTime<Utc>,
    pub gps: Option<GeoPoint>,
    /// From the target's registered location, when both are known.
    pub distance_m: Option<f64>,
}

/// Everything the record view shows about proof of duty.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DutyReport {
    pub flags: Vec<DutyFlag>,
    pub photos: Vec<PhotoFacts>,
    /// Photos not yet checked for reuse because their blob has not arrived.
    pub pending_photos: Vec<String>,
}

/// The checks that need only the record, the target's location and the
/// store's clock flags.
pub fn static_flags(
    record: &InspectionRecord,
    target_location: Option<GeoPoint>,
    store_flags: &[String],
    cfg: &OversightConfig,
) -> Vec<DutyFlag> {
    let mut flags = Vec::new();
    let on_site = record.category.is_on_site();
    if on_site && record.photos_of(&PhotoSubject::Gate).next().is_none() {
        flags.push(DutyFlag::GatePhotoMissing);
    }
    if on_site {
        match target_location {
            None => flags.push(DutyFlag::TargetLocationUnknown),
            Some(home) => {
                for p in &record.photos {
                    match p.gps {
                        None => flags.push(DutyFlag::PhotoWithoutLocation {
                            sha256: p.sha256.to_string(),
                        }),
                        Some(g) => {
                            let d = g.distance_m(&home);
                            if d > cfg.gps_threshold_m {
                                flags.push(DutyFlag::PhotoFarFromTarget {
                                    sha256: p.sha256.to_string(),
                                    distance_m: d,
                                    threshold_m: cfg.gps_threshold_m,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    // The window: from the start of the inspection to the last signature
    // (the seal); a record nobody signed gets the rest of the day.
    let slack = Duration::minutes(cfg.window_slack_min);
    let start = record.started_at - slack;
    let end = record
        .signatures
        .iter()
        .map(|s| s.signed_at)
        .max()
        .unwrap_or(record.started_at + Duration::hours(12))
        + slack;
    let mut previous: Option<DateTime<Utc>> = None;
    let mut out_of_order_reported = false;
    for p in &record.photos {
        if p.taken_at < start || p.taken_at > end {
            flags.push(DutyFlag::PhotoOutsideWindow {
                sha256: p.sha256.to_string(),
                taken_at: p.taken_at,
                window_start: start,
                window_end: end,
            });
        }
        if let Some(prev) = previous {
            // Photos are appended as taken: a step back in time means the
            // clock was changed, or the photo was not taken here and now.
            if p.taken_at < prev && !out_of_order_reported {
                flags.push(DutyFlag::PhotosOutOfOrder {
                    sha256: p.sha256.to_string(),
                    taken_at: p.taken_at,
                    previous: prev,
                });
                out_of_order_reported = true;
            }
        }
        previous = Some(previous.map_or(p.taken_at, |q| q.max(p.taken_at)));
    }
    // The sync store's clock checks (device time before the task existed,
    // in the future, or far from GPS satellite time) are its flags that
    // speak of time; the others (several records for one task) are not
    // about presence.
    for f in store_flags.iter().filter(|f| f.contains("时间")) {
        flags.push(DutyFlag::DeviceClockImplausible { detail: f.clone() });
    }
    let team_officers: BTreeSet<&str> = record
        .team
        .iter()
        .filter(|m| m.role == MemberRole::Officer)
        .map(|m| m.person_id.as_str())
        .collect();
    let hash = record.content_hash();
    let signed: BTreeSet<&str> = record
        .signatures
        .iter()
        .filter(|s| s.role == SignerRole::Officer && s.content_hash == hash)
        .filter_map(|s| s.person_id.as_deref())
        .filter(|id| team_officers.contains(id))
        .collect();
    if signed.len() < MIN_OFFICER_SIGNATURES {
        flags.push(DutyFlag::OfficerSignaturesMissing {
            found: signed.len(),
        });
    }
    flags
}

/// The cached pHash of a photo: `Some(Ok(hash))`, `Some(Err(()))` when the
/// blob could not be decoded, `None` when not computed yet.
async fn cached_hash(store: &Store, sha: &str) -> Result<Option<Result<u64, ()>>, OversightError> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT phash FROM photo_hashes WHERE sha256 = $1")
            .bind(sha)
            .fetch_optional(store.pool())
            .await?;
    Ok(row.map(|(h,)| h.map(phash::from_db).ok_or(())))
}

/// Hashes a stored photo blob and caches the result. `None` when the blob
/// has not arrived.
pub async fn hash_photo(
    store: &Store,
    blobs: &dyn BlobStore,
    sha: &Sha256Hex,
) -> Result<Option<Result<u64, ()>>, OversightError> {
    if let Some(h) = cached_hash(store, sha.as_str()).await? {
        return Ok(Some(h));
    }
    let Some(bytes) = blobs.read_all(sha).await? else {
        return Ok(None);
    };
    // Decoding a 12-megapixel JPEG is CPU work: off the async workers.
    let result = tokio::task::spawn_blocking(move || phash::phash(&bytes))
        .await
        .map_err(|e| OversightError::Corrupt(format!("photo hashing panicked: {e}")))?;
    let (value, bands, error) = match &result {
        Ok(h) => (Some(phash::to_db(*h)), phash::bands(*h).map(Some), None),
        Err(e) => (None, [None; phash::BANDS], Some(e.to_string())),
    };
    sqlx::query(
        "INSERT INTO photo_hashes (sha256, phash, b0, b1, b2, b3, b4, error, computed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(sha.as_str())
    .bind(value)
    .bind(bands[0])
    .bind(bands[1])
    .bind(bands[2])
    .bind(bands[3])
    .bind(bands[4])
    .bind(error)
    .bind(now())
    .execute(store.pool())
    .await?;
    Ok(Some(result.map_err(|_| ())))
}

/// Other records (by record id) that name a photo: the same file, or a
/// picture within the configured pHash distance.
async fn reuse_flags(
    store: &Store,
    record: &InspectionRecord,
    sha: &str,
    hash: Option<u64>,
    cfg: &OversightConfig,
) -> Result<Vec<DutyFlag>, OversightError> {
    let me = record.record_id.to_string();
    // sha256 → its distance (None for the identical file).
    let mut candidates: BTreeMap<String, Option<u32>> = BTreeMap::new();
    candidates.insert(sha.to_owned(), None);
    if let Some(h) = hash {
        let b = phash::bands(h);
        let near: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT sha256, phash FROM photo_hashes WHERE (b0 = $1 OR b1 = $2 OR b2 = $3 OR b3 = $4 OR b4 = $5) AND sha256 <> $6",
        )
        .bind(b[0])
        .bind(b[1])
        .bind(b[2])
        .bind(b[3])
        .bind(b[4])
        .bind(sha)
        .fetch_all(store.pool())
        .await?;
        for (other, ph) in near {
            if let Some(ph) = ph {
                let d = phash::distance(h, phash::from_db(ph));
                if d <= cfg.phash_max_distance {
                    candidates.insert(other, Some(d));
                }
            }
        }
    }
    let mut flags = Vec::new();
    let mut seen = BTreeSet::new();
    for (other_sha, distance) in candidates {
        let users: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT DISTINCT rb.record_id, r.task_id, r.record FROM record_blobs rb \
             JOIN records r ON r.record_id = rb.record_id AND r.version = rb.version \
             WHERE rb.sha256 = $1 AND rb.record_id <> $2 AND r.superseded = 0",
        )
        .bind(&other_sha)
        .bind(&me)
        .fetch_all(store.pool())
        .await?;
        for (other_record_id, other_task_id, json) in users {
            if !seen.insert(other_record_id.clone()) {
                continue;
            }
            let other: InspectionRecord = serde_json::from_str(&json).map_err(corrupt)?;
            // A signature image is a blob too; only photos count.
            if !other.photos.iter().any(|p| p.sha256.as_str() == other_sha) {
                continue;
            }
            flags.push(DutyFlag::PhotoUsedElsewhere {
                sha256: sha.to_owned(),
                other_record_id,
                other_task_id,
                other_target_name: other.target_name,
                distance,
            });
        }
    }
    Ok(flags)
}

/// Runs every check on one record version, hashing its stored photos as
/// needed, and stores the number of flags for the review queue.
pub async fn report(
    state: &AppState,
    cfg: &OversightConfig,
    record_id: &str,
    version: &str,
) -> Result<DutyReport, OversightError> {
    let store = &state.store;
    super::index::ensure_indexed(store, record_id, version).await?;
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT record, flags FROM records WHERE record_id = $1 AND version = $2")
            .bind(record_id)
            .bind(version)
            .fetch_optional(store.pool())
            .await?;
    let (json, store_flags) = row
        .ok_or_else(|| OversightError::NotFound(format!("记录 {record_id} 没有版本 {version}")))?;
    let record: InspectionRecord = serde_json::from_str(&json).map_err(corrupt)?;
    let store_flags: Vec<String> = serde_json::from_str(&store_flags).map_err(corrupt)?;
    let location = target_location(store, &record).await?;
    let mut flags = static_flags(&record, location, &store_flags, cfg);
    let mut pending = Vec::new();
    let mut checked = BTreeSet::new();
    for p in &record.photos {
        if !checked.insert(p.sha256.as_str()) {
            continue;
        }
        match hash_photo(store, state.uploads.store().as_ref(), &p.sha256).await? {
            None => {
                pending.push(p.sha256.to_string());
                // The identical file can be found without the bytes.
                flags.extend(reuse_flags(store, &record, p.sha256.as_str(), None, cfg).await?);
            }
            Some(Ok(h)) => {
                flags.extend(reuse_flags(store, &record, p.sha256.as_str(), Some(h), cfg).await?)
            }
            Some(Err(())) => {
                flags.push(DutyFlag::PhotoUnreadable {
                    sha256: p.sha256.to_string(),
                });
                flags.extend(reuse_flags(store, &record, p.sha256.as_str(), None, cfg).await?);
            }
        }
    }
    sqlx::query(
        "UPDATE oversight_records SET duty_flags = $1, duty_pending = $2 WHERE record_id = $3 AND version = $4",
    )
    .bind(flags.len() as i64)
    .bind(i64::from(!pending.is_empty()))
    .bind(record_id)
    .bind(version)
    .execute(store.pool())
    .await?;
    let photos = record
        .photos
        .iter()
        .map(|p| PhotoFacts {
            sha256: p.sha256.to_string(),
            subject: p.subject.clone(),
            taken_at: p.taken_at,
            gps: p.gps,
            distance_m: match (p.gps, location) {
                (Some(g), Some(h)) => Some(g.distance_m(&h)),
                _ => None,
            },
        })
        .collect();
    Ok(DutyReport {
        flags,
        photos,
        pending_photos: pending,
    })
}

/// The target's registered coordinates.
pub async fn target_location(
    store: &Store,
    record: &InspectionRecord,
) -> Result<Option<GeoPoint>, OversightError> {
    let row: Option<(Option<f64>, Option<f64>)> =
        sqlx::query_as("SELECT lat, lon FROM targets WHERE category = $1 AND target_key = $2")
            .bind(record.category.code())
            .bind(record.target.as_str())
            .fetch_optional(store.pool())
            .await?;
    Ok(match row {
        Some((Some(lat), Some(lon))) => GeoPoint::new(lat, lon, None).ok(),
        _ => None,
    })
}

/// The ingest hook for blobs: hashes the blob if it is a photo of some
/// record and re-checks the records that name it. Cheap for signatures and
/// unknown blobs.
pub async fn on_blob_stored(
    state: &AppState,
    cfg: &OversightConfig,
    sha: &Sha256Hex,
) -> Result<(), OversightError> {
    let sql = format!(
        "SELECT o.record_id, o.version FROM record_blobs rb JOIN oversight_records o \
         ON o.record_id = rb.record_id AND o.version = rb.version WHERE rb.sha256 = $1 AND o.state <> '{}'",
        ReviewState::Superseded.as_str()
    );
    let users: Vec<(String, String)> = sqlx::query_as(&sql)
        .bind(sha.as_str())
        .fetch_all(state.store.pool())
        .await?;
    for (record_id, version) in users {
        report(state, cfg, &record_id, &version).await?;
    }
    Ok(())
}

/// Re-checks up to `limit` records whose checks could not all run yet
/// (a photo blob had not arrived) and whose evidence is now complete, plus
/// records never checked. Returns how many were checked.
pub async fn refresh_pending(
    state: &AppState,
    cfg: &OversightConfig,
    limit: i64,
) -> Result<usize, OversightError> {
    let sql = format!(
        "SELECT record_id, version FROM oversight_records WHERE duty_pending = 1 AND state <> '{}' AND state <> '{}' LIMIT $1",
        ReviewState::Incomplete.as_str(),
        ReviewState::Superseded.as_str()
    );
    let rows: Vec<(String, String)> = sqlx::query_as(&sql)
        .bind(limit)
        .fetch_all(state.store.pool())
        .await?;
    for (record_id, version) in &rows {
        report(state, cfg, record_id, version).await?;
    }
    Ok(rows.len())
}
