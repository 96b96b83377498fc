//! Oversight by the quality section (质量科): what the console shows and
//! exports, as plain functions over the [`Store`](crate::store::Store) that
//! the console's pages (and the public pages) call.
//!
//! * [`index`] — keeps the `oversight_*` projection of draws and records
//!   (town, team, stratum, dates) that every query here filters and counts
//!   by; see there for when it runs.
//! * [`duty`] — proof-of-duty flags (证实履职到位) of a record, with
//!   [`phash`], the perceptual photo hash behind "the same photo used in
//!   another inspection".
//! * [`dashboard`] — progress against the plan, findings by checklist item
//!   and category, overdue rectifications, and the review queue.
//! * [`followup`] — what happens to a finding after the inspection.
//! * [`disclosure`] — the public register (一公开) and its streamed feeds.
//! * [`reports`] — the town summary (XLSX/CSV) and the per-inspection PDF.
//!
//! # Design
//!
//! `records` (the sync projection) holds each record as one JSON document:
//! right for sync, useless for "all records of town X waiting for review,
//! page 40" over a million rows. So this module keeps its own narrow tables
//! (migration `0004_oversight.sql`) with one row per task and per record
//! version and the columns the console filters on, each filter shape backed
//! by an index, and counters (`oversight_progress`,
//! `oversight_team_progress`, `oversight_finding_counts`) kept exact by
//! database triggers, so the dashboard reads counter rows (one per team at
//! most) whatever the number of records. A
//! trigger on `records` mirrors every review-state change, so no code path
//! that approves, returns or supersedes a record has to know about this
//! module.

pub mod dashboard;
pub mod disclosure;
pub mod duty;
pub mod followup;
pub mod index;
pub mod phash;
pub mod reports;

use choucha_shared::calendar::WorkCalendar;

use crate::blobs::BlobStoreError;
use crate::error::ApiError;
use crate::store::StoreError;

/// Settings of the checks and the public register.
#[derive(Debug, Clone)]
pub struct OversightConfig {
    /// A photo taken farther than this from the target's registered
    /// location is flagged (metres).
    pub gps_threshold_m: f64,
    /// Photos whose perceptual hashes differ in at most this many bits are
    /// "the same photo" (at most [`phash::MAX_DISTANCE`]).
    pub phash_max_distance: u32,
    /// Slack around the inspection window for photo times (minutes).
    pub window_slack_min: i64,
    /// 发布机关: the authority named on every published result.
    pub authority: String,
    /// Working days for the publication deadline.
    pub calendar: WorkCalendar,
}

impl Default for OversightConfig {
    fn default() -> Self {
        Self {
            gps_threshold_m: 1_000.0,
            phash_max_distance: phash::MAX_DISTANCE,
            window_slack_min: 10,
            authority: "市场监督管理局".into(),
            calendar: WorkCalendar::china_default(),
        }
    }
}

impl OversightConfig {
    /// Defaults, overridden by `CHOUCHA_DUTY_GPS_THRESHOLD_M`,
    /// `CHOUCHA_PHASH_MAX_DISTANCE`, `CHOUCHA_AUTHORITY` and
    /// `CHOUCHA_CALENDAR_FILE` (a TOML file of further years' holidays, see
    /// [`WorkCalendar::from_toml`]).
    pub fn from_env() -> Result<Self, OversightError> {
        let mut c = Self::default();
        if let Ok(v) = std::env::var("CHOUCHA_DUTY_GPS_THRESHOLD_M") {
            c.gps_threshold_m = v
                .parse::<f64>()
                .ok()
                .filter(|m| *m > 0.0 && m.is_finite())
                .ok_or_else(|| {
                    OversightError::invalid(
                        "CHOUCHA_DUTY_GPS_THRESHOLD_M",
                        format!("must be a positive number of metres, got '{v}'"),
                    )
                })?;
        }
        if let Ok(v) = std::env::var("CHOUCHA_PHASH_MAX_DISTANCE") {
            c.phash_max_distance = v
                .parse::<u32>()
                .ok()
                .filter(|d| *d <= phash::MAX_DISTANCE)
                .ok_or_else(|| {
                    OversightError::invalid(
                        "CHOUCHA_PHASH_MAX_DISTANCE",
                        format!("must be 0..={}, got '{v}'", phash::MAX_DISTANCE),
                    )
                })?;
        }
        if let Ok(v) = std::env::var("CHOUCHA_AUTHORITY") {
            c.authority = v;
        }
        if let Ok(path) = std::env::var("CHOUCHA_CALENDAR_FILE") {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                OversightError::invalid("CHOUCHA_CALENDAR_FILE", format!("{path}: {e}"))
            })?;
            c.calendar.extend_from_toml(&text).map_err(|e| {
                OversightError::invalid("CHOUCHA_CALENDAR_FILE", format!("{path}: {e}"))
            })?;
        }
        Ok(c)
    }
}

/// Failures of the oversight functions.
#[derive(Debug, thiserror::Error)]
pub enum OversightError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Bad input: `field` names what is wrong.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Blob(#[from] BlobStoreError),
    #[error("report could not be produced: {0}")]
    Report(String),
}

impl OversightError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> OversightError {
    OversightError::Corrupt(e.to_string())
}

impl From<OversightError> for ApiError {
    fn from(e: OversightError) -> Self {
        match e {
            OversightError::Store(s) => s.into(),
            OversightError::NotFound(m) => Self::NotFound(m),
            OversightError::Conflict(m) => Self::Conflict(m),
            OversightError::Invalid { field, message } => Self::Unprocessable {
                message: format!("{field}: {message}"),
                details: serde_json::json!({ "field": field }),
            },
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

/// Appends to the console's audit log inside the caller's transaction, so
/// the entry commits with the change or not at all.
pub(crate) async fn audit_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &str,
    action: &str,
    object: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Result<(), OversightError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, object, before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(crate::store::now())
    .bind(actor)
    .bind(action)
    .bind(object)
    .bind(before.map(serde_json::Value::to_string))
    .bind(after.map(serde_json::Value::to_string))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
