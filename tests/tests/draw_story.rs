//! The directory-and-draw story over real HTTP against the real server,
//! once on the embedded SQLite database and once on a throwaway PostgreSQL
//! cluster: import, freeze, draw, verify, redraw, shortfall, re-import.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use choucha_shared::TargetCategory;
use choucha_shared::Uscc;
use choucha_shared::draw::{self, Candidate, DrawInputs, FrozenStratum, PoolMember};
use choucha_shared::plan::{DrawPlan, Quota, Stratum};
use choucha_tests::{TestServer, pg};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const TOWNS: [&str; 3] = ["西永街道", "曾家镇", "含谷镇"];
const SEED: &str = "58213 40927 66135 02841 99370";

fn uscc(n: usize) -> String {
    Uscc::with_check_char(&format!("91500107MA{n:07}"))
        .unwrap()
        .to_string()
}

/// (category label, name, key, town) for every target in the test zone.
fn targets() -> Vec<(&'static str, String, String, &'static str)> {
    let mut v = Vec::new();
    for i in 0..12 {
        v.push((
            "检验检测机构",
            format!("重庆某某检测技术有限公司{i}"),
            uscc(i),
            TOWNS[i % 3],
        ));
    }
    for i in 0..21 {
        v.push((
            "工业产品生产许可证获证企业",
            format!("重庆某某电线电缆有限公司{i}"),
            uscc(100 + i),
            TOWNS[i % 3],
        ));
    }
    v
}

fn targets_csv() -> String {
    let mut s = String::from("检查对象类别,企业名称,统一社会信用代码,所属镇街,地址,经度,纬度\n");
    for (cat, name, key, town) in targets() {
        s.push_str(&format!(
            "{cat},{name},{key},{town},重庆市高新区{town}1号,106.30,29.60\n"
        ));
    }
    s
}

/// Four officers per town: two qualified for both categories, one for
/// testing bodies only, one non-enforcement staff member.
fn officers() -> Vec<(String, String, &'static str, &'static str, &'static str)> {
    let mut v = Vec::new();
    for (t, town) in TOWNS.iter().enumerate() {
        for i in 0..4 {
            let domains = match i {
                0 | 1 => "检验检测机构、工业产品生产许可证获证企业",
                2 => "检验检测机构",
                _ => "检验检测机构、工业产品生产许可证获证企业",
            };
            let enforcement = if i == 3 { "否" } else { "是" };
            v.push((
                format!("执法员{t}{i}"),
                format!("渝5001{t}{i:05}"),
                *town,
                domains,
                enforcement,
            ));
        }
    }
    v
}

fn officers_csv() -> String {
    let mut s = String::from("姓名,执法证号,所属单位,可检查领域,是否执法人员\n");
    for (name, cred, town, domains, enf) in officers() {
        s.push_str(&format!("{name},{cred},{town},{domains},{enf}\n"));
    }
    s
}

fn plan(id: &str, pl_quota: Quota) -> DrawPlan {
    DrawPlan {
        format: 1,
        algorithm: 1,
        assigned: Vec::new(),
        exclude_inspected_since: None,
        plan_id: id.into(),
        title: "2023年度质量、标准、计量、认证认可领域双随机抽查".into(),
        strata: vec![
            Stratum {
                id: "TB".into(),
                category: TargetCategory::TestingBody,
                jurisdiction: None,
                risk_classes: Vec::new(),
                industry_prefixes: Vec::new(),
                standard_kind: None,
                quota: Quota::Count(4),
            },
            Stratum {
                id: "PL".into(),
                category: TargetCategory::ProductionLicence,
                jurisdiction: None,
                risk_classes: Vec::new(),
                industry_prefixes: Vec::new(),
                standard_kind: None,
                quota: pl_quota,
            },
        ],
        team_size: 2,
        with_expert: false,
        officer_cap: 6,
        due: None,
    }
}

struct Api<'a> {
    server: &'a TestServer,
    client: Client,
}

impl Api<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, self.server.url(path))
            .bearer_auth(self.server.token());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    async fn upload(&self, kind: &str, file_name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(
                self.server
                    .url(&format!("/api/v1/import/{kind}?file_name={file_name}")),
            )
            .bearer_auth(self.server.token())
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap())
    }
}

async fn story(server: TestServer) {
    let api = Api {
        server: &server,
        client: Client::new(),
    };

    // Authentication from day one, errors in the API's JSON format.
    let anon = api
        .client
        .get(server.url("/api/v1/jurisdictions"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    assert_eq!(anon.json::<Value>().await.unwrap()["code"], "unauthorized");
    let wrong = api
        .client
        .get(server.url("/api/v1/jurisdictions"))
        .bearer_auth("0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let malformed = api
        .client
        .post(server.url("/api/v1/plans"))
        .bearer_auth(server.token())
        .header("content-type", "application/json")
        .body("{\"plan_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.json::<Value>().await.unwrap()["code"],
        "bad_request"
    );

    let (s, _) = api
        .post("/api/v1/jurisdictions", json!({ "names": TOWNS }))
        .await;
    assert_eq!(s, 200);

    // A bad file is refused whole, every bad row reported.
    let bad = targets_csv()
        .replace(&uscc(3), &format!("{}0", &uscc(3)[..17]))
        .replace(
            "含谷镇,重庆市高新区含谷镇1号,106.30,29.60\n",
            "白市驿镇,x,106.30,95\n",
        );
    let (s, report) = api.upload("targets", "bad.csv", bad.into_bytes()).await;
    assert_eq!(s, 422, "{report}");
    assert_eq!(report["imported"], false);
    assert!(report["errors"].as_array().unwrap().len() > 10, "{report}");
    let (_, count) = api.get("/api/v1/plans/none").await;
    assert_eq!(count["code"], "not_found");

    let (s, report) = api
        .upload("targets", "targets.csv", targets_csv().into_bytes())
        .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["inserted"], 33);
    let (s, report) = api
        .upload("officers", "officers.csv", officers_csv().into_bytes())
        .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["inserted"], 12);
    // 执法员00 has a conflict of interest with every testing body of 西永街道.
    let mut recusals = String::from("人员编号,检查对象代码,回避原因\n");
    for (_, _, key, town) in targets()
        .iter()
        .filter(|t| t.0 == "检验检测机构" && t.3 == TOWNS[0])
    {
        recusals.push_str(&format!("渝5001000000,{key},配偶在该机构任职\n"));
        let _ = town;
    }
    let (s, report) = api
        .upload("recusals", "recusals.csv", recusals.into_bytes())
        .await;
    assert_eq!(s, 200, "{report}");

    // Plan, freeze: the snapshot hash is published before the seed.
    let p = plan("GX-2023", Quota::Ratio(0.3));
    let (s, created) = api
        .post("/api/v1/plans", serde_json::to_value(&p).unwrap())
        .await;
    assert_eq!(s, 201, "{created}");
    let (s, _) = api
        .post(
            "/api/v1/plans/GX-2023/draws",
            json!({ "seed": SEED, "entered_by": "张科长" }),
        )
        .await;
    assert_eq!(s, 409, "drawing before freezing must be refused");
    let (s, frozen) = api.post("/api/v1/plans/GX-2023/freeze", json!({})).await;
    assert_eq!(s, 200, "{frozen}");
    let snapshot = frozen["snapshot_hash"].as_str().unwrap().to_owned();
    let public: Value = api
        .client
        .get(server.url("/api/v1/public/plans/GX-2023"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["snapshot_hash"], snapshot.as_str());
    assert_eq!(public["strata"][1]["candidates"], 21);

    // The expected draw, computed here from what this test imported — not
    // from anything the server stored.
    let mut inputs = DrawInputs::default();
    for (stratum, cat) in [("TB", "检验检测机构"), ("PL", "工业产品生产许可证获证企业")]
    {
        let category: TargetCategory = cat.parse().unwrap();
        let candidates = targets()
            .into_iter()
            .filter(|t| t.0 == cat)
            .map(|(_, _, key, town)| Candidate {
                key: key.into(),
                category,
                jurisdiction: Arc::from(town),
            })
            .collect();
        inputs
            .strata
            .push(FrozenStratum::new(stratum.into(), candidates));
    }
    inputs.officers = officers()
        .into_iter()
        .map(|(name, cred, town, domains, enf)| PoolMember {
            id: cred,
            name,
            unit: Some(town.into()),
            domains: domains.split('、').map(|d| d.parse().unwrap()).collect(),
            enforcement: enf == "是",
        })
        .collect();
    for (_, _, key, _) in targets()
        .iter()
        .filter(|t| t.0 == "检验检测机构" && t.3 == TOWNS[0])
    {
        inputs.recusals.insert(("渝5001000000".into(), key.clone()));
    }
    assert_eq!(draw::snapshot_hash(&inputs.strata).as_str(), snapshot);
    let expected = draw::run(&p, SEED, &inputs).unwrap();

    let (s, _) = api
        .post(
            "/api/v1/plans/GX-2023/draws",
            json!({ "seed": "123", "entered_by": "张科长" }),
        )
        .await;
    assert_eq!(s, 422, "a short seed must be refused");
    let (s, d1) = api
        .post(
            "/api/v1/plans/GX-2023/draws",
            json!({ "seed": SEED, "entered_by": "张科长" }),
        )
        .await;
    assert_eq!(s, 201, "{d1}");
    let tasks = d1["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 4 + 7);
    let officer_town: BTreeMap<String, &str> = officers().into_iter().map(|o| (o.1, o.2)).collect();
    let target_town: BTreeMap<String, &str> = targets().into_iter().map(|t| (t.2, t.3)).collect();
    for (t, want) in tasks.iter().zip(&expected) {
        let key = t["target"].as_str().unwrap();
        assert_eq!(key, want.target_key);
        let team: Vec<&str> = t["team"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["person_id"].as_str().unwrap())
            .collect();
        let want_team: Vec<&str> = want.team.iter().map(|m| m.person_id.as_str()).collect();
        assert_eq!(team, want_team);
        assert_eq!(team.iter().collect::<BTreeSet<_>>().len(), 2);
        for o in &team {
            assert_eq!(officer_town[*o], target_town[key], "out of jurisdiction");
            assert!(
                !(o.ends_with("00003") || o.ends_with("10003") || o.ends_with("20003")),
                "non-enforcement drawn"
            );
        }
        assert!(
            !(team.contains(&"渝5001000000")
                && t["stratum_id"] == "TB"
                && target_town[key] == TOWNS[0])
        );
        assert!(t["checklist"]["id"].is_string());
    }

    // Anyone can verify.
    let v: Value = api
        .client
        .get(server.url("/api/v1/public/draws/GX-2023-D1/verify"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["matches"], true, "{v}");

    // A second draw must be a declared redraw.
    let (s, _) = api
        .post(
            "/api/v1/plans/GX-2023/draws",
            json!({ "seed": SEED, "entered_by": "张科长" }),
        )
        .await;
    assert_eq!(s, 409);
    let (s, d2) = api
        .post(
            "/api/v1/plans/GX-2023/draws",
            json!({ "seed": "77777 12345 67890 24680 13579", "entered_by": "张科长", "redraw_of": "GX-2023-D1", "reason": "抽取现场监督员未到场，依程序重新抽取" }),
        )
        .await;
    assert_eq!(s, 201, "{d2}");
    assert_eq!(d2["supersedes"]["draw_id"], "GX-2023-D1");
    let (s, old) = api.get("/api/v1/draws/GX-2023-D1").await;
    assert_eq!(s, 200);
    assert_eq!(
        old["tasks"], d1["tasks"],
        "the replaced draw stays as it was"
    );

    // A quota above its candidates is refused at freezing, naming the
    // stratum, while the plan can still be changed: it is neither frozen
    // nor drawable (a frozen plan no seed can draw was a dead end).
    let (s, _) = api
        .post(
            "/api/v1/plans",
            serde_json::to_value(plan("GX-BIG", Quota::Count(40))).unwrap(),
        )
        .await;
    assert_eq!(s, 201);
    let (s, err) = api.post("/api/v1/plans/GX-BIG/freeze", json!({})).await;
    assert_eq!(s, 422, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("分层 PL 需抽取 40 个对象，但只有 21 个"),
        "{err}"
    );
    assert_eq!(err["details"]["shortfalls"][0]["stratum_id"], "PL");
    let (s, big) = api.get("/api/v1/plans/GX-BIG").await;
    assert_eq!(s, 200);
    assert!(
        big["frozen_at"].is_null() && big["snapshot_hash"].is_null(),
        "{big}"
    );
    let (s, err) = api
        .post(
            "/api/v1/plans/GX-BIG/draws",
            json!({ "seed": SEED, "entered_by": "张科长" }),
        )
        .await;
    assert!(s == 409 || s == 422, "{s} {err}");
    let (s, _) = api.get("/api/v1/draws/GX-BIG-D1").await;
    assert_eq!(s, 404);

    // Re-import: changed rows update by key and keep their history; rows
    // missing from the file are not dropped.
    let changed = format!(
        "检查对象类别,企业名称,统一社会信用代码,所属镇街\n检验检测机构,重庆某某检测技术有限公司0（更名）,{},西永街道\n",
        uscc(0)
    );
    let (s, report) = api
        .upload("targets", "rename.csv", changed.into_bytes())
        .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["updated"], 1);
    let (s, t) = api
        .get(&format!("/api/v1/targets/testing_body/{}", uscc(0)))
        .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["version"], 2);
    assert_eq!(t["target"]["name"], "重庆某某检测技术有限公司0（更名）");
    assert_eq!(
        t["history"][0]["target"]["name"],
        "重庆某某检测技术有限公司0"
    );
    let (s, _) = api
        .get(&format!("/api/v1/targets/testing_body/{}", uscc(1)))
        .await;
    assert_eq!(s, 200);

    // The stored draw still verifies after the directory changed.
    let v: Value = api
        .client
        .get(server.url("/api/v1/public/draws/GX-2023-D1/verify"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["matches"], true, "{v}");
}

#[tokio::test]
async fn draw_story_on_sqlite() {
    story(TestServer::start().unwrap()).await;
}

#[tokio::test]
async fn draw_story_on_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    story(TestServer::start_with(Some(&url)).unwrap()).await;
}

/// Only 存续 targets are candidates: a re-import that marks companies
/// 注销 or 吊销 takes them out of the next freeze; a full import marks the
/// targets it lacks 不在最新名录 (listed, never deleted).
async fn only_active_targets_are_candidates(server: TestServer) {
    let api = Api {
        server: &server,
        client: Client::new(),
    };
    let (s, _) = api
        .post("/api/v1/jurisdictions", json!({ "names": TOWNS }))
        .await;
    assert_eq!(s, 200);
    let (s, report) = api
        .upload("targets", "targets.csv", targets_csv().into_bytes())
        .await;
    assert_eq!(s, 200, "{report}");
    let (s, report) = api
        .upload("officers", "officers.csv", officers_csv().into_bytes())
        .await;
    assert_eq!(s, 200, "{report}");
    // The registration system says two licence holders are gone.
    let mut update = String::from(
        "检查对象类别,企业名称,统一社会信用代码,所属镇街,经营状态,信用风险分类,行业代码\n",
    );
    for (i, (cat, name, key, town)) in targets()
        .into_iter()
        .filter(|t| t.0 == "工业产品生产许可证获证企业")
        .enumerate()
    {
        let status = match i {
            0 => "注销",
            1 => "吊销，未注销",
            _ => "存续",
        };
        update.push_str(&format!("{cat},{name},{key},{town},{status},C,C3831\n"));
    }
    let (s, report) = api
        .upload("targets", "status.csv", update.into_bytes())
        .await;
    assert_eq!(s, 200, "{report}");
    let p = plan("GX-ACTIVE", Quota::Ratio(0.3));
    let (s, created) = api
        .post("/api/v1/plans", serde_json::to_value(&p).unwrap())
        .await;
    assert_eq!(s, 201, "{created}");
    let (s, frozen) = api.post("/api/v1/plans/GX-ACTIVE/freeze", json!({})).await;
    assert_eq!(s, 200, "{frozen}");
    let public: Value = api
        .client
        .get(server.url("/api/v1/public/plans/GX-ACTIVE"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        public["strata"][0]["candidates"], 12,
        "testing bodies untouched"
    );
    assert_eq!(
        public["strata"][1]["candidates"], 19,
        "21 licence holders, 2 gone"
    );

    // A full import: the whole directory again without three testing
    // bodies. They are marked 不在最新名录 and listed; nothing is deleted.
    let dropped: Vec<String> = targets()
        .into_iter()
        .filter(|t| t.0 == "检验检测机构")
        .take(3)
        .map(|t| t.2)
        .collect();
    let whole: String = targets_csv()
        .lines()
        .filter(|l| !dropped.iter().any(|k| l.contains(k.as_str())))
        .map(|l| format!("{l}\n"))
        .collect();
    let upload = |query: &'static str, body: String| {
        let client = api.client.clone();
        let url = server.url(&format!(
            "/api/v1/import/targets?file_name=whole.csv{query}"
        ));
        let token = server.token().to_owned();
        async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, both) = upload("&mode=full&partial=true", whole.clone()).await;
    assert_eq!(s, 400, "{both}");
    // A bad row stops a full import: nothing written, nobody retired.
    let (s, report) = upload("&mode=full", whole.replace(",106.30,29.60", ",106.30,95")).await;
    assert_eq!(s, 422, "{report}");
    assert!(report.get("retired").is_none(), "{report}");
    let (s, report) = upload("&mode=full", whole).await;
    assert_eq!(s, 200, "{report}");
    let mut retired: Vec<&str> = report["retired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    retired.sort_unstable();
    let mut want: Vec<&str> = dropped.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(retired, want);
    let p = plan("GX-FULL", Quota::Ratio(0.3));
    let (s, _) = api
        .post("/api/v1/plans", serde_json::to_value(&p).unwrap())
        .await;
    assert_eq!(s, 201);
    let (s, _) = api.post("/api/v1/plans/GX-FULL/freeze", json!({})).await;
    assert_eq!(s, 200);
    let public: Value = api
        .client
        .get(server.url("/api/v1/public/plans/GX-FULL"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        public["strata"][0]["candidates"], 9,
        "three not in the latest directory"
    );
    // The whole file lists the two licence holders as 存续 again (it has
    // no 经营状态 column): the latest directory's word stands.
    assert_eq!(public["strata"][1]["candidates"], 21);
}

#[tokio::test]
async fn only_active_targets_are_candidates_on_sqlite() {
    only_active_targets_are_candidates(TestServer::start().unwrap()).await;
}

#[tokio::test]
async fn only_active_targets_are_candidates_on_postgres() {
    let url = pg::shared().create_database().await.unwrap();
    only_active_targets_are_candidates(TestServer::start_with(Some(&url)).unwrap()).await;
}
