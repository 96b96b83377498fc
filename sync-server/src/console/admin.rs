//! The admin's directory import (CSV/XLSX upload through the same parser
//! and store path as the API) and the audit log view.

use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::auth::{CurrentUser, Role};
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, layout, page};
use crate::AppState;
use crate::service;
use crate::store::ImportMode;
use choucha_shared::value::china_minute_of;

const AUDIT_READERS: &[Role] = &[Role::Admin, Role::Supervisor, Role::Auditor];
const KINDS: [(&str, &str, &str); 4] = [
    ("targets", "检查对象名录", "Targets"),
    ("officers", "执法人员名录", "Officers"),
    ("experts", "专家名录", "Experts"),
    ("recusals", "回避关系", "Recusals"),
];

fn import_form(lang: Lang, user: &CurrentUser) -> maud::Markup {
    // Multipart bodies are not read by the CSRF guard: the token rides in
    // the query string instead.
    html! {
        form method="post" enctype="multipart/form-data" action={ "/console/import?csrf=" (user.csrf_token) } #import-form {
            label { (lang.t("名录类型", "Directory")) " "
                select name="kind" #import-kind { @for (k, zh, en) in KINDS { option value=(k) { (lang.t(zh, en)) } } }
            } " "
            input type="file" name="file" #import-file accept=".csv,.xlsx" required; " "
            label { input type="checkbox" name="partial" value="1"; (lang.t("仅导入正确的行", "Import the good rows only")) } " "
            label { input type="checkbox" name="full" value="1"; (lang.t("完整名录（文件中没有的检查对象标记为“不在最新名录”）", "Whole directory (targets not in the file are marked not in the latest directory)")) } " "
            button type="submit" #import-submit { (lang.t("导入", "Import")) }
        }
    }
}

/// Admin only: the upload form.
pub async fn import_page(user: CurrentUser, lang: Lang) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    Ok(page(
        StatusCode::OK,
        layout(
            lang,
            Some(&user),
            lang.t("名录导入", "Directory import"),
            import_form(lang, &user),
        ),
    ))
}

/// Admin only: imports an uploaded directory file and shows the outcome
/// with every bad row (row, column, value, reason).
pub async fn import_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    multipart: Multipart,
) -> ConsoleResult<Response> {
    user.require(&[Role::Admin])?;
    let bad = |m: String| ConsoleError::BadRequest(m);
    let form = super::upload::Upload::read(multipart).await?;
    let kind = service::directory::parse_kind(form.field("kind").unwrap_or_default())?;
    let (partial, full) = (form.has("partial"), form.has("full"));
    let (name, bytes, format) = form.table("请选择要导入的文件")?;
    let mode = match (full, partial) {
        (true, true) => {
            return Err(bad(
                "“完整名录”与“仅导入正确的行”不能同时选择 (full and partial exclude each other)"
                    .into(),
            ));
        }
        (true, false) => ImportMode::Full,
        (false, true) => ImportMode::Partial,
        (false, false) => ImportMode::AllOrNothing,
    };
    let summary = service::directory::import_file(
        &state.store,
        &user.actor(),
        kind,
        &bytes,
        format,
        mode,
        &name,
    )
    .await?;
    let status = if summary.imported {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = html! {
        p #import-result class=(if summary.imported { "ok" } else { "error" }) {
            (name) "："
            @if summary.imported { (lang.t("已导入", "imported")) } @else { (lang.t("未导入（有错误行）", "not imported (bad rows)")) }
            "，" (summary.total_rows) (lang.t(" 行，新增 ", " rows, new ")) (summary.inserted)
            (lang.t("，更新 ", ", updated ")) (summary.updated)
            (lang.t("，未变 ", ", unchanged ")) (summary.unchanged)
            (lang.t("，有误 ", ", rejected ")) (summary.rejected)
        }
        @if !summary.retired.is_empty() {
            p { (lang.t("以下检查对象不在本次完整名录中，已标记为“不在最新名录”（保留历史，不再参与抽取）：", "Not in this whole directory, marked not in the latest directory (history kept, no longer drawn):")) }
            table #import-retired {
                tr { th { (lang.t("类别", "Category")) } th { (lang.t("代码", "Key")) } th { (lang.t("名称", "Name")) } }
                @for r in &summary.retired { tr { td { (r.category) } td { (r.key) } td { (r.name) } } }
            }
        }
        @if !summary.errors.is_empty() {
            table #import-errors {
                tr { th { (lang.t("行", "Row")) } th { (lang.t("列", "Column")) } th { (lang.t("值", "Value")) } th { (lang.t("原因", "Reason")) } }
                @for e in &summary.errors { tr { td { (e.row) } td { (e.column) } td { (e.value) } td { (e.reason) } } }
            }
        }
        (import_form(lang, &user))
    };
    Ok(page(
        status,
        layout(
            lang,
            Some(&user),
            lang.t("名录导入", "Directory import"),
            body,
        ),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    /// China dates, `YYYY-MM-DD`, both included.
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// A China date's first instant, as stored (UTC); `None` if not a date.
fn china_day_start(date: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    let local = d.and_hms_opt(0, 0, 0)?;
    local
        .and_local_timezone(choucha_shared::value::china_offset())
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The audit log, newest first, filtered by object, person, action and
/// China dates; actions in words, changes as the fields that changed.
pub async fn audit(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
    Query(q): Query<AuditQuery>,
) -> ConsoleResult<Response> {
    user.require(AUDIT_READERS)?;
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let bad_date =
        |d: &str| ConsoleError::BadRequest(format!("“{d}”不是日期，应为 YYYY-MM-DD (date)"));
    let from = match given(&q.from) {
        Some(d) => Some(stamp(china_day_start(&d).ok_or_else(|| bad_date(&d))?)),
        None => None,
    };
    let until = match given(&q.to) {
        Some(d) => Some(stamp(
            china_day_start(&d).ok_or_else(|| bad_date(&d))? + chrono::Duration::days(1),
        )),
        None => None,
    };
    let filter = crate::store::AuditFilter {
        object: given(&q.object),
        actor: given(&q.actor),
        action: given(&q.action),
        from,
        until,
    };
    let entries = state.store.audit_entries(&filter, 500).await?;
    let body = html! {
        form method="get" action="/console/audit" #audit-filter {
            label { (lang.t("人员", "Who")) " " input name="actor" #audit-actor value=(filter.actor.as_deref().unwrap_or("")) size="14"; } " "
            label { (lang.t("操作", "Action")) " "
                select name="action" #audit-action {
                    option value="" { (lang.t("全部", "All")) }
                    @for (code, zh, en) in super::audit_labels::ACTIONS {
                        option value=(code) selected[filter.action.as_deref() == Some(*code)] { (lang.t(zh, en)) }
                    }
                }
            } " "
            label { (lang.t("日期从", "From")) " " input type="date" name="from" #audit-from value=(q.from.as_deref().unwrap_or("")); } " "
            label { (lang.t("至", "to")) " " input type="date" name="to" #audit-to value=(q.to.as_deref().unwrap_or("")); } " "
            label { (lang.t("对象", "Object")) " " input name="object" value=(filter.object.as_deref().unwrap_or("")) size="30"; } " "
            button type="submit" { (lang.t("筛选", "Filter")) }
        }
        table #audit {
            tr { th { (lang.t("时间", "At")) } th { (lang.t("人员", "Who")) } th { (lang.t("操作", "Action")) } th { (lang.t("对象", "Object")) } th { (lang.t("变更", "Change")) } }
            @for e in &entries {
                tr.audit-row data-action=(e.action) {
                    td { (china_minute_of(Some(&e.at))) } td { (e.actor) } td { (super::audit_labels::action_label(lang, &e.action)) } td { (e.object) }
                    td.change {
                        @for line in super::audit_labels::diff(e.before.as_ref(), e.after.as_ref()) {
                            div { (line) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("操作日志", "Audit log"), body),
    ))
}
