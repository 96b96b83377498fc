//! Sync under load: 200 simulated devices each push one full inspection
//! (60 log entries, 12 photos of 400 KB, the team's and the enterprise's
//! signatures) at once to a release server with the demo data on SQLite,
//! over loopback. Reports records/s, MB/s, push/PATCH/pull latencies, the
//! server's peak RSS, and blob throughput against a plain loopback copy of
//! the same bytes timed in the same run.
//!
//! ```sh
//! cargo bench -p choucha-tests --bench sync_load
//! ```
//!
//! `CHOUCHA_LOAD_DEVICES` and `CHOUCHA_LOAD_CHUNK_BYTES` override the device
//! count and the PATCH size. Without `--bench` (`cargo test --benches`) it
//! is a smoke run of 4 devices. Results: `docs/benchmarks.md`.

use std::time::Duration;

use anyhow::bail;
use choucha_tests::loadgen::{self, LoadConfig};
use choucha_tests::{TempDir, TestServer};

fn env_usize(name: &str) -> anyhow::Result<Option<usize>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v.trim().parse().map_err(|_| {
            anyhow::anyhow!("{name} must be a positive number, got {v}")
        })?)),
        Err(_) => Ok(None),
    }
}

fn main() -> anyhow::Result<()> {
    let bench = std::env::args().any(|a| a == "--bench");
    let defaults = LoadConfig::default();
    let cfg = LoadConfig {
        devices: env_usize("CHOUCHA_LOAD_DEVICES")?.unwrap_or(if bench { 200 } else { 4 }),
        chunk_bytes: env_usize("CHOUCHA_LOAD_CHUNK_BYTES")?.unwrap_or(defaults.chunk_bytes),
        timeout: Duration::from_secs(300),
        ..defaults
    };

    let server = TestServer::start_demo(None)?;
    let pid = server.pid();
    println!(
        "sync_load: server pid {pid} at {} (SQLite in {}), {} devices, {} B chunks",
        server.base_url,
        server.data_dir.display(),
        cfg.devices,
        cfg.chunk_bytes
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = loadgen::client()?;
    let setup = rt.block_on(loadgen::setup(
        &client,
        &server.base_url,
        server.token(),
        &cfg,
    ))?;
    println!("{}", loadgen::describe(&setup));

    let server_cpu = loadgen::proc_cpu(pid);
    let own_cpu = loadgen::proc_cpu(std::process::id());
    let report = rt.block_on(loadgen::run(&setup, &cfg))?;
    let server_cpu = server_cpu.zip(loadgen::proc_cpu(pid)).map(|(a, b)| b - a);
    let own_cpu = own_cpu
        .zip(loadgen::proc_cpu(std::process::id()))
        .map(|(a, b)| b - a);
    let rss = loadgen::proc_status_kib(pid, "VmHWM");
    println!("{report}");
    let wall = report.wall.as_secs_f64().max(1e-9);
    if let (Some(s), Some(c)) = (server_cpu, own_cpu) {
        println!(
            "CPU during the run    server {:.1} s ({:.0} % of one core), load generator {:.1} s ({:.0} %)",
            s.as_secs_f64(),
            100.0 * s.as_secs_f64() / wall,
            c.as_secs_f64(),
            100.0 * c.as_secs_f64() / wall
        );
    }
    if let Some(kib) = rss {
        println!(
            "server peak RSS       {:.1} MiB (VmHWM)",
            kib as f64 / 1024.0
        );
    }

    // The yardstick: the same bytes over a plain TCP loopback copy, on the
    // same filesystem as the server's data directory, after the run.
    let scratch = TempDir::new("loopback-copy")?;
    let baseline = loadgen::loopback_copy(setup.blobs(), scratch.path())?;
    println!(
        "loopback copy         {:.1} MB: one stream {:.2} s = {:.1} MB/s; {} files each fsynced {:.2} s = {:.1} MB/s",
        baseline.bytes as f64 / 1e6,
        baseline.stream.as_secs_f64(),
        baseline.stream_mb_per_s(),
        baseline.files,
        baseline.per_file.as_secs_f64(),
        baseline.per_file_mb_per_s()
    );
    println!(
        "blob upload           {:.0} % of the one-stream copy, {:.0} % of the per-file copy",
        100.0 * report.upload_mb_per_s() / baseline.stream_mb_per_s(),
        100.0 * report.upload_mb_per_s() / baseline.per_file_mb_per_s()
    );
    let targets = loadgen::targets(&report, rss, Some(&baseline));
    println!("{}", loadgen::format_targets(&targets));
    drop(server);
    if !report.failures.is_empty() {
        bail!("{} devices failed", report.failures.len());
    }
    Ok(())
}
