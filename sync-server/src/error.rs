//! The API's one error type. Every failure leaves the server as JSON
//! `{code, message, details}` with a status that fits; internal detail is
//! logged, never sent.

use axum::Json;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    /// No route at all: a client's wrong address, told apart from a
    /// resource that does not exist.
    #[error("没有这个接口 (no such endpoint)")]
    NoSuchEndpoint,
    #[error("{message}")]
    BadRequest { message: String, details: Value },
    #[error("需要登录或有效的访问令牌 (authentication required)")]
    Unauthorized,
    #[error("访问令牌已于 {0} 过期，请向系统管理员申请新令牌 (this admin token expired at {0})")]
    TokenExpired(String),
    #[error("访问令牌已于 {0} 被撤销 (this admin token was revoked at {0})")]
    TokenRevoked(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("本设备已被注销，请联系质量科；确认后本机数据将被清除 (this device has been revoked)")]
    DeviceRevoked,
    #[error("{message}")]
    Unprocessable { message: String, details: Value },
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        used: u64,
        quota: u64,
    },
    #[error("请求体过大，上限为 {limit} 字节 (payload too large; the limit is {limit} bytes)")]
    PayloadTooLarge { limit: u64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: Value::Null,
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::NoSuchEndpoint => (StatusCode::NOT_FOUND, "no_such_endpoint"),
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::TokenExpired(_) => (StatusCode::UNAUTHORIZED, "token_expired"),
            Self::TokenRevoked(_) => (StatusCode::UNAUTHORIZED, "token_revoked"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            Self::DeviceRevoked => (StatusCode::UNAUTHORIZED, "device_revoked"),
            Self::Unprocessable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::QuotaExceeded { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::NotFound(m),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Invalid { message, details } => Self::Unprocessable { message, details },
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<crate::service::ServiceError> for ApiError {
    fn from(e: crate::service::ServiceError) -> Self {
        use crate::service::ServiceError as S;
        match e {
            S::BadInput { message, details } => Self::BadRequest { message, details },
            S::Invalid { message, details } => Self::Unprocessable { message, details },
            S::NotFound(m) => Self::NotFound(m),
            S::Conflict(m) => Self::Conflict(m),
            S::TooManyAttempts(m) => Self::TooManyRequests(m),
            S::QuotaExceeded {
                message,
                used,
                quota,
            } => Self::QuotaExceeded {
                message,
                used,
                quota,
            },
            S::Store(s) => s.into(),
            S::Internal(m) => Self::Internal(anyhow::anyhow!(m)),
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
            Self::BadRequest { message, details } | Self::Unprocessable { message, details } => {
                (message, details)
            }
            Self::PayloadTooLarge { limit } => (self.to_string(), json!({ "limit": limit })),
            Self::QuotaExceeded {
                message,
                used,
                quota,
            } => (message, json!({ "used": used, "quota": quota })),
            other => (other.to_string(), Value::Null),
        };
        (
            status,
            Json(crate::openapi::ErrorBody {
                code: code.into(),
                message,
                details,
            }),
        )
            .into_response()
    }
}

/// `Json` whose rejection (malformed body, wrong content type, wrong field
/// types) is a 400 in the API's own error format.
#[derive(Debug, FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Path` whose rejection (a parameter of the wrong type) is a 400 in the
/// API's own error format, naming the parameter.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Query` whose rejection is a 400 in the API's own error format.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        let details = match &r {
            PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                ErrorKind::ParseErrorAtKey { key, value, .. }
                | ErrorKind::DeserializeError { key, value, .. } => {
                    json!({ "parameter": key, "value": value })
                }
                _ => Value::Null,
            },
            _ => Value::Null,
        };
        Self::BadRequest {
            message: format!("地址中的参数无效：{} (bad path parameter)", r.body_text()),
            details,
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::BadRequest {
            message: format!("查询参数无效：{} (bad query parameter)", r.body_text()),
            details: Value::Null,
        }
    }
}

/// The request-body limit a route was given, for the 413 message; the
/// rejection itself does not carry it.
pub const DEFAULT_JSON_LIMIT: u64 = 16 * 1024 * 1024;

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::PayloadTooLarge {
                limit: DEFAULT_JSON_LIMIT,
            };
        }
        Self::BadRequest {
            message: format!(
                "请求体不是有效的 JSON 或字段不符合要求：{} (malformed request body)",
                r.body_text()
            ),
            details: Value::Null,
        }
    }
}

impl From<crate::oversight::OversightError> for ApiError {
    fn from(e: crate::oversight::OversightError) -> Self {
        use crate::oversight::OversightError;
        match e {
            OversightError::Store(s) => s.into(),
            OversightError::NotFound(m) => Self::NotFound(m),
            OversightError::Conflict(m) => Self::Conflict(m),
            OversightError::Invalid { field, message } => Self::Unprocessable {
                message: format!("{field}: {message}"),
                details: serde_json::json!({ "field": field }),
            },
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}
