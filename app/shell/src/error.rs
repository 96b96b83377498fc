//! Errors of the shell: start-up failures, and the conversion of the core's
//! errors into the `{code, message}` the front end shows.

use choucha_app_api::CommandError;
use choucha_app_core::CoreError;

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Core(#[from] CoreError),
    #[error("无法确定数据目录 (no app data directory): {0}")]
    NoDataDir(String),
    #[error("设置文件 {path} 无法读取：{reason} (settings file unreadable)")]
    Settings { path: String, reason: String },
    #[error("启动参数 {name} 无效：{reason} (bad start-up option)")]
    Option { name: &'static str, reason: String },
}

/// A core error as the screen shows it; sealing refusals carry every
/// violation so the review screen can list them with a jump to each.
pub fn command_error(e: CoreError) -> CommandError {
    let mut out = CommandError::new(e.code(), e.to_string());
    if let CoreError::Incomplete(v) = e {
        out.violations = v;
    }
    out
}

pub type CmdResult<T> = Result<T, CommandError>;
