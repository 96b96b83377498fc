//! The app core's error type. Messages are Chinese first (they reach the
//! inspector's screen) with the English in parentheses.

use choucha_shared::completeness::Violation;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("本机数据库错误：{0} (local database error)")]
    Db(#[from] rusqlite::Error),
    #[error("读写本机文件失败（{what}）：{source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Key(String),
    #[error("证据文件 {0} 损坏或被篡改，无法解密 (evidence file corrupt)")]
    EvidenceCorrupt(String),
    #[error("找不到 {0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("记录尚不完整，不能封存：{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("；"))]
    Incomplete(Vec<Violation>),
    #[error("本设备尚未注册，请先输入服务器地址和注册码 (device not enrolled)")]
    NotEnrolled,
    #[error("本设备已被注销：{0}")]
    Revoked(String),
    #[error("无法连接服务器：{0} (server unreachable)")]
    Network(String),
    #[error("服务器拒绝了请求：{0}")]
    Server(String),
    #[error("数据格式错误：{0}")]
    Format(String),
    #[error("已锁定，请输入 PIN 解锁 (locked: enter your PIN)")]
    Locked,
}

impl CoreError {
    pub fn io(what: &str, source: std::io::Error) -> Self {
        Self::Io {
            what: what.to_owned(),
            source,
        }
    }

    /// A short machine-readable code for the UI layer (`{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Db(_) => "db",
            Self::Io { .. } => "io",
            Self::Key(_) => "key",
            Self::EvidenceCorrupt(_) => "evidence_corrupt",
            Self::NotFound(_) => "not_found",
            Self::Refused(_) => "refused",
            Self::Incomplete(_) => "incomplete",
            Self::NotEnrolled => "not_enrolled",
            Self::Revoked(_) => "revoked",
            Self::Network(_) => "network",
            Self::Server(_) => "server",
            Self::Format(_) => "format",
            Self::Locked => "locked",
        }
    }
}

impl From<serde_json::Error> for CoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Format(e.to_string())
    }
}
