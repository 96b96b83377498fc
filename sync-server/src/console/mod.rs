//! The supervisor console (质量科 in a browser) and the public disclosure
//! page, served by the same server as the API.
//!
//! Everything under `/console` needs a logged-in user (see [`auth`]);
//! `/public` needs none. Every POST passes [`csrf_guard`] first, so no form
//! handler can forget the CSRF check.

mod admin;
pub mod auth;
mod dashboard;
mod disclosure;
mod draws;
pub mod error;
mod followup;
mod login;
pub mod page;
mod reports;
mod review;
pub mod users;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use auth::{AuthError, CurrentUser, LOGIN_CSRF_COOKIE, cookie, csrf_matches};

/// Largest urlencoded form the CSRF guard reads (file uploads are
/// multipart and carry the token in the query string instead).
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The console's routes.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/console/login", get(login::login_page).post(login::login))
        .route("/console/logout", post(login::logout))
        .route("/console/lang/{lang}", get(login::set_lang))
        .route("/console", get(login::home))
        .route("/console/users", get(users::list).post(users::add))
        .route("/console/plans", get(draws::plans).post(draws::create_plan))
        .route("/console/plans/{id}", get(draws::plan))
        .route("/console/plans/{id}/freeze", post(draws::freeze))
        .route("/console/plans/{id}/draw", post(draws::run_draw))
        .route("/console/draws/{id}", get(draws::draw))
        .route("/console/draws/{id}/verify", get(draws::verify))
        .route("/console/verify", get(draws::verify_form))
        .route("/console/review", get(review::queue))
        .route("/console/records/{id}", get(review::record))
        .route("/console/records/{id}/approve", post(review::approve))
        .route("/console/records/{id}/issues", post(review::mark_issues))
        .route("/console/records/{id}/return", post(review::return_record))
        .route("/console/records/{id}/blobs/{sha}", get(review::blob))
        .route("/console/records/{id}/publish", post(disclosure::publish))
        .route("/console/records/{id}/withdraw", post(disclosure::withdraw))
        .route("/console/disclosure", get(disclosure::due))
        .route("/console/followup", get(followup::list))
        .route(
            "/console/followup/{id}",
            get(followup::finding).post(followup::act),
        )
        .route("/console/dashboard", get(dashboard::show))
        .route(
            "/console/import",
            get(admin::import_page)
                .post(admin::import_upload)
                .layer(DefaultBodyLimit::max(crate::api::MAX_IMPORT_BYTES)),
        )
        .route("/console/audit", get(admin::audit))
        .route("/console/reports", get(reports::index))
        .route("/console/reports/summary.xlsx", get(reports::summary_xlsx))
        .route("/console/reports/summary.csv", get(reports::summary_csv))
        .route("/console/reports/problems.csv", get(reports::problems_csv))
        .route("/console/records/{id}/pdf", get(reports::record_pdf))
        .route("/public", get(disclosure::public_page))
        .route("/public/results.json", get(disclosure::feed_json))
        .route("/public/results.csv", get(disclosure::feed_csv))
        .route_layer(middleware::from_fn_with_state(state, csrf_guard))
}

/// The proof-of-duty and disclosure settings, read from the environment
/// once (bad values are logged and the defaults used, so the console still
/// starts).
pub fn oversight_config() -> &'static crate::oversight::OversightConfig {
    static CONFIG: std::sync::OnceLock<crate::oversight::OversightConfig> =
        std::sync::OnceLock::new();
    CONFIG.get_or_init(|| {
        crate::oversight::OversightConfig::from_env().unwrap_or_else(|e| {
            tracing::error!(error = %e, "oversight settings invalid; using the defaults");
            crate::oversight::OversightConfig::default()
        })
    })
}

/// Refuses every POST that does not carry the right CSRF token: the
/// session's token (form field or `?csrf=`), or for the login form the
/// pre-login cookie's value.
async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let from_query = parts.uri.query().and_then(|q| field(q.as_bytes(), "csrf"));
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (body, submitted) = if is_form {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return error::ConsoleError::BadRequest("表单过大 (form too large)".into())
                .into_response();
        };
        let token = field(&bytes, "csrf").or(from_query);
        (Body::from(bytes), token)
    } else {
        (body, from_query)
    };
    let expected = if parts.uri.path() == "/console/login" {
        cookie(&parts.headers, LOGIN_CSRF_COOKIE)
            .unwrap_or_default()
            .to_owned()
    } else {
        match CurrentUser::from_request_parts(&mut parts, &state).await {
            Ok(user) => user.csrf_token,
            Err(e) => return e.into_response(),
        }
    };
    if !csrf_matches(&expected, submitted.as_deref()) {
        return AuthError::BadCsrf.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// One field of an urlencoded string.
fn field(bytes: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}
