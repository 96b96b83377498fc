//! The server's use cases, each in one place.
//!
//! A use case takes the [`Actor`] its transport authenticated, validates
//! its input, and calls the one store method that makes the change and
//! appends the audit entry in the same transaction. The REST API, the
//! device API, the console, the command line and the demo are thin
//! transports over these functions: they parse their own wire format,
//! call here, and render the answer; none calls another transport.

pub mod abnormal;
pub mod admin_tokens;
pub mod calendar;
pub mod consult;
pub mod devices;
pub mod directory;
pub mod disclosure;
pub mod draws;
pub mod escalation;
pub mod evidence_gc;
pub mod followup;
pub mod passwords;
pub mod review;
pub mod signing;
pub mod sync;
pub mod users;

use serde_json::Value;

pub use crate::store::Actor;
use crate::store::StoreError;

/// Why a use case did not happen. Each transport turns it into its own
/// answer (a JSON error, an HTML page, a command-line message).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request lacks something or is malformed (HTTP 400); the
    /// message says what and where.
    #[error("{message}")]
    BadInput { message: String, details: Value },
    /// The request is well formed but what it asks is not valid (a seed
    /// too short, a plan that breaks its own rules; HTTP 422).
    #[error("{message}")]
    Invalid { message: String, details: Value },
    #[error("{0}")]
    NotFound(String),
    /// The change does not fit the current state (e.g. approving a
    /// returned record).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed attempts from one client lately (HTTP 429); the
    /// message says when to try again.
    #[error("{0}")]
    TooManyAttempts(String),
    /// A device's uploads nothing names would pass its quota (HTTP 413).
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        used: u64,
        quota: u64,
    },
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadInput {
            message: message.into(),
            details: Value::Null,
        }
    }

    /// Bad input in the request field `field` (the console shows the
    /// message beside that field of its form).
    pub fn bad_field(field: &str, message: impl Into<String>) -> Self {
        Self::BadInput {
            message: message.into(),
            details: serde_json::json!({ "field": field }),
        }
    }

    /// The input field the error names, if it names one.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            Self::BadInput { details, .. } | Self::Invalid { details, .. } => {
                details.get("field").and_then(Value::as_str)
            }
            Self::Store(s) => s.field_name(),
            _ => None,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::NotFound(m),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Invalid { message, details } => Self::Invalid { message, details },
            other => Self::Store(other),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
