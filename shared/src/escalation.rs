//! Escalation (上报, seed §五(三)): a problem found in an inspection that
//! cannot wait for the summary — a problem across an industry (行业性问题),
//! a prominent concentrated problem (突出集中的问题), one the public reacts
//! strongly to (老百姓反映较为强烈的问题), a major situation (重大情况请及时
//! 反馈), or a safety hazard that needs emergency control (应急管控, "严防安全
//! 责任事故的发生"). Raised from the tablet (one log entry, offline too) or
//! the console; the quality section is alerted at once and records the
//! control measures until it closes the escalation with an outcome.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::value::Sha256Hex;

/// Longest description taken (characters).
pub const MAX_TEXT_CHARS: usize = 2000;
/// Most photos one escalation carries.
pub const MAX_PHOTOS: usize = 6;

/// What kind of problem is reported upward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// 行业性问题
    Industry,
    /// 突出集中的问题
    Concentrated,
    /// 老百姓反映较为强烈的问题
    PublicConcern,
    /// 重大情况
    Major,
    /// 安全隐患（需应急管控）
    SafetyHazard,
}

impl EscalationKind {
    pub const ALL: [EscalationKind; 5] = [
        Self::SafetyHazard,
        Self::Major,
        Self::Industry,
        Self::Concentrated,
        Self::PublicConcern,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Industry => "industry",
            Self::Concentrated => "concentrated",
            Self::PublicConcern => "public_concern",
            Self::Major => "major",
            Self::SafetyHazard => "safety_hazard",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Industry => "行业性问题",
            Self::Concentrated => "突出集中的问题",
            Self::PublicConcern => "群众反映强烈的问题",
            Self::Major => "重大情况",
            Self::SafetyHazard => "安全隐患（需应急管控）",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Industry => "Industry-wide problem",
            Self::Concentrated => "Prominent concentrated problem",
            Self::PublicConcern => "Problem the public reacts strongly to",
            Self::Major => "Major situation",
            Self::SafetyHazard => "Safety hazard (emergency control)",
        }
    }
}

impl std::str::FromStr for EscalationKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == s.trim() || k.label_zh() == s.trim())
            .ok_or_else(|| format!("未知的上报类型 '{s}'"))
    }
}

/// A problem reported upward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Escalation {
    /// Made where it is raised (UUIDv7).
    pub escalation_id: Uuid,
    pub task_id: String,
    /// The inspection record it comes from, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_id: Option<Uuid>,
    pub kind: EscalationKind,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<Sha256Hex>,
    pub raised_at: DateTime<Utc>,
}

impl Escalation {
    /// The rules an escalation meets wherever it is raised or received.
    pub fn check(&self) -> Result<(), String> {
        let n = self.description.trim().chars().count();
        if n == 0 {
            return Err("请说明上报的情况".to_owned());
        }
        if n > MAX_TEXT_CHARS {
            return Err(format!(
                "情况说明过长：{n} 个字，最多 {MAX_TEXT_CHARS} 个字"
            ));
        }
        if self.photos.len() > MAX_PHOTOS {
            return Err(format!(
                "照片过多：{} 张，最多 {MAX_PHOTOS} 张",
                self.photos.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_code_and_label() {
        for k in EscalationKind::ALL {
            assert_eq!(k.code().parse::<EscalationKind>(), Ok(k));
            assert_eq!(k.label_zh().parse::<EscalationKind>(), Ok(k));
        }
        assert!("urgent".parse::<EscalationKind>().is_err());
    }
}
