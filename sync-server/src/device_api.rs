//! The device side of the API: enrolment, pull, push, task lookup, record
//! status, evidence upload. Devices authenticate with the bearer token they
//! got at enrolment; a revoked token gets 401 on every call.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use choucha_shared::sync::{
    EnrolRequest, EnrolResponse, EntryVerdict, PullResponse, PushRequest, PushResponse,
};
use choucha_shared::value::Sha256Hex;

use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::openapi;
use crate::service::{self, Actor};
use crate::store::DeviceCtx;

/// Largest push batch body: a full record with many photos' metadata is a
/// few hundred KB; this leaves room for batches of many entries.
const MAX_PUSH_BYTES: usize = crate::error::DEFAULT_JSON_LIMIT as usize;

/// Routes a device calls with its token.
pub fn device_routes(state: AppState) -> OpenApiRouter<AppState> {
    // Pull authenticates itself: its token check is part of its one query.
    let pull_route = OpenApiRouter::new().routes(routes!(pull));
    let routes = OpenApiRouter::new()
        .routes(routes!(push))
        .routes(routes!(task))
        .routes(routes!(device_record))
        .routes(routes!(answer_attachment))
        .layer(DefaultBodyLimit::max(MAX_PUSH_BYTES))
        .route_layer(middleware::from_fn_with_state(state, require_device))
        .merge(pull_route);
    openapi::secured(routes, openapi::DEVICE_TOKEN)
}

/// Routes for supervisors (admin token): enrolment codes, revocation,
/// record review actions.
pub fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_enrolment))
        .routes(routes!(revoke))
        .routes(routes!(device_log))
        .routes(routes!(admin_record))
        .routes(routes!(return_record))
        .routes(routes!(approve_record))
}

/// Public: exchanging a one-time code needs no token.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(enrol))
}

async fn require_device(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer_token(request.headers()) else {
        return ApiError::Unauthorized.into_response();
    };
    match state.store.device_by_token(&token).await {
        Ok(Some(ctx)) => {
            request.extensions_mut().insert(ctx);
            next.run(request).await
        }
        Ok(None) => refused_token(&state, &token).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The bearer token of a request, if it has a non-empty one (read as the
/// admin API reads it, `crate::api::bearer`).
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let token = crate::api::bearer(headers);
    (!token.is_empty()).then(|| token.to_owned())
}

/// The answer to a token no unrevoked device holds: a revoked device is
/// told so (and wipes itself), anything else is unauthorised.
async fn refused_token(state: &AppState, token: &str) -> Response {
    match state.store.token_revoked(token).await {
        Ok(true) => ApiError::DeviceRevoked.into_response(),
        Ok(false) => ApiError::Unauthorized.into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize, ToSchema)]
struct EnrolmentRequest {
    /// The officer's credential number (执法证号).
    #[schema(min_length = 1)]
    officer_id: String,
    /// Minutes the code stays valid, 1 to 72 hours; default one day.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4320)]
    valid_minutes: Option<i64>,
}

/// A new enrolment code and what the QR code shows.
#[derive(Debug, Serialize, ToSchema)]
struct EnrolmentAnswer {
    enrolment: crate::store::EnrolmentCode,
    /// `choucha://enrol?server=…&code=…[&ca=…]`: the app scans it and needs
    /// nothing typed.
    qr_payload: String,
    /// The bureau's CA the tablet will trust alone, when the server has one.
    ca_pem: Option<String>,
}

/// One entry of a device's log as the server holds it.
#[derive(Debug, Serialize, ToSchema)]
struct LoggedEntry {
    index: i64,
    entry_id: String,
    hash: String,
}

type DeviceLog = Vec<LoggedEntry>;

#[utoipa::path(post, path = "/api/v1/enrolments", tag = "devices",
    request_body = EnrolmentRequest,
    responses((status = 201, description = "A one-time enrolment code and the QR payload", body = EnrolmentAnswer))
)]
async fn create_enrolment(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    ApiJson(req): ApiJson<EnrolmentRequest>,
) -> Result<Response, ApiError> {
    let code = service::devices::create_enrolment(
        &state.store,
        &actor,
        &req.officer_id,
        req.valid_minutes,
    )
    .await?;
    // What the QR code shows: the app scans it and needs nothing typed;
    // with the bureau's own CA, which the tablet will trust alone.
    let mut qr = format!(
        "choucha://enrol?server={}&code={}",
        state.public_base(&headers, &uri),
        code.code
    );
    if let Some(ca) = &state.ca_pem {
        qr.push_str("&ca=");
        qr.push_str(&percent_encode(ca));
    }
    Ok((
        StatusCode::CREATED,
        Json(EnrolmentAnswer {
            enrolment: code,
            qr_payload: qr,
            ca_pem: state.ca_pem.as_deref().cloned(),
        }),
    )
        .into_response())
}

/// Every byte but the unreserved ones as `%XX` (a query value).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[utoipa::path(post, path = "/api/v1/devices/{device_id}/revoke", tag = "devices",
    params(("device_id" = String, Path, description = "Device ID")),
    responses((status = 204, description = "Revoked: its token is refused on every instance from now"))
)]
async fn revoke(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(device_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    service::devices::revoke(&state.store, &actor, &device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the server holds of a device's log, for audit and for checking
/// that nothing was lost or duplicated.
#[utoipa::path(get, path = "/api/v1/devices/{device_id}/log", tag = "devices",
    params(("device_id" = String, Path, description = "Device ID")),
    responses((status = 200, description = "The device's log as the server holds it: index, entry ID, hash", body = DeviceLog))
)]
async fn device_log(
    State(state): State<AppState>,
    ApiPath(device_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let rows = state.store.device_log(&device_id).await?;
    let entries: DeviceLog = rows
        .into_iter()
        .map(|(index, entry_id, hash)| LoggedEntry {
            index,
            entry_id,
            hash,
        })
        .collect();
    Ok(Json(entries).into_response())
}

#[utoipa::path(post, path = "/api/v1/device/enrol", tag = "device",
    request_body(content = EnrolRequest, description = "The one-time code and the device's name"),
    responses((status = 201, description = "The device's ID and token", body = EnrolResponse))
)]
async fn enrol(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<EnrolRequest>,
) -> Result<Response, ApiError> {
    if req.device_name.trim().is_empty() {
        return Err(ApiError::bad_request("请填写设备名称 (device_name)"));
    }
    let client = state.client_of(connect.map(|c| c.0.0), &headers);
    let resp = service::devices::enrol(&state.store, &req.code, &req.device_name, &client).await?;
    Ok((StatusCode::CREATED, Json(resp)).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PullParams {
    /// The cursor the last pull returned (0 at first).
    #[serde(default)]
    cursor: i64,
    /// Items per page, 1–500 (default 100).
    #[serde(default)]
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/device/pull", tag = "device",
    params(PullParams),
    responses((status = 200, description = "A page of the officer's feed after the cursor", body = PullResponse))
)]
async fn pull(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<PullParams>,
) -> Result<Response, ApiError> {
    let Some(token) = bearer_token(&headers) else {
        return Err(ApiError::Unauthorized);
    };
    let limit = p.limit.unwrap_or(100).clamp(1, 500);
    match state
        .store
        .pull_by_token(&token, p.cursor, limit, &state.checklists)
        .await?
    {
        Some(pulled) => {
            if pulled.from_memory {
                crate::observe::metrics().pulls_from_memory.inc();
            }
            Ok(Json(pulled.page).into_response())
        }
        None => Ok(refused_token(&state, &token).await),
    }
}

#[utoipa::path(post, path = "/api/v1/device/push", tag = "device",
    request_body(content = PushRequest, description = "Log entries, in order"),
    responses(
        (status = 200, description = "Every entry stored (or already held)", body = PushResponse),
        (status = 409, description = "Some entries wait for earlier ones: resend from the first unsettled", body = PushResponse),
        (status = 422, description = "Some entries refused, each with its reason", body = PushResponse)
    )
)]
async fn push(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceCtx>,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Response, ApiError> {
    let resp = service::sync::push(&state.store, &device, &req.entries, &state.checklists).await?;
    let status = if resp
        .results
        .iter()
        .any(|r| matches!(r.verdict, EntryVerdict::Rejected { .. }))
    {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if resp.results.iter().any(|r| !r.verdict.is_settled()) {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok((status, Json(resp)).into_response())
}

#[utoipa::path(get, path = "/api/v1/device/tasks/{task_id}", tag = "device",
    params(("task_id" = String, Path, description = "Task ID")),
    responses((status = 200, description = "The task, if the device's officer is on its team", body = choucha_shared::sync::TaskBundle))
)]
async fn task(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceCtx>,
    ApiPath(task_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(Json(
        state
            .store
            .task_for_officer(&task_id, &device.officer_id)
            .await?,
    )
    .into_response())
}

#[utoipa::path(get, path = "/api/v1/device/records/{record_id}", tag = "device",
    params(("record_id" = uuid::Uuid, Path, description = "Record ID")),
    responses((status = 200, description = "The status of each version", body = Vec<choucha_shared::sync::RecordStatus>))
)]
async fn device_record(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceCtx>,
    ApiPath(record_id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let versions = state.store.record_versions(&record_id).await?;
    let Some(first) = versions.first() else {
        return Err(ApiError::NotFound(format!("记录 {record_id} 不存在")));
    };
    // Only the team's officers may see a record's status.
    state
        .store
        .task_for_officer(&first.task_id, &device.officer_id)
        .await?;
    let statuses: Vec<_> = versions.into_iter().map(|v| v.status).collect();
    Ok(Json(statuses).into_response())
}

/// An answer attachment's address.
#[derive(Deserialize)]
struct AttachmentPath {
    question_id: Uuid,
    sha256: String,
}

/// An image the quality section sent with its answer, for the device of
/// the officer who asked (404 for anyone else, as for an unknown one).
#[utoipa::path(get, path = "/api/v1/device/questions/{question_id}/attachments/{sha256}", tag = "device",
    params(("question_id" = uuid::Uuid, Path, description = "Question ID"), ("sha256" = String, Path, description = "SHA-256 of the attachment")),
    responses((status = 200, description = "The image the quality section attached to its answer", body = Vec<u8>, content_type = "application/octet-stream"))
)]
async fn answer_attachment(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceCtx>,
    ApiPath(AttachmentPath {
        question_id,
        sha256: sha,
    }): ApiPath<AttachmentPath>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::NotFound(format!("附件 {sha} 不存在"));
    let sha = Sha256Hex::parse(&sha).map_err(|_| missing())?;
    let q = state.store.question(&question_id).await?;
    let attached = q
        .answer
        .as_ref()
        .is_some_and(|a| a.attachments.contains(&sha));
    if q.officer_id != device.officer_id || !attached {
        return Err(missing());
    }
    let bytes = state
        .uploads
        .store()
        .read_all(&sha)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading attachment {sha}: {e}")))?
        .ok_or_else(missing)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[utoipa::path(get, path = "/api/v1/records/{record_id}", tag = "review",
    params(("record_id" = uuid::Uuid, Path, description = "Record ID")),
    responses((status = 200, description = "Every version of the record", body = Vec<crate::store::StoredRecord>))
)]
async fn admin_record(
    State(state): State<AppState>,
    ApiPath(record_id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let versions = state.store.record_versions(&record_id).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("记录 {record_id} 不存在")));
    }
    Ok(Json(versions).into_response())
}

#[derive(Deserialize, ToSchema)]
struct ReturnRequest {
    /// The version being returned (its hash), so a newer one is not.
    #[schema(value_type = Sha256Hex)]
    version: Sha256Hex,
    /// Why, for the officers.
    comment: String,
    /// Comments on single items, by item ID.
    #[serde(default)]
    item_comments: BTreeMap<String, String>,
}

#[utoipa::path(post, path = "/api/v1/records/{record_id}/return", tag = "review",
    params(("record_id" = uuid::Uuid, Path, description = "Record ID")),
    request_body = ReturnRequest,
    responses((status = 200, description = "Returned to its officers for amendment", body = choucha_shared::sync::RecordReturn))
)]
async fn return_record(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(record_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<ReturnRequest>,
) -> Result<Response, ApiError> {
    let r = service::review::return_record(
        &state.store,
        &actor,
        &record_id,
        &req.version,
        &req.comment,
        req.item_comments,
    )
    .await?;
    Ok(Json(r).into_response())
}

#[derive(Deserialize, ToSchema)]
struct ApproveRequest {
    /// The version being approved (its hash).
    #[schema(value_type = Sha256Hex)]
    version: Sha256Hex,
}

#[utoipa::path(post, path = "/api/v1/records/{record_id}/approve", tag = "review",
    params(("record_id" = uuid::Uuid, Path, description = "Record ID")),
    request_body = ApproveRequest,
    responses((status = 204, description = "Approved"))
)]
async fn approve_record(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(record_id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<ApproveRequest>,
) -> Result<StatusCode, ApiError> {
    service::review::decide(
        &state.store,
        &actor,
        &record_id,
        &req.version,
        service::review::Decision::Approve,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Largest chunk of one PATCH. Clients send 1–4 MiB chunks on bad networks.
pub const MAX_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Evidence upload routes (device token), tus-like.
pub fn blob_routes(state: AppState) -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::new()
        .routes(routes!(blob_head, blob_state, blob_patch))
        .layer(DefaultBodyLimit::max(MAX_CHUNK_BYTES))
        .route_layer(middleware::from_fn_with_state(state, require_device));
    openapi::secured(routes, openapi::DEVICE_TOKEN)
}

fn header_u64(headers: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::bad_request(format!("缺少或无效的请求头 {name}（须为非负整数）")))
}

fn upload_error(e: crate::blobs::UploadError) -> Response {
    let status = e.http_status();
    let mut resp = (
        status,
        Json(openapi::ErrorBody {
            code: e.code().into(),
            message: e.to_string(),
            details: e.details(),
        }),
    )
        .into_response();
    if let Some(offset) = e.details().get("offset").and_then(Value::as_u64) {
        if let Ok(v) = offset.to_string().parse() {
            resp.headers_mut().insert("upload-offset", v);
        }
    }
    resp
}

use serde_json::Value;

fn state_response(state: &crate::blobs::UploadState, status: StatusCode) -> Response {
    let mut resp = (status, Json(state)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = state.offset().to_string().parse() {
        h.insert("upload-offset", v);
    }
    if state.is_complete() {
        h.insert(
            "upload-complete",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    resp
}

/// Registers a completed blob so records waiting for it become complete.
/// Also done when HEAD finds the blob stored, so a crash between storing and
/// registering heals on the next check.
async fn blob_query(state: &AppState, sha: &Sha256Hex, total: u64) -> Result<Response, ApiError> {
    Ok(blob_response(
        service::sync::blob_query(state, sha, total).await?,
    ))
}

fn blob_response(step: service::sync::BlobStep) -> Response {
    match step {
        service::sync::BlobStep::State(s) => state_response(&s, StatusCode::OK),
        service::sync::BlobStep::Refused(e) => upload_error(e),
    }
}

/// HEAD: how many bytes of this blob the server durably holds
/// (`Upload-Offset`), given its total size in `Upload-Length`.
#[utoipa::path(head, path = "/api/v1/device/blobs/{sha256}", tag = "evidence",
    params(("sha256" = String, Path, description = "SHA-256 of the whole blob"),
        ("upload-length" = u64, Header, description = "The blob's size in bytes")),
    responses((status = 200, description = "How many bytes the server durably holds, in Upload-Offset"))
)]
async fn blob_head(
    State(state): State<AppState>,
    ApiPath(sha): ApiPath<Sha256Hex>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let total = header_u64(&headers, "upload-length")?;
    blob_query(&state, &sha, total).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BlobStateQuery {
    /// The blob's size in bytes.
    total: u64,
}

/// The same as HEAD, as JSON, for clients that cannot read HEAD headers.
#[utoipa::path(get, path = "/api/v1/device/blobs/{sha256}", tag = "evidence",
    params(("sha256" = String, Path, description = "SHA-256 of the whole blob"), BlobStateQuery),
    responses((status = 200, description = "The upload's state, as HEAD gives it", body = crate::blobs::UploadState))
)]
async fn blob_state(
    State(state): State<AppState>,
    ApiPath(sha): ApiPath<Sha256Hex>,
    ApiQuery(q): ApiQuery<BlobStateQuery>,
) -> Result<Response, ApiError> {
    blob_query(&state, &sha, q.total).await
}

/// PATCH: a chunk at `Upload-Offset` of a blob of `Upload-Length` bytes,
/// with `Upload-Checksum: sha256 <hex>` over the chunk.
#[utoipa::path(patch, path = "/api/v1/device/blobs/{sha256}", tag = "evidence",
    params(("sha256" = String, Path, description = "SHA-256 of the whole blob"),
        ("upload-length" = u64, Header, description = "The blob's size in bytes"),
        ("upload-offset" = u64, Header, description = "Where this chunk starts"),
        ("upload-checksum" = String, Header, description = "`sha256 <hex>` of this chunk")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "One chunk (tus clients may send it as application/offset+octet-stream)"),
    responses((status = 200, description = "The chunk is durable; the new offset", body = crate::blobs::UploadState))
)]
async fn blob_patch(
    State(state): State<AppState>,
    Extension(device): Extension<DeviceCtx>,
    ApiPath(sha): ApiPath<Sha256Hex>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let chunk = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: MAX_CHUNK_BYTES as u64,
            }
        } else {
            ApiError::bad_request(format!("读取上传数据失败：{}", r.body_text()))
        }
    })?;
    let total = header_u64(&headers, "upload-length")?;
    let offset = header_u64(&headers, "upload-offset")?;
    let checksum = headers
        .get("upload-checksum")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("sha256 "))
        .and_then(|h| Sha256Hex::parse(h.trim()).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "缺少或无效的请求头 Upload-Checksum（格式：sha256 <64位十六进制>）",
            )
        })?;
    if offset == 0 {
        // A new upload: within the device's quota of unnamed evidence?
        service::evidence_gc::admit(&state, &device.device_id, &sha, total).await?;
    }
    Ok(blob_response(
        service::sync::blob_chunk(&state, &sha, total, offset, chunk, &checksum).await?,
    ))
}
