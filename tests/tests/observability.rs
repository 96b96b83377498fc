//! What an operator sees of a running server: every response carries a
//! request id (the client's own, or a fresh one), `/metrics` gives latency
//! by route and the sync counters to the admin token or the scraper's token
//! and to nobody else, JSON logs tag each request's events with its id, and
//! a bad setting stops the server at start with its name.

mod console_support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use reqwest::{Client, StatusCode};

use choucha_shared::sync::EntryPayload;
use choucha_tests::console::{demo_task, device_for, push, with_photos};
use choucha_tests::device::complete_record;
use choucha_tests::{TempDir, TestServer, server_binary};
use console_support::jpeg;

/// The value of the first sample line of `metric` whose labels contain all
/// of `labels`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(metric) && labels.iter().all(|x| l.contains(x)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_and_metrics() {
    let server = TestServer::start_demo_with_env(None, &[("CHOUCHA_METRICS_TOKEN", "scrape-0123")])
        .expect("demo server");
    let http = Client::new();

    // The client's id comes back; without one (or with a bad one) the
    // server makes one.
    let r = http
        .get(server.url("/healthz"))
        .header("x-request-id", "tablet-7f3a.42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "tablet-7f3a.42");
    for sent in [None, Some("has spaces and 中文")] {
        let mut req = http.get(server.url("/api/v1/no-such-thing"));
        if let Some(v) = sent {
            req = req.header("x-request-id", v.as_bytes().to_vec());
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "a fresh id: {id}");
    }

    // A device syncs one inspection with its photos.
    let task = demo_task(&server, "虎溪街道").await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (mut record, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let images: Vec<_> = (0..record.photos.len() as u32)
        .map(|i| jpeg(70 + i))
        .collect();
    let blobs = with_photos(&mut record, &images, task.location, task.location);
    let blob_bytes: usize = blobs.iter().map(|(_, b)| b.len()).sum();
    push(&mut dev, EntryPayload::Sealed { record }, &blobs)
        .await
        .unwrap();

    // Nobody else reads /metrics.
    let r = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .get(server.url("/metrics"))
        .bearer_auth("scrape-0124")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .get(server.url("/metrics"))
        .bearer_auth(&dev.enrolment.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a device token is not enough"
    );

    for token in ["scrape-0123", server.token()] {
        let r = http
            .get(server.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        let text = r.text().await.unwrap();
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
        // Latency by route pattern, not by concrete path.
        let healthz = sample(
            &text,
            "choucha_http_request_duration_seconds_count",
            &["route=\"/healthz\"", "status=\"200\"", "method=\"GET\""],
        );
        assert_eq!(healthz, Some(1.0), "{text}");
        let patched = sample(
            &text,
            "choucha_http_request_duration_seconds_count",
            &[
                "route=\"/api/v1/device/blobs/{sha256}\"",
                "method=\"PATCH\"",
            ],
        )
        .unwrap_or_default();
        assert!(patched >= blobs.len() as f64, "{text}");
        assert!(
            !text.contains(blobs[0].0.as_str()),
            "no blob hash as a label"
        );
        assert_eq!(sample(&text, "choucha_sync_pushes_total", &[]), Some(1.0));
        // Started, items, photos, signatures, sealed: all newly stored.
        assert_eq!(
            sample(&text, "choucha_sync_entries_total", &[]),
            Some(dev.log.len() as f64),
            "{text}"
        );
        assert_eq!(
            sample(&text, "choucha_sync_blobs_total", &[]),
            Some(blobs.len() as f64)
        );
        assert_eq!(
            sample(&text, "choucha_sync_blob_bytes_total", &[]),
            Some(blob_bytes as f64)
        );
        assert!(
            sample(&text, "choucha_db_writer_wait_seconds_count", &[]).unwrap_or_default() >= 1.0
        );
        assert!(sample(&text, "choucha_db_pool_connections", &[]).unwrap_or_default() >= 1.0);
        assert_eq!(sample(&text, "choucha_uploads_in_flight", &[]), Some(0.0));
    }
}

#[tokio::test]
async fn json_logs_tag_a_requests_events_with_its_id() {
    let dir = TempDir::new("json-logs").unwrap();
    let mut child = Command::new(server_binary().unwrap())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env("CHOUCHA_LOG_FORMAT", "json")
        .env("RUST_LOG", "choucha_sync_server=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let base = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
        .expect("the server says where it listens");
    let r = Client::new()
        .get(format!("{base}/healthz"))
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    child.kill().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    child.wait().unwrap();
    let line: serde_json::Value = err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["span"]["request_id"] == "trace-me-1")
        .unwrap_or_else(|| panic!("no JSON event for the request in:\n{err}"));
    assert_eq!(line["span"]["route"], "/healthz");
    assert_eq!(line["span"]["method"], "GET");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().is_some(), "{line}");
}

#[test]
fn a_bad_setting_stops_the_server_with_its_name() {
    let dir = TempDir::new("bad-setting").unwrap();
    let out = Command::new(server_binary().unwrap())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env("CHOUCHA_DUTY_GPS_THRESHOLD_M", "far")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a bad value must not be defaulted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CHOUCHA_DUTY_GPS_THRESHOLD_M") && err.contains("'far'"),
        "{err}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening on"),
        "it never listened"
    );
}
