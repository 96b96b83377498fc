//! Headers every response carries, so a page of the console or the public
//! register cannot be framed, sniffed into another type, run a script that
//! is not the server's own file, or leak its address to another site; and,
//! once the server is reached over HTTPS, a browser keeps to HTTPS.
//!
//! The policy allows no inline script (the console has none: its one
//! behaviour, the print button, is `/console/assets/console.js`); inline
//! styles stay allowed (the pages' one stylesheet is in the page).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// A year, the usual HSTS lifetime.
const HSTS: &str = "max-age=31536000";

pub async fn add(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let https = crate::console::auth::secure_cookies(&state, request.headers());
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        h.entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(header::X_FRAME_OPTIONS, "DENY");
    if https {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    response
}
