//! Oversight by the quality section (质量科): the rules and renderings
//! behind what the console shows and exports, as functions over data the
//! [`Store`](choucha_store::Store) reads. The store owns every query and the
//! `oversight_*` projection they read (kept current in the same transaction
//! as each write, see `store::projection`); what is here computes.
//!
//! * [`duty`] — proof-of-duty flags (证实履职到位) of a record, with
//!   [`phash`], the perceptual photo hash behind "the same photo used in
//!   another inspection", and the background checker that keeps the
//!   queue's flag counts.
//! * [`disclosure`] — the result a record suggests, the publication
//!   deadline list and the streamed feeds of the public register (一公开).
//! * [`reports`] — the town summary as XLSX/CSV and the per-inspection PDF.
//!
//! It may not touch SQL or HTTP: it reads through [`Sources`] (the store and
//! the blob store) and writes only through the proof-of-duty checker.

pub mod disclosure;
pub mod duty;
pub mod phash;
pub mod register;
pub mod reports;

use choucha_shared::calendar::WorkCalendar;

use choucha_blobs::BlobStoreError;
use choucha_store::{Store, StoreError};

/// Where the checks read from: the server's store and its evidence blobs.
/// The server's state implements it; a test may bring its own.
pub trait Sources {
    fn store(&self) -> &Store;
    fn blobs(&self) -> std::sync::Arc<dyn choucha_blobs::BlobStore>;
}

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

/// Today's date where the inspections happen (China Standard Time): a
/// record inspected "today" must not count as late before the day is over
/// locally.
pub fn today_cst() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}
