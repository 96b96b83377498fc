//! The directories (名录库) the draw picks from: inspection targets, officers,
//! third-party experts, and recusal pairs.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::TargetCategory;
use crate::value::{CccCertificateNo, CredentialNo, GeoPoint, Name, StandardNo, Uscc};

/// The key a target is drawn and identified by: the USCC of an organisation,
/// or the number of a standard. Sorting keys as UTF-8 bytes gives the
/// candidate order of the draw, so `Ord` here is byte order of the string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct TargetKey(pub String);

impl TargetKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is inspected: a site-bearing organisation, or a standard checked on
/// paper together with the body that issued it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetIdentity {
    Organisation {
        uscc: Uscc,
    },
    Standard {
        number: StandardNo,
        /// Name of the social group or enterprise that issued the standard.
        issuer: Name,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issuer_uscc: Option<Uscc>,
    },
    /// A CCC-certified product: its certificate, the certified model(s) and
    /// the certificate holder (the company the team visits and addresses).
    Product {
        certificate_no: CccCertificateNo,
        /// 型号 as the certificate lists it.
        model: String,
        /// 持证人 (证书持有人).
        holder: Name,
        holder_uscc: Uscc,
    },
}

/// One entry of the target directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Target {
    pub category: TargetCategory,
    pub identity: TargetIdentity,
    /// 企业名称 / 标准名称
    pub name: Name,
    /// 所属镇街: the town/street office responsible (属地).
    pub jurisdiction: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Registered location, for proof-of-duty distance checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
    /// Credit-risk class, industry, business status, licence: what the
    /// draw's strata filter on. Left out when empty, so entries stored
    /// before it keep their content hashes.
    #[serde(flatten)]
    pub profile: TargetProfile,
}

/// 信用风险分类: A (low risk) to D (high); sampling ratios follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RiskClass {
    A,
    B,
    C,
    D,
}

impl RiskClass {
    pub const ALL: [RiskClass; 4] = [Self::A, Self::B, Self::C, Self::D];

    pub fn code(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
            Self::D => "D",
        }
    }
}

impl std::str::FromStr for RiskClass {
    type Err = String;

    /// `A`–`D`, also written `A类`; anything else (a lowercase letter
    /// included: the source is wrong, not the reader) is refused.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let t = t.strip_suffix('类').unwrap_or(t);
        Self::ALL
            .into_iter()
            .find(|c| c.code() == t)
            .ok_or_else(|| "信用风险分类须为 A、B、C、D 之一（不清楚时留空）".to_owned())
    }
}

/// 经营状态 as the registration system says; only 存续 targets are drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BusinessStatus {
    /// 存续（在业）
    #[default]
    Active,
    /// 注销
    Deregistered,
    /// 吊销
    Revoked,
    /// 迁出
    MovedOut,
    /// 不在最新名录: a full import of the directory no longer had it.
    NotInLatest,
}

impl BusinessStatus {
    pub const ALL: [BusinessStatus; 5] = [
        Self::Active,
        Self::Deregistered,
        Self::Revoked,
        Self::MovedOut,
        Self::NotInLatest,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deregistered => "deregistered",
            Self::Revoked => "revoked",
            Self::MovedOut => "moved_out",
            Self::NotInLatest => "not_in_latest",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Active => "存续",
            Self::Deregistered => "注销",
            Self::Revoked => "吊销",
            Self::MovedOut => "迁出",
            Self::NotInLatest => "不在最新名录",
        }
    }

    pub fn is_active(&self) -> bool {
        *self == Self::Active
    }
}

impl std::str::FromStr for BusinessStatus {
    type Err = String;

    /// The Chinese words registration extracts use (存续, 在业, 开业,
    /// 注销, 吊销, 迁出, also 吊销，未注销) or the codes.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let found = match t {
            "存续" | "在业" | "开业" | "存续（在营、开业、在册）" => {
                Some(Self::Active)
            }
            "注销" | "已注销" => Some(Self::Deregistered),
            "吊销" | "已吊销" | "吊销，未注销" | "吊销未注销" => {
                Some(Self::Revoked)
            }
            "迁出" | "已迁出" => Some(Self::MovedOut),
            "不在最新名录" => Some(Self::NotInLatest),
            _ => Self::ALL.into_iter().find(|x| x.code() == t),
        };
        found.ok_or_else(|| "经营状态须为 存续、注销、吊销、迁出 之一".to_owned())
    }
}

/// 行业代码 per GB/T 4754-2017: the section letter (A–T) and the division,
/// group or class digits, e.g. `C38`, `C382`, `C3823`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct IndustryCode(String);

impl IndustryCode {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let mut chars = t.chars();
        let section = chars.next();
        let digits: String = chars.collect();
        let ok = section.is_some_and(|c| ('A'..='T').contains(&c))
            && matches!(digits.len(), 2..=4)
            && digits.chars().all(|c| c.is_ascii_digit());
        if ok {
            Ok(Self(t.to_owned()))
        } else {
            Err("行业代码须为 GB/T 4754-2017 的门类字母（A–T）加 2–4 位数字，如 C3823".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the code lies under `prefix` (`C38` holds `C3823`).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl TryFrom<String> for IndustryCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<IndustryCode> for String {
    fn from(c: IndustryCode) -> String {
        c.0
    }
}

/// What the credit, registration and licensing systems say of a target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetProfile {
    /// 信用风险分类; unknown when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskClass>,
    /// 行业代码.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<IndustryCode>,
    /// 经营状态; 存续 when absent.
    #[serde(default, skip_serializing_if = "BusinessStatus::is_active")]
    pub status: BusinessStatus,
    /// 生产许可证、资质认定证书、CCC 或认证证书编号, where the category has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_no: Option<String>,
}

impl Target {
    pub fn key(&self) -> TargetKey {
        match &self.identity {
            TargetIdentity::Organisation { uscc } => TargetKey(uscc.as_str().to_owned()),
            TargetIdentity::Standard { number, .. } => TargetKey(number.as_str().to_owned()),
            TargetIdentity::Product { certificate_no, .. } => {
                TargetKey(certificate_no.as_str().to_owned())
            }
        }
    }
}

/// A person who can be drawn: 执法人员 or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Officer {
    /// 执法证号
    pub credential_no: CredentialNo,
    pub name: Name,
    /// 所属单位: the town/street office, which is also the jurisdiction it
    /// covers (属地).
    pub unit: Name,
    /// 可检查领域
    pub domains: BTreeSet<TargetCategory>,
    /// 是否执法人员: only enforcement officers count toward the two required
    /// on site; other staff may accompany but never make up a team.
    pub enforcement: bool,
}

impl Officer {
    pub fn may_inspect(&self, target: &Target) -> bool {
        self.enforcement
            && self.unit == target.jurisdiction
            && self.domains.contains(&target.category)
    }
}

/// A third-party technical expert (第三方技术机构专家): assists, is drawn from
/// a separate pool, never counts as an officer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Expert {
    /// Identifier in the expert pool (e.g. the institution's staff number).
    pub expert_id: String,
    pub name: Name,
    /// 所属机构
    pub organisation: Name,
    pub domains: BTreeSet<TargetCategory>,
}

/// A conflict of interest (回避): the person must never be drawn for the
/// target (行政处罚法 Art. 43).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recusal {
    /// Credential number of an officer, or the id of an expert.
    pub person: String,
    pub target: TargetKey,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn officer(unit: &str, enforcement: bool) -> Officer {
        Officer {
            credential_no: CredentialNo::parse("渝50010023001").unwrap(),
            name: Name::parse("张三").unwrap(),
            unit: Name::parse(unit).unwrap(),
            domains: [TargetCategory::Metrology].into(),
            enforcement,
        }
    }

    fn target() -> Target {
        Target {
            category: TargetCategory::Metrology,
            identity: TargetIdentity::Organisation {
                uscc: Uscc::parse("91350100M000100Y43").unwrap(),
            },
            name: Name::parse("重庆某某计量器具有限公司").unwrap(),
            jurisdiction: Name::parse("西永街道").unwrap(),
            address: None,
            location: None,
            profile: TargetProfile::default(),
        }
    }

    #[test]
    fn profile_values_are_validated_and_left_out_when_empty() {
        assert_eq!("B".parse::<RiskClass>(), Ok(RiskClass::B));
        assert_eq!("C类".parse::<RiskClass>(), Ok(RiskClass::C));
        assert!("b".parse::<RiskClass>().is_err());
        assert!("E".parse::<RiskClass>().is_err());
        assert_eq!("在业".parse::<BusinessStatus>(), Ok(BusinessStatus::Active));
        assert_eq!(
            "吊销，未注销".parse::<BusinessStatus>(),
            Ok(BusinessStatus::Revoked)
        );
        assert_eq!(
            "moved_out".parse::<BusinessStatus>(),
            Ok(BusinessStatus::MovedOut)
        );
        assert!("歇业".parse::<BusinessStatus>().is_err());
        for good in ["C38", "C382", "C3823", "T9600"] {
            assert!(IndustryCode::parse(good).is_ok(), "{good}");
        }
        for bad in ["c3823", "Z38", "C3", "C38231", "C38a", ""] {
            assert!(IndustryCode::parse(bad).is_err(), "{bad}");
        }
        assert!(IndustryCode::parse("C3823").unwrap().starts_with("C38"));
        // An entry without a profile serialises as before (same row hash).
        let plain = serde_json::to_value(target()).unwrap();
        assert!(
            plain.get("status").is_none() && plain.get("risk").is_none(),
            "{plain}"
        );
        let mut t = target();
        t.profile = TargetProfile {
            risk: Some(RiskClass::D),
            industry: Some(IndustryCode::parse("C4010").unwrap()),
            status: BusinessStatus::Deregistered,
            licence_no: Some("XK21-008-00123".into()),
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["risk"], "D");
        assert_eq!(v["status"], "deregistered");
        let back: Target = serde_json::from_value(v).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn eligibility_needs_enforcement_jurisdiction_and_domain() {
        assert!(officer("西永街道", true).may_inspect(&target()));
        assert!(!officer("西永街道", false).may_inspect(&target()));
        assert!(!officer("曾家镇", true).may_inspect(&target()));
        let mut t = target();
        t.category = TargetCategory::Ccc;
        assert!(!officer("西永街道", true).may_inspect(&t));
    }

    #[test]
    fn key_is_uscc_or_standard_number() {
        assert_eq!(target().key().as_str(), "91350100M000100Y43");
        let mut t = target();
        t.identity = TargetIdentity::Standard {
            number: StandardNo::parse("T/CQSES 001-2023").unwrap(),
            issuer: Name::parse("重庆市某某协会").unwrap(),
            issuer_uscc: None,
        };
        assert_eq!(t.key().as_str(), "T/CQSES 001-2023");
    }
}
