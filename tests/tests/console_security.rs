//! Security of the console and the API over real HTTP against the real
//! server: every route refuses anonymous and wrong-role users; a town lead
//! cannot reach another town's record by guessing URLs; a POST without the
//! session's CSRF token is refused; logins are rate limited; cookies are
//! HttpOnly/SameSite=Strict (Secure behind HTTPS); SQL and HTML injection
//! strings in imports and form fields are stored verbatim and come back
//! escaped; changes are in the audit log with before and after.

mod console_support;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use choucha_shared::Uscc;
use choucha_tests::console::{PASSWORD, Session, client, set_demo_passwords};
use choucha_tests::{TestServer, pg};
use console_support::sync_far_record;

const TOWN: &str = "西永街道";

const INJ_HTML: &str = "<script>alert('xss')</script>";
const INJ_ATTR: &str = "\"><img src=x onerror=alert(1)>";
const INJ_SQL: &str = "'); DROP TABLE targets; --";
/// A town whose name is markup and SQL at once.
const INJ_TOWN: &str = "注入镇<b onmouseover=alert(1)>'--";

/// Fails if any raw markup of the injection strings is in the page.
fn assert_harmless(html: &str, what: &str) {
    for raw in [
        "<script>alert",
        "<img src=x",
        "<b onmouseover",
        "onerror=alert(1)>",
    ] {
        assert!(!html.contains(raw), "{what}: raw '{raw}' in the page");
    }
}

fn uscc(n: u32) -> String {
    Uscc::with_check_char(&format!("91500107MA{n:07}"))
        .map(|u| u.to_string())
        .expect("a valid USCC")
}

async fn status(c: &Client, method: Method, url: &str, auth: Auth<'_>) -> StatusCode {
    let mut r = c.request(method.clone(), url);
    match auth {
        Auth::None => {}
        Auth::Bearer(t) => r = r.bearer_auth(t),
        Auth::Cookie(k) => r = r.header("cookie", k),
    }
    if method == Method::POST || method == Method::PATCH {
        r = r.header("content-type", "application/json").body("{}");
    }
    if method == Method::HEAD || method == Method::PATCH {
        r = r.header("upload-length", "10");
    }
    r.send().await.expect("request").status()
}

#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_api_security_on_sqlite() {
    security(TestServer::start_demo(None).expect("demo server")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_api_security_on_postgres() {
    let url = pg::shared().create_database().await.expect("a database");
    security(TestServer::start_demo(Some(&url)).expect("demo server")).await;
}

async fn security(server: TestServer) {
    set_demo_passwords(&server).expect("passwords");
    let base = server.base_url.clone();
    let synced = sync_far_record(&server, TOWN, 7).await;
    let rid = synced.record.record_id.to_string();
    let photo = synced.record.photos[0].sha256.to_string();
    let device_token = synced.device.enrolment.token.clone();
    let http = client();

    let supervisor = Session::login(&base, "zhiliangke", PASSWORD).await.unwrap();
    let admin = Session::login(&base, "admin", PASSWORD).await.unwrap();
    let auditor = Session::login(&base, "shenji", PASSWORD).await.unwrap();
    let xiyong = Session::login(&base, "xiyong", PASSWORD).await.unwrap();
    let huxi = Session::login(&base, "huxi", PASSWORD).await.unwrap();

    // ---- Cookies.
    let login = http
        .get(format!("{base}/console/login"))
        .send()
        .await
        .unwrap();
    let csrf_cookie = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));
    assert!(!csrf_cookie.contains("Secure"), "plain HTTP on loopback");
    let behind_https = http
        .get(format!("{base}/console/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let c = behind_https.headers()["set-cookie"].to_str().unwrap();
    assert!(c.contains("; Secure"), "Secure behind HTTPS: {c}");

    // ---- Every console route refuses anonymous visitors.
    let get_routes = [
        "/console".to_owned(),
        "/console/users".into(),
        "/console/plans".into(),
        "/console/plans/GXQ-2023-ZBJR".into(),
        "/console/draws/GXQ-2023-ZBJR-D1".into(),
        "/console/draws/GXQ-2023-ZBJR-D1/verify".into(),
        "/console/verify".into(),
        "/console/review".into(),
        format!("/console/records/{rid}"),
        format!("/console/records/{rid}/blobs/{photo}"),
        format!("/console/records/{rid}/pdf"),
        "/console/disclosure".into(),
        "/console/abnormal".into(),
        "/console/followup".into(),
        "/console/followup/00000000-0000-0000-0000-000000000000".into(),
        "/console/dashboard".into(),
        "/console/reports".into(),
        "/console/reports/summary.xlsx".into(),
        "/console/reports/summary.csv".into(),
        "/console/reports/problems.csv".into(),
        "/console/import".into(),
        "/console/audit".into(),
    ];
    let post_routes = [
        "/console/logout".to_owned(),
        "/console/users".into(),
        "/console/plans/new".into(),
        "/console/plans/GXQ-2023-ZBJR/freeze".into(),
        "/console/plans/GXQ-2023-ZBJR/draw".into(),
        format!("/console/records/{rid}/approve"),
        format!("/console/records/{rid}/issues"),
        format!("/console/records/{rid}/return"),
        format!("/console/records/{rid}/publish"),
        format!("/console/records/{rid}/withdraw"),
        format!("/console/abnormal/{rid}"),
        format!("/console/abnormal/{rid}/case"),
        "/console/followup/00000000-0000-0000-0000-000000000000/actions".into(),
        "/console/import".into(),
    ];
    for path in &get_routes {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "anonymous GET {path}");
        assert_eq!(r.headers()["location"], "/console/login", "GET {path}");
    }
    for path in &post_routes {
        let r = http
            .post(format!("{base}{path}"))
            .form(&[("csrf", "x"), ("version", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "anonymous POST {path}"
        );
    }
    // A forged or expired session cookie is anonymous too.
    let (s, _) = Session {
        cookie: "choucha_session=00ff".into(),
        ..supervisor.clone()
    }
    .get("/console/review")
    .await
    .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER);
    // The public pages need no login.
    for path in ["/public", "/public/results.json", "/public/results.csv"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }

    // ---- Wrong roles.
    let forbidden_get: [(&Session, &str); 8] = [
        (&supervisor, "/console/users"),
        (&supervisor, "/console/import"),
        (&auditor, "/console/users"),
        (&auditor, "/console/import"),
        (&xiyong, "/console/users"),
        (&xiyong, "/console/plans"),
        (&xiyong, "/console/draws/GXQ-2023-ZBJR-D1"),
        (&xiyong, "/console/audit"),
    ];
    for (who, path) in forbidden_get {
        let (s, body) = who.get(path).await.unwrap();
        assert_eq!(s, StatusCode::FORBIDDEN, "GET {path}: {body}");
    }
    // The auditor reads everything else but changes nothing.
    for path in get_routes
        .iter()
        .filter(|p| !p.starts_with("/console/users") && !p.starts_with("/console/import"))
        .filter(|p| !p.starts_with("/console/followup/"))
    {
        let (s, body) = auditor.get(path).await.unwrap();
        assert_eq!(s, StatusCode::OK, "auditor GET {path}: {body}");
    }
    let version = synced.version.to_string();
    for path in post_routes
        .iter()
        .filter(|p| *p != "/console/logout" && *p != "/console/import")
    {
        let (s, body) = auditor
            .post(
                path,
                &[
                    ("version", version.as_str()),
                    ("comment", "x"),
                    ("reason", "x"),
                    ("username", "eve"),
                    ("role", "admin"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(s, StatusCode::FORBIDDEN, "auditor POST {path}: {body}");
    }
    for (who, path) in [
        (&supervisor, "/console/users"),
        (&xiyong, "/console/users"),
        (&xiyong, "/console/plans/new"),
        (&xiyong, "/console/plans/GXQ-2023-ZBJR/freeze"),
        (&xiyong, "/console/plans/GXQ-2023-ZBJR/draw"),
        (&xiyong, &format!("/console/records/{rid}/publish")),
    ] {
        let (s, body) = who
            .post(path, &[("username", "eve"), ("role", "admin")])
            .await
            .unwrap();
        assert_eq!(s, StatusCode::FORBIDDEN, "POST {path}: {body}");
    }
    let imp = multipart_import(&auditor, "targets.csv", b"x").await;
    assert_eq!(imp.0, StatusCode::FORBIDDEN, "auditor import");
    // Nothing changed: the record is still waiting for review.
    let (_, page) = supervisor
        .get(&format!("/console/records/{rid}"))
        .await
        .unwrap();
    assert!(page.contains("已接收"), "the auditor changed nothing");

    // ---- Town leads: their own town only, also by guessing URLs.
    let (s, page) = xiyong
        .get(&format!("/console/records/{rid}"))
        .await
        .unwrap();
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains(&synced.task.target_name));
    let (_, queue) = xiyong.get("/console/review").await.unwrap();
    assert!(queue.contains(&rid), "the lead's own queue lists it");
    for path in [
        format!("/console/records/{rid}"),
        format!("/console/records/{rid}/pdf"),
        format!("/console/records/{rid}/blobs/{photo}"),
    ] {
        let (s, body) = huxi.get(&path).await.unwrap();
        assert_eq!(s, StatusCode::NOT_FOUND, "other town GET {path}");
        assert!(!body.contains(&synced.task.target_name));
    }
    for path in [
        format!("/console/records/{rid}/approve"),
        format!("/console/records/{rid}/return"),
        format!("/console/records/{rid}/issues"),
    ] {
        let (s, _) = huxi
            .post(&path, &[("version", version.as_str()), ("comment", "x")])
            .await
            .unwrap();
        assert_eq!(s, StatusCode::NOT_FOUND, "other town POST {path}");
    }
    for q in [
        "/console/review".to_owned(),
        format!("/console/review?town={TOWN}"),
        format!("/console/review?town={TOWN}&state=received"),
    ] {
        let (_, body) = huxi.get(&q).await.unwrap();
        assert!(!body.contains(&rid), "{q} shows another town's record");
    }
    let (_, body) = huxi
        .get(&format!("/console/dashboard?town={TOWN}"))
        .await
        .unwrap();
    assert!(body.contains("虎溪街道") && !body.contains(&format!("<option value=\"{TOWN}\"")));
    let (_, csv) = huxi
        .get(&format!("/console/reports/summary.csv?town={TOWN}"))
        .await
        .unwrap();
    assert!(
        !csv.contains(TOWN),
        "the export is the lead's town only: {csv}"
    );
    // Photos are served only for the record that names them.
    let (s, _) = supervisor
        .get(&format!("/console/records/{rid}/blobs/{}", "0".repeat(64)))
        .await
        .unwrap();
    assert_eq!(s, StatusCode::NOT_FOUND);

    // ---- CSRF.
    let return_path = format!("/console/records/{rid}/return");
    let (s, _) = supervisor
        .post_raw(
            &return_path,
            &[("version", version.as_str()), ("comment", "x")],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN, "no token");
    let (s, _) = supervisor
        .post_raw(
            &return_path,
            &[
                ("csrf", "0".repeat(64).as_str()),
                ("version", version.as_str()),
                ("comment", "x"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN, "wrong token");
    let (s, _) = supervisor
        .post_raw(
            &return_path,
            &[
                ("csrf", admin.csrf.as_str()),
                ("version", version.as_str()),
                ("comment", "x"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN, "another session's token");
    let (s, _) = supervisor.post_raw("/console/logout", &[]).await.unwrap();
    assert_eq!(s, StatusCode::FORBIDDEN, "logout needs the token too");
    let r = http
        .post(format!("{base}/console/login"))
        .form(&[
            ("csrf", "abc"),
            ("username", "admin"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "login without its cookie"
    );
    let (s, body) = multipart_import_no_token(&admin).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "upload without token: {body}");
    let (_, page) = supervisor
        .get(&format!("/console/records/{rid}"))
        .await
        .unwrap();
    assert!(page.contains("已接收"), "no refused POST changed anything");

    // ---- The API: admin token only; device tokens and console sessions
    // are not API credentials, and device routes take device tokens only.
    let admin_api: [(Method, &str); 15] = [
        (Method::GET, "/api/v1/jurisdictions"),
        (Method::POST, "/api/v1/jurisdictions"),
        (Method::POST, "/api/v1/import/targets"),
        (Method::POST, "/api/v1/plans"),
        (Method::GET, "/api/v1/plans/GXQ-2023-ZBJR"),
        (Method::POST, "/api/v1/plans/GXQ-2023-ZBJR/freeze"),
        (Method::POST, "/api/v1/plans/GXQ-2023-ZBJR/draws"),
        (Method::GET, "/api/v1/draws/GXQ-2023-ZBJR-D1"),
        (Method::GET, "/api/v1/targets/testing_body/x"),
        (Method::POST, "/api/v1/enrolments"),
        (Method::POST, "/api/v1/devices/x/revoke"),
        (Method::GET, "/api/v1/devices/x/log"),
        (
            Method::GET,
            "/api/v1/records/00000000-0000-0000-0000-000000000000",
        ),
        (
            Method::POST,
            "/api/v1/records/00000000-0000-0000-0000-000000000000/return",
        ),
        (
            Method::POST,
            "/api/v1/records/00000000-0000-0000-0000-000000000000/approve",
        ),
    ];
    let device_api: [(Method, &str); 7] = [
        (Method::GET, "/api/v1/device/pull"),
        (Method::POST, "/api/v1/device/push"),
        (Method::GET, "/api/v1/device/tasks/x"),
        (
            Method::GET,
            "/api/v1/device/records/00000000-0000-0000-0000-000000000000",
        ),
        (
            Method::HEAD,
            "/api/v1/device/blobs/0000000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            Method::GET,
            "/api/v1/device/blobs/0000000000000000000000000000000000000000000000000000000000000000?total=10",
        ),
        (
            Method::PATCH,
            "/api/v1/device/blobs/0000000000000000000000000000000000000000000000000000000000000000",
        ),
    ];
    for (m, path) in &admin_api {
        let url = format!("{base}{path}");
        for (who, auth) in [
            ("anonymous", Auth::None),
            ("device token", Auth::Bearer(&device_token)),
            ("console session", Auth::Cookie(&admin.cookie)),
        ] {
            let s = status(&http, m.clone(), &url, auth).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{who} {m} {path}");
        }
    }
    for (m, path) in &device_api {
        let url = format!("{base}{path}");
        for (who, auth) in [
            ("anonymous", Auth::None),
            ("admin token", Auth::Bearer(server.token())),
            ("console session", Auth::Cookie(&admin.cookie)),
        ] {
            let s = status(&http, m.clone(), &url, auth).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{who} {m} {path}");
        }
    }

    // ---- Login rate limit: after three failures of a name from one client
    // each next try from there must wait (1 s, 2 s, 4 s …), even with the
    // right password; other users are unaffected.
    for _ in 0..5 {
        let e = Session::login(&base, "shenji", "not-the-password").await;
        assert!(e.is_err());
    }
    let locked = Session::login(&base, "shenji", PASSWORD)
        .await
        .expect_err("locked out");
    assert!(locked.to_string().contains("429"), "{locked}");
    assert!(Session::login(&base, "zhiliangke", PASSWORD).await.is_ok());

    // ---- Injection: stored verbatim, shown escaped, the database intact.
    let api = Client::new();
    let r = api
        .post(format!("{base}/api/v1/jurisdictions"))
        .bearer_auth(server.token())
        .json(&json!({ "names": [INJ_TOWN] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let name1 = format!("企业{INJ_HTML}{INJ_SQL}");
    let name2 = format!("公司{}", INJ_ATTR.replace('"', "“"));
    let csv = format!(
        "检查对象类别,企业名称,统一社会信用代码,标准编号,发布单位,所属镇街,地址,经度,纬度\n\
         检验检测机构,{name1},{},,,{INJ_TOWN},{INJ_SQL},106.30,29.60\n\
         检验检测机构,{name2},{},,,{INJ_TOWN},地址{INJ_HTML},106.31,29.61\n",
        uscc(1),
        uscc(2),
    );
    let r = api
        .post(format!("{base}/api/v1/import/targets?file_name=inj.csv"))
        .bearer_auth(server.token())
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Officers of that town (a draw needs local enforcement officers), with
    // markup in their names too.
    let officers = format!(
        "姓名,执法证号,所属单位,可检查领域,是否执法人员\n\
         王<i>五</i>,渝500107239901,{INJ_TOWN},检验检测机构,是\n\
         赵六'--,渝500107239902,{INJ_TOWN},检验检测机构,是\n"
    );
    let r = api
        .post(format!(
            "{base}/api/v1/import/officers?file_name=inj-officers.csv"
        ))
        .bearer_auth(server.token())
        .body(officers)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let stored: Value = api
        .get(format!("{base}/api/v1/targets/testing_body/{}", uscc(1)))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["target"]["name"], name1.as_str(), "stored verbatim");
    assert_eq!(stored["target"]["address"], INJ_SQL);
    // A draw over the injected town shows the names, escaped.
    let (s, body) = supervisor
        .post(
            "/console/plans/new",
            &[
                ("plan_id", "INJ-1"),
                ("title", &format!("{INJ_HTML}{INJ_ATTR}{INJ_SQL}")),
                ("team_size", "2"),
                ("officer_cap", "25"),
                ("strata", &format!("INJ,testing_body,2,{INJ_TOWN}")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let (_, page) = supervisor.get("/console/plans/INJ-1").await.unwrap();
    assert_harmless(&page, "plan page");
    assert!(
        page.contains("&lt;script&gt;alert('xss')&lt;/script&gt;"),
        "{page}"
    );
    let (s, _) = supervisor
        .post("/console/plans/INJ-1/freeze", &[])
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, body) = supervisor
        .post(
            "/console/plans/INJ-1/draw",
            &[
                ("seed", "12345 67890 12345 67890 1234"),
                ("entered_by", INJ_ATTR),
            ],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let (_, draws) = supervisor.get("/console/plans/INJ-1").await.unwrap();
    let (_, draw) = supervisor.get("/console/draws/INJ-1-D1").await.unwrap();
    assert_harmless(&draws, "plan page with draws");
    assert_harmless(&draw, "draw record");
    assert!(
        draw.contains("企业&lt;script&gt;"),
        "target name escaped: {draw}"
    );
    assert!(
        draw.contains("&quot;&gt;&lt;img src=x"),
        "entered_by escaped"
    );
    assert!(
        draw.contains("注入镇&lt;b onmouseover=alert(1)&gt;'--"),
        "town escaped"
    );
    assert!(
        draw.contains("王&lt;i&gt;五&lt;/i&gt;"),
        "officer name escaped"
    );
    // The directory survived the SQL string: the demo targets are there.
    let demo_target = api
        .get(format!("{base}/api/v1/draws/GXQ-2023-ZBJR-D1"))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(demo_target.status(), 200);

    // Form fields echoed back: login name, queue filter, user name.
    let r = http
        .get(format!("{base}/console/login"))
        .send()
        .await
        .unwrap();
    let lc = choucha_tests::console::set_cookie_value(&r, "choucha_login_csrf").unwrap();
    let r = http
        .post(format!("{base}/console/login"))
        .header("cookie", format!("choucha_login_csrf={lc}"))
        .form(&[
            ("csrf", lc.as_str()),
            ("username", INJ_ATTR),
            ("password", INJ_SQL),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let page = r.text().await.unwrap();
    assert_harmless(&page, "login page");
    assert!(page.contains("value=\"&quot;&gt;&lt;img"), "{page}");
    let (_, page) = supervisor
        .get(&format!(
            "/console/review?team={}",
            urlencode(&format!("{INJ_ATTR}{INJ_SQL}"))
        ))
        .await
        .unwrap();
    assert_harmless(&page, "queue filter");
    let (s, page) = admin
        .post(
            "/console/users",
            &[("username", "<b>eve</b>'--"), ("role", "auditor")],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::CREATED, "{page}");
    assert!(page.contains("&lt;b&gt;eve&lt;/b&gt;'--") && !page.contains("<b>eve"));
    // Console upload: a bad row's value comes back escaped in the errors.
    let bad = format!(
        "检查对象类别,企业名称,统一社会信用代码,标准编号,发布单位,所属镇街,地址,经度,纬度\n\
         检验检测机构,企业甲,{INJ_HTML},,,{TOWN},地址,106.3,29.6\n"
    );
    let (s, page) = multipart_import(&admin, "bad.csv", bad.as_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert_harmless(&page, "import errors");
    assert!(
        page.contains("&lt;script&gt;"),
        "the bad value is shown: {page}"
    );
    // Return comments (go to the device and the record page).
    let item = synced.record.items.keys().next().unwrap().clone();
    let item_field = format!("item:{item}");
    let (s, body) = supervisor
        .post(
            &return_path,
            &[
                ("version", version.as_str()),
                ("comment", &format!("{INJ_HTML}{INJ_SQL}")),
                (item_field.as_str(), INJ_ATTR),
            ],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let (_, page) = supervisor
        .get(&format!("/console/records/{rid}"))
        .await
        .unwrap();
    assert_harmless(&page, "record page");
    assert!(page.contains("&lt;script&gt;alert('xss')&lt;/script&gt;'); DROP TABLE"));
    // An unknown item in a return is refused, naming it.
    let (s, body) = supervisor
        .post(
            &return_path,
            &[("version", version.as_str()), ("item:nope", "x")],
        )
        .await
        .unwrap();
    assert!(s.is_client_error() && body.contains("nope"), "{s} {body}");

    // ---- The audit log has who, what and before/after.
    // (The auditor is locked out by now; the admin reads the log.)
    let (_, audit) = admin
        .get(&format!("/console/audit?object=record:{rid}"))
        .await
        .unwrap();
    assert!(audit.contains("data-action=\"record.return\""), "{audit}");
    assert!(audit.contains("zhiliangke"));
    // The change in words: the field, before → after; the action named.
    assert!(
        audit.contains("state: received → returned"),
        "before → after: {audit}"
    );
    assert!(audit.contains(">退回<"), "the action in words: {audit}");
    assert_harmless(&audit, "audit log");
    let (_, audit) = admin.get("/console/audit").await.unwrap();
    for action in [
        "plan.create",
        "plan.freeze",
        "draw.run",
        "user.add",
        "directory.import",
        "login",
    ] {
        assert!(
            audit.contains(&format!("data-action=\"{action}\"")),
            "audit lacks {action}"
        );
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn multipart_body(file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "choucha-test-boundary-7f3a";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ntargets\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads through the console's import form (token in the query string).
async fn multipart_import(who: &Session, file_name: &str, bytes: &[u8]) -> (StatusCode, String) {
    let (ctype, body) = multipart_body(file_name, bytes);
    let r = who
        .client
        .post(format!("{}/console/import?csrf={}", who.base, who.csrf))
        .header("cookie", &who.cookie)
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn multipart_import_no_token(who: &Session) -> (StatusCode, String) {
    let (ctype, body) = multipart_body("x.csv", b"a,b\n");
    let r = who
        .client
        .post(format!("{}/console/import", who.base))
        .header("cookie", &who.cookie)
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}
