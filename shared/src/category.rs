//! The seven categories of inspection target (检查对象): the six the plan names and
//! the CCC-certified products (强制性产品认证产品) the seed lists among the targets.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A category of inspection target. The serialised form is the stable
/// English code; [`TargetCategory::label_zh`] is what users read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TargetCategory {
    /// 工业产品生产许可证获证企业
    ProductionLicence,
    /// 检验检测机构
    TestingBody,
    /// 强制性产品认证（CCC）获证企业
    Ccc,
    /// 自愿性认证获证组织
    VoluntaryCertification,
    /// 团体标准、企业标准 (the target is a standard, not a site)
    Standard,
    /// 计量有关企业
    Metrology,
    /// 强制性产品认证产品: the target is a certified product (its CCC
    /// certificate), inspected where it is made or sold.
    CccProduct,
}

/// What a target's key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// 统一社会信用代码 of an organisation.
    Uscc,
    /// 标准编号 of a group or enterprise standard.
    StandardNo,
    /// CCC 证书编号 of a certified product.
    CccCertificateNo,
}

/// The string matched no category code, Chinese name or common alias.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown 检查对象类别 '{0}'; expected one of: 工业产品生产许可证获证企业, 检验检测机构, 强制性产品认证获证企业, 自愿性认证获证组织, 团体标准/企业标准, 计量有关企业, 强制性产品认证产品"
)]
pub struct UnknownCategory(pub String);

impl TargetCategory {
    pub const ALL: [TargetCategory; 7] = [
        Self::ProductionLicence,
        Self::TestingBody,
        Self::Ccc,
        Self::VoluntaryCertification,
        Self::Standard,
        Self::Metrology,
        Self::CccProduct,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::ProductionLicence => "production_licence",
            Self::TestingBody => "testing_body",
            Self::Ccc => "ccc",
            Self::VoluntaryCertification => "voluntary_certification",
            Self::Standard => "standard",
            Self::Metrology => "metrology",
            Self::CccProduct => "ccc_product",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::ProductionLicence => "工业产品生产许可证获证企业",
            Self::TestingBody => "检验检测机构",
            Self::Ccc => "强制性产品认证获证企业",
            Self::VoluntaryCertification => "自愿性认证获证组织",
            Self::Standard => "团体标准、企业标准",
            Self::Metrology => "计量有关企业",
            Self::CccProduct => "强制性产品认证产品",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::ProductionLicence => "Industrial-product production-licence holder",
            Self::TestingBody => "Testing and inspection body",
            Self::Ccc => "CCC-certified enterprise",
            Self::VoluntaryCertification => "Voluntary-certification holder",
            Self::Standard => "Group or enterprise standard",
            Self::Metrology => "Metrology-related enterprise",
            Self::CccProduct => "CCC-certified product",
        }
    }

    /// Whether the inspection happens at the target's premises. Standards are
    /// checked on paper and online, so gate photos and an enterprise
    /// signature do not apply to them.
    pub fn is_on_site(self) -> bool {
        !matches!(self, Self::Standard)
    }

    /// Whether the target key is a standard number rather than a USCC.
    pub fn is_standard(self) -> bool {
        matches!(self, Self::Standard)
    }

    /// What identifies a target of this category.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Self::Standard => KeyKind::StandardNo,
            Self::CccProduct => KeyKind::CccCertificateNo,
            _ => KeyKind::Uscc,
        }
    }
}

impl FromStr for TargetCategory {
    type Err = UnknownCategory;

    /// Accepts the code, the Chinese label and the short names office staff
    /// actually type into spreadsheets.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim();
        let found = Self::ALL
            .into_iter()
            .find(|c| c.code() == s || c.label_zh() == s);
        if let Some(c) = found {
            return Ok(c);
        }
        let alias = match s {
            "生产许可" | "工业产品生产许可证" | "生产许可证获证企业" | "工业产品生产许可证企业" => {
                Self::ProductionLicence
            }
            "检验检测" | "检测机构" => Self::TestingBody,
            "CCC"
            | "3C"
            | "强制性产品认证"
            | "强制性产品认证（CCC）获证企业"
            | "强制性产品认证生产企业" => Self::Ccc,
            "自愿性认证" | "自愿性认证组织" => Self::VoluntaryCertification,
            "团体标准" | "企业标准" | "团体标准/企业标准" | "团体标准、企业标准" | "标准" => {
                Self::Standard
            }
            "计量" | "计量企业" => Self::Metrology,
            "CCC产品" | "3C产品" | "强制性产品认证获证产品" | "获证产品" => {
                Self::CccProduct
            }
            _ => return Err(UnknownCategory(s.to_owned())),
        };
        Ok(alias)
    }
}

impl fmt::Display for TargetCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_zh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_labels_and_aliases() {
        for c in TargetCategory::ALL {
            assert_eq!(c.code().parse::<TargetCategory>().unwrap(), c);
            assert_eq!(c.label_zh().parse::<TargetCategory>().unwrap(), c);
        }
        assert_eq!("3C".parse::<TargetCategory>().unwrap(), TargetCategory::Ccc);
        assert_eq!(
            " 企业标准 ".parse::<TargetCategory>().unwrap(),
            TargetCategory::Standard
        );
        let err = "食品经营".parse::<TargetCategory>().unwrap_err();
        assert!(err.to_string().contains("食品经营"));
    }

    #[test]
    fn serde_uses_stable_codes() {
        let json = serde_json::to_string(&TargetCategory::VoluntaryCertification).unwrap();
        assert_eq!(json, "\"voluntary_certification\"");
    }
}
