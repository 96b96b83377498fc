//! Targets that could not be inspected, end to end: on the field app's
//! engine, each case (无法联系, 未发现经营活动, 已关闭退出, 不配合) is chosen
//! instead of the walk-through, its evidence taken (the photo at the
//! registered address or the gate, through the real photo pipeline, with
//! the GPS fix), signed and sealed offline, synced to the real server, and
//! there it is received with nothing missing, shown in the console with its
//! outcome, approved, and published under its own result category; the
//! unreachable company is listed on the 经营异常名录 against its deadline,
//! and the case filed against the company that refused is recorded once.

use chrono::Utc;
use reqwest::Client;
use serde_json::{Value, json};

use choucha_app_core::App;
use choucha_app_core::photo::PhotoConfig;
use choucha_shared::outcome::{
    ActivityNotFoundEvidence, ClosedEvidence, ContactAttempt, ContactWay, Outcome, OutcomeKind,
    PremisesFound, UncooperativeEvidence, UnreachableEvidence, Witness,
};
use choucha_shared::plan::MemberRole;
use choucha_shared::record::{PhotoSubject, SignatureRefusal, SignerRole};
use choucha_shared::review::PublishedResult;
use choucha_tests::Deployment;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};
use choucha_tests::field::{admin_get, camera_jpeg, enrolment_code, scribble};

choucha_tests::on_every_deployment!(each_outcome_is_sealed_synced_and_published_as_its_category);

/// Each case: its outcome, the photo it needs, and whether the enterprise
/// signs (未发现经营活动), refuses (不配合) or is not there.
fn cases() -> Vec<(Outcome, PhotoSubject, Option<bool>, PublishedResult)> {
    let now = Utc::now();
    vec![
        (
            Outcome::Unreachable(UnreachableEvidence {
                premises: PremisesFound::OtherOccupant,
                description: "登记地址现为一家餐馆".into(),
                observed_at: now,
                attempts: vec![
                    ContactAttempt {
                        way: ContactWay::Phone,
                        whom: "登记电话 023-6512 0000".into(),
                        at: now,
                        result: "无人接听".into(),
                    },
                    ContactAttempt {
                        way: ContactWay::Neighbour,
                        whom: "隔壁五金店店主".into(),
                        at: now,
                        result: "称该企业一年前已搬走".into(),
                    },
                ],
            }),
            PhotoSubject::Address,
            None,
            PublishedResult::UnreachableAtRegisteredAddress,
        ),
        (
            Outcome::ActivityNotFound(ActivityNotFoundEvidence {
                description: "现场仅从事仓储，未开展本次抽查涉及的经营活动".into(),
            }),
            PhotoSubject::Gate,
            Some(true),
            PublishedResult::ActivityNotFound,
        ),
        (
            Outcome::Closed(ClosedEvidence {
                description: "厂房已清空，门口张贴停业公告".into(),
                basis: "企业已办理注销登记".into(),
            }),
            PhotoSubject::Address,
            None,
            PublishedResult::ClosedOrExited,
        ),
        (
            Outcome::Uncooperative(UncooperativeEvidence {
                refused: "拒绝检查人员进入生产场所".into(),
                warning: "已告知拒绝、阻碍监督检查的法律责任".into(),
                warned_at: now,
                witness: Witness {
                    name: "刘网格".into(),
                    contact: "社区网格员".into(),
                },
            }),
            PhotoSubject::Gate,
            Some(false),
            PublishedResult::SeriousNonCooperation,
        ),
    ]
}

async fn each_outcome_is_sealed_synced_and_published_as_its_category(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let client = Client::new();
    let draw = admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    let tasks = draw["tasks"].as_array().unwrap();
    // An officer with four on-site tasks.
    let on_site = |t: &&Value| !matches!(t["category"].as_str(), Some("standard"));
    let officer = tasks
        .iter()
        .filter(on_site)
        .flat_map(|t| t["team"].as_array().unwrap().iter())
        .filter(|m| m["role"] == "officer")
        .map(|m| m["person_id"].as_str().unwrap().to_owned())
        .find(|o| {
            tasks
                .iter()
                .filter(on_site)
                .filter(|t| t["team"].to_string().contains(o.as_str()))
                .count()
                >= 4
        })
        .expect("an officer with four on-site tasks");
    let code = enrolment_code(&server, &officer).await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let app = App::open(&root.path().join("data"), &root.path().join("device.key")).unwrap();
    let http = choucha_app_core::sync::http_client();
    app.enrol(&http, &server.base_url, &code, "平板")
        .await
        .unwrap();
    app.sync_once(&http).await.unwrap();
    let mine: Vec<String> = tasks
        .iter()
        .filter(on_site)
        .filter(|t| t["team"].to_string().contains(officer.as_str()))
        .map(|t| t["task_id"].as_str().unwrap().to_owned())
        .collect();

    // Offline: each case on a task of its own.
    let config = PhotoConfig::default();
    let mut records = Vec::new();
    for (n, (outcome, subject, enterprise, category)) in cases().into_iter().enumerate() {
        let task_id = &mine[n];
        let bundle = app.task(task_id).unwrap();
        let id = app.start_task(task_id, Utc::now()).unwrap();
        let kind = outcome.kind();
        app.set_outcome(&id, outcome, Utc::now()).unwrap();
        app.take_photo(
            &id,
            subject,
            &camera_jpeg(n as u32, 640, 480),
            bundle.target.location,
            None,
            &config,
            Utc::now(),
        )
        .unwrap();
        let team = app.record(&id).unwrap().team;
        for (i, m) in team
            .iter()
            .filter(|m| m.role == MemberRole::Officer)
            .enumerate()
        {
            app.sign_with_capture(
                &id,
                SignerRole::Officer,
                Some(m.person_id.clone()),
                &m.name,
                &scribble(i as f32),
                Utc::now(),
            )
            .unwrap();
        }
        match enterprise {
            Some(true) => app
                .sign_with_capture(
                    &id,
                    SignerRole::EnterpriseRepresentative,
                    None,
                    "企业负责人",
                    &scribble(7.0),
                    Utc::now(),
                )
                .unwrap(),
            Some(false) => app
                .record_refusal(
                    &id,
                    SignatureRefusal {
                        reason: "企业负责人拒绝配合检查，拒绝签字".into(),
                        witness: Some("刘网格".into()),
                        recorded_at: Utc::now(),
                    },
                    Utc::now(),
                )
                .unwrap(),
            None => {}
        }
        assert_eq!(app.check(&id).unwrap(), vec![], "{kind}");
        app.seal(&id, Utc::now()).unwrap();
        records.push((id, kind, category));
    }

    // Online: everything goes up, and the server takes each as complete.
    for _ in 0..5 {
        app.sync_once(&http).await.unwrap();
        if app.progress().unwrap().entries_left == 0 && app.progress().unwrap().blobs_left == 0 {
            break;
        }
    }
    assert!(app.refused_entries().unwrap().is_empty());
    set_demo_passwords(&server).unwrap();
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    for (id, kind, category) in &records {
        let versions = admin_get(&server, &format!("/api/v1/records/{id}"))
            .await
            .unwrap();
        let v = &versions.as_array().unwrap()[0];
        assert_eq!(v["state"], "received", "{kind}: {v}");
        assert_eq!(v["missing"], json!([]), "{kind}: {v}");
        let (status, html) = s.get(&format!("/console/records/{id}")).await.unwrap();
        assert_eq!(status, 200);
        assert!(
            html.contains(&format!("data-outcome=\"{}\"", kind.as_str())),
            "{kind}"
        );
        assert!(
            html.contains(category.label_zh()),
            "{kind}: the suggested result"
        );
        assert!(
            html.contains("outcome-evidence"),
            "{kind}: its evidence shown"
        );
        // Proof of duty: the photo each case needs is the proof of
        // presence (no gate photo is asked of a company not there), taken
        // at the registered address, and two officers signed.
        for flag in [
            "gate_photo_missing",
            "address_photo_missing",
            "photo_far_from_target",
            "photo_without_location",
            "officer_signatures_missing",
        ] {
            assert!(
                !html.contains(&format!("data-flag=\"{flag}\"")),
                "{kind}: flagged {flag}"
            );
        }
        let version = v["version"].as_str().unwrap();
        let approved = client
            .post(server.url(&format!("/api/v1/records/{id}/approve")))
            .bearer_auth(server.token())
            .json(&json!({ "version": version }))
            .send()
            .await
            .unwrap();
        assert!(approved.status().is_success(), "{kind}");
        let (status, _) = s
            .post(&format!("/console/records/{id}/publish"), &[("result", "")])
            .await
            .unwrap();
        assert_eq!(status, 303, "{kind}: published");
    }
    // 经营异常名录: the unreachable company is listed against its deadline,
    // 10 working days from the inspection; no other case is.
    let (status, html) = s.get("/console/abnormal").await.unwrap();
    assert_eq!(status, 200);
    let listings = {
        let from = html.find("id=\"abnormal\"").expect("the listing table");
        let to = html
            .find("id=\"uncooperative-title\"")
            .expect("the case table");
        &html[from..to]
    };
    for (id, kind, _) in &records {
        let listed = listings.contains(&format!("data-record=\"{id}\""));
        assert_eq!(
            listed,
            *kind == OutcomeKind::Unreachable,
            "{kind}: {listings}"
        );
    }
    let (unreachable, _, _) = &records[0];
    let inspected = app.record(unreachable).unwrap().inspection_date;
    let deadline = choucha_sync_server::service::abnormal::listing_deadline(
        &choucha_shared::calendar::WorkCalendar::china_default(),
        inspected,
    );
    assert!(html.contains(&deadline.to_string()), "deadline {deadline}");
    assert!(html.contains("待列入"), "due, not yet listed");
    let listed_on = inspected.to_string();
    let listing = [
        ("listed_on", listed_on.as_str()),
        ("decision_no", "渝高新市监异列〔2026〕7号"),
    ];
    let (status, _) = s
        .post(&format!("/console/abnormal/{unreachable}"), &listing)
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, html) = s.get("/console/abnormal").await.unwrap();
    assert!(html.contains("已列入"), "{html}");
    assert!(html.contains("渝高新市监异列〔2026〕7号"));
    // Once only, and only for a company that could not be reached.
    let (status, again) = s
        .post(&format!("/console/abnormal/{unreachable}"), &listing)
        .await
        .unwrap();
    assert_eq!(status, 409, "{again}");
    let (closed, _, _) = &records[2];
    let (status, _) = s
        .post(&format!("/console/abnormal/{closed}"), &listing)
        .await
        .unwrap();
    assert_eq!(status, 404);

    // 不配合（情节严重）: the case path. Listed to be filed, filed once,
    // and only for a company that refused.
    let (uncooperative, _, _) = &records[3];
    let row = |html: &str| {
        let at = html
            .find(&format!("<tr data-record=\"{uncooperative}\""))
            .expect("the refusal listed");
        html[at..].split("</tr>").next().unwrap().to_owned()
    };
    let (status, html) = s.get("/console/abnormal").await.unwrap();
    assert_eq!(status, 200);
    let table = &html[html.find("id=\"uncooperative\"").expect("the case table")..];
    assert!(row(table).contains("待立案"), "{table}");
    for (id, kind, _) in &records {
        let listed = table.contains(&format!("data-record=\"{id}\""));
        assert_eq!(listed, *kind == OutcomeKind::Uncooperative, "{kind}");
    }
    let today = chrono::Utc::now()
        .with_timezone(&choucha_app_core::app::china_time())
        .date_naive()
        .to_string();
    let filing = [
        ("filed_on", today.as_str()),
        ("case_no", "渝高新市监立〔2026〕21号"),
    ];
    let (status, _) = s
        .post(&format!("/console/abnormal/{uncooperative}/case"), &filing)
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, html) = s.get("/console/abnormal").await.unwrap();
    let table = &html[html.find("id=\"uncooperative\"").unwrap()..];
    assert!(row(table).contains("已立案") && row(table).contains("渝高新市监立〔2026〕21号"));
    let (status, again) = s
        .post(&format!("/console/abnormal/{uncooperative}/case"), &filing)
        .await
        .unwrap();
    assert_eq!(status, 409, "{again}");
    let (status, _) = s
        .post(&format!("/console/abnormal/{unreachable}/case"), &filing)
        .await
        .unwrap();
    assert_eq!(status, 404, "an unreachable company is listed, not a case");
    let (status, empty) = s
        .post(
            &format!("/console/abnormal/{uncooperative}/case"),
            &[("filed_on", today.as_str()), ("case_no", " ")],
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{empty}");
    assert!(empty.contains("立案编号"), "{empty}");

    // The register says what each case is.
    let public: Value = client
        .get(server.url("/public/results.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = public.to_string();
    for (_, kind, category) in &records {
        assert!(text.contains(category.label_zh()), "{kind}: {text}");
    }
}
