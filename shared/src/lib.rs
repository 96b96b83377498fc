//! Choucha's shared domain: the types and rules that the sync server and the
//! field app must agree on byte for byte.
//!
//! The crate is pure (no I/O, no clock, no randomness) so that it compiles
//! for `wasm32-unknown-unknown` (the Yew front end) as well as the host, and
//! so that every rule here can be tested without a database or a network.
//!
//! * [`value`] — validated newtypes (USCC, credential numbers, coordinates,
//!   names, dates): once a value has one of these types it is known good.
//! * [`category`] — the six inspection-target categories.
//! * [`directory`] — targets, officers, experts and recusal pairs (名录库).
//! * [`pad`] — a signature pad's strokes, as captured.
//! * [`plan`] — draw plans, draw results and tasks (双随机).
//! * [`draw`], [`draw_v2`] — the verifiable draw, algorithm versions 1 and
//!   2 (per-risk quotas, assigned and excluded targets, seat replacement).
//! * [`checklist`] — the checklist schema and its validating loader.
//! * [`record`] — inspection records, photos, signatures, findings.
//! * [`outcome`] — what became of a task: the walk-through, or a target that
//!   could not be inspected (无法联系, 未发现经营活动, 已关闭退出, 不配合).
//! * [`completeness`] — the rules a record must satisfy before sealing.
//! * [`conclusion`] — the conclusion (检查结论) the verdicts lead to under
//!   the checklist's rules.
//! * [`recheck`] — 复查: the follow-up visit of a rectification order, its
//!   task and record and their sealing rules.
//! * [`review`] — review states and published result categories (一公开).
//! * [`calendar`] — working days and the 20-working-day publication deadline.

pub mod calendar;
pub mod category;
pub mod checklist;
pub mod completeness;
pub mod conclusion;
pub mod consult;
pub mod directory;
pub mod draw;
pub mod draw_v2;
pub mod escalation;
pub mod followup;
pub mod outcome;
pub mod pad;
mod par;
pub mod plan;
pub mod recheck;
pub mod record;
pub mod review;
pub mod sync;
pub mod value;

pub use category::TargetCategory;
pub use value::{
    CccCertificateNo, CivilDate, CredentialNo, GeoPoint, Name, Sha256Hex, StandardNo, Uscc,
    ValueError,
};

/// A stored or sent code that names no variant of the enum it should be
/// (a review state, a disposition kind, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}'")]
pub struct UnknownCode {
    pub kind: &'static str,
    pub value: String,
}

impl UnknownCode {
    /// The variant of `all` whose code is `s`.
    pub fn find<T: Copy>(
        kind: &'static str,
        s: &str,
        all: impl IntoIterator<Item = T>,
        code: impl Fn(T) -> &'static str,
    ) -> Result<T, Self> {
        all.into_iter().find(|v| code(*v) == s).ok_or_else(|| Self {
            kind,
            value: s.to_owned(),
        })
    }
}

/// Version of every serialised structure that is stored or crosses the wire.
///
/// Each such structure carries a `format` field; a reader refuses a format it
/// does not know instead of guessing (see [`check_format`]).
pub const FORMAT_VERSION: u16 = 1;

/// Error for a stored or received structure written in a format this build
/// does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported format version {found} for {what}; this build reads version {FORMAT_VERSION}")]
pub struct FormatError {
    pub what: &'static str,
    pub found: u16,
}

/// Refuse a format version other than [`FORMAT_VERSION`].
pub fn check_format(what: &'static str, found: u16) -> Result<(), FormatError> {
    if found == FORMAT_VERSION {
        Ok(())
    } else {
        Err(FormatError { what, found })
    }
}

pub(crate) fn default_format() -> u16 {
    FORMAT_VERSION
}
