//! The served API contract against the routes the server really mounts
//! (issue #19): `/api/openapi.json` is public OpenAPI 3.1; every operation
//! it documents answers at its path and method (never the fallback's
//! `no_such_endpoint`, never 405), every operation documents the error body
//! `{code, message, details}`, and no API route is mounted outside the
//! documented router.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use choucha_tests::TestServer;

/// A value that fits a path parameter's schema, so the request reaches the
/// handler (which may then refuse it; that is fine here).
fn sample(param: &Value) -> String {
    let schema = &param["schema"];
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (_, Some("uuid")) => "018f3a2e-0000-7000-8000-000000000000".into(),
        (Some("integer"), _) => "1".into(),
        _ if param["name"] == "sha256" => "ab".repeat(32),
        _ if param["name"] == "key" => "T/ABC 1-2024".into(),
        _ => "x".into(),
    }
}

/// Every `.route("…"` literal in the Rust files directly under `dir`.
fn route_literals(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for piece in text.split(".route(").skip(1) {
            let literal = piece.trim_start();
            if let Some(rest) = literal.strip_prefix('"') {
                found.push((name.clone(), rest.split('"').next().unwrap().to_owned()));
            } else {
                // A constant: its name stands for the path.
                let ident: String = literal
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == ':' || *c == '_')
                    .collect();
                found.push((name.clone(), ident));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_contract_is_the_mounted_api() {
    let server = TestServer::start_demo(None).expect("demo server");
    let http = reqwest::Client::new();
    let base = &server.base_url;

    // Public, without a token.
    let r = http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let error_body = &doc["components"]["schemas"]["ErrorBody"];
    for field in ["code", "message", "details"] {
        assert!(
            error_body["properties"].get(field).is_some(),
            "ErrorBody lacks {field}: {error_body}"
        );
    }
    for scheme in ["admin_token", "device_token", "metrics_token"] {
        assert_eq!(
            doc["components"]["securitySchemes"][scheme]["scheme"], "bearer",
            "{scheme}"
        );
    }

    let mut documented = BTreeSet::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        documented.insert(path.clone());
        for (method, op) in item.as_object().unwrap() {
            const METHODS: [&str; 8] = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ];
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            operations += 1;
            let id = format!("{method} {path}");
            // The error answer on every operation.
            for range in ["4XX", "5XX"] {
                let schema = &op["responses"][range]["content"]["application/json"]["schema"];
                assert_eq!(
                    schema["$ref"], "#/components/schemas/ErrorBody",
                    "{id} {range}: {op}"
                );
            }
            // Mounted at that path and method.
            let mut concrete = path.clone();
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap();
                    concrete = concrete.replace(&format!("{{{name}}}"), &sample(p));
                }
            }
            assert!(
                !concrete.contains('{'),
                "{id}: a path parameter undocumented"
            );
            let r = http
                .request(method.clone(), format!("{base}{concrete}"))
                .send()
                .await
                .unwrap();
            let status = r.status();
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{id} is not mounted"
            );
            assert!(status.as_u16() < 500, "{id}: {status}");
            if method != Method::HEAD && status == StatusCode::NOT_FOUND {
                let body: Value = r.json().await.unwrap_or_default();
                assert_ne!(body["code"], "no_such_endpoint", "{id} is not mounted");
            }
        }
    }
    assert!(operations >= 30, "only {operations} operations documented");

    // The fallback answers an address nothing serves, in the error format.
    let r = http
        .get(format!("{base}/api/v1/no-such-thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "no_such_endpoint", "{body}");

    // No route mounted beside the documented router: in the server's own
    // modules the only `.route(` calls left are the document itself and the
    // console's script; the console mounts only console and public pages.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sync-server/src");
    let outside: Vec<_> = route_literals(&src)
        .into_iter()
        .filter(|(_, r)| r != "openapi::DOCUMENT_PATH" && r != "/console/assets/console.js")
        .collect();
    assert!(
        outside.is_empty(),
        "routes mounted outside the documented API router: {outside:?}"
    );
    let console = route_literals(&src.join("console"));
    assert!(console.len() > 20, "console routes not found: {console:?}");
    for (file, route) in &console {
        assert!(
            route.starts_with("/console") || route.starts_with("/public"),
            "console/{file} mounts {route}, which is neither a console nor a public page"
        );
    }
    // And every documented path is API, not a page.
    for path in &documented {
        assert!(
            path.starts_with("/api/") || path == "/healthz" || path == "/metrics",
            "{path} documented"
        );
    }
}

/// Found by schemathesis: a path or query parameter of the wrong type was
/// refused with axum's plain-text message, not the API's error body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_path_or_query_parameter_answers_in_the_error_format() {
    let server = TestServer::start_demo(None).expect("demo server");
    let http = reqwest::Client::new();
    let base = &server.base_url;
    for (what, url, names) in [
        (
            "a negative checklist version",
            format!("{base}/api/v1/checklists/ccc/-1"),
            "version",
        ),
        (
            "a record ID that is no UUID",
            format!("{base}/api/v1/records/null"),
            "record_id",
        ),
        (
            "a pull limit past i64",
            format!("{base}/api/v1/device/pull?limit=9223372036854775808"),
            "limit",
        ),
        (
            "an import flag that is no boolean",
            format!("{base}/api/v1/import/testing_body?partial=null"),
            "partial",
        ),
    ] {
        let r = http
            .request(
                if url.contains("/import/") {
                    Method::POST
                } else {
                    Method::GET
                },
                &url,
            )
            .bearer_auth(server.token())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
        assert!(
            r.headers()[reqwest::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{what}: {:?}",
            r.headers()
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "bad_request", "{what}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(names), "{what}: {message}");
    }
}
