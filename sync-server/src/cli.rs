//! The `choucha-server` command line: one subcommand per job. Every
//! subcommand works on the same database as `serve` (the `--data-dir` SQLite
//! file, or `DATABASE_URL` for PostgreSQL). Lives in the library so that the
//! cross-crate tests can build the very same program as their own binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::data_lock::DataDirLock;
use crate::import::{DirectoryKind, FileFormat};
use crate::service::{self, Actor};
use crate::settings::{LogFormat, Settings};
use crate::store::{ImportMode, Store};
use crate::{AppState, router};
use choucha_shared::plan::DrawPlan;

#[derive(Parser)]
#[command(
    name = "choucha-server",
    version,
    about = "Choucha 双随机、一公开 sync server"
)]
struct Cli {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: Command,
}

/// Flags that override the settings file and the environment
/// (`crate::settings`); absent flags leave those layers alone.
#[derive(Args)]
struct DbArgs {
    /// Settings file (TOML); also `CHOUCHA_CONFIG`.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory for the embedded database and evidence files (default
    /// `data`; also `CHOUCHA_DATA_DIR`).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// PostgreSQL (`postgres://…`) or SQLite (`sqlite:…`) URL; default is
    /// `choucha.db` in the data directory (also `DATABASE_URL`).
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080; also
        /// `CHOUCHA_LISTEN`). Port 0 picks a free port; the chosen address
        /// is printed as `listening on http://…` once the socket is bound.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Add towns/streets (镇街) that targets and officers may belong to.
    Jurisdictions { names: Vec<String> },
    /// Import a directory file (CSV or XLSX).
    Import {
        #[arg(value_enum)]
        kind: Kind,
        file: PathBuf,
        /// Import the good rows even if some rows are bad.
        #[arg(long, conflicts_with = "full")]
        partial: bool,
        /// The file is the whole target directory: targets not in it are
        /// marked 不在最新名录 (never deleted).
        #[arg(long)]
        full: bool,
    },
    /// Create a draw plan from a JSON file.
    Plan { file: PathBuf },
    /// Give a version-2 plan, before freezing, the targets an upstream list
    /// (CSV or XLSX: 检查对象代码, 检查对象类别[, 来源]) assigns.
    Assign {
        plan_id: String,
        file: PathBuf,
        /// The list the whole file is, for rows without 来源.
        #[arg(long)]
        source: Option<String>,
    },
    /// Freeze a plan's directory snapshot and print its hash.
    Freeze { plan_id: String },
    /// Enter the public seed and run the draw.
    Draw {
        plan_id: String,
        #[arg(long)]
        seed: String,
        /// Who entered the seed.
        #[arg(long)]
        by: String,
        /// Replace this earlier draw (a redraw), with --reason.
        #[arg(long, requires = "reason")]
        redraw_of: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Replace one officer's seat on a task of a version-2 draw.
    Replace {
        draw_id: String,
        #[arg(long)]
        task: String,
        /// The credential number of the officer who cannot go.
        #[arg(long)]
        leaving: String,
        #[arg(long)]
        reason: String,
    },
    /// Re-run a stored draw from its published inputs and compare.
    Verify { draw_id: String },
    /// Admin API tokens: issue one to a person, list them, revoke one.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage console users.
    #[command(subcommand)]
    User(crate::console::users::UserCommand),
    /// Remove now what the hourly clean-up removes: unfinished uploads idle
    /// longer than `upload_idle_hours` and evidence files nothing names
    /// older than `blob_grace_hours` (or the hours given here).
    Gc {
        /// Collect unnamed evidence older than this many hours (0: all).
        #[arg(long)]
        grace_hours: Option<u64>,
        /// Sweep unfinished uploads idle this many hours (0: all).
        #[arg(long)]
        idle_hours: Option<u64>,
    },
    /// Load the demo directory and draw (idempotent).
    Demo,
    /// Validate checklist files (a directory of `*.toml`) and list them.
    Checklists {
        /// Directory to check instead of the embedded checklists.
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token to a named person; the token is printed once, here,
    /// and stored only as a hash.
    New {
        /// The person who will hold it (持有人).
        #[arg(long)]
        name: String,
        /// Days it stays valid (1 to 365).
        #[arg(long, default_value_t = crate::store::DEFAULT_TOKEN_DAYS)]
        days: u32,
    },
    /// List every token (never the secrets).
    List,
    /// Revoke a token by the id `list` shows.
    Revoke { id: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    Targets,
    Officers,
    Experts,
    Recusals,
}

impl From<Kind> for DirectoryKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Targets => DirectoryKind::Targets,
            Kind::Officers => DirectoryKind::Officers,
            Kind::Experts => DirectoryKind::Experts,
            Kind::Recusals => DirectoryKind::Recusals,
        }
    }
}

/// Parses the command line and runs it.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Checklists { dir } = &cli.command {
        init_logging(LogFormat::Text);
        let catalogue = match dir {
            Some(d) => choucha_checklists::Catalogue::load_dir(d)?,
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
        return Ok(());
    }
    let mut flags: Vec<(&str, String)> = Vec::new();
    if let Some(d) = &cli.db.data_dir {
        flags.push(("data_dir", d.display().to_string()));
    }
    if let Some(u) = &cli.db.database_url {
        flags.push(("database_url", u.clone()));
    }
    if let Command::Serve {
        listen: Some(listen),
    } = &cli.command
    {
        flags.push(("listen", listen.clone()));
    }
    let settings =
        Settings::from_process(cli.db.config.as_deref(), &flags).context("reading the settings")?;
    init_logging(settings.log_format);
    let data_dir = settings.data_dir.clone();
    let on_sqlite = settings
        .database_url
        .as_ref()
        .is_none_or(|u| u.expose().starts_with("sqlite:"));
    // Held until the server stops (see `data_lock`).
    let _data_lock = match &cli.command {
        Command::Serve { .. } if on_sqlite => Some(DataDirLock::acquire(&data_dir)?),
        _ => None,
    };
    let store = Store::open(
        settings.database_url.as_ref().map(|u| u.expose()),
        &data_dir,
    )
    .await
    .with_context(|| format!("opening the database (data dir {})", data_dir.display()))?;
    let mut state = AppState::open(store, &data_dir, settings.blob_config())
        .await
        .context("opening the evidence store")?;
    state.configure(&settings).context("reading the settings")?;
    match cli.command {
        Command::Serve { .. } => {
            let tls = settings
                .tls_cert_file
                .clone()
                .zip(settings.tls_key_file.clone());
            serve(state, settings.listen, tls).await?
        }
        Command::Jurisdictions { names } => {
            state.store.add_jurisdictions(&names).await?;
            println!(
                "{}",
                state
                    .store
                    .jurisdictions()
                    .await?
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join("、")
            );
        }
        Command::Import {
            kind,
            file,
            partial,
            full,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("file")
                .to_owned();
            let format =
                FileFormat::from_file_name(&name).context("file name must end in .csv or .xlsx")?;
            let summary = service::directory::import_file(
                &state.store,
                &Actor::cli(),
                kind.into(),
                &bytes,
                format,
                match (full, partial) {
                    (true, _) => ImportMode::Full,
                    (false, true) => ImportMode::Partial,
                    (false, false) => ImportMode::AllOrNothing,
                },
                &name,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            for e in &summary.errors {
                eprintln!("第 {} 行 [{}] '{}': {}", e.row, e.column, e.value, e.reason);
            }
            for r in &summary.retired {
                println!("不在最新名录: {} {} {}", r.category, r.key, r.name);
            }
            println!(
                "{}: {} 行，新增 {}，更新 {}，未变 {}，有误 {}",
                if summary.imported {
                    "已导入"
                } else {
                    "未导入（有错误行；可加 --partial 仅导入正确行）"
                },
                summary.total_rows,
                summary.inserted,
                summary.updated,
                summary.unchanged,
                summary.rejected
            );
            if !summary.imported {
                std::process::exit(2);
            }
        }
        Command::Plan { file } => {
            let plan = read_plan(&file)?;
            service::draws::create_plan(&state.store, &Actor::cli(), &plan)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("已创建抽查计划 {}", plan.plan_id);
        }
        Command::Assign {
            plan_id,
            file,
            source,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.display().to_string();
            let format = FileFormat::from_file_name(&name)
                .with_context(|| format!("{name}: expected a .csv or .xlsx file"))?;
            let r = service::draws::import_assigned(
                &state.store,
                &Actor::cli(),
                &plan_id,
                &bytes,
                format,
                &name,
                source.as_deref(),
            )
            .await;
            match r {
                Ok(r) => println!(
                    "抽查计划 {plan_id} 的指定检查对象：{} 个",
                    r.plan.assigned.len()
                ),
                Err(service::ServiceError::Invalid { message, details }) => {
                    eprintln!("{message}");
                    for e in details["errors"].as_array().into_iter().flatten() {
                        eprintln!(
                            "  第 {} 行 {}「{}」：{}",
                            e["row"],
                            e["column"].as_str().unwrap_or_default(),
                            e["value"].as_str().unwrap_or_default(),
                            e["reason"].as_str().unwrap_or_default()
                        );
                    }
                    std::process::exit(2);
                }
                Err(e) => bail!("{e}"),
            }
        }
        Command::Freeze { plan_id } => {
            let r = service::draws::freeze_plan(&state.store, &Actor::cli(), &plan_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for s in &r.sub_strata {
                println!(
                    "分层 {}：候选对象 {} 个，抽取 {} 个",
                    s.id, s.candidates, s.quota
                );
            }
            if r.assigned > 0 || r.excluded > 0 {
                println!(
                    "指定检查对象 {} 个；因近期已检查排除 {} 个",
                    r.assigned, r.excluded
                );
            }
            println!("snapshot_hash {}", r.snapshot_hash.unwrap_or_default());
        }
        Command::Replace {
            draw_id,
            task,
            leaving,
            reason,
        } => {
            let req = service::draws::ReplaceRequest {
                task_id: task,
                leaving,
                reason,
            };
            let r = service::draws::replace_seat(&state.store, &Actor::cli(), &draw_id, req)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "第 {} 次人员替换：任务 {}，{} 由 {}（{}）替换",
                r.seq, r.task_id, r.leaving, r.joining.name, r.joining.person_id
            );
        }
        Command::Draw {
            plan_id,
            seed,
            by,
            redraw_of,
            reason,
        } => {
            let req = service::draws::DrawRequest {
                seed,
                entered_by: by,
                redraw_of,
                reason,
            };
            let d = service::draws::run_draw(&state.store, &Actor::cli(), &plan_id, req, |c| {
                state.checklist_for(c)
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            for t in &d.tasks {
                let team: Vec<&str> = t.team.iter().map(|m| m.name.as_str()).collect();
                println!(
                    "{}\t{}\t{}\t{}",
                    t.task_id,
                    t.stratum_id,
                    t.target,
                    team.join("、")
                );
            }
            println!("draw {} — {} tasks", d.draw_id, d.tasks.len());
        }
        Command::Verify { draw_id } => {
            let v = state.store.verify_draw(&draw_id).await?;
            if v.matches {
                println!(
                    "一致 (match): {} — {} tasks, snapshot {}",
                    v.draw_id, v.tasks, v.snapshot_hash
                );
            } else {
                bail!(
                    "不一致 (mismatch): {}",
                    v.first_difference.unwrap_or_default()
                );
            }
        }
        Command::Token(cmd) => run_token(&state, cmd).await?,
        Command::Gc {
            grace_hours,
            idle_hours,
        } => {
            let hours = |h: u64| std::time::Duration::from_secs(h * 3600);
            let limits = state.evidence;
            let done = service::evidence_gc::clean_up(
                &state,
                idle_hours.map_or(limits.upload_idle, hours),
                grace_hours.map_or(limits.blob_grace, hours),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "清理完成：删除未完成的上传 {} 个，无引用的证据文件 {} 个（{} 字节）",
                done.parts_removed, done.blobs_removed, done.bytes_removed
            );
            if !done.failures.is_empty() {
                bail!(
                    "{} 个文件未能删除：\n{}",
                    done.failures.len(),
                    done.failures.join("\n")
                );
            }
        }
        Command::Demo => {
            let draw_id = crate::demo::load(&state).await?;
            let d = state.store.draw(&draw_id).await?;
            let verified = state.store.verify_draw(&draw_id).await?;
            println!(
                "演示数据就绪：抽查计划 {}，抽取 {}，{} 个检查任务，复核{}",
                crate::demo::PLAN_ID,
                d.draw_id,
                d.tasks.len(),
                if verified.matches {
                    "一致"
                } else {
                    "不一致"
                }
            );
            for (name, password) in crate::demo::console_users(&state).await? {
                println!("演示控制台账户 (demo console user): {name} password: {password}");
            }
        }
        Command::User(cmd) => crate::console::users::run_cli(&state, cmd).await?,
        Command::Checklists { .. } => unreachable!("handled above"),
    }
    Ok(())
}

async fn run_token(state: &AppState, cmd: TokenCommand) -> anyhow::Result<()> {
    use crate::service::admin_tokens;
    let cli = Actor::cli();
    let fail = |e: service::ServiceError| anyhow::anyhow!("{e}");
    match cmd {
        TokenCommand::New { name, days } => {
            let (secret, token) = admin_tokens::issue(&state.store, &cli, &name, days)
                .await
                .map_err(fail)?;
            // Only the secret goes to standard output, so a script can take
            // it (`TOKEN=$(choucha-server token new …)`); the rest is said
            // on standard error.
            eprintln!(
                "已为 {} 签发接口令牌 {}，有效期至 {}（北京时间）。令牌只显示这一次，请妥善保存。",
                token.name,
                token.id,
                choucha_shared::value::china_minute_of(Some(&token.expires_at))
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            println!("编号\t持有人\t签发人\t签发时间\t到期时间\t状态");
            for t in admin_tokens::list(&state.store).await.map_err(fail)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.issued_by.as_deref().unwrap_or("-"),
                    choucha_shared::value::china_minute_of(Some(&t.created_at)),
                    choucha_shared::value::china_minute_of(Some(&t.expires_at)),
                    crate::console::token_state_label(crate::console::page::Lang::Zh, t.state()),
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let t = admin_tokens::revoke(&state.store, &cli, &id)
                .await
                .map_err(fail)?;
            println!("已撤销 {} 的接口令牌 {}", t.name, t.id);
        }
    }
    Ok(())
}

fn read_plan(file: &Path) -> anyhow::Result<DrawPlan> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid plan", file.display()))
}

async fn serve(
    state: AppState,
    listen: SocketAddr,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
) -> anyhow::Result<()> {
    // The server never makes or prints a token: its output ends up in
    // service logs. An operator issues one on a terminal.
    if !state.store.has_active_admin_token().await? {
        tracing::warn!(
            "no admin token is active: issue one with `choucha-server token new --name <持有人>`"
        );
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr().context("reading bound address")?;
    let tls = match tls {
        Some((cert, key)) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| {
                    format!(
                        "reading the TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )
                })?,
        ),
        None => None,
    };
    // Tests and scripts wait for this exact line to learn the port.
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{addr}");
    let checker = crate::oversight::duty::Checker::spawn(state.clone(), state.oversight.clone());
    let sweeper = spawn_evidence_clean_up(state.clone());
    let alerts = crate::alerts::spawn(state.clone());
    // With the peer address, so the console can rate-limit logins per client.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")?,
        Some(config) => {
            let handle = axum_server::Handle::new();
            let stopping = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                stopping.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            axum_server::from_tcp_rustls(listener.into_std()?, config)?
                .handle(handle)
                .serve(app)
                .await
                .context("serving HTTPS")?
        }
    }
    checker.abort();
    sweeper.abort();
    alerts.abort();
    Ok(())
}

/// Every hour (and once at start), removes the parts of uploads idle for
/// `upload_idle` and the blobs nothing named within `blob_grace`
/// ([`service::evidence_gc`]). On several instances each runs it; a part or
/// a blob goes once, and only if still idle or unnamed under its lock.
fn spawn_evidence_clean_up(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let limits = state.evidence;
            if let Err(e) =
                service::evidence_gc::clean_up(&state, limits.upload_idle, limits.blob_grace).await
            {
                tracing::warn!(error = %e, "evidence clean-up failed; retried in an hour");
            }
        }
    })
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

/// Log lines to standard error, as text or one JSON object each; the level
/// comes from `RUST_LOG` (default `info`).
fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    // A second call (tests running the CLI in-process) keeps the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
