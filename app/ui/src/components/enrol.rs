//! Enrolment: the server address and the one-time code, or the QR payload
//! the console shows (pasted or read by a scanner).

use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

use choucha_app_api::{EnrolTarget, EnrolmentView, cmd, parse_qr};

use crate::i18n::tr;
use crate::ipc;
use crate::state::{Action, Screen, reload_home, spawn, use_store};

#[function_component(EnrolScreen)]
pub fn enrol_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let server = use_node_ref();
    let code = use_node_ref();
    let qr = use_node_ref();

    let enrol_with = {
        let store = store.clone();
        move |target: EnrolTarget| {
            let store2 = store.clone();
            spawn(&store, async move {
                let e: EnrolmentView = ipc::invoke::<cmd::Enrol>(&target).await?;
                reload_home(&store2).await?;
                store2.dispatch(Action::Go(Screen::Tasks));
                store2.dispatch(Action::Info(format!(
                    "已注册为 {}（{}）",
                    e.officer_name, e.officer_id
                )));
                Ok(())
            });
        }
    };
    let submit = {
        let (server, code, enrol_with) = (server.clone(), code.clone(), enrol_with.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let s = server
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            let c = code
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            enrol_with(EnrolTarget {
                server_url: s.trim().to_owned(),
                code: c.trim().to_owned(),
                ca_pem: None,
            });
        })
    };
    let submit_qr = {
        let (qr, store) = (qr.clone(), store.clone());
        Callback::from(move |_| {
            let payload = qr
                .cast::<HtmlTextAreaElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            match parse_qr(&payload) {
                Ok(t) => enrol_with(t),
                Err(e) => store.dispatch(Action::Failed(choucha_app_api::CommandError::new(
                    "bad_request",
                    e.to_string(),
                ))),
            }
        })
    };
    html! {
        <section id="screen-enrol" class="card narrow">
            <h1>{ tr(lang, "设备注册", "Enrol this device") }</h1>
            <p class="hint">{ tr(lang,
                "请输入质量科提供的服务器地址和一次性注册码，或粘贴/扫描注册二维码的内容。",
                "Enter the server address and the one-time code from the quality section, or paste/scan the enrolment QR code.") }</p>
            <form onsubmit={submit}>
                <label>{ tr(lang, "服务器地址", "Server address") }
                    <input id="enrol-server" ref={server} type="url" placeholder="http://192.168.1.10:8080" autocomplete="off" />
                </label>
                <label>{ tr(lang, "注册码", "Enrolment code") }
                    <input id="enrol-code" ref={code} type="text" placeholder="XXXX-XXXX-XXXX" autocomplete="off" autocapitalize="characters" />
                </label>
                <button id="enrol-submit" class="primary big" type="submit">{ tr(lang, "注册", "Enrol") }</button>
            </form>
            <details class="qr">
                <summary>{ tr(lang, "使用二维码内容注册", "Enrol with the QR code") }</summary>
                <textarea id="enrol-qr" ref={qr} rows="2" placeholder="choucha://enrol?server=…&code=…" />
                <button id="enrol-qr-submit" class="big" onclick={submit_qr}>{ tr(lang, "用二维码注册", "Enrol from QR") }</button>
            </details>
        </section>
    }
}
