//! Capture steps that combine a pipeline with the workflow: a camera photo
//! goes through the photo pipeline (orientation, resize, watermark) before
//! it is stored; a signature pad's strokes are rendered and bound to the
//! record's current content hash. The Tauri commands call these.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use choucha_shared::plan::{MemberRole, TeamMember};
use choucha_shared::record::{PhotoSubject, SignerRole};
use choucha_shared::value::{GeoPoint, Sha256Hex};

use crate::app::{App, PhotoMeta};
use crate::error::CoreError;
use crate::photo::{self, PhotoConfig, Watermark};
use crate::signature::{self, Capture};

impl App {
    /// Runs a raw camera/file image through the photo pipeline, watermarks
    /// it with this inspection's facts and attaches it. Bad input (not an
    /// image, truncated, too large) is refused before anything is stored.
    #[allow(clippy::too_many_arguments)]
    pub fn take_photo(
        &self,
        record_id: &Uuid,
        subject: PhotoSubject,
        raw: &[u8],
        gps: Option<GeoPoint>,
        gps_time: Option<DateTime<Utc>>,
        config: &PhotoConfig,
        now: DateTime<Utc>,
    ) -> Result<Sha256Hex, CoreError> {
        let record = self.record(record_id)?;
        let mark = Watermark {
            taken_at: now,
            gps,
            target_name: record.target_name.clone(),
            officers: officer_names(&record.team),
            task_id: record.task_id.clone(),
        };
        let (jpeg, meta) = watermarked(raw, &mark, gps_time, config)?;
        self.attach_photo(record_id, subject, &jpeg, meta, now)
    }

    /// Renders a signature pad's strokes, bound to the record's current
    /// content hash, and stores it as that person's signature.
    pub fn sign_with_capture(
        &self,
        record_id: &Uuid,
        role: SignerRole,
        person_id: Option<String>,
        name: &str,
        capture: &Capture,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let hash = self.content_hash(record_id)?;
        let image = signature::render(capture, name, role, now, &hash)
            .map_err(|e| CoreError::Refused(e.to_string()))?;
        self.add_signature(record_id, role, person_id, name, &image.png, hash, now)
    }

    /// [`App::take_photo`] for a 复查 record: the watermark names the
    /// target, the team and the 复查 task.
    #[allow(clippy::too_many_arguments)]
    pub fn take_recheck_photo(
        &self,
        record_id: &Uuid,
        subject: PhotoSubject,
        raw: &[u8],
        gps: Option<GeoPoint>,
        gps_time: Option<DateTime<Utc>>,
        config: &PhotoConfig,
        now: DateTime<Utc>,
    ) -> Result<Sha256Hex, CoreError> {
        let record = self.recheck_record(record_id)?;
        let task = self.recheck_task(&record.recheck_id)?;
        let mark = Watermark {
            taken_at: now,
            gps,
            target_name: task.target_name.clone(),
            officers: officer_names(&task.team),
            task_id: task.recheck_id.clone(),
        };
        let (jpeg, meta) = watermarked(raw, &mark, gps_time, config)?;
        self.attach_recheck_photo(record_id, subject, &jpeg, meta, now)
    }

    /// [`App::sign_with_capture`] for a 复查 record.
    pub fn sign_recheck_with_capture(
        &self,
        record_id: &Uuid,
        role: SignerRole,
        person_id: Option<String>,
        name: &str,
        capture: &Capture,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let hash = self.recheck_content_hash(record_id)?;
        let image = signature::render(capture, name, role, now, &hash)
            .map_err(|e| CoreError::Refused(e.to_string()))?;
        self.add_recheck_signature(record_id, role, person_id, name, &image.png, hash, now)
    }
}

/// The raw image through the photo pipeline with `mark`: the JPEG and what
/// is recorded of it. Bad input (not an image, truncated, too large) is
/// refused before anything is stored.
fn watermarked(
    raw: &[u8],
    mark: &Watermark,
    gps_time: Option<DateTime<Utc>>,
    config: &PhotoConfig,
) -> Result<(Vec<u8>, PhotoMeta), CoreError> {
    let processed =
        photo::process(raw, mark, config).map_err(|e| CoreError::Refused(e.to_string()))?;
    let meta = PhotoMeta {
        taken_at: mark.taken_at,
        gps: mark.gps,
        gps_time,
        width: processed.width,
        height: processed.height,
    };
    Ok((processed.jpeg, meta))
}

fn officer_names(team: &[TeamMember]) -> Vec<String> {
    team.iter()
        .filter(|m| m.role == MemberRole::Officer)
        .map(|m| m.name.clone())
        .collect()
}
