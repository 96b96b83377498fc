//! The console's error type: every failure becomes an HTML page with a
//! status that fits; internal detail is logged, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::auth::AuthError;
use super::page::{error_page, error_page_on};
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
    /// Bad input in one form field: the page of the form shows the message
    /// beside that field (see `refusal`).
    #[error("{message}")]
    BadField { field: String, message: String },
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

    /// Bad input in the form field `field`.
    pub fn bad_field(field: &str, message: String) -> Self {
        Self::BadField {
            field: field.to_owned(),
            message,
        }
    }
}

/// A refusal of bad input as an officer reads it: the message, which says
/// what is wrong in words (the details are for programs: the API answers
/// them), about the field the details name, if any.
fn refused(message: String, details: &serde_json::Value) -> ConsoleError {
    match details.get("field").and_then(serde_json::Value::as_str) {
        Some(field) => ConsoleError::BadField {
            field: field.to_owned(),
            message,
        },
        None => ConsoleError::BadRequest(message),
    }
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::NotFound(m),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Invalid { message, details } => refused(message, &details),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::service::ServiceError> for ConsoleError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as S;
        match e {
            S::BadInput { message, details } | S::Invalid { message, details } => {
                refused(message, &details)
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
            O::Invalid { field, message } => Self::BadField {
                message: format!("{field}: {message}"),
                field,
            },
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
            Self::BadField { field, message } => {
                return error_page_on(StatusCode::BAD_REQUEST, &message, Some(field));
            }
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
