//! 复查: the follow-up visit of a rectification order, on one screen — the
//! order and its deadline, each ordered finding with its requirements, the
//! result (已整改 / 部分整改 / 未整改, a note when not rectified) and a photo
//! of its state now, the gate photo, the signatures of the team and the
//! enterprise (or its refusal), what is still missing, and the seal.

use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use choucha_app_api::command::{RecheckId, RecordId};
use choucha_app_api::{
    Lang, PadCapture, RecheckState, RecheckView, Refusal, SetRecheckResult, Sign, cmd,
    deadline_words,
};
use choucha_shared::plan::MemberRole;
use choucha_shared::recheck::OrderedFinding;
use choucha_shared::record::{PhotoSubject, RectificationOutcome, Signature, SignerRole};

use crate::components::enterprise_sign::{EnterpriseSign, signature_status};
use crate::components::pad::Pad;
use crate::components::text_field::TextField;
use crate::components::widgets::{PhotoInput, Thumb};
use crate::i18n::{role, tr};
use crate::ipc;
use crate::state::{Action, Store, spawn, use_store};

#[derive(Debug, Clone, PartialEq)]
struct Signer {
    role: SignerRole,
    person_id: Option<String>,
    name: String,
}

fn outcome_label(lang: Lang, o: RectificationOutcome) -> &'static str {
    match (lang, o) {
        (Lang::Zh, _) => o.label_zh(),
        (Lang::En, RectificationOutcome::Rectified) => "Rectified",
        (Lang::En, RectificationOutcome::PartlyRectified) => "Partly rectified",
        (Lang::En, RectificationOutcome::NotRectified) => "Not rectified",
    }
}

/// Runs a 复查 command and shows what it answers.
fn run<F>(store: &Store, work: F)
where
    F: std::future::Future<Output = Result<RecheckView, choucha_app_api::CommandError>> + 'static,
{
    let store2 = store.clone();
    spawn(store, async move {
        let view = work.await?;
        store2.dispatch(Action::Recheck(view));
        Ok(())
    });
}

#[function_component(RecheckScreen)]
pub fn recheck_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let active = use_state(|| None::<Signer>);
    let Some(view) = store.recheck.clone() else {
        return html! {};
    };
    let task = view.task.clone();
    let editable = view.state != RecheckState::Sealed;

    let start = {
        let (store, recheck_id) = (store.clone(), task.recheck_id.clone());
        Callback::from(move |_| {
            let recheck_id = recheck_id.clone();
            run(&store, async move {
                ipc::invoke::<cmd::StartRecheck>(&RecheckId { recheck_id }).await
            });
        })
    };
    let header = html! {
        <div class="card recheck-head">
            <h1>{ tr(lang, "整改复查 · ", "Follow-up visit · ") }{ &task.target_name }</h1>
            <p>
                <span>{ tr(lang, "责令整改通知书 ", "Order ") }<b id="recheck-order">{ &task.order_no }</b></span>{ " · " }
                <span>{ tr(lang, "整改期限 ", "Deadline ") }{ task.deadline.to_string() }</span>{ " " }
                <span id="recheck-deadline" class={classes!("deadline", (view.days_left < 0).then_some("overdue"))}>{ deadline_words(lang, view.days_left) }</span>{ " · " }
                <span>{ tr(lang, "原检查日期 ", "Inspected ") }{ task.inspection_date.to_string() }</span>
            </p>
            <p class="hint">{ tr(lang, "逐项核实整改情况：已整改的拍摄整改后照片；未整改或部分整改的说明仍存在的问题并拍照。", "Check each ordered finding: photograph what was rectified; for what was not, say what remains and photograph it.") }</p>
        </div>
    };
    let Some(record) = view.record.clone() else {
        return html! {
            <section id="screen-recheck">
                { header }
                <div class="card">
                    <ul class="recheck-preview">
                        { for task.findings.iter().map(|f| html! {
                            <li>{ f.item_id.clone().unwrap_or_default() }{ " " }{ &f.description }</li>
                        }) }
                    </ul>
                    <button id="recheck-start" class="big primary" onclick={start}>{ tr(lang, "开始复查", "Start the follow-up") }</button>
                </div>
            </section>
        };
    };
    let record_id = record.record_id;

    // Signing: the pad takes the whole card while someone signs.
    if let Some(signer) = (*active).clone() {
        let on_done = {
            let (store, active) = (store.clone(), active.clone());
            Callback::from(move |capture: PadCapture| {
                let Some(signer) = (*active).clone() else {
                    return;
                };
                active.set(None);
                let req = Sign {
                    record_id,
                    role: signer.role,
                    person_id: signer.person_id,
                    name: signer.name,
                    capture,
                };
                run(&store, async move {
                    ipc::invoke::<cmd::SignRecheck>(&req).await
                });
            })
        };
        let on_cancel = {
            let active = active.clone();
            Callback::from(move |_| active.set(None))
        };
        let title = match lang {
            Lang::Zh => format!(
                "请 {}（{}）在下方签字",
                signer.name,
                role(lang, signer.role)
            ),
            Lang::En => format!(
                "{} ({}), please sign below",
                signer.name,
                role(lang, signer.role)
            ),
        };
        return html! {
            <section id="screen-recheck" class="card">
                <Pad title={AttrValue::from(title)} on_done={on_done} on_cancel={on_cancel} />
            </section>
        };
    }

    let finding_card = |n: usize, f: &OrderedFinding| {
        let id = f.finding_id;
        let result = record.results.get(&id.to_string()).cloned();
        let choose = |o: RectificationOutcome| {
            let store = store.clone();
            let note = result.as_ref().and_then(|r| r.note.clone());
            Callback::from(move |_| {
                let req = SetRecheckResult {
                    record_id,
                    finding_id: id,
                    outcome: o,
                    note: note.clone(),
                };
                run(&store, async move {
                    ipc::invoke::<cmd::SetRecheckResult>(&req).await
                });
            })
        };
        let save_note = {
            let store = store.clone();
            let outcome = result.as_ref().map(|r| r.outcome);
            Callback::from(move |e: Event| {
                let note = e.target_unchecked_into::<HtmlTextAreaElement>().value();
                let Some(outcome) = outcome else {
                    store.dispatch(Action::Failed(choucha_app_api::CommandError::new(
                        "refused",
                        "请先选择整改情况，再填写说明 (choose the result first)",
                    )));
                    return;
                };
                let req = SetRecheckResult {
                    record_id,
                    finding_id: id,
                    outcome,
                    note: Some(note),
                };
                run(&store, async move {
                    ipc::invoke::<cmd::SetRecheckResult>(&req).await
                });
            })
        };
        let photos: Vec<String> = record
            .photos
            .iter()
            .filter(|p| p.subject == PhotoSubject::Finding(id))
            .map(|p| p.sha256.to_string())
            .collect();
        html! {
            <div class="card recheck-finding" data-finding={id.to_string()} key={id.to_string()}>
                <h3>{ format!("{}. ", n + 1) }if let Some(item) = &f.item_id { <span class="mono">{ item }</span>{ " " } }{ &f.description }</h3>
                <p class="hint">{ tr(lang, "整改要求：", "Required: ") }{ &f.requirements }</p>
                <div class="verdicts">
                    { for RectificationOutcome::ALL.into_iter().map(|o| {
                        let chosen = result.as_ref().is_some_and(|r| r.outcome == o);
                        html! {
                            <button class={classes!("verdict", "recheck-outcome", chosen.then_some("chosen"))}
                                data-outcome={o.as_str()} disabled={!editable} onclick={choose(o)}>{ outcome_label(lang, o) }</button>
                        }
                    }) }
                </div>
                <label>{ tr(lang, "说明（未整改或部分整改时必填）", "Note (required unless rectified)") }
                    <TextField id={AttrValue::from(format!("recheck-note-{n}"))} rows={2}
                        value={AttrValue::from(result.as_ref().and_then(|r| r.note.clone()).unwrap_or_default())}
                        disabled={!editable} onchange={save_note} />
                </label>
                <PhotoInput id={AttrValue::from(format!("recheck-photo-{n}"))} subject={PhotoSubject::Finding(id)} recheck={Some(record_id)}
                    label={AttrValue::from(tr(lang, "拍摄整改情况照片", "Photograph its state now"))} />
                <div class="photo-row">{ for photos.into_iter().map(|sha| html! { <figure class="photo"><Thumb sha={AttrValue::from(sha)} class="recheck-thumb" /></figure> }) }</div>
            </div>
        }
    };

    let signed = |sig: Option<&Signature>| signature_status(lang, sig, &view.content_hash);
    let open = |signer: Signer| {
        let active = active.clone();
        Callback::from(move |_| active.set(Some(signer.clone())))
    };
    let sign_enterprise = {
        let active = active.clone();
        Callback::from(move |name: String| {
            active.set(Some(Signer {
                role: SignerRole::EnterpriseRepresentative,
                person_id: None,
                name,
            }));
        })
    };
    let save_refusal = {
        let store = store.clone();
        Callback::from(move |(reason, witness): (String, Option<String>)| {
            let req = Refusal {
                record_id,
                reason,
                witness,
            };
            run(&store, async move {
                ipc::invoke::<cmd::RecheckRefusal>(&req).await
            });
        })
    };
    let seal = {
        let store = store.clone();
        Callback::from(move |_| {
            run(&store, async move {
                ipc::invoke::<cmd::SealRecheck>(&RecordId { record_id }).await
            });
        })
    };
    let gate: Vec<String> = record
        .photos
        .iter()
        .filter(|p| p.subject == PhotoSubject::Gate)
        .map(|p| p.sha256.to_string())
        .collect();
    let ent_sig = record
        .signatures
        .iter()
        .find(|s| s.role == SignerRole::EnterpriseRepresentative);

    html! {
        <section id="screen-recheck" data-record={record_id.to_string()}>
            { header }
            <div class="card">
                <h2>{ tr(lang, "大门/牌匾照片", "Gate / signboard photo") }</h2>
                <p class="hint">{ tr(lang, "证实复查人员到场。", "Proof that the team was there.") }</p>
                <PhotoInput id="recheck-gate-input" subject={PhotoSubject::Gate} recheck={Some(record_id)}
                    label={AttrValue::from(tr(lang, "拍摄大门照片", "Take gate photo"))} />
                <div class="photo-row gate-photos">{ for gate.into_iter().map(|sha| html! { <figure class="photo"><Thumb sha={AttrValue::from(sha)} /></figure> }) }</div>
            </div>
            { for task.findings.iter().enumerate().map(|(n, f)| finding_card(n, f)) }
            <div class="card">
                <h2>{ tr(lang, "签字", "Signatures") }</h2>
                <ul class="signers">
                    { for task.team.iter().map(|m| {
                        let r = if m.role == MemberRole::Officer { SignerRole::Officer } else { SignerRole::Expert };
                        let signer = Signer { role: r, person_id: Some(m.person_id.clone()), name: m.name.clone() };
                        let sig = record.signatures.iter().find(|s| s.role == r && s.person_id.as_deref() == Some(m.person_id.as_str()));
                        html! {
                            <li class="signer" data-person={m.person_id.clone()}>
                                <div><b>{ &m.name }</b>{ " " }<span class="hint">{ role(lang, r) }</span></div>
                                { signed(sig) }
                                if editable {
                                    <button class="sign-btn big" data-signer={m.person_id.clone()} onclick={open(signer)}>{ tr(lang, "签字", "Sign") }</button>
                                }
                            </li>
                        }
                    }) }
                </ul>
                <EnterpriseSign editable={editable} signature={ent_sig.cloned()} refusal={record.refusal.clone()}
                    content_hash={AttrValue::from(view.content_hash.clone())} on_sign={sign_enterprise} on_refuse={save_refusal} />
            </div>
            <div class="card">
                if view.state == RecheckState::Sealed {
                    <p id="recheck-sealed" class="ok">{ tr(lang, "复查记录已封存，将自动同步到服务器。", "The follow-up record is sealed and will sync by itself.") }</p>
                } else {
                    if view.violations.is_empty() {
                        <p id="recheck-ok" class="ok">{ tr(lang, "复查内容齐全，可以封存。", "Complete: ready to seal.") }</p>
                    } else {
                        <h2>{ tr(lang, "尚缺", "Still missing") }</h2>
                        <ul class="violations">
                            { for view.violations.iter().map(|v| {
                                let refused = store.seal_refused.contains(v);
                                html! { <li class={classes!("violation", refused.then_some("refused"))}>{ if lang == Lang::Zh { v.to_string() } else { v.english() } }</li> }
                            }) }
                        </ul>
                    }
                    <button id="recheck-seal" class="big primary" onclick={seal}>{ tr(lang, "封存复查记录", "Seal the follow-up record") }</button>
                }
            </div>
        </section>
    }
}
