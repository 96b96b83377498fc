//! Public disclosure (一公开): the console's list of results due and
//! overdue for publication with the publish/withdraw actions, and the
//! public page and feeds, which need no login and show nothing personal
//! (they are rendered from the register alone, see
//! `oversight::disclosure`).

use std::io;

use axum::body::Body;
use axum::http::{HeaderValue, header};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use choucha_shared::calendar::PublicationStatus;
use choucha_shared::review::{PublishedResult, ReviewState};

use super::auth::{CurrentUser, Role};
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::oversight::disclosure::{self, FeedFormat};
use crate::oversight::today_cst;
use crate::service;

/// Who publishes and withdraws in the authority's name.
pub const PUBLISHERS: &[Role] = &[Role::Admin, Role::Supervisor];
const PUBLIC_PAGE_SIZE: i64 = 100;

fn status_text(lang: Lang, s: &PublicationStatus) -> String {
    match (lang, s) {
        (
            Lang::Zh,
            PublicationStatus::Due {
                deadline,
                working_days_left,
            },
        ) => {
            format!("待公示，期限 {deadline}（剩 {working_days_left} 个工作日）")
        }
        (
            Lang::Zh,
            PublicationStatus::Overdue {
                deadline,
                working_days_late,
            },
        ) => {
            format!("逾期未公示，期限 {deadline}（已逾期 {working_days_late} 个工作日）")
        }
        (
            Lang::En,
            PublicationStatus::Due {
                deadline,
                working_days_left,
            },
        ) => {
            format!("due by {deadline} ({working_days_left} working days left)")
        }
        (
            Lang::En,
            PublicationStatus::Overdue {
                deadline,
                working_days_late,
            },
        ) => {
            format!("overdue since {deadline} ({working_days_late} working days late)")
        }
        (_, other) => other.label_zh().to_owned(),
    }
}

/// Results not yet public, against their 20-working-day deadline.
pub async fn due(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
) -> ConsoleResult<Response> {
    let calendar = service::calendar::current(&state).await?;
    let (rows, overdue) = disclosure::due_list(
        &state.store,
        &calendar,
        user.jurisdiction_filter(),
        today_cst(),
        200,
    )
    .await?;
    let can_publish = PUBLISHERS.contains(&user.role);
    let missing = calendar.missing_next_year(today_cst());
    let body = html! {
        @if let Some(year) = missing {
            p.notice #calendar-missing { (match lang {
                Lang::Zh => format!("{year} 年节假日安排尚未录入：跨入 {year} 年的公示期限按周末计算，标为“暂定”。国务院办公厅公布后，请录入。"),
                Lang::En => format!("The {year} holiday arrangement is not entered yet: deadlines running into {year} count weekends only and are marked provisional. Enter it once announced."),
            }) " " a href="/console/calendar" { (lang.t("录入节假日安排", "Enter the arrangement")) } }
        }
        p #overdue-count { (lang.t("逾期未公示：", "Overdue: ")) strong { (overdue) } }
        table #due {
            tr { th { (lang.t("检查日期", "Date")) } th { (lang.t("检查对象", "Target")) } th { (lang.t("镇街", "Town")) } th { (lang.t("审核状态", "State")) } th { (lang.t("公示期限", "Publication")) } th {} }
            @for r in &rows {
                tr data-record=(r.record_id) {
                    td { (r.inspection_date) }
                    td { a href={ "/console/records/" (r.record_id) } { (r.target_name) } }
                    td { (r.town) }
                    td { (super::review::state_label(lang, &r.state)) }
                    td class=[matches!(r.status, PublicationStatus::Overdue { .. }).then_some("flag")] {
                        (status_text(lang, &r.status))
                        @if r.provisional { span.provisional { (lang.t("（暂定）", " (provisional)")) } }
                    }
                    td {
                        @if can_publish && r.state == ReviewState::Approved.as_str() {
                            (publish_form(lang, &user, &r.record_id))
                        }
                    }
                }
            }
        }
        p { a href="/public" { (lang.t("查看公示页面", "See the public page")) } }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("结果公示", "Disclosure"), body),
    ))
}

/// The publish form for one approved record.
pub fn publish_form(lang: Lang, user: &CurrentUser, record_id: &str) -> maud::Markup {
    html! {
        form.inline method="post" action={ "/console/records/" (record_id) "/publish" } {
            (csrf_field(user))
            select name="result" {
                option value="" { (lang.t("按检查情况自动判定", "Suggested from the record")) }
                @for r in PublishedResult::ALL { option value=(result_code(r)) { (r.label_zh()) } }
            }
            " " button type="submit" .publish { (lang.t("公示", "Publish")) }
        }
    }
}

/// The withdraw form for a published record.
pub fn withdraw_form(lang: Lang, user: &CurrentUser, record_id: &str) -> maud::Markup {
    html! {
        form.inline method="post" action={ "/console/records/" (record_id) "/withdraw" } #withdraw-form {
            (csrf_field(user))
            label { (lang.t("撤回理由", "Reason")) " " input name="reason" required size="40"; }
            " " button type="submit" #withdraw { (lang.t("撤回公示", "Withdraw")) }
        }
    }
}

fn result_code(r: PublishedResult) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct PublishForm {
    #[serde(default)]
    result: Option<String>,
}

/// Publishes an approved record's result.
pub async fn publish(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
    Form(form): Form<PublishForm>,
) -> ConsoleResult<Response> {
    user.require(PUBLISHERS)?;
    let id = uuid::Uuid::parse_str(&record_id).map_err(|_| ConsoleError::not_found())?;
    let result = match form
        .result
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(code) => Some(code.parse::<PublishedResult>().map_err(|_| {
            ConsoleError::BadRequest(format!("未知的检查结果类别 '{code}' (result)"))
        })?),
        None => None,
    };
    let calendar = service::calendar::current(&state).await?;
    service::disclosure::publish(
        &state.store,
        &state.checklists,
        &state.oversight,
        &calendar,
        &user.actor(),
        &id.to_string(),
        result,
    )
    .await?;
    Ok(Redirect::to(&format!("/console/records/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct WithdrawForm {
    reason: String,
}

/// Withdraws a published result; it stays public, marked withdrawn.
pub async fn withdraw(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
    Form(form): Form<WithdrawForm>,
) -> ConsoleResult<Response> {
    user.require(PUBLISHERS)?;
    let id = uuid::Uuid::parse_str(&record_id).map_err(|_| ConsoleError::not_found())?;
    service::disclosure::withdraw(&state.store, &user.actor(), &id.to_string(), &form.reason)
        .await?;
    Ok(Redirect::to(&format!("/console/records/{id}")).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct PublicQuery {
    #[serde(default)]
    before: Option<i64>,
}

/// The public register: no login, nothing personal.
pub async fn public_page(
    State(state): State<AppState>,
    lang: Lang,
    Query(q): Query<PublicQuery>,
) -> ConsoleResult<Response> {
    let rows = state
        .store
        .disclosures_before(q.before, PUBLIC_PAGE_SIZE)
        .await?;
    let next = (rows.len() as i64 == PUBLIC_PAGE_SIZE)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    // Every draw, for anyone to check: plan, seed, hash, the drawn list.
    let mut draws = Vec::new();
    for p in state.store.console_plans().await? {
        for d in state.store.plan_draws(&p.plan_id).await? {
            draws.push((p.title.clone(), d));
        }
    }
    let body = html! {
        @if !draws.is_empty() {
            h2 { (lang.t("随机抽取结果（可自行复核）", "Draws (check them yourself)")) }
            table #public-draws {
                tr { th { (lang.t("抽查计划", "Plan")) } th { (lang.t("抽取编号", "Draw")) } th { (lang.t("种子录入时间", "Seed entered")) } }
                @for (title, d) in &draws {
                    tr {
                        td { (title) }
                        td { a href={ "/public/draws/" (d.draw_id) } .public-draw { (d.draw_id) } }
                        td { (choucha_shared::value::china_minute_of(Some(&d.seed_entered_at))) }
                    }
                }
            }
            h2 { (lang.t("检查结果", "Results")) }
        }
        p { (lang.t("以下为“双随机、一公开”监督检查结果。", "Results of random inspections (双随机、一公开).")) " "
            a href="/public/results.csv" #feed-csv { "CSV" } " · " a href="/public/results.json" #feed-json { "JSON" } }
        p.muted { (lang.t("本局报送其他系统的文件附有签名清单；核对签名所用的公钥：", "Files this bureau sends to other systems come with a signed manifest; the public key to check it with: "))
            a href="/public/signing-key.pem" #signing-key { "signing-key.pem" } }
        table #results {
            tr {
                th { (lang.t("检查对象名称", "Target")) } th { (lang.t("统一社会信用代码", "USCC")) } th { (lang.t("检查事项", "Matter")) }
                th { (lang.t("检查日期", "Date")) } th { (lang.t("检查机关", "Authority")) } th { (lang.t("检查结果", "Result")) } th { (lang.t("公示时间", "Published")) }
            }
            @for r in &rows {
                tr.result class=[r.withdrawn_at.is_some().then_some("withdrawn")] {
                    td { (r.target_name) } td { (r.uscc.as_deref().unwrap_or("")) } td { (r.matter) }
                    td { (r.inspection_date) } td { (r.authority) }
                    td {
                        @if let Some(at) = &r.withdrawn_at {
                            s { (r.result) } br;
                            span.flag.withdrawn-note { (lang.t("已撤回", "Withdrawn")) " " (at) "：" (r.withdrawal_reason.as_deref().unwrap_or("")) }
                        } @else { (r.result) }
                    }
                    td { (choucha_shared::value::china_minute_of(Some(&r.published_at))) }
                }
            }
        }
        @if rows.is_empty() { p.muted #no-results { (lang.t("暂无公示结果。", "Nothing published yet.")) } }
        @if let Some(seq) = next { p { a href={ "/public?before=" (seq) } { (lang.t("更早的结果", "Older results")) } } }
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            None,
            lang.t("抽查结果公示", "Published inspection results"),
            body,
        ),
    ))
}

/// The register as streamed JSON.
pub async fn feed_json(State(state): State<AppState>) -> Response {
    feed_response(state.store.clone(), FeedFormat::Json)
}

/// The bureau's public signing key (PEM), to check the signed manifests
/// of the files it sends with (`docs/oversight.md`).
pub async fn signing_key_pem(State(state): State<AppState>) -> ConsoleResult<Response> {
    let pem = service::signing::public_key_pem(&state.store).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"signing-key.pem\"",
            ),
        ],
        pem,
    )
        .into_response())
}

/// The register as streamed CSV.
pub async fn feed_csv(State(state): State<AppState>) -> Response {
    feed_response(state.store.clone(), FeedFormat::Csv)
}

/// The feed as a complete streamed response with its content type.
pub fn feed_response(store: crate::store::Store, format: FeedFormat) -> Response {
    use futures_util::TryStreamExt;
    let (ctype, name) = match format {
        FeedFormat::Json => ("application/json; charset=utf-8", "results.json"),
        FeedFormat::Csv => ("text/csv; charset=utf-8", "results.csv"),
    };
    let body = Body::from_stream(disclosure::feed_stream(store, format).map_err(io::Error::other));
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
