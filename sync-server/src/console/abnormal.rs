//! 经营异常名录: companies the officers could not reach at their registered
//! address, each against its listing deadline (10 working days from the
//! inspection), and the form that records the listing; below, companies
//! that refused the inspection (不配合检查（情节严重）) and the form that
//! records the case filed against each (立案查处).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::auth::CurrentUser;
use super::disclosure::PUBLISHERS;
use super::error::ConsoleResult;
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::oversight::today_cst;
use crate::service::abnormal::{listing_deadline, record_case, record_listing};

/// The list, oldest inspection first; the overdue are marked.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
) -> ConsoleResult<Response> {
    let cases = state
        .store
        .abnormal_cases(user.jurisdiction_filter())
        .await?;
    let refusals = state
        .store
        .uncooperative_cases(user.jurisdiction_filter())
        .await?;
    let calendar = &crate::service::calendar::current(&state).await?;
    let today = today_cst();
    let may_list = PUBLISHERS.contains(&user.role);
    let body = html! {
        p { (lang.t(
            "通过登记的住所（经营场所）无法联系的企业，应自检查之日起 10 个工作日内列入经营异常名录。",
            "Companies not reachable at their registered address are listed within 10 working days of the inspection."
        )) }
        table #abnormal {
            tr { th { (lang.t("检查日期", "Date")) } th { (lang.t("检查对象", "Target")) } th { (lang.t("镇街", "Town")) } th { (lang.t("列入期限", "List by")) } th { (lang.t("状态", "Status")) } th {} }
            @for c in &cases {
                @let deadline = c.inspection_date.parse().ok().map(|d| listing_deadline(calendar, d));
                @let overdue = c.done.is_none() && deadline.is_some_and(|d| d < today);
                tr data-record=(c.record_id) {
                    td { (c.inspection_date) }
                    td { a href={ "/console/records/" (c.record_id) } { (c.target_name) } " " span.muted { (c.target_key) } }
                    td { (c.town) }
                    td.deadline { @if let Some(d) = deadline { (d) } }
                    td class=[overdue.then_some("flag")] {
                        @if let Some(l) = &c.done {
                            (lang.t("已列入", "Listed")) " " (l.listed_on) " " (l.decision_no)
                        } @else if overdue {
                            (lang.t("逾期未列入", "Overdue"))
                        } @else if let Some(d) = deadline {
                            (lang.t("待列入，剩 ", "Due, ")) (calendar.working_days_between(today, d)) (lang.t(" 个工作日", " working days left"))
                        }
                    }
                    td {
                        @if may_list && c.done.is_none() {
                            form.inline method="post" action={ "/console/abnormal/" (c.record_id) } {
                                (csrf_field(&user))
                                input type="date" name="listed_on" value=(today) required;
                                " " input name="decision_no" placeholder=(lang.t("列入决定书文号", "Decision no.")) required size="24";
                                " " button type="submit" { (lang.t("记录列入", "Record listing")) }
                            }
                        }
                    }
                }
            }
        }
        @if cases.is_empty() { p.muted { (lang.t("暂无。", "None.")) } }
        h2 #uncooperative-title { (lang.t("不配合检查（情节严重）· 立案查处", "Refused the inspection (serious) · case path")) }
        p { (lang.t(
            "拒绝、阻碍监督检查情节严重的企业，依法立案查处，并记入企业信用记录。",
            "Companies that refused or obstructed the inspection are investigated as a case and the refusal goes on their credit record."
        )) }
        table #uncooperative {
            tr { th { (lang.t("检查日期", "Date")) } th { (lang.t("检查对象", "Target")) } th { (lang.t("镇街", "Town")) } th { (lang.t("状态", "Status")) } th {} }
            @for c in &refusals {
                tr data-record=(c.record_id) {
                    td { (c.inspection_date) }
                    td { a href={ "/console/records/" (c.record_id) } { (c.target_name) } " " span.muted { (c.target_key) } }
                    td { (c.town) }
                    td.case-state {
                        @if let Some(f) = &c.done {
                            (lang.t("已立案", "Case filed")) " " (f.filed_on) " " (f.case_no)
                        } @else {
                            (lang.t("待立案", "To be filed"))
                        }
                    }
                    td {
                        @if may_list && c.done.is_none() {
                            form.inline method="post" action={ "/console/abnormal/" (c.record_id) "/case" } {
                                (csrf_field(&user))
                                input type="date" name="filed_on" value=(today) required;
                                " " input name="case_no" placeholder=(lang.t("立案编号", "Case no.")) required size="24";
                                " " button type="submit" { (lang.t("记录立案", "Record the case")) }
                            }
                        }
                    }
                }
            }
        }
        @if refusals.is_empty() { p.muted { (lang.t("暂无。", "None.")) } }
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            lang.t("经营异常名录", "Abnormal operations list"),
            body,
        ),
    ))
}

/// Missing fields read as empty, so the role is checked before the input
/// and an empty field gets the use case's own message.
#[derive(Debug, Deserialize)]
pub struct ListingForm {
    #[serde(default)]
    listed_on: String,
    #[serde(default)]
    decision_no: String,
}

/// Records the listing of one company.
pub async fn record(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
    Form(form): Form<ListingForm>,
) -> ConsoleResult<Response> {
    user.require(PUBLISHERS)?;
    record_listing(
        &state.store,
        &user.actor(),
        &record_id,
        &form.listed_on,
        &form.decision_no,
        today_cst(),
    )
    .await?;
    Ok(Redirect::to("/console/abnormal").into_response())
}

/// Missing fields read as empty, as for the listing.
#[derive(Debug, Deserialize)]
pub struct CaseForm {
    #[serde(default)]
    filed_on: String,
    #[serde(default)]
    case_no: String,
}

/// Records the case filed against a company that refused the inspection.
pub async fn record_case_filed(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
    Form(form): Form<CaseForm>,
) -> ConsoleResult<Response> {
    user.require(PUBLISHERS)?;
    record_case(
        &state.store,
        &user.actor(),
        &record_id,
        &form.filed_on,
        &form.case_no,
        today_cst(),
    )
    .await?;
    Ok(Redirect::to("/console/abnormal").into_response())
}
