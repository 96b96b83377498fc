//! A real S3-compatible server for tests: `s3s-fs` (installed from
//! crates.io by `scripts/setup.sh`), started on 127.0.0.1 with a free port
//! and its own directory, killed on drop.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use choucha_sync_server::blobs::{S3BlobStore, S3Config};
use tokio::process::{Child, Command};

pub const ACCESS_KEY: &str = "choucha-test";
pub const SECRET_KEY: &str = "choucha-test-secret";
pub const BUCKET: &str = "evidence";

/// A real `s3s-fs` process serving `root` on 127.0.0.1; killed on drop.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    pub port: u16,
    pub root: PathBuf,
    log: PathBuf,
}

fn s3s_fs_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("s3s-fs"))
            .find(|p| p.is_file())
    });
    let in_cargo_home = || {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        Some(home.join("bin").join("s3s-fs")).filter(|p| p.is_file())
    };
    on_path.or_else(in_cargo_home).unwrap_or_else(|| {
        panic!(
            "s3s-fs (the S3-compatible server these tests run against) is not installed: \
             run scripts/setup.sh (it runs `cargo install s3s-fs --version 0.13.0 \
             --features binary --locked`)"
        )
    })
}

impl S3Server {
    pub async fn start(root: &Path) -> Self {
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        Self::start_on(root, crate::free_port().expect("a free port")).await
    }

    pub async fn start_on(root: &Path, port: u16) -> Self {
        let log = root.with_extension(format!("{port}.log"));
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("start s3s-fs");
        let mut server = Self {
            child,
            port,
            root: root.to_owned(),
            log,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("s3s-fs exited at start ({status}):\n{log}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "s3s-fs did not listen on {addr}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's process ID (for its memory and CPU figures).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The settings that point a `choucha-server` at this store.
    pub fn server_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CHOUCHA_S3_ENDPOINT", self.endpoint()),
            ("CHOUCHA_S3_BUCKET", BUCKET.to_owned()),
            ("CHOUCHA_S3_ACCESS_KEY", ACCESS_KEY.to_owned()),
            ("CHOUCHA_S3_SECRET_KEY", SECRET_KEY.to_owned()),
        ]
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn store(&self) -> S3BlobStore {
        let mut config = S3Config::new(self.endpoint(), BUCKET, ACCESS_KEY, SECRET_KEY);
        // Fail fast when the server is down; the upload layer retries.
        config.max_retries = 1;
        config.retry_timeout = Duration::from_secs(3);
        config.request_timeout = Duration::from_secs(10);
        // Exercise multipart uploads with blobs of a few MiB.
        config.multipart_threshold = 1024 * 1024;
        S3BlobStore::new(&config).expect("S3 store config")
    }

    /// Kills the server (an outage).
    pub async fn stop(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// Starts it again on the same port and directory.
    pub async fn restart(&mut self) {
        let again = Self::start_on(&self.root, self.port).await;
        *self = again;
    }
}
