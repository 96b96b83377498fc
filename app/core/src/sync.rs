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
use serde_json::{Value, json};

use choucha_shared::review::ReviewState;
use choucha_shared::sync::{
    EnrolResponse, EntryVerdict, FeedItem, LogEntry, PullResponse, PushResponse, RecordStatus,
};
use choucha_shared::value::Sha256Hex;

use crate::app::{App, Enrolment};
use crate::error::CoreError;
use crate::store::{meta_get, meta_set};

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
    pub returns: usize,
    pub withdrawn: usize,
    pub entries_confirmed: usize,
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
    /// Entries the server refused, with its words (need the user).
    pub refused: Vec<String>,
    pub progress: Progress,
}

fn net(e: reqwest::Error) -> CoreError {
    CoreError::Network(e.to_string())
}

/// A client with sane timeouts for bad networks.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

async fn error_from(resp: reqwest::Response) -> CoreError {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let message = body["message"].as_str().unwrap_or("").to_owned();
    if status == reqwest::StatusCode::UNAUTHORIZED && body["code"] == "device_revoked" {
        return CoreError::Revoked(message);
    }
    CoreError::Server(format!("{status} {message}"))
}

impl App {
    /// Exchanges a one-time code for a device token and remembers it.
    pub async fn enrol(
        &self,
        http: &reqwest::Client,
        server_url: &str,
        code: &str,
        device_name: &str,
    ) -> Result<Enrolment, CoreError> {
        let base = server_url.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CoreError::Refused(
                "服务器地址须以 http:// 或 https:// 开头".into(),
            ));
        }
        let resp = http
            .post(format!("{base}/api/v1/device/enrol"))
            .json(&json!({ "code": code.trim(), "device_name": device_name }))
            .send()
            .await
            .map_err(net)?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let e: EnrolResponse = resp.json().await.map_err(net)?;
        let enrolment = Enrolment {
            server_url: base,
            device_id: e.device_id,
            token: e.token,
            officer_id: e.officer_id,
            officer_name: e.officer_name,
        };
        self.save_enrolment(&enrolment)?;
        Ok(enrolment)
    }

    /// What is still waiting to be sent.
    pub fn progress(&self) -> Result<Progress, CoreError> {
        self.store.read(|c| {
            let entries: i64 = c.query_row("SELECT COUNT(*) FROM log WHERE confirmed = 0", [], |r| r.get(0))?;
            let (blobs, bytes): (i64, i64) = c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(b.bytes), 0) FROM blobs b JOIN records r ON r.record_id = b.record_id \
                 WHERE b.uploaded = 0 AND r.state = 'sealed'",
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

    /// One full sync: pull, push, upload, refresh states. Safe to stop at
    /// any point and run again.
    pub async fn sync_once(&self, http: &reqwest::Client) -> Result<SyncReport, CoreError> {
        let result = self.sync_steps(http).await;
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

    async fn sync_steps(&self, http: &reqwest::Client) -> Result<SyncReport, CoreError> {
        let e = self.enrolment()?.ok_or(CoreError::NotEnrolled)?;
        let mut report = SyncReport::default();
        self.pull(http, &e, &mut report).await?;
        self.push(http, &e, &mut report).await?;
        self.upload(http, &e, &mut report).await?;
        self.refresh_states(http, &e).await?;
        Ok(report)
    }

    async fn pull(
        &self,
        http: &reqwest::Client,
        e: &Enrolment,
        report: &mut SyncReport,
    ) -> Result<(), CoreError> {
        loop {
            let cursor: i64 = self.store.read(|c| {
                Ok(meta_get(c, "cursor")?
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0))
            })?;
            let resp = device_get(http, e, &format!("pull?cursor={cursor}")).await?;
            if !resp.status().is_success() {
                return Err(error_from(resp).await);
            }
            let page: PullResponse = resp.json().await.map_err(net)?;
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

    async fn push(
        &self,
        http: &reqwest::Client,
        e: &Enrolment,
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
            if batch.is_empty() {
                return Ok(());
            }
            let resp = http
                .post(format!("{}/api/v1/device/push", e.server_url))
                .bearer_auth(&e.token)
                .json(&json!({ "entries": batch }))
                .send()
                .await
                .map_err(net)?;
            let status = resp.status();
            if !(status.is_success() || status.as_u16() == 409 || status.as_u16() == 422) {
                return Err(error_from(resp).await);
            }
            let answer: PushResponse = resp.json().await.map_err(net)?;
            let mut progressed = false;
            self.store.write(|tx| {
                for r in &answer.results {
                    match &r.verdict {
                        v if v.is_confirmed() => {
                            tx.execute(
                                "UPDATE log SET confirmed = 1 WHERE idx = ?1",
                                [r.index as i64],
                            )?;
                            report.entries_confirmed += 1;
                            progressed = true;
                        }
                        EntryVerdict::Gap { .. } => {}
                        EntryVerdict::Conflict { message } | EntryVerdict::Rejected { message } => {
                            report.refused.push(format!("第 {} 条：{message}", r.index));
                        }
                        _ => {}
                    }
                }
                // The server holds everything before `next_index`: an answer
                // lost on the way back is recovered here.
                let n = tx.execute(
                    "UPDATE log SET confirmed = 1 WHERE idx < ?1 AND confirmed = 0",
                    [answer.next_index as i64],
                )?;
                progressed |= n > 0;
                Ok(())
            })?;
            if !report.refused.is_empty() || !progressed {
                // The rest would only be refused in turn; the user must act.
                return Ok(());
            }
        }
    }

    async fn upload(
        &self,
        http: &reqwest::Client,
        e: &Enrolment,
        report: &mut SyncReport,
    ) -> Result<(), CoreError> {
        let pending: Vec<(String, i64, bool)> = self.store.read(|c| {
            let mut st = c.prepare(
                "SELECT b.sha256, b.bytes, b.started FROM blobs b JOIN records r ON r.record_id = b.record_id \
                 WHERE b.uploaded = 0 AND r.state = 'sealed' ORDER BY b.sha256",
            )?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })?;
        for (sha, total, started) in pending {
            let sha = Sha256Hex::parse(&sha).map_err(|e| CoreError::Format(e.to_string()))?;
            let bytes = self.evidence.get(&sha)?;
            let url = format!("{}/api/v1/device/blobs/{sha}", e.server_url);
            // A blob never sent starts at 0 without asking: one round trip
            // less per photo on a slow link. One sent before may be partly
            // (or wholly) on the server already: ask where it stands.
            let (mut offset, mut complete) = if started {
                let head = http
                    .head(&url)
                    .bearer_auth(&e.token)
                    .header("upload-length", total)
                    .send()
                    .await
                    .map_err(net)?;
                if !head.status().is_success() {
                    return Err(CoreError::Server(format!("{} (HEAD {sha})", head.status())));
                }
                (
                    header(&head, "upload-offset").unwrap_or(0) as usize,
                    head.headers().contains_key("upload-complete"),
                )
            } else {
                self.store.write(|tx| {
                    tx.execute(
                        "UPDATE blobs SET started = 1 WHERE sha256 = ?1",
                        [sha.as_str()],
                    )?;
                    Ok(())
                })?;
                (0, false)
            };
            while !complete {
                let end = (offset + CHUNK_BYTES).min(bytes.len());
                let chunk = bytes[offset..end].to_vec();
                let resp = http
                    .patch(&url)
                    .bearer_auth(&e.token)
                    .header("upload-length", total)
                    .header("upload-offset", offset)
                    .header(
                        "upload-checksum",
                        format!("sha256 {}", Sha256Hex::of(&chunk)),
                    )
                    .body(chunk)
                    .send()
                    .await
                    .map_err(net)?;
                let status = resp.status();
                let server_offset = header(&resp, "upload-offset");
                if status.is_success() {
                    report.bytes_uploaded += (end - offset) as u64;
                    complete = resp.headers().contains_key("upload-complete");
                    offset = server_offset.unwrap_or(end as u64) as usize;
                } else if let (409, Some(o)) = (status.as_u16(), server_offset) {
                    // Our idea of the offset was stale: continue from the server's.
                    offset = o as usize;
                } else {
                    return Err(error_from(resp).await);
                }
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

    async fn refresh_states(&self, http: &reqwest::Client, e: &Enrolment) -> Result<(), CoreError> {
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
            let resp = device_get(http, e, &format!("records/{record_id}")).await?;
            if resp.status() == reqwest::StatusCode::NOT_FOUND {
                continue; // not pushed yet
            }
            if !resp.status().is_success() {
                return Err(error_from(resp).await);
            }
            let versions: Vec<RecordStatus> = resp.json().await.map_err(net)?;
            if let Some(v) = versions.iter().find(|v| v.version.as_str() == version) {
                let state = serde_json::to_value(v.state)?
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                self.store.write(|tx| {
                    tx.execute(
                        "UPDATE records SET server_state = ?1 WHERE record_id = ?2 AND sealed_version = ?3",
                        (state, &record_id, &version),
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

    /// After the user has seen the revocation notice: wipes every local
    /// record, evidence file and the enrolment.
    pub fn wipe_after_revocation(&self) -> Result<(), CoreError> {
        self.store.wipe()?;
        self.evidence.wipe()
    }
}

/// An authenticated GET of a device endpoint (`/api/v1/device/<path>`).
async fn device_get(
    http: &reqwest::Client,
    e: &Enrolment,
    path: &str,
) -> Result<reqwest::Response, CoreError> {
    http.get(format!("{}/api/v1/device/{path}", e.server_url))
        .bearer_auth(&e.token)
        .send()
        .await
        .map_err(net)
}

fn header(resp: &reqwest::Response, name: &str) -> Option<u64> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
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

/// 1 s, 2 s, 4 s … capped at 5 min, each with up to 50 % random jitter so
/// that a room of tablets regaining signal does not retry in lock-step.
pub fn backoff(failures: u32) -> Duration {
    let base = 1000u64
        .saturating_mul(1 << failures.min(9).saturating_sub(1))
        .min(300_000);
    let jitter = rand::random::<u64>() % (base / 2 + 1);
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::backoff;

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
