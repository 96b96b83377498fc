//! Headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/setup.sh`), for the console's
//! browser tests. [`Browser::start`] runs chromedriver on a free loopback
//! port with a fresh profile and download directory, and stops it on drop.
//! The helpers wait for what the page shows rather than sleeping.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::{TempDir, free_port};

/// How long a page may take to show something before a test fails.
pub const WAIT: Duration = Duration::from_secs(30);

fn find_tool(candidates: &[&str]) -> anyhow::Result<PathBuf> {
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for c in candidates {
        let p = Path::new(c);
        if p.is_absolute() && p.is_file() {
            return Ok(p.to_owned());
        }
        if let Some(found) = path_dirs.iter().map(|d| d.join(c)).find(|p| p.is_file()) {
            return Ok(found);
        }
    }
    bail!(
        "{} is not installed: run scripts/setup.sh (the console browser tests need chromium and chromium-driver)",
        candidates.join(" / ")
    )
}

/// The chromedriver process, killed and reaped on drop.
#[derive(Debug)]
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless Chromium session.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    profile: TempDir,
    screenshots: PathBuf,
    shot: u32,
}

/// Kills the processes started for a profile directory (the browser and its
/// helpers all name it on their command line): a test that fails never
/// closes its session, and the browser would outlive the driver.
fn kill_profile_processes(profile: &Path) {
    let needle = profile.to_string_lossy().into_owned();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(p.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            let _ = Command::new("kill")
                .args(["-9", &pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_profile_processes(self.profile.path());
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile;
    /// screenshots go to `target/console-screenshots/<tag>/`.
    pub async fn start(tag: &str) -> anyhow::Result<Self> {
        let driver_bin = find_tool(&["chromedriver", "/usr/lib/chromium/chromedriver"])?;
        // The real binary, not Debian's wrapper script, so only our flags apply.
        let chromium = find_tool(&["/usr/lib/chromium/chromium", "chromium"])?;
        let profile = TempDir::new(&format!("chromium-{tag}"))?;
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads)?;
        let port = free_port()?;
        let driver = Driver(
            Command::new(&driver_bin)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting chromedriver")?,
        );
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        while http.get(format!("{url}/status")).send().await.is_err() {
            if Instant::now() > deadline {
                bail!("chromedriver did not answer on {url} within {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().join("profile").display()),
                    format!("--crash-dumps-dir={}", profile.path().join("crash").display()),
                ],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            }),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&url)
            .await
            .context("opening a WebDriver session in Chromium")?;
        let screenshots = crate::workspace_root()
            .join("target/console-screenshots")
            .join(tag);
        std::fs::create_dir_all(&screenshots)?;
        Ok(Self {
            client,
            _driver: driver,
            profile,
            screenshots,
            shot: 0,
        })
    }

    /// Where downloads land.
    pub fn downloads(&self) -> PathBuf {
        self.profile.path().join("downloads")
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("opening {url}"))
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
                let url = self.client.current_url().await.map(|u| u.to_string());
                bail!("'{css}' did not appear within {WAIT:?} (page {url:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the text of `css` contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return Ok(text);
            }
            if Instant::now() > deadline {
                bail!("'{css}' did not show '{needle}' within {WAIT:?}; it shows '{text}'");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.wait(css).await?.text().await?)
    }

    /// Replaces the value of an input or textarea.
    pub async fn fill(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let e = self.wait(css).await?;
        e.clear().await.ok();
        e.send_keys(value)
            .await
            .with_context(|| format!("typing into {css}"))
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.wait(css)
            .await?
            .click()
            .await
            .with_context(|| format!("clicking {css}"))
    }

    /// Clicks `css`, which asks a question first (a form marked
    /// `data-confirm`), and answers it: yes when `accept`, else no.
    /// Returns the question asked.
    pub async fn click_and_answer(&self, css: &str, accept: bool) -> anyhow::Result<String> {
        self.click(css).await?;
        let deadline = Instant::now() + WAIT;
        let question = loop {
            match self.client.get_alert_text().await {
                Ok(text) => break text,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => return Err(e).with_context(|| format!("no question after {css}")),
            }
        };
        if accept {
            self.client.accept_alert().await?;
        } else {
            self.client.dismiss_alert().await?;
        }
        Ok(question)
    }

    /// Logs in on the console's login page as `username` and waits until
    /// the page names them.
    pub async fn log_in(&self, base: &str, username: &str, password: &str) -> anyhow::Result<()> {
        self.goto(&format!("{base}/console/login")).await?;
        self.fill("#username", username).await?;
        self.fill("#password", password).await?;
        self.click("#login").await?;
        self.wait_text("#current-user", username).await?;
        Ok(())
    }

    /// The page printed as Chromium prints it on A4 (the size a page's
    /// `@page` asks for wins over this default).
    pub async fn print_a4(&self, landscape: bool) -> anyhow::Result<Vec<u8>> {
        use fantoccini::wd::{PrintConfiguration, PrintOrientation, PrintSize};
        let (size, orientation) = if landscape {
            ((29.7, 21.0), PrintOrientation::Landscape)
        } else {
            ((21.0, 29.7), PrintOrientation::Portrait)
        };
        let config = PrintConfiguration::builder()
            .size(PrintSize {
                width: size.0,
                height: size.1,
            })
            .orientation(orientation)
            .build()
            .map_err(|e| anyhow::anyhow!("an A4 print configuration: {e:?}"))?;
        self.client.print(config).await.context("printing the page")
    }

    /// Sets the window's size, e.g. 375 px wide for a phone.
    pub async fn resize(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.client
            .set_window_size(width, height)
            .await
            .with_context(|| format!("resizing the window to {width}×{height}"))
    }

    /// How wide the page is laid out, in CSS pixels: wider than the window
    /// means the reader must scroll sideways.
    pub async fn page_width(&self) -> anyhow::Result<u64> {
        self.client
            .execute("return document.documentElement.scrollWidth;", vec![])
            .await?
            .as_u64()
            .context("the page's width is not a number")
    }

    /// The value of an input, textarea or select.
    pub async fn value(&self, css: &str) -> anyhow::Result<String> {
        Ok(self
            .wait(css)
            .await?
            .prop("value")
            .await?
            .unwrap_or_default())
    }

    /// Chooses `file` in a file input.
    pub async fn attach(&self, css: &str, file: &Path) -> anyhow::Result<()> {
        let e = self
            .client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no file input {css}"))?;
        e.send_keys(&file.display().to_string())
            .await
            .with_context(|| format!("choosing {} in {css}", file.display()))
    }

    /// Sets an input's value directly (date inputs take typed keys in the
    /// browser's locale order, which a test should not depend on).
    pub async fn set_value(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.wait(css).await?;
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .with_context(|| format!("setting {css}"))?;
        Ok(())
    }

    /// The page's HTML source.
    pub async fn source(&self) -> anyhow::Result<String> {
        Ok(self.client.source().await?)
    }

    /// Saves a PNG of the viewport as `NN-name.png`; returns its path.
    pub async fn screenshot(&mut self, name: &str) -> anyhow::Result<PathBuf> {
        self.shot += 1;
        let png = self
            .client
            .screenshot()
            .await
            .context("taking a screenshot")?;
        if !png.starts_with(b"\x89PNG") {
            bail!("the screenshot is not a PNG");
        }
        let path = self
            .screenshots
            .join(format!("{:02}-{name}.png", self.shot));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Waits for a finished download whose name ends in `suffix`.
    pub async fn wait_download(&self, suffix: &str) -> anyhow::Result<PathBuf> {
        let dir = self.downloads();
        let deadline = Instant::now() + WAIT;
        // Chromium reserves the final name with an empty file, writes into
        // `*.crdownload` and renames it over the reservation when done: a
        // download is finished when it is non-empty, nothing is still being
        // written, and its size held still for one poll.
        let mut last: Option<(PathBuf, u64)> = None;
        loop {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                let entries: Vec<_> = entries.flatten().collect();
                let writing = entries
                    .iter()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"));
                let done = entries.iter().find_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    (name.ends_with(suffix) && len > 0).then(|| (e.path(), len))
                });
                match done {
                    Some(now) if !writing && last.as_ref() == Some(&now) => return Ok(now.0),
                    other => last = other,
                }
            }
            if Instant::now() > deadline {
                bail!("no download ending in {suffix} within {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Forgets the session cookies (an anonymous visitor from here on).
    pub async fn forget_cookies(&self) -> anyhow::Result<()> {
        self.client.delete_all_cookies().await?;
        Ok(())
    }

    /// Ends the session and the browser.
    pub async fn close(self) -> anyhow::Result<()> {
        self.client
            .clone()
            .close()
            .await
            .context("closing the browser")?;
        Ok(())
    }
}
