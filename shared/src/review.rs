//! Review states of a synced record and the result categories published to
//! the public (一公开).

use serde::{Deserialize, Serialize};

/// Where a record stands on the server, modelled on ODK Central's review
/// states plus `Incomplete` for records whose evidence has not all arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// 证据不全: sealed, but some named blob is missing or the rules fail.
    Incomplete,
    /// 已接收: complete, waiting for review.
    Received,
    /// 存在问题: a reviewer flagged it, not yet returned.
    HasIssues,
    /// 已退回: returned to the team with comments; expects an amendment.
    Returned,
    /// 已审核通过
    Approved,
    /// 已被替代: an amendment replaced this version.
    Superseded,
}

impl ReviewState {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Incomplete => "证据不全",
            Self::Received => "已接收",
            Self::HasIssues => "存在问题",
            Self::Returned => "已退回",
            Self::Approved => "已审核通过",
            Self::Superseded => "已被替代",
        }
    }
}

/// Result categories used when publishing inspection results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishedResult {
    /// 未发现问题
    NoProblemFound,
    /// 发现问题已责令改正
    ProblemOrderedCorrected,
    /// 发现问题待后续处理
    ProblemPendingFurtherAction,
    /// 不配合检查情节严重
    SeriousNonCooperation,
    /// 通过登记的住所（经营场所）无法联系
    UnreachableAtRegisteredAddress,
    /// 未发现开展本次抽查涉及的经营活动
    ActivityNotFound,
    /// 已关闭退出
    ClosedOrExited,
}

impl PublishedResult {
    pub const ALL: [PublishedResult; 7] = [
        Self::NoProblemFound,
        Self::ProblemOrderedCorrected,
        Self::ProblemPendingFurtherAction,
        Self::SeriousNonCooperation,
        Self::UnreachableAtRegisteredAddress,
        Self::ActivityNotFound,
        Self::ClosedOrExited,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::NoProblemFound => "未发现问题",
            Self::ProblemOrderedCorrected => "发现问题已责令改正",
            Self::ProblemPendingFurtherAction => "发现问题待后续处理",
            Self::SeriousNonCooperation => "不配合检查情节严重",
            Self::UnreachableAtRegisteredAddress => "通过登记的住所（经营场所）无法联系",
            Self::ActivityNotFound => "未发现开展本次抽查涉及的经营活动",
            Self::ClosedOrExited => "已关闭退出",
        }
    }
}
