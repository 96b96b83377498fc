//! 问题分析 end to end on SQLite and PostgreSQL: two companies of one town
//! and one industry (GB/T 4754 major group) are inspected on tablets and
//! fail the same checklist item; the console's analysis groups the
//! findings by item, town, category and industry, draws both charts as SVG
//! in the page (no JavaScript), and — with the thresholds set to two
//! targets — suggests reporting it upward as a 行业性问题 and as a 突出集中的
//! 问题; at three it suggests nothing. The quality section escalates the
//! industry candidate from the page. Another town's lead sees none of it.

use std::collections::BTreeMap;

use serde_json::Value;

use choucha_tests::Deployment;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};
use choucha_tests::field::{admin_get, inspect_with_order, sync_all, tablet};

choucha_tests::on_every_deployment!(the_same_item_failing_in_one_industry_and_town_is_suggested);

const PLAN: &str = "GXQ-2023-ZBJR";

async fn the_same_item_failing_in_one_industry_and_town_is_suggested(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    set_demo_passwords(&server).unwrap();
    let draw = admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    // Two tasks of one category, town and industry group.
    let mut groups: BTreeMap<(String, String, String), Vec<Value>> = BTreeMap::new();
    for t in draw["tasks"].as_array().unwrap() {
        let category = t["category"].as_str().unwrap();
        let key = t["target"].as_str().unwrap();
        let target = admin_get(&server, &format!("/api/v1/targets/{category}/{key}"))
            .await
            .unwrap();
        let target = &target["target"];
        let Some(code) = target["industry"].as_str() else {
            continue;
        };
        let town = target["jurisdiction"].as_str().unwrap().to_owned();
        groups
            .entry((category.to_owned(), town, code.chars().take(3).collect()))
            .or_default()
            .push(t.clone());
    }
    let ((_, town, industry), tasks) = groups
        .into_iter()
        .find(|(_, v)| v.len() >= 2)
        .expect("the demo draws two companies of one industry in one town");
    let root = tempfile::tempdir().unwrap();
    for (i, task) in tasks.iter().take(2).enumerate() {
        let officer = task["team"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["role"] == "officer")
            .unwrap()["person_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let app = tablet(&server, &officer, root.path(), &format!("平板{i}"))
            .await
            .unwrap();
        inspect_with_order(
            &app,
            task["task_id"].as_str().unwrap(),
            &format!("渝高新市监责改〔2024〕{}号", i + 1),
            1,
        )
        .unwrap();
        sync_all(&app).await.unwrap();
    }

    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let path = format!("/console/analysis?plan={PLAN}&industry_min=2&town_min=2");
    let (status, page) = s.get(&path).await.unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<strong>2</strong>"), "two findings: {page}");
    for chart in ["<svg id=\"chart-items\"", "<svg id=\"chart-towns\""] {
        assert!(page.contains(chart), "{chart} in {page}");
    }
    assert!(
        page.contains(&format!("data-label=\"{town}\" data-value=\"2\"")),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "class=\"candidate\" data-kind=\"industry\" data-scope=\"{industry}\""
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "class=\"candidate\" data-kind=\"concentrated\" data-scope=\"{town}\""
        )),
        "{page}"
    );
    let by_industry = page.split("id=\"by-industry\"").nth(1).unwrap();
    assert!(
        by_industry.contains(&format!("data-key=\"{industry}\"")),
        "{page}"
    );
    // At three targets nothing is suggested.
    let (_, strict) = s
        .get(&format!(
            "/console/analysis?plan={PLAN}&industry_min=3&town_min=3"
        ))
        .await
        .unwrap();
    assert!(strict.contains("id=\"no-candidates\""), "{strict}");

    // Escalated from the page: the situation is written out.
    let form = page
        .split("data-kind=\"industry\"")
        .nth(1)
        .and_then(|r| r.split("action=\"").nth(1))
        .and_then(|r| r.split('"').next())
        .expect("an escalate form")
        .to_owned();
    let description = page
        .split("data-kind=\"industry\"")
        .nth(1)
        .and_then(|r| r.split("name=\"description\" value=\"").nth(1))
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    assert!(description.contains(&industry), "{description}");
    let (status, _) = s
        .post(
            &form,
            &[("kind", "industry"), ("description", description.as_str())],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, list) = s.get("/console/escalations").await.unwrap();
    assert!(list.contains("行业性问题"), "{list}");

    // Another town's lead: their town only.
    let lead = match town.as_str() {
        "虎溪街道" => "xiyong",
        _ => "huxi",
    };
    let other = Session::login(&server.base_url, lead, PASSWORD)
        .await
        .unwrap();
    let (_, page) = other.get(&path).await.unwrap();
    assert!(page.contains("<strong>0</strong>"), "{page}");
    assert!(!page.contains(&format!("data-scope=\"{town}\"")), "{page}");
}
