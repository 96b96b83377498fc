//! The API contract: an OpenAPI 3.1 document written from the handlers'
//! own `#[utoipa::path]` attributes and served at `/api/openapi.json`.
//!
//! Every API route is mounted through `utoipa_axum`'s router from the same
//! attribute that documents it, so a documented path is a mounted path by
//! construction; the route test (`tests/tests/openapi_contract.rs`) checks
//! the other direction and that every operation answers. This module adds
//! what is the same for every operation: who may call it (the bearer
//! scheme of its group) and the error answer `{code, message, details}`.

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// Where the document is served (public, like the API's own root).
pub const DOCUMENT_PATH: &str = "/api/openapi.json";

/// The bearer scheme of the quality section's API tokens.
pub const ADMIN_TOKEN: &str = "admin_token";
/// The bearer scheme of an enrolled tablet's device token.
pub const DEVICE_TOKEN: &str = "device_token";
/// The bearer scheme of a metrics scraper's token (`metrics_token`).
pub const METRICS_TOKEN: &str = "metrics_token";

/// The body of every error answer the API gives.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`, `bad_request`,
    /// `token_expired`, `quota_exceeded`.
    pub code: String,
    /// What went wrong, in Chinese first (English in brackets where given).
    pub message: String,
    /// Particulars: the field, the row, the limit, the offset; `null` when
    /// there are none.
    pub details: serde_json::Value,
}

/// Marks every operation collected so far in `router` as needing the bearer
/// token of `scheme`.
pub fn secured(mut router: OpenApiRouter<AppState>, scheme: &str) -> OpenApiRouter<AppState> {
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        for op in operations(item) {
            op.security = Some(vec![SecurityRequirement::new::<_, _, &str>(scheme, [])]);
        }
    }
    router
}

/// The finished document: title, version, the two bearer schemes and the
/// error answer on every operation, paths in OpenAPI's template form.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "Choucha 双随机抽查 API".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "The quality section's REST API (admin token) and the tablets' sync API \
         (device token). Every error answers {code, message, details}."
            .into(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    for name in [ADMIN_TOKEN, DEVICE_TOKEN, METRICS_TOKEN] {
        components.add_security_scheme(
            name,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
    components
        .schemas
        .insert("ErrorBody".into(), ErrorBody::schema());
    // The document itself, served beside the routes it describes.
    let itself = OperationBuilder::new()
        .tag("public")
        .summary(Some("This document"))
        .response(
            "200",
            ResponseBuilder::new()
                .description("The API contract, OpenAPI 3.1")
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(serde_json::Value::schema()))
                        .build(),
                ),
        )
        .build();
    doc.paths
        .paths
        .insert(DOCUMENT_PATH.into(), PathItem::new(HttpMethod::Get, itself));
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, mut item) in paths {
        for op in operations(&mut item) {
            with_error_answers(op);
        }
        doc.paths.paths.insert(openapi_path(&path), item);
    }
    doc
}

/// An axum route pattern in OpenAPI's form: axum's catch-all `{*key}` is
/// the parameter `{key}` (its value may contain `/`).
pub fn openapi_path(axum_path: &str) -> String {
    axum_path.replace("{*", "{")
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Every operation can fail with a client error or a server error, each in
/// the one error format; a handler documents its particular ones itself.
fn with_error_answers(op: &mut Operation) {
    for (range, what) in [
        ("4XX", "The request was refused: see code and message"),
        ("5XX", "The server failed; nothing was half done"),
    ] {
        op.responses
            .responses
            .entry(range.into())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(what)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build(),
                )
            });
    }
}

/// The handler that serves the finished document, serialised once.
pub fn serve(
    doc: &OpenApi,
) -> impl Fn() -> std::future::Ready<axum::response::Response> + Clone + use<> {
    let json = axum::body::Bytes::from(
        doc.to_json()
            .expect("an OpenAPI document always serialises"),
    );
    move || {
        std::future::ready(
            ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        )
    }
}
