//! 复查 as field work, end to end: an inspection sealed on the field app's
//! engine with three findings under one rectification order syncs to the real
//! server, which makes the order's 复查 task for the team; the tablet pulls
//! it with the findings, the order and its deadline, re-checks each finding
//! offline (one rectified, one not), seals and syncs; the server takes the
//! record once, closes the rectified finding and leaves the other open with
//! its result, where the quality section escalates it (case filed, then a
//! transfer that keeps it under supervision). A finding the quality section
//! escalated while the team was on its way keeps its case: the 复查's result
//! is recorded, the finding is not closed by it. The team's other tablet no
//! longer gets the done task, and a 复查 of another team is refused.

use chrono::{Duration, Utc};
use reqwest::Client;
use uuid::Uuid;

use choucha_shared::completeness::Violation;
use choucha_shared::record::{PhotoSubject, RectificationOutcome};
use choucha_tests::Deployment;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};
use choucha_tests::field::{admin_get, camera_jpeg, sign_all, sync_all, tablet};

choucha_tests::on_every_deployment!(a_rectification_order_is_rechecked_in_the_field);

const ORDER_NO: &str = "渝高新市监责改〔2026〕12号";

async fn a_rectification_order_is_rechecked_in_the_field(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let draw = admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    let task = draw["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["category"] == "metrology")
        .expect("a metrology task")
        .clone();
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let officers: Vec<String> = task["team"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "officer")
        .map(|m| m["person_id"].as_str().unwrap().to_owned())
        .collect();
    let root = tempfile::tempdir().unwrap();
    let app = tablet(&server, &officers[0], root.path(), "平板一")
        .await
        .unwrap();

    // The inspection: everything conforms but two items, both under one
    // order with a deadline two weeks on.
    let (id, findings, deadline) =
        choucha_tests::field::inspect_with_order(&app, &task_id, ORDER_NO, 3).unwrap();
    let team = app.record(&id).unwrap().team;
    sync_all(&app).await.unwrap();

    // The server made the order's 复查 task; the tablet gets it on its
    // next pull, with both findings, the order and the deadline.
    let http = choucha_app_core::sync::http_client();
    let report = app.sync_once(&http).await.unwrap();
    assert_eq!(report.rechecks, 1, "{report:?}");
    let today = Utc::now()
        .with_timezone(&choucha_app_core::app::china_time())
        .date_naive();
    let list = app.rechecks(today).unwrap();
    assert_eq!(list.len(), 1);
    let rc = &list[0];
    assert_eq!(rc.task.order_no, ORDER_NO);
    assert_eq!(rc.task.deadline, deadline);
    assert_eq!(rc.task.task_id, task_id);
    assert_eq!(rc.task.team, team, "the team as drawn");
    assert_eq!(rc.days_left, (deadline.date() - today).num_days());
    let mut ordered: Vec<Uuid> = rc.task.findings.iter().map(|f| f.finding_id).collect();
    ordered.sort();
    let mut expected = findings.clone();
    expected.sort();
    assert_eq!(ordered, expected);
    assert!(
        rc.task
            .findings
            .iter()
            .all(|f| f.requirements.ends_with("限期整改到位"))
    );

    // Offline: the visit. One finding rectified, one not; the escalated
    // one was rectified too, as the team found it.
    let recheck_id = rc.task.recheck_id.clone();
    // Meanwhile the quality section escalates the third finding: a case is
    // filed before the team's 复查 reaches the server.
    set_demo_passwords(&server).unwrap();
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let escalated = findings[2];
    let (status, _) = s
        .post(
            &format!("/console/followup/{escalated}/actions"),
            &[
                ("action", "case_filed"),
                ("case_no", "渝高新市监立〔2026〕4号"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let rid = app.start_recheck(&recheck_id, Utc::now()).unwrap();
    assert_eq!(
        app.start_recheck(&recheck_id, Utc::now()).unwrap(),
        rid,
        "a double tap starts one"
    );
    let missing = app.check_recheck(&rid).unwrap();
    assert!(
        missing.contains(&Violation::GatePhotoMissing),
        "{missing:?}"
    );
    assert!(
        app.seal_recheck(&rid, Utc::now()).is_err(),
        "incomplete: not sealed"
    );
    let (fixed, open) = (findings[0], findings[1]);
    app.set_recheck_result(
        &rid,
        &fixed,
        RectificationOutcome::Rectified,
        None,
        Utc::now(),
    )
    .unwrap();
    app.set_recheck_result(
        &rid,
        &open,
        RectificationOutcome::NotRectified,
        Some("检定证书仍未取得".into()),
        Utc::now(),
    )
    .unwrap();
    app.set_recheck_result(
        &rid,
        &escalated,
        RectificationOutcome::Rectified,
        None,
        Utc::now(),
    )
    .unwrap();
    let config = choucha_app_core::photo::PhotoConfig::default();
    let gps = choucha_shared::GeoPoint::new(29.6005, 106.3062, Some(6.0)).ok();
    let refused = app
        .take_recheck_photo(
            &rid,
            PhotoSubject::Process,
            &camera_jpeg(900, 800, 600),
            gps,
            None,
            &config,
            Utc::now(),
        )
        .unwrap_err();
    assert!(refused.to_string().contains("复查只拍摄"), "{refused}");
    for (n, subject) in [
        PhotoSubject::Gate,
        PhotoSubject::Finding(fixed),
        PhotoSubject::Finding(open),
        PhotoSubject::Finding(escalated),
    ]
    .into_iter()
    .enumerate()
    {
        app.take_recheck_photo(
            &rid,
            subject,
            &camera_jpeg(700 + n as u32, 800, 600),
            gps,
            None,
            &config,
            Utc::now(),
        )
        .unwrap();
    }
    sign_all(&team, |role, person, name, capture| {
        app.sign_recheck_with_capture(&rid, role, person, name, capture, Utc::now())
    })
    .unwrap();
    assert_eq!(app.check_recheck(&rid).unwrap(), vec![]);
    app.seal_recheck(&rid, Utc::now()).unwrap();
    assert!(app.seal_recheck(&rid, Utc::now()).is_err(), "sealed once");
    sync_all(&app).await.unwrap();
    assert!(
        app.refused_entries().unwrap().is_empty(),
        "{:?}",
        app.refused_entries().unwrap()
    );
    assert!(app.rechecks(today).unwrap()[0].sealed);
    // Its evidence — the photos and every signature image — is on the
    // server, not only on the tablet.
    let sealed = app.recheck_record(&rid).unwrap();
    let token = app.enrolment().unwrap().unwrap().token;
    let evidence: Vec<_> = sealed
        .photos
        .iter()
        .map(|p| p.sha256.clone())
        .chain(sealed.signatures.iter().map(|s| s.image_sha256.clone()))
        .collect();
    assert_eq!(evidence.len(), 4 + team.len() + 1);
    for sha in &evidence {
        let state: serde_json::Value = Client::new()
            .get(server.url(&format!("/api/v1/device/blobs/{sha}?total=1")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(state["state"], "complete", "{sha}: {state}");
    }
    assert_eq!(app.progress().unwrap().blobs_left, 0);

    // The console: the rectified finding is closed, the other open with
    // its 复查 result.
    let (status, html) = s.get(&format!("/console/followup/{fixed}")).await.unwrap();
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("data-recheck=\"{recheck_id}\"")),
        "{html}"
    );
    assert!(html.contains("已复查"));
    assert!(html.contains("已整改"));
    assert!(closed(&html), "the rectified finding is closed: {html}");
    let (_, html) = s.get(&format!("/console/followup/{open}")).await.unwrap();
    assert!(
        html.contains("未整改") && html.contains("检定证书仍未取得"),
        "{html}"
    );
    assert!(!closed(&html), "the other stays open");
    assert!(
        html.contains("id=\"finding-escalate\""),
        "marked for escalation"
    );
    // Who did it: the device, in the audit log and the history.
    assert!(html.contains("device:"), "{html}");
    // The finding escalated meanwhile keeps its course: the 复查's result
    // is shown, the case stands, it is not closed.
    let (_, html) = s
        .get(&format!("/console/followup/{escalated}"))
        .await
        .unwrap();
    assert!(html.contains("渝高新市监立〔2026〕4号"), "{html}");
    assert!(html.contains("已整改"), "the 复查's result shown");
    assert!(!closed(&html), "escalated, not closed by the 复查");

    // Escalated: a case is filed, then the finding is transferred and
    // stays under supervision with its next check.
    let next_check = (today + Duration::days(60)).to_string();
    let action = format!("/console/followup/{open}/actions");
    let (status, _) = s
        .post(
            &action,
            &[
                ("action", "case_filed"),
                ("case_no", "渝高新市监立〔2026〕5号"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (status, _) = s
        .post(
            &action,
            &[
                ("action", "transfer"),
                ("to", "department"),
                ("organ", "区经济信息委"),
                ("reference", "渝高新市监移〔2026〕2号"),
                ("next_check", next_check.as_str()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, html) = s.get(&format!("/console/followup/{open}")).await.unwrap();
    assert!(
        html.contains("渝高新市监立〔2026〕5号"),
        "the case is kept beside the transfer"
    );
    assert!(html.contains("渝高新市监移〔2026〕2号"));
    assert!(html.contains(&next_check));
    assert!(!closed(&html), "under supervision, not closed");
    assert!(!html.contains("id=\"finding-escalate\""), "escalated");

    // The team's other officer: the done 复查 is not sent to their tablet.
    let other = tablet(&server, &officers[1], root.path(), "平板二")
        .await
        .unwrap();
    assert!(other.rechecks(today).unwrap().is_empty());

    // An officer of another team cannot complete it: the server refuses
    // the record, naming why, and takes the entry once.
    let stranger = draw["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["team"].as_array().unwrap().iter())
        .filter(|m| m["role"] == "officer")
        .map(|m| m["person_id"].as_str().unwrap().to_owned())
        .find(|p| !officers.contains(p))
        .unwrap();
    let http_client = Client::new();
    let stolen = app.recheck_record(&rid).unwrap();
    let mut dev =
        choucha_tests::device::enrol(&http_client, &server.base_url, server.token(), &stranger)
            .await
            .unwrap();
    let mut forged = stolen.clone();
    forged.record_id = Uuid::now_v7();
    dev.append(
        choucha_shared::sync::EntryPayload::RecheckSealed { record: forged },
        Utc::now(),
    );
    let answer = dev.sync_log().await.unwrap();
    let text = serde_json::to_string(&answer).unwrap();
    assert!(text.contains("不属于本设备执法人员所在的检查组"), "{text}");
}

fn closed(html: &str) -> bool {
    let at = html.find("id=\"finding-closed\"").expect("the closed row");
    html[at..].split("</td>").next().unwrap().contains('是')
}
