//! The throwaway PostgreSQL cluster of `choucha_tests::pg`: it starts from
//! Debian's binaries, gives each test a separate database, listens only on
//! loopback, and leaves no server process and no temp dir behind — when
//! dropped, and (for the process-wide shared cluster) when the test process
//! panics or is killed outright.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use choucha_tests::TempDir;
use choucha_tests::pg::{self, PgCluster};
use sqlx::PgPool;

#[tokio::test]
async fn each_database_is_separate_and_drop_removes_everything() {
    let cluster = PgCluster::start().unwrap();
    let (port, dir) = (cluster.port(), cluster.dir().to_owned());
    assert!(accepts(port));

    let a_url = cluster.create_database().await.unwrap();
    let b_url = cluster.create_database().await.unwrap();
    assert_ne!(a_url, b_url);
    assert!(a_url.starts_with(&format!("postgres://postgres@127.0.0.1:{port}/")));
    let a = PgPool::connect(&a_url).await.unwrap();
    let b = PgPool::connect(&b_url).await.unwrap();
    for pool in [&a, &b] {
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(one, 1);
    }
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&a)
        .await
        .unwrap();
    assert_eq!(listen, "127.0.0.1", "loopback only");

    sqlx::query("CREATE TABLE only_in_a (id int)")
        .execute(&a)
        .await
        .unwrap();
    sqlx::query("INSERT INTO only_in_a VALUES (1)")
        .execute(&a)
        .await
        .unwrap();
    let table = "SELECT to_regclass('only_in_a')::text";
    let in_a: Option<String> = sqlx::query_scalar(table).fetch_one(&a).await.unwrap();
    let in_b: Option<String> = sqlx::query_scalar(table).fetch_one(&b).await.unwrap();
    assert_eq!(in_a.as_deref(), Some("only_in_a"));
    assert_eq!(in_b, None, "a table made in one database shows in another");

    let pids = cluster_pids(&dir);
    assert!(pids.len() > 1, "postmaster and its children: {pids:?}");
    a.close().await;
    b.close().await;
    drop(cluster);

    assert!(!dir.exists(), "{} left behind", dir.display());
    eventually("the port to refuse connections", || !accepts(port));
    eventually("the server processes to end", || {
        !pids.iter().any(|&p| alive(p))
    });
}

#[tokio::test]
async fn start_error_says_how_to_install_the_binaries() {
    // CHOUCHA_PG_BIN is process-wide and the other tests start clusters at
    // the same time, so it points at nothing only in a child process.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["missing_binaries_child", "--exact", "--nocapture"])
        .env(CHILD_ENV, "missing")
        .env(pg::PG_BIN_ENV, "/nonexistent/choucha-pg-bin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("scripts/setup.sh"), "{stdout}");
}

/// Body of the child process started by the test above; a no-op otherwise.
#[test]
fn missing_binaries_child() {
    if std::env::var(CHILD_ENV).as_deref() != Ok("missing") {
        return;
    }
    let err = PgCluster::start().unwrap_err();
    println!("start error: {err:#}");
}

#[test]
fn shared_cluster_is_removed_when_a_test_panics() {
    let stderr = TempDir::new("pg-child").unwrap();
    let log = stderr.path().join("stderr");
    let out = child("panic", &log).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the child test should fail: {stdout}"
    );
    let seen = Seen::parse(&stdout)
        .unwrap_or_else(|| panic!("no {MARKER} line: {stdout}\n{}", read(&log)));
    seen.assert_cleaned_up();
}

#[test]
fn shared_cluster_is_removed_when_the_process_is_killed() {
    let stderr = TempDir::new("pg-child").unwrap();
    let log = stderr.path().join("stderr");
    let mut child = child("hang", &log);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let seen = loop {
        match lines.next() {
            Some(line) => {
                if let Some(seen) = Seen::parse(&line.unwrap()) {
                    break seen;
                }
            }
            None => panic!("child ended without a {MARKER} line:\n{}", read(&log)),
        }
    };
    child.kill().unwrap(); // SIGKILL: no unwinding, no exit handlers
    child.wait().unwrap();
    seen.assert_cleaned_up();
}

const CHILD_ENV: &str = "CHOUCHA_PG_TEST_CHILD";
const MARKER: &str = "CHOUCHA_PG_SHARED";

/// Body of the child processes started by the two tests above; a no-op
/// otherwise. Uses the shared cluster, reports it, then panics or hangs.
#[tokio::test]
async fn shared_cluster_child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    if mode != "panic" && mode != "hang" {
        return;
    }
    let cluster = pg::shared();
    assert!(std::ptr::eq(cluster, pg::shared()), "started once");
    let url = cluster.create_database().await.unwrap();
    let pool = PgPool::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE t (id int)")
        .execute(&pool)
        .await
        .unwrap();
    let pids: Vec<String> = cluster_pids(cluster.dir())
        .iter()
        .map(u32::to_string)
        .collect();
    println!(
        "{MARKER} {} {} {}",
        cluster.port(),
        cluster.dir().display(),
        pids.join(",")
    );
    if mode == "panic" {
        panic!("this child test panics on purpose");
    }
    tokio::time::sleep(Duration::from_secs(600)).await;
    drop(pool);
}

fn child(mode: &str, stderr: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["shared_cluster_child", "--exact", "--nocapture"])
        .env(CHILD_ENV, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap()
}

/// What a child reported about its shared cluster.
#[derive(Debug)]
struct Seen {
    port: u16,
    dir: PathBuf,
    pids: Vec<u32>,
}

impl Seen {
    fn parse(text: &str) -> Option<Seen> {
        let line = text.lines().find_map(|l| l.strip_prefix(MARKER))?;
        let mut parts = line.split_whitespace();
        Some(Seen {
            port: parts.next()?.parse().ok()?,
            dir: parts.next()?.into(),
            pids: parts
                .next()?
                .split(',')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?,
        })
    }

    fn assert_cleaned_up(&self) {
        eventually("the temp dir to be removed", || !self.dir.exists());
        eventually("the port to refuse connections", || !accepts(self.port));
        eventually("the server processes to end", || {
            !self.pids.iter().any(|&p| alive(p))
        });
    }
}

/// The postmaster (from its pid file) and its child processes.
fn cluster_pids(dir: &Path) -> Vec<u32> {
    let pid_file = std::fs::read_to_string(dir.join("data").join("postmaster.pid")).unwrap();
    let postmaster: u32 = pid_file.lines().next().unwrap().trim().parse().unwrap();
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|p| p.trim().parse::<u32>().ok());
        if ppid == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether a process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("State:"))
            .is_some_and(|st| !matches!(st.trim_start().chars().next(), Some('Z' | 'X')))
    })
}

fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
