//! The checklist walk-through, item by item: verdict buttons, a note,
//! photos of the item, the legal basis on demand, questions to the quality
//! section about the item (咨询) with their answers, and a grid to jump to
//! any item (coloured by whether it is answered).

use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use choucha_app_api::{Ask, Inspection, SetItem, cmd};
use choucha_shared::checklist::{Evidence, Verdict};
use choucha_shared::consult::QuestionView;
use choucha_shared::record::PhotoSubject;

use crate::components::inspect_nav::InspectNav;
use crate::components::text_field::TextField;
use crate::components::widgets::{PhotoInput, Thumb};
use crate::i18n::{tr, verdict};
use crate::ipc;
use crate::state::{Action, spawn, use_store};

#[function_component(ItemsScreen)]
pub fn items_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let show_basis = use_state(|| false);
    let asking = use_state(|| false);
    let note_ref = use_node_ref();
    let question_ref = use_node_ref();
    use_effect_with((), |_| crate::timing::checklist_shown());
    let Some(insp) = store.inspection.clone() else {
        return html! {};
    };
    let items: Vec<_> = insp.checklist.items().collect();
    let n = store.item.min(items.len().saturating_sub(1));
    let Some(item) = items.get(n).copied() else {
        return html! { <InspectNav /> };
    };
    let section = insp
        .checklist
        .sections
        .iter()
        .find(|s| s.items.iter().any(|i| i.id == item.id))
        .map(|s| s.title.clone())
        .unwrap_or_default();
    let entry = insp.record.items.get(&item.id).cloned().unwrap_or_default();
    let record_id = insp.record.record_id;
    let editable = insp.editable;

    let save = {
        let store = store.clone();
        let item_id = item.id.clone();
        let note_ref = note_ref.clone();
        move |v: Option<Verdict>| {
            let note = note_ref.cast::<HtmlTextAreaElement>().map(|t| t.value());
            let req = SetItem {
                record_id,
                item_id: item_id.clone(),
                verdict: v,
                note,
            };
            let store2 = store.clone();
            spawn(&store, async move {
                let i: Inspection = ipc::invoke::<cmd::SetItem>(&req).await?;
                store2.dispatch(Action::Inspection(i));
                Ok(())
            });
        }
    };
    let on_verdict = |v: Verdict| {
        let save = save.clone();
        Callback::from(move |_| save(Some(v)))
    };
    let on_note = {
        let save = save.clone();
        let current = entry.verdict;
        Callback::from(move |_: Event| save(current))
    };
    let go = |to: usize| {
        let store = store.clone();
        let show_basis = show_basis.clone();
        Callback::from(move |_| {
            show_basis.set(false);
            store.dispatch(Action::Item(to));
        })
    };
    let photos: Vec<_> = insp
        .record
        .photos_of(&PhotoSubject::Item(item.id.clone()))
        .map(|p| p.sha256.to_string())
        .collect();
    let needs_photo = item.evidence.contains(&Evidence::Photo)
        || entry.verdict.is_some_and(|v| v.is_nonconforming());
    let return_comment = insp
        .returned
        .as_ref()
        .and_then(|r| r.item_comments.get(&item.id).cloned());
    let total = items.len();
    let faq = insp.faq.iter().filter(|f| f.item_id == item.id);
    let asked: Vec<&QuestionView> = insp
        .questions
        .iter()
        .filter(|q| q.question.item_id.as_deref() == Some(item.id.as_str()))
        .collect();
    let on_ask = {
        let store = store.clone();
        let asking = asking.clone();
        let question_ref = question_ref.clone();
        let item_id = item.id.clone();
        Callback::from(move |_| {
            let text = question_ref
                .cast::<HtmlTextAreaElement>()
                .map(|t| t.value())
                .unwrap_or_default();
            let req = Ask {
                record_id,
                item_id: Some(item_id.clone()),
                finding_id: None,
                text,
            };
            let (store2, asking) = (store.clone(), asking.clone());
            spawn(&store, async move {
                let i: Inspection = ipc::invoke::<cmd::AskQuestion>(&req).await?;
                store2.dispatch(Action::Inspection(i));
                asking.set(false);
                Ok(())
            });
        })
    };
    html! {
        <>
        <InspectNav />
        <section id="screen-items" class="items-layout">
            <div class="card item-card" data-item={item.id.clone()}>
                <div class="item-head">
                    <span class="section-title">{ section }</span>
                    <span class="mono item-id" id="item-id">{ &item.id }</span>
                    <span class="counter">{ format!("{}/{}", n + 1, total) }</span>
                    if item.veto { <span class="badge veto">{ tr(lang, "否决项", "Veto item") }</span> }
                </div>
                <p class="item-text" id="item-text">{ &item.text }</p>
                if let Some(g) = &item.guidance { <p class="guidance">{ g }</p> }
                if faq.clone().next().is_some() {
                    <div class="faq" id="item-faq">
                        <h3>{ tr(lang, "常见问题", "FAQ") }</h3>
                        { for faq.map(|f| html! {
                            <div class="faq-entry" data-seq={f.seq.to_string()}>
                                <p class="q-text">{ tr(lang, "问：", "Q: ") }{ &f.question }</p>
                                <p class="answer">{ tr(lang, "答：", "A: ") }{ &f.answer }</p>
                                if let Some(b) = &f.basis { <p class="basis">{ tr(lang, "依据：", "Basis: ") }{ b }</p> }
                            </div>
                        }) }
                    </div>
                }
                <div class="evidence">
                    { for item.evidence.iter().map(|e| html! { <span class="chip">{ e.label_zh() }</span> }) }
                </div>
                if let Some(c) = return_comment { <p class="warn">{ tr(lang, "退回意见：", "Returned: ") }{ c }</p> }
                <button id="basis-toggle" class="link" onclick={{ let s = show_basis.clone(); Callback::from(move |_| s.set(!*s)) }}>
                    { if *show_basis { tr(lang, "收起法律依据", "Hide legal basis") } else { tr(lang, "查看法律依据", "Show legal basis") } }
                </button>
                if *show_basis { <p class="basis" id="basis">{ &item.basis }</p> }
                <div class="verdicts">
                    { for insp.checklist.allowed_verdicts(item).iter().map(|v| html! {
                        <button class={classes!("verdict", format!("v-{}", verdict_key(*v)), (entry.verdict == Some(*v)).then_some("chosen"))}
                            data-verdict={verdict_key(*v)} disabled={!editable} onclick={on_verdict(*v)}>
                            { verdict(lang, *v) }
                        </button>
                    }) }
                </div>
                <label>{ tr(lang, "说明（不符合时必填）", "Note (required when it does not conform)") }
                    <TextField id="item-note" node_ref={note_ref} key={item.id.clone()} rows={3} disabled={!editable}
                        value={entry.note.clone().unwrap_or_default()} onchange={on_note} />
                </label>
                <div class="item-photos">
                    if needs_photo || !photos.is_empty() {
                        <PhotoInput id="item-photo-input" subject={PhotoSubject::Item(item.id.clone())}
                            label={AttrValue::from(tr(lang, "拍摄本项照片", "Photo of this item"))} />
                    }
                    { for photos.iter().map(|sha| html! { <Thumb sha={AttrValue::from(sha.clone())} class="item-thumb" /> }) }
                </div>
                <div class="questions" id="item-questions">
                    { for asked.iter().map(|q| question(lang, q)) }
                    if *asking {
                        <label>{ tr(lang, "向质量科咨询（离线时先保存，同步后送达）", "Ask the quality section (kept offline, sent with the next sync)") }
                            <textarea id="question-input" ref={question_ref} rows="3" />
                        </label>
                        <button id="ask-send" class="primary" onclick={on_ask}>{ tr(lang, "发送", "Send") }</button>
                    } else {
                        <button id="ask-toggle" class="link" onclick={{ let a = asking.clone(); Callback::from(move |_| a.set(true)) }}>
                            { tr(lang, "咨询质量科", "Ask the quality section") }
                        </button>
                    }
                </div>
                <div class="pager">
                    <button id="item-prev" class="big" disabled={n == 0} onclick={go(n.saturating_sub(1))}>{ tr(lang, "上一项", "Previous") }</button>
                    <button id="item-next" class="big primary" disabled={n + 1 >= total} onclick={go(n + 1)}>{ tr(lang, "下一项", "Next") }</button>
                </div>
            </div>
            <div class="card jump">
                <h2>{ tr(lang, "全部检查项", "All items") }</h2>
                <div class="jump-grid">
                    { for items.iter().enumerate().map(|(k, it)| {
                        let v = insp.record.items.get(&it.id).and_then(|e| e.verdict);
                        let cls = match v {
                            None => "open",
                            Some(v) if v.is_nonconforming() => "bad",
                            Some(_) => "done",
                        };
                        html! {
                            <button class={classes!("item-jump", cls, (k == n).then_some("here"))} data-item={it.id.clone()} onclick={go(k)}>
                                { it.id.rsplit('-').next().unwrap_or(&it.id).to_owned() }
                            </button>
                        }
                    }) }
                </div>
            </div>
        </section>
        </>
    }
}

/// One question about the item, with the answer once it came.
fn question(lang: choucha_app_api::Lang, q: &QuestionView) -> Html {
    let state = if q.answer.is_some() {
        "answered"
    } else {
        "waiting"
    };
    html! {
        <div class="question" data-question={q.question.question_id.to_string()} data-state={state}>
            <p class="q-text">{ tr(lang, "问：", "Q: ") }{ &q.question.text }</p>
            if let Some(a) = &q.answer {
                <p class="answer">{ tr(lang, "答：", "A: ") }{ &a.text }</p>
                if let Some(b) = &a.basis { <p class="basis">{ tr(lang, "依据：", "Basis: ") }{ b }</p> }
                if !a.attachments.is_empty() {
                    <div class="answer-attachments">
                        { for a.attachments.iter().map(|s| html! { <Thumb sha={AttrValue::from(s.to_string())} class="item-thumb" /> }) }
                    </div>
                }
                <p class="muted">{ &a.answered_by }</p>
            } else {
                <p class="muted">{ tr(lang, "等待质量科答复", "Waiting for the quality section") }</p>
            }
        </div>
    }
}

/// The verdict's wire name (for test hooks and styles).
pub fn verdict_key(v: Verdict) -> &'static str {
    match v {
        Verdict::Conform => "conform",
        Verdict::Nonconform => "nonconform",
        Verdict::NotApplicable => "not_applicable",
        Verdict::Pass => "pass",
        Verdict::Minor => "minor",
        Verdict::Major => "major",
    }
}
