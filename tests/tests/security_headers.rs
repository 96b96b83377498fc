//! Every page carries the security headers (a content security policy with
//! no inline script and no framing, nosniff, a same-origin referrer policy;
//! HSTS once reached over HTTPS), and no console page holds an inline
//! script or an event-handler attribute the policy would block.

use choucha_tests::TestServer;
use choucha_tests::console::{PASSWORD, Session, client, set_demo_passwords};

fn header<'r>(r: &'r reqwest::Response, name: &str) -> &'r str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers_and_no_inline_script() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let http = client();
    for path in [
        "/console/login",
        "/public",
        "/healthz",
        "/api/v1/checklists",
    ] {
        let r = http.get(server.url(path)).send().await.unwrap();
        let csp = header(&r, "content-security-policy");
        let script = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap_or_default();
        assert_eq!(script, "script-src 'self'", "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "same-origin", "{path}");
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(
            header(&r, "strict-transport-security"),
            "",
            "{path}: not over HTTP"
        );
    }
    // Behind the TLS proxy: HSTS.
    let r = http
        .get(server.url("/console/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(header(&r, "strict-transport-security").starts_with("max-age="));
    // The console's one script is a file of its own.
    let r = http
        .get(server.url("/console/assets/console.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/javascript"));

    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    for path in [
        "/console",
        "/console/plans",
        "/console/plans/GXQ-2023-ZBJR",
        "/console/draws/GXQ-2023-ZBJR-D1",
        "/console/review",
        "/console/followup",
        "/console/questions",
        "/console/escalations",
        "/console/analysis",
        "/console/town-reports?plan=GXQ-2023-ZBJR",
        "/console/dashboard",
        "/console/reports",
        "/console/disclosure",
        "/console/abnormal",
        "/console/audit",
        "/public",
    ] {
        let (status, html) = s.get(path).await.unwrap();
        assert_eq!(status, 200, "{path}");
        for (at, _) in html.match_indices("<script") {
            let tag = &html[at..html[at..].find('>').map_or(html.len(), |e| at + e)];
            assert!(tag.contains("src="), "{path}: inline script {tag}");
        }
        let lower = html.to_ascii_lowercase();
        for handler in [
            " onclick=",
            " onchange=",
            " onsubmit=",
            " onload=",
            " oninput=",
            "javascript:",
        ] {
            assert!(!lower.contains(handler), "{path}: {handler}");
        }
    }
}
