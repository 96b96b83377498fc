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

/// Appends to the audit log inside the caller's transaction, so the entry
/// commits with the change or not at all.
pub(crate) async fn audit_tx(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &crate::store::Actor,
    action: &str,
    object: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Result<(), OversightError> {
    crate::store::audit::append(
        tx,
        crate::store::Change {
            actor,
            action,
            object: object.to_owned(),
            before: before.cloned(),
            after: after.cloned(),
        },
    )
    .await?;
    Ok(())
}
