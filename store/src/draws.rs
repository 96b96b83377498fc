//! Plans, freezing, draws and their verification.
//!
//! Freezing copies the candidate lists and the officer/expert pools into the
//! plan, so a draw (and any later verification) reads exactly what was
//! frozen, however the directory changes afterwards. Draws and tasks are only
//! ever inserted: a redraw is a new draw that names the one it replaces.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::Row;

use choucha_shared::TargetCategory;
use choucha_shared::checklist::ChecklistRef;
use choucha_shared::directory::TargetKey;
use choucha_shared::draw::{self, Candidate, DrawInputs, FrozenStratum, PoolMember, TeamRules};
use choucha_shared::draw_v2::{self, DrawInputs2};
use choucha_shared::plan::{DrawPlan, DrawResult, Quota, Redraw, Task, TeamMember};

use super::audit::{self, Actor, Change};
use super::directory::{Val, bind_all};
use super::{Store, StoreError, corrupt, now, parse_time};

/// A plan as stored, with its freezing state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlanRecord {
    pub plan: DrawPlan,
    pub created_by: String,
    pub created_at: String,
    pub frozen_at: Option<String>,
    /// Published before the seed is entered.
    pub snapshot_hash: Option<String>,
    pub candidates_per_stratum: Vec<usize>,
    /// Once frozen: each (sub-)stratum as the draw will see it, in plan
    /// order (a per-risk stratum S shows as S/A, S/B, …).
    pub sub_strata: Vec<SubStratumSize>,
    /// Once frozen (version 2): how many targets upstream lists assign and
    /// how many recent inspections exclude.
    pub assigned: usize,
    pub excluded: usize,
}

/// A (sub-)stratum's size as frozen: N candidates, k to draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SubStratumSize {
    pub id: String,
    pub candidates: u64,
    pub quota: u64,
}

pub type DrawRecord = DrawResult;

/// Result of re-running a stored draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerifyOutcome {
    pub draw_id: String,
    pub matches: bool,
    pub snapshot_hash: String,
    pub tasks: usize,
    /// The first difference found, in words, when there is one.
    pub first_difference: Option<String>,
}

/// Pools and recusals as frozen with a plan (the strata live in their own
/// table because they can be millions of rows).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub(super) struct FrozenPool {
    pub(super) officers: Vec<PoolMember>,
    pub(super) experts: Vec<PoolMember>,
    pub(super) recusals: BTreeSet<(String, String)>,
}

/// Inserts one row of `ncols` values per item into `table` (written as
/// `name (col, …)`), 900 parameters per statement (SQLite's old limit is
/// 999); `row` gets each item's position in `items`.
pub(super) async fn insert_rows<T: Sync>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &str,
    ncols: usize,
    items: &[T],
    row: &(dyn Fn(usize, &T) -> Vec<Val> + Sync),
) -> Result<(), StoreError> {
    let per = 900 / ncols;
    for (chunk_no, chunk) in items.chunks(per).enumerate() {
        let groups: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", super::marks(i * ncols + 1, ncols)))
            .collect();
        let sql = format!("INSERT INTO {table} VALUES {}", groups.join(", "));
        let vals: Vec<Val> = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, item)| row(chunk_no * per + i, item))
            .collect();
        bind_all(sqlx::query(&sql), vals).execute(&mut **tx).await?;
    }
    Ok(())
}

/// A plan's lists as frozen, by algorithm version.
enum Frozen {
    V1(Vec<FrozenStratum>),
    V2(DrawInputs2),
}

/// The smallest seed length accepted: 20 dice digits give ~66 bits.
pub const MIN_SEED_CHARS: usize = 20;

fn parse_domains(s: &str) -> BTreeSet<TargetCategory> {
    s.split(',').filter_map(|c| c.parse().ok()).collect()
}

impl Store {
    #[tracing::instrument(level = "debug", name = "store.create_plan", skip_all)]
    pub async fn create_plan(&self, plan: &DrawPlan, actor: &Actor) -> Result<(), StoreError> {
        if let Err(errors) = plan.validate() {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(StoreError::invalid(
                format!("抽查计划 {} 无效：{}", plan.plan_id, list.join("；")),
                serde_json::json!({ "problems": list }),
            ));
        }
        let spec = serde_json::to_string(plan).map_err(corrupt)?;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO plans (plan_id, spec, created_by, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (plan_id) DO NOTHING",
        )
        .bind(&plan.plan_id)
        .bind(&spec)
        .bind(actor.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "抽查计划 {} 已存在 (plan exists)",
                plan.plan_id
            )));
        }
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "plan.create",
                object: format!("plan:{}", plan.plan_id),
                before: None,
                after: Some(serde_json::to_value(plan).map_err(corrupt)?),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn plan(&self, plan_id: &str) -> Result<PlanRecord, StoreError> {
        type PlanRow = (String, String, String, Option<String>, Option<String>);
        let row: Option<PlanRow> = sqlx::query_as(
            "SELECT spec, created_by, created_at, frozen_at, snapshot_hash FROM plans WHERE plan_id = $1",
        )
        .bind(plan_id)
        .fetch_optional(&self.pool)
        .await?;
        let (spec, created_by, created_at, frozen_at, snapshot_hash) = row.ok_or_else(|| {
            StoreError::NotFound(format!("抽查计划 {plan_id} 不存在 (no such plan)"))
        })?;
        let plan: DrawPlan = serde_json::from_str(&spec).map_err(corrupt)?;
        let counts: Vec<(i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT stratum_pos, risk_class, COUNT(*) FROM plan_candidates WHERE plan_id = $1 GROUP BY stratum_pos, risk_class",
        )
        .bind(plan_id)
        .fetch_all(&self.pool)
        .await?;
        let mut per = vec![0; plan.strata.len()];
        let mut per_risk: std::collections::HashMap<(usize, Option<String>), u64> =
            Default::default();
        for (pos, risk, n) in counts {
            if let Some(slot) = per.get_mut(pos as usize) {
                *slot += n as usize;
            }
            per_risk.insert((pos as usize, risk), n as u64);
        }
        let mut sub_strata = Vec::new();
        if frozen_at.is_some() {
            for (pos, s) in plan.strata.iter().enumerate() {
                match &s.quota {
                    Quota::ByRisk(ratios) => {
                        for (class, r) in ratios {
                            let n = per_risk
                                .get(&(pos, Some(class.code().to_owned())))
                                .copied()
                                .unwrap_or(0);
                            sub_strata.push(SubStratumSize {
                                id: format!("{}/{}", s.id, class.code()),
                                candidates: n,
                                quota: Quota::ratio_size(*r, n),
                            });
                        }
                    }
                    q => sub_strata.push(SubStratumSize {
                        id: s.id.clone(),
                        candidates: per[pos] as u64,
                        quota: q.size(per[pos] as u64),
                    }),
                }
            }
        }
        let count = |table: &'static str| async move {
            let (n,): (i64,) =
                sqlx::query_as(&format!("SELECT COUNT(*) FROM {table} WHERE plan_id = $1"))
                    .bind(plan_id)
                    .fetch_one(&self.pool)
                    .await?;
            Ok::<_, StoreError>(n as usize)
        };
        let (assigned, excluded) = if plan.algorithm == draw_v2::ALGORITHM_VERSION {
            (count("plan_assigned").await?, count("plan_excluded").await?)
        } else {
            (0, 0)
        };
        Ok(PlanRecord {
            plan,
            created_by,
            created_at,
            frozen_at,
            snapshot_hash,
            candidates_per_stratum: per,
            sub_strata,
            assigned,
            excluded,
        })
    }

    /// What freezing would find now, for a plan not frozen yet: each
    /// (sub-)stratum's candidates in today's directory and how many it
    /// would draw. Shown before freezing, so a quota above its candidates
    /// is seen (and changed) before the freeze refuses it.
    pub async fn candidate_preview(
        &self,
        plan: &DrawPlan,
    ) -> Result<Vec<SubStratumSize>, StoreError> {
        if plan.algorithm == draw_v2::ALGORITHM_VERSION {
            let inputs = self.collect_v2(plan).await?;
            return Ok(draw_v2::sub_strata(&inputs)
                .into_iter()
                .map(|s| SubStratumSize {
                    candidates: s.candidates.len() as u64,
                    id: s.id,
                    quota: s.k,
                })
                .collect());
        }
        let strata = self.collect_v1(plan).await?;
        Ok(plan
            .strata
            .iter()
            .zip(&strata)
            .map(|(s, frozen)| {
                let n = frozen.candidates.len() as u64;
                SubStratumSize {
                    id: s.id.clone(),
                    candidates: n,
                    quota: s.quota.size(n),
                }
            })
            .collect())
    }

    /// Freezes the directory for a plan and publishes the snapshot hash.
    #[tracing::instrument(level = "debug", name = "store.freeze_plan", skip_all)]
    pub async fn freeze_plan(
        &self,
        plan_id: &str,
        actor: &Actor,
    ) -> Result<PlanRecord, StoreError> {
        let _writer = self.writer().await;
        let record = self.plan(plan_id).await?;
        if record.frozen_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "抽查计划 {plan_id} 已于 {} 冻结",
                record.frozen_at.unwrap_or_default()
            )));
        }
        let v2 = record.plan.algorithm == draw_v2::ALGORITHM_VERSION;
        let (hash, frozen, shortfalls) = if v2 {
            let inputs = self.collect_v2(&record.plan).await?;
            let short = draw_v2::stratum_shortfalls(&inputs);
            (draw_v2::snapshot_hash(&inputs), Frozen::V2(inputs), short)
        } else {
            let strata = self.collect_v1(&record.plan).await?;
            let short = draw::stratum_shortfalls(&record.plan, &strata);
            (draw::snapshot_hash(&strata), Frozen::V1(strata), short)
        };
        // A quota above its candidates would leave a frozen plan no seed can
        // draw: refuse it now, while the plan can still be changed.
        if !shortfalls.is_empty() {
            let list: Vec<String> = shortfalls.iter().map(ToString::to_string).collect();
            return Err(StoreError::Invalid {
                message: format!(
                    "抽查计划 {plan_id} 未冻结：{}。请调低抽取数量或补充名录后再冻结",
                    list.join("；")
                ),
                details: serde_json::json!({ "shortfalls": shortfalls }),
            });
        }
        let pool = FrozenPool {
            officers: self.officer_pool().await?,
            experts: self.expert_pool().await?,
            recusals: self.recusal_pairs().await?,
        };

        let mut tx = self.pool.begin().await?;
        match &frozen {
            Frozen::V1(strata) => Self::insert_frozen_v1(&mut tx, plan_id, strata).await?,
            Frozen::V2(inputs) => Self::insert_frozen_v2(&mut tx, plan_id, inputs).await?,
        }
        let frozen_at = now();
        let done = sqlx::query(
            "UPDATE plans SET frozen_at = $1, snapshot_hash = $2, pool = $3 WHERE plan_id = $4 AND frozen_at IS NULL",
        )
        .bind(&frozen_at)
        .bind(hash.as_str())
        .bind(serde_json::to_string(&pool).map_err(corrupt)?)
        .bind(plan_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("抽查计划 {plan_id} 已被冻结")));
        }
        let counts: Vec<usize> = match &frozen {
            Frozen::V1(strata) => strata.iter().map(|s| s.candidates.len()).collect(),
            Frozen::V2(inputs) => inputs.strata.iter().map(|s| s.candidates.len()).collect(),
        };
        let (assigned, excluded) = match &frozen {
            Frozen::V1(_) => (0, 0),
            Frozen::V2(inputs) => (inputs.assigned.len(), inputs.excluded.len()),
        };
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "plan.freeze",
                object: format!("plan:{plan_id}"),
                before: Some(serde_json::json!({ "frozen_at": null, "snapshot_hash": null })),
                after: Some(serde_json::json!({
                    "frozen_at": frozen_at,
                    "snapshot_hash": hash.as_str(),
                    "candidates_per_stratum": counts,
                    "assigned": assigned,
                    "excluded": excluded,
                })),
            },
        )
        .await?;
        tx.commit().await?;
        self.plan(plan_id).await
    }

    /// A version-1 plan's strata from the directory: the 存续 targets of
    /// each stratum's category (and town).
    async fn collect_v1(&self, plan: &DrawPlan) -> Result<Vec<FrozenStratum>, StoreError> {
        let mut strata = Vec::with_capacity(plan.strata.len());
        let mut towns: std::collections::HashMap<String, Arc<str>> = Default::default();
        for s in &plan.strata {
            // Only 存续 targets are candidates: a company deregistered,
            // revoked or moved out is not drawn.
            let mut sql = String::from(
                "SELECT target_key, jurisdiction FROM targets WHERE category = $1 AND status = 'active'",
            );
            if s.jurisdiction.is_some() {
                sql.push_str(" AND jurisdiction = $2");
            }
            let mut q = sqlx::query(&sql).bind(s.category.code());
            if let Some(j) = &s.jurisdiction {
                q = q.bind(j.as_str());
            }
            let mut rows = q.fetch(&self.pool);
            let mut candidates = Vec::new();
            while let Some(row) = rows.try_next().await? {
                let key: String = row.try_get(0)?;
                let town: String = row.try_get(1)?;
                let town = towns
                    .entry(town.clone())
                    .or_insert_with(|| Arc::from(town))
                    .clone();
                candidates.push(Candidate {
                    key: key.into(),
                    category: s.category,
                    jurisdiction: town,
                });
            }
            strata.push(FrozenStratum::new(s.id.clone(), candidates));
        }
        Ok(strata)
    }

    async fn insert_frozen_v1(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        plan_id: &str,
        strata: &[FrozenStratum],
    ) -> Result<(), StoreError> {
        for (pos, s) in strata.iter().enumerate() {
            insert_rows(
                tx,
                "plan_candidates (plan_id, stratum_pos, pos, target_key, category, jurisdiction)",
                6,
                &s.candidates,
                &|i, c: &Candidate| {
                    vec![
                        Val::Text(Some(plan_id.to_owned())),
                        Val::Int(pos as i64),
                        Val::Int(i as i64),
                        Val::Text(Some(c.key.to_string())),
                        Val::Text(Some(c.category.code().to_owned())),
                        Val::Text(Some(c.jurisdiction.to_string())),
                    ]
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn officer_pool(&self) -> Result<Vec<PoolMember>, StoreError> {
        let rows: Vec<(String, String, String, String, i64)> =
            sqlx::query_as("SELECT credential_no, name, unit, domains, enforcement FROM officers ORDER BY credential_no")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, unit, domains, enforcement)| PoolMember {
                id,
                name,
                unit: Some(unit),
                domains: parse_domains(&domains),
                enforcement: enforcement != 0,
            })
            .collect())
    }

    async fn expert_pool(&self) -> Result<Vec<PoolMember>, StoreError> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT expert_id, name, domains FROM experts ORDER BY expert_id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, domains)| PoolMember {
                id,
                name,
                unit: None,
                domains: parse_domains(&domains),
                enforcement: false,
            })
            .collect())
    }

    async fn recusal_pairs(&self) -> Result<BTreeSet<(String, String)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT person, target_key FROM recusals")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// A frozen plan and its frozen pools.
    async fn frozen_plan(&self, plan_id: &str) -> Result<(PlanRecord, FrozenPool), StoreError> {
        let record = self.plan(plan_id).await?;
        if record.frozen_at.is_none() {
            return Err(StoreError::Conflict(format!(
                "抽查计划 {plan_id} 尚未冻结，不能抽取 (freeze the plan first)"
            )));
        }
        let pool_json: (Option<String>,) =
            sqlx::query_as("SELECT pool FROM plans WHERE plan_id = $1")
                .bind(plan_id)
                .fetch_one(&self.pool)
                .await?;
        let pool: FrozenPool =
            serde_json::from_str(&pool_json.0.unwrap_or_default()).map_err(corrupt)?;
        Ok((record, pool))
    }

    /// A version-2 plan's inputs exactly as frozen.
    pub async fn draw_inputs_v2(
        &self,
        plan_id: &str,
    ) -> Result<(PlanRecord, DrawInputs2), StoreError> {
        let (record, pool) = self.frozen_plan(plan_id).await?;
        if record.plan.algorithm != draw_v2::ALGORITHM_VERSION {
            return Err(StoreError::Conflict(format!(
                "抽查计划 {plan_id} 使用第 {} 版抽取算法",
                record.plan.algorithm
            )));
        }
        let inputs = self.frozen_v2(&record.plan, pool).await?;
        Ok((record, inputs))
    }

    /// A version-1 plan's inputs exactly as frozen with the plan.
    pub async fn draw_inputs(&self, plan_id: &str) -> Result<(PlanRecord, DrawInputs), StoreError> {
        let (record, pool) = self.frozen_plan(plan_id).await?;
        let mut strata = Vec::with_capacity(record.plan.strata.len());
        let mut towns: std::collections::HashMap<String, Arc<str>> = Default::default();
        for (pos, s) in record.plan.strata.iter().enumerate() {
            let mut rows = sqlx::query(
                "SELECT target_key, category, jurisdiction FROM plan_candidates WHERE plan_id = $1 AND stratum_pos = $2 ORDER BY pos",
            )
            .bind(plan_id)
            .bind(pos as i64)
            .fetch(&self.pool);
            let mut candidates = Vec::new();
            while let Some(row) = rows.try_next().await? {
                let key: String = row.try_get(0)?;
                let category: String = row.try_get(1)?;
                let town: String = row.try_get(2)?;
                let town = towns
                    .entry(town.clone())
                    .or_insert_with(|| Arc::from(town))
                    .clone();
                candidates.push(Candidate {
                    key: key.into(),
                    category: category.parse().map_err(corrupt)?,
                    jurisdiction: town,
                });
            }
            // Stored in frozen order already; no re-sort, so verification
            // also catches a tampered order.
            strata.push(FrozenStratum {
                stratum_id: s.id.clone(),
                candidates,
            });
        }
        Ok((
            record,
            DrawInputs {
                strata,
                officers: pool.officers,
                experts: pool.experts,
                recusals: pool.recusals,
            },
        ))
    }

    /// Enters the seed and runs the draw. With an earlier draw of the plan,
    /// `redraw` must name the current draw and give a reason.
    #[tracing::instrument(level = "debug", name = "store.run_draw", skip_all)]
    pub async fn run_draw(
        &self,
        plan_id: &str,
        seed: &str,
        entered_by: &str,
        redraw: Option<Redraw>,
        actor: &Actor,
        checklist_for: impl Fn(TargetCategory) -> Option<ChecklistRef>,
    ) -> Result<DrawRecord, StoreError> {
        let _writer = self.writer().await;
        let seed = seed.trim();
        if seed.chars().count() < MIN_SEED_CHARS || seed.chars().any(char::is_control) {
            return Err(StoreError::invalid(
                format!(
                    "随机种子须为至少 {MIN_SEED_CHARS} 个字符的公开字符串（如现场掷骰所得数字），且不含控制字符"
                ),
                serde_json::json!({ "field": "seed", "min_chars": MIN_SEED_CHARS }),
            ));
        }
        let record = self.plan(plan_id).await?;
        let previous: Vec<(String, i64)> =
            sqlx::query_as("SELECT draw_id, seq FROM draws WHERE plan_id = $1 ORDER BY seq")
                .bind(plan_id)
                .fetch_all(&self.pool)
                .await?;
        let current = self.current_draw_id(plan_id).await?;
        match (&current, &redraw) {
            (None, Some(r)) => {
                return Err(StoreError::Conflict(format!(
                    "抽查计划 {plan_id} 尚无抽取结果，不能重抽 {}",
                    r.draw_id
                )));
            }
            (Some(c), None) => {
                return Err(StoreError::Conflict(format!(
                    "抽查计划 {plan_id} 已抽取（{c}）；重新抽取须引用原抽取并说明理由"
                )));
            }
            (Some(c), Some(r)) if &r.draw_id != c || r.reason.trim().is_empty() => {
                return Err(StoreError::Conflict(format!(
                    "重新抽取须引用当前有效的抽取 {c} 并说明理由（收到 {}）",
                    r.draw_id
                )));
            }
            _ => {}
        }
        let tasks = self.rerun(&record, seed).await?.map_err(|shortfalls| {
            let list: Vec<String> = shortfalls.iter().map(ToString::to_string).collect();
            StoreError::invalid(
                format!("抽取失败，未保存任何结果：{}", list.join("；")),
                serde_json::json!({ "shortfalls": shortfalls }),
            )
        })?;
        let seq = previous.len() as i64 + 1;
        let draw_id = format!("{plan_id}-D{seq}");
        let entered_at = now();
        let snapshot_hash = record.snapshot_hash.clone().unwrap_or_default();
        let mut result_tasks = Vec::with_capacity(tasks.len());
        for (i, t) in tasks.into_iter().enumerate() {
            let checklist = checklist_for(t.category).ok_or_else(|| {
                StoreError::invalid(
                    format!("没有适用于 {} 的检查表", t.category.label_zh()),
                    serde_json::Value::Null,
                )
            })?;
            result_tasks.push(Task {
                format: choucha_shared::FORMAT_VERSION,
                task_id: format!("{draw_id}-{:04}", i + 1),
                draw_id: draw_id.clone(),
                stratum_id: t.stratum_id,
                target: TargetKey(t.target_key),
                category: t.category,
                team: t.team,
                checklist,
                due: record.plan.due,
                source: t.source,
            });
        }

        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO draws (draw_id, plan_id, seq, algorithm, snapshot_hash, seed, seed_entered_by, seed_entered_at, supersedes, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&draw_id)
        .bind(plan_id)
        .bind(seq)
        .bind(i64::from(record.plan.algorithm))
        .bind(&snapshot_hash)
        .bind(seed)
        .bind(entered_by)
        .bind(&entered_at)
        .bind(redraw.as_ref().map(|r| r.draw_id.clone()))
        .bind(redraw.as_ref().map(|r| r.reason.trim().to_owned()))
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            // Two concurrent draws of one plan: the unique (plan_id, seq) decides.
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("抽查计划 {plan_id} 正在被另一操作抽取，请刷新后重试"))
            }
            other => other.into(),
        })?;
        for (i, t) in result_tasks.iter().enumerate() {
            sqlx::query(
                "INSERT INTO tasks (task_id, draw_id, seq, stratum_id, category, target_key, checklist_id, checklist_version, due, team, source) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&t.task_id)
            .bind(&draw_id)
            .bind(i as i64 + 1)
            .bind(&t.stratum_id)
            .bind(t.category.code())
            .bind(t.target.as_str())
            .bind(&t.checklist.id)
            .bind(i64::from(t.checklist.version))
            .bind(t.due.map(|d| d.to_string()))
            .bind(serde_json::to_string(&t.team).map_err(corrupt)?)
            .bind(t.source.clone())
            .execute(&mut *tx)
            .await?;
            for m in &t.team {
                sqlx::query(
                    "INSERT INTO task_members (task_id, person_id, role) VALUES ($1, $2, $3)",
                )
                .bind(&t.task_id)
                .bind(&m.person_id)
                .bind(
                    serde_json::to_value(m.role)
                        .map_err(corrupt)?
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        let withdrawn = match &redraw {
            Some(r) => self
                .draw(&r.draw_id)
                .await?
                .tasks
                .into_iter()
                .map(|t| (t.task_id, t.team))
                .collect(),
            None => Vec::new(),
        };
        let reason = redraw
            .as_ref()
            .map(|r| format!("抽取 {} 已被重新抽取替代：{}", r.draw_id, r.reason))
            .unwrap_or_default();
        Store::feed_draw(&mut tx, &result_tasks, &withdrawn, &reason).await?;
        super::projection::index_draw(&mut tx, &draw_id).await?;
        audit::append(
            &mut tx,
            Change {
                actor,
                action: "draw.run",
                object: format!("draw:{draw_id}"),
                before: None,
                after: Some(serde_json::json!({
                    "plan_id": plan_id,
                    "seed": seed,
                    "seed_entered_by": entered_by,
                    "snapshot_hash": snapshot_hash,
                    "tasks": result_tasks.len(),
                    "redraw_of": redraw.as_ref().map(|r| r.draw_id.clone()),
                })),
            },
        )
        .await?;
        tx.commit().await?;
        self.feed_written(
            result_tasks
                .iter()
                .flat_map(|t| t.team.iter())
                .chain(withdrawn.iter().flat_map(|(_, team)| team.iter()))
                .map(|m| m.person_id.as_str()),
        );
        self.draw(&draw_id).await
    }

    /// The plan's draw that no later draw supersedes.
    pub async fn current_draw_id(&self, plan_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT d.draw_id FROM draws d WHERE d.plan_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM draws n WHERE n.supersedes = d.draw_id) ORDER BY d.seq DESC",
        )
        .bind(plan_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(d,)| d))
    }

    pub async fn draw(&self, draw_id: &str) -> Result<DrawRecord, StoreError> {
        type Head = (
            String,
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
        );
        let head: Option<Head> = sqlx::query_as(
            "SELECT plan_id, algorithm, snapshot_hash, seed, seed_entered_by, seed_entered_at, supersedes, reason \
             FROM draws WHERE draw_id = $1",
        )
        .bind(draw_id)
        .fetch_optional(&self.pool)
        .await?;
        let (plan_id, algorithm, snapshot_hash, seed, by, at, supersedes, reason) = head
            .ok_or_else(|| {
                StoreError::NotFound(format!("抽取结果 {draw_id} 不存在 (no such draw)"))
            })?;
        type TaskRow = (
            String,
            String,
            String,
            String,
            String,
            i64,
            Option<String>,
            String,
            Option<String>,
        );
        let rows: Vec<TaskRow> = sqlx::query_as(
            "SELECT task_id, stratum_id, category, target_key, checklist_id, checklist_version, due, team, source \
             FROM tasks WHERE draw_id = $1 ORDER BY seq",
        )
        .bind(draw_id)
        .fetch_all(&self.pool)
        .await?;
        let mut tasks = Vec::with_capacity(rows.len());
        for (task_id, stratum_id, category, key, cl_id, cl_version, due, team, source) in rows {
            let team: Vec<TeamMember> = serde_json::from_str(&team).map_err(corrupt)?;
            tasks.push(Task {
                format: choucha_shared::FORMAT_VERSION,
                task_id,
                draw_id: draw_id.to_owned(),
                stratum_id,
                target: TargetKey(key),
                category: category.parse().map_err(corrupt)?,
                team,
                checklist: ChecklistRef {
                    id: cl_id,
                    version: cl_version as u32,
                },
                due: due.map(|d| d.parse()).transpose().map_err(corrupt)?,
                source,
            });
        }
        let replacements = self.replacements(draw_id).await?;
        Ok(DrawResult {
            format: choucha_shared::FORMAT_VERSION,
            draw_id: draw_id.to_owned(),
            plan_id,
            algorithm: algorithm as u16,
            snapshot_hash,
            seed,
            seed_entered_by: by,
            seed_entered_at: parse_time(&at)?,
            tasks,
            supersedes: supersedes.map(|d| Redraw {
                draw_id: d,
                reason: reason.unwrap_or_default(),
            }),
            replacements,
        })
    }

    /// Runs a frozen plan's draw with `seed` under the plan's algorithm;
    /// the outer error is the store's, the inner the draw's shortfalls.
    async fn rerun(
        &self,
        record: &PlanRecord,
        seed: &str,
    ) -> Result<Result<Vec<draw::DrawnTask>, Vec<draw::Shortfall>>, StoreError> {
        let plan_id = &record.plan.plan_id;
        Ok(match record.plan.algorithm {
            1 => {
                let (_, inputs) = self.draw_inputs(plan_id).await?;
                draw::run(&record.plan, seed, &inputs)
            }
            _ => {
                let (_, inputs) = self.draw_inputs_v2(plan_id).await?;
                draw_v2::run(TeamRules::of(&record.plan), seed, &inputs)
            }
        })
    }

    /// Re-runs a stored draw from its frozen inputs and compares: the
    /// snapshot hash, every task's target and team and, for version 2,
    /// every seat replacement in order.
    #[tracing::instrument(level = "debug", name = "store.verify_draw", skip_all)]
    pub async fn verify_draw(&self, draw_id: &str) -> Result<VerifyOutcome, StoreError> {
        let stored = self.draw(draw_id).await?;
        let mut outcome = VerifyOutcome {
            draw_id: draw_id.to_owned(),
            matches: false,
            snapshot_hash: String::new(),
            tasks: stored.tasks.len(),
            first_difference: None,
        };
        let rerun = match stored.algorithm {
            1 => {
                let (record, inputs) = self.draw_inputs(&stored.plan_id).await?;
                outcome.snapshot_hash = draw::snapshot_hash(&inputs.strata).to_string();
                draw::run(&record.plan, &stored.seed, &inputs)
            }
            2 => {
                let (record, inputs) = self.draw_inputs_v2(&stored.plan_id).await?;
                outcome.snapshot_hash = draw_v2::snapshot_hash(&inputs).to_string();
                let rules = TeamRules::of(&record.plan);
                // The drawn teams, then every recorded replacement
                // re-derived in order; the teams compared are the current.
                draw_v2::run(rules, &stored.seed, &inputs).map(|drawn| {
                    super::draw_v2::rederive_replacements(
                        rules,
                        &stored.seed,
                        &inputs,
                        &drawn,
                        &stored.replacements,
                    )
                    .unwrap_or_else(|difference| {
                        outcome.first_difference = Some(difference);
                        Vec::new()
                    })
                })
            }
            other => {
                outcome.first_difference = Some(format!("算法版本 {other} 不受本程序支持"));
                return Ok(outcome);
            }
        };
        if outcome.snapshot_hash != stored.snapshot_hash {
            outcome.first_difference = Some(format!(
                "名录快照哈希不一致：公布值 {}，按冻结名录重算为 {}",
                stored.snapshot_hash, outcome.snapshot_hash
            ));
            return Ok(outcome);
        }
        if outcome.first_difference.is_some() {
            return Ok(outcome);
        }
        let rerun = match rerun {
            Ok(t) => t,
            Err(e) => {
                outcome.first_difference = Some(format!("按公布输入重算失败：{e:?}"));
                return Ok(outcome);
            }
        };
        for (i, (want, got)) in rerun.iter().zip(&stored.tasks).enumerate() {
            let want_team: Vec<&str> = want.team.iter().map(|m| m.person_id.as_str()).collect();
            let got_team: Vec<&str> = got.team.iter().map(|m| m.person_id.as_str()).collect();
            if want.target_key != got.target.as_str()
                || want.stratum_id != got.stratum_id
                || want.source != got.source
            {
                outcome.first_difference = Some(format!(
                    "第 {} 个任务：重算抽中 {}（分层 {}），记录为 {}（分层 {}）",
                    i + 1,
                    want.target_key,
                    want.stratum_id,
                    got.target,
                    got.stratum_id
                ));
                return Ok(outcome);
            }
            if want_team != got_team {
                outcome.first_difference = Some(format!(
                    "第 {} 个任务（{}）：重算检查组 {:?}，记录为 {:?}",
                    i + 1,
                    got.target,
                    want_team,
                    got_team
                ));
                return Ok(outcome);
            }
        }
        if rerun.len() != stored.tasks.len() {
            outcome.first_difference = Some(format!(
                "任务数不一致：重算 {} 个，记录 {} 个",
                rerun.len(),
                stored.tasks.len()
            ));
            return Ok(outcome);
        }
        outcome.matches = true;
        Ok(outcome)
    }
}
