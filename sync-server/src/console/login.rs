//! Logging in and out, the language switch and the home page.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::auth::{
    self, CurrentUser, LOGIN_CSRF_COOKIE, Role, SESSION_COOKIE, SESSION_HOURS, secure_cookies,
    set_cookie,
};
use super::error::ConsoleResult;
use super::page::{LANG_COOKIE, Lang, layout, page};
use crate::AppState;
use crate::store::random_token;

/// Failed logins allowed per client address within [`LOCKOUT_MINUTES`]
/// (the address a trusted proxy forwards, else the socket's).
pub const MAX_FAILURES_PER_CLIENT: i64 = 20;
pub const LOCKOUT_MINUTES: i64 = 15;
/// Failures of one name from one client before each next try must wait:
/// 1 s after the third, then 2 s, 4 s … at most [`LOCKOUT_MINUTES`]. A
/// name is never locked for everyone: guesses from one address slow down
/// that address only.
pub const FREE_FAILURES_PER_PAIR: i64 = 3;
/// Password checks (Argon2, ≈19 MiB and tens of milliseconds each) run at
/// most this many at once; a flood waits in line instead of taking the
/// machine's memory and cores.
const MAX_PASSWORD_CHECKS: usize = 2;
/// How long a login waits for its turn before it is told to come back.
const PASSWORD_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn password_checks() -> &'static tokio::sync::Semaphore {
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    CHECKS.get_or_init(|| tokio::sync::Semaphore::new(MAX_PASSWORD_CHECKS))
}

/// How long the pair must still wait, if at all.
fn pair_wait(f: &crate::store::RecentFailures) -> Option<Duration> {
    let before = f.for_pair - 1; // this attempt is counted already
    if before < FREE_FAILURES_PER_PAIR {
        return None;
    }
    let exp = (before - FREE_FAILURES_PER_PAIR).min(20) as u32;
    let delay = Duration::seconds(1i64 << exp).min(Duration::minutes(LOCKOUT_MINUTES));
    let since = chrono::Utc::now() - f.previous_pair_failure?;
    (since < delay).then(|| delay - since)
}

fn login_form(lang: Lang, csrf: &str, message: Option<&str>, username: &str) -> Markup {
    layout(
        lang,
        None,
        lang.t("登录", "Log in"),
        html! {
            @if let Some(m) = message { p.error #error { (m) } }
            form method="post" action="/console/login" #login-form {
                input type="hidden" name="csrf" value=(csrf);
                p { label { (lang.t("用户名", "Username")) br; input name="username" #username value=(username) autocomplete="username" required; } }
                p { label { (lang.t("密码", "Password")) br; input name="password" #password type="password" autocomplete="current-password" required; } }
                p { button type="submit" #login { (lang.t("登录", "Log in")) } }
            }
        },
    )
}

/// The login form, with a fresh pre-login CSRF cookie.
pub async fn login_page(State(state): State<AppState>, lang: Lang, headers: HeaderMap) -> Response {
    let csrf = random_token();
    let mut resp = page(StatusCode::OK, login_form(lang, &csrf, None, ""));
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_CSRF_COOKIE,
            &csrf,
            3600,
            secure_cookies(&state, &headers),
        ),
    );
    resp
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// Checks the password (rate limited per username and per client) and
/// opens a session.
pub async fn login(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> ConsoleResult<Response> {
    let client = state.client_of(connect.map(|c| c.0.0), &headers);
    let username = form.username.trim().to_owned();
    let csrf = auth::cookie(&headers, LOGIN_CSRF_COOKIE)
        .unwrap_or_default()
        .to_owned();
    // Counted as a failure before anything is checked, so attempts made
    // in parallel all count; marked succeeded once the password holds.
    let attempt = state.store.begin_login_attempt(&username, &client).await?;
    let failures = state
        .store
        .recent_login_failures(
            &username,
            &client,
            &attempt,
            Duration::minutes(LOCKOUT_MINUTES),
        )
        .await?;
    let too_many = |msg: String| {
        page(
            StatusCode::TOO_MANY_REQUESTS,
            login_form(lang, &csrf, Some(&msg), &username),
        )
    };
    if failures.from_client > MAX_FAILURES_PER_CLIENT {
        return Ok(too_many(format!(
            "登录失败次数过多，请 {LOCKOUT_MINUTES} 分钟后再试 (too many failed logins; try again in {LOCKOUT_MINUTES} minutes)"
        )));
    }
    if let Some(wait) = pair_wait(&failures) {
        let secs = wait.num_seconds() + 1;
        return Ok(too_many(format!(
            "密码错误次数较多，请 {secs} 秒后再试 (try again in {secs} s)"
        )));
    }
    let Ok(Ok(turn)) = tokio::time::timeout(PASSWORD_CHECK_WAIT, password_checks().acquire()).await
    else {
        return Ok(page(
            StatusCode::SERVICE_UNAVAILABLE,
            login_form(
                lang,
                &csrf,
                Some("登录请求较多，请稍后再试 (busy; try again shortly)"),
                &username,
            ),
        ));
    };
    let found = state.store.console_login_lookup(&username).await?;
    let password = form.password;
    // Argon2 is deliberately slow: keep it off the async workers.
    let (user, ok) = tokio::task::spawn_blocking(move || match found {
        Some((user, hash)) => {
            let ok = auth::verify_password(&password, &hash);
            (Some(user), ok)
        }
        None => {
            // Same work for an unknown name, so timing does not reveal names.
            let _ = auth::verify_password(&password, auth::dummy_hash());
            (None, false)
        }
    })
    .await
    .map_err(|e| super::error::ConsoleError::Internal(e.to_string()))?;
    drop(turn);
    if ok {
        state
            .store
            .login_attempt_succeeded(&username, &client, &attempt)
            .await?;
    }
    let Some(user) = user.filter(|_| ok) else {
        let msg = lang.t(
            "用户名或密码错误 (wrong username or password)",
            "Wrong username or password (用户名或密码错误)",
        );
        return Ok(page(
            StatusCode::UNAUTHORIZED,
            login_form(lang, &csrf, Some(msg), &username),
        ));
    };
    let session = state
        .store
        .create_console_session(&user.user_id, Duration::hours(SESSION_HOURS))
        .await?;
    state
        .store
        .audit(
            &user.username,
            "login",
            &format!("user:{}", user.username),
            None,
            Some(&json!({ "client": client })),
        )
        .await?;
    let secure = secure_cookies(&state, &headers);
    let mut resp = Redirect::to("/console").into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &session.token, SESSION_HOURS * 3600, secure),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
    );
    Ok(resp)
}

/// Ends the session (the CSRF guard has checked the form).
pub async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
) -> ConsoleResult<Response> {
    if let Some(token) = auth::cookie(&headers, SESSION_COOKIE) {
        state.store.delete_console_session(token).await?;
    }
    state
        .store
        .audit(
            &user.username,
            "logout",
            &format!("user:{}", user.username),
            None,
            None,
        )
        .await?;
    let mut resp = Redirect::to("/console/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure_cookies(&state, &headers)),
    );
    Ok(resp)
}

/// Switches the language and goes back where the user was.
pub async fn set_lang(
    State(state): State<AppState>,
    Path(lang): Path<String>,
    headers: HeaderMap,
) -> Response {
    let value = if lang == "en" { "en" } else { "zh" };
    // Only a path on this site is followed back, never another origin.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.find("/console")
                .or_else(|| r.find("/public"))
                .map(|i| &r[i..])
        })
        .filter(|p| !p.starts_with("//"))
        .unwrap_or("/console")
        .to_owned();
    let mut resp = Redirect::to(&back).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LANG_COOKIE,
            value,
            365 * 24 * 3600,
            secure_cookies(&state, &headers),
        ),
    );
    resp
}

/// The home page: what this user can do.
pub async fn home(State(state): State<AppState>, user: CurrentUser, lang: Lang) -> Response {
    // Escalations first: what is reported upward is handled at once.
    let open = super::escalations::open_count(&state, &user).await;
    let links: Vec<(&str, &str)> = match user.role {
        Role::Admin | Role::Supervisor => vec![
            (
                "/console/plans",
                lang.t("抽查计划与抽取", "Plans and draws"),
            ),
            ("/console/review", lang.t("审核检查记录", "Review records")),
            ("/console/followup", lang.t("后续处置", "Follow-up")),
            ("/console/dashboard", lang.t("进度统计", "Dashboard")),
            ("/console/reports", lang.t("报表导出", "Reports")),
        ],
        Role::TownLead => vec![
            (
                "/console/review",
                lang.t("审核本镇街检查记录", "Review your town's records"),
            ),
            ("/console/followup", lang.t("后续处置", "Follow-up")),
            ("/console/dashboard", lang.t("进度统计", "Dashboard")),
        ],
        Role::Auditor => vec![
            (
                "/console/plans",
                lang.t("抽查计划与抽取", "Plans and draws"),
            ),
            ("/console/review", lang.t("检查记录", "Records")),
            ("/console/dashboard", lang.t("进度统计", "Dashboard")),
            ("/console/audit", lang.t("操作日志", "Audit log")),
        ],
    };
    page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            lang.t("工作台", "Home"),
            html! {
                @if open > 0 {
                    p.flag #escalations-banner {
                        a href="/console/escalations" { (lang.t("有 ", "")) strong { (open) } (lang.t(" 项上报正在处置", " escalations open")) }
                    }
                }
                p #welcome { (lang.t("欢迎，", "Welcome, ")) (user.username) }
                ul { @for (href, label) in links { li { a href=(href) { (label) } } } }
            },
        ),
    )
}
