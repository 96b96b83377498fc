//! What the field app's engine is given in the cross-crate tests:
//! camera-like photos, signature scribbles, and the admin's reads of the
//! real server it syncs with.

use std::io::Cursor;

use serde_json::Value;

use choucha_app_core::signature::{Capture, Point, Stroke};

use crate::TestServer;

/// A camera-like JPEG (gradient and texture), different for every `seed`.
pub fn camera_jpeg(seed: u32, width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let n = (x.wrapping_mul(31) ^ y.wrapping_mul(17) ^ seed.wrapping_mul(97)) % 40;
        image::Rgb([(x / 7 % 255) as u8, (y / 5 % 255) as u8, (120 + n) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap_or_else(|e| unreachable!("encoding a JPEG in memory: {e}"));
    out.into_inner()
}

/// A signature-like scribble on an 800×300 pad.
pub fn scribble(seed: f32) -> Capture {
    let points = (0..60)
        .map(|i| {
            let t = i as f32 / 10.0;
            Point {
                x: 40.0 + t * 90.0,
                y: 150.0 + (t * 2.0 + seed).sin() * 60.0,
                t_ms: i * 16,
                pressure: None,
            }
        })
        .collect();
    Capture {
        width: 800,
        height: 300,
        strokes: vec![Stroke { points }],
    }
}

/// GET `path` with the admin token, as JSON.
pub async fn admin_get(server: &TestServer, path: &str) -> anyhow::Result<Value> {
    Ok(reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(server.token())
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// A one-time enrolment code for `officer`, made with the admin token.
pub async fn enrolment_code(server: &TestServer, officer: &str) -> anyhow::Result<String> {
    let created: Value = reqwest::Client::new()
        .post(server.url("/api/v1/enrolments"))
        .bearer_auth(server.token())
        .json(&serde_json::json!({ "officer_id": officer }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    created["enrolment"]["code"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no enrolment code in {created}"))
}
