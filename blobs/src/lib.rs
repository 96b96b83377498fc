//! Evidence blobs (photos, signature images): content-addressed storage and
//! resumable uploads.
//!
//! Two layers, kept apart on purpose:
//!
//! * [`BlobStore`] holds *complete, verified* blobs named by their SHA-256.
//!   It never sees a partial upload, so a reader can never observe half a
//!   photo: the filesystem store writes a temporary file, fsyncs it and
//!   renames it into place ([`FsBlobStore`]); the S3 store relies on the
//!   object store's atomic PUT ([`S3BlobStore`]).
//! * [`UploadManager`] receives blobs in chunks, tus-style, and keeps the
//!   bytes so far in a [`PartStore`]: on a single server the local disk
//!   (`<data_dir>/uploads/<hash>.part`, [`LocalParts`]), with several
//!   instances the shared database, because appending to an S3 object is
//!   not a thing and the next chunk may reach another instance. The part's
//!   durable length *is* the upload offset — there is no second record that
//!   could disagree with it — so after a crash or restart the offset is
//!   whatever is held, and every offset ever acknowledged to a client is.
//!
//! Faults are designed in, not bolted on: a chunk with the wrong offset or
//! checksum changes nothing; a failed local write (disk full) is rolled back
//! to the previous offset; a failed blob-store write at the end keeps the
//! complete part file so the client only has to ask again to finish, without
//! re-sending a byte. Only a whole-blob hash mismatch discards data, because
//! then the bytes are provably not the blob the client named.

mod background;
mod fs;
mod parts;
mod s3;
mod upload;

use std::fmt;
use std::io;
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use choucha_shared::Sha256Hex;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

pub use fs::FsBlobStore;
pub use parts::{LocalParts, PartError, PartStore};
pub use s3::{S3BlobStore, S3Config};
pub use upload::{DEFAULT_MAX_BLOB_BYTES, UploadError, UploadLimits, UploadManager, UploadState};

/// Where the bytes of a verified blob come from when it is stored.
#[derive(Debug, Clone)]
pub enum BlobSource {
    /// A complete, fsynced file on the local disk (an upload's part file).
    /// The store may move it into place (the filesystem store renames it
    /// when it is on the same filesystem) or copy it; either way the caller
    /// removes it afterwards if it is still there.
    File(PathBuf),
    /// Bytes already in memory.
    Bytes(Bytes),
}

/// A stored blob, ready to be streamed to a client.
pub struct BlobBody {
    /// Size in bytes (for `Content-Length`).
    pub size: u64,
    /// The content, in chunks.
    pub stream: BoxStream<'static, io::Result<Bytes>>,
}

impl fmt::Debug for BlobBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobBody")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl BlobBody {
    /// Collects the whole blob into memory (blobs are bounded by
    /// [`UploadLimits::max_blob_bytes`], so this is safe for them).
    pub async fn into_bytes(self) -> io::Result<Bytes> {
        let capacity = usize::try_from(self.size).unwrap_or(0);
        let chunks: Vec<Bytes> = self.stream.try_collect().await?;
        let mut all = Vec::with_capacity(capacity);
        for chunk in chunks {
            all.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(all))
    }
}

/// Why the blob store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BlobStoreError {
    /// Local filesystem failure; `op` says what was being done.
    #[error("证据文件存储读写失败：{op} (blob storage I/O failed: {op}: {source})")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },
    /// The object store (S3) failed or could not be reached.
    #[error("对象存储不可用 (object store failed: {0})")]
    ObjectStore(#[from] object_store::Error),
    /// The store's configuration is unusable.
    #[error("证据文件存储配置无效：{0} (invalid blob store configuration)")]
    Config(String),
}

impl BlobStoreError {
    pub(crate) fn io(op: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            op: op.into(),
            source,
        }
    }

    /// Whether the failure is a full disk or exhausted quota: the client
    /// should be told to retry later, and an operator needs to act.
    pub fn is_storage_full(&self) -> bool {
        match self {
            Self::Io { source, .. } => is_storage_full(source),
            _ => false,
        }
    }
}

pub(crate) fn is_storage_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// Storage for complete, verified blobs, addressed by SHA-256.
///
/// Implementations must make [`put_verified`](Self::put_verified) atomic: a
/// blob is either absent or complete, never partial, whatever crashes when.
/// Storing a blob that is already there is a harmless no-op or overwrite
/// with identical bytes.
#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Whether the blob is stored.
    async fn exists(&self, hash: &Sha256Hex) -> Result<bool, BlobStoreError> {
        Ok(self.size(hash).await?.is_some())
    }

    /// Stores a blob whose content the caller has already verified to hash
    /// to `hash`. Returns once the blob is durable.
    async fn put_verified(
        &self,
        hash: &Sha256Hex,
        source: BlobSource,
    ) -> Result<(), BlobStoreError>;

    /// The blob's content, or `None` if it is not stored.
    async fn get(&self, hash: &Sha256Hex) -> Result<Option<BlobBody>, BlobStoreError>;

    /// The blob's size in bytes, or `None` if it is not stored.
    async fn size(&self, hash: &Sha256Hex) -> Result<Option<u64>, BlobStoreError>;

    /// Removes the blob; whether it was there. Only the garbage collection
    /// of blobs no record names calls this: evidence is otherwise kept for
    /// good.
    async fn delete(&self, hash: &Sha256Hex) -> Result<bool, BlobStoreError>;

    /// The whole blob in memory, or `None` if it is not stored.
    async fn read_all(&self, hash: &Sha256Hex) -> Result<Option<Bytes>, BlobStoreError> {
        match self.get(hash).await? {
            None => Ok(None),
            Some(body) => body
                .into_bytes()
                .await
                .map(Some)
                .map_err(|e| BlobStoreError::io(format!("read blob {hash}"), e)),
        }
    }
}

/// Maps an object-store error stream into `io::Error`s for HTTP bodies.
pub(crate) fn io_stream(
    stream: BoxStream<'static, object_store::Result<Bytes>>,
) -> BoxStream<'static, io::Result<Bytes>> {
    stream.map_err(io::Error::other).boxed()
}

/// The S3 fan-out key of a blob: `ab/cd/abcd…`, so no key-prefix listing
/// holds more than a few hundred thousand entries. (The filesystem store
/// uses one level; see `fs.rs` for why.)
pub(crate) fn fan_out(hash: &Sha256Hex) -> [&str; 3] {
    let h = hash.as_str();
    [&h[0..2], &h[2..4], h]
}
