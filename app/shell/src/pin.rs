//! The PIN lock (PIN 锁): the data key opens only with the officer's PIN
//! (`choucha_app_core::vault`); the app asks for it on start and again
//! after `idle_lock` without use. While the screen is locked the engine
//! stays open for the background sync; every command the officer gives is
//! refused with `locked` until the PIN is typed. Too many wrong PINs wipe
//! the local data, the evidence and the key.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use choucha_app_api::command::NoArgs;
use choucha_app_api::{Command, CommandError, PinChange, PinEntry, PinView, cmd};
use choucha_app_core::vault::{PinPolicy, UnlockError, Vault, VaultState};
use choucha_app_core::{App, CoreError};
use tauri::State;

use crate::Shell;
use crate::config::Config;
use crate::error::{CmdResult, command_error};

crate::serves! {
    cmd::PinStatus => pin_status,
    cmd::SetPin => set_pin,
    cmd::Unlock => unlock,
    cmd::ChangePin => change_pin,
}

/// The vault and whether the screen is locked.
#[derive(Debug)]
pub struct PinLock {
    pub vault: Arc<Vault>,
    state: Mutex<LockState>,
    /// Told when the data are first unlocked (the sync and the start-up
    /// enrolment wait for it).
    pub opened: tokio::sync::Notify,
}

#[derive(Debug)]
struct LockState {
    locked: bool,
    last_used: Instant,
    /// The data were wiped after too many wrong PINs (said once on the
    /// lock screen).
    wiped: bool,
}

impl PinLock {
    pub fn new(config: &Config) -> Self {
        Self {
            vault: Arc::new(Vault::with_file_secret(
                &config.keystore_dir,
                config.pin_policy,
            )),
            state: Mutex::new(LockState {
                locked: true,
                last_used: Instant::now(),
                wiped: false,
            }),
            opened: tokio::sync::Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One use by the officer: refused when locked or idle past the limit
    /// (which locks).
    pub fn touch(&self) -> Result<(), CoreError> {
        let mut s = self.state();
        if !s.locked && s.last_used.elapsed() > self.vault.policy().idle_lock {
            s.locked = true;
        }
        if s.locked {
            return Err(CoreError::Locked);
        }
        s.last_used = Instant::now();
        Ok(())
    }

    fn unlocked(&self) {
        let mut s = self.state();
        s.locked = false;
        s.wiped = false;
        s.last_used = Instant::now();
    }

    fn view(&self) -> Result<PinView, CoreError> {
        let policy = self.vault.policy();
        let s = self.state();
        let (needs_new_pin, failures, wait_until) = match self.vault.state()? {
            VaultState::NoPin => (true, 0, None),
            VaultState::Locked {
                failures,
                wait_until,
            } => (false, failures, wait_until),
        };
        Ok(PinView {
            needs_new_pin,
            locked: s.locked || s.last_used.elapsed() > policy.idle_lock,
            failures,
            remaining: policy.max_failures.saturating_sub(failures),
            wait_until: wait_until
                .as_ref()
                .map(choucha_app_core::vault::china_clock),
            secret_kind: self.vault.secret_kind_zh().to_owned(),
            idle_lock_minutes: (policy.idle_lock.as_secs() / 60) as u32,
            wiped: s.wiped,
        })
    }
}

type ShellState<'a> = State<'a, Arc<Shell>>;
type In<C> = <C as Command>::Args;
type Out<C> = CmdResult<<C as Command>::Output>;

/// Opens the engine with the unlocked key, once.
fn open(shell: &Shell, key: &choucha_app_core::keys::DeviceKey) -> Result<(), CoreError> {
    if shell.opened_app().is_none() {
        let app = App::open_unlocked(&shell.config.data_dir, key, shell.pin.vault.clone())?;
        app.set_allow_plain_http(shell.config.allow_plain_http);
        let _ = shell.app.set(Arc::new(app));
        shell.pin.opened.notify_one();
    }
    shell.pin.unlocked();
    Ok(())
}

/// A wrong PIN, a wait, or the wipe, as the lock screen says it. After
/// the wipe the open engine empties its data, or the closed data
/// directory is cleared.
fn refused(shell: &Shell, e: UnlockError) -> CommandError {
    let code = match &e {
        UnlockError::WrongPin { .. } => "wrong_pin",
        UnlockError::TooSoon(_) => "too_soon",
        UnlockError::Wiped => {
            let wiped = match shell.opened_app() {
                Some(app) => app.wipe_after_revocation(),
                None => choucha_app_core::app::remove_local_data(&shell.config.data_dir),
            };
            if let Err(w) = wiped {
                eprintln!("wiping after too many wrong PINs failed: {w}");
            }
            shell.pin.state().wiped = true;
            "wiped"
        }
        UnlockError::NoPin => "no_pin",
        UnlockError::Other(_) => "key",
    };
    CommandError::new(code, e.to_string())
}

async fn blocking<T: Send + 'static>(
    shell: &Arc<Shell>,
    f: impl FnOnce(&Shell) -> CmdResult<T> + Send + 'static,
) -> CmdResult<T> {
    crate::commands::blocking(shell, f).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn pin_status(shell: ShellState<'_>, args: In<cmd::PinStatus>) -> Out<cmd::PinStatus> {
    let NoArgs {} = args;
    shell.pin.view().map_err(command_error)
}

/// The first PIN, typed twice on the screen (it checks they match).
#[tauri::command(rename_all = "snake_case")]
pub async fn set_pin(shell: ShellState<'_>, args: In<cmd::SetPin>) -> Out<cmd::SetPin> {
    let PinEntry { pin } = args;
    // Argon2id takes a moment on purpose: off the UI thread.
    blocking(&shell, move |s| {
        let key = s.pin.vault.set_pin(&pin).map_err(command_error)?;
        open(s, &key).map_err(command_error)?;
        s.pin.view().map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn unlock(shell: ShellState<'_>, args: In<cmd::Unlock>) -> Out<cmd::Unlock> {
    let PinEntry { pin } = args;
    blocking(&shell, move |s| {
        let key = s.pin.vault.unlock(&pin).map_err(|e| refused(s, e))?;
        open(s, &key).map_err(command_error)?;
        s.pin.view().map_err(command_error)
    })
    .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn change_pin(shell: ShellState<'_>, args: In<cmd::ChangePin>) -> Out<cmd::ChangePin> {
    let PinChange { old_pin, new_pin } = args;
    blocking(&shell, move |s| {
        s.app().map_err(command_error)?;
        s.pin
            .vault
            .change_pin(&old_pin, &new_pin)
            .map_err(|e| refused(s, e))?;
        s.pin.view().map_err(command_error)
    })
    .await
}

/// Idle time before the lock, from `CHOUCHA_APP_IDLE_LOCK_S` (seconds).
pub fn idle_lock_from(value: Option<&str>) -> Option<Duration> {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
}

/// The policy the shell runs with: the defaults, with the idle time and
/// the number of wrong PINs before the wipe as configured.
pub fn policy(idle: Option<Duration>, max_failures: Option<u32>) -> PinPolicy {
    let d = PinPolicy::default();
    PinPolicy {
        idle_lock: idle.unwrap_or(d.idle_lock),
        max_failures: max_failures.filter(|n| *n >= 3).unwrap_or(d.max_failures),
        ..d
    }
}
