//! The dashboard: progress against the plan at a glance (a card per target
//! category with progress bars, a chart per town), then by stratum (named
//! from the plan), town and team; findings by checklist item (a chart) and
//! category; overdue rectifications. The numbers come from the store's
//! progress counters; a town lead's are their town's.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use std::collections::BTreeMap;

use choucha_shared::TargetCategory;
use choucha_shared::record::DispositionKind;

use super::analysis::item_label;
use super::auth::CurrentUser;
use super::chart;
use super::draws::filters_label;
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

fn progress_table(
    lang: Lang,
    id: &str,
    head: &str,
    rows: &[Progress],
    label: impl Fn(&Progress) -> String,
) -> Markup {
    html! {
        table id=(id) {
            tr {
                th { (head) } th { (lang.t("计划", "Planned")) } th { (lang.t("未开始", "Pending")) }
                th { (lang.t("证据不全", "Incomplete")) } th { (lang.t("待审核", "Received")) } th { (lang.t("存在问题", "Has issues")) }
                th { (lang.t("已退回", "Returned")) } th { (lang.t("已通过", "Approved")) } th { (lang.t("完成率", "Done")) }
            }
            @for p in rows {
                tr {
                    td { (label(p)) } td { (p.planned) } td { (p.pending) } td { (p.incomplete) } td { (p.received) }
                    td { (p.has_issues) } td { (p.returned) } td { (p.approved) }
                    td { @if p.planned > 0 { (format!("{:.0}%", p.approved as f64 * 100.0 / p.planned as f64)) } @else { "—" } }
                }
            }
        }
    }
}

/// A stratum as people read it, from its plan: `JCJG 检验检测机构 · 西永街道`.
struct StratumInfo {
    /// The card it is counted in: a category's code, or `assigned`.
    group: String,
    name: String,
}

/// The strata of the plans in scope (one plan, or every plan), by ID.
async fn strata_info(
    state: &AppState,
    lang: Lang,
    plan_ids: &[String],
) -> ConsoleResult<BTreeMap<String, StratumInfo>> {
    let mut out = BTreeMap::new();
    for plan_id in plan_ids {
        let r = state.store.plan(plan_id).await?;
        for s in &r.plan.strata {
            let mut name = format!(
                "{} {}",
                s.id,
                super::draws::category_label(lang, s.category)
            );
            if let Some(town) = &s.jurisdiction {
                name.push_str(&format!(" · {town}"));
            }
            let filters = filters_label(s);
            if filters != "—" {
                name.push_str(&format!(" · {filters}"));
            }
            out.entry(s.id.clone()).or_insert(StratumInfo {
                group: s.category.code().to_owned(),
                name,
            });
        }
    }
    out.insert(
        choucha_shared::draw_v2::ASSIGNED.to_owned(),
        StratumInfo {
            group: choucha_shared::draw_v2::ASSIGNED.to_owned(),
            name: lang.t("指定检查对象", "Assigned targets").to_owned(),
        },
    );
    Ok(out)
}

/// One card: a group's planned tasks and three bars against them.
fn card(lang: Lang, group: &str, title: &str, p: &Progress) -> Markup {
    let reported = p.planned - p.pending;
    let complete = reported - p.incomplete;
    let bar = |label: &str, class: &str, n: i64| {
        html! {
            div.bar-row {
                span.bar-label { (label) }
                progress class=(class) value=(n) max=(p.planned.max(1)) {}
                span.bar-n { (n) " / " (p.planned) }
            }
        }
    };
    html! {
        section.card data-group=(group) {
            h3 { (title) }
            p.muted { (lang.t("计划检查 ", "Planned: ")) strong.planned { (p.planned) } (lang.t(" 户", "")) }
            (bar(lang.t("已检查并上报", "Inspected, synced"), "reported", reported))
            (bar(lang.t("证据齐全", "Evidence complete"), "complete", complete))
            (bar(lang.t("审核通过", "Approved"), "approved", p.approved))
        }
    }
}

/// A progress row as a chart's segments: approved, under review or
/// returned, waiting for review, not yet inspected.
fn segments(p: &Progress) -> Vec<usize> {
    let n = |v: i64| v.max(0) as usize;
    vec![
        n(p.approved),
        n(p.has_issues + p.returned),
        n(p.received + p.incomplete),
        n(p.pending),
    ]
}

fn sum(into: &mut Progress, p: &Progress) {
    into.planned += p.planned;
    into.pending += p.pending;
    into.incomplete += p.incomplete;
    into.received += p.received;
    into.has_issues += p.has_issues;
    into.returned += p.returned;
    into.approved += p.approved;
}

pub(super) fn category_label(lang: Lang, code: &str) -> String {
    match (lang, code.parse::<TargetCategory>()) {
        (Lang::Zh, Ok(c)) => c.label_zh().to_owned(),
        (Lang::En, Ok(c)) => c.label_en().to_owned(),
        (_, Err(_)) => code.to_owned(),
    }
}

/// The newest plan with a draw (plans come newest first), else the newest.
pub(super) async fn current_plan(
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
    let in_scope: Vec<String> = match &plan_id {
        Some(p) => vec![p.clone()],
        None => plans.iter().map(|p| p.plan_id.clone()).collect(),
    };
    let strata = strata_info(&state, lang, &in_scope).await?;
    // A per-risk stratum's tasks are counted per class (`JL/B`): named
    // from their stratum, with the class.
    let stratum_of = |key: &str| -> Option<(String, String)> {
        if let Some(s) = strata.get(key) {
            return Some((s.group.clone(), s.name.clone()));
        }
        let (id, class) = key.rsplit_once('/')?;
        let s = strata.get(id)?;
        let class = match lang {
            Lang::Zh => format!("{class} 类"),
            Lang::En => format!("class {class}"),
        };
        Some((
            s.group.clone(),
            format!(
                "{key} · {} · {class}",
                s.name
                    .split_once(' ')
                    .map_or(s.name.as_str(), |(_, rest)| rest)
            ),
        ))
    };
    let stratum_name =
        |p: &Progress| stratum_of(&p.key).map_or_else(|| p.label.clone(), |(_, name)| name);
    // The cards: one per target category (and the assigned targets), in
    // the categories' own order.
    let mut groups: BTreeMap<String, Progress> = BTreeMap::new();
    for p in &d.by_stratum {
        let group = stratum_of(&p.key).map_or_else(|| p.key.clone(), |(group, _)| group);
        sum(groups.entry(group).or_default(), p);
    }
    let order = |code: &str| {
        TargetCategory::ALL
            .iter()
            .position(|c| c.code() == code)
            .unwrap_or(TargetCategory::ALL.len())
    };
    let mut cards: Vec<(String, Progress)> = groups.into_iter().collect();
    cards.sort_by_key(|(g, _)| order(g));
    let group_title = |g: &str| match g {
        choucha_shared::draw_v2::ASSIGNED => lang.t("指定检查对象", "Assigned targets").to_owned(),
        other => category_label(lang, other),
    };
    let town_rows: Vec<(String, Vec<usize>)> = d
        .by_town
        .iter()
        .map(|p| (p.label.clone(), segments(p)))
        .collect();
    let item_rows: Vec<(String, usize)> = d
        .findings_by_item
        .iter()
        .take(15)
        .map(|f| {
            (
                item_label(&state, &format!("{} {}", f.category, f.item_id)),
                f.total.max(0) as usize,
            )
        })
        .collect();
    let disposition = |k: &str| match (lang, k.parse::<DispositionKind>()) {
        (Lang::Zh, Ok(d)) => d.label_zh().to_owned(),
        (Lang::En, Ok(d)) => d.label_en().to_owned(),
        (_, Err(_)) => k.to_owned(),
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
        div.cards #progress-cards {
            (card(lang, "total", lang.t("全部检查对象", "All targets"), &d.total))
            @for (g, p) in &cards { (card(lang, g, &group_title(g), p)) }
        }
        @if d.total.planned == 0 {
            p.notice #no-tasks { (lang.t("所选范围内尚无抽取的检查任务。", "No drawn tasks in this selection yet.")) }
        }
        h2 { (lang.t("各镇街进度", "Progress by town")) }
        (chart::stacked(
            "chart-town-progress",
            lang.t("各镇街检查进度", "Progress by town"),
            &[lang.t("已通过", "Approved"), lang.t("有问题/退回", "Issues/returned"), lang.t("待审核", "To review"), lang.t("未检查", "Not yet")],
            &town_rows,
        ))
        h2 { (lang.t("总体进度", "Overall progress")) }
        (progress_table(lang, "progress-total", lang.t("合计", "Total"), std::slice::from_ref(&d.total), |_| lang.t("合计", "Total").to_owned()))
        h2 { (lang.t("按分层", "By stratum")) }
        (progress_table(lang, "progress-stratum", lang.t("分层", "Stratum"), &d.by_stratum, stratum_name))
        h2 { (lang.t("按镇街", "By town")) }
        (progress_table(lang, "progress-town", lang.t("镇街", "Town"), &d.by_town, |p| p.label.clone()))
        h2 { (lang.t("按检查组", "By team")) }
        (progress_table(lang, "progress-team", lang.t("检查组", "Team"), &d.by_team, |p| p.label.clone()))
        h2 { (lang.t("发现问题：按检查项", "Findings by checklist item")) }
        (chart::bars("chart-findings-by-item", lang.t("各检查项发现问题数（前 15 项）", "Findings by item (top 15)"), &item_rows))
        table #findings-by-item {
            tr { th { (lang.t("类别", "Category")) } th { (lang.t("检查项", "Item")) } th { (lang.t("问题数", "Findings")) } th { (lang.t("处置", "Dispositions")) } }
            @for f in &d.findings_by_item {
                tr {
                    td { (category_label(lang, &f.category)) } td { (item_label(&state, &format!("{} {}", f.category, f.item_id))) } td { (f.total) }
                    td { @for (k, n) in &f.by_kind { (disposition(k)) " " (n) "；" } }
                }
            }
        }
        h2 { (lang.t("发现问题：按类别", "Findings by category")) }
        table #findings-by-category {
            tr { th { (lang.t("类别", "Category")) } th { (lang.t("问题数", "Findings")) } }
            @for (c, n) in &d.findings_by_category { tr { td { (category_label(lang, c)) } td { (n) } } }
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
