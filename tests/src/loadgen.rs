//! Sync load generator: many simulated devices each push one full
//! inspection at the same time, over real HTTP on loopback.
//!
//! Shared by the `choucha-loadgen` binary (against any running server) and
//! the `sync_load` bench (which starts a release server with the demo data).
//!
//! * [`setup`] (not timed) reads the draw, enrols the devices round-robin
//!   over the officers on its teams, lets each pull its tasks, gives each a
//!   task of its own where the draw has enough (a bipartite matching; the
//!   rest share an officer's task, which the server flags), and builds the
//!   record, the evidence and a log of [`LoadConfig::entries`] entries.
//! * [`run`] (timed) starts every device at once: push the log in batches,
//!   upload every blob in chunks (HEAD, then PATCH), then ask for the
//!   record's state until it is `received`. Meanwhile each device pulls its
//!   feed every [`LoadConfig::pull_every`], so pull latency is measured under
//!   the load. The clock stops when the last record is `received`.
//! * [`loopback_copy`] times a plain TCP loopback transfer of the same bytes
//!   into a file with fsync, the yardstick for blob throughput.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use choucha_shared::checklist::{Checklist, Evidence};
use choucha_shared::record::{InspectionRecord, ItemEntry};
use choucha_shared::review::ReviewState;
use choucha_shared::sync::{EntryPayload, RecordStatus, TaskBundle};
use choucha_shared::value::Sha256Hex;

use crate::device::{SimDevice, blob_bytes, complete_record, enrol, sign};
use choucha_sync_client::decide::{Upload, UploadStep};

/// What to generate.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Simulated devices, all started at once.
    pub devices: usize,
    /// Bytes per PATCH.
    pub chunk_bytes: usize,
    /// Size of one photo.
    pub photo_bytes: usize,
    /// Photos per record (gate + process + item photos, topped up with
    /// extra process photos).
    pub photos: usize,
    /// Log entries per device.
    pub entries: usize,
    /// Entries per push request.
    pub push_batch: usize,
    /// How often each device pulls its feed during the run (zero: never).
    pub pull_every: Duration,
    /// The draw whose tasks are inspected.
    pub draw_id: String,
    /// The whole run gives up after this long.
    pub timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            devices: 200,
            chunk_bytes: 1024 * 1024,
            photo_bytes: 400_000,
            photos: 12,
            entries: 60,
            push_batch: 20,
            pull_every: Duration::from_millis(500),
            draw_id: "GXQ-2023-ZBJR-D1".into(),
            timeout: Duration::from_secs(300),
        }
    }
}

/// A device ready to go: enrolled, its log built, its evidence in memory.
#[derive(Debug, Clone)]
pub struct PreparedDevice {
    pub device: SimDevice,
    pub record_id: Uuid,
    pub task_id: String,
    /// Photos first, then signature images.
    pub blobs: Arc<Vec<(Sha256Hex, Vec<u8>)>>,
    pub photos: usize,
    pub signatures: usize,
}

/// The result of [`setup`].
#[derive(Debug, Clone)]
pub struct Setup {
    pub devices: Vec<PreparedDevice>,
    /// Officers on the draw's teams (devices are spread over them).
    pub officers: usize,
    /// Tasks in the draw.
    pub tasks: usize,
    /// Distinct tasks inspected.
    pub distinct_tasks: usize,
    pub took: Duration,
}

impl Setup {
    /// Every blob of every device, in device order.
    pub fn blobs(&self) -> impl Iterator<Item = &[u8]> {
        self.devices
            .iter()
            .flat_map(|d| d.blobs.iter().map(|(_, b)| b.as_slice()))
    }

    pub fn blob_bytes(&self) -> u64 {
        self.blobs().map(|b| b.len() as u64).sum()
    }

    pub fn entries(&self) -> usize {
        self.devices.iter().map(|d| d.device.log.len()).sum()
    }
}

/// Runs `f` over `items` with at most `width` at a time, keeping order.
async fn in_waves<T, R, F, Fut>(items: Vec<T>, width: usize, f: F) -> anyhow::Result<Vec<R>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<R>> + Send + 'static,
{
    let mut out = Vec::with_capacity(items.len());
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let wave: Vec<_> = items
            .by_ref()
            .take(width)
            .map(|t| tokio::spawn(f(t)))
            .collect();
        for h in wave {
            out.push(h.await??);
        }
    }
    Ok(out)
}

/// Kuhn's augmenting paths: a task for as many devices as possible, each
/// task at most once. `candidates[d]` are the task indices device `d` may do.
fn match_tasks(candidates: &[Vec<usize>], tasks: usize) -> Vec<Option<usize>> {
    fn augment(
        d: usize,
        candidates: &[Vec<usize>],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for &t in &candidates[d] {
            if seen[t] {
                continue;
            }
            seen[t] = true;
            let free = match owner[t] {
                None => true,
                Some(other) => augment(other, candidates, owner, seen),
            };
            if free {
                owner[t] = Some(d);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; tasks];
    for d in 0..candidates.len() {
        let mut seen = vec![false; tasks];
        augment(d, candidates, &mut owner, &mut seen);
    }
    let mut assigned = vec![None; candidates.len()];
    for (t, d) in owner.iter().enumerate() {
        if let Some(d) = d {
            assigned[*d] = Some(t);
        }
    }
    assigned
}

/// Photos whose bytes are made from `salt` instead of the task ID, so two
/// devices inspecting the same task do not upload identical evidence; the
/// record is signed again over its new content.
fn distinct_evidence(
    record: &mut InspectionRecord,
    photo_bytes: usize,
    salt: &str,
) -> Vec<(Sha256Hex, Vec<u8>)> {
    let mut blobs = Vec::new();
    for (n, p) in record.photos.iter_mut().enumerate() {
        let bytes = blob_bytes(&format!("{salt}-{n}"), photo_bytes);
        p.sha256 = Sha256Hex::of(&bytes);
        blobs.push((p.sha256.clone(), bytes));
    }
    sign(record, &mut blobs);
    blobs
}

/// Photo items of a checklist plus the gate and process photos on site.
fn required_photos(bundle: &TaskBundle, checklist: &Checklist) -> usize {
    let on_site = if bundle.task.category.is_on_site() {
        2
    } else {
        0
    };
    on_site
        + checklist
            .items()
            .filter(|i| i.evidence.contains(&Evidence::Photo))
            .count()
}

/// Appends `entries` log entries for `record`: started, item verdicts
/// (every item once, then notes on items again until the count is reached,
/// or only the first items if the checklist is longer), one per photo, and
/// sealed.
fn build_log(dev: &mut SimDevice, record: &InspectionRecord, entries: usize) {
    let rid = record.record_id;
    let now = Utc::now;
    dev.append(
        EntryPayload::Started {
            record_id: rid,
            task_id: record.task_id.clone(),
            started_at: record.started_at,
        },
        now(),
    );
    let item_sets = entries.saturating_sub(2 + record.photos.len());
    let items: Vec<(&String, &ItemEntry)> = record.items.iter().collect();
    for k in 0..item_sets {
        let Some((id, entry)) = items.get(k % items.len().max(1)) else {
            break;
        };
        let mut entry = (*entry).clone();
        if k >= items.len() {
            entry.note = Some(format!("复核第 {} 次：现场情况与记录一致", k / items.len()));
        }
        dev.append(
            EntryPayload::ItemSet {
                record_id: rid,
                item_id: (*id).clone(),
                entry,
            },
            now(),
        );
    }
    for p in &record.photos {
        dev.append(
            EntryPayload::PhotoTaken {
                record_id: rid,
                photo: p.clone(),
            },
            now(),
        );
    }
    dev.append(
        EntryPayload::Sealed {
            record: record.clone(),
        },
        now(),
    );
}

/// The untimed part: enrol, pull, choose tasks, build records and logs.
pub async fn setup(
    client: &Client,
    base: &str,
    admin_token: &str,
    cfg: &LoadConfig,
) -> anyhow::Result<Setup> {
    let started = Instant::now();
    let draw: Value = client
        .get(format!("{base}/api/v1/draws/{}", cfg.draw_id))
        .bearer_auth(admin_token)
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("reading draw {}", cfg.draw_id))?
        .json()
        .await?;
    let draw_tasks = draw["tasks"].as_array().context("draw has no tasks")?;
    let mut officers: Vec<String> = Vec::new();
    for t in draw_tasks {
        for m in t["team"].as_array().into_iter().flatten() {
            if m["role"] == "officer" {
                if let Some(p) = m["person_id"].as_str() {
                    if !officers.iter().any(|o| o == p) {
                        officers.push(p.to_owned());
                    }
                }
            }
        }
    }
    if officers.is_empty() {
        bail!("draw {} names no officers", cfg.draw_id);
    }

    // Enrol, round-robin over the officers, 16 at a time.
    let plan: Vec<String> = (0..cfg.devices)
        .map(|i| officers[i % officers.len()].clone())
        .collect();
    let (c, b, a) = (client.clone(), base.to_owned(), admin_token.to_owned());
    let devices = in_waves(plan, 16, move |officer| {
        let (c, b, a) = (c.clone(), b.clone(), a.clone());
        async move {
            let mut dev = enrol(&c, &b, &a, &officer).await?;
            let (tasks, checklists, _) = dev.pull_all().await?;
            Ok((dev, tasks, checklists))
        }
    })
    .await?;

    // A task of its own for as many devices as possible.
    let mut task_index: HashMap<String, usize> = HashMap::new();
    let mut candidates = Vec::with_capacity(devices.len());
    for (_, tasks, checklists) in &devices {
        let mut c = Vec::new();
        for t in tasks {
            if !checklists.iter().any(|k| k.reference() == t.task.checklist) {
                continue;
            }
            let n = task_index.len();
            c.push(*task_index.entry(t.task.task_id.clone()).or_insert(n));
        }
        candidates.push(c);
    }
    let assigned = match_tasks(&candidates, task_index.len());
    let mut uses: BTreeMap<usize, usize> = assigned.iter().flatten().map(|t| (*t, 1)).collect();
    let distinct_tasks = uses.len();

    let mut prepared = Vec::with_capacity(devices.len());
    for (n, (mut dev, tasks, checklists)) in devices.into_iter().enumerate() {
        let (chosen, own) = match assigned[n] {
            Some(t) => (t, true),
            None => {
                // Share the least used of the officer's tasks.
                let t = *candidates[n]
                    .iter()
                    .min_by_key(|t| uses.get(t).copied().unwrap_or(0))
                    .with_context(|| format!("officer {} has no task", dev.officer()))?;
                *uses.entry(t).or_insert(0) += 1;
                (t, false)
            }
        };
        let bundle = tasks
            .iter()
            .find(|t| task_index.get(&t.task.task_id) == Some(&chosen))
            .context("chosen task not pulled")?;
        let checklist = checklists
            .iter()
            .find(|c| c.reference() == bundle.task.checklist)
            .context("checklist not pulled")?;
        let extra = cfg
            .photos
            .saturating_sub(required_photos(bundle, checklist));
        let (mut record, mut blobs) = complete_record(bundle, checklist, cfg.photo_bytes, extra);
        if !own {
            blobs = distinct_evidence(&mut record, cfg.photo_bytes, &format!("device-{n}"));
        }
        build_log(&mut dev, &record, cfg.entries);
        prepared.push(PreparedDevice {
            device: dev,
            record_id: record.record_id,
            task_id: record.task_id.clone(),
            photos: record.photos.len(),
            signatures: record.signatures.len(),
            blobs: Arc::new(blobs),
        });
    }
    Ok(Setup {
        devices: prepared,
        officers: officers.len(),
        tasks: draw_tasks.len(),
        distinct_tasks,
        took: started.elapsed(),
    })
}

/// Latency samples of one kind of request.
#[derive(Debug, Clone, Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn summary(&self) -> LatencySummary {
        let mut v = self.0.clone();
        v.sort_unstable();
        // Nearest-rank percentile.
        let at = |q: f64| -> Duration {
            if v.is_empty() {
                return Duration::ZERO;
            }
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
            v[rank - 1]
        };
        LatencySummary {
            count: v.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: v.last().copied().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencySummary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n={:>5}  p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms",
            self.count,
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// What one device measured.
#[derive(Debug, Default)]
struct DeviceRun {
    push: Latencies,
    patch: Latencies,
    poll: Latencies,
    bytes_sent: u64,
    blobs_sent: usize,
    first_blob: Option<Instant>,
    last_blob: Option<Instant>,
    received_at: Option<Instant>,
}

/// What [`run`] measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub devices: usize,
    /// Records the server reported `received` before the timeout.
    pub received: usize,
    pub entries: usize,
    pub blobs: usize,
    /// Bytes sent in PATCH bodies.
    pub blob_bytes: u64,
    /// Start to the last record `received`.
    pub wall: Duration,
    /// First blob HEAD of any device to the last blob stored.
    pub upload_window: Duration,
    /// When each device's record became `received`, from the start.
    pub fastest: Duration,
    pub push: LatencySummary,
    pub patch: LatencySummary,
    pub pull: LatencySummary,
    pub poll: LatencySummary,
    pub pull_errors: u64,
    pub failures: Vec<String>,
}

impl Report {
    /// Inspection records per second over the wall time.
    pub fn records_per_s(&self) -> f64 {
        self.received as f64 / self.wall.as_secs_f64()
    }

    /// Log entries per second over the wall time.
    pub fn entries_per_s(&self) -> f64 {
        self.entries as f64 / self.wall.as_secs_f64()
    }

    /// Blob MB (10^6 bytes) per second over the wall time.
    pub fn mb_per_s(&self) -> f64 {
        self.blob_bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }

    /// Blob MB per second over the upload window.
    pub fn upload_mb_per_s(&self) -> f64 {
        self.blob_bytes as f64 / 1e6 / self.upload_window.as_secs_f64()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "records received      {} / {} devices",
            self.received, self.devices
        )?;
        writeln!(
            f,
            "wall time             {:.2} s (first record received at {:.2} s)",
            self.wall.as_secs_f64(),
            self.fastest.as_secs_f64()
        )?;
        writeln!(
            f,
            "records/s             {:.1} inspection records/s, {:.0} log entries/s ({} entries)",
            self.records_per_s(),
            self.entries_per_s(),
            self.entries
        )?;
        writeln!(
            f,
            "blob bytes            {:.1} MB in {} blobs: {:.1} MB/s over the wall time, \
             {:.1} MB/s over the upload window ({:.2} s)",
            self.blob_bytes as f64 / 1e6,
            self.blobs,
            self.mb_per_s(),
            self.upload_mb_per_s(),
            self.upload_window.as_secs_f64()
        )?;
        writeln!(f, "push  (POST /push)    {}", self.push)?;
        writeln!(f, "PATCH (blob chunk)    {}", self.patch)?;
        writeln!(f, "pull  (GET /pull)     {}", self.pull)?;
        writeln!(f, "status (GET /records) {}", self.poll)?;
        write!(
            f,
            "errors                {} device failures, {} pull errors",
            self.failures.len(),
            self.pull_errors
        )?;
        for e in self.failures.iter().take(5) {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// PATCH chunks until stored, from offset 0: a device that never sent a
/// blob has nothing to ask the server first (the app does the same, and
/// asks with HEAD only for a blob it started sending before). A server that
/// holds part of it answers 409 with its offset, and the upload continues
/// from there.
async fn upload(
    dev: &SimDevice,
    sha: &Sha256Hex,
    bytes: &[u8],
    chunk: usize,
    out: &mut DeviceRun,
) -> anyhow::Result<()> {
    // A blob never sent: straight to offset 0, no HEAD (as a tablet does).
    let mut up = Upload::new(bytes.len() as u64, chunk, false);
    // Every chunk once, and a few answers that move the offset.
    for _ in 0..bytes.len() / chunk.max(1) + 4 {
        let (offset, end) = match up.next() {
            UploadStep::Done => {
                out.blobs_sent += 1;
                out.bytes_sent += up.sent;
                return Ok(());
            }
            UploadStep::Ask => bail!("a new blob never asks first"),
            UploadStep::Send { offset, end } => (offset as usize, end as usize),
        };
        let piece = &bytes[offset..end];
        // A whole blob's checksum is its hash, which a tablet has from the
        // moment it took the photo: hashing it again would charge the load
        // generator's CPU (on the server's cores) for nothing a device does.
        let checksum = if piece.len() == bytes.len() {
            sha.clone()
        } else {
            Sha256Hex::of(piece)
        };
        let t = Instant::now();
        let (reply, resp) = dev
            .sync
            .blob_patch(
                sha,
                bytes.len() as u64,
                offset as u64,
                piece.to_vec(),
                &checksum,
            )
            .await?;
        out.patch.push(t.elapsed());
        if up.on_reply(&reply).is_err() {
            bail!(
                "PATCH {sha} at {offset}: {} {}",
                reply.status,
                String::from_utf8_lossy(&resp.body)
            );
        }
    }
    bail!("PATCH {sha}: not complete after every chunk")
}

async fn one_device(
    p: PreparedDevice,
    cfg: LoadConfig,
    deadline: Instant,
) -> (DeviceRun, Option<String>) {
    let mut out = DeviceRun::default();
    let result = async {
        let dev = &p.device;
        for batch in dev.log.chunks(cfg.push_batch.max(1)) {
            let t = Instant::now();
            let (status, resp) = dev.push_entries(batch).await?;
            out.push.push(t.elapsed());
            if status != StatusCode::OK || resp.results.iter().any(|r| !r.verdict.is_confirmed()) {
                bail!("push: {status} {:?}", resp.results.first());
            }
        }
        out.first_blob = Some(Instant::now());
        for (sha, bytes) in p.blobs.iter() {
            upload(dev, sha, bytes, cfg.chunk_bytes, &mut out).await?;
        }
        out.last_blob = Some(Instant::now());
        loop {
            let t = Instant::now();
            let versions = dev.sync.record(&p.record_id).await?;
            out.poll.push(t.elapsed());
            let versions: Vec<RecordStatus> = versions.context("record status: not found")?;
            match versions.last() {
                Some(v) if v.state == ReviewState::Received => {
                    out.received_at = Some(Instant::now());
                    return Ok(());
                }
                Some(v) if v.state != ReviewState::Incomplete => {
                    bail!("record {} is {:?}: {:?}", p.record_id, v.state, v.missing)
                }
                _ => {}
            }
            if Instant::now() > deadline {
                bail!(
                    "record {} not received before the timeout: {:?}",
                    p.record_id,
                    versions.last().map(|v| &v.missing)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    .await;
    let err = result
        .err()
        .map(|e| format!("{} ({}): {e:#}", p.device.enrolment.device_id, p.task_id));
    (out, err)
}

/// The devices' periodic pulls, made from a thread and an event loop of
/// their own. A tablet pulls from its own CPU; here a thousand simulated
/// devices share one process, and a pull timed on the runtime that also
/// drives their uploads would count the wait for that runtime (its answer
/// read late behind upload bodies being written) as the server's latency.
/// The probe still shares the machine's two cores with everything else.
struct PullProbe {
    /// Device i stops pulling once `done[i]` is set (its record is in).
    done: Arc<Vec<AtomicBool>>,
    thread: std::thread::JoinHandle<anyhow::Result<(Latencies, u64)>>,
}

impl PullProbe {
    fn start(setup: &Setup, every: Duration) -> anyhow::Result<Self> {
        let n = setup.devices.len();
        let done: Arc<Vec<AtomicBool>> = Arc::new((0..n).map(|_| AtomicBool::new(false)).collect());
        let devices: Vec<(SimDevice, i64)> = setup
            .devices
            .iter()
            .map(|p| {
                let mut d = p.device.clone();
                d.log = Vec::new();
                let cursor = d.cursor;
                (d, cursor)
            })
            .collect();
        let flags = done.clone();
        let thread = std::thread::Builder::new()
            .name("pull-probe".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let http = client()?;
                    let samples = Arc::new(Mutex::new(Latencies::default()));
                    let errors = Arc::new(AtomicU64::new(0));
                    let mut loops = Vec::with_capacity(n);
                    for (i, (dev, cursor)) in devices.into_iter().enumerate() {
                        // Spread the pulls over the interval rather than all at once.
                        let first = every.mul_f64(i as f64 / n.max(1) as f64);
                        loops.push(tokio::spawn(pull_loop(
                            dev.client_over(&http),
                            cursor,
                            first,
                            every,
                            (flags.clone(), i),
                            (samples.clone(), errors.clone()),
                        )));
                    }
                    for l in loops {
                        l.await?;
                    }
                    let samples = std::mem::take(
                        &mut *samples
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner),
                    );
                    Ok((samples, errors.load(Ordering::Relaxed)))
                })
            })?;
        Ok(Self { done, thread })
    }

    /// Stops every device's pulls; their latencies and error count.
    fn finish(self) -> anyhow::Result<(Latencies, u64)> {
        for d in self.done.iter() {
            d.store(true, Ordering::Relaxed);
        }
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the pull probe panicked"))?
    }
}

/// Pulls one device's feed every `every` until its flag is set.
async fn pull_loop(
    sync: crate::device::DeviceClient,
    mut cursor: i64,
    first: Duration,
    every: Duration,
    (done, i): (Arc<Vec<AtomicBool>>, usize),
    (samples, errors): (Arc<Mutex<Latencies>>, Arc<AtomicU64>),
) {
    tokio::time::sleep(first).await;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if done[i].load(Ordering::Relaxed) {
            return;
        }
        let t = Instant::now();
        match sync.pull(cursor).await {
            Ok(p) => {
                cursor = p.cursor;
                let d = t.elapsed();
                samples
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(d);
            }
            Err(_) => {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The timed part: every device at once, until every record is received.
pub async fn run(setup: &Setup, cfg: &LoadConfig) -> anyhow::Result<Report> {
    let n = setup.devices.len();
    let probe = match cfg.pull_every.is_zero() {
        true => None,
        false => Some(PullProbe::start(setup, cfg.pull_every)?),
    };
    let start = Instant::now();
    let deadline = start + cfg.timeout;
    let workers: Vec<_> = setup
        .devices
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let done = probe.as_ref().map(|p| p.done.clone());
            let work = one_device(p.clone(), cfg.clone(), deadline);
            tokio::spawn(async move {
                let out = work.await;
                // A device stops pulling once its record is in.
                if let Some(done) = done {
                    done[i].store(true, Ordering::Relaxed);
                }
                out
            })
        })
        .collect();
    let mut report = Report {
        devices: n,
        received: 0,
        entries: setup.entries(),
        blobs: 0,
        blob_bytes: 0,
        wall: Duration::ZERO,
        upload_window: Duration::ZERO,
        fastest: Duration::MAX,
        push: LatencySummary::default(),
        patch: LatencySummary::default(),
        pull: LatencySummary::default(),
        poll: LatencySummary::default(),
        pull_errors: 0,
        failures: Vec::new(),
    };
    let (mut push, mut patch, mut poll) = (
        Latencies::default(),
        Latencies::default(),
        Latencies::default(),
    );
    let mut first_blob: Option<Instant> = None;
    let mut last_blob: Option<Instant> = None;
    let mut last_received = start;
    for w in workers {
        let (d, err) = w.await?;
        if let Some(e) = err {
            report.failures.push(e);
        }
        Latencies::extend(&mut push, d.push);
        Latencies::extend(&mut patch, d.patch);
        Latencies::extend(&mut poll, d.poll);
        report.blob_bytes += d.bytes_sent;
        report.blobs += d.blobs_sent;
        first_blob = match (first_blob, d.first_blob) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last_blob = last_blob.max(d.last_blob);
        if let Some(at) = d.received_at {
            report.received += 1;
            last_received = last_received.max(at);
            report.fastest = report.fastest.min(at - start);
        }
    }
    report.wall = last_received - start;
    if let (Some(a), Some(b)) = (first_blob, last_blob) {
        report.upload_window = b - a;
    }
    report.push = push.summary();
    report.patch = patch.summary();
    report.poll = poll.summary();
    if let Some(p) = probe {
        // Off the runtime: the probe's thread may still be mid-pull.
        let (pulls, errors) = tokio::task::spawn_blocking(move || p.finish()).await??;
        report.pull = pulls.summary();
        report.pull_errors = errors;
    }
    if report.fastest == Duration::MAX {
        report.fastest = Duration::ZERO;
    }
    Ok(report)
}

/// The cumulative buckets `(upper bound in seconds, count)` of one route's
/// latency histogram in a server's `/metrics`, summed over methods and
/// statuses and over every instance: the time the servers themselves
/// spent, from a request's arrival to its response.
pub async fn server_latency_buckets(
    client: &Client,
    instance_urls: &[String],
    token: &str,
    route: &str,
) -> anyhow::Result<Vec<(f64, u64)>> {
    let mut text = String::new();
    for url in instance_urls {
        let one = client
            .get(format!("{url}/metrics"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        text.push_str(&one);
        text.push('\n');
    }
    let wanted = format!("route=\"{route}\"");
    let mut buckets: BTreeMap<u64, u64> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("choucha_http_request_duration_seconds_bucket{") else {
            continue;
        };
        if !rest.contains(&wanted) {
            continue;
        }
        let (labels, count) = rest
            .rsplit_once("} ")
            .context("bucket line without a value")?;
        let le = labels
            .split(',')
            .find_map(|l| l.strip_prefix("le=\""))
            .and_then(|v| v.strip_suffix('"'))
            .context("bucket without le")?;
        let le: f64 = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse()?
        };
        *buckets.entry(le.to_bits()).or_default() += count.trim().parse::<u64>()?;
    }
    let mut out: Vec<(f64, u64)> = buckets
        .into_iter()
        .map(|(b, n)| (f64::from_bits(b), n))
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out)
}

/// The `q` quantile of the requests counted between two scrapes of
/// [`server_latency_buckets`] (summed over instances), as the upper bound
/// of the bucket it falls in: `None` when nothing was counted.
pub fn bucket_quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> Option<f64> {
    let earlier = |le: f64| before.iter().find(|(b, _)| *b == le).map_or(0, |(_, n)| *n);
    let counts: Vec<(f64, u64)> = after
        .iter()
        .map(|(le, n)| (*le, n.saturating_sub(earlier(*le))))
        .collect();
    let total = counts.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil() as u64;
    counts.iter().find(|(_, n)| *n >= rank).map(|(le, _)| *le)
}

/// What the server holds of the devices' work after a run, against what
/// they sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delivery {
    /// Log entries the devices wrote.
    pub sent: usize,
    /// Entries of theirs the server's logs miss.
    pub lost: usize,
    /// Entries the server holds twice, or that no device wrote.
    pub duplicated: usize,
    /// Records with more than one current version.
    pub records_twice: usize,
}

/// Compares every device's log with the server's copy (entry IDs and
/// hashes, in order) and counts the versions of each record.
pub async fn check_delivery(
    client: &Client,
    base: &str,
    admin_token: &str,
    setup: &Setup,
) -> anyhow::Result<Delivery> {
    let mut d = Delivery::default();
    for p in &setup.devices {
        let id = &p.device.enrolment.device_id;
        let held: Vec<Value> = client
            .get(format!("{base}/api/v1/devices/{id}/log"))
            .bearer_auth(admin_token)
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("reading the log of device {id}"))?
            .json()
            .await?;
        let mut held: HashMap<(String, String), usize> = held
            .iter()
            .map(|e| {
                (
                    e["entry_id"].as_str().unwrap_or_default().to_owned(),
                    e["hash"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .fold(HashMap::new(), |mut m, k| {
                *m.entry(k).or_default() += 1;
                m
            });
        for e in &p.device.log {
            d.sent += 1;
            match held.remove(&(e.entry_id.to_string(), e.hash.to_string())) {
                None => d.lost += 1,
                Some(n) => d.duplicated += n - 1,
            }
        }
        d.duplicated += held.values().sum::<usize>();
        let versions = p
            .device
            .sync
            .record(&p.record_id)
            .await?
            .unwrap_or_default();
        if versions
            .iter()
            .filter(|v| v.state != ReviewState::Superseded)
            .count()
            > 1
        {
            d.records_twice += 1;
        }
    }
    Ok(d)
}

/// A plain loopback copy of the same bytes, for comparison.
#[derive(Debug, Clone, Copy)]
pub struct CopyBaseline {
    pub bytes: u64,
    pub files: usize,
    /// One TCP stream from a file into one file, fsynced at the end.
    pub stream: Duration,
    /// The same bytes as one file per blob on one connection, each fsynced
    /// (what durable per-blob storage needs at least).
    pub per_file: Duration,
}

impl CopyBaseline {
    pub fn stream_mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.stream.as_secs_f64()
    }

    pub fn per_file_mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.per_file.as_secs_f64()
    }
}

/// The receiving side's count, or the first failure: the receiver's own
/// (a full disk, say) rather than the reset the sender saw because of it.
fn received(
    receiver: std::thread::JoinHandle<io::Result<u64>>,
    sent: io::Result<()>,
) -> anyhow::Result<u64> {
    let got = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver panicked"))?
        .context("loopback copy: receiving")?;
    sent.context("loopback copy: sending")?;
    Ok(got)
}

/// Writes `blobs` to one source file in `dir` (untimed), then times copying
/// it over TCP on 127.0.0.1 into `dir`, receiver fsyncing: once as a single
/// stream into one file, once as one fsynced file per blob.
pub fn loopback_copy<'a>(
    blobs: impl Iterator<Item = &'a [u8]>,
    dir: &Path,
) -> anyhow::Result<CopyBaseline> {
    let source = dir.join("source.bin");
    let mut sizes = Vec::new();
    {
        let mut f = std::fs::File::create(&source)?;
        for b in blobs {
            f.write_all(b)?;
            sizes.push(b.len() as u64);
        }
        f.sync_all()?;
    }
    let bytes: u64 = sizes.iter().sum();

    // One stream.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let dest = dir.join("stream.bin");
    let start = Instant::now();
    let receiver = std::thread::spawn(move || -> io::Result<u64> {
        let (mut conn, _) = listener.accept()?;
        let mut out = std::fs::File::create(&dest)?;
        let n = io::copy(&mut conn, &mut out)?;
        out.sync_all()?;
        Ok(n)
    });
    let sent = (|| -> io::Result<()> {
        let mut conn = TcpStream::connect(addr)?;
        let mut f = std::fs::File::open(&source)?;
        io::copy(&mut f, &mut conn)?;
        conn.shutdown(Shutdown::Write)
    })();
    let got = received(receiver, sent)?;
    let stream = start.elapsed();
    if got != bytes {
        bail!("loopback stream copied {got} of {bytes} bytes");
    }
    std::fs::remove_file(dir.join("stream.bin"))?;

    // One file per blob.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let files_dir = dir.join("files");
    std::fs::create_dir_all(&files_dir)?;
    let count = sizes.len();
    let recv_dir = files_dir.clone();
    let start = Instant::now();
    let receiver = std::thread::spawn(move || -> io::Result<u64> {
        let (conn, _) = listener.accept()?;
        let mut conn = io::BufReader::with_capacity(1 << 20, conn);
        let mut total = 0;
        for i in 0..count {
            let mut len = [0u8; 8];
            conn.read_exact(&mut len)?;
            let len = u64::from_le_bytes(len);
            let mut out = std::fs::File::create(recv_dir.join(format!("{i}.blob")))?;
            total += io::copy(&mut (&mut conn).take(len), &mut out)?;
            out.sync_all()?;
        }
        std::fs::File::open(&recv_dir)?.sync_all()?;
        Ok(total)
    });
    let sent = (|| -> io::Result<()> {
        let mut conn = TcpStream::connect(addr)?;
        let mut f = std::fs::File::open(&source)?;
        for len in &sizes {
            conn.write_all(&len.to_le_bytes())?;
            io::copy(&mut (&mut f).take(*len), &mut conn)?;
        }
        conn.shutdown(Shutdown::Write)
    })();
    let got = received(receiver, sent)?;
    let per_file = start.elapsed();
    if got != bytes {
        bail!("loopback per-file copy moved {got} of {bytes} bytes");
    }
    std::fs::remove_dir_all(&files_dir)?;
    std::fs::remove_file(&source)?;
    Ok(CopyBaseline {
        bytes,
        files: count,
        stream,
        per_file,
    })
}

/// A field of `/proc/<pid>/status` in KiB (e.g. `VmHWM`, `VmRSS`).
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// User + system CPU time a process has used so far (Linux).
pub fn proc_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13
    // after the state field that follows the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time of a process and its children so far: its own, its reaped
/// children's, and that of the children still running (PostgreSQL's
/// backends under the postmaster).
pub fn proc_tree_cpu(root: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{root}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime, stime, cutime, cstime: fields 14–17 of the line.
    let own: u64 = (11..15)
        .map(|i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum::<Option<u64>>()?;
    let mut total = Duration::from_millis(own * 10);
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(root) {
            total += proc_cpu(pid).unwrap_or_default();
        }
    }
    Some(total)
}

/// One acceptance target and how the run did.
#[derive(Debug, Clone)]
pub struct Target {
    pub what: &'static str,
    pub measured: String,
    pub target: &'static str,
    pub met: bool,
}

/// The targets, given what was measured; `rss_kib` and `baseline`
/// only when known (the server runs on this machine, the copy was timed).
pub fn targets(
    report: &Report,
    rss_kib: Option<u64>,
    baseline: Option<&CopyBaseline>,
) -> Vec<Target> {
    let mut t = vec![
        Target {
            what: "all inspections submitted",
            measured: format!(
                "{}/{} in {:.2} s",
                report.received,
                report.devices,
                report.wall.as_secs_f64()
            ),
            target: "all in ≤ 20 s",
            met: report.received == report.devices && report.wall <= Duration::from_secs(20),
        },
        Target {
            what: "p99 pull latency",
            measured: format!("{:.1} ms", ms(report.pull.p99)),
            target: "≤ 50 ms",
            met: report.pull.count > 0 && report.pull.p99 <= Duration::from_millis(50),
        },
    ];
    if let Some(kib) = rss_kib {
        t.push(Target {
            what: "server peak RSS (VmHWM)",
            measured: format!("{:.1} MiB", kib as f64 / 1024.0),
            target: "≤ 300 MiB",
            met: kib <= 300 * 1024,
        });
    }
    if let Some(b) = baseline {
        let pct = 100.0 * report.upload_mb_per_s() / b.stream_mb_per_s();
        t.push(Target {
            what: "blob throughput vs loopback copy",
            measured: format!(
                "{pct:.0} % ({:.1} of {:.1} MB/s)",
                report.upload_mb_per_s(),
                b.stream_mb_per_s()
            ),
            target: "≥ 50 %",
            met: pct >= 50.0,
        });
    }
    t
}

/// Prints the targets as lines `MET`/`MISSED`.
pub fn format_targets(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| {
            format!(
                "{:<34} {:<28} target {:<14} {}",
                t.what,
                t.measured,
                t.target,
                if t.met { "MET" } else { "MISSED" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Describes a setup in a few lines.
pub fn describe(setup: &Setup) -> String {
    let photos: Vec<usize> = setup.devices.iter().map(|d| d.photos).collect();
    let sigs: Vec<usize> = setup.devices.iter().map(|d| d.signatures).collect();
    let range = |v: &[usize]| {
        let (a, b) = (
            v.iter().min().copied().unwrap_or(0),
            v.iter().max().copied().unwrap_or(0),
        );
        if a == b {
            a.to_string()
        } else {
            format!("{a}–{b}")
        }
    };
    let n = setup.devices.len().max(1);
    format!(
        "{} devices over {} officers; {} of the draw's {} tasks inspected ({} devices share a task)\n\
         per device: {} log entries, {} photos, {} signature images, {:.2} MB of blobs\n\
         setup (untimed) took {:.1} s",
        setup.devices.len(),
        setup.officers,
        setup.distinct_tasks,
        setup.tasks,
        setup.devices.len() - setup.distinct_tasks.min(setup.devices.len()),
        setup.entries() / n,
        range(&photos),
        range(&sigs),
        setup.blob_bytes() as f64 / 1e6 / n as f64,
        setup.took.as_secs_f64()
    )
}

/// The default HTTP client for the generator: no request waits forever.
pub fn client() -> anyhow::Result<Client> {
    Ok(Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(120))
        // Below HAProxy's keep-alive timeout (its `timeout http-request`,
        // 30 s in docs/deploy/haproxy.cfg): a connection idle while the
        // load ran must not be reused just as the proxy closes it.
        .pool_idle_timeout(Duration::from_secs(10))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantile_is_the_upper_bound_of_the_bucket_it_falls_in() {
        let before = [(0.001, 10), (0.002, 10), (0.004, 10), (f64::INFINITY, 10)];
        // 100 new requests: 90 under 1 ms, 8 more under 2 ms, 2 under 4 ms.
        let after = [
            (0.001, 100),
            (0.002, 108),
            (0.004, 110),
            (f64::INFINITY, 110),
        ];
        assert_eq!(bucket_quantile(&before, &after, 0.5), Some(0.001));
        assert_eq!(bucket_quantile(&before, &after, 0.98), Some(0.002));
        assert_eq!(bucket_quantile(&before, &after, 0.99), Some(0.004));
        assert_eq!(bucket_quantile(&after, &after, 0.99), None);
    }

    #[test]
    fn matching_finds_a_task_for_everyone_when_it_can() {
        // Greedy would give task 0 to device 0 and leave device 1 without.
        let c = vec![vec![0, 1], vec![0]];
        assert_eq!(match_tasks(&c, 2), vec![Some(1), Some(0)]);
        let c = vec![vec![0], vec![0]];
        let m = match_tasks(&c, 1);
        assert_eq!(m.iter().flatten().count(), 1);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut l = Latencies::default();
        for i in 1..=100 {
            l.push(Duration::from_millis(i));
        }
        let s = l.summary();
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(Latencies::default().summary().p99, Duration::ZERO);
    }

    #[test]
    fn proc_fields_parse_for_this_process() {
        let me = std::process::id();
        assert!(proc_status_kib(me, "VmHWM").unwrap_or(0) > 0);
        assert!(proc_cpu(me).is_some());
    }
}
