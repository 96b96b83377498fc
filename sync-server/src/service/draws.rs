//! Plans and draws (双随机): create a plan, freeze its directory snapshot,
//! enter the seed and run the draw. The REST API, the console, the
//! command line and the demo all come here, so a draw request is checked
//! the same way whichever of them sent it.

use choucha_shared::TargetCategory;
use choucha_shared::checklist::ChecklistRef;
use choucha_shared::plan::{AssignedTarget, DrawPlan, Redraw, SeatReplacement};

use super::{Actor, ServiceError, ServiceResult};
use crate::import::{self, FileFormat, RowError};
use crate::store::{DrawRecord, PlanRecord, Store};

/// Checks and stores a new plan. Its ID appears in URLs, task IDs and
/// printed records, so it is kept to letters, digits, `-` and `_`.
#[tracing::instrument(skip_all, fields(actor = %actor))]
pub async fn create_plan(store: &Store, actor: &Actor, plan: &DrawPlan) -> ServiceResult<()> {
    let id = &plan.plan_id;
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ServiceError::bad_input(format!(
            "计划编号 '{id}' 无效：只能用字母、数字、- 和 _，最长 64 个字符 (plan_id)"
        )));
    }
    Ok(store.create_plan(plan, actor).await?)
}

/// Freezes the plan's directory snapshot and publishes its hash.
#[tracing::instrument(skip_all, fields(actor = %actor, plan_id = %plan_id))]
pub async fn freeze_plan(store: &Store, actor: &Actor, plan_id: &str) -> ServiceResult<PlanRecord> {
    Ok(store.freeze_plan(plan_id, actor).await?)
}

/// A request to run a plan's draw, as any transport received it.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct DrawRequest {
    /// The public seed (e.g. dice thrown in front of witnesses): at least
    /// 20 characters, none a control character.
    #[schema(pattern = r"^[^\x00-\x1f\x7f-\x9f]{20,}$")]
    pub seed: String,
    /// Who entered the seed, as printed on the draw record.
    #[schema(min_length = 1)]
    pub entered_by: String,
    /// The current draw this one replaces, for a redraw.
    #[serde(default)]
    pub redraw_of: Option<String>,
    /// Why the plan is drawn again.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Runs the draw. The seed's own rules (length, no control characters)
/// and whether a redraw is allowed are checked by the store inside the
/// draw's transaction.
#[tracing::instrument(skip_all, fields(actor = %actor, plan_id = %plan_id))]
pub async fn run_draw(
    store: &Store,
    actor: &Actor,
    plan_id: &str,
    req: DrawRequest,
    checklist_for: impl Fn(TargetCategory) -> Option<ChecklistRef>,
) -> ServiceResult<DrawRecord> {
    let entered_by = req.entered_by.trim();
    if entered_by.is_empty() {
        return Err(ServiceError::bad_input(
            "须填写录入随机种子的人员 (entered_by)",
        ));
    }
    let redraw = req
        .redraw_of
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|draw_id| Redraw {
            draw_id: draw_id.to_owned(),
            reason: req.reason.clone().unwrap_or_default(),
        });
    Ok(store
        .run_draw(plan_id, &req.seed, entered_by, redraw, actor, checklist_for)
        .await?)
}

/// Reads an upstream list (总局, 市局) of targets a version-2 plan must
/// inspect and makes it the plan's assigned list. Every bad row is
/// reported — a code or category that does not parse, a row without 来源
/// when the upload names none, a target the directory lacks or that is no
/// longer 存续 — and then nothing is saved.
#[tracing::instrument(skip_all, fields(actor = %actor, plan_id = %plan_id, file_name = %file_name))]
pub async fn import_assigned(
    store: &Store,
    actor: &Actor,
    plan_id: &str,
    bytes: &[u8],
    format: FileFormat,
    file_name: &str,
    default_source: Option<&str>,
) -> ServiceResult<PlanRecord> {
    let parsed = import::parse_assigned(bytes, format, default_source).map_err(|e| {
        ServiceError::BadInput {
            message: format!("{file_name}: {e}"),
            details: serde_json::json!({ "file": file_name }),
        }
    })?;
    let mut errors = parsed.errors;
    let list: Vec<AssignedTarget> = parsed.rows.iter().map(|(_, a)| a.clone()).collect();
    let column = import::ASSIGNED_COLUMNS[0].name;
    for ((row, a), why) in parsed.rows.iter().zip(store.assignable(&list).await?) {
        if let Some(reason) = why {
            errors.push(RowError {
                row: *row,
                column: column.to_owned(),
                value: a.key.to_string(),
                reason: format!("{}：{reason}", a.category.label_zh()),
            });
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(ServiceError::Invalid {
            message: format!(
                "{file_name}：{} 处错误，指定检查对象名单未保存",
                errors.len()
            ),
            details: serde_json::json!({ "file": file_name, "errors": errors }),
        });
    }
    if list.is_empty() {
        return Err(ServiceError::bad_input(format!(
            "{file_name}：名单中没有检查对象"
        )));
    }
    Ok(store.set_plan_assigned(plan_id, list, actor).await?)
}

/// A request to replace one officer's seat on a task of a draw.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct ReplaceRequest {
    #[schema(min_length = 1)]
    pub task_id: String,
    /// The credential number of the officer who cannot go.
    #[schema(min_length = 1)]
    pub leaving: String,
    /// Why (因病无法到场, 发现利害关系…), recorded with the draw.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Replaces one seat by the rule of `docs/draw.md` (version 2, rule 5).
#[tracing::instrument(skip_all, fields(actor = %actor, draw_id = %draw_id))]
pub async fn replace_seat(
    store: &Store,
    actor: &Actor,
    draw_id: &str,
    req: ReplaceRequest,
) -> ServiceResult<SeatReplacement> {
    let (task_id, leaving) = (req.task_id.trim(), req.leaving.trim());
    if task_id.is_empty() || leaving.is_empty() {
        return Err(ServiceError::bad_input(
            "须给出任务编号 (task_id) 和被替换的执法人员证号 (leaving)",
        ));
    }
    Ok(store
        .replace_seat(draw_id, task_id, leaving, &req.reason, actor)
        .await?)
}
