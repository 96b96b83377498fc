//! Escalations (上报, seed §五(三)): raising one from a record, the list
//! (open ones first, at the top of the home page too), and one escalation
//! with its alerts — every attempt — its control measures (应急管控) with
//! owners and due dates, and the close that needs an outcome. A town lead
//! sees and works only their town's.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use choucha_shared::Sha256Hex;
use choucha_shared::escalation::EscalationKind;

use super::auth::{CurrentUser, Role};
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::service;
use crate::store::escalation::EscalationRow;

/// Who may raise and work escalations (a town lead in their town).
const WRITERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::TownLead];

fn kind_label(lang: Lang, k: EscalationKind) -> &'static str {
    lang.t(k.label_zh(), k.label_en())
}

fn cst(t: chrono::DateTime<chrono::Utc>) -> String {
    choucha_shared::value::china_minute(t)
}

/// Open escalations the user may see (for the home page's banner).
pub async fn open_count(state: &AppState, user: &CurrentUser) -> usize {
    state
        .store
        .escalations(user.jurisdiction_filter(), true)
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

/// The list.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
) -> ConsoleResult<Response> {
    let rows = state
        .store
        .escalations(user.jurisdiction_filter(), false)
        .await?;
    let body = html! {
        table #escalations {
            tr { th { (lang.t("上报时间", "Raised")) } th { (lang.t("类型", "Kind")) } th { (lang.t("镇街", "Town")) } th { (lang.t("检查对象", "Target")) } th { (lang.t("情况", "Situation")) } th { (lang.t("状态", "State")) } }
            @for r in &rows {
                tr data-escalation=(r.escalation.escalation_id) class=[r.closed.is_none().then_some("open")] {
                    td { (cst(r.received_at)) }
                    td.kind { (kind_label(lang, r.escalation.kind)) }
                    td { (r.jurisdiction) }
                    td { (r.target_name) }
                    td { a href={ "/console/escalations/" (r.escalation.escalation_id) } { (excerpt(&r.escalation.description)) } }
                    td { @if r.closed.is_some() { span.ok { (lang.t("已办结", "closed")) } } @else { span.flag { (lang.t("处置中", "open")) } } }
                }
            }
        }
        @if rows.is_empty() { p.muted #no-escalations { (lang.t("没有上报。", "Nothing escalated.")) } }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("问题上报", "Escalations"), body),
    ))
}

fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        s.push('…');
    }
    s
}

async fn visible(state: &AppState, user: &CurrentUser, id: &str) -> ConsoleResult<EscalationRow> {
    let id: Uuid = id.parse().map_err(|_| ConsoleError::not_found())?;
    let row = state
        .store
        .escalation(&id)
        .await
        .map_err(|_| ConsoleError::not_found())?;
    if user
        .jurisdiction_filter()
        .is_some_and(|own| own != row.jurisdiction)
    {
        return Err(ConsoleError::not_found());
    }
    Ok(row)
}

/// A photo of an escalation the user may see.
pub async fn photo(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, sha)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    let r = visible(&state, &user, &id).await?;
    let sha = Sha256Hex::parse(&sha).map_err(|_| ConsoleError::not_found())?;
    if !r.escalation.photos.contains(&sha) {
        return Err(ConsoleError::not_found());
    }
    super::upload::evidence(&state, &sha).await
}

/// One escalation.
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    let r = visible(&state, &user, &id).await?;
    let eid = r.escalation.escalation_id;
    let mut attempts = Vec::new();
    for a in &r.alerts {
        attempts.push((a, state.store.alert_attempts(&a.alert_id).await?));
    }
    let can_write = WRITERS.contains(&user.role) && r.closed.is_none();
    let body = html! {
        table #escalation {
            tr { th { (lang.t("类型", "Kind")) } td #escalation-kind { (kind_label(lang, r.escalation.kind)) } }
            tr { th { (lang.t("检查对象", "Target")) } td { (r.target_name) " · " (r.jurisdiction) " · " code { (r.escalation.task_id) } } }
            tr { th { (lang.t("情况", "Situation")) } td #escalation-text { (r.escalation.description) } }
            @if !r.escalation.photos.is_empty() {
                tr { th { (lang.t("照片", "Photos")) } td #escalation-photos {
                    @for sha in &r.escalation.photos {
                        a href={ "/console/escalations/" (eid) "/photos/" (sha) } {
                            img src={ "/console/escalations/" (eid) "/photos/" (sha) } width="240" alt=(lang.t("现场照片", "Photo"));
                        }
                    }
                } }
            }
            tr { th { (lang.t("上报人 / 时间", "Raised by / at")) } td { (r.raised_by) " / " (cst(r.escalation.raised_at)) } }
            @if let Some(record) = r.escalation.record_id {
                tr { th { (lang.t("检查记录", "Record")) } td { a href={ "/console/records/" (record) } { (record) } } }
            }
            @if let Some(c) = &r.closed {
                tr { th { (lang.t("办结", "Closed")) } td #escalation-closed { (c.outcome) " — " (c.by) " " (cst(c.at)) } }
            }
        }
        h2 { (lang.t("通知", "Alerts")) }
        @if r.alerts.is_empty() { p.muted { (lang.t("未配置通知接收方（alert_webhooks、alert_emails）。", "No alert recipients configured (alert_webhooks, alert_emails).")) } }
        table #alerts {
            @for (a, tries) in &attempts {
                tr data-alert=(a.alert_id) data-delivered=(a.delivered_at.is_some()) {
                    td { (a.channel) } td { code { (a.target) } }
                    td {
                        @if let Some(at) = a.delivered_at { span.ok { (lang.t("已送达 ", "delivered ")) (cst(at)) } }
                        @else { span.flag { (lang.t("未送达，重试中", "not delivered, retrying")) } }
                        (lang.t("，共尝试 ", ", attempts: ")) span.attempts { (a.attempts) }
                    }
                    td { @for (n, at, ok, detail) in tries { div.attempt { (n) ". " (at) " " @if *ok { "✓ " } @else { "✗ " } (detail) } } }
                }
            }
        }
        h2 { (lang.t("应急管控措施", "Control measures")) }
        table #measures {
            tr { th { "#" } th { (lang.t("措施", "Measure")) } th { (lang.t("责任人", "Owner")) } th { (lang.t("期限", "Due")) } th { (lang.t("落实情况", "Done")) } }
            @for m in &r.measures {
                tr data-seq=(m.seq) {
                    td { (m.seq) } td { (m.measure) } td { (m.owner) } td { (m.due) }
                    td {
                        @match &m.done {
                            Some((at, by, result)) => span.ok { (result) " — " (by) " " (cst(*at)) },
                            None => @if can_write {
                                form method="post" action={ "/console/escalations/" (eid) "/measures/" (m.seq) "/done" } .measure-done {
                                    (csrf_field(&user))
                                    input name="result" required placeholder=(lang.t("落实情况", "What was done"));
                                    " " button type="submit" { (lang.t("已落实", "Done")) }
                                }
                            } @else { span.flag { (lang.t("未落实", "open")) } },
                        }
                    }
                }
            }
        }
        @if can_write {
            form method="post" action={ "/console/escalations/" (eid) "/measures" } #measure-form {
                (csrf_field(&user))
                input name="measure" #measure-input required size="40" placeholder=(lang.t("措施（如：责令停止使用该批次气瓶）", "Measure"));
                " " input name="owner" #owner-input required size="12" placeholder=(lang.t("责任人", "Owner"));
                " " input name="due" #due-input type="date" required;
                " " button type="submit" #measure-add { (lang.t("添加措施", "Add measure")) }
            }
            h2 { (lang.t("办结", "Close")) }
            form method="post" action={ "/console/escalations/" (eid) "/close" } #close-form {
                (csrf_field(&user))
                textarea name="outcome" #outcome-input rows="3" cols="70" placeholder=(lang.t("处理结果（必填）", "Outcome (required)")) {}
                br; button type="submit" #close-submit { (lang.t("办结", "Close")) }
            }
        }
        p { a href="/console/escalations" { (lang.t("返回上报列表", "Back to the escalations")) } }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("问题上报", "Escalation"), body),
    ))
}

#[derive(Debug, Deserialize)]
pub struct RaiseForm {
    kind: String,
    description: String,
}

/// Raises an escalation from a record.
pub async fn raise(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
    Form(form): Form<RaiseForm>,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    let record_id = super::review::parse_record_id(&record_id)?;
    let (versions, _) = super::review::visible_record(&state, &user, &record_id).await?;
    let task_id = versions
        .last()
        .map(|v| v.record.task_id.clone())
        .ok_or_else(ConsoleError::not_found)?;
    let id = service::escalation::raise(
        &state,
        &user.actor(),
        &task_id,
        Some(record_id),
        &form.kind,
        &form.description,
    )
    .await?;
    Ok(Redirect::to(&format!("/console/escalations/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct MeasureForm {
    measure: String,
    owner: String,
    due: String,
}

pub async fn add_measure(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<MeasureForm>,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    let r = visible(&state, &user, &id).await?;
    let eid = r.escalation.escalation_id;
    state
        .store
        .add_measure(&eid, &form.measure, &form.owner, &form.due, &user.actor())
        .await?;
    Ok(Redirect::to(&format!("/console/escalations/{eid}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct DoneForm {
    result: String,
}

pub async fn measure_done(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, seq)): Path<(String, i64)>,
    Form(form): Form<DoneForm>,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    let r = visible(&state, &user, &id).await?;
    let eid = r.escalation.escalation_id;
    state
        .store
        .complete_measure(&eid, seq, &form.result, &user.actor())
        .await?;
    Ok(Redirect::to(&format!("/console/escalations/{eid}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    outcome: String,
}

pub async fn close(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<CloseForm>,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    let r = visible(&state, &user, &id).await?;
    let eid = r.escalation.escalation_id;
    state
        .store
        .close_escalation(&eid, &form.outcome, &user.actor())
        .await?;
    Ok(Redirect::to(&format!("/console/escalations/{eid}")).into_response())
}

/// The raise form on a record's page.
pub fn raise_form(lang: Lang, user: &CurrentUser, record_id: &Uuid) -> maud::Markup {
    html! {
        details #escalate {
            summary { (lang.t("上报（行业性、突出集中、群众反映强烈的问题，重大情况，安全隐患）", "Escalate (industry-wide, concentrated, public concern, major, safety hazard)")) }
            form method="post" action={ "/console/records/" (record_id) "/escalate" } #escalate-form {
                (csrf_field(user))
                select name="kind" #escalate-kind {
                    @for k in EscalationKind::ALL { option value=(k.code()) { (kind_label(lang, k)) } }
                }
                br;
                textarea name="description" #escalate-text rows="3" cols="70" required placeholder=(lang.t("情况说明", "What was found")) {}
                br; button type="submit" #escalate-submit { (lang.t("立即上报", "Escalate now")) }
            }
        }
    }
}
