//! The console's error type: every failure becomes an HTML page with a
//! status that fits; internal detail is logged, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::auth::AuthError;
use super::page::error_page;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Also what a town lead gets for another town's objects, so guessing
    /// URLs does not even reveal that something exists.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Internal(String),
}

impl ConsoleError {
    pub fn not_found() -> Self {
        Self::NotFound("没有找到 (not found)".into())
    }
}

/// The message an officer reads: the details only when they add something
/// (a field's name is already the message's first word).
fn shown(message: String, details: &serde_json::Value) -> String {
    let only_field = details
        .as_object()
        .is_some_and(|o| o.len() == 1 && o.contains_key("field"));
    if details.is_null() || only_field {
        message
    } else {
        format!("{message} {details}")
    }
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::NotFound(m),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Invalid { message, details } => Self::BadRequest(shown(message, &details)),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::service::ServiceError> for ConsoleError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as S;
        match e {
            S::BadInput { message, details } | S::Invalid { message, details } => {
                Self::BadRequest(shown(message, &details))
            }
            S::NotFound(m) => Self::NotFound(m),
            S::Conflict(m) => Self::Conflict(m),
            S::TooManyAttempts(m) => Self::TooManyRequests(m),
            S::QuotaExceeded { message, .. } => Self::BadRequest(message),
            S::Store(s) => s.into(),
            S::Internal(m) => Self::Internal(m),
        }
    }
}

impl From<crate::oversight::OversightError> for ConsoleError {
    fn from(e: crate::oversight::OversightError) -> Self {
        use crate::oversight::OversightError as O;
        match e {
            O::Store(s) => s.into(),
            O::NotFound(m) => Self::NotFound(m),
            O::Conflict(m) => Self::Conflict(m),
            O::Invalid { field, message } => Self::BadRequest(format!("{field}: {message}")),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Auth(a) => return a.into_response(),
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(ref m) => {
                tracing::error!(error = %m, "console internal error");
                return error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "服务器内部错误，请稍后重试 (internal server error)",
                );
            }
        };
        error_page(status, &self.to_string())
    }
}

pub type ConsoleResult<T> = Result<T, ConsoleError>;
