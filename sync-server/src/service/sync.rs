//! The device's side of sync: a push of log entries, a blob whose last
//! byte arrived. Counted for `/metrics` here, once, whatever transport
//! carries them.

use bytes::Bytes;

use choucha_checklists::Catalogue;
use choucha_shared::sync::{EntryVerdict, LogEntry, PushResponse};
use choucha_shared::value::Sha256Hex;

use super::ServiceResult;
use crate::AppState;
use crate::blobs::{UploadError, UploadState};
use crate::observe::metrics;
use crate::store::{BlobRegistrar, DeviceCtx, Store};

/// Stores a device's batch exactly once (see `crate::store::sync`): the
/// answer says per entry what happened, and is sent only after commit.
#[tracing::instrument(skip_all, fields(device = %device.device_id, entries = entries.len()))]
pub async fn push(
    store: &Store,
    device: &DeviceCtx,
    entries: &[LogEntry],
    catalogue: &Catalogue,
) -> ServiceResult<PushResponse> {
    let resp = store.push(device, entries, catalogue).await?;
    let m = metrics();
    m.pushes.inc();
    let stored = resp
        .results
        .iter()
        .filter(|r| matches!(r.verdict, EntryVerdict::Stored))
        .count();
    m.entries.inc_by(stored as u64);
    Ok(resp)
}

/// A chunk of `bytes` was accepted for a blob upload.
pub fn chunk_accepted(bytes: usize) {
    metrics().blob_bytes.inc_by(bytes as u64);
}

/// A blob is complete and verified: the records naming it may become
/// complete (registered in grouped commits by the registrar).
#[tracing::instrument(skip_all, fields(sha256 = %sha256))]
pub async fn blob_arrived(
    registrar: &BlobRegistrar,
    sha256: &Sha256Hex,
    bytes: u64,
) -> ServiceResult<()> {
    registrar.register(sha256, bytes).await?;
    metrics().blobs.inc();
    Ok(())
}

/// Where one blob's upload stands after a request about it: its state, or
/// why the upload refused the request (told to the device as such).
#[derive(Debug)]
pub enum BlobStep {
    State(UploadState),
    Refused(UploadError),
}

/// HEAD: how much of a blob the server durably holds. A blob found
/// complete is registered (again, which is harmless): a registration lost
/// to a crash after the blob was stored is made good by the device asking.
pub async fn blob_query(
    state: &AppState,
    sha256: &Sha256Hex,
    total: u64,
) -> ServiceResult<BlobStep> {
    match state.uploads.offset(sha256, total).await {
        Ok(s) => {
            if let UploadState::Complete { size } = s {
                blob_arrived(&state.blob_registrar, sha256, size).await?;
            }
            Ok(BlobStep::State(s))
        }
        Err(e) => Ok(BlobStep::Refused(e)),
    }
}

/// PATCH: a chunk at `offset` of a blob of `total` bytes (`checksum` over
/// the chunk). The chunk that completes the blob registers it.
pub async fn blob_chunk(
    state: &AppState,
    sha256: &Sha256Hex,
    total: u64,
    offset: u64,
    chunk: Bytes,
    checksum: &Sha256Hex,
) -> ServiceResult<BlobStep> {
    let len = chunk.len();
    match state
        .uploads
        .append(sha256, total, offset, chunk, checksum)
        .await
    {
        Ok(s) => {
            chunk_accepted(len);
            if let UploadState::Complete { size } = s {
                blob_arrived(&state.blob_registrar, sha256, size).await?;
            }
            Ok(BlobStep::State(s))
        }
        Err(e) => Ok(BlobStep::Refused(e)),
    }
}
