//! The inspection's tabs and progress, above every inspection screen.

use yew::prelude::*;

use crate::components::tasks::state_badge;
use crate::i18n::tr;
use crate::state::{Action, Screen, use_store};

#[function_component(InspectNav)]
pub fn inspect_nav() -> Html {
    let store = use_store();
    let lang = store.lang;
    let Some(i) = store.inspection.clone() else {
        return html! {};
    };
    let (done, total) = i.progress();
    let tab = |id: &'static str, screen: Screen, zh: &'static str, en: &'static str| {
        let store = store.clone();
        let active = store.screen == screen;
        let go = {
            let screen = screen.clone();
            Callback::from(move |_| {
                if screen == Screen::Items {
                    store.dispatch(Action::Item(store.item));
                } else {
                    store.dispatch(Action::Go(screen.clone()));
                }
            })
        };
        html! { <button id={id} class={classes!("tab", active.then_some("active"))} onclick={go}>{ tr(lang, zh, en) }</button> }
    };
    let pct = (done * 100).checked_div(total).unwrap_or(0);
    html! {
        <div class="inspect-nav" data-record={i.record.record_id.to_string()}>
            <div class="inspect-title">
                <b>{ &i.record.target_name }</b>
                { state_badge(lang, i.state) }
                <span class="progress-text" id="progress-text">{ format!("{done}/{total}") }</span>
                <div class="progress"><div class="bar" style={format!("width:{pct}%")}></div></div>
            </div>
            <nav class="tabs">
                { tab("tab-outcome", Screen::Outcome, "检查情况", "Outcome") }
                { tab("tab-items", Screen::Items, "检查项", "Items") }
                { tab("tab-photos", Screen::Photos, "大门/过程照片", "Gate & process photos") }
                { tab("tab-findings", Screen::Findings, "问题与整改", "Findings") }
                { tab("tab-review", Screen::Review, "完整性核对", "Review") }
                { tab("tab-sign", Screen::Sign, "签字", "Signatures") }
            </nav>
            if let Some(r) = &i.returned {
                <div class="banner warn" id="return-comment">{ tr(lang, "退回意见：", "Returned: ") }{ &r.comment }</div>
            }
        </div>
    }
}
