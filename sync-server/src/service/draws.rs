//! Plans and draws (双随机): create a plan, freeze its directory snapshot,
//! enter the seed and run the draw. The REST API, the console, the
//! command line and the demo all come here, so a draw request is checked
//! the same way whichever of them sent it.

use choucha_shared::TargetCategory;
use choucha_shared::checklist::ChecklistRef;
use choucha_shared::plan::{DrawPlan, Redraw};

use super::{Actor, ServiceError, ServiceResult};
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
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct DrawRequest {
    /// The public seed (e.g. dice thrown in front of witnesses).
    pub seed: String,
    /// Who entered the seed, as printed on the draw record.
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
