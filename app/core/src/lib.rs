//! The field app's engine, with no Tauri dependency so it runs and is tested
//! headless. The Tauri shell only exposes these functions as commands.
//!
//! * [`app`] — the facade: enrolment, tasks, the inspection workflow.
//! * [`store`] — the encrypted offline store (rusqlite + SQLCipher).
//! * [`evidence`] — encrypted evidence files named by SHA-256.
//! * [`keys`] — the device key kept outside the data directory.
//! * [`recheck`] — 复查: the follow-up visit of a rectification order.
//! * [`sync`] — the sync client (pull, push, resumable uploads).

pub mod app;
pub mod capture;
pub mod consult;
pub mod error;
pub mod escalation;
pub mod evidence;
pub mod keys;
pub mod location;
pub mod photo;
pub mod recheck;
pub mod rectification;
pub mod signature;
pub mod store;
pub mod sync;
pub mod testkit;
pub mod vault;

pub use app::{App, Enrolment, PhotoMeta, TaskStatus, TaskSummary};
pub use error::CoreError;
