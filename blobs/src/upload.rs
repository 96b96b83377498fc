//! Resumable, checksummed uploads (the tus model without HTTP).
//!
//! One upload per blob hash, its bytes so far kept by a [`PartStore`]
//! (part files on local disk for one server, the database for several). The
//! protocol a client follows:
//!
//! 1. [`UploadManager::offset`] (HEAD): how many bytes the server holds, or
//!    [`UploadState::Complete`] if the blob is already stored. A client
//!    that never sent any of a blob skips this and sends from 0: a server
//!    that does hold part of it answers 409 with its offset.
//! 2. [`UploadManager::append`] (PATCH) from exactly that offset, with the
//!    chunk's SHA-256. A wrong offset or checksum changes nothing and says
//!    why; on success the chunk is durable before the new offset is returned.
//! 3. The append that reaches the declared total verifies the whole part's
//!    SHA-256 and moves it into the [`BlobStore`]. If the store fails the
//!    part stays complete; an empty append at `offset == total` or
//!    [`UploadManager::finish`] retries only that last step. A blob sent
//!    whole in one append skips the part: it goes from memory to the
//!    store, and only lands in a part if the store fails.
//!
//! Why the part's length is the only offset record: it cannot disagree
//! with itself. Every acknowledged offset was made durable first, so a
//! restart resumes at or after it. A crash *during* a local write may leave
//! a longer file whose tail the client never saw acknowledged; those bytes
//! came from a checksum-verified chunk so they are normally right, and if a
//! filesystem left garbage instead, the whole-blob hash catches it and the
//! client starts that blob again. A part longer than the declared total
//! cannot belong to the blob and is discarded.
//!
//! Appends to one hash are serialised within a process by a per-hash async
//! mutex held until the part store's step has finished — even if the
//! request future is dropped mid-way (a client hanging up), so a retry can
//! never interleave with a write still running. Across server instances the
//! part store itself refuses an append that does not start at what it holds
//! ([`PartError::Moved`]), so two instances can never write at one offset.

use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, PoisonError, Weak};

use bytes::Bytes;
use choucha_shared::Sha256Hex;
use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::parts::{LocalParts, PartError, PartStore};
use super::{BlobSource, BlobStore, BlobStoreError, is_storage_full};

/// Default largest blob accepted: 25 MiB (a full-resolution phone photo is
/// 3–12 MB; signature images are tiny).
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 25 * 1024 * 1024;

/// Limits on uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest declared total accepted, in bytes.
    pub max_blob_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_blob_bytes: DEFAULT_MAX_BLOB_BYTES,
        }
    }
}

/// Where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UploadState {
    /// The server durably holds the first `offset` bytes of `total`.
    /// `offset == total` means every byte arrived but storing the blob has
    /// not succeeded yet: append an empty chunk at `total` (or call
    /// [`UploadManager::finish`]) to retry that step.
    InProgress { offset: u64, total: u64 },
    /// The blob is stored and verified; nothing more to send.
    Complete { size: u64 },
}

impl UploadState {
    /// The offset to send from next (the size, once complete).
    pub fn offset(&self) -> u64 {
        match *self {
            Self::InProgress { offset, .. } => offset,
            Self::Complete { size } => size,
        }
    }

    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Complete { .. })
    }
}

/// Why an upload request was refused. Every variant except
/// [`HashMismatch`](Self::HashMismatch) leaves the stored bytes as they were.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(
        "文件过大：声明 {declared} 字节，上限 {limit} 字节 \
         (blob too large: {declared} bytes declared, limit is {limit} bytes)"
    )]
    TooLarge { declared: u64, limit: u64 },

    #[error(
        "上传偏移量不符：服务器已有 {expected} 字节，请求从 {given} 开始，请从 {expected} 续传 \
         (offset mismatch: the server holds {expected} bytes, the request starts at {given}; \
         resume from {expected})"
    )]
    OffsetMismatch { expected: u64, given: u64 },

    #[error(
        "分块校验和不符，该分块未写入，请重发 \
         (chunk checksum mismatch: declared {declared}, received bytes hash to {actual}; \
         nothing was written, resend the chunk)"
    )]
    ChunkChecksum {
        declared: Sha256Hex,
        actual: Sha256Hex,
    },

    #[error(
        "分块超出声明的文件大小：结束于 {end} 字节，文件共 {total} 字节 \
         (chunk ends at byte {end}, beyond the declared total of {total} bytes)"
    )]
    BeyondTotal { end: u64, total: u64 },

    #[error(
        "文件整体哈希不符，已丢弃本次上传，请重新上传该文件 \
         (whole-blob hash mismatch: expected {expected}, received bytes hash to {actual}; \
         the upload was discarded, upload the blob again from offset 0)"
    )]
    HashMismatch {
        expected: Sha256Hex,
        actual: Sha256Hex,
    },

    #[error(
        "证据文件已全部收到但暂时无法保存，数据已保留，请稍后重试完成上传，无需重发 \
         (all {total} bytes arrived and are kept, but the blob store failed; \
         retry finishing later without resending: {source})"
    )]
    StoreFailed {
        total: u64,
        #[source]
        source: BlobStoreError,
    },

    #[error(
        "服务器写入上传数据失败，请稍后从 {offset} 字节处续传 \
         (the server could not write the upload: {op}; resume from offset {offset} later)"
    )]
    PartIo {
        op: String,
        /// The durable offset after the failure: where to resume.
        offset: u64,
        #[source]
        source: io::Error,
    },
}

impl UploadError {
    /// A stable machine-readable code for the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "blob_too_large",
            Self::OffsetMismatch { .. } => "offset_mismatch",
            Self::ChunkChecksum { .. } => "checksum_mismatch",
            Self::BeyondTotal { .. } => "beyond_total",
            Self::HashMismatch { .. } => "hash_mismatch",
            Self::StoreFailed { .. } => "store_unavailable",
            Self::PartIo { .. } => "upload_io",
        }
    }

    /// The HTTP status this error should be answered with. 460 is tus's
    /// "Checksum Mismatch"; 507 when the server's storage is full.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::OffsetMismatch { .. } => StatusCode::CONFLICT,
            Self::ChunkChecksum { .. } => {
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::BeyondTotal { .. } => StatusCode::BAD_REQUEST,
            Self::HashMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::StoreFailed { source, .. } if source.is_storage_full() => {
                StatusCode::INSUFFICIENT_STORAGE
            }
            Self::PartIo { source, .. } if is_storage_full(source) => {
                StatusCode::INSUFFICIENT_STORAGE
            }
            Self::StoreFailed { .. } | Self::PartIo { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether the client may retry the same request later unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::StoreFailed { .. } | Self::PartIo { .. })
    }

    /// Machine-readable details for the JSON body: what the client needs to
    /// act (the limit, the offset to resume from). Internal error text is
    /// left out.
    pub fn details(&self) -> Value {
        match self {
            Self::TooLarge { declared, limit } => {
                json!({ "limit": limit, "declared": declared })
            }
            Self::OffsetMismatch { expected, given } => {
                json!({ "offset": expected, "given": given })
            }
            Self::ChunkChecksum { declared, actual } => {
                json!({ "declared": declared, "actual": actual })
            }
            Self::BeyondTotal { end, total } => json!({ "end": end, "total": total }),
            Self::HashMismatch { expected, actual } => {
                json!({ "expected": expected, "actual": actual, "offset": 0 })
            }
            Self::StoreFailed { total, .. } => json!({ "offset": total, "total": total }),
            Self::PartIo { offset, .. } => json!({ "offset": offset }),
        }
    }
}

/// Receives blobs in chunks and hands complete, verified ones to a
/// [`BlobStore`]. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct UploadManager {
    parts: Arc<dyn PartStore>,
    store: Arc<dyn BlobStore>,
    limits: UploadLimits,
    locks: StdMutex<HashMap<Sha256Hex, Weak<Mutex<()>>>>,
    /// Bounds the whole blobs being hashed and stored at once (see
    /// [`STORING_AT_ONCE`]).
    storing: tokio::sync::Semaphore,
}

/// Whole blobs hashed and stored at the same time. With one per request,
/// 200 devices uploading at once ran 200 blocking threads that hashed and
/// created files side by side: the cores went to switching between them and
/// a device's pull waited behind them. A few in flight keep the disk's
/// fsync queue busy just as well.
const STORING_AT_ONCE: usize = 8;

/// Idle parts listed at a time by [`UploadManager::sweep_idle`].
const SWEEP_BATCH: usize = 500;

impl UploadManager {
    /// Keeps partial uploads in `<data_dir>/uploads` ([`LocalParts`]):
    /// the single-server layout.
    pub async fn new(
        data_dir: impl AsRef<Path>,
        store: Arc<dyn BlobStore>,
        limits: UploadLimits,
    ) -> io::Result<Self> {
        let parts = LocalParts::new(data_dir).await?;
        Ok(Self::with_parts(Arc::new(parts), store, limits))
    }

    /// Keeps partial uploads in `parts` (shared by several instances, for
    /// one).
    pub fn with_parts(
        parts: Arc<dyn PartStore>,
        store: Arc<dyn BlobStore>,
        limits: UploadLimits,
    ) -> Self {
        Self {
            parts,
            store,
            limits,
            locks: StdMutex::new(HashMap::new()),
            storing: tokio::sync::Semaphore::new(STORING_AT_ONCE),
        }
    }

    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.store
    }

    pub fn limits(&self) -> UploadLimits {
        self.limits
    }

    /// Uploads a request is working on right now (each holds its blob's
    /// lock), for the `/metrics` gauge.
    pub fn in_flight(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    /// The part file of an upload (whether or not it exists), when parts
    /// are kept on local disk.
    pub fn part_path(&self, hash: &Sha256Hex) -> Option<PathBuf> {
        self.parts.local_path(hash)
    }

    /// Forgets the parts of uploads nobody has added to for `idle` (a device
    /// that gave up on a photo, a wiped tablet), so they do not fill the
    /// disk or the database for ever. Each is rechecked under its lock, so
    /// an upload that moved since it was listed is kept; one resumed after
    /// its part went is told to start from 0. Returns how many went.
    pub async fn sweep_idle(&self, idle: std::time::Duration) -> Result<usize, UploadError> {
        let before = std::time::SystemTime::now()
            .checked_sub(idle)
            .unwrap_or(std::time::UNIX_EPOCH);
        let mut swept = 0;
        loop {
            let batch = self
                .parts
                .idle_since(before, SWEEP_BATCH)
                .await
                .map_err(|e| part_error(e, 0))?;
            let full = batch.len() == SWEEP_BATCH;
            let mut gone = 0;
            for hash in batch {
                let guard = self.lock(&hash).await;
                let parts = self.parts.clone();
                let h = hash.clone();
                let went = detached(guard, async move {
                    parts
                        .discard_if_idle(&h, before)
                        .await
                        .map_err(|e| part_error(e, 0))
                })
                .await?;
                if went {
                    tracing::info!(%hash, "removed the part of an upload idle for {idle:?}");
                    gone += 1;
                }
            }
            swept += gone;
            // A full batch of which none went (all moved meanwhile) would
            // list the same again: stop, the next sweep retries.
            if !full || gone == 0 {
                return Ok(swept);
            }
        }
    }

    /// HEAD: where the upload of `hash` (of `declared_total` bytes) stands.
    pub async fn offset(
        &self,
        hash: &Sha256Hex,
        declared_total: u64,
    ) -> Result<UploadState, UploadError> {
        self.check_limit(declared_total)?;
        let guard = self.lock(hash).await;
        if let Some(size) = self.stored_size(hash).await {
            self.discard_part(hash, guard).await;
            return Ok(UploadState::Complete { size });
        }
        let offset = self.held(hash, declared_total, guard).await?;
        Ok(UploadState::InProgress {
            offset,
            total: declared_total,
        })
    }

    /// PATCH: appends `chunk` at `offset`. `chunk_sha256` is the SHA-256 of
    /// `chunk`. The returned offset is durable. The append that reaches
    /// `declared_total` (or an empty one at `offset == declared_total`)
    /// verifies and stores the blob.
    pub async fn append(
        &self,
        hash: &Sha256Hex,
        declared_total: u64,
        offset: u64,
        chunk: Bytes,
        chunk_sha256: &Sha256Hex,
    ) -> Result<UploadState, UploadError> {
        self.check_limit(declared_total)?;
        let guard = self.lock(hash).await;
        let current = self.held(hash, declared_total, guard.clone()).await?;
        let end = offset.saturating_add(chunk.len() as u64);
        if current == 0 && offset == 0 && end == declared_total && end > 0 {
            // The whole blob at once, the common case. Whether it is stored
            // already is not asked first: storing is idempotent (the store
            // keeps what it has), and asking cost a round trip to the
            // blocking pool per photo.
            let state = self
                .store_whole(hash, chunk, chunk_sha256, guard.clone())
                .await;
            drop(guard);
            return state;
        }
        if current == 0 {
            if let Some(size) = self.stored_size(hash).await {
                return Ok(UploadState::Complete { size });
            }
        }
        if offset != current {
            return Err(UploadError::OffsetMismatch {
                expected: current,
                given: offset,
            });
        }
        if end > declared_total {
            return Err(UploadError::BeyondTotal {
                end,
                total: declared_total,
            });
        }
        verify_chunk(chunk.clone(), chunk_sha256).await?;
        let parts = self.parts.clone();
        let h = hash.clone();
        detached(guard.clone(), async move {
            parts
                .append(&h, current, chunk)
                .await
                .map_err(|e| part_error(e, offset))
        })
        .await?;
        if end == declared_total {
            let state = self.finalize(hash, declared_total).await;
            drop(guard);
            state
        } else {
            Ok(UploadState::InProgress {
                offset: end,
                total: declared_total,
            })
        }
    }

    /// Retries the last step of an upload whose bytes have all arrived
    /// (after [`UploadError::StoreFailed`]). An upload that is not complete
    /// is left alone and its state returned.
    pub async fn finish(
        &self,
        hash: &Sha256Hex,
        declared_total: u64,
    ) -> Result<UploadState, UploadError> {
        let state = self.offset(hash, declared_total).await?;
        match state {
            UploadState::InProgress { offset, total } if offset == total => {
                let empty = Sha256Hex::of(&[]);
                self.append(hash, total, total, Bytes::new(), &empty).await
            }
            other => Ok(other),
        }
    }

    fn check_limit(&self, declared_total: u64) -> Result<(), UploadError> {
        let limit = self.limits.max_blob_bytes;
        if declared_total > limit {
            Err(UploadError::TooLarge {
                declared: declared_total,
                limit,
            })
        } else {
            Ok(())
        }
    }

    async fn lock(&self, hash: &Sha256Hex) -> Guard {
        let mutex = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            match locks.get(hash).and_then(Weak::upgrade) {
                Some(m) => m,
                None => {
                    if locks.len() >= 1024 {
                        locks.retain(|_, m| m.strong_count() > 0);
                    }
                    let m = Arc::new(Mutex::new(()));
                    locks.insert(hash.clone(), Arc::downgrade(&m));
                    m
                }
            }
        };
        Guard {
            _held: Arc::new(mutex.lock_owned().await),
        }
    }

    /// The stored blob's size, if stored. A store that cannot be asked is
    /// treated as "not stored": the upload proceeds in the part store and
    /// the blob store is needed only at the end.
    async fn stored_size(&self, hash: &Sha256Hex) -> Option<u64> {
        match self.store.size(hash).await {
            Ok(size) => size,
            Err(e) => {
                tracing::warn!(%hash, error = %e, "blob store unavailable; continuing the upload");
                None
            }
        }
    }

    /// The durable offset the part store holds.
    async fn held(
        &self,
        hash: &Sha256Hex,
        declared_total: u64,
        guard: Guard,
    ) -> Result<u64, UploadError> {
        let parts = self.parts.clone();
        let h = hash.clone();
        detached(guard, async move {
            parts
                .held(&h, declared_total)
                .await
                .map_err(|e| part_error(e, 0))
        })
        .await
    }

    async fn discard_part(&self, hash: &Sha256Hex, guard: Guard) {
        let parts = self.parts.clone();
        let h = hash.clone();
        let _ = detached(guard, async move {
            if let Err(e) = parts.discard(&h).await {
                tracing::warn!(hash = %h, error = %e, "could not remove a finished upload's part");
            }
            Ok(())
        })
        .await;
    }

    /// A whole blob in one request: checked in memory and handed straight
    /// to the store, without a part. Most photos fit in one chunk, and
    /// this halves the fsyncs per blob (the store's file and directory
    /// only), which is what bounds upload throughput. If the store fails,
    /// the bytes are kept as a complete part so the client can finish later
    /// without resending them.
    async fn store_whole(
        &self,
        hash: &Sha256Hex,
        chunk: Bytes,
        chunk_sha256: &Sha256Hex,
        guard: Guard,
    ) -> Result<UploadState, UploadError> {
        let total = chunk.len() as u64;
        // Never closed, so acquiring only waits.
        let _turn = self.storing.acquire().await.ok();
        let actual = verify_chunk(chunk.clone(), chunk_sha256).await?;
        if actual != *hash {
            return Err(UploadError::HashMismatch {
                expected: hash.clone(),
                actual,
            });
        }
        match self
            .store
            .put_verified(hash, BlobSource::Bytes(chunk.clone()))
            .await
        {
            Ok(()) => Ok(UploadState::Complete { size: total }),
            Err(source) => {
                let parts = self.parts.clone();
                let h = hash.clone();
                detached(guard, async move {
                    parts
                        .append(&h, 0, chunk)
                        .await
                        .map_err(|e| part_error(e, 0))
                })
                .await?;
                Err(UploadError::StoreFailed { total, source })
            }
        }
    }

    /// Verifies the complete part and moves it into the store. Called with
    /// the hash's lock held (by the caller's guard).
    async fn finalize(&self, hash: &Sha256Hex, total: u64) -> Result<UploadState, UploadError> {
        let source = if total == 0 {
            BlobSource::Bytes(Bytes::new())
        } else {
            match self.parts.source(hash, total).await {
                Ok(source) => source,
                // Another instance finished this upload first (or it was
                // discarded under us): say where things stand.
                Err(PartError::Moved { held }) => {
                    return match self.stored_size(hash).await {
                        Some(size) => Ok(UploadState::Complete { size }),
                        None => Err(UploadError::OffsetMismatch {
                            expected: held,
                            given: total,
                        }),
                    };
                }
                Err(e) => return Err(part_error(e, total)),
            }
        };
        let actual = match &source {
            BlobSource::Bytes(bytes) => {
                let b = bytes.clone();
                blocking(move || Ok(Sha256Hex::of(&b))).await?
            }
            BlobSource::File(path) => {
                let p = path.clone();
                blocking(move || hash_file(&p).map_err(|e| part_io("hash the part file", total, e)))
                    .await?
            }
        };
        if actual != *hash {
            if let Err(e) = self.parts.discard(hash).await {
                tracing::warn!(%hash, error = %e, "could not discard a part that is not its blob");
            }
            return Err(UploadError::HashMismatch {
                expected: hash.clone(),
                actual,
            });
        }
        self.store
            .put_verified(hash, source)
            .await
            .map_err(|source| UploadError::StoreFailed { total, source })?;
        if let Err(e) = self.parts.discard(hash).await {
            // Stored already; the leftover part is removed at the next HEAD.
            tracing::warn!(%hash, error = %e, "could not remove a stored upload's part");
        }
        Ok(UploadState::Complete { size: total })
    }
}

/// The per-hash lock, shareable so that each step can hold it.
#[derive(Clone)]
struct Guard {
    _held: Arc<OwnedMutexGuard<()>>,
}

/// Runs a part-store step as a task of its own that holds the hash's lock
/// until the step is done — even if the request future is dropped mid-way
/// (a client hanging up), so a retry never interleaves with a write still
/// running.
async fn detached<T: Send + 'static>(
    guard: Guard,
    step: impl Future<Output = Result<T, UploadError>> + Send + 'static,
) -> Result<T, UploadError> {
    tokio::spawn(async move {
        let _held = guard;
        step.await
    })
    .await
    .map_err(|e| part_io("upload task", 0, io::Error::other(e)))?
}

fn part_error(e: PartError, given: u64) -> UploadError {
    match e {
        PartError::Moved { held } => UploadError::OffsetMismatch {
            expected: held,
            given,
        },
        PartError::Io { op, offset, source } => UploadError::PartIo { op, offset, source },
    }
}

fn part_io(op: impl Into<String>, offset: u64, source: io::Error) -> UploadError {
    UploadError::PartIo {
        op: op.into(),
        offset,
        source,
    }
}

/// Hashes the chunk off the async workers and checks it against the
/// declared checksum; returns the hash.
async fn verify_chunk(chunk: Bytes, declared: &Sha256Hex) -> Result<Sha256Hex, UploadError> {
    let actual = blocking(move || Ok(Sha256Hex::of(&chunk))).await?;
    if actual != *declared {
        return Err(UploadError::ChunkChecksum {
            declared: declared.clone(),
            actual,
        });
    }
    Ok(actual)
}

fn hash_file(path: &Path) -> io::Result<Sha256Hex> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1024 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Sha256Hex::from_digest(hasher.finalize().into()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UploadError> + Send + 'static,
) -> Result<T, UploadError> {
    crate::background::run(f)
        .await
        .map_err(|e| part_io("blocking task", 0, io::Error::other(e)))?
}
