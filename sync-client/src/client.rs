//! Typed device calls: each builds its request with [`crate::wire`],
//! sends it through the [`Transport`], and reads the answer.

use uuid::Uuid;

use choucha_shared::sync::{EnrolResponse, LogEntry, PullResponse, PushResponse, RecordStatus};
use choucha_shared::value::Sha256Hex;

use crate::Transport;
use crate::decide::{Upload, UploadStep};
use crate::wire::{self, BlobReply, ClientError, Request, Response};

/// A device's connection to its server: a transport and, once enrolled,
/// the device token.
#[derive(Debug, Clone)]
pub struct Client<T> {
    transport: T,
    token: String,
}

/// How one blob's upload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadOutcome {
    /// The server holds the whole blob, verified.
    pub complete: bool,
    /// Bytes the server accepted in this run.
    pub sent: u64,
}

impl<T: Transport> Client<T> {
    /// A client for an enrolled device.
    pub fn new(transport: T, token: impl Into<String>) -> Self {
        Self {
            transport,
            token: token.into(),
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Sends any request; `Err` only when no answer arrived.
    pub async fn send(&self, request: Request) -> Result<Response, ClientError> {
        self.transport
            .send(request)
            .await
            .map_err(ClientError::Network)
    }

    /// Exchanges a one-time code (no token needed yet).
    pub async fn enrol(
        transport: &T,
        code: &str,
        device_name: &str,
    ) -> Result<EnrolResponse, ClientError> {
        let resp = transport
            .send(wire::enrol(code, device_name))
            .await
            .map_err(ClientError::Network)?;
        wire::read_enrol(&resp)
    }

    pub async fn pull(&self, cursor: i64) -> Result<PullResponse, ClientError> {
        wire::read_pull(&self.send(wire::pull(&self.token, cursor)).await?)
    }

    /// Pushes one batch; 409/422 answers still come back as results.
    pub async fn push(&self, entries: &[LogEntry]) -> Result<(u16, PushResponse), ClientError> {
        let resp = self.send(wire::push(&self.token, entries)).await?;
        Ok((resp.status, wire::read_push(&resp)?))
    }

    /// Where the upload of a blob stands (HEAD).
    pub async fn blob_head(&self, sha: &Sha256Hex, total: u64) -> Result<BlobReply, ClientError> {
        let resp = self.send(wire::blob_head(&self.token, sha, total)).await?;
        Ok(wire::read_blob(&resp))
    }

    /// One chunk at `offset` with the given checksum; the raw answer too,
    /// for callers that look at its body.
    pub async fn blob_patch(
        &self,
        sha: &Sha256Hex,
        total: u64,
        offset: u64,
        chunk: Vec<u8>,
        checksum: &Sha256Hex,
    ) -> Result<(BlobReply, Response), ClientError> {
        let resp = self
            .send(wire::blob_patch(
                &self.token,
                sha,
                total,
                offset,
                chunk,
                checksum,
            ))
            .await?;
        Ok((wire::read_blob(&resp), resp))
    }

    /// Uploads `bytes` (whose SHA-256 is `sha`) in chunks of `chunk` bytes,
    /// from wherever the server stands, as [`Upload`] decides; stops after
    /// `max_steps` requests (a simulated cut) with `complete: false`.
    pub async fn upload(
        &self,
        sha: &Sha256Hex,
        bytes: &[u8],
        chunk: usize,
        started: bool,
        max_steps: usize,
    ) -> Result<UploadOutcome, ClientError> {
        let total = bytes.len() as u64;
        let mut up = Upload::new(total, chunk, started);
        for _ in 0..max_steps {
            let (reply, resp) = match up.next() {
                UploadStep::Done => break,
                UploadStep::Ask => {
                    let resp = self.send(wire::blob_head(&self.token, sha, total)).await?;
                    (wire::read_blob(&resp), resp)
                }
                UploadStep::Send { offset, end } => {
                    let piece = bytes[offset as usize..end as usize].to_vec();
                    let checksum = Sha256Hex::of(&piece);
                    self.blob_patch(sha, total, offset, piece, &checksum)
                        .await?
                }
            };
            if up.on_reply(&reply).is_err() {
                return Err(wire::error_of(&resp));
            }
        }
        Ok(UploadOutcome {
            complete: up.next() == UploadStep::Done,
            sent: up.sent,
        })
    }

    /// The versions the server holds of a record (`None`: not pushed yet).
    pub async fn record(&self, record_id: &Uuid) -> Result<Option<Vec<RecordStatus>>, ClientError> {
        wire::read_record(&self.send(wire::record(&self.token, record_id)).await?)
    }
}
