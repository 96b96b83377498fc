//! The real server binary over real HTTP: it starts on a fresh data
//! directory, serves the embedded checklists, and answers errors as JSON.

use choucha_tests::TestServer;
use serde_json::Value;

#[tokio::test]
async fn serves_checklists_over_http() {
    let server = TestServer::start().unwrap();
    let client = reqwest::Client::new();

    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let list: Vec<Value> = client
        .get(server.url("/api/v1/checklists"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for id in [
        "production-licence",
        "testing-body",
        "ccc",
        "voluntary-certification",
        "standard",
        "metrology",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }

    let one: Value = client
        .get(server.url("/api/v1/checklists/metrology/1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let local = choucha_checklists::Catalogue::embedded().unwrap();
    let expected = local.all().find(|c| c.id == "metrology").unwrap();
    let served: choucha_shared::checklist::Checklist = serde_json::from_value(one).unwrap();
    assert_eq!(&served, expected);

    let missing = client
        .get(server.url("/api/v1/checklists/metrology/99"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    assert!(
        body["message"].as_str().unwrap().contains("metrology@v99"),
        "{body}"
    );
    assert!(server.data_dir.is_dir());
}
