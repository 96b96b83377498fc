//! Follow-up pages: every open finding with its disposition, the overdue
//! rectification orders, and one finding's history with the forms that
//! record what happened next (rectification order, follow-up inspection,
//! case filed/closed, transfer, supervision check), and the 复查 visits the
//! team did in the field. The work and its audit entry are done by
//! `service::followup`.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::{Map, Value};

use super::auth::{CurrentUser, Role};
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::oversight::today_cst;
use crate::service;
use crate::store::StoreError;
use crate::store::dashboard::Scope;
use choucha_shared::followup::{FindingState, FollowUpAction};
use choucha_shared::record::{DispositionKind, RectificationOutcome};

/// Who may record follow-up (town leads for their own town).
const WRITERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::TownLead];
const LIST_LIMIT: i64 = 200;

fn kind_label(lang: Lang, kind: DispositionKind) -> &'static str {
    lang.t(kind.label_zh(), kind.label_en())
}

fn outcome_label(lang: Lang, o: &str) -> &'static str {
    match o.parse::<RectificationOutcome>() {
        Ok(o) => lang.t(o.label_zh(), o.as_str()),
        Err(_) => lang.t("其他", "other"),
    }
}

/// Open findings in this user's scope, and the overdue rectifications.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
) -> ConsoleResult<Response> {
    let today = today_cst();
    let town = user.jurisdiction_filter().map(str::to_owned);
    let scope = Scope {
        plan_id: None,
        town: town.clone(),
    };
    let (overdue, overdue_total) = state
        .store
        .overdue_rectifications(&scope, today, LIST_LIMIT)
        .await?;
    let ids = state
        .store
        .open_finding_ids(town.as_deref(), LIST_LIMIT)
        .await?;
    let mut open = Vec::with_capacity(ids.len());
    for id in ids {
        open.push(state.store.finding(&id, today).await?);
    }
    let body = html! {
        h2 #overdue-title { (lang.t("逾期未整改", "Overdue rectifications")) " (" (overdue_total) ")" }
        @if overdue.is_empty() { p.muted { (lang.t("无", "None")) } }
        @else {
            table #overdue {
                tr { th { (lang.t("镇街", "Town")) } th { (lang.t("问题", "Finding")) } th { (lang.t("整改通知书", "Order")) } th { (lang.t("整改期限", "Deadline")) } }
                @for o in &overdue {
                    tr {
                        td { (o.town) }
                        td { a href={ "/console/followup/" (o.finding_id) } { (o.description) } }
                        td { (o.order_no.as_deref().unwrap_or("")) }
                        td.flag { (o.deadline) }
                    }
                }
            }
        }
        h2 { (lang.t("未办结的问题", "Open findings")) }
        (findings_table(lang, &open))
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("后续处置", "Follow-up"), body),
    ))
}

fn findings_table(lang: Lang, findings: &[FindingState]) -> maud::Markup {
    html! {
        @if findings.is_empty() { p.muted { (lang.t("无", "None")) } }
        @else {
            table #findings {
                tr { th { (lang.t("镇街", "Town")) } th { (lang.t("检查项", "Item")) } th { (lang.t("问题", "Finding")) } th { (lang.t("处置", "Disposition")) } th { (lang.t("期限 / 文号", "Deadline / reference")) } }
                @for f in findings {
                    tr {
                        td { (f.town) }
                        td { (f.item_id) }
                        td { a href={ "/console/followup/" (f.finding_id) } { (f.description) } }
                        td {
                            (kind_label(lang, f.kind))
                            @if f.awaits_escalation() { " " span.flag.escalate { (lang.t("复查未整改，待立案或再次责令", "Not rectified at the follow-up: escalate")) } }
                        }
                        td {
                            @if let Some(d) = &f.deadline { span class=[f.overdue.then_some("flag")] { (d) } " " }
                            (f.order_no.as_deref().or(f.reference.as_deref()).unwrap_or(""))
                        }
                    }
                }
            }
        }
    }
}

async fn visible_finding(
    state: &AppState,
    user: &CurrentUser,
    finding_id: &str,
) -> ConsoleResult<FindingState> {
    let f = state
        .store
        .finding(finding_id, today_cst())
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ConsoleError::not_found(),
            other => other.into(),
        })?;
    if !user.may_see(&f.town) {
        return Err(ConsoleError::not_found());
    }
    Ok(f)
}

/// One finding: its state, history and the follow-up forms.
pub async fn finding(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(finding_id): Path<String>,
) -> ConsoleResult<Response> {
    let f = visible_finding(&state, &user, &finding_id).await?;
    let history = state.store.followup_history(&finding_id).await?;
    // The 复查 of the finding's order, done in the field by the team.
    let mut rechecks = Vec::new();
    for r in state.store.rechecks_of_task(&f.task_id).await? {
        if Some(&r.order_no) == f.order_no.as_ref() {
            let record = state.store.recheck_record(&r.recheck_id).await?;
            rechecks.push((r, record));
        }
    }
    let can_write = WRITERS.contains(&user.role);
    let action = format!("/console/followup/{}/actions", f.finding_id);
    let body = html! {
        table #finding {
            tr { th { (lang.t("问题", "Finding")) } td { (f.description) } }
            tr { th { (lang.t("镇街", "Town")) } td { (f.town) } }
            tr { th { (lang.t("检查项", "Item")) } td { (f.item_id) } }
            tr { th { (lang.t("检查记录", "Record")) } td { a href={ "/console/records/" (f.record_id) } { (f.record_id) } } }
            tr { th { (lang.t("处置方式", "Disposition")) } td #finding-kind { (kind_label(lang, f.kind)) } }
            @if let Some(o) = &f.order_no { tr { th { (lang.t("整改通知书", "Order no.")) } td { (o) } } }
            @if let Some(d) = &f.deadline { tr { th { (lang.t("整改期限", "Deadline")) } td class=[f.overdue.then_some("flag")] { (d) @if f.overdue { (lang.t("（已逾期）", " (overdue)")) } } } }
            @if let Some(c) = &f.case_no { tr { th { (lang.t("立案编号", "Case no.")) } td #finding-case { (c) } } }
            @if let Some(r) = &f.reference { tr { th { (lang.t("移送文号", "Transfer reference")) } td { (r) } } }
            @if let Some(o) = &f.organ { tr { th { (lang.t("接收机关", "Receiving organ")) } td { (o) } } }
            @if let Some(d) = &f.next_check {
                tr { th { (lang.t("后续监管：下次检查", "Under supervision: next check")) } td #finding-next-check class=[(d.as_str() <= today_cst().to_string().as_str()).then_some("flag")] { (d) } }
            }
            @if let Some(d) = &f.followed_up_on { tr { th { (lang.t("复查", "Follow-up inspection")) } td { (d) " " (f.outcome.as_deref().map(|o| outcome_label(lang, o)).unwrap_or("")) } } }
            @if f.awaits_escalation() {
                tr { th { (lang.t("待处置", "To do")) } td #finding-escalate.flag { (lang.t("复查未整改到位：请立案查处或再次责令整改", "Not rectified at the follow-up: file a case or order again")) } }
            }
            tr { th { (lang.t("办结", "Closed")) } td #finding-closed { @if f.closed { (lang.t("是", "yes")) } @else { (lang.t("否", "no")) } } }
        }
        @if !rechecks.is_empty() {
            h2 { (lang.t("整改复查（现场）", "Follow-up visits (in the field)")) }
            table #rechecks {
                tr { th { (lang.t("复查任务", "Task")) } th { (lang.t("整改期限", "Deadline")) } th { (lang.t("状态", "State")) } th { (lang.t("本问题复查结果", "Result for this finding")) } th { (lang.t("签字", "Signed by")) } }
                @for (r, record) in &rechecks {
                    tr data-recheck=(r.recheck_id) {
                        td { (r.recheck_id) }
                        td { (r.deadline) }
                        td {
                            @match &record {
                                Some(rec) => { (lang.t("已复查", "Done")) " " (rec.record.inspected_on) }
                                None => { (lang.t("待复查", "Pending")) }
                            }
                        }
                        td.recheck-result {
                            @if let Some(res) = record.as_ref().and_then(|rec| rec.record.results.get(&f.finding_id)) {
                                (outcome_label(lang, res.outcome.as_str()))
                                @if let Some(n) = &res.note { "：" (n) }
                            }
                        }
                        td {
                            @if let Some(rec) = &record {
                                @for (i, sig) in rec.record.signatures.iter().enumerate() {
                                    @if i > 0 { "、" } (sig.name) "（" (sig.role.label_zh()) "）"
                                }
                                @if let Some(refusal) = &rec.record.refusal { " " (lang.t("企业拒签：", "Enterprise refused: ")) (refusal.reason) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (lang.t("处置经过", "History")) }
        @if history.is_empty() { p.muted { (lang.t("无", "None")) } }
        @else {
            table #history {
                tr { th { (lang.t("时间", "At")) } th { (lang.t("人员", "By")) } th { (lang.t("内容", "What")) } }
                @for (a, actor, at) in &history {
                    tr { td { (at) } td { (actor) } td { code { (serde_json::to_string(a).unwrap_or_default()) } } }
                }
            }
        }
        @if can_write && !f.closed {
            h2 { (lang.t("登记后续处置", "Record follow-up")) }
            form method="post" action=(action) #form-order {
                (csrf_field(&user)) input type="hidden" name="action" value="rectification_order";
                strong { (lang.t("责令整改", "Rectification order")) } " "
                label { (lang.t("文书编号", "Order no.")) " " input name="order_no" required; } " "
                label { (lang.t("期限", "Deadline")) " " input type="date" name="deadline" required; } " "
                label { (lang.t("整改要求", "Requirements")) " " input name="requirements" size="40" required; } " "
                button type="submit" { (lang.t("登记", "Record")) }
            }
            form method="post" action=(action) #form-followup {
                (csrf_field(&user)) input type="hidden" name="action" value="follow_up_inspection";
                strong { (lang.t("整改复查", "Follow-up inspection")) } " "
                label { (lang.t("复查日期", "Date")) " " input type="date" name="inspected_on" required; } " "
                label { (lang.t("结果", "Outcome")) " " select name="outcome" {
                    @for o in RectificationOutcome::ALL { option value=(o.as_str()) { (outcome_label(lang, o.as_str())) } }
                } } " "
                label { (lang.t("说明", "Note")) " " input name="note" size="30"; } " "
                button type="submit" { (lang.t("登记", "Record")) }
            }
            form method="post" action=(action) #form-case {
                (csrf_field(&user)) input type="hidden" name="action" value="case_filed";
                strong { (lang.t("立案", "Case filed")) } " "
                label { (lang.t("立案编号", "Case no.")) " " input name="case_no" required; } " "
                button type="submit" { (lang.t("登记", "Record")) }
            }
            @if f.case_no.is_some() || f.kind == DispositionKind::CaseFiled {
                form method="post" action=(action) #form-close {
                    (csrf_field(&user)) input type="hidden" name="action" value="case_closed";
                    strong { (lang.t("结案", "Case closed")) } " "
                    label { (lang.t("结案说明", "Note")) " " input name="note" size="40" required; } " "
                    button type="submit" { (lang.t("登记", "Record")) }
                }
            }
            form method="post" action=(action) #form-transfer {
                (csrf_field(&user)) input type="hidden" name="action" value="transfer";
                strong { (lang.t("移送", "Transfer")) } " "
                label { (lang.t("移送至", "To")) " " select name="to" {
                    option value="judicial" { (lang.t("司法机关", "judicial organ")) }
                    option value="discipline" { (lang.t("纪检监察机关", "discipline inspection")) }
                    option value="department" { (lang.t("其他部门", "another department")) }
                } } " "
                label { (lang.t("接收机关", "Organ")) " " input name="organ" required; } " "
                label { (lang.t("文号", "Reference")) " " input name="reference" required; } " "
                label { (lang.t("下次检查日期（继续监管）", "Next check (continued supervision)")) " " input type="date" name="next_check" required; } " "
                button type="submit" { (lang.t("登记", "Record")) }
            }
            @if f.next_check.is_some() {
                form method="post" action=(action) #form-supervision {
                    (csrf_field(&user)) input type="hidden" name="action" value="supervision_check";
                    strong { (lang.t("后续监管检查", "Supervision check")) } " "
                    label { (lang.t("检查日期", "Date")) " " input type="date" name="checked_on" required; } " "
                    label { (lang.t("检查情况", "Findings")) " " input name="note" size="30" required; } " "
                    label { (lang.t("下次检查日期（留空则结束监管）", "Next check (empty ends supervision)")) " " input type="date" name="next_check"; } " "
                    button type="submit" { (lang.t("登记", "Record")) }
                }
            }
        }
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            lang.t("问题后续处置", "Finding follow-up"),
            body,
        ),
    ))
}

/// Records one follow-up action from a form.
pub async fn act(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(finding_id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    visible_finding(&state, &user, &finding_id).await?;
    // The form's fields are the action's fields; serde names what is wrong.
    let mut obj = Map::new();
    for (k, v) in fields {
        if k == "csrf" {
            continue;
        }
        let v = v.trim().to_owned();
        if (k == "note" || k == "next_check") && v.is_empty() {
            continue;
        }
        obj.insert(k, Value::String(v));
    }
    let action: FollowUpAction = serde_json::from_value(Value::Object(obj)).map_err(|e| {
        ConsoleError::BadRequest(format!("后续处置表单有误：{e} (invalid follow-up form)"))
    })?;
    service::followup::record(
        &state.store,
        &user.actor(),
        &finding_id,
        &action,
        today_cst(),
    )
    .await?;
    Ok(Redirect::to(&format!("/console/followup/{finding_id}")).into_response())
}
