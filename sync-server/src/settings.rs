//! The server's settings, in one typed struct read once at start.
//!
//! Layers, each overriding the one before: built-in defaults → an optional
//! TOML file (`--config FILE` or `CHOUCHA_CONFIG`) → environment variables
//! (`CHOUCHA_*`, and `DATABASE_URL`) → command-line flags. Every value is
//! checked when it is read; a bad one stops the server with a message that
//! names the setting and where it came from — it never falls back to a
//! default silently. [`SETTINGS`] is the one list of what can be set; the
//! README's table is written from it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::BlobConfig;
use crate::blobs::S3Config;
use crate::client_addr::TrustedProxies;
use crate::oversight::{OversightConfig, phash};

/// A value that must not appear in logs or debug output (a password in a
/// database URL, an S3 secret key).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, for a log collector.
    Json,
}

/// Everything the server can be told.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<Secret>,
    pub log_format: LogFormat,
    /// Bearer token that may read `/metrics`; without it `/metrics` answers
    /// only the admin token.
    pub metrics_token: Option<Secret>,
    pub secure_cookies: bool,
    /// The public draw page lists each team's officers by credential
    /// number (only where the bureau's rules allow it).
    pub public_draw_officers: bool,
    /// Proxies whose `X-Forwarded-For` names the client for rate limits.
    pub trusted_proxies: TrustedProxies,
    pub s3_endpoint: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_access_key: Option<String>,
    pub s3_secret_key: Option<Secret>,
    pub s3_region: Option<String>,
    pub s3_max_retries: Option<usize>,
    pub s3_retry_timeout_secs: Option<u64>,
    pub duty_gps_threshold_m: f64,
    pub phash_max_distance: u32,
    pub authority: String,
    pub calendar_file: Option<PathBuf>,
    /// Hours after which an upload nobody added to is given up and its
    /// part removed.
    pub upload_idle_hours: u64,
    /// Most bytes one device may hold in uploads no record, question or
    /// escalation names.
    pub device_unnamed_quota_mb: u64,
    /// Hours a blob nothing names is kept before it is collected.
    pub blob_grace_hours: u64,
    /// Where escalations (上报) are announced: webhook URLs (JSON POST).
    pub alert_webhooks: Vec<String>,
    /// …and e-mail addresses, sent through `smtp_url` from `alert_mail_from`.
    pub alert_emails: Vec<String>,
    /// The mail server, as a URL: `smtp://host:25`, `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user:password@host:465`.
    pub smtp_url: Option<Secret>,
    pub alert_mail_from: String,
    /// HTTPS served directly: the certificate chain and its key (PEM).
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// The bureau's own certificate authority (PEM), handed to tablets in
    /// the enrolment QR code so they trust only it.
    pub tls_ca_file: Option<PathBuf>,
    /// The address tablets reach the server at (`https://…`), written
    /// into enrolment codes; without it, the request's own host.
    pub public_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        let oversight = OversightConfig::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            log_format: LogFormat::Text,
            metrics_token: None,
            secure_cookies: false,
            public_draw_officers: false,
            trusted_proxies: TrustedProxies::default(),
            s3_endpoint: None,
            s3_bucket: None,
            s3_access_key: None,
            s3_secret_key: None,
            s3_region: None,
            s3_max_retries: None,
            s3_retry_timeout_secs: None,
            duty_gps_threshold_m: oversight.gps_threshold_m,
            phash_max_distance: oversight.phash_max_distance,
            authority: oversight.authority,
            calendar_file: None,
            // A week: a tablet offline over a long weekend still resumes.
            upload_idle_hours: 168,
            // An honest tablet names every photo before it uploads it;
            // this bounds what a hostile or broken one can leave.
            device_unnamed_quota_mb: 512,
            // Two weeks: long past any retry of a push that names them.
            blob_grace_hours: 336,
            alert_webhooks: Vec::new(),
            alert_emails: Vec::new(),
            smtp_url: None,
            alert_mail_from: "choucha@localhost".to_owned(),
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_file: None,
            public_url: None,
        }
    }
}

/// One setting: its key in the TOML file, its environment variable, its
/// flag (if any), its default as written in the docs, and what it does.
#[derive(Debug, Clone, Copy)]
pub struct SettingInfo {
    pub key: &'static str,
    pub env: &'static str,
    pub flag: Option<&'static str>,
    pub default: &'static str,
    pub meaning: &'static str,
}

const fn s(
    key: &'static str,
    env: &'static str,
    flag: Option<&'static str>,
    default: &'static str,
    meaning: &'static str,
) -> SettingInfo {
    SettingInfo {
        key,
        env,
        flag,
        default,
        meaning,
    }
}

/// Every setting.
pub const SETTINGS: &[SettingInfo] = &[
    s(
        "listen",
        "CHOUCHA_LISTEN",
        Some("--listen"),
        "127.0.0.1:8080",
        "address `serve` listens on; port 0 picks a free port",
    ),
    s(
        "data_dir",
        "CHOUCHA_DATA_DIR",
        Some("--data-dir"),
        "data",
        "SQLite file `choucha.db`, evidence blobs and upload parts",
    ),
    s(
        "database_url",
        "DATABASE_URL",
        Some("--database-url"),
        "(SQLite in the data directory)",
        "`postgres://…` for PostgreSQL, or `sqlite:…`",
    ),
    s(
        "log_format",
        "CHOUCHA_LOG_FORMAT",
        None,
        "text",
        "`text` or `json` (one object per line); the level is `RUST_LOG`",
    ),
    s(
        "metrics_token",
        "CHOUCHA_METRICS_TOKEN",
        None,
        "(none: admin token only)",
        "bearer token a Prometheus scraper sends to read `/metrics`",
    ),
    s(
        "secure_cookies",
        "CHOUCHA_SECURE_COOKIES",
        None,
        "false",
        "mark console cookies Secure even without `X-Forwarded-Proto: https`",
    ),
    s(
        "public_draw_officers",
        "CHOUCHA_PUBLIC_DRAW_OFFICERS",
        None,
        "false",
        "the public draw page lists each team's officers by credential number (执法证号; only where the bureau's rules allow)",
    ),
    s(
        "trusted_proxies",
        "CHOUCHA_TRUSTED_PROXIES",
        None,
        "(none: the socket peer is the client)",
        "comma-separated addresses or CIDR blocks of the load balancers whose `X-Forwarded-For` names the client for login and enrolment limits",
    ),
    s(
        "s3_endpoint",
        "CHOUCHA_S3_ENDPOINT",
        None,
        "(none: evidence on the local disk)",
        "S3-compatible store for evidence; needs bucket and keys",
    ),
    s(
        "s3_bucket",
        "CHOUCHA_S3_BUCKET",
        None,
        "",
        "bucket of the S3 store",
    ),
    s(
        "s3_access_key",
        "CHOUCHA_S3_ACCESS_KEY",
        None,
        "",
        "access key of the S3 store",
    ),
    s(
        "s3_secret_key",
        "CHOUCHA_S3_SECRET_KEY",
        None,
        "",
        "secret key of the S3 store (never logged)",
    ),
    s(
        "s3_region",
        "CHOUCHA_S3_REGION",
        None,
        "us-east-1",
        "signing region of the S3 store",
    ),
    s(
        "s3_max_retries",
        "CHOUCHA_S3_MAX_RETRIES",
        None,
        "3",
        "retries per S3 request before an upload answers 503",
    ),
    s(
        "s3_retry_timeout_secs",
        "CHOUCHA_S3_RETRY_TIMEOUT_SECS",
        None,
        "30",
        "seconds one S3 request may take with its retries",
    ),
    s(
        "duty_gps_threshold_m",
        "CHOUCHA_DUTY_GPS_THRESHOLD_M",
        None,
        "1000",
        "a photo farther than this from the target (metres) is flagged",
    ),
    s(
        "phash_max_distance",
        "CHOUCHA_PHASH_MAX_DISTANCE",
        None,
        "4",
        "photos whose perceptual hashes differ in at most this many bits are the same photo (0–4)",
    ),
    s(
        "authority",
        "CHOUCHA_AUTHORITY",
        None,
        "市场监督管理局",
        "发布机关 named on every published result",
    ),
    s(
        "calendar_file",
        "CHOUCHA_CALENDAR_FILE",
        None,
        "(built-in years)",
        "TOML file of further years' holidays and adjusted working days",
    ),
    s(
        "upload_idle_hours",
        "CHOUCHA_UPLOAD_IDLE_HOURS",
        None,
        "168",
        "an unfinished upload nobody added to for this many hours is removed (its device starts that file again)",
    ),
    s(
        "device_unnamed_quota_mb",
        "CHOUCHA_DEVICE_UNNAMED_QUOTA_MB",
        None,
        "512",
        "most MB one device may upload that no record, question or escalation names (an honest tablet names every photo first)",
    ),
    s(
        "blob_grace_hours",
        "CHOUCHA_BLOB_GRACE_HOURS",
        None,
        "336",
        "an evidence file nothing names is deleted after this many hours (hourly collection, logged)",
    ),
    s(
        "alert_webhooks",
        "CHOUCHA_ALERT_WEBHOOKS",
        None,
        "(none)",
        "URLs (comma-separated) that get a JSON POST for every escalation (上报), retried until delivered",
    ),
    s(
        "alert_emails",
        "CHOUCHA_ALERT_EMAILS",
        None,
        "(none)",
        "e-mail addresses (comma-separated) that get a message for every escalation (上报), through smtp_url, retried until the mail server takes it",
    ),
    s(
        "smtp_url",
        "CHOUCHA_SMTP_URL",
        None,
        "(none)",
        "the mail server for alert_emails: smtp://host:25, smtp://host:587?tls=required (STARTTLS), smtps://user:password@host:465",
    ),
    s(
        "alert_mail_from",
        "CHOUCHA_ALERT_MAIL_FROM",
        None,
        "choucha@localhost",
        "the sender of alert e-mails, e.g. 抽查系统 <choucha@bureau.example>",
    ),
    s(
        "tls_cert_file",
        "CHOUCHA_TLS_CERT_FILE",
        None,
        "(none)",
        "PEM certificate chain: serve HTTPS directly (with tls_key_file) instead of behind a TLS proxy",
    ),
    s(
        "tls_key_file",
        "CHOUCHA_TLS_KEY_FILE",
        None,
        "(none)",
        "PEM private key of tls_cert_file",
    ),
    s(
        "tls_ca_file",
        "CHOUCHA_TLS_CA_FILE",
        None,
        "(none)",
        "PEM of the bureau's own certificate authority: enrolment QR codes carry it and tablets then trust only it",
    ),
    s(
        "public_url",
        "CHOUCHA_PUBLIC_URL",
        None,
        "(the request's host)",
        "the https:// address tablets reach the server at, written into enrolment QR codes",
    ),
];

/// The environment variable naming the settings file.
pub const CONFIG_ENV: &str = "CHOUCHA_CONFIG";

/// A setting could not be read. The message names the setting and where
/// the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{source_name} {name}: {reason}")]
    Bad {
        source_name: String,
        name: String,
        reason: String,
    },
    #[error("settings file {path}: {reason}")]
    File { path: String, reason: String },
}

/// Where a value came from, as the error names it.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    File(&'a Path),
    Env,
    Flag,
}

impl Settings {
    /// Reads the layers: `file` (if any), then the variables `env` returns,
    /// then `flags` as (key, value) pairs given on the command line.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: &[(&str, String)],
    ) -> Result<Self, SettingsError> {
        let mut s = Self::default();
        if let Some(path) = file {
            let bad = |reason: String| SettingsError::File {
                path: path.display().to_string(),
                reason,
            };
            let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| bad(e.to_string()))?;
            for (key, value) in table {
                if !SETTINGS.iter().any(|i| i.key == key) {
                    let known: Vec<&str> = SETTINGS.iter().map(|i| i.key).collect();
                    return Err(bad(format!(
                        "unknown setting '{key}' (known: {})",
                        known.join(", ")
                    )));
                }
                let raw = match value {
                    toml::Value::String(v) => v,
                    toml::Value::Integer(v) => v.to_string(),
                    toml::Value::Float(v) => v.to_string(),
                    toml::Value::Boolean(v) => v.to_string(),
                    other => {
                        return Err(bad(format!(
                            "{key}: expected a string, number or boolean, got {}",
                            other.type_str()
                        )));
                    }
                };
                s.set(&key, &raw, Source::File(path))?;
            }
        }
        for info in SETTINGS {
            if let Some(raw) = env(info.env) {
                s.set(info.key, &raw, Source::Env)?;
            }
        }
        for (key, raw) in flags {
            s.set(key, raw, Source::Flag)?;
        }
        s.validate()?;
        Ok(s)
    }

    /// The process's own layers: `config` (the `--config` flag) or
    /// `CHOUCHA_CONFIG`, the real environment, and the given flags.
    pub fn from_process(
        config: Option<&Path>,
        flags: &[(&str, String)],
    ) -> Result<Self, SettingsError> {
        let from_env = std::env::var_os(CONFIG_ENV).map(PathBuf::from);
        let file = config.map(Path::to_path_buf).or(from_env);
        Self::load(file.as_deref(), |k| std::env::var(k).ok(), flags)
    }

    fn set(&mut self, key: &str, raw: &str, source: Source<'_>) -> Result<(), SettingsError> {
        let info = SETTINGS
            .iter()
            .find(|i| i.key == key)
            .expect("only known keys are set");
        let fail = |reason: String| {
            let (source_name, name) = match source {
                Source::File(p) => (
                    format!("settings file {}", p.display()),
                    info.key.to_owned(),
                ),
                Source::Env => ("environment variable".to_owned(), info.env.to_owned()),
                Source::Flag => ("flag".to_owned(), info.flag.unwrap_or(info.key).to_owned()),
            };
            SettingsError::Bad {
                source_name,
                name,
                reason,
            }
        };
        let text = || Some(raw.to_owned()).filter(|v| !v.trim().is_empty());
        let number = |what: &str| fail(format!("must be {what}, got '{raw}'"));
        match key {
            "listen" => {
                self.listen = raw
                    .trim()
                    .parse()
                    .map_err(|_| number("an address such as 127.0.0.1:8080"))?
            }
            "data_dir" => self.data_dir = PathBuf::from(raw),
            "database_url" => {
                let url = raw.trim();
                if !(url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("sqlite:"))
                {
                    return Err(fail(
                        "must start with postgres://, postgresql:// or sqlite:".into(),
                    ));
                }
                self.database_url = Some(Secret(url.to_owned()));
            }
            "log_format" => {
                self.log_format = match raw.trim() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(fail(format!("must be text or json, got '{raw}'"))),
                }
            }
            "metrics_token" => self.metrics_token = text().map(Secret),
            "secure_cookies" => {
                self.secure_cookies = match raw.trim() {
                    "1" | "true" | "yes" => true,
                    "0" | "false" | "no" | "" => false,
                    _ => return Err(fail(format!("must be true or false, got '{raw}'"))),
                }
            }
            "public_draw_officers" => {
                self.public_draw_officers = match raw.trim() {
                    "1" | "true" | "yes" => true,
                    "0" | "false" | "no" | "" => false,
                    _ => return Err(fail(format!("must be true or false, got '{raw}'"))),
                }
            }
            "trusted_proxies" => self.trusted_proxies = raw.parse().map_err(fail)?,
            "s3_endpoint" => self.s3_endpoint = text(),
            "s3_bucket" => self.s3_bucket = text(),
            "s3_access_key" => self.s3_access_key = text(),
            "s3_secret_key" => self.s3_secret_key = text().map(Secret),
            "s3_region" => self.s3_region = text(),
            "s3_max_retries" => {
                self.s3_max_retries =
                    Some(raw.trim().parse().map_err(|_| number("a whole number"))?)
            }
            "s3_retry_timeout_secs" => {
                self.s3_retry_timeout_secs = Some(
                    raw.trim()
                        .parse()
                        .map_err(|_| number("a whole number of seconds"))?,
                )
            }
            "duty_gps_threshold_m" => {
                self.duty_gps_threshold_m = raw
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|m| *m > 0.0 && m.is_finite())
                    .ok_or_else(|| number("a positive number of metres"))?
            }
            "phash_max_distance" => {
                self.phash_max_distance = raw
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|d| *d <= phash::MAX_DISTANCE)
                    .ok_or_else(|| number(&format!("0..={}", phash::MAX_DISTANCE)))?
            }
            "authority" => {
                self.authority = text().ok_or_else(|| fail("must not be empty".into()))?
            }
            "calendar_file" => self.calendar_file = text().map(PathBuf::from),
            "alert_webhooks" => {
                let urls: Vec<String> = raw
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = urls
                    .iter()
                    .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
                {
                    return Err(fail(format!("'{bad}' is not an http:// or https:// URL")));
                }
                self.alert_webhooks = urls;
            }
            "alert_emails" => {
                let addresses: Vec<String> = raw
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = addresses
                    .iter()
                    .find(|a| a.parse::<lettre::Address>().is_err())
                {
                    return Err(fail(format!("'{bad}' is not an e-mail address")));
                }
                self.alert_emails = addresses;
            }
            "smtp_url" => {
                if let Some(url) = text() {
                    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
                        .map_err(|e| fail(format!("not a mail server URL ({e})")))?;
                    self.smtp_url = Some(Secret(url));
                }
            }
            "alert_mail_from" => {
                let from = text().ok_or_else(|| fail("must not be empty".into()))?;
                from.parse::<lettre::message::Mailbox>()
                    .map_err(|e| fail(format!("'{from}' is not a sender address ({e})")))?;
                self.alert_mail_from = from;
            }
            "tls_cert_file" => self.tls_cert_file = text().map(PathBuf::from),
            "tls_key_file" => self.tls_key_file = text().map(PathBuf::from),
            "tls_ca_file" => self.tls_ca_file = text().map(PathBuf::from),
            "public_url" => {
                if let Some(url) = text() {
                    let url = url.trim().trim_end_matches('/').to_owned();
                    if !(url.starts_with("https://") || url.starts_with("http://")) {
                        return Err(fail(format!("'{url}' is not an https:// URL")));
                    }
                    self.public_url = Some(url);
                }
            }
            "upload_idle_hours" => {
                self.upload_idle_hours = raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|h| *h > 0)
                    .ok_or_else(|| number("a positive whole number of hours"))?
            }
            "device_unnamed_quota_mb" => {
                self.device_unnamed_quota_mb = raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|m| *m > 0)
                    .ok_or_else(|| number("a positive whole number of MB"))?
            }
            "blob_grace_hours" => {
                self.blob_grace_hours = raw
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|h| *h > 0)
                    .ok_or_else(|| number("a positive whole number of hours"))?
            }
            _ => unreachable!("every key in SETTINGS is handled"),
        }
        Ok(())
    }

    /// Checks what no single value shows: S3 settings come together.
    fn validate(&self) -> Result<(), SettingsError> {
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(SettingsError::Bad {
                source_name: "setting".into(),
                name: "CHOUCHA_TLS_CERT_FILE / CHOUCHA_TLS_KEY_FILE".into(),
                reason: "must be set together".into(),
            });
        }
        if !self.alert_emails.is_empty() && self.smtp_url.is_none() {
            return Err(SettingsError::Bad {
                source_name: "setting".into(),
                name: "CHOUCHA_SMTP_URL".into(),
                reason:
                    "must be set when CHOUCHA_ALERT_EMAILS is (the mail server to send through)"
                        .into(),
            });
        }
        let parts = [
            ("s3_bucket", self.s3_bucket.is_some()),
            ("s3_access_key", self.s3_access_key.is_some()),
            ("s3_secret_key", self.s3_secret_key.is_some()),
        ];
        if self.s3_endpoint.is_some() {
            if let Some((key, _)) = parts.iter().find(|(_, set)| !set) {
                let info = SETTINGS.iter().find(|i| i.key == *key).expect("known");
                return Err(SettingsError::Bad {
                    source_name: "setting".into(),
                    name: info.env.into(),
                    reason: "must be set when CHOUCHA_S3_ENDPOINT is".into(),
                });
            }
        } else if let Some((key, _)) = parts.iter().find(|(_, set)| *set) {
            let info = SETTINGS.iter().find(|i| i.key == *key).expect("known");
            return Err(SettingsError::Bad {
                source_name: "setting".into(),
                name: info.env.into(),
                reason: "is set but CHOUCHA_S3_ENDPOINT is not".into(),
            });
        }
        Ok(())
    }

    /// Where evidence blobs are kept.
    pub fn blob_config(&self) -> BlobConfig {
        let (Some(endpoint), Some(bucket), Some(key), Some(secret)) = (
            &self.s3_endpoint,
            &self.s3_bucket,
            &self.s3_access_key,
            &self.s3_secret_key,
        ) else {
            return BlobConfig::Filesystem;
        };
        let mut c = S3Config::new(endpoint, bucket, key, secret.expose());
        if let Some(r) = &self.s3_region {
            c.region = r.clone();
        }
        // How long an upload's last step keeps retrying an unreachable store
        // before answering 503 (the device resends later; nothing is lost).
        if let Some(n) = self.s3_max_retries {
            c.max_retries = n;
        }
        if let Some(secs) = self.s3_retry_timeout_secs {
            c.retry_timeout = Duration::from_secs(secs);
        }
        BlobConfig::S3(c)
    }

    /// The proof-of-duty and publication settings; reads the calendar file.
    pub fn oversight(&self) -> Result<OversightConfig, SettingsError> {
        let mut c = OversightConfig {
            gps_threshold_m: self.duty_gps_threshold_m,
            phash_max_distance: self.phash_max_distance,
            authority: self.authority.clone(),
            ..OversightConfig::default()
        };
        if let Some(path) = &self.calendar_file {
            let bad = |reason: String| SettingsError::Bad {
                source_name: "setting".into(),
                name: "CHOUCHA_CALENDAR_FILE".into(),
                reason: format!("{}: {reason}", path.display()),
            };
            let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
            c.calendar
                .extend_from_toml(&text)
                .map_err(|e| bad(e.to_string()))?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// The table the README is written from says what the code does.
    #[test]
    fn documented_defaults_are_the_defaults() {
        let d = Settings::default();
        let doc = |key: &str| SETTINGS.iter().find(|i| i.key == key).unwrap().default;
        assert_eq!(doc("listen"), d.listen.to_string());
        assert_eq!(doc("data_dir"), d.data_dir.display().to_string());
        assert_eq!(doc("log_format"), "text");
        assert_eq!(doc("secure_cookies"), d.secure_cookies.to_string());
        assert_eq!(
            doc("duty_gps_threshold_m"),
            d.duty_gps_threshold_m.to_string()
        );
        assert_eq!(doc("phash_max_distance"), d.phash_max_distance.to_string());
        assert_eq!(doc("authority"), d.authority);
        assert_eq!(doc("upload_idle_hours"), d.upload_idle_hours.to_string());
        assert_eq!(
            doc("device_unnamed_quota_mb"),
            d.device_unnamed_quota_mb.to_string()
        );
        assert_eq!(doc("blob_grace_hours"), d.blob_grace_hours.to_string());
        assert_eq!(doc("alert_mail_from"), d.alert_mail_from);
        let s3 = S3Config::new("http://x", "b", "k", "s");
        assert_eq!(doc("s3_region"), s3.region);
        assert_eq!(doc("s3_max_retries"), s3.max_retries.to_string());
        assert_eq!(
            doc("s3_retry_timeout_secs"),
            s3.retry_timeout.as_secs().to_string()
        );
        let mut keys: Vec<&str> = SETTINGS.iter().map(|i| i.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SETTINGS.len(), "keys are unique");
    }

    #[test]
    fn defaults_then_file_then_env_then_flags() {
        let s = Settings::load(None, env(&[]), &[]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert!(matches!(s.blob_config(), BlobConfig::Filesystem));
        assert_eq!(s.log_format, LogFormat::Text);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("choucha.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/choucha\"\nduty_gps_threshold_m = 250\nauthority = \"高新区市场监督管理局\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&file), env(&[]), &[]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(s.data_dir, PathBuf::from("/srv/choucha"));
        assert_eq!(s.duty_gps_threshold_m, 250.0);
        assert_eq!(s.oversight().unwrap().authority, "高新区市场监督管理局");

        let vars = [
            ("CHOUCHA_LISTEN", "127.0.0.1:9001"),
            ("CHOUCHA_LOG_FORMAT", "json"),
        ];
        let s = Settings::load(Some(&file), env(&vars), &[]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9001", "env over file");
        assert_eq!(s.data_dir, PathBuf::from("/srv/choucha"), "file kept");
        assert_eq!(s.log_format, LogFormat::Json);

        let s = Settings::load(
            Some(&file),
            env(&vars),
            &[("listen", "127.0.0.1:0".to_owned())],
        )
        .unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:0", "flag over env");
    }

    #[test]
    fn alert_e_mail_needs_a_mail_server_and_real_addresses() {
        let s = Settings::load(None, env(&[]), &[]).unwrap();
        assert_eq!(s.alert_mail_from, "choucha@localhost");
        let vars = [
            (
                "CHOUCHA_ALERT_EMAILS",
                "zhiliangke@bureau.test, duty@bureau.test",
            ),
            ("CHOUCHA_SMTP_URL", "smtp://127.0.0.1:2525"),
            ("CHOUCHA_ALERT_MAIL_FROM", "抽查系统 <choucha@bureau.test>"),
        ];
        let s = Settings::load(None, env(&vars), &[]).unwrap();
        assert_eq!(s.alert_emails.len(), 2);
        assert!(format!("{s:?}").contains("smtp_url: Some(Secret(…))"));
        let err = Settings::load(None, env(&vars[..1]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CHOUCHA_SMTP_URL") && err.contains("must be set"),
            "{err}"
        );
        let err = Settings::load(None, env(&[("CHOUCHA_ALERT_EMAILS", "zhiliangke")]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'zhiliangke' is not an e-mail address"),
            "{err}"
        );
        let err = Settings::load(None, env(&[("CHOUCHA_SMTP_URL", "mail.bureau.test")]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CHOUCHA_SMTP_URL: not a mail server URL"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_value_is_named_with_its_source_and_never_defaulted() {
        let err = Settings::load(None, env(&[("CHOUCHA_DUTY_GPS_THRESHOLD_M", "far")]), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "environment variable CHOUCHA_DUTY_GPS_THRESHOLD_M: must be a positive number of metres, got 'far'"
        );
        let err = Settings::load(None, env(&[("CHOUCHA_PHASH_MAX_DISTANCE", "64")]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CHOUCHA_PHASH_MAX_DISTANCE") && err.contains("0..=4"),
            "{err}"
        );
        let err = Settings::load(None, env(&[]), &[("listen", "localhost".into())])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("flag --listen:"), "{err}");
        let err = Settings::load(None, env(&[("DATABASE_URL", "mysql://x")]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DATABASE_URL") && err.contains("postgres://"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("choucha.toml");
        std::fs::write(&file, "duty_gps_treshold_m = 50\n").unwrap();
        let err = Settings::load(Some(&file), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown setting 'duty_gps_treshold_m'"),
            "a typo in the file is refused: {err}"
        );
        std::fs::write(&file, "s3_max_retries = \"many\"\n").unwrap();
        let err = Settings::load(Some(&file), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("choucha.toml s3_max_retries: must be a whole number"),
            "{err}"
        );
        let err = Settings::load(Some(&dir.path().join("missing.toml")), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.toml"), "{err}");
    }

    #[test]
    fn s3_settings_come_together_and_secrets_stay_hidden() {
        let err = Settings::load(
            None,
            env(&[("CHOUCHA_S3_ENDPOINT", "http://127.0.0.1:9000")]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("CHOUCHA_S3_BUCKET must be set")
                || err.contains("CHOUCHA_S3_BUCKET: must be set"),
            "{err}"
        );
        let err = Settings::load(None, env(&[("CHOUCHA_S3_BUCKET", "b")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("CHOUCHA_S3_ENDPOINT is not"), "{err}");
        let vars = [
            ("CHOUCHA_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("CHOUCHA_S3_BUCKET", "evidence"),
            ("CHOUCHA_S3_ACCESS_KEY", "ak"),
            ("CHOUCHA_S3_SECRET_KEY", "very-secret"),
            ("CHOUCHA_S3_MAX_RETRIES", "1"),
            ("DATABASE_URL", "postgres://u:pw-secret@127.0.0.1/db"),
        ];
        let s = Settings::load(None, env(&vars), &[]).unwrap();
        let BlobConfig::S3(c) = s.blob_config() else {
            panic!("S3 configured")
        };
        assert_eq!((c.bucket.as_str(), c.max_retries), ("evidence", 1));
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("very-secret") && !shown.contains("pw-secret"),
            "{shown}"
        );
    }

    #[test]
    fn a_bad_calendar_file_is_named() {
        let s = Settings::load(
            None,
            env(&[("CHOUCHA_CALENDAR_FILE", "/no/such/calendar.toml")]),
            &[],
        )
        .unwrap();
        let err = s.oversight().unwrap_err().to_string();
        assert!(
            err.contains("CHOUCHA_CALENDAR_FILE") && err.contains("/no/such/calendar.toml"),
            "{err}"
        );
    }
}
