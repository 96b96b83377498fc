//! A scripted workload for crash tests: the tests run it as a child process,
//! kill it with SIGKILL at random moments, then reopen the store and check
//! that nothing acknowledged was lost and everything is consistent.
//!
//! `choucha-app-workload DATA_DIR KEY_FILE write N` — N verdict/photo
//! actions, printing `ack <i>` after each one is committed.
//! `choucha-app-workload DATA_DIR KEY_FILE sync` — syncs until nothing is
//! left, printing `synced`.

use std::io::Write;
use std::path::Path;

use choucha_app_core::App;
use choucha_app_core::testkit::{give_tasks, offline_enrolment};
use choucha_shared::TargetCategory;
use choucha_shared::checklist::Verdict;
use choucha_shared::record::PhotoSubject;
use chrono::Utc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: choucha-app-workload DATA_DIR KEY_FILE (write N | sync)".into());
    }
    let app = App::open(Path::new(&args[1]), Path::new(&args[2]))?;
    let mut out = std::io::stdout();
    match args[3].as_str() {
        "write" => {
            let n: usize = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(100);
            if app.enrolment()?.is_none() {
                offline_enrolment(&app)?;
                give_tasks(&app, TargetCategory::Metrology, 1)?;
            }
            let id = app.start_task("TEST-D1-0000", Utc::now())?;
            let record = app.record(&id)?;
            let checklist = app.checklist(&record.checklist)?;
            let items: Vec<String> = checklist.items().map(|i| i.id.clone()).collect();
            let start = app.log()?.len();
            for i in start..start + n {
                if i % 5 == 4 {
                    let bytes = format!("photo {i} ").repeat(2000).into_bytes();
                    let meta = choucha_app_core::PhotoMeta {
                        taken_at: Utc::now(),
                        gps: None,
                        gps_time: None,
                        width: 10,
                        height: 10,
                    };
                    app.attach_photo(&id, PhotoSubject::Process, &bytes, meta, Utc::now())?;
                } else {
                    let item = &items[i % items.len()];
                    app.set_item(
                        &id,
                        item,
                        Some(Verdict::Conform),
                        Some(format!("n{i}")),
                        Utc::now(),
                    )?;
                }
                writeln!(out, "ack {i}")?;
                out.flush()?;
            }
        }
        "sync" => {
            let http = choucha_app_core::sync::http_client();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            loop {
                let report = rt.block_on(app.sync_once(&http))?;
                let p = report.progress;
                if p.entries_left == 0 && p.blobs_left == 0 {
                    break;
                }
            }
            writeln!(out, "synced")?;
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    Ok(())
}
