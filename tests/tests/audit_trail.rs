//! The audit trail through every transport: each use case — importing a
//! directory, adding a user and setting a password, creating and freezing
//! a plan, running a draw, approving, flagging and returning a record —
//! writes exactly one audit entry, under the actor its transport
//! authenticated (the demo loader, the command line, an admin token, a
//! console user), with the state before and after. Illegal review
//! transitions are refused the same way by the REST API and the console,
//! and write nothing.

mod console_support;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use choucha_shared::TargetCategory;
use choucha_shared::plan::{DrawPlan, Quota, Stratum};
use choucha_shared::sync::EntryPayload;
use choucha_shared::value::Name;
use choucha_sync_server::store::{AuditEntry, Store};
use choucha_tests::TestServer;
use choucha_tests::console::{
    PASSWORD, Session, demo_task, device_for, push, set_demo_passwords, set_password, with_photos,
};
use choucha_tests::device::complete_record;
use console_support::jpeg;

/// Reads the audit log the server writes, from its own database.
struct AuditWatch {
    store: Store,
    seen: i64,
}

impl AuditWatch {
    async fn open(server: &TestServer) -> Self {
        let store = Store::open(server.database_url.as_deref(), &server.data_dir)
            .await
            .expect("open the server's database");
        let mut w = Self { store, seen: 0 };
        w.seen = w.all().await.first().map(|e| e.seq).unwrap_or(0);
        w
    }

    /// Every entry, newest first.
    async fn all(&self) -> Vec<AuditEntry> {
        self.store
            .audit_entries(&Default::default(), 100_000)
            .await
            .unwrap()
    }

    /// The entries written since the last call, oldest first.
    async fn new_entries(&mut self) -> Vec<AuditEntry> {
        let mut new: Vec<AuditEntry> = self
            .all()
            .await
            .into_iter()
            .filter(|e| e.seq > self.seen)
            .collect();
        new.reverse();
        if let Some(last) = new.last() {
            self.seen = last.seq;
        }
        new
    }

    /// Exactly one new entry, by `actor`, doing `action` on `object`.
    async fn one(&mut self, what: &str, actor: &str, action: &str, object: &str) -> AuditEntry {
        let new = self.new_entries().await;
        assert_eq!(
            new.len(),
            1,
            "{what}: expected one audit entry, got {new:#?}"
        );
        let e = new.into_iter().next().unwrap();
        assert_eq!(
            (e.actor.as_str(), e.action.as_str(), e.object.as_str()),
            (actor, action, object),
            "{what}: {e:#?}"
        );
        e
    }

    async fn none(&mut self, what: &str) {
        let new = self.new_entries().await;
        assert!(
            new.is_empty(),
            "{what}: expected no audit entry, got {new:#?}"
        );
    }
}

fn state_of(v: &Option<Value>) -> &str {
    v.as_ref()
        .and_then(|v| v["state"].as_str())
        .unwrap_or("<none>")
}

/// A received record of the demo draw in `town`, pushed by a simulated
/// device with all its evidence.
async fn received_record(server: &TestServer, town: &str, seed: u32) -> (String, String, String) {
    let task = demo_task(server, town).await.unwrap();
    let (mut dev, bundle, checklist) = device_for(server, &task).await.unwrap();
    let (mut record, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let images: Vec<_> = (0..record.photos.len() as u32)
        .map(|i| jpeg(seed + i))
        .collect();
    let blobs = with_photos(&mut record, &images, task.location, task.location);
    let version = record.version().to_string();
    let rid = record.record_id.to_string();
    push(&mut dev, EntryPayload::Sealed { record }, &blobs)
        .await
        .unwrap();
    (rid, version, dev.enrolment.device_id.clone())
}

struct Rest<'a> {
    http: Client,
    server: &'a TestServer,
}

impl Rest<'_> {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.server.url(path))
            .bearer_auth(self.server.token())
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn plan(id: &str) -> DrawPlan {
    DrawPlan {
        format: choucha_shared::FORMAT_VERSION,
        algorithm: 1,
        assigned: Vec::new(),
        exclude_inspected_since: None,
        plan_id: id.to_owned(),
        title: "审计测试计划".to_owned(),
        strata: vec![Stratum {
            id: "TB".to_owned(),
            category: TargetCategory::TestingBody,
            jurisdiction: Some(Name::parse("虎溪街道").unwrap()),
            risk_classes: Vec::new(),
            industry_prefixes: Vec::new(),
            standard_kind: None,
            quota: Quota::Count(1),
        }],
        team_size: 2,
        with_expert: false,
        officer_cap: 25,
        due: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_use_case_writes_one_audit_entry_through_every_transport() {
    let server = TestServer::start_demo(None).expect("demo server");
    let rest = Rest {
        http: Client::new(),
        server: &server,
    };
    // ---- The demo loader: its imports, plan, freeze and draw, and users;
    // then the command line issued the test's admin token.
    let mut watch = AuditWatch::open(&server).await;
    watch.seen = 0;
    let mut demo = watch.new_entries().await;
    let issued = demo.pop().expect("audit entries");
    assert_eq!(
        (issued.actor.as_str(), issued.action.as_str()),
        ("cli", "admin_token.issue"),
        "{issued:#?}"
    );
    assert_eq!(
        issued.after.as_ref().unwrap()["name"],
        choucha_tests::TEST_TOKEN_HOLDER
    );
    // The token's actor: its holder and its id, never the secret.
    let token_id = issued.object.trim_start_matches("admin-token:");
    assert_eq!(token_id.len(), 12, "{issued:#?}");
    assert!(
        !server.token().contains(token_id),
        "the id is not a piece of the secret"
    );
    let token_actor = format!(
        "admin-token:{}#{token_id}",
        choucha_tests::TEST_TOKEN_HOLDER
    );
    let token_actor = token_actor.as_str();
    let count = |action: &str, object: &str| {
        demo.iter()
            .filter(|e| e.actor == "demo" && e.action == action && e.object == object)
            .count()
    };
    for kind in ["targets", "officers", "experts"] {
        assert_eq!(
            count("directory.import", &format!("directory:{kind}")),
            1,
            "demo import of {kind}: {demo:#?}"
        );
    }
    let plan_id = choucha_sync_server::demo::PLAN_ID;
    assert_eq!(count("plan.create", &format!("plan:{plan_id}")), 1);
    assert_eq!(count("plan.freeze", &format!("plan:{plan_id}")), 1);
    assert_eq!(count("draw.run", &format!("draw:{plan_id}-D1")), 1);
    for (name, _, _) in choucha_sync_server::demo::CONSOLE_USERS {
        assert_eq!(count("user.add", &format!("user:{name}")), 1, "{name}");
    }
    assert!(
        demo.iter().all(|e| e.actor == "demo"),
        "the demo wrote under another name: {demo:#?}"
    );

    // ---- The command line: a password, under "cli".
    set_password(&server, "zhiliangke", PASSWORD).unwrap();
    watch
        .one("cli passwd", "cli", "user.password", "user:zhiliangke")
        .await;
    set_demo_passwords(&server).unwrap();
    watch.new_entries().await;

    // ---- REST with the admin token: import, plan, freeze, draw. A name
    // the request claims never becomes the actor.
    let r = rest
        .http
        .post(server.url("/api/v1/import/recusals?file_name=recusals.csv&actor=somebody-else"))
        .bearer_auth(server.token())
        .body("人员编号,检查对象代码,回避原因\n渝500107230001,T/CQSES 001-2023,亲属\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let e = watch
        .one(
            "REST import",
            token_actor,
            "directory.import",
            "directory:recusals",
        )
        .await;
    assert_eq!(e.after.as_ref().unwrap()["inserted"], 1, "{e:#?}");

    let (s, body) = rest
        .post(
            "/api/v1/plans",
            serde_json::to_value(plan("AUDIT-R")).unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let e = watch
        .one("REST plan", token_actor, "plan.create", "plan:AUDIT-R")
        .await;
    assert_eq!(e.after.as_ref().unwrap()["title"], "审计测试计划");
    let (s, body) = rest.post("/api/v1/plans/AUDIT-R/freeze", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let e = watch
        .one("REST freeze", token_actor, "plan.freeze", "plan:AUDIT-R")
        .await;
    assert_eq!(e.before.as_ref().unwrap()["frozen_at"], Value::Null);
    assert_eq!(
        e.after.as_ref().unwrap()["snapshot_hash"],
        body["snapshot_hash"]
    );
    // A draw refused (no one entered the seed) writes nothing.
    let seed = "66214 35126 52431 16623 41523";
    let (s, _) = rest
        .post(
            "/api/v1/plans/AUDIT-R/draws",
            json!({ "seed": seed, "entered_by": "  " }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    watch.none("refused draw").await;
    let (s, body) = rest
        .post(
            "/api/v1/plans/AUDIT-R/draws",
            json!({ "seed": seed, "entered_by": "张科长" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let e = watch
        .one("REST draw", token_actor, "draw.run", "draw:AUDIT-R-D1")
        .await;
    assert_eq!(e.after.as_ref().unwrap()["seed_entered_by"], "张科长");

    // ---- The console as the quality section: plan, freeze, draw, user.
    let admin = Session::login(&server.base_url, "admin", PASSWORD)
        .await
        .unwrap();
    watch
        .one("admin login", "admin", "login", "user:admin")
        .await;
    let s_ = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    watch
        .one("supervisor login", "zhiliangke", "login", "user:zhiliangke")
        .await;
    let (s, body) = s_
        .post(
            "/console/plans/new",
            &[
                ("plan_id", "AUDIT-C"),
                ("title", "审计测试计划"),
                ("team_size", "2"),
                ("officer_cap", "25"),
                ("strata", "TB,testing_body,1,虎溪街道"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    watch
        .one("console plan", "zhiliangke", "plan.create", "plan:AUDIT-C")
        .await;
    let (s, _) = s_.post("/console/plans/AUDIT-C/freeze", &[]).await.unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER);
    watch
        .one(
            "console freeze",
            "zhiliangke",
            "plan.freeze",
            "plan:AUDIT-C",
        )
        .await;
    let (s, body) = s_
        .post(
            "/console/plans/AUDIT-C/draw",
            &[("seed", seed), ("entered_by", "李科长")],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    watch
        .one("console draw", "zhiliangke", "draw.run", "draw:AUDIT-C-D1")
        .await;
    let (s, body) = admin
        .post(
            "/console/users",
            &[("username", "shenhe2"), ("role", "supervisor")],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let e = watch
        .one("console user", "admin", "user.add", "user:shenhe2")
        .await;
    assert_eq!(e.after.as_ref().unwrap()["role"], "supervisor");

    // ---- Review, through REST and the console, with before/after states.
    // Devices: the code is issued under the token, the exchange is the
    // device's own; its pushes are in its log, not the audit log.
    let mut records = Vec::new();
    for (town, seed) in [("虎溪街道", 900), ("西永街道", 950)] {
        let (rid, version, device) = received_record(&server, town, seed).await;
        let new = watch.new_entries().await;
        let got: Vec<(&str, &str)> = new
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str()))
            .collect();
        let device_actor = format!("device:{device}");
        assert_eq!(
            got,
            [
                (token_actor, "device.enrolment_code"),
                (device_actor.as_str(), "device.enrol")
            ],
            "{new:#?}"
        );
        let issued = new[0].after.as_ref().unwrap().as_object().unwrap();
        assert_eq!(
            issued.keys().collect::<Vec<_>>(),
            ["expires_at"],
            "the enrolment code itself is never logged"
        );
        records.push((rid, version, device));
    }
    let [(r1, v1, d1), (r2, v2, _)] = <[_; 2]>::try_from(records).unwrap();
    let rec1 = format!("record:{r1}");
    let rec2 = format!("record:{r2}");

    // Console: has issues, then approve.
    let (s, body) = s_
        .post(
            &format!("/console/records/{r1}/issues"),
            &[("version", &v1)],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let e = watch
        .one(
            "console has issues",
            "zhiliangke",
            "record.has_issues",
            &rec1,
        )
        .await;
    assert_eq!(
        (state_of(&e.before), state_of(&e.after)),
        ("received", "has_issues")
    );
    // Flagging twice is not a transition: refused, nothing written.
    let (s, _) = s_
        .post(
            &format!("/console/records/{r1}/issues"),
            &[("version", &v1)],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::CONFLICT);
    watch.none("second has-issues").await;
    let (s, _) = s_
        .post(
            &format!("/console/records/{r1}/approve"),
            &[("version", &v1)],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER);
    let e = watch
        .one("console approve", "zhiliangke", "record.approve", &rec1)
        .await;
    assert_eq!(
        (state_of(&e.before), state_of(&e.after)),
        ("has_issues", "approved")
    );

    // Publication (一公开) and its withdrawal, from the console.
    let (s, body) = s_
        .post(&format!("/console/records/{r1}/publish"), &[])
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    watch
        .one("console publish", "zhiliangke", "disclosure.publish", &rec1)
        .await;
    let (s, _) = s_
        .post(&format!("/console/records/{r1}/publish"), &[])
        .await
        .unwrap();
    assert_eq!(s, StatusCode::CONFLICT, "published once");
    watch.none("second publish").await;
    let (s, body) = s_
        .post(
            &format!("/console/records/{r1}/withdraw"),
            &[("reason", "复核发现结论有误")],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    watch
        .one(
            "console withdraw",
            "zhiliangke",
            "disclosure.withdraw",
            &rec1,
        )
        .await;

    // REST: returning an approved record is refused and writes nothing.
    let (s, body) = rest
        .post(
            &format!("/api/v1/records/{r1}/return"),
            json!({ "version": v1, "comment": "再看看" }),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("已审核通过"),
        "{body}"
    );
    watch.none("return of an approved record").await;

    // REST: a return needs something to fix, on items the record has.
    let (s, _) = rest
        .post(
            &format!("/api/v1/records/{r2}/return"),
            json!({ "version": v2, "comment": " " }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, body) = rest
        .post(
            &format!("/api/v1/records/{r2}/return"),
            json!({ "version": v2, "comment": "", "item_comments": { "NO-SUCH-ITEM": "看不清" } }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    watch.none("refused returns").await;
    let (s, body) = rest
        .post(
            &format!("/api/v1/records/{r2}/return"),
            json!({ "version": v2, "comment": "企业签名不清晰，请重新签名" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let e = watch
        .one("REST return", token_actor, "record.return", &rec2)
        .await;
    assert_eq!(
        (state_of(&e.before), state_of(&e.after)),
        ("received", "returned")
    );
    assert_eq!(
        e.after.as_ref().unwrap()["comment"],
        "企业签名不清晰，请重新签名"
    );
    // Approving a returned version is refused by REST and the console alike.
    let (s, _) = rest
        .post(
            &format!("/api/v1/records/{r2}/approve"),
            json!({ "version": v2 }),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = s_
        .post(
            &format!("/console/records/{r2}/approve"),
            &[("version", &v2)],
        )
        .await
        .unwrap();
    assert_eq!(s, StatusCode::CONFLICT);
    watch.none("approving a returned record").await;

    // ---- Revoking a device through REST, once; a second time is a 404
    // and writes nothing.
    let (s, _) = rest
        .post(&format!("/api/v1/devices/{d1}/revoke"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let e = watch
        .one(
            "REST revoke",
            token_actor,
            "device.revoke",
            &format!("device:{d1}"),
        )
        .await;
    assert_eq!(e.before.as_ref().unwrap()["revoked_at"], Value::Null);
    let (s, _) = rest
        .post(&format!("/api/v1/devices/{d1}/revoke"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    watch.none("second revoke").await;
}
