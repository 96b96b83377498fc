//! Signatures: each officer and the expert of the team, and the enterprise
//! representative — or the enterprise's refusal, with the reason and a
//! witness.

use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use choucha_app_api::{Inspection, PadCapture, Refusal, Sign, cmd};
use choucha_shared::plan::MemberRole;
use choucha_shared::record::SignerRole;

use crate::components::inspect_nav::InspectNav;
use crate::components::pad::Pad;
use crate::components::widgets::Thumb;
use crate::i18n::{role, tr};
use crate::ipc;
use crate::state::{Action, spawn, use_store};

#[derive(Debug, Clone, PartialEq)]
struct Signer {
    role: SignerRole,
    person_id: Option<String>,
    name: String,
}

#[function_component(SignScreen)]
pub fn sign_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let active = use_state(|| None::<Signer>);
    let ent_name = use_node_ref();
    let reason = use_node_ref();
    let witness = use_node_ref();
    let Some(insp) = store.inspection.clone() else {
        return html! {};
    };
    let record_id = insp.record.record_id;
    let editable = insp.editable;
    let hash = insp.content_hash.clone();

    let signed = |role: SignerRole, person: Option<&str>, name: Option<&str>| {
        insp.record.signatures.iter().find(|s| {
            s.role == role
                && match person {
                    Some(p) => s.person_id.as_deref() == Some(p),
                    None => name.is_none_or(|n| s.name == n),
                }
        })
    };

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
            let store2 = store.clone();
            spawn(&store, async move {
                let i: Inspection = ipc::invoke::<cmd::Sign>(&req).await?;
                store2.dispatch(Action::Inspection(i));
                Ok(())
            });
        })
    };
    let on_cancel = {
        let active = active.clone();
        Callback::from(move |_| active.set(None))
    };
    let open = |signer: Signer| {
        let active = active.clone();
        Callback::from(move |_| active.set(Some(signer.clone())))
    };
    let open_enterprise = {
        let (active, ent_name, store) = (active.clone(), ent_name.clone(), store.clone());
        Callback::from(move |_| {
            let name = ent_name
                .cast::<HtmlInputElement>()
                .map(|i| i.value().trim().to_owned())
                .unwrap_or_default();
            if name.is_empty() {
                store.dispatch(Action::Failed(choucha_app_api::CommandError::new(
                    "refused",
                    "请先填写企业负责人或委托人姓名 (enter the representative's name first)",
                )));
                return;
            }
            active.set(Some(Signer {
                role: SignerRole::EnterpriseRepresentative,
                person_id: None,
                name,
            }));
        })
    };
    let save_refusal = {
        let (store, reason, witness) = (store.clone(), reason.clone(), witness.clone());
        Callback::from(move |_| {
            let req = Refusal {
                record_id,
                reason: reason
                    .cast::<HtmlTextAreaElement>()
                    .map(|t| t.value())
                    .unwrap_or_default(),
                witness: witness.cast::<HtmlInputElement>().map(|t| t.value()),
            };
            let store2 = store.clone();
            spawn(&store, async move {
                let i: Inspection = ipc::invoke::<cmd::RecordRefusal>(&req).await?;
                store2.dispatch(Action::Inspection(i));
                Ok(())
            });
        })
    };

    let status = |sig: Option<&choucha_shared::record::Signature>| match sig {
        Some(s) if s.content_hash.as_str() == hash => html! {
            <><span class="badge ok sig-status" data-status="signed">{ tr(lang, "已签字", "Signed") }</span><Thumb sha={AttrValue::from(s.image_sha256.to_string())} class="sig-thumb" /></>
        },
        Some(_) => {
            html! { <span class="badge warn sig-status" data-status="stale">{ tr(lang, "内容已改，须重签", "Changed since: sign again") }</span> }
        }
        None => {
            html! { <span class="badge sig-status" data-status="missing">{ tr(lang, "未签字", "Not signed") }</span> }
        }
    };

    if let Some(signer) = (*active).clone() {
        let title = match lang {
            choucha_app_api::Lang::Zh => format!(
                "请 {}（{}）在下方签字",
                signer.name,
                role(lang, signer.role)
            ),
            choucha_app_api::Lang::En => format!(
                "{} ({}), please sign below",
                signer.name,
                role(lang, signer.role)
            ),
        };
        return html! {
            <>
            <InspectNav />
            <section id="screen-sign" class="card">
                <Pad title={AttrValue::from(title)} on_done={on_done} on_cancel={on_cancel} />
            </section>
            </>
        };
    }
    let refusal = insp.record.refusal.clone();
    let ent_sig = signed(SignerRole::EnterpriseRepresentative, None, None);
    html! {
        <>
        <InspectNav />
        <section id="screen-sign" class="two-col">
            <div class="card">
                <h2>{ tr(lang, "检查组签字", "Team signatures") }</h2>
                <ul class="signers">
                    { for insp.record.team.iter().map(|m| {
                        let r = if m.role == MemberRole::Officer { SignerRole::Officer } else { SignerRole::Expert };
                        let signer = Signer { role: r, person_id: Some(m.person_id.clone()), name: m.name.clone() };
                        html! {
                            <li class="signer" data-person={m.person_id.clone()}>
                                <div><b>{ &m.name }</b>{ " " }<span class="hint">{ role(lang, r) }</span></div>
                                { status(signed(r, Some(&m.person_id), None)) }
                                if editable {
                                    <button class="sign-btn big" data-signer={m.person_id.clone()} onclick={open(signer)}>{ tr(lang, "签字", "Sign") }</button>
                                }
                            </li>
                        }
                    }) }
                </ul>
            </div>
            <div class="card">
                <h2>{ tr(lang, "被检查单位签字", "Enterprise signature") }</h2>
                <div class="signer">
                    { status(ent_sig) }
                    if let Some(s) = ent_sig { <b>{ &s.name }</b> }
                </div>
                if editable {
                    <label>{ tr(lang, "企业负责人或委托人姓名", "Representative's name") }<input id="ent-name" ref={ent_name} type="text" /></label>
                    <button class="sign-btn big primary" data-signer="enterprise" onclick={open_enterprise}>{ tr(lang, "企业签字", "Enterprise signs") }</button>
                    <details class="refusal" open={refusal.is_some()}>
                        <summary>{ tr(lang, "企业拒绝签字", "The enterprise refuses to sign") }</summary>
                        <label>{ tr(lang, "拒签理由", "Reason") }<textarea id="refusal-reason" ref={reason} rows="2" /></label>
                        <label>{ tr(lang, "见证人（可选）", "Witness (optional)") }<input id="refusal-witness" ref={witness} type="text" /></label>
                        <button id="refusal-save" class="big" onclick={save_refusal}>{ tr(lang, "记录拒签", "Record the refusal") }</button>
                    </details>
                }
                if let Some(r) = refusal {
                    <p class="warn" id="refusal-recorded">{ tr(lang, "已记录拒签：", "Refusal recorded: ") }{ r.reason }</p>
                }
            </div>
        </section>
        </>
    }
}
