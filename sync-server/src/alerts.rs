//! Sends escalations' alerts (`store::escalation`): every second, claims
//! the alerts due and sends each — a webhook is a JSON POST that counts as
//! delivered on a 2xx answer — recording every attempt; a failure is tried
//! again after a growing pause (1 s, 2 s, 4 s … at most 10 minutes). The
//! outbox is in the database, so an alert raised while the receiver is
//! down, or on another instance, or before a restart, is still delivered,
//! and once.

use std::time::Duration;

use crate::AppState;
use crate::store::escalation::DueAlert;

/// How long one webhook call may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the sender; it runs until the task is aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let due = match state.store.claim_due_alerts(20).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the alert outbox failed; tried again in a second");
                    continue;
                }
            };
            for alert in due {
                let result = send(&http, &alert).await;
                if let Err(e) = &result {
                    tracing::warn!(alert = %alert.alert_id, target = %alert.target, error = %e, "alert not delivered; will retry");
                }
                if let Err(e) = state.store.alert_attempted(&alert, result).await {
                    tracing::warn!(alert = %alert.alert_id, error = %e, "recording an alert attempt failed");
                }
            }
        }
    })
}

/// One attempt: `Ok` with what the receiver said, or why it failed.
async fn send(http: &reqwest::Client, alert: &DueAlert) -> Result<String, String> {
    match alert.channel.as_str() {
        "webhook" => {
            let resp = http
                .post(&alert.target)
                .header("content-type", "application/json")
                .body(alert.payload.clone())
                .send()
                .await
                .map_err(|e| format!("无法连接接收方：{e}"))?;
            let status = resp.status();
            if status.is_success() {
                Ok(format!("HTTP {}", status.as_u16()))
            } else {
                Err(format!("接收方答复 HTTP {}", status.as_u16()))
            }
        }
        other => Err(format!("未知的通知方式 {other}")),
    }
}
