//! Who is using the console: roles, the logged-in user (an axum extractor
//! reading the session cookie), jurisdiction visibility, password hashing
//! and the session/CSRF cookies.
//!
//! Sessions live in the database (only the token's SHA-256 is stored); the
//! cookie is HttpOnly and SameSite=Strict, and Secure when the console is
//! served over HTTPS. Every POST carries the session's CSRF token, checked
//! by [`check_csrf`].

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "choucha_session";
/// Name of the pre-login CSRF cookie (double submit on the login form).
pub const LOGIN_CSRF_COOKIE: &str = "choucha_login_csrf";
/// How long a session lasts without logging in again (a working day).
pub const SESSION_HOURS: i64 = 12;

/// What a console user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Users, imports, everything a supervisor does.
    Admin,
    /// The quality section (质量科): draws, review, follow-up, reports.
    Supervisor,
    /// A town/street office lead: review and follow-up in their
    /// jurisdiction only.
    TownLead,
    /// Reads everything, changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Supervisor, Role::TownLead, Role::Auditor];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::TownLead => "town_lead",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Admin => "系统管理员",
            Role::Supervisor => "质量科",
            Role::TownLead => "镇街负责人",
            Role::Auditor => "审计（只读）",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Supervisor => "Quality section",
            Role::TownLead => "Town office lead",
            Role::Auditor => "Auditor (read-only)",
        }
    }
}

/// The logged-in console user, extracted from the session cookie. A
/// handler that takes it cannot run for anonymous visitors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    /// The town/street a town lead is limited to.
    pub jurisdiction: Option<String>,
    /// This session's CSRF token, put into every form.
    pub csrf_token: String,
}

impl CurrentUser {
    /// Whether this user may see things belonging to `jurisdiction`.
    pub fn may_see(&self, jurisdiction: &str) -> bool {
        may_see_jurisdiction(self.role, self.jurisdiction.as_deref(), jurisdiction)
    }

    /// The jurisdiction queries must be limited to (`None`: all).
    pub fn jurisdiction_filter(&self) -> Option<&str> {
        match self.role {
            Role::TownLead => Some(self.jurisdiction.as_deref().unwrap_or("")),
            _ => None,
        }
    }

    /// Allows only the given roles; others get 403.
    pub fn require(&self, roles: &[Role]) -> Result<(), AuthError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AuthError::Forbidden)
        }
    }

    /// Everyone but the read-only auditor.
    pub fn can_change(&self) -> bool {
        self.role != Role::Auditor
    }
}

/// Whether a user of `role` (limited to `own` when a town lead) may see
/// things of `jurisdiction`. A town lead without a jurisdiction sees
/// nothing, rather than everything.
pub fn may_see_jurisdiction(role: Role, own: Option<&str>, jurisdiction: &str) -> bool {
    match role {
        Role::Admin | Role::Supervisor | Role::Auditor => true,
        Role::TownLead => own.is_some_and(|o| o == jurisdiction),
    }
}

/// Why a console request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("请先登录 (please log in)")]
    NotLoggedIn { wants_page: bool },
    #[error("无权执行此操作 (not allowed for your role)")]
    Forbidden,
    #[error("表单已过期或来源不明，请刷新页面后重试 (missing or wrong CSRF token)")]
    BadCsrf,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = match &self {
            AuthError::NotLoggedIn { wants_page: true } => {
                return Redirect::to("/console/login").into_response();
            }
            AuthError::NotLoggedIn { wants_page: false } => StatusCode::UNAUTHORIZED,
            AuthError::Forbidden => StatusCode::FORBIDDEN,
            AuthError::BadCsrf => StatusCode::FORBIDDEN,
            AuthError::Store(e) => {
                tracing::error!(error = %e, "console session lookup failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let message = match &self {
            AuthError::Store(_) => "服务器内部错误 (internal server error)".to_owned(),
            other => other.to_string(),
        };
        super::page::error_page(status, &message)
    }
}

/// The value of one cookie in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let wants_page = parts.method == Method::GET;
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(AuthError::NotLoggedIn { wants_page });
        };
        match state.store.console_session_user(token).await? {
            Some(user) => {
                parts.extensions.insert(user.clone());
                Ok(user)
            }
            None => Err(AuthError::NotLoggedIn { wants_page }),
        }
    }
}

/// Whether cookies must be marked Secure: the console is behind HTTPS
/// (a proxy says so), or the operator says it always is.
pub fn secure_cookies(headers: &HeaderMap) -> bool {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    forwarded_https || std::env::var("CHOUCHA_SECURE_COOKIES").is_ok_and(|v| v == "1")
}

/// A `Set-Cookie` value for a console cookie (`max_age` 0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let mut c =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}");
    if secure {
        c.push_str("; Secure");
    }
    // Names and values are ours (hex tokens), so this cannot fail; fall back
    // to an expired empty cookie rather than panic.
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

/// Compares a submitted CSRF token with the expected one in time that does
/// not depend on where they differ.
pub fn csrf_matches(expected: &str, submitted: Option<&str>) -> bool {
    let Some(submitted) = submitted else {
        return false;
    };
    if expected.is_empty() || expected.len() != submitted.len() {
        return false;
    }
    expected
        .bytes()
        .zip(submitted.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Refuses a POST whose form does not carry this session's CSRF token.
pub fn check_csrf(user: &CurrentUser, submitted: Option<&str>) -> Result<(), AuthError> {
    if csrf_matches(&user.csrf_token, submitted) {
        Ok(())
    } else {
        Err(AuthError::BadCsrf)
    }
}

/// Why a password was not accepted or could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("密码至少需要 {MIN_PASSWORD_CHARS} 个字符 (password too short)")]
    TooShort,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

pub const MIN_PASSWORD_CHARS: usize = 10;

/// Argon2id (the crate's default parameters) with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let salt_bytes: [u8; 16] = rand::random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks a password against a stored Argon2 hash.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to verify against when the user does not exist, so a login for an
/// unknown name takes as long as one with a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

/// A readable random password (no 0/O/1/l/I), 16 characters.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ";
    let bytes: [u8; 16] = rand::random();
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn town_lead_sees_only_own_jurisdiction() {
        assert!(may_see_jurisdiction(
            Role::TownLead,
            Some("西永街道"),
            "西永街道"
        ));
        assert!(!may_see_jurisdiction(
            Role::TownLead,
            Some("西永街道"),
            "虎溪街道"
        ));
        assert!(!may_see_jurisdiction(Role::TownLead, None, "西永街道"));
        for r in [Role::Admin, Role::Supervisor, Role::Auditor] {
            assert!(may_see_jurisdiction(r, None, "虎溪街道"));
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
    }

    #[test]
    fn csrf_comparison() {
        assert!(csrf_matches("abcd", Some("abcd")));
        assert!(!csrf_matches("abcd", Some("abce")));
        assert!(!csrf_matches("abcd", Some("abc")));
        assert!(!csrf_matches("abcd", None));
        assert!(!csrf_matches("", Some("")));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; choucha_session=xyz; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
