//! Observability: a span and a latency sample for every request, a
//! request id the client can quote (echoed in `x-request-id`), and the
//! process's metrics in the Prometheus text format at `/metrics`.
//!
//! Metrics live in one process-wide registry, as Prometheus clients do:
//! a counter is a property of the running process, not of one router or
//! one test's state, and the store's writer queue must be able to record
//! into it without every caller handing it down.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument;

use crate::AppState;
use crate::error::ApiError;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: &str = "x-request-id";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    /// The route pattern (`/api/v1/device/blobs/{sha256}`), never the
    /// concrete path: one series per endpoint, however many blobs.
    route: String,
    status: u16,
}

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
    /// Push requests answered (each a batch of log entries).
    pub pushes: Counter,
    /// Log entries newly stored by pushes (retries not counted again).
    pub entries: Counter,
    /// Blobs whose last byte arrived and verified.
    pub blobs: Counter,
    /// Bytes of blob chunks accepted.
    pub blob_bytes: Counter,
    /// Device pulls answered "nothing new" from memory, without the
    /// database (PostgreSQL, `store::quiet_pulls`).
    pub pulls_from_memory: Counter,
    uploads_in_flight: Gauge,
    /// Time a writer waited for SQLite's single writer.
    pub writer_wait: Histogram,
    pool_connections: Gauge,
    pool_idle: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~33 s: a pull answers in milliseconds, a large push in seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let http: Family<HttpLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "choucha_http_request_duration_seconds",
            "Time from a request's arrival to its response, by route and status",
            http.clone(),
        );
        let pushes = Counter::<u64, AtomicU64>::default();
        registry.register(
            "choucha_sync_pushes",
            "Device push requests answered",
            pushes.clone(),
        );
        let entries = Counter::<u64, AtomicU64>::default();
        registry.register(
            "choucha_sync_entries",
            "Device log entries newly stored",
            entries.clone(),
        );
        let blobs = Counter::<u64, AtomicU64>::default();
        registry.register(
            "choucha_sync_blobs",
            "Evidence blobs completed and verified",
            blobs.clone(),
        );
        let blob_bytes = Counter::<u64, AtomicU64>::default();
        registry.register(
            "choucha_sync_blob_bytes",
            "Bytes of evidence chunks accepted",
            blob_bytes.clone(),
        );
        let pulls_from_memory = Counter::<u64, AtomicU64>::default();
        registry.register(
            "choucha_sync_pulls_from_memory",
            "Device pulls answered 'nothing new' without asking the database",
            pulls_from_memory.clone(),
        );
        let uploads_in_flight = Gauge::<i64>::default();
        registry.register(
            "choucha_uploads_in_flight",
            "Blob uploads a request is working on now",
            uploads_in_flight.clone(),
        );
        let writer_wait = Histogram::new(exponential_buckets(0.0001, 2.0, 18));
        registry.register(
            "choucha_db_writer_wait_seconds",
            "Time a write waited for the database writer (SQLite only)",
            writer_wait.clone(),
        );
        let pool_connections = Gauge::<i64>::default();
        registry.register(
            "choucha_db_pool_connections",
            "Database connections open",
            pool_connections.clone(),
        );
        let pool_idle = Gauge::<i64>::default();
        registry.register(
            "choucha_db_pool_idle",
            "Database connections open and idle",
            pool_idle.clone(),
        );
        Self {
            registry,
            http,
            pushes,
            entries,
            blobs,
            blob_bytes,
            pulls_from_memory,
            uploads_in_flight,
            writer_wait,
            pool_connections,
            pool_idle,
        }
    }

    /// The registry in the Prometheus text (OpenMetrics) format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// A client's request id if it is a sane token, else a fresh one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty()
                && b.len() <= 64
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header value")
        })
}

/// Middleware on every route: a `request` span carrying method, route and
/// request id (so every event a handler, a service or the store logs on
/// its behalf is tagged with them), one event with status and latency when
/// the response is ready, a latency sample, and the id echoed back.
pub async fn observe_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(no route)".to_owned());
    let id = request_id(request.headers());
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        request_id = %id.to_str().unwrap_or_default(),
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    let latency = started.elapsed();
    span.in_scope(|| {
        let ms = latency.as_secs_f64() * 1e3;
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), latency_ms = ms, "request failed");
        } else {
            // Per-request lines at debug, as is usual: at 200 devices an
            // info line per request would be most of the log.
            tracing::debug!(status = status.as_u16(), latency_ms = ms, "request");
        }
    });
    metrics()
        .http
        .get_or_create(&HttpLabels {
            method,
            route,
            status: status.as_u16(),
        })
        .observe(latency.as_secs_f64());
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `GET /metrics`: for the admin token or the configured metrics token
/// (`CHOUCHA_METRICS_TOKEN`); the gauges are read at scrape time.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security(("admin_token" = []), ("metrics_token" = [])),
    responses((status = 200, description = "The process's metrics, OpenMetrics text format", body = String, content_type = "application/openmetrics-text"))
)]
pub async fn metrics_endpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = crate::api::bearer(&headers);
    if token.is_empty() {
        return ApiError::Unauthorized.into_response();
    }
    let scraper = state
        .metrics_token
        .as_ref()
        .is_some_and(|t| same_secret(t.expose(), token));
    if !scraper {
        if let Err(e) = crate::api::admin_actor(&state, token).await {
            return e.into_response();
        }
    }
    let m = metrics();
    m.uploads_in_flight.set(state.uploads.in_flight() as i64);
    let (open, idle) = state.store.pool_use();
    m.pool_connections.set(i64::from(open));
    m.pool_idle.set(idle as i64);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
        .into_response()
}
