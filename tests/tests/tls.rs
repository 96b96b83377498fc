//! HTTPS served by the server itself, with a certificate from a throwaway
//! certificate authority made here: a client that trusts the CA talks to
//! it (health, enrolment, a device's pull); the enrolment QR says
//! `https://`, or the configured public URL; cookies are Secure and HSTS
//! is sent; plain HTTP to the HTTPS port gets nothing; a certificate and
//! key that do not go together stop the server with a clear message.

use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};

use choucha_tests::field::new_enrolment;
use choucha_tests::{TempDir, TestServer};

/// The CA's certificate (PEM) and a server certificate and key for
/// 127.0.0.1 and localhost that it signed, written into `dir`.
fn make_ca(dir: &std::path::Path) -> (String, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "高新区市场监督管理局 测试根证书");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let (cert_file, key_file) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(&cert_file, leaf.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (ca_cert.pem(), cert_file, key_file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_https_with_the_bureaus_certificate() {
    let dir = TempDir::new("tls").unwrap();
    let (ca_pem, cert, key) = make_ca(dir.path());
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let (cert, key, ca_file) = (
        cert.display().to_string(),
        key.display().to_string(),
        ca_file.display().to_string(),
    );
    let server = TestServer::start_demo_with_env(
        None,
        &[
            ("CHOUCHA_TLS_CERT_FILE", &cert),
            ("CHOUCHA_TLS_KEY_FILE", &key),
            ("CHOUCHA_TLS_CA_FILE", &ca_file),
        ],
    )
    .expect("demo server over HTTPS");
    assert!(
        server.base_url.starts_with("https://127.0.0.1:"),
        "{}",
        server.base_url
    );
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();

    let r = https.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()
            .get("strict-transport-security")
            .is_some_and(|v| v.to_str().unwrap().starts_with("max-age=")),
        "HSTS over HTTPS"
    );
    // A client that does not trust the bureau's CA gets no answer.
    assert!(
        reqwest::Client::new()
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err()
    );
    // Plain HTTP to the HTTPS port: nothing served.
    let plain = server.base_url.replacen("https://", "http://", 1);
    let r = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(r.is_err() || r.unwrap().status() != 200);

    // Enrolment over HTTPS: the QR says https://; the device pulls.
    let (_, made) = new_enrolment(&https, &server, None).await.unwrap();
    let qr = made["qr_payload"].as_str().unwrap();
    assert!(
        qr.starts_with("choucha://enrol?server=https://127.0.0.1:"),
        "{qr}"
    );
    let code = made["enrolment"]["code"].as_str().unwrap();
    let enrolled: Value = https
        .post(server.url("/api/v1/device/enrol"))
        .json(&json!({ "code": code, "device_name": "平板" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = enrolled["token"].as_str().unwrap();
    let r = https
        .get(server.url("/api/v1/device/pull?cursor=0"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert!(!page["items"].as_array().unwrap().is_empty(), "{page}");

    // The field app's engine, from the QR code: it pins the bureau's CA
    // and enrols and syncs over HTTPS; without the pin (the platform's
    // roots only) or pinned to another CA it is refused.
    let (_, made) = new_enrolment(&https, &server, None).await.unwrap();
    let target = choucha_app_api::parse_qr(made["qr_payload"].as_str().unwrap()).unwrap();
    assert_eq!(target.ca_pem.as_deref(), Some(ca_pem.as_str()));
    let http = choucha_app_core::sync::http_client();
    let tablets = TempDir::new("tls-tablets").unwrap();
    let open = |name: &str| {
        choucha_app_core::App::open(
            &tablets.path().join(name).join("data"),
            &tablets.path().join(format!("{name}.key")),
        )
        .unwrap()
    };
    let unpinned = open("unpinned");
    assert!(
        unpinned
            .enrol(&http, &target.server_url, &target.code, "平板")
            .await
            .is_err(),
        "the bureau's CA is not among the platform's roots"
    );
    let other_dir = TempDir::new("tls-other").unwrap();
    let (other_ca, _, _) = make_ca(other_dir.path());
    let wrong = open("wrong");
    assert!(
        wrong
            .enrol_pinned(
                &http,
                &target.server_url,
                &target.code,
                "平板",
                Some(&other_ca)
            )
            .await
            .is_err(),
        "pinned to another CA"
    );
    let app = open("pinned");
    app.enrol_pinned(
        &http,
        &target.server_url,
        &target.code,
        "平板",
        target.ca_pem.as_deref(),
    )
    .await
    .unwrap();
    let report = app.sync_once(&http).await.unwrap();
    assert!(report.new_tasks > 0, "{report:?}");

    // The console's cookies are Secure.
    let r = https
        .get(server.url("/console/login"))
        .send()
        .await
        .unwrap();
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_qr_code_carries_the_public_url_and_a_bad_key_is_refused() {
    let server = TestServer::start_demo_with_env(
        None,
        &[("CHOUCHA_PUBLIC_URL", "https://choucha.gxq.example/")],
    )
    .unwrap();
    let http = reqwest::Client::new();
    let (_, made) = new_enrolment(&http, &server, None).await.unwrap();
    let qr = made["qr_payload"].as_str().unwrap();
    assert!(
        qr.starts_with("choucha://enrol?server=https://choucha.gxq.example&code="),
        "{qr}"
    );

    // A key that is not the certificate's: the server says so and stops.
    let dir = TempDir::new("tls-bad").unwrap();
    let (_, cert, _) = make_ca(dir.path());
    let other = dir.path().join("other.key");
    std::fs::write(&other, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let (cert, other) = (cert.display().to_string(), other.display().to_string());
    let err = match TestServer::start_demo_with_env(
        None,
        &[
            ("CHOUCHA_TLS_CERT_FILE", &cert),
            ("CHOUCHA_TLS_KEY_FILE", &other),
        ],
    ) {
        Ok(_) => panic!("served with a key that is not the certificate's"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("exited before listening"), "{err}");
}
