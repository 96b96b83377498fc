//! The Choucha sync server as a library, so tests and benchmarks can build
//! the same router the binary serves.

pub mod error;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use choucha_checklists::{Catalogue, LoadError};
use choucha_shared::checklist::{Checklist, ChecklistRef};

use crate::error::ApiError;

/// Shared, read-mostly state of a running server.
#[derive(Debug, Clone)]
pub struct AppState {
    checklists: Arc<Catalogue>,
}

impl AppState {
    pub fn new() -> Result<Self, LoadError> {
        Ok(Self {
            checklists: Arc::new(Catalogue::embedded()?),
        })
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/checklists", get(list_checklists))
        .route("/api/v1/checklists/{id}/{version}", get(get_checklist))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(state)
}

#[derive(Serialize)]
struct ChecklistSummary {
    id: String,
    version: u32,
    category: &'static str,
    title: String,
    items: usize,
    fingerprint: String,
}

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

async fn get_checklist(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, u32)>,
) -> Result<Json<Checklist>, ApiError> {
    let reference = ChecklistRef { id, version };
    state
        .checklists
        .get(&reference)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("checklist {reference} does not exist")))
}
