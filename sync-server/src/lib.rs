//! The Choucha sync server as a library, so tests and benchmarks can build
//! the same router the binary serves.
//!
//! * [`store`] — the database (SQLite or PostgreSQL) behind one interface.
//! * [`import`] — reading directory files (CSV/XLSX, UTF-8/GBK).
//! * [`api`] — the REST API: directories, plans, draws, verification.

pub mod api;
pub mod cli;
pub mod demo;
pub mod error;
pub mod import;
pub mod store;

use std::sync::Arc;

use choucha_checklists::Catalogue;
use choucha_shared::TargetCategory;
use choucha_shared::checklist::ChecklistRef;
use choucha_shared::value::CivilDate;

pub use api::router;
use store::Store;

/// Shared state of a running server.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub checklists: Arc<Catalogue>,
}

impl AppState {
    pub fn new(store: Store) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            checklists: Arc::new(Catalogue::embedded()?),
        })
    }

    /// The checklist version new tasks of `category` use today.
    pub fn checklist_for(&self, category: TargetCategory) -> Option<ChecklistRef> {
        let today = CivilDate::new(chrono::Utc::now().date_naive()).ok()?;
        self.checklists
            .current(category, today)
            .map(|c| c.reference())
    }
}
