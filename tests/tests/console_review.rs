//! Review states and follow-up through the console over real HTTP: a record
//! whose evidence has not all arrived is "incomplete" with the missing file
//! listed, and "received" once it has; a reviewer marks it "has issues";
//! its rectification order is followed up and closed; the console switches
//! to English.

mod console_support;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use uuid::Uuid;

use choucha_shared::record::{Disposition, Finding};
use choucha_shared::sync::EntryPayload;
use choucha_shared::value::CivilDate;
use choucha_tests::TestServer;
use choucha_tests::console::{
    PASSWORD, Session, demo_task, device_for, set_demo_passwords, with_photos,
};
use choucha_tests::device::complete_record;
use console_support::jpeg;

const TOWN: &str = "虎溪街道";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_states_and_follow_up() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).expect("passwords");
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let lead = Session::login(&server.base_url, "huxi", PASSWORD)
        .await
        .unwrap();

    // A record with a rectification order, photos on site.
    let task = demo_task(&server, TOWN).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (mut record, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let deadline = CivilDate::new((Utc::now() + Duration::days(10)).date_naive()).unwrap();
    record.findings.push(Finding {
        finding_id: Uuid::now_v7(),
        item_id: None,
        description: "灭火器已过有效期".into(),
        disposition: Disposition::RectificationOrder {
            order_no: "渝市监责改〔2026〕7号".into(),
            deadline,
            requirements: "更换过期灭火器".into(),
            follow_up: None,
        },
    });
    let images: Vec<_> = (0..record.photos.len() as u32)
        .map(|i| jpeg(500 + i))
        .collect();
    let blobs = with_photos(&mut record, &images, task.location, task.location);
    let rid = record.record_id.to_string();
    let finding_id = record.findings[0].finding_id.to_string();

    // Sealed, but the last file has not arrived: incomplete, and it says what.
    dev.append(
        EntryPayload::Sealed {
            record: record.clone(),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(r.results.iter().all(|x| x.verdict.is_confirmed()));
    let (last_sha, last_bytes) = blobs.last().unwrap().clone();
    for (_, bytes) in &blobs[..blobs.len() - 1] {
        assert!(dev.upload_blob(bytes, 64 * 1024, usize::MAX).await.unwrap());
    }
    let (_, page) = s.get(&format!("/console/records/{rid}")).await.unwrap();
    assert!(page.contains("id=\"missing\""), "missing evidence listed");
    assert!(
        page.contains(last_sha.as_str()),
        "the missing file is named"
    );
    assert!(page.contains("证据不全"));
    let (_, queue) = s.get("/console/review?state=incomplete").await.unwrap();
    assert!(queue.contains(&rid));
    assert!(
        !page.contains("id=\"approve\""),
        "an incomplete record cannot be approved"
    );

    // The file arrives: received, nothing missing, no duty flags.
    assert!(
        dev.upload_blob(&last_bytes, 64 * 1024, usize::MAX)
            .await
            .unwrap()
    );
    let (_, page) = s.get(&format!("/console/records/{rid}")).await.unwrap();
    assert!(page.contains("已接收") && !page.contains("id=\"missing\""));
    assert!(
        page.contains("id=\"duty-ok\""),
        "photos on site, two officers signed"
    );
    let version = page
        .split("id=\"version\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .expect("the version is shown")
        .to_owned();

    // Has issues.
    let (st, _) = s
        .post(
            &format!("/console/records/{rid}/issues"),
            &[("version", version.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, page) = s.get(&format!("/console/records/{rid}")).await.unwrap();
    assert!(page.contains("存在问题"));
    let (_, queue) = lead.get("/console/review?state=has_issues").await.unwrap();
    assert!(queue.contains(&rid), "the town's lead sees it in the queue");
    let (_, dash) = s
        .get(&format!("/console/dashboard?town={TOWN}"))
        .await
        .unwrap();
    assert!(dash.contains("progress-town"));
    assert!(
        !dash.contains("<option value=\"*\" selected>"),
        "one plan by default"
    );
    let (st, all) = s.get("/console/dashboard?plan=*").await.unwrap();
    assert_eq!(st, StatusCode::OK);
    assert!(all.contains("<option value=\"*\" selected>"), "every plan");
    assert!(all.contains("progress-total"));

    // Follow-up: the open order is listed; a follow-up inspection closes it.
    let (_, list) = lead.get("/console/followup").await.unwrap();
    assert!(list.contains("灭火器已过有效期"), "{list}");
    let (_, f) = lead
        .get(&format!("/console/followup/{finding_id}"))
        .await
        .unwrap();
    assert!(f.contains("渝市监责改〔2026〕7号"));
    let today = Utc::now().date_naive().to_string();
    // A bad date is refused with what is wrong.
    let (st, body) = lead
        .post(
            &format!("/console/followup/{finding_id}/actions"),
            &[
                ("action", "follow_up_inspection"),
                ("inspected_on", "2026-13-40"),
                ("outcome", "rectified"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    let (st, body) = lead
        .post(
            &format!("/console/followup/{finding_id}/actions"),
            &[
                ("action", "follow_up_inspection"),
                ("inspected_on", today.as_str()),
                ("outcome", "rectified"),
                ("note", "已更换"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    let (_, f) = lead
        .get(&format!("/console/followup/{finding_id}"))
        .await
        .unwrap();
    assert!(f.contains("id=\"finding-closed\">是"), "closed: {f}");
    assert!(f.contains("huxi"), "the history names who");
    // Another town's lead cannot see or act on it.
    let other = Session::login(&server.base_url, "xiyong", PASSWORD)
        .await
        .unwrap();
    let (st, _) = other
        .get(&format!("/console/followup/{finding_id}"))
        .await
        .unwrap();
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = other
        .post(
            &format!("/console/followup/{finding_id}/actions"),
            &[("action", "case_filed"), ("case_no", "x")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Approve, publish, withdraw: the withdrawal is public too.
    let (st, _) = s
        .post(
            &format!("/console/records/{rid}/approve"),
            &[("version", version.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, body) = lead
        .post(
            &format!("/console/records/{rid}/publish"),
            &[("result", "")],
        )
        .await
        .unwrap();
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "a town lead does not publish: {body}"
    );
    let (st, body) = s
        .post(
            &format!("/console/records/{rid}/publish"),
            &[("result", "")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    let anon = choucha_tests::console::client();
    let public = anon
        .get(format!("{}/public", server.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(public.contains(&task.target_name) && public.contains("发现问题已责令改正"));
    let (st, body) = s
        .post(
            &format!("/console/records/{rid}/withdraw"),
            &[("reason", "经复核撤销原检查结论")],
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    let public = anon
        .get(format!("{}/public", server.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(public.contains("已撤回") && public.contains("经复核撤销原检查结论"));

    // English.
    let r = s
        .client
        .get(format!("{}/console/lang/en", server.base_url))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let lang = choucha_tests::console::set_cookie_value(&r, "choucha_lang").unwrap();
    let english = Session {
        cookie: format!("{}; choucha_lang={lang}", s.cookie),
        ..s.clone()
    };
    let (_, home) = english.get("/console").await.unwrap();
    assert!(home.contains("Welcome, ") && home.contains("lang=\"en\""));
    let (_, page) = english
        .get(&format!("/console/records/{rid}"))
        .await
        .unwrap();
    assert!(page.contains("Proof-of-duty flags"));
}
