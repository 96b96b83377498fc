//! The rules a record must satisfy before it can be sealed.
//!
//! [`check`] returns **every** violation, in checklist order, so the
//! completeness screen can list them all with a jump to each instead of
//! making the inspector fix one, retry and discover the next. The same
//! function runs on the tablet before sealing and on the server on receipt,
//! so the two can never disagree.
//!
//! Rules (seed §五(一), DOMAIN.md):
//! * every checklist item has a verdict from its scale;
//! * a nonconforming item has a note, at least one photo and a finding;
//! * an item whose evidence includes a photo has one unless 不适用;
//! * on-site inspections have a gate/signboard photo and a process photo;
//! * at least two enforcement officers of the team signed (experts don't
//!   count), the team's expert signed, and the enterprise representative
//!   signed or the refusal is recorded with a reason;
//! * every signature signs the current content hash.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::checklist::{Checklist, ChecklistRef, Evidence, Verdict};
use crate::plan::MemberRole;
use crate::record::{Disposition, InspectionRecord, PhotoSubject, SignerRole};

/// Officers that must sign: the legal minimum on site.
pub const MIN_OFFICER_SIGNATURES: usize = 2;

/// One reason a record cannot be sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Violation {
    ChecklistMismatch {
        expected: ChecklistRef,
        found: ChecklistRef,
    },
    ItemWithoutVerdict {
        item_id: String,
    },
    VerdictNotAllowed {
        item_id: String,
        verdict: Verdict,
    },
    UnknownItem {
        item_id: String,
    },
    NonconformityWithoutNote {
        item_id: String,
    },
    NonconformityWithoutPhoto {
        item_id: String,
    },
    NonconformityWithoutFinding {
        item_id: String,
    },
    ItemPhotoMissing {
        item_id: String,
    },
    GatePhotoMissing,
    ProcessPhotoMissing,
    FindingWithoutDescription {
        finding_id: String,
    },
    DeadlineNotAfterInspection {
        finding_id: String,
    },
    OfficerSignaturesMissing {
        found: usize,
    },
    SignerNotOnTeam {
        name: String,
    },
    ExpertSignatureMissing {
        name: String,
    },
    EnterpriseSignatureMissing,
    RefusalWithoutReason,
    SignatureStale {
        name: String,
    },
}

impl Violation {
    /// The checklist item to jump to, when the violation is about one.
    pub fn item_id(&self) -> Option<&str> {
        match self {
            Self::ItemWithoutVerdict { item_id }
            | Self::VerdictNotAllowed { item_id, .. }
            | Self::UnknownItem { item_id }
            | Self::NonconformityWithoutNote { item_id }
            | Self::NonconformityWithoutPhoto { item_id }
            | Self::NonconformityWithoutFinding { item_id }
            | Self::ItemPhotoMissing { item_id } => Some(item_id),
            _ => None,
        }
    }
}

/// Chinese first: this text is shown to inspectors as is.
impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChecklistMismatch { expected, found } => {
                write!(f, "记录使用的检查表 {found} 与任务要求的 {expected} 不一致")
            }
            Self::ItemWithoutVerdict { item_id } => write!(f, "检查项 {item_id} 尚未给出检查结论"),
            Self::VerdictNotAllowed { item_id, verdict } => {
                write!(
                    f,
                    "检查项 {item_id} 不允许使用结论「{}」",
                    verdict.label_zh()
                )
            }
            Self::UnknownItem { item_id } => write!(f, "检查表中没有检查项 {item_id}"),
            Self::NonconformityWithoutNote { item_id } => {
                write!(f, "检查项 {item_id} 不符合，须填写问题说明")
            }
            Self::NonconformityWithoutPhoto { item_id } => {
                write!(f, "检查项 {item_id} 不符合，须至少拍摄一张证据照片")
            }
            Self::NonconformityWithoutFinding { item_id } => {
                write!(f, "检查项 {item_id} 不符合，须登记发现的问题及处置方式")
            }
            Self::ItemPhotoMissing { item_id } => {
                write!(f, "检查项 {item_id} 要求拍照留证，尚无照片")
            }
            Self::GatePhotoMissing => f.write_str("缺少检查人员在被检查单位大门（或牌匾）处的照片"),
            Self::ProcessPhotoMissing => f.write_str("缺少检查过程照片"),
            Self::FindingWithoutDescription { finding_id } => {
                write!(f, "问题 {finding_id} 缺少问题描述")
            }
            Self::DeadlineNotAfterInspection { finding_id } => {
                write!(f, "问题 {finding_id} 的整改期限须晚于检查日期")
            }
            Self::OfficerSignaturesMissing { found } => write!(
                f,
                "须至少 {MIN_OFFICER_SIGNATURES} 名检查组执法人员签字，目前 {found} 名（第三方专家不计入）"
            ),
            Self::SignerNotOnTeam { name } => write!(f, "签字人 {name} 不是本任务检查组成员"),
            Self::ExpertSignatureMissing { name } => write!(f, "检查组专家 {name} 尚未签字"),
            Self::EnterpriseSignatureMissing => f.write_str(
                "被检查单位负责人（或委托人）尚未签字；如拒绝签字，须记录拒签情况及理由",
            ),
            Self::RefusalWithoutReason => f.write_str("已记录拒绝签字，但未填写拒签理由"),
            Self::SignatureStale { name } => {
                write!(f, "{name} 签字后检查内容已修改，须重新签字")
            }
        }
    }
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|t| t.trim().is_empty())
}

/// Every violation of the sealing rules; empty when the record may be sealed.
pub fn check(record: &InspectionRecord, checklist: &Checklist) -> Vec<Violation> {
    let mut v = Vec::new();
    if record.checklist != checklist.reference() {
        v.push(Violation::ChecklistMismatch {
            expected: checklist.reference(),
            found: record.checklist.clone(),
        });
        return v;
    }
    check_items(record, checklist, &mut v);
    check_findings(record, &mut v);
    if record.category.is_on_site() {
        if record.photos_of(&PhotoSubject::Gate).next().is_none() {
            v.push(Violation::GatePhotoMissing);
        }
        if record.photos_of(&PhotoSubject::Process).next().is_none() {
            v.push(Violation::ProcessPhotoMissing);
        }
    }
    check_signatures(record, &mut v);
    v
}

/// `Ok` when the record may be sealed, else every violation.
pub fn ensure_sealable(
    record: &InspectionRecord,
    checklist: &Checklist,
) -> Result<(), Vec<Violation>> {
    let v = check(record, checklist);
    if v.is_empty() { Ok(()) } else { Err(v) }
}

fn check_items(record: &InspectionRecord, checklist: &Checklist, v: &mut Vec<Violation>) {
    for item in checklist.items() {
        let id = &item.id;
        let Some(verdict) = record.items.get(id).and_then(|e| e.verdict) else {
            v.push(Violation::ItemWithoutVerdict {
                item_id: id.clone(),
            });
            continue;
        };
        if !checklist.allowed_verdicts(item).contains(&verdict) {
            v.push(Violation::VerdictNotAllowed {
                item_id: id.clone(),
                verdict,
            });
            continue;
        }
        let has_photo = record
            .photos_of(&PhotoSubject::Item(id.clone()))
            .next()
            .is_some();
        if verdict.is_nonconforming() {
            if blank(&record.items[id].note) {
                v.push(Violation::NonconformityWithoutNote {
                    item_id: id.clone(),
                });
            }
            if !has_photo {
                v.push(Violation::NonconformityWithoutPhoto {
                    item_id: id.clone(),
                });
            }
            if !record
                .findings
                .iter()
                .any(|f| f.item_id.as_deref() == Some(id))
            {
                v.push(Violation::NonconformityWithoutFinding {
                    item_id: id.clone(),
                });
            }
        } else if verdict != Verdict::NotApplicable
            && item.evidence.contains(&Evidence::Photo)
            && !has_photo
        {
            v.push(Violation::ItemPhotoMissing {
                item_id: id.clone(),
            });
        }
    }
    let referenced = record
        .items
        .keys()
        .map(String::as_str)
        .chain(record.photos.iter().filter_map(|p| match &p.subject {
            PhotoSubject::Item(id) => Some(id.as_str()),
            _ => None,
        }))
        .chain(record.findings.iter().filter_map(|f| f.item_id.as_deref()));
    let unknown: BTreeSet<&str> = referenced
        .filter(|id| checklist.item(id).is_none())
        .collect();
    v.extend(unknown.into_iter().map(|id| Violation::UnknownItem {
        item_id: id.to_owned(),
    }));
}

fn check_findings(record: &InspectionRecord, v: &mut Vec<Violation>) {
    for f in &record.findings {
        let finding_id = f.finding_id.to_string();
        if f.description.trim().is_empty() {
            v.push(Violation::FindingWithoutDescription {
                finding_id: finding_id.clone(),
            });
        }
        if let Disposition::RectificationOrder { deadline, .. } = &f.disposition {
            if *deadline <= record.inspection_date {
                v.push(Violation::DeadlineNotAfterInspection { finding_id });
            }
        }
    }
}

fn check_signatures(record: &InspectionRecord, v: &mut Vec<Violation>) {
    let content_hash = record.content_hash();
    let on_team = |role: MemberRole, id: &Option<String>| {
        record
            .team
            .iter()
            .any(|m| m.role == role && Some(&m.person_id) == id.as_ref())
    };
    let mut officers = BTreeSet::new();
    for s in &record.signatures {
        if s.content_hash != content_hash {
            v.push(Violation::SignatureStale {
                name: s.name.clone(),
            });
        }
        match s.role {
            SignerRole::Officer if on_team(MemberRole::Officer, &s.person_id) => {
                officers.insert(s.person_id.clone());
            }
            SignerRole::Expert if on_team(MemberRole::Expert, &s.person_id) => {}
            SignerRole::Officer | SignerRole::Expert => {
                v.push(Violation::SignerNotOnTeam {
                    name: s.name.clone(),
                });
            }
            SignerRole::EnterpriseRepresentative => {}
        }
    }
    if officers.len() < MIN_OFFICER_SIGNATURES {
        v.push(Violation::OfficerSignaturesMissing {
            found: officers.len(),
        });
    }
    for expert in record.team.iter().filter(|m| m.role == MemberRole::Expert) {
        let signed = record.signatures.iter().any(|s| {
            s.role == SignerRole::Expert && s.person_id.as_deref() == Some(&expert.person_id)
        });
        if !signed {
            v.push(Violation::ExpertSignatureMissing {
                name: expert.name.clone(),
            });
        }
    }
    if record.category.is_on_site() {
        let enterprise_signed = record
            .signatures
            .iter()
            .any(|s| s.role == SignerRole::EnterpriseRepresentative);
        match &record.refusal {
            _ if enterprise_signed => {}
            None => v.push(Violation::EnterpriseSignatureMissing),
            Some(r) if r.reason.trim().is_empty() => v.push(Violation::RefusalWithoutReason),
            Some(_) => {}
        }
    }
}
