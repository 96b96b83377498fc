//! The register in the national layout (issue #19): the published, not
//! withdrawn, results as CSV and XLSX in the columns 国家企业信用信息公示系统
//! takes, the plan and task read from the server's draw, and a manifest
//! whose SHA-256 and row count match the file downloaded. Failed before:
//! there was no such export.

use calamine::{Reader, Xlsx};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use choucha_shared::sync::EntryPayload;
use choucha_shared::value::Sha256Hex;
use choucha_tests::TestServer;
use choucha_tests::console::{PASSWORD, Session, demo_task, device_for, push, set_demo_passwords};
use choucha_tests::device::complete_record;

/// A whole record for the demo task in `town`, pushed, approved and
/// published; its task.
async fn published(server: &TestServer, s: &Session, town: &str) -> (String, String, String) {
    let task = demo_task(server, town).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(server, &task).await.unwrap();
    let (record, blobs) = complete_record(&bundle, &checklist, 1_000, 0);
    let rid = record.record_id.to_string();
    let date = record.inspection_date.to_string();
    push(&mut dev, EntryPayload::Sealed { record }, &blobs)
        .await
        .unwrap();
    let http = Client::new();
    let versions: Value = http
        .get(server.url(&format!("/api/v1/records/{rid}")))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let version = versions[0]["version"].as_str().unwrap().to_owned();
    let r = http
        .post(server.url(&format!("/api/v1/records/{rid}/approve")))
        .bearer_auth(server.token())
        .json(&json!({ "version": version }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let (st, body) = s
        .post(
            &format!("/console/records/{rid}/publish"),
            &[("result", "")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    (
        rid,
        task.task_id,
        format!("{}\u{1f}{date}", task.target_name),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_export_has_the_national_columns_and_a_matching_manifest() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let (_, task_id, target) = published(&server, &s, "虎溪街道").await;
    let (target_name, date) = target.split_once('\u{1f}').unwrap();
    // A second one, withdrawn: not in the register.
    let (withdrawn, _, other) = published(&server, &s, "西永街道").await;
    let (st, body) = s
        .post(
            &format!("/console/records/{withdrawn}/withdraw"),
            &[("reason", "经复核撤销原检查结论")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");

    // CSV: the header, then one row, every column from its source.
    let (st, csv) = s.get_bytes("/console/reports/register.csv").await.unwrap();
    assert_eq!(st, StatusCode::OK);
    let text = String::from_utf8(csv.clone()).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next().unwrap(),
        "抽查计划名称,抽查计划编号,抽查任务编号,检查对象名称,统一社会信用代码,检查事项,检查结果,检查日期,检查实施机关"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "only the live result: {text}");
    let plan = choucha_tests::field::admin_get(&server, "/api/v1/plans/GXQ-2023-ZBJR")
        .await
        .unwrap();
    let title = plan["plan"]["title"]
        .as_str()
        .or(plan["title"].as_str())
        .unwrap_or_else(|| panic!("no title in {plan}"));
    let cols: Vec<&str> = rows[0].split(',').collect();
    assert_eq!(cols[0], title);
    assert_eq!(cols[1], "GXQ-2023-ZBJR");
    assert_eq!(cols[2], task_id);
    assert_eq!(cols[3], target_name);
    assert_eq!(cols[7], date);
    assert!(
        !cols[5].is_empty() && !cols[6].is_empty() && !cols[8].is_empty(),
        "{cols:?}"
    );
    assert!(
        !text.contains(other.split('\u{1f}').next().unwrap()),
        "withdrawn left out"
    );

    // Its manifest: the same bytes' hash, the row count.
    let (st, m) = s
        .get("/console/reports/register.manifest.json?format=csv")
        .await
        .unwrap();
    assert_eq!(st, StatusCode::OK, "{m}");
    let m: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["sha256"], Sha256Hex::of(&csv).as_str(), "{m}");
    assert_eq!(m["rows"], 1);
    assert!(m["file"].as_str().unwrap().ends_with(".csv"), "{m}");

    // Signed by the bureau: a recipient checks the signature with OpenSSL
    // against the key the public page publishes (fetched without a login).
    let sig = &m["signature"];
    assert_eq!(sig["algorithm"], "Ed25519", "{m}");
    let signed = sig["signed_text"].as_str().unwrap();
    assert!(
        signed.contains(&format!("sha256: {}\n", m["sha256"].as_str().unwrap()))
            && signed.contains("rows: 1\n"),
        "{signed}"
    );
    let pem = Client::new()
        .get(server.url("/public/signing-key.pem"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    let signature = hex::decode(sig["signature"].as_str().unwrap()).unwrap();
    assert!(openssl_verifies(&pem, signed.as_bytes(), &signature));
    // A manifest changed on the way no longer verifies.
    let forged = signed.replace("rows: 1", "rows: 2");
    assert!(!openssl_verifies(&pem, forged.as_bytes(), &signature));
    // The same key signs every manifest (it is kept, not made per request).
    let (_, again) = s
        .get("/console/reports/register.manifest.json?format=csv")
        .await
        .unwrap();
    let again: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["signature"]["public_key"], sig["public_key"]);

    // XLSX: the same rows; the same bytes when asked again, so its
    // manifest, made in another request, matches the file.
    let (st, xlsx) = s.get_bytes("/console/reports/register.xlsx").await.unwrap();
    assert_eq!(st, StatusCode::OK);
    let (_, again) = s.get_bytes("/console/reports/register.xlsx").await.unwrap();
    assert_eq!(xlsx, again, "the export is deterministic");
    let (_, m) = s
        .get("/console/reports/register.manifest.json?format=xlsx")
        .await
        .unwrap();
    let m: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(m["sha256"], Sha256Hex::of(&xlsx).as_str(), "{m}");
    assert_eq!(m["rows"], 1);
    let mut book = Xlsx::new(std::io::Cursor::new(xlsx)).unwrap();
    let sheet = book.worksheet_range("抽查结果").unwrap();
    let header: Vec<String> = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header[0], "抽查计划名称");
    assert_eq!(header[8], "检查实施机关");
    assert_eq!(sheet.height(), 2);
    let row: Vec<String> = sheet
        .rows()
        .nth(1)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        (row[2].as_str(), row[3].as_str()),
        (task_id.as_str(), target_name)
    );

    // A bad format is named.
    let (st, body) = s
        .get("/console/reports/register.manifest.json?format=pdf")
        .await
        .unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains("“pdf”"), "{body}");
}

/// `openssl pkeyutl -verify` of `signature` over `message` with the PEM
/// public key, as the manifest's instructions tell a recipient to run it.
fn openssl_verifies(pem: &str, message: &[u8], signature: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing-key.pem");
    let msg = dir.path().join("signed.txt");
    let sig = dir.path().join("sig.bin");
    std::fs::write(&key, pem).unwrap();
    std::fs::write(&msg, message).unwrap();
    std::fs::write(&sig, signature).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(&key)
        .args(["-rawin", "-in"])
        .arg(&msg)
        .arg("-sigfile")
        .arg(&sig)
        .output()
        .expect("openssl (Debian's openssl package)");
    out.status.success()
}

/// The first signatures, asked of every instance at once, all come from one
/// key: whichever instance stored its key first, the others read it.
async fn one_key_on_every_instance(deployment: choucha_tests::Deployment) {
    let server = deployment.start_demo().await.expect("server");
    let http = Client::new();
    let fetches = (0..6).map(|_| {
        let http = http.clone();
        let url = server.url("/public/signing-key.pem");
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    });
    let keys: Vec<String> = futures_util::future::join_all(fetches).await;
    assert!(
        keys[0].starts_with("-----BEGIN PUBLIC KEY-----"),
        "{}",
        keys[0]
    );
    assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
}

choucha_tests::on_every_deployment!(one_key_on_every_instance);
