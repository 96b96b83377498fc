//! The supervisor console (质量科 in a browser) and the public disclosure
//! page, served by the same server as the API.
//!
//! Everything under `/console` needs a logged-in user (see [`auth`]);
//! `/public` needs none. Every POST passes [`csrf_guard`] first, so no form
//! handler can forget the CSRF check.

mod abnormal;
mod admin;
mod analysis;
mod audit_labels;
pub mod auth;
mod calendar;
mod chart;
mod dashboard;
pub mod disclosure;
mod draws;
pub mod error;
mod escalations;
mod followup;
mod login;
pub mod page;
mod questions;
mod refusal;
mod reports;
mod review;
mod tokens;
pub use tokens::state_label as token_state_label;
mod town_reports;
mod town_tasks;
mod upload;
pub mod users;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use auth::{AuthError, CurrentUser, LOGIN_CSRF_COOKIE, Role, cookie, csrf_matches};

/// Largest urlencoded form the CSRF guard reads (file uploads are
/// multipart and carry the token in the query string instead).
const MAX_FORM_BYTES: usize = 1024 * 1024;

use Role::{Admin, Auditor, Supervisor, TownLead};
const ADMINS: &[Role] = &[Admin];
const DRAW_READERS: &[Role] = &[Admin, Supervisor, Auditor];
const QUALITY_SECTION: &[Role] = &[Admin, Supervisor];
const REVIEWERS: &[Role] = &[Admin, Supervisor, TownLead];

/// The console's routes. Routes that only some roles may use are grouped
/// under a role check that runs before any form is read, so a wrong role
/// gets 403 whatever it sends; handlers check again.
pub fn router(state: AppState) -> Router<AppState> {
    let admin_only = Router::new()
        .route("/console/users", get(users::list).post(users::add))
        .route(
            "/console/users/{username}/password",
            post(users::reset_password),
        )
        .route("/console/users/{username}/role", post(users::change_role))
        .route("/console/users/{username}/{op}", post(users::set_disabled))
        .route("/console/tokens", get(tokens::list).post(tokens::issue))
        .route("/console/tokens/{id}/revoke", post(tokens::revoke))
        .route(
            "/console/import",
            get(admin::import_page)
                .post(admin::import_upload)
                .layer(DefaultBodyLimit::max(crate::api::MAX_IMPORT_BYTES)),
        )
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), ADMINS),
            require_roles,
        ));
    let draw_readers = Router::new()
        .route("/console/plans", get(draws::plans))
        .route("/console/plans/{id}", get(draws::plan))
        .route("/console/draws/{id}", get(draws::draw))
        .route("/console/draws/{id}/verify", get(draws::verify))
        .route("/console/verify", get(draws::verify_form))
        .route("/console/audit", get(admin::audit))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), DRAW_READERS),
            require_roles,
        ));
    let quality_section = Router::new()
        .route("/console/plans/new", post(draws::create_plan))
        .route("/console/plans/{id}/freeze", post(draws::freeze))
        .route("/console/plans/{id}/assigned", post(draws::upload_assigned))
        .route("/console/draws/{id}/replace", post(draws::replace_seat))
        .route("/console/plans/{id}/draw", post(draws::run_draw))
        .route("/console/records/{id}/publish", post(disclosure::publish))
        .route("/console/questions/{id}/faq", post(questions::publish_faq))
        .route("/console/abnormal/{id}", post(abnormal::record))
        .route(
            "/console/abnormal/{id}/case",
            post(abnormal::record_case_filed),
        )
        .route("/console/records/{id}/withdraw", post(disclosure::withdraw))
        .route("/console/calendar", post(calendar::enter))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), QUALITY_SECTION),
            require_roles,
        ));
    let reviewers = Router::new()
        .route("/console/records/{id}/approve", post(review::approve))
        .route("/console/records/{id}/issues", post(review::mark_issues))
        .route("/console/records/{id}/return", post(review::return_record))
        .route("/console/followup/{id}/actions", post(followup::act))
        .route(
            "/console/questions/{id}/answer",
            // Up to six images of 10 MB each, with the form.
            post(questions::answer).layer(DefaultBodyLimit::max(
                (choucha_shared::consult::MAX_PHOTOS + 1)
                    * crate::service::consult::MAX_ATTACHMENT_BYTES,
            )),
        )
        .route("/console/records/{id}/escalate", post(escalations::raise))
        .route(
            "/console/town-reports/{plan}/due",
            post(town_reports::set_due),
        )
        .route(
            "/console/town-reports/{plan}/{town}/save",
            post(town_reports::save),
        )
        .route(
            "/console/town-reports/{plan}/{town}/submit",
            post(town_reports::submit),
        )
        .route(
            "/console/town-reports/{plan}/{town}/return",
            post(town_reports::return_report),
        )
        .route(
            "/console/escalations/{id}/measures",
            post(escalations::add_measure),
        )
        .route(
            "/console/escalations/{id}/measures/{seq}/done",
            post(escalations::measure_done),
        )
        .route("/console/escalations/{id}/close", post(escalations::close))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), REVIEWERS),
            require_roles,
        ));
    let routes = Router::new()
        .route("/console/login", get(login::login_page).post(login::login))
        .route("/console/logout", post(login::logout))
        .route("/console/lang/{lang}", get(login::set_lang))
        .route("/console", get(login::home))
        // The address as typed with a slash: the same home, not a 404.
        .route(
            "/console/",
            get(|| async { axum::response::Redirect::permanent("/console") }),
        )
        .route("/console/review", get(review::queue))
        .route("/console/records/{id}", get(review::record))
        .route("/console/records/{id}/blobs/{sha}", get(review::blob))
        .route("/console/records/{id}/pdf", get(reports::record_pdf))
        .route("/console/records/{id}/orders/{n}", get(reports::order_pdf))
        .route("/console/disclosure", get(disclosure::due))
        .route("/console/abnormal", get(abnormal::list))
        .route("/console/followup", get(followup::list))
        .route("/console/questions", get(questions::list))
        .route("/console/escalations", get(escalations::list))
        .route("/console/town-reports", get(town_reports::list))
        .route("/console/tasks", get(town_tasks::show))
        .route("/console/analysis", get(analysis::show))
        .route(
            "/console/town-reports/{plan}/all.xlsx",
            get(town_reports::all_xlsx),
        )
        .route(
            "/console/town-reports/{plan}/{town}",
            get(town_reports::show),
        )
        .route(
            "/console/town-reports/{plan}/{town}/report.xlsx",
            get(town_reports::town_xlsx),
        )
        .route(
            "/console/town-reports/{plan}/all.pdf",
            get(town_reports::all_pdf),
        )
        .route(
            "/console/town-reports/{plan}/{town}/report.pdf",
            get(town_reports::town_pdf),
        )
        .route("/console/escalations/{id}", get(escalations::show))
        .route(
            "/console/escalations/{id}/photos/{sha}",
            get(escalations::photo),
        )
        .route("/console/questions/{id}", get(questions::show))
        .route(
            "/console/questions/{id}/photos/{sha}",
            get(questions::photo),
        )
        .route("/console/followup/{id}", get(followup::finding))
        .route("/console/dashboard", get(dashboard::show))
        .route("/console/calendar", get(calendar::show))
        .route("/console/reports", get(reports::index))
        .route("/console/reports/summary.xlsx", get(reports::summary_xlsx))
        .route("/console/reports/summary.csv", get(reports::summary_csv))
        .route("/console/reports/problems.csv", get(reports::problems_csv))
        .route("/console/reports/register.csv", get(reports::register_csv))
        .route(
            "/console/reports/register.xlsx",
            get(reports::register_xlsx),
        )
        .route(
            "/console/reports/register.manifest.json",
            get(reports::register_manifest),
        )
        .route("/public", get(disclosure::public_page))
        .route("/public/draws/{id}", get(draws::public_draw))
        .route(
            "/public/draws/{id}/snapshot.txt",
            get(draws::public_snapshot),
        )
        .route("/public/draw_example.py", get(draws::draw_script))
        .route("/public/results.json", get(disclosure::feed_json))
        .route("/public/results.csv", get(disclosure::feed_csv))
        .route("/public/signing-key.pem", get(disclosure::signing_key_pem))
        .merge(admin_only)
        .merge(draw_readers)
        .merge(quality_section)
        .merge(reviewers)
        .route_layer(middleware::from_fn_with_state(state.clone(), csrf_guard));
    // A refused form's page is rendered again through these same routes.
    let again = routes.clone().with_state(state.clone());
    routes.route_layer(middleware::from_fn_with_state((state, again), in_layout))
}

/// Shows every console error page again in the console's layout, in the
/// visitor's language, with the navigation of whoever is logged in: one
/// error page, wherever the error arose (a handler, the role check, the
/// CSRF guard).
async fn in_layout(
    State((state, routes)): State<(AppState, Router)>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers().clone();
    let action = request.uri().path().to_owned();
    // A form's values are kept until its answer is known, to be shown
    // again if it is refused (uploads are multipart: their files cannot be
    // put back, so only the message is shown).
    let (request, values) = match is_urlencoded_post(&request) {
        true => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
                return error::ConsoleError::BadRequest("表单过大 (form too large)".into())
                    .into_response();
            };
            let values = refusal::form_values(&bytes);
            (Request::from_parts(parts, Body::from(bytes)), values)
        }
        false => (request, Vec::new()),
    };
    let is_post = request.method() == Method::POST;
    let response = next.run(request).await;
    let Some(page::ErrorMessage { message, field }) =
        response.extensions().get::<page::ErrorMessage>().cloned()
    else {
        return response;
    };
    let status = response.status();
    if is_post && refusal::is_input_refusal(status) {
        if let Some(origin) = refusal::origin_page(&headers) {
            let refused = refusal::Refused {
                action,
                page: origin.to_string(),
                field: field.clone(),
                message: message.clone(),
                values,
            };
            if let Some(shown) = refusal::reshow(routes, &headers, refused, status).await {
                return keep_headers(shown, &response);
            }
        }
    }
    let Ok(probe) = axum::http::Request::builder().method(Method::GET).body(()) else {
        return response;
    };
    let (mut parts, ()) = probe.into_parts();
    parts.headers = headers;
    let lang = page::Lang::from_request_parts(&mut parts, &state)
        .await
        .unwrap_or_default();
    let user = CurrentUser::from_request_parts(&mut parts, &state)
        .await
        .ok();
    let fresh = page::error_in_layout(lang, user.as_ref(), status, &message, field.as_deref());
    keep_headers(fresh, &response)
}

/// `fresh` with the headers the first answer set (cookies, a retry time,
/// the security headers); only the body, its type and its length are new.
fn keep_headers(mut fresh: Response, first: &Response) -> Response {
    let content_type = fresh.headers().get(header::CONTENT_TYPE).cloned();
    *fresh.headers_mut() = first.headers().clone();
    fresh.headers_mut().remove(header::CONTENT_LENGTH);
    if let Some(v) = content_type {
        fresh.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    fresh
}

fn is_urlencoded_post(request: &Request) -> bool {
    request.method() == Method::POST
        && request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Lets only the `allowed` roles through (anonymous visitors get the login
/// page or 401, see [`AuthError`]). Used as
/// `from_fn_with_state((state, ROLES), require_roles)`.
async fn require_roles(
    State((state, allowed)): State<(AppState, &'static [Role])>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match CurrentUser::from_request_parts(&mut parts, &state).await {
        Ok(user) if allowed.contains(&user.role) => {
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(_) => AuthError::Forbidden.into_response(),
        Err(e) => e.into_response(),
    }
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
