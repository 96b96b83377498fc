//! Evidence nothing names: the per-device quota of such uploads, and the
//! clean-up of what is left — unfinished uploads nobody added to for
//! `upload_idle`, and finished blobs no record, question or escalation
//! named within `blob_grace`. The server runs the clean-up hourly on every
//! instance (`choucha-server serve`); `choucha-server gc` runs it once.
//! Every removal is logged with the blob's hash and size.

use serde::Serialize;

use super::{ServiceError, ServiceResult};
use crate::AppState;
use crate::store::UploadAdmission;
use choucha_shared::value::Sha256Hex;

/// Checked when a device begins an upload (its first chunk): an unnamed
/// blob that would take the device past its quota is refused, with the
/// numbers, before a byte of it is kept.
pub async fn admit(
    state: &AppState,
    device_id: &str,
    sha256: &Sha256Hex,
    total: u64,
) -> ServiceResult<()> {
    let limits = state.evidence;
    let idle_before = std::time::SystemTime::now() - limits.upload_idle;
    match state
        .store
        .admit_upload(
            device_id,
            sha256,
            total,
            limits.device_unnamed_quota,
            idle_before,
        )
        .await?
    {
        UploadAdmission::Named | UploadAdmission::Admitted { .. } => Ok(()),
        UploadAdmission::OverQuota { used, quota } => {
            tracing::warn!(device_id, %sha256, total, used, quota, "upload refused: unnamed evidence over the device's quota");
            Err(ServiceError::QuotaExceeded {
                message: format!(
                    "本设备已上传但尚无检查记录引用的文件共 {}，再传此文件（{}）将超过上限 {}：请先同步检查记录，仍有问题请联系质量科 \
                     (this device's uploads that no record names would exceed its quota)",
                    mib(used),
                    mib(total),
                    mib(quota)
                ),
                used,
                quota,
            })
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// What one clean-up removed, and what it could not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanUp {
    /// Unfinished uploads whose parts were removed.
    pub parts_removed: usize,
    /// Finished blobs nothing named, removed.
    pub blobs_removed: usize,
    pub bytes_removed: u64,
    /// Blobs forgotten by the database whose bytes could not be deleted
    /// (named, with why, in the log); a later run does not find them again.
    pub failures: Vec<String>,
}

/// Sweeps idle uploads and collects unnamed blobs older than the grace
/// period, batch by batch until none is left. A failure on one blob is
/// logged and counted; the rest go on.
pub async fn clean_up(
    state: &AppState,
    upload_idle: std::time::Duration,
    blob_grace: std::time::Duration,
) -> ServiceResult<CleanUp> {
    let mut report = CleanUp {
        parts_removed: state
            .uploads
            .sweep_idle(upload_idle)
            .await
            .map_err(|e| ServiceError::Internal(format!("sweeping idle uploads: {e}")))?,
        ..CleanUp::default()
    };
    let now = std::time::SystemTime::now();
    loop {
        let round = state
            .store
            .collect_unnamed_blobs(now - blob_grace, now - upload_idle)
            .await?;
        if round.blobs.is_empty() {
            break;
        }
        for (sha, bytes) in round.blobs {
            match state.uploads.store().delete(&sha).await {
                Ok(was_there) => {
                    tracing::info!(%sha, bytes, was_there, grace_hours = blob_grace.as_secs() / 3600, "collected an evidence file nothing names");
                    report.blobs_removed += 1;
                    report.bytes_removed += bytes;
                }
                Err(e) => {
                    tracing::warn!(%sha, bytes, error = %e, "an evidence file nothing names could not be deleted");
                    report.failures.push(format!("{sha}: {e}"));
                }
            }
        }
    }
    if report.parts_removed + report.blobs_removed + report.failures.len() > 0 {
        tracing::info!(
            parts = report.parts_removed,
            blobs = report.blobs_removed,
            bytes = report.bytes_removed,
            failures = report.failures.len(),
            "evidence clean-up done"
        );
    }
    Ok(report)
}
