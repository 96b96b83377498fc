//! A town lead whose account has no town (blanked in the database, or left
//! over from older data) must see nothing, not every town: an empty town
//! filter meant "all" to the queries it reaches. Today the console lets no
//! such account in, says why, and a new one cannot be made.

mod console_support;

use choucha_sync_server::store::Role;
use choucha_sync_server::store::Store;
use choucha_sync_server::store::audit::Actor;
use choucha_tests::TestServer;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};
use console_support::sync_far_record;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_town_lead_without_a_town_sees_nothing() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let synced = sync_far_record(&server, "西永街道", 21).await;
    let store = Store::open(server.database_url.as_deref(), &server.data_dir)
        .await
        .unwrap();
    // huxi's town is blanked behind the server's back.
    sqlx::query("UPDATE console_users SET jurisdiction = '' WHERE username = 'huxi'")
        .execute(store.raw_pool())
        .await
        .unwrap();
    let s = Session::login(&server.base_url, "huxi", PASSWORD)
        .await
        .unwrap();
    for path in [
        "/console/review".to_owned(),
        format!("/console/records/{}", synced.record.record_id),
        "/console/reports/problems.csv".to_owned(),
        "/console/analysis".to_owned(),
    ] {
        let (status, body) = s.get(&path).await.unwrap();
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("未设定所属镇街"), "{path}: {body}");
        assert!(
            !body.contains(&synced.record.record_id.to_string()),
            "{path}: {body}"
        );
    }
    // Nor can such an account be made.
    let err = store
        .add_console_user(&Actor::cli(), "nolead", Role::TownLead, Some("  "), "x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("须指定所属镇街"), "{err}");
}
