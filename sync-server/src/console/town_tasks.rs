//! 镇街任务: the tasks of a plan's current draw in one town — target, team,
//! checklist, deadline and how far each has got — for the town's lead to
//! know who comes when, and to print, sign and file. A town lead sees
//! their own town whatever the address asks for; the quality section
//! picks any town.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use choucha_shared::plan::MemberRole;
use choucha_shared::review::TaskState;

use super::auth::CurrentUser;
use super::dashboard::{category_label, current_plan};
use super::error::ConsoleResult;
use super::page::{Lang, layout, page, print_setup, signature_lines};
use crate::AppState;
use crate::oversight::today_cst;

#[derive(Debug, Default, Deserialize)]
pub struct TasksQuery {
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    town: Option<String>,
}

fn status_label(lang: Lang, status: &str) -> String {
    match status.parse::<TaskState>() {
        Ok(TaskState::Pending) => lang.t("未检查", "Not yet inspected").to_owned(),
        Ok(TaskState::Record(s)) => lang.t(s.label_zh(), s.label_en()).to_owned(),
        Err(_) => status.to_owned(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Query(q): Query<TasksQuery>,
) -> ConsoleResult<Response> {
    let title = lang.t("镇街任务", "Tasks by town");
    let plans = state.store.console_plans().await?;
    let plan_id = match q.plan.as_deref().map(str::trim) {
        Some(p) if !p.is_empty() => Some(p.to_owned()),
        _ => current_plan(&state, &plans).await?,
    };
    // A town lead's own town, whatever was asked: the list is theirs.
    let towns: Vec<String> = match user.jurisdiction_filter() {
        Some(own) => vec![own.to_owned()],
        None => state.store.jurisdictions().await?.into_iter().collect(),
    };
    let town = match user.jurisdiction_filter() {
        Some(own) => Some(own.to_owned()),
        None => q
            .town
            .filter(|t| towns.iter().any(|k| k == t.trim()))
            .or_else(|| towns.first().cloned()),
    };
    let (Some(plan_id), Some(town)) = (plan_id, town) else {
        let body = html! { p.muted #no-tasks { (lang.t("还没有抽查计划或镇街名录。", "No plan or town directory yet.")) } };
        return Ok(page(StatusCode::OK, layout(lang, Some(&user), title, body)));
    };
    let plan_title = plans
        .iter()
        .find(|p| p.plan_id == plan_id)
        .map(|p| p.title.clone())
        .unwrap_or_default();
    let tasks = state.store.town_tasks(&plan_id, &town).await?;
    let today = today_cst();
    let pending = tasks
        .iter()
        .filter(|t| t.status == TaskState::PENDING)
        .count();
    let overdue = tasks.iter().filter(|t| t.overdue(today)).count();
    let head = format!("{plan_id} {plan_title} — {town} {title}");
    let body = html! {
        (print_setup(lang, &head, true))
        form.noprint method="get" action="/console/tasks" #tasks-filter {
            label { (lang.t("抽查计划", "Plan")) " "
                select name="plan" {
                    @for p in &plans { option value=(p.plan_id) selected[p.plan_id == plan_id] { (p.plan_id) " " (p.title) } }
                }
            } " "
            label { (lang.t("镇街", "Town")) " "
                select name="town" #town {
                    @for t in &towns { option value=(t) selected[*t == town] { (t) } }
                }
            } " "
            button type="submit" { (lang.t("查看", "Show")) } " "
            button type="button" data-print #print-tasks { (lang.t("打印", "Print")) }
        }
        p.print-only { strong { (plan_id) " " (plan_title) } }
        p #tasks-summary {
            (town) (lang.t("：本计划检查任务 ", ": ")) strong #task-total { (tasks.len()) }
            (lang.t(" 项，其中未检查 ", " tasks, not yet inspected ")) strong { (pending) }
            (lang.t(" 项", ""))
            @if overdue > 0 {
                (lang.t("，", ", ")) span.flag #overdue-count { (lang.t("逾期未检查 ", "overdue ")) (overdue) (lang.t(" 项", "")) }
            }
        }
        @if tasks.is_empty() {
            p.notice #no-tasks { (lang.t("本镇街在该计划中没有抽中的检查对象。", "No target in this town was drawn in this plan.")) }
        } @else {
            table #town-tasks {
                thead { tr {
                    th { "#" } th { (lang.t("检查对象", "Target")) } th { (lang.t("类别", "Category")) }
                    th { (lang.t("检查组", "Team")) } th { (lang.t("检查表", "Checklist")) }
                    th { (lang.t("期限", "Due")) } th { (lang.t("状态", "State")) }
                } }
                @for (i, t) in tasks.iter().enumerate() {
                    tr data-task=(t.task_id) data-status=(t.status) data-overdue=(t.overdue(today)) {
                        td { (i + 1) }
                        td { (t.target_name.as_deref().unwrap_or("")) br; span.muted { code.id { (t.target_key) } } }
                        td { (category_label(lang, &t.category)) }
                        td.team {
                            @for m in &t.team {
                                span.member {
                                    (m.name)
                                    @if m.role == MemberRole::Expert { (lang.t("（专家）", " (expert)")) }
                                    " " span.muted { (m.person_id) }
                                }
                                br;
                            }
                        }
                        td { (t.checklist_id) }
                        td {
                            @match t.due { Some(d) => { (d.to_string()) } None => { "—" } }
                            @if t.overdue(today) { " " span.flag { (lang.t("逾期", "overdue")) } }
                        }
                        td { (status_label(lang, &t.status)) }
                    }
                }
            }
        }
        (signature_lines(lang, &[lang.t("镇街负责人", "Town lead"), lang.t("质量科经办人", "Quality section")]))
    };
    Ok(page(StatusCode::OK, layout(lang, Some(&user), title, body)))
}
