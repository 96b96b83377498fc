//! Consultation (咨询, seed §五(三)) end to end, on every deployment: an
//! officer asks the quality section about a checklist item from the field
//! app's engine while offline, with a photo; the question syncs once; the
//! quality section sees it waiting in the console, with the photo, and
//! answers with the legal basis; the tablet gets the answer on its next
//! pull and shows it with the question. A town lead sees and answers only
//! their own town's questions — another town's is not found, by URL too.
//! The quality section then makes the answer an entry of the checklist's
//! FAQ (常见问题), reworded; every officer with a task on that checklist
//! gets it — the partner's tablet too — numbered in the checklist's FAQ.

use chrono::Utc;

use choucha_app_core::consult::About;
use choucha_tests::Deployment;
use choucha_tests::console::{PASSWORD, Session, demo_task, set_demo_passwords};
use choucha_tests::field::{admin_get, camera_jpeg, sync_all, tablet};

choucha_tests::on_every_deployment!(a_question_from_the_field_is_answered);

const QUESTION: &str = "该企业加油机检定合格标志过期 3 天，但已预约复检，能否判定为符合？";
const ANSWER: &str = "不能判定为符合：检定合格标志过期即属未按规定申请检定，应判不符合并责令改正。";
const BASIS: &str = "《中华人民共和国计量法》第九条";

async fn a_question_from_the_field_is_answered(at: Deployment) {
    let server = at.start_demo().await.expect("demo server");
    let task = demo_task(&server, "西永街道").await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let app = tablet(&server, &task.officer_id, root.path(), "平板一")
        .await
        .unwrap();
    let bundle = app.task(&task.task_id).unwrap();
    let checklist = app.checklist(&bundle.task.checklist).unwrap();
    let item = checklist.items().next().unwrap().id.clone();

    // Offline: asked, kept, waiting in the log.
    let about = About {
        task_id: task.task_id.clone(),
        item_id: Some(item.clone()),
        finding_id: None,
    };
    let wrong = About {
        item_id: Some("NO-9.99".into()),
        ..about.clone()
    };
    let refused = app.ask(&wrong, QUESTION, &[], Utc::now()).unwrap_err();
    assert!(refused.to_string().contains("NO-9.99"), "{refused}");
    assert!(app.ask(&about, "  ", &[], Utc::now()).is_err(), "no words");
    let photo = camera_jpeg(31, 800, 600);
    let qid = app
        .ask(&about, QUESTION, std::slice::from_ref(&photo), Utc::now())
        .unwrap();
    assert_eq!(app.progress().unwrap().entries_left, 1);
    assert_eq!(app.progress().unwrap().blobs_left, 1);
    sync_all(&app).await.unwrap();
    assert!(app.refused_entries().unwrap().is_empty());

    // The quality section: waiting, with the photo; answered.
    set_demo_passwords(&server).unwrap();
    let s = Session::login(&server.base_url, "zhiliangke", PASSWORD)
        .await
        .unwrap();
    let (status, html) = s.get("/console/questions").await.unwrap();
    assert_eq!(status, 200);
    assert!(html.contains(&format!("data-question=\"{qid}\"")), "{html}");
    assert!(html.contains("已等待"), "{html}");
    let (status, html) = s.get(&format!("/console/questions/{qid}")).await.unwrap();
    assert_eq!(status, 200);
    assert!(html.contains(QUESTION) && html.contains(&item), "{html}");
    let photo_path = html
        .split("id=\"question-photos\"")
        .nth(1)
        .and_then(|p| p.split("src=\"").nth(1))
        .and_then(|p| p.split('"').next())
        .expect("the photo")
        .to_owned();
    let (status, _) = s.get(&photo_path).await.unwrap();
    assert_eq!(status, 200, "the photo arrived with the question");

    // Another town's lead: not found, by URL too; their own town's lead
    // sees it.
    let other = Session::login(&server.base_url, "huxi", PASSWORD)
        .await
        .unwrap();
    let (_, list) = other.get("/console/questions").await.unwrap();
    assert!(!list.contains(&qid.to_string()), "{list}");
    let (status, _) = other
        .get(&format!("/console/questions/{qid}"))
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = other.get(&photo_path).await.unwrap();
    assert_eq!(status, 404);
    let (status, _) = other
        .post(
            &format!("/console/questions/{qid}/answer"),
            &[("text", "越权答复"), ("answered_by", "虎溪")],
        )
        .await
        .unwrap();
    assert_eq!(status, 404);
    let own = Session::login(&server.base_url, "xiyong", PASSWORD)
        .await
        .unwrap();
    let (status, _) = own.get(&format!("/console/questions/{qid}")).await.unwrap();
    assert_eq!(status, 200);

    // Answered with an image (the standard's page); a file that is not an
    // image is refused by name and nothing is kept.
    let fields = [
        ("text", ANSWER),
        ("basis", BASIS),
        ("answered_by", "质量科 王建国"),
    ];
    let (status, html) = s
        .post_multipart(
            &format!("/console/questions/{qid}/answer"),
            &fields,
            &[("attachment", "规程.docx", b"PK\x03\x04 not an image")],
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("规程.docx"), "{html}");
    let page_image = camera_jpeg(88, 640, 480);
    let (status, html) = s
        .post_multipart(
            &format!("/console/questions/{qid}/answer"),
            &fields,
            &[("attachment", "JJG443-2015第5页.jpg", &page_image)],
        )
        .await
        .unwrap();
    assert_eq!(status, 303, "{html}");
    let (_, html) = s.get(&format!("/console/questions/{qid}")).await.unwrap();
    assert!(html.contains("id=\"answer-attachments-shown\""), "{html}");
    let (_, html) = s.get(&format!("/console/questions/{qid}")).await.unwrap();
    assert!(
        html.contains(ANSWER) && html.contains(BASIS) && html.contains("用时"),
        "{html}"
    );
    let (status, html) = s
        .post(
            &format!("/console/questions/{qid}/answer"),
            &[("text", "再答一次"), ("answered_by", "质量科")],
        )
        .await
        .unwrap();
    assert_eq!(status, 409, "answered once: {html}");
    let (_, list) = s.get("/console/questions").await.unwrap();
    assert!(
        !list.contains(&qid.to_string()),
        "no longer waiting: {list}"
    );
    let (_, audit) = s
        .get(&format!("/console/audit?object=question:{qid}"))
        .await
        .unwrap();
    assert!(audit.contains("data-action=\"question.answer\""), "{audit}");

    // The tablet: the answer on the next pull, with its question.
    let http = choucha_app_core::sync::http_client();
    let report = app.sync_once(&http).await.unwrap();
    assert_eq!(report.answers, 1, "{report:?}");
    let views = app.questions(&task.task_id).unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].question.question_id, qid);
    let answer = views[0].answer.as_ref().expect("answered");
    assert_eq!(answer.text, ANSWER);
    assert_eq!(answer.basis.as_deref(), Some(BASIS));
    assert_eq!(answer.item_id.as_deref(), Some(item.as_str()));
    // Its image came with it, into the tablet's evidence store.
    assert_eq!(answer.attachments.len(), 1);
    assert_eq!(report.attachments, 1, "{report:?}");
    assert_eq!(app.evidence(&answer.attachments[0]).unwrap(), page_image);
    let again = app.sync_once(&http).await.unwrap();
    assert_eq!((again.answers, again.attachments), (0, 0), "once");

    // The FAQ: a town lead may not publish for every officer; the quality
    // section does, reworded without the company.
    let faq_path = format!("/console/questions/{qid}/faq");
    let faq_q = "加油机检定合格标志过期但已预约复检，能否判定为符合？";
    let (status, _) = own
        .post(&faq_path, &[("question", faq_q), ("answer", ANSWER)])
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = s
        .post(&faq_path, &[("question", faq_q), ("answer", ANSWER)])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let (_, html) = s.get(&format!("/console/questions/{qid}")).await.unwrap();
    assert!(html.contains("id=\"faq-published\""), "{html}");
    let (status, _) = s
        .post(&faq_path, &[("question", faq_q), ("answer", ANSWER)])
        .await
        .unwrap();
    assert_eq!(status, 409, "published once");

    // The partner's tablet gets it with the checklist; so does the asker's.
    let draw = admin_get(&server, "/api/v1/draws/GXQ-2023-ZBJR-D1")
        .await
        .unwrap();
    let partner = draw["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_id"] == task.task_id.as_str())
        .unwrap()["team"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "officer")
        .map(|m| m["person_id"].as_str().unwrap().to_owned())
        .find(|p| p != &task.officer_id)
        .unwrap();
    let other_app = tablet(&server, &partner, root.path(), "平板二")
        .await
        .unwrap();
    for tab in [&app, &other_app] {
        tab.sync_once(&http).await.unwrap();
        let faq = tab.faq(&checklist.id).unwrap();
        assert_eq!(faq.len(), 1, "{faq:?}");
        assert_eq!(faq[0].seq, 1);
        assert_eq!(faq[0].item_id, item);
        assert_eq!(faq[0].question, faq_q);
        assert_eq!(faq[0].basis.as_deref(), Some(BASIS));
    }
}
