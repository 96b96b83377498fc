//! Signatures: each officer and the expert of the team, and the enterprise
//! representative — or the enterprise's refusal, with the reason and a
//! witness.

use yew::prelude::*;

use choucha_app_api::{Inspection, PadCapture, Refusal, Sign, cmd};
use choucha_shared::plan::MemberRole;
use choucha_shared::record::SignerRole;

use crate::components::enterprise_sign::{EnterpriseSign, signature_status};
use crate::components::inspect_nav::InspectNav;
use crate::components::pad::Pad;
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
            let store2 = store.clone();
            spawn(&store, async move {
                let i: Inspection = ipc::invoke::<cmd::RecordRefusal>(&req).await?;
                store2.dispatch(Action::Inspection(i));
                Ok(())
            });
        })
    };

    let status =
        |sig: Option<&choucha_shared::record::Signature>| signature_status(lang, sig, &hash);

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
                <EnterpriseSign editable={editable} signature={ent_sig.cloned()} refusal={refusal}
                    content_hash={AttrValue::from(hash.clone())} on_sign={sign_enterprise} on_refuse={save_refusal} />
            </div>
        </section>
        </>
    }
}
