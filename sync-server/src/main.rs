//! `choucha-server`: one binary, one subcommand per job.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use choucha_sync_server::{AppState, router};

#[derive(Parser)]
#[command(
    name = "choucha-server",
    version,
    about = "Choucha 双随机、一公开 sync server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API and the console.
    Serve {
        /// Address to listen on. Port 0 picks a free port; the chosen address
        /// is printed as `listening on http://…` once the socket is bound.
        #[arg(long, env = "CHOUCHA_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Directory for the embedded database and evidence files.
        #[arg(long, env = "CHOUCHA_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
    /// Validate checklist files (a directory of `*.toml`) and list them.
    Checklists {
        /// Directory to check instead of the embedded checklists.
        dir: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve { listen, data_dir } => {
            std::fs::create_dir_all(&data_dir)
                .with_context(|| format!("creating data directory {}", data_dir.display()))?;
            let state = AppState::new().context("loading checklists")?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let addr = listener.local_addr().context("reading bound address")?;
            // Tests and scripts wait for this exact line to learn the port.
            println!("listening on http://{addr}");
            axum::serve(listener, router(state))
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("serving")?;
        }
        Command::Checklists { dir } => {
            let catalogue = match dir {
                Some(d) => choucha_checklists::Catalogue::load_dir(&d)?,
                None => choucha_checklists::Catalogue::embedded()?,
            };
            for c in catalogue.all() {
                println!(
                    "{}\t{}\t{} items\t{}",
                    c.reference(),
                    c.category.label_zh(),
                    c.items().count(),
                    c.title
                );
            }
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
