//! Scale-out, side by side in one run: the same load against
//!
//! * (a) one instance on SQLite with evidence on its disk,
//! * (b) one instance on PostgreSQL with evidence in S3 (`s3s-fs`),
//! * (c) two instances on that PostgreSQL and S3 behind HAProxy
//!   (`docs/deploy/haproxy.cfg`, round robin, no stickiness),
//!
//! each with 1,000 simulated devices that push one full inspection at once
//! (60 log entries, 12 photos of 400 KB, 3–4 signatures) over loopback.
//! Reported per deployment: time until every record is `received`,
//! records/s, MB/s, push/PATCH/pull p50/p99, peak RSS of every process,
//! PostgreSQL connections in use (sampled), entries lost or duplicated
//! (every device's log against the server's), failures, and where the CPU
//! went (each process's CPU seconds during the run, PostgreSQL's backends
//! summed under the postmaster). The loopback-copy yardstick is timed in the
//! same run.
//!
//! ```sh
//! cargo bench -p choucha-tests --bench scale_out
//! ```
//!
//! `CHOUCHA_SCALE_DEVICES` overrides the device count. With
//! `CHOUCHA_SCALE_PERF_DIR` set, `perf record -a -g` samples the whole
//! machine during each timed run into that directory (`a.data`, `b.data`,
//! `c.data`), for `perf report --sort comm,dso`. Without `--bench`
//! (`cargo test --benches`) it is a smoke run of 4 devices. Results:
//! `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use choucha_tests::cluster::Cluster;
use choucha_tests::loadgen::{self, Delivery, LoadConfig, Report};
use choucha_tests::s3::S3Server;
use choucha_tests::{TempDir, TestServer, pg};

/// One deployment under test, with the processes to watch.
struct Deployment {
    name: &'static str,
    base_url: String,
    admin_token: String,
    /// (label, pid) of every process the deployment runs, PostgreSQL aside.
    processes: Vec<(String, u32)>,
    /// Each instance's own address (not the balancer's), for its metrics.
    instance_urls: Vec<String>,
    database_url: Option<String>,
    _keep: Box<dyn std::any::Any>,
}

/// What one deployment did.
struct Measured {
    name: &'static str,
    report: Report,
    delivery: Delivery,
    /// (label, peak RSS in KiB, CPU during the run).
    processes: Vec<(String, Option<u64>, Option<Duration>)>,
    /// PostgreSQL backends and their CPU during the run, when used.
    postgres_cpu: Option<Duration>,
    pg_connections_max: Option<i64>,
    loadgen_cpu: Option<Duration>,
    /// Pull p50 and p99 inside the instances (their own latency
    /// histograms: the upper bound of the bucket, in seconds).
    pull_in_server: Option<(f64, f64)>,
}

/// The device pull's route, as the server's metrics label it.
const PULL_ROUTE: &str = "/api/v1/device/pull";

async fn sqlite() -> anyhow::Result<Deployment> {
    let server = TestServer::start_demo(None)?;
    Ok(Deployment {
        name: "(a) SQLite + disk",
        base_url: server.base_url.clone(),
        admin_token: server.token().to_owned(),
        processes: vec![("choucha-server".into(), server.pid())],
        instance_urls: vec![server.base_url.clone()],
        database_url: None,
        _keep: Box::new(server),
    })
}

async fn postgres_s3() -> anyhow::Result<Deployment> {
    let scratch = TempDir::new("bench-pg-s3")?;
    let url = pg::shared().create_database().await?;
    let s3 = S3Server::start(&scratch.path().join("s3")).await;
    let env = s3.server_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = TestServer::start_demo_with_env(Some(&url), &env)?;
    let mut processes = vec![("choucha-server".to_owned(), server.pid())];
    processes.extend(s3.pid().map(|p| ("s3s-fs".to_owned(), p)));
    Ok(Deployment {
        name: "(b) PostgreSQL + S3",
        base_url: server.base_url.clone(),
        admin_token: server.token().to_owned(),
        processes,
        instance_urls: vec![server.base_url.clone()],
        database_url: Some(url),
        _keep: Box::new((server, s3, scratch)),
    })
}

async fn pair() -> anyhow::Result<Deployment> {
    let cluster = Cluster::start().await?;
    let mut processes: Vec<(String, u32)> = cluster
        .instances
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("choucha-server {}", i + 1), s.pid()))
        .collect();
    processes.push(("haproxy".into(), cluster.lb.pid()));
    processes.extend(cluster.s3.pid().map(|p| ("s3s-fs".to_owned(), p)));
    Ok(Deployment {
        name: "(c) 2 × PG + S3, HAProxy",
        base_url: cluster.base_url(),
        admin_token: cluster.token().to_owned(),
        processes,
        instance_urls: cluster
            .instances
            .iter()
            .map(|s| s.base_url.clone())
            .collect(),
        database_url: Some(cluster.database_url.clone()),
        _keep: Box::new(cluster),
    })
}

/// Samples the connections to `database_url` every 100 ms until stopped;
/// the most seen.
fn sample_connections(
    database_url: String,
    stop: Arc<AtomicBool>,
    max: Arc<AtomicI64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let name = database_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let Ok(pool) = sqlx::PgPool::connect(&pg::shared().url("postgres")).await else {
            return;
        };
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n,)) = sqlx::query_as::<_, (i64,)>(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(&name)
            .fetch_one(&pool)
            .await
            {
                max.fetch_max(n, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        pool.close().await;
    })
}

/// Runs the load against `d`. Returns the setup too: its blobs are the
/// yardstick's bytes.
async fn measure(d: &Deployment, cfg: &LoadConfig) -> anyhow::Result<(Measured, loadgen::Setup)> {
    println!("\n== {} at {}", d.name, d.base_url);
    let client = loadgen::client()?;
    let setup = loadgen::setup(&client, &d.base_url, &d.admin_token, cfg).await?;
    println!("{}", loadgen::describe(&setup));

    let postmaster = d
        .database_url
        .as_ref()
        .and_then(|_| pg::shared().postmaster_pid());
    let cpu_before: Vec<Option<Duration>> = d
        .processes
        .iter()
        .map(|(_, pid)| loadgen::proc_cpu(*pid))
        .collect();
    let pg_before = postmaster.and_then(loadgen::proc_tree_cpu);
    let own_before = loadgen::proc_cpu(std::process::id());
    let stop = Arc::new(AtomicBool::new(false));
    let max_conn = Arc::new(AtomicI64::new(0));
    let sampler = d
        .database_url
        .clone()
        .map(|url| sample_connections(url, stop.clone(), max_conn.clone()));

    let pull_buckets =
        || loadgen::server_latency_buckets(&client, &d.instance_urls, &d.admin_token, PULL_ROUTE);
    let buckets_before = pull_buckets().await?;
    let perf = start_perf(d.name)?;
    let report = loadgen::run(&setup, cfg).await?;
    stop_perf(perf)?;
    let buckets_after = pull_buckets().await?;
    let in_server = |q| loadgen::bucket_quantile(&buckets_before, &buckets_after, q);
    let pull_in_server = in_server(0.5).zip(in_server(0.99));

    stop.store(true, Ordering::Relaxed);
    if let Some(s) = sampler {
        s.await?;
    }
    let own_cpu = own_before
        .zip(loadgen::proc_cpu(std::process::id()))
        .map(|(a, b)| b - a);
    let postgres_cpu = pg_before
        .zip(postmaster.and_then(loadgen::proc_tree_cpu))
        .map(|(a, b)| b.saturating_sub(a));
    let processes = d
        .processes
        .iter()
        .zip(cpu_before)
        .map(|((label, pid), before)| {
            let cpu = before
                .zip(loadgen::proc_cpu(*pid))
                .map(|(a, b)| b.saturating_sub(a));
            (label.clone(), loadgen::proc_status_kib(*pid, "VmHWM"), cpu)
        })
        .collect();
    println!("{report}");
    let delivery = loadgen::check_delivery(&client, &d.base_url, &d.admin_token, &setup).await?;
    let measured = Measured {
        name: d.name,
        report,
        delivery,
        processes,
        postgres_cpu,
        pg_connections_max: d
            .database_url
            .is_some()
            .then(|| max_conn.load(Ordering::Relaxed)),
        loadgen_cpu: own_cpu,
        pull_in_server,
    };
    Ok((measured, setup))
}

/// `perf record` of the whole machine while the load runs, when asked for.
fn start_perf(name: &str) -> anyhow::Result<Option<std::process::Child>> {
    let Some(dir) = std::env::var_os("CHOUCHA_SCALE_PERF_DIR") else {
        return Ok(None);
    };
    std::fs::create_dir_all(&dir)?;
    let file = std::path::Path::new(&dir).join(format!("{}.data", &name[1..2]));
    let child = std::process::Command::new("perf")
        .args(["record", "-F", "199", "-a", "-g", "-o"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting perf record (Debian's linux-perf)")?;
    Ok(Some(child))
}

fn stop_perf(perf: Option<std::process::Child>) -> anyhow::Result<()> {
    if let Some(mut child) = perf {
        // perf writes its file on SIGINT.
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()?;
        child.wait()?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One line of the side-by-side table: its label and how a cell reads.
type Line = (&'static str, Box<dyn Fn(&Measured) -> String>);

fn print_side_by_side(rows: &[Measured], yardstick: Option<&loadgen::CopyBaseline>) {
    let col = |f: &dyn Fn(&Measured) -> String| -> String {
        rows.iter()
            .map(|m| format!("{:>26}", f(m)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("\n== side by side");
    println!("{:<28} {}", "", col(&|m| m.name.chars().take(26).collect()));
    let lines: Vec<Line> = vec![
        (
            "received",
            Box::new(|m| format!("{}/{}", m.report.received, m.report.devices)),
        ),
        (
            "wall time (s)",
            Box::new(|m| format!("{:.1}", m.report.wall.as_secs_f64())),
        ),
        (
            "records/s",
            Box::new(|m| format!("{:.1}", m.report.records_per_s())),
        ),
        (
            "MB/s (wall)",
            Box::new(|m| format!("{:.1}", m.report.mb_per_s())),
        ),
        (
            "push p50/p99 (ms)",
            Box::new(|m| format!("{:.0}/{:.0}", ms(m.report.push.p50), ms(m.report.push.p99))),
        ),
        (
            "PATCH p50/p99 (ms)",
            Box::new(|m| {
                format!(
                    "{:.0}/{:.0}",
                    ms(m.report.patch.p50),
                    ms(m.report.patch.p99)
                )
            }),
        ),
        (
            "pull p50/p99 (ms)",
            Box::new(|m| format!("{:.1}/{:.1}", ms(m.report.pull.p50), ms(m.report.pull.p99))),
        ),
        (
            "pull in server p50/p99 (≤ ms)",
            Box::new(|m| {
                m.pull_in_server.map_or("—".into(), |(a, b)| {
                    format!("{:.0}/{:.0}", a * 1000.0, b * 1000.0)
                })
            }),
        ),
        (
            "entries lost/duplicated",
            Box::new(|m| format!("{}/{}", m.delivery.lost, m.delivery.duplicated)),
        ),
        (
            "records twice current",
            Box::new(|m| m.delivery.records_twice.to_string()),
        ),
        (
            "failures (any 5xx fails)",
            Box::new(|m| {
                format!(
                    "{} + {} pulls",
                    m.report.failures.len(),
                    m.report.pull_errors
                )
            }),
        ),
        (
            "PG connections (max)",
            Box::new(|m| m.pg_connections_max.map_or("—".into(), |n| n.to_string())),
        ),
        (
            "PostgreSQL CPU (s)",
            Box::new(|m| {
                m.postgres_cpu
                    .map_or("—".into(), |c| format!("{:.1}", c.as_secs_f64()))
            }),
        ),
        (
            "load generator CPU (s)",
            Box::new(|m| {
                m.loadgen_cpu
                    .map_or("—".into(), |c| format!("{:.1}", c.as_secs_f64()))
            }),
        ),
    ];
    for (label, f) in &lines {
        println!("{label:<28} {}", col(f.as_ref()));
    }
    for m in rows {
        println!("\n{}: processes (peak RSS, CPU during the run)", m.name);
        for (label, rss, cpu) in &m.processes {
            println!(
                "  {label:<20} {:>8} MiB {:>8} s",
                rss.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
                cpu.map_or("?".into(), |c| format!("{:.1}", c.as_secs_f64()))
            );
        }
        let wall = m.report.wall.as_secs_f64().max(1e-9);
        let busy: f64 = m
            .processes
            .iter()
            .filter_map(|(_, _, c)| c.map(|c| c.as_secs_f64()))
            .sum::<f64>()
            + m.postgres_cpu.map_or(0.0, |c| c.as_secs_f64())
            + m.loadgen_cpu.map_or(0.0, |c| c.as_secs_f64());
        println!(
            "  all processes        {busy:.1} CPU s over {wall:.1} s = {:.2} of the machine's {} cores",
            busy / wall,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    if let Some(b) = yardstick {
        println!(
            "\nloopback copy of the same bytes: {:.1} MB, one stream {:.1} MB/s, one fsynced file per blob {:.1} MB/s",
            b.bytes as f64 / 1e6,
            b.stream_mb_per_s(),
            b.per_file_mb_per_s()
        );
    }
}

fn main() -> anyhow::Result<()> {
    let bench = std::env::args().any(|a| a == "--bench");
    let devices = match std::env::var("CHOUCHA_SCALE_DEVICES") {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("CHOUCHA_SCALE_DEVICES must be a number, got {v}"))?,
        Err(_) if bench => 1000,
        Err(_) => 4,
    };
    let cfg = LoadConfig {
        devices,
        timeout: Duration::from_secs(1200),
        ..LoadConfig::default()
    };
    println!(
        "scale_out: {devices} devices per deployment, {} entries, {} photos of {} B each; {} cores",
        cfg.entries,
        cfg.photos,
        cfg.photo_bytes,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut failed = BTreeMap::new();
    // Every deployment stays up, its files in place, until the end: deleting
    // one's gigabytes of evidence before the next runs left ext4 looking for
    // recently deleted inodes on every new file (seen in the profile), which
    // charged the later deployments for the earlier ones' cleanup.
    let mut kept = Vec::new();
    let mut last_setup = None;
    for which in 0..3 {
        // One setup's evidence in memory at a time (4.8 GB at 1,000 devices).
        drop(last_setup.take());
        let (measured, setup) = rt.block_on(async {
            let d = match which {
                0 => sqlite().await?,
                1 => postgres_s3().await?,
                _ => pair().await?,
            };
            let m = measure(&d, &cfg).await;
            kept.push(d);
            m
        })?;
        last_setup = Some(setup);
        let wrong = measured.report.received != measured.report.devices
            || measured.delivery.lost > 0
            || measured.delivery.duplicated > 0
            || measured.delivery.records_twice > 0
            || !measured.report.failures.is_empty();
        if wrong {
            failed.insert(measured.name, ());
        }
        rows.push(measured);
    }
    // The yardstick: the same bytes over a plain TCP loopback copy into
    // fsynced files on the same filesystem, after the runs.
    let scratch = TempDir::new("loopback-copy")?;
    let yardstick = match &last_setup {
        Some(setup) => Some(loadgen::loopback_copy(setup.blobs(), scratch.path())?),
        None => None,
    };
    drop(last_setup);
    print_side_by_side(&rows, yardstick.as_ref());
    drop(kept);
    println!("\nwhole benchmark {:.0} s", started.elapsed().as_secs_f64());
    if !failed.is_empty() {
        bail!("lost, duplicated or failed work in: {:?}", failed.keys());
    }
    Ok(())
}
