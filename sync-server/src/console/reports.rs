//! Export buttons: the town summary (监督检查情况、存在问题) as XLSX and CSV,
//! and one inspection record as PDF, all produced by
//! `oversight::reports`. A town lead's exports are their town's only.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::auth::CurrentUser;
use super::error::{ConsoleError, ConsoleResult};
use super::page::{Lang, layout, page};
use crate::AppState;
use crate::oversight::reports;
use crate::store::dashboard::Scope;

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    town: Option<String>,
}

fn scope(user: &CurrentUser, q: ReportQuery) -> Scope {
    Scope {
        plan_id: q.plan.filter(|p| !p.trim().is_empty()),
        town: match user.jurisdiction_filter() {
            Some(own) => Some(own.to_owned()),
            None => q.town.filter(|t| !t.trim().is_empty()),
        },
    }
}

/// An export's file name: what it is, its plan, its town's position in
/// the directory is not ASCII so the town is left out, and the China date
/// it was made (`summary-GXQ-2023-ZBJR-20261207.xlsx`).
fn export_name(kind: &str, scope: &Scope, ext: &str) -> String {
    let plan: String = scope
        .plan_id
        .as_deref()
        .unwrap_or("all")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    let date = crate::oversight::today_cst().format("%Y%m%d");
    format!("{kind}-{plan}-{date}.{ext}")
}

/// A download with its type and an ASCII file name.
pub(super) fn download(bytes: Vec<u8>, content_type: &'static str, file_name: &str) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The record's current version (the latest not superseded), if the user
/// may see the record (the town check is the record view's: 404 for
/// another town's record).
async fn current_version(
    state: &AppState,
    user: &CurrentUser,
    record_id: &str,
) -> ConsoleResult<(uuid::Uuid, crate::store::StoredRecord)> {
    let id = uuid::Uuid::parse_str(record_id).map_err(|_| ConsoleError::not_found())?;
    let (versions, _) = super::review::visible_record(state, user, &id).await?;
    let current = versions
        .iter()
        .rev()
        .find(|v| !v.superseded)
        .or(versions.last())
        .cloned()
        .ok_or_else(ConsoleError::not_found)?;
    Ok((id, current))
}

/// A record's `n`-th 责令整改通知书 (from 1) as PDF/A-2b, written from
/// the synced record by the same code the tablet writes it with: the
/// directory's entry for the target, the checklist the record used, and
/// the bureau's name (`authority`).
pub async fn order_pdf(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((record_id, n)): Path<(String, usize)>,
) -> ConsoleResult<Response> {
    let (id, current) = current_version(&state, &user, &record_id).await?;
    let record = current.record;
    let checklist = state
        .checklists
        .get(&record.checklist)
        .cloned()
        .ok_or_else(ConsoleError::not_found)?;
    let (_, target) = state
        .store
        .target(record.category.code(), record.target.as_str())
        .await?
        .ok_or_else(ConsoleError::not_found)?;
    let notices =
        choucha_documents::notice::orders(&record, &target, &checklist, &state.oversight.authority)
            .map_err(|e| ConsoleError::Conflict(e.to_string()))?;
    let notice = n
        .checked_sub(1)
        .and_then(|i| notices.into_iter().nth(i))
        .ok_or_else(ConsoleError::not_found)?;
    // Layout and font subsetting are CPU work: off the async workers.
    let pdf = tokio::task::spawn_blocking(move || notice.pdf())
        .await
        .map_err(|e| ConsoleError::Internal(format!("PDF rendering panicked: {e}")))?
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(download(
        pdf,
        "application/pdf",
        &format!("order-{id}-{n}.pdf"),
    ))
}

/// The export page.
pub async fn index(
    State(state): State<AppState>,
    user: CurrentUser,
    lang: Lang,
) -> ConsoleResult<Response> {
    let plans = state.store.console_plans().await?;
    let towns: Vec<String> = match user.jurisdiction_filter() {
        Some(own) => vec![own.to_owned()],
        None => state.store.jurisdictions().await?.into_iter().collect(),
    };
    let selectors = html! {
        label { (lang.t("抽查计划", "Plan")) " "
            select name="plan" {
                option value="" { (lang.t("全部", "All")) }
                @for p in &plans { option value=(p.plan_id) { (p.plan_id) } }
            }
        } " "
        label { (lang.t("镇街", "Town")) " "
            select name="town" {
                @if user.jurisdiction_filter().is_none() { option value="" { (lang.t("全部", "All")) } }
                @for t in &towns { option value=(t) { (t) } }
            }
        } " "
    };
    let body = html! {
        h2 { (lang.t("监督检查情况、存在问题汇总", "Inspection summary and problems")) }
        form method="get" action="/console/reports/summary.xlsx" #export-xlsx-form {
            (selectors) button type="submit" #export-xlsx { (lang.t("导出 Excel", "Export XLSX")) }
        }
        form method="get" action="/console/reports/summary.csv" #export-csv-form {
            (selectors) button type="submit" #export-csv { (lang.t("导出汇总 CSV", "Export summary CSV")) }
        }
        form method="get" action="/console/reports/problems.csv" #export-problems-form {
            (selectors) button type="submit" #export-problems { (lang.t("导出问题清单 CSV", "Export problems CSV")) }
        }
        h2 { (lang.t("国家企业信用信息公示系统格式", "National register layout")) }
        p.muted { (lang.t("已公示（未撤回）的抽查结果，每条一行；附本局签名的清单（文件的 SHA-256 与行数），接收方可用公开的公钥核对文件未被改动。", "Published (not withdrawn) results, one row each, with a manifest signed by the bureau (the file's SHA-256 and row count); the recipient checks it with the published public key.")) " " a href="/public/signing-key.pem" { (lang.t("公钥", "Public key")) } }
        p {
            a #export-register-xlsx href="/console/reports/register.xlsx" { (lang.t("导出 XLSX", "Export XLSX")) } " · "
            a #export-register-csv href="/console/reports/register.csv" { (lang.t("导出 CSV", "Export CSV")) } " · "
            a #register-manifest href="/console/reports/register.manifest.json?format=xlsx" { (lang.t("XLSX 清单", "XLSX manifest")) } " · "
            a href="/console/reports/register.manifest.json?format=csv" { (lang.t("CSV 清单", "CSV manifest")) }
        }
        p.muted { (lang.t("单个检查记录的 PDF 在检查记录页面导出。", "A single record's PDF is exported from its record page.")) }
    };
    Ok(page(
        StatusCode::OK,
        layout(lang, Some(&user), lang.t("报表导出", "Reports"), body),
    ))
}

pub async fn summary_xlsx(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ReportQuery>,
) -> ConsoleResult<Response> {
    let scope = scope(&user, q);
    let s = state.store.town_summary(&scope).await?;
    let title = format!(
        "监督检查情况、存在问题汇总{}",
        scope
            .town
            .as_deref()
            .map(|t| format!("（{t}）"))
            .unwrap_or_default()
    );
    let bytes = reports::summary_xlsx(&s, &title)?;
    Ok(download(
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &export_name("summary", &scope, "xlsx"),
    ))
}

pub async fn summary_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ReportQuery>,
) -> ConsoleResult<Response> {
    let scope = scope(&user, q);
    let s = state.store.town_summary(&scope).await?;
    Ok(download(
        reports::summary_csv(&s),
        "text/csv; charset=utf-8",
        &export_name("summary", &scope, "csv"),
    ))
}

pub async fn problems_csv(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ReportQuery>,
) -> ConsoleResult<Response> {
    let scope = scope(&user, q);
    let s = state.store.town_summary(&scope).await?;
    Ok(download(
        reports::problems_csv(&s),
        "text/csv; charset=utf-8",
        &export_name("problems", &scope, "csv"),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct ManifestQuery {
    #[serde(default)]
    format: Option<String>,
}

/// The register's file name: the date of its last publication in it.
fn register_name(rows: &[crate::store::disclosure::RegisterRow], ext: &str) -> String {
    let date = rows
        .iter()
        .map(|r| r.published_at.as_str())
        .max()
        .map(|t| t.get(..10).unwrap_or(t).replace('-', ""))
        .unwrap_or_else(|| "empty".into());
    format!("choucha-register-{date}.{ext}")
}

/// The register in the national layout, CSV.
pub async fn register_csv(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> ConsoleResult<Response> {
    let rows = state.store.register_rows().await?;
    let name = register_name(&rows, "csv");
    Ok(download(
        crate::oversight::register::csv(&rows),
        "text/csv; charset=utf-8",
        &name,
    ))
}

/// The register in the national layout, XLSX.
pub async fn register_xlsx(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> ConsoleResult<Response> {
    let rows = state.store.register_rows().await?;
    let name = register_name(&rows, "xlsx");
    Ok(download(
        crate::oversight::register::xlsx(&rows)?,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &name,
    ))
}

/// The manifest of the register file (`?format=csv|xlsx`): its SHA-256
/// and row count, made from the same results as the file.
pub async fn register_manifest(
    State(state): State<AppState>,
    _user: CurrentUser,
    Query(q): Query<ManifestQuery>,
) -> ConsoleResult<Response> {
    let rows = state.store.register_rows().await?;
    let (name, bytes) = match q.format.as_deref().unwrap_or("csv") {
        "csv" => (
            register_name(&rows, "csv"),
            crate::oversight::register::csv(&rows),
        ),
        "xlsx" => (
            register_name(&rows, "xlsx"),
            crate::oversight::register::xlsx(&rows)?,
        ),
        other => {
            return Err(ConsoleError::BadRequest(format!(
                "格式应为 csv 或 xlsx，而不是“{other}” (format must be csv or xlsx)"
            )));
        }
    };
    let manifest = crate::oversight::register::manifest(&name, &bytes, &rows);
    let manifest = crate::service::signing::sign_manifest(&state.store, manifest).await?;
    Ok(axum::Json(manifest).into_response())
}

/// The current version of a record as PDF (the town check is the record
/// view's: 404 for another town's record).
pub async fn record_pdf(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(record_id): Path<String>,
) -> ConsoleResult<Response> {
    let (id, current) = current_version(&state, &user, &record_id).await?;
    let version = current.status.version.to_string();
    let bytes = reports::record_pdf(
        &state,
        &state.checklists,
        &state.oversight,
        &id.to_string(),
        &version,
    )
    .await?;
    Ok(download(
        bytes,
        "application/pdf",
        &format!("record-{id}.pdf"),
    ))
}
