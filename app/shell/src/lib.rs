//! The field app's Tauri shell. It owns no inspection logic: every command
//! in [`commands`] reads its arguments, calls `choucha-app-core` and turns
//! the answer into a view from `choucha-app-api` (the contract the Yew
//! front end is compiled against).
//!
//! * [`config`] — where the data lives, settings, start-up options (env
//!   and command line: a demo or test hands over an enrolment here).
//! * [`sync_loop`] — background sync with backoff, and its status.
//! * [`position`] — where photo positions come from on this platform.
//! * [`recover`] — a page whose web process died is loaded again.
//! * [`views`] — views assembled from the core's state.

pub mod commands;
pub mod config;
pub mod error;
pub mod pin;
pub mod position;
pub mod recheck;
pub mod recover;
pub mod sync_loop;
pub mod views;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use choucha_app_api::Settings;
use choucha_app_core::App;
use tauri::Manager;

/// What every command can reach.
#[derive(Debug)]
pub struct Shell {
    /// The engine, once the officer's PIN unlocked the data key.
    app: std::sync::OnceLock<Arc<App>>,
    /// The PIN-protected data key and the lock state ([`pin`]).
    pub pin: pin::PinLock,
    pub http: reqwest::Client,
    pub config: config::Config,
    pub settings: Mutex<Settings>,
    pub sync: sync_loop::SyncHandle,
    pub position: position::Positions,
    /// A start-up problem to show on the first screen (e.g. the demo's
    /// enrolment failed).
    pub notice: Mutex<Option<String>>,
    pub started: Instant,
}

impl Shell {
    /// The engine for a command the officer gave: refused while the data
    /// are locked (not yet unlocked, or idle too long); each use counts as
    /// activity.
    pub fn app(&self) -> Result<&App, choucha_app_core::CoreError> {
        let app = self.app.get().ok_or(choucha_app_core::CoreError::Locked)?;
        self.pin.touch()?;
        Ok(app)
    }

    /// The engine for background work (sync), locked or not: sync goes on
    /// while the screen waits for the PIN.
    pub fn opened_app(&self) -> Option<&Arc<App>> {
        self.app.get()
    }

    /// Waits until the data are first unlocked.
    pub async fn wait_opened(&self) -> &Arc<App> {
        loop {
            if let Some(app) = self.app.get() {
                return app;
            }
            self.pin.opened.notified().await;
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Opens the store and builds the shell state (no window needed: the
/// benchmarks and tests of the shell call this directly).
pub fn open_shell(config: config::Config, started: Instant) -> Result<Shell, error::StartError> {
    let settings = config::load_settings(&config)?;
    let position = position::Positions::new(&settings, config.location_override.clone())?;
    Ok(Shell {
        app: Default::default(),
        pin: pin::PinLock::new(&config),
        http: choucha_app_core::sync::http_client(),
        settings: Mutex::new(settings),
        sync: sync_loop::SyncHandle::default(),
        position,
        notice: Mutex::new(None),
        config,
        started,
    })
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let started = Instant::now();
    let builder = tauri::Builder::default();
    // Phones and tablets: the platform's position (docs/app.md).
    #[cfg(mobile)]
    let builder = builder.plugin(tauri_plugin_geolocation::init());
    let result = builder
        .setup(move |app| {
            let config = config::Config::resolve(app.handle())?;
            let shell = open_shell(config, started)?;
            let shell = Arc::new(shell);
            app.manage(shell.clone());
            if let Some(window) = app.get_webview_window("main") {
                recover::reload_when_the_page_dies(&window);
            }
            tauri::async_runtime::spawn(async move {
                startup(shell).await;
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::home,
            commands::enrol,
            commands::task_detail,
            commands::start_task,
            commands::inspection,
            commands::set_item,
            commands::set_outcome,
            commands::take_photo,
            commands::photo_data,
            commands::remove_photo,
            commands::add_finding,
            commands::remove_finding,
            commands::rectification_orders,
            commands::sign,
            commands::record_refusal,
            commands::seal,
            commands::start_amendment,
            commands::sync_now,
            commands::sync_status,
            commands::save_settings,
            commands::location_fix,
            commands::ui_timing,
            commands::ask_question,
            commands::escalate,
            commands::acknowledge_revocation,
            pin::pin_status,
            pin::set_pin,
            pin::unlock,
            pin::change_pin,
            recheck::recheck,
            recheck::start_recheck,
            recheck::set_recheck_result,
            recheck::take_recheck_photo,
            recheck::sign_recheck,
            recheck::recheck_refusal,
            recheck::seal_recheck,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("抽查现场端无法启动 (the field app failed to start): {e}");
        std::process::exit(1);
    }
}

/// After the window is up: enrol from the start-up options when asked
/// (demo, tests), then keep syncing in the background.
async fn startup(shell: Arc<Shell>) {
    // Nothing can be read or sent before the officer's PIN opens the data.
    let app = shell.wait_opened().await.clone();
    if let Some(target) = shell.config.enrol.clone() {
        match app.enrolment() {
            Ok(Some(_)) => {}
            Ok(None) => {
                let name = shell.settings().device_name;
                if let Err(e) = app
                    .enrol_pinned(
                        &shell.http,
                        &target.server_url,
                        &target.code,
                        &name,
                        target.ca_pem.as_deref(),
                    )
                    .await
                {
                    *shell.notice.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(format!("自动注册失败：{e}"));
                }
            }
            Err(e) => {
                *shell.notice.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
        }
    }
    sync_loop::run(shell).await;
}
