//! The public register (一公开): approved results, published with nothing
//! personal, within 20 working days of the inspection; an overturned result
//! is withdrawn and stays visible as withdrawn.
//!
//! Published fields (企业信息公示暂行条例, DOMAIN.md): target name, unified
//! social credit code, inspection matter, date, authority, result category.
//! Nothing about officers, no photos or signatures, no enterprise staff:
//! the `disclosures` table has no column that could hold them, and the feed
//! is written from that table alone.
//!
//! # Feeds
//!
//! [`feed_stream`] yields the register as JSON or CSV in chunks read from
//! the database page by page (keyset on `seq`), so memory stays flat
//! whatever the register's size; [`feed_body`] wraps it as an HTTP body.
//! Routes are the console's (part A) to mount, e.g.
//! `GET /public/results.json` → `feed_response(state.store.clone(), FeedFormat::Json)`,
//! `GET /public/results.csv` → `feed_response(…, FeedFormat::Csv)`,
//! both without login.

use std::io;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use choucha_checklists::Catalogue;
use choucha_shared::calendar::{PublicationStatus, WorkCalendar};
use choucha_shared::record::{Disposition, InspectionRecord};
use choucha_shared::review::{PublishedResult, ReviewState};
use choucha_shared::value::CivilDate;
use chrono::NaiveDate;
use futures_util::Stream;
use serde::Serialize;

use super::{OversightConfig, OversightError, corrupt};
use crate::store::{Store, now};

/// The result category a record suggests; the reviewer may choose another
/// when publishing.
pub fn suggested_result(record: &InspectionRecord) -> PublishedResult {
    if record.findings.is_empty() {
        return PublishedResult::NoProblemFound;
    }
    let pending = record.findings.iter().any(|f| {
        !matches!(
            f.disposition,
            Disposition::FixedOnSite { .. } | Disposition::RectificationOrder { .. }
        )
    });
    if pending {
        PublishedResult::ProblemPendingFurtherAction
    } else {
        PublishedResult::ProblemOrderedCorrected
    }
}

/// One published result, exactly as the public sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicResult {
    pub seq: i64,
    /// 检查对象名称
    pub target_name: String,
    /// 统一社会信用代码 (of the issuer, for a standard)
    pub uscc: Option<String>,
    /// 检查事项
    pub matter: String,
    /// 检查日期
    pub inspection_date: String,
    /// 检查机关
    pub authority: String,
    /// 检查结果 (the category's Chinese label)
    pub result: String,
    pub published_at: String,
    /// Set when the result was withdrawn (撤回), with the public reason.
    pub withdrawn_at: Option<String>,
    pub withdrawal_reason: Option<String>,
}

const RESULT_COLUMNS: &str = "seq, target_name, uscc, matter, inspection_date, authority, result, published_at, withdrawn_at, withdrawal_reason";

type ResultRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn from_row(r: ResultRow) -> PublicResult {
    PublicResult {
        seq: r.0,
        target_name: r.1,
        uscc: r.2,
        matter: r.3,
        inspection_date: r.4,
        authority: r.5,
        result: r.6,
        published_at: r.7,
        withdrawn_at: r.8,
        withdrawal_reason: r.9,
    }
}

/// Publishes the approved current version of a record. `result` overrides
/// the suggested category. A record has at most one live result.
pub async fn publish(
    store: &Store,
    catalogue: &Catalogue,
    cfg: &OversightConfig,
    record_id: &str,
    result: Option<PublishedResult>,
    actor: &crate::store::Actor,
) -> Result<PublicResult, OversightError> {
    let _writer = store.writer().await;
    let mut tx = store.pool().begin().await?;
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT version, state, record FROM records WHERE record_id = $1 AND superseded = 0",
    )
    .bind(record_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (version, state, json) =
        row.ok_or_else(|| OversightError::NotFound(format!("记录 {record_id} 不存在")))?;
    if state != ReviewState::Approved.as_str() {
        return Err(OversightError::Conflict(format!(
            "记录 {record_id} 尚未审核通过（当前状态 {state}），不能公示"
        )));
    }
    let live: Option<(i64,)> =
        sqlx::query_as("SELECT seq FROM disclosures WHERE record_id = $1 AND withdrawn_at IS NULL")
            .bind(record_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((seq,)) = live {
        return Err(OversightError::Conflict(format!(
            "记录 {record_id} 的检查结果已公示（第 {seq} 号），如需更正请先撤回"
        )));
    }
    let record: InspectionRecord = serde_json::from_str(&json).map_err(corrupt)?;
    let uscc: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT CASE WHEN issuer IS NULL THEN target_key ELSE issuer_uscc END FROM targets WHERE category = $1 AND target_key = $2",
    )
    .bind(record.category.code())
    .bind(record.target.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let uscc = match uscc {
        Some((u,)) => u,
        None if record.category.is_standard() => None,
        None => Some(record.target.to_string()),
    };
    let matter = catalogue
        .get(&record.checklist)
        .map(|c| c.title.clone())
        .unwrap_or_else(|| format!("{}监督检查", record.category.label_zh()));
    let result = result.unwrap_or_else(|| suggested_result(&record));
    let deadline = cfg.calendar.publication_deadline(record.inspection_date);
    let at = now();
    sqlx::query(
        "INSERT INTO disclosures (record_id, version, target_key, target_name, uscc, matter, inspection_date, authority, result, deadline, published_at, published_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(record_id)
    .bind(&version)
    .bind(record.target.as_str())
    .bind(&record.target_name)
    .bind(&uscc)
    .bind(&matter)
    .bind(record.inspection_date.to_string())
    .bind(&cfg.authority)
    .bind(result.label_zh())
    .bind(deadline.format("%Y-%m-%d").to_string())
    .bind(&at)
    .bind(actor.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE oversight_records SET disclosed = 1 WHERE record_id = $1 AND version = $2")
        .bind(record_id)
        .bind(&version)
        .execute(&mut *tx)
        .await?;
    let row: ResultRow = sqlx::query_as(&format!(
        "SELECT {RESULT_COLUMNS} FROM disclosures WHERE record_id = $1 AND withdrawn_at IS NULL"
    ))
    .bind(record_id)
    .fetch_one(&mut *tx)
    .await?;
    let published = from_row(row.clone());
    super::audit_tx(
        &mut tx,
        actor,
        "disclosure.publish",
        &format!("record:{record_id}"),
        None,
        Some(&serde_json::to_value(&published).map_err(corrupt)?),
    )
    .await?;
    tx.commit().await?;
    Ok(from_row(row))
}

/// Withdraws the live result of a record (overturned on review,
/// reconsideration or litigation). The entry stays public, marked withdrawn
/// with `reason`.
pub async fn withdraw(
    store: &Store,
    record_id: &str,
    reason: &str,
    actor: &crate::store::Actor,
) -> Result<PublicResult, OversightError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(OversightError::invalid(
            "reason",
            "撤回公示须说明理由 (a withdrawal needs a reason)",
        ));
    }
    let _writer = store.writer().await;
    let mut tx = store.pool().begin().await?;
    let live: Option<(i64, String)> = sqlx::query_as(
        "SELECT seq, version FROM disclosures WHERE record_id = $1 AND withdrawn_at IS NULL",
    )
    .bind(record_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (seq, version) = live.ok_or_else(|| {
        OversightError::NotFound(format!("记录 {record_id} 没有公示中的检查结果"))
    })?;
    sqlx::query(
        "UPDATE disclosures SET withdrawn_at = $1, withdrawn_by = $2, withdrawal_reason = $3 WHERE seq = $4",
    )
    .bind(now())
    .bind(actor.as_str())
    .bind(reason)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE oversight_records SET disclosed = 0 WHERE record_id = $1 AND version = $2")
        .bind(record_id)
        .bind(&version)
        .execute(&mut *tx)
        .await?;
    let row: ResultRow = sqlx::query_as(&format!(
        "SELECT {RESULT_COLUMNS} FROM disclosures WHERE seq = $1"
    ))
    .bind(seq)
    .fetch_one(&mut *tx)
    .await?;
    super::audit_tx(
        &mut tx,
        actor,
        "disclosure.withdraw",
        &format!("record:{record_id}"),
        None,
        Some(&serde_json::to_value(from_row(row.clone())).map_err(corrupt)?),
    )
    .await?;
    tx.commit().await?;
    Ok(from_row(row))
}

/// A record not yet public, against its deadline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DueResult {
    pub record_id: String,
    pub version: String,
    pub town: String,
    pub target_name: String,
    pub inspection_date: String,
    pub state: String,
    pub status: PublicationStatus,
}

/// Records whose result is not public yet, oldest inspection first (so the
/// overdue come first), at most `limit`; plus how many are overdue in all.
/// Includes records still under review: their deadline runs all the same.
pub async fn due_list(
    store: &Store,
    calendar: &WorkCalendar,
    town: Option<&str>,
    today: NaiveDate,
    limit: i64,
) -> Result<(Vec<DueResult>, i64), OversightError> {
    super::index::catch_up(store).await?;
    let sql = format!(
        "SELECT record_id, version, jurisdiction, target_name, inspection_date, state FROM oversight_records \
         WHERE disclosed = 0 AND state <> '{}' AND ($1 = '' OR jurisdiction = $1) \
         ORDER BY inspection_date, record_id LIMIT $2",
        ReviewState::Superseded.as_str()
    );
    let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(&sql)
        .bind(town.unwrap_or_default())
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (record_id, version, town, target_name, inspection_date, state) in rows {
        let d = CivilDate::parse(&inspection_date).map_err(corrupt)?;
        out.push(DueResult {
            status: calendar.publication_status(d, None, today),
            record_id,
            version,
            town,
            target_name,
            inspection_date,
            state,
        });
    }
    // Overdue ⇔ deadline < today ⇔ inspected on or before the last date
    // whose deadline has passed: one indexed range count.
    let cutoff = last_overdue_inspection_date(calendar, today);
    let sql = format!(
        "SELECT COUNT(*) FROM oversight_records WHERE disclosed = 0 AND state <> '{}' \
         AND inspection_date <= $1 AND ($2 = '' OR jurisdiction = $2)",
        ReviewState::Superseded.as_str()
    );
    let (overdue,): (i64,) = sqlx::query_as(&sql)
        .bind(cutoff.format("%Y-%m-%d").to_string())
        .bind(town.unwrap_or_default())
        .fetch_one(store.pool())
        .await?;
    Ok((out, overdue))
}

/// The latest inspection date whose publication deadline is before `today`.
/// Deadlines never decrease with the inspection date, so every earlier
/// date is overdue too.
pub fn last_overdue_inspection_date(calendar: &WorkCalendar, today: NaiveDate) -> NaiveDate {
    let mut d = today;
    loop {
        d -= chrono::Duration::days(1);
        let deadline =
            calendar.add_working_days(d, choucha_shared::calendar::PUBLICATION_WORKING_DAYS);
        if deadline < today {
            return d;
        }
    }
}

/// Feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    Json,
    Csv,
}

/// Rows fetched per database round trip while streaming.
const FEED_PAGE: i64 = 1_000;

const CSV_HEADER: &str = "序号,检查对象名称,统一社会信用代码,检查事项,检查日期,检查机关,检查结果,公示时间,撤回时间,撤回理由\r\n";

enum FeedState {
    Start,
    Page { after: i64, first: bool },
    Done,
}

/// The whole register, oldest first, as JSON (`{"results":[…]}`) or CSV
/// (UTF-8 with BOM so spreadsheet software shows the Chinese), one chunk per
/// page of rows.
pub fn feed_stream(
    store: Store,
    format: FeedFormat,
) -> impl Stream<Item = Result<Bytes, OversightError>> + Send + 'static {
    futures_util::stream::unfold(FeedState::Start, move |state| {
        let store = store.clone();
        async move {
            match state {
                FeedState::Start => {
                    let head = match format {
                        FeedFormat::Json => Bytes::from_static(b"{\"results\":["),
                        FeedFormat::Csv => {
                            let mut v = "\u{feff}".as_bytes().to_vec();
                            v.extend_from_slice(CSV_HEADER.as_bytes());
                            Bytes::from(v)
                        }
                    };
                    Some((
                        Ok(head),
                        FeedState::Page {
                            after: 0,
                            first: true,
                        },
                    ))
                }
                FeedState::Page { after, first } => {
                    let rows: Result<Vec<ResultRow>, sqlx::Error> = sqlx::query_as(&format!(
                        "SELECT {RESULT_COLUMNS} FROM disclosures WHERE seq > $1 ORDER BY seq LIMIT $2"
                    ))
                    .bind(after)
                    .bind(FEED_PAGE)
                    .fetch_all(store.pool())
                    .await;
                    let rows = match rows {
                        Ok(r) => r,
                        Err(e) => return Some((Err(e.into()), FeedState::Done)),
                    };
                    if rows.is_empty() {
                        let tail = match format {
                            FeedFormat::Json => Bytes::from_static(b"]}\n"),
                            FeedFormat::Csv => Bytes::new(),
                        };
                        return Some((Ok(tail), FeedState::Done));
                    }
                    let last = rows.last().map_or(after, |r| r.0);
                    let mut out = Vec::with_capacity(rows.len() * 256);
                    let mut first = first;
                    for r in rows {
                        let r = from_row(r);
                        match format {
                            FeedFormat::Json => {
                                if !first {
                                    out.push(b',');
                                }
                                if let Err(e) = serde_json::to_writer(&mut out, &r) {
                                    return Some((Err(corrupt(e)), FeedState::Done));
                                }
                            }
                            FeedFormat::Csv => csv_line(&mut out, &r),
                        }
                        first = false;
                    }
                    Some((Ok(Bytes::from(out)), FeedState::Page { after: last, first }))
                }
                FeedState::Done => None,
            }
        }
    })
}

/// One CSV line; fields quoted when needed, and a leading `=`, `+`, `-` or
/// `@` neutralised so a spreadsheet never runs a cell as a formula.
fn csv_line(out: &mut Vec<u8>, r: &PublicResult) {
    let fields = [
        r.seq.to_string(),
        r.target_name.clone(),
        r.uscc.clone().unwrap_or_default(),
        r.matter.clone(),
        r.inspection_date.clone(),
        r.authority.clone(),
        r.result.clone(),
        r.published_at.clone(),
        r.withdrawn_at.clone().unwrap_or_default(),
        r.withdrawal_reason.clone().unwrap_or_default(),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(csv_field(f).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

pub(crate) fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@']) {
        format!("'{f}")
    } else {
        f.to_owned()
    };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

/// The feed as an HTTP body.
pub fn feed_body(store: Store, format: FeedFormat) -> Body {
    use futures_util::TryStreamExt;
    Body::from_stream(feed_stream(store, format).map_err(io::Error::other))
}

/// The feed as a complete response with its content type.
pub fn feed_response(store: Store, format: FeedFormat) -> Response {
    let (ctype, name) = match format {
        FeedFormat::Json => ("application/json; charset=utf-8", "results.json"),
        FeedFormat::Csv => ("text/csv; charset=utf-8", "results.csv"),
    };
    let mut resp = feed_body(store, format).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// One page of the register for the public HTML page (newest first).
pub async fn public_page(
    store: &Store,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<PublicResult>, OversightError> {
    let rows: Vec<ResultRow> = sqlx::query_as(&format!(
        "SELECT {RESULT_COLUMNS} FROM disclosures WHERE seq < $1 ORDER BY seq DESC LIMIT $2"
    ))
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit.clamp(1, 500))
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}
