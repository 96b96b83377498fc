//! The API fuzzed from outside with schemathesis (issue #19), against the
//! real server on SQLite with the demo data: every operation of the served
//! OpenAPI document, with its coverage, fuzzing and stateful phases (valid
//! and invalid data), once as the quality section (admin token) and once as
//! an enrolled tablet (device token). Required: no 5xx, every answer
//! conforming to the document (status, content type, headers, schema), and
//! every request the document calls invalid refused.
//!
//! A bounded pass (`CHOUCHA_FUZZ_EXAMPLES`, default 20 per operation and
//! phase, a fixed seed) runs with the tests; `docs/reliability.md` gives the
//! command for a longer one with fresh seeds.

use std::path::PathBuf;
use std::process::Command;

use choucha_tests::TestServer;
use choucha_tests::console::demo_task;
use choucha_tests::device::enrol;

/// The checks that must all pass. `positive_data_acceptance` is left out:
/// rules a schema cannot state (a USCC's check character, a plan's strata
/// against its algorithm version, an enrolment code that exists) refuse
/// schema-valid data by design, with 422.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,negative_data_rejection";

/// Where `scripts/setup.sh` installs schemathesis (a virtual environment of
/// its own), unless `CHOUCHA_SCHEMATHESIS` names the program.
fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("CHOUCHA_SCHEMATHESIS") {
        return p.into();
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/tools/schemathesis/bin/schemathesis");
    assert!(
        p.exists(),
        "schemathesis is not installed at {}: run scripts/setup.sh",
        p.display()
    );
    p
}

/// One schemathesis pass; its output on failure.
fn fuzz(base: &str, token: &str, tags: &[&str], exclude: bool) -> Result<String, String> {
    let examples = std::env::var("CHOUCHA_FUZZ_EXAMPLES").unwrap_or_else(|_| "20".into());
    let seed = std::env::var("CHOUCHA_FUZZ_SEED").unwrap_or_else(|_| "20261207".into());
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemathesis.toml");
    let mut cmd = Command::new(schemathesis());
    cmd.arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(format!("{base}/api/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", &examples])
        .args(["--seed", &seed])
        .args(["--workers", "2"])
        .args(["--request-timeout", "30"])
        .arg("--no-color");
    for t in tags {
        cmd.args([
            if exclude {
                "--exclude-tag"
            } else {
                "--include-tag"
            },
            t,
        ]);
    }
    let out = cmd.output().expect("running schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The figures of a pass's summary, for the log and docs/reliability.md.
fn summary(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let l = l.trim_start();
            l.ends_with(" passed") || l.starts_with("Tested:") || l.contains(" failures")
        })
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_holds_its_contract_under_fuzzing() {
    let server = TestServer::start_demo(None).expect("demo server");
    let base = server.base_url.clone();
    let task = demo_task(&server, "白市驿镇").await.unwrap();
    let device = enrol(
        &reqwest::Client::new(),
        &base,
        server.token(),
        &task.officer_id,
    )
    .await
    .unwrap();
    let device_token = device.sync.token().to_owned();
    let admin_token = server.token().to_owned();

    let device_tags = ["device", "evidence"];
    let (admin, tablet) = tokio::task::spawn_blocking(move || {
        (
            fuzz(&base, &admin_token, &device_tags, true),
            fuzz(&base, &device_token, &device_tags, false),
        )
    })
    .await
    .unwrap();
    let admin = admin.unwrap_or_else(|out| panic!("as the quality section:\n{out}"));
    let tablet = tablet.unwrap_or_else(|out| panic!("as a tablet:\n{out}"));
    println!("admin pass: {}", summary(&admin));
    println!("device pass: {}", summary(&tablet));
    // Both passes reached the server: each tested operations and passed
    // generated cases (an empty pass would prove nothing).
    for (who, text) in [("admin", &admin), ("device", &tablet)] {
        assert!(
            text.contains(" passed") && !text.contains("Tested: 0"),
            "{who} pass tested nothing:\n{text}"
        );
    }
    // The tablet's operations were really reached with its token, not only
    // refused for want of one.
    assert!(
        !tablet.contains("Authentication failed: 9 operations"),
        "the device token was refused everywhere:\n{tablet}"
    );
}
