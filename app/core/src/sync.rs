//! The sync client: pull the officer's feed, push the device log, upload
//! evidence resumably, learn each sealed record's state on the server.
//!
//! Nothing local is ever deleted because of a sync: log entries are only
//! marked confirmed once the server answered `stored` or `duplicate`, blobs
//! only marked uploaded once the server reported them complete. Every step
//! is idempotent, so a sync killed at any point is simply run again.

use std::time::Duration;

use chrono::Utc;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use choucha_shared::review::ReviewState;
use choucha_shared::sync::{FeedItem, LogEntry, PullResponse};
use choucha_shared::value::Sha256Hex;
use choucha_sync_client::http::HttpTransport;
use choucha_sync_client::{Client, ClientError, Transport, decide};

use crate::app::{App, Enrolment};
use crate::error::CoreError;
use crate::store::{meta_get, meta_set};

/// The evidence waiting to go: the blobs of sealed inspection records, of
/// sealed 复查 records (a draft's photos wait for its seal) and of questions
/// asked, not yet uploaded. Every query of what is left to send uses this one condition.
const WAITING_BLOBS: &str = "FROM blobs b WHERE b.uploaded = 0 AND (\
     EXISTS (SELECT 1 FROM records r WHERE r.record_id = b.record_id AND r.state = 'sealed') \
     OR EXISTS (SELECT 1 FROM recheck_records rr WHERE rr.record_id = b.record_id AND rr.state = 'sealed') \
     OR EXISTS (SELECT 1 FROM questions q WHERE q.question_id = b.record_id) \
     OR EXISTS (SELECT 1 FROM escalations e WHERE e.escalation_id = b.record_id))";

/// Entries per push request.
const PUSH_BATCH: usize = 50;
/// Bytes per upload chunk: small enough to finish on a weak signal.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// What is still waiting to go, for "what is waiting, bytes left".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub entries_left: u64,
    pub blobs_left: u64,
    pub bytes_left: u64,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub new_tasks: usize,
    /// 复查 tasks received.
    pub rechecks: usize,
    /// Answers to questions received.
    pub answers: usize,
    /// New entries of the checklists' FAQ (常见问题).
    pub faq: usize,
    /// Images of answers brought to the tablet.
    #[serde(default)]
    pub attachments: usize,
    pub returns: usize,
    pub withdrawn: usize,
    pub entries_confirmed: usize,
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
    /// Entries the server did not take, with its words (need the user;
    /// nothing after them is sent).
    pub refused: Vec<String>,
    /// Entries taken but refused on their merits in this run (kept in the
    /// log with the server's words, `App::refused_entries`).
    pub refused_entries: usize,
    pub progress: Progress,
}

pub use choucha_sync_client::http::http_client;

impl From<ClientError> for CoreError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Network(m) => CoreError::Network(m),
            ClientError::Revoked(m) => CoreError::Revoked(m),
            ClientError::Server {
                status, message, ..
            } => CoreError::Server(format!("{status} {message}")),
            ClientError::Decode(m) => CoreError::Server(m),
        }
    }
}

/// Whether the tablet may talk to `base`: HTTPS always; plain HTTP only to
/// this machine (tests, the demo) or when a development setting allows it,
/// since codes, tokens and records would otherwise cross the network in
/// clear.
pub fn check_server_url(base: &str, allow_plain_http: bool) -> Result<(), CoreError> {
    if base.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = base.strip_prefix("http://") else {
        return Err(CoreError::Refused(
            "服务器地址须以 https:// 开头 (the server address must start with https://)".into(),
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback || allow_plain_http {
        return Ok(());
    }
    Err(CoreError::Refused(format!(
        "服务器 {authority} 未使用 https:// 加密连接，注册码和检查记录会以明文传输，已拒绝 (plain HTTP refused; use https://)"
    )))
}

impl App {
    /// Allows plain HTTP to servers other than this machine: a development
    /// setting (`CHOUCHA_APP_ALLOW_HTTP`), never for a bureau's tablets.
    pub fn set_allow_plain_http(&self, allow: bool) {
        self.allow_plain_http
            .store(allow, std::sync::atomic::Ordering::SeqCst);
    }

    /// A client that trusts only the bureau's certificate authority,
    /// built once per CA (a sync every few minutes need not rebuild the
    /// TLS configuration, and keeps its connections).
    fn pinned_client(&self, ca_pem: &str) -> Result<reqwest::Client, CoreError> {
        let mut cached = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((pem, client)) = cached.as_ref()
            && pem == ca_pem
        {
            return Ok(client.clone());
        }
        let client =
            choucha_sync_client::http::http_client_pinned(ca_pem).map_err(CoreError::Refused)?;
        *cached = Some((ca_pem.to_owned(), client.clone()));
        Ok(client)
    }

    fn allows_plain_http(&self) -> bool {
        self.allow_plain_http
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Exchanges a one-time code for a device token and remembers it.
    pub async fn enrol(
        &self,
        http: &reqwest::Client,
        server_url: &str,
        code: &str,
        device_name: &str,
    ) -> Result<Enrolment, CoreError> {
        self.enrol_pinned(http, server_url, code, device_name, None)
            .await
    }

    /// [`App::enrol`], trusting only the bureau's certificate authority
    /// `ca_pem` (from the enrolment QR code) from now on, when given.
    pub async fn enrol_pinned(
        &self,
        http: &reqwest::Client,
        server_url: &str,
        code: &str,
        device_name: &str,
        ca_pem: Option<&str>,
    ) -> Result<Enrolment, CoreError> {
        let base = server_url.trim().trim_end_matches('/').to_owned();
        check_server_url(&base, self.allows_plain_http())?;
        let http = match ca_pem {
            Some(pem) => self.pinned_client(pem)?,
            None => http.clone(),
        };
        let transport = HttpTransport::new(http, &base);
        let mut e = self
            .enrol_over(&transport, &base, code, device_name)
            .await?;
        if let Some(pem) = ca_pem {
            e.ca_pem = Some(pem.to_owned());
            self.save_enrolment(&e)?;
        }
        Ok(e)
    }

    /// [`App::enrol`] over any transport to the server at `server_url`.
    pub async fn enrol_over<T: Transport>(
        &self,
        transport: &T,
        server_url: &str,
        code: &str,
        device_name: &str,
    ) -> Result<Enrolment, CoreError> {
        if self.is_wiped() {
            return Err(CoreError::Refused(
                "本机数据已清除，请重新启动应用后再注册 (restart the app before enrolling again)"
                    .into(),
            ));
        }
        let e = Client::<T>::enrol(transport, code, device_name).await?;
        let enrolment = Enrolment {
            server_url: server_url.to_owned(),
            device_id: e.device_id,
            token: e.token,
            officer_id: e.officer_id,
            officer_name: e.officer_name,
            ca_pem: None,
        };
        self.save_enrolment(&enrolment)?;
        Ok(enrolment)
    }

    /// What is still waiting to be sent.
    pub fn progress(&self) -> Result<Progress, CoreError> {
        self.store.read(|c| {
            let entries: i64 =
                c.query_row("SELECT COUNT(*) FROM log WHERE confirmed = 0", [], |r| {
                    r.get(0)
                })?;
            let (blobs, bytes): (i64, i64) = c.query_row(
                &format!("SELECT COUNT(*), COALESCE(SUM(b.bytes), 0) {WAITING_BLOBS}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(Progress {
                entries_left: entries as u64,
                blobs_left: blobs as u64,
                bytes_left: bytes as u64,
                last_success: meta_get(c, "last_sync_ok")?,
                last_error: meta_get(c, "last_sync_error")?,
            })
        })
    }

    /// One full sync over HTTP: pull, push, upload, refresh states. Safe to
    /// stop at any point and run again.
    pub async fn sync_once(&self, http: &reqwest::Client) -> Result<SyncReport, CoreError> {
        // Over the network: never in clear to another machine (enrolled
        // before this rule, or the setting since turned off).
        let mut http = http.clone();
        if let Some(e) = self.enrolment()? {
            check_server_url(&e.server_url, self.allows_plain_http())?;
            if let Some(pem) = &e.ca_pem {
                http = self.pinned_client(pem)?;
            }
        }
        self.sync_over(|e| HttpTransport::new(http, &e.server_url))
            .await
    }

    /// [`App::sync_once`] over any transport made for the enrolment: the
    /// deterministic simulation runs the tablet's very sync over its
    /// simulated network.
    pub async fn sync_over<T: Transport + Sync>(
        &self,
        transport: impl FnOnce(&Enrolment) -> T,
    ) -> Result<SyncReport, CoreError> {
        let result = self.sync_steps(transport).await;
        let now = Utc::now().to_rfc3339();
        match &result {
            Ok(_) => self.store.write(|tx| {
                meta_set(tx, "last_sync_ok", &now)?;
                tx.execute("DELETE FROM meta WHERE key = 'last_sync_error'", [])?;
                Ok(())
            })?,
            Err(e) => {
                let msg = format!("{now} {e}");
                self.store
                    .write(|tx| meta_set(tx, "last_sync_error", &msg))?;
            }
        }
        let mut report = result?;
        report.progress = self.progress()?;
        Ok(report)
    }

    async fn sync_steps<T: Transport + Sync>(
        &self,
        transport: impl FnOnce(&Enrolment) -> T,
    ) -> Result<SyncReport, CoreError> {
        let e = self.enrolment()?.ok_or(CoreError::NotEnrolled)?;
        let mut report = SyncReport::default();
        let client = Client::new(transport(&e), &e.token);
        self.pull(&client, &mut report).await?;
        self.push(&client, &mut report).await?;
        self.upload(&client, &mut report).await?;
        self.refresh_states(&client).await?;
        report.attachments = self.fetch_attachments(&client).await?;
        Ok(report)
    }

    async fn pull<T: Transport + Sync>(
        &self,
        client: &Client<T>,
        report: &mut SyncReport,
    ) -> Result<(), CoreError> {
        loop {
            let cursor: i64 = self.store.read(|c| {
                Ok(meta_get(c, "cursor")?
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0))
            })?;
            let page: PullResponse = client.pull(cursor).await?;
            self.apply_pull(&page, report)?;
            if !page.more {
                return Ok(());
            }
        }
    }

    /// Applies one pulled page: tasks, withdrawals, returns and checklists,
    /// and advances the cursor, in one transaction — a crash repeats the
    /// page, never skips it.
    pub fn apply_pull(
        &self,
        page: &PullResponse,
        report: &mut SyncReport,
    ) -> Result<(), CoreError> {
        self.store.write(|tx| {
            for c in &page.checklists {
                tx.execute(
                    "INSERT INTO checklists (id, version, body) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    (&c.id, c.version, serde_json::to_string(c)?),
                )?;
            }
            for item in &page.items {
                match item {
                    FeedItem::TaskAssigned { bundle } => {
                        tx.execute(
                            "INSERT INTO tasks (task_id, bundle) VALUES (?1, ?2) \
                             ON CONFLICT (task_id) DO UPDATE SET bundle = excluded.bundle",
                            (&bundle.task.task_id, serde_json::to_string(bundle)?),
                        )?;
                        report.new_tasks += 1;
                    }
                    FeedItem::RecheckAssigned { task } => {
                        tx.execute(
                            "INSERT INTO rechecks (recheck_id, task) VALUES (?1, ?2) \
                             ON CONFLICT (recheck_id) DO UPDATE SET task = excluded.task",
                            (&task.recheck_id, serde_json::to_string(task)?),
                        )?;
                        report.rechecks += 1;
                    }
                    FeedItem::FaqPublished { entry } => {
                        if App::take_faq(tx, entry)? {
                            report.faq += 1;
                        }
                    }
                    FeedItem::QuestionAnswered { answer } => {
                        if App::take_answer(tx, answer)? {
                            report.answers += 1;
                        }
                    }
                    FeedItem::TaskWithdrawn { task_id, reason } => {
                        tx.execute("UPDATE tasks SET withdrawn = ?1 WHERE task_id = ?2", (reason, task_id))?;
                        report.withdrawn += 1;
                    }
                    FeedItem::Returned { r#return } => {
                        tx.execute(
                            "INSERT INTO returns (record_id, version, body) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                            (r#return.record_id.to_string(), r#return.version.as_str(), serde_json::to_string(r#return)?),
                        )?;
                        tx.execute(
                            "UPDATE records SET server_state = ?3 WHERE record_id = ?1 AND sealed_version = ?2",
                            (r#return.record_id.to_string(), r#return.version.as_str(), ReviewState::Returned.as_str()),
                        )?;
                        report.returns += 1;
                    }
                }
            }
            meta_set(tx, "cursor", &page.cursor.to_string())
        })
    }

    async fn push<T: Transport + Sync>(
        &self,
        client: &Client<T>,
        report: &mut SyncReport,
    ) -> Result<(), CoreError> {
        loop {
            let batch: Vec<LogEntry> = self.store.read(|c| {
                let mut st =
                    c.prepare("SELECT entry FROM log WHERE confirmed = 0 ORDER BY idx LIMIT ?1")?;
                let rows: Vec<String> = st
                    .query_map([PUSH_BATCH as i64], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                rows.iter().map(|r| Ok(serde_json::from_str(r)?)).collect()
            })?;
            let Some(first) = batch.first().map(|e| e.index) else {
                return Ok(());
            };
            let (_, answer) = client.push(&batch).await?;
            let reading = decide::read_push(&answer, first);
            self.store.write(|tx| {
                for index in &reading.confirmed {
                    tx.execute(
                        "UPDATE log SET confirmed = 1 WHERE idx = ?1",
                        [*index as i64],
                    )?;
                }
                for (index, message) in &reading.needs_user {
                    tx.execute(
                        "UPDATE log SET refused = ?2 WHERE idx = ?1",
                        (*index as i64, message.as_str()),
                    )?;
                }
                tx.execute(
                    "UPDATE log SET confirmed = 1 WHERE idx < ?1 AND confirmed = 0",
                    [reading.confirmed_below as i64],
                )?;
                Ok(())
            })?;
            report.entries_confirmed += reading.confirmed.len();
            report.refused.extend(
                reading
                    .refused
                    .iter()
                    .map(|(index, message)| format!("第 {index} 条：{message}")),
            );
            report.refused_entries += reading.needs_user.len();
            if !reading.go_on {
                // The rest would only be refused in turn; the user must act.
                return Ok(());
            }
        }
    }

    async fn upload<T: Transport + Sync>(
        &self,
        client: &Client<T>,
        report: &mut SyncReport,
    ) -> Result<(), CoreError> {
        let pending: Vec<(String, bool)> = self.store.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT b.sha256, b.started {WAITING_BLOBS} ORDER BY b.sha256"
            ))?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        for (sha, started) in pending {
            let sha = Sha256Hex::parse(&sha).map_err(|e| CoreError::Format(e.to_string()))?;
            let bytes = self.evidence.get(&sha)?;
            if !started {
                // Remembered before the first byte goes: from then on the
                // server may hold part of it, and the next run asks first.
                self.store.write(|tx| {
                    tx.execute(
                        "UPDATE blobs SET started = 1 WHERE sha256 = ?1",
                        [sha.as_str()],
                    )?;
                    Ok(())
                })?;
            }
            let outcome = client
                .upload(&sha, &bytes, CHUNK_BYTES, started, usize::MAX)
                .await?;
            report.bytes_uploaded += outcome.sent;
            if !outcome.complete {
                continue;
            }
            self.store.write(|tx| {
                tx.execute(
                    "UPDATE blobs SET uploaded = 1 WHERE sha256 = ?1",
                    [sha.as_str()],
                )?;
                Ok(())
            })?;
            report.blobs_uploaded += 1;
        }
        Ok(())
    }

    async fn refresh_states<T: Transport + Sync>(
        &self,
        client: &Client<T>,
    ) -> Result<(), CoreError> {
        let sealed: Vec<(String, String)> = self.store.read(|c| {
            let mut st = c.prepare(
                "SELECT record_id, sealed_version FROM records WHERE state = 'sealed' AND sealed_version IS NOT NULL \
                 AND (server_state IS NULL OR server_state <> ?1)",
            )?;
            // An approved version is final: its state cannot change again.
            let rows = st
                .query_map([ReviewState::Approved.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        for (record_id, version) in sealed {
            let id =
                uuid::Uuid::parse_str(&record_id).map_err(|e| CoreError::Format(e.to_string()))?;
            let Some(versions) = client.record(&id).await? else {
                continue; // not pushed yet
            };
            if let Some(v) = versions.iter().find(|v| v.version.as_str() == version) {
                let state = v.state.as_str();
                // "Returned" is taken only with the return itself (its
                // comment, what to fix), which comes in the feed: a return
                // made after this sync's pull would otherwise show as 退回
                // with nothing to amend; the next pull brings both.
                self.store.write(|tx| {
                    tx.execute(
                        "UPDATE records SET server_state = ?1 WHERE record_id = ?2 AND sealed_version = ?3 \
                         AND (?1 <> ?4 OR EXISTS (SELECT 1 FROM returns WHERE record_id = ?2 AND version = ?3))",
                        (state, &record_id, &version, ReviewState::Returned.as_str()),
                    )?;
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// What the server last said of a sealed record (`received`,
    /// `incomplete`, `returned`, `approved`…).
    pub fn server_state(&self, record_id: &uuid::Uuid) -> Result<Option<String>, CoreError> {
        self.store.read(|c| {
            Ok(c.query_row(
                "SELECT server_state FROM records WHERE record_id = ?1",
                [record_id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
        })
    }

    /// After the user has seen the revocation notice (or at once, if the
    /// bureau configured it): wipes every local record, question,
    /// escalation, evidence file and the enrolment, and removes the device
    /// key. Until the app restarts (and makes a new key) nothing more can
    /// be written.
    pub fn wipe_after_revocation(&self) -> Result<(), CoreError> {
        self.wiped.store(true, std::sync::atomic::Ordering::SeqCst);
        self.store.wipe()?;
        self.evidence.wipe()?;
        // The emptied database is still under the old key: the next start
        // removes its file (see `App::open`) and begins with a new key.
        std::fs::write(self.data_dir().join(crate::app::WIPED_MARKER), b"")
            .map_err(|e| CoreError::io("marking the data wiped", e))?;
        self.key_holder.destroy()
    }

    /// Whether this device's data were wiped (see
    /// [`App::wipe_after_revocation`]).
    pub fn is_wiped(&self) -> bool {
        self.wiped.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Runs syncs until `stop` turns true: immediately, then every `interval`
/// after a success, or after an exponential backoff with jitter (1 s
/// doubling to 5 min) after a failure. Returns on revocation.
pub async fn run_background(
    app: std::sync::Arc<App>,
    http: reqwest::Client,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), CoreError> {
    let mut failures: u32 = 0;
    loop {
        let wait = match app.sync_once(&http).await {
            Ok(_) => {
                failures = 0;
                interval
            }
            Err(CoreError::Revoked(m)) => return Err(CoreError::Revoked(m)),
            Err(_) => {
                failures = failures.saturating_add(1);
                backoff(failures)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return Ok(());
        }
    }
}

/// The wait after `failures` failures in a row ([`decide::backoff`]), with
/// up to 50 % random jitter so that a room of tablets regaining signal does
/// not retry in lock-step.
pub fn backoff(failures: u32) -> Duration {
    decide::backoff(failures, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::{backoff, check_server_url};

    #[test]
    fn plain_http_only_to_this_machine_or_when_allowed() {
        for ok in [
            "https://choucha.bureau.example",
            "https://10.0.0.5:8443",
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(check_server_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.5:8080",
            "http://choucha.bureau.example",
            "ftp://x",
        ] {
            let err = check_server_url(bad, false).unwrap_err().to_string();
            assert!(err.contains("https://"), "{bad}: {err}");
        }
        assert!(check_server_url("http://10.0.0.5:8080", true).is_ok());
        assert!(check_server_url("ftp://x", true).is_err());
    }

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        for failures in 1..20 {
            let base = (1000u64 << (failures.min(9) - 1)).min(300_000);
            for _ in 0..50 {
                let d = backoff(failures).as_millis() as u64;
                assert!(
                    d >= base && d <= base + base / 2,
                    "failure {failures}: {d} ms vs base {base}"
                );
            }
        }
        // Jitter: a room of tablets does not retry in lock-step.
        let spread: std::collections::BTreeSet<_> = (0..50).map(|_| backoff(5)).collect();
        assert!(spread.len() > 10);
    }
}
