//! The [`Transport`] over HTTP, with reqwest.

use std::time::Duration;

use crate::Transport;
use crate::wire::{Body, Method, Request, Response};

/// Sends requests to `base_url` (e.g. `https://bureau.example/`), with
/// timeouts fit for bad networks.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    http: reqwest::Client,
    base_url: String,
}

/// A reqwest client with sane timeouts for bad networks.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

/// A client like [`http_client`] that trusts only the certificate
/// authority in `ca_pem` (the bureau's, pinned at enrolment): a server
/// certificate from any other authority is refused.
pub fn http_client_pinned(ca_pem: &str) -> Result<reqwest::Client, String> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())
        .map_err(|e| format!("证书颁发机构无法读取 (bad CA certificate): {e}"))?;
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .build()
        .map_err(|e| format!("HTTPS 客户端无法建立 (TLS client): {e}"))
}

impl HttpTransport {
    pub fn new(http: reqwest::Client, base_url: &str) -> Self {
        Self {
            http,
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

impl Transport for HttpTransport {
    async fn send(&self, request: Request) -> Result<Response, String> {
        let url = format!("{}{}", self.base_url, request.path);
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
        };
        let mut b = self.http.request(method, url);
        if let Some(t) = &request.token {
            b = b.bearer_auth(t);
        }
        for (name, value) in &request.headers {
            b = b.header(*name, value);
        }
        b = match request.body {
            Body::None => b,
            Body::Json(bytes) => b.header("content-type", "application/json").body(bytes),
            Body::Bytes(bytes) => b
                .header("content-type", "application/offset+octet-stream")
                .body(bytes),
        };
        let resp = b.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = resp.bytes().await.map_err(|e| e.to_string())?.to_vec();
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

/// Sends a request again when no answer came back (a stale keep-alive
/// connection to a restarted server, a cut), up to `attempts` times with a
/// short pause: every device call is idempotent, so resending is safe.
#[derive(Debug, Clone)]
pub struct Retrying<T> {
    inner: T,
    attempts: u32,
    pause: Duration,
}

impl<T> Retrying<T> {
    pub fn new(inner: T, attempts: u32, pause: Duration) -> Self {
        Self {
            inner,
            attempts: attempts.max(1),
            pause,
        }
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }
}

impl<T: Transport + Sync> Transport for Retrying<T> {
    async fn send(&self, request: Request) -> Result<Response, String> {
        let mut attempt = 1;
        loop {
            match self.inner.send(request.clone()).await {
                Err(_) if attempt < self.attempts => {
                    attempt += 1;
                    tokio::time::sleep(self.pause).await;
                }
                other => return other,
            }
        }
    }
}
