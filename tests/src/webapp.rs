//! Drives the real field app window: Xvfb, `tauri-driver` with
//! WebKitWebDriver (Debian's webkit2gtk-driver), and a WebDriver client
//! (fantoccini). [`FieldApp::launch`] starts all three on free display and
//! port numbers and stops them when dropped; the helpers wait for what the
//! screen shows rather than sleeping.
//!
//! The tools are installed by `scripts/setup.sh`. A missing tool is an
//! error that says what to install, never a silent skip: CI has them all.

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::free_port;

/// How long a screen may take to show something before a test fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// The field app binary the tests start (`choucha-field-app-it`, the same
/// code as `choucha-field-app`, built next to the test executables).
pub fn app_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test executable")?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test executable has no parent directory")?;
    let bin = dir.join("choucha-field-app-it");
    if !bin.is_file() {
        bail!(
            "{} not found: run the tests with cargo test -p choucha-tests",
            bin.display()
        );
    }
    Ok(bin)
}

fn tool(name: &str) -> anyhow::Result<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin"));
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(cargo_bin);
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("{name} is not installed: run scripts/setup.sh (the app window tests need Xvfb, WebKitWebDriver and tauri-driver)")
        })
}

/// A child process killed and reaped on drop, with every process it
/// started (tauri-driver's WebKitWebDriver would otherwise outlive it).
#[derive(Debug)]
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let tree = descendants(self.0.id());
        let _ = self.0.kill();
        let _ = self.0.wait();
        if !tree.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(tree.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Every process below `pid`, from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let procs: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| {
                let p: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
                // The command name may hold spaces: fields resume after ')'.
                let ppid = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                Some((p, ppid))
            })
            .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, ppid) in &procs {
            if *ppid == parent && !out.contains(child) {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

/// An X server of its own, so tests can run side by side.
#[derive(Debug)]
pub struct Display {
    _xvfb: Proc,
    /// Kept open: Xvfb must not meet a closed pipe if it writes again.
    _stdout: std::process::ChildStdout,
    pub name: String,
}

impl Display {
    /// Starts Xvfb on a display number it picks itself (`-displayfd`):
    /// choosing a free number here and starting Xvfb on it raced when two
    /// tests started at once — the loser's Xvfb exited, the loser saw the
    /// winner's socket and shared its display, and lost its window when the
    /// winner's test ended and stopped that display.
    pub fn start() -> anyhow::Result<Self> {
        let xvfb = tool("Xvfb")?;
        let mut child = Command::new(&xvfb)
            .args(["-displayfd", "1"])
            .args(["-screen", "0", "1920x1400x24", "-nolisten", "tcp", "-ac"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb")?;
        let mut stdout = child.stdout.take().context("Xvfb's stdout")?;
        let xvfb = Proc(child);
        // Xvfb writes the number once its socket is ready, or exits.
        let mut line = String::new();
        io::BufReader::new(&mut stdout)
            .read_line(&mut line)
            .context("reading Xvfb's display number")?;
        let n: u32 = line
            .trim()
            .parse()
            .with_context(|| format!("Xvfb did not start (it said {line:?})"))?;
        Ok(Self {
            _xvfb: xvfb,
            _stdout: stdout,
            name: format!(":{n}"),
        })
    }
}

/// The PIN the window tests set on first start and unlock with.
pub const TEST_PIN: &str = "246810";

/// The app's store under `home`, opened as the app does: the data key
/// unlocked from the vault with [`TEST_PIN`] (the window must be closed).
pub fn open_local(home: &Path) -> anyhow::Result<choucha_app_core::App> {
    let vault = std::sync::Arc::new(choucha_app_core::vault::Vault::with_file_secret(
        &home.join("keystore"),
        Default::default(),
    ));
    let key = vault
        .unlock(TEST_PIN)
        .map_err(|e| anyhow::anyhow!("unlocking the test app's vault: {e}"))?;
    Ok(choucha_app_core::App::open_unlocked(
        &home.join("data"),
        &key,
        vault,
    )?)
}

/// The running app window and the WebDriver session on it.
#[derive(Debug)]
pub struct FieldApp {
    pub client: Client,
    _driver: Proc,
    _display: Display,
    pub home: PathBuf,
    screenshots: PathBuf,
    log: PathBuf,
    shot: u32,
}

impl FieldApp {
    /// Starts the app with its data under `home` and extra environment
    /// (`CHOUCHA_ENROL`, `CHOUCHA_LOCATION`, …); screenshots go to
    /// `target/e2e-screenshots/<tag>/`.
    pub async fn launch(home: &Path, env: &[(&str, String)], tag: &str) -> anyhow::Result<Self> {
        Self::launch_with_pin(home, env, tag, TEST_PIN).await
    }

    /// [`launch`](Self::launch), passing the lock screen with `pin`.
    pub async fn launch_with_pin(
        home: &Path,
        env: &[(&str, String)],
        tag: &str,
        pin: &str,
    ) -> anyhow::Result<Self> {
        let display = Display::start()?;
        let driver_bin = tool("tauri-driver")?;
        let native = tool("WebKitWebDriver")?;
        let app = app_binary()?;
        let port = free_port()?;
        let native_port = free_port()?;
        let screenshots = crate::workspace_root()
            .join("target/e2e-screenshots")
            .join(tag);
        std::fs::create_dir_all(&screenshots)?;
        // The driver's and the app's stderr, shown when a wait fails.
        let log_path = screenshots.join("app.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut cmd = Command::new(driver_bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .arg("--native-driver")
        .arg(&native)
        .env("DISPLAY", &display.name)
        .env("CHOUCHA_APP_HOME", home)
        // WebKitGTK's defaults work under Xvfb; switching compositing
        // or the DMA-BUF renderer off makes screenshot requests hang.
        .env("NO_AT_BRIDGE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = Proc(cmd.spawn().context("starting tauri-driver")?);
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{url}/status")).send().await.is_err() {
            if Instant::now() > deadline {
                bail!("tauri-driver did not answer on {url} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert("tauri:options".into(), json!({ "application": app }));
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&url)
            .await
            .context("opening a WebDriver session on the app")?;
        let app = Self {
            client,
            _driver: driver,
            _display: display,
            home: home.to_owned(),
            screenshots,
            log: log_path,
            shot: 0,
        };
        app.client.set_window_size(1280, 800).await.ok();
        // Every start opens on the lock screen: the officer's PIN first.
        app.pass_pin(pin).await?;
        Ok(app)
    }

    /// On the lock screen: sets `pin` (first start, typed twice) or
    /// unlocks with it, and waits for the lock screen to go.
    pub async fn pass_pin(&self, pin: &str) -> anyhow::Result<()> {
        self.wait("#pin-input").await?;
        self.fill("#pin-input", pin).await?;
        if self.client.find(Locator::Css("#pin-again")).await.is_ok() {
            self.fill("#pin-again", pin).await?;
        }
        self.click("#pin-submit").await?;
        self.wait_js("!document.querySelector('#pin-screen')", WAIT)
            .await
            .context("the lock screen did not go after the PIN")
    }

    /// Closes the session (the app exits) and stops the driver and display.
    pub async fn close(self) -> anyhow::Result<()> {
        let FieldApp { client, .. } = self;
        client
            .close()
            .await
            .context("closing the WebDriver session")?;
        Ok(())
    }

    /// Waits until `css` matches a displayed element.
    pub async fn wait(&self, css: &str) -> anyhow::Result<Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if e.is_displayed().await.unwrap_or(false) {
                    return Ok(e);
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "nothing matching {css} appeared within {WAIT:?}; the screen shows:\n{}",
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the element matching `css` contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = e.text().await {
                    if t.contains(text) {
                        return Ok(t);
                    }
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{css} did not show \"{text}\" within {WAIT:?}; the screen shows:\n{}",
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `check` is true of the page (a JS expression).
    pub async fn wait_js(&self, expr: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let v = self
                .client
                .execute(&format!("return !!({expr});"), vec![])
                .await?;
            if v == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{expr} did not become true within {limit:?}; the screen shows:\n{}",
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's text; when there is no page, why not, whether the app
    /// process still runs, and the end of its log.
    pub async fn body_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(e) => {
                let app_running = descendants(self._driver.0.id()).iter().any(|p| {
                    std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .is_ok_and(|c| c.trim().starts_with("choucha-field"))
                });
                format!(
                    "(no page: {e:?}; the app process is {}; its log ends:\n{})",
                    if app_running { "running" } else { "gone" },
                    self.log_tail(30)
                )
            }
        }
    }

    /// The last `lines` lines the driver and the app wrote to stderr.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Clicks the element like a finger would (WebDriver click), waiting for
    /// it first.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let e = self.wait(css).await?;
        if let Err(err) = e.click().await {
            // Covered by the sticky top bar after a scroll: bring it to the
            // middle of the screen and tap again.
            self.client
                .execute(
                    "arguments[0].scrollIntoView({block: 'center'});",
                    vec![serde_json::to_value(&e)?],
                )
                .await?;
            e.click()
                .await
                .with_context(|| format!("clicking {css}: {err}"))?;
        }
        Ok(())
    }

    /// Replaces the text of an input or textarea.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let e = self.wait(css).await?;
        e.clear().await.ok();
        e.send_keys(text)
            .await
            .with_context(|| format!("typing into {css}"))?;
        Ok(())
    }

    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let e = self.wait(css).await?;
        e.select_by_value(value)
            .await
            .with_context(|| format!("choosing {value} in {css}"))?;
        Ok(())
    }

    /// Chooses `file` in a file input (what the camera button opens).
    pub async fn attach(&self, css: &str, file: &Path) -> anyhow::Result<()> {
        let e = self
            .client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no file input {css}"))?;
        e.send_keys(&file.display().to_string())
            .await
            .with_context(|| format!("choosing {} in {css}", file.display()))?;
        Ok(())
    }

    /// Draws a signature on the canvas `css` with pointer actions: pen down,
    /// a wavy stroke across, pen up, then a second short stroke.
    pub async fn draw_signature(&self, css: &str, seed: f64) -> anyhow::Result<()> {
        let canvas = self.wait(css).await?;
        let mut mouse = MouseActions::new("pen".into())
            .then(PointerAction::MoveToElement {
                element: canvas.clone(),
                duration: None,
                x: -260.0,
                y: 10.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
        for i in 0..24 {
            let dy = ((i as f64 + seed) * 0.9).sin() * 14.0;
            mouse = mouse.then(PointerAction::MoveBy {
                duration: Some(Duration::from_millis(10)),
                x: 20.0,
                y: dy,
            });
        }
        mouse = mouse
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::MoveToElement {
                element: canvas.clone(),
                duration: None,
                x: -120.0,
                y: -40.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            });
        for _ in 0..8 {
            mouse = mouse.then(PointerAction::MoveBy {
                duration: Some(Duration::from_millis(10)),
                x: 6.0,
                y: 9.0,
            });
        }
        mouse = mouse.then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
        self.client
            .perform_actions(mouse)
            .await
            .context("drawing on the signature pad")?;
        self.client.release_actions().await.ok();
        Ok(())
    }

    /// Saves a screenshot of the window as `NN-name.png`; returns its path.
    pub async fn screenshot(&mut self, name: &str) -> anyhow::Result<PathBuf> {
        // Let the last frame paint.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let png = tokio::time::timeout(Duration::from_secs(30), self.client.screenshot())
            .await
            .context("the screenshot took over 30 s")?
            .context("taking a screenshot")?;
        self.shot += 1;
        let path = self
            .screenshots
            .join(format!("{:02}-{name}.png", self.shot));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    pub async fn set_size(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.client
            .set_window_size(width, height)
            .await
            .with_context(|| format!("resizing the window to {width}x{height}"))?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(())
    }
}
