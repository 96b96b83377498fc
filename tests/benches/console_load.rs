//! The console at scale: 1 million generated inspection records on SQLite
//! and on PostgreSQL. Reports p50/p99 of the dashboard and of review-queue
//! pages twice: the `oversight` query functions the console's pages call,
//! and the pages themselves fetched over HTTP from the real server
//! (`choucha-server-it`) by a supervisor logged in through the login form.
//! Then streams the public feed of 1 million published results over HTTP
//! from a separate server process whose peak RSS is read from `/proc`.
//!
//! ```sh
//! cargo bench -p choucha-tests --bench console_load
//! ```
//!
//! `CHOUCHA_CONSOLE_RECORDS` overrides the number of records,
//! `CHOUCHA_CONSOLE_BACKENDS` the backends (`sqlite,postgres`). Without
//! `--bench` (`cargo test --benches`) it is a smoke run of 3,000 records.
//! Results: `docs/benchmarks.md`, section "Console".
//!
//! # What is generated
//!
//! 50 plans (one per 20,000 records) of six strata over eight towns, one
//! draw each, a task per record with a two-officer team drawn from the
//! town's 50 officers, and a sealed record per task (three item verdicts,
//! gate and process photos, two signatures; one in ten with a rectification
//! order), inspection dates spread over 2023–2025, review states 70 %
//! approved, 10 % received, 5 % each has-issues / returned / incomplete.
//! The directory, tasks and records are written with bulk SQL (the sync
//! path's per-entry checks are not what is measured here); the oversight
//! projection is then built by the real indexer (`Store::catch_up_projection`), and
//! the register gets one published result per record.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use choucha_shared::TargetCategory;
use choucha_shared::checklist::{ChecklistRef, Verdict};
use choucha_shared::directory::TargetKey;
use choucha_shared::plan::{MemberRole, TeamMember};
use choucha_shared::record::{
    Disposition, Finding, InspectionRecord, ItemEntry, Photo, PhotoSubject, Signature, SignerRole,
};
use choucha_shared::value::{CivilDate, GeoPoint, Sha256Hex, Uscc};
use choucha_sync_server::console::disclosure::feed_response;
use choucha_sync_server::oversight::disclosure::{self, FeedFormat};
use choucha_sync_server::store::Store;
use choucha_sync_server::store::dashboard::{QueueCursor, QueueFilter, Scope};
use choucha_tests::console::Session;
use choucha_tests::{TempDir, TestServer, pg};
use chrono::{NaiveDate, TimeZone, Utc};
use uuid::Uuid;

const TOWNS: [(&str, f64, f64); 8] = choucha_sync_server::demo::TOWNS;
const STRATA: [(&str, TargetCategory); 6] = [
    ("JCJG", TargetCategory::TestingBody),
    ("SCXK", TargetCategory::ProductionLicence),
    ("CCC", TargetCategory::Ccc),
    ("ZYRZ", TargetCategory::VoluntaryCertification),
    ("JL", TargetCategory::Metrology),
    ("BZ", TargetCategory::Standard),
];
const OFFICERS_PER_TOWN: u64 = 50;
const RECORDS_PER_PLAN: u64 = 20_000;
const CHILD_ENV: &str = "CHOUCHA_CONSOLE_FEED_CHILD";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_usize(name: &str) -> anyhow::Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v.trim().parse().map_err(|_| {
            anyhow::anyhow!("{name} must be a positive number, got {v}")
        })?)),
        Err(_) => Ok(None),
    }
}

/// Inserts rows with multi-row VALUES, `per` rows per statement, one
/// transaction per call.
async fn bulk(
    store: &Store,
    table_and_cols: &str,
    ncols: usize,
    rows: Vec<Vec<Val>>,
) -> anyhow::Result<()> {
    let per = 200;
    let mut tx = store.raw_pool().begin().await?;
    for chunk in rows.chunks(per) {
        let mut sql = format!("INSERT INTO {table_and_cols} VALUES ");
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..ncols {
                if c > 0 {
                    sql.push(',');
                }
                n += 1;
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for row in chunk {
            for v in row {
                q = match v {
                    Val::T(s) => q.bind(s.clone()),
                    Val::N(x) => q.bind(*x),
                    Val::R(x) => q.bind(*x),
                    Val::Null => q.bind(Option::<String>::None),
                    Val::NullInt => q.bind(Option::<i64>::None),
                };
            }
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Clone)]
enum Val {
    T(String),
    N(i64),
    R(f64),
    Null,
    NullInt,
}

fn t(s: impl Into<String>) -> Val {
    Val::T(s.into())
}

fn officer_id(town: usize, k: u64) -> String {
    format!("渝{town:02}{k:04}")
}

/// Generates `n` records (and what they hang on) into an empty store.
async fn generate(store: &Store, n: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let now = choucha_sync_server::store::now();
    let towns: Vec<String> = TOWNS.iter().map(|t| t.0.to_owned()).collect();
    store.add_jurisdictions(&towns).await?;
    // Targets: one per five records, reused across plans.
    let n_targets = (n / 5).max(STRATA.len() as u64 * 2);
    let mut targets = Vec::new();
    let mut target_rows = Vec::new();
    for i in 0..n_targets {
        let (_, category) = STRATA[(i % 6) as usize];
        let (town, lat, lon) = TOWNS[((i / 6) % 8) as usize];
        let key = if category.is_standard() {
            format!("T/CQ {i:07}-2023")
        } else {
            Uscc::with_check_char(&format!("91500000{i:09}"))?.to_string()
        };
        let name = format!("重庆市{town}第{i}号检查对象有限公司");
        let jitter = |k: u64| ((i * 7919 + k) % 1000) as f64 / 1000.0 * 0.01;
        let issuer = if category.is_standard() {
            Val::T(format!("重庆市第{i}号行业协会"))
        } else {
            Val::Null
        };
        target_rows.push(vec![
            t(category.code()),
            t(key.clone()),
            t(name.clone()),
            t(town),
            Val::Null,
            Val::R(lat + jitter(1)),
            Val::R(lon + jitter(2)),
            issuer,
            Val::Null,
            t("{}"),
            t("-"),
            Val::N(1),
            Val::NullInt,
            t(now.clone()),
        ]);
        targets.push((category, key, name, town, lat, lon));
        if target_rows.len() == 10_000 {
            bulk(
                store,
                "targets (category, target_key, name, jurisdiction, address, lat, lon, issuer, issuer_uscc, data, row_hash, version, import_id, updated_at)",
                14,
                std::mem::take(&mut target_rows),
            )
            .await?;
        }
    }
    bulk(
        store,
        "targets (category, target_key, name, jurisdiction, address, lat, lon, issuer, issuer_uscc, data, row_hash, version, import_id, updated_at)",
        14,
        target_rows,
    )
    .await?;
    let plans = n.div_ceil(RECORDS_PER_PLAN);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut made = 0u64;
    for p in 0..plans {
        let plan_id = format!("BENCH-{p:03}");
        let draw_id = format!("{plan_id}-D1");
        let year = 2023 + (p * 3 / plans) as i32;
        sqlx::query("INSERT INTO plans (plan_id, spec, created_by, created_at) VALUES ($1, '{}', 'bench', $2)")
            .bind(&plan_id)
            .bind(&now)
            .execute(store.raw_pool())
            .await?;
        sqlx::query(
            "INSERT INTO draws (draw_id, plan_id, seq, algorithm, snapshot_hash, seed, seed_entered_by, seed_entered_at) \
             VALUES ($1, $2, 1, 1, '-', 'bench seed 0123456789', 'bench', $3)",
        )
        .bind(&draw_id)
        .bind(&plan_id)
        .bind(format!("{year}-01-01T00:00:00.000000Z"))
        .execute(store.raw_pool())
        .await?;
        let count = RECORDS_PER_PLAN.min(n - made);
        let mut task_rows = Vec::with_capacity(count as usize);
        let mut record_rows = Vec::with_capacity(count as usize);
        let mut disclosure_rows = Vec::with_capacity(count as usize);
        for k in 0..count {
            let i = made + k;
            let target = &targets[(i * 7 % n_targets) as usize];
            let (category, key, name, town, lat, lon) = target;
            let stratum = STRATA
                .iter()
                .find(|s| s.1 == *category)
                .map(|s| s.0)
                .unwrap_or("JCJG");
            let town_ix = TOWNS.iter().position(|x| x.0 == *town).unwrap_or(0);
            let a = rng.below(OFFICERS_PER_TOWN);
            let b = (a + 1 + rng.below(OFFICERS_PER_TOWN - 1)) % OFFICERS_PER_TOWN;
            let team: Vec<TeamMember> = [a, b]
                .iter()
                .map(|o| TeamMember {
                    role: MemberRole::Officer,
                    person_id: officer_id(town_ix, *o),
                    name: format!("执法员{town_ix}-{o}"),
                })
                .collect();
            let task_id = format!("{draw_id}-{k:06}");
            task_rows.push(vec![
                t(task_id.clone()),
                t(draw_id.clone()),
                Val::N(k as i64),
                t(stratum),
                t(category.code()),
                t(key.clone()),
                t("bench"),
                Val::N(1),
                Val::Null,
                t(serde_json::to_string(&team)?),
            ]);
            let day = NaiveDate::from_ymd_opt(year, 1, 1)
                .context("date")?
                .checked_add_days(chrono::Days::new(rng.below(360)))
                .context("date")?;
            let start = Utc.from_utc_datetime(
                &day.and_hms_opt(1 + rng.below(8) as u32, 0, 0)
                    .context("time")?,
            );
            let gps = GeoPoint::new(*lat, *lon, Some(5.0)).ok();
            let photo = |subject: PhotoSubject, m: i64, s: u64| Photo {
                sha256: Sha256Hex::of(format!("photo-{i}-{s}").as_bytes()),
                subject,
                taken_at: start + chrono::Duration::minutes(m),
                gps,
                gps_time: None,
                bytes: 400_000,
                width: 2048,
                height: 1536,
            };
            let mut record = InspectionRecord {
                format: 1,
                record_id: Uuid::from_u128(u128::from(i) + 1),
                task_id: task_id.clone(),
                target: TargetKey(key.clone()),
                target_name: name.clone(),
                category: *category,
                checklist: ChecklistRef {
                    id: "bench".into(),
                    version: 1,
                },
                team: team.clone(),
                started_at: start,
                inspection_date: CivilDate::new(day)?,
                items: ["1.1", "1.2", "2.1"]
                    .iter()
                    .map(|id| {
                        (
                            (*id).to_owned(),
                            ItemEntry {
                                verdict: Some(Verdict::Conform),
                                note: None,
                            },
                        )
                    })
                    .collect(),
                photos: vec![
                    photo(PhotoSubject::Gate, 1, 0),
                    photo(PhotoSubject::Process, 20, 1),
                ],
                findings: Vec::new(),
                signatures: Vec::new(),
                refusal: None,
                outcome: Default::default(),
            };
            if i % 10 == 3 {
                record.findings.push(Finding {
                    finding_id: Uuid::from_u128((u128::from(i) + 1) << 64),
                    item_id: Some(["1.1", "1.2", "2.1"][(i % 3) as usize].to_owned()),
                    description: "计量器具未按期检定".into(),
                    disposition: Disposition::RectificationOrder {
                        order_no: format!("责改〔{year}〕{i}号"),
                        deadline: CivilDate::new(day + chrono::Duration::days(15))?,
                        requirements: "限期送检".into(),
                        follow_up: None,
                    },
                });
            }
            let signed = record.content_hash();
            record.signatures = team
                .iter()
                .map(|m| Signature {
                    role: SignerRole::Officer,
                    person_id: Some(m.person_id.clone()),
                    name: m.name.clone(),
                    image_sha256: Sha256Hex::of(format!("sig-{i}-{}", m.person_id).as_bytes()),
                    signed_at: start + chrono::Duration::minutes(60),
                    content_hash: signed.clone(),
                })
                .collect();
            let hash = record.version();
            let state = match rng.below(20) {
                0..=13 => "approved",
                14 | 15 => "received",
                16 => "has_issues",
                17 => "returned",
                _ => "incomplete",
            };
            let received = (start + chrono::Duration::days(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            record_rows.push(vec![
                t(record.record_id.to_string()),
                t(hash.to_string()),
                t(task_id),
                t(format!("DEV-BENCH-{town_ix}")),
                Val::Null,
                Val::N(0),
                t(state),
                t("[]"),
                t("[]"),
                t(serde_json::to_string(&record)?),
                t(received.clone()),
            ]);
            disclosure_rows.push(vec![
                t(record.record_id.to_string()),
                t(hash.to_string()),
                t(key.clone()),
                t(name.clone()),
                if category.is_standard() {
                    Val::Null
                } else {
                    t(key.clone())
                },
                t(format!("{}监督检查", category.label_zh())),
                t(day.format("%Y-%m-%d").to_string()),
                t("重庆高新区市场监督管理局"),
                t(if record.findings.is_empty() {
                    "未发现问题"
                } else {
                    "发现问题已责令改正"
                }),
                t((day + chrono::Duration::days(28))
                    .format("%Y-%m-%d")
                    .to_string()),
                t(received),
                t("bench"),
            ]);
        }
        bulk(
            store,
            "tasks (task_id, draw_id, seq, stratum_id, category, target_key, checklist_id, checklist_version, due, team)",
            10,
            task_rows,
        )
        .await?;
        for chunk in record_rows.chunks(5_000) {
            bulk(
                store,
                "records (record_id, version, task_id, device_id, replaces, superseded, state, missing, flags, record, received_at)",
                11,
                chunk.to_vec(),
            )
            .await?;
        }
        for chunk in disclosure_rows.chunks(5_000) {
            bulk(
                store,
                "disclosures (record_id, version, target_key, target_name, uscc, matter, inspection_date, authority, result, deadline, published_at, published_by)",
                12,
                chunk.to_vec(),
            )
            .await?;
        }
        made += count;
        if p % 10 == 9 {
            eprintln!("  generated {made} records in {:.0?}", started.elapsed());
        }
    }
    let gen_time = started.elapsed();
    let t0 = Instant::now();
    let indexed = store.catch_up_projection().await?;
    println!(
        "  generated {n} records in {:.1} s; indexed {} in {:.1} s ({:.0} records/s)",
        gen_time.as_secs_f64(),
        indexed.len(),
        t0.elapsed().as_secs_f64(),
        indexed.len() as f64 / t0.elapsed().as_secs_f64()
    );
    // The register holds a result for every record (for the feed); the
    // due list should see only the approved ones as published.
    sqlx::query("UPDATE oversight_records SET disclosed = 1 WHERE state = 'approved'")
        .execute(store.raw_pool())
        .await?;
    sqlx::query("ANALYZE").execute(store.raw_pool()).await?;
    Ok(())
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[i]
}

fn report(name: &str, mut s: Vec<Duration>) -> Duration {
    let p50 = percentile(&mut s, 0.50);
    let p99 = percentile(&mut s, 0.99);
    let max = *s.last().unwrap_or(&Duration::ZERO);
    println!(
        "  {name:<44} n={:<4} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        s.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
    p99
}

async fn measure(store: &Store, n: u64, iterations: usize) -> anyhow::Result<()> {
    let today = NaiveDate::from_ymd_opt(2026, 11, 24).context("date")?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Warm up caches once (as a running server would be).
    store.dashboard(&Scope::default(), today, 20).await?;
    let plans = n.div_ceil(RECORDS_PER_PLAN);
    let mut s = Vec::new();
    for _ in 0..iterations {
        let scope = Scope {
            plan_id: Some(format!("BENCH-{:03}", rng.below(plans))),
            town: None,
        };
        let t0 = Instant::now();
        let d = store.dashboard(&scope, today, 20).await?;
        s.push(t0.elapsed());
        assert!(d.total.planned > 0);
    }
    report("dashboard, one plan", s);
    let mut s = Vec::new();
    for _ in 0..iterations {
        let scope = Scope {
            plan_id: Some(format!("BENCH-{:03}", rng.below(plans))),
            town: Some(TOWNS[rng.below(8) as usize].0.to_owned()),
        };
        let t0 = Instant::now();
        store.dashboard(&scope, today, 20).await?;
        s.push(t0.elapsed());
    }
    report("dashboard, one plan, one town (town lead)", s);
    let mut s = Vec::new();
    for _ in 0..iterations.min(50) {
        let t0 = Instant::now();
        let d = store.dashboard(&Scope::default(), today, 20).await?;
        s.push(t0.elapsed());
        assert_eq!(d.total.planned as u64, n);
    }
    report("dashboard, all plans (all records)", s);

    // Cursors at random depths: a random record's position.
    let mut cursors = Vec::new();
    for _ in 0..64 {
        let id = Uuid::from_u128(u128::from(rng.below(n)) + 1).to_string();
        let row: (String, String) = sqlx::query_as(
            "SELECT inspection_date, version FROM oversight_records WHERE record_id = $1",
        )
        .bind(&id)
        .fetch_one(store.raw_pool())
        .await?;
        cursors.push(QueueCursor {
            inspection_date: row.0,
            record_id: id,
            version: row.1,
        });
    }
    let teams: Vec<(String,)> = sqlx::query_as(
        "SELECT team_key FROM oversight_records WHERE record_id = $1 OR record_id = $2",
    )
    .bind(Uuid::from_u128(5).to_string())
    .bind(Uuid::from_u128(n as u128 / 2).to_string())
    .fetch_all(store.raw_pool())
    .await?;
    let states = [
        "received",
        "has_issues",
        "returned",
        "approved",
        "incomplete",
    ];
    let mut all = Vec::new();
    for (label, make) in [
        ("queue, no filter", 0),
        ("queue, town", 1),
        ("queue, state", 2),
        ("queue, town + state", 3),
        ("queue, team", 4),
        ("queue, date range + state", 5),
    ] {
        let mut s = Vec::new();
        for it in 0..iterations {
            let town = TOWNS[rng.below(8) as usize].0.to_owned();
            let state = states[rng.below(5) as usize].to_owned();
            let filter = match make {
                0 => QueueFilter::default(),
                1 => QueueFilter {
                    town: Some(town),
                    ..Default::default()
                },
                2 => QueueFilter {
                    state: Some(state),
                    ..Default::default()
                },
                3 => QueueFilter {
                    town: Some(town),
                    state: Some(state),
                    ..Default::default()
                },
                4 => QueueFilter {
                    team: Some(teams[it % teams.len()].0.clone()),
                    ..Default::default()
                },
                _ => {
                    let from = NaiveDate::from_ymd_opt(
                        2023 + rng.below(3) as i32,
                        1 + rng.below(12) as u32,
                        1,
                    )
                    .context("date")?;
                    QueueFilter {
                        state: Some(state),
                        from: Some(from),
                        to: Some(from + chrono::Duration::days(30)),
                        ..Default::default()
                    }
                }
            };
            // Half first pages, half deep pages.
            let after = (it % 2 == 1).then(|| &cursors[it % cursors.len()]);
            let t0 = Instant::now();
            let page = store.review_queue(&filter, after, 50).await?;
            let e = t0.elapsed();
            s.push(e);
            all.push(e);
            if make == 0 && after.is_none() {
                assert_eq!(page.rows.len(), 50);
            }
        }
        report(label, s);
    }
    report("queue, all shapes", all);
    let mut s = Vec::new();
    for _ in 0..iterations.min(50) {
        let t0 = Instant::now();
        disclosure::due_list(
            store,
            &choucha_shared::calendar::WorkCalendar::china_default(),
            None,
            today,
            50,
        )
        .await?;
        s.push(t0.elapsed());
    }
    report("publication due/overdue list", s);
    Ok(())
}

/// Adds a supervisor with the server's own command line; returns the
/// generated password.
fn add_supervisor(data_dir: &Path, url: &str, username: &str) -> anyhow::Result<String> {
    let out = Command::new(choucha_tests::server_binary()?)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["user", "add", username, "--role", "supervisor"])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .context("running choucha-server user add")?;
    if !out.status.success() {
        bail!(
            "user add {username} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("password: ").map(str::to_owned))
        .context("user add printed no password")
}

/// GETs `path` as the session's user; fails unless 200 with `marker` in
/// the page. Returns the time to the last byte and the page's size.
async fn get_page(
    session: &Session,
    path: &str,
    marker: &str,
) -> anyhow::Result<(Duration, usize)> {
    let t0 = Instant::now();
    let (status, body) = session.get(path).await?;
    let e = t0.elapsed();
    if status != reqwest::StatusCode::OK || !body.contains(marker) {
        bail!(
            "GET {path}: {status}, {} bytes, without {marker}",
            body.len()
        );
    }
    Ok((e, body.len()))
}

/// The same pages as the console shows them: the real server on the
/// generated database, a supervisor logged in through the login form, and
/// the dashboard and review-queue pages timed over HTTP (query, rendering
/// and transfer of the whole page).
async fn measure_pages(
    store: &Store,
    url: &str,
    data_dir: &Path,
    n: u64,
    iterations: usize,
) -> anyhow::Result<()> {
    let password = add_supervisor(data_dir, url, "bench-zhiliangke")?;
    let server = TestServer::start_in(data_dir, Some(url))?;
    let session = Session::login(&server.base_url, "bench-zhiliangke", &password).await?;
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let plans = n.div_ceil(RECORDS_PER_PLAN);
    // Warm up once, as a running server would be.
    get_page(&session, "/console/dashboard?plan=*", "progress-total").await?;
    let mut s = Vec::new();
    let mut size = 0;
    for _ in 0..iterations {
        let plan = format!("BENCH-{:03}", rng.below(plans));
        let (e, len) = get_page(
            &session,
            &format!("/console/dashboard?plan={plan}"),
            "progress-team",
        )
        .await?;
        s.push(e);
        size = size.max(len);
    }
    report(
        &format!("GET dashboard page, one plan ({} KiB)", size / 1024),
        s,
    );
    let mut s = Vec::new();
    for _ in 0..iterations {
        let plan = format!("BENCH-{:03}", rng.below(plans));
        let town = TOWNS[rng.below(8) as usize].0;
        let (e, _) = get_page(
            &session,
            &format!("/console/dashboard?plan={plan}&town={town}"),
            "progress-team",
        )
        .await?;
        s.push(e);
    }
    report("GET dashboard page, one plan, one town", s);
    let mut s = Vec::new();
    for _ in 0..iterations.min(50) {
        let (e, _) = get_page(&session, "/console/dashboard?plan=*", "progress-total").await?;
        s.push(e);
    }
    report("GET dashboard page, all plans", s);
    // Deep pages start after a random record, as the "next" link does.
    let mut cursors = Vec::new();
    for _ in 0..64 {
        let id = Uuid::from_u128(u128::from(rng.below(n)) + 1).to_string();
        let (date, version): (String, String) = sqlx::query_as(
            "SELECT inspection_date, version FROM oversight_records WHERE record_id = $1",
        )
        .bind(&id)
        .fetch_one(store.raw_pool())
        .await?;
        cursors.push(
            QueueCursor {
                inspection_date: date,
                record_id: id,
                version,
            }
            .to_token(),
        );
    }
    let states = [
        "received",
        "has_issues",
        "returned",
        "approved",
        "incomplete",
    ];
    let mut s = Vec::new();
    for it in 0..iterations {
        let path = match it % 3 {
            0 => "/console/review".to_owned(),
            1 => format!("/console/review?town={}", TOWNS[rng.below(8) as usize].0),
            _ => format!("/console/review?state={}", states[rng.below(5) as usize]),
        };
        let (e, _) = get_page(&session, &path, "href=\"/console/records/").await?;
        s.push(e);
    }
    report("GET review queue page, first (none/town/state)", s);
    let mut s = Vec::new();
    for it in 0..iterations {
        let after = &cursors[it % cursors.len()];
        let path = match it % 3 {
            0 => format!("/console/review?after={after}"),
            1 => format!(
                "/console/review?town={}&after={after}",
                TOWNS[rng.below(8) as usize].0
            ),
            _ => format!(
                "/console/review?state={}&after={after}",
                states[rng.below(5) as usize]
            ),
        };
        let (e, _) = get_page(&session, &path, "queue-filter").await?;
        s.push(e);
    }
    report("GET review queue page, deep (none/town/state)", s);
    drop(server);
    Ok(())
}

/// Only the public register, `n` results (for the feed measurement alone).
async fn feed_register(store: &Store, n: u64) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut rows = Vec::with_capacity(5_000);
    for i in 0..n {
        rows.push(vec![
            t(Uuid::from_u128(u128::from(i) + 1).to_string()),
            t(Sha256Hex::of(&i.to_le_bytes()).to_string()),
            t(format!("91500000{i:09}")),
            t(format!("重庆市第{i}号检查对象有限公司")),
            t(format!("91500000{i:09}X")),
            t("检验检测机构监督检查"),
            t("2024-05-01"),
            t("重庆高新区市场监督管理局"),
            t("未发现问题"),
            t("2024-05-30"),
            t("2024-05-20T02:00:00.000000Z"),
            t("bench"),
        ]);
        if rows.len() == 5_000 {
            bulk(
                store,
                "disclosures (record_id, version, target_key, target_name, uscc, matter, inspection_date, authority, result, deadline, published_at, published_by)",
                12,
                std::mem::take(&mut rows),
            )
            .await?;
        }
    }
    bulk(
        store,
        "disclosures (record_id, version, target_key, target_name, uscc, matter, inspection_date, authority, result, deadline, published_at, published_by)",
        12,
        rows,
    )
    .await?;
    println!(
        "  register of {n} results written in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The child: serves the feed of the store at `url` and prints its port.
async fn serve_feed(url: &str) -> anyhow::Result<()> {
    let dir = TempDir::new("console-feed-child")?;
    let store = Store::open(Some(url), dir.path()).await?;
    let s1 = store.clone();
    let s2 = store.clone();
    let app = axum::Router::new()
        .route(
            "/feed.json",
            axum::routing::get(move || {
                let s = s1.clone();
                async move { feed_response(s, FeedFormat::Json) }
            }),
        )
        .route(
            "/feed.csv",
            axum::routing::get(move || {
                let s = s2.clone();
                async move { feed_response(s, FeedFormat::Csv) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("PORT {}", listener.local_addr()?.port());
    axum::serve(listener, app).await?;
    Ok(())
}

fn vm_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .context("no such /proc status line")
}

async fn measure_feed(url: &str, n: u64) -> anyhow::Result<()> {
    let mut child = Command::new(std::env::current_exe()?)
        .env(CHILD_ENV, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .context("child did not print its port")?
        .parse()?;
    let result = async {
        let client = reqwest::Client::new();
        let base_rss = vm_kib(pid, "VmRSS:")?;
        for (path, rows_of) in [("/feed.json", "\"seq\":"), ("/feed.csv", "\n")] {
            let t0 = Instant::now();
            let mut resp = client
                .get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await?
                .error_for_status()?;
            let mut bytes = 0u64;
            let mut rows = 0u64;
            let needle = rows_of.as_bytes();
            // A needle may straddle two chunks: keep the tail of the last.
            let mut carry: Vec<u8> = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                bytes += chunk.len() as u64;
                carry.extend_from_slice(&chunk);
                rows += carry.windows(needle.len()).filter(|w| *w == needle).count() as u64;
                let keep = carry.len().min(needle.len() - 1);
                carry.drain(..carry.len() - keep);
            }
            let rows = if path.ends_with(".csv") {
                rows - 1
            } else {
                rows
            };
            if rows != n {
                bail!("{path}: streamed {rows} results, expected {n}");
            }
            println!(
                "  feed {path:<11} {rows} results, {:.0} MB in {:.1} s ({:.0} results/s)",
                bytes as f64 / 1e6,
                t0.elapsed().as_secs_f64(),
                rows as f64 / t0.elapsed().as_secs_f64()
            );
        }
        let hwm = vm_kib(pid, "VmHWM:")?;
        println!(
            "  feed server peak RSS {:.1} MiB (idle {:.1} MiB)",
            hwm as f64 / 1024.0,
            base_rss as f64 / 1024.0
        );
        Ok::<(), anyhow::Error>(())
    }
    .await;
    child.kill()?;
    child.wait()?;
    result
}

async fn run(backend: &str, n: u64, iterations: usize) -> anyhow::Result<()> {
    println!("== {backend}: {n} records");
    let dir = TempDir::new("console-load")?;
    let _cluster;
    let url = match backend {
        "sqlite" => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        ),
        "postgres" => {
            let c = pg::PgCluster::start()?;
            let url = c.create_database().await?;
            _cluster = c;
            url
        }
        other => bail!("unknown backend {other}"),
    };
    let store = Store::open(Some(&url), dir.path()).await?;
    if std::env::var("CHOUCHA_CONSOLE_FEED_ONLY").is_ok() {
        feed_register(&store, n).await?;
    } else {
        generate(&store, n).await?;
        measure(&store, n, iterations).await?;
        measure_pages(&store, &url, dir.path(), n, iterations).await?;
    }
    store.raw_pool().close().await;
    measure_feed(&url, n).await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Ok(url) = std::env::var(CHILD_ENV) {
        return rt.block_on(serve_feed(&url));
    }
    let bench = std::env::args().any(|a| a == "--bench");
    let n = env_usize("CHOUCHA_CONSOLE_RECORDS")?.unwrap_or(if bench { 1_000_000 } else { 3_000 });
    let iterations = if bench { 200 } else { 10 };
    let backends =
        std::env::var("CHOUCHA_CONSOLE_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    for b in backends.split(',') {
        rt.block_on(run(b.trim(), n, iterations))?;
    }
    Ok(())
}
