//! Completeness review: every violation with a jump to where it is fixed,
//! and the seal.

use yew::prelude::*;

use choucha_app_api::command::RecordId;
use choucha_app_api::{Inspection, cmd};
use choucha_shared::completeness::Violation;
use choucha_shared::conclusion::Conclusion;

use crate::components::inspect_nav::InspectNav;
use crate::i18n::{tr, violation};
use crate::ipc;
use crate::state::{Action, Screen, spawn, use_store};

/// Where a violation is fixed.
fn target_of(
    v: &Violation,
    item_index: impl Fn(&str) -> Option<usize>,
) -> Option<Result<usize, Screen>> {
    if let Some(id) = v.item_id() {
        return item_index(id).map(Ok);
    }
    Some(Err(match v {
        Violation::GatePhotoMissing | Violation::ProcessPhotoMissing => Screen::Photos,
        Violation::FindingWithoutDescription { .. }
        | Violation::DeadlineNotAfterInspection { .. } => Screen::Findings,
        Violation::OfficerSignaturesMissing { .. }
        | Violation::SignerNotOnTeam { .. }
        | Violation::ExpertSignatureMissing { .. }
        | Violation::EnterpriseSignatureMissing
        | Violation::RefusalWithoutReason
        | Violation::EnterpriseRefusalMissing
        | Violation::SignatureStale { .. } => Screen::Sign,
        Violation::OutcomeNeedsSiteVisit { .. }
        | Violation::AddressPhotoMissing
        | Violation::AddressPhotoWithoutGps
        | Violation::PremisesNotDescribed
        | Violation::ContactAttemptsMissing
        | Violation::ContactAttemptIncomplete { .. }
        | Violation::ActivityNotDescribed
        | Violation::ClosureNotDescribed
        | Violation::ClosureBasisMissing
        | Violation::RefusedActionNotDescribed
        | Violation::WarningNotRecorded
        | Violation::WitnessMissing => Screen::Outcome,
        _ => return None,
    }))
}

/// What the record comes to: the case, or the conclusion (检查结论) of the
/// walk-through under the checklist's rules, with why it fails.
fn summary(lang: choucha_app_api::Lang, insp: &Inspection) -> Html {
    let kind = insp.record.outcome.kind();
    if kind != choucha_shared::outcome::OutcomeKind::Normal {
        return html! {
            <p id="outcome-summary" data-outcome={kind.as_str()}>
                { tr(lang, "检查情况：", "Outcome: ") }<b>{ if lang == choucha_app_api::Lang::Zh { kind.label_zh() } else { kind.label_en() } }</b>
            </p>
        };
    }
    let c = &insp.conclusion;
    let code = match c {
        Conclusion::Pass => "pass",
        Conclusion::PassWithIssues { .. } => "pass_with_issues",
        Conclusion::Fail { .. } => "fail",
    };
    html! {
        <div id="conclusion" data-conclusion={code} class={classes!("conclusion", c.is_fail().then_some("fail"))}>
            { tr(lang, "检查结论（按检查表规则）：", "Conclusion (under the checklist's rules): ") }
            <b>{ if lang == choucha_app_api::Lang::Zh { c.label_zh() } else { c.label_en() } }</b>
            if let Conclusion::Fail { reasons } = c {
                <ul class="fail-reasons">{ for reasons.iter().map(|r| html! { <li>{ r.to_string() }</li> }) }</ul>
            }
        </div>
    }
}

#[function_component(ReviewScreen)]
pub fn review_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let Some(insp) = store.inspection.clone() else {
        return html! {};
    };
    let record_id = insp.record.record_id;
    let ids: Vec<String> = insp.checklist.items().map(|i| i.id.clone()).collect();
    let index = |id: &str| ids.iter().position(|x| x == id);
    let seal = {
        let store = store.clone();
        Callback::from(move |_| {
            let store2 = store.clone();
            spawn(&store, async move {
                let i: Inspection = ipc::invoke::<cmd::Seal>(&RecordId { record_id }).await?;
                store2.dispatch(Action::Inspection(i));
                store2.dispatch(Action::Info(
                    "已封存，将在联网时自动上传。(Sealed; it uploads when online.)".into(),
                ));
                Ok(())
            });
        })
    };
    let amend = {
        let store = store.clone();
        Callback::from(move |_| {
            let store2 = store.clone();
            spawn(&store, async move {
                let i: Inspection =
                    ipc::invoke::<cmd::StartAmendment>(&RecordId { record_id }).await?;
                store2.dispatch(Action::Inspection(i));
                store2.dispatch(Action::Item(0));
                Ok(())
            });
        })
    };
    let row = |v: &Violation, refused: bool| {
        let jump = target_of(v, index).map(|t| {
            let store = store.clone();
            Callback::from(move |_| match &t {
                Ok(n) => store.dispatch(Action::Item(*n)),
                Err(screen) => store.dispatch(Action::Go(screen.clone())),
            })
        });
        html! {
            <li class={classes!("violation", refused.then_some("refused"))} data-item={v.item_id().map(str::to_owned)}>
                <span>{ violation(lang, v) }</span>
                if let Some(j) = jump { <button class="jump-btn" onclick={j}>{ tr(lang, "去处理", "Go fix") }</button> }
            </li>
        }
    };
    html! {
        <>
        <InspectNav />
        <section id="screen-review" class="card">
            <h1>{ tr(lang, "完整性核对", "Completeness review") }</h1>
            { summary(lang, &insp) }
            if !insp.editable {
                <p class="ok" id="sealed-note">{ tr(lang, "本记录已封存，内容哈希：", "This record is sealed; content hash: ") }<span class="mono">{ &insp.content_hash }</span></p>
                if insp.state == choucha_app_api::TaskState::Returned {
                    <button id="start-amendment" class="primary big" onclick={amend}>{ tr(lang, "补正（修改后重新签字封存）", "Amend (change, re-sign, re-seal)") }</button>
                }
            } else {
                if insp.violations.is_empty() {
                    <p class="ok" id="review-ok">{ tr(lang, "已全部齐备，可以封存。封存后不能再修改。", "Everything is complete. Once sealed it cannot be changed.") }</p>
                } else {
                    <p class="warn" id="review-count">{ match lang {
                        choucha_app_api::Lang::Zh => format!("还有 {} 处需要处理：", insp.violations.len()),
                        choucha_app_api::Lang::En => format!("{} things still need attention:", insp.violations.len()),
                    } }</p>
                }
                <ul class="violations" id="violations">
                    { for insp.violations.iter().map(|v| row(v, store.seal_refused.contains(v))) }
                </ul>
                <button id="seal" class="primary big" onclick={seal}>{ tr(lang, "封存检查记录", "Seal the record") }</button>
            }
        </section>
        </>
    }
}
