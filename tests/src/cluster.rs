//! A scale-out cluster on loopback: two `choucha-server` processes sharing
//! one throwaway PostgreSQL database and one `s3s-fs` store, behind Debian's
//! `haproxy` running `docs/deploy/haproxy.cfg` as it is (round-robin, no
//! stickiness, health checks on `/healthz`). Everything is stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::s3::{BUCKET, S3Server};
use crate::{TempDir, TestServer, free_port, pg, workspace_root};

/// The load balancer config the tests and `docs/deploy.md` share.
pub fn haproxy_config() -> PathBuf {
    workspace_root().join("docs/deploy/haproxy.cfg")
}

/// A running `haproxy -db` (foreground); killed on drop.
#[derive(Debug)]
pub struct HaProxy {
    child: Child,
    pub port: u16,
    /// HAProxy's own messages (servers going down and up).
    pub log: PathBuf,
}

impl HaProxy {
    /// Starts HAProxy on a free loopback port in front of `instances`
    /// (`host:port`, two of them: the config names two servers).
    pub fn start(instances: [&str; 2]) -> anyhow::Result<Self> {
        let port = free_port()?;
        let config = haproxy_config();
        let check = Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(&config)
            .envs(Self::env(port, instances))
            .output()
            .context("running haproxy (install it with scripts/setup.sh)")?;
        if !check.status.success() {
            bail!(
                "{} does not pass `haproxy -c`: {}",
                config.display(),
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let log = std::env::temp_dir().join(format!("choucha-haproxy-{port}.log"));
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .envs(Self::env(port, instances))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting haproxy")?;
        Ok(Self { child, port, log })
    }

    fn env(port: u16, instances: [&str; 2]) -> [(&'static str, String); 3] {
        [
            ("CHOUCHA_LB_BIND", format!("127.0.0.1:{port}")),
            ("CHOUCHA_INSTANCE_1", instances[0].to_owned()),
            ("CHOUCHA_INSTANCE_2", instances[1].to_owned()),
        ]
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// HAProxy's process ID (for its memory and CPU figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until requests reach each of the instances named (by the
    /// `X-Served-By` the config adds), i.e. their health checks passed.
    pub async fn wait_serving(&self, names: &[&str]) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = std::collections::BTreeSet::new();
        while Instant::now() < deadline {
            if let Ok(r) = client
                .get(format!("{}/healthz", self.base_url()))
                .send()
                .await
            {
                if r.status().is_success() {
                    if let Some(by) = served_by(&r) {
                        seen.insert(by);
                    }
                }
            }
            if names.iter().all(|n| seen.contains(*n)) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        bail!("HAProxy did not reach {names:?} within 30 s (reached {seen:?}):\n{log}")
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The instance that answered a request through [`HaProxy`].
pub fn served_by(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("x-served-by")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Two instances on one PostgreSQL database and one S3 store, behind
/// HAProxy; the first was loaded with the demo directory and draw.
#[derive(Debug)]
pub struct Cluster {
    pub lb: HaProxy,
    pub instances: Vec<TestServer>,
    pub s3: S3Server,
    pub database_url: String,
    admin_token: String,
    _scratch: TempDir,
}

/// The instance names in `docs/deploy/haproxy.cfg`.
pub const INSTANCE_NAMES: [&str; 2] = ["instance1", "instance2"];

impl Cluster {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_env(&[]).await
    }

    /// [`start`](Self::start) with extra environment for both instances.
    pub async fn start_with_env(extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let scratch = TempDir::new("cluster")?;
        let database_url = pg::shared().create_database().await?;
        let s3 = S3Server::start(&scratch.path().join("s3")).await;
        let mut env = s3.server_env();
        env.push(("CHOUCHA_TRUSTED_PROXIES", "127.0.0.1".to_owned()));
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let first = TestServer::start_demo_with_env(Some(&database_url), &env)?;
        let admin_token = first.token().to_owned();
        // Its own data directory: the instances share only the database
        // and the object store.
        let second_dir = scratch.path().join("instance2");
        std::fs::create_dir_all(&second_dir)?;
        let second = TestServer::start_in_with_env(&second_dir, Some(&database_url), &env)?;
        let addr = |s: &TestServer| s.base_url.trim_start_matches("http://").to_owned();
        let lb = HaProxy::start([&addr(&first), &addr(&second)])?;
        lb.wait_serving(&INSTANCE_NAMES).await?;
        Ok(Self {
            lb,
            instances: vec![first, second],
            s3,
            database_url,
            admin_token,
            _scratch: scratch,
        })
    }

    pub fn base_url(&self) -> String {
        self.lb.base_url()
    }

    /// The cluster as one server for tests written against a
    /// [`TestServer`]: its URL is the balancer's, its admin token and
    /// database the cluster's, and it keeps the rest running.
    pub fn into_front(mut self) -> TestServer {
        let mut front = self.instances.remove(0);
        front.base_url = self.base_url();
        front.admin_token = Some(self.admin_token.clone());
        front.behind = Some(Box::new(self));
        front
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path)
    }

    pub fn token(&self) -> &str {
        &self.admin_token
    }

    /// Where the S3 server keeps a stored blob (its key is
    /// `blobs/ab/cd/<hash>`).
    pub fn s3_file(&self, hash: &str) -> PathBuf {
        self.s3
            .root
            .join(BUCKET)
            .join("blobs")
            .join(&hash[0..2])
            .join(&hash[2..4])
            .join(hash)
    }
}
