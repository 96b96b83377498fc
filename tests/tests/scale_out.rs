//! Scale-out: several server instances on one PostgreSQL database and one
//! S3-compatible store behind HAProxy (`docs/deploy/haproxy.cfg`), round
//! robin, no stickiness — and SQLite staying the one-instance default.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use choucha_shared::Sha256Hex;
use choucha_shared::sync::{EntryPayload, EntryVerdict};
use choucha_sync_server::store::Store;
use choucha_tests::cluster::{Cluster, INSTANCE_NAMES, served_by};
use choucha_tests::device::{SimDevice, complete_record, enrol, sign};
use choucha_tests::{TempDir, TestServer, pg, server_binary};
use chrono::Utc;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn admin_get(client: &Client, cluster: &Cluster, path: &str) -> Value {
    let r = client
        .get(cluster.url(path))
        .bearer_auth(cluster.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.unwrap()
}

/// Counts which instance answered each of a series of requests.
#[derive(Debug, Default)]
struct Served(BTreeMap<String, usize>);

impl Served {
    fn note(&mut self, r: &reqwest::Response) {
        let by = served_by(r).expect("HAProxy names the instance");
        *self.0.entry(by).or_default() += 1;
    }

    fn by_both(&self) -> bool {
        INSTANCE_NAMES.iter().all(|n| self.0.get(*n) > Some(&0))
    }
}

/// A wrong code, each with its own first group (so the per-group lock does
/// not come into it).
async fn enrol_attempt(client: &Client, cluster: &Cluster, from: &str) -> reqwest::Response {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    client
        .post(cluster.url("/api/v1/device/enrol"))
        .header("x-forwarded-for", from)
        .json(&json!({ "code": format!("W{n:03}-WRNG-CODE"), "device_name": "平板" }))
        .send()
        .await
        .unwrap()
}

/// PATCHes `bytes` chunk by chunk through the balancer, noting who served
/// each chunk.
async fn patch_all(
    client: &Client,
    cluster: &Cluster,
    dev: &SimDevice,
    bytes: &[u8],
    chunk: usize,
    served: &mut Served,
) {
    let sha = Sha256Hex::of(bytes);
    for (i, piece) in bytes.chunks(chunk).enumerate() {
        let r = client
            .patch(cluster.url(&format!("/api/v1/device/blobs/{sha}")))
            .bearer_auth(&dev.enrolment.token)
            .header("upload-length", bytes.len().to_string())
            .header("upload-offset", (i * chunk).to_string())
            .header(
                "upload-checksum",
                format!("sha256 {}", Sha256Hex::of(piece)),
            )
            .header("content-type", "application/offset+octet-stream")
            .body(piece.to_vec())
            .send()
            .await
            .unwrap();
        served.note(&r);
        assert!(r.status().is_success(), "chunk {i}: {}", r.status());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_story_through_haproxy_on_two_instances() {
    let mut cluster = Cluster::start().await.unwrap();
    let client = Client::builder().pool_max_idle_per_host(0).build().unwrap();

    // Round robin, no stickiness: consecutive requests go round.
    let mut served = Served::default();
    for _ in 0..6 {
        let r = client.get(cluster.url("/healthz")).send().await.unwrap();
        served.note(&r);
    }
    assert!(served.by_both(), "{served:?}");
    assert!(served.0.values().all(|n| *n <= 4), "{served:?}");

    // Enrolment guesses are counted in the database and by the address the
    // proxy forwards: ten failures from one client, spread over both
    // instances, lock that client out everywhere — and only that client.
    let mut served = Served::default();
    for _ in 0..10 {
        let r = enrol_attempt(&client, &cluster, "198.51.100.7").await;
        served.note(&r);
        assert_eq!(r.status(), 422);
    }
    assert!(served.by_both(), "{served:?}");
    for _ in 0..2 {
        let r = enrol_attempt(&client, &cluster, "198.51.100.7").await;
        assert_eq!(r.status(), 429);
        assert!(r.text().await.unwrap().contains("注册码错误次数过多"));
    }
    assert_eq!(
        enrol_attempt(&client, &cluster, "198.51.100.8")
            .await
            .status(),
        422
    );

    // Enrol and pull through the balancer.
    let draw = admin_get(&client, &cluster, "/api/v1/draws/GXQ-2023-ZBJR-D1").await;
    let task = &draw["tasks"][0];
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    let officer = task["team"][0]["person_id"].as_str().unwrap().to_owned();
    let partner = task["team"][1]["person_id"].as_str().unwrap().to_owned();
    let mut dev = enrol(&client, &cluster.base_url(), cluster.token(), &officer)
        .await
        .unwrap();
    let (bundle, checklist) = dev.pull_task(&task_id).await.unwrap();

    // A whole inspection, pushed; its evidence is missing until uploaded.
    let (record, blobs) = complete_record(&bundle, &checklist, 6_000, 0);
    dev.append(
        EntryPayload::Sealed {
            record: record.clone(),
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(r.results.iter().all(|x| x.verdict.is_confirmed()), "{r:?}");
    assert!(!r.missing_blobs.is_empty());

    // One blob in chunks that alternate between the instances: each
    // continues from the offset the other committed.
    let mut served = Served::default();
    let (first, rest) = blobs.split_first().unwrap();
    patch_all(&client, &cluster, &dev, &first.1, 1_000, &mut served).await;
    assert!(served.by_both(), "{served:?}");
    assert_eq!(
        std::fs::read(cluster.s3_file(first.0.as_str())).unwrap(),
        first.1
    );
    let (last, middle) = rest.split_last().unwrap();
    for (_, bytes) in middle {
        assert!(dev.upload_blob(bytes, 1_000, usize::MAX).await.unwrap());
    }

    // Revocation through one instance: the other refuses, at once, every
    // request that reads or moves data (the token is checked in the
    // database). An empty pull ("nothing new") it may answer from memory
    // until the revocation's notification arrives — milliseconds — and then
    // refuses that too.
    let mut partner_dev = enrol(&client, &cluster.base_url(), cluster.token(), &partner)
        .await
        .unwrap();
    partner_dev.pull_task(&task_id).await.unwrap();
    let direct = |i: usize, path: &str| {
        client
            .get(cluster.instances[i].url(path))
            .bearer_auth(&partner_dev.enrolment.token)
            .send()
    };
    let task_path = format!("/api/v1/device/tasks/{task_id}");
    for i in 0..2 {
        assert_eq!(
            direct(i, "/api/v1/device/pull").await.unwrap().status(),
            200
        );
        assert_eq!(direct(i, &task_path).await.unwrap().status(), 200);
    }
    let revoke = client
        .post(cluster.instances[0].url(&format!(
            "/api/v1/devices/{}/revoke",
            partner_dev.enrolment.device_id
        )))
        .bearer_auth(cluster.token())
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    let refused = direct(1, &task_path).await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.text().await.unwrap().contains("device_revoked"));
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let r = direct(1, "/api/v1/device/pull").await.unwrap();
        if r.status() == 401 {
            assert!(r.text().await.unwrap().contains("device_revoked"));
            break;
        }
        let page: Value = r.json().await.unwrap();
        assert!(page["items"].as_array().unwrap().is_empty(), "{page}");
        assert!(
            Instant::now() < deadline,
            "the revocation never reached instance 2"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // One instance dies in the middle of an upload: the device finishes
    // through the survivor, nothing lost and nothing twice.
    assert!(!dev.upload_blob(&last.1, 1_000, 2).await.unwrap());
    cluster.instances[1].kill();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match dev.upload_blob(&last.1, 1_000, usize::MAX).await {
            Ok(true) => break,
            // Until HAProxy's health check has taken the dead one out.
            Ok(false) | Err(_) => {
                assert!(Instant::now() < deadline, "the upload never finished");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    for (sha, bytes) in &blobs {
        assert_eq!(
            &std::fs::read(cluster.s3_file(sha.as_str())).unwrap(),
            bytes
        );
    }
    let versions = admin_get(
        &client,
        &cluster,
        &format!("/api/v1/records/{}", record.record_id),
    )
    .await;
    assert_eq!(versions[0]["state"], "received", "{versions}");

    // A return and an amendment, through the survivor.
    let version = versions[0]["version"].as_str().unwrap().to_owned();
    let ret = client
        .post(cluster.url(&format!("/api/v1/records/{}/return", record.record_id)))
        .bearer_auth(cluster.token())
        .json(&json!({ "version": version, "comment": "大门照片不清晰，请补拍", "item_comments": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(ret.status(), 200);
    let (_, _, feed) = dev.pull_all().await.unwrap();
    assert!(feed.iter().any(|f| f["kind"] == "returned"), "{feed:?}");
    let mut amended = record.clone();
    let mut new_blobs = Vec::new();
    amended.items.values_mut().next().unwrap().note = Some("已按退回意见补充".into());
    sign(&mut amended, &mut new_blobs);
    dev.append(
        EntryPayload::Amended {
            replaces: Sha256Hex::parse(&version).unwrap(),
            record: amended,
        },
        Utc::now(),
    );
    let r = dev.sync_log().await.unwrap();
    assert!(r.results.iter().all(|x| x.verdict.is_confirmed()), "{r:?}");
    for (_, bytes) in &new_blobs {
        assert!(dev.upload_blob(bytes, 1_000, usize::MAX).await.unwrap());
    }
    let versions = admin_get(
        &client,
        &cluster,
        &format!("/api/v1/records/{}", record.record_id),
    )
    .await;
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");
    assert_eq!(versions[1]["state"], "received", "{versions}");

    // Exactly once: the server's log of the device is the device's log.
    let log = admin_get(
        &client,
        &cluster,
        &format!("/api/v1/devices/{}/log", dev.enrolment.device_id),
    )
    .await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), dev.log.len());
    for (held, wrote) in log.iter().zip(&dev.log) {
        assert_eq!(held["hash"], wrote.hash.as_str());
    }
    let again = dev.sync_log().await.unwrap();
    assert!(
        again
            .results
            .iter()
            .all(|x| x.verdict == EntryVerdict::Duplicate),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_second_server_on_one_sqlite_directory_is_refused_with_a_clear_message() {
    let first = TestServer::start().unwrap();
    let out = Command::new(server_binary().unwrap())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&first.data_dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("已被另一个 choucha-server 进程使用"), "{err}");
    assert!(err.contains("PostgreSQL"), "{err}");
    // The first one is unharmed.
    let r = reqwest::get(first.url("/healthz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Several instances starting together on a fresh database: one migrates,
/// the others wait for it and find the work done; none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_migrate_once() {
    let url = pg::shared().create_database().await.unwrap();
    let dir = TempDir::new("together").unwrap();
    let opens = (0..4).map(|_| Store::open(Some(&url), dir.path()));
    for store in futures_util::future::join_all(opens).await {
        store.unwrap();
    }
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let (applied, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(applied, distinct);
    let shipped =
        std::fs::read_dir(choucha_tests::workspace_root().join("store/migrations/postgres"))
            .unwrap()
            .count() as i64;
    assert_eq!(applied, shipped);
}

/// Rolling upgrade: the next release has migrated (an additive migration
/// this binary does not know); this release still opens the database and
/// serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_release_serves_a_database_the_next_one_migrated() {
    let url = pg::shared().create_database().await.unwrap();
    let next = TempDir::new("next-release").unwrap();
    let shipped = choucha_tests::workspace_root().join("store/migrations/postgres");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, next.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        next.path().join("9000_next_release.sql"),
        "ALTER TABLE records ADD COLUMN next_release_note TEXT;\n\
         CREATE TABLE next_release_things (id TEXT PRIMARY KEY);\n",
    )
    .unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(next.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool.close().await;

    // The whole demo load (imports, a draw) writes through this release.
    let server = TestServer::start_demo(Some(&url)).unwrap();
    let r = Client::new()
        .get(server.url("/api/v1/draws/GXQ-2023-ZBJR-D1"))
        .bearer_auth(server.token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The backup of `docs/deploy.md`, restored once: `pg_dump -Fc` of a
/// serving cluster's database, `pg_restore` into a new one, and a server on
/// the restored database answers as before — the same draw, the same admin
/// token (only its hash is stored), the same device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_dump_restores_into_a_database_that_serves_the_same() {
    let cluster = pg::shared();
    let url = cluster.create_database().await.unwrap();
    let server = TestServer::start_demo(Some(&url)).unwrap();
    let client = Client::new();
    let get = |base: String, token: String| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("{base}/api/v1/draws/GXQ-2023-ZBJR-D1"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let before = get(server.base_url.clone(), server.token().to_owned()).await;
    let officer = before["tasks"][0]["team"][0]["person_id"].as_str().unwrap();
    let dev = enrol(&client, &server.base_url, server.token(), officer)
        .await
        .unwrap();

    let bin = pg::find_bin_dir().unwrap();
    let scratch = TempDir::new("pg-backup").unwrap();
    let dump = scratch.path().join("choucha.dump");
    succeeds(
        Command::new(bin.join("pg_dump"))
            .args(["-Fc", "-f"])
            .arg(&dump)
            .arg(&url),
    );
    let restored = cluster.create_database().await.unwrap();
    succeeds(
        Command::new(bin.join("pg_restore"))
            .args(["--no-owner", "-d", &restored])
            .arg(&dump),
    );

    // The token issued before the backup still works on the restored copy.
    let again = TestServer::start_with(Some(&restored)).unwrap();
    let after = get(again.base_url.clone(), server.token().to_owned()).await;
    assert_eq!(before, after);
    let r = client
        .get(again.url("/api/v1/device/pull"))
        .bearer_auth(&dev.enrolment.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the enrolled device carries on");
}

/// Runs a tool to completion and fails the test with its stderr if it fails.
fn succeeds(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The feed of `token` after `cursor`, read from one instance directly:
/// (cursor, the items' kinds and task IDs).
async fn pull_from(
    client: &Client,
    instance: &TestServer,
    token: &str,
    cursor: i64,
) -> (i64, Vec<(String, String)>) {
    let page: Value = client
        .get(instance.url(&format!("/api/v1/device/pull?cursor={cursor}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let kind = i["kind"].as_str().unwrap_or_default().to_owned();
            let task = i["bundle"]["task"]["task_id"]
                .as_str()
                .or(i["task_id"].as_str())
                .unwrap_or_default()
                .to_owned();
            (kind, task)
        })
        .collect();
    (page["cursor"].as_i64().unwrap(), items)
}

/// `choucha_sync_pulls_from_memory` of one instance.
async fn pulls_from_memory(client: &Client, instance: &TestServer, token: &str) -> u64 {
    let text = client
        .get(instance.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("choucha_sync_pulls_from_memory_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Polls one instance until the feed after `cursor` holds an item of
/// `kind` for `task_id`.
async fn wait_for_item(
    client: &Client,
    instance: &TestServer,
    token: &str,
    cursor: i64,
    kind: &str,
    task_id: &str,
) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (next, items) = pull_from(client, instance, token, cursor).await;
        if items.iter().any(|(k, t)| k == kind && t == task_id) {
            return next;
        }
        assert!(
            Instant::now() < deadline,
            "{kind} of {task_id} never arrived through this instance: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A pull with nothing new is answered from an instance's memory, without
/// PostgreSQL; what another instance adds to the feed still arrives (the
/// database's notification raises what the instance knows), and when the
/// notification connection is cut the instance reads the database again
/// rather than trusting what it may have missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_pulls_skip_the_database_and_miss_nothing() {
    let cluster = Cluster::start().await.unwrap();
    let client = Client::new();
    let draw = admin_get(&client, &cluster, "/api/v1/draws/GXQ-2023-ZBJR-D1").await;
    let tasks = draw["tasks"].as_array().unwrap();
    let officers = |t: &Value| -> Vec<String> {
        t["team"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "officer")
            .map(|m| m["person_id"].as_str().unwrap().to_owned())
            .collect()
    };
    // An officer, the town's other officers (teams are drawn within a
    // town), and a task of the town the officer is not on: replacing one
    // of its seats can only seat the officer.
    let me = officers(&tasks[0])[0].clone();
    let town: std::collections::BTreeSet<String> = tasks
        .iter()
        .map(officers)
        .filter(|o| o.contains(&me))
        .flatten()
        .collect();
    assert_eq!(
        town.len(),
        3,
        "three enforcement officers per town: {town:?}"
    );
    let other = tasks
        .iter()
        .find(|t| {
            let o = officers(t);
            !o.contains(&me) && o.iter().all(|p| town.contains(p))
        })
        .expect("a task of the town without the officer");
    let other_id = other["task_id"].as_str().unwrap().to_owned();
    let leaving = officers(other)[0].clone();

    let dev = enrol(&client, &cluster.base_url(), cluster.token(), &me)
        .await
        .unwrap();
    let token = dev.enrolment.token.clone();
    let second = &cluster.instances[1];
    let mut cursor = 0;
    loop {
        let (next, items) = pull_from(&client, second, &token, cursor).await;
        cursor = next;
        if items.is_empty() {
            break;
        }
    }
    let before = pulls_from_memory(&client, second, cluster.token()).await;
    for _ in 0..5 {
        let (next, items) = pull_from(&client, second, &token, cursor).await;
        assert_eq!((next, items.len()), (cursor, 0));
    }
    let after = pulls_from_memory(&client, second, cluster.token()).await;
    assert!(
        after >= before + 4,
        "empty pulls from memory: {before} → {after}"
    );

    // The first instance seats the officer on another task: the second
    // delivers it on a pull moments later.
    let replace = |reason: &str, leaving: &str| {
        client
            .post(cluster.instances[0].url("/api/v1/draws/GXQ-2023-ZBJR-D1/replacements"))
            .bearer_auth(cluster.token())
            .json(&json!({ "task_id": other_id, "leaving": leaving, "reason": reason }))
            .send()
    };
    let r = replace("因病无法到场", &leaving).await.unwrap();
    assert_eq!(r.status(), 201);
    let joined: Value = r.json().await.unwrap();
    assert_eq!(joined["joining"]["person_id"], me.as_str());
    cursor = wait_for_item(&client, second, &token, cursor, "task_assigned", &other_id).await;

    // The notification connections are cut: the instances read the
    // database until they are back, and nothing added meanwhile is missed.
    let db = sqlx::PgPool::connect(&cluster.database_url).await.unwrap();
    let (cut,): (i64,) = sqlx::query_as(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(cut >= 2, "both instances listen: {cut}");
    let r = replace("发现利害关系", &me).await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    wait_for_item(&client, second, &token, cursor, "task_withdrawn", &other_id).await;
    db.close().await;
}
