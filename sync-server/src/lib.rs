//! The Choucha sync server as a library, so tests and benchmarks can build
//! the same router the binary serves.
//!
//! * [`store`] — the database (SQLite or PostgreSQL) behind one interface.
//! * [`import`] — reading directory files (CSV/XLSX, UTF-8/GBK).
//! * [`api`] — the REST API: directories, plans, draws, verification.
//! * [`console`] — the supervisor console (HTML) and the public pages.

pub mod api;
pub mod cli;
pub mod console;
pub mod demo;
pub mod device_api;
pub mod error;
pub mod observe;
pub mod service;
pub mod settings;

/// Evidence blob stores and uploads: the `choucha-blobs` crate.
pub use choucha_blobs as blobs;
/// Directory file parsing: the `choucha-import` crate.
pub use choucha_import as import;
pub use choucha_oversight as oversight;
pub use choucha_store as store;

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
    /// Proof-of-duty and publication settings ([`settings::Settings::oversight`]).
    pub oversight: Arc<oversight::OversightConfig>,
    /// Console cookies are Secure even without a proxy saying HTTPS.
    pub secure_cookies: bool,
    /// Bearer token a metrics scraper may use instead of an admin token.
    pub metrics_token: Option<settings::Secret>,
}

/// Where evidence blobs are kept ([`settings::Settings::blob_config`]).
#[derive(Debug, Clone)]
pub enum BlobConfig {
    /// `<data dir>/blobs` on the local filesystem (the default).
    Filesystem,
    /// An S3-compatible object store (scale-out).
    S3(blobs::S3Config),
}

impl oversight::Sources for AppState {
    fn store(&self) -> &Store {
        &self.store
    }

    fn blobs(&self) -> Arc<dyn blobs::BlobStore> {
        self.uploads.store().clone()
    }
}

impl AppState {
    /// Opens the evidence store and the upload area beside the database,
    /// with the default oversight settings ([`AppState::configure`] sets
    /// the server's own).
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
        store.observe_writer_wait(|secs| observe::metrics().writer_wait.observe(secs));
        Ok(Self {
            blob_registrar: store::BlobRegistrar::start(store.clone()),
            store,
            checklists,
            uploads: Arc::new(uploads),
            oversight: Arc::new(oversight::OversightConfig::default()),
            secure_cookies: false,
            metrics_token: None,
        })
    }

    /// Applies the settings that live in the state.
    pub fn configure(&mut self, s: &settings::Settings) -> Result<(), settings::SettingsError> {
        self.oversight = Arc::new(s.oversight()?);
        self.secure_cookies = s.secure_cookies;
        self.metrics_token = s.metrics_token.clone();
        Ok(())
    }

    /// The checklist version new tasks of `category` use today.
    pub fn checklist_for(&self, category: TargetCategory) -> Option<ChecklistRef> {
        let today = CivilDate::new(chrono::Utc::now().date_naive()).ok()?;
        self.checklists
            .current(category, today)
            .map(|c| c.reference())
    }
}
