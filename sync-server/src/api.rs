//! REST API routes. Everything under `/api/v1` needs an admin bearer token
//! except `/api/v1/public/*`, `/api/v1/checklists*` and `/healthz`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use choucha_shared::checklist::{Checklist, ChecklistRef};
use choucha_shared::plan::DrawPlan;
use choucha_shared::value::china_minute_of;

use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::import::FileFormat;
use crate::openapi;
use crate::service::{self, Actor};
use crate::store::{ImportMode, PlanRecord, TokenState, VerifyOutcome};

/// Largest directory file accepted (a million-row CSV is about 150 MB).
pub const MAX_IMPORT_BYTES: usize = 512 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let admin = OpenApiRouter::new()
        .routes(routes!(list_jurisdictions, add_jurisdictions))
        .routes(routes!(import_file))
        .routes(routes!(create_plan))
        .routes(routes!(get_plan))
        .routes(routes!(import_assigned))
        .routes(routes!(freeze_plan))
        .routes(routes!(run_draw))
        .routes(routes!(get_draw))
        .routes(routes!(replace_seat))
        .routes(routes!(get_target))
        .merge(crate::device_api::admin_routes())
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    let admin = openapi::secured(admin, openapi::ADMIN_TOKEN);
    let public = OpenApiRouter::new()
        .routes(routes!(healthz))
        // Checks its own token (admin or the scraper's), see `observe`.
        .routes(routes!(crate::observe::metrics_endpoint))
        .routes(routes!(list_checklists))
        .routes(routes!(get_checklist))
        .routes(routes!(public_plan))
        .routes(routes!(verify_draw))
        .merge(crate::device_api::public_routes());
    let (api, doc) = admin
        .merge(public)
        .merge(crate::device_api::device_routes(state.clone()))
        .merge(crate::device_api::blob_routes(state.clone()))
        .split_for_parts();
    let doc = openapi::finish(doc);
    api.route(openapi::DOCUMENT_PATH, get(openapi::serve(&doc)))
        .route("/console/assets/console.js", get(console_js))
        .merge(crate::console::router(state.clone()))
        .fallback(|| async { ApiError::NoSuchEndpoint })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::security_headers::add,
        ))
        .layer(middleware::from_fn(crate::observe::observe_request))
        .with_state(state)
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = String, content_type = "text/plain"))
)]
async fn healthz() -> &'static str {
    "ok"
}

/// The console's only script (the content security policy allows no
/// inline one): printing, confirmations, refused forms restored.
async fn console_js() -> Response {
    const JS: &str = include_str!("console/console.js");
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
        .into_response()
}

async fn require_admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token = bearer(request.headers());
    match admin_actor(&state, token).await {
        Ok(actor) => {
            // Every change this request makes is audited under the token
            // that authenticated it, never a name it sends.
            let mut request = request;
            request.extensions_mut().insert(actor);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default()
}

/// The actor an admin token stands for, or why it stands for no one: a
/// token that expired or was revoked says so, so its holder knows to ask
/// for a new one.
pub(crate) async fn admin_actor(state: &AppState, token: &str) -> Result<Actor, ApiError> {
    if token.is_empty() {
        return Err(ApiError::Unauthorized);
    }
    let found = state
        .store
        .admin_token(token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    match found.state() {
        TokenState::Active => Ok(found.actor()),
        TokenState::Expired => Err(ApiError::TokenExpired(china_minute_of(Some(
            &found.expires_at,
        )))),
        TokenState::Revoked => Err(ApiError::TokenRevoked(china_minute_of(
            found.revoked_at.as_deref(),
        ))),
    }
}

#[derive(Serialize, ToSchema)]
struct ChecklistSummary {
    id: String,
    version: u32,
    #[schema(value_type = String)]
    category: &'static str,
    title: String,
    items: usize,
    fingerprint: String,
}

#[utoipa::path(get, path = "/api/v1/checklists", tag = "checklists",
    responses((status = 200, description = "Every checklist the server knows", body = Vec<ChecklistSummary>))
)]
async fn list_checklists(State(state): State<AppState>) -> Json<Vec<ChecklistSummary>> {
    Json(
        state
            .checklists
            .all()
            .map(|c| ChecklistSummary {
                id: c.id.clone(),
                version: c.version,
                category: c.category.code(),
                title: c.title.clone(),
                items: c.items().count(),
                fingerprint: c.fingerprint(),
            })
            .collect(),
    )
}

/// A checklist's address (named, so a bad value's error names its part).
#[derive(Deserialize)]
struct ChecklistPath {
    id: String,
    version: u32,
}

#[utoipa::path(get, path = "/api/v1/checklists/{id}/{version}", tag = "checklists",
    params(("id" = String, Path, description = "Checklist ID"), ("version" = u32, Path, description = "Checklist version")),
    responses((status = 200, description = "The checklist, item by item", body = Checklist))
)]
async fn get_checklist(
    State(state): State<AppState>,
    ApiPath(ChecklistPath { id, version }): ApiPath<ChecklistPath>,
) -> Result<Json<Checklist>, ApiError> {
    let reference = ChecklistRef { id, version };
    state
        .checklists
        .get(&reference)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("checklist {reference} does not exist")))
}

#[derive(Deserialize, Serialize, ToSchema)]
struct Jurisdictions {
    /// Town names (镇街), each a name on one line.
    #[schema(value_type = Vec<choucha_shared::Name>)]
    names: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/jurisdictions", tag = "directory",
    responses((status = 200, description = "The towns (镇街) plans and targets may name", body = Jurisdictions))
)]
async fn list_jurisdictions(
    State(state): State<AppState>,
) -> Result<Json<Jurisdictions>, ApiError> {
    Ok(Json(Jurisdictions {
        names: state.store.jurisdictions().await?.into_iter().collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/jurisdictions", tag = "directory",
    request_body = Jurisdictions,
    responses((status = 200, description = "All towns, the new ones added", body = Jurisdictions))
)]
async fn add_jurisdictions(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Jurisdictions>,
) -> Result<Json<Jurisdictions>, ApiError> {
    if let Some(bad) = body
        .names
        .iter()
        .find(|n| choucha_shared::Name::parse(n).is_err())
    {
        return Err(ApiError::bad_request(format!("镇街名称无效：'{bad}'")));
    }
    state.store.add_jurisdictions(&body.names).await?;
    list_jurisdictions(State(state)).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// `csv` or `xlsx`; when absent, taken from `file_name`'s extension,
    /// or else from the file's first bytes.
    #[param(pattern = "^(csv|xlsx)$")]
    format: Option<String>,
    /// The file's name, for its format and the audit.
    #[param(pattern = "^([^.]*|.*[.][cC][sS][vV]|.*[.][xX][lL][sS][xX])$")]
    file_name: Option<String>,
    /// Import the good rows even when some are bad.
    #[serde(default)]
    partial: bool,
    /// `full`: the file is the whole target directory; targets it lacks
    /// are marked 不在最新名录. `partial`: the good rows even when some are
    /// bad. `all` (the default): all rows or none.
    #[serde(default)]
    #[param(pattern = "^(full|partial|all)$")]
    mode: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/import/{kind}", tag = "directory",
    params(("kind" = String, Path, description = "The directory: a target category code (e.g. `testing_body`), `officers` or `experts`"), ImportParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The CSV or XLSX file"),
    responses(
        (status = 200, description = "Imported; the summary of rows", body = crate::store::ImportSummary),
        (status = 422, description = "Not imported: every bad row, by row and column", body = crate::store::ImportSummary)
    )
)]
async fn import_file(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(kind): ApiPath<String>,
    ApiQuery(params): ApiQuery<ImportParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let kind = service::directory::parse_kind(&kind)?;
    let format = file_format(params.format.as_deref(), params.file_name.as_deref(), &body)?;
    let file_name = params.file_name.clone().unwrap_or_else(|| "upload".into());
    let mode = match params.mode.as_deref() {
        Some("full") if params.partial => {
            return Err(ApiError::bad_request(
                "完整名录导入不能与 partial 同用：有错误行时无法判断哪些对象不在名录中",
            ));
        }
        Some("full") => ImportMode::Full,
        Some("partial") => ImportMode::Partial,
        None | Some("all") if params.partial => ImportMode::Partial,
        None | Some("all") => ImportMode::AllOrNothing,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "不支持的导入方式 mode='{other}'（full / partial / all）"
            )));
        }
    };
    let summary = service::directory::import_file(
        &state.store,
        &actor,
        kind,
        &body,
        format,
        mode,
        &file_name,
    )
    .await?;
    let status = if summary.imported {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(summary)).into_response())
}

/// A file's format from `format=`, else its name's extension, else (a file
/// sent without a name) its first bytes. A name with another extension
/// (`.xls`, `.txt`) is refused rather than guessed at.
fn file_format(
    format: Option<&str>,
    file_name: Option<&str>,
    body: &[u8],
) -> Result<FileFormat, ApiError> {
    match (format, file_name) {
        (Some("csv"), _) => Ok(FileFormat::Csv),
        (Some("xlsx"), _) => Ok(FileFormat::Xlsx),
        (Some(other), _) => Err(ApiError::bad_request(format!(
            "不支持的文件格式 '{other}'，请上传 csv 或 xlsx (format)"
        ))),
        (None, Some(name)) if name.contains('.') => {
            FileFormat::from_file_name(name).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "不支持的文件类型 '{name}'：请上传 .csv 或 .xlsx 文件（旧版 .xls 请先另存为 .xlsx）(file_name)"
                ))
            })
        }
        (None, _) => Ok(FileFormat::sniff(body)),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AssignedParams {
    /// `csv` or `xlsx`; when absent, taken from `file_name`'s extension,
    /// or else from the file's first bytes.
    #[param(pattern = "^(csv|xlsx)$")]
    format: Option<String>,
    /// The file's name, for its format and the audit.
    #[param(pattern = "^([^.]*|.*[.][cC][sS][vV]|.*[.][xX][lL][sS][xX])$")]
    file_name: Option<String>,
    /// The list the whole file is, for rows without 来源.
    source: Option<String>,
}

/// Uploads an upstream list (CSV or XLSX) as a version-2 plan's assigned
/// targets; every bad row is reported and nothing saved.
#[utoipa::path(post, path = "/api/v1/plans/{id}/assigned", tag = "draws",
    params(("id" = String, Path, description = "Plan ID (version 2)"), AssignedParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The upstream list, CSV or XLSX"),
    responses((status = 200, description = "The plan with its assigned targets", body = PlanRecord))
)]
async fn import_assigned(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(plan_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<AssignedParams>,
    body: Bytes,
) -> Result<Json<PlanRecord>, ApiError> {
    let format = file_format(params.format.as_deref(), params.file_name.as_deref(), &body)?;
    let file_name = params.file_name.clone().unwrap_or_else(|| "upload".into());
    Ok(Json(
        service::draws::import_assigned(
            &state.store,
            &actor,
            &plan_id,
            &body,
            format,
            &file_name,
            params.source.as_deref(),
        )
        .await?,
    ))
}

/// Replaces one officer's seat on a task of a version-2 draw.
#[utoipa::path(post, path = "/api/v1/draws/{id}/replacements", tag = "draws",
    params(("id" = String, Path, description = "Draw ID (version 2)")),
    request_body(content = service::draws::ReplaceRequest, description = "The task, the officer to replace and why"),
    responses((status = 200, description = "The replacement, drawn", body = choucha_shared::plan::SeatReplacement))
)]
async fn replace_seat(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(draw_id): ApiPath<String>,
    ApiJson(req): ApiJson<service::draws::ReplaceRequest>,
) -> Result<Response, ApiError> {
    let r = service::draws::replace_seat(&state.store, &actor, &draw_id, req).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

#[utoipa::path(post, path = "/api/v1/plans", tag = "draws",
    request_body(content = choucha_shared::plan::DrawPlan, description = "The draw plan (抽查计划): strata, quotas, team rules"),
    responses((status = 201, description = "The plan, not yet frozen", body = PlanRecord))
)]
async fn create_plan(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(plan): ApiJson<DrawPlan>,
) -> Result<(StatusCode, Json<PlanRecord>), ApiError> {
    service::draws::create_plan(&state.store, &actor, &plan).await?;
    Ok((
        StatusCode::CREATED,
        Json(state.store.plan(&plan.plan_id).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "draws",
    params(("id" = String, Path, description = "Plan ID")),
    responses((status = 200, description = "The plan with its candidate counts and state", body = PlanRecord))
)]
async fn get_plan(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PlanRecord>, ApiError> {
    Ok(Json(state.store.plan(&id).await?))
}

#[utoipa::path(post, path = "/api/v1/plans/{id}/freeze", tag = "draws",
    params(("id" = String, Path, description = "Plan ID")),
    responses((status = 200, description = "Frozen: the snapshot hash is fixed before any seed", body = PlanRecord))
)]
async fn freeze_plan(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PlanRecord>, ApiError> {
    Ok(Json(
        service::draws::freeze_plan(&state.store, &actor, &id).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/plans/{id}/draws", tag = "draws",
    params(("id" = String, Path, description = "Plan ID (frozen)")),
    request_body(content = service::draws::DrawRequest, description = "The public seed and who entered it"),
    responses((status = 201, description = "The draw: every task and team", body = choucha_shared::plan::DrawResult))
)]
async fn run_draw(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(plan_id): ApiPath<String>,
    ApiJson(req): ApiJson<service::draws::DrawRequest>,
) -> Result<Response, ApiError> {
    let result = service::draws::run_draw(&state.store, &actor, &plan_id, req, |c| {
        state.checklist_for(c)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(result)).into_response())
}

#[utoipa::path(get, path = "/api/v1/draws/{id}", tag = "draws",
    params(("id" = String, Path, description = "Draw ID")),
    responses((status = 200, description = "The draw record", body = choucha_shared::plan::DrawResult))
)]
async fn get_draw(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.store.draw(&id).await?).into_response())
}

/// What the public may see of a plan: enough to check a draw's inputs were
/// fixed before the seed.
#[derive(Serialize, ToSchema)]
struct PublicPlan {
    plan_id: String,
    title: String,
    algorithm: u16,
    strata: Vec<PublicStratum>,
    frozen_at: Option<String>,
    snapshot_hash: Option<String>,
    /// Once frozen: each (sub-)stratum's N and k as the draw sees them.
    sub_strata: Vec<crate::store::SubStratumSize>,
    /// Version 2, once frozen: the targets upstream lists assign, with
    /// their lists, and the targets left out as recently inspected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    assigned: Vec<choucha_shared::draw_v2::Assigned>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    excluded: Vec<choucha_shared::draw_v2::Excluded>,
}

#[derive(Serialize, ToSchema)]
struct PublicStratum {
    id: String,
    #[schema(value_type = String)]
    category: &'static str,
    candidates: usize,
}

#[utoipa::path(get, path = "/api/v1/public/plans/{id}", tag = "public",
    params(("id" = String, Path, description = "Plan ID")),
    responses((status = 200, description = "What the public may see of a plan", body = PublicPlan))
)]
async fn public_plan(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PublicPlan>, ApiError> {
    let r = state.store.plan(&id).await?;
    let (assigned, excluded) = if r.frozen_at.is_some() {
        state.store.assigned_and_excluded(&id).await?
    } else {
        Default::default()
    };
    Ok(Json(PublicPlan {
        algorithm: r.plan.algorithm,
        sub_strata: r.sub_strata,
        assigned,
        excluded,
        plan_id: r.plan.plan_id,
        title: r.plan.title,
        strata: r
            .plan
            .strata
            .iter()
            .zip(&r.candidates_per_stratum)
            .map(|(s, n)| PublicStratum {
                id: s.id.clone(),
                category: s.category.code(),
                candidates: *n,
            })
            .collect(),
        frozen_at: r.frozen_at,
        snapshot_hash: r.snapshot_hash,
    }))
}

#[utoipa::path(get, path = "/api/v1/public/draws/{id}/verify", tag = "public",
    params(("id" = String, Path, description = "Draw ID")),
    responses((status = 200, description = "The draw re-run from its published inputs, compared", body = VerifyOutcome))
)]
async fn verify_draw(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<VerifyOutcome>, ApiError> {
    Ok(Json(state.store.verify_draw(&id).await?))
}

#[derive(Serialize, ToSchema)]
struct TargetWithHistory {
    version: i64,
    target: choucha_shared::directory::Target,
    /// Replaced versions, oldest first.
    history: Vec<HistoricTarget>,
}

#[derive(Serialize, ToSchema)]
struct HistoricTarget {
    version: i64,
    target: choucha_shared::directory::Target,
}

/// A target's address.
#[derive(Deserialize)]
struct TargetPath {
    category: String,
    key: String,
}

/// A target's current version and every version it replaced. The key is a
/// wildcard because standard numbers contain '/'.
#[utoipa::path(get, path = "/api/v1/targets/{category}/{*key}", tag = "directory",
    params(
        ("category" = String, Path, description = "Target category code"),
        ("key" = String, Path, description = "USCC, or a standard's number (may contain '/')")
    ),
    responses((status = 200, description = "The target's current version and the versions it replaced", body = TargetWithHistory))
)]
async fn get_target(
    State(state): State<AppState>,
    ApiPath(TargetPath { category, key }): ApiPath<TargetPath>,
) -> Result<Json<TargetWithHistory>, ApiError> {
    let (version, target) = state
        .store
        .target(&category, &key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("名录库中没有 {category} / {key}")))?;
    let history = state
        .store
        .target_history(&category, &key)
        .await?
        .into_iter()
        .map(|(version, target)| HistoricTarget { version, target })
        .collect();
    Ok(Json(TargetWithHistory {
        version,
        target,
        history,
    }))
}
