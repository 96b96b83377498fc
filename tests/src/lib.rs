//! Helpers for the cross-crate tests: start the real `choucha-server` binary
//! on a free loopback port with a throwaway data directory, and stop it when
//! the test ends (also when the test panics).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Workspace root, from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Path of the server binary, built once per test process if needed.
///
/// Cargo only hands a binary's path to the tests of its own package, so the
/// cross-crate tests build it themselves (a no-op when it is up to date).
pub fn server_binary() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args([
                    "build",
                    "-q",
                    "-p",
                    "choucha-sync-server",
                    "--bin",
                    "choucha-server",
                ])
                .current_dir(workspace_root())
                .status()
                .map_err(|e| format!("running cargo: {e}"))?;
            if !status.success() {
                return Err(format!("building choucha-server failed: {status}"));
            }
            let target = std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| workspace_root().join("target"));
            Ok(target.join("debug").join("choucha-server"))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// A running server process; killed and reaped on drop.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    pub base_url: String,
    pub data_dir: PathBuf,
    _scratch: Option<TempDir>,
}

impl TestServer {
    /// Start a server with a fresh, private data directory.
    pub fn start() -> anyhow::Result<Self> {
        let scratch = TempDir::new("server")?;
        let mut s = Self::start_in(scratch.path())?;
        s._scratch = Some(scratch);
        Ok(s)
    }

    /// Start a server on an existing data directory (e.g. after a restart).
    pub fn start_in(data_dir: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new(server_binary()?)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawning choucha-server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(url) = rx.recv_timeout(Duration::from_millis(100)) {
                return Ok(Self {
                    child,
                    base_url: url,
                    data_dir: data_dir.to_owned(),
                    _scratch: None,
                });
            }
            if let Some(status) = child.try_wait()? {
                bail!("choucha-server exited before listening: {status}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("choucha-server did not start listening within 60 s");
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// Kill the process abruptly (SIGKILL), as a power cut would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> anyhow::Result<Self> {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("choucha-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
