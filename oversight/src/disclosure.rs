//! The public register (一公开): approved results, published with nothing
//! personal, within 20 working days of the inspection; an overturned result
//! is withdrawn and stays visible as withdrawn.
//!
//! Published fields (企业信息公示暂行条例, DOMAIN.md): target name, unified
//! social credit code, inspection matter, date, authority, result category.
//! Nothing about officers, no photos or signatures, no enterprise staff:
//! the `disclosures` table has no column that could hold them, and the feed
//! is written from that table alone. Publishing and withdrawing are use
//! cases (`service::disclosure`); the rows are the store's
//! (`store::disclosure`). Here: the result a record suggests, the deadline
//! list, and the feeds.
//!
//! # Feeds
//!
//! [`feed_stream`] yields the register as JSON or CSV in chunks read from
//! the database page by page (keyset on `seq`), so memory stays flat
//! whatever the register's size; the console serves it without login at
//! `GET /public/results.json` and `GET /public/results.csv`.

use bytes::Bytes;
use choucha_shared::calendar::{PublicationStatus, WorkCalendar};
use choucha_shared::record::InspectionRecord;
use choucha_shared::review::PublishedResult;
use choucha_shared::value::CivilDate;
use chrono::NaiveDate;
use futures_util::Stream;
use serde::Serialize;

use super::{OversightError, corrupt};
use choucha_store::Store;
use choucha_store::disclosure::PublicResult;

/// The result category a record suggests; the reviewer may choose another
/// when publishing.
pub fn suggested_result(record: &InspectionRecord) -> PublishedResult {
    record.outcome.published_result(&record.findings)
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
    /// The deadline crosses a year whose holidays are not entered: it is
    /// counted with weekends only there, and shown as provisional (暂定).
    pub provisional: bool,
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
    // Overdue ⇔ deadline < today ⇔ inspected on or before the last date
    // whose deadline has passed.
    let cutoff = last_overdue_inspection_date(calendar, today);
    let (rows, overdue) = store.undisclosed(town, cutoff, limit).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let d = CivilDate::parse(&r.inspection_date).map_err(corrupt)?;
        out.push(DueResult {
            status: calendar.publication_status(d, None, today),
            provisional: calendar.provisional(d.date(), calendar.publication_deadline(d)),
            record_id: r.record_id,
            version: r.version,
            town: r.town,
            target_name: r.target_name,
            inspection_date: r.inspection_date,
            state: r.state,
        });
    }
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
                    let rows = match store.disclosures_after(after, FEED_PAGE).await {
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
                    let last = rows.last().map_or(after, |r| r.seq);
                    let mut out = Vec::with_capacity(rows.len() * 256);
                    let mut first = first;
                    for r in rows {
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
    // A spreadsheet runs a cell starting with any of these as a formula,
    // tab and carriage return included (it skips them, then reads `=`).
    let f = if f.starts_with(['=', '+', '-', '@', '\t', '\r']) {
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

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn nothing_a_spreadsheet_would_run_as_a_formula_gets_through() {
        for bad in [
            "=HYPERLINK(\"x\")",
            "+1+1",
            "-1+1",
            "@SUM(A1)",
            "\t=1+1",
            "\r=1+1",
        ] {
            let out = csv_field(bad);
            let inner = out.trim_start_matches('"');
            assert!(inner.starts_with('\''), "{bad:?} became {out:?}");
        }
        assert_eq!(csv_field("西永街道"), "西永街道");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
