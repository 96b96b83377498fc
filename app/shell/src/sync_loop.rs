//! Background sync: a sync right after start, then every interval after a
//! success, or after the core's exponential backoff with jitter after a
//! failure — so a tablet that loses the network mid-sync finishes on its
//! own once the server is reachable again. "Sync now" wakes the loop.
//!
//! The sync itself (`App::sync_once`) is idempotent and resumable; this
//! module only decides *when* to run it and remembers what happened, for
//! the sync status screen.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use choucha_app_api::SyncView;
use choucha_app_core::CoreError;
use choucha_app_core::sync::backoff;

use crate::Shell;

#[derive(Debug, Default, Clone)]
struct LoopState {
    running: bool,
    failures: u32,
    next_at: Option<Instant>,
    revoked: bool,
    refused: Vec<String>,
}

#[derive(Debug)]
pub struct SyncHandle {
    kick: Notify,
    state: Mutex<LoopState>,
    /// Completed runs, so "sync now" can wait for the run it asked for.
    runs: watch::Sender<u64>,
}

impl Default for SyncHandle {
    fn default() -> Self {
        Self {
            kick: Notify::new(),
            state: Mutex::new(LoopState::default()),
            runs: watch::channel(0).0,
        }
    }
}

impl SyncHandle {
    /// Whether the server has said this device is revoked.
    pub fn is_revoked(&self) -> bool {
        self.state().revoked
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LoopState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the loop and waits (at most `limit`) until a run that started
    /// after this call has finished.
    pub async fn run_now(&self, limit: Duration) {
        let mut rx = self.runs.subscribe();
        let now = *rx.borrow();
        // A run already under way may have started before what the user
        // wants sent: wait for the one after it.
        let want = now + if self.state().running { 2 } else { 1 };
        self.kick.notify_one();
        let _ = tokio::time::timeout(limit, rx.wait_for(|n| *n >= want)).await;
    }

    pub fn view(&self, app: &choucha_app_core::App) -> Result<SyncView, CoreError> {
        let p = app.progress()?;
        let s = self.state().clone();
        Ok(SyncView {
            entries_left: p.entries_left,
            blobs_left: p.blobs_left,
            bytes_left: p.bytes_left,
            last_success: p
                .last_success
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            last_error: p.last_error,
            running: s.running,
            next_attempt_in_s: s
                .next_at
                .map(|t| t.saturating_duration_since(Instant::now()).as_secs()),
            failures: s.failures,
            revoked: s.revoked,
            wiped: app.is_wiped(),
            refused: s.refused,
            refused_entries: app
                .refused_entries()?
                .into_iter()
                .map(|(e, why)| format!("第 {} 条（{}）：{why}", e.index, e.payload.kind()))
                .collect(),
        })
    }
}

/// Runs until the process ends.
pub async fn run(shell: Arc<Shell>) {
    let handle = &shell.sync;
    let app = shell.wait_opened().await.clone();
    loop {
        let enrolled = matches!(app.enrolment(), Ok(Some(_)));
        let interval = shell
            .config
            .sync_interval
            .unwrap_or_else(|| Duration::from_secs(shell.settings().sync_interval_s.max(5)));
        let wait = if enrolled && !handle.state().revoked {
            handle.state().running = true;
            let result = app.sync_once(&shell.http).await;
            let mut s = handle.state();
            s.running = false;
            match result {
                Ok(report) => {
                    s.failures = 0;
                    s.refused = report.refused;
                    Some(interval)
                }
                Err(CoreError::Revoked(_)) => {
                    s.revoked = true;
                    if shell.config.wipe_at_once
                        && let Err(e) = app.wipe_after_revocation()
                    {
                        eprintln!("wiping after the revocation failed: {e}");
                    }
                    None
                }
                Err(_) => {
                    s.failures = s.failures.saturating_add(1);
                    Some(backoff(s.failures))
                }
            }
        } else {
            // Nothing to do until enrolment (or the user) wakes the loop.
            None
        };
        handle.state().next_at = wait.map(|w| Instant::now() + w);
        handle.runs.send_modify(|n| *n += 1);
        match wait {
            Some(w) => {
                tokio::select! {
                    _ = tokio::time::sleep(w) => {}
                    _ = handle.kick.notified() => {}
                }
            }
            None => handle.kick.notified().await,
        }
    }
}
