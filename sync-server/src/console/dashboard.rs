//! The dashboard: progress against the plan by stratum, town and team,
//! findings by checklist item and category, overdue rectifications. The
//! numbers come from `oversight::dashboard`; a town lead's are their town's.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use choucha_shared::TargetCategory;

use super::auth::CurrentUser;
use super::error::ConsoleResult;
use super::page::{Lang, layout, page};
use crate::AppState;
use crate::oversight::today_cst;
use crate::store::dashboard::{Progress, Scope};

/// The `plan` value that asks for every plan (plan IDs are letters,
/// digits, `-` and `_`).
const ALL_PLANS: &str = "*";

#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    town: Option<String>,
}

fn progress_table(lang: Lang, id: &str, head: &str, rows: &[Progress]) -> Markup {
    html! {
        table id=(id) {
            tr {
                th { (head) } th { (lang.t("计划", "Planned")) } th { (lang.t("未开始", "Pending")) }
                th { (lang.t("证据不全", "Incomplete")) } th { (lang.t("待审核", "Received")) } th { (lang.t("存在问题", "Has issues")) }
                th { (lang.t("已退回", "Returned")) } th { (lang.t("已通过", "Approved")) } th { (lang.t("完成率", "Done")) }
            }
            @for p in rows {
                tr {
                    td { (p.label) } td { (p.planned) } td { (p.pending) } td { (p.incomplete) } td { (p.received) }
                    td { (p.has_issues) } td { (p.returned) } td { (p.approved) }
                    td { @if p.planned > 0 { (format!("{:.0}%", p.approved as f64 * 100.0 / p.planned as f64)) } @else { "—" } }
                }
            }
        }
    }
}

fn category_label(lang: Lang, code: &str) -> String {
    match (lang, code.parse::<TargetCategory>()) {
        (Lang::Zh, Ok(c)) => c.label_zh().to_owned(),
        (Lang::En, Ok(c)) => c.label_en().to_owned(),
        (_, Err(_)) => code.to_owned(),
    }
}

/// The newest plan with a draw (plans come newest first), else the newest.
async fn current_plan(
    state: &AppState,
    plans: &[crate::store::PlanSummary],
) -> ConsoleResult<Option<String>> {
    for p in plans {
        if p.frozen_at.is_some() && !state.store.plan_draws(&p.plan_id).await?.is_empty() {
            return Ok(Some(p.plan_id.clone()));
        }
    }
    Ok(plans.first().map(|p| p.plan_id.clone()))
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Query(q): Query<DashboardQuery>,
) -> ConsoleResult<Response> {
    let plans = state.store.console_plans().await?;
    // No plan chosen: the newest plan that has been drawn (an undrawn one
    // would show everyone zeros), else the newest; `*` (never a plan ID):
    // every plan.
    let plan_id = match q.plan.as_deref().map(str::trim) {
        Some(ALL_PLANS) => None,
        Some(p) if !p.is_empty() => Some(p.to_owned()),
        _ => current_plan(&state, &plans).await?,
    };
    let town = match user.jurisdiction_filter() {
        Some(own) => Some(own.to_owned()),
        None => q.town.filter(|t| !t.trim().is_empty()),
    };
    let scope = Scope {
        plan_id: plan_id.clone(),
        town: town.clone(),
    };
    let d = state.store.dashboard(&scope, today_cst(), 50).await?;
    let towns: Vec<String> = match user.jurisdiction_filter() {
        Some(own) => vec![own.to_owned()],
        None => state.store.jurisdictions().await?.into_iter().collect(),
    };
    let body = html! {
        form method="get" action="/console/dashboard" #dashboard-filter {
            label { (lang.t("抽查计划", "Plan")) " "
                select name="plan" {
                    option value=(ALL_PLANS) selected[plan_id.is_none()] { (lang.t("全部计划", "All plans")) }
                    @for p in &plans { option value=(p.plan_id) selected[plan_id.as_deref() == Some(p.plan_id.as_str())] { (p.plan_id) " " (p.title) } }
                }
            } " "
            label { (lang.t("镇街", "Town")) " "
                select name="town" {
                    @if user.jurisdiction_filter().is_none() { option value="" { (lang.t("全部", "All")) } }
                    @for t in &towns { option value=(t) selected[town.as_deref() == Some(t.as_str())] { (t) } }
                }
            } " "
            button type="submit" { (lang.t("查看", "Show")) }
        }
        h2 { (lang.t("总体进度", "Overall progress")) }
        (progress_table(lang, "progress-total", lang.t("合计", "Total"), std::slice::from_ref(&d.total)))
        h2 { (lang.t("按分层", "By stratum")) }
        (progress_table(lang, "progress-stratum", lang.t("分层", "Stratum"), &d.by_stratum))
        h2 { (lang.t("按镇街", "By town")) }
        (progress_table(lang, "progress-town", lang.t("镇街", "Town"), &d.by_town))
        h2 { (lang.t("按检查组", "By team")) }
        (progress_table(lang, "progress-team", lang.t("检查组", "Team"), &d.by_team))
        h2 { (lang.t("发现问题：按类别", "Findings by category")) }
        table #findings-by-category {
            tr { th { (lang.t("类别", "Category")) } th { (lang.t("问题数", "Findings")) } }
            @for (c, n) in &d.findings_by_category { tr { td { (category_label(lang, c)) } td { (n) } } }
        }
        h2 { (lang.t("发现问题：按检查项", "Findings by checklist item")) }
        table #findings-by-item {
            tr { th { (lang.t("类别", "Category")) } th { (lang.t("检查项", "Item")) } th { (lang.t("问题数", "Findings")) } th { (lang.t("处置", "Dispositions")) } }
            @for f in &d.findings_by_item {
                tr {
                    td { (category_label(lang, &f.category)) } td { (f.item_id) } td { (f.total) }
                    td { @for (k, n) in &f.by_kind { (k.parse::<choucha_shared::record::DispositionKind>().map_or(k.as_str(), |d| d.label_zh())) " " (n) "；" } }
                }
            }
        }
        h2 { (lang.t("逾期未整改", "Overdue rectifications")) " (" (d.overdue_total) ")" }
        table #dashboard-overdue {
            tr { th { (lang.t("镇街", "Town")) } th { (lang.t("问题", "Finding")) } th { (lang.t("期限", "Deadline")) } }
            @for o in &d.overdue {
                tr { td { (o.town) } td { a href={ "/console/followup/" (o.finding_id) } { (o.description) } } td.flag { (o.deadline) } }
            }
        }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("进度统计", "Dashboard"), body),
    ))
}
