//! Inspection records: what the officers capture on site for one task.
//!
//! A record names its evidence (photos, signature images) by SHA-256 only;
//! the bytes travel separately as blobs. The record's *content hash* covers
//! everything officers attest to (verdicts, notes, photos with their hashes,
//! GPS and times, findings) and is what every signature signs, so changing
//! anything after signing is detectable.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::TargetCategory;
use crate::checklist::{ChecklistRef, Verdict};
use crate::directory::TargetKey;
use crate::outcome::Outcome;
use crate::plan::TeamMember;
use crate::value::{CivilDate, GeoPoint, Sha256Hex};

/// The answer to one checklist item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a photo shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum PhotoSubject {
    /// 大门/牌匾: the officers at the gate or signboard (proof of presence).
    Gate,
    /// 检查过程: the inspection under way.
    Process,
    /// Evidence for one checklist item.
    Item(String),
    /// Evidence for one finding.
    Finding(Uuid),
    /// 登记住所（经营场所）: the registered address as found, when the
    /// target could not be inspected there (its GPS fix proves presence).
    Address,
}

impl PhotoSubject {
    pub fn label_zh(&self) -> String {
        match self {
            Self::Gate => "大门/牌匾".to_owned(),
            Self::Process => "检查过程".to_owned(),
            Self::Item(id) => format!("检查项 {id}"),
            Self::Finding(_) => "问题证据".to_owned(),
            Self::Address => "登记住所（经营场所）现场".to_owned(),
        }
    }

    pub fn label_en(&self) -> String {
        match self {
            Self::Gate => "Gate / signboard".to_owned(),
            Self::Process => "Inspection in progress".to_owned(),
            Self::Item(id) => format!("Item {id}"),
            Self::Finding(_) => "Finding evidence".to_owned(),
            Self::Address => "Registered address as found".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Photo {
    pub sha256: Sha256Hex,
    pub subject: PhotoSubject,
    /// Device time the photo was taken.
    pub taken_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps: Option<GeoPoint>,
    /// Time of the GPS fix (satellite time), when the receiver gives it: a
    /// check against a wrong device clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps_time: Option<DateTime<Utc>>,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
}

/// Who signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SignerRole {
    /// 执法人员
    Officer,
    /// 第三方技术机构专家
    Expert,
    /// 企业负责人或委托人
    EnterpriseRepresentative,
}

impl SignerRole {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Officer => "执法人员",
            Self::Expert => "第三方专家",
            Self::EnterpriseRepresentative => "企业负责人或委托人",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signature {
    pub role: SignerRole,
    /// Credential number / expert id; none for the enterprise representative,
    /// who has no account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    pub name: String,
    /// The PNG of the signature.
    pub image_sha256: Sha256Hex,
    pub signed_at: DateTime<Utc>,
    /// The record content hash the signer saw and signed.
    pub content_hash: Sha256Hex,
}

/// The enterprise refused to sign (拒绝签字): recorded instead of its
/// signature, with the reason and a witness where there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignatureRefusal {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// Result of the follow-up inspection of a rectification order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RectificationOutcome {
    /// 已整改
    Rectified,
    /// 部分整改
    PartlyRectified,
    /// 未整改
    NotRectified,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowUp {
    pub inspected_on: CivilDate,
    pub outcome: RectificationOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What was done about a finding (seed §五(二)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Disposition {
    /// 现场整改
    FixedOnSite { description: String },
    /// 责令整改通知书 with a deadline, then follow-up.
    RectificationOrder {
        order_no: String,
        deadline: CivilDate,
        requirements: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        follow_up: Option<FollowUp>,
    },
    /// 立案
    CaseFiled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case_no: Option<String>,
    },
    /// 移送司法机关
    TransferredToJudicial {
        organ: String,
        reference: Option<String>,
    },
    /// 移交纪检监察机关
    TransferredToDiscipline {
        organ: String,
        reference: Option<String>,
    },
    /// 通报相关部门
    NoticeToDepartment {
        department: String,
        reference: Option<String>,
    },
}

impl Disposition {
    /// Which of the six dispositions this is, without its details.
    pub fn kind(&self) -> DispositionKind {
        match self {
            Self::FixedOnSite { .. } => DispositionKind::FixedOnSite,
            Self::RectificationOrder { .. } => DispositionKind::RectificationOrder,
            Self::CaseFiled { .. } => DispositionKind::CaseFiled,
            Self::TransferredToJudicial { .. } => DispositionKind::TransferredToJudicial,
            Self::TransferredToDiscipline { .. } => DispositionKind::TransferredToDiscipline,
            Self::NoticeToDepartment { .. } => DispositionKind::NoticeToDepartment,
        }
    }

    pub fn label_zh(&self) -> &'static str {
        self.kind().label_zh()
    }
}

/// The kind of a [`Disposition`]: its serde tag, what the database stores,
/// and its label. Code that handles kinds (follow-up, reports, the app's
/// finding form) names them through this type, never as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DispositionKind {
    FixedOnSite,
    RectificationOrder,
    CaseFiled,
    TransferredToJudicial,
    TransferredToDiscipline,
    NoticeToDepartment,
}

impl DispositionKind {
    pub const ALL: [DispositionKind; 6] = [
        Self::RectificationOrder,
        Self::FixedOnSite,
        Self::CaseFiled,
        Self::TransferredToJudicial,
        Self::TransferredToDiscipline,
        Self::NoticeToDepartment,
    ];

    /// The stable code (the serde tag of [`Disposition`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FixedOnSite => "fixed_on_site",
            Self::RectificationOrder => "rectification_order",
            Self::CaseFiled => "case_filed",
            Self::TransferredToJudicial => "transferred_to_judicial",
            Self::TransferredToDiscipline => "transferred_to_discipline",
            Self::NoticeToDepartment => "notice_to_department",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::FixedOnSite => "现场整改",
            Self::RectificationOrder => "责令整改",
            Self::CaseFiled => "立案查处",
            Self::TransferredToJudicial => "移送司法机关",
            Self::TransferredToDiscipline => "移交纪检监察机关",
            Self::NoticeToDepartment => "通报相关部门",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::FixedOnSite => "Fixed on site",
            Self::RectificationOrder => "Rectification order",
            Self::CaseFiled => "Case filed",
            Self::TransferredToJudicial => "Transferred to judicial organs",
            Self::TransferredToDiscipline => "Transferred to discipline inspection",
            Self::NoticeToDepartment => "Notice to another department",
        }
    }

    /// A transfer to another organ (which does not end supervision).
    pub fn is_transfer(self) -> bool {
        matches!(
            self,
            Self::TransferredToJudicial | Self::TransferredToDiscipline | Self::NoticeToDepartment
        )
    }
}

impl std::fmt::Display for DispositionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DispositionKind {
    type Err = crate::UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::UnknownCode::find("disposition kind", s, Self::ALL, Self::as_str)
    }
}

impl RectificationOutcome {
    pub const ALL: [RectificationOutcome; 3] =
        [Self::Rectified, Self::PartlyRectified, Self::NotRectified];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rectified => "rectified",
            Self::PartlyRectified => "partly_rectified",
            Self::NotRectified => "not_rectified",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Rectified => "已整改",
            Self::PartlyRectified => "部分整改",
            Self::NotRectified => "未整改",
        }
    }
}

impl std::str::FromStr for RectificationOutcome {
    type Err = crate::UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::UnknownCode::find("rectification outcome", s, Self::ALL, Self::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    pub finding_id: Uuid,
    /// The checklist item it arises from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub description: String,
    pub disposition: Disposition,
}

/// Everything captured for one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InspectionRecord {
    #[serde(default = "crate::default_format")]
    pub format: u16,
    pub record_id: Uuid,
    pub task_id: String,
    pub target: TargetKey,
    pub target_name: String,
    pub category: TargetCategory,
    pub checklist: ChecklistRef,
    /// The team as assigned by the draw.
    pub team: Vec<TeamMember>,
    pub started_at: DateTime<Utc>,
    pub inspection_date: CivilDate,
    #[serde(default)]
    pub items: BTreeMap<String, ItemEntry>,
    #[serde(default)]
    pub photos: Vec<Photo>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub signatures: Vec<Signature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<SignatureRefusal>,
    /// What became of the task: the walk-through, or a case in which the
    /// target could not be inspected, with its evidence. Left out when
    /// normal, so records sealed before outcomes existed keep their hashes.
    #[serde(default, skip_serializing_if = "Outcome::is_normal")]
    pub outcome: Outcome,
}

/// The attested part of a record: everything but the signatures that sign it.
#[derive(Serialize)]
struct Attested<'a> {
    format: u16,
    record_id: &'a Uuid,
    task_id: &'a str,
    target: &'a TargetKey,
    checklist: &'a ChecklistRef,
    inspection_date: &'a CivilDate,
    items: &'a BTreeMap<String, ItemEntry>,
    photos: &'a [Photo],
    findings: &'a [Finding],
    #[serde(skip_serializing_if = "is_normal")]
    outcome: &'a Outcome,
}

fn is_normal(o: &&Outcome) -> bool {
    o.is_normal()
}

impl InspectionRecord {
    /// SHA-256 over the canonical JSON of the attested content. Field order
    /// is fixed by the struct and maps are ordered, so the bytes (and the
    /// hash) are the same on the tablet (wasm32 or native) and the server.
    pub fn content_hash(&self) -> Sha256Hex {
        let attested = Attested {
            format: self.format,
            record_id: &self.record_id,
            task_id: &self.task_id,
            target: &self.target,
            checklist: &self.checklist,
            inspection_date: &self.inspection_date,
            items: &self.items,
            photos: &self.photos,
            findings: &self.findings,
            outcome: &self.outcome,
        };
        // Serialising plain data with string keys cannot fail.
        Sha256Hex::of(&serde_json::to_vec(&attested).unwrap_or_default())
    }

    /// The version of the record as sealed: SHA-256 over the canonical JSON
    /// of everything it holds — the attested content *and* the signatures,
    /// the refusal, the team and the target's name. Two seals that differ in
    /// anything (an amendment that only has the enterprise sign again) are
    /// two versions; [`content_hash`](Self::content_hash) is what signers
    /// sign and stays the same across such an amendment.
    pub fn version(&self) -> Sha256Hex {
        // Serialising plain data with string keys cannot fail.
        Sha256Hex::of(&serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn photos_of<'a>(
        &'a self,
        subject: &'a PhotoSubject,
    ) -> impl Iterator<Item = &'a Photo> + 'a {
        self.photos.iter().filter(move |p| &p.subject == subject)
    }

    /// Every blob the record names: photos and signature images.
    pub fn blob_hashes(&self) -> impl Iterator<Item = &Sha256Hex> {
        self.photos
            .iter()
            .map(|p| &p.sha256)
            .chain(self.signatures.iter().map(|s| &s.image_sha256))
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn disposition_kind_is_the_serde_tag() {
        let d = CivilDate::parse("2024-01-31").unwrap();
        let all = [
            Disposition::FixedOnSite {
                description: "x".into(),
            },
            Disposition::RectificationOrder {
                order_no: "1".into(),
                deadline: d,
                requirements: "x".into(),
                follow_up: None,
            },
            Disposition::CaseFiled { case_no: None },
            Disposition::TransferredToJudicial {
                organ: "x".into(),
                reference: None,
            },
            Disposition::TransferredToDiscipline {
                organ: "x".into(),
                reference: None,
            },
            Disposition::NoticeToDepartment {
                department: "x".into(),
                reference: None,
            },
        ];
        for disp in &all {
            let v = serde_json::to_value(disp).unwrap();
            assert_eq!(v["kind"], disp.kind().as_str());
            assert_eq!(
                disp.kind().as_str().parse::<DispositionKind>().unwrap(),
                disp.kind()
            );
        }
        let kinds: std::collections::BTreeSet<_> = all.iter().map(Disposition::kind).collect();
        assert_eq!(kinds.len(), DispositionKind::ALL.len());
        for o in RectificationOutcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }
}
