//! Evidence blob storage and resumable uploads, with faults: cuts and
//! restarts mid-upload, wrong offsets and checksums, a blob that is not what
//! it claims, a blob store that fails (full disk, S3 down) at the last step.
//!
//! Every case runs in three set-ups: the local filesystem, a real
//! S3-compatible server (`s3s-fs`, installed by `scripts/setup.sh`) started on
//! 127.0.0.1 with its own port and directory for each test — both with part
//! files on local disk, the single-server layout — and that S3 server with
//! the parts in a fresh PostgreSQL database (`DbParts`), the layout of
//! several instances, where two managers on separate connection pools stand
//! for two server processes.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use choucha_shared::Sha256Hex;
use choucha_sync_server::blobs::{
    BlobBody, BlobSource, BlobStore, BlobStoreError, FsBlobStore, UploadError, UploadLimits,
    UploadManager, UploadState,
};
use choucha_sync_server::db_parts::DbParts;
use choucha_sync_server::store::Store;
use choucha_tests::s3::{BUCKET, S3Server};
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const CHUNK: usize = 64 * 1024;

/// Deterministic pseudo-random bytes (xorshift), different per seed.
fn data(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

fn sha(bytes: &[u8]) -> Sha256Hex {
    Sha256Hex::of(bytes)
}

fn total(bytes: &[u8]) -> u64 {
    bytes.len() as u64
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Fs,
    S3,
    /// S3 for blobs, PostgreSQL for the parts.
    S3Pg,
}

/// One test's world: a data directory for partial uploads and a blob store.
#[derive(Debug)]
struct Env {
    dir: TempDir,
    store: Arc<dyn BlobStore>,
    s3: Option<S3Server>,
    /// The database that holds the parts ([`Backend::S3Pg`]), and a pool
    /// on it for the test's own looks.
    pg_url: Option<String>,
    pg: Option<Store>,
}

impl Env {
    async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (store, s3): (Arc<dyn BlobStore>, _) = match backend {
            Backend::Fs => (
                Arc::new(FsBlobStore::new(dir.path().join("blobs")).await.unwrap()),
                None,
            ),
            Backend::S3 | Backend::S3Pg => {
                let server = S3Server::start(&dir.path().join("s3")).await;
                (Arc::new(server.store()), Some(server))
            }
        };
        let pg_url = match backend {
            Backend::S3Pg => Some(
                choucha_tests::pg::shared()
                    .create_database()
                    .await
                    .expect("a fresh PostgreSQL database"),
            ),
            _ => None,
        };
        let mut env = Self {
            dir,
            store,
            s3,
            pg_url,
            pg: None,
        };
        env.pg = env.pg_store().await;
        env
    }

    /// The parts' database, opened as a server process opens it.
    async fn pg_store(&self) -> Option<Store> {
        let url = self.pg_url.as_ref()?;
        Some(Store::open(Some(url), &self.data_dir()).await.unwrap())
    }

    /// Two managers as two server instances would have them: on PostgreSQL
    /// each with its own connection pool (only the database is shared); on
    /// local parts one manager, since one process owns a data directory.
    async fn instances(&self) -> [Arc<UploadManager>; 2] {
        let first = Arc::new(self.manager().await);
        let second = if self.pg_url.is_some() {
            Arc::new(self.manager().await)
        } else {
            Arc::clone(&first)
        };
        [first, second]
    }

    /// Bytes the server holds for an unfinished upload (`None`: no part).
    async fn part_len(&self, hash: &Sha256Hex) -> Option<u64> {
        match &self.pg {
            Some(store) => {
                let held = store.upload_part_held(hash.as_str()).await.unwrap();
                (held > 0).then_some(held)
            }
            None => {
                let part = self.data_dir().join("uploads").join(format!("{hash}.part"));
                std::fs::metadata(part).ok().map(|md| md.len())
            }
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A fresh manager on the same directories, as after a server restart.
    async fn manager(&self) -> UploadManager {
        self.manager_with(Arc::clone(&self.store), UploadLimits::default())
            .await
    }

    /// The blob is a file where the backend keeps it: under the blob
    /// root, or under the S3 server's own directory (so the S3 cases are
    /// known to have gone through the real server).
    fn assert_on_backend(&self, bytes: &Bytes) {
        let hash = sha(bytes);
        let h = hash.as_str();
        // The filesystem store shards by one level, S3 keys by two.
        let file = match &self.s3 {
            None => self.dir.path().join("blobs").join(&h[0..2]).join(h),
            Some(server) => server
                .root
                .join(BUCKET)
                .join("blobs")
                .join(&h[0..2])
                .join(&h[2..4])
                .join(h),
        };
        let on_disk = std::fs::read(&file)
            .unwrap_or_else(|e| panic!("{} should hold the blob: {e}", file.display()));
        assert!(on_disk == *bytes, "{} differs", file.display());
    }

    async fn manager_with(&self, store: Arc<dyn BlobStore>, limits: UploadLimits) -> UploadManager {
        match self.pg_store().await {
            Some(db) => UploadManager::with_parts(Arc::new(DbParts::new(db)), store, limits),
            None => UploadManager::new(self.data_dir(), store, limits)
                .await
                .unwrap(),
        }
    }
}

/// Sends `bytes[from..]` in chunks of `chunk` bytes; returns the last state.
async fn upload_from(
    m: &UploadManager,
    hash: &Sha256Hex,
    bytes: &Bytes,
    from: usize,
    chunk: usize,
) -> Result<UploadState, UploadError> {
    let mut at = from;
    let mut state = m.offset(hash, total(bytes)).await?;
    while at < bytes.len() {
        let end = (at + chunk).min(bytes.len());
        let piece = bytes.slice(at..end);
        let piece_sha = sha(&piece);
        state = m
            .append(hash, total(bytes), at as u64, piece, &piece_sha)
            .await?;
        at = end;
    }
    Ok(state)
}

async fn upload(m: &UploadManager, bytes: &Bytes) -> Result<UploadState, UploadError> {
    upload_from(m, &sha(bytes), bytes, 0, CHUNK).await
}

async fn append_at(
    m: &UploadManager,
    bytes: &Bytes,
    from: usize,
    len: usize,
) -> Result<UploadState, UploadError> {
    let piece = bytes.slice(from..from + len);
    let piece_sha = sha(&piece);
    m.append(&sha(bytes), total(bytes), from as u64, piece, &piece_sha)
        .await
}

async fn assert_stored(store: &dyn BlobStore, bytes: &Bytes) {
    let hash = sha(bytes);
    assert!(store.exists(&hash).await.unwrap(), "blob should be stored");
    assert_eq!(store.size(&hash).await.unwrap(), Some(total(bytes)));
    let back = store.read_all(&hash).await.unwrap().expect("stored blob");
    assert!(back == *bytes, "stored bytes differ from the uploaded ones");
    let BlobBody { size, .. } = store.get(&hash).await.unwrap().unwrap();
    assert_eq!(size, total(bytes));
}

fn in_progress(offset: usize, bytes: &Bytes) -> UploadState {
    UploadState::InProgress {
        offset: offset as u64,
        total: total(bytes),
    }
}

/// A blob store whose next `failures` writes fail as if the disk were full.
#[derive(Debug)]
struct FailingStore {
    inner: Arc<dyn BlobStore>,
    failures: AtomicUsize,
}

impl FailingStore {
    fn new(inner: Arc<dyn BlobStore>, failures: usize) -> Self {
        Self {
            inner,
            failures: AtomicUsize::new(failures),
        }
    }
}

#[async_trait]
impl BlobStore for FailingStore {
    async fn put_verified(
        &self,
        hash: &Sha256Hex,
        source: BlobSource,
    ) -> Result<(), BlobStoreError> {
        let fail = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Err(BlobStoreError::Io {
                op: "write blob (simulated full disk)".to_owned(),
                source: io::Error::from(io::ErrorKind::StorageFull),
            });
        }
        self.inner.put_verified(hash, source).await
    }

    async fn get(&self, hash: &Sha256Hex) -> Result<Option<BlobBody>, BlobStoreError> {
        self.inner.get(hash).await
    }

    async fn size(&self, hash: &Sha256Hex) -> Result<Option<u64>, BlobStoreError> {
        self.inner.size(hash).await
    }

    async fn delete(&self, hash: &Sha256Hex) -> Result<bool, BlobStoreError> {
        self.inner.delete(hash).await
    }
}

// ---------------------------------------------------------------------------
// The cases, each run against both stores
// ---------------------------------------------------------------------------

async fn chunked_upload_round_trips(env: Env) {
    let m = env.manager().await;
    let bytes = data(5 * CHUNK + 123, 1);
    let hash = sha(&bytes);

    assert_eq!(
        m.offset(&hash, total(&bytes)).await.unwrap(),
        in_progress(0, &bytes)
    );
    assert!(env.store.get(&hash).await.unwrap().is_none());
    assert_eq!(env.store.size(&hash).await.unwrap(), None);

    for i in 0..5 {
        let state = append_at(&m, &bytes, i * CHUNK, CHUNK).await.unwrap();
        assert_eq!(state, in_progress((i + 1) * CHUNK, &bytes));
        assert_eq!(env.part_len(&hash).await, Some(((i + 1) * CHUNK) as u64));
        assert!(!env.store.exists(&hash).await.unwrap());
    }
    let last = append_at(&m, &bytes, 5 * CHUNK, 123).await.unwrap();
    assert_eq!(
        last,
        UploadState::Complete {
            size: total(&bytes)
        }
    );

    assert_stored(env.store.as_ref(), &bytes).await;
    env.assert_on_backend(&bytes);
    assert_eq!(env.part_len(&hash).await, None, "the part file is removed");
    assert!(m.offset(&hash, total(&bytes)).await.unwrap().is_complete());
}

async fn large_blob_in_one_go(env: Env) {
    // Over the S3 store's multipart threshold in these tests (1 MiB), in
    // more than one 8 MiB part.
    let m = env.manager().await;
    let bytes = data(9 * 1024 * 1024 + 7, 2);
    let state = upload_from(&m, &sha(&bytes), &bytes, 0, 1024 * 1024)
        .await
        .unwrap();
    assert!(state.is_complete());
    assert_stored(env.store.as_ref(), &bytes).await;
    env.assert_on_backend(&bytes);
}

async fn empty_blob(env: Env) {
    let m = env.manager().await;
    let bytes = Bytes::new();
    let hash = sha(&bytes);
    assert_eq!(
        m.offset(&hash, 0).await.unwrap(),
        UploadState::InProgress {
            offset: 0,
            total: 0
        }
    );
    let state = m.append(&hash, 0, 0, Bytes::new(), &hash).await.unwrap();
    assert_eq!(state, UploadState::Complete { size: 0 });
    assert_stored(env.store.as_ref(), &bytes).await;
}

async fn restart_mid_upload_resumes_from_durable_offset(env: Env) {
    let bytes = data(6 * CHUNK + 5, 3);
    let hash = sha(&bytes);
    {
        let m = env.manager().await;
        append_at(&m, &bytes, 0, CHUNK).await.unwrap();
        append_at(&m, &bytes, CHUNK, CHUNK).await.unwrap();
        // The process dies here: the manager is dropped, nothing else runs.
    }

    let m = env.manager().await;
    assert_eq!(
        m.offset(&hash, total(&bytes)).await.unwrap(),
        in_progress(2 * CHUNK, &bytes)
    );

    // A crash in the middle of a write: half of the third chunk landed on
    // disk but was never acknowledged. The server resumes from what is on
    // disk, and the client sends from there.
    let torn = 2 * CHUNK + CHUNK / 2;
    let Some(part) = m.part_path(&hash) else {
        // Parts in the database: a commit is whole or absent, so there is
        // no torn tail; finishing after the restart is the whole story.
        drop(m);
        let m = env.manager().await;
        upload_from(&m, &hash, &bytes, 2 * CHUNK, CHUNK)
            .await
            .unwrap();
        assert_stored(env.store.as_ref(), &bytes).await;
        return;
    };
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(part).unwrap();
        f.write_all(&bytes[2 * CHUNK..torn]).unwrap();
    }
    drop(m);
    let m = env.manager().await;
    let resume_at = m.offset(&hash, total(&bytes)).await.unwrap().offset();
    assert_eq!(resume_at, torn as u64);

    // A client that still thinks it is at 2 chunks is told where to go on.
    let err = append_at(&m, &bytes, 2 * CHUNK, CHUNK).await.unwrap_err();
    assert!(
        matches!(err, UploadError::OffsetMismatch { expected, given }
            if expected == torn as u64 && given == 2 * CHUNK as u64),
        "{err:?}"
    );

    let state = upload_from(&m, &hash, &bytes, torn, CHUNK).await.unwrap();
    assert!(state.is_complete());
    assert_stored(env.store.as_ref(), &bytes).await;
}

async fn wrong_offset_changes_nothing(env: Env) {
    let m = env.manager().await;
    let bytes = data(4 * CHUNK, 4);
    let hash = sha(&bytes);

    // Starting anywhere but 0 is refused.
    let err = append_at(&m, &bytes, CHUNK, CHUNK).await.unwrap_err();
    assert!(
        matches!(err, UploadError::OffsetMismatch { expected: 0, .. }),
        "{err:?}"
    );
    assert_eq!(env.part_len(&hash).await, None);

    append_at(&m, &bytes, 0, CHUNK).await.unwrap();
    for wrong in [0, CHUNK / 2, 2 * CHUNK] {
        let err = append_at(&m, &bytes, wrong, CHUNK).await.unwrap_err();
        match &err {
            UploadError::OffsetMismatch { expected, given } => {
                assert_eq!(*expected, CHUNK as u64);
                assert_eq!(*given, wrong as u64);
            }
            other => panic!("expected OffsetMismatch, got {other:?}"),
        }
        assert_eq!(err.http_status().as_u16(), 409);
        assert_eq!(err.details()["offset"], CHUNK as u64);
        assert!(err.to_string().contains("偏移量"), "{err}");
        assert_eq!(
            m.offset(&hash, total(&bytes)).await.unwrap(),
            in_progress(CHUNK, &bytes)
        );
        assert_eq!(env.part_len(&hash).await, Some(CHUNK as u64));
    }
}

async fn wrong_chunk_checksum_changes_nothing(env: Env) {
    let m = env.manager().await;
    let bytes = data(3 * CHUNK, 5);
    let hash = sha(&bytes);
    append_at(&m, &bytes, 0, CHUNK).await.unwrap();

    // The right bytes with a checksum of other bytes…
    let piece = bytes.slice(CHUNK..2 * CHUNK);
    let wrong_sha = sha(b"something else");
    let err = m
        .append(
            &hash,
            total(&bytes),
            CHUNK as u64,
            piece.clone(),
            &wrong_sha,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UploadError::ChunkChecksum { declared, actual }
            if *declared == wrong_sha && *actual == sha(&piece)),
        "{err:?}"
    );
    assert_eq!(err.http_status().as_u16(), 460);

    // …and bytes damaged in transit under the right checksum.
    let mut damaged = piece.to_vec();
    damaged[100] ^= 0x01;
    let err = m
        .append(
            &hash,
            total(&bytes),
            CHUNK as u64,
            Bytes::from(damaged),
            &sha(&piece),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::ChunkChecksum { .. }), "{err:?}");

    assert_eq!(
        m.offset(&hash, total(&bytes)).await.unwrap(),
        in_progress(CHUNK, &bytes)
    );
    assert_eq!(env.part_len(&hash).await, Some(CHUNK as u64));

    let state = upload_from(&m, &hash, &bytes, CHUNK, CHUNK).await.unwrap();
    assert!(state.is_complete());
    assert_stored(env.store.as_ref(), &bytes).await;
}

async fn chunk_beyond_total_refused(env: Env) {
    let m = env.manager().await;
    let bytes = data(CHUNK + 10, 6);
    let hash = sha(&bytes);
    let too_long = data(CHUNK + 11, 6);
    let err = m
        .append(&hash, total(&bytes), 0, too_long.clone(), &sha(&too_long))
        .await
        .unwrap_err();
    assert!(
        matches!(err, UploadError::BeyondTotal { end, total: t }
            if end == CHUNK as u64 + 11 && t == total(&bytes)),
        "{err:?}"
    );
    assert_eq!(
        m.offset(&hash, total(&bytes)).await.unwrap(),
        in_progress(0, &bytes)
    );
}

async fn whole_hash_mismatch_discards_the_upload(env: Env) {
    let m = env.manager().await;
    let claimed = data(3 * CHUNK, 7);
    let hash = sha(&claimed);
    // Different bytes of the same length, each chunk correctly checksummed:
    // only the whole-blob hash can tell.
    let actual = data(3 * CHUNK, 8);
    let mut last = None;
    for i in 0..3 {
        let piece = actual.slice(i * CHUNK..(i + 1) * CHUNK);
        let piece_sha = sha(&piece);
        last = Some(
            m.append(
                &hash,
                total(&claimed),
                (i * CHUNK) as u64,
                piece,
                &piece_sha,
            )
            .await,
        );
    }
    let err = last.unwrap().unwrap_err();
    match &err {
        UploadError::HashMismatch {
            expected,
            actual: got,
        } => {
            assert_eq!(*expected, hash);
            assert_eq!(*got, sha(&actual));
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    assert_eq!(err.details()["offset"], 0);
    assert_eq!(env.part_len(&hash).await, None, "the bad part is removed");
    assert!(!env.store.exists(&hash).await.unwrap());
    assert!(!env.store.exists(&sha(&actual)).await.unwrap());
    assert_eq!(
        m.offset(&hash, total(&claimed)).await.unwrap(),
        in_progress(0, &claimed)
    );

    // The client starts that blob again and it goes through.
    assert!(upload(&m, &claimed).await.unwrap().is_complete());
    assert_stored(env.store.as_ref(), &claimed).await;
}

async fn too_large_is_refused_with_the_limit(env: Env) {
    let limits = UploadLimits {
        max_blob_bytes: 1000,
    };
    let m = env.manager_with(Arc::clone(&env.store), limits).await;
    let bytes = data(1001, 9);
    let hash = sha(&bytes);

    let err = m.offset(&hash, 1001).await.unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::TooLarge {
                declared: 1001,
                limit: 1000
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.http_status().as_u16(), 413);
    assert_eq!(err.details()["limit"], 1000);
    assert!(err.to_string().contains("1000"), "{err}");

    let err = append_at(&m, &bytes, 0, 10).await.unwrap_err();
    assert!(matches!(err, UploadError::TooLarge { limit: 1000, .. }));
    assert_eq!(env.part_len(&hash).await, None);

    // Exactly at the limit is fine; the default is 25 MiB.
    let at_limit = data(1000, 10);
    assert!(upload(&m, &at_limit).await.unwrap().is_complete());
    assert_eq!(UploadLimits::default().max_blob_bytes, 25 * 1024 * 1024);
}

async fn store_failure_keeps_the_bytes_and_a_retry_finishes(env: Env) {
    let failing = Arc::new(FailingStore::new(Arc::clone(&env.store), 2));
    let m = env
        .manager_with(failing.clone(), UploadLimits::default())
        .await;
    let bytes = data(3 * CHUNK + 1, 11);
    let hash = sha(&bytes);

    let err = upload(&m, &bytes).await.unwrap_err();
    match &err {
        UploadError::StoreFailed { total: t, source } => {
            assert_eq!(*t, total(&bytes));
            assert!(source.is_storage_full());
        }
        other => panic!("expected StoreFailed, got {other:?}"),
    }
    assert_eq!(err.http_status().as_u16(), 507);
    assert!(err.is_retryable());
    assert_eq!(err.details()["offset"], total(&bytes));
    assert_eq!(
        env.part_len(&hash).await,
        Some(total(&bytes)),
        "nothing is lost"
    );
    assert!(!env.store.exists(&hash).await.unwrap());

    // HEAD says every byte is here; an empty PATCH at the end retries the
    // last step (and fails once more)…
    assert_eq!(
        m.offset(&hash, total(&bytes)).await.unwrap(),
        in_progress(bytes.len(), &bytes)
    );
    let empty = sha(&[]);
    let err = m
        .append(&hash, total(&bytes), total(&bytes), Bytes::new(), &empty)
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::StoreFailed { .. }), "{err:?}");
    assert_eq!(env.part_len(&hash).await, Some(total(&bytes)));

    // …and after a server restart, `finish` completes it without a byte
    // being resent.
    drop(m);
    let m = env
        .manager_with(failing.clone(), UploadLimits::default())
        .await;
    assert_eq!(
        m.finish(&hash, total(&bytes)).await.unwrap(),
        UploadState::Complete {
            size: total(&bytes)
        }
    );
    assert_stored(env.store.as_ref(), &bytes).await;
    assert_eq!(env.part_len(&hash).await, None);

    // `finish` on an unfinished upload changes nothing.
    let other = data(2 * CHUNK, 12);
    append_at(&m, &other, 0, CHUNK).await.unwrap();
    assert_eq!(
        m.finish(&sha(&other), total(&other)).await.unwrap(),
        in_progress(CHUNK, &other)
    );
}

async fn same_blob_twice_is_already_complete(env: Env) {
    let bytes = data(2 * CHUNK + 3, 13);
    let hash = sha(&bytes);
    assert!(
        upload(&env.manager().await, &bytes)
            .await
            .unwrap()
            .is_complete()
    );

    // Another device (or the same one retrying) after a restart.
    let m = env.manager().await;
    let complete = UploadState::Complete {
        size: total(&bytes),
    };
    assert_eq!(m.offset(&hash, total(&bytes)).await.unwrap(), complete);
    // A client that PATCHes without asking first is told the same, and
    // nothing is written.
    assert_eq!(append_at(&m, &bytes, 0, CHUNK).await.unwrap(), complete);
    assert_eq!(env.part_len(&hash).await, None);
    assert_eq!(m.finish(&hash, total(&bytes)).await.unwrap(), complete);
    assert_stored(env.store.as_ref(), &bytes).await;

    // Storing a stored blob again is harmless.
    env.store
        .put_verified(&hash, BlobSource::Bytes(bytes.clone()))
        .await
        .unwrap();
    assert_stored(env.store.as_ref(), &bytes).await;
}

async fn concurrent_appends_do_not_corrupt(env: Env) {
    // Requests alternate between two instances where there can be two.
    let instances = env.instances().await;
    let m = Arc::clone(&instances[0]);
    let bytes = data(8 * CHUNK + 99, 14);
    let hash = sha(&bytes);

    // Eight identical first chunks at once (a client retrying on several
    // connections): exactly one lands.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (m, bytes) = (Arc::clone(&instances[i % 2]), bytes.clone());
            tokio::spawn(async move { append_at(&m, &bytes, 0, CHUNK).await })
        })
        .collect();
    let mut landed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(state) => {
                assert_eq!(state, in_progress(CHUNK, &bytes));
                landed += 1;
            }
            Err(UploadError::OffsetMismatch { expected, given: 0 }) => {
                assert_eq!(expected, CHUNK as u64);
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(landed, 1);
    assert_eq!(env.part_len(&hash).await, Some(CHUNK as u64));

    // Every remaining chunk raced by its own task, each appending when the
    // offset reaches it: the result is the blob, whole and in order.
    let starts: Vec<usize> = (1..=8).map(|i| i * CHUNK).collect();
    let tasks: Vec<_> = starts
        .into_iter()
        .map(|start| {
            let m = Arc::clone(&instances[start / CHUNK % 2]);
            let (bytes, hash) = (bytes.clone(), hash.clone());
            tokio::spawn(async move {
                let len = CHUNK.min(bytes.len() - start);
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    assert!(Instant::now() < deadline, "chunk at {start} never landed");
                    let now = m.offset(&hash, total(&bytes)).await.unwrap();
                    if now.is_complete() || now.offset() > start as u64 {
                        return;
                    }
                    if now.offset() == start as u64 {
                        match append_at(&m, &bytes, start, len).await {
                            Ok(_) | Err(UploadError::OffsetMismatch { .. }) => {}
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    } else {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(m.offset(&hash, total(&bytes)).await.unwrap().is_complete());
    assert_stored(env.store.as_ref(), &bytes).await;
}

/// A blob sent whole in one PATCH (most photos): checked in memory and
/// stored without a part file — with the same refusals and the same
/// "nothing lost" promise as the chunked path.
async fn whole_blob_in_one_request(env: Env) {
    let failing = Arc::new(FailingStore::new(Arc::clone(&env.store), 1));
    let m = env
        .manager_with(failing.clone(), UploadLimits::default())
        .await;
    let bytes = data(CHUNK + 17, 21);
    let hash = sha(&bytes);

    // A wrong chunk checksum writes nothing.
    let err = m
        .append(&hash, total(&bytes), 0, bytes.clone(), &sha(b"other"))
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::ChunkChecksum { .. }), "{err:?}");
    assert_eq!(env.part_len(&hash).await, None);

    // Bytes that are not the named blob are refused and not stored.
    let impostor = data(CHUNK + 17, 22);
    let err = m
        .append(&hash, total(&bytes), 0, impostor.clone(), &sha(&impostor))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UploadError::HashMismatch { actual, .. } if *actual == sha(&impostor)),
        "{err:?}"
    );
    assert_eq!(env.part_len(&hash).await, None);
    assert!(!env.store.exists(&sha(&impostor)).await.unwrap());

    // The store fails once: every byte is kept in a part file…
    let err = m
        .append(&hash, total(&bytes), 0, bytes.clone(), &hash)
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::StoreFailed { .. }), "{err:?}");
    assert_eq!(
        env.part_len(&hash).await,
        Some(total(&bytes)),
        "nothing is lost"
    );
    assert_eq!(
        m.offset(&hash, total(&bytes)).await.unwrap(),
        in_progress(bytes.len(), &bytes)
    );
    // …and finishing needs no byte resent.
    assert!(m.finish(&hash, total(&bytes)).await.unwrap().is_complete());
    assert_stored(env.store.as_ref(), &bytes).await;
    env.assert_on_backend(&bytes);
    assert_eq!(env.part_len(&hash).await, None);

    // The usual case: stored at once, no part file ever made.
    let photo = data(400_000, 23);
    let photo_hash = sha(&photo);
    let state = m
        .append(&photo_hash, total(&photo), 0, photo.clone(), &photo_hash)
        .await
        .unwrap();
    assert_eq!(
        state,
        UploadState::Complete {
            size: total(&photo)
        }
    );
    assert_stored(env.store.as_ref(), &photo).await;
    env.assert_on_backend(&photo);
    assert_eq!(env.part_len(&photo_hash).await, None);
}

/// A part nobody added to for longer than the idle time is removed by the
/// sweep (on any instance), and only that one: an upload still moving keeps
/// its part, and one that moved after it was listed is rechecked and kept.
/// The device of the removed one is told to start from 0, and does.
async fn idle_uploads_are_swept(env: Env) {
    let [a, b] = env.instances().await;
    let abandoned = data(3 * CHUNK, 41);
    let moving = data(3 * CHUNK, 42);
    append_at(&a, &abandoned, 0, CHUNK).await.unwrap();
    append_at(&a, &abandoned, CHUNK, CHUNK).await.unwrap();
    let idle = Duration::from_millis(800);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    append_at(&b, &moving, 0, CHUNK).await.unwrap();

    assert_eq!(b.sweep_idle(idle).await.unwrap(), 1, "only the idle part");
    assert_eq!(env.part_len(&sha(&abandoned)).await, None);
    assert_eq!(env.part_len(&sha(&moving)).await, Some(CHUNK as u64));
    // Nothing idle is left: a second sweep (another instance's) removes nothing.
    assert_eq!(a.sweep_idle(idle).await.unwrap(), 0);

    // The device that gave up comes back: its offset is gone, it is told
    // to start from 0, and the blob arrives whole.
    match append_at(&a, &abandoned, 2 * CHUNK, CHUNK).await {
        Err(UploadError::OffsetMismatch { expected: 0, given }) => {
            assert_eq!(given, 2 * CHUNK as u64)
        }
        other => panic!("expected a restart from 0, got {other:?}"),
    }
    assert_eq!(
        upload(&b, &abandoned).await.unwrap(),
        UploadState::Complete {
            size: total(&abandoned)
        }
    );
    assert_stored(env.store.as_ref(), &abandoned).await;
    // The moving one finishes from where it was.
    let done = upload_from(&a, &sha(&moving), &moving, CHUNK, CHUNK)
        .await
        .unwrap();
    assert!(done.is_complete());
    assert_stored(env.store.as_ref(), &moving).await;
    env.assert_on_backend(&moving);
}

/// Deleting (the collector's step) removes a stored blob and says so;
/// deleting again, or a blob never stored, says it was not there.
async fn delete_removes_a_blob_once(env: Env) {
    let m = env.manager().await;
    let kept = data(CHUNK + 7, 51);
    let gone = data(CHUNK + 9, 52);
    upload(&m, &kept).await.unwrap();
    upload(&m, &gone).await.unwrap();
    assert!(env.store.delete(&sha(&gone)).await.unwrap());
    assert!(env.store.get(&sha(&gone)).await.unwrap().is_none());
    assert!(!env.store.delete(&sha(&gone)).await.unwrap());
    assert!(!env.store.delete(&sha(&data(3, 53))).await.unwrap());
    assert_stored(env.store.as_ref(), &kept).await;
}

macro_rules! for_both_stores {
    ($($case:ident),* $(,)?) => {
        mod fs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Env::new(super::Backend::Fs).await).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Env::new(super::Backend::S3).await).await;
                }
            )*
        }
        mod s3_pg_parts {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Env::new(super::Backend::S3Pg).await).await;
                }
            )*
        }
    };
}

for_both_stores!(
    chunked_upload_round_trips,
    large_blob_in_one_go,
    empty_blob,
    restart_mid_upload_resumes_from_durable_offset,
    wrong_offset_changes_nothing,
    wrong_chunk_checksum_changes_nothing,
    chunk_beyond_total_refused,
    whole_hash_mismatch_discards_the_upload,
    too_large_is_refused_with_the_limit,
    store_failure_keeps_the_bytes_and_a_retry_finishes,
    same_blob_twice_is_already_complete,
    concurrent_appends_do_not_corrupt,
    whole_blob_in_one_request,
    idle_uploads_are_swept,
    delete_removes_a_blob_once,
);

// ---------------------------------------------------------------------------
// Real outages
// ---------------------------------------------------------------------------

/// The S3 server goes down between the last chunk and storing the blob,
/// then comes back: the upload finishes from the kept bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_at_finish_loses_nothing() {
    let mut env = Env::new(Backend::S3).await;
    let m = env.manager().await;
    let bytes = data(4 * CHUNK, 15);
    let hash = sha(&bytes);

    for i in 0..3 {
        append_at(&m, &bytes, i * CHUNK, CHUNK).await.unwrap();
    }
    env.s3.as_mut().unwrap().stop().await;

    // HEAD still works from local disk while S3 is down.
    assert_eq!(
        m.offset(&hash, total(&bytes)).await.unwrap(),
        in_progress(3 * CHUNK, &bytes)
    );
    let err = append_at(&m, &bytes, 3 * CHUNK, CHUNK).await.unwrap_err();
    assert!(matches!(err, UploadError::StoreFailed { .. }), "{err:?}");
    assert_eq!(err.http_status().as_u16(), 503);
    assert_eq!(env.part_len(&hash).await, Some(total(&bytes)));

    env.s3.as_mut().unwrap().restart().await;
    assert!(m.finish(&hash, total(&bytes)).await.unwrap().is_complete());
    assert_stored(env.store.as_ref(), &bytes).await;
    assert_eq!(env.part_len(&hash).await, None);
}

/// Files on disk are where the layout says, and complete.
#[tokio::test]
async fn fs_layout_is_sharded_and_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(dir.path().join("blobs")).await.unwrap();
    let bytes = data(1000, 16);
    let hash = sha(&bytes);
    store
        .put_verified(&hash, BlobSource::Bytes(bytes.clone()))
        .await
        .unwrap();
    let h = hash.as_str();
    let expected = dir.path().join("blobs").join(&h[0..2]).join(h);
    assert_eq!(store.path_of(&hash), expected);
    let shards = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    assert_eq!(
        shards, 256,
        "every shard directory is made when the store opens"
    );
    assert_eq!(std::fs::read(&expected).unwrap(), bytes);
    let leftovers: Vec<_> = std::fs::read_dir(expected.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
}
