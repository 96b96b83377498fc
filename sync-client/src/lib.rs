//! The device's side of the sync protocol (`docs/sync.md`), written once
//! for the field app, the test device and the load generator.
//!
//! # Design: sans-IO
//!
//! The protocol's decisions are pure functions over value types, with no
//! socket, clock or random number inside:
//!
//! * [`wire`] builds every request as a [`wire::Request`] value and reads
//!   every answer from a [`wire::Response`] value (status, headers, body),
//!   including which errors mean "revoked", "try again" or "refused";
//! * [`decide`] reads a push answer into what to confirm and whether to go
//!   on ([`decide::read_push`]), runs one blob's resumable upload as a state
//!   machine ([`decide::Upload`]: HEAD or not, which offset, which chunk,
//!   what a 409 means), and computes the retry backoff from an injected
//!   jitter ([`decide::backoff`]).
//!
//! I/O is a [`Transport`]: one method that carries a request and returns
//! the response. [`http::HttpTransport`] is the reqwest one; a deterministic
//! simulation supplies its own, with its own clock and faults, and runs the
//! very same decisions. [`Client`] ties the two: typed calls (`pull`,
//! `push`, `upload`, …) that build with `wire`, send through the transport
//! and decide with `decide`.

pub mod decide;
#[cfg(feature = "reqwest")]
pub mod http;
pub mod wire;

mod client;

pub use client::{Client, UploadOutcome};
pub use wire::{ClientError, Request, Response};

use std::future::Future;

/// Carries one request to the server and brings back its response. An
/// `Err` means no response arrived (connection refused or cut, timeout);
/// any HTTP status, even 500, is an `Ok` response for the core to read.
pub trait Transport {
    fn send(&self, request: Request) -> impl Future<Output = Result<Response, String>> + Send;
}
