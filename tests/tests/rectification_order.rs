//! 责令整改通知书 on both sides (issue #19): the tablet writes the order for a
//! record offline (the app core's call, with the target as its task bundle
//! carries it); the server writes it from the synced record
//! (`/console/records/{id}/orders/1`). Both PDFs read back with `pdftotext`
//! give the same text, name the company, the order number and the
//! officers, and are PDF/A (the library's validator passed them).

use chrono::{Duration, Utc};
use uuid::Uuid;

use choucha_shared::record::{Disposition, Finding};
use choucha_shared::sync::EntryPayload;
use choucha_shared::value::CivilDate;
use choucha_tests::TestServer;
use choucha_tests::console::{
    PASSWORD, Session, demo_task, device_for, push, set_demo_passwords, with_photos,
};
use choucha_tests::device::complete_record;

mod console_support;

const ORDER_NO: &str = "渝高新市监责改〔2026〕17号";

fn text_of(pdf: &[u8], name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, pdf).unwrap();
    choucha_tests::pdf_text::pages(&path).unwrap().join("\u{c}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tablet_and_the_server_write_the_same_order() {
    let server = TestServer::start_demo(None).expect("demo server");
    set_demo_passwords(&server).unwrap();
    let task = demo_task(&server, "西永街道").await.unwrap();
    let (mut device, bundle, checklist) = device_for(&server, &task).await.unwrap();
    let (mut record, _) = complete_record(&bundle, &checklist, 1_000, 0);
    let item = record.items.keys().next().cloned();
    record.findings.push(Finding {
        finding_id: Uuid::now_v7(),
        item_id: item,
        description: "电子计价秤2台超过检定周期仍在使用".into(),
        disposition: Disposition::RectificationOrder {
            order_no: ORDER_NO.into(),
            deadline: CivilDate::new((Utc::now() + Duration::days(10)).date_naive()).unwrap(),
            requirements: "停止使用超期计量器具，并申请检定".into(),
            follow_up: None,
        },
    });
    let images: Vec<_> = (0..record.photos.len() as u32)
        .map(|i| console_support::jpeg(700 + i))
        .collect();
    let blobs = with_photos(&mut record, &images, task.location, task.location);
    push(
        &mut device,
        EntryPayload::Sealed {
            record: record.clone(),
        },
        &blobs,
    )
    .await
    .unwrap();

    // The tablet: offline, from its own copy of the record and task.
    // The bureau's name as both sides are configured with it (the test
    // server runs with the default settings; a tablet enters it once).
    let authority = choucha_sync_server::oversight::OversightConfig::default().authority;
    let tablet =
        choucha_app_core::rectification::orders(&record, &bundle.target, &checklist, &authority)
            .unwrap();
    assert_eq!(tablet.len(), 1);
    let tablet_pdf = tablet[0].pdf().unwrap();

    // The server: from the synced record, as the quality section downloads it.
    let admin = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let rid = record.record_id;
    let (_, page) = admin.get(&format!("/console/records/{rid}")).await.unwrap();
    assert!(
        page.contains(&format!("/console/records/{rid}/orders/1")),
        "the record links its order"
    );
    assert!(page.contains(ORDER_NO));
    let (status, server_pdf) = admin
        .get_bytes(&format!("/console/records/{rid}/orders/1"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(server_pdf.starts_with(b"%PDF-"));
    let (status, _) = admin
        .get_bytes(&format!("/console/records/{rid}/orders/2"))
        .await
        .unwrap();
    assert_eq!(status, 404, "there is one order");

    let on_tablet = text_of(&tablet_pdf, "tablet.pdf");
    let on_server = text_of(&server_pdf, "server.pdf");
    assert_eq!(on_tablet, on_server, "the same order, word for word");
    let flat: String = on_server.chars().filter(|c| !c.is_whitespace()).collect();
    for needed in [
        ORDER_NO,
        bundle.target.name.as_str(),
        "停止使用超期计量器具，并申请检定",
        "执法证号",
        authority.as_str(),
    ] {
        assert!(flat.contains(needed), "{needed}: {on_server}");
    }
    // The officers sign it with their credential numbers; an expert does not.
    for m in &record.team {
        let named = flat.contains(m.name.as_str()) && flat.contains(m.person_id.as_str());
        match m.role {
            choucha_shared::plan::MemberRole::Officer => {
                assert!(named, "{} signs the order", m.name)
            }
            choucha_shared::plan::MemberRole::Expert => {
                assert!(
                    !flat.contains(m.person_id.as_str()),
                    "{} is an expert",
                    m.name
                )
            }
        }
    }
}
