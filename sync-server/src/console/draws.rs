//! The draw ceremony in the browser: create a plan, freeze it (the snapshot
//! hash is shown before any seed exists), enter the public seed with who
//! entered it, run the draw, print the draw record, verify any past draw.
//! The same store functions as the REST API do the work.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use choucha_shared::TargetCategory;
use choucha_shared::plan::{DrawPlan, MemberRole, Quota, Stratum};
use choucha_shared::value::{CivilDate, Name};

use super::auth::{CurrentUser, Role};
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::service;

/// Who may see plans and draws (not town leads: a draw spans all towns).
const READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Auditor];
/// Who may run the ceremony.
const WRITERS: &[Role] = &[Role::Admin, Role::Supervisor];

fn category_label(lang: Lang, c: TargetCategory) -> String {
    match lang {
        Lang::Zh => c.label_zh().to_owned(),
        Lang::En => c.code().to_owned(),
    }
}

/// A quota as people write it: `5`, `30%`, `A 2%、B 5%`.
fn quota_label(q: &Quota) -> String {
    let pct = |r: f64| format!("{}%", (r * 100_000.0).round() / 1000.0);
    match q {
        Quota::Count(k) => k.to_string(),
        Quota::Ratio(r) => pct(*r),
        Quota::ByRisk(m) => m
            .iter()
            .map(|(c, r)| format!("{} {}", c.code(), pct(*r)))
            .collect::<Vec<_>>()
            .join("、"),
    }
}

/// The plan list and the new-plan form.
pub async fn plans(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
) -> ConsoleResult<Response> {
    user.require(READERS)?;
    let plans = state.store.console_plans().await?;
    let body = html! {
        table #plans {
            tr { th { (lang.t("计划编号", "Plan")) } th { (lang.t("名称", "Title")) } th { (lang.t("创建", "Created")) } th { (lang.t("快照哈希", "Snapshot hash")) } }
            @for p in &plans {
                tr {
                    td { a href={ "/console/plans/" (p.plan_id) } { (p.plan_id) } }
                    td { (p.title) }
                    td { (p.created_at) " " (p.created_by) }
                    td { @if let Some(h) = &p.snapshot_hash { code { (h) } } @else { span.muted { (lang.t("未冻结", "not frozen")) } } }
                }
            }
        }
        p { a href="/console/verify" #verify-link { (lang.t("复核任意一次抽取", "Verify any draw")) } }
        @if WRITERS.contains(&user.role) { (new_plan_form(lang, &user)) }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("抽查计划", "Draw plans"), body),
    ))
}

fn new_plan_form(lang: Lang, user: &CurrentUser) -> Markup {
    let categories: Vec<String> = TargetCategory::ALL
        .iter()
        .map(|c| format!("{} = {}", c.code(), c.label_zh()))
        .collect();
    html! {
        h2 { (lang.t("新建抽查计划", "New plan")) }
        form method="post" action="/console/plans/new" #new-plan {
            (csrf_field(user))
            p { label { (lang.t("计划编号", "Plan ID")) br; input name="plan_id" #plan_id required; } }
            p { label { (lang.t("名称", "Title")) br; input name="title" #title size="60" required; } }
            p {
                label { (lang.t("每组执法人员数", "Officers per team")) " " input name="team_size" type="number" min="2" value="2"; } " "
                label { (lang.t("每人任务上限", "Tasks per officer")) " " input name="officer_cap" type="number" min="1" value="25"; } " "
                label { input name="with_expert" type="checkbox" value="1"; (lang.t("每组配一名专家", "One expert per team")) } " "
                label { (lang.t("完成期限", "Due")) " " input name="due" type="date"; }
            }
            p {
                label {
                    (lang.t("分层（每行：编号,类别,抽取数量或比例[,镇街]）", "Strata (one per line: id,category,count or ratio[,town])"))
                    br;
                    textarea name="strata" #strata rows="6" cols="60" placeholder="JCJG,testing_body,5" {}
                }
            }
            p.muted { (lang.t("类别：", "Categories: ")) (categories.join("；")) }
            p { button type="submit" #create-plan { (lang.t("创建计划", "Create plan")) } }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NewPlanForm {
    plan_id: String,
    title: String,
    team_size: String,
    officer_cap: String,
    #[serde(default)]
    with_expert: Option<String>,
    #[serde(default)]
    due: Option<String>,
    strata: String,
}

/// Parses the strata lines, naming the line and field that are wrong.
fn parse_strata(text: &str) -> Result<Vec<Stratum>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        let fields: Vec<&str> = line.split([',', '，']).map(str::trim).collect();
        if !(3..=4).contains(&fields.len()) {
            return Err(format!(
                "分层第 {n} 行须为“编号,类别,数量或比例[,镇街]” (stratum line {n}: expected id,category,quota[,town])"
            ));
        }
        let category: TargetCategory = fields[1].parse().map_err(|_| {
            format!(
                "分层第 {n} 行：未知类别 '{}' (stratum line {n}: unknown category)",
                fields[1]
            )
        })?;
        let quota = if fields[2].contains('.') {
            Quota::Ratio(
                fields[2]
                    .parse()
                    .map_err(|_| format!("分层第 {n} 行：比例 '{}' 无效 (bad ratio)", fields[2]))?,
            )
        } else {
            Quota::Count(
                fields[2]
                    .parse()
                    .map_err(|_| format!("分层第 {n} 行：数量 '{}' 无效 (bad count)", fields[2]))?,
            )
        };
        let jurisdiction = match fields.get(3).filter(|j| !j.is_empty()) {
            Some(j) => Some(
                Name::parse(j)
                    .map_err(|e| format!("分层第 {n} 行：镇街 '{j}' 无效：{e} (bad town)"))?,
            ),
            None => None,
        };
        out.push(Stratum {
            id: fields[0].to_owned(),
            category,
            jurisdiction,
            risk_classes: Vec::new(),
            industry_prefixes: Vec::new(),
            standard_kind: None,
            quota,
        });
    }
    Ok(out)
}

/// Creates a plan from the form.
pub async fn create_plan(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<NewPlanForm>,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    let bad = ConsoleError::BadRequest;
    let plan_id = form.plan_id.trim().to_owned();
    let team_size: u8 = form.team_size.trim().parse().map_err(|_| {
        bad(format!(
            "每组人数 '{}' 不是整数 (team_size)",
            form.team_size
        ))
    })?;
    let officer_cap: u32 = form.officer_cap.trim().parse().map_err(|_| {
        bad(format!(
            "每人任务上限 '{}' 不是整数 (officer_cap)",
            form.officer_cap
        ))
    })?;
    let due = match form.due.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => {
            Some(CivilDate::parse(d).map_err(|e| bad(format!("完成期限 '{d}' 无效：{e} (due)")))?)
        }
        None => None,
    };
    let plan = DrawPlan {
        format: choucha_shared::FORMAT_VERSION,
        algorithm: 1,
        assigned: Vec::new(),
        exclude_inspected_since: None,
        plan_id,
        title: form.title.trim().to_owned(),
        strata: parse_strata(&form.strata).map_err(bad)?,
        team_size,
        with_expert: form.with_expert.is_some(),
        officer_cap,
        due,
    };
    service::draws::create_plan(&state.store, &user.actor(), &plan).await?;
    Ok(Redirect::to(&format!("/console/plans/{}", urlencode(&plan.plan_id))).into_response())
}

/// Percent-encodes a path segment.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One plan: strata, freezing, the seed form, its draws.
pub async fn plan(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(plan_id): Path<String>,
) -> ConsoleResult<Response> {
    user.require(READERS)?;
    let r = state.store.plan(&plan_id).await?;
    let draws = state.store.plan_draws(&plan_id).await?;
    let can_write = WRITERS.contains(&user.role);
    let pid = urlencode(&plan_id);
    let body = html! {
        p { strong { (r.plan.title) } }
        p { (lang.t("创建：", "Created: ")) (r.created_at) " " (r.created_by) }
        table #strata {
            tr { th { (lang.t("分层", "Stratum")) } th { (lang.t("类别", "Category")) } th { (lang.t("镇街", "Town")) } th { (lang.t("抽取", "Quota")) } th { (lang.t("候选对象", "Candidates")) } }
            @for (i, s) in r.plan.strata.iter().enumerate() {
                tr {
                    td { (s.id) }
                    td { (category_label(lang, s.category)) }
                    td { (s.jurisdiction.as_ref().map(ToString::to_string).unwrap_or_else(|| "—".into())) }
                    td { (quota_label(&s.quota)) }
                    td { @if let Some(n) = r.candidates_per_stratum.get(i) { (n) } @else { "—" } }
                }
            }
        }
        p { (lang.t("每组执法人员 ", "Officers per team: ")) (r.plan.team_size)
            @if r.plan.with_expert { (lang.t("，另配专家一名", ", plus one expert")) }
            (lang.t("；每人任务上限 ", "; tasks per officer: ")) (r.plan.officer_cap) }
        @match (&r.snapshot_hash, &r.frozen_at) {
            (Some(hash), Some(at)) => {
                p #frozen { (lang.t("名录快照已于 ", "Directory snapshot frozen at ")) (at) (lang.t(" 冻结，哈希：", ", hash: ")) code #snapshot-hash { (hash) } }
                @if can_write {
                    h2 { (lang.t("录入公开随机种子并抽取", "Enter the public seed and draw")) }
                    form method="post" action={ "/console/plans/" (pid) "/draw" } #draw-form {
                        (csrf_field(&user))
                        p { label { (lang.t("随机种子（如现场掷骰结果，至少 20 个字符）", "Seed (e.g. dice rolled in public; at least 20 characters)")) br; input name="seed" #seed size="60" required; } }
                        p { label { (lang.t("录入人", "Entered by")) br; input name="entered_by" #entered_by value=(user.username) required; } }
                        @if !draws.is_empty() {
                            p { label { (lang.t("重抽（替换的抽取编号）", "Redraw of (draw ID)")) br; input name="redraw_of" #redraw_of; } " "
                                label { (lang.t("重抽原因", "Reason")) br; input name="reason" #reason size="40"; } }
                        }
                        p { button type="submit" #run-draw { (lang.t("抽取", "Run the draw")) } }
                    }
                }
            }
            _ => {
                p.notice { (lang.t("尚未冻结名录快照；冻结后才能录入种子。", "Not frozen yet; the seed can be entered only after freezing.")) }
                @if can_write {
                    form method="post" action={ "/console/plans/" (pid) "/freeze" } {
                        (csrf_field(&user))
                        button type="submit" #freeze { (lang.t("冻结名录快照", "Freeze the snapshot")) }
                    }
                }
            }
        }
        @if !draws.is_empty() {
            h2 { (lang.t("抽取记录", "Draws")) }
            table #draws {
                tr { th { "#" } th { (lang.t("抽取编号", "Draw")) } th { (lang.t("种子录入", "Seed entered")) } th { (lang.t("替换", "Replaces")) } }
                @for d in &draws {
                    tr {
                        td { (d.seq) }
                        td { a href={ "/console/draws/" (urlencode(&d.draw_id)) } { (d.draw_id) } }
                        td { (d.seed_entered_at) " " (d.seed_entered_by) }
                        td { (d.supersedes.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            &format!("{} {}", lang.t("抽查计划", "Plan"), plan_id),
            body,
        ),
    ))
}

/// Freezes a plan's directory snapshot.
pub async fn freeze(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(plan_id): Path<String>,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    service::draws::freeze_plan(&state.store, &user.actor(), &plan_id).await?;
    Ok(Redirect::to(&format!("/console/plans/{}", urlencode(&plan_id))).into_response())
}

/// Runs the draw with the entered seed.
pub async fn run_draw(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(plan_id): Path<String>,
    Form(form): Form<service::draws::DrawRequest>,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    let d = service::draws::run_draw(&state.store, &user.actor(), &plan_id, form, |c| {
        state.checklist_for(c)
    })
    .await?;
    Ok(Redirect::to(&format!("/console/draws/{}", urlencode(&d.draw_id))).into_response())
}

/// The printable draw record: inputs, every task with its team.
pub async fn draw(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(draw_id): Path<String>,
) -> ConsoleResult<Response> {
    user.require(READERS)?;
    let d = state.store.draw(&draw_id).await?;
    let plan = state.store.plan(&d.plan_id).await?;
    let places = state.store.draw_task_places(&draw_id).await?;
    let body = html! {
        table #draw-record {
            tr { th { (lang.t("抽查计划", "Plan")) } td { (plan.plan.plan_id) " " (plan.plan.title) } }
            tr { th { (lang.t("抽取编号", "Draw ID")) } td { code #draw-id { (d.draw_id) } } }
            tr { th { (lang.t("算法版本", "Algorithm")) } td { (d.algorithm) } }
            tr { th { (lang.t("名录快照哈希（抽取前公布）", "Snapshot hash (published before the seed)")) } td { code { (d.snapshot_hash) } } }
            tr { th { (lang.t("随机种子", "Seed")) } td { code #seed-value { (d.seed) } } }
            tr { th { (lang.t("种子录入人 / 时间", "Seed entered by / at")) } td { (d.seed_entered_by) " / " (d.seed_entered_at.to_rfc3339()) } }
            @if let Some(r) = &d.supersedes {
                tr { th { (lang.t("替换的抽取 / 原因", "Replaces / reason")) } td { (r.draw_id) " / " (r.reason) } }
            }
            tr { th { (lang.t("任务数", "Tasks")) } td #task-count { (d.tasks.len()) } }
        }
        p.noprint {
            button type="button" onclick="window.print()" { (lang.t("打印抽取记录", "Print the draw record")) } " "
            a href={ "/console/draws/" (urlencode(&d.draw_id)) "/verify" } #verify { (lang.t("复核本次抽取", "Verify this draw")) }
        }
        table #tasks {
            tr { th { "#" } th { (lang.t("任务", "Task")) } th { (lang.t("分层", "Stratum")) } th { (lang.t("检查对象", "Target")) } th { (lang.t("镇街", "Town")) } th { (lang.t("检查组", "Team")) } th { (lang.t("检查表", "Checklist")) } }
            @for (i, t) in d.tasks.iter().enumerate() {
                @let place = places.iter().find(|p| p.task_id == t.task_id);
                tr {
                    td { (i + 1) }
                    td { code { (t.task_id) } }
                    td { (t.stratum_id) }
                    td { (place.and_then(|p| p.target_name.as_deref()).unwrap_or("")) br; span.muted { (t.target) } }
                    td { (place.and_then(|p| p.jurisdiction.as_deref()).unwrap_or("")) }
                    td {
                        @for m in &t.team {
                            (m.name)
                            @if m.role == MemberRole::Expert { (lang.t("（专家）", " (expert)")) }
                            " "
                        }
                    }
                    td { (t.checklist) }
                }
            }
        }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("抽取记录", "Draw record"), body),
    ))
}

#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    #[serde(default)]
    draw_id: Option<String>,
}

/// The verify form (any draw ID), or the result for `?draw_id=`.
pub async fn verify_form(
    user: CurrentUser,
    lang: Lang,
    Query(q): Query<VerifyQuery>,
) -> ConsoleResult<Response> {
    user.require(READERS)?;
    if let Some(id) = q
        .draw_id
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        return Ok(
            Redirect::to(&format!("/console/draws/{}/verify", urlencode(id))).into_response(),
        );
    }
    let body = html! {
        form method="get" action="/console/verify" {
            label { (lang.t("抽取编号", "Draw ID")) " " input name="draw_id" #verify-draw-id size="50"; }
            " " button type="submit" #verify-submit { (lang.t("复核", "Verify")) }
        }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("复核抽取", "Verify a draw"), body),
    ))
}

/// Re-runs a stored draw from its frozen inputs and shows the outcome.
pub async fn verify(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(draw_id): Path<String>,
) -> ConsoleResult<Response> {
    user.require(READERS)?;
    let v = state.store.verify_draw(&draw_id).await?;
    let body = html! {
        @if v.matches {
            p.ok #verify-result { (lang.t("一致：按公布的输入重算，结果与记录完全相同。", "Match: re-running from the published inputs gives exactly the recorded result.")) }
        } @else {
            p.flag #verify-result { (lang.t("不一致：", "Mismatch: ")) (v.first_difference.as_deref().unwrap_or("")) }
        }
        p { (lang.t("抽取编号：", "Draw: ")) code { (v.draw_id) } }
        p { (lang.t("快照哈希：", "Snapshot hash: ")) code { (v.snapshot_hash) } }
        p { (lang.t("任务数：", "Tasks: ")) (v.tasks) }
        p { a href={ "/console/draws/" (urlencode(&v.draw_id)) } { (lang.t("查看抽取记录", "See the draw record")) } }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("复核抽取", "Verify a draw"), body),
    ))
}
