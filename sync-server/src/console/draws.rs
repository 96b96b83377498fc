//! The draw ceremony in the browser: create a plan, freeze it (the snapshot
//! hash is shown before any seed exists), enter the public seed with who
//! entered it, run the draw, print the draw record, verify any past draw.
//! The same store functions as the REST API do the work.

use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use choucha_shared::TargetCategory;
use choucha_shared::directory::RiskClass;
use choucha_shared::plan::{DrawPlan, MemberRole, Quota, StandardKind, Stratum};
use choucha_shared::value::{CivilDate, Name, china_minute_of};

use super::auth::{CurrentUser, Role};
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, csrf_field, layout, page, print_setup, signature_lines};
use crate::AppState;
use crate::import::RowError;
use crate::service::{self, ServiceError};
use crate::store::PlanStage;

/// Who may see plans and draws (not town leads: a draw spans all towns).
const READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Auditor];
/// Who may run the ceremony.
const WRITERS: &[Role] = &[Role::Admin, Role::Supervisor];

pub(super) fn category_label(lang: Lang, c: TargetCategory) -> String {
    match lang {
        Lang::Zh => c.label_zh().to_owned(),
        Lang::En => c.label_en().to_owned(),
    }
}

fn stage_label(lang: Lang, stage: PlanStage) -> &'static str {
    match stage {
        PlanStage::Open => lang.t("未冻结", "not frozen"),
        PlanStage::Frozen => lang.t("已冻结", "frozen"),
        PlanStage::Drawn => lang.t("已抽取", "drawn"),
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
    let towns: Vec<String> = state.store.jurisdictions().await?.into_iter().collect();
    let body = html! {
        table #plans {
            tr { th { (lang.t("计划编号", "Plan")) } th { (lang.t("名称", "Title")) } th { (lang.t("状态", "State")) } th { (lang.t("创建", "Created")) } th { (lang.t("快照哈希", "Snapshot hash")) } }
            @for p in &plans {
                tr {
                    td { a href={ "/console/plans/" (p.plan_id) } { (p.plan_id) } }
                    td { (p.title) }
                    td.stage { (stage_label(lang, p.stage())) }
                    td { (china_minute_of(Some(&p.created_at))) " " (p.created_by) }
                    td { @if let Some(h) = &p.snapshot_hash { code { (h) } } @else { span.muted { (lang.t("未冻结", "not frozen")) } } }
                }
            }
        }
        p { a href="/console/verify" #verify-link { (lang.t("复核任意一次抽取", "Verify any draw")) } }
        @if WRITERS.contains(&user.role) { (new_plan_form(lang, &user, &towns)) }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("抽查计划", "Draw plans"), body),
    ))
}

/// Rows of strata the new-plan form offers (empty rows are ignored; more
/// strata can be pasted as lines below them).
const STRATUM_ROWS: usize = 6;

fn new_plan_form(lang: Lang, user: &CurrentUser, towns: &[String]) -> Markup {
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
            fieldset #strata-rows {
                legend { (lang.t("分层（每行一个分层；空行不计）", "Strata (one per row; empty rows are ignored)")) }
                @for n in 1..=STRATUM_ROWS {
                    div.stratum-row.field-group data-row=(n) {
                        label { (lang.t("编号", "ID")) " " input name={ "s" (n) "_id" } size="8" placeholder=(if n == 1 { "JCJG" } else { "" }); } " "
                        label { (lang.t("类别", "Category")) " "
                            select name={ "s" (n) "_category" } {
                                @for c in TargetCategory::ALL { option value=(c.code()) { (category_label(lang, c)) } }
                            }
                        } " "
                        label { (lang.t("抽取", "Quota")) " " input name={ "s" (n) "_quota" } size="14" placeholder=(if n == 1 { "5 / 0.05 / A=0.02 B=0.05" } else { "" }); } " "
                        label { (lang.t("镇街", "Town")) " "
                            select name={ "s" (n) "_town" } {
                                option value="" { (lang.t("全部镇街", "All towns")) }
                                @for t in towns { option value=(t) { (t) } }
                            }
                        } " "
                        label { (lang.t("筛选", "Filters")) " " input name={ "s" (n) "_filters" } size="18" placeholder=(if n == 1 { "风险:A/B 行业:C38" } else { "" }); }
                    }
                }
            }
            p {
                label {
                    (lang.t("更多分层可逐行粘贴（每行：编号,类别代码,抽取[,镇街][,筛选]）", "More strata can be pasted, one per line (id,category code,quota[,town][,filters])"))
                    br;
                    textarea name="strata" #strata rows="3" cols="80" placeholder="JL,metrology,A=0.02 B=0.05 C=0.1 D=0.3\nTBZ,standard,10,标准:团体" {}
                }
            }
            p.muted {
                (lang.t("抽取：数量（5）、比例（0.05）或按信用风险分类的比例（A=0.02 B=0.05 C=0.1 D=0.3，未列出的类别不抽取）。", "Quota: a count (5), a ratio (0.05) or a ratio per credit-risk class (A=0.02 B=0.05 C=0.1 D=0.3; classes not listed are not drawn)."))
                br;
                (lang.t("筛选：风险:A/B（信用风险分类）；行业:C38/C39（行业代码前缀）；标准:团体 或 标准:企业。", "Filters: 风险:A/B (risk classes); 行业:C38/C39 (industry-code prefixes); 标准:团体 or 标准:企业 (standard kind)."))
                br;
                (lang.t("类别代码（粘贴时用）：", "Category codes (for pasted lines): "))
                @for (i, c) in TargetCategory::ALL.iter().enumerate() {
                    @if i > 0 { "；" }
                    code { (c.code()) } " = " (category_label(lang, *c))
                }
            }
            p {
                label { (lang.t("避免重复检查：排除此日期以来已检查的对象", "No repeats: leave out targets inspected since")) " " input name="exclude_inspected_since" #exclude_inspected_since type="date"; }
            }
            p.muted { (lang.t("创建后可在计划页核对各分层的候选对象数，上传上级下达的指定检查对象名单，然后冻结。", "After creating, the plan's page shows each stratum's candidates, takes lists of assigned targets from upstream, and freezes.")) }
            p { button type="submit" #create-plan { (lang.t("创建计划", "Create plan")) } }
        }
    }
}

/// The new-plan form: named fields, plus the strata rows `s{n}_id`,
/// `s{n}_category`, `s{n}_quota`, `s{n}_town`, `s{n}_filters`.
pub struct NewPlanForm(Vec<(String, String)>);

impl<'de> Deserialize<'de> for NewPlanForm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::deserialize(d).map(Self)
    }
}

impl NewPlanForm {
    /// The (first) value of `name`, trimmed; empty when absent.
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// A whole number, or a refusal naming the field.
    fn number<T: std::str::FromStr>(&self, name: &str, label: &str) -> ConsoleResult<T> {
        let v = self.get(name);
        v.parse()
            .map_err(|_| ConsoleError::bad_field(name, format!("{label} '{v}' 不是整数 ({name})")))
    }

    fn optional(&self, name: &str) -> Option<&str> {
        Some(self.get(name)).filter(|v| !v.is_empty())
    }

    /// The strata of the rows, in order, then those of the pasted lines;
    /// a refusal names the field (`s2_quota`, `strata`).
    fn strata(&self) -> Result<Vec<Stratum>, (String, String)> {
        let mut out = Vec::new();
        for n in 1..=STRATUM_ROWS {
            let field = |part: &str| format!("s{n}_{part}");
            let id = self.get(&field("id"));
            let quota = self.get(&field("quota"));
            if id.is_empty() && quota.is_empty() {
                continue;
            }
            let mut rest: Vec<&str> = Vec::new();
            if let Some(town) = self.optional(&field("town")) {
                rest.push(town);
            }
            rest.extend(self.get(&field("filters")).split_whitespace());
            let category = self.get(&field("category"));
            let stratum = stratum_from(n, id, category, quota, &rest)
                .map_err(|(part, message)| (field(part.field()), message))?;
            out.push(stratum);
        }
        let pasted = parse_strata(&self.get("strata").replace("\r\n", "\n"), out.len())
            .map_err(|m| ("strata".to_owned(), m))?;
        out.extend(pasted);
        Ok(out)
    }
}

/// Parses a quota cell: a count (`5`), a ratio (`0.05`), or a ratio per
/// credit-risk class (`A=0.02 B=0.05 C=0.1 D=0.3`).
fn parse_quota(cell: &str, n: usize) -> Result<Quota, String> {
    if cell.contains('=') {
        let mut ratios = std::collections::BTreeMap::new();
        for part in cell.split_whitespace() {
            let (class, ratio) = part.split_once('=').unwrap_or((part, ""));
            let class: RiskClass = class.parse().map_err(|e| {
                format!("分层第 {n} 行：“{part}”中的信用风险分类无效：{e} (risk class)")
            })?;
            let ratio: f64 = ratio
                .parse()
                .map_err(|_| format!("分层第 {n} 行：“{part}”中的比例无效 (ratio)"))?;
            ratios.insert(class, ratio);
        }
        return Ok(Quota::ByRisk(ratios));
    }
    if cell.contains('.') {
        cell.parse()
            .map(Quota::Ratio)
            .map_err(|_| format!("分层第 {n} 行：比例 '{cell}' 无效 (bad ratio)"))
    } else {
        cell.parse()
            .map(Quota::Count)
            .map_err(|_| format!("分层第 {n} 行：数量 '{cell}' 无效 (bad count)"))
    }
}

/// The part of a stratum a refusal is about.
#[derive(Debug, Clone, Copy)]
enum Part {
    Id,
    Category,
    Quota,
    Town,
    Filters,
}

impl Part {
    /// The row's form field for this part.
    fn field(self) -> &'static str {
        match self {
            Part::Id => "id",
            Part::Category => "category",
            Part::Quota => "quota",
            Part::Town => "town",
            Part::Filters => "filters",
        }
    }
}

/// One stratum from its parts: the ID, the category's code, the quota,
/// then an optional town and filters (`风险:A/B`, `行业:C38/C39`,
/// `标准:团体|企业`). `n` numbers it in messages.
fn stratum_from(
    n: usize,
    id: &str,
    category: &str,
    quota: &str,
    rest: &[&str],
) -> Result<Stratum, (Part, String)> {
    if id.is_empty() {
        return Err((
            Part::Id,
            format!("分层第 {n} 行：请填写分层编号 (stratum id)"),
        ));
    }
    if quota.is_empty() {
        return Err((
            Part::Quota,
            format!("分层第 {n} 行：请填写抽取数量或比例 (quota)"),
        ));
    }
    let category: TargetCategory = category.parse().map_err(|_| {
        (
            Part::Category,
            format!("分层第 {n} 行：未知类别 '{category}' (stratum line {n}: unknown category)"),
        )
    })?;
    let quota = parse_quota(quota, n).map_err(|m| (Part::Quota, m))?;
    let mut stratum = Stratum::new(id, category, quota);
    for f in rest.iter().filter(|f| !f.is_empty()) {
        let list = |v: &str| -> Vec<String> {
            v.split(['/', '、', ' '])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let filter = |m: String| (Part::Filters, m);
        match f.split_once([':', '：']) {
            Some(("风险", v)) => {
                for c in list(v) {
                    stratum.risk_classes.push(c.parse().map_err(|e| {
                        filter(format!(
                            "分层第 {n} 行：信用风险分类 '{c}' 无效：{e} (risk class)"
                        ))
                    })?);
                }
            }
            Some(("行业", v)) => stratum.industry_prefixes = list(v),
            Some(("标准", v)) => {
                stratum.standard_kind = Some(match v.trim() {
                    "团体" | "团体标准" | "T" => StandardKind::Group,
                    "企业" | "企业标准" | "Q" => StandardKind::Enterprise,
                    other => {
                        return Err(filter(format!(
                            "分层第 {n} 行：标准类型 '{other}' 无效，应为“团体”或“企业” (standard kind)"
                        )));
                    }
                })
            }
            Some((key, _)) => {
                return Err(filter(format!(
                    "分层第 {n} 行：未知筛选条件 '{key}'，可用“风险”“行业”“标准” (unknown filter)"
                )));
            }
            None => {
                stratum.jurisdiction = Some(Name::parse(f).map_err(|e| {
                    (
                        Part::Town,
                        format!("分层第 {n} 行：镇街 '{f}' 无效：{e} (bad town)"),
                    )
                })?)
            }
        }
    }
    Ok(stratum)
}

/// Parses pasted strata lines, each `编号,类别,抽取[,镇街][,筛选…]`,
/// naming the line that is wrong; lines are numbered after the `before`
/// strata of the rows above them.
fn parse_strata(text: &str, before: usize) -> Result<Vec<Stratum>, String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let n = before + out.len() + 1;
        let fields: Vec<&str> = line.split([',', '，']).map(str::trim).collect();
        if fields.len() < 3 {
            return Err(format!(
                "分层第 {n} 行须为“编号,类别,数量或比例[,镇街][,筛选]” (stratum line {n}: expected id,category,quota[,town][,filters])"
            ));
        }
        let stratum =
            stratum_from(n, fields[0], fields[1], fields[2], &fields[3..]).map_err(|(_, m)| m)?;
        out.push(stratum);
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
    let bad = ConsoleError::bad_field;
    let team_size: u8 = form.number("team_size", "每组人数")?;
    let officer_cap: u32 = form.number("officer_cap", "每人任务上限")?;
    let date = |name: &str, label: &str| match form.optional(name) {
        Some(d) => CivilDate::parse(d)
            .map(Some)
            .map_err(|e| bad(name, format!("{label} '{d}' 无效：{e} ({name})"))),
        None => Ok(None),
    };
    let due = date("due", "完成期限")?;
    let since = date("exclude_inspected_since", "排除已检查对象的起始日期")?;
    let strata = form.strata().map_err(|(field, m)| bad(&field, m))?;
    if strata.is_empty() {
        return Err(bad(
            "s1_id",
            "请至少填写一个分层 (strata: none given)".to_owned(),
        ));
    }
    // Plans made in the console use the current algorithm; version 1
    // stays for the plans (and draws) made before it.
    let plan = DrawPlan {
        format: choucha_shared::FORMAT_VERSION,
        algorithm: choucha_shared::draw_v2::ALGORITHM_VERSION,
        assigned: Vec::new(),
        exclude_inspected_since: since,
        plan_id: form.get("plan_id").to_owned(),
        title: form.get("title").to_owned(),
        strata,
        team_size,
        with_expert: form.optional("with_expert").is_some(),
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
    let v2 = r.plan.algorithm == choucha_shared::draw_v2::ALGORITHM_VERSION;
    let lists = if r.frozen_at.is_some() && v2 {
        FrozenLists::load(&state, &plan_id).await?
    } else {
        FrozenLists::default()
    };
    let preview = match r.frozen_at {
        Some(_) => Vec::new(),
        None => state.store.candidate_preview(&r.plan).await?,
    };
    let body = html! {
        p { strong { (r.plan.title) } }
        p { (lang.t("创建：", "Created: ")) (china_minute_of(Some(&r.created_at))) " " (r.created_by) }
        table #strata {
            tr { th { (lang.t("分层", "Stratum")) } th { (lang.t("类别", "Category")) } th { (lang.t("镇街", "Town")) } th { (lang.t("筛选", "Filters")) } th { (lang.t("抽取", "Quota")) } th { (lang.t("候选对象", "Candidates")) } }
            @for (i, s) in r.plan.strata.iter().enumerate() {
                tr {
                    td { (s.id) }
                    td { (category_label(lang, s.category)) }
                    td { (s.jurisdiction.as_ref().map(ToString::to_string).unwrap_or_else(|| "—".into())) }
                    td { (filters_label(s)) }
                    td { (quota_label(&s.quota)) }
                    td { @match (r.frozen_at.is_some(), r.candidates_per_stratum.get(i)) {
                        (true, Some(n)) => { (n) },
                        _ => { "—" },
                    } }
                }
            }
        }
        @if let Some(since) = r.plan.exclude_inspected_since {
            p #exclude-since { (lang.t("避免重复检查：", "No repeats: ")) (lang.t("排除 ", "targets inspected on or after ")) (since) (lang.t(" 以来已检查（记录有效）的同类对象", " (current records) are left out")) }
        }
        p { (lang.t("每组执法人员 ", "Officers per team: ")) (r.plan.team_size)
            @if r.plan.with_expert { (lang.t("，另配专家一名", ", plus one expert")) }
            (lang.t("；每人任务上限 ", "; tasks per officer: ")) (r.plan.officer_cap) }
        @match (&r.snapshot_hash, &r.frozen_at) {
            (Some(hash), Some(at)) => {
                p #frozen { (lang.t("名录快照已于 ", "Directory snapshot frozen at ")) (china_minute_of(Some(at))) (lang.t(" 冻结，哈希：", ", hash: ")) code #snapshot-hash { (hash) } }
                (frozen_inputs(lang, &r, &lists))
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
                @if v2 { (assigned_before_freeze(lang, &user, &r, can_write)) }
                (candidate_preview(lang, &preview))
                p.notice { (lang.t("尚未冻结名录快照；冻结后才能录入种子。", "Not frozen yet; the seed can be entered only after freezing.")) }
                @if can_write {
                    form method="post" action={ "/console/plans/" (pid) "/freeze" } #freeze-form
                        data-confirm=(lang.t(
                            "冻结后，名录快照、分层和指定对象都不能再修改，快照哈希将公布在先、种子录入在后。确定冻结？",
                            "Once frozen, the snapshot, the strata and the assigned targets cannot change; the hash is published before any seed. Freeze now?"
                        )) {
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
                        td { (china_minute_of(Some(&d.seed_entered_at))) " " (d.seed_entered_by) }
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

/// Before freezing: each (sub-)stratum's candidates in today's directory
/// and how many the draw would take, a shortfall marked (the freeze would
/// refuse it).
fn candidate_preview(lang: Lang, preview: &[crate::store::SubStratumSize]) -> Markup {
    html! {
        h2 { (lang.t("冻结前核对：当前名录中的候选对象", "Before freezing: candidates in today's directory")) }
        table #candidate-preview {
            tr { th { (lang.t("分层", "(Sub-)stratum")) } th { (lang.t("候选对象数 N", "Candidates N")) } th { (lang.t("抽取数 k", "To draw k")) } th { "" } }
            @for s in preview {
                tr data-stratum=(s.id) {
                    td { (s.id) } td.n { (s.candidates) } td.k { (s.quota) }
                    td { @if s.quota > s.candidates {
                        span.flag.shortfall { (lang.t("候选不足，冻结将被拒绝：请调低抽取数", "Too few candidates: freezing will be refused; lower the quota")) }
                    } @else { span.ok { (lang.t("可抽取", "OK")) } } }
                }
            }
        }
        p.muted { (lang.t("冻结时按冻结时刻的名录重新计算；此处仅供核对。", "Freezing counts again from the directory at that moment; this is for checking only.")) }
    }
}

/// A stratum's filters as people write them (`风险:A/B 行业:C38`).
pub(super) fn filters_label(s: &Stratum) -> String {
    let mut parts = Vec::new();
    if !s.risk_classes.is_empty() {
        let classes: Vec<&str> = s.risk_classes.iter().map(|c| c.code()).collect();
        parts.push(format!("风险:{}", classes.join("/")));
    }
    if !s.industry_prefixes.is_empty() {
        parts.push(format!("行业:{}", s.industry_prefixes.join("/")));
    }
    if let Some(kind) = s.standard_kind {
        parts.push(kind.label_zh().to_owned());
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(" ")
    }
}

/// A frozen version-2 plan's assigned targets and exclusions, with the
/// names the directory gives them.
#[derive(Default)]
struct FrozenLists {
    assigned: Vec<(choucha_shared::draw_v2::Assigned, String)>,
    excluded: Vec<(choucha_shared::draw_v2::Excluded, String)>,
}

impl FrozenLists {
    async fn load(state: &AppState, plan_id: &str) -> ConsoleResult<Self> {
        let (assigned, excluded) = state.store.assigned_and_excluded(plan_id).await?;
        let name = |category: TargetCategory, key: &str| {
            let store = state.store.clone();
            let key = key.to_owned();
            async move {
                Ok::<_, ConsoleError>(
                    store
                        .target(category.code(), &key)
                        .await?
                        .map(|(_, t)| t.name.to_string())
                        .unwrap_or_default(),
                )
            }
        };
        let mut out = Self::default();
        for a in assigned {
            let n = name(a.category, &a.key).await?;
            out.assigned.push((a, n));
        }
        for e in excluded {
            let n = name(e.category, &e.key).await?;
            out.excluded.push((e, n));
        }
        Ok(out)
    }
}

/// What the frozen snapshot holds, shown before any seed is entered: each
/// (sub-)stratum's N and k, the assigned targets with their lists, the
/// targets left out as recently inspected.
fn frozen_inputs(lang: Lang, r: &crate::store::PlanRecord, lists: &FrozenLists) -> Markup {
    html! {
        h2 { (lang.t("冻结的抽取输入", "Frozen draw inputs")) }
        table #sub-strata {
            tr { th { (lang.t("分层（按信用风险分类拆分）", "(Sub-)stratum")) } th { (lang.t("候选对象数 N", "Candidates N")) } th { (lang.t("抽取数 k", "To draw k")) } }
            @for s in &r.sub_strata {
                tr data-stratum=(s.id) { td { (s.id) } td.n { (s.candidates) } td.k { (s.quota) } }
            }
        }
        @if !lists.assigned.is_empty() {
            h3 { (lang.t("指定检查对象（不参与抽取，检查组随机抽取）", "Assigned targets (not drawn; their teams are)")) }
            table #assigned {
                tr { th { (lang.t("检查对象代码", "Key")) } th { (lang.t("名称", "Name")) } th { (lang.t("类别", "Category")) } th { (lang.t("镇街", "Town")) } th { (lang.t("来源", "Source")) } }
                @for (a, name) in &lists.assigned {
                    tr { td { code { (a.key) } } td { (name) } td { (category_label(lang, a.category)) } td { (a.jurisdiction) } td.source { (a.source) } }
                }
            }
        }
        @if !lists.excluded.is_empty() {
            h3 { (lang.t("排除的对象（避免重复检查）", "Excluded targets (no repeats)")) }
            table #excluded {
                tr { th { (lang.t("检查对象代码", "Key")) } th { (lang.t("名称", "Name")) } th { (lang.t("类别", "Category")) } th { (lang.t("排除原因", "Reason")) } }
                @for (e, name) in &lists.excluded {
                    tr { td { code { (e.key) } } td { (name) } td { (category_label(lang, e.category)) } td.reason { (lang.t("已于 ", "inspected on ")) (e.inspected) (lang.t(" 检查", "")) } }
                }
            }
        }
    }
}

/// Before freezing, a version-2 plan's assigned list and the upload of an
/// upstream list.
fn assigned_before_freeze(
    lang: Lang,
    user: &CurrentUser,
    r: &crate::store::PlanRecord,
    can_write: bool,
) -> Markup {
    let pid = urlencode(&r.plan.plan_id);
    html! {
        h2 { (lang.t("指定检查对象", "Assigned targets")) }
        @if r.plan.assigned.is_empty() {
            p.muted #assigned-none { (lang.t("尚无上级下达的指定检查对象。", "No targets assigned by an upstream list.")) }
        } @else {
            table #assigned {
                tr { th { (lang.t("检查对象代码", "Key")) } th { (lang.t("类别", "Category")) } th { (lang.t("来源", "Source")) } }
                @for a in &r.plan.assigned {
                    tr { td { code { (a.key) } } td { (category_label(lang, a.category)) } td.source { (a.source) } }
                }
            }
        }
        @if can_write {
            // Multipart bodies are not read by the CSRF guard: the token
            // rides in the query string, as for directory imports.
            form method="post" enctype="multipart/form-data" action={ "/console/plans/" (pid) "/assigned?csrf=" (user.csrf_token) } #assigned-form {
                p {
                    label { (lang.t("名单文件（CSV 或 XLSX：检查对象代码, 检查对象类别[, 来源]）", "List file (CSV or XLSX: 检查对象代码, 检查对象类别[, 来源])")) br; input type="file" name="file" #assigned-file accept=".csv,.xlsx" required; }
                }
                p { label { (lang.t("名单来源（文件未写来源时使用）", "Source (for rows without 来源)")) br; input name="source" #assigned-source size="50" placeholder="总局2023年自愿性认证从业机构抽查名单"; } }
                p { button type="submit" #upload-assigned { (lang.t("上传名单（替换现有名单）", "Upload the list (replaces the current one)")) } }
            }
        }
    }
}

/// Takes an upstream list for a version-2 plan not yet frozen; every bad
/// row is shown and nothing is kept.
pub async fn upload_assigned(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(plan_id): Path<String>,
    multipart: Multipart,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    let form = super::upload::Upload::read(multipart).await?;
    let source = form.field("source").map(str::to_owned);
    let (name, bytes, format) = form.table("请选择名单文件")?;
    let result = service::draws::import_assigned(
        &state.store,
        &user.actor(),
        &plan_id,
        &bytes,
        format,
        &name,
        source.as_deref(),
    )
    .await;
    let back = format!("/console/plans/{}", urlencode(&plan_id));
    match result {
        Ok(_) => Ok(Redirect::to(&back).into_response()),
        Err(ServiceError::Invalid { message, details }) => {
            let errors: Vec<RowError> = details
                .get("errors")
                .cloned()
                .and_then(|e| serde_json::from_value(e).ok())
                .unwrap_or_default();
            let body = html! {
                p.error #assigned-result { (message) }
                table #assigned-errors {
                    tr { th { (lang.t("行", "Row")) } th { (lang.t("列", "Column")) } th { (lang.t("值", "Value")) } th { (lang.t("原因", "Reason")) } }
                    @for e in &errors { tr { td { (e.row) } td { (e.column) } td { (e.value) } td { (e.reason) } } }
                }
                p { a href=(back) { (lang.t("返回抽查计划", "Back to the plan")) } }
            };
            Ok(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                layout(
                    lang,
                    Some(&user),
                    lang.t("指定检查对象名单", "Assigned list"),
                    body,
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
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
    let lists = if d.algorithm == choucha_shared::draw_v2::ALGORITHM_VERSION {
        FrozenLists::load(&state, &d.plan_id).await?
    } else {
        FrozenLists::default()
    };
    let can_replace = WRITERS.contains(&user.role)
        && d.algorithm == choucha_shared::draw_v2::ALGORITHM_VERSION
        && state.store.current_draw_id(&d.plan_id).await?.as_deref() == Some(draw_id.as_str());
    let head = format!(
        "{} {} — {} {}",
        lang.t("抽查计划", "Plan"),
        plan.plan.plan_id,
        lang.t("抽取记录", "draw record"),
        d.draw_id
    );
    let body = html! {
        (print_setup(lang, &head, true))
        table #draw-record {
            tr { th { (lang.t("抽查计划", "Plan")) } td { (plan.plan.plan_id) " " (plan.plan.title) } }
            tr { th { (lang.t("抽取编号", "Draw ID")) } td { code #draw-id { (d.draw_id) } } }
            tr { th { (lang.t("算法版本", "Algorithm")) } td { (d.algorithm) } }
            tr { th { (lang.t("名录快照哈希（抽取前公布）", "Snapshot hash (published before the seed)")) } td { code { (d.snapshot_hash) } } }
            tr { th { (lang.t("随机种子", "Seed")) } td { code #seed-value { (d.seed) } } }
            tr { th { (lang.t("种子录入人 / 时间", "Seed entered by / at")) } td { (d.seed_entered_by) " / " (choucha_shared::value::china_minute(d.seed_entered_at)) } }
            @if let Some(r) = &d.supersedes {
                tr { th { (lang.t("替换的抽取 / 原因", "Replaces / reason")) } td { (r.draw_id) " / " (r.reason) } }
            }
            tr { th { (lang.t("任务数", "Tasks")) } td #task-count { (d.tasks.len()) } }
        }
        @if d.algorithm == choucha_shared::draw_v2::ALGORITHM_VERSION { (frozen_inputs(lang, &plan, &lists)) }
        @if !d.replacements.is_empty() {
            h2 { (lang.t("检查人员替换（抽取后的修正记录）", "Seats replaced after the draw")) }
            (replacements_table(lang, &d.replacements))
        }
        p.noprint {
            button type="button" data-print #print-draw { (lang.t("打印抽取记录", "Print the draw record")) } " "
            a href={ "/console/draws/" (urlencode(&d.draw_id)) "/verify" } #verify { (lang.t("复核本次抽取", "Verify this draw")) } " "
            a href={ "/public/draws/" (urlencode(&d.draw_id)) } #public-record { (lang.t("公示页", "Public record")) }
        }
        table #tasks {
            thead { tr { th { "#" } th { (lang.t("任务", "Task")) } th { (lang.t("分层", "Stratum")) } th { (lang.t("检查对象", "Target")) } th { (lang.t("镇街", "Town")) } th { (lang.t("检查组", "Team")) } th { (lang.t("检查表", "Checklist")) } } }
            @for (i, t) in d.tasks.iter().enumerate() {
                @let place = places.iter().find(|p| p.task_id == t.task_id);
                tr {
                    td { (i + 1) }
                    td { code.id { (t.task_id) } }
                    td {
                        @if let Some(source) = &t.source { (lang.t("指定", "assigned")) br; span.source { (source) } }
                        @else { (t.stratum_id) }
                    }
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
        (signature_lines(lang, &[
            lang.t("种子录入人", "Seed entered by"),
            lang.t("见证人", "Witness"),
            lang.t("见证人", "Witness"),
            lang.t("记录人", "Recorded by"),
        ]))
        @if can_replace {
            h2.noprint { (lang.t("替换检查人员", "Replace an officer's seat")) }
            p.muted.noprint { (lang.t("执法人员因病等原因无法到场、或抽取后发现利害关系时，按公开规则从符合条件的人员中随机补抽一人；其余抽取结果不变，替换记录随抽取记录公开并可复核。", "When an officer cannot go (illness) or a conflict surfaces after the draw, one eligible officer is drawn for the seat by the published rule; the rest of the draw is untouched, and the replacement is published with the draw and verifiable.")) }
            form.noprint method="post" action={ "/console/draws/" (urlencode(&d.draw_id)) "/replace" } #replace-form {
                (csrf_field(&user))
                p { label { (lang.t("任务与被替换人员", "Task and leaving officer")) br;
                    select name="seat" #replace-seat required {
                        @for t in &d.tasks {
                            @let name = places.iter().find(|p| p.task_id == t.task_id).and_then(|p| p.target_name.clone()).unwrap_or_default();
                            @for m in t.officers() {
                                option value={ (t.task_id) "|" (m.person_id) } { (t.task_id) " " (name) " — " (m.name) }
                            }
                        }
                    }
                } }
                p { label { (lang.t("替换原因", "Reason")) br; input name="reason" #replace-reason size="50" required placeholder="因病无法到场"; } }
                p { button type="submit" #replace-submit { (lang.t("随机补抽替换人员", "Draw the replacement")) } }
            }
        }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("抽取记录", "Draw record"), body),
    ))
}

/// The seats replaced after a draw, in order.
fn replacements_table(
    lang: Lang,
    replacements: &[choucha_shared::plan::SeatReplacement],
) -> Markup {
    html! {
        table #replacements {
            tr { th { "#" } th { (lang.t("任务", "Task")) } th { (lang.t("被替换人员（执法证号）", "Leaving (credential)")) } th { (lang.t("补抽人员", "Joining")) } th { (lang.t("原因", "Reason")) } th { (lang.t("操作人 / 时间", "By / at")) } }
            @for r in replacements {
                tr { td { (r.seq) } td { code { (r.task_id) } } td.leaving { (r.leaving) } td.joining { (r.joining.name) " " span.muted { (r.joining.person_id) } } td { (r.reason) } td { (r.by) " / " (choucha_shared::value::china_minute(r.at)) } }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ReplaceForm {
    /// `task_id|credential`.
    seat: String,
    reason: String,
}

/// Replaces one seat of a version-2 draw by the published rule.
pub async fn replace_seat(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(draw_id): Path<String>,
    Form(form): Form<ReplaceForm>,
) -> ConsoleResult<Response> {
    user.require(WRITERS)?;
    let (task_id, leaving) = form
        .seat
        .split_once('|')
        .ok_or_else(|| ConsoleError::BadRequest("请选择任务与被替换人员 (seat)".into()))?;
    service::draws::replace_seat(
        &state.store,
        &user.actor(),
        &draw_id,
        service::draws::ReplaceRequest {
            task_id: task_id.to_owned(),
            leaving: leaving.to_owned(),
            reason: form.reason,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/console/draws/{}", urlencode(&draw_id))).into_response())
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

/// The public record of a draw, for anyone: what was frozen before the
/// seed (the snapshot hash, each (sub-)stratum's N and k, the assigned
/// targets with their lists, the exclusions with their dates), the seed,
/// the targets drawn, the seats replaced afterwards, and the result of
/// re-running it all now. No officer is named.
/// The frozen candidate lists of a version-2 draw, as the exact text its
/// snapshot hash covers (public: anyone re-hashes it and re-runs the draw).
pub async fn public_snapshot(
    State(state): State<AppState>,
    Path(draw_id): Path<String>,
) -> ConsoleResult<Response> {
    let d = state.store.draw(&draw_id).await?;
    let (_, inputs) = state.store.draw_inputs_v2(&d.plan_id).await?;
    let text = choucha_shared::draw_v2::snapshot_text(&inputs);
    let mut resp = text.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"snapshot-{}.txt\"",
        draw_id.replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-'), "_")
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The independent re-implementation of the draw (standard library only),
/// as the public draw page's steps use it.
pub async fn draw_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/x-python; charset=utf-8")],
        include_str!("../../../docs/draw_example.py"),
    )
        .into_response()
}

pub async fn public_draw(
    State(state): State<AppState>,
    lang: Lang,
    Path(draw_id): Path<String>,
) -> ConsoleResult<Response> {
    let d = state.store.draw(&draw_id).await?;
    let r = state.store.plan(&d.plan_id).await?;
    let lists = if r.plan.algorithm == choucha_shared::draw_v2::ALGORITHM_VERSION {
        FrozenLists::load(&state, &d.plan_id).await?
    } else {
        FrozenLists::default()
    };
    let places = state.store.draw_task_places(&draw_id).await?;
    let v = state.store.verify_draw(&draw_id).await?;
    let body = html! {
        @if v.matches {
            p.ok #verify-result { (lang.t("复核一致：按公布的输入重算，抽取结果（含人员替换）与记录完全相同。", "Verified: re-running from the published inputs gives exactly the recorded result, replacements included.")) }
        } @else {
            p.flag #verify-result { (lang.t("复核不一致：", "Mismatch: ")) (v.first_difference.as_deref().unwrap_or("")) }
        }
        table #draw-record {
            tr { th { (lang.t("抽查计划", "Plan")) } td { (r.plan.plan_id) " " (r.plan.title) } }
            tr { th { (lang.t("抽取编号", "Draw ID")) } td { code { (d.draw_id) } } }
            tr { th { (lang.t("算法版本", "Algorithm")) } td { (d.algorithm) } }
            tr { th { (lang.t("名录快照哈希（抽取前公布）", "Snapshot hash (published before the seed)")) } td { code #snapshot-hash { (d.snapshot_hash) } } }
            tr { th { (lang.t("随机种子", "Seed")) } td { code #seed { (d.seed) } } }
            tr { th { (lang.t("种子录入时间", "Seed entered at")) } td { (choucha_shared::value::china_minute(d.seed_entered_at)) } }
        }
        (frozen_inputs(lang, &r, &lists))
        h2 { (lang.t("抽取结果", "Drawn")) }
        table #tasks {
            tr {
                th { "#" } th { (lang.t("分层 / 来源", "Stratum / source")) } th { (lang.t("检查对象", "Target")) } th { (lang.t("镇街", "Town")) }
                @if state.public_draw_officers { th { (lang.t("检查人员执法证号", "Officers (credential no.)")) } }
            }
            @for (i, t) in d.tasks.iter().enumerate() {
                @let place = places.iter().find(|p| p.task_id == t.task_id);
                tr {
                    td { (i + 1) }
                    td { @if let Some(source) = &t.source { span.source { (source) } } @else { (t.stratum_id) } }
                    td { (place.and_then(|p| p.target_name.as_deref()).unwrap_or("")) br; span.muted { (t.target) } }
                    td { (place.and_then(|p| p.jurisdiction.as_deref()).unwrap_or("")) }
                    // Credential numbers only, never names, and only where
                    // the bureau's rules allow (`public_draw_officers`).
                    @if state.public_draw_officers {
                        td.team { @for (j, m) in t.team.iter().enumerate() { @if j > 0 { "、" } (m.person_id) } }
                    }
                }
            }
        }
        @if !d.replacements.is_empty() {
            h2 { (lang.t("抽取后的人员替换", "Seats replaced after the draw")) }
            table #replacements {
                tr { th { "#" } th { (lang.t("任务", "Task")) } th { (lang.t("原因", "Reason")) } th { (lang.t("时间", "At")) } }
                @for x in &d.replacements {
                    tr { td { (x.seq) } td { code { (x.task_id) } } td { (x.reason) } td { (choucha_shared::value::china_minute(x.at)) } }
                }
            }
        }
        @if r.plan.algorithm == choucha_shared::draw_v2::ALGORITHM_VERSION {
            h2 { (lang.t("如何自行复核", "Check it yourself")) }
            ol #check-steps {
                li { (lang.t("下载抽取名录快照：", "Download the frozen candidate lists: ")) a #snapshot-file href={ "/public/draws/" (urlencode(&d.draw_id)) "/snapshot.txt" } { "snapshot.txt" }
                    (lang.t("（即计算快照哈希的原文：指定对象、各分层的候选名单及其总数 N 与抽取数 k、排除对象）。", " (the exact text the snapshot hash covers: assigned targets, each stratum's candidates with N and k, excluded targets).")) }
                li { (lang.t("计算其 SHA-256（如 ", "Compute its SHA-256 (e.g. ")) code { "sha256sum snapshot.txt" } (lang.t("），应等于上表公布的名录快照哈希。", "); it equals the snapshot hash above.")) }
                li { (lang.t("下载复核脚本 ", "Download the script ")) a #draw-script href="/public/draw_example.py" { "draw_example.py" }
                    (lang.t("（仅用 Python 标准库），运行 ", " (Python standard library only) and run ")) code { "python3 draw_example.py --snapshot snapshot.txt " (d.seed) }
                    (lang.t("：输出的检查对象应与上表抽取结果逐一相同。", ": the targets it prints are the ones drawn above, one by one.")) }
            }
        }
        p { (lang.t("抽取规则见 docs/draw.md；机器可读的复核结果：", "The rules are in docs/draw.md; machine-readable verification: ")) a href={ "/api/v1/public/draws/" (urlencode(&d.draw_id)) "/verify" } #verify-json { "JSON" } }
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            None,
            lang.t("抽取结果公示与复核", "Draw record and verification"),
            body,
        ),
    ))
}
