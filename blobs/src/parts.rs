//! Where the bytes of unfinished uploads are kept.
//!
//! The [`UploadManager`](super::UploadManager) decides what may be written
//! (offsets, checksums, the whole-blob hash); a [`PartStore`] only keeps
//! the bytes received so far, durably, and says how many it holds. Two
//! kinds exist:
//!
//! * [`LocalParts`]: `<data_dir>/uploads/<hash>.part` files, for a single
//!   server (the SQLite default). The fsynced file length is the offset.
//! * A database-backed store (the server's `DbParts`), for several
//!   instances sharing PostgreSQL: a chunk of an upload may arrive at any
//!   instance, so the part cannot live in one of them.
//!
//! Every store checks the offset itself ([`PartError::Moved`]): within one
//! process the manager's per-hash lock already serialises appends, but
//! across instances only the shared store can.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use choucha_shared::Sha256Hex;

use super::fs::sync_dir;
use super::{BlobSource, BlobStoreError};

/// Why a part store did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    /// The part does not hold the offset the request assumed (another
    /// request appended, finished or discarded it first). Nothing changed.
    #[error("the upload holds {held} bytes, not the offset assumed")]
    Moved { held: u64 },
    /// Reading or writing the part failed; `offset` is the durable offset
    /// after the failure.
    #[error("{op}: {source}")]
    Io {
        op: String,
        offset: u64,
        #[source]
        source: io::Error,
    },
}

impl PartError {
    pub fn io(op: impl Into<String>, offset: u64, source: io::Error) -> Self {
        Self::Io {
            op: op.into(),
            offset,
            source,
        }
    }
}

/// Durable storage of partial uploads. Bytes handed to it are already
/// checked against the chunk's checksum.
#[async_trait]
pub trait PartStore: Send + Sync + fmt::Debug {
    /// Bytes durably held for `hash` (0 when none). A part longer than
    /// `total` cannot be a prefix of the blob: it is discarded and 0 held.
    async fn held(&self, hash: &Sha256Hex, total: u64) -> Result<u64, PartError>;

    /// Appends `chunk` at `at`, which must be exactly what is held
    /// ([`PartError::Moved`] otherwise). Returns the new length, once
    /// durable. On failure nothing past `at` counts as held.
    async fn append(&self, hash: &Sha256Hex, at: u64, chunk: Bytes) -> Result<u64, PartError>;

    /// The complete part of `total` bytes, to hash and store
    /// ([`PartError::Moved`] if it does not hold exactly that).
    async fn source(&self, hash: &Sha256Hex, total: u64) -> Result<BlobSource, PartError>;

    /// Forgets the part (stored, or provably not the blob). Idempotent.
    async fn discard(&self, hash: &Sha256Hex) -> Result<(), PartError>;

    /// Parts nobody has added to since `before`: uploads a device gave up
    /// on (its record amended without that photo, the tablet wiped). At
    /// most `limit`, so one sweep stays short.
    async fn idle_since(
        &self,
        before: SystemTime,
        limit: usize,
    ) -> Result<Vec<Sha256Hex>, PartError>;

    /// Forgets the part if it is still untouched since `before` (an append
    /// that came after it was listed keeps it). Returns whether it did.
    async fn discard_if_idle(
        &self,
        hash: &Sha256Hex,
        before: SystemTime,
    ) -> Result<bool, PartError>;

    /// The part's file, for stores that keep one on local disk.
    fn local_path(&self, _hash: &Sha256Hex) -> Option<PathBuf> {
        None
    }
}

/// Part files in `<data_dir>/uploads`, for a server that owns its data
/// directory alone.
#[derive(Debug, Clone)]
pub struct LocalParts {
    dir: PathBuf,
}

impl LocalParts {
    /// Keeps parts in `<data_dir>/uploads` (created if missing) and resumes
    /// whatever is there.
    pub async fn new(data_dir: impl AsRef<Path>) -> io::Result<Self> {
        let data_dir = data_dir.as_ref().to_owned();
        let dir = data_dir.join("uploads");
        if !tokio::fs::try_exists(&dir).await? {
            tokio::fs::create_dir_all(&dir).await?;
            // Part files are fsynced; their directory must survive a crash too.
            blocking(move || sync_dir(&data_dir).map_err(|e| PartError::io("fsync", 0, io_of(e))))
                .await
                .map_err(io::Error::other)?;
        }
        Ok(Self { dir })
    }

    fn path(&self, hash: &Sha256Hex) -> PathBuf {
        self.dir.join(format!("{hash}.part"))
    }
}

#[async_trait]
impl PartStore for LocalParts {
    async fn held(&self, hash: &Sha256Hex, total: u64) -> Result<u64, PartError> {
        let part = self.path(hash);
        let hash = hash.clone();
        blocking(move || {
            let len = file_len(&part)?;
            if len <= total {
                return Ok(len);
            }
            tracing::warn!(%hash, len, total, "part file longer than the declared total; discarding it");
            fs::remove_file(&part)
                .map_err(|e| PartError::io(format!("remove {}", part.display()), len, e))?;
            Ok(0)
        })
        .await
    }

    async fn append(&self, hash: &Sha256Hex, at: u64, chunk: Bytes) -> Result<u64, PartError> {
        let part = self.path(hash);
        let dir = self.dir.clone();
        blocking(move || {
            let held = file_len(&part)?;
            if held != at {
                return Err(PartError::Moved { held });
            }
            write_at(&part, &dir, at, &chunk)?;
            Ok(at + chunk.len() as u64)
        })
        .await
    }

    async fn source(&self, hash: &Sha256Hex, total: u64) -> Result<BlobSource, PartError> {
        let part = self.path(hash);
        let held = {
            let p = part.clone();
            blocking(move || file_len(&p)).await?
        };
        if held != total {
            return Err(PartError::Moved { held });
        }
        Ok(BlobSource::File(part))
    }

    async fn discard(&self, hash: &Sha256Hex) -> Result<(), PartError> {
        match tokio::fs::remove_file(self.path(hash)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(PartError::io(
                format!("remove {}", self.path(hash).display()),
                0,
                e,
            )),
            _ => Ok(()),
        }
    }

    fn local_path(&self, hash: &Sha256Hex) -> Option<PathBuf> {
        Some(self.path(hash))
    }

    async fn idle_since(
        &self,
        before: SystemTime,
        limit: usize,
    ) -> Result<Vec<Sha256Hex>, PartError> {
        let dir = self.dir.clone();
        blocking(move || {
            let list = |e| PartError::io(format!("list {}", dir.display()), 0, e);
            let mut idle = Vec::new();
            for entry in fs::read_dir(&dir).map_err(list)? {
                let entry = entry.map_err(list)?;
                let name = entry.file_name();
                let Some(hash) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(".part"))
                    .and_then(|h| Sha256Hex::parse(h).ok())
                else {
                    continue;
                };
                // A part removed meanwhile (finished) has nothing to sweep.
                if modified(&entry.path())?.is_some_and(|m| m < before) {
                    idle.push(hash);
                    if idle.len() == limit {
                        break;
                    }
                }
            }
            Ok(idle)
        })
        .await
    }

    async fn discard_if_idle(
        &self,
        hash: &Sha256Hex,
        before: SystemTime,
    ) -> Result<bool, PartError> {
        let part = self.path(hash);
        blocking(move || {
            if modified(&part)?.is_none_or(|m| m >= before) {
                return Ok(false);
            }
            match fs::remove_file(&part) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(PartError::io(format!("remove {}", part.display()), 0, e)),
            }
        })
        .await
    }
}

/// When the part file was last written (`None`: there is none).
fn modified(part: &Path) -> Result<Option<SystemTime>, PartError> {
    match fs::metadata(part).and_then(|m| m.modified()) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PartError::io(format!("stat {}", part.display()), 0, e)),
    }
}

fn file_len(part: &Path) -> Result<u64, PartError> {
    match fs::metadata(part) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(PartError::io(format!("stat {}", part.display()), 0, e)),
    }
}

fn io_of(e: BlobStoreError) -> io::Error {
    match e {
        BlobStoreError::Io { source, .. } => source,
        other => io::Error::other(other),
    }
}

/// Writes verified bytes at `at` and fsyncs. On a failed write the file is
/// cut back to `at`, so the offset does not move.
fn write_at(part: &Path, dir: &Path, at: u64, chunk: &[u8]) -> Result<(), PartError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(part)
        .map_err(|e| PartError::io(format!("open {}", part.display()), at, e))?;
    let written = file
        .seek(SeekFrom::Start(at))
        .and_then(|_| file.write_all(chunk))
        .and_then(|()| file.sync_data());
    if let Err(e) = written {
        let rolled_back = file.set_len(at).and_then(|()| file.sync_data());
        let offset = match rolled_back {
            Ok(()) => at,
            // The bytes that did land came from the verified chunk, so the
            // file is still a correct prefix: resume from its length.
            Err(_) => file.metadata().map_or(at, |m| m.len()),
        };
        return Err(PartError::io(
            format!("write {}", part.display()),
            offset,
            e,
        ));
    }
    if at == 0 {
        // A new file: make its directory entry durable too.
        sync_dir(dir).map_err(|e| PartError::io("fsync uploads directory", at, io_of(e)))?;
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PartError> + Send + 'static,
) -> Result<T, PartError> {
    crate::background::run(f)
        .await
        .map_err(|e| PartError::io("blocking task", 0, io::Error::other(e)))?
}
