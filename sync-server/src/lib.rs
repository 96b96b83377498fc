//! The Choucha sync server as a library, so tests and benchmarks can build
//! the same router the binary serves.
//!
//! * [`store`] — the database (SQLite or PostgreSQL) behind one interface.
//! * [`import`] — reading directory files (CSV/XLSX, UTF-8/GBK).
//! * [`api`] — the REST API: directories, plans, draws, verification.
//! * [`console`] — the supervisor console (HTML) and the public pages.

pub mod alerts;
pub mod api;
pub mod cli;
pub mod client_addr;
pub mod console;
pub mod data_lock;
pub mod db_parts;
pub mod demo;
pub mod device_api;
pub mod error;
pub mod observe;
pub mod openapi;
pub mod security_headers;
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
    /// Whose `X-Forwarded-For` names the client ([`client_addr`]).
    pub trusted_proxies: client_addr::TrustedProxies,
    /// Sends escalations' e-mail alerts, when a mail server is configured.
    pub mailer: Option<Arc<alerts::Mailer>>,
    /// Where tablets reach the server (`public_url`), and whether it serves
    /// HTTPS itself: what an enrolment QR code says.
    pub public_url: Option<String>,
    pub serves_tls: bool,
    /// The bureau's certificate authority (PEM) tablets are told to pin.
    pub ca_pem: Option<Arc<String>>,
    /// Bounds on evidence nothing names ([`EvidenceLimits`]).
    pub evidence: EvidenceLimits,
    /// The public draw page names officers by credential number.
    pub public_draw_officers: bool,
}

/// How much evidence nothing names a device may leave, and for how long
/// the server keeps it ([`service::evidence_gc`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceLimits {
    /// Bytes one device may hold in uploads nothing names.
    pub device_unnamed_quota: u64,
    /// An unfinished upload untouched this long is swept.
    pub upload_idle: std::time::Duration,
    /// A finished blob nothing names is collected after this long.
    pub blob_grace: std::time::Duration,
}

impl EvidenceLimits {
    pub fn from_settings(s: &settings::Settings) -> Self {
        Self {
            device_unnamed_quota: s.device_unnamed_quota_mb * 1024 * 1024,
            upload_idle: std::time::Duration::from_secs(s.upload_idle_hours * 3600),
            blob_grace: std::time::Duration::from_secs(s.blob_grace_hours * 3600),
        }
    }
}

impl Default for EvidenceLimits {
    fn default() -> Self {
        Self::from_settings(&settings::Settings::default())
    }
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
        let limits = blobs::UploadLimits::default();
        // On PostgreSQL several instances may serve one upload in turn, so
        // its bytes so far live in the shared database; a SQLite server is
        // alone and keeps them as fsynced files beside its database.
        let uploads = match store.backend() {
            store::Backend::Postgres => blobs::UploadManager::with_parts(
                Arc::new(db_parts::DbParts::new(store.clone())),
                blob_store,
                limits,
            ),
            store::Backend::Sqlite => {
                blobs::UploadManager::new(data_dir, blob_store, limits).await?
            }
        };
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
            trusted_proxies: Default::default(),
            mailer: None,
            public_url: None,
            serves_tls: false,
            ca_pem: None,
            evidence: EvidenceLimits::default(),
            public_draw_officers: false,
        })
    }

    /// Applies the settings that live in the state.
    pub fn configure(&mut self, s: &settings::Settings) -> Result<(), settings::SettingsError> {
        self.oversight = Arc::new(s.oversight()?);
        self.secure_cookies = s.secure_cookies;
        self.metrics_token = s.metrics_token.clone();
        self.trusted_proxies = s.trusted_proxies.clone();
        self.store.set_alert_recipients(
            s.alert_webhooks
                .iter()
                .map(|u| ("webhook".to_owned(), u.clone()))
                .chain(
                    s.alert_emails
                        .iter()
                        .map(|a| ("email".to_owned(), a.clone())),
                )
                .collect(),
        );
        self.public_url = s.public_url.clone();
        self.evidence = EvidenceLimits::from_settings(s);
        self.public_draw_officers = s.public_draw_officers;
        self.serves_tls = s.tls_cert_file.is_some();
        self.ca_pem = match &s.tls_ca_file {
            Some(path) => {
                let pem =
                    std::fs::read_to_string(path).map_err(|e| settings::SettingsError::Bad {
                        source_name: "setting".into(),
                        name: "CHOUCHA_TLS_CA_FILE".into(),
                        reason: format!("{}: {e}", path.display()),
                    })?;
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(settings::SettingsError::Bad {
                        source_name: "setting".into(),
                        name: "CHOUCHA_TLS_CA_FILE".into(),
                        reason: format!("{} holds no PEM certificate", path.display()),
                    });
                }
                Some(Arc::new(pem))
            }
            None => None,
        };
        self.mailer = match &s.smtp_url {
            Some(url) => Some(Arc::new(
                alerts::Mailer::new(url.expose(), &s.alert_mail_from).map_err(|reason| {
                    settings::SettingsError::Bad {
                        source_name: "setting".into(),
                        name: "CHOUCHA_SMTP_URL".into(),
                        reason,
                    }
                })?,
            )),
            None => None,
        };
        Ok(())
    }

    /// The server's address as tablets should use it: the configured
    /// public URL, else this request's host over HTTPS when the server or
    /// its proxy serves HTTPS.
    pub fn public_base(&self, headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        // HTTP/1.1 names the host in a header; HTTP/2 (over TLS) in the
        // request's authority.
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        let https = self.serves_tls || console::auth::secure_cookies(self, headers);
        format!("{}://{host}", if https { "https" } else { "http" })
    }

    /// The address a request counts as for rate limits: the socket peer,
    /// or the client a trusted proxy forwarded.
    pub fn client_of(
        &self,
        peer: Option<std::net::SocketAddr>,
        headers: &axum::http::HeaderMap,
    ) -> String {
        match peer {
            Some(p) => self.trusted_proxies.client(p.ip(), headers).to_string(),
            None => "unknown".to_owned(),
        }
    }

    /// The checklist version new tasks of `category` use today.
    pub fn checklist_for(&self, category: TargetCategory) -> Option<ChecklistRef> {
        let today = CivilDate::new(chrono::Utc::now().date_naive()).ok()?;
        self.checklists
            .current(category, today)
            .map(|c| c.reference())
    }
}
