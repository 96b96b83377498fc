//! Storing imports in SQLite: the bulk-load path (rows in key order,
//! secondary indexes built after the load) leaves the same table, the same
//! indexes and the same duplicate checks as the row-by-row path.

use std::collections::BTreeSet;

use choucha_shared::Uscc;
use choucha_sync_server::import::{FileFormat, parse_targets};
use choucha_sync_server::store::{DirectoryTable, Store};

const HEADER: &str = "检查对象类别,企业名称,统一社会信用代码,所属镇街,地址,经度,纬度\n";
const TOWNS: [&str; 3] = ["西永街道", "曾家镇", "虎溪街道"];

fn uscc(n: u32) -> String {
    Uscc::with_check_char(&format!("91500106MA{n:07}"))
        .unwrap()
        .as_str()
        .to_owned()
}

/// `n` targets, deliberately not in key order (the file order is the
/// reverse of the key order), the `name_offset` shifting company names.
fn targets_csv(
    range: impl DoubleEndedIterator<Item = u32>,
    name_of: impl Fn(u32) -> u32,
) -> String {
    let mut text = HEADER.to_owned();
    for i in range.rev() {
        text.push_str(&format!(
            "计量有关企业,重庆某某计量器具有限公司{},{},{},重庆市沙坪坝区西永大道{i}号,106.{:04},29.{:04}\n",
            name_of(i),
            uscc(i),
            TOWNS[i as usize % TOWNS.len()],
            i % 10_000,
            (i * 7) % 10_000
        ));
    }
    text
}

async fn index_sql(store: &Store) -> Vec<(String, Option<String>)> {
    sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'targets' ORDER BY name",
    )
    .fetch_all(store.raw_pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn bulk_load_keeps_indexes_and_duplicate_checks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(None, dir.path()).await.unwrap();
    store
        .add_jurisdictions(&TOWNS.map(String::from))
        .await
        .unwrap();
    let known: BTreeSet<String> = TOWNS.map(String::from).into();
    let before = index_sql(&store).await;
    assert!(
        before.iter().any(|(n, _)| n == "targets_by_name"),
        "{before:?}"
    );

    // 12,000 rows into an empty table: the bulk path.
    const N: u32 = 12_000;
    let parsed =
        parse_targets(targets_csv(0..N, |i| i).as_bytes(), FileFormat::Csv, &known).unwrap();
    let summary = store
        .import_targets(
            parsed,
            choucha_sync_server::store::ImportMode::AllOrNothing,
            "bulk.csv",
            &choucha_sync_server::store::Actor::cli(),
        )
        .await
        .unwrap();
    assert!(summary.imported, "{summary:?}");
    assert_eq!(summary.inserted, N as usize);
    assert_eq!(
        store.count(DirectoryTable::Targets).await.unwrap(),
        i64::from(N)
    );
    assert_eq!(
        index_sql(&store).await,
        before,
        "the same indexes, defined the same way"
    );
    let (integrity,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(store.raw_pool())
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    // The name index is used and complete: every name is found through it.
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT target_key FROM targets WHERE category = 'metrology' AND name = 'x'",
    )
    .fetch_all(store.raw_pool())
    .await
    .unwrap();
    assert!(
        plan.iter().any(|(.., d)| d.contains("targets_by_name")),
        "{plan:?}"
    );
    let (by_name,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM targets INDEXED BY targets_by_name WHERE category = 'metrology' AND name LIKE '重庆%'",
    )
    .fetch_one(store.raw_pool())
    .await
    .unwrap();
    assert_eq!(by_name, i64::from(N));
    let (_, t) = store
        .target("metrology", &uscc(4321))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(t.name.as_str(), "重庆某某计量器具有限公司4321");

    // A later import still finds names used under another USCC.
    let clash = targets_csv(N..N + 1, |_| 77);
    let parsed = parse_targets(clash.as_bytes(), FileFormat::Csv, &known).unwrap();
    let summary = store
        .import_targets(
            parsed,
            choucha_sync_server::store::ImportMode::AllOrNothing,
            "clash.csv",
            &choucha_sync_server::store::Actor::cli(),
        )
        .await
        .unwrap();
    assert!(!summary.imported);
    assert_eq!(summary.errors.len(), 1, "{:?}", summary.errors);
    assert!(
        summary.errors[0].reason.contains(&uscc(77)),
        "{:?}",
        summary.errors[0]
    );
}
