//! The Choucha sync server as a library, so tests and benchmarks can build
//! the same router the binary serves.
//!
//! * [`store`] — the database (SQLite or PostgreSQL) behind one interface.
//! * [`import`] — reading directory files (CSV/XLSX, UTF-8/GBK).
//! * [`api`] — the REST API: directories, plans, draws, verification.
//! * [`console`] — the supervisor console (HTML) and the public pages.

pub mod api;
pub mod blobs;
pub mod cli;
pub mod console;
pub mod demo;
pub mod device_api;
pub mod error;
pub mod import;
pub mod oversight;
pub mod store;

use std::sync::Arc;

use choucha_checklists::Catalogue;
use choucha_shared::TargetCategory;
use choucha_shared::checklist::ChecklistRef;
use choucha_shared::value::CivilDate;

pub use api::router;
use store::Store;

/// Shared state of a running server.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub checklists: Arc<Catalogue>,
    pub uploads: Arc<blobs::UploadManager>,
    /// Registers finished uploads in grouped commits.
    pub blob_registrar: store::BlobRegistrar,
}

/// Where evidence blobs are kept.
#[derive(Debug, Clone)]
pub enum BlobConfig {
    /// `<data dir>/blobs` on the local filesystem (the default).
    Filesystem,
    /// An S3-compatible object store (scale-out).
    S3(blobs::S3Config),
}

impl BlobConfig {
    /// S3 when `CHOUCHA_S3_ENDPOINT` is set (with `CHOUCHA_S3_BUCKET`,
    /// `CHOUCHA_S3_ACCESS_KEY`, `CHOUCHA_S3_SECRET_KEY`, optional
    /// `CHOUCHA_S3_REGION`), else the filesystem.
    pub fn from_env() -> anyhow::Result<Self> {
        let Ok(endpoint) = std::env::var("CHOUCHA_S3_ENDPOINT") else {
            return Ok(Self::Filesystem);
        };
        let var = |k: &str| {
            std::env::var(k)
                .map_err(|_| anyhow::anyhow!("{k} must be set when CHOUCHA_S3_ENDPOINT is"))
        };
        let mut c = blobs::S3Config::new(
            endpoint,
            var("CHOUCHA_S3_BUCKET")?,
            var("CHOUCHA_S3_ACCESS_KEY")?,
            var("CHOUCHA_S3_SECRET_KEY")?,
        );
        if let Ok(r) = std::env::var("CHOUCHA_S3_REGION") {
            c.region = r;
        }
        // How long an upload's last step keeps retrying an unreachable store
        // before answering 503 (the device resends later; nothing is lost).
        if let Ok(n) = std::env::var("CHOUCHA_S3_MAX_RETRIES") {
            c.max_retries = n
                .parse()
                .map_err(|_| anyhow::anyhow!("CHOUCHA_S3_MAX_RETRIES must be a number"))?;
        }
        if let Ok(n) = std::env::var("CHOUCHA_S3_RETRY_TIMEOUT_SECS") {
            let secs: u64 = n
                .parse()
                .map_err(|_| anyhow::anyhow!("CHOUCHA_S3_RETRY_TIMEOUT_SECS must be a number"))?;
            c.retry_timeout = std::time::Duration::from_secs(secs);
        }
        Ok(Self::S3(c))
    }
}

impl AppState {
    /// Opens the evidence store and the upload area beside the database.
    pub async fn open(
        store: Store,
        data_dir: &std::path::Path,
        blobs_at: BlobConfig,
    ) -> anyhow::Result<Self> {
        let blob_store: Arc<dyn blobs::BlobStore> = match blobs_at {
            BlobConfig::Filesystem => {
                Arc::new(blobs::FsBlobStore::new(data_dir.join("blobs")).await?)
            }
            BlobConfig::S3(c) => Arc::new(blobs::S3BlobStore::new(&c)?),
        };
        let uploads =
            blobs::UploadManager::new(data_dir, blob_store, blobs::UploadLimits::default()).await?;
        let checklists = Arc::new(Catalogue::embedded()?);
        Ok(Self {
            blob_registrar: store::BlobRegistrar::start(store.clone()),
            store,
            checklists,
            uploads: Arc::new(uploads),
        })
    }

    /// The checklist version new tasks of `category` use today.
    pub fn checklist_for(&self, category: TargetCategory) -> Option<ChecklistRef> {
        let today = CivilDate::new(chrono::Utc::now().date_naive()).ok()?;
        self.checklists
            .current(category, today)
            .map(|c| c.reference())
    }
}
