//! Evidence nothing names (issue #18): a device may hold only so many
//! bytes of uploads that no record, question or escalation names — the
//! next is refused before a byte of it is kept, with the numbers — while
//! evidence its records name always goes; and the clean-up deletes, after
//! the grace period, the blobs nothing named, and only those, logging each.
//! Every check failed on the code before: any device could fill the disk
//! with blobs nothing named, and nothing ever removed them.

use std::process::Command;

use chrono::Utc;
use reqwest::StatusCode;
use uuid::Uuid;

use choucha_shared::consult::Question;
use choucha_shared::sync::EntryPayload;
use choucha_shared::value::Sha256Hex;
use choucha_tests::console::{demo_task, device_for, push};
use choucha_tests::device::{SimDevice, blob_bytes, complete_record};
use choucha_tests::{Deployment, TestServer, server_binary};

const TOWN: &str = "虎溪街道";
const KIB: usize = 1024;

choucha_tests::on_every_deployment!(unnamed_uploads_are_bounded_and_collected);

/// `choucha-server gc` with the server's settings and these flags:
/// whether it succeeded, its stdout and its log.
fn gc(server: &TestServer, flags: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(server_binary().unwrap());
    cmd.envs(server.env.iter().map(|(k, v)| (k, v)))
        .arg("--data-dir")
        .arg(&server.data_dir)
        .arg("gc")
        .args(flags)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info");
    if let Some(url) = &server.database_url {
        cmd.env("DATABASE_URL", url);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether the server holds the whole blob.
async fn held(dev: &SimDevice, bytes: &[u8]) -> bool {
    let (status, _, complete) = dev
        .blob_offset(&Sha256Hex::of(bytes), bytes.len())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    complete
}

async fn unnamed_uploads_are_bounded_and_collected(at: Deployment) {
    let server = at
        .start_demo_with_env(&[("CHOUCHA_DEVICE_UNNAMED_QUOTA_MB", "1")])
        .await
        .expect("demo server");
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();

    // 700 KiB nothing names: within the 1 MB quota.
    let first = blob_bytes("unnamed-1", 700 * KIB);
    assert!(
        dev.upload_blob(&first, 256 * KIB, usize::MAX)
            .await
            .unwrap()
    );

    // Another 700 KiB would pass it: refused at its first chunk, with the
    // numbers, and nothing of it kept.
    let second = blob_bytes("unnamed-2", 700 * KIB);
    let sha2 = Sha256Hex::of(&second);
    let chunk = &second[..256 * KIB];
    let (status, body) = dev
        .blob_chunk(&sha2, second.len(), 0, chunk, &Sha256Hex::of(chunk))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "quota_exceeded", "{body}");
    assert_eq!(body["details"]["used"], 700 * KIB, "{body}");
    assert_eq!(body["details"]["quota"], 1024 * KIB, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("超过上限 1.0 MB") && message.contains("0.7 MB"),
        "{message}"
    );
    let (_, offset, complete) = dev.blob_offset(&sha2, second.len()).await.unwrap();
    assert_eq!((offset, complete), (0, false), "nothing of it was kept");

    // What the device's record names is not counted: its photos (far over
    // the quota together) all go, pushed first as the tablet does.
    let (record, photos) = complete_record(&bundle, &checklist, 300 * KIB, 2);
    let named_bytes: usize = photos.iter().map(|(_, b)| b.len()).sum();
    assert!(named_bytes > 1024 * KIB, "{named_bytes}");
    push(&mut dev, EntryPayload::Sealed { record }, &photos)
        .await
        .expect("a record's photos are never over quota");

    // A question's photo: named by the question, pushed before it.
    let question_photo = blob_bytes("question-photo", 600 * KIB);
    let question = Question {
        question_id: Uuid::now_v7(),
        task_id: task.task_id.clone(),
        item_id: None,
        finding_id: None,
        text: "灭火器压力表指针在黄区，是否判定为不合格？".into(),
        photos: vec![Sha256Hex::of(&question_photo)],
        asked_at: Utc::now(),
    };
    push(
        &mut dev,
        EntryPayload::QuestionAsked { question },
        &[(Sha256Hex::of(&question_photo), question_photo.clone())],
    )
    .await
    .expect("a question's photo is never over quota");

    // Within the grace period the clean-up keeps everything.
    let (ok, out, log) = gc(&server, &["--idle-hours", "1"]);
    assert!(ok, "{log}");
    assert!(out.contains("无引用的证据文件 0 个"), "{out}");
    assert!(held(&dev, &first).await);

    // Past it (grace 0): the blob nothing names goes, logged with its hash;
    // every named one stays.
    let (ok, out, log) = gc(&server, &["--grace-hours", "0", "--idle-hours", "1"]);
    assert!(ok, "{log}");
    assert!(
        out.contains(&format!("无引用的证据文件 1 个（{} 字节）", first.len())),
        "{out}"
    );
    assert!(
        log.contains(Sha256Hex::of(&first).as_str()) && log.contains("nothing names"),
        "the removal is logged with the blob's hash: {log}"
    );
    assert!(!held(&dev, &first).await, "the unnamed blob is gone");
    for (sha, bytes) in &photos {
        assert!(held(&dev, bytes).await, "record photo {sha} kept");
    }
    assert!(held(&dev, &question_photo).await, "question photo kept");

    // Its room is free again: the refused upload now goes.
    assert!(
        dev.upload_blob(&second, 256 * KIB, usize::MAX)
            .await
            .unwrap()
    );

    // A second clean-up finds nothing more to do.
    let (ok, out, _) = gc(&server, &["--grace-hours", "0", "--idle-hours", "1"]);
    assert!(ok);
    assert!(
        out.contains("无引用的证据文件 1 个"),
        "the second unnamed blob: {out}"
    );
    let (_, out, _) = gc(&server, &["--grace-hours", "0", "--idle-hours", "1"]);
    assert!(out.contains("无引用的证据文件 0 个"), "{out}");
}
