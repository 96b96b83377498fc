//! A refused form comes back on its own page, with what was typed and the
//! reason beside the field it is about — not on an error page that loses
//! the input.
//!
//! One place does this for every console form: when a POST is refused as
//! bad input (400, 409, 422), the console's outer layer renders the page
//! the form was sent from (the `Referer`, when it is one of the console's
//! own pages) again, through the same routes and with the same login, and
//! that page's [`layout`](super::page::layout) shows the refusal above its
//! content ([`markup`]). The refusal carries the form's address, the field
//! it names and the submitted values (never passwords or the CSRF token);
//! the console's script puts the values back into that form and moves the
//! message beside the field. Without the script the message still shows at
//! the top of the page. The answer keeps the refusal's status, so a client
//! that reads statuses sees the refusal as before.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use maud::{Markup, html};
use tower::ServiceExt;

/// The largest page re-rendered for a refusal (a console page is a few
/// hundred KB at most; anything larger is left as the plain error page).
const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// A form refused as bad input, to be shown on the page it came from.
#[derive(Debug, Clone, Default)]
pub struct Refused {
    /// The path the form was posted to (the form's `action`).
    pub action: String,
    /// The page the form was sent from, shown again (path and query).
    pub page: String,
    pub field: Option<String>,
    pub message: String,
    /// What was submitted, minus secrets, in the order sent.
    pub values: Vec<(String, String)>,
}

tokio::task_local! {
    /// The refusal being shown while its page is rendered again.
    static REFUSED: Refused;
}

/// The refusal the page being rendered must show, if any.
pub fn current() -> Option<Refused> {
    REFUSED.try_with(Clone::clone).ok()
}

/// The refusal as the page shows it, at the top of its content: the
/// message (visible with or without the script) and, for the script, the
/// form and values to restore.
pub fn markup(r: &Refused) -> Markup {
    let values = serde_json::to_string(&r.values).unwrap_or_else(|_| "[]".into());
    html! {
        div #refused data-action=(r.action) data-page=(r.page) data-field=[r.field.as_deref()] data-values=(values) {
            p.error #error role="alert" data-field=[r.field.as_deref()] { (r.message) }
        }
    }
}

/// Fields never echoed back into a page: the CSRF token (the page has its
/// own) and anything secret.
fn is_secret(name: &str) -> bool {
    name == "csrf" || name.contains("password") || name.contains("pin") || name.contains("secret")
}

/// The submitted values of an urlencoded form body, secrets left out.
pub fn form_values(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !is_secret(k))
        .collect()
}

/// Whether an answer to a POST is a refusal of its input, to be shown on
/// the form's page; other failures (403, 404, 5xx) keep their error page.
pub fn is_input_refusal(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_REQUEST | StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
    )
}

/// The console page a request was sent from: the path and query of its
/// `Referer` when that is this console on the same host, else `None`.
pub fn origin_page(headers: &HeaderMap) -> Option<Uri> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let uri: Uri = referer.parse().ok()?;
    if uri.authority().map(|a| a.as_str()) != Some(host) {
        return None;
    }
    let path = uri.path();
    if !(path == "/console" || path.starts_with("/console/")) || path == "/console/login" {
        return None;
    }
    uri.path_and_query()?.as_str().parse().ok()
}

/// Renders `page` again through `routes` as the visitor who sent the
/// refused form (same cookies), with `refused` shown on it; the answer
/// gets the refusal's `status`. `None` when the page cannot be shown
/// (it failed itself, or is not HTML): the caller keeps the error page.
pub async fn reshow(
    routes: Router,
    headers: &HeaderMap,
    refused: Refused,
    status: StatusCode,
) -> Option<Response> {
    let page: Uri = refused.page.parse().ok()?;
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(page)
        .body(Body::empty())
        .ok()?;
    for name in [header::COOKIE, header::HOST, header::USER_AGENT] {
        if let Some(v) = headers.get(&name) {
            request.headers_mut().insert(name, v.clone());
        }
    }
    let response = REFUSED.scope(refused, routes.oneshot(request)).await.ok()?;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if response.status() != StatusCode::OK || !is_html {
        return None;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_PAGE_BYTES).await.ok()?;
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    Some(Response::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_echoed() {
        let v = form_values(b"csrf=abc&plan_id=P-1&new_password=x&strata=JCJG%2Ctesting_body%2C5");
        assert_eq!(
            v,
            vec![
                ("plan_id".to_owned(), "P-1".to_owned()),
                ("strata".to_owned(), "JCJG,testing_body,5".to_owned()),
            ]
        );
    }

    #[test]
    fn only_the_consoles_own_pages_are_shown_again() {
        let h = |referer: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
            h.insert(header::REFERER, referer.parse().unwrap());
            h
        };
        assert_eq!(
            origin_page(&h("http://127.0.0.1:8080/console/plans?x=1")).map(|u| u.to_string()),
            Some("/console/plans?x=1".to_owned())
        );
        assert_eq!(
            origin_page(&h("http://198.51.100.7:8080/console/plans")),
            None
        );
        assert_eq!(origin_page(&h("http://127.0.0.1:8080/public")), None);
        assert_eq!(origin_page(&h("http://127.0.0.1:8080/console/login")), None);
        assert_eq!(origin_page(&HeaderMap::new()), None);
    }

    #[test]
    fn the_message_is_visible_without_the_script() {
        let r = Refused {
            action: "/console/plans/new".into(),
            page: "/console/plans".into(),
            field: Some("strata".into()),
            message: "分层第 1 行：未知类别 'x' (strata)".into(),
            values: vec![("title".into(), "<b>".into())],
        };
        let html = markup(&r).into_string();
        assert!(html.contains("role=\"alert\""), "{html}");
        assert!(html.contains("未知类别"), "{html}");
        assert!(html.contains("data-field=\"strata\""), "{html}");
        assert!(!html.contains("<b>"), "values are escaped: {html}");
    }
}
