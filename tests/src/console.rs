//! Helpers for the console tests: known passwords for the demo users (set
//! through the real `choucha-server user passwd` command), a cookie session
//! over plain HTTP, and a synced record pushed by a simulated device.

use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use chrono::Utc;
use reqwest::{Client, StatusCode, redirect};
use serde_json::Value;

use choucha_shared::checklist::Checklist;
use choucha_shared::record::{InspectionRecord, PhotoSubject};
use choucha_shared::sync::{EntryPayload, TaskBundle};
use choucha_shared::value::{GeoPoint, Sha256Hex};

use crate::TestServer;
use crate::device::{SimDevice, enrol};

/// The password the tests give every demo user.
pub const PASSWORD: &str = "test-password-0123";

/// Sets a user's password with the server's own command line, on the
/// server's database.
pub fn set_password(server: &TestServer, username: &str, password: &str) -> anyhow::Result<()> {
    let mut cmd = Command::new(crate::server_binary()?);
    cmd.arg("--data-dir")
        .arg(&server.data_dir)
        .args(["user", "passwd", username, "--password-stdin"])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = &server.database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().context("running choucha-server user passwd")?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(password.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "user passwd {username} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Gives every demo console user [`PASSWORD`].
pub fn set_demo_passwords(server: &TestServer) -> anyhow::Result<()> {
    for (name, _, _) in choucha_sync_server::demo::CONSOLE_USERS {
        set_password(server, name, PASSWORD)?;
    }
    Ok(())
}

/// The value of a cookie in a response's `Set-Cookie` headers.
pub fn set_cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?.trim();
            let (k, val) = first.split_once('=')?;
            (k == name).then(|| val.to_owned())
        })
}

/// The CSRF token in a page's forms.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[at..].find('"')? + at;
    Some(html[at..end].to_owned())
}

/// A logged-in console user over plain HTTP (redirects not followed, so
/// tests see exactly what the server answered).
#[derive(Debug, Clone)]
pub struct Session {
    pub client: Client,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

/// An HTTP client that does not follow redirects.
pub fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

impl Session {
    /// Logs in through the login form.
    pub async fn login(base: &str, username: &str, password: &str) -> anyhow::Result<Self> {
        let client = client();
        let form = client.get(format!("{base}/console/login")).send().await?;
        let login_csrf = set_cookie_value(&form, "choucha_login_csrf")
            .context("the login page sets no CSRF cookie")?;
        let resp = client
            .post(format!("{base}/console/login"))
            .header("cookie", format!("choucha_login_csrf={login_csrf}"))
            .form(&[
                ("csrf", login_csrf.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await?;
        if resp.status() != StatusCode::SEE_OTHER {
            bail!(
                "login as {username} answered {}: {}",
                resp.status(),
                resp.text().await?
            );
        }
        let session = set_cookie_value(&resp, "choucha_session").context("no session cookie")?;
        let cookie = format!("choucha_session={session}");
        let home = client
            .get(format!("{base}/console"))
            .header("cookie", &cookie)
            .send()
            .await?
            .text()
            .await?;
        // None for an account the console lets in but shows nothing (its
        // forms would then be refused, which a test sees).
        let csrf = csrf_in(&home).unwrap_or_default();
        Ok(Self {
            client,
            base: base.to_owned(),
            cookie,
            csrf,
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, String)> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await?;
        Ok((r.status(), r.text().await?))
    }

    /// GETs `path` without following a redirect: the status, where a
    /// redirect points (a same-site path), and the body.
    pub async fn get_following(
        &self,
        path: &str,
    ) -> anyhow::Result<(StatusCode, Option<String>, Vec<u8>)> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await?;
        let location = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|l| l.strip_prefix(&self.base).unwrap_or(l).to_owned());
        Ok((r.status(), location, r.bytes().await?.to_vec()))
    }

    /// GETs a download: its status and bytes.
    pub async fn get_bytes(&self, path: &str) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        let (status, _, body) = self.get_following(path).await?;
        Ok((status, body))
    }

    /// POSTs a form with this session's CSRF token added.
    pub async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<(StatusCode, String)> {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POSTs a form as a browser sends it from the console page `page`
    /// (its address in `Referer`), with this session's CSRF token added.
    pub async fn post_from(
        &self,
        page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<(StatusCode, String)> {
        let mut all: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("referer", format!("{}{page}", self.base))
            .form(&all)
            .send()
            .await?;
        Ok((r.status(), r.text().await?))
    }

    /// POSTs a multipart form (`fields`, then `files` as (field, file
    /// name, bytes)), with this session's CSRF token in the query string
    /// as the console's upload forms send it.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> anyhow::Result<(StatusCode, String)> {
        let boundary = "choucha-test-boundary-5c1e";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, file_name, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let sep = if path.contains('?') { '&' } else { '?' };
        let r = self
            .client
            .post(format!("{}{path}{sep}csrf={}", self.base, self.csrf))
            .header("cookie", &self.cookie)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await?;
        Ok((r.status(), r.text().await?))
    }

    /// POSTs exactly these fields (no token added).
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<(StatusCode, String)> {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(fields)
            .send()
            .await?;
        Ok((r.status(), r.text().await?))
    }
}

/// A task of the demo draw, with the facts the tests need about its target.
#[derive(Debug, Clone)]
pub struct DemoTask {
    pub task_id: String,
    pub officer_id: String,
    pub town: String,
    pub target_name: String,
    pub location: GeoPoint,
    pub officer_names: Vec<String>,
}

/// The first on-site task of the demo draw in `town` whose target has a
/// registered location.
pub async fn demo_task(server: &TestServer, town: &str) -> anyhow::Result<DemoTask> {
    let http = Client::new();
    let draw: Value = http
        .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
        .bearer_auth(server.token())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    for t in draw["tasks"].as_array().context("no tasks")? {
        let category = t["category"].as_str().unwrap_or_default();
        if category == "standard" {
            continue;
        }
        let key = t["target"].as_str().unwrap_or_default();
        let target: Value = http
            .get(server.url(&format!("/api/v1/targets/{category}/{key}")))
            .bearer_auth(server.token())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let target = &target["target"];
        if target["jurisdiction"] != town {
            continue;
        }
        let Some(loc) = target.get("location").filter(|l| !l.is_null()) else {
            continue;
        };
        let location: GeoPoint = serde_json::from_value(loc.clone())?;
        let team = t["team"].as_array().context("no team")?;
        let officers: Vec<&Value> = team.iter().filter(|m| m["role"] == "officer").collect();
        return Ok(DemoTask {
            task_id: t["task_id"].as_str().unwrap_or_default().to_owned(),
            officer_id: officers
                .first()
                .and_then(|m| m["person_id"].as_str())
                .context("no officer")?
                .to_owned(),
            town: town.to_owned(),
            target_name: target["name"].as_str().unwrap_or_default().to_owned(),
            location,
            officer_names: team
                .iter()
                .filter_map(|m| m["name"].as_str().map(str::to_owned))
                .collect(),
        });
    }
    bail!("the demo draw has no on-site task with a located target in {town}")
}

/// A point `metres` north of `p`.
pub fn north_of(p: &GeoPoint, metres: f64) -> GeoPoint {
    GeoPoint {
        lat: p.lat + metres / 111_320.0,
        lon: p.lon,
        accuracy_m: Some(5.0),
    }
}

/// Enrols a device for the task's officer and pulls the task.
pub async fn device_for(
    server: &TestServer,
    task: &DemoTask,
) -> anyhow::Result<(SimDevice, TaskBundle, Checklist)> {
    let mut dev = enrol(
        &Client::new(),
        &server.base_url,
        server.token(),
        &task.officer_id,
    )
    .await?;
    let (bundle, checklist) = dev.pull_task(&task.task_id).await?;
    Ok((dev, bundle, checklist))
}

/// Replaces the record's photos with the given images (in order, cycling),
/// taken at the target's location except the gate photo, which is put at
/// `gate_at`; then signs the record again. Returns the blobs to upload.
pub fn with_photos(
    record: &mut InspectionRecord,
    images: &[(Vec<u8>, u32, u32)],
    location: GeoPoint,
    gate_at: GeoPoint,
) -> Vec<(Sha256Hex, Vec<u8>)> {
    let mut blobs = Vec::new();
    for (i, photo) in record.photos.iter_mut().enumerate() {
        let (bytes, w, h) = &images[i % images.len()];
        photo.sha256 = Sha256Hex::of(bytes);
        photo.bytes = bytes.len() as u64;
        photo.width = *w;
        photo.height = *h;
        photo.gps = Some(if photo.subject == PhotoSubject::Gate {
            gate_at
        } else {
            location
        });
        if !blobs.iter().any(|(s, _)| s == &photo.sha256) {
            blobs.push((photo.sha256.clone(), bytes.clone()));
        }
    }
    crate::device::sign(record, &mut blobs);
    blobs
}

/// Pushes a log entry and uploads the blobs; fails unless all is confirmed.
pub async fn push(
    dev: &mut SimDevice,
    payload: EntryPayload,
    blobs: &[(Sha256Hex, Vec<u8>)],
) -> anyhow::Result<()> {
    dev.append(payload, Utc::now());
    let r = dev.sync_log().await?;
    if !r.results.iter().all(|x| x.verdict.is_confirmed()) {
        bail!("push not confirmed: {r:?}");
    }
    for (_, bytes) in blobs {
        if !dev.upload_blob(bytes, 64 * 1024, usize::MAX).await? {
            bail!("upload did not complete");
        }
    }
    Ok(())
}
