//! 节假日安排 in the console (issue #19): every role sees which years the
//! working-day calendar covers and from where; the quality section enters
//! a year the build does not know, each date checked, a refusal shown
//! again with the input kept; the entry is audited and counted with at
//! once. Failed before: a year could only be added by editing a file and
//! restarting every instance.

use reqwest::StatusCode;

use choucha_tests::TestServer;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_section_enters_a_year_checked_and_audited() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();

    let (st, page) = s.get("/console/calendar").await.unwrap();
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("data-year=\"2026\""),
        "2026 is built in: {page}"
    );
    assert!(!page.contains("data-year=\"2030\""));

    // A holiday on a Saturday: refused, named, and the input kept.
    let (st, page) = s
        .post(
            "/console/calendar",
            &[
                ("year", "2030"),
                ("holidays", "2030-01-01 2030-01-05"),
                ("working_weekends", "2030-02-02"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("2030-01-05 是周末"), "{page}");
    assert!(
        page.contains("2030-01-01 2030-01-05</textarea>"),
        "input kept: {page}"
    );
    // A worked day that is not a weekend day, and a date of another year.
    for (holidays, working, says) in [
        ("2030-01-01", "2030-02-04", "2030-02-04 不是周六或周日"),
        ("2031-01-01", "", "不在该年内"),
        ("", "", "请填写放假的工作日"),
    ] {
        let (st, page) = s
            .post(
                "/console/calendar",
                &[
                    ("year", "2030"),
                    ("holidays", holidays),
                    ("working_weekends", working),
                ],
            )
            .await
            .unwrap();
        assert_eq!(st, StatusCode::BAD_REQUEST, "{says}: {page}");
        assert!(page.contains(says), "{says}: {page}");
    }

    // Entered: listed with who, counted with, and not entered twice.
    let (st, page) = s
        .post(
            "/console/calendar",
            &[
                ("year", "2030"),
                ("holidays", "2030-01-01，2030-10-01"),
                ("working_weekends", "2030-02-02"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER, "{page}");
    let (_, page) = s.get("/console/calendar").await.unwrap();
    let row = page
        .split("data-year=\"2030\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect(&page);
    assert!(
        row.contains("控制台录入") && row.contains("zhiliangke"),
        "{row}"
    );
    let (st, page) = s
        .post(
            "/console/calendar",
            &[("year", "2030"), ("holidays", "2030-01-01")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(page.contains("2030 年的节假日安排已录入"), "{page}");

    // Audited under the user.
    let store = choucha_sync_server::store::Store::open(None, &server.data_dir)
        .await
        .unwrap();
    let (actor,): (String,) = sqlx::query_as(
        "SELECT actor FROM audit_log WHERE action = 'calendar.enter_year' AND object = 'calendar:2030'",
    )
    .fetch_one(store.raw_pool())
    .await
    .unwrap();
    assert_eq!(actor, "zhiliangke");
    store.close().await;

    // A town lead reads the list but enters nothing.
    let lead = Session::login(&server.base_url, "huxi", PASSWORD)
        .await
        .unwrap();
    let (st, page) = lead.get("/console/calendar").await.unwrap();
    assert_eq!(st, StatusCode::OK);
    assert!(!page.contains("calendar-form"), "no form for a town lead");
    let (st, _) = lead
        .post(
            "/console/calendar",
            &[("year", "2031"), ("holidays", "2031-01-01")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::FORBIDDEN);
}
