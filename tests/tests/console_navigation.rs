//! Small things a new console user met (issue #20): a town lead's menu
//! offers no page that answers 403; the dashboard opens on the drawn plan,
//! not a newer undrawn one; `/console/` with a slash is the home, not a
//! JSON 404; exports are named with what they are, their plan and the
//! date. Each failed before.

use reqwest::StatusCode;

use choucha_tests::TestServer;
use choucha_tests::console::{PASSWORD, Session, client, set_demo_passwords};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menus_offer_only_what_opens_and_exports_say_what_they_are() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();

    // Every link in each role's menu opens for that role.
    for user in ["xiyong", "zhiliangke", "shenji", "admin"] {
        let s = Session::login(&server.base_url, user, PASSWORD)
            .await
            .unwrap();
        let (_, home) = s.get("/console").await.unwrap();
        let header = home
            .split("<header>")
            .nth(1)
            .and_then(|h| h.split("</header>").next())
            .unwrap_or_else(|| panic!("no header: {home}"));
        for href in header.split("href=\"").skip(1) {
            let href = href.split('"').next().unwrap();
            if !href.starts_with("/console") || href.contains("logout") {
                continue;
            }
            // Opens, or leads on to the role's own page (a town lead's
            // town report).
            let (st, _) = s.get(href).await.unwrap();
            assert!(
                st == StatusCode::OK || st == StatusCode::SEE_OTHER,
                "{user}'s menu offers {href}: {st}"
            );
        }
    }

    // The dashboard opens on the drawn plan, not on a newer undrawn one
    // (which would show everyone zeros).
    let drawn = choucha_tests::field::admin_get(&server, "/api/v1/plans/GXQ-2023-ZBJR")
        .await
        .unwrap();
    let mut newer: choucha_shared::plan::DrawPlan =
        serde_json::from_value(drawn["plan"].clone()).unwrap();
    newer.plan_id = "NAV-UNDRAWN".into();
    newer.title = "尚未抽取的计划".into();
    let r = client()
        .post(server.url("/api/v1/plans"))
        .bearer_auth(server.token())
        .json(&newer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let (_, dash) = s.get("/console/dashboard").await.unwrap();
    let selected = dash
        .split("selected")
        .next()
        .and_then(|before| before.rsplit("value=\"").next())
        .unwrap_or_default();
    assert!(
        selected.starts_with("GXQ-2023-ZBJR"),
        "the dashboard opened on {selected}"
    );

    // The home with a slash.
    let r = client().get(server.url("/console/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers()["location"], "/console");

    // Exports named by kind, plan and date.
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&choucha_shared::value::china_offset())
        .format("%Y%m%d")
        .to_string();
    let http = client();
    for (path, name) in [
        (
            "/console/reports/summary.xlsx?plan=GXQ-2023-ZBJR",
            format!("summary-GXQ-2023-ZBJR-{today}.xlsx"),
        ),
        (
            "/console/reports/summary.csv",
            format!("summary-all-{today}.csv"),
        ),
        (
            "/console/reports/problems.csv?plan=GXQ-2023-ZBJR",
            format!("problems-GXQ-2023-ZBJR-{today}.csv"),
        ),
    ] {
        let r = http
            .get(server.url(path))
            .header("cookie", &s.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let disposition = r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            disposition,
            format!("attachment; filename=\"{name}\""),
            "{path}"
        );
    }
}

/// The audit log in words (issue #20): actions named as the quality
/// section says them, times in China time, filters by person, action and
/// date. Before, it showed codes and raw JSON and filtered by object only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_reads_in_words_and_filters() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let admin = Session::login(&server.base_url, "admin", PASSWORD)
        .await
        .unwrap();
    let rows = |page: &str| -> Vec<String> {
        page.split("<tr class=\"audit-row\"")
            .skip(1)
            .map(|r| r.split("</tr>").next().unwrap_or_default().to_owned())
            .collect()
    };

    let (_, page) = admin
        .get("/console/audit?action=plan.freeze")
        .await
        .unwrap();
    let frozen = rows(&page);
    assert_eq!(frozen.len(), 1, "{page}");
    assert!(frozen[0].contains("data-action=\"plan.freeze\""));
    assert!(frozen[0].contains("冻结名录快照"), "{}", frozen[0]);
    assert!(
        frozen[0].contains("frozen_at: — →"),
        "the change in words: {}",
        frozen[0]
    );

    let (_, page) = admin.get("/console/audit?actor=admin").await.unwrap();
    let mine = rows(&page);
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|r| r.contains("<td>admin</td>")), "{page}");
    assert!(
        mine.iter()
            .any(|r| r.contains("data-action=\"login\"") && r.contains(">登录<"))
    );

    let today = chrono::Utc::now()
        .with_timezone(&choucha_shared::value::china_offset())
        .format("%Y-%m-%d")
        .to_string();
    let (_, page) = admin
        .get(&format!(
            "/console/audit?from={today}&to={today}&action=login"
        ))
        .await
        .unwrap();
    let todays = rows(&page);
    assert!(!todays.is_empty(), "{page}");
    // Times in China time, to the minute.
    assert!(
        todays[0].contains(&format!("<td>{today} ")),
        "{}",
        todays[0]
    );
    let (_, page) = admin
        .get("/console/audit?from=2000-01-01&to=2000-01-02")
        .await
        .unwrap();
    assert!(rows(&page).is_empty(), "nothing then");
    let (st, page) = admin.get("/console/audit?from=2026-13-01").await.unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(page.contains("“2026-13-01”不是日期"), "{page}");
}

/// Users (issue #20): the admin disables and enables an account (its
/// sessions end at once), resets a password (shown once), changes a role
/// and town; every step audited; nobody disables themselves. Before, the
/// page could only add users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_disables_resets_and_changes_roles() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let admin = Session::login(&server.base_url, "admin", PASSWORD)
        .await
        .unwrap();
    let auditor = Session::login(&server.base_url, "shenji", PASSWORD)
        .await
        .unwrap();
    assert_eq!(auditor.get("/console").await.unwrap().0, StatusCode::OK);

    // Disabled: the open session ends, the password no longer logs in.
    let (st, page) = admin
        .post("/console/users/shenji/disable", &[])
        .await
        .unwrap();
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("已停用"), "{page}");
    assert_ne!(auditor.get("/console").await.unwrap().0, StatusCode::OK);
    assert!(
        Session::login(&server.base_url, "shenji", PASSWORD)
            .await
            .is_err()
    );
    let (st, _) = admin
        .post("/console/users/shenji/enable", &[])
        .await
        .unwrap();
    assert_eq!(st, StatusCode::OK);
    Session::login(&server.base_url, "shenji", PASSWORD)
        .await
        .expect("enabled again");

    // Nobody disables themselves (no button; the request is refused).
    let (_, page) = admin.get("/console/users").await.unwrap();
    let own = page
        .split("data-user=\"admin\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap();
    assert!(!own.contains("toggle-user"), "{own}");
    let (st, page) = admin
        .post("/console/users/admin/disable", &[])
        .await
        .unwrap();
    assert_eq!(st, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("不能停用自己的账户"), "{page}");

    // The last administrator keeps the role (nobody could manage users).
    let (st, page) = admin
        .post(
            "/console/users/admin/role",
            &[("role", "supervisor"), ("jurisdiction", "")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("最后一个系统管理员"), "{page}");

    // A reset password, shown once, logs in; the old one does not.
    let (st, page) = admin
        .post("/console/users/huxi/password", &[])
        .await
        .unwrap();
    assert_eq!(st, StatusCode::OK, "{page}");
    let new = page
        .split("id=\"new-password\"")
        .nth(1)
        .and_then(|p| p.split("<code>").nth(1))
        .and_then(|p| p.split("</code>").next())
        .unwrap()
        .to_owned();
    assert!(
        Session::login(&server.base_url, "huxi", PASSWORD)
            .await
            .is_err()
    );
    Session::login(&server.base_url, "huxi", &new)
        .await
        .expect("the new password");

    // A role change: a town lead needs a town; the new role applies.
    let (st, page) = admin
        .post(
            "/console/users/shenji/role",
            &[("role", "town_lead"), ("jurisdiction", "")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("镇街负责人须指定所属镇街"), "{page}");
    let (st, page) = admin
        .post(
            "/console/users/shenji/role",
            &[("role", "town_lead"), ("jurisdiction", "虎溪街道")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::OK, "{page}");
    let lead = Session::login(&server.base_url, "shenji", PASSWORD)
        .await
        .unwrap();
    let (_, home) = lead.get("/console").await.unwrap();
    assert!(
        home.contains("镇街负责人") && home.contains("虎溪街道"),
        "{home}"
    );

    // Every step audited under the admin.
    let (_, audit) = admin.get("/console/audit?actor=admin").await.unwrap();
    for action in ["user.disable", "user.enable", "user.password", "user.role"] {
        assert!(
            audit.contains(&format!("data-action=\"{action}\"")),
            "{action} in {audit}"
        );
    }
}

/// One error page, in the console's layout with the navigation, in the
/// visitor's language (issue #20); before, a bare page without either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_show_in_the_console_layout() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    for (path, status, title) in [
        ("/console/users", StatusCode::FORBIDDEN, "无权访问"),
        (
            "/console/records/00000000-0000-0000-0000-000000000000",
            StatusCode::NOT_FOUND,
            "没有找到",
        ),
    ] {
        let (st, page) = s.get(path).await.unwrap();
        assert_eq!(st, status, "{path}");
        assert!(page.contains("<header>"), "the navigation: {page}");
        assert!(page.contains("id=\"current-user\">zhiliangke"), "{page}");
        assert!(
            page.contains(title) && page.contains("id=\"error\""),
            "{page}"
        );
    }
    // A refused form (a bad date) says what is wrong, in the layout.
    let (st, page) = s.get("/console/audit?from=2026-02-30").await.unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("填写有误") && page.contains("<header>"),
        "{page}"
    );
    // A visitor who is not logged in: the layout, no one's navigation.
    let r = client()
        .get(server.url("/public/draws/NO-SUCH-DRAW"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("<header>") && page.contains("没有找到"),
        "{page}"
    );
    assert!(!page.contains("current-user"), "{page}");
}

/// The row of `plan_id` in the plan list.
fn plan_row<'a>(list: &'a str, plan_id: &str) -> &'a str {
    let at = list
        .find(&format!(">{plan_id}</a>"))
        .unwrap_or_else(|| panic!("{plan_id} not listed: {list}"));
    let end = list[at..].find("</tr>").map_or(list.len(), |e| at + e);
    &list[at..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_list_says_where_each_plan_is() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let (st, body) = s
        .post(
            "/console/plans/new",
            &[
                ("plan_id", "ZT-2026-1"),
                ("title", "状态测试"),
                ("team_size", "2"),
                ("officer_cap", "25"),
                ("strata", "JC,testing_body,1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    let (_, list) = s.get("/console/plans").await.unwrap();
    assert!(plan_row(&list, "ZT-2026-1").contains("未冻结"), "{list}");
    // The demo's plan has its draw.
    assert!(
        plan_row(&list, "GXQ-2023-ZBJR").contains("已抽取"),
        "{list}"
    );
    // Created in China time to the minute, not as stored (UTC, RFC 3339).
    let row = plan_row(&list, "ZT-2026-1");
    let today = chrono::Utc::now()
        .with_timezone(&choucha_shared::value::china_offset())
        .format("%Y-%m-%d ")
        .to_string();
    assert!(row.contains(&today) && !row.contains("+00:00"), "{row}");

    let (st, _) = s
        .post("/console/plans/ZT-2026-1/freeze", &[])
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, list) = s.get("/console/plans").await.unwrap();
    assert!(plan_row(&list, "ZT-2026-1").contains("已冻结"), "{list}");

    // In English too.
    let english = Session {
        cookie: format!("{}; choucha_lang=en", s.cookie),
        ..s.clone()
    };
    let (_, en) = english.get("/console/plans").await.unwrap();
    assert!(plan_row(&en, "ZT-2026-1").contains("frozen"), "{en}");
    assert!(plan_row(&en, "GXQ-2023-ZBJR").contains("drawn"), "{en}");
}
