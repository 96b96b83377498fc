//! 经营异常名录: companies that could not be reached at their registered
//! address (records whose outcome is `unreachable`), and the bureau's
//! listing of each (企业经营异常名录管理暂行办法). The deadline is computed
//! from the working-day calendar by `service::abnormal`; here are the rows
//! and the one write.

use serde::Serialize;

use super::audit::{self, Actor, Change};
use super::{Store, StoreError, now};
use choucha_shared::outcome::OutcomeKind;
use choucha_shared::review::ReviewState;

/// A record whose company could not be reached, with its listing if done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AbnormalCase {
    pub record_id: String,
    pub version: String,
    pub town: String,
    pub target_key: String,
    pub target_name: String,
    pub inspection_date: String,
    pub state: String,
    pub listing: Option<Listing>,
}

/// The bureau's listing decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub listed_on: String,
    pub decision_no: String,
    pub listed_by: String,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Current record versions whose company was unreachable, in `town`
    /// (every town when `None`), oldest inspection first.
    pub async fn abnormal_cases(
        &self,
        town: Option<&str>,
    ) -> Result<Vec<AbnormalCase>, StoreError> {
        let sql = format!(
            "SELECT o.record_id, o.version, o.jurisdiction, o.target_key, o.target_name, o.inspection_date, o.state, \
             a.listed_on, a.decision_no, a.listed_by FROM oversight_records o \
             LEFT JOIN abnormal_listings a ON a.record_id = o.record_id \
             WHERE o.outcome = '{}' AND o.state <> '{}' AND o.state <> '{}' AND ($1 = '' OR o.jurisdiction = $1) \
             ORDER BY o.inspection_date, o.record_id",
            OutcomeKind::Unreachable.as_str(),
            ReviewState::Superseded.as_str(),
            ReviewState::Returned.as_str(),
        );
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(town.unwrap_or_default())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    record_id,
                    version,
                    town,
                    target_key,
                    target_name,
                    inspection_date,
                    state,
                    on,
                    no,
                    by,
                )| {
                    AbnormalCase {
                        record_id,
                        version,
                        town,
                        target_key,
                        target_name,
                        inspection_date,
                        state,
                        listing: match (on, no, by) {
                            (Some(listed_on), Some(decision_no), Some(listed_by)) => {
                                Some(Listing {
                                    listed_on,
                                    decision_no,
                                    listed_by,
                                })
                            }
                            _ => None,
                        },
                    }
                },
            )
            .collect())
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
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let case: Option<(String,)> = sqlx::query_as(&format!(
            "SELECT inspection_date FROM oversight_records WHERE record_id = $1 AND outcome = '{}' AND state <> '{}'",
            OutcomeKind::Unreachable.as_str(),
            ReviewState::Superseded.as_str()
        ))
        .bind(record_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((inspected,)) = case else {
            return Err(StoreError::NotFound(format!(
                "记录 {record_id} 不是「通过登记的住所（经营场所）无法联系」的检查记录"
            )));
        };
        // Both dates are YYYY-MM-DD, so they compare as text.
        if listed_on < inspected.as_str() {
            return Err(StoreError::field(
                "listed_on",
                format!("列入日期 {listed_on} 早于检查日期 {inspected}"),
            ));
        }
        let done = sqlx::query(
            "INSERT INTO abnormal_listings (record_id, listed_on, decision_no, listed_by, listed_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (record_id) DO NOTHING",
        )
        .bind(record_id)
        .bind(listed_on)
        .bind(decision_no)
        .bind(actor.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(StoreError::Conflict(format!(
                "记录 {record_id} 的企业已列入经营异常名录"
            )));
        }
        let listing = Listing {
            listed_on: listed_on.to_owned(),
            decision_no: decision_no.to_owned(),
            listed_by: actor.as_str().to_owned(),
        };
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "abnormal.list",
                object: format!("record:{record_id}"),
                before: None,
                after: Some(serde_json::to_value(&listing).map_err(super::corrupt)?),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(listing)
    }
}
