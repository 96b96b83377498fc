//! Requests and responses as values: how each device call is written, and
//! how each answer is read. No I/O here; [`crate::Transport`] carries them.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use choucha_shared::sync::{EnrolResponse, LogEntry, PullResponse, PushResponse, RecordStatus};
use choucha_shared::value::Sha256Hex;

/// HTTP methods the device uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Patch,
}

/// What a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    None,
    /// `application/json`.
    Json(Vec<u8>),
    /// `application/offset+octet-stream` (a blob chunk).
    Bytes(Vec<u8>),
}

/// One request to the server, relative to its base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// Path and query, e.g. `/api/v1/device/pull?cursor=3`.
    pub path: String,
    /// The device token, sent as a bearer token.
    pub token: Option<String>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

/// One response as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn header_u64(&self, name: &str) -> Option<u64> {
        self.header(name).and_then(|v| v.trim().parse().ok())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a device call did not give what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No answer arrived (no signal, a cut, a timeout): try again later.
    #[error("网络连接失败，稍后自动重试 (network: {0})")]
    Network(String),
    /// The device was revoked; its data will be cleared (the server's words).
    #[error("{0}")]
    Revoked(String),
    /// The server answered with an error.
    #[error("服务器返回 {status}：{message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer is not what the protocol says it is.
    #[error("服务器的应答无法读取 (unreadable answer): {0}")]
    Decode(String),
}

impl ClientError {
    /// Whether trying the same call later may succeed (no signal, the
    /// server busy or restarting) rather than needing a person.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network(_) => true,
            Self::Server { status, .. } => *status >= 500 || *status == 429,
            Self::Revoked(_) | Self::Decode(_) => false,
        }
    }
}

/// The error a non-success response stands for.
pub fn error_of(resp: &Response) -> ClientError {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    let message = body["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&resp.body)
                .chars()
                .take(200)
                .collect()
        });
    if resp.status == 401 && code == "device_revoked" {
        return ClientError::Revoked(message);
    }
    ClientError::Server {
        status: resp.status,
        code,
        message,
    }
}

fn json_of<T: DeserializeOwned>(resp: &Response) -> Result<T, ClientError> {
    serde_json::from_slice(&resp.body).map_err(|e| {
        ClientError::Decode(format!(
            "{e} in {}",
            String::from_utf8_lossy(&resp.body)
                .chars()
                .take(200)
                .collect::<String>()
        ))
    })
}

fn json_body(v: &Value) -> Body {
    Body::Json(serde_json::to_vec(v).expect("a JSON value serialises"))
}

/// Exchanges a one-time enrolment code for a device token.
pub fn enrol(code: &str, device_name: &str) -> Request {
    Request {
        method: Method::Post,
        path: "/api/v1/device/enrol".into(),
        token: None,
        headers: Vec::new(),
        body: json_body(&json!({ "code": code.trim(), "device_name": device_name })),
    }
}

pub fn read_enrol(resp: &Response) -> Result<EnrolResponse, ClientError> {
    if !resp.is_success() {
        return Err(error_of(resp));
    }
    json_of(resp)
}

/// The officer's feed after `cursor`.
pub fn pull(token: &str, cursor: i64) -> Request {
    get(token, format!("/api/v1/device/pull?cursor={cursor}"))
}

pub fn read_pull(resp: &Response) -> Result<PullResponse, ClientError> {
    if !resp.is_success() {
        return Err(error_of(resp));
    }
    json_of(resp)
}

/// A batch of log entries, in index order.
pub fn push(token: &str, entries: &[LogEntry]) -> Request {
    Request {
        method: Method::Post,
        path: "/api/v1/device/push".into(),
        token: Some(token.to_owned()),
        headers: Vec::new(),
        body: json_body(&json!({ "entries": entries })),
    }
}

/// A push answer. 409 (some entry conflicts or does not follow) and 422
/// (some entry refused) still carry the per-entry results.
pub fn read_push(resp: &Response) -> Result<PushResponse, ClientError> {
    if !(resp.is_success() || resp.status == 409 || resp.status == 422) {
        return Err(error_of(resp));
    }
    json_of(resp)
}

fn blob_path(sha: &Sha256Hex) -> String {
    format!("/api/v1/device/blobs/{sha}")
}

/// Where the upload of a blob of `total` bytes stands on the server.
pub fn blob_head(token: &str, sha: &Sha256Hex, total: u64) -> Request {
    Request {
        method: Method::Head,
        path: blob_path(sha),
        token: Some(token.to_owned()),
        headers: vec![("upload-length", total.to_string())],
        body: Body::None,
    }
}

/// One chunk of a blob at `offset`, with its own checksum (normally the
/// chunk's SHA-256; a test may send a wrong one).
pub fn blob_patch(
    token: &str,
    sha: &Sha256Hex,
    total: u64,
    offset: u64,
    chunk: Vec<u8>,
    checksum: &Sha256Hex,
) -> Request {
    Request {
        method: Method::Patch,
        path: blob_path(sha),
        token: Some(token.to_owned()),
        headers: vec![
            ("upload-length", total.to_string()),
            ("upload-offset", offset.to_string()),
            ("upload-checksum", format!("sha256 {checksum}")),
        ],
        body: Body::Bytes(chunk),
    }
}

/// What a HEAD or PATCH of a blob answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobReply {
    pub status: u16,
    /// The server's durable offset, when it said.
    pub offset: Option<u64>,
    /// The blob is stored and verified.
    pub complete: bool,
}

pub fn read_blob(resp: &Response) -> BlobReply {
    BlobReply {
        status: resp.status,
        offset: resp.header_u64("upload-offset"),
        complete: resp.header("upload-complete").is_some(),
    }
}

/// The versions the server holds of one record, with their review state.
pub fn record(token: &str, record_id: &Uuid) -> Request {
    get(token, format!("/api/v1/device/records/{record_id}"))
}

/// `None` when the server has no version of the record yet.
pub fn read_record(resp: &Response) -> Result<Option<Vec<RecordStatus>>, ClientError> {
    if resp.status == 404 {
        return Ok(None);
    }
    if !resp.is_success() {
        return Err(error_of(resp));
    }
    json_of(resp).map(Some)
}

/// An authenticated GET of any path (a task, the feed).
pub fn get(token: &str, path: String) -> Request {
    Request {
        method: Method::Get,
        path,
        token: Some(token.to_owned()),
        headers: Vec::new(),
        body: Body::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn errors_are_read_from_the_servers_json() {
        let revoked = resp(
            401,
            r#"{"code":"device_revoked","message":"本设备已被注销"}"#,
        );
        assert_eq!(
            error_of(&revoked),
            ClientError::Revoked("本设备已被注销".into())
        );
        let other = resp(401, r#"{"code":"unauthorized","message":"需要登录"}"#);
        assert!(matches!(
            error_of(&other),
            ClientError::Server { status: 401, .. }
        ));
        let proxy = resp(502, "<html>Bad Gateway</html>");
        let e = error_of(&proxy);
        assert!(e.is_transient());
        assert!(e.to_string().contains("Bad Gateway"), "{e}");
        assert!(!ClientError::Revoked(String::new()).is_transient());
    }

    #[test]
    fn a_push_answer_is_read_on_409_and_422_too() {
        let body = r#"{"results":[],"next_index":4,"missing_blobs":[]}"#;
        for status in [200, 409, 422] {
            assert_eq!(read_push(&resp(status, body)).unwrap().next_index, 4);
        }
        assert!(matches!(
            read_push(&resp(500, r#"{"code":"internal","message":"x"}"#)),
            Err(ClientError::Server { status: 500, .. })
        ));
        assert!(matches!(
            read_push(&resp(200, "not json")),
            Err(ClientError::Decode(_))
        ));
    }

    #[test]
    fn requests_carry_what_the_server_reads() {
        let sha = Sha256Hex::of(b"photo");
        let r = blob_patch("tok", &sha, 5, 2, b"oto".to_vec(), &Sha256Hex::of(b"oto"));
        assert_eq!(r.method, Method::Patch);
        assert_eq!(r.path, format!("/api/v1/device/blobs/{sha}"));
        assert_eq!(r.token.as_deref(), Some("tok"));
        assert!(r.headers.contains(&("upload-offset", "2".into())));
        assert!(r.headers.contains(&("upload-length", "5".into())));
        assert!(r.headers.contains(&(
            "upload-checksum",
            format!("sha256 {}", Sha256Hex::of(b"oto"))
        )));
        assert_eq!(pull("t", 7).path, "/api/v1/device/pull?cursor=7");
        let Body::Json(b) = enrol(" ABCD-EFGH ", "平板").body else {
            panic!("json")
        };
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["code"], "ABCD-EFGH");
        let head = Response {
            status: 200,
            headers: vec![
                ("Upload-Offset".into(), "42".into()),
                ("upload-complete".into(), "1".into()),
            ],
            body: vec![],
        };
        assert_eq!(
            read_blob(&head),
            BlobReply {
                status: 200,
                offset: Some(42),
                complete: true
            }
        );
    }
}
