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
//!
//! A target that could not be inspected (an [`Outcome`] other than
//! normal) needs no item verdicts but the evidence of its case, all on
//! site: 无法联系 and 已关闭退出 a photo at the registered address with its
//! GPS fix and what was found (无法联系: the premises and every attempt to
//! reach the company, with times; 已关闭退出: the ground); 未发现经营活动
//! the gate photo, what is done there, and the enterprise's signature or
//! refusal; 不配合 the gate photo, what was refused, the warning given, a
//! witness and the enterprise's refusal recorded. Every case needs two
//! officers' signatures over the current content.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::checklist::{Checklist, ChecklistRef, Evidence, Verdict};
use crate::outcome::{Outcome, OutcomeKind, PremisesFound};
use crate::plan::{MemberRole, TeamMember};
use crate::record::{
    Disposition, InspectionRecord, PhotoSubject, Signature, SignatureRefusal, SignerRole,
};
use crate::value::Sha256Hex;

/// Officers that must sign: the legal minimum on site.
pub const MIN_OFFICER_SIGNATURES: usize = 2;

/// One reason a record cannot be sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// An outcome found on site, for a target checked off site.
    OutcomeNeedsSiteVisit {
        outcome: OutcomeKind,
    },
    AddressPhotoMissing,
    AddressPhotoWithoutGps,
    PremisesNotDescribed,
    ContactAttemptsMissing,
    /// Attempt `attempt` (from 1) lacks whom or what came of it.
    ContactAttemptIncomplete {
        attempt: usize,
    },
    ActivityNotDescribed,
    ClosureNotDescribed,
    ClosureBasisMissing,
    RefusedActionNotDescribed,
    WarningNotRecorded,
    WitnessMissing,
    EnterpriseRefusalMissing,
    /// A 复查 record sealed against another 复查 task than its own.
    RecheckOfAnotherTask {
        recheck_id: String,
    },
    /// A 复查 dated before the inspection it follows up.
    RecheckBeforeInspection {
        inspection_date: String,
    },
    /// An ordered finding has no 复查 result.
    RecheckResultMissing {
        finding_id: String,
        /// The finding as officers know it: its item and description.
        label: String,
    },
    /// A 复查 result names a finding the order does not.
    RecheckUnknownFinding {
        finding_id: String,
    },
    /// A finding not (fully) rectified without a note of what remains.
    NotRectifiedWithoutNote {
        finding_id: String,
        /// The finding as officers know it: its item and description.
        label: String,
    },
    /// An ordered finding has no photo of its state at the 复查.
    RecheckPhotoMissing {
        finding_id: String,
        /// The finding as officers know it: its item and description.
        label: String,
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

    /// The message in English (the Chinese one is [`Display`](fmt::Display)),
    /// for screens switched to English.
    pub fn english(&self) -> String {
        match self {
            Self::ChecklistMismatch { expected, found } => {
                format!("The record uses checklist {found}, the task requires {expected}")
            }
            Self::ItemWithoutVerdict { item_id } => format!("Item {item_id} has no verdict yet"),
            Self::VerdictNotAllowed { item_id, verdict } => {
                format!("Item {item_id} does not allow the verdict \"{}\"", verdict.label_en())
            }
            Self::UnknownItem { item_id } => format!("The checklist has no item {item_id}"),
            Self::NonconformityWithoutNote { item_id } => {
                format!("Item {item_id} does not conform: a note is required")
            }
            Self::NonconformityWithoutPhoto { item_id } => {
                format!("Item {item_id} does not conform: at least one photo is required")
            }
            Self::NonconformityWithoutFinding { item_id } => {
                format!("Item {item_id} does not conform: record the finding and its disposition")
            }
            Self::ItemPhotoMissing { item_id } => {
                format!("Item {item_id} needs photo evidence; there is none yet")
            }
            Self::GatePhotoMissing => "The gate/signboard photo is missing".into(),
            Self::ProcessPhotoMissing => "The inspection process photo is missing".into(),
            Self::FindingWithoutDescription { finding_id } => {
                format!("Finding {finding_id} has no description")
            }
            Self::DeadlineNotAfterInspection { finding_id } => {
                format!("Finding {finding_id}: the deadline must be after the inspection date")
            }
            Self::OfficerSignaturesMissing { found } => {
                format!("At least 2 officers of the team must sign; {found} did (experts do not count)")
            }
            Self::SignerNotOnTeam { name } => format!("{name} is not on this task's team"),
            Self::ExpertSignatureMissing { name } => format!("The team's expert {name} has not signed"),
            Self::EnterpriseSignatureMissing => {
                "The enterprise representative has not signed; if they refuse, record the refusal and its reason".into()
            }
            Self::RefusalWithoutReason => "A refusal to sign is recorded without a reason".into(),
            Self::SignatureStale { name } => {
                format!("The record changed after {name} signed: {name} must sign again")
            }
            Self::OutcomeNeedsSiteVisit { outcome } => format!(
                "\"{}\" is found on site; this target is checked off site",
                outcome.label_en()
            ),
            Self::AddressPhotoMissing => "The photo at the registered address is missing".into(),
            Self::AddressPhotoWithoutGps => {
                "The photo at the registered address has no location fix: turn on location and take it again".into()
            }
            Self::PremisesNotDescribed => "\"Other\" was chosen for the premises: describe what was found".into(),
            Self::ContactAttemptsMissing => {
                "Record the attempts to reach the company (registered phone, neighbours, property office) with their times".into()
            }
            Self::ContactAttemptIncomplete { attempt } => {
                format!("Contact attempt {attempt}: say whom (or which number) and what came of it")
            }
            Self::ActivityNotDescribed => "Describe the business actually done at the premises".into(),
            Self::ClosureNotDescribed => "Describe what shows the company has closed".into(),
            Self::ClosureBasisMissing => {
                "Give the ground for closed (deregistration, closure notice, the company's statement)".into()
            }
            Self::RefusedActionNotDescribed => "Record what the company refused or obstructed".into(),
            Self::WarningNotRecorded => {
                "Record the warning given of the legal consequences of refusing, and when".into()
            }
            Self::WitnessMissing => "Record the witness's name and unit or contact".into(),
            Self::EnterpriseRefusalMissing => {
                "Record the company's refusal to cooperate and to sign, with its reason".into()
            }
            Self::RecheckOfAnotherTask { recheck_id } => {
                format!("This follow-up record belongs to follow-up task {recheck_id}, not this one")
            }
            Self::RecheckBeforeInspection { inspection_date } => format!(
                "The follow-up is dated before the inspection of {inspection_date}"
            ),
            Self::RecheckResultMissing { label, .. } => {
                format!("\"{label}\": say whether it was rectified")
            }
            Self::RecheckUnknownFinding { finding_id } => {
                format!("Finding {finding_id} is not under this rectification order")
            }
            Self::NotRectifiedWithoutNote { label, .. } => {
                format!("\"{label}\" is not rectified: note what is still wrong")
            }
            Self::RecheckPhotoMissing { label, .. } => {
                format!("\"{label}\": take a photo of its state now")
            }
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
            Self::OutcomeNeedsSiteVisit { outcome } => write!(
                f,
                "「{}」须到现场核实，本类检查对象不到现场检查",
                outcome.label_zh()
            ),
            Self::AddressPhotoMissing => f.write_str("缺少在登记住所（经营场所）拍摄的现场照片"),
            Self::AddressPhotoWithoutGps => f.write_str(
                "登记住所（经营场所）现场照片没有定位信息，无法证明到场，请开启定位后重拍",
            ),
            Self::PremisesNotDescribed => {
                f.write_str("现场情况选择了「其他情况」，须说明看到的情况")
            }
            Self::ContactAttemptsMissing => {
                f.write_str("须记录联系企业的尝试（拨打登记电话、询问周边或物业等）及时间")
            }
            Self::ContactAttemptIncomplete { attempt } => {
                write!(f, "第 {attempt} 次联系尝试须填写联系对象（号码）和联系结果")
            }
            Self::ActivityNotDescribed => {
                f.write_str("须说明现场实际从事的经营活动（未开展本次抽查涉及的经营活动的情况）")
            }
            Self::ClosureNotDescribed => f.write_str("须说明企业关闭退出的现场情况"),
            Self::ClosureBasisMissing => {
                f.write_str("须填写认定关闭退出的依据（如注销登记、停业公告、企业书面说明）")
            }
            Self::RefusedActionNotDescribed => f.write_str("须记录企业拒绝、阻碍的检查事项"),
            Self::WarningNotRecorded => {
                f.write_str("须记录已向企业告知拒绝、阻碍检查的法律后果及告知时间")
            }
            Self::WitnessMissing => f.write_str("须记录见证人的姓名及单位或联系方式"),
            Self::EnterpriseRefusalMissing => {
                f.write_str("须记录企业拒绝配合检查、拒绝签字的情况及理由")
            }
            Self::RecheckOfAnotherTask { recheck_id } => {
                write!(f, "该复查记录属于复查任务 {recheck_id}，不是本任务的记录")
            }
            Self::RecheckBeforeInspection { inspection_date } => {
                write!(f, "复查日期不能早于检查日期 {inspection_date}")
            }
            Self::RecheckResultMissing { label, .. } => {
                write!(f, "整改事项「{label}」尚未填写复查结果（是否已整改）")
            }
            Self::RecheckUnknownFinding { finding_id } => {
                write!(f, "问题 {finding_id} 不在本责令整改通知书的整改事项中")
            }
            Self::NotRectifiedWithoutNote { label, .. } => {
                write!(f, "整改事项「{label}」未整改到位，须说明仍存在的问题")
            }
            Self::RecheckPhotoMissing { label, .. } => {
                write!(f, "整改事项「{label}」须拍摄整改情况照片")
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
    let on_site = record.category.is_on_site();
    let enterprise = if on_site {
        Enterprise::SignsOrRefuses
    } else {
        Enterprise::Absent
    };
    match &record.outcome {
        Outcome::Normal => {
            check_items(record, checklist, &mut v);
            check_findings(record, &mut v);
            if on_site {
                if record.photos_of(&PhotoSubject::Gate).next().is_none() {
                    v.push(Violation::GatePhotoMissing);
                }
                if record.photos_of(&PhotoSubject::Process).next().is_none() {
                    v.push(Violation::ProcessPhotoMissing);
                }
            }
            check_signatures(&Signed::of(record), true, enterprise, &mut v);
        }
        outcome => {
            if !on_site {
                v.push(Violation::OutcomeNeedsSiteVisit {
                    outcome: outcome.kind(),
                });
            }
            check_given_verdicts(record, checklist, &mut v);
            check_findings(record, &mut v);
            let enterprise = check_case(record, outcome, &mut v);
            check_signatures(&Signed::of(record), false, enterprise, &mut v);
        }
    }
    v
}

/// What the enterprise must have done about signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enterprise {
    /// Its representative signed, or the refusal is recorded with a reason.
    SignsOrRefuses,
    /// Its refusal is recorded with a reason (不配合).
    Refuses,
    /// Nobody of the enterprise was there (off site, unreachable, closed).
    Absent,
}

/// The evidence of a case in which the target could not be inspected;
/// returns what the enterprise must have done about signing.
fn check_case(record: &InspectionRecord, outcome: &Outcome, v: &mut Vec<Violation>) -> Enterprise {
    let gate_photo = |v: &mut Vec<Violation>| {
        if record.photos_of(&PhotoSubject::Gate).next().is_none() {
            v.push(Violation::GatePhotoMissing);
        }
    };
    let address_photo = |v: &mut Vec<Violation>| {
        let mut photos = record.photos_of(&PhotoSubject::Address).peekable();
        if photos.peek().is_none() {
            v.push(Violation::AddressPhotoMissing);
        } else if !photos.any(|p| p.gps.is_some()) {
            v.push(Violation::AddressPhotoWithoutGps);
        }
    };
    match outcome {
        Outcome::Normal => Enterprise::SignsOrRefuses,
        Outcome::Unreachable(e) => {
            address_photo(v);
            if e.premises == PremisesFound::Other && e.description.trim().is_empty() {
                v.push(Violation::PremisesNotDescribed);
            }
            if e.attempts.is_empty() {
                v.push(Violation::ContactAttemptsMissing);
            }
            for (i, a) in e.attempts.iter().enumerate() {
                if a.whom.trim().is_empty() || a.result.trim().is_empty() {
                    v.push(Violation::ContactAttemptIncomplete { attempt: i + 1 });
                }
            }
            Enterprise::Absent
        }
        Outcome::ActivityNotFound(e) => {
            gate_photo(v);
            if e.description.trim().is_empty() {
                v.push(Violation::ActivityNotDescribed);
            }
            Enterprise::SignsOrRefuses
        }
        Outcome::Closed(e) => {
            address_photo(v);
            if e.description.trim().is_empty() {
                v.push(Violation::ClosureNotDescribed);
            }
            if e.basis.trim().is_empty() {
                v.push(Violation::ClosureBasisMissing);
            }
            Enterprise::Absent
        }
        Outcome::Uncooperative(e) => {
            gate_photo(v);
            if e.refused.trim().is_empty() {
                v.push(Violation::RefusedActionNotDescribed);
            }
            if e.warning.trim().is_empty() {
                v.push(Violation::WarningNotRecorded);
            }
            if e.witness.name.trim().is_empty() || e.witness.contact.trim().is_empty() {
                v.push(Violation::WitnessMissing);
            }
            Enterprise::Refuses
        }
    }
}

/// Outside a walk-through verdicts are not needed, but those given must
/// name checklist items and be on their scale.
fn check_given_verdicts(record: &InspectionRecord, checklist: &Checklist, v: &mut Vec<Violation>) {
    for (id, entry) in &record.items {
        let Some(verdict) = entry.verdict else {
            continue;
        };
        match checklist.item(id) {
            None => v.push(Violation::UnknownItem {
                item_id: id.clone(),
            }),
            Some(item) if !checklist.allowed_verdicts(item).contains(&verdict) => {
                v.push(Violation::VerdictNotAllowed {
                    item_id: id.clone(),
                    verdict,
                })
            }
            Some(_) => {}
        }
    }
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

/// What a set of signatures signs, and who may sign it.
pub(crate) struct Signed<'a> {
    pub signatures: &'a [Signature],
    pub refusal: Option<&'a SignatureRefusal>,
    pub team: &'a [TeamMember],
    /// The content the signatures must sign.
    pub content_hash: Sha256Hex,
}

impl<'a> Signed<'a> {
    fn of(record: &'a InspectionRecord) -> Self {
        Self {
            signatures: &record.signatures,
            refusal: record.refusal.as_ref(),
            team: &record.team,
            content_hash: record.content_hash(),
        }
    }
}

/// The signing rules: every signature over the current content, at least
/// two officers of the team, the team's experts when `experts_sign`, and
/// the enterprise as `enterprise` says.
pub(crate) fn check_signatures(
    signed: &Signed<'_>,
    experts_sign: bool,
    enterprise: Enterprise,
    v: &mut Vec<Violation>,
) {
    let on_team = |role: MemberRole, id: &Option<String>| {
        signed
            .team
            .iter()
            .any(|m| m.role == role && Some(&m.person_id) == id.as_ref())
    };
    let mut officers = BTreeSet::new();
    for s in signed.signatures {
        if s.content_hash != signed.content_hash {
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
    let experts = signed
        .team
        .iter()
        .filter(|m| experts_sign && m.role == MemberRole::Expert);
    for expert in experts {
        let signed = signed.signatures.iter().any(|s| {
            s.role == SignerRole::Expert && s.person_id.as_deref() == Some(&expert.person_id)
        });
        if !signed {
            v.push(Violation::ExpertSignatureMissing {
                name: expert.name.clone(),
            });
        }
    }
    let enterprise_signed = signed
        .signatures
        .iter()
        .any(|s| s.role == SignerRole::EnterpriseRepresentative);
    match (enterprise, signed.refusal) {
        (Enterprise::Absent, _) => {}
        (Enterprise::SignsOrRefuses, _) if enterprise_signed => {}
        (Enterprise::SignsOrRefuses, None) => v.push(Violation::EnterpriseSignatureMissing),
        (Enterprise::Refuses, None) => v.push(Violation::EnterpriseRefusalMissing),
        (_, Some(r)) if r.reason.trim().is_empty() => v.push(Violation::RefusalWithoutReason),
        (_, Some(_)) => {}
    }
}
