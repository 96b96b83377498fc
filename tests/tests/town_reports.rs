//! 镇街报告 (seed §五(四)) end to end on every deployment: the plan's
//! deadline has passed, so every town is listed late; 西永街道's lead drafts
//! the report (figures from the records, the analysis in their words),
//! cannot submit it empty, signs and submits it — the figures frozen — and
//! cannot change it then; the quality section returns it with comments; the
//! lead amends and submits again; the list shows it submitted (late), the
//! audit log every step, and the XLSX and the PDF every town's report and
//! the total.
//! Another town's lead cannot read or write it, by URL either.

mod console_support;

use calamine::{Reader, Xlsx};

use choucha_tests::Deployment;
use choucha_tests::console::{PASSWORD, Session, set_demo_passwords};
use console_support::sync_far_record;

const TOWN: &str = "西永街道";
const PLAN: &str = "GXQ-2023-ZBJR";

choucha_tests::on_every_deployment!(a_town_report_is_drafted_submitted_returned_and_resubmitted);

/// Percent-encodes a path segment or query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn a_town_report_is_drafted_submitted_returned_and_resubmitted(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    set_demo_passwords(&server).unwrap();
    sync_far_record(&server, TOWN, 7).await;
    let quality = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let lead = Session::login(&server.base_url, "xiyong", PASSWORD)
        .await
        .unwrap();
    let other = Session::login(&server.base_url, "huxi", PASSWORD)
        .await
        .unwrap();
    let list = format!("/console/town-reports?plan={PLAN}");
    let path = format!("/console/town-reports/{PLAN}/{}", enc(TOWN));

    // The seed's deadline (2024-01-31) is long past: every town is late.
    let (status, page) = quality.get(&list).await.unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("2024-01-31"), "{page}");
    let late = page
        .split("id=\"late-towns\"")
        .nth(1)
        .expect("late towns listed");
    assert!(late.contains(TOWN) && late.contains("虎溪街道"), "{page}");
    assert!(
        page.contains(&format!(
            "data-town=\"{TOWN}\" data-state=\"not_started\" data-late=\"true\""
        )),
        "{page}"
    );

    // The lead goes to their own report; the figures come from the records.
    let (status, _) = lead.get("/console/town-reports").await.unwrap();
    assert_eq!(status, 303);
    let (status, page) = lead.get(&path).await.unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"report-figures\""), "{page}");
    let (status, _) = lead
        .post(&format!("{path}/submit"), &[("signed_by", "张西永")])
        .await
        .unwrap();
    assert_eq!(status, 400, "nothing written yet");
    let analysis = "本次抽查发现计量器具超期未检定问题较为集中，主要原因是企业计量管理制度不健全。";
    let measures = "已责令限期整改，组织辖区加油站开展计量器具自查。";
    let (status, _) = lead
        .post(
            &format!("{path}/save"),
            &[("analysis", analysis), ("measures", measures)],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, page) = lead.get(&path).await.unwrap();
    assert!(
        page.contains(analysis) && page.contains("data-state=\"draft\""),
        "{page}"
    );

    // Another town's lead: nothing, by URL either.
    let (status, _) = other.get(&path).await.unwrap();
    assert_eq!(status, 404);
    let (status, _) = other
        .post(
            &format!("{path}/save"),
            &[("analysis", "篡改"), ("measures", "")],
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = other.get(&format!("{path}/report.xlsx")).await.unwrap();
    assert_eq!(status, 404);

    // Signed and submitted: frozen until returned.
    let (status, _) = lead
        .post(&format!("{path}/submit"), &[("signed_by", "张西永")])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, page) = lead.get(&path).await.unwrap();
    assert!(
        page.contains("data-state=\"submitted\"") && page.contains("张西永"),
        "{page}"
    );
    assert!(!page.contains("id=\"report-form\""), "{page}");
    let (status, _) = lead
        .post(
            &format!("{path}/save"),
            &[("analysis", "改"), ("measures", "")],
        )
        .await
        .unwrap();
    assert_eq!(status, 409);
    let (status, _) = lead
        .post(&format!("{path}/return"), &[("comment", "自己退回")])
        .await
        .unwrap();
    assert_eq!(status, 403, "a lead cannot return");

    // The quality section returns it with comments.
    let (status, _) = quality
        .post(&format!("{path}/return"), &[("comment", "  ")])
        .await
        .unwrap();
    assert_eq!(status, 400, "a comment is required");
    let comment = "请补充不配合检查企业的处置情况";
    let (status, _) = quality
        .post(&format!("{path}/return"), &[("comment", comment)])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, page) = lead.get(&path).await.unwrap();
    assert!(
        page.contains(comment) && page.contains("data-state=\"returned\""),
        "{page}"
    );
    let amended = format!("{analysis}不配合检查的企业已移交执法大队立案。");
    let (status, _) = lead
        .post(
            &format!("{path}/save"),
            &[("analysis", amended.as_str()), ("measures", measures)],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (status, _) = lead
        .post(&format!("{path}/submit"), &[("signed_by", "张西永")])
        .await
        .unwrap();
    assert_eq!(status, 303);

    // Submitted after the deadline: listed submitted and late.
    let (_, page) = quality.get(&list).await.unwrap();
    assert!(
        page.contains(&format!(
            "data-town=\"{TOWN}\" data-state=\"submitted\" data-late=\"true\""
        )),
        "{page}"
    );
    // A deadline still ahead: nobody is late.
    let (status, _) = quality
        .post(
            &format!("/console/town-reports/{PLAN}/due"),
            &[("due", "2099-12-31")],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, page) = quality.get(&list).await.unwrap();
    assert!(!page.contains("id=\"late-towns\""), "{page}");
    let (status, _) = quality
        .post(
            &format!("/console/town-reports/{PLAN}/due"),
            &[("due", "明天")],
        )
        .await
        .unwrap();
    assert_eq!(status, 400);

    // Every step audited.
    let (_, audit) = quality
        .get(&format!(
            "/console/audit?object={}",
            enc(&format!("town_report:{PLAN}/{TOWN}"))
        ))
        .await
        .unwrap();
    for action in [
        "town_report.save",
        "town_report.submit",
        "town_report.return",
    ] {
        assert!(
            audit.contains(&format!("data-action=\"{action}\"")),
            "{action} in {audit}"
        );
    }

    // The workbook: the total sheet and one sheet per town.
    let (status, bytes) = quality
        .get_bytes(&format!("/console/town-reports/{PLAN}/all.xlsx"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let names = book.sheet_names();
    assert_eq!(names[0], "汇总");
    let total = book.worksheet_range("汇总").unwrap();
    let rows: Vec<Vec<String>> = total
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let town_row = rows
        .iter()
        .find(|r| r.first().map(String::as_str) == Some(TOWN))
        .unwrap();
    assert_eq!(town_row[1], "已报送");
    assert_eq!(town_row[3], "张西永");
    assert!(
        rows.iter()
            .any(|r| r.first().map(String::as_str) == Some("合计"))
    );
    let sheet = names
        .iter()
        .find(|n| n.contains(TOWN))
        .expect("the town's sheet")
        .clone();
    let text: String = book
        .worksheet_range(&sheet)
        .unwrap()
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        .collect();
    assert!(text.contains("不配合检查的企业已移交"), "{text}");
    // The PDF: the combined report, then each town's on its own page.
    let (status, bytes) = quality
        .get_bytes(&format!("/console/town-reports/{PLAN}/all.pdf"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let pdf = bytes;
    assert!(pdf.starts_with(b"%PDF"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("town-reports.pdf");
    std::fs::write(&file, &pdf).unwrap();
    // Wrapped lines joined again.
    let text: String = pdf_extract::extract_text(&file)
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for part in [
        "各镇街监督检查情况报告汇总",
        TOWN,
        "签发人",
        "不配合检查的企业已移交",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    // A lead's workbook holds their town only.
    let (status, bytes) = other
        .get_bytes(&format!("/console/town-reports/{PLAN}/all.xlsx"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert!(
        !book.sheet_names().iter().any(|n| n.contains(TOWN)),
        "{:?}",
        book.sheet_names()
    );
}
