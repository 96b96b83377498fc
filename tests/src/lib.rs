//! Helpers for the cross-crate tests: start the real `choucha-server` binary
//! on a free loopback port with a throwaway data directory, and stop it when
//! the test ends (also when the test panics).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub mod browser;
pub mod cluster;
pub mod console;
pub mod device;
pub mod field;
pub mod loadgen;
pub mod pdf_text;
pub mod pg;
pub mod s3;
pub mod sim;
pub mod smtp;
pub mod throttle;
pub mod webapp;

/// A free TCP port on 127.0.0.1 (bound, read, released), for the programs
/// the tests start that must be told their port.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Workspace root, from this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Path of the server program: this package's `choucha-server-it` binary
/// (the same code as `choucha-server`), which cargo builds next to the test
/// executables before running them.
pub fn server_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test executable")?;
    // Test executables live in target/<profile>/deps; binaries one level up.
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test executable has no parent directory")?;
    let bin = dir.join(format!("choucha-server-it{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!(
            "{} not found: run the tests with cargo test -p choucha-tests",
            bin.display()
        );
    }
    Ok(bin)
}

/// A running server process; killed and reaped on drop.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    pub base_url: String,
    pub data_dir: PathBuf,
    /// An admin token issued (through the command line, as an operator
    /// would) when the server started; kept across restarts.
    pub admin_token: Option<String>,
    pub database_url: Option<String>,
    /// Extra environment for the server process (kept across restarts).
    pub env: Vec<(String, String)>,
    _scratch: Option<TempDir>,
    /// For the front of a [`cluster::Cluster`]: the balancer, the other
    /// instance and the object store, kept running as long as this is.
    behind: Option<Box<cluster::Cluster>>,
}

impl TestServer {
    /// Start a server with a fresh, private data directory.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(None)
    }

    /// Start a server with a fresh data directory on the given database
    /// (`None`: the embedded SQLite file in the data directory).
    pub fn start_with(database_url: Option<&str>) -> anyhow::Result<Self> {
        let scratch = TempDir::new("server")?;
        let mut s = Self::start_in(scratch.path(), database_url)?;
        s._scratch = Some(scratch);
        Ok(s)
    }

    /// Start a server loaded with the demo directory and draw (the same
    /// data `scripts/run.sh` shows), on a fresh data directory.
    pub fn start_demo(database_url: Option<&str>) -> anyhow::Result<Self> {
        Self::start_demo_with_env(database_url, &[])
    }

    /// [`start_demo`](Self::start_demo) with extra server environment (e.g.
    /// the S3 blob store settings).
    pub fn start_demo_with_env(
        database_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let scratch = TempDir::new("demo-server")?;
        let mut cmd = Command::new(server_binary()?);
        cmd.arg("--data-dir")
            .arg(scratch.path())
            .arg("demo")
            .env_remove("DATABASE_URL");
        if let Some(url) = database_url {
            cmd.env("DATABASE_URL", url);
        }
        let out = cmd.output().context("running choucha-server demo")?;
        if !out.status.success() {
            bail!("demo failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut s = Self::start_at(scratch.path(), database_url, "127.0.0.1:0", &env)?;
        s._scratch = Some(scratch);
        Ok(s)
    }

    /// Kill (SIGKILL) and start again on the same data directory and port
    /// choice; the admin token stays what it was.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        if self.behind.is_some() {
            bail!("the front of a cluster is restarted instance by instance, not as one server");
        }
        self.kill();
        let scratch = self._scratch.take();
        let token = self.admin_token.take();
        // Same port, so clients keep their base URL, as with a real restart.
        let listen = self.base_url.trim_start_matches("http://").to_owned();
        let mut fresh = Self::start_at(
            &self.data_dir,
            self.database_url.as_deref(),
            &listen,
            &self.env,
        )?;
        fresh._scratch = scratch;
        fresh.admin_token = token;
        std::mem::swap(self, &mut fresh);
        // `fresh` now holds the dead process: forget its scratch (moved).
        Ok(())
    }

    /// Start a server on an existing data directory (e.g. after a restart).
    pub fn start_in(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Self> {
        Self::start_at(data_dir, database_url, "127.0.0.1:0", &[])
    }

    /// [`start_in`](Self::start_in) with extra server environment.
    pub fn start_in_with_env(
        data_dir: &Path,
        database_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::start_at(data_dir, database_url, "127.0.0.1:0", &env)
    }

    fn start_at(
        data_dir: &Path,
        database_url: Option<&str>,
        listen: &str,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        // Issued first, as an operator would before the server's first
        // start (the command line makes the database if need be).
        let admin_token = Some(issue_token(data_dir, database_url, env, TEST_TOKEN_HOLDER)?);
        let mut cmd = Command::new(server_binary()?);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .env_remove("DATABASE_URL");
        if let Some(url) = database_url {
            cmd.env("DATABASE_URL", url);
        }
        let mut child = cmd
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
                    admin_token,
                    database_url: database_url.map(str::to_owned),
                    env: env.to_vec(),
                    _scratch: None,
                    behind: None,
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

    /// The server process's ID (e.g. to read its memory use from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The admin token, for authenticated calls.
    pub fn token(&self) -> &str {
        self.admin_token.as_deref().unwrap_or_default()
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

/// The person the tests' admin tokens are issued to; audit entries made
/// with [`TestServer::token`] name them.
pub const TEST_TOKEN_HOLDER: &str = "测试员";

/// Issues an admin token with the server's own command line
/// (`choucha-server token new`), on the server's database, as an operator
/// does on a terminal.
pub fn issue_token(
    data_dir: &Path,
    database_url: Option<&str>,
    env: &[(String, String)],
    holder: &str,
) -> anyhow::Result<String> {
    let mut cmd = Command::new(server_binary()?);
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["token", "new", "--name", holder, "--days", "2"])
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn");
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let out = cmd.output().context("running choucha-server token new")?;
    if !out.status.success() {
        bail!("token new failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    if token.len() != 64 {
        bail!("token new printed '{token}', not a token");
    }
    Ok(token)
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

/// Where a scenario of [`on_every_deployment!`] runs its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// One server on its embedded SQLite file.
    Sqlite,
    /// One server on a fresh database of the shared throwaway PostgreSQL
    /// cluster.
    Postgres,
    /// Two servers on one fresh PostgreSQL database and one S3 store,
    /// behind HAProxy ([`cluster::Cluster`]): every request may land on
    /// either.
    Cluster,
}

impl Deployment {
    /// A server loaded with the demo directory and draw, deployed this way.
    /// For [`Deployment::Cluster`] its URL is the balancer's and it keeps
    /// the whole cluster running; `database_url` names the shared database.
    pub async fn start_demo(self) -> anyhow::Result<TestServer> {
        self.start_demo_with_env(&[]).await
    }

    /// [`start_demo`](Self::start_demo) with extra server environment (for
    /// the cluster, of both instances).
    pub async fn start_demo_with_env(self, env: &[(&str, &str)]) -> anyhow::Result<TestServer> {
        match self {
            Self::Sqlite => TestServer::start_demo_with_env(None, env),
            Self::Postgres => {
                let url = pg::shared().create_database().await?;
                TestServer::start_demo_with_env(Some(&url), env)
            }
            Self::Cluster => Ok(cluster::Cluster::start_with_env(env).await?.into_front()),
        }
    }
}

/// Declares each named scenario `async fn name(at: Deployment)` of the
/// calling test file as three tests: one server on the embedded SQLite
/// (`sqlite::name`), one on a fresh database of the shared throwaway
/// PostgreSQL cluster (`postgres::name`), and two on PostgreSQL and S3
/// behind HAProxy (`cluster::name`).
#[macro_export]
macro_rules! on_every_deployment {
    ($($name:ident),* $(,)?) => {
        $crate::on_every_deployment!(@mod sqlite Sqlite $($name),*);
        $crate::on_every_deployment!(@mod postgres Postgres $($name),*);
        $crate::on_every_deployment!(@mod cluster Cluster $($name),*);
    };
    (@mod $module:ident $deployment:ident $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::Deployment::$deployment).await
                }
            )*
        }
    };
}
