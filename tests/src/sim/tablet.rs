//! The simulation's real tablet: the field app's own engine
//! (`choucha_app_core::App`, its encrypted SQLite store and evidence files,
//! its photo pipeline and signature rendering, and its sync, which reads
//! every answer with the sans-IO client core) over a simulated network
//! into the server's real router, in this process.
//!
//! The network ([`Net`]) drops requests and answers, delivers some twice,
//! holds some back and lets them arrive later (after newer ones), cuts the
//! link after a few requests, and crashes the tablet in the middle of a
//! request: the sync is abandoned where it waits, as when the process is
//! killed, and the app is reopened from its data directory. Every choice
//! comes from the schedule's seed, and the tablet's IDs and clock are
//! seeded too, so a schedule replays byte for byte.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, bail, ensure};
use axum::Router;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;
use tower::ServiceExt;
use uuid::Uuid;

use choucha_app_core::App;
use choucha_app_core::photo::PhotoConfig;
use choucha_shared::checklist::{Evidence, Verdict};
use choucha_shared::plan::MemberRole;
use choucha_shared::record::{PhotoSubject, SignerRole};
use choucha_sync_client::Transport;
use choucha_sync_client::wire::{Body, Method, Request, Response};
use choucha_sync_server::store::Store;

use super::Faults;
use crate::field::{camera_jpeg, scribble};

/// Where the tablet's clock starts: fixed, so that its watermarks, and so
/// its blobs' hashes, are the same in every replay.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 1, 0, 0)
        .single()
        .unwrap_or_else(|| unreachable!("a valid time"))
}

/// The simulated link between the tablet and the server.
#[derive(Clone)]
pub(super) struct Net {
    link: Arc<Mutex<Link>>,
    /// Told when the tablet crashes in the middle of a request.
    crashed: Arc<Notify>,
}

struct Link {
    /// One router per server instance, taken in turn (round robin, as the
    /// load balancer does).
    routers: Vec<Router>,
    turn: usize,
    rng: StdRng,
    faulty: bool,
    /// Requests left before the link drops (a tunnel, a dead spot).
    budget: usize,
    /// Requests held back by the network, to arrive later.
    late: Vec<Request>,
    faults: Faults,
    /// Answers that break an invariant (a 500: the server failed as a
    /// whole where it must answer item by item).
    broken: Vec<String>,
}

/// What the network does with one request.
enum Fate {
    Lost,
    Late,
    /// The tablet crashes; the request reached the server or not.
    Crash {
        delivered: bool,
    },
    Delivered {
        copies: usize,
        answer_lost: bool,
    },
}

impl Net {
    pub(super) fn new(routers: Vec<Router>, seed: u64) -> Self {
        Self {
            link: Arc::new(Mutex::new(Link {
                routers,
                turn: 0,
                rng: StdRng::seed_from_u64(seed),
                faulty: false,
                budget: usize::MAX,
                late: Vec::new(),
                faults: Faults::new(),
                broken: Vec::new(),
            })),
            crashed: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Server instance `i` restarted: requests go to its new router.
    pub(super) fn set_router(&self, i: usize, router: Router) {
        self.lock().routers[i] = router;
    }

    /// The instance the next request reaches.
    fn route(&self) -> Router {
        let mut l = self.lock();
        l.turn = l.turn.wrapping_add(1);
        l.routers[l.turn % l.routers.len()].clone()
    }

    /// Faults and invariant breaks seen so far, handed over once.
    pub(super) fn take_faults(&self) -> (Faults, Vec<String>) {
        let mut l = self.lock();
        (std::mem::take(&mut l.faults), std::mem::take(&mut l.broken))
    }

    pub(super) fn late(&self) -> usize {
        self.lock().late.len()
    }

    /// One held-back request arrives at last (nobody waits for its answer).
    pub(super) async fn deliver_late(&self, pick: usize) {
        let request = {
            let mut l = self.lock();
            if l.late.is_empty() {
                return;
            }
            let at = pick % l.late.len();
            l.late.remove(at)
        };
        self.serve(self.route(), request).await;
    }

    async fn carry(&self, request: Request) -> Result<Response, String> {
        let fate = {
            let mut l = self.lock();
            if l.budget == 0 {
                *l.faults.entry("tablet: link cut").or_default() += 1;
                return Err("网络中断 (link down)".into());
            }
            l.budget -= 1;
            if !l.faulty {
                Fate::Delivered {
                    copies: 1,
                    answer_lost: false,
                }
            } else {
                let roll: f64 = l.rng.random();
                let (fate, kind) = match roll {
                    r if r < 0.06 => (Fate::Lost, "tablet: request lost"),
                    r if r < 0.11 => (Fate::Late, "tablet: request delayed"),
                    r if r < 0.14 => (
                        Fate::Crash {
                            delivered: l.rng.random_bool(0.5),
                        },
                        "tablet: crash mid-sync",
                    ),
                    r if r < 0.18 => (
                        Fate::Delivered {
                            copies: 2,
                            answer_lost: false,
                        },
                        "tablet: request duplicated",
                    ),
                    r if r < 0.26 => (
                        Fate::Delivered {
                            copies: 1,
                            answer_lost: true,
                        },
                        "tablet: answer lost",
                    ),
                    _ => (
                        Fate::Delivered {
                            copies: 1,
                            answer_lost: false,
                        },
                        "",
                    ),
                };
                if !kind.is_empty() {
                    *l.faults.entry(kind).or_default() += 1;
                }
                fate
            }
        };
        match fate {
            Fate::Lost => Err("请求丢失 (request lost)".into()),
            Fate::Late => {
                self.lock().late.push(request);
                Err("请求超时 (timed out)".into())
            }
            Fate::Crash { delivered } => {
                if delivered {
                    self.serve(self.route(), request).await;
                }
                self.crashed.notify_one();
                // The process is gone: nothing after this await runs.
                std::future::pending().await
            }
            Fate::Delivered {
                copies,
                answer_lost,
            } => {
                let mut response = Response::default();
                for _ in 0..copies {
                    response = self.serve(self.route(), request.clone()).await;
                }
                if answer_lost {
                    Err("应答丢失 (answer lost)".into())
                } else {
                    Ok(response)
                }
            }
        }
    }

    /// The server's router handles the request, as over HTTP.
    async fn serve(&self, router: Router, request: Request) -> Response {
        let what = format!("{:?} {}", request.method, request.path);
        let response = match call(router, request).await {
            Ok(r) => r,
            Err(e) => {
                self.lock().broken.push(format!("{what}: {e}"));
                return Response {
                    status: 500,
                    ..Response::default()
                };
            }
        };
        if response.status == 500 {
            let body = String::from_utf8_lossy(&response.body).into_owned();
            self.lock()
                .broken
                .push(format!("{what} answered 500: {body}"));
        }
        response
    }
}

impl Transport for Net {
    async fn send(&self, request: Request) -> Result<Response, String> {
        self.carry(request).await
    }
}

/// One request through the router and its whole answer.
async fn call(router: Router, request: Request) -> anyhow::Result<Response> {
    let method = match request.method {
        Method::Get => axum::http::Method::GET,
        Method::Head => axum::http::Method::HEAD,
        Method::Post => axum::http::Method::POST,
        Method::Patch => axum::http::Method::PATCH,
    };
    let mut b = axum::http::Request::builder()
        .method(method)
        .uri(&request.path);
    if let Some(t) = &request.token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    for (name, value) in &request.headers {
        b = b.header(*name, value);
    }
    let body = match request.body {
        Body::None => axum::body::Body::empty(),
        Body::Json(bytes) => {
            b = b.header("content-type", "application/json");
            axum::body::Body::from(bytes)
        }
        Body::Bytes(bytes) => {
            b = b.header("content-type", "application/offset+octet-stream");
            axum::body::Body::from(bytes)
        }
    };
    let response = router.oneshot(b.body(body)?).await?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await?
        .to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The tablet: the app over its data directory, and what survives it.
pub(super) struct Tablet {
    data: PathBuf,
    key: PathBuf,
    seed: u64,
    /// Incremented by every crash; each life draws IDs from its own range.
    life: u64,
    pub(super) app: App,
    pub(super) net: Net,
    pub(super) task_id: String,
    pub(super) device_id: String,
    clock: DateTime<Utc>,
    skew: Duration,
    shots: u32,
}

impl Tablet {
    /// A new tablet, enrolled with `code` over a fault-free network.
    pub(super) async fn enrol(
        scratch: &Path,
        seed: u64,
        net: Net,
        code: &str,
        task_id: &str,
        skew: Duration,
    ) -> anyhow::Result<Self> {
        let data = scratch.join("tablet");
        let key = scratch.join("tablet.key");
        let app = open(&data, &key, seed, 0)?;
        let e = app
            .enrol_over(&net, "http://sim.invalid", code, "模拟平板")
            .await
            .context("enrolling the tablet")?;
        Ok(Self {
            data,
            key,
            seed,
            life: 0,
            app,
            net,
            task_id: task_id.to_owned(),
            device_id: e.device_id,
            clock: epoch() + skew,
            skew,
            shots: 0,
        })
    }

    /// The tablet's clock: a few seconds per action.
    fn now(&mut self) -> DateTime<Utc> {
        self.clock += Duration::seconds(7);
        self.clock
    }

    /// The process dies between two actions and the app is reopened from
    /// its data directory and key.
    pub(super) fn crash(&mut self) -> anyhow::Result<()> {
        self.life += 1;
        // The old app (its connections) is dropped before the new one opens.
        let placeholder = open(&self.data, &self.key, self.seed, self.life)?;
        drop(std::mem::replace(&mut self.app, placeholder));
        Ok(())
    }

    /// One sync run: over a faulty link with `budget` requests before it
    /// drops, or over a healed one. Returns whether it finished without
    /// error; a crash in the middle reopens the app.
    pub(super) async fn sync(&mut self, faulty: bool, budget: usize) -> anyhow::Result<bool> {
        {
            let mut l = self.net.lock();
            l.faulty = faulty;
            l.budget = budget;
        }
        let crashed = self.net.crashed.clone();
        let net = self.net.clone();
        let outcome = tokio::select! {
            biased;
            _ = crashed.notified() => None,
            r = self.app.sync_over(|_| net) => Some(r),
        };
        self.net.lock().budget = usize::MAX;
        let broken = self.net.lock().broken.clone();
        ensure!(
            broken.is_empty(),
            "the server failed as a whole: {broken:?}"
        );
        match outcome {
            None => {
                self.crash()?;
                Ok(false)
            }
            Some(Ok(report)) => {
                ensure!(
                    report.refused.is_empty() && report.refused_entries == 0,
                    "the honest tablet's entries were refused: {:?}",
                    report.refused
                );
                Ok(true)
            }
            Some(Err(e)) => {
                if !faulty {
                    // Over a healed link only a full disk may still fail.
                    let msg = e.to_string();
                    ensure!(
                        msg.contains("507") || msg.contains("503"),
                        "the tablet's sync failed over a healed link: {msg}"
                    );
                }
                Ok(false)
            }
        }
    }

    /// The officers do the next piece of the inspection on the tablet:
    /// start, answer items (with photos), photograph gate and process, sign,
    /// seal; or reopen a returned record, sign again and seal the
    /// amendment. `None` when there is nothing to do.
    pub(super) fn work(&mut self) -> anyhow::Result<Option<String>> {
        let now = self.now();
        let Some(task) = self
            .app
            .tasks()?
            .into_iter()
            .find(|t| t.task_id == self.task_id)
        else {
            return Ok(None); // not pulled yet
        };
        let Some(id) = task.record_id else {
            let id = self.app.start_task(&self.task_id, now)?;
            return Ok(Some(format!("tablet starts record {id}")));
        };
        if self.app.is_sealed(&id)? {
            if self.app.server_state(&id)?.as_deref() != Some("returned") {
                return Ok(None);
            }
            let r = self.app.start_amendment(&id, now)?;
            return Ok(Some(format!(
                "tablet reopens {id}, returned: {}",
                r.comment
            )));
        }
        let record = self.app.record(&id)?;
        if self.app.latest_return(&id)?.is_some() {
            // The return was for unreadable signatures: only sign again.
            self.sign_everyone(&id)?;
            let v = self.app.seal(&id, self.clock)?;
            return Ok(Some(format!("tablet seals amendment {v} of {id}")));
        }
        let checklist = self.app.checklist(&record.checklist)?;
        let open: Vec<_> = checklist
            .items()
            .filter(|i| !record.items.contains_key(&i.id))
            .take(4)
            .cloned()
            .collect();
        let gps = self.app.task(&self.task_id)?.target.location;
        if !open.is_empty() {
            for item in &open {
                let verdict = if checklist.allowed_verdicts(item).contains(&Verdict::Conform) {
                    Verdict::Conform
                } else {
                    Verdict::Pass
                };
                self.app
                    .set_item(&id, &item.id, Some(verdict), None, self.clock)?;
                if item.evidence.contains(&Evidence::Photo) {
                    self.photo(&id, PhotoSubject::Item(item.id.clone()), gps)?;
                }
            }
            return Ok(Some(format!("tablet answers {} items", open.len())));
        }
        for subject in [PhotoSubject::Gate, PhotoSubject::Process] {
            if !record.photos.iter().any(|p| p.subject == subject) {
                self.photo(&id, subject.clone(), gps)?;
                return Ok(Some(format!("tablet photographs {subject:?}")));
            }
        }
        if record.signatures.is_empty() {
            self.sign_everyone(&id)?;
            return Ok(Some("tablet collects signatures".into()));
        }
        let v = self.app.seal(&id, self.clock)?;
        Ok(Some(format!("tablet seals record {id} as {v}")))
    }

    fn photo(
        &mut self,
        id: &Uuid,
        subject: PhotoSubject,
        gps: Option<choucha_shared::GeoPoint>,
    ) -> anyhow::Result<()> {
        self.shots += 1;
        let jpeg = camera_jpeg(self.shots, 160, 120);
        self.app.take_photo(
            id,
            subject,
            &jpeg,
            gps,
            None,
            &PhotoConfig::default(),
            self.clock,
        )?;
        Ok(())
    }

    fn sign_everyone(&mut self, id: &Uuid) -> anyhow::Result<()> {
        let team = self.app.record(id)?.team;
        let at = self.now();
        let seed = self.shots as f32;
        for (i, m) in team.iter().enumerate() {
            let role = if m.role == MemberRole::Officer {
                SignerRole::Officer
            } else {
                SignerRole::Expert
            };
            self.app.sign_with_capture(
                id,
                role,
                Some(m.person_id.clone()),
                &m.name,
                &scribble(i as f32 + seed),
                at,
            )?;
        }
        self.app.sign_with_capture(
            id,
            SignerRole::EnterpriseRepresentative,
            None,
            "赵企业",
            &scribble(9.0 + seed),
            at,
        )?;
        self.shots += 1;
        Ok(())
    }

    /// Nothing left: the record sealed (not waiting for an amendment),
    /// every entry and blob confirmed, nothing held in the network.
    pub(super) fn settled(&self) -> anyhow::Result<bool> {
        let p = self.app.progress()?;
        let record = self
            .app
            .tasks()?
            .into_iter()
            .find(|t| t.task_id == self.task_id)
            .and_then(|t| t.record_id);
        let done = match record {
            Some(id) => {
                self.app.is_sealed(&id)?
                    && self.app.server_state(&id)?.as_deref() != Some("returned")
            }
            None => false,
        };
        Ok(done && p.entries_left == 0 && p.blobs_left == 0 && self.net.late() == 0)
    }

    /// The invariants for the tablet, after a healed schedule; returns
    /// (entries, blobs, record versions) for the totals.
    pub(super) async fn check(
        &self,
        store: &Store,
        blobs: &dyn choucha_sync_server::blobs::BlobStore,
        approved: &std::collections::HashMap<Uuid, choucha_shared::value::Sha256Hex>,
    ) -> anyhow::Result<(usize, usize, usize)> {
        let refused = self.app.refused_entries()?;
        ensure!(
            refused.is_empty(),
            "tablet: an honest tablet's entries refused: {refused:?}"
        );
        let log = self.app.log()?;
        ensure!(
            log.iter().all(|(_, confirmed)| *confirmed),
            "tablet: stuck with unconfirmed entries"
        );
        let held = store.device_log(&self.device_id).await?;
        let mine: Vec<(i64, String, String)> = log
            .iter()
            .map(|(e, _)| (e.index as i64, e.entry_id.to_string(), e.hash.to_string()))
            .collect();
        ensure!(
            held == mine,
            "tablet: the server's log differs from the tablet's ({} vs {} entries)",
            held.len(),
            mine.len()
        );
        let id = self
            .app
            .tasks()?
            .into_iter()
            .find(|t| t.task_id == self.task_id)
            .and_then(|t| t.record_id)
            .context("tablet: no record")?;
        let record = self.app.record(&id)?;
        let hashes: Vec<_> = record.blob_hashes().cloned().collect();
        for sha in &hashes {
            ensure!(
                store.blob_known(sha).await?,
                "tablet: blob {sha} not registered"
            );
            ensure!(
                blobs.exists(sha).await?,
                "tablet: blob {sha} registered but not stored"
            );
        }
        let versions = store.record_versions(&id).await?;
        let current: Vec<_> = versions.iter().filter(|v| !v.superseded).collect();
        ensure!(
            current.len() == 1,
            "tablet record {id}: {} current versions",
            current.len()
        );
        let current = current[0];
        ensure!(
            current.status.version == record.version(),
            "tablet record {id}: the server's current version is not the tablet's last"
        );
        let expected = match approved.get(&id) {
            Some(v) if *v == record.version() => "approved",
            _ => "received",
        };
        let state = current.status.state.as_str();
        ensure!(
            state == expected,
            "tablet record {id}: {state} where the rules say {expected} (missing: {:?})",
            current.status.missing
        );
        let shown = self.app.server_state(&id)?;
        if shown.as_deref() != Some(state) {
            bail!("tablet record {id}: the tablet shows {shown:?}, the server holds {state}");
        }
        Ok((log.len(), hashes.len(), versions.len()))
    }

    pub(super) fn skew(&self) -> Duration {
        self.skew
    }
}

fn open(data: &Path, key: &Path, seed: u64, life: u64) -> anyhow::Result<App> {
    let app = App::open(data, key).context("opening the tablet's store")?;
    app.seed_ids(seed, life << 32);
    Ok(app)
}
