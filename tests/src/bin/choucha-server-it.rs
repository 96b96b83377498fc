//! The server program built inside the test package, so that the tests run
//! exactly `choucha-server` compiled with the same features as themselves.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    choucha_sync_server::cli::run().await
}
