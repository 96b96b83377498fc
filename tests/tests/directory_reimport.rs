//! Re-importing the target directory as bureaus do, on SQLite and on
//! PostgreSQL: coordinates present in one file and missing from the next,
//! again and again. Each import updates the stored entries with exactly
//! what the file says (a missing coordinate is NULL, a given one its value).

use std::collections::BTreeSet;

use choucha_shared::Uscc;
use choucha_sync_server::import::{FileFormat, parse_targets};
use choucha_sync_server::store::{Actor, ImportMode, Store};
use choucha_tests::pg;

const TOWNS: [&str; 2] = ["西永街道", "曾家镇"];

fn file(with_coordinates: bool, round: u32) -> String {
    let mut text = String::from("检查对象类别,企业名称,统一社会信用代码,所属镇街,地址,经度,纬度\n");
    for i in 0..20u32 {
        let uscc = Uscc::with_check_char(&format!("91500106MA{i:07}")).unwrap();
        let (lon, lat) = if with_coordinates {
            (
                format!("106.{:04}", i * 13 + round),
                format!("29.{:04}", i * 7 + round),
            )
        } else {
            (String::new(), String::new())
        };
        text.push_str(&format!(
            "计量有关企业,重庆某某计量器具有限公司{i},{uscc},{},地址{round},{lon},{lat}\n",
            TOWNS[i as usize % 2]
        ));
    }
    text
}

async fn coordinates_come_and_go(store: Store) {
    store
        .add_jurisdictions(&TOWNS.map(String::from))
        .await
        .unwrap();
    let known: BTreeSet<String> = TOWNS.map(String::from).into();
    for round in 0..40u32 {
        // An irregular pattern, so that whichever pooled connection an
        // import gets, some see both kinds of file.
        let with = (round * 7 + round / 3) % 5 < 2;
        let parsed = parse_targets(file(with, round).as_bytes(), FileFormat::Csv, &known).unwrap();
        let summary = store
            .import_targets(parsed, ImportMode::AllOrNothing, "r.csv", &Actor::cli())
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(summary.imported, "round {round}");
        let (lat,): (Option<f64>,) =
            sqlx::query_as("SELECT lat FROM targets WHERE target_key = $1")
                .bind(Uscc::with_check_char("91500106MA0000001").unwrap().as_str())
                .fetch_one(store.raw_pool())
                .await
                .unwrap();
        let want = with.then(|| format!("29.{:04}", 7 + round).parse::<f64>().unwrap());
        assert_eq!(lat, want, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinates_come_and_go_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    coordinates_come_and_go(Store::open(None, dir.path()).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinates_come_and_go_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = pg::shared().create_database().await.unwrap();
    coordinates_come_and_go(Store::open(Some(&url), dir.path()).await.unwrap()).await;
}
