//! Fixtures shared by the console tests: real JPEG photos and a record of
//! the demo draw synced by a simulated device, with its gate photo taken
//! 5 km from the target's registered address.
//!
//! Compiled into each test crate that includes it; each uses a part.
#![allow(dead_code)]

use choucha_shared::record::InspectionRecord;
use choucha_shared::sync::EntryPayload;
use choucha_shared::value::Sha256Hex;
use choucha_tests::TestServer;
use choucha_tests::console::{DemoTask, demo_task, device_for, north_of, push, with_photos};
use choucha_tests::device::{SimDevice, complete_record};

/// How far from the registered address the fixture's gate photo was taken.
pub const GATE_OFFSET_M: f64 = 5_000.0;

/// A small real JPEG, different for every `seed` (so perceptual hashes
/// differ too): a gradient with a seed-dependent stripe pattern.
pub fn jpeg(seed: u32) -> (Vec<u8>, u32, u32) {
    let (w, h) = (160u32, 120u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let stripe = ((x / (4 + seed % 7)) + (y / (3 + seed % 5)) + seed) % 2;
        let v = if stripe == 0 { 40 } else { 215 };
        image::Rgb([
            v,
            ((x * 255) / w) as u8,
            (((y + seed * 13) * 255) / h % 256) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .expect("encoding a JPEG");
    (out, w, h)
}

/// A synced record and the device that sent it.
pub struct Synced {
    pub task: DemoTask,
    pub device: SimDevice,
    pub record: InspectionRecord,
    pub version: Sha256Hex,
}

/// Pushes a complete record for the first located on-site task in `town`,
/// with real JPEG photos, the gate photo 5 km north of the target.
pub async fn sync_far_record(server: &TestServer, town: &str, photo_seed: u32) -> Synced {
    let task = demo_task(server, town).await.expect("a demo task");
    let (mut device, bundle, checklist) = device_for(server, &task).await.expect("a device");
    let (mut record, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let images: Vec<_> = (0..record.photos.len() as u32)
        .map(|i| jpeg(photo_seed * 100 + i))
        .collect();
    let blobs = with_photos(
        &mut record,
        &images,
        task.location,
        north_of(&task.location, GATE_OFFSET_M),
    );
    push(
        &mut device,
        EntryPayload::Sealed {
            record: record.clone(),
        },
        &blobs,
    )
    .await
    .expect("pushing the record");
    let version = current_version(server, &record).await;
    Synced {
        task,
        device,
        record,
        version,
    }
}

/// Every stored version of a record, oldest first (admin API).
pub async fn record_versions(server: &TestServer, record_id: &str) -> Vec<serde_json::Value> {
    let versions: serde_json::Value = reqwest::Client::new()
        .get(server.url(&format!("/api/v1/records/{record_id}")))
        .bearer_auth(server.token())
        .send()
        .await
        .expect("record versions")
        .json()
        .await
        .expect("record versions JSON");
    versions.as_array().cloned().unwrap_or_default()
}

/// The server's current version of a record (admin API).
pub async fn current_version(server: &TestServer, record: &InspectionRecord) -> Sha256Hex {
    let versions = record_versions(server, &record.record_id.to_string()).await;
    let last = versions.last().expect("at least one version");
    Sha256Hex::parse(last["version"].as_str().expect("a version")).expect("a hash")
}
