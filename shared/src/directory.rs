//! The directories (名录库) the draw picks from: inspection targets, officers,
//! third-party experts, and recusal pairs.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::TargetCategory;
use crate::value::{CredentialNo, GeoPoint, Name, StandardNo, Uscc};

/// The key a target is drawn and identified by: the USCC of an organisation,
/// or the number of a standard. Sorting keys as UTF-8 bytes gives the
/// candidate order of the draw, so `Ord` here is byte order of the string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
}

/// One entry of the target directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

impl Target {
    pub fn key(&self) -> TargetKey {
        match &self.identity {
            TargetIdentity::Organisation { uscc } => TargetKey(uscc.as_str().to_owned()),
            TargetIdentity::Standard { number, .. } => TargetKey(number.as_str().to_owned()),
        }
    }
}

/// A person who can be drawn: 执法人员 or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        }
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
