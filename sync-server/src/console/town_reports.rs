//! 镇街报告 (seed §五(四)): the quality section's view of which towns have
//! sent their 监督检查情况、存在问题 report for a plan and which are late
//! against the plan's deadline; one town's report, which its lead drafts,
//! signs and submits and the quality section may return with comments; and
//! every town's report (and the combined one) as XLSX. A town lead sees and
//! writes only their own town's report, by URL too (404 otherwise).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{CurrentUser, Role};
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::oversight::reports;
use crate::store::town_report::{Figures, ReportState, TownReport};

/// Who drafts and submits (a town lead, their town's only).
const DRAFTERS: &[Role] = &[Role::Admin, Role::TownLead];
/// Who sets the deadline and returns reports: the quality section.
const REVIEWERS: &[Role] = &[Role::Admin, Role::Supervisor];

fn url(plan: &str, town: &str) -> String {
    format!(
        "/console/town-reports/{}/{}",
        urlencode(plan),
        urlencode(town)
    )
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

fn cst(t: Option<&str>) -> String {
    choucha_shared::value::china_minute_of(t)
}

/// The report the user may see: 404 for another town's.
async fn visible(
    state: &AppState,
    user: &CurrentUser,
    plan: &str,
    town: &str,
) -> ConsoleResult<TownReport> {
    if user.jurisdiction_filter().is_some_and(|own| own != town) {
        return Err(ConsoleError::not_found());
    }
    Ok(state.store.town_report(plan, town).await?)
}

#[derive(Debug, Default, Deserialize)]
pub struct PlanQuery {
    #[serde(default)]
    plan: Option<String>,
}

/// Which towns have reported for a plan, and which are late; a town lead
/// goes straight to their own report.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Query(q): Query<PlanQuery>,
) -> ConsoleResult<Response> {
    let plans = state.store.console_plans().await?;
    let plan = q
        .plan
        .filter(|p| !p.trim().is_empty())
        .or_else(|| plans.first().map(|p| p.plan_id.clone()));
    let Some(plan) = plan else {
        let body = html! { p.muted { (lang.t("还没有抽查计划。", "No plan yet.")) } };
        return Ok(page(
            StatusCode::OK,
            layout(lang, Some(&user), lang.t("镇街报告", "Town reports"), body),
        ));
    };
    if let Some(own) = user.jurisdiction_filter() {
        return Ok(Redirect::to(&url(&plan, own)).into_response());
    }
    let due = state.store.report_due(&plan).await?;
    let rows = state.store.town_reports(&plan).await?;
    let late: Vec<&TownReport> = rows.iter().filter(|r| r.late).collect();
    let body = html! {
        form method="get" action="/console/town-reports" {
            label { (lang.t("抽查计划", "Plan")) " "
                select name="plan" {
                    @for p in &plans { option value=(p.plan_id) selected[p.plan_id == plan] { (p.plan_id) } }
                }
            } " "
            button type="submit" { (lang.t("查看", "Show")) }
        }
        p #report-due {
            (lang.t("报送截止日期：", "Due: "))
            @match due { Some(d) => { strong { (d) } } None => { span.muted { (lang.t("未设定", "not set")) } } }
        }
        @if user.require(REVIEWERS).is_ok() {
            form method="post" action={ "/console/town-reports/" (urlencode(&plan)) "/due" } #due-form {
                (csrf_field(&user))
                label { (lang.t("设定截止日期", "Set the deadline")) " " input type="date" name="due" #due value=[due.map(|d| d.to_string())]; }
                " " button type="submit" #set-due { (lang.t("保存", "Save")) }
            }
        }
        @if !late.is_empty() {
            p.flag #late-towns {
                (lang.t("逾期未报或逾期报送：", "Late: "))
                @for (i, r) in late.iter().enumerate() { @if i > 0 { "、" } (r.town) }
            }
        }
        table #town-reports {
            tr {
                th { (lang.t("镇街", "Town")) } th { (lang.t("状态", "State")) } th { (lang.t("报送时间", "Submitted")) }
                th { (lang.t("签发人", "Signed by")) } th { (lang.t("检查 / 计划", "Inspected / planned")) } th { (lang.t("发现问题", "Findings")) }
            }
            @for r in &rows {
                tr data-town=(r.town) data-state=(r.state.code()) data-late=(r.late) {
                    td { a href=(url(&plan, &r.town)) { (r.town) } }
                    td { (state_label(lang, r.state)) @if r.late { " " span.flag { (lang.t("逾期", "late")) } } }
                    td { (cst(r.submitted_at.as_deref())) }
                    td { (r.signed_by.as_deref().unwrap_or("")) }
                    td { (r.figures.inspected) " / " (r.figures.planned) }
                    td { (r.figures.findings) }
                }
            }
        }
        p {
            a href={ "/console/town-reports/" (urlencode(&plan)) "/all.xlsx" } #export-all {
                (lang.t("导出各镇街报告及汇总（Excel）", "Export every town's report and the total (XLSX)"))
            }
            " · "
            a href={ "/console/town-reports/" (urlencode(&plan)) "/all.pdf" } #export-all-pdf {
                (lang.t("PDF", "PDF"))
            }
        }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("镇街报告", "Town reports"), body),
    ))
}

fn state_label(lang: Lang, s: ReportState) -> &'static str {
    lang.t(s.label_zh(), s.label_en())
}

fn figures_table(lang: Lang, f: &Figures) -> Markup {
    let rows: [(&str, &str, i64); 10] = [
        ("计划检查", "Planned", f.planned),
        ("已检查", "Inspected", f.inspected),
        (
            "无法检查（无法联系、未发现相关活动、已关闭、不配合）",
            "Could not inspect",
            f.not_inspectable,
        ),
        ("已审核通过", "Approved", f.approved),
        ("发现问题", "Findings", f.findings),
        ("当场整改", "Fixed on site", f.fixed_on_site),
        ("责令整改", "Rectification orders", f.rectification_orders),
        ("整改未办结", "Orders still open", f.rectification_open),
        ("立案查处", "Cases filed", f.cases_filed),
        ("移送、通报", "Transferred", f.transferred),
    ];
    html! {
        table #report-figures {
            @for (zh, en, n) in rows { tr { th { (lang.t(zh, en)) } td.num { (n) } } }
        }
    }
}

/// One town's report.
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path((plan, town)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    let r = visible(&state, &user, &plan, &town).await?;
    let can_draft = user.require(DRAFTERS).is_ok() && r.state != ReportState::Submitted;
    let can_return = user.require(REVIEWERS).is_ok() && r.state == ReportState::Submitted;
    let base = url(&plan, &town);
    let body = html! {
        p {
            (lang.t("抽查计划 ", "Plan ")) code { (plan) } " · " strong #report-state data-state=(r.state.code()) { (state_label(lang, r.state)) }
            @if let Some(d) = r.due { " · " (lang.t("截止 ", "due ")) (d) }
            @if r.late { " " span.flag #report-late { (lang.t("逾期", "late")) } }
        }
        @if let Some(c) = &r.return_comment {
            @if r.state == ReportState::Returned {
                p.flag #return-comment { (lang.t("质量科退回意见：", "Returned: ")) (c) " — " (r.returned_by.as_deref().unwrap_or("")) " " (cst(r.returned_at.as_deref())) }
            }
        }
        h2 { (lang.t("监督检查情况", "Figures")) @if r.state == ReportState::Submitted { " " span.muted { (lang.t("（报送时数据）", "(as submitted)")) } } }
        (figures_table(lang, &r.figures))
        @if can_draft {
            form method="post" action={ (base) "/save" } #report-form {
                (csrf_field(&user))
                label { (lang.t("存在问题及原因分析", "Problems and their causes")) br; textarea name="analysis" #analysis rows="8" cols="90" { (r.analysis) } }
                br;
                label { (lang.t("采取的措施及建议", "Measures taken and proposed")) br; textarea name="measures" #measures rows="6" cols="90" { (r.measures) } }
                br;
                button type="submit" #save-report { (lang.t("保存草稿", "Save draft")) }
            }
            @if r.state != ReportState::NotStarted {
                form method="post" action={ (base) "/submit" } #submit-form {
                    (csrf_field(&user))
                    label { (lang.t("签发人", "Signed by")) " " input type="text" name="signed_by" #signed-by required; }
                    " " button type="submit" #submit-report { (lang.t("签发并报送质量科", "Sign and submit")) }
                }
            }
        } @else {
            h2 { (lang.t("存在问题及原因分析", "Problems and their causes")) }
            p #analysis-text style="white-space: pre-wrap" { (r.analysis) }
            h2 { (lang.t("采取的措施及建议", "Measures taken and proposed")) }
            p #measures-text style="white-space: pre-wrap" { (r.measures) }
        }
        @if let Some(by) = &r.signed_by {
            p #signed { (lang.t("签发人：", "Signed by: ")) (by) " · " (cst(r.submitted_at.as_deref())) }
        }
        @if can_return {
            form method="post" action={ (base) "/return" } #return-form {
                (csrf_field(&user))
                label { (lang.t("退回修改意见", "Comments")) br; textarea name="comment" #return-text rows="3" cols="90" required {} }
                br; button type="submit" #return-report { (lang.t("退回修改", "Return")) }
            }
        }
        p {
            a href={ (base) "/report.xlsx" } #export-town { (lang.t("导出本报告（Excel）", "Export this report (XLSX)")) }
            " · "
            a href={ (base) "/report.pdf" } #export-town-pdf { (lang.t("PDF", "PDF")) }
        }
    };
    let title = format!("{}{}", town, lang.t("监督检查情况报告", " report"));
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), &title, body),
    ))
}

#[derive(Debug, Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    analysis: String,
    #[serde(default)]
    measures: String,
}

pub async fn save(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((plan, town)): Path<(String, String)>,
    Form(form): Form<SaveForm>,
) -> ConsoleResult<Response> {
    user.require(DRAFTERS)?;
    visible(&state, &user, &plan, &town).await?;
    state
        .store
        .save_town_report(&plan, &town, &form.analysis, &form.measures, &user.actor())
        .await?;
    Ok(Redirect::to(&url(&plan, &town)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SubmitForm {
    #[serde(default)]
    signed_by: String,
}

pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((plan, town)): Path<(String, String)>,
    Form(form): Form<SubmitForm>,
) -> ConsoleResult<Response> {
    user.require(DRAFTERS)?;
    visible(&state, &user, &plan, &town).await?;
    state
        .store
        .submit_town_report(&plan, &town, &form.signed_by, &user.actor())
        .await?;
    Ok(Redirect::to(&url(&plan, &town)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ReturnForm {
    #[serde(default)]
    comment: String,
}

pub async fn return_report(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((plan, town)): Path<(String, String)>,
    Form(form): Form<ReturnForm>,
) -> ConsoleResult<Response> {
    user.require(REVIEWERS)?;
    visible(&state, &user, &plan, &town).await?;
    state
        .store
        .return_town_report(&plan, &town, &form.comment, &user.actor())
        .await?;
    Ok(Redirect::to(&url(&plan, &town)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct DueForm {
    #[serde(default)]
    due: String,
}

pub async fn set_due(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(plan): Path<String>,
    Form(form): Form<DueForm>,
) -> ConsoleResult<Response> {
    user.require(REVIEWERS)?;
    let due = match form.due.trim() {
        "" => None,
        d => Some(d.parse::<chrono::NaiveDate>().map_err(|_| {
            ConsoleError::from(crate::store::StoreError::invalid(
                format!("截止日期“{d}”不是有效日期（年-月-日）"),
                serde_json::json!({ "field": "due" }),
            ))
        })?),
    };
    state
        .store
        .set_report_due(&plan, due, &user.actor())
        .await?;
    Ok(Redirect::to(&format!("/console/town-reports?plan={}", urlencode(&plan))).into_response())
}

/// The two formats the reports export to.
#[derive(Clone, Copy)]
enum Export {
    Xlsx,
    Pdf,
}

/// `rows` as a download named `{stem}-{plan}.{ext}`.
fn export(plan: &str, rows: &[TownReport], format: Export, stem: &str) -> ConsoleResult<Response> {
    let (bytes, content_type, ext) = match format {
        Export::Xlsx => (reports::town_reports_xlsx(plan, rows)?, XLSX, "xlsx"),
        Export::Pdf => (
            reports::town_reports_pdf(plan, rows)?,
            "application/pdf",
            "pdf",
        ),
    };
    Ok(super::reports::download(
        bytes,
        content_type,
        &format!("{stem}-{}.{ext}", ascii_name(plan)),
    ))
}

/// One town's report.
async fn one(
    state: &AppState,
    user: &CurrentUser,
    plan: &str,
    town: &str,
    format: Export,
) -> ConsoleResult<Response> {
    let r = visible(state, user, plan, town).await?;
    export(plan, std::slice::from_ref(&r), format, "town-report")
}

/// Every town's report and the combined one; a town lead's is their own
/// town's only.
async fn all(
    state: &AppState,
    user: &CurrentUser,
    plan: &str,
    format: Export,
) -> ConsoleResult<Response> {
    let rows = match user.jurisdiction_filter() {
        Some(own) => vec![state.store.town_report(plan, own).await?],
        None => state.store.town_reports(plan).await?,
    };
    export(plan, &rows, format, "town-reports")
}

pub async fn town_xlsx(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((plan, town)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    one(&state, &user, &plan, &town, Export::Xlsx).await
}

pub async fn town_pdf(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((plan, town)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    one(&state, &user, &plan, &town, Export::Pdf).await
}

pub async fn all_xlsx(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(plan): Path<String>,
) -> ConsoleResult<Response> {
    all(&state, &user, &plan, Export::Xlsx).await
}

pub async fn all_pdf(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(plan): Path<String>,
) -> ConsoleResult<Response> {
    all(&state, &user, &plan, Export::Pdf).await
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A plan ID as it may stand in an ASCII file name.
fn ascii_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
