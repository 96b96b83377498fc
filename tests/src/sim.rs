//! Deterministic simulation of sync, after FoundationDB's simulator and
//! TigerBeetle's VOPR: several devices and a supervisor against the server's
//! service layer (in this process), over a simulated network, disk and
//! clock, every choice drawn from one seed. The server is one instance on
//! SQLite ([`Topology::Sqlite`]) or two instances on one PostgreSQL
//! database with the upload parts in it and one shared blob store
//! ([`Topology::PostgresPair`]), each request reaching either, as behind
//! a load balancer. Three devices are
//! models that send what a tablet sends, request by request, so that the
//! network can reorder anything; the fourth is the field app's real engine
//! ([`tablet`]), crashed and reopened from its store at any step.
//!
//! Simulated: requests lost, answers lost, requests duplicated and
//! delivered out of order; a device crashing (what it had not stored is
//! gone, its in-flight requests still arrive); the server crashing (its
//! database, uploads and blob store reopened from disk); the blob store
//! failing like a full disk; device clocks hours or days off; a supervisor
//! who approves and returns records while the devices amend them. Half the
//! on-site inspections order a finding rectified; the order's 复查 task
//! reaches the team's device through its feed and the device seals a 复查
//! record, which syncs like any entry. Not
//! simulated: concurrency inside the server (requests are served one at a
//! time, so schedules replay exactly), torn writes inside the database (it
//! is trusted).
//!
//! After the faults, the network heals and every device syncs until it has
//! nothing left; then [`check`] holds the invariants: every entry each
//! device wrote is on the server exactly once and in order; no device is
//! stuck; every blob a record names is stored and registered; each record's
//! current version is the device's last and its state is what the
//! supervisor's actions make it; each 复查 is the one that completed its
//! task and closed its findings; and the console's projection equals one
//! rebuilt from the records.
//!
//! `cargo run --release -p choucha-tests --bin choucha-sim -- --seed N`
//! replays one schedule and prints its trace (`--postgres` for the pair).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail, ensure};
use async_trait::async_trait;
use bytes::Bytes;
use chrono::{Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use choucha_checklists::Catalogue;
use choucha_shared::checklist::{Checklist, Verdict};
use choucha_shared::recheck::{Recheck, RecheckRecord, RecheckTask};
use choucha_shared::record::{
    Disposition, Finding, InspectionRecord, Photo, PhotoSubject, RectificationOutcome, Signature,
    SignerRole,
};
use choucha_shared::sync::{EntryPayload, FeedItem, LogEntry, TaskBundle};
use choucha_shared::value::CivilDate;
use choucha_shared::value::Sha256Hex;
use choucha_sync_client::decide::read_push;
use choucha_sync_server::blobs::{
    BlobBody, BlobSource, BlobStore, BlobStoreError, FsBlobStore, UploadLimits, UploadManager,
    UploadState,
};
use choucha_sync_server::db_parts::DbParts;
use choucha_sync_server::service::review::Decision;
use choucha_sync_server::service::sync::BlobStep;
use choucha_sync_server::service::{self, Actor};
use choucha_sync_server::store::{Backend, BlobRegistrar, DeviceCtx, Store};
use choucha_sync_server::{AppState, BlobConfig, demo};

use crate::device::{blob_bytes, complete_record, sign};
use crate::{TempDir, pg};

mod tablet;
use tablet::{Net, Tablet};

/// Devices per schedule, each an officer of its own task.
pub const DEVICES: usize = 3;
/// Faulty steps per round, before the network heals.
pub const STEPS: usize = 80;
/// Rounds of faults and healing per schedule.
pub const ROUNDS: usize = 2;
/// Bytes per upload chunk (the photos are a few chunks each).
const CHUNK: usize = 1_500;

/// What the devices sync with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One server on its SQLite file, upload parts on its disk: the
    /// single-instance default.
    Sqlite,
    /// Two server instances on one PostgreSQL database (upload parts in it)
    /// and one shared blob store; each request reaches either, and a crash
    /// takes one down while the other serves on.
    PostgresPair,
}

impl Topology {
    fn instances(self) -> usize {
        match self {
            Self::Sqlite => 1,
            Self::PostgresPair => 2,
        }
    }
}

/// What kinds of fault a schedule injected, and how often.
pub type Faults = BTreeMap<&'static str, u64>;

/// A finished schedule.
#[derive(Debug, Default)]
pub struct Outcome {
    pub faults: Faults,
    pub entries: usize,
    pub blobs: usize,
    pub records: usize,
    pub trace: Vec<String>,
}

/// The demo database with enrolled devices, made once and copied for each
/// schedule.
#[derive(Debug)]
pub struct Template {
    topology: Topology,
    dir: TempDir,
    /// The PostgreSQL database each schedule's is copied from.
    database_url: Option<String>,
    devices: Vec<(DeviceCtx, TaskBundle, Checklist)>,
    /// The real tablet's officer and task (it enrols in each schedule).
    tablet: (String, String),
}

impl Template {
    pub async fn new(topology: Topology) -> anyhow::Result<Self> {
        let dir = TempDir::new("sim-template")?;
        let database_url = match topology {
            Topology::Sqlite => None,
            Topology::PostgresPair => Some(pg::try_shared()?.create_database().await?),
        };
        let store = Store::open(database_url.as_deref(), dir.path()).await?;
        let state = AppState::open(store.clone(), dir.path(), BlobConfig::Filesystem).await?;
        demo::load(&state).await?;
        let draw_id = store
            .current_draw_id(demo::PLAN_ID)
            .await?
            .context("the demo draw")?;
        let draw = store.draw(&draw_id).await?;
        let mut devices = Vec::new();
        let mut officers = BTreeSet::new();
        let mut tablet = None;
        let admin = Actor::user("admin");
        for t in draw.tasks.iter().filter(|t| t.category.is_on_site()) {
            let officer = t.officers().next().context("an officer")?.person_id.clone();
            if !officers.insert(officer.clone()) {
                continue;
            }
            if devices.len() == DEVICES {
                tablet = Some((officer, t.task_id.clone()));
                break;
            }
            let code = store
                .create_enrolment(&admin, &officer, Duration::minutes(30))
                .await?;
            let e = store.enrol(&code.code, "模拟设备").await?;
            let bundle = store.task_for_officer(&t.task_id, &officer).await?;
            let checklist = state
                .checklists
                .get(&t.checklist)
                .context("the task's checklist")?
                .clone();
            devices.push((
                DeviceCtx {
                    device_id: e.device_id,
                    officer_id: officer,
                },
                bundle,
                checklist,
            ));
        }
        let tablet = tablet.context("the demo draw has too few officers")?;
        drop(state);
        if topology == Topology::Sqlite {
            // Everything into the database file: its WAL and shared-memory
            // files are not copied (they may still be going away as the
            // pool closes).
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(store.raw_pool())
                .await?;
        }
        // A PostgreSQL template must have nobody connected to be copied.
        store.close().await;
        Ok(Self {
            topology,
            dir,
            database_url,
            devices,
            tablet,
        })
    }

    pub fn topology(&self) -> Topology {
        self.topology
    }

    /// A schedule's own server: the data directory copied to `to`, and on
    /// PostgreSQL a copy of the template database (its URL).
    async fn copy_to(&self, to: &Path) -> anyhow::Result<Option<String>> {
        copy_dir(self.dir.path(), to)?;
        match &self.database_url {
            Some(template) => Ok(Some(
                pg::try_shared()?
                    .create_database_from(Some(template))
                    .await?,
            )),
            None => Ok(None),
        }
    }
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with("-wal") || name.ends_with("-shm") {
            continue;
        }
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)
                .with_context(|| format!("copying {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// The filesystem blob store, failing like a full disk while `full` is set.
#[derive(Debug)]
struct Disk {
    inner: FsBlobStore,
    full: Arc<AtomicBool>,
}

#[async_trait]
impl BlobStore for Disk {
    async fn put_verified(
        &self,
        hash: &Sha256Hex,
        source: BlobSource,
    ) -> Result<(), BlobStoreError> {
        if self.full.load(Ordering::SeqCst) {
            return Err(BlobStoreError::Io {
                op: "模拟磁盘已满 (simulated full disk)".into(),
                source: std::io::Error::from(std::io::ErrorKind::StorageFull),
            });
        }
        self.inner.put_verified(hash, source).await
    }

    async fn get(&self, hash: &Sha256Hex) -> Result<Option<BlobBody>, BlobStoreError> {
        self.inner.get(hash).await
    }

    async fn size(&self, hash: &Sha256Hex) -> Result<Option<u64>, BlobStoreError> {
        self.inner.size(hash).await
    }

    async fn delete(&self, hash: &Sha256Hex) -> Result<bool, BlobStoreError> {
        self.inner.delete(hash).await
    }
}

/// A server instance as it runs between two crashes. Instances of one
/// schedule share the blob directory (the object store) and, on
/// PostgreSQL, the database with the upload parts in it.
async fn open_server(
    dir: &Path,
    database_url: Option<&str>,
    full: &Arc<AtomicBool>,
) -> anyhow::Result<AppState> {
    let store = Store::open(database_url, dir).await?;
    let disk = Arc::new(Disk {
        inner: FsBlobStore::new(dir.join("blobs")).await?,
        full: full.clone(),
    });
    let limits = UploadLimits::default();
    let uploads = match store.backend() {
        Backend::Postgres => {
            UploadManager::with_parts(Arc::new(DbParts::new(store.clone())), disk, limits)
        }
        Backend::Sqlite => UploadManager::new(dir, disk, limits).await?,
    };
    Ok(AppState {
        blob_registrar: BlobRegistrar::start(store.clone()),
        store,
        checklists: Arc::new(Catalogue::embedded()?),
        uploads: Arc::new(uploads),
        oversight: Default::default(),
        secure_cookies: false,
        metrics_token: None,
        trusted_proxies: Default::default(),
        mailer: None,
        public_url: None,
        serves_tls: false,
        ca_pem: None,
        evidence: Default::default(),
        public_draw_officers: false,
    })
}

/// What a device sends.
#[derive(Debug, Clone)]
enum Request {
    Push(Vec<LogEntry>),
    Head {
        sha: Sha256Hex,
        total: u64,
    },
    Chunk {
        sha: Sha256Hex,
        total: u64,
        offset: u64,
        bytes: Bytes,
    },
}

/// The server's answer.
#[derive(Debug)]
enum Answer {
    Push(choucha_shared::sync::PushResponse),
    Blob(BlobStep),
}

/// A request on the wire: from which device, in which of its lives.
struct InFlight {
    dev: usize,
    life: u32,
    request: Request,
}

/// A device: what it has stored survives a crash; the rest does not.
struct Device {
    ctx: DeviceCtx,
    bundle: TaskBundle,
    checklist: Checklist,
    skew: Duration,
    // Stored on the tablet.
    log: Vec<LogEntry>,
    confirmed: u64,
    cursor: i64,
    /// Entries the server took but refused, for the user.
    needs_user: BTreeMap<u64, String>,
    /// Entries the server would not take (an honest device never has any).
    blocked: BTreeMap<u64, String>,
    record: Option<InspectionRecord>,
    /// 复查 records sealed, by 复查 task.
    rechecks: BTreeMap<String, RecheckRecord>,
    blobs: BTreeMap<Sha256Hex, Vec<u8>>,
    /// Blobs the server has told it it holds.
    uploaded: BTreeSet<Sha256Hex>,
    // Volatile.
    life: u32,
    /// The blob being uploaded and the server's offset, as last heard.
    upload: Option<(Sha256Hex, u64)>,
}

impl Device {
    fn append(&mut self, payload: EntryPayload, rng: &mut StdRng) {
        let index = self.log.len() as u64 + 1;
        let prev = self.log.last().map(|e| e.hash.clone());
        let at = Utc::now() + self.skew;
        self.log.push(LogEntry::new(
            Uuid::from_u128(rng.random()),
            index,
            prev,
            at,
            payload,
        ));
    }

    fn unconfirmed(&self, take: usize) -> Vec<LogEntry> {
        let from = self.confirmed as usize;
        let to = (from + take).min(self.log.len());
        self.log[from..to].to_vec()
    }

    fn pending_blob(&self) -> Option<&Sha256Hex> {
        self.blobs.keys().find(|h| !self.uploaded.contains(*h))
    }
}

/// One schedule's world.
struct World {
    rng: StdRng,
    dir: PathBuf,
    database_url: Option<String>,
    full: Arc<AtomicBool>,
    /// The server's instances (`None` only while one restarts).
    servers: Vec<Option<AppState>>,
    devices: Vec<Device>,
    tablet: Tablet,
    wire: Vec<InFlight>,
    /// Per record: the version the supervisor approved, if any.
    approved: HashMap<Uuid, Sha256Hex>,
    out: Outcome,
}

impl World {
    fn fault(&mut self, kind: &'static str) {
        *self.out.faults.entry(kind).or_default() += 1;
    }

    fn trace(&mut self, line: String) {
        self.out.trace.push(line);
    }

    /// Instance `i`.
    fn instance(&self, i: usize) -> &AppState {
        self.servers[i]
            .as_ref()
            .expect("every instance is up between steps")
    }

    /// The first instance, for the invariants' reads.
    fn server(&self) -> &AppState {
        self.instance(0)
    }

    /// The instance the next request reaches. One instance draws nothing,
    /// so the SQLite schedules replay as they always did.
    fn pick(&mut self) -> usize {
        match self.servers.len() {
            1 => 0,
            n => self.rng.random_range(0..n),
        }
    }

    /// An instance dies and starts again on the same data; on PostgreSQL
    /// the other goes on serving meanwhile.
    async fn crash_server(&mut self) -> anyhow::Result<()> {
        let i = self.pick();
        if let Some(old) = self.servers[i].take() {
            if old.store.backend() == Backend::Postgres {
                // A dead process's connections are closed by its OS.
                old.store.close().await;
            }
        }
        let state = open_server(&self.dir, self.database_url.as_deref(), &self.full).await?;
        self.tablet
            .net
            .set_router(i, choucha_sync_server::router(state.clone()));
        self.servers[i] = Some(state);
        Ok(())
    }

    /// The faults the tablet's network injected, into the schedule's count.
    fn count_tablet_faults(&mut self) {
        let (faults, _) = self.tablet.net.take_faults();
        for (k, v) in faults {
            *self.out.faults.entry(k).or_default() += v;
        }
    }

    /// The real tablet's turn: work on the inspection, sync over the faulty
    /// network, or die and be reopened.
    async fn tablet_step(&mut self, roll: f64) -> anyhow::Result<()> {
        match roll {
            r if r < 0.25 => {
                if let Some(line) = self.tablet.work()? {
                    self.trace(line);
                }
            }
            r if r < 0.70 => {
                let budget = self.rng.random_range(1..=12);
                let ok = self.tablet.sync(true, budget).await?;
                self.trace(format!("tablet syncs ({budget} requests): {ok}"));
                self.count_tablet_faults();
            }
            r if r < 0.80 => {
                let pick = self.rng.random::<u32>() as usize;
                self.tablet.net.deliver_late(pick).await;
            }
            r if r < 0.85 => self.supervise().await?,
            r if r < 0.90 => {
                self.tablet.crash()?;
                self.fault("tablet: crash");
            }
            r if r < 0.92 => {
                self.crash_server().await?;
                self.fault("server crash");
            }
            _ => {}
        }
        Ok(())
    }

    /// The device does some work on its tablet: starts, fills in, seals.
    fn work(&mut self, d: usize) {
        let rng = &mut self.rng;
        let dev = &mut self.devices[d];
        if dev.record.is_none() {
            let (mut record, blobs) = complete_record(&dev.bundle, &dev.checklist, 2_000, 0);
            record.record_id = Uuid::from_u128(rng.random());
            record.started_at += dev.skew;
            let mut blobs = blobs;
            // Half the on-site inspections find a problem and order it
            // rectified: the order comes back as a 复查.
            if record.category.is_on_site() && rng.random_bool(0.5) {
                order_rectification(&mut record, &dev.checklist, &mut blobs);
            }
            sign(&mut record, &mut blobs);
            let named: BTreeSet<&Sha256Hex> = record.blob_hashes().collect();
            blobs.retain(|(sha, _)| named.contains(sha));
            dev.append(
                EntryPayload::Started {
                    record_id: record.record_id,
                    task_id: record.task_id.clone(),
                    started_at: record.started_at,
                },
                rng,
            );
            for (item_id, entry) in record.items.clone().into_iter().take(3) {
                dev.append(
                    EntryPayload::ItemSet {
                        record_id: record.record_id,
                        item_id,
                        entry,
                    },
                    rng,
                );
            }
            dev.append(
                EntryPayload::Sealed {
                    record: record.clone(),
                },
                rng,
            );
            dev.blobs.extend(blobs);
            let line = format!("device {d} seals record {}", record.record_id);
            dev.record = Some(record);
            self.trace(line);
        }
    }

    /// The device sends something: the next unconfirmed entries, or the
    /// next step of a blob's upload.
    fn send(&mut self, d: usize, heal: bool) {
        let take = self.rng.random_range(1..=6);
        let dev = &self.devices[d];
        let request = if dev.confirmed < dev.log.len() as u64 && dev.blocked.is_empty() {
            Request::Push(dev.unconfirmed(if heal { 50 } else { take }))
        } else if let Some(sha) = dev.pending_blob().cloned() {
            let bytes = &dev.blobs[&sha];
            let total = bytes.len() as u64;
            match &dev.upload {
                Some((s, offset)) if *s == sha => {
                    let from = *offset as usize;
                    let to = (from + CHUNK).min(bytes.len());
                    Request::Chunk {
                        sha,
                        total,
                        offset: *offset,
                        bytes: Bytes::copy_from_slice(&bytes[from..to]),
                    }
                }
                _ => Request::Head { sha, total },
            }
        } else {
            return;
        };
        let life = dev.life;
        if !heal && self.rng.random_bool(0.08) {
            self.fault("request lost");
            return;
        }
        let copies = if !heal && self.rng.random_bool(0.05) {
            self.fault("request duplicated");
            2
        } else {
            1
        };
        for _ in 0..copies {
            self.wire.push(InFlight {
                dev: d,
                life,
                request: request.clone(),
            });
        }
    }

    /// The network delivers one request (any of those in flight: they
    /// overtake each other) and, maybe, its answer.
    async fn deliver(&mut self, heal: bool) -> anyhow::Result<()> {
        if self.wire.is_empty() {
            return Ok(());
        }
        let at = if heal {
            0
        } else {
            self.rng.random_range(0..self.wire.len())
        };
        if at != 0 {
            self.fault("request reordered");
        }
        let f = self.wire.remove(at);
        let i = self.pick();
        let answer = self.serve(i, f.dev, &f.request).await?;
        if !heal && self.rng.random_bool(0.1) {
            self.fault("answer lost");
            return Ok(());
        }
        if self.devices[f.dev].life != f.life {
            // The device crashed since: nobody is waiting for the answer.
            return Ok(());
        }
        self.hear(f.dev, &f.request, answer)
    }

    async fn serve(&self, i: usize, d: usize, request: &Request) -> anyhow::Result<Answer> {
        let state = self.instance(i);
        let ctx = self.devices[d].ctx.clone();
        // A failure of the server itself (not an answer about an entry or
        // an upload) breaks an invariant: a push never fails as a whole.
        Ok(match request {
            Request::Push(entries) => Answer::Push(
                service::sync::push(&state.store, &ctx, entries, &state.checklists)
                    .await
                    .map_err(|e| anyhow::anyhow!("device {d}: the push failed as a whole: {e}"))?,
            ),
            Request::Head { sha, total } => Answer::Blob(
                service::sync::blob_query(state, sha, *total)
                    .await
                    .map_err(|e| anyhow::anyhow!("device {d}: HEAD {sha} failed: {e}"))?,
            ),
            Request::Chunk {
                sha,
                total,
                offset,
                bytes,
            } => {
                let checksum = Sha256Hex::of(bytes);
                Answer::Blob(
                    service::sync::blob_chunk(
                        state,
                        sha,
                        *total,
                        *offset,
                        bytes.clone(),
                        &checksum,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("device {d}: PATCH {sha} failed: {e}"))?,
                )
            }
        })
    }

    /// The device reads an answer and stores what it learnt.
    fn hear(&mut self, d: usize, request: &Request, answer: Answer) -> anyhow::Result<()> {
        let dev = &mut self.devices[d];
        match (request, answer) {
            (Request::Push(sent), Answer::Push(r)) => {
                let first = sent.first().map_or(1, |e| e.index);
                let reading = read_push(&r, first);
                for i in reading.confirmed {
                    if i == dev.confirmed + 1 {
                        dev.confirmed = i;
                    }
                }
                dev.confirmed = dev
                    .confirmed
                    .max(reading.confirmed_below.saturating_sub(1))
                    .min(dev.log.len() as u64);
                dev.needs_user.extend(reading.needs_user);
                dev.blocked.extend(reading.refused);
            }
            (Request::Head { sha, .. } | Request::Chunk { sha, .. }, Answer::Blob(step)) => {
                match step {
                    BlobStep::State(UploadState::Complete { .. }) => {
                        dev.uploaded.insert(sha.clone());
                        dev.upload = None;
                    }
                    // At `total` (every byte there, storing failed on a
                    // full disk) the next chunk is empty, which retries
                    // the store.
                    BlobStep::State(UploadState::InProgress { offset, .. }) => {
                        dev.upload = Some((sha.clone(), offset));
                    }
                    // An offset the server does not hold, a store failure:
                    // start over from the server's word.
                    BlobStep::Refused(_) => dev.upload = None,
                }
            }
            (r, a) => bail!("answer {a:?} to {r:?}"),
        }
        Ok(())
    }

    /// The device pulls its feed and amends what was returned to it.
    async fn pull(&mut self, d: usize, heal: bool) -> anyhow::Result<()> {
        let officer = self.devices[d].ctx.officer_id.clone();
        let cursor = self.devices[d].cursor;
        let i = self.pick();
        let state = self.instance(i);
        let feed = state
            .store
            .pull(&officer, cursor, 50, &state.checklists)
            .await?;
        if !heal && self.rng.random_bool(0.05) {
            // The answer never arrived: the device pulls again from the
            // cursor it has.
            self.fault("pull answer lost");
            return Ok(());
        }
        for item in feed.items {
            let r#return = match item {
                FeedItem::Returned { r#return } => r#return,
                FeedItem::RecheckAssigned { task } => {
                    self.recheck(d, &task);
                    continue;
                }
                _ => continue,
            };
            let rng = &mut self.rng;
            let dev = &mut self.devices[d];
            let Some(record) = dev.record.as_mut() else {
                continue;
            };
            if record.record_id != r#return.record_id || record.version() != r#return.version {
                continue;
            }
            // The officer corrects a note and everyone signs again.
            let replaces = record.version();
            let entry = record
                .items
                .values_mut()
                .next()
                .context("a record with items")?;
            entry.note = Some(format!("按退回意见补正 {}", rng.random::<u16>()));
            let mut blobs = Vec::new();
            sign(record, &mut blobs);
            let amended = record.clone();
            dev.blobs.extend(blobs);
            dev.append(
                EntryPayload::Amended {
                    replaces,
                    record: amended,
                },
                rng,
            );
            self.fault("amendment after a return");
        }
        self.devices[d].cursor = feed.cursor;
        Ok(())
    }

    /// The device's officers go back for a 复查 of `task` (once): every
    /// ordered finding rectified, photographed, everyone signs, sealed.
    fn recheck(&mut self, d: usize, task: &RecheckTask) {
        let rng = &mut self.rng;
        let dev = &mut self.devices[d];
        if dev.rechecks.contains_key(&task.recheck_id) {
            return;
        }
        // Dated the day of the inspection: never before it, and never
        // after the server's today, whatever the device's clock says.
        let mut r = RecheckRecord::new(
            task,
            Uuid::from_u128(rng.random()),
            Utc::now() + dev.skew,
            task.inspection_date,
        );
        let mut blobs = Vec::new();
        let subjects = std::iter::once(PhotoSubject::Gate).chain(
            task.findings
                .iter()
                .map(|f| PhotoSubject::Finding(f.finding_id)),
        );
        for (n, subject) in subjects.enumerate() {
            let bytes = blob_bytes(&format!("recheck-{}-{n}", r.record_id), 2_000);
            let sha = Sha256Hex::of(&bytes);
            blobs.push((sha.clone(), bytes));
            r.photos.push(Photo {
                sha256: sha,
                subject,
                taken_at: r.started_at,
                gps: dev.bundle.target.location,
                gps_time: None,
                bytes: 2_000,
                width: 2048,
                height: 1536,
            });
        }
        for f in &task.findings {
            r.results.insert(
                f.finding_id.to_string(),
                Recheck {
                    outcome: RectificationOutcome::Rectified,
                    note: None,
                },
            );
        }
        let hash = r.content_hash();
        let signers = task
            .team
            .iter()
            .map(|m| {
                let role = if m.role == choucha_shared::plan::MemberRole::Officer {
                    SignerRole::Officer
                } else {
                    SignerRole::Expert
                };
                (role, Some(m.person_id.clone()), m.name.clone())
            })
            .chain(std::iter::once((
                SignerRole::EnterpriseRepresentative,
                None,
                "企业负责人".to_owned(),
            )));
        for (role, person_id, name) in signers {
            let bytes = blob_bytes(&format!("recheck-sig-{}-{name}", r.record_id), 3_000);
            let sha = Sha256Hex::of(&bytes);
            blobs.push((sha.clone(), bytes));
            r.signatures.push(Signature {
                role,
                person_id,
                name,
                image_sha256: sha,
                signed_at: r.started_at,
                content_hash: hash.clone(),
            });
        }
        dev.blobs.extend(blobs);
        dev.append(EntryPayload::RecheckSealed { record: r.clone() }, rng);
        dev.rechecks.insert(task.recheck_id.clone(), r);
        self.fault("复查 sealed");
    }

    /// The supervisor approves or returns one record waiting for review.
    async fn supervise(&mut self) -> anyhow::Result<()> {
        let i = self.pick();
        let waiting: Vec<(String, String)> = sqlx::query_as(
            "SELECT record_id, version FROM records WHERE superseded = 0 AND state = 'received' ORDER BY record_id",
        )
        .fetch_all(self.instance(i).store.raw_pool())
        .await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let (id, version) = &waiting[self.rng.random_range(0..waiting.len())];
        let id: Uuid = id.parse()?;
        let version = Sha256Hex::parse(version)?;
        let actor = Actor::user("审核员");
        let approve = self.rng.random_bool(0.5);
        let store = &self.instance(i).store;
        if approve {
            service::review::decide(store, &actor, &id, &version, Decision::Approve).await?;
            self.approved.insert(id, version);
            self.fault("supervisor approves");
        } else {
            service::review::return_record(
                store,
                &actor,
                &id,
                &version,
                "签字不清，请重新签字",
                BTreeMap::new(),
            )
            .await?;
            self.fault("supervisor returns");
        }
        Ok(())
    }

    async fn step(&mut self) -> anyhow::Result<()> {
        let roll: f64 = self.rng.random();
        let d = self.rng.random_range(0..=self.devices.len());
        if d == self.devices.len() {
            return self.tablet_step(roll).await;
        }
        match roll {
            r if r < 0.15 => self.work(d),
            r if r < 0.45 => self.send(d, false),
            r if r < 0.75 => self.deliver(false).await?,
            r if r < 0.82 => self.pull(d, false).await?,
            r if r < 0.87 => self.supervise().await?,
            r if r < 0.90 => {
                let dev = &mut self.devices[d];
                dev.life += 1;
                dev.upload = None;
                self.fault("device crash");
            }
            r if r < 0.92 => {
                self.crash_server().await?;
                self.fault("server crash");
            }
            r if r < 0.95 => {
                let full = !self.full.load(Ordering::SeqCst);
                self.full.store(full, Ordering::SeqCst);
                if full {
                    self.fault("disk full");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The network heals and the disk has room: every device pulls, sends
    /// and uploads until nothing is left, and the supervisor rests.
    async fn heal(&mut self) -> anyhow::Result<()> {
        self.full.store(false, Ordering::SeqCst);
        for round in 0..400 {
            while !self.wire.is_empty() {
                self.deliver(true).await?;
            }
            let mut idle = true;
            for d in 0..self.devices.len() {
                self.work(d);
                self.pull(d, true).await?;
                let dev = &self.devices[d];
                if (dev.confirmed < dev.log.len() as u64 && dev.blocked.is_empty())
                    || dev.pending_blob().is_some()
                {
                    idle = false;
                    self.send(d, true);
                }
            }
            while self.tablet.net.late() > 0 {
                self.tablet.net.deliver_late(0).await;
            }
            for _ in 0..100 {
                if self.tablet.work()?.is_none() {
                    break;
                }
            }
            self.tablet.sync(false, usize::MAX).await?;
            if !self.tablet.settled()? {
                idle = false;
            }
            if idle && self.wire.is_empty() {
                self.trace(format!("healed after {round} rounds"));
                return Ok(());
            }
        }
        bail!("a device still has work after 400 rounds of a healed network")
    }
}

/// Runs one schedule from `seed`; `Err` names the invariant it broke.
pub async fn run(seed: u64, template: &Template) -> anyhow::Result<Outcome> {
    let scratch = TempDir::new("sim")?;
    let dir = scratch.path().join("server");
    let database_url = template
        .copy_to(&dir)
        .await
        .context("copying the template")?;
    let out = run_in(seed, template, &scratch, &dir, database_url.as_deref()).await;
    if let Some(url) = &database_url {
        pg::try_shared()?.drop_database(url).await?;
    }
    out
}

async fn run_in(
    seed: u64,
    template: &Template,
    scratch: &TempDir,
    dir: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<Outcome> {
    let mut rng = StdRng::seed_from_u64(seed);
    let full = Arc::new(AtomicBool::new(false));
    let mut devices = Vec::new();
    let mut out = Outcome::default();
    for (ctx, bundle, checklist) in &template.devices {
        let skew = match rng.random_range(0..4) {
            0 => Duration::hours(rng.random_range(-5..=5)),
            1 => Duration::days(rng.random_range(-2..=2)),
            _ => Duration::zero(),
        };
        if !skew.is_zero() {
            *out.faults.entry("clock skew").or_default() += 1;
        }
        devices.push(Device {
            ctx: ctx.clone(),
            bundle: bundle.clone(),
            checklist: checklist.clone(),
            skew,
            log: Vec::new(),
            confirmed: 0,
            cursor: 0,
            needs_user: BTreeMap::new(),
            blocked: BTreeMap::new(),
            record: None,
            rechecks: BTreeMap::new(),
            blobs: BTreeMap::new(),
            uploaded: BTreeSet::new(),
            life: 0,
            upload: None,
        });
    }
    let mut servers = Vec::new();
    for _ in 0..template.topology.instances() {
        servers.push(
            open_server(dir, database_url, &full)
                .await
                .context("opening the server")?,
        );
    }
    let (officer, task_id) = &template.tablet;
    let code = servers[0]
        .store
        .create_enrolment(&Actor::user("admin"), officer, Duration::minutes(30))
        .await?;
    let routers = servers
        .iter()
        .map(|s| choucha_sync_server::router(s.clone()))
        .collect();
    let net = Net::new(routers, rng.random());
    let skew = match rng.random_range(0..4) {
        0 => Duration::hours(rng.random_range(-5..=5)),
        _ => Duration::zero(),
    };
    let tablet = Tablet::enrol(scratch.path(), seed, net, &code.code, task_id, skew).await?;
    if !tablet.skew().is_zero() {
        *out.faults.entry("clock skew").or_default() += 1;
    }
    let mut w = World {
        rng,
        servers: servers.into_iter().map(Some).collect(),
        dir: dir.to_owned(),
        database_url: database_url.map(str::to_owned),
        full,
        devices,
        tablet,
        wire: Vec::new(),
        approved: HashMap::new(),
        out,
    };
    // Two rounds of faults, each followed by a healed network: in the
    // second, the records of the first wait for review, and the supervisor
    // approves and returns them while the devices amend.
    for _ in 0..ROUNDS {
        for step in 0..STEPS {
            w.step()
                .await
                .with_context(|| format!("at step {step}: {:?}", w.out.trace.last()))?;
        }
        w.heal().await.context("healing")?;
    }
    check(&mut w).await.context("checking the invariants")?;
    for state in w.servers.iter_mut().filter_map(Option::take) {
        state.store.close().await;
    }
    Ok(w.out)
}

/// The invariants after a healed schedule.
async fn check(w: &mut World) -> anyhow::Result<()> {
    let (mut entries, mut blobs, mut records) = (0, 0, 0);
    let state = w.server();
    let store = &state.store;
    for (d, dev) in w.devices.iter().enumerate() {
        ensure!(
            dev.blocked.is_empty(),
            "device {d}: entries not taken: {:?}",
            dev.blocked
        );
        ensure!(
            dev.needs_user.is_empty(),
            "device {d}: an honest device's entries refused: {:?}",
            dev.needs_user
        );
        ensure!(
            dev.confirmed == dev.log.len() as u64,
            "device {d}: stuck at {} of {}",
            dev.confirmed,
            dev.log.len()
        );
        let held = store.device_log(&dev.ctx.device_id).await?;
        let mine: Vec<(i64, String, String)> = dev
            .log
            .iter()
            .map(|e| (e.index as i64, e.entry_id.to_string(), e.hash.to_string()))
            .collect();
        ensure!(
            held == mine,
            "device {d}: the server's log differs from the device's ({} vs {} entries)",
            held.len(),
            mine.len()
        );
        for sha in dev.blobs.keys() {
            ensure!(
                store.blob_known(sha).await?,
                "device {d}: blob {sha} not registered"
            );
            ensure!(
                state.uploads.store().exists(sha).await?,
                "device {d}: blob {sha} registered but not stored"
            );
        }
        let record = dev
            .record
            .as_ref()
            .context("every device sealed a record")?;
        let versions = store.record_versions(&record.record_id).await?;
        let current: Vec<_> = versions.iter().filter(|v| !v.superseded).collect();
        ensure!(
            current.len() == 1,
            "record {}: {} current versions",
            record.record_id,
            current.len()
        );
        let current = current[0];
        ensure!(
            current.status.version == record.version(),
            "record {}: the server's current version is not the device's last",
            record.record_id
        );
        let expected = match w.approved.get(&record.record_id) {
            Some(v) if *v == record.version() => "approved",
            _ => "received",
        };
        ensure!(
            current.status.state.as_str() == expected,
            "record {}: {} where the rules say {expected} (missing: {:?})",
            record.record_id,
            current.status.state.as_str(),
            current.status.missing
        );
        // Each 复查 is the one that completed its task, and its rectified
        // findings are closed.
        for (recheck_id, r) in &dev.rechecks {
            let stored = store
                .recheck_record(recheck_id)
                .await?
                .with_context(|| format!("复查 {recheck_id}: not on the server"))?;
            ensure!(
                stored.record == *r,
                "复查 {recheck_id}: the server holds another record"
            );
            for finding in r.results.keys() {
                let f = store.finding(finding, Utc::now().date_naive()).await?;
                ensure!(f.closed, "复查 {recheck_id}: finding {finding} not closed");
            }
            records += 1;
        }
        entries += dev.log.len();
        blobs += dev.blobs.len();
        records += versions.len();
    }
    let (e, b, r) = w
        .tablet
        .check(store, state.uploads.store().as_ref(), &w.approved)
        .await?;
    entries += e;
    blobs += b;
    records += r;
    // The projection equals one rebuilt from the records.
    let before = projection(store).await?;
    sqlx::query("DELETE FROM oversight_findings")
        .execute(store.raw_pool())
        .await?;
    sqlx::query("DELETE FROM oversight_records")
        .execute(store.raw_pool())
        .await?;
    store.catch_up_projection().await?;
    let after = projection(store).await?;
    ensure!(
        before == after,
        "the projection differs from one rebuilt from the records:\n  kept:    {before:?}\n  rebuilt: {after:?}"
    );
    w.out.entries = entries;
    w.out.blobs = blobs;
    w.out.records = records;
    Ok(())
}

/// Makes the record's first item that can fail nonconforming: a note, a
/// photo, and a finding under a rectification order due in two weeks.
fn order_rectification(
    record: &mut InspectionRecord,
    checklist: &Checklist,
    blobs: &mut Vec<(Sha256Hex, Vec<u8>)>,
) {
    let Some((item, verdict)) = checklist.items().find_map(|i| {
        let allowed = checklist.allowed_verdicts(i);
        [Verdict::Nonconform, Verdict::Minor]
            .into_iter()
            .find(|v| allowed.contains(v))
            .map(|v| (i.id.clone(), v))
    }) else {
        return;
    };
    let entry = record.items.entry(item.clone()).or_default();
    entry.verdict = Some(verdict);
    entry.note = Some("现场发现不符合要求".into());
    let bytes = blob_bytes(&format!("finding-{}", record.record_id), 2_000);
    let sha = Sha256Hex::of(&bytes);
    blobs.push((sha.clone(), bytes));
    let taken_at = record.started_at;
    record.photos.push(Photo {
        sha256: sha,
        subject: PhotoSubject::Item(item.clone()),
        taken_at,
        gps: record.photos.first().and_then(|p| p.gps),
        gps_time: None,
        bytes: 2_000,
        width: 2048,
        height: 1536,
    });
    let deadline = CivilDate::new(record.inspection_date.date() + Duration::days(14))
        .unwrap_or(record.inspection_date);
    record.findings.push(Finding {
        finding_id: Uuid::from_u128(record.record_id.as_u128() ^ 0xF1),
        item_id: Some(item),
        description: "现场发现不符合要求".into(),
        disposition: Disposition::RectificationOrder {
            order_no: format!("责改〔2026〕{}号", record.record_id.as_u128() % 1000),
            deadline,
            requirements: "限期整改到位".into(),
            follow_up: None,
        },
    });
}

/// The projection's rows a rebuild must reproduce.
async fn projection(store: &Store) -> anyhow::Result<Vec<String>> {
    let records: Vec<(String, String, String, String, String, String, i64)> = sqlx::query_as(
        "SELECT record_id, version, task_id, state, jurisdiction, team_key, findings FROM oversight_records ORDER BY record_id, version",
    )
    .fetch_all(store.raw_pool())
    .await?;
    let tasks: Vec<(String, String)> = sqlx::query_as(
        "SELECT task_id, status FROM oversight_tasks WHERE status <> 'pending' ORDER BY task_id",
    )
    .fetch_all(store.raw_pool())
    .await?;
    let findings: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT finding_id, record_id, version FROM oversight_findings ORDER BY finding_id",
    )
    .fetch_all(store.raw_pool())
    .await?;
    let mut out: Vec<String> = records.iter().map(|r| format!("{r:?}")).collect();
    out.extend(tasks.iter().map(|t| format!("{t:?}")));
    out.extend(findings.iter().map(|f| format!("{f:?}")));
    Ok(out)
}

/// Runs `count` schedules from `first`, stopping at the first that fails
/// (its seed in the error). Returns the faults injected over all of them.
pub async fn run_many(
    topology: Topology,
    first: u64,
    count: u64,
) -> anyhow::Result<(Faults, Outcome)> {
    let template = Template::new(topology).await?;
    let replay = match topology {
        Topology::Sqlite => "",
        Topology::PostgresPair => " --postgres",
    };
    let mut faults = Faults::new();
    let mut total = Outcome::default();
    for seed in first..first + count {
        let out = run(seed, &template).await.map_err(|e| {
            e.context(format!(
                "schedule {seed} failed; replay it with: cargo run --release -p choucha-tests --bin choucha-sim --{replay} --seed {seed}"
            ))
        })?;
        for (k, v) in out.faults {
            *faults.entry(k).or_default() += v;
        }
        total.entries += out.entries;
        total.blobs += out.blobs;
        total.records += out.records;
    }
    Ok((faults, total))
}
