//! A simulated field device for protocol tests and the load generator: it
//! keeps its own append-only log, pushes what the server has not confirmed,
//! and builds complete inspection records for the tasks it pulls.
//!
//! Independent of the app core's store, but speaking through the same
//! sync client (`choucha-sync-client`), so the tests exercise the client the
//! tablets run; the low-level calls (a chunk with a wrong checksum, a batch
//! out of order) stay available for fault tests.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use choucha_shared::checklist::{Checklist, Evidence, Verdict};
use choucha_shared::plan::MemberRole;
use choucha_shared::record::{
    InspectionRecord, ItemEntry, Photo, PhotoSubject, Signature, SignerRole,
};
use choucha_shared::sync::{
    EnrolResponse, EntryPayload, LogEntry, PullResponse, PushResponse, TaskBundle,
};
use choucha_shared::value::{CivilDate, GeoPoint, Sha256Hex};
use choucha_sync_client::Client;
use choucha_sync_client::http::{HttpTransport, Retrying};

/// The device's side of the protocol: the shared sync client over HTTP,
/// resending a request whose answer never came (as a tablet does).
pub type DeviceClient = Client<Retrying<HttpTransport>>;

fn transport(client: &reqwest::Client, base: &str) -> Retrying<HttpTransport> {
    Retrying::new(
        HttpTransport::new(client.clone(), base),
        3,
        std::time::Duration::from_millis(50),
    )
}

/// Enrols a device for `officer_id` with an admin token.
pub async fn enrol(
    client: &reqwest::Client,
    base: &str,
    admin_token: &str,
    officer_id: &str,
) -> anyhow::Result<SimDevice> {
    let code: Value = client
        .post(format!("{base}/api/v1/enrolments"))
        .bearer_auth(admin_token)
        .json(&json!({ "officer_id": officer_id }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let code = code["enrolment"]["code"].as_str().context("no code")?;
    let t = transport(client, base);
    let e = DeviceClient::enrol(&t, code, &format!("平板-{officer_id}"))
        .await
        .map_err(|e| anyhow::anyhow!("enrol failed: {e}"))?;
    Ok(SimDevice {
        sync: Client::new(t, &e.token),
        base: base.to_owned(),
        enrolment: e,
        log: Vec::new(),
        confirmed: 0,
        cursor: 0,
    })
}

#[derive(Debug, Clone)]
pub struct SimDevice {
    /// The protocol client every call goes through.
    pub sync: DeviceClient,
    pub base: String,
    pub enrolment: EnrolResponse,
    /// The device's own log, index i+1 at position i.
    pub log: Vec<LogEntry>,
    /// Highest index the server confirmed.
    pub confirmed: u64,
    pub cursor: i64,
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl SimDevice {
    /// The same device's protocol client over another HTTP client (its own
    /// connections, driven by whichever runtime uses them).
    pub fn client_over(&self, http: &reqwest::Client) -> DeviceClient {
        Client::new(transport(http, &self.base), self.sync.token())
    }

    pub fn officer(&self) -> &str {
        &self.enrolment.officer_id
    }

    /// Appends an entry to the local log (not yet sent).
    pub fn append(&mut self, payload: EntryPayload, at: DateTime<Utc>) -> &LogEntry {
        let index = self.log.len() as u64 + 1;
        let prev = self.log.last().map(|e| e.hash.clone());
        self.log
            .push(LogEntry::new(Uuid::now_v7(), index, prev, at, payload));
        self.log.last().expect("just pushed")
    }

    /// Pulls the whole feed.
    pub async fn pull_all(
        &mut self,
    ) -> anyhow::Result<(Vec<TaskBundle>, Vec<Checklist>, Vec<Value>)> {
        let mut tasks = Vec::new();
        let mut checklists = Vec::new();
        let mut others = Vec::new();
        loop {
            let p: PullResponse = self
                .sync
                .pull(self.cursor)
                .await
                .map_err(|e| anyhow::anyhow!("pull failed: {e}"))?;
            for item in p.items {
                match item {
                    choucha_shared::sync::FeedItem::TaskAssigned { bundle } => tasks.push(*bundle),
                    other => others.push(serde_json::to_value(other)?),
                }
            }
            checklists.extend(p.checklists);
            self.cursor = p.cursor;
            if !p.more {
                return Ok((tasks, checklists, others));
            }
        }
    }

    /// Pulls the feed and returns one assigned task with its checklist.
    pub async fn pull_task(&mut self, task_id: &str) -> anyhow::Result<(TaskBundle, Checklist)> {
        let (tasks, checklists, _) = self.pull_all().await?;
        let bundle = tasks
            .into_iter()
            .find(|t| t.task.task_id == task_id)
            .context("task not in the feed")?;
        let checklist = checklists
            .into_iter()
            .find(|c| c.reference() == bundle.task.checklist)
            .context("the task's checklist not in the feed")?;
        Ok((bundle, checklist))
    }

    /// Sends `entries` as one batch; returns the status and the answer.
    ///
    /// A request that dies in transit (a stale keep-alive connection to a
    /// restarted server, a cut) is simply sent again: pushing is idempotent.
    pub async fn push_entries(
        &self,
        entries: &[LogEntry],
    ) -> anyhow::Result<(StatusCode, PushResponse)> {
        let (code, body) = self
            .sync
            .push(entries)
            .await
            .map_err(|e| anyhow::anyhow!("push: {e}"))?;
        Ok((status(code), body))
    }

    /// Pushes every unconfirmed entry and advances `confirmed`.
    pub async fn sync_log(&mut self) -> anyhow::Result<PushResponse> {
        let pending: Vec<LogEntry> = self.log[self.confirmed as usize..].to_vec();
        let (_, resp) = self.push_entries(&pending).await?;
        for r in &resp.results {
            if r.verdict.is_settled() && r.index == self.confirmed + 1 {
                self.confirmed = r.index;
            }
        }
        // The server says where it is: trust it over our bookkeeping.
        self.confirmed = self
            .confirmed
            .max(resp.next_index.saturating_sub(1))
            .min(self.log.len() as u64);
        Ok(resp)
    }
}

impl SimDevice {
    /// HEAD: the server's durable offset for a blob of `total` bytes.
    pub async fn blob_offset(
        &self,
        sha: &Sha256Hex,
        total: usize,
    ) -> anyhow::Result<(StatusCode, u64, bool)> {
        let r = self
            .sync
            .blob_head(sha, total as u64)
            .await
            .map_err(|e| anyhow::anyhow!("HEAD {sha}: {e}"))?;
        Ok((status(r.status), r.offset.unwrap_or(0), r.complete))
    }

    /// PATCH one chunk at `offset`; returns the status and the JSON answer.
    pub async fn blob_chunk(
        &self,
        sha: &Sha256Hex,
        total: usize,
        offset: usize,
        chunk: &[u8],
        checksum: &Sha256Hex,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let (reply, resp) = self
            .sync
            .blob_patch(sha, total as u64, offset as u64, chunk.to_vec(), checksum)
            .await
            .map_err(|e| anyhow::anyhow!("PATCH {sha}: {e}"))?;
        Ok((
            status(reply.status),
            serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
        ))
    }

    /// Uploads a blob from wherever the server says it stands, in chunks;
    /// `max_chunks` stops early (a cut). Returns whether it completed.
    pub async fn upload_blob(
        &self,
        bytes: &[u8],
        chunk: usize,
        max_chunks: usize,
    ) -> anyhow::Result<bool> {
        let sha = Sha256Hex::of(bytes);
        // Asks first (HEAD), then at most `max_chunks` chunks.
        let outcome = self
            .sync
            .upload(&sha, bytes, chunk, true, max_chunks.saturating_add(1))
            .await
            .map_err(|e| anyhow::anyhow!("upload {sha}: {e}"))?;
        Ok(outcome.complete)
    }
}

/// Deterministic fake evidence bytes (the server stores blobs as given).
pub fn blob_bytes(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut block = Sha256Hex::of(seed.as_bytes()).to_string().into_bytes();
    while out.len() < len {
        block = Sha256Hex::of(&block).to_string().into_bytes();
        out.extend_from_slice(&block);
    }
    out.truncate(len);
    out
}

/// A complete record for a pulled task: every item passes, photos where
/// required, gate and process photos, every team member and the enterprise
/// sign. Returns the record and the blobs it names.
pub fn complete_record(
    bundle: &TaskBundle,
    checklist: &Checklist,
    photo_len: usize,
    extra_photos: usize,
) -> (InspectionRecord, Vec<(Sha256Hex, Vec<u8>)>) {
    let now = Utc::now();
    let mut blobs = Vec::new();
    let task = &bundle.task;
    let gps = bundle
        .target
        .location
        .or_else(|| GeoPoint::new(29.6, 106.3, Some(5.0)).ok());
    let photo = |subject: PhotoSubject, n: usize, blobs: &mut Vec<(Sha256Hex, Vec<u8>)>| {
        let bytes = blob_bytes(&format!("{}-{n}", task.task_id), photo_len);
        let sha = Sha256Hex::of(&bytes);
        blobs.push((sha.clone(), bytes));
        Photo {
            sha256: sha,
            subject,
            taken_at: now - Duration::minutes(1) + Duration::milliseconds(n as i64),
            gps,
            gps_time: None,
            bytes: photo_len as u64,
            width: 2048,
            height: 1536,
        }
    };
    let mut record = InspectionRecord {
        format: 1,
        record_id: Uuid::now_v7(),
        task_id: task.task_id.clone(),
        target: task.target.clone(),
        target_name: bundle.target.name.to_string(),
        category: task.category,
        checklist: checklist.reference(),
        team: task.team.clone(),
        started_at: now - Duration::minutes(2),
        inspection_date: CivilDate::new(now.date_naive()).expect("current date"),
        items: Default::default(),
        photos: Vec::new(),
        findings: Vec::new(),
        signatures: Vec::new(),
        refusal: None,
        outcome: Default::default(),
    };
    let mut n = 0;
    if task.category.is_on_site() {
        record.photos.push(photo(PhotoSubject::Gate, n, &mut blobs));
        n += 1;
        record
            .photos
            .push(photo(PhotoSubject::Process, n, &mut blobs));
        n += 1;
    }
    for item in checklist.items() {
        let scale = checklist.allowed_verdicts(item);
        let verdict = if scale.contains(&Verdict::Conform) {
            Verdict::Conform
        } else {
            Verdict::Pass
        };
        record.items.insert(
            item.id.clone(),
            ItemEntry {
                verdict: Some(verdict),
                note: None,
            },
        );
        if item.evidence.contains(&Evidence::Photo) {
            record
                .photos
                .push(photo(PhotoSubject::Item(item.id.clone()), n, &mut blobs));
            n += 1;
        }
    }
    for _ in 0..extra_photos {
        record
            .photos
            .push(photo(PhotoSubject::Process, n, &mut blobs));
        n += 1;
    }
    sign(&mut record, &mut blobs);
    (record, blobs)
}

/// (Re-)signs a record by every team member and the enterprise.
pub fn sign(record: &mut InspectionRecord, blobs: &mut Vec<(Sha256Hex, Vec<u8>)>) {
    let hash = record.content_hash();
    let mut sigs = Vec::new();
    let mut signers: Vec<(SignerRole, Option<String>, String)> = record
        .team
        .iter()
        .map(|m| {
            let role = if m.role == MemberRole::Officer {
                SignerRole::Officer
            } else {
                SignerRole::Expert
            };
            (role, Some(m.person_id.clone()), m.name.clone())
        })
        .collect();
    if record.category.is_on_site() {
        signers.push((
            SignerRole::EnterpriseRepresentative,
            None,
            "企业负责人".into(),
        ));
    }
    for (role, id, name) in signers {
        let bytes = blob_bytes(&format!("sig-{}-{name}-{hash}", record.record_id), 6_000);
        let sha = Sha256Hex::of(&bytes);
        blobs.push((sha.clone(), bytes));
        sigs.push(Signature {
            role,
            person_id: id,
            name,
            image_sha256: sha,
            signed_at: Utc::now(),
            content_hash: hash.clone(),
        });
    }
    record.signatures = sigs;
}
