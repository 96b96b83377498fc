//! Who is using the console: roles, the logged-in user (an axum extractor
//! reading the session cookie), jurisdiction visibility and the
//! session/CSRF cookies. Password hashing is `crate::service::passwords`.
//!
//! Sessions live in the database (only the token's SHA-256 is stored); the
//! cookie is HttpOnly and SameSite=Strict, and Secure when the console is
//! served over HTTPS. Every POST carries the session's CSRF token, checked
//! by [`check_csrf`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "choucha_session";
/// Name of the pre-login CSRF cookie (double submit on the login form).
pub const LOGIN_CSRF_COOKIE: &str = "choucha_login_csrf";
/// How long a session lasts without logging in again (a working day).
pub const SESSION_HOURS: i64 = 12;

pub use crate::store::Role;

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
    /// How the audit log names this user.
    pub fn actor(&self) -> crate::service::Actor {
        crate::service::Actor::user(&self.username)
    }

    /// Whether this user may see things belonging to `jurisdiction`.
    pub fn may_see(&self, jurisdiction: &str) -> bool {
        may_see_jurisdiction(self.role, self.jurisdiction.as_deref(), jurisdiction)
    }

    /// The jurisdiction queries must be limited to (`None`: all).
    pub fn jurisdiction_filter(&self) -> Option<&str> {
        match self.role {
            // The extractor lets no town lead without a town in; were one
            // to get here, an empty filter would mean "every town" to the
            // store, so it gets a town that matches nothing instead.
            Role::TownLead => Some(
                self.jurisdiction
                    .as_deref()
                    .filter(|j| !j.trim().is_empty())
                    .unwrap_or(NO_TOWN),
            ),
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
/// A town no target is in (see [`CurrentUser::jurisdiction_filter`]); a
/// control character no imported name has (and not NUL, which PostgreSQL
/// refuses in text).
const NO_TOWN: &str = "\u{1}未设定镇街";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("请先登录 (please log in)")]
    NotLoggedIn { wants_page: bool },
    #[error("无权执行此操作 (not allowed for your role)")]
    Forbidden,
    #[error("表单已过期或来源不明，请刷新页面后重试 (missing or wrong CSRF token)")]
    BadCsrf,
    #[error(
        "此镇街负责人账号未设定所属镇街，不能查看任何数据，请联系管理员设定 (town lead without a town)"
    )]
    NoTown,
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
            AuthError::BadCsrf | AuthError::NoTown => StatusCode::FORBIDDEN,
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
            Some(u) => {
                if u.role == Role::TownLead
                    && u.jurisdiction
                        .as_deref()
                        .is_none_or(|j| j.trim().is_empty())
                {
                    return Err(AuthError::NoTown);
                }
                let user = CurrentUser {
                    user_id: u.user_id,
                    username: u.username,
                    role: u.role,
                    jurisdiction: u.jurisdiction,
                    csrf_token: u.csrf_token,
                };
                parts.extensions.insert(user.clone());
                Ok(user)
            }
            None => Err(AuthError::NotLoggedIn { wants_page }),
        }
    }
}

/// Whether cookies must be marked Secure: the console is behind HTTPS
/// (a proxy says so), or the operator says it always is.
pub fn secure_cookies(state: &AppState, headers: &HeaderMap) -> bool {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    forwarded_https || state.secure_cookies || state.serves_tls
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

pub use crate::service::passwords::{
    MIN_PASSWORD_CHARS, PasswordError, dummy_hash, generate_password, hash_password,
    verify_password,
};

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
