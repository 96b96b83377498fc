//! Proof-of-duty checks (证实履职到位): evidence that the officers were
//! really on site, as flags for the reviewer. A flag is not a verdict; it
//! says where to look.
//!
//! Checked for every record version:
//! * no gate/signboard photo (大门/牌匾) on an on-site inspection, or, for a
//!   company not found at its registered address (无法联系, 已关闭退出), no
//!   photo there;
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
//! # When they run
//!
//! [`report`] runs every check for the record view and the PDF and writes
//! nothing (a photo not hashed yet is hashed in memory). The flag counts the
//! review queue shows, and the photo-hash cache, are written by the
//! [`Checker`], a background task of the server: each new record version
//! enters the projection with `duty_pending` set, and the checker runs
//! [`refresh_pending`] over those whose evidence is complete, hashing their
//! photos once and keeping the count — so no page read ever writes.

use std::collections::{BTreeMap, BTreeSet};

use choucha_shared::completeness::MIN_OFFICER_SIGNATURES;
use choucha_shared::outcome::OutcomeKind;
use choucha_shared::plan::MemberRole;
use choucha_shared::record::{InspectionRecord, PhotoSubject, SignerRole};
use choucha_shared::value::{GeoPoint, Sha256Hex};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::phash;
use super::{OversightConfig, OversightError};
use crate::Sources;
use choucha_blobs::BlobStore;
use choucha_store::Store;
use choucha_store::duty::PhotoHash;

/// One reason to doubt that the officers were on site.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum DutyFlag {
    GatePhotoMissing,
    /// A company not found at its registered address (无法联系, 已关闭退出):
    /// no photo there proves the officers went.
    AddressPhotoMissing,
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
            Self::AddressPhotoMissing => "address_photo_missing",
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
            Self::AddressPhotoMissing => write!(
                f,
                "缺少登记住所（经营场所）现场照片 (no photo at the registered address)"
            ),
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
    // What proves presence: the gate, or, where the company was not found
    // there, the registered address.
    let (presence, missing) = match record.outcome.kind() {
        OutcomeKind::Unreachable | OutcomeKind::Closed => {
            (PhotoSubject::Address, DutyFlag::AddressPhotoMissing)
        }
        _ => (PhotoSubject::Gate, DutyFlag::GatePhotoMissing),
    };
    if on_site && record.photos_of(&presence).next().is_none() {
        flags.push(missing);
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

/// How a photo's perceptual hash stands.
enum Hash {
    Known(u64),
    Unreadable,
    /// The blob has not arrived.
    Absent,
}

/// The photo's hash: from the cache, else computed from the stored blob
/// (and added to `computed`, for the caller to cache, when given).
async fn photo_hash(
    store: &Store,
    blobs: &dyn BlobStore,
    sha: &Sha256Hex,
    computed: Option<&mut Vec<(String, PhotoHash)>>,
) -> Result<Hash, OversightError> {
    match store.photo_hash(sha.as_str()).await? {
        Some(Some(h)) => return Ok(Hash::Known(phash::from_db(h))),
        Some(None) => return Ok(Hash::Unreadable),
        None => {}
    }
    let Some(bytes) = blobs.read_all(sha).await? else {
        return Ok(Hash::Absent);
    };
    // Decoding a 12-megapixel JPEG is CPU work: off the async workers.
    let result = tokio::task::spawn_blocking(move || phash::phash(&bytes))
        .await
        .map_err(|e| OversightError::Corrupt(format!("photo hashing panicked: {e}")))?;
    if let Some(computed) = computed {
        let row = match &result {
            Ok(h) => PhotoHash {
                hash: Some(phash::to_db(*h)),
                bands: phash::bands(*h).map(Some),
                error: None,
            },
            Err(e) => PhotoHash {
                hash: None,
                bands: [None; phash::BANDS],
                error: Some(e.to_string()),
            },
        };
        computed.push((sha.to_string(), row));
    }
    Ok(match result {
        Ok(h) => Hash::Known(h),
        Err(_) => Hash::Unreadable,
    })
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
        for (other, ph) in store.photos_sharing_a_band(sha, phash::bands(h)).await? {
            let d = phash::distance(h, phash::from_db(ph));
            if d <= cfg.phash_max_distance {
                candidates.insert(other, Some(d));
            }
        }
    }
    let mut flags = Vec::new();
    let mut seen = BTreeSet::new();
    for (other_sha, distance) in candidates {
        for other in store.other_records_naming(&other_sha, &me).await? {
            if !seen.insert(other.record_id.clone()) {
                continue;
            }
            // A signature image is a blob too; only photos count.
            if !other
                .record
                .photos
                .iter()
                .any(|p| p.sha256.as_str() == other_sha)
            {
                continue;
            }
            flags.push(DutyFlag::PhotoUsedElsewhere {
                sha256: sha.to_owned(),
                other_record_id: other.record_id,
                other_task_id: other.task_id,
                other_target_name: other.record.target_name,
                distance,
            });
        }
    }
    Ok(flags)
}

/// Runs every check on one record version. Writes nothing.
pub async fn report(
    state: &impl Sources,
    cfg: &OversightConfig,
    record_id: &str,
    version: &str,
) -> Result<DutyReport, OversightError> {
    check(state, cfg, record_id, version, None).await
}

/// Runs every check on one record version, caching photo hashes, and keeps
/// the number of flags for the review queue (the [`Checker`]'s step).
pub async fn refresh(
    state: &impl Sources,
    cfg: &OversightConfig,
    record_id: &str,
    version: &str,
) -> Result<DutyReport, OversightError> {
    let mut computed = Vec::new();
    let report = check(state, cfg, record_id, version, Some(&mut computed)).await?;
    // One short write for the record: the hashes and the count together.
    state
        .store()
        .save_duty_check(
            record_id,
            version,
            &computed,
            report.flags.len(),
            !report.pending_photos.is_empty(),
        )
        .await?;
    Ok(report)
}

async fn check(
    state: &impl Sources,
    cfg: &OversightConfig,
    record_id: &str,
    version: &str,
    mut computed: Option<&mut Vec<(String, PhotoHash)>>,
) -> Result<DutyReport, OversightError> {
    let store = state.store();
    let (record, _, store_flags) = store
        .record_version(record_id, version)
        .await?
        .ok_or_else(|| OversightError::NotFound(format!("记录 {record_id} 没有版本 {version}")))?;
    let (location, _) = store.target_place(record.category, &record.target).await?;
    let mut flags = static_flags(&record, location, &store_flags, cfg);
    let mut pending = Vec::new();
    let mut checked = BTreeSet::new();
    let blobs = state.blobs();
    for p in &record.photos {
        if !checked.insert(p.sha256.as_str()) {
            continue;
        }
        let sha = p.sha256.as_str();
        match photo_hash(store, blobs.as_ref(), &p.sha256, computed.as_deref_mut()).await? {
            Hash::Absent => {
                pending.push(p.sha256.to_string());
                // The identical file can be found without the bytes.
                flags.extend(reuse_flags(store, &record, sha, None, cfg).await?);
            }
            Hash::Known(h) => flags.extend(reuse_flags(store, &record, sha, Some(h), cfg).await?),
            Hash::Unreadable => {
                flags.push(DutyFlag::PhotoUnreadable {
                    sha256: p.sha256.to_string(),
                });
                flags.extend(reuse_flags(store, &record, sha, None, cfg).await?);
            }
        }
    }
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

/// Checks up to `limit` record versions whose checks could not all run yet
/// (new, or a photo blob had not arrived) and whose evidence is now
/// complete. Returns how many were checked and how many of those are now
/// settled (every photo checked).
pub async fn refresh_pending(
    state: &impl Sources,
    cfg: &OversightConfig,
    limit: i64,
) -> Result<(usize, usize), OversightError> {
    let rows = state.store().duty_unchecked(limit).await?;
    let mut settled = 0;
    for (record_id, version) in &rows {
        if refresh(state, cfg, record_id, version)
            .await?
            .pending_photos
            .is_empty()
        {
            settled += 1;
        }
    }
    Ok((rows.len(), settled))
}

/// The background task that keeps the queue's proof-of-duty counts and the
/// photo-hash cache current (see the module docs).
#[derive(Debug)]
pub struct Checker;

impl Checker {
    /// How often the checker looks for versions to check when idle.
    pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);
    const BATCH: i64 = 50;
    /// How long no device may have pushed or finished a blob before the
    /// checker starts a round.
    pub const QUIET: std::time::Duration = std::time::Duration::from_secs(2);

    /// Runs until the process ends. A failure is logged and retried on the
    /// next round; it never stops the server.
    pub fn spawn<S>(state: S, cfg: std::sync::Arc<OversightConfig>) -> tokio::task::JoinHandle<()>
    where
        S: Sources + Send + Sync + 'static,
    {
        tokio::spawn(async move {
            loop {
                // Hashing reads every photo back from the blob store: it
                // waits for a quiet spell rather than compete with devices
                // pushing and uploading for the writer and the disk.
                if state.store().ingest_quiet_for() < Self::QUIET {
                    tokio::time::sleep(Self::INTERVAL / 4).await;
                    continue;
                }
                match refresh_pending(&state, &cfg, Self::BATCH).await {
                    // A full batch that made progress: there may be more.
                    Ok((n, settled)) if n as i64 == Self::BATCH && settled > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "proof-of-duty checks failed; retrying"),
                }
                tokio::time::sleep(Self::INTERVAL).await;
            }
        })
    }
}
