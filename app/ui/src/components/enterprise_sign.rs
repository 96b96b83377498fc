//! The enterprise's part of signing, the same on an inspection and on a
//! 复查: its representative's name and signature, or its refusal with the
//! reason and a witness; and the status badge of any signature.

use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use choucha_app_api::{CommandError, Lang};
use choucha_shared::record::{Signature, SignatureRefusal};

use crate::components::widgets::Thumb;
use crate::i18n::tr;
use crate::state::{Action, use_store};

/// Whether `sig` signs the content as it is now (`content_hash`), is stale,
/// or is missing, with its image when it signs.
pub fn signature_status(lang: Lang, sig: Option<&Signature>, content_hash: &str) -> Html {
    match sig {
        Some(s) if s.content_hash.as_str() == content_hash => html! {
            <><span class="badge ok sig-status" data-status="signed">{ tr(lang, "已签字", "Signed") }</span><Thumb sha={AttrValue::from(s.image_sha256.to_string())} class="sig-thumb" /></>
        },
        Some(_) => html! {
            <span class="badge warn sig-status" data-status="stale">{ tr(lang, "内容已改，须重签", "Changed since: sign again") }</span>
        },
        None => html! {
            <span class="badge sig-status" data-status="missing">{ tr(lang, "未签字", "Not signed") }</span>
        },
    }
}

#[derive(Properties, PartialEq)]
pub struct EnterpriseSignProps {
    pub editable: bool,
    pub signature: Option<Signature>,
    pub refusal: Option<SignatureRefusal>,
    pub content_hash: AttrValue,
    /// The representative's name: open the pad for them.
    pub on_sign: Callback<String>,
    /// The refusal's reason and witness.
    pub on_refuse: Callback<(String, Option<String>)>,
}

#[function_component(EnterpriseSign)]
pub fn enterprise_sign(p: &EnterpriseSignProps) -> Html {
    let store = use_store();
    let lang = store.lang;
    let name = use_node_ref();
    let reason = use_node_ref();
    let witness = use_node_ref();
    let sign = {
        let (name, store, on_sign) = (name.clone(), store.clone(), p.on_sign.clone());
        Callback::from(move |_| {
            let n = name
                .cast::<HtmlInputElement>()
                .map(|i| i.value().trim().to_owned())
                .unwrap_or_default();
            if n.is_empty() {
                store.dispatch(Action::Failed(CommandError::new(
                    "refused",
                    "请先填写企业负责人或委托人姓名 (enter the representative's name first)",
                )));
                return;
            }
            on_sign.emit(n);
        })
    };
    let refuse = {
        let (reason, witness, on_refuse) = (reason.clone(), witness.clone(), p.on_refuse.clone());
        Callback::from(move |_| {
            let r = reason
                .cast::<HtmlTextAreaElement>()
                .map(|t| t.value())
                .unwrap_or_default();
            let w = witness.cast::<HtmlInputElement>().map(|t| t.value());
            on_refuse.emit((r, w));
        })
    };
    html! {
        <>
        <div class="signer">
            { signature_status(lang, p.signature.as_ref(), &p.content_hash) }
            if let Some(s) = &p.signature { <b>{ &s.name }</b> }
        </div>
        if p.editable {
            <label>{ tr(lang, "企业负责人或委托人姓名", "Representative's name") }<input id="ent-name" ref={name} type="text" /></label>
            <button class="sign-btn big primary" data-signer="enterprise" onclick={sign}>{ tr(lang, "企业签字", "Enterprise signs") }</button>
            <details class="refusal" open={p.refusal.is_some()}>
                <summary>{ tr(lang, "企业拒绝签字", "The enterprise refuses to sign") }</summary>
                <label>{ tr(lang, "拒签理由", "Reason") }<textarea id="refusal-reason" ref={reason} rows="2" /></label>
                <label>{ tr(lang, "见证人（可选）", "Witness (optional)") }<input id="refusal-witness" ref={witness} type="text" /></label>
                <button id="refusal-save" class="big" onclick={refuse}>{ tr(lang, "记录拒签", "Record the refusal") }</button>
            </details>
        }
        if let Some(r) = &p.refusal {
            <p class="warn" id="refusal-recorded">{ tr(lang, "已记录拒签：", "Refusal recorded: ") }{ &r.reason }</p>
        }
        </>
    }
}
