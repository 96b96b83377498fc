//! Sends escalations' alerts (`store::escalation`): every second, claims
//! the alerts due and sends each — a webhook is a JSON POST that counts as
//! delivered on a 2xx answer, an e-mail is delivered once the configured
//! mail server (SMTP, `lettre`) has taken it — recording every attempt; a failure is tried
//! again after a growing pause (1 s, 2 s, 4 s … at most 10 minutes). The
//! outbox is in the database, so an alert raised while the receiver is
//! down, or on another instance, or before a restart, is still delivered,
//! and once.

use std::time::Duration;

use lettre::message::{Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use crate::AppState;
use crate::store::escalation::DueAlert;

/// The mail server alerts go through, and who they come from.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    // The transport holds the URL, which may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// From the settings' `smtp_url` and `alert_mail_from`.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("not a mail server URL ({e})"))?
            .timeout(Some(TIMEOUT))
            .build();
        let from = from
            .parse()
            .map_err(|e| format!("'{from}' is not a sender address ({e})"))?;
        Ok(Self { transport, from })
    }

    async fn send(&self, to: &str, payload: &str) -> Result<String, String> {
        let to: Mailbox = to.parse().map_err(|e| format!("收件地址无效：{e}"))?;
        let alert: Value =
            serde_json::from_str(payload).map_err(|e| format!("通知内容无法读取：{e}"))?;
        let (subject, body) = mail_text(&alert);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            // UTF-8 text; lettre picks the transfer encoding the lines need.
            .singlepart(SinglePart::plain(body))
            .map_err(|e| format!("邮件无法生成：{e}"))?;
        let response = self
            .transport
            .send(message)
            .await
            .map_err(|e| format!("发信服务器未接收：{e}"))?;
        Ok(format!("SMTP {}", response.code()))
    }
}

/// The subject and the body of an alert e-mail, in the quality section's
/// words, with everything needed to act before logging in.
fn mail_text(alert: &Value) -> (String, String) {
    let s = |k: &str| alert[k].as_str().unwrap_or_default().to_owned();
    let raised_at = choucha_shared::value::china_minute_of(alert["raised_at"].as_str());
    let subject = format!(
        "【问题上报·{}】{}（{}）",
        s("kind_zh"),
        s("target_name"),
        s("jurisdiction")
    );
    let body = format!(
        "质量科：\n\n{town}在对{target}的检查中发现{kind}，现上报如下。\n\n\
         情况说明：{description}\n\
         检查任务：{task}\n\
         上报人：{by}\n\
         上报时间：{at}（北京时间）\n\
         上报编号：{id}\n\n\
         请登录抽查系统“问题上报”页（/console/escalations/{id}）记录应急管控措施和处理结果。\n",
        town = s("jurisdiction"),
        target = s("target_name"),
        kind = s("kind_zh"),
        description = s("description"),
        task = s("task_id"),
        by = s("raised_by"),
        at = raised_at,
        id = s("escalation_id"),
    );
    (subject, body)
}

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
                // On its own task: whatever one alert does, the sender and
                // the other alerts go on.
                let (h, mailer, a) = (http.clone(), state.mailer.clone(), alert.clone());
                let result = tokio::spawn(async move { send(&h, mailer.as_deref(), &a).await })
                    .await
                    .unwrap_or_else(|e| Err(format!("发送时内部错误：{e}")));
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
async fn send(
    http: &reqwest::Client,
    mailer: Option<&Mailer>,
    alert: &DueAlert,
) -> Result<String, String> {
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
        "email" => match mailer {
            Some(m) => m.send(&alert.target, &alert.payload).await,
            None => Err("未配置发信服务器（smtp_url）".to_owned()),
        },
        other => Err(format!("未知的通知方式 {other}")),
    }
}
