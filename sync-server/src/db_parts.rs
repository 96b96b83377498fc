//! Partial uploads kept in the database ([`blobs::PartStore`]), for
//! instances that share PostgreSQL: behind a round-robin load balancer the
//! next chunk of an upload may reach any of them. The store's
//! `upload_part_*` methods do the locking (a row lock per blob).

use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use choucha_shared::Sha256Hex;

use crate::blobs::{BlobSource, PartError, PartStore};
use crate::store::{PartAppend, Store, StoreError, stamp_of};

#[derive(Debug, Clone)]
pub struct DbParts {
    store: Store,
}

impl DbParts {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn db(op: &str, offset: u64, e: StoreError) -> PartError {
    PartError::io(op, offset, std::io::Error::other(e))
}

#[async_trait]
impl PartStore for DbParts {
    async fn held(&self, hash: &Sha256Hex, total: u64) -> Result<u64, PartError> {
        let held = self
            .store
            .upload_part_held(hash.as_str())
            .await
            .map_err(|e| db("read the upload's offset", 0, e))?;
        if held <= total {
            return Ok(held);
        }
        tracing::warn!(%hash, held, total, "upload longer than the declared total; discarding it");
        self.discard(hash).await?;
        Ok(0)
    }

    async fn append(&self, hash: &Sha256Hex, at: u64, chunk: Bytes) -> Result<u64, PartError> {
        match self
            .store
            .upload_part_append(hash.as_str(), at, &chunk)
            .await
        {
            Ok(PartAppend::Appended(held)) => Ok(held),
            Ok(PartAppend::Moved(held)) => Err(PartError::Moved { held }),
            Err(e) => Err(db("store the chunk", at, e)),
        }
    }

    async fn source(&self, hash: &Sha256Hex, total: u64) -> Result<BlobSource, PartError> {
        match self.store.upload_part_bytes(hash.as_str(), total).await {
            Ok(Some(bytes)) => Ok(BlobSource::Bytes(Bytes::from(bytes))),
            Ok(None) => Err(PartError::Moved {
                held: self.held(hash, total).await?,
            }),
            Err(e) => Err(db("read the upload", total, e)),
        }
    }

    async fn discard(&self, hash: &Sha256Hex) -> Result<(), PartError> {
        self.store
            .upload_part_discard(hash.as_str())
            .await
            .map_err(|e| db("discard the upload", 0, e))
    }

    async fn idle_since(
        &self,
        before: SystemTime,
        limit: usize,
    ) -> Result<Vec<Sha256Hex>, PartError> {
        let hashes = self
            .store
            .upload_parts_idle(&stamp_of(before), limit)
            .await
            .map_err(|e| db("list idle uploads", 0, e))?;
        Ok(hashes
            .iter()
            .filter_map(|h| Sha256Hex::parse(h).ok())
            .collect())
    }

    async fn discard_if_idle(
        &self,
        hash: &Sha256Hex,
        before: SystemTime,
    ) -> Result<bool, PartError> {
        self.store
            .upload_part_discard_idle(hash.as_str(), &stamp_of(before))
            .await
            .map_err(|e| db("discard an idle upload", 0, e))
    }
}
