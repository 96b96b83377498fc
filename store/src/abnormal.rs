//! What follows a target that could not be inspected: 经营异常名录 for
//! companies that could not be reached at their registered address
//! (records whose outcome is `unreachable`) and the bureau's listing of
//! each (企业经营异常名录管理暂行办法); the case path (立案查处) for
//! companies that refused the inspection (不配合检查（情节严重）,
//! `uncooperative`). The listing deadline is computed from the working-day
//! calendar by `service::abnormal`; here are the rows and the two writes.

use serde::Serialize;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, now};
use choucha_shared::outcome::OutcomeKind;
use choucha_shared::review::ReviewState;

/// A current record of one outcome, with the step that follows it once
/// recorded: the listing of a company that could not be reached
/// ([`AbnormalCase`]), the case filed against one that refused
/// ([`UncooperativeCase`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutcomeCase<D> {
    pub record_id: String,
    pub version: String,
    pub town: String,
    pub target_key: String,
    pub target_name: String,
    pub inspection_date: String,
    pub state: String,
    pub done: Option<D>,
}

/// A record whose company could not be reached, with its listing if done.
pub type AbnormalCase = OutcomeCase<Listing>;

/// A record whose company refused the inspection, with its case if filed.
pub type UncooperativeCase = OutcomeCase<CaseFiling>;

/// The bureau's listing decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub listed_on: String,
    pub decision_no: String,
    pub listed_by: String,
}

/// A case filed against a company that refused the inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseFiling {
    pub filed_on: String,
    pub case_no: String,
    pub filed_by: String,
}

/// A current record version of one outcome, with the one follow-up row of
/// `table` (date, number, by whom) when it exists.
#[derive(sqlx::FromRow)]
struct OutcomeRow {
    record_id: String,
    version: String,
    town: String,
    target_key: String,
    target_name: String,
    inspection_date: String,
    state: String,
    done_on: Option<String>,
    done_no: Option<String>,
    done_by: Option<String>,
}

impl OutcomeRow {
    /// The case, its follow-up row made by `step` (date, number, by whom).
    fn into_case<D>(self, step: impl FnOnce(String, String, String) -> D) -> OutcomeCase<D> {
        let done = match (self.done_on, self.done_no, self.done_by) {
            (Some(on), Some(no), Some(by)) => Some(step(on, no, by)),
            _ => None,
        };
        OutcomeCase {
            record_id: self.record_id,
            version: self.version,
            town: self.town,
            target_key: self.target_key,
            target_name: self.target_name,
            inspection_date: self.inspection_date,
            state: self.state,
            done,
        }
    }
}

/// The follow-up table of each outcome and its columns: date, number, by
/// whom.
const LISTINGS: (&str, &str, &str, &str) =
    ("abnormal_listings", "listed_on", "decision_no", "listed_by");
const CASES: (&str, &str, &str, &str) = ("uncooperative_cases", "filed_on", "case_no", "filed_by");

impl Store {
    /// Current record versions of `kind` in `town` (every town when
    /// `None`), oldest inspection first, with their follow-up row.
    async fn outcome_rows(
        &self,
        kind: OutcomeKind,
        (table, on, no, by): (&str, &str, &str, &str),
        town: Option<&str>,
    ) -> Result<Vec<OutcomeRow>, StoreError> {
        let sql = format!(
            "SELECT o.record_id, o.version, o.jurisdiction AS town, o.target_key, o.target_name, o.inspection_date, o.state, \
             a.{on} AS done_on, a.{no} AS done_no, a.{by} AS done_by FROM oversight_records o \
             LEFT JOIN {table} a ON a.record_id = o.record_id \
             WHERE o.outcome = '{}' AND o.state <> '{}' AND o.state <> '{}' AND ($1 = '' OR o.jurisdiction = $1) \
             ORDER BY o.inspection_date, o.record_id",
            kind.as_str(),
            ReviewState::Superseded.as_str(),
            ReviewState::Returned.as_str(),
        );
        Ok(sqlx::query_as(&sql)
            .bind(town.unwrap_or_default())
            .fetch_all(&self.pool)
            .await?)
    }

    /// Current record versions whose company was unreachable, in `town`
    /// (every town when `None`), oldest inspection first.
    pub async fn abnormal_cases(
        &self,
        town: Option<&str>,
    ) -> Result<Vec<AbnormalCase>, StoreError> {
        let rows = self
            .outcome_rows(OutcomeKind::Unreachable, LISTINGS, town)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                r.into_case(|listed_on, decision_no, listed_by| Listing {
                    listed_on,
                    decision_no,
                    listed_by,
                })
            })
            .collect())
    }

    /// Current record versions whose company refused the inspection, in
    /// `town` (every town when `None`), oldest inspection first.
    pub async fn uncooperative_cases(
        &self,
        town: Option<&str>,
    ) -> Result<Vec<UncooperativeCase>, StoreError> {
        let rows = self
            .outcome_rows(OutcomeKind::Uncooperative, CASES, town)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                r.into_case(|filed_on, case_no, filed_by| CaseFiling {
                    filed_on,
                    case_no,
                    filed_by,
                })
            })
            .collect())
    }

    /// Records the follow-up row of a record of `kind` in `table`, checked
    /// in the one transaction: the record is of that kind (else not found,
    /// with `not_kind`), the date is not before the inspection, and there
    /// is no row yet (else a conflict, with `done`). Audited as `action`.
    #[allow(clippy::too_many_arguments)]
    async fn record_outcome_step(
        &self,
        actor: &Actor,
        record_id: &str,
        kind: OutcomeKind,
        (table, on, no, by): (&str, &str, &str, &str),
        date: &str,
        number: &str,
        action: &str,
        messages: (&str, &str),
    ) -> Result<(), StoreError> {
        let (not_kind, done) = messages;
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let case: Option<(String,)> = sqlx::query_as(&format!(
            "SELECT inspection_date FROM oversight_records WHERE record_id = $1 AND outcome = '{}' AND state <> '{}'",
            kind.as_str(),
            ReviewState::Superseded.as_str()
        ))
        .bind(record_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((inspected,)) = case else {
            return Err(StoreError::NotFound(format!("记录 {record_id} {not_kind}")));
        };
        // Both dates are YYYY-MM-DD, so they compare as text.
        if date < inspected.as_str() {
            return Err(StoreError::field(
                on,
                format!("日期 {date} 早于检查日期 {inspected}"),
            ));
        }
        let written = sqlx::query(&format!(
            "INSERT INTO {table} (record_id, {on}, {no}, {by}, {}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (record_id) DO NOTHING",
            if table == LISTINGS.0 { "listed_at" } else { "filed_at" }
        ))
        .bind(record_id)
        .bind(date)
        .bind(number)
        .bind(actor.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if written == 0 {
            return Err(StoreError::Conflict(format!("记录 {record_id} {done}")));
        }
        audit::append(
            &mut tx,
            Change {
                actor,
                action,
                object: format!("record:{record_id}"),
                before: None,
                after: Some(serde_json::json!({ on: date, no: number, by: actor.as_str() })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that the company of `record_id` was put on the 经营异常名录
    /// on `listed_on` (`YYYY-MM-DD`) by decision `decision_no`. Refused for
    /// a record whose company was reached (not found on this list), a date
    /// before the inspection, and a record listed already.
    pub async fn record_abnormal_listing(
        &self,
        actor: &Actor,
        record_id: &str,
        listed_on: &str,
        decision_no: &str,
    ) -> Result<Listing, StoreError> {
        let decision_no = decision_no.trim();
        if decision_no.is_empty() {
            return Err(StoreError::field("decision_no", "请填写列入决定书文号"));
        }
        self.record_outcome_step(
            actor,
            record_id,
            OutcomeKind::Unreachable,
            LISTINGS,
            listed_on,
            decision_no,
            "abnormal.list",
            (
                "不是「通过登记的住所（经营场所）无法联系」的检查记录",
                "的企业已列入经营异常名录",
            ),
        )
        .await?;
        Ok(Listing {
            listed_on: listed_on.to_owned(),
            decision_no: decision_no.to_owned(),
            listed_by: actor.as_str().to_owned(),
        })
    }

    /// Records that a case was filed (立案) on `filed_on` (`YYYY-MM-DD`)
    /// under `case_no` against the company of `record_id`, which refused
    /// the inspection. Refused for any other record, a date before the
    /// inspection, and a case filed already.
    pub async fn record_uncooperative_case(
        &self,
        actor: &Actor,
        record_id: &str,
        filed_on: &str,
        case_no: &str,
    ) -> Result<CaseFiling, StoreError> {
        let case_no = case_no.trim();
        if case_no.is_empty() {
            return Err(StoreError::field("case_no", "请填写立案编号"));
        }
        self.record_outcome_step(
            actor,
            record_id,
            OutcomeKind::Uncooperative,
            CASES,
            filed_on,
            case_no,
            "uncooperative.case_filed",
            ("不是「不配合检查（情节严重）」的检查记录", "已立案"),
        )
        .await?;
        Ok(CaseFiling {
            filed_on: filed_on.to_owned(),
            case_no: case_no.to_owned(),
            filed_by: actor.as_str().to_owned(),
        })
    }
}
