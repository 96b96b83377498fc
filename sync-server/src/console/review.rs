//! Review of synced records: the queue (by town, team, date, state), the
//! record view (verdicts, notes, photos with time/GPS/distance, signatures,
//! findings, proof-of-duty flags) and the reviewer's actions: approve,
//! mark "has issues", or return with comments per item. A return goes
//! through the same store function as the API's, which puts it in the
//! team's pull feed, so the device receives it on its next pull.
//!
//! Town leads see only their own town: the queue is filtered by it, and a
//! record (or photo) of another town answers 404, as if it did not exist.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use choucha_shared::conclusion::{self, Conclusion};
use choucha_shared::outcome::Outcome;
use choucha_shared::record::{InspectionRecord, PhotoSubject};
use choucha_shared::review::ReviewState;
use choucha_shared::value::Sha256Hex;

use super::auth::{CurrentUser, Role};
use super::draws::urlencode;
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, csrf_field, layout, page};
use crate::AppState;
use crate::oversight::disclosure::suggested_result;
use crate::oversight::duty;
use crate::service;
use crate::store::StoredRecord;
use crate::store::dashboard::{QueueCursor, QueueFilter};

/// Who may approve and return.
const REVIEWERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::TownLead];
const PAGE_SIZE: i64 = 50;

pub fn state_label(lang: Lang, code: &str) -> String {
    match (lang, code.parse::<ReviewState>()) {
        (Lang::Zh, Ok(s)) => s.label_zh().to_owned(),
        (Lang::En, Ok(s)) => s.label_en().to_owned(),
        (_, Err(_)) => code.to_owned(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    town: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    after: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn parse_date(field: &str, s: Option<String>) -> ConsoleResult<Option<NaiveDate>> {
    s.map(|d| {
        NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
            ConsoleError::BadRequest(format!(
                "{field}: 日期 '{d}' 格式应为 YYYY-MM-DD (bad date)"
            ))
        })
    })
    .transpose()
}

/// The review queue.
pub async fn queue(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Query(q): Query<QueueQuery>,
) -> ConsoleResult<Response> {
    // A town lead's queue is their town's, whatever the URL asks for.
    let town = match user.jurisdiction_filter() {
        Some(own) => Some(own.to_owned()),
        None => non_empty(&q.town),
    };
    let filter = QueueFilter {
        town,
        team: non_empty(&q.team),
        state: non_empty(&q.state),
        from: parse_date("from", non_empty(&q.from))?,
        to: parse_date("to", non_empty(&q.to))?,
    };
    let after = non_empty(&q.after)
        .map(|t| QueueCursor::from_token(&t))
        .transpose()?;
    let result = state
        .store
        .review_queue(&filter, after.as_ref(), PAGE_SIZE)
        .await?;
    let towns: Vec<String> = match user.jurisdiction_filter() {
        Some(own) => vec![own.to_owned()],
        None => state.store.jurisdictions().await?.into_iter().collect(),
    };
    let next_link = result.next.as_ref().map(|c| {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(t) = &filter.town {
            pairs.push(("town", t.clone()));
        }
        if let Some(t) = &filter.team {
            pairs.push(("team", t.clone()));
        }
        if let Some(s) = &filter.state {
            pairs.push(("state", s.clone()));
        }
        if let Some(d) = filter.from {
            pairs.push(("from", d.to_string()));
        }
        if let Some(d) = filter.to {
            pairs.push(("to", d.to_string()));
        }
        pairs.push(("after", c.to_token()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("/console/review?{query}")
    });
    let body = html! {
        form method="get" action="/console/review" #queue-filter {
            label { (lang.t("镇街", "Town")) " "
                select name="town" #filter-town {
                    @if user.jurisdiction_filter().is_none() { option value="" { (lang.t("全部", "All")) } }
                    @for t in &towns { option value=(t) selected[filter.town.as_deref() == Some(t.as_str())] { (t) } }
                }
            } " "
            label { (lang.t("检查组", "Team")) " " input name="team" value=(filter.team.as_deref().unwrap_or("")) size="20"; } " "
            label { (lang.t("状态", "State")) " "
                select name="state" #filter-state {
                    option value="" { (lang.t("全部（当前版本）", "All (current versions)")) }
                    @for s in ReviewState::ALL.map(ReviewState::as_str) { option value=(s) selected[filter.state.as_deref() == Some(s)] { (state_label(lang, s)) } }
                }
            } " "
            label { (lang.t("检查日期自", "From")) " " input type="date" name="from" value=(filter.from.map(|d| d.to_string()).unwrap_or_default()); } " "
            label { (lang.t("至", "to")) " " input type="date" name="to" value=(filter.to.map(|d| d.to_string()).unwrap_or_default()); } " "
            button type="submit" #filter-submit { (lang.t("筛选", "Filter")) }
        }
        table #queue {
            tr {
                th { (lang.t("检查日期", "Date")) } th { (lang.t("检查对象", "Target")) } th { (lang.t("镇街", "Town")) }
                th { (lang.t("检查组", "Team")) } th { (lang.t("状态", "State")) } th { (lang.t("问题", "Findings")) }
                th { (lang.t("履职提示", "Duty flags")) } th { (lang.t("接收时间", "Received")) }
            }
            @for r in &result.rows {
                tr.queue-row data-record=(r.record_id) {
                    td { (r.inspection_date) }
                    td { a href={ "/console/records/" (r.record_id) } { (r.target_name) } br; span.muted { (r.target_key) } }
                    td { (r.town) }
                    td { a href={ "/console/review?team=" (urlencode(&r.team_key)) } { (r.team_label) } }
                    td class={ "state-" (r.state) } { (state_label(lang, &r.state)) }
                    td { (r.findings) }
                    td { @if r.duty_flags > 0 { span.flag { (r.duty_flags) } } @else { "0" } }
                    td { (choucha_shared::value::china_minute_of(Some(&r.received_at))) }
                }
            }
        }
        @if result.rows.is_empty() { p.muted #queue-empty { (lang.t("没有符合条件的记录。", "No records match.")) } }
        @if let Some(href) = next_link { p { a href=(href) #next-page { (lang.t("下一页", "Next page")) } } }
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            lang.t("审核检查记录", "Review queue"),
            body,
        ),
    ))
}

/// A record's versions, if this user may see it; 404 otherwise.
pub(super) async fn visible_record(
    state: &AppState,
    user: &CurrentUser,
    record_id: &Uuid,
) -> ConsoleResult<(Vec<StoredRecord>, String)> {
    let versions = state.store.record_versions(record_id).await?;
    let Some(last) = versions.last() else {
        return Err(ConsoleError::not_found());
    };
    let town = state
        .store
        .target_jurisdiction(last.record.category.code(), last.record.target.as_str())
        .await?
        .unwrap_or_default();
    if !user.may_see(&town) {
        return Err(ConsoleError::not_found());
    }
    Ok((versions, town))
}

pub(super) fn parse_record_id(s: &str) -> ConsoleResult<Uuid> {
    // An unparsable ID is as absent as an unknown one.
    Uuid::parse_str(s).map_err(|_| ConsoleError::not_found())
}

fn subject_label(lang: Lang, s: &PhotoSubject, record: &InspectionRecord) -> String {
    match s {
        PhotoSubject::Finding(fid) => {
            let d = record
                .findings
                .iter()
                .find(|f| &f.finding_id == fid)
                .map(|f| f.description.as_str())
                .unwrap_or_default();
            format!("{}{d}", lang.t("问题：", "Finding: "))
        }
        other => lang.t(&other.label_zh(), &other.label_en()).to_owned(),
    }
}

fn photo_href(record_id: &Uuid, sha: &str) -> String {
    format!("/console/records/{record_id}/blobs/{sha}")
}

/// The record view.
pub async fn record(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Path(record_id): Path<String>,
) -> ConsoleResult<Response> {
    let record_id = parse_record_id(&record_id)?;
    let (versions, town) = visible_record(&state, &user, &record_id).await?;
    let Some(current) = versions
        .iter()
        .rev()
        .find(|v| !v.superseded)
        .or(versions.last())
    else {
        return Err(ConsoleError::not_found());
    };
    let rec = &current.record;
    let version = current.status.version.to_string();
    let cfg = &state.oversight;
    let report = duty::report(&state, cfg, &record_id.to_string(), &version).await?;
    let returns = state.store.record_returns(&record_id.to_string()).await?;
    let disclosed = state.store.record_disclosed(&record_id.to_string()).await?;
    let may_publish = super::disclosure::PUBLISHERS.contains(&user.role);
    let checklist = state.checklists.get(&rec.checklist);
    let review_state = current.status.state;
    let may_review = REVIEWERS.contains(&user.role);
    let open = matches!(review_state, ReviewState::Received | ReviewState::HasIssues);
    let rid = record_id.to_string();
    let order_numbers = order_numbers(rec);
    let body = html! {
        table #record-head {
            tr { th { (lang.t("检查对象", "Target")) } td #target-name { (rec.target_name) " " span.muted { (rec.target) } } }
            tr { th { (lang.t("镇街", "Town")) } td { (town) } }
            tr { th { (lang.t("检查任务", "Task")) } td { code { (rec.task_id) } } }
            tr { th { (lang.t("检查表", "Checklist")) } td { (rec.checklist) @if let Some(c) = checklist { " " (c.title) } } }
            tr { th { (lang.t("检查组", "Team")) } td { @for m in &rec.team { (m.name) " " } } }
            tr { th { (lang.t("检查日期 / 开始", "Date / started")) } td { (rec.inspection_date) " / " (choucha_shared::value::china_minute(rec.started_at)) } }
            tr { th { (lang.t("检查结果类型", "Outcome")) } td #outcome data-outcome=(rec.outcome.kind().as_str()) { (lang.t(rec.outcome.kind().label_zh(), rec.outcome.kind().label_en())) } }
            @if let (true, Some(c)) = (rec.outcome.is_normal(), checklist) {
                @let conclusion = conclusion::conclude(&rec.items, c);
                tr { th { (lang.t("检查结论", "Conclusion")) } td #conclusion class={ @if conclusion.is_fail() { "flag" } } {
                    (lang.t(conclusion.label_zh(), conclusion.label_en()))
                    @if let Conclusion::Fail { reasons } = &conclusion { " — " @for r in reasons { (r.to_string()) "；" } }
                } }
            }
            tr { th { (lang.t("拟公示结果", "Result to publish")) } td #suggested-result { (suggested_result(rec).label_zh()) } }
            tr { th { (lang.t("审核状态", "Review state")) } td #review-state class={ "state-" (review_state.as_str()) } { (state_label(lang, review_state.as_str())) } }
            tr { th { (lang.t("版本", "Version")) } td { code #version { (version) } " (" (versions.len()) (lang.t(" 个版本", " versions")) ")" } }
        }
        @if !current.status.missing.is_empty() {
            div.error #missing {
                strong { (lang.t("证据不全：", "Missing evidence:")) }
                ul { @for m in &current.status.missing { li { (m) } } }
            }
        }
        (outcome_evidence(lang, &rec.outcome))
        h2 { (lang.t("履职核验提示", "Proof-of-duty flags")) }
        @if report.flags.is_empty() {
            p.ok #duty-ok { (lang.t("未发现疑点。", "No flags.")) }
        } @else {
            ul #duty-flags { @for f in &report.flags { li.flag data-flag=(f.code()) { (f.to_string()) } } }
        }
        @if !report.pending_photos.is_empty() {
            p.muted { (lang.t("尚有照片未到达，相应核验待完成。", "Some photos have not arrived; their checks are pending.")) }
        }
        h2 { (lang.t("检查项目", "Items")) }
        table #items {
            tr { th { (lang.t("编号", "No.")) } th { (lang.t("检查内容", "Item")) } th { (lang.t("结论", "Verdict")) } th { (lang.t("备注", "Note")) } th { (lang.t("照片", "Photos")) } }
            @for (id, entry) in &rec.items {
                tr data-item=(id) {
                    td { (id) }
                    td { (checklist.and_then(|c| c.item(id)).map(|i| i.text.as_str()).unwrap_or("")) }
                    td { @if let Some(v) = entry.verdict { (match lang { Lang::Zh => v.label_zh(), Lang::En => v.label_en() }) } @else { span.muted { "—" } } }
                    td { (entry.note.as_deref().unwrap_or("")) }
                    td { @for p in rec.photos_of(&PhotoSubject::Item(id.clone())) {
                        a href=(photo_href(&record_id, p.sha256.as_str())) target="_blank" { img.thumb src=(photo_href(&record_id, p.sha256.as_str())) alt=(id); }
                    } }
                }
            }
        }
        h2 { (lang.t("照片", "Photos")) }
        table #photos {
            tr { th { (lang.t("照片", "Photo")) } th { (lang.t("内容", "Subject")) } th { (lang.t("拍摄时间", "Taken at")) } th { (lang.t("定位", "GPS")) } th { (lang.t("距登记地址", "Distance from registered address")) } }
            @for p in &report.photos {
                tr data-photo=(p.sha256) {
                    td { a href=(photo_href(&record_id, &p.sha256)) target="_blank" { img.thumb src=(photo_href(&record_id, &p.sha256)) alt=(p.sha256); } }
                    td { (subject_label(lang, &p.subject, rec)) }
                    td { (choucha_shared::value::china_minute(p.taken_at)) }
                    td { @if let Some(g) = &p.gps { (format!("{:.5}, {:.5}", g.lat, g.lon)) } @else { span.flag { (lang.t("无", "none")) } } }
                    td.distance { @if let Some(d) = p.distance_m { (format!("{:.0} m", d)) } @else { "—" } }
                }
            }
        }
        h2 { (lang.t("签名", "Signatures")) }
        table #signatures {
            tr { th { (lang.t("角色", "Role")) } th { (lang.t("姓名", "Name")) } th { (lang.t("时间", "Signed at")) } th { (lang.t("签名", "Signature")) } }
            @for s in &rec.signatures {
                tr {
                    td { (s.role.label_zh()) } td { (s.name) } td { (choucha_shared::value::china_minute(s.signed_at)) }
                    td { a href=(photo_href(&record_id, s.image_sha256.as_str())) target="_blank" { img.thumb src=(photo_href(&record_id, s.image_sha256.as_str())) alt=(s.name); } }
                }
            }
        }
        @if let Some(r) = &rec.refusal {
            p.notice { (lang.t("拒绝签字：", "Refused to sign: ")) (r.reason) @if let Some(w) = &r.witness { " — " (w) } }
        }
        h2 { (lang.t("发现的问题", "Findings")) }
        @if rec.findings.is_empty() { p.muted { (lang.t("无", "None")) } }
        @else {
            table #findings {
                tr { th { (lang.t("检查项", "Item")) } th { (lang.t("问题", "Finding")) } th { (lang.t("处置", "Disposition")) } th {} }
                @for f in &rec.findings {
                    tr {
                        td { (f.item_id.as_deref().unwrap_or("—")) }
                        td { (f.description) }
                        td { (f.disposition.label_zh()) }
                        td { a href={ "/console/followup/" (f.finding_id) } { (lang.t("后续处置", "Follow-up")) } }
                    }
                }
            }
        }
        @if !returns.is_empty() {
            h2 { (lang.t("退回记录", "Returns")) }
            table #returns {
                tr { th { (lang.t("时间", "At")) } th { (lang.t("退回人", "By")) } th { (lang.t("意见", "Comment")) } th { (lang.t("逐项意见", "Per item")) } }
                @for r in &returns {
                    tr {
                        td { (choucha_shared::value::china_minute_of(Some(&r.returned_at))) } td { (r.returned_by) } td { (r.comment) }
                        td { @for (item, c) in &r.item_comments { (item) "：" (c) br; } }
                    }
                }
            }
        }
        p.noprint {
            a href={ "/console/records/" (rid) "/pdf" } #export-pdf { (lang.t("导出检查记录 PDF", "Export the record as PDF")) }
            @for (i, no) in order_numbers.iter().enumerate() {
                " · "
                a.order-pdf href={ "/console/records/" (rid) "/orders/" (i + 1) } { (lang.t("责令整改通知书 ", "Rectification order ")) (no) }
            }
        }
        @if may_publish && review_state == ReviewState::Approved {
            h2.noprint { (lang.t("结果公示", "Disclosure")) }
            div.noprint #disclosure-state {
                @if disclosed {
                    (lang.t("已公示。", "Published. "))
                    (super::disclosure::withdraw_form(lang, &user, &rid))
                } @else {
                    (lang.t("尚未公示。", "Not published yet. "))
                    (super::disclosure::publish_form(lang, &user, &rid))
                }
            }
        }
        @if may_review && open {
            (review_actions(lang, &user, &rid, &version, review_state, rec))
        }
    };
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            lang.t("检查记录", "Inspection record"),
            body,
        ),
    ))
}

/// What the officers recorded when the target could not be inspected.
fn outcome_evidence(lang: Lang, outcome: &Outcome) -> Markup {
    let row = |zh: &str, en: &str, value: &str| {
        html! { tr { th { (lang.t(zh, en)) } td { (value) } } }
    };
    html! {
        @match outcome {
            Outcome::Normal => {}
            Outcome::Unreachable(e) => {
                h2 { (lang.t("无法联系的情况", "Why the company could not be reached")) }
                table #outcome-evidence {
                    (row("现场情况", "Premises", &format!("{} {}", e.premises.label_zh(), e.description)))
                    (row("查看时间", "Observed at", &choucha_shared::value::china_minute(e.observed_at)))
                    @for (i, a) in e.attempts.iter().enumerate() {
                        (row(&format!("联系尝试 {}", i + 1), &format!("Attempt {}", i + 1),
                            &format!("{} {} {}：{}", choucha_shared::value::china_minute(a.at), a.way.label_zh(), a.whom, a.result)))
                    }
                }
            }
            Outcome::ActivityNotFound(e) => {
                h2 { (lang.t("现场经营情况", "What the premises are used for")) }
                table #outcome-evidence { (row("情况说明", "Description", &e.description)) }
            }
            Outcome::Closed(e) => {
                h2 { (lang.t("关闭退出的情况", "Why the company is taken as closed")) }
                table #outcome-evidence {
                    (row("现场情况", "Found", &e.description))
                    (row("认定依据", "Ground", &e.basis))
                }
            }
            Outcome::Uncooperative(e) => {
                h2 { (lang.t("不配合检查的情况", "The refusal to cooperate")) }
                table #outcome-evidence {
                    (row("拒绝事项", "Refused", &e.refused))
                    (row("告知内容", "Warning given", &format!("{}（{}）", e.warning, choucha_shared::value::china_minute(e.warned_at))))
                    (row("见证人", "Witness", &format!("{} {}", e.witness.name, e.witness.contact)))
                }
            }
        }
    }
}

fn review_actions(
    lang: Lang,
    user: &CurrentUser,
    rid: &str,
    version: &str,
    review_state: ReviewState,
    rec: &InspectionRecord,
) -> Markup {
    html! {
        h2.noprint { (lang.t("审核", "Review")) }
        div.noprint {
            form.inline method="post" action={ "/console/records/" (rid) "/approve" } {
                (csrf_field(user))
                input type="hidden" name="version" value=(version);
                button type="submit" #approve { (lang.t("审核通过", "Approve")) }
            }
            @if review_state == ReviewState::Received {
                " "
                form.inline method="post" action={ "/console/records/" (rid) "/issues" } {
                    (csrf_field(user))
                    input type="hidden" name="version" value=(version);
                    button type="submit" #mark-issues { (lang.t("标记为存在问题", "Mark as having issues")) }
                }
            }
            form method="post" action={ "/console/records/" (rid) "/return" } #return-form {
                (csrf_field(user))
                input type="hidden" name="version" value=(version);
                h3 { (lang.t("退回修改", "Return for amendment")) }
                p { label { (lang.t("总体意见", "Overall comment")) br; textarea name="comment" #return-comment rows="3" cols="60" {} } }
                table {
                    tr { th { (lang.t("检查项", "Item")) } th { (lang.t("逐项意见（可空）", "Comment on this item (optional)")) } }
                    @for id in rec.items.keys() {
                        tr { td { (id) } td { input name={ "item:" (id) } data-item=(id) size="60"; } }
                    }
                }
                button type="submit" #return { (lang.t("退回", "Return")) }
            }
            @if let Ok(id) = rid.parse::<Uuid>() { (super::escalations::raise_form(lang, user, &id)) }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct VersionForm {
    version: String,
}

fn parse_version(v: &str) -> ConsoleResult<Sha256Hex> {
    Sha256Hex::parse(v.trim()).map_err(|_| {
        ConsoleError::BadRequest(format!("版本 '{v}' 无效，须为 64 位十六进制 (version)"))
    })
}

/// Approves the shown version.
pub async fn approve(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
    Form(form): Form<VersionForm>,
) -> ConsoleResult<Response> {
    user.require(REVIEWERS)?;
    let record_id = parse_record_id(&record_id)?;
    visible_record(&state, &user, &record_id).await?;
    let version = parse_version(&form.version)?;
    service::review::decide(
        &state.store,
        &user.actor(),
        &record_id,
        &version,
        service::review::Decision::Approve,
    )
    .await?;
    Ok(Redirect::to(&format!("/console/records/{record_id}")).into_response())
}

/// Marks the shown version "has issues".
pub async fn mark_issues(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
    Form(form): Form<VersionForm>,
) -> ConsoleResult<Response> {
    user.require(REVIEWERS)?;
    let record_id = parse_record_id(&record_id)?;
    visible_record(&state, &user, &record_id).await?;
    let version = parse_version(&form.version)?;
    service::review::decide(
        &state.store,
        &user.actor(),
        &record_id,
        &version,
        service::review::Decision::HasIssues,
    )
    .await?;
    Ok(Redirect::to(&format!("/console/records/{record_id}")).into_response())
}

/// Returns the shown version to the team with an overall comment and
/// comments per item (`item:<id>` fields).
pub async fn return_record(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> ConsoleResult<Response> {
    user.require(REVIEWERS)?;
    let record_id = parse_record_id(&record_id)?;
    visible_record(&state, &user, &record_id).await?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    let version = parse_version(&get("version").unwrap_or_default())?;
    let comment = get("comment").unwrap_or_default();
    let item_comments: BTreeMap<String, String> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("item:")?.to_owned(), v.clone())))
        .collect();
    service::review::return_record(
        &state.store,
        &user.actor(),
        &record_id,
        &version,
        &comment,
        item_comments,
    )
    .await?;
    Ok(Redirect::to(&format!("/console/records/{record_id}")).into_response())
}

/// A photo or signature image of a record, full size. Only blobs the
/// record names are served, and only to users who may see the record.
pub async fn blob(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((record_id, sha)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    let record_id = parse_record_id(&record_id)?;
    let sha = Sha256Hex::parse(&sha).map_err(|_| ConsoleError::not_found())?;
    let (versions, _) = visible_record(&state, &user, &record_id).await?;
    if !versions
        .iter()
        .any(|v| v.record.blob_hashes().any(|h| h == &sha))
    {
        return Err(ConsoleError::not_found());
    }
    super::upload::evidence(&state, &sha).await
}

/// The record's rectification order numbers, each once, in the order the
/// documents crate numbers its orders (`/orders/{n}`, from 1).
pub(super) fn order_numbers(rec: &choucha_shared::record::InspectionRecord) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &rec.findings {
        if let choucha_shared::record::Disposition::RectificationOrder { order_no, .. } =
            &f.disposition
        {
            let no = order_no.trim().to_owned();
            if !no.is_empty() && !out.contains(&no) {
                out.push(no);
            }
        }
    }
    out
}
