//! The sync protocol between the field app and the server.
//!
//! * Each device appends to **its own log**: entries with a client-made
//!   UUIDv7, a per-device index 1, 2, 3, … and the hash of the previous entry
//!   (a hash chain, so a gap or an edit is evident). The server stores an
//!   entry once (`ON CONFLICT DO NOTHING`); the same entry again gets the same
//!   answer, the same ID or index with other content is a conflict.
//! * Evidence (photos, signature images) travels separately as blobs named
//!   by SHA-256; a sealed record is complete only when every blob it names
//!   has arrived and verified.
//! * The server's view of a record is a projection of the log; nothing is
//!   overwritten: an amendment names the content hash it replaces.
//!
//! The decisions ([`EntryVerdict`], [`chain_check`]) are pure functions so
//! they are tested without I/O and shared by both sides.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::checklist::Checklist;
use crate::directory::Target;
use crate::plan::Task;
use crate::recheck::{RecheckRecord, RecheckTask};
use crate::record::{InspectionRecord, ItemEntry, Photo};
use crate::review::ReviewState;
use crate::value::Sha256Hex;

/// What a device log entry says happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryPayload {
    /// An inspection began on the device (draft progress is visible to
    /// supervisors before sealing).
    Started {
        record_id: Uuid,
        task_id: String,
        started_at: DateTime<Utc>,
    },
    /// A verdict or note changed.
    ItemSet {
        record_id: Uuid,
        item_id: String,
        entry: ItemEntry,
    },
    /// A photo was taken (the blob follows separately).
    PhotoTaken { record_id: Uuid, photo: Photo },
    /// The record was sealed: from now on it is immutable.
    Sealed { record: InspectionRecord },
    /// A changed version of a sealed record, replacing `replaces` (the
    /// content hash of the version it changes), e.g. after a return.
    Amended {
        replaces: Sha256Hex,
        record: InspectionRecord,
    },
    /// A 复查 (follow-up visit of a rectification order) was sealed.
    RecheckSealed { record: RecheckRecord },
    /// A question to the quality section (咨询), asked on site.
    QuestionAsked { question: crate::consult::Question },
    /// A problem reported upward at once (上报).
    Escalated {
        escalation: crate::escalation::Escalation,
    },
}

impl EntryPayload {
    /// The serde tag (`kind`) of this payload, without serialising it: the
    /// server files every log row under it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Started { .. } => "started",
            Self::ItemSet { .. } => "item_set",
            Self::PhotoTaken { .. } => "photo_taken",
            Self::Sealed { .. } => "sealed",
            Self::Amended { .. } => "amended",
            Self::RecheckSealed { .. } => "recheck_sealed",
            Self::QuestionAsked { .. } => "question_asked",
            Self::Escalated { .. } => "escalated",
        }
    }

    pub fn record_id(&self) -> Uuid {
        match self {
            Self::Started { record_id, .. }
            | Self::ItemSet { record_id, .. }
            | Self::PhotoTaken { record_id, .. } => *record_id,
            Self::Sealed { record } | Self::Amended { record, .. } => record.record_id,
            Self::RecheckSealed { record } => record.record_id,
            Self::QuestionAsked { question } => question.question_id,
            Self::Escalated { escalation } => escalation.escalation_id,
        }
    }
}

/// One entry of a device's append-only log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    #[serde(default = "crate::default_format")]
    pub format: u16,
    /// UUIDv7 made on the device.
    pub entry_id: Uuid,
    /// 1, 2, 3, … per device, no gaps.
    pub index: u64,
    /// `hash` of the entry at `index - 1`; `None` for index 1.
    pub prev_hash: Option<Sha256Hex>,
    /// Device clock when the entry was written.
    pub created_at: DateTime<Utc>,
    pub payload: EntryPayload,
    /// SHA-256 over the canonical JSON of every field above.
    pub hash: Sha256Hex,
}

#[derive(Serialize)]
struct Hashed<'a> {
    format: u16,
    entry_id: &'a Uuid,
    index: u64,
    prev_hash: &'a Option<Sha256Hex>,
    created_at: &'a DateTime<Utc>,
    payload: &'a EntryPayload,
}

impl LogEntry {
    /// Builds an entry, computing its hash.
    pub fn new(
        entry_id: Uuid,
        index: u64,
        prev_hash: Option<Sha256Hex>,
        created_at: DateTime<Utc>,
        payload: EntryPayload,
    ) -> Self {
        let mut e = Self {
            format: crate::FORMAT_VERSION,
            entry_id,
            index,
            prev_hash,
            created_at,
            payload,
            hash: Sha256Hex::of(b""),
        };
        e.hash = e.compute_hash();
        e
    }

    /// The hash the entry's content should have.
    pub fn compute_hash(&self) -> Sha256Hex {
        let h = Hashed {
            format: self.format,
            entry_id: &self.entry_id,
            index: self.index,
            prev_hash: &self.prev_hash,
            created_at: &self.created_at,
            payload: &self.payload,
        };
        Sha256Hex::of(&serde_json::to_vec(&h).unwrap_or_default())
    }
}

/// What the server has already stored at an entry's index or ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub entry_id: Uuid,
    pub index: u64,
    pub hash: Sha256Hex,
}

/// The server's answer to one pushed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EntryVerdict {
    /// Newly stored and committed.
    Stored,
    /// Already stored with identical content: a harmless retry.
    Duplicate,
    /// The ID or index is taken by different content. Never overwritten.
    Conflict { message: String },
    /// The entry does not follow the stored log; send from `expected_index`.
    Gap { expected_index: u64 },
    /// Not a valid entry of the device's log (bad hash, broken chain): not
    /// taken; the device must repair its log before the server goes on.
    Rejected { message: String },
    /// Taken into the device's log, so the entries after it go on, but what
    /// it carries is refused on its merits: a record that does not match
    /// its task, an amendment of a version that was not returned, a second
    /// seal. Nothing of it is stored or shown; the device keeps it for its
    /// user, with `message`, and sends what follows.
    Refused { message: String },
}

impl EntryVerdict {
    /// Whether the entry was taken and applied (newly or before).
    pub fn is_confirmed(&self) -> bool {
        matches!(self, Self::Stored | Self::Duplicate)
    }

    /// Whether the device is done with the entry: applied, or taken and
    /// refused (then its user must see why). A device never sends a settled
    /// entry again.
    pub fn is_settled(&self) -> bool {
        self.is_confirmed() || matches!(self, Self::Refused { .. })
    }
}

/// Decides what to do with `incoming` given what is stored at its index
/// (`at_index`), under its ID (`by_id`), and the hash of the entry before it
/// (`prev`, `None` when the device's log is empty), and the next index the
/// server expects. `None` means: check the payload and store it.
pub fn chain_check(
    incoming: &LogEntry,
    at_index: Option<&StoredEntry>,
    by_id: Option<&StoredEntry>,
    next_expected: u64,
    prev: Option<&Sha256Hex>,
) -> Option<EntryVerdict> {
    if incoming.compute_hash() != incoming.hash {
        return Some(EntryVerdict::Rejected {
            message: format!(
                "条目 {} 的内容哈希与内容不符（已被篡改或损坏）(entry hash mismatch)",
                incoming.index
            ),
        });
    }
    if let Some(s) = by_id {
        return Some(if s.hash == incoming.hash && s.index == incoming.index {
            EntryVerdict::Duplicate
        } else {
            EntryVerdict::Conflict {
                message: format!(
                    "条目 ID {} 已以不同内容保存在第 {} 条，不会被覆盖 (same ID, different content)",
                    incoming.entry_id, s.index
                ),
            }
        });
    }
    if let Some(s) = at_index {
        return Some(EntryVerdict::Conflict {
            message: format!(
                "第 {} 条已保存为另一条目 {}，本设备日志只能追加 (index taken by another entry)",
                s.index, s.entry_id
            ),
        });
    }
    if incoming.index != next_expected {
        return Some(EntryVerdict::Gap {
            expected_index: next_expected,
        });
    }
    if incoming.prev_hash.as_ref() != prev {
        return Some(EntryVerdict::Rejected {
            message: format!(
                "第 {} 条的前一条哈希与服务器保存的第 {} 条不符，日志链断裂 (broken hash chain)",
                incoming.index,
                incoming.index.saturating_sub(1)
            ),
        });
    }
    None
}

/// A batch of entries from one device, in index order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub entries: Vec<LogEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryResult {
    pub entry_id: Uuid,
    pub index: u64,
    #[serde(flatten)]
    pub verdict: EntryVerdict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub results: Vec<EntryResult>,
    /// The next index the server expects from this device.
    pub next_index: u64,
    /// Blobs named by this device's records that have not arrived yet.
    pub missing_blobs: Vec<Sha256Hex>,
}

/// A task as the device receives it: everything needed to inspect offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskBundle {
    pub task: Task,
    pub target: Target,
}

/// A supervisor's return of a submitted record ("please fix").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordReturn {
    pub record_id: Uuid,
    pub task_id: String,
    /// Content hash of the returned version; the amendment must replace it.
    pub version: Sha256Hex,
    pub comment: String,
    /// Comments per checklist item.
    #[serde(default)]
    pub item_comments: std::collections::BTreeMap<String, String>,
    pub returned_at: DateTime<Utc>,
}

/// One change for a device, in feed order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedItem {
    TaskAssigned {
        bundle: Box<TaskBundle>,
    },
    /// The task was withdrawn (its draw was replaced by a redraw).
    TaskWithdrawn {
        task_id: String,
        reason: String,
    },
    Returned {
        r#return: RecordReturn,
    },
    /// A 复查 for the team: a rectification order's deadline is coming.
    RecheckAssigned {
        task: Box<RecheckTask>,
    },
    /// The quality section answered a question the officer asked.
    QuestionAnswered {
        answer: crate::consult::Answer,
    },
    /// A new entry of a checklist's FAQ (常见问题), for every officer with
    /// a task on that checklist.
    FaqPublished {
        entry: crate::consult::FaqEntry,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    #[serde(default = "crate::default_format")]
    pub format: u16,
    /// Pass this back as `cursor` on the next pull, after applying `items`.
    pub cursor: i64,
    pub items: Vec<FeedItem>,
    /// The checklist versions the assigned tasks use.
    pub checklists: Vec<Checklist>,
    /// More items are waiting: pull again.
    pub more: bool,
}

impl PullResponse {
    /// Nothing new after `cursor`.
    pub fn empty(cursor: i64) -> Self {
        Self {
            format: crate::FORMAT_VERSION,
            cursor,
            items: Vec::new(),
            checklists: Vec::new(),
            more: false,
        }
    }
}

/// Where a record stands on the server, as the device may ask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordStatus {
    pub record_id: Uuid,
    pub version: Sha256Hex,
    pub state: ReviewState,
    /// What keeps it from being submitted: missing blobs and rule violations.
    pub missing: Vec<String>,
}

/// Device enrolment: the one-time code a supervisor hands out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolRequest {
    /// The one-time code from the enrolment QR.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub code: String,
    /// The tablet's name as officers call it (平板-3).
    #[cfg_attr(feature = "openapi", schema(pattern = r"\S"))]
    pub device_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolResponse {
    pub device_id: String,
    /// Long random secret; the server keeps only its hash.
    pub token: String,
    pub officer_id: String,
    pub officer_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry(index: u64, prev: Option<Sha256Hex>, note: &str) -> LogEntry {
        LogEntry::new(
            Uuid::from_u128(index as u128),
            index,
            prev,
            Utc.with_ymd_and_hms(2024, 1, 10, 2, 0, 0).unwrap(),
            EntryPayload::ItemSet {
                record_id: Uuid::nil(),
                item_id: "MET-1.01".into(),
                entry: ItemEntry {
                    verdict: None,
                    note: Some(note.into()),
                },
            },
        )
    }

    fn stored(e: &LogEntry) -> StoredEntry {
        StoredEntry {
            entry_id: e.entry_id,
            index: e.index,
            hash: e.hash.clone(),
        }
    }

    #[test]
    fn kind_is_the_serde_tag() {
        let started = EntryPayload::Started {
            record_id: Uuid::nil(),
            task_id: "T-1".into(),
            started_at: Utc.with_ymd_and_hms(2024, 1, 10, 2, 0, 0).unwrap(),
        };
        for p in [started, entry(1, None, "a").payload] {
            assert_eq!(serde_json::to_value(&p).unwrap()["kind"], p.kind());
        }
    }

    #[test]
    fn first_entry_is_stored_then_a_retry_is_a_duplicate() {
        let e1 = entry(1, None, "a");
        assert_eq!(chain_check(&e1, None, None, 1, None), None);
        let s = stored(&e1);
        assert_eq!(
            chain_check(&e1, Some(&s), Some(&s), 2, Some(&e1.hash)),
            Some(EntryVerdict::Duplicate)
        );
    }

    #[test]
    fn same_id_other_content_is_a_conflict() {
        let e1 = entry(1, None, "a");
        let s = stored(&e1);
        let changed = LogEntry::new(
            e1.entry_id,
            1,
            None,
            e1.created_at,
            entry(1, None, "b").payload,
        );
        assert!(matches!(
            chain_check(&changed, Some(&s), Some(&s), 2, Some(&e1.hash)),
            Some(EntryVerdict::Conflict { .. })
        ));
        let other_id = entry(1, None, "c");
        let other_id = LogEntry::new(
            Uuid::from_u128(99),
            1,
            None,
            other_id.created_at,
            other_id.payload,
        );
        assert!(matches!(
            chain_check(&other_id, Some(&s), None, 2, Some(&e1.hash)),
            Some(EntryVerdict::Conflict { .. })
        ));
    }

    #[test]
    fn gaps_and_broken_chains_are_named() {
        let e1 = entry(1, None, "a");
        let e3 = entry(3, Some(e1.hash.clone()), "c");
        assert_eq!(
            chain_check(&e3, None, None, 2, Some(&e1.hash)),
            Some(EntryVerdict::Gap { expected_index: 2 })
        );
        let bad = entry(2, Some(Sha256Hex::of(b"x")), "b");
        assert!(matches!(
            chain_check(&bad, None, None, 2, Some(&e1.hash)),
            Some(EntryVerdict::Rejected { .. })
        ));
        let mut tampered = entry(2, Some(e1.hash.clone()), "b");
        tampered.payload = entry(2, None, "tampered").payload;
        let v = chain_check(&tampered, None, None, 2, Some(&e1.hash));
        assert!(
            matches!(v, Some(EntryVerdict::Rejected { ref message }) if message.contains("哈希")),
            "{v:?}"
        );
    }
}
