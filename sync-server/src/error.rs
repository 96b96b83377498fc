//! The API's one error type. Every failure leaves the server as JSON
//! `{code, message, details}` with a status that fits; internal detail is
//! logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    BadRequest { message: String, details: Value },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let (message, details) = match self {
            Self::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                (
                    "服务器内部错误，请稍后重试 (internal server error)".to_owned(),
                    Value::Null,
                )
            }
            Self::BadRequest { message, details } => (message, details),
            other => (other.to_string(), Value::Null),
        };
        (
            status,
            Json(json!({ "code": code, "message": message, "details": details })),
        )
            .into_response()
    }
}
