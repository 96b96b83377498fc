//! Group commit of blob registrations.
//!
//! Every finished upload must be registered (its row, and the records that
//! waited for it) before the PATCH is answered, so the answer is a promise
//! that the server knows the blob. One transaction per blob meant one
//! commit — one WAL fsync on SQLite — per blob, all queued behind the single
//! writer: under 200 devices uploading at once that queue, not the disk's
//! bandwidth, bounded upload throughput.
//!
//! Here registrations go to one worker, which takes whatever has queued up
//! while the previous commit ran and commits it as one transaction. A lone
//! upload waits for nothing (its batch is itself); under load a commit
//! carries tens of blobs. Each caller is answered only after the commit
//! that holds its blob, so nothing is acknowledged before it is durable.

use choucha_shared::value::Sha256Hex;
use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreError};

/// Most blobs in one transaction: bounds how long one commit holds the
/// writer (and so how long a push waits behind it).
const MAX_BATCH: usize = 128;

/// Queue depth before `register` waits for room.
const QUEUE: usize = 1024;

struct Pending {
    sha256: Sha256Hex,
    bytes: u64,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// Registers arrived blobs through one worker that commits them in
/// groups. Cheap to clone; the worker stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct BlobRegistrar {
    queue: mpsc::Sender<Pending>,
}

impl BlobRegistrar {
    /// Starts the worker on the current Tokio runtime.
    pub fn start(store: Store) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        Self { queue }
    }

    /// Registers one verified blob; returns once it is committed.
    pub async fn register(&self, sha256: &Sha256Hex, bytes: u64) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let pending = Pending {
            sha256: sha256.clone(),
            bytes,
            done,
        };
        self.queue.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Only when the runtime is shutting down (the worker panicked or was
/// dropped): answered like any database failure, so the client retries.
fn stopped() -> StoreError {
    StoreError::Db(sqlx::Error::WorkerCrashed)
}

async fn run(store: Store, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let blobs: Vec<(Sha256Hex, u64)> =
            batch.iter().map(|p| (p.sha256.clone(), p.bytes)).collect();
        match store.blobs_arrived(&blobs).await {
            Ok(()) => {
                for p in batch.drain(..) {
                    // A caller that hung up needs no answer; its blob is
                    // registered all the same.
                    let _ = p.done.send(Ok(()));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(p) = batch.pop() {
                    let _ = p.done.send(Err(e));
                }
            }
            Err(e) => {
                // The whole group rolled back. Retry one by one, so a
                // failure is reported to the upload it belongs to and the
                // others still succeed.
                tracing::warn!(error = %e, blobs = batch.len(), "group registration failed; retrying one by one");
                for p in batch.drain(..) {
                    let one = store.blobs_arrived(&[(p.sha256.clone(), p.bytes)]).await;
                    let _ = p.done.send(one);
                }
            }
        }
    }
}
