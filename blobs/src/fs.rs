//! Blobs as files on the local filesystem: `<root>/ab/<hash>`.
//!
//! A blob is written to a temporary file in its final directory, fsynced,
//! renamed over its final name and the directory fsynced, so after a crash
//! it is either absent or complete. Temporary names start with a dot and
//! end in `.tmp`; one left behind by a crash is harmless (never read) and can
//! be removed by hand. A complete upload part file on the same filesystem is
//! renamed into place instead of copied.
//!
//! Why one level of 256 shard directories, all made when the store opens:
//! storing a blob then costs exactly two fsyncs (the file, its directory).
//! With a lazily created second level almost every new blob also created a
//! directory and paid a third fsync for the parent — at upload time, where
//! fsync latency is what limits throughput. 256 shards keep a directory at
//! ≈ 40,000 entries per 10 million blobs, which ext4's hashed directories
//! and XFS handle without trouble.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use choucha_shared::Sha256Hex;
use futures_util::StreamExt;
use futures_util::stream;

use super::{BlobBody, BlobSource, BlobStore, BlobStoreError};

/// Read size when streaming a blob out.
const READ_CHUNK: usize = 256 * 1024;

/// Blob store on the local filesystem (the default).
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: Arc<PathBuf>,
}

impl FsBlobStore {
    /// A store rooted at `root`, created (with its shard directories) if
    /// missing.
    pub async fn new(root: impl Into<PathBuf>) -> Result<Self, BlobStoreError> {
        let root = root.into();
        let r = root.clone();
        blocking(move || make_shards(&r)).await?;
        Ok(Self {
            root: Arc::new(root),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob lives (whether or not it is there yet).
    pub fn path_of(&self, hash: &Sha256Hex) -> PathBuf {
        let (shard, name) = shard_of(hash);
        self.root.join(shard).join(name)
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put_verified(
        &self,
        hash: &Sha256Hex,
        source: BlobSource,
    ) -> Result<(), BlobStoreError> {
        let root = Arc::clone(&self.root);
        let hash = hash.clone();
        blocking(move || put_blocking(&root, &hash, source)).await
    }

    async fn get(&self, hash: &Sha256Hex) -> Result<Option<BlobBody>, BlobStoreError> {
        let path = self.path_of(hash);
        let opened = blocking(move || match File::open(&path) {
            Ok(file) => {
                let size = file
                    .metadata()
                    .map_err(|e| BlobStoreError::io(format!("stat {}", path.display()), e))?
                    .len();
                Ok(Some((file, size)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobStoreError::io(format!("open {}", path.display()), e)),
        })
        .await?;
        let Some((file, size)) = opened else {
            return Ok(None);
        };
        // Each read runs on the blocking pool; the file moves in and out.
        let stream = stream::try_unfold(Some(file), |file| async move {
            let Some(mut file) = file else {
                return Ok(None);
            };
            let (file, chunk) = crate::background::run(move || {
                let mut buf = vec![0; READ_CHUNK];
                let n = file.read(&mut buf)?;
                buf.truncate(n);
                Ok::<_, io::Error>((file, buf))
            })
            .await
            .map_err(io::Error::other)??;
            if chunk.is_empty() {
                Ok(None)
            } else {
                Ok(Some((Bytes::from(chunk), Some(file))))
            }
        });
        Ok(Some(BlobBody {
            size,
            stream: stream.boxed(),
        }))
    }

    async fn size(&self, hash: &Sha256Hex) -> Result<Option<u64>, BlobStoreError> {
        let path = self.path_of(hash);
        blocking(move || match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BlobStoreError::io(format!("stat {}", path.display()), e)),
        })
        .await
    }

    async fn delete(&self, hash: &Sha256Hex) -> Result<bool, BlobStoreError> {
        let path = self.path_of(hash);
        blocking(move || match fs::remove_file(&path) {
            Ok(()) => {
                if let Some(dir) = path.parent() {
                    sync_dir(dir)?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(BlobStoreError::io(format!("remove {}", path.display()), e)),
        })
        .await
    }
}

fn put_blocking(root: &Path, hash: &Sha256Hex, source: BlobSource) -> Result<(), BlobStoreError> {
    let (shard, name) = shard_of(hash);
    let dir = root.join(shard);
    let target = dir.join(name);
    if target.exists() {
        // Content-addressed: whatever is there was renamed in complete.
        return Ok(());
    }
    if let BlobSource::File(part) = &source {
        // The part file is complete and fsynced: moving it is atomic and
        // writes nothing again. Only the directory entry needs to be made
        // durable. Another filesystem (EXDEV) falls back to copying.
        match fs::rename(part, &target) {
            Ok(()) => return sync_dir(&dir),
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {}
            Err(e) => {
                return Err(BlobStoreError::io(
                    format!("rename {} to {}", part.display(), target.display()),
                    e,
                ));
            }
        }
    }

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_then_rename(&tmp, &target, &dir, source);
    if result.is_err() {
        // Best effort: the temporary file is never read, only wastes space.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_then_rename(
    tmp: &Path,
    target: &Path,
    dir: &Path,
    source: BlobSource,
) -> Result<(), BlobStoreError> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| BlobStoreError::io(format!("create {}", tmp.display()), e))?;
    match source {
        BlobSource::File(src) => {
            let mut input = File::open(&src)
                .map_err(|e| BlobStoreError::io(format!("open {}", src.display()), e))?;
            io::copy(&mut input, &mut out)
                .map_err(|e| BlobStoreError::io(format!("write {}", tmp.display()), e))?;
        }
        BlobSource::Bytes(bytes) => out
            .write_all(&bytes)
            .map_err(|e| BlobStoreError::io(format!("write {}", tmp.display()), e))?,
    }
    out.sync_all()
        .map_err(|e| BlobStoreError::io(format!("fsync {}", tmp.display()), e))?;
    drop(out);
    fs::rename(tmp, target).map_err(|e| {
        BlobStoreError::io(
            format!("rename {} to {}", tmp.display(), target.display()),
            e,
        )
    })?;
    sync_dir(dir)
}

/// The shard directory and file name of a blob: `ab`, `abcd…`.
fn shard_of(hash: &Sha256Hex) -> (&str, &str) {
    let h = hash.as_str();
    (&h[0..2], h)
}

/// Creates `root` and its 256 shard directories `00`…`ff` where missing,
/// fsyncing whatever directory gained entries, so they survive a crash.
fn make_shards(root: &Path) -> Result<(), BlobStoreError> {
    let created_root = !root.is_dir();
    fs::create_dir_all(root)
        .map_err(|e| BlobStoreError::io(format!("create blob directory {}", root.display()), e))?;
    if created_root {
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    let mut created = false;
    for i in 0..=255u8 {
        let shard = root.join(format!("{i:02x}"));
        if !shard.is_dir() {
            fs::create_dir(&shard)
                .map_err(|e| BlobStoreError::io(format!("create {}", shard.display()), e))?;
            created = true;
        }
    }
    if created {
        sync_dir(root)?;
    }
    Ok(())
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), BlobStoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| BlobStoreError::io(format!("fsync directory {}", dir.display()), e))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobStoreError> + Send + 'static,
) -> Result<T, BlobStoreError> {
    crate::background::run(f)
        .await
        .map_err(|e| BlobStoreError::io("blocking task", io::Error::other(e)))?
}
