//! A throwaway PostgreSQL cluster for tests.
//!
//! [`PgCluster::start`] runs Debian's own `postgresql` binaries (`initdb`,
//! `pg_ctl`) on a fresh data directory in a private temp dir, listening only
//! on `127.0.0.1` on a free port, with trust authentication and the fast,
//! crash-unsafe settings a throwaway cluster can afford (`fsync=off`, …). It
//! never touches a server someone started by hand, nor the cluster the Debian
//! package creates for itself (`/var/lib/postgresql/*/main`, port 5432).
//!
//! [`PgCluster::create_database`] gives each test its own fresh database, so
//! many tests can share one cluster: [`shared`] starts one per test process.
//!
//! # Where the binaries come from
//!
//! `$CHOUCHA_PG_BIN` if set, else the highest version under
//! `/usr/lib/postgresql/*/bin` (Debian's layout: `initdb` and `pg_ctl` are not
//! on `PATH` there, and whatever is on `PATH` is not looked at). They come
//! from the Debian package `postgresql`, which `scripts/setup.sh` installs.
//!
//! # Running as root
//!
//! `initdb`, `pg_ctl` and `postgres` refuse to run as root. When the tests run
//! as root (as they do here and in CI), every PostgreSQL binary is run through
//! `setpriv` as the `postgres` system user that the Debian package creates,
//! and the temp dir (under `/tmp`, mode 0700) is handed to that user.
//!
//! # How cleanup is guaranteed
//!
//! Rust does not drop statics, and a test process can also die without
//! unwinding (a `SIGKILL` from a timeout, Ctrl-C, `panic = "abort"`), so
//! cleanup cannot rest on `Drop` alone. Each cluster therefore gets a
//! **watchdog**: a tiny `sh` process, started before `initdb`, whose standard
//! input is a pipe whose only writer is the test process (Rust opens pipes
//! close-on-exec, so no other child inherits it). The watchdog blocks reading
//! that pipe; it reads end-of-file when the [`PgCluster`] is dropped (which
//! closes the pipe) *or* when the test process ends for any reason, because
//! the kernel closes the process's descriptors. It then runs
//! `pg_ctl stop -m immediate` (falling back to `SIGKILL` of the postmaster)
//! and removes the temp dir. The watchdog sits in its own process group and
//! ignores `SIGHUP`/`SIGINT`/`SIGQUIT`/`SIGTERM`, so a Ctrl-C aimed at
//! `cargo test` does not take it down before it has cleaned up.
//!
//! There is one cleanup path for every case: `Drop` closes the pipe and waits
//! for the watchdog, so the path that runs when a process dies is the same
//! one every test exercises. For the process-wide [`shared`] cluster the
//! cleanup runs right after the test binary exits (it takes well under a
//! second); `tests/tests/pg_cluster.rs` checks it for a child test process
//! that panics and for one that is killed with `SIGKILL`.
//!
//! Last line of defence: should the test process die in the middle of
//! `pg_ctl start`, before the postmaster has written its pid file, the
//! watchdog cannot stop it, but it still removes the data directory, and a
//! postmaster whose `postmaster.pid` is gone shuts itself down (immediate
//! mode) within a minute.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, anyhow, bail};
use sqlx::Connection;

/// Environment variable naming a directory holding `initdb` and `pg_ctl`.
pub const PG_BIN_ENV: &str = "CHOUCHA_PG_BIN";

/// Where Debian installs each PostgreSQL version's server binaries.
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";

/// The unprivileged user the binaries run as when the tests run as root.
const PG_OS_USER: &str = "postgres";

/// The database superuser `initdb` creates (trust authentication).
const SUPERUSER: &str = "postgres";

const SETUP_HINT: &str = "run scripts/setup.sh, which installs the Debian package `postgresql`";

/// Lines of the server log shown when starting fails.
const LOG_TAIL_LINES: usize = 30;

/// The watchdog's script. Arguments: data dir, temp dir, then the command
/// that runs `pg_ctl` (possibly prefixed by `setpriv …`).
const WATCHDOG_SCRIPT: &str = r#"
trap '' HUP INT QUIT TERM
data=$1; dir=$2; shift 2
# Blocks until the test process closes the pipe (drop) or dies.
read -r _ || :
if [ -f "$data/postmaster.pid" ]; then
  if ! "$@" stop -D "$data" -m immediate -w -t 30 >/dev/null 2>&1; then
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
    if [ -n "$pid" ]; then
      echo "choucha pg watchdog: pg_ctl stop failed; killing postmaster $pid" >&2
      kill -9 "$pid" 2>/dev/null
    fi
  fi
fi
rm -rf -- "$dir"
"#;

/// A running throwaway PostgreSQL cluster; stopped and deleted on drop.
#[derive(Debug)]
pub struct PgCluster {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<UnixUser>,
    watchdog: Option<Watchdog>,
}

#[derive(Debug, Clone, Copy)]
struct UnixUser {
    uid: u32,
    gid: u32,
}

#[derive(Debug)]
struct Watchdog {
    child: Child,
    /// The write end of the watchdog's stdin; closing it starts cleanup.
    pipe: Option<ChildStdin>,
}

impl PgCluster {
    /// Initialise and start a new cluster on a free loopback port.
    ///
    /// Blocking (`initdb` and `pg_ctl` take a second or two); fine to call
    /// from a `#[tokio::test]`.
    pub fn start() -> anyhow::Result<PgCluster> {
        let bin = find_bin_dir()?;
        let run_as = if effective_uid()? == 0 {
            Some(lookup_user(PG_OS_USER)?)
        } else {
            None
        };
        let dir = make_private_dir(run_as)?;
        let watchdog = match spawn_watchdog(&bin, &dir, run_as) {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        // From here on, any early return drops `cluster`, which cleans up.
        let mut cluster = PgCluster {
            port: 0,
            dir,
            bin,
            run_as,
            watchdog: Some(watchdog),
        };
        cluster.initdb()?;
        cluster.pg_start()?;
        Ok(cluster)
    }

    /// URL of database `db` on this cluster, as the superuser `postgres`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Create a fresh, uniquely named, empty database and return its URL.
    /// Needs a tokio runtime (`#[tokio::test]`), as all of sqlx does here.
    pub async fn create_database(&self) -> anyhow::Result<String> {
        self.create_database_from(None).await
    }

    /// A fresh, uniquely named database: empty, or a copy of `template`
    /// (the URL of a database of this cluster nobody is connected to).
    pub async fn create_database_from(&self, template: Option<&str>) -> anyhow::Result<String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let copy = match template {
            Some(url) => format!(" TEMPLATE \"{}\"", database_name(url)?),
            None => String::new(),
        };
        self.admin(&format!("CREATE DATABASE \"{name}\"{copy}"))
            .await
            .with_context(|| format!("creating database {name}"))?;
        Ok(self.url(&name))
    }

    /// Drops a database made by [`create_database_from`](Self::create_database_from),
    /// closing whatever is still connected to it.
    pub async fn drop_database(&self, url: &str) -> anyhow::Result<()> {
        let name = database_name(url)?;
        self.admin(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .with_context(|| format!("dropping database {name}"))
    }

    async fn admin(&self, statement: &str) -> anyhow::Result<()> {
        let admin = self.url("postgres");
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .with_context(|| format!("connecting to {admin}"))?;
        sqlx::query(statement).execute(&mut conn).await?;
        conn.close().await?;
        Ok(())
    }

    /// The postmaster's process ID (every backend is its child), for the
    /// benchmarks' CPU accounting.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// The TCP port the server listens on (on 127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temp dir holding the data directory, the socket and the log;
    /// removed when the cluster stops.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// Stop the server and delete the temp dir, reporting what went wrong
    /// (dropping does the same and ignores errors).
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> anyhow::Result<()> {
        let Some(mut watchdog) = self.watchdog.take() else {
            return Ok(());
        };
        drop(watchdog.pipe.take()); // EOF: the watchdog stops the server, removes the dir
        let status = watchdog.child.wait().context("waiting for the watchdog")?;
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir)
                .with_context(|| format!("removing {}", self.dir.display()))?;
        }
        if !status.success() {
            bail!("the cleanup watchdog failed: {status}");
        }
        Ok(())
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// A command running PostgreSQL binary `tool`, as the `postgres` user when
    /// we are root, in the temp dir, without the caller's `PG*` variables.
    fn pg_command(&self, tool: &str) -> Command {
        let mut cmd = tool_command(&self.bin, tool, self.run_as);
        cmd.current_dir(&self.dir).stdin(Stdio::null());
        for var in [
            "PGDATA",
            "PGHOST",
            "PGHOSTADDR",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGOPTIONS",
            "PGPASSWORD",
            "PGSERVICE",
            "PGTZ",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn initdb(&self) -> anyhow::Result<()> {
        let out = self
            .pg_command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args([
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .context("running initdb")?;
        check_output("initdb", &out)
    }

    fn pg_start(&mut self) -> anyhow::Result<()> {
        let sock = self.socket_dir();
        std::fs::create_dir(&sock).with_context(|| format!("creating {}", sock.display()))?;
        if let Some(user) = self.run_as {
            std::os::unix::fs::chown(&sock, Some(user.uid), Some(user.gid))
                .with_context(|| format!("chown {}", sock.display()))?;
        }
        // The port is free when we look, but another process may take it
        // before the server binds it: then try another one.
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            self.port = crate::free_port()?;
            let options = format!(
                "-h 127.0.0.1 -p {} -k '{}' -F -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                self.port,
                sock.display()
            );
            let log_before = std::fs::metadata(self.log_path()).map_or(0, |m| m.len());
            let out = self
                .pg_command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .arg("-o")
                .arg(&options)
                .arg("-l")
                .arg(self.log_path())
                .args(["-w", "-t", "60", "start"])
                .output()
                .context("running pg_ctl start")?;
            if out.status.success() {
                return Ok(());
            }
            let log = std::fs::read(self.log_path()).unwrap_or_default();
            let new_log = String::from_utf8_lossy(log.get(log_before as usize..).unwrap_or(&[]));
            if attempt < ATTEMPTS && new_log.contains("Address already in use") {
                continue;
            }
            let mut msg = format!("pg_ctl start failed ({}) on port {}", out.status, self.port);
            append_streams(&mut msg, &out);
            let _ = write!(
                msg,
                "\nlast lines of {}:\n{}",
                self.log_path().display(),
                tail(&String::from_utf8_lossy(&log), LOG_TAIL_LINES)
            );
            bail!(msg);
        }
        unreachable!("the last attempt returns")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!(
                "choucha-tests: stopping PostgreSQL in {}: {e:#}",
                self.dir.display()
            );
        }
    }
}

/// The database a URL of [`PgCluster::url`] names.
fn database_name(url: &str) -> anyhow::Result<&str> {
    url.rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !n.contains(['"', '?']))
        .with_context(|| format!("no database name in {url}"))
}

/// The process-wide cluster, started on first use and shared by every test of
/// the test binary (each test should use its own [`PgCluster::create_database`]).
///
/// It is never dropped; its watchdog stops and deletes it when the test
/// process exits, however it exits. Panics if it cannot start.
pub fn shared() -> &'static PgCluster {
    try_shared().unwrap_or_else(|e| panic!("{e:#}"))
}

/// [`shared`], returning the start error instead of panicking. A failed start
/// is remembered: later calls return the same error without retrying.
pub fn try_shared() -> anyhow::Result<&'static PgCluster> {
    static SHARED: OnceLock<Result<PgCluster, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            PgCluster::start().map_err(|e| format!("starting the shared PostgreSQL cluster: {e:#}"))
        })
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

/// The directory holding `initdb` and `pg_ctl`: `$CHOUCHA_PG_BIN`, else the
/// highest version under `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os(PG_BIN_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        if !has_tools(&dir) {
            bail!(
                "{PG_BIN_ENV}={} holds no initdb and pg_ctl: point it at a PostgreSQL bin \
                 directory or unset it and {SETUP_HINT}",
                dir.display()
            );
        }
        return Ok(dir);
    }
    let mut found: Vec<(Vec<u32>, PathBuf)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(DEBIAN_PG_ROOT) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(version) = name.to_str().and_then(|v| {
                v.split('.')
                    .map(|p| p.parse().ok())
                    .collect::<Option<Vec<u32>>>()
            }) else {
                continue;
            };
            let bin = entry.path().join("bin");
            if has_tools(&bin) {
                found.push((version, bin));
            }
        }
    }
    found.sort();
    match found.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL server binaries not found (no initdb and pg_ctl in \
             {DEBIAN_PG_ROOT}/*/bin, and {PG_BIN_ENV} is not set): {SETUP_HINT}"
        ),
    }
}

/// A command running `bin/tool`, through `setpriv` as `user` if given.
fn tool_command(bin: &Path, tool: &str, user: Option<UnixUser>) -> Command {
    let path = bin.join(tool);
    match user {
        None => Command::new(path),
        Some(user) => {
            let mut cmd = Command::new("setpriv");
            cmd.args(setpriv_args(user)).arg(path);
            cmd
        }
    }
}

fn setpriv_args(user: UnixUser) -> Vec<OsString> {
    vec![
        format!("--reuid={}", user.uid).into(),
        format!("--regid={}", user.gid).into(),
        "--clear-groups".into(),
        "--".into(),
    ]
}

fn spawn_watchdog(bin: &Path, dir: &Path, run_as: Option<UnixUser>) -> anyhow::Result<Watchdog> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("choucha-pg-watchdog")
        .arg(dir.join("data"))
        .arg(dir);
    if let Some(user) = run_as {
        cmd.arg("setpriv").args(setpriv_args(user));
    }
    cmd.arg(bin.join("pg_ctl"))
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Out of the terminal's foreground group: Ctrl-C must not reach it.
        .process_group(0);
    let mut child = cmd.spawn().context("spawning the cleanup watchdog (sh)")?;
    let pipe = child.stdin.take();
    Ok(Watchdog { child, pipe })
}

/// A new, empty directory for one cluster, mode 0700, owned by `owner` if
/// given. As root it goes under `/tmp` so that `owner` can reach it.
fn make_private_dir(owner: Option<UnixUser>) -> anyhow::Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = if owner.is_some() {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = base.join(format!(
        "choucha-pg-{}-{}-{nanos:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let prepared = (|| -> anyhow::Result<()> {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        if let Some(user) = owner {
            std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid))?;
        }
        Ok(())
    })();
    if let Err(e) = prepared {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e.context(format!("preparing {}", dir.display())));
    }
    Ok(dir)
}

/// This process's effective user id, from `/proc/self/status`.
fn effective_uid() -> anyhow::Result<u32> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
        .context("no effective uid in /proc/self/status")
}

/// Uid and gid of a local user, from `/etc/passwd`.
fn lookup_user(name: &str) -> anyhow::Result<UnixUser> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && f[0] == name)
        .and_then(|f| {
            Some(UnixUser {
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
            })
        })
        .with_context(|| {
            format!(
                "running as root, so PostgreSQL must run as the `{name}` system user, which does \
                 not exist: {SETUP_HINT}"
            )
        })
}

fn check_output(what: &str, out: &Output) -> anyhow::Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let mut msg = format!("{what} failed: {}", out.status);
    append_streams(&mut msg, out);
    bail!(msg)
}

fn append_streams(msg: &mut String, out: &Output) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        if !text.trim().is_empty() {
            let _ = write!(msg, "\n{name}:\n{}", tail(&text, LOG_TAIL_LINES));
        }
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }

    #[test]
    fn setpriv_drops_to_the_given_ids() {
        let args = setpriv_args(UnixUser { uid: 101, gid: 104 });
        assert_eq!(
            args,
            ["--reuid=101", "--regid=104", "--clear-groups", "--"].map(OsString::from)
        );
    }
}
