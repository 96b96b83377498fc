//! 检查情况: what became of the task — the walk-through (正常检查), or a
//! case in which the target could not be inspected, with the evidence the
//! case needs: 无法联系 (the premises as found, every attempt to reach the
//! company with its time, the photo at the registered address), 未发现经营
//! 活动, 已关闭退出 (what shows it, on what ground) and 不配合 (what was
//! refused, the warning given, a witness). The sealing rules then ask for
//! that evidence instead of item verdicts.

use chrono::{DateTime, Utc};
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use choucha_app_api::{Inspection, Lang, SetOutcome, cmd};
use choucha_shared::outcome::{
    ActivityNotFoundEvidence, ClosedEvidence, ContactAttempt, ContactWay, Outcome, OutcomeKind,
    PremisesFound, UncooperativeEvidence, UnreachableEvidence, Witness,
};
use choucha_shared::record::PhotoSubject;

use crate::components::inspect_nav::InspectNav;
use crate::components::text_field::TextField;
use crate::components::widgets::{PhotoInput, Thumb};
use crate::i18n::tr;
use crate::ipc;
use crate::state::{Action, Store, spawn, use_store};

/// Now, from the webview's clock (the device's).
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

fn kind_label(lang: Lang, k: OutcomeKind) -> &'static str {
    if lang == Lang::Zh {
        k.label_zh()
    } else {
        k.label_en()
    }
}

fn save(store: &Store, record_id: uuid::Uuid, outcome: Outcome) {
    let store2 = store.clone();
    spawn(store, async move {
        let i: Inspection =
            ipc::invoke::<cmd::SetOutcome>(&SetOutcome { record_id, outcome }).await?;
        store2.dispatch(Action::Inspection(i));
        store2.dispatch(Action::Info("检查情况已保存 (saved)".into()));
        Ok(())
    });
}

fn text(r: &NodeRef) -> String {
    r.cast::<HtmlTextAreaElement>()
        .map(|t| t.value())
        .or_else(|| r.cast::<HtmlInputElement>().map(|i| i.value()))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn chosen(r: &NodeRef) -> String {
    r.cast::<HtmlSelectElement>()
        .map(|s| s.value())
        .unwrap_or_default()
}

#[function_component(OutcomeScreen)]
pub fn outcome_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let kind = use_state(|| None::<OutcomeKind>);
    let desc = use_node_ref();
    let basis = use_node_ref();
    let premises = use_node_ref();
    let refused = use_node_ref();
    let warning = use_node_ref();
    let witness_name = use_node_ref();
    let witness_contact = use_node_ref();
    let way = use_node_ref();
    let whom = use_node_ref();
    let result = use_node_ref();
    let Some(insp) = store.inspection.clone() else {
        return html! {};
    };
    let record_id = insp.record.record_id;
    let editable = insp.editable;
    let stored = insp.record.outcome.clone();
    let shown = (*kind).unwrap_or(stored.kind());

    let choose = |k: OutcomeKind| {
        let (store, kind) = (store.clone(), kind.clone());
        Callback::from(move |_| {
            kind.set(Some(k));
            // The walk-through needs nothing more: saved at once.
            if k == OutcomeKind::Normal {
                save(&store, record_id, Outcome::Normal);
            }
        })
    };
    // The case as the form says, keeping the times already recorded.
    let build = {
        let stored = stored.clone();
        let (desc, basis, premises, refused, warning, witness_name, witness_contact) = (
            desc.clone(),
            basis.clone(),
            premises.clone(),
            refused.clone(),
            warning.clone(),
            witness_name.clone(),
            witness_contact.clone(),
        );
        move |k: OutcomeKind, extra: Option<ContactAttempt>| -> Outcome {
            match k {
                OutcomeKind::Normal => Outcome::Normal,
                OutcomeKind::Unreachable => {
                    let (observed_at, mut attempts) = match &stored {
                        Outcome::Unreachable(e) => (e.observed_at, e.attempts.clone()),
                        _ => (now(), Vec::new()),
                    };
                    attempts.extend(extra);
                    let premises = PremisesFound::ALL
                        .into_iter()
                        .find(|p| p.as_str() == chosen(&premises))
                        .unwrap_or(PremisesFound::Locked);
                    Outcome::Unreachable(UnreachableEvidence {
                        premises,
                        description: text(&desc),
                        observed_at,
                        attempts,
                    })
                }
                OutcomeKind::ActivityNotFound => {
                    Outcome::ActivityNotFound(ActivityNotFoundEvidence {
                        description: text(&desc),
                    })
                }
                OutcomeKind::Closed => Outcome::Closed(ClosedEvidence {
                    description: text(&desc),
                    basis: text(&basis),
                }),
                OutcomeKind::Uncooperative => {
                    let warned_at = match &stored {
                        Outcome::Uncooperative(e) => e.warned_at,
                        _ => now(),
                    };
                    Outcome::Uncooperative(UncooperativeEvidence {
                        refused: text(&refused),
                        warning: text(&warning),
                        warned_at,
                        witness: Witness {
                            name: text(&witness_name),
                            contact: text(&witness_contact),
                        },
                    })
                }
            }
        }
    };
    let on_save = {
        let (store, build) = (store.clone(), build.clone());
        Callback::from(move |_| save(&store, record_id, build(shown, None)))
    };
    let add_attempt = {
        let (store, build) = (store.clone(), build.clone());
        let (way, whom, result) = (way.clone(), whom.clone(), result.clone());
        Callback::from(move |_| {
            let way = ContactWay::ALL
                .into_iter()
                .find(|w| w.as_str() == chosen(&way))
                .unwrap_or(ContactWay::Phone);
            let attempt = ContactAttempt {
                way,
                whom: text(&whom),
                at: now(),
                result: text(&result),
            };
            if attempt.whom.is_empty() || attempt.result.is_empty() {
                store.dispatch(Action::Failed(choucha_app_api::CommandError::new(
                    "refused",
                    "请填写联系对象（号码）和联系结果 (whom and what came of it)",
                )));
                return;
            }
            for r in [&whom, &result] {
                if let Some(i) = r.cast::<HtmlInputElement>() {
                    i.set_value("");
                }
            }
            save(
                &store,
                record_id,
                build(OutcomeKind::Unreachable, Some(attempt)),
            );
        })
    };

    let value =
        |f: &dyn Fn(&Outcome) -> Option<String>| AttrValue::from(f(&stored).unwrap_or_default());
    let field = |id: &'static str,
                 label: &'static str,
                 node: &NodeRef,
                 v: AttrValue,
                 rows: Option<u32>| {
        html! {
            <label>{ label }
                <TextField id={id} value={v} rows={rows} node_ref={node.clone()} disabled={!editable} />
            </label>
        }
    };
    let address_photos: Vec<String> = insp
        .record
        .photos_of(&PhotoSubject::Address)
        .map(|p| p.sha256.to_string())
        .collect();
    let address_photo = html! {
        <div class="address-photo">
            <h3>{ tr(lang, "登记住所（经营场所）现场照片", "Photo at the registered address") }</h3>
            <p class="hint">{ tr(lang, "照片带定位，证实检查人员到过登记地址。", "The photo carries the position: proof the officers were at the registered address.") }</p>
            <PhotoInput id="address-photo-input" subject={PhotoSubject::Address} label={AttrValue::from(tr(lang, "拍摄现场照片", "Take the photo"))} />
            <div class="photo-row address-photos">{ for address_photos.into_iter().map(|sha| html! { <figure class="photo"><Thumb sha={AttrValue::from(sha)} /></figure> }) }</div>
        </div>
    };

    let form = match shown {
        OutcomeKind::Normal => html! {
            <p class="hint" id="outcome-normal">{ tr(lang, "按检查表逐项检查。", "Walk through the checklist item by item.") }</p>
        },
        OutcomeKind::Unreachable => {
            let stored_premises = match &stored {
                Outcome::Unreachable(e) => Some(e.premises),
                _ => None,
            };
            let attempts = match &stored {
                Outcome::Unreachable(e) => e.attempts.clone(),
                _ => Vec::new(),
            };
            html! {
                <>
                <label>{ tr(lang, "现场情况", "What was found") }
                    <select id="premises" ref={premises.clone()} disabled={!editable}>
                        { for PremisesFound::ALL.into_iter().map(|p| html! {
                            <option value={p.as_str()} selected={stored_premises == Some(p)}>{ if lang == Lang::Zh { p.label_zh() } else { p.label_en() } }</option>
                        }) }
                    </select>
                </label>
                { field("outcome-desc", tr(lang, "情况说明", "Description"), &desc, value(&|o| match o { Outcome::Unreachable(e) => Some(e.description.clone()), _ => None }), Some(2)) }
                <h3>{ tr(lang, "联系企业的尝试", "Attempts to reach the company") }</h3>
                <ul id="attempts">
                    { for attempts.iter().map(|a| html! {
                        <li class="attempt">{ a.way.label_zh() }{ " · " }{ &a.whom }{ " · " }{ &a.result }{ " · " }
                            { a.at.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!())).format("%H:%M").to_string() }</li>
                    }) }
                </ul>
                if editable {
                    <div class="attempt-new">
                        <select id="attempt-way" ref={way.clone()}>
                            { for ContactWay::ALL.into_iter().map(|w| html! { <option value={w.as_str()}>{ w.label_zh() }</option> }) }
                        </select>
                        <input id="attempt-whom" ref={whom.clone()} type="text" placeholder={tr(lang, "联系对象或号码", "Whom / number")} />
                        <input id="attempt-result" ref={result.clone()} type="text" placeholder={tr(lang, "联系结果", "What came of it")} />
                        <button id="attempt-add" class="big" onclick={add_attempt}>{ tr(lang, "记录本次联系", "Record this attempt") }</button>
                    </div>
                }
                { address_photo }
                </>
            }
        }
        OutcomeKind::ActivityNotFound => html! {
            <>
            { field("outcome-desc", tr(lang, "现场实际从事的经营活动", "The business actually done there"), &desc, value(&|o| match o { Outcome::ActivityNotFound(e) => Some(e.description.clone()), _ => None }), Some(2)) }
            <p class="hint">{ tr(lang, "另须在「大门/过程照片」拍摄大门照片，并由企业签字或记录拒签。", "Also take the gate photo, and have the enterprise sign or record its refusal.") }</p>
            </>
        },
        OutcomeKind::Closed => html! {
            <>
            { field("outcome-desc", tr(lang, "关闭退出的现场情况", "What shows it has closed"), &desc, value(&|o| match o { Outcome::Closed(e) => Some(e.description.clone()), _ => None }), Some(2)) }
            { field("outcome-basis", tr(lang, "认定依据（注销登记、停业公告等）", "Ground (deregistration, closure notice…)"), &basis, value(&|o| match o { Outcome::Closed(e) => Some(e.basis.clone()), _ => None }), None) }
            { address_photo }
            </>
        },
        OutcomeKind::Uncooperative => html! {
            <>
            { field("outcome-refused", tr(lang, "企业拒绝、阻碍的检查事项", "What the company refused"), &refused, value(&|o| match o { Outcome::Uncooperative(e) => Some(e.refused.clone()), _ => None }), Some(2)) }
            { field("outcome-warning", tr(lang, "已告知的法律后果", "Warning given of the legal consequences"), &warning, value(&|o| match o { Outcome::Uncooperative(e) => Some(e.warning.clone()), _ => None }), Some(2)) }
            { field("witness-name", tr(lang, "见证人姓名", "Witness"), &witness_name, value(&|o| match o { Outcome::Uncooperative(e) => Some(e.witness.name.clone()), _ => None }), None) }
            { field("witness-contact", tr(lang, "见证人单位或联系方式", "Witness's unit or contact"), &witness_contact, value(&|o| match o { Outcome::Uncooperative(e) => Some(e.witness.contact.clone()), _ => None }), None) }
            <p class="hint">{ tr(lang, "另须拍摄大门照片，并在「签字」记录企业拒绝签字的情况。", "Also take the gate photo and record the enterprise's refusal to sign.") }</p>
            </>
        },
    };

    html! {
        <>
        <InspectNav />
        <section id="screen-outcome" class="card" data-outcome={stored.kind().as_str()}>
            <h1>{ tr(lang, "检查情况", "What became of the task") }</h1>
            <div class="verdicts outcome-choices">
                { for OutcomeKind::ALL.into_iter().map(|k| html! {
                    <button class={classes!("verdict", "outcome-choice", (k == shown).then_some("chosen"))}
                        data-outcome={k.as_str()} disabled={!editable} onclick={choose(k)}>{ kind_label(lang, k) }</button>
                }) }
            </div>
            { form }
            if editable && shown != OutcomeKind::Normal {
                <button id="outcome-save" class="primary big" onclick={on_save}>{ tr(lang, "保存检查情况", "Save") }</button>
            }
        </section>
        </>
    }
}
