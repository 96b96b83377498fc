//! Command names, arguments and the views the screens show.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use choucha_shared::checklist::{Checklist, Verdict};
use choucha_shared::completeness::Violation;
use choucha_shared::conclusion::Conclusion;
use choucha_shared::directory::Target;
use choucha_shared::outcome::Outcome;
use choucha_shared::plan::TeamMember;
use choucha_shared::recheck::{RecheckRecord, RecheckTask};
use choucha_shared::record::{
    Finding, InspectionRecord, PhotoSubject, RectificationOutcome, SignerRole,
};
use choucha_shared::sync::RecordReturn;
use choucha_shared::value::CivilDate;

/// Header naming the record a raw photo body belongs to.
pub const PHOTO_RECORD_HEADER: &str = "x-choucha-record";
/// Header with the photo's subject as JSON, percent-encoded.
pub const PHOTO_SUBJECT_HEADER: &str = "x-choucha-subject";

/// What a command returns on failure: a stable code for the program and a
/// message (Chinese first) for the screen. `violations` is filled when
/// sealing was refused, so the review screen can list and jump to each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            violations: Vec::new(),
        }
    }
}

/// UI language: Chinese first, English switchable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// Where photo positions come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum LocationSetting {
    /// The platform's position (the webview's geolocation, or the Tauri
    /// geolocation plugin on Android/iOS), pushed in with `location_fix`.
    #[default]
    Platform,
    /// A configured point (a desktop at the office); marked as not measured.
    Fixed {
        lat: f64,
        lon: f64,
        accuracy_m: Option<f64>,
    },
    /// A seeded random walk around the task's registered location (demos).
    Simulated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub lang: Lang,
    pub location: LocationSetting,
    /// The issuing authority printed on rectification orders.
    pub authority: String,
    pub device_name: String,
    /// Seconds between background syncs when everything went well.
    pub sync_interval_s: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lang: Lang::Zh,
            location: LocationSetting::Platform,
            authority: "重庆高新技术产业开发区市场监督管理局".into(),
            device_name: "执法平板".into(),
            sync_interval_s: 60,
        }
    }
}

/// The task states the task list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// 待检查
    Pending,
    /// 进行中
    InProgress,
    /// 待签字: only signatures are missing.
    AwaitingSignatures,
    /// 已封存: sealed on the device, the server has not confirmed it yet.
    Sealed,
    /// 待同步: the server has the record, evidence is still on its way.
    AwaitingSync,
    /// 已提交: the server holds it complete.
    Submitted,
    /// 被退回: the supervisor returned it for an amendment.
    Returned,
    /// 已撤回: the draw was replaced.
    Withdrawn,
}

impl TaskState {
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::Pending, Lang::Zh) => "待检查",
            (Self::InProgress, Lang::Zh) => "进行中",
            (Self::AwaitingSignatures, Lang::Zh) => "待签字",
            (Self::Sealed, Lang::Zh) => "已封存",
            (Self::AwaitingSync, Lang::Zh) => "待同步",
            (Self::Submitted, Lang::Zh) => "已提交",
            (Self::Returned, Lang::Zh) => "被退回",
            (Self::Withdrawn, Lang::Zh) => "已撤回",
            (Self::Pending, Lang::En) => "To inspect",
            (Self::InProgress, Lang::En) => "In progress",
            (Self::AwaitingSignatures, Lang::En) => "Awaiting signatures",
            (Self::Sealed, Lang::En) => "Sealed",
            (Self::AwaitingSync, Lang::En) => "Awaiting sync",
            (Self::Submitted, Lang::En) => "Submitted",
            (Self::Returned, Lang::En) => "Returned",
            (Self::Withdrawn, Lang::En) => "Withdrawn",
        }
    }

    /// Whether the record can still be edited on the device.
    pub fn editable(self) -> bool {
        matches!(
            self,
            Self::Pending | Self::InProgress | Self::AwaitingSignatures
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentView {
    pub server_url: String,
    pub device_id: String,
    pub officer_id: String,
    pub officer_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub task_id: String,
    pub target_name: String,
    pub category: choucha_shared::TargetCategory,
    pub address: Option<String>,
    pub due: Option<CivilDate>,
    pub state: TaskState,
    pub record_id: Option<Uuid>,
}

/// Where the PIN lock stands: what the lock screen asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinView {
    /// No PIN yet (first start): the screen asks for a new one, twice.
    pub needs_new_pin: bool,
    /// The data are locked: the screen asks for the PIN.
    pub locked: bool,
    /// Wrong PINs in a row so far, and how many more before the wipe.
    pub failures: u32,
    pub remaining: u32,
    /// When the next try is allowed (China time, `HH:MM:SS`), if it must
    /// wait.
    pub wait_until: Option<String>,
    /// Where the device secret is kept (the keystore, or the weaker file).
    pub secret_kind: String,
    /// Minutes without use after which the app locks itself.
    pub idle_lock_minutes: u32,
    /// The data were just wiped after too many wrong PINs.
    pub wiped: bool,
}

/// A PIN typed on the lock screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinEntry {
    pub pin: String,
}

/// Changing the PIN: the current one and the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinChange {
    pub old_pin: String,
    pub new_pin: String,
}

/// Sync status in plain words: what is waiting, what failed, what next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncView {
    pub entries_left: u64,
    pub blobs_left: u64,
    pub bytes_left: u64,
    pub last_success: Option<DateTime<Utc>>,
    /// The last failure, when the last attempt failed.
    pub last_error: Option<String>,
    /// A sync is running right now.
    pub running: bool,
    /// Seconds until the next automatic attempt.
    pub next_attempt_in_s: Option<u64>,
    /// Consecutive failures so far.
    pub failures: u32,
    /// The server revoked this device.
    pub revoked: bool,
    /// The local data were wiped after the revocation.
    #[serde(default)]
    pub wiped: bool,
    /// Entries the server did not take in the last sync (a broken log), in
    /// its words: they need someone to look (nothing after them is sent
    /// until then).
    #[serde(default)]
    pub refused: Vec<String>,
    /// Entries the server took but refused on their merits (a record that
    /// does not match its task…), in its words, oldest first: kept on the
    /// tablet for the officer; what follows them was sent.
    #[serde(default)]
    pub refused_entries: Vec<String>,
}

impl SyncView {
    pub fn all_sent(&self) -> bool {
        self.entries_left == 0 && self.blobs_left == 0
    }
}

/// Where a 复查 stands on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecheckState {
    /// 待复查
    Pending,
    /// 复查中
    InProgress,
    /// 已封存
    Sealed,
}

impl RecheckState {
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::Pending, Lang::Zh) => "待复查",
            (Self::InProgress, Lang::Zh) => "复查中",
            (Self::Sealed, Lang::Zh) => "已封存",
            (Self::Pending, Lang::En) => "To re-check",
            (Self::InProgress, Lang::En) => "In progress",
            (Self::Sealed, Lang::En) => "Sealed",
        }
    }
}

/// A 复查 on the task list, with how close its deadline is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecheckRow {
    pub recheck_id: String,
    pub target_name: String,
    pub order_no: String,
    pub deadline: CivilDate,
    /// Days until the deadline (negative: passed).
    pub days_left: i64,
    pub findings: usize,
    pub state: RecheckState,
}

/// How a deadline `days_left` away reads: "3 天后到期", "今日到期",
/// "已逾期 2 天".
pub fn deadline_words(lang: Lang, days_left: i64) -> String {
    match (lang, days_left) {
        (Lang::Zh, 0) => "今日到期".into(),
        (Lang::Zh, d) if d > 0 => format!("{d} 天后到期"),
        (Lang::Zh, d) => format!("已逾期 {} 天", -d),
        (Lang::En, 0) => "Due today".into(),
        (Lang::En, d) if d > 0 => format!("Due in {d} days"),
        (Lang::En, d) => format!("Overdue by {} days", -d),
    }
}

/// Everything the 复查 screen shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecheckView {
    pub task: RecheckTask,
    pub days_left: i64,
    /// The record, once started.
    pub record: Option<RecheckRecord>,
    pub state: RecheckState,
    pub violations: Vec<Violation>,
    /// What a signer signs now.
    pub content_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetRecheckResult {
    pub record_id: Uuid,
    pub finding_id: Uuid,
    pub outcome: RectificationOutcome,
    pub note: Option<String>,
}

/// What `take_recheck_photo` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecheckPhotoTaken {
    pub sha256: String,
    pub data_url: String,
    pub recheck: RecheckView,
}

/// The start screen: enrolment, today's tasks, sync and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Home {
    pub enrolment: Option<EnrolmentView>,
    pub tasks: Vec<TaskRow>,
    /// 复查 tasks, the earliest deadline first.
    #[serde(default)]
    pub rechecks: Vec<RecheckRow>,
    pub sync: SyncView,
    pub settings: Settings,
    /// What the shell was started with, e.g. a demo enrolment that failed.
    pub notice: Option<String>,
}

/// One task before (or while) it is inspected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDetail {
    pub task_id: String,
    pub target: Target,
    pub team: Vec<TeamMember>,
    pub due: Option<CivilDate>,
    pub checklist_title: String,
    pub checklist_items: usize,
    pub state: TaskState,
    pub record_id: Option<Uuid>,
    /// What evidence and answers are still missing (empty before start).
    pub missing: Vec<Violation>,
    pub withdrawn: Option<String>,
}

/// Everything the inspection screens show of one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub record: InspectionRecord,
    pub checklist: Checklist,
    pub target: Target,
    pub state: TaskState,
    /// Whether the record can be changed now (a draft, or an amendment
    /// under way after a return).
    pub editable: bool,
    pub violations: Vec<Violation>,
    /// The conclusion (检查结论) the verdicts lead to under the
    /// checklist's rules, shown before sealing.
    pub conclusion: Conclusion,
    /// What a signer signs now.
    pub content_hash: String,
    /// The supervisor's return, while amending.
    pub returned: Option<RecordReturn>,
    /// The questions asked about this task from this device (咨询), with
    /// their answers once they came.
    #[serde(default)]
    pub questions: Vec<choucha_shared::consult::QuestionView>,
    /// The checklist's FAQ (常见问题) as published so far.
    #[serde(default)]
    pub faq: Vec<choucha_shared::consult::FaqEntry>,
    /// What this device reported upward about the task (上报).
    #[serde(default)]
    pub escalations: Vec<choucha_shared::escalation::Escalation>,
}

impl Inspection {
    /// Items with a verdict, and all items.
    pub fn progress(&self) -> (usize, usize) {
        let total = self.checklist.items().count();
        let done = self
            .checklist
            .items()
            .filter(|i| {
                self.record
                    .items
                    .get(&i.id)
                    .is_some_and(|e| e.verdict.is_some())
            })
            .count();
        (done, total)
    }
}

/// A question to the quality section about an item (or a finding) of the
/// inspection under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    pub record_id: Uuid,
    #[serde(default)]
    pub item_id: Option<String>,
    #[serde(default)]
    pub finding_id: Option<Uuid>,
    pub text: String,
}

/// 上报: a problem of the inspection (a finding of it) reported upward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalate {
    pub record_id: Uuid,
    #[serde(default)]
    pub finding_id: Option<Uuid>,
    pub kind: choucha_shared::escalation::EscalationKind,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetItem {
    pub record_id: Uuid,
    pub item_id: String,
    pub verdict: Option<Verdict>,
    pub note: Option<String>,
}

/// What became of the task (正常检查, or a case in which the target could
/// not be inspected, with its evidence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetOutcome {
    pub record_id: Uuid,
    pub outcome: Outcome,
}

/// What `take_photo` answers: the watermarked result and the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoTaken {
    pub sha256: String,
    /// `data:image/jpeg;base64,…` of the watermarked JPEG.
    pub data_url: String,
    pub inspection: Inspection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddFinding {
    pub record_id: Uuid,
    pub finding: Finding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub order_no: String,
    /// The order's text, block by block, to read before printing.
    pub text: String,
    /// Where the PDF was written on the tablet (for the portable printer,
    /// or to hand over as a file).
    pub file: String,
}

/// What a signature pad captured (the app core renders and binds it).
pub use choucha_shared::pad::{Capture as PadCapture, Point as PadPoint, Stroke as PadStroke};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sign {
    pub record_id: Uuid,
    pub role: SignerRole,
    pub person_id: Option<String>,
    pub name: String,
    pub capture: PadCapture,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub record_id: Uuid,
    pub reason: String,
    pub witness: Option<String>,
}

/// A position from the platform (W3C `GeolocationPosition` values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocationFix {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub timestamp_ms: i64,
}

/// A timing measured in the front end (for the benchmarks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiTiming {
    pub name: String,
    pub ms: f64,
}

/// A photo subject for the raw-body header: JSON, percent-encoded so that
/// it is a valid header value whatever the item ID.
pub fn encode_subject(subject: &PhotoSubject) -> String {
    let json = serde_json::to_string(subject).unwrap_or_default();
    let mut out = String::with_capacity(json.len() * 3);
    for b in json.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`encode_subject`].
pub fn decode_subject(header: &str) -> Result<PhotoSubject, CommandError> {
    let bytes = header.as_bytes();
    let mut raw = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let h = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    CommandError::new("bad_request", "照片类别编码错误 (bad subject header)")
                })?;
            raw.push(h);
            i += 3;
        } else {
            raw.push(bytes[i]);
            i += 1;
        }
    }
    serde_json::from_slice(&raw)
        .map_err(|e| CommandError::new("bad_request", format!("照片类别无效：{e} (bad subject)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_subjects_survive_the_header() {
        for s in [
            PhotoSubject::Gate,
            PhotoSubject::Process,
            PhotoSubject::Item("MET-1.01".into()),
            PhotoSubject::Item("检查 项".into()),
            PhotoSubject::Finding(Uuid::nil()),
        ] {
            let h = encode_subject(&s);
            assert!(h.bytes().all(|b| b.is_ascii_graphic()), "{h}");
            assert_eq!(decode_subject(&h).unwrap(), s);
        }
        assert_eq!(decode_subject("%7").unwrap_err().code, "bad_request");
        assert_eq!(decode_subject("nonsense").unwrap_err().code, "bad_request");
    }

    #[test]
    fn pad_capture_is_the_core_capture_json() {
        let c = PadCapture {
            width: 800,
            height: 300,
            strokes: vec![PadStroke {
                points: vec![PadPoint {
                    x: 1.0,
                    y: 2.0,
                    t_ms: 3,
                    pressure: None,
                }],
            }],
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"width":800,"height":300,"strokes":[{"points":[{"x":1.0,"y":2.0,"t_ms":3}]}]}"#
        );
    }

    #[test]
    fn deadlines_read_in_both_languages() {
        assert_eq!(deadline_words(Lang::Zh, 3), "3 天后到期");
        assert_eq!(deadline_words(Lang::Zh, 0), "今日到期");
        assert_eq!(deadline_words(Lang::Zh, -2), "已逾期 2 天");
        assert_eq!(deadline_words(Lang::En, -2), "Overdue by 2 days");
        for s in [
            RecheckState::Pending,
            RecheckState::InProgress,
            RecheckState::Sealed,
        ] {
            assert_ne!(s.label(Lang::Zh), s.label(Lang::En));
        }
    }

    #[test]
    fn every_state_has_both_labels() {
        use TaskState::*;
        for s in [
            Pending,
            InProgress,
            AwaitingSignatures,
            Sealed,
            AwaitingSync,
            Submitted,
            Returned,
            Withdrawn,
        ] {
            assert!(!s.label(Lang::Zh).is_empty() && !s.label(Lang::En).is_empty());
            assert_ne!(s.label(Lang::Zh), s.label(Lang::En));
        }
        assert_eq!(Sealed.label(Lang::Zh), "已封存");
    }
}
