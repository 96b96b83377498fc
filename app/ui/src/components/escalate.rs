//! 上报: reporting a problem of the inspection upward at once — an
//! industry-wide or concentrated problem, one the public reacts strongly
//! to, a major situation, a safety hazard needing emergency control. Kept
//! on the tablet and sent with the next sync, like everything else.

use web_sys::{HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use choucha_app_api::{Escalate, Inspection, cmd};
use choucha_shared::escalation::EscalationKind;

use crate::i18n::tr;
use crate::ipc;
use crate::state::{Action, spawn, use_store};

#[function_component(EscalateCard)]
pub fn escalate_card() -> Html {
    let store = use_store();
    let lang = store.lang;
    let (finding_ref, kind_ref, text_ref) = (use_node_ref(), use_node_ref(), use_node_ref());
    let Some(insp) = store.inspection.clone() else {
        return html! {};
    };
    let record_id = insp.record.record_id;
    let send = {
        let store = store.clone();
        let refs = (finding_ref.clone(), kind_ref.clone(), text_ref.clone());
        Callback::from(move |_| {
            let finding_id = refs
                .0
                .cast::<HtmlSelectElement>()
                .and_then(|s| s.value().parse().ok());
            let kind = refs
                .1
                .cast::<HtmlSelectElement>()
                .and_then(|s| s.value().parse::<EscalationKind>().ok())
                .unwrap_or(EscalationKind::Major);
            let text = refs.2.cast::<HtmlTextAreaElement>();
            let description = text.as_ref().map(|t| t.value()).unwrap_or_default();
            let req = Escalate {
                record_id,
                finding_id,
                kind,
                description,
            };
            let store2 = store.clone();
            spawn(&store, async move {
                let i: Inspection = ipc::invoke::<cmd::Escalate>(&req).await?;
                store2.dispatch(Action::Inspection(i));
                if let Some(t) = text {
                    t.set_value("");
                }
                Ok(())
            });
        })
    };
    let label = |k: EscalationKind| tr(lang, k.label_zh(), k.label_en());
    html! {
        <div class="card" id="escalate">
            <h2>{ tr(lang, "上报质量科", "Report upward") }</h2>
            <p class="hint">{ tr(lang,
                "行业性、突出集中、群众反映强烈的问题，重大情况和需应急管控的安全隐患，请立即上报（离线时先保存，同步后送达）。",
                "Industry-wide, concentrated or public-concern problems, major situations and safety hazards: report them at once (kept offline, sent with the next sync).") }</p>
            <ul class="escalations" id="escalations">
                { for insp.escalations.iter().map(|e| html! {
                    <li class="escalation" data-escalation={e.escalation_id.to_string()}>
                        <span class="chip">{ label(e.kind) }</span>{ " " }{ &e.description }
                    </li>
                }) }
            </ul>
            <label>{ tr(lang, "类型", "Kind") }
                <select id="escalate-kind" ref={kind_ref}>
                    { for EscalationKind::ALL.into_iter().map(|k| html! { <option value={k.code()}>{ label(k) }</option> }) }
                </select>
            </label>
            if !insp.record.findings.is_empty() {
                <label>{ tr(lang, "涉及的问题", "Finding") }
                    <select id="escalate-finding" ref={finding_ref}>
                        <option value="">{ tr(lang, "（整个检查）", "(the whole inspection)") }</option>
                        { for insp.record.findings.iter().map(|f| html! {
                            <option value={f.finding_id.to_string()}>{ f.description.chars().take(30).collect::<String>() }</option>
                        }) }
                    </select>
                </label>
            }
            <label>{ tr(lang, "情况说明", "What was found") }<textarea id="escalate-text" ref={text_ref} rows="3" /></label>
            <button id="escalate-send" class="primary big" onclick={send}>{ tr(lang, "上报", "Report") }</button>
        </div>
    }
}
