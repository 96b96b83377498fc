//! Draw algorithm version 2 in the store (`docs/draw.md`, "Version 2"):
//! freezing a plan's assigned targets, its filtered strata and its
//! exclusions; reading them back exactly as frozen; and replacing one seat
//! of a drawn team as an immutable amendment of the draw.
//!
//! The candidate filters (存续, town, risk classes, industry prefixes,
//! standard kind) are applied here, at freeze, and nowhere else: what the
//! draw and any later verification read is the frozen result, published by
//! its snapshot hash.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures_util::TryStreamExt;
use sqlx::Row;

use choucha_shared::TargetCategory;
use choucha_shared::directory::{BusinessStatus, RiskClass, TargetKey};
use choucha_shared::draw::{DrawnTask, TeamRules};
use choucha_shared::draw_v2::{self, Assigned, Candidate, DrawInputs2, Excluded, FrozenStratum};
use choucha_shared::plan::{
    AssignedTarget, DrawPlan, MemberRole, SeatReplacement, TeamMember, team_key,
};
use choucha_shared::value::CivilDate;

use super::audit::{self, Actor, Change};
use super::directory::Val;
use super::draws::{FrozenPool, PlanRecord, insert_rows};
use super::{Store, StoreError, corrupt, now, parse_time};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Interns town names: millions of candidates share a few dozen towns.
#[derive(Default)]
struct Towns(HashMap<String, Arc<str>>);

impl Towns {
    fn get(&mut self, town: String) -> Arc<str> {
        self.0
            .entry(town)
            .or_insert_with_key(|t| Arc::from(t.as_str()))
            .clone()
    }
}

fn parse_risk(s: Option<String>) -> Result<Option<RiskClass>, StoreError> {
    s.filter(|r| !r.is_empty())
        .map(|r| r.parse::<RiskClass>().map_err(corrupt))
        .transpose()
}

/// Why an assigned target cannot be inspected, as the directory says.
fn not_inspectable(status: Option<&str>) -> Option<String> {
    match status {
        None => Some("检查对象名录中没有该类别的这个检查对象".to_owned()),
        Some(s) if s == BusinessStatus::Active.code() => None,
        Some(s) => {
            let label = BusinessStatus::ALL
                .into_iter()
                .find(|b| b.code() == s)
                .map_or_else(|| s.to_owned(), |b| b.label_zh().to_owned());
            Some(format!("经营状态为{label}，不能检查"))
        }
    }
}

impl Store {
    /// For each target of `list`: why it cannot be assigned (not in the
    /// directory, or not 存续), or `None` when it can.
    pub async fn assignable(
        &self,
        list: &[AssignedTarget],
    ) -> Result<Vec<Option<String>>, StoreError> {
        let mut out = Vec::with_capacity(list.len());
        for a in list {
            let status: Option<(String,)> = sqlx::query_as(
                "SELECT status FROM targets WHERE category = $1 AND target_key = $2",
            )
            .bind(a.category.code())
            .bind(a.key.as_str())
            .fetch_optional(&self.pool)
            .await?;
            out.push(not_inspectable(status.as_ref().map(|(s,)| s.as_str())));
        }
        Ok(out)
    }

    /// Replaces the assigned list of a version-2 plan not yet frozen.
    #[tracing::instrument(level = "debug", name = "store.set_plan_assigned", skip_all)]
    pub async fn set_plan_assigned(
        &self,
        plan_id: &str,
        assigned: Vec<AssignedTarget>,
        actor: &Actor,
    ) -> Result<PlanRecord, StoreError> {
        let _writer = self.writer().await;
        let record = self.plan(plan_id).await?;
        if record.frozen_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "抽查计划 {plan_id} 已冻结，指定检查对象名单不能再改"
            )));
        }
        if record.plan.algorithm != draw_v2::ALGORITHM_VERSION {
            return Err(StoreError::Conflict(format!(
                "抽查计划 {plan_id} 使用第 {} 版抽取算法，不能指定检查对象（须第 2 版）",
                record.plan.algorithm
            )));
        }
        let before = record.plan.assigned.len();
        let mut plan = record.plan;
        plan.assigned = assigned;
        if let Err(errors) = plan.validate() {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(StoreError::invalid(
                format!("抽查计划 {plan_id} 无效：{}", list.join("；")),
                serde_json::json!({ "problems": list }),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE plans SET spec = $1 WHERE plan_id = $2 AND frozen_at IS NULL")
                .bind(serde_json::to_string(&plan).map_err(corrupt)?)
                .bind(plan_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("抽查计划 {plan_id} 已被冻结")));
        }
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "plan.assign",
                object: format!("plan:{plan_id}"),
                before: Some(serde_json::json!({ "assigned": before })),
                after: Some(serde_json::json!({ "assigned": plan.assigned })),
            },
        )
        .await?;
        tx.commit().await?;
        self.plan(plan_id).await
    }

    /// A frozen version-2 plan's assigned targets and exclusions, as
    /// published with it.
    pub async fn assigned_and_excluded(
        &self,
        plan_id: &str,
    ) -> Result<(Vec<Assigned>, Vec<Excluded>), StoreError> {
        let mut towns = Towns::default();
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT target_key, category, jurisdiction, source FROM plan_assigned WHERE plan_id = $1 ORDER BY pos",
        )
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?;
        let mut assigned = Vec::with_capacity(rows.len());
        for (key, category, town, source) in rows {
            assigned.push(Assigned {
                key: key.into(),
                category: category.parse().map_err(corrupt)?,
                jurisdiction: towns.get(town),
                source,
            });
        }
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT target_key, category, inspected FROM plan_excluded WHERE plan_id = $1 ORDER BY pos",
        )
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?;
        let mut excluded = Vec::with_capacity(rows.len());
        for (key, category, inspected) in rows {
            excluded.push(Excluded {
                key: key.into(),
                category: category.parse().map_err(corrupt)?,
                inspected: inspected.parse().map_err(corrupt)?,
            });
        }
        Ok((assigned, excluded))
    }

    /// A version-2 plan's assigned targets, strata and exclusions as the
    /// directory holds them now (the pools are frozen by the caller). Every
    /// assigned target that is not in the directory, or not 存续, is named
    /// in one error.
    pub(super) async fn collect_v2(&self, plan: &DrawPlan) -> Result<DrawInputs2, StoreError> {
        let mut towns = Towns::default();
        let mut assigned = Vec::with_capacity(plan.assigned.len());
        let mut problems = Vec::new();
        for (i, a) in plan.assigned.iter().enumerate() {
            let row: Option<(String, String)> = sqlx::query_as(
                "SELECT jurisdiction, status FROM targets WHERE category = $1 AND target_key = $2",
            )
            .bind(a.category.code())
            .bind(a.key.as_str())
            .fetch_optional(&self.pool)
            .await?;
            match not_inspectable(row.as_ref().map(|(_, s)| s.as_str())) {
                Some(why) => problems.push(format!(
                    "第 {} 个指定检查对象 {}（{}）：{why}",
                    i + 1,
                    a.key,
                    a.category.label_zh()
                )),
                None => assigned.push(Assigned {
                    key: a.key.as_str().into(),
                    category: a.category,
                    jurisdiction: towns.get(row.map(|(t, _)| t).unwrap_or_default()),
                    source: a.source.trim().to_owned(),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(StoreError::invalid(
                format!(
                    "抽查计划 {} 不能冻结：{}",
                    plan.plan_id,
                    problems.join("；")
                ),
                serde_json::json!({ "problems": problems }),
            ));
        }
        let is_assigned: std::collections::HashSet<(&str, TargetCategory)> = plan
            .assigned
            .iter()
            .map(|a| (a.key.as_str(), a.category))
            .collect();

        // 避免重复检查: the latest current inspection of each target
        // inspected on or after the plan's date.
        let mut recent: HashMap<(String, String), String> = HashMap::new();
        if let Some(since) = plan.exclude_inspected_since {
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT target_key, category, MAX(inspection_date) FROM oversight_records \
                 WHERE state <> 'superseded' AND inspection_date >= $1 GROUP BY target_key, category",
            )
            .bind(since.to_string())
            .fetch_all(&self.pool)
            .await?;
            recent = rows.into_iter().map(|(k, c, d)| ((k, c), d)).collect();
        }

        let mut excluded: BTreeMap<(String, TargetCategory), CivilDate> = BTreeMap::new();
        let mut strata = Vec::with_capacity(plan.strata.len());
        for s in &plan.strata {
            // Only 存续 targets are candidates.
            let mut sql = String::from(
                "SELECT target_key, jurisdiction, risk_class FROM targets WHERE category = $1 AND status = 'active'",
            );
            let mut binds = vec![s.category.code().to_owned()];
            let param = |binds: &mut Vec<String>, v: &str| {
                binds.push(v.to_owned());
                format!("${}", binds.len())
            };
            if let Some(town) = &s.jurisdiction {
                let p = param(&mut binds, town.as_str());
                sql.push_str(&format!(" AND jurisdiction = {p}"));
            }
            if !s.risk_classes.is_empty() {
                let ps: Vec<String> = s
                    .risk_classes
                    .iter()
                    .map(|r| param(&mut binds, r.code()))
                    .collect();
                sql.push_str(&format!(" AND risk_class IN ({})", ps.join(", ")));
            }
            // substr, not LIKE: SQLite's LIKE ignores ASCII case.
            let prefix = |binds: &mut Vec<String>, column: &str, p: &str| {
                let len = p.chars().count();
                format!("substr({column}, 1, {len}) = {}", param(binds, p))
            };
            if !s.industry_prefixes.is_empty() {
                let ors: Vec<String> = s
                    .industry_prefixes
                    .iter()
                    .map(|p| prefix(&mut binds, "industry_code", p))
                    .collect();
                sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
            }
            if let Some(kind) = s.standard_kind {
                let cond = prefix(&mut binds, "target_key", kind.prefix());
                sql.push_str(&format!(" AND {cond}"));
            }
            let mut q = sqlx::query(&sql);
            for b in &binds {
                q = q.bind(b.as_str());
            }
            let mut rows = q.fetch(&self.pool);
            let mut candidates = Vec::new();
            while let Some(row) = rows.try_next().await? {
                let key: String = row.try_get(0)?;
                if is_assigned.contains(&(key.as_str(), s.category)) {
                    continue;
                }
                let lookup = (key, s.category.code().to_owned());
                if let Some(date) = recent.get(&lookup) {
                    let date: CivilDate = date.parse().map_err(corrupt)?;
                    excluded.insert((lookup.0, s.category), date);
                    continue;
                }
                let town: String = row.try_get(1)?;
                candidates.push(Candidate {
                    key: lookup.0.into(),
                    category: s.category,
                    jurisdiction: towns.get(town),
                    risk: parse_risk(row.try_get(2)?)?,
                });
            }
            strata.push(FrozenStratum::new(
                s.id.clone(),
                s.quota.clone(),
                candidates,
            ));
        }
        Ok(DrawInputs2 {
            assigned,
            strata,
            excluded: excluded
                .into_iter()
                .map(|((key, category), inspected)| Excluded {
                    key: key.into(),
                    category,
                    inspected,
                })
                .collect(),
            ..DrawInputs2::default()
        })
    }

    /// Writes a version-2 plan's frozen lists in the freeze's transaction.
    pub(super) async fn insert_frozen_v2(
        tx: &mut Tx<'_>,
        plan_id: &str,
        inputs: &DrawInputs2,
    ) -> Result<(), StoreError> {
        fn text(s: &str) -> Val {
            Val::Text(Some(s.to_owned()))
        }
        for (pos, s) in inputs.strata.iter().enumerate() {
            insert_rows(
                tx,
                "plan_candidates (plan_id, stratum_pos, pos, target_key, category, jurisdiction, risk_class)",
                7,
                &s.candidates,
                &|i, c: &Candidate| {
                    vec![
                        text(plan_id),
                        Val::Int(pos as i64),
                        Val::Int(i as i64),
                        text(&c.key),
                        text(c.category.code()),
                        text(&c.jurisdiction),
                        Val::Text(c.risk.map(|r| r.code().to_owned())),
                    ]
                },
            )
            .await?;
        }
        insert_rows(
            tx,
            "plan_assigned (plan_id, pos, target_key, category, jurisdiction, source)",
            6,
            &inputs.assigned,
            &|i, a: &Assigned| {
                vec![
                    text(plan_id),
                    Val::Int(i as i64),
                    text(&a.key),
                    text(a.category.code()),
                    text(&a.jurisdiction),
                    text(&a.source),
                ]
            },
        )
        .await?;
        insert_rows(
            tx,
            "plan_excluded (plan_id, pos, target_key, category, inspected)",
            5,
            &inputs.excluded,
            &|i, e: &Excluded| {
                vec![
                    text(plan_id),
                    Val::Int(i as i64),
                    text(&e.key),
                    text(e.category.code()),
                    text(&e.inspected.to_string()),
                ]
            },
        )
        .await
    }

    /// A version-2 plan's inputs exactly as frozen (stored order kept, so
    /// verification also catches a tampered order).
    pub(super) async fn frozen_v2(
        &self,
        plan: &DrawPlan,
        pool: FrozenPool,
    ) -> Result<DrawInputs2, StoreError> {
        let plan_id = plan.plan_id.as_str();
        let mut towns = Towns::default();
        let mut strata = Vec::with_capacity(plan.strata.len());
        for (pos, s) in plan.strata.iter().enumerate() {
            let mut rows = sqlx::query(
                "SELECT target_key, category, jurisdiction, risk_class FROM plan_candidates \
                 WHERE plan_id = $1 AND stratum_pos = $2 ORDER BY pos",
            )
            .bind(plan_id)
            .bind(pos as i64)
            .fetch(&self.pool);
            let mut candidates = Vec::new();
            while let Some(row) = rows.try_next().await? {
                let key: String = row.try_get(0)?;
                let category: String = row.try_get(1)?;
                candidates.push(Candidate {
                    key: key.into(),
                    category: category.parse().map_err(corrupt)?,
                    jurisdiction: towns.get(row.try_get(2)?),
                    risk: parse_risk(row.try_get(3)?)?,
                });
            }
            strata.push(FrozenStratum {
                stratum_id: s.id.clone(),
                quota: s.quota.clone(),
                candidates,
            });
        }
        let (assigned, excluded) = self.assigned_and_excluded(plan_id).await?;
        Ok(DrawInputs2 {
            assigned,
            strata,
            excluded,
            officers: pool.officers,
            experts: pool.experts,
            recusals: pool.recusals,
        })
    }

    /// The seats replaced in a draw, in order.
    pub async fn replacements(&self, draw_id: &str) -> Result<Vec<SeatReplacement>, StoreError> {
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT seq, task_id, target_key, category, leaving, joining_id, joining_name, reason, actor, created_at \
             FROM draw_replacements WHERE draw_id = $1 ORDER BY seq",
        )
        .bind(draw_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(
                |(seq, task_id, key, category, leaving, id, name, reason, by, at)| {
                    Ok(SeatReplacement {
                        seq: seq as u32,
                        task_id,
                        target: TargetKey(key),
                        category: category.parse().map_err(corrupt)?,
                        leaving,
                        joining: TeamMember {
                            role: MemberRole::Officer,
                            person_id: id,
                            name,
                        },
                        reason,
                        by,
                        at: parse_time(&at)?,
                    })
                },
            )
            .collect()
    }

    /// Replaces `leaving`'s seat on one task of a current version-2 draw by
    /// the officer rule 5 of `docs/draw.md` picks, and records it as the
    /// draw's next amendment: the task's team, its members, both officers'
    /// feeds, the dashboard's team and the audit log change in one
    /// transaction. A task already inspected keeps its team.
    #[tracing::instrument(level = "debug", name = "store.replace_seat", skip_all)]
    pub async fn replace_seat(
        &self,
        draw_id: &str,
        task_id: &str,
        leaving: &str,
        reason: &str,
        actor: &Actor,
    ) -> Result<SeatReplacement, StoreError> {
        let _writer = self.writer().await;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::invalid(
                "替换检查人员须说明理由（如因病无法到场、发现利害关系）",
                serde_json::json!({ "field": "reason" }),
            ));
        }
        let stored = self.draw(draw_id).await?;
        if stored.algorithm != draw_v2::ALGORITHM_VERSION {
            return Err(StoreError::Conflict(format!(
                "抽取 {draw_id} 使用第 {} 版算法，不支持单个席位替换；请重新抽取",
                stored.algorithm
            )));
        }
        if self.current_draw_id(&stored.plan_id).await?.as_deref() != Some(draw_id) {
            return Err(StoreError::Conflict(format!(
                "抽取 {draw_id} 已被重新抽取替代，不能再替换人员"
            )));
        }
        let task = stored
            .tasks
            .iter()
            .find(|t| t.task_id == task_id)
            .ok_or_else(|| StoreError::NotFound(format!("抽取 {draw_id} 中没有任务 {task_id}")))?;
        let inspected: Option<(String,)> =
            sqlx::query_as("SELECT record_id FROM records WHERE task_id = $1 AND superseded = 0")
                .bind(task_id)
                .fetch_optional(&self.pool)
                .await?;
        if let Some((record_id,)) = inspected {
            return Err(StoreError::Conflict(format!(
                "任务 {task_id} 已有检查记录 {record_id}，检查组不能再更换"
            )));
        }
        let (record, inputs) = self.draw_inputs_v2(&stored.plan_id).await?;
        let rules = TeamRules::of(&record.plan);
        let drawn = draw_v2::run(rules, &stored.seed, &inputs).map_err(|e| {
            StoreError::Corrupt(format!("抽取 {draw_id} 按冻结输入重算失败：{e:?}"))
        })?;
        let earlier: Vec<draw_v2::Replacement> = stored
            .replacements
            .iter()
            .map(|r| draw_v2::Replacement {
                target_key: r.target.to_string(),
                category: r.category,
                leaving: r.leaving.clone(),
                joining: r.joining.clone(),
            })
            .collect();
        let picked = draw_v2::replace_seat(
            rules,
            &stored.seed,
            &inputs,
            &drawn,
            &earlier,
            task.target.as_str(),
            task.category,
            leaving,
        )
        .map_err(|e| {
            StoreError::invalid(e.to_string(), serde_json::json!({ "task_id": task_id }))
        })?;

        let seq = earlier.len() as i64 + 1;
        let at = now();
        let team: Vec<TeamMember> = task
            .team
            .iter()
            .map(|m| {
                if m.person_id == leaving {
                    picked.joining.clone()
                } else {
                    m.clone()
                }
            })
            .collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO draw_replacements (draw_id, seq, task_id, target_key, category, leaving, joining_id, joining_name, reason, actor, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(draw_id)
        .bind(seq)
        .bind(task_id)
        .bind(task.target.as_str())
        .bind(task.category.code())
        .bind(leaving)
        .bind(&picked.joining.person_id)
        .bind(&picked.joining.name)
        .bind(reason)
        .bind(actor.as_str())
        .bind(&at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(format!(
                "抽取 {draw_id} 正在进行另一项人员替换，请刷新后重试"
            )),
            other => other.into(),
        })?;
        sqlx::query("UPDATE tasks SET team = $1 WHERE task_id = $2")
            .bind(serde_json::to_string(&team).map_err(corrupt)?)
            .bind(task_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM task_members WHERE task_id = $1 AND person_id = $2")
            .bind(task_id)
            .bind(leaving)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO task_members (task_id, person_id, role) VALUES ($1, $2, 'officer')",
        )
        .bind(task_id)
        .bind(&picked.joining.person_id)
        .execute(&mut *tx)
        .await?;
        let left = [TeamMember {
            role: MemberRole::Officer,
            person_id: leaving.to_owned(),
            name: String::new(),
        }];
        let mut joined = task.clone();
        joined.team = vec![picked.joining.clone()];
        Store::feed_draw(
            &mut tx,
            std::slice::from_ref(&joined),
            &[(task_id.to_owned(), left.to_vec())],
            &format!("检查组人员已替换：{reason}"),
        )
        .await?;
        super::projection::retag_team(&mut tx, task_id, &task.team, &team).await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "draw.replace_seat",
                object: format!("draw:{draw_id}"),
                before: Some(
                    serde_json::json!({ "task_id": task_id, "team": team_key(&task.team) }),
                ),
                after: Some(serde_json::json!({
                    "task_id": task_id,
                    "seq": seq,
                    "leaving": leaving,
                    "joining": picked.joining.person_id,
                    "reason": reason,
                    "team": team_key(&team),
                })),
            },
        )
        .await?;
        tx.commit().await?;
        self.feed_written([leaving, picked.joining.person_id.as_str()]);
        let mut all = self.replacements(draw_id).await?;
        all.pop()
            .ok_or_else(|| StoreError::Corrupt("replacement vanished".into()))
    }
}

/// The tasks of a draw as re-derived, with every recorded replacement
/// checked against rule 5 in order: `Err` names the first that differs.
pub(super) fn rederive_replacements(
    rules: TeamRules,
    seed: &str,
    inputs: &DrawInputs2,
    drawn: &[DrawnTask],
    recorded: &[SeatReplacement],
) -> Result<Vec<DrawnTask>, String> {
    let mut done: Vec<draw_v2::Replacement> = Vec::with_capacity(recorded.len());
    for r in recorded {
        let want = draw_v2::replace_seat(
            rules,
            seed,
            inputs,
            drawn,
            &done,
            r.target.as_str(),
            r.category,
            &r.leaving,
        )
        .map_err(|e| format!("第 {} 次人员替换（任务 {}）重算失败：{e}", r.seq, r.task_id))?;
        if want.joining.person_id != r.joining.person_id {
            return Err(format!(
                "第 {} 次人员替换（任务 {}）：重算由 {} 替换 {}，记录为 {}",
                r.seq, r.task_id, want.joining.person_id, r.leaving, r.joining.person_id
            ));
        }
        done.push(want);
    }
    Ok(draw_v2::current_teams(drawn, &done))
}
