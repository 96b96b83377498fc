//! `choucha-server`: see [`choucha_sync_server::cli`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    choucha_sync_server::cli::run().await
}
