//! 复查: the follow-up inspection of a rectification order, done in the field
//! (跟踪整改情况，记录整改结果).
//!
//! A rectification order (责令整改通知书) gives the enterprise a deadline.
//! The server turns each order into a [`RecheckTask`] for the team that
//! issued it: the target, the ordered findings with their requirements and
//! the deadline. The team's tablets pull it, the officers go back, re-check
//! each ordered finding and seal a [`RecheckRecord`], which syncs like any
//! record: bound to its task by the server, taken exactly once. Its results
//! then close each finding (已整改) or leave it open for the quality section
//! to escalate (case filed, a further order).
//!
//! [`check`] holds the sealing rules, as pure code the tablet runs before
//! sealing and the server runs on receipt:
//! * every ordered finding has a result, and no result names another;
//! * a finding not (fully) rectified has a note saying what is still wrong;
//! * every finding has a photo of its state now (证据: what was rectified or
//!   what is still wrong);
//! * a gate photo proves the team was there;
//! * the re-check is not dated before the inspection;
//! * two officers of the team signed the current content, and the
//!   enterprise signed or its refusal is recorded with a reason.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::category::TargetCategory;
use crate::completeness::{self, Enterprise, Violation};
use crate::directory::TargetKey;
use crate::plan::TeamMember;
use crate::record::{Photo, PhotoSubject, RectificationOutcome, Signature, SignatureRefusal};
use crate::value::{CivilDate, Sha256Hex};

/// One finding under the order, as the team re-checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderedFinding {
    pub finding_id: Uuid,
    /// The checklist item it arose from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub description: String,
    /// What the order requires (整改要求).
    pub requirements: String,
}

/// A 复查 task: one rectification order of one inspection, for its team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecheckTask {
    /// The server's ID of the task.
    pub recheck_id: String,
    /// The inspection task the order was issued under.
    pub task_id: String,
    /// The inspection record that carries the findings.
    pub record_id: Uuid,
    pub target: TargetKey,
    pub target_name: String,
    pub category: TargetCategory,
    /// The team as drawn for the inspection: the same team goes back.
    pub team: Vec<TeamMember>,
    /// 责令整改通知书文号
    pub order_no: String,
    /// 整改期限: the re-check is due from this day.
    pub deadline: CivilDate,
    pub inspection_date: CivilDate,
    pub findings: Vec<OrderedFinding>,
}

impl OrderedFinding {
    /// How officers know the finding: its item and the start of its
    /// description.
    pub fn label(&self) -> String {
        let short: String = self.description.chars().take(24).collect();
        let more = if self.description.chars().count() > 24 {
            "…"
        } else {
            ""
        };
        match &self.item_id {
            Some(item) => format!("{item} {short}{more}"),
            None => format!("{short}{more}"),
        }
    }
}

impl RecheckTask {
    /// Days from `today` to the deadline (negative once passed).
    pub fn days_to_deadline(&self, today: chrono::NaiveDate) -> i64 {
        (self.deadline.date() - today).num_days()
    }
}

/// The result of re-checking one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recheck {
    pub outcome: RectificationOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Everything captured on a 复查 visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecheckRecord {
    #[serde(default = "crate::default_format")]
    pub format: u16,
    /// The device's ID of this record.
    pub record_id: Uuid,
    pub recheck_id: String,
    /// The inspection task (as on the [`RecheckTask`]).
    pub task_id: String,
    pub target: TargetKey,
    pub team: Vec<TeamMember>,
    pub started_at: DateTime<Utc>,
    pub inspected_on: CivilDate,
    /// Finding ID (as text) → its result.
    #[serde(default)]
    pub results: BTreeMap<String, Recheck>,
    /// The gate photo and each finding's photos
    /// ([`PhotoSubject::Finding`]).
    #[serde(default)]
    pub photos: Vec<Photo>,
    #[serde(default)]
    pub signatures: Vec<Signature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<SignatureRefusal>,
}

/// The attested part of a re-check: everything but the signatures.
#[derive(Serialize)]
struct Attested<'a> {
    format: u16,
    kind: &'static str,
    record_id: &'a Uuid,
    recheck_id: &'a str,
    task_id: &'a str,
    target: &'a TargetKey,
    inspected_on: &'a CivilDate,
    results: &'a BTreeMap<String, Recheck>,
    photos: &'a [Photo],
}

impl RecheckRecord {
    /// A fresh record for `task`, started at `now` on `today`.
    pub fn new(task: &RecheckTask, record_id: Uuid, now: DateTime<Utc>, today: CivilDate) -> Self {
        Self {
            format: crate::FORMAT_VERSION,
            record_id,
            recheck_id: task.recheck_id.clone(),
            task_id: task.task_id.clone(),
            target: task.target.clone(),
            team: task.team.clone(),
            started_at: now,
            inspected_on: today,
            results: BTreeMap::new(),
            photos: Vec::new(),
            signatures: Vec::new(),
            refusal: None,
        }
    }

    /// What the signers sign: SHA-256 of the canonical JSON of the attested
    /// content, tagged so that it can never equal an inspection record's.
    pub fn content_hash(&self) -> Sha256Hex {
        let attested = Attested {
            format: self.format,
            kind: "recheck",
            record_id: &self.record_id,
            recheck_id: &self.recheck_id,
            task_id: &self.task_id,
            target: &self.target,
            inspected_on: &self.inspected_on,
            results: &self.results,
            photos: &self.photos,
        };
        // Serialising plain data with string keys cannot fail.
        Sha256Hex::of(&serde_json::to_vec(&attested).unwrap_or_default())
    }

    /// The version as sealed: everything, signatures included.
    pub fn version(&self) -> Sha256Hex {
        Sha256Hex::of(&serde_json::to_vec(self).unwrap_or_default())
    }

    /// Every blob the record names: photos and signature images.
    pub fn blob_hashes(&self) -> impl Iterator<Item = &Sha256Hex> {
        self.photos
            .iter()
            .map(|p| &p.sha256)
            .chain(self.signatures.iter().map(|s| &s.image_sha256))
    }

    /// Whether every finding re-checked was rectified.
    pub fn all_rectified(&self) -> bool {
        self.results
            .values()
            .all(|r| r.outcome == RectificationOutcome::Rectified)
    }
}

/// Every violation of the re-check's sealing rules against its task; empty
/// when it may be sealed.
pub fn check(task: &RecheckTask, record: &RecheckRecord) -> Vec<Violation> {
    let mut v = Vec::new();
    if record.recheck_id != task.recheck_id || record.task_id != task.task_id {
        v.push(Violation::RecheckOfAnotherTask {
            recheck_id: record.recheck_id.clone(),
        });
        return v;
    }
    if record.inspected_on < task.inspection_date {
        v.push(Violation::RecheckBeforeInspection {
            inspection_date: task.inspection_date.to_string(),
        });
    }
    for f in &task.findings {
        let id = f.finding_id.to_string();
        match record.results.get(&id) {
            None => v.push(Violation::RecheckResultMissing {
                finding_id: id.clone(),
                label: f.label(),
            }),
            Some(r) => {
                let note_blank = r.note.as_deref().is_none_or(|n| n.trim().is_empty());
                if r.outcome != RectificationOutcome::Rectified && note_blank {
                    v.push(Violation::NotRectifiedWithoutNote {
                        finding_id: id.clone(),
                        label: f.label(),
                    });
                }
            }
        }
        let subject = PhotoSubject::Finding(f.finding_id);
        if !record.photos.iter().any(|p| p.subject == subject) {
            v.push(Violation::RecheckPhotoMissing {
                finding_id: id,
                label: f.label(),
            });
        }
    }
    for id in record.results.keys() {
        if !task
            .findings
            .iter()
            .any(|f| f.finding_id.to_string() == *id)
        {
            v.push(Violation::RecheckUnknownFinding {
                finding_id: id.clone(),
            });
        }
    }
    if !record
        .photos
        .iter()
        .any(|p| p.subject == PhotoSubject::Gate)
    {
        v.push(Violation::GatePhotoMissing);
    }
    completeness::check_signatures(
        &completeness::Signed {
            signatures: &record.signatures,
            refusal: record.refusal.as_ref(),
            team: &task.team,
            content_hash: record.content_hash(),
        },
        false,
        Enterprise::SignsOrRefuses,
        &mut v,
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MemberRole;
    use crate::record::SignerRole;

    fn date(s: &str) -> CivilDate {
        CivilDate::parse(s).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn member(id: &str, role: MemberRole) -> TeamMember {
        TeamMember {
            person_id: id.into(),
            name: format!("人员{id}"),
            role,
        }
    }

    fn task() -> RecheckTask {
        RecheckTask {
            recheck_id: "RC-1".into(),
            task_id: "T-1".into(),
            record_id: Uuid::from_u128(1),
            target: TargetKey("91500000000000000X".into()),
            target_name: "重庆某计量器具有限公司".into(),
            category: TargetCategory::Metrology,
            team: vec![
                member("P1", MemberRole::Officer),
                member("P2", MemberRole::Officer),
                member("E1", MemberRole::Expert),
            ],
            order_no: "渝市监责改〔2026〕1号".into(),
            deadline: date("2026-03-20"),
            inspection_date: date("2026-03-01"),
            findings: vec![
                OrderedFinding {
                    finding_id: Uuid::from_u128(11),
                    item_id: Some("2.1".into()),
                    description: "计量器具未按期检定".into(),
                    requirements: "送检并取得检定证书".into(),
                },
                OrderedFinding {
                    finding_id: Uuid::from_u128(12),
                    item_id: None,
                    description: "台账不全".into(),
                    requirements: "补全台账".into(),
                },
            ],
        }
    }

    fn photo(subject: PhotoSubject, n: u8) -> Photo {
        Photo {
            sha256: Sha256Hex::of(&[n]),
            subject,
            taken_at: at("2026-03-21T02:00:00Z"),
            gps: None,
            gps_time: None,
            bytes: 1,
            width: 1,
            height: 1,
        }
    }

    fn sign(r: &mut RecheckRecord, role: SignerRole, id: Option<&str>, n: u8) {
        let content_hash = r.content_hash();
        r.signatures.push(Signature {
            role,
            person_id: id.map(str::to_owned),
            name: format!("签字人{n}"),
            image_sha256: Sha256Hex::of(&[100 + n]),
            signed_at: at("2026-03-21T03:00:00Z"),
            content_hash,
        });
    }

    fn complete() -> RecheckRecord {
        let t = task();
        let mut r = RecheckRecord::new(
            &t,
            Uuid::from_u128(99),
            at("2026-03-21T01:00:00Z"),
            date("2026-03-21"),
        );
        for (i, f) in t.findings.iter().enumerate() {
            r.results.insert(
                f.finding_id.to_string(),
                Recheck {
                    outcome: RectificationOutcome::Rectified,
                    note: None,
                },
            );
            r.photos
                .push(photo(PhotoSubject::Finding(f.finding_id), i as u8));
        }
        r.photos.push(photo(PhotoSubject::Gate, 9));
        sign(&mut r, SignerRole::Officer, Some("P1"), 1);
        sign(&mut r, SignerRole::Officer, Some("P2"), 2);
        sign(&mut r, SignerRole::EnterpriseRepresentative, None, 3);
        r
    }

    #[test]
    fn a_complete_recheck_may_be_sealed() {
        let r = complete();
        assert_eq!(check(&task(), &r), vec![]);
        assert!(r.all_rectified());
    }

    #[test]
    fn an_empty_recheck_lists_every_violation() {
        let t = task();
        let r = RecheckRecord::new(
            &t,
            Uuid::from_u128(99),
            at("2026-02-21T01:00:00Z"),
            date("2026-02-28"),
        );
        let v = check(&t, &r);
        let f1 = Uuid::from_u128(11).to_string();
        let f2 = Uuid::from_u128(12).to_string();
        let (l1, l2) = ("2.1 计量器具未按期检定".to_owned(), "台账不全".to_owned());
        assert_eq!(
            v,
            vec![
                Violation::RecheckBeforeInspection {
                    inspection_date: "2026-03-01".into()
                },
                Violation::RecheckResultMissing {
                    finding_id: f1.clone(),
                    label: l1.clone()
                },
                Violation::RecheckPhotoMissing {
                    finding_id: f1,
                    label: l1.clone()
                },
                Violation::RecheckResultMissing {
                    finding_id: f2.clone(),
                    label: l2.clone()
                },
                Violation::RecheckPhotoMissing {
                    finding_id: f2,
                    label: l2
                },
                Violation::GatePhotoMissing,
                Violation::OfficerSignaturesMissing { found: 0 },
                Violation::EnterpriseSignatureMissing,
            ]
        );
        // Every one reads in both languages.
        for x in &v {
            assert!(!x.to_string().is_empty() && !x.english().is_empty());
        }
    }

    #[test]
    fn not_rectified_needs_a_note_and_unknown_findings_are_refused() {
        let mut r = complete();
        let f1 = Uuid::from_u128(11).to_string();
        r.results.get_mut(&f1).unwrap().outcome = RectificationOutcome::NotRectified;
        r.results.insert(
            "00000000-0000-0000-0000-000000000077".into(),
            Recheck {
                outcome: RectificationOutcome::Rectified,
                note: None,
            },
        );
        let v = check(&task(), &r);
        assert!(
            v.contains(&Violation::NotRectifiedWithoutNote {
                finding_id: f1.clone(),
                label: "2.1 计量器具未按期检定".into()
            }),
            "{v:?}"
        );
        let note = v
            .iter()
            .find(|x| matches!(x, Violation::NotRectifiedWithoutNote { .. }))
            .unwrap();
        assert!(
            note.to_string().contains("「2.1 计量器具未按期检定」"),
            "{note}"
        );
        assert!(v.contains(&Violation::RecheckUnknownFinding {
            finding_id: "00000000-0000-0000-0000-000000000077".into()
        }));
        // Signatures were made before the change: stale.
        assert!(
            v.iter()
                .any(|x| matches!(x, Violation::SignatureStale { .. }))
        );
        assert!(!r.all_rectified());
    }

    #[test]
    fn a_signer_off_the_team_and_a_record_of_another_task_are_refused() {
        let mut r = complete();
        r.signatures.remove(1);
        sign(&mut r, SignerRole::Officer, Some("P9"), 4);
        let v = check(&task(), &r);
        assert!(v.contains(&Violation::SignerNotOnTeam {
            name: "签字人4".into()
        }));
        assert!(v.contains(&Violation::OfficerSignaturesMissing { found: 1 }));
        let mut other = complete();
        other.recheck_id = "RC-2".into();
        assert_eq!(
            check(&task(), &other),
            vec![Violation::RecheckOfAnotherTask {
                recheck_id: "RC-2".into()
            }]
        );
    }

    #[test]
    fn the_content_hash_differs_from_an_inspection_records_and_ignores_signatures() {
        let mut r = complete();
        let h = r.content_hash();
        r.signatures.clear();
        assert_eq!(r.content_hash(), h);
        r.inspected_on = date("2026-03-22");
        assert_ne!(r.content_hash(), h);
        let json = serde_json::to_string(&r).unwrap();
        let back: RecheckRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn days_to_deadline_counts_down_and_goes_negative() {
        let t = task();
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(t.days_to_deadline(d("2026-03-18")), 2);
        assert_eq!(t.days_to_deadline(d("2026-03-20")), 0);
        assert_eq!(t.days_to_deadline(d("2026-03-23")), -3);
    }
}
