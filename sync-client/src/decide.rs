//! The device's sync decisions, as pure functions over values: what a push
//! answer confirms, how one blob's upload proceeds, how long to wait after
//! a failure. Nothing here does I/O, reads a clock or draws a random
//! number, so every decision is tested with plain values and replayed
//! exactly inside a simulation.

use std::time::Duration;

use choucha_shared::sync::{EntryVerdict, PushResponse};

use crate::wire::{BlobReply, ClientError};

/// What a push answer means for the device's log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushReading {
    /// Indices the server took (stored, had already, or took and refused):
    /// mark them confirmed, never send them again.
    pub confirmed: Vec<u64>,
    /// The server holds every entry below this index: an answer lost on
    /// the way back is recovered by confirming up to here.
    pub confirmed_below: u64,
    /// Entries the server took but whose payload it refused (a record that
    /// does not match its task…), with its words: kept for the user to see;
    /// sync goes on past them.
    pub needs_user: Vec<(u64, String)>,
    /// Entries not taken (a broken chain, an ID already used): with the
    /// server's words; a person must look at them before sync goes on.
    pub refused: Vec<(u64, String)>,
    /// Whether to send the next batch: nothing was refused and the server
    /// moved past the first entry sent (else the rest would only be
    /// refused or gapped in turn).
    pub go_on: bool,
}

/// Reads the answer to a push whose first entry had index `first_sent`.
pub fn read_push(answer: &PushResponse, first_sent: u64) -> PushReading {
    let mut r = PushReading {
        confirmed_below: answer.next_index,
        ..Default::default()
    };
    for e in &answer.results {
        match &e.verdict {
            v if v.is_confirmed() => r.confirmed.push(e.index),
            // Taken, not applied: done with it, and its user must know.
            EntryVerdict::Refused { message } => {
                r.confirmed.push(e.index);
                r.needs_user.push((e.index, message.clone()));
            }
            EntryVerdict::Conflict { message } | EntryVerdict::Rejected { message } => {
                r.refused.push((e.index, message.clone()));
            }
            _ => {}
        }
    }
    let progressed = !r.confirmed.is_empty() || answer.next_index > first_sent;
    r.go_on = r.refused.is_empty() && progressed;
    r
}

/// What to do next for one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStep {
    /// Ask where the upload stands (HEAD).
    Ask,
    /// Send bytes `offset..end` (PATCH).
    Send { offset: u64, end: u64 },
    /// The server holds the whole blob, verified.
    Done,
}

/// One blob's resumable upload (tus-like, `docs/sync.md`). A blob never
/// sent starts at offset 0 without asking: one round trip less per photo on
/// a slow link. One sent before may be partly (or wholly) on the server:
/// it asks first. A 409 carries the server's offset, which wins over ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    total: u64,
    chunk: u64,
    offset: u64,
    step: UploadStep,
    /// Bytes the server accepted in this run.
    pub sent: u64,
}

impl Upload {
    /// `started`: some chunk of this blob may have been sent before.
    pub fn new(total: u64, chunk: usize, started: bool) -> Self {
        let chunk = chunk.max(1) as u64;
        let mut u = Self {
            total,
            chunk,
            offset: 0,
            step: UploadStep::Ask,
            sent: 0,
        };
        if !started {
            u.step = u.send_from(0);
        }
        u
    }

    fn send_from(&self, offset: u64) -> UploadStep {
        UploadStep::Send {
            offset,
            end: offset.saturating_add(self.chunk).min(self.total),
        }
    }

    pub fn next(&self) -> UploadStep {
        self.step
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads the answer to the step just taken.
    pub fn on_reply(&mut self, reply: &BlobReply) -> Result<UploadStep, UploadRefused> {
        let ok = (200..300).contains(&reply.status);
        if let (UploadStep::Send { offset, end }, true) = (self.step, ok) {
            self.sent += end - offset;
        }
        self.step = match (self.step, ok) {
            (UploadStep::Done, _) => UploadStep::Done,
            (_, true) if reply.complete => UploadStep::Done,
            (UploadStep::Ask, true) => {
                self.offset = reply.offset.unwrap_or(0).min(self.total);
                self.send_from(self.offset)
            }
            (UploadStep::Send { end, .. }, true) => {
                // The server's offset is the truth; ours only if it is silent.
                self.offset = reply.offset.unwrap_or(end).min(self.total);
                self.send_from(self.offset)
            }
            (UploadStep::Send { .. }, false) if reply.status == 409 && reply.offset.is_some() => {
                // Our idea of the offset was stale (an earlier answer lost):
                // continue from the server's.
                self.offset = reply.offset.unwrap_or(0).min(self.total);
                self.send_from(self.offset)
            }
            (_, false) => {
                return Err(UploadRefused {
                    status: reply.status,
                    offset: self.offset,
                });
            }
        };
        Ok(self.step)
    }
}

/// The server refused a blob step; the transport's response tells why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRefused {
    pub status: u16,
    pub offset: u64,
}

/// How long to wait before the next attempt after `failures` failures in
/// a row: 1 s, 2 s, 4 s … up to 256 s, plus `jitter` (0.0–1.0, drawn by
/// the caller) times half of that, so a room of tablets regaining signal
/// does not retry in lock-step.
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let base = 1000u64
        .saturating_mul(1 << failures.clamp(1, 9).saturating_sub(1))
        .min(300_000);
    let extra = (base as f64 / 2.0 * jitter.clamp(0.0, 1.0)) as u64;
    Duration::from_millis(base + extra)
}

/// Whether a failed sync should be retried by itself (no signal, server
/// busy) or stop and tell the user (revoked, refused, unreadable).
pub fn retry_later(e: &ClientError) -> bool {
    e.is_transient()
}

#[cfg(test)]
mod tests {
    use super::*;
    use choucha_shared::sync::EntryResult;

    fn answer(results: &[(u64, EntryVerdict)], next_index: u64) -> PushResponse {
        PushResponse {
            results: results
                .iter()
                .map(|(index, verdict)| EntryResult {
                    index: *index,
                    entry_id: uuid::Uuid::nil(),
                    verdict: verdict.clone(),
                })
                .collect(),
            next_index,
            missing_blobs: Vec::new(),
        }
    }

    #[test]
    fn a_push_answer_says_what_to_confirm_and_whether_to_go_on() {
        let r = read_push(
            &answer(
                &[(1, EntryVerdict::Stored), (2, EntryVerdict::Duplicate)],
                3,
            ),
            1,
        );
        assert_eq!(r.confirmed, vec![1, 2]);
        assert_eq!(r.confirmed_below, 3);
        assert!(r.go_on);

        // A payload refused but taken into the log: confirmed, kept for
        // the user, and sync goes on with what follows.
        let r = read_push(
            &answer(
                &[
                    (
                        3,
                        EntryVerdict::Refused {
                            message: "记录与任务不符".into(),
                        },
                    ),
                    (4, EntryVerdict::Stored),
                ],
                5,
            ),
            3,
        );
        assert_eq!(r.confirmed, vec![3, 4]);
        assert_eq!(r.needs_user, vec![(3, "记录与任务不符".to_owned())]);
        assert!(r.refused.is_empty());
        assert!(r.go_on);

        // An entry not taken stops the run and is kept for the user.
        let r = read_push(
            &answer(
                &[
                    (3, EntryVerdict::Stored),
                    (
                        4,
                        EntryVerdict::Rejected {
                            message: "不是本人的任务".into(),
                        },
                    ),
                ],
                4,
            ),
            3,
        );
        assert_eq!(r.confirmed, vec![3]);
        assert_eq!(r.refused, vec![(4, "不是本人的任务".to_owned())]);
        assert!(!r.go_on);

        // An answer lost on the way back: the server already has 5..=7.
        let r = read_push(
            &answer(&[(8, EntryVerdict::Gap { expected_index: 8 })], 8),
            5,
        );
        assert!(r.confirmed.is_empty());
        assert_eq!(r.confirmed_below, 8);
        assert!(r.go_on, "the server moved on");

        // A gap the server does not move past: stop instead of looping.
        let r = read_push(
            &answer(&[(9, EntryVerdict::Gap { expected_index: 7 })], 7),
            9,
        );
        assert!(!r.go_on);
    }

    fn ok(offset: u64, complete: bool) -> BlobReply {
        BlobReply {
            status: 200,
            offset: Some(offset),
            complete,
        }
    }

    #[test]
    fn a_new_blob_goes_straight_to_offset_zero_in_chunks() {
        let mut u = Upload::new(10, 4, false);
        assert_eq!(u.next(), UploadStep::Send { offset: 0, end: 4 });
        assert_eq!(
            u.on_reply(&ok(4, false)),
            Ok(UploadStep::Send { offset: 4, end: 8 })
        );
        assert_eq!(
            u.on_reply(&ok(8, false)),
            Ok(UploadStep::Send { offset: 8, end: 10 })
        );
        assert_eq!(u.on_reply(&ok(10, true)), Ok(UploadStep::Done));
        assert_eq!(u.sent, 10);
    }

    #[test]
    fn a_started_blob_asks_first_and_resumes_where_the_server_is() {
        let mut u = Upload::new(10, 4, true);
        assert_eq!(u.next(), UploadStep::Ask);
        assert_eq!(
            u.on_reply(&ok(6, false)),
            Ok(UploadStep::Send { offset: 6, end: 10 })
        );
        assert_eq!(u.on_reply(&ok(10, true)), Ok(UploadStep::Done));
        assert_eq!(u.sent, 4, "only the missing bytes are sent");

        let mut whole = Upload::new(10, 4, true);
        assert_eq!(whole.on_reply(&ok(10, true)), Ok(UploadStep::Done));
        assert_eq!(whole.sent, 0);
    }

    #[test]
    fn a_stale_offset_is_corrected_by_the_servers_409() {
        let mut u = Upload::new(10, 4, false);
        let conflict = BlobReply {
            status: 409,
            offset: Some(8),
            complete: false,
        };
        assert_eq!(
            u.on_reply(&conflict),
            Ok(UploadStep::Send { offset: 8, end: 10 })
        );
        assert_eq!(u.sent, 0);
        // A refusal without an offset (bad checksum, too large) is an error.
        let refused = BlobReply {
            status: 413,
            offset: None,
            complete: false,
        };
        assert_eq!(
            u.on_reply(&refused),
            Err(UploadRefused {
                status: 413,
                offset: 8
            })
        );
    }

    #[test]
    fn an_empty_blob_is_one_empty_patch() {
        let mut u = Upload::new(0, 4, false);
        assert_eq!(u.next(), UploadStep::Send { offset: 0, end: 0 });
        assert_eq!(u.on_reply(&ok(0, true)), Ok(UploadStep::Done));
    }

    #[test]
    fn backoff_doubles_to_a_cap_with_the_given_jitter() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(4, 1.0), Duration::from_millis(8000 + 4000));
        assert_eq!(backoff(30, 0.0), Duration::from_secs(256));
        assert_eq!(
            backoff(u32::MAX, 1.0),
            Duration::from_millis(256_000 + 128_000)
        );
        assert_eq!(backoff(0, 0.0), Duration::from_secs(1), "no zero wait");
    }
}
