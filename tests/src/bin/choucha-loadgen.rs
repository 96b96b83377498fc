//! Sync load generator against a running server: many simulated devices
//! each push one full inspection (log, photos, signatures) at once.
//!
//! ```sh
//! choucha-loadgen --server http://127.0.0.1:8080 --admin-token T --devices 200 \
//!     [--chunk-bytes 1048576] [--draw GXQ-2023-ZBJR-D1] [--server-pid PID] \
//!     [--baseline-dir DIR] [--pull-every-ms 500] [--timeout-secs 300]
//! ```
//!
//! The server must hold the demo data (`choucha-server demo`). With
//! `--server-pid` the server's peak RSS is read from `/proc`; with
//! `--baseline-dir` a plain TCP loopback copy of the same bytes into that
//! directory is timed after the run, for the blob throughput comparison.
//! Only loopback servers are meant: this is a load test.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use choucha_tests::loadgen::{self, LoadConfig};

const USAGE: &str = "usage: choucha-loadgen --server URL --admin-token TOKEN [--devices N] \
[--chunk-bytes B] [--draw DRAW_ID] [--server-pid PID] [--baseline-dir DIR] [--timeout-secs S] \
[--pull-every-ms MS (0: no pulls)]";

struct Args {
    server: String,
    admin_token: String,
    server_pid: Option<u32>,
    baseline_dir: Option<PathBuf>,
    config: LoadConfig,
}

fn parse() -> anyhow::Result<Args> {
    let mut server = None;
    let mut admin_token = None;
    let mut server_pid = None;
    let mut baseline_dir = None;
    let mut config = LoadConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || -> anyhow::Result<u64> {
            value
                .parse()
                .with_context(|| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--server" => server = Some(value.trim_end_matches('/').to_owned()),
            "--admin-token" => admin_token = Some(value.clone()),
            "--devices" => config.devices = number()? as usize,
            "--chunk-bytes" => config.chunk_bytes = number()? as usize,
            "--draw" => config.draw_id = value.clone(),
            "--server-pid" => server_pid = Some(number()? as u32),
            "--baseline-dir" => baseline_dir = Some(PathBuf::from(&value)),
            "--timeout-secs" => config.timeout = Duration::from_secs(number()?),
            "--pull-every-ms" => config.pull_every = Duration::from_millis(number()?),
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if config.devices == 0 || config.chunk_bytes == 0 {
        bail!("--devices and --chunk-bytes must be positive");
    }
    Ok(Args {
        server: server.with_context(|| format!("--server is required\n{USAGE}"))?,
        admin_token: admin_token.with_context(|| format!("--admin-token is required\n{USAGE}"))?,
        server_pid,
        baseline_dir,
        config,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse()?;
    let client = loadgen::client()?;
    let cfg = &args.config;
    println!(
        "setup: enrolling {} devices on {} …",
        cfg.devices, args.server
    );
    let setup = loadgen::setup(&client, &args.server, &args.admin_token, cfg).await?;
    println!("{}", loadgen::describe(&setup));
    let cpu_before = args.server_pid.and_then(loadgen::proc_cpu);
    println!("run: all devices at once …");
    let report = loadgen::run(&setup, cfg).await?;
    println!("{report}");
    let rss = args
        .server_pid
        .and_then(|pid| loadgen::proc_status_kib(pid, "VmHWM"));
    if let (Some(pid), Some(before)) = (args.server_pid, cpu_before) {
        if let Some(after) = loadgen::proc_cpu(pid) {
            println!(
                "server CPU            {:.1} s during the run ({:.0} % of one core)",
                (after - before).as_secs_f64(),
                100.0 * (after - before).as_secs_f64() / report.wall.as_secs_f64()
            );
        }
    }
    let baseline = match &args.baseline_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let b = loadgen::loopback_copy(setup.blobs(), dir)?;
            println!(
                "loopback copy         {:.1} MB: one stream {:.2} s = {:.1} MB/s; \
                 {} files each fsynced {:.2} s = {:.1} MB/s",
                b.bytes as f64 / 1e6,
                b.stream.as_secs_f64(),
                b.stream_mb_per_s(),
                b.files,
                b.per_file.as_secs_f64(),
                b.per_file_mb_per_s()
            );
            Some(b)
        }
        None => None,
    };
    let targets = loadgen::targets(&report, rss, baseline.as_ref());
    println!("{}", loadgen::format_targets(&targets));
    if !report.failures.is_empty() {
        bail!("{} devices failed", report.failures.len());
    }
    Ok(())
}
