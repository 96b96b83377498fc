//! A refused console form comes back on its own page with what was typed
//! and the reason beside the field (issue #20): the new plan, a quota
//! above its candidates at freezing (asked for confirmation first), the
//! seed, a new user. Over HTTP (the status and what the page carries) and
//! in Chromium at 1440 and 375 px, with screenshots in
//! `target/console-screenshots/forms-*`.

use reqwest::StatusCode;

use choucha_tests::TestServer;
use choucha_tests::browser::Browser;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_comes_back_on_its_page_with_its_input() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let form = [
        ("plan_id", "FORM-1"),
        ("title", "表单测试计划"),
        ("team_size", "2"),
        ("officer_cap", "25"),
        ("strata", "JCJG,testing_body,3\nXX,no_such_category,2"),
    ];

    // Sent from the plan list: the list again, refused (400), the message
    // naming the line and the field, every value kept.
    let (st, html) = s
        .post_from("/console/plans", "/console/plans/new", &form)
        .await
        .unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST, "{html}");
    assert!(
        html.contains("id=\"new-plan\""),
        "the form's own page: {html}"
    );
    assert!(html.contains("id=\"refused\""), "{html}");
    assert!(
        html.contains("data-action=\"/console/plans/new\""),
        "{html}"
    );
    assert!(html.contains("data-field=\"strata\""), "{html}");
    assert!(html.contains("分层第 2 行"), "{html}");
    assert!(html.contains("表单测试计划"), "the title is kept: {html}");
    assert!(html.contains("no_such_category"), "the strata are kept");
    assert!(
        !html.contains("&quot;csrf&quot;"),
        "the token is not echoed among the values: {html}"
    );
    // Nothing was created.
    let (_, list) = s.get("/console/plans").await.unwrap();
    assert!(!list.contains("FORM-1"), "{list}");

    // The same refusal with no page to return to (no Referer): the error
    // page in the console's layout, still naming the field.
    let (st, html) = s.post("/console/plans/new", &form).await.unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(!html.contains("id=\"refused\""), "{html}");
    assert!(html.contains("data-field=\"strata\""), "{html}");
    assert!(html.contains("id=\"error-home\""), "{html}");

    // A referer outside the console is not followed.
    let (st, html) = s
        .post_from("/public", "/console/plans/new", &form)
        .await
        .unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(!html.contains("id=\"refused\""), "{html}");

    // A service's refusal names its field too: a town lead with no town.
    let admin = Session::login(&server.base_url, "admin", PASSWORD)
        .await
        .unwrap();
    let (st, html) = admin
        .post_from(
            "/console/users",
            "/console/users",
            &[
                ("username", "xinren"),
                ("role", "town_lead"),
                ("jurisdiction", ""),
            ],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST, "{html}");
    assert!(html.contains("data-field=\"jurisdiction\""), "{html}");
    assert!(html.contains("xinren"), "the username is kept: {html}");

    // A freeze refused (a quota above the candidates) comes back on the
    // plan's page, and the plan stays open.
    let ok = [
        ("plan_id", "FORM-2"),
        ("title", "超额抽取"),
        ("team_size", "2"),
        ("officer_cap", "25"),
        ("strata", "JCJG,testing_body,9999"),
    ];
    let (st, _) = s
        .post_from("/console/plans", "/console/plans/new", &ok)
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER);
    // Before freezing, the plan's page counts the candidates in today's
    // directory and marks the shortfall.
    let (_, html) = s.get("/console/plans/FORM-2").await.unwrap();
    let preview = html
        .split("id=\"candidate-preview\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("no candidate preview: {html}"));
    assert!(preview.contains("data-stratum=\"JCJG\""), "{preview}");
    assert!(preview.contains("<td class=\"k\">9999</td>"), "{preview}");
    assert!(preview.contains("shortfall"), "{preview}");
    let n: u64 = preview
        .split("<td class=\"n\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!(n > 0 && n < 9999, "{preview}");
    assert!(
        html.contains("data-confirm="),
        "freezing asks first: {html}"
    );
    let (st, html) = s
        .post_from("/console/plans/FORM-2", "/console/plans/FORM-2/freeze", &[])
        .await
        .unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST, "{html}");
    assert!(
        !html.contains("shortfalls&quot;"),
        "no raw JSON for officers: {html}"
    );
    assert!(html.contains("id=\"freeze-form\""), "{html}");
    assert!(html.contains("id=\"refused\""), "{html}");
    assert!(html.contains("JCJG"), "the short stratum is named: {html}");
}

/// Chromium, at a desk screen's width and a phone's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_keep_their_input_in_chromium() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let base = server.base_url.clone();
    for (width, height) in [(1440u32, 1000u32), (375, 812)] {
        let mut b = Browser::start(&format!("forms-{width}")).await.unwrap();
        b.resize(width, height).await.unwrap();
        b.goto(&format!("{base}/console/login")).await.unwrap();
        b.fill("#username", "zhiliangke").await.unwrap();
        b.fill("#password", PASSWORD).await.unwrap();
        b.click("#login").await.unwrap();
        b.wait_text("#current-user", "zhiliangke").await.unwrap();

        // Strata picked in rows; a quota that is no number: the message
        // beside that row's quota, everything typed and picked kept.
        let plan_id = format!("FORM-{width}");
        b.goto(&format!("{base}/console/plans")).await.unwrap();
        b.fill("#plan_id", &plan_id).await.unwrap();
        b.fill("#title", "表单测试计划").await.unwrap();
        b.fill("[name=s1_id]", "JCJG").await.unwrap();
        b.set_value("[name=s1_category]", "testing_body")
            .await
            .unwrap();
        b.fill("[name=s1_quota]", "3").await.unwrap();
        b.fill("[name=s2_id]", "JL").await.unwrap();
        b.set_value("[name=s2_category]", "metrology")
            .await
            .unwrap();
        b.fill("[name=s2_quota]", "两个").await.unwrap();
        b.click("#create-plan").await.unwrap();
        b.wait("[name=s2_quota][aria-invalid='true']")
            .await
            .unwrap();
        let error = b.text("#new-plan #error").await.unwrap();
        assert!(error.contains("分层第 2 行"), "{error}");
        assert_eq!(b.value("#plan_id").await.unwrap(), plan_id);
        assert_eq!(b.value("#title").await.unwrap(), "表单测试计划");
        assert_eq!(b.value("[name=s1_category]").await.unwrap(), "testing_body");
        assert_eq!(b.value("[name=s2_category]").await.unwrap(), "metrology");
        assert_eq!(b.value("[name=s2_quota]").await.unwrap(), "两个");
        let beside: bool = b
            .client
            .execute(
                "var e = document.getElementById('error');\
                 return e.previousElementSibling !== null && e.previousElementSibling.contains(document.querySelector('[name=s2_quota]'));",
                vec![],
            )
            .await
            .unwrap()
            .as_bool()
            .unwrap_or(false);
        assert!(beside, "the message follows the quota field of row 2");
        assert_fits(&b, width).await;
        b.screenshot("plan-refused-beside-the-field").await.unwrap();

        // A pasted line with an unknown category: beside the pasted lines.
        b.fill("[name=s2_quota]", "2").await.unwrap();
        b.fill("#strata", "XX,no_such_category,2").await.unwrap();
        b.click("#create-plan").await.unwrap();
        b.wait("#strata[aria-invalid='true']").await.unwrap();
        let error = b.text("#new-plan #error").await.unwrap();
        assert!(error.contains("分层第 3 行"), "{error}");
        assert_eq!(b.value("[name=s2_quota]").await.unwrap(), "2");

        // Corrected, with a quota above the candidates: created. Freezing
        // asks first; "no" leaves it open.
        b.fill("#strata", "").await.unwrap();
        b.fill("[name=s1_quota]", "9999").await.unwrap();
        b.click("#create-plan").await.unwrap();
        b.wait("#freeze").await.unwrap();
        let question = b.click_and_answer("#freeze", false).await.unwrap();
        assert!(question.contains("确定冻结"), "{question}");
        b.wait("#freeze").await.unwrap();
        assert!(
            b.client
                .find(fantoccini::Locator::Css("#snapshot-hash"))
                .await
                .is_err()
        );
        // "Yes": refused, as the quota is above the candidates; the plan's
        // page says which stratum.
        b.click_and_answer("#freeze", true).await.unwrap();
        let error = b.text("#freeze-form #error").await.unwrap();
        assert!(error.contains("JCJG"), "{error}");
        b.screenshot("freeze-refused").await.unwrap();
        b.close().await.unwrap();
    }
}

/// Nothing on the page is wider than the window (no sideways scrolling).
async fn assert_fits(b: &Browser, width: u32) {
    let laid_out = b.page_width().await.unwrap();
    assert!(
        laid_out <= u64::from(width),
        "the page is {laid_out} px wide in a {width} px window"
    );
}
