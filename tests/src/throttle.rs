//! A slow link for sync tests: a TCP relay on a loopback port that passes
//! the app's uploads to the real server at a set rate, so that a sync of a
//! few megabytes takes seconds and the server can be stopped in the middle
//! of it. Nothing is altered; a stopped server simply cuts the relayed
//! connections, as a dropped network would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug)]
pub struct SlowLink {
    pub url: String,
    /// Bytes relayed from the app to the server so far.
    pub uploaded: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowLink {
    /// Relays 127.0.0.1:<new port> to `upstream` (`host:port`), uploads at
    /// `bytes_per_sec`.
    pub async fn start(upstream: &str, bytes_per_sec: u64) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let uploaded = Arc::new(AtomicU64::new(0));
        let upstream = upstream.to_owned();
        let counter = uploaded.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return; // dropping `client` closes it: "connection reset"
                    };
                    relay(client, server, bytes_per_sec, counter).await;
                });
            }
        });
        Ok(Self {
            url,
            uploaded,
            task,
        })
    }

    pub fn uploaded(&self) -> u64 {
        self.uploaded.load(Ordering::Relaxed)
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, rate: u64, counter: Arc<AtomicU64>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let chunk = (rate / 20).clamp(1024, 64 * 1024) as usize;
        let mut buf = vec![0u8; chunk];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
            counter.fetch_add(n as u64, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
        }
        let _ = sw.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
        let _ = cw.shutdown().await;
    };
    // Either side closing ends the connection, as a cut would.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
