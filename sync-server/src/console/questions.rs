//! Questions from the field (咨询, seed §五(三)): the quality section sees
//! what officers asked on site — waiting ones first, oldest first, with how
//! long they have waited — and answers with the legal basis; the answer
//! reaches the tablet on its next pull. A town lead sees and answers only
//! their town's questions (another town's is "not found", by URL too).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use choucha_shared::value::Sha256Hex;

use super::auth::{CurrentUser, Role};
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::service;
use crate::store::consult::{QuestionFilter, QuestionRow};

/// Who may answer (a town lead for their own town).
const WRITERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::TownLead];
/// Who may make an answer guidance for every officer (the quality section).
const FAQ_EDITORS: &[Role] = &[Role::Admin, Role::Supervisor];

/// "3 小时 20 分" for a wait or a response time.
fn duration_label(lang: Lang, d: chrono::Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match lang {
        Lang::Zh if days > 0 => format!("{days} 天 {hours} 小时"),
        Lang::Zh if hours > 0 => format!("{hours} 小时 {mins} 分"),
        Lang::Zh => format!("{mins} 分钟"),
        _ if days > 0 => format!("{days} d {hours} h"),
        _ if hours > 0 => format!("{hours} h {mins} min"),
        _ => format!("{mins} min"),
    }
}

fn cst(t: chrono::DateTime<chrono::Utc>) -> String {
    choucha_shared::value::china_minute(t)
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    town: Option<String>,
    /// `all` to include the answered ones.
    #[serde(default)]
    show: Option<String>,
}

/// The question list.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Query(q): Query<ListQuery>,
) -> ConsoleResult<Response> {
    // A town lead's own town, whatever the query says.
    let town = match user.jurisdiction_filter() {
        Some(own) => Some(own.to_owned()),
        None => q.town.filter(|t| !t.trim().is_empty()),
    };
    let open_only = q.show.as_deref() != Some("all");
    let rows = state
        .store
        .questions(&QuestionFilter {
            town: town.clone(),
            open_only,
        })
        .await?;
    let now = chrono::Utc::now();
    let waiting = rows.iter().filter(|r| r.answer.is_none()).count();
    let body = html! {
        p #questions-summary {
            (lang.t("待答复 ", "Waiting: ")) strong #waiting-count { (waiting) }
            @if let Some(t) = &town { " · " (t) }
            " · "
            @if open_only { a href="/console/questions?show=all" { (lang.t("含已答复", "Include answered")) } }
            @else { a href="/console/questions" { (lang.t("只看待答复", "Waiting only")) } }
        }
        table #questions {
            tr {
                th { (lang.t("提问时间", "Asked")) } th { (lang.t("镇街", "Town")) } th { (lang.t("检查对象", "Target")) }
                th { (lang.t("检查项", "Item")) } th { (lang.t("问题", "Question")) } th { (lang.t("提问人", "Officer")) }
                th { (lang.t("等待 / 答复用时", "Waiting / answered in")) }
            }
            @for r in &rows {
                tr data-question=(r.question_id) class=[r.answer.is_none().then_some("waiting")] {
                    td { (cst(r.asked_at)) }
                    td { (r.jurisdiction) }
                    td { (r.target_name.as_deref().unwrap_or("")) }
                    td { code { (r.item_id.as_deref().unwrap_or("—")) } }
                    td { a href={ "/console/questions/" (r.question_id) } { (excerpt(&r.text)) } }
                    td { (r.officer_name.as_deref().unwrap_or(&r.officer_id)) }
                    td {
                        @match r.response_time() {
                            Some(d) => span.ok { (lang.t("已答复，用时 ", "answered in ")) (duration_label(lang, d)) },
                            None => span.flag { (lang.t("已等待 ", "waiting ")) (duration_label(lang, now - r.received_at)) },
                        }
                    }
                }
            }
        }
        @if rows.is_empty() { p.muted #no-questions { (lang.t("没有问题。", "No questions.")) } }
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            lang.t("现场咨询", "Questions from the field"),
            body,
        ),
    ))
}

fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        s.push('…');
    }
    s
}

/// A question the user may see: a town lead only their town's.
async fn visible(state: &AppState, user: &CurrentUser, id: &str) -> ConsoleResult<QuestionRow> {
    let id: Uuid = id.parse().map_err(|_| ConsoleError::not_found())?;
    let q = state
        .store
        .question(&id)
        .await
        .map_err(|_| ConsoleError::not_found())?;
    if user
        .jurisdiction_filter()
        .is_some_and(|own| own != q.jurisdiction)
    {
        return Err(ConsoleError::not_found());
    }
    Ok(q)
}

/// One question, its photos, and the answer or the form to answer it.
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    let q = visible(&state, &user, &id).await?;
    let faq = state.store.faq_entry(&q.question_id.to_string()).await?;
    let body = html! {
        table #question {
            tr { th { (lang.t("任务", "Task")) } td { code { (q.task_id) } } }
            tr { th { (lang.t("检查对象", "Target")) } td { (q.target_name.as_deref().unwrap_or("")) " · " (q.jurisdiction) } }
            tr { th { (lang.t("检查项", "Item")) } td { code { (q.item_id.as_deref().unwrap_or("—")) } } }
            tr { th { (lang.t("提问人", "Officer")) } td { (q.officer_name.as_deref().unwrap_or(&q.officer_id)) } }
            tr { th { (lang.t("提问时间", "Asked")) } td { (cst(q.asked_at)) (lang.t("（服务器收到 ", " (received ")) (cst(q.received_at)) (lang.t("）", ")")) } }
            tr { th { (lang.t("问题", "Question")) } td #question-text { (q.text) } }
        }
        @if !q.photos.is_empty() {
            p #question-photos {
                @for sha in &q.photos {
                    a href={ "/console/questions/" (q.question_id) "/photos/" (sha) } {
                        img src={ "/console/questions/" (q.question_id) "/photos/" (sha) } width="240" alt=(lang.t("现场照片", "Photo"));
                    }
                    " "
                }
            }
        }
        @match &q.answer {
            Some(a) => {
                h2 { (lang.t("答复", "Answer")) }
                div #answer {
                    p #answer-text { (a.text) }
                    @if let Some(b) = &a.basis { p { (lang.t("依据：", "Basis: ")) span #answer-basis { (b) } } }
                    @if !a.attachments.is_empty() {
                        p #answer-attachments-shown {
                            @for sha in &a.attachments {
                                a href={ "/console/questions/" (q.question_id) "/photos/" (sha) } {
                                    img src={ "/console/questions/" (q.question_id) "/photos/" (sha) } width="240" alt=(lang.t("答复附件", "Attachment"));
                                }
                                " "
                            }
                        }
                    }
                    p.muted { (a.answered_by) " · " (cst(a.answered_at))
                        @if let Some(d) = q.response_time() { (lang.t("，用时 ", ", in ")) (duration_label(lang, d)) } }
                }
                @match &faq {
                    Some(f) => p.ok #faq-published { (lang.t("已收入检查表 ", "In the FAQ of checklist ")) code { (f.checklist_id) } (lang.t(" 的常见问题（第 ", " (entry ")) (f.seq) (lang.t(" 条），随检查表发给全体执法人员。", "), sent with the checklist to every officer.")) },
                    None => {
                        @if q.item_id.is_some() && FAQ_EDITORS.contains(&user.role) {
                            (faq_form(lang, &user, &q, a))
                        }
                    }
                }
            }
            None => {
                @if WRITERS.contains(&user.role) { (answer_form(lang, &user, &q)) }
            }
        }
        p { a href="/console/questions" { (lang.t("返回问题列表", "Back to the questions")) } }
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            lang.t("现场咨询", "Question from the field"),
            body,
        ),
    ))
}

fn answer_form(lang: Lang, user: &CurrentUser, q: &QuestionRow) -> Markup {
    html! {
        h2 { (lang.t("答复", "Answer")) }
        form method="post" enctype="multipart/form-data" action={ "/console/questions/" (q.question_id) "/answer?csrf=" (user.csrf_token) } #answer-form {
            p { label { (lang.t("答复内容", "Answer")) br; textarea name="text" #answer-input rows="5" cols="70" required {} } }
            p { label { (lang.t("依据（法律法规、标准条款）", "Basis (law, rule, standard clause)")) br; input name="basis" #basis-input size="70"; } }
            p { label { (lang.t("答复人（显示给执法人员）", "Answered by (shown to the officer)")) br;
                input name="answered_by" #answered-by value={ (lang.t("质量科 ", "Quality section ")) (user.username) } size="40" required; } }
            p { label { (lang.t("附件（图片，如标准条文页、合格标识样例；最多 6 张）", "Images (a page of the standard, a correct label; up to 6)")) br;
                input type="file" name="attachment" #answer-attachments accept="image/jpeg,image/png" multiple; } }
            p { button type="submit" #answer-submit { (lang.t("发送答复", "Send the answer")) } }
        }
    }
}

/// Making the answer guidance for every officer, worded for them.
fn faq_form(
    lang: Lang,
    user: &CurrentUser,
    q: &QuestionRow,
    a: &choucha_shared::consult::Answer,
) -> Markup {
    html! {
        h2 { (lang.t("收入常见问题", "Add to the FAQ")) }
        p.muted { (lang.t("收入后作为该检查项的常见问题，随检查表发给所有执法人员。可先修改措辞（不写具体企业）。", "The entry is attached to the item and sent with the checklist to every officer. Reword it first if needed (no company names).")) }
        form method="post" action={ "/console/questions/" (q.question_id) "/faq" } #faq-form {
            (csrf_field(user))
            p { label { (lang.t("问题", "Question")) br; textarea name="question" #faq-question rows="3" cols="70" required { (q.text) } } }
            p { label { (lang.t("答复", "Answer")) br; textarea name="answer" #faq-answer rows="4" cols="70" required { (a.text) } } }
            p { button type="submit" #faq-publish { (lang.t("收入常见问题", "Add to the FAQ")) } }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct FaqForm {
    question: String,
    answer: String,
}

/// Publishes the answered question as an FAQ entry of its checklist.
pub async fn publish_faq(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<FaqForm>,
) -> ConsoleResult<Response> {
    user.require(FAQ_EDITORS)?;
    let q = visible(&state, &user, &id).await?;
    service::consult::publish_faq(
        &state.store,
        &user.actor(),
        &q.question_id,
        &form.question,
        &form.answer,
    )
    .await?;
    Ok(Redirect::to(&format!("/console/questions/{}", q.question_id)).into_response())
}

/// Records the answer, with its images if the form sent any (multipart);
/// the officer gets it on the next pull.
pub async fn answer(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    let q = visible(&state, &user, &id).await?;
    let form = super::upload::Upload::read_any(request).await?;
    let field = |name: &str| form.field(name).unwrap_or_default();
    service::consult::answer(
        &state.store,
        state.uploads.store().as_ref(),
        &user.actor(),
        &q.question_id,
        field("text"),
        form.field("basis"),
        field("answered_by"),
        &form.attachments,
    )
    .await?;
    Ok(Redirect::to(&format!("/console/questions/{}", q.question_id)).into_response())
}

/// A photo of a question the user may see.
pub async fn photo(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, sha)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    let q = visible(&state, &user, &id).await?;
    let sha = Sha256Hex::parse(&sha).map_err(|_| ConsoleError::not_found())?;
    let attached = q
        .answer
        .as_ref()
        .is_some_and(|a| a.attachments.contains(&sha));
    if !q.photos.contains(&sha) && !attached {
        return Err(ConsoleError::not_found());
    }
    super::upload::evidence(&state, &sha).await
}
