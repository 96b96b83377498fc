//! 问题分析: the findings of a plan grouped by checklist item, category,
//! industry and town, with two server-rendered charts (findings by item and
//! by town), and the groups that suggest reporting upward — the same item
//! failing in at least N targets of one industry (行业性问题) or one town
//! (突出集中的问题), N set on the page. Each candidate can be escalated
//! from its latest record with the situation written out. A town lead sees
//! their own town's findings only.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use choucha_shared::TargetCategory;

use super::auth::{CurrentUser, Role};
use super::chart;
use super::error::ConsoleResult;
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::store::analysis::{self, Candidate, CandidateKind, Group, Thresholds};

/// Who may escalate a candidate (as on a record's page).
const WRITERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::TownLead];
/// Bars shown per chart.
const TOP: usize = 15;

#[derive(Debug, Default, Deserialize)]
pub struct AnalysisQuery {
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    industry_min: Option<usize>,
    #[serde(default)]
    town_min: Option<usize>,
}

fn category_label(code: &str) -> String {
    code.parse::<TargetCategory>()
        .map(|c| c.label_zh().to_owned())
        .unwrap_or_else(|_| code.to_owned())
}

/// "metrology MET-1.01" → "MET-1.01 计量器具…" with the item's text.
pub(super) fn item_label(state: &AppState, key: &str) -> String {
    let Some((category, item)) = key.split_once(' ') else {
        return key.to_owned();
    };
    let text = category
        .parse::<TargetCategory>()
        .ok()
        .and_then(|c| {
            let today =
                choucha_shared::value::CivilDate::new(chrono::Utc::now().date_naive()).ok()?;
            state.checklists.current(c, today)
        })
        .and_then(|c| c.item(item).map(|i| i.text.clone()))
        .unwrap_or_default();
    format!("{item} {text}")
}

fn group_table(
    id: &str,
    lang: Lang,
    head: &str,
    rows: &[Group],
    label: impl Fn(&str) -> String,
) -> Markup {
    html! {
        table id=(id) {
            tr { th { (head) } th { (lang.t("问题数", "Findings")) } th { (lang.t("涉及检查对象", "Targets")) } }
            @for g in rows {
                tr data-key=(g.key) { td { (label(&g.key)) } td.num { (g.findings) } td.num { (g.targets) } }
            }
        }
    }
}

/// Targets named in a candidate's situation; more are counted.
const NAMED: usize = 20;

/// The situation an escalation of the candidate would report.
fn situation(state: &AppState, c: &Candidate) -> String {
    let mut names: Vec<&str> = c
        .targets
        .iter()
        .take(NAMED)
        .map(|(_, n)| n.as_str())
        .collect();
    let more = c.targets.len().saturating_sub(NAMED);
    let more = (more > 0).then(|| format!("等 {} 家", c.targets.len()));
    if let Some(m) = &more {
        names.push(m);
    }
    let item = item_label(state, &format!("{} {}", c.category, c.item_id));
    match c.kind {
        CandidateKind::Industry => format!(
            "行业代码 {} 的 {} 家{}检查中，检查项“{}”均不符合：{}。",
            c.scope,
            c.targets.len(),
            category_label(&c.category),
            item,
            names.join("、")
        ),
        CandidateKind::Concentrated => format!(
            "{}的 {} 家{}检查中，检查项“{}”均不符合：{}。",
            c.scope,
            c.targets.len(),
            category_label(&c.category),
            item,
            names.join("、")
        ),
    }
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Query(q): Query<AnalysisQuery>,
) -> ConsoleResult<Response> {
    let plans = state.store.console_plans().await?;
    let plan = q
        .plan
        .filter(|p| !p.trim().is_empty())
        .or_else(|| plans.first().map(|p| p.plan_id.clone()))
        .unwrap_or_default();
    let defaults = Thresholds::default();
    let t = Thresholds {
        industry_targets: q.industry_min.unwrap_or(defaults.industry_targets).max(2),
        town_targets: q.town_min.unwrap_or(defaults.town_targets).max(2),
    };
    let facts = state
        .store
        .finding_facts(&plan, user.jurisdiction_filter())
        .await?;
    let a = analysis::analyse(&facts, t);
    let by_item: Vec<(String, usize)> = a
        .by_item
        .iter()
        .take(TOP)
        .map(|g| (item_label(&state, &g.key), g.findings))
        .collect();
    let by_town: Vec<(String, usize)> = a
        .by_town
        .iter()
        .map(|g| (g.key.clone(), g.findings))
        .collect();
    let can_escalate = user.require(WRITERS).is_ok();
    let body = html! {
        form method="get" action="/console/analysis" #analysis-form {
            label { (lang.t("抽查计划", "Plan")) " "
                select name="plan" {
                    @for p in &plans { option value=(p.plan_id) selected[p.plan_id == plan] { (p.plan_id) } }
                }
            } " "
            label { (lang.t("同一行业至少", "Same industry, at least")) " "
                input type="number" name="industry_min" min="2" value=(t.industry_targets) style="width: 4em";
                " " (lang.t("家", "targets"))
            } " "
            label { (lang.t("同一镇街至少", "Same town, at least")) " "
                input type="number" name="town_min" min="2" value=(t.town_targets) style="width: 4em";
                " " (lang.t("家", "targets"))
            } " "
            button type="submit" #analyse { (lang.t("分析", "Analyse")) }
        }
        p #findings-total { (lang.t("发现问题共 ", "Findings: ")) strong { (a.findings) } (lang.t(" 个。", "")) }
        h2 { (lang.t("建议上报", "Suggested escalations")) }
        @if a.candidates.is_empty() {
            p.muted #no-candidates { (lang.t("未发现达到阈值的行业性或突出集中问题。", "Nothing reaches the thresholds.")) }
        }
        table #candidates {
            @for c in &a.candidates {
                @let kind = match c.kind { CandidateKind::Industry => "industry", CandidateKind::Concentrated => "concentrated" };
                @let text = situation(&state, c);
                tr.candidate data-kind=(kind) data-scope=(c.scope) data-item=(c.item_id) {
                    td { @match c.kind {
                        CandidateKind::Industry => { (lang.t("行业性问题", "Industry-wide")) }
                        CandidateKind::Concentrated => { (lang.t("突出集中的问题", "Concentrated")) }
                    } }
                    td { (text) }
                    td { @for (i, r) in c.records.iter().enumerate() {
                        @if i > 0 { " " } a href={ "/console/records/" (r) } { (lang.t("记录", "record")) (i + 1) }
                    } }
                    @if can_escalate {
                        @if let Some(latest) = c.records.first() {
                            td { form method="post" action={ "/console/records/" (latest) "/escalate" } {
                                (csrf_field(&user))
                                input type="hidden" name="kind" value=(kind);
                                input type="hidden" name="description" value=(text);
                                button type="submit" .escalate-candidate { (lang.t("上报", "Escalate")) }
                            } }
                        }
                    }
                }
            }
        }
        h2 { (lang.t("按检查项", "By checklist item")) }
        (chart::bars("chart-items", lang.t("各检查项发现问题数（前 15 项）", "Findings by item (top 15)"), &by_item))
        (group_table("by-item", lang, lang.t("检查项", "Item"), &a.by_item, |k| item_label(&state, k)))
        h2 { (lang.t("按镇街", "By town")) }
        (chart::bars("chart-towns", lang.t("各镇街发现问题数", "Findings by town"), &by_town))
        (group_table("by-town", lang, lang.t("镇街", "Town"), &a.by_town, str::to_owned))
        h2 { (lang.t("按检查对象类别", "By category")) }
        (group_table("by-category", lang, lang.t("类别", "Category"), &a.by_category, category_label))
        h2 { (lang.t("按行业（国民经济行业分类大类）", "By industry (GB/T 4754 major group)")) }
        (group_table("by-industry", lang, lang.t("行业代码", "Industry"), &a.by_industry, str::to_owned))
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            lang.t("问题分析", "Problem analysis"),
            body,
        ),
    ))
}
