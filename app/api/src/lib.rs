//! The contract between the field app's Tauri shell and its Yew front end.
//!
//! Both sides depend on this crate, so a command's name, its arguments and
//! the shape of its answer cannot drift apart: each command is a type
//! implementing [`Command`], which the shell's handler and the front end's
//! invoke are both written against. Domain types
//! (records, checklists, violations) come from `choucha-shared`; the types
//! here are the *views* the screens need, assembled by the shell from the
//! app core.
//!
//! Pure serde and no I/O, so it builds for `wasm32-unknown-unknown`.

pub mod command;
pub mod enrol;
pub mod views;

pub use command::{Command, cmd};
pub use enrol::{EnrolTarget, QrError, parse_qr};
pub use views::*;
