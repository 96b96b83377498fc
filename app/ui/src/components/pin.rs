//! The lock screen (PIN 锁屏): the first PIN, typed twice; the PIN at
//! start and after idle time, with how many tries are left and when the
//! next is allowed; the notice after a wipe. And the PIN change form the
//! settings screen shows.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use choucha_app_api::{CommandError, PinChange, PinEntry, cmd};

use crate::i18n::tr;
use crate::ipc;
use crate::state::{Action, reload_home, spawn, use_store};

fn value(r: &NodeRef) -> String {
    r.cast::<HtmlInputElement>()
        .map(|i| i.value().trim().to_owned())
        .unwrap_or_default()
}

fn clear(refs: &[&NodeRef]) {
    for r in refs {
        if let Some(i) = r.cast::<HtmlInputElement>() {
            i.set_value("");
        }
    }
}

/// The whole window while the data are locked.
#[function_component(PinScreen)]
pub fn pin_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let Some(pin) = store.pin.clone() else {
        return html! { <div class="loading">{ tr(lang, "正在加载…", "Loading…") }</div> };
    };
    let (first, second) = (use_node_ref(), use_node_ref());
    // After each answer: the PIN view again (tries left, wait), or on
    // success the start screen.
    let submit = {
        let store = store.clone();
        let (first, second) = (first.clone(), second.clone());
        let new_pin = pin.needs_new_pin;
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let typed = value(&first);
            if new_pin && typed != value(&second) {
                store.dispatch(Action::Failed(CommandError::new(
                    "refused",
                    tr(
                        store.lang,
                        "两次输入的 PIN 不一致，请重新输入",
                        "The two PINs differ; type them again",
                    ),
                )));
                clear(&[&first, &second]);
                return;
            }
            clear(&[&first, &second]);
            let store2 = store.clone();
            spawn(&store, async move {
                let entry = PinEntry { pin: typed };
                let answer = if new_pin {
                    ipc::invoke::<cmd::SetPin>(&entry).await
                } else {
                    ipc::invoke::<cmd::Unlock>(&entry).await
                };
                match answer {
                    Ok(v) => {
                        store2.dispatch(Action::Pin(v));
                        store2.dispatch(Action::DismissMessages);
                        reload_home(&store2).await
                    }
                    Err(e) => {
                        // Tries left and the wait are in the view.
                        if let Ok(v) =
                            ipc::invoke::<cmd::PinStatus>(&choucha_app_api::command::NoArgs {})
                                .await
                        {
                            store2.dispatch(Action::Pin(v));
                        }
                        Err(e)
                    }
                }
            });
        })
    };
    let (title, hint) = if pin.needs_new_pin {
        (
            tr(lang, "设置 PIN", "Set a PIN"),
            tr(
                lang,
                "本机的检查记录、照片和签名以 PIN 加密保存。请设置 6 至 12 位数字 PIN，每次打开应用及闲置后须输入。请牢记：PIN 遗失后本机未同步的数据无法恢复。",
                "This tablet's records, photos and signatures are encrypted under your PIN. Choose 6 to 12 digits; you type it on every start and after idle time. Keep it in mind: without it, what has not been synced cannot be recovered.",
            ),
        )
    } else {
        (
            tr(lang, "请输入 PIN 解锁", "Enter your PIN"),
            tr(lang, "本机数据已锁定。", "This tablet's data are locked."),
        )
    };
    html! {
        <section id="pin-screen" class="card pin">
            <h2>{ title }</h2>
            if pin.wiped {
                <p id="pin-wiped" class="error">{ tr(lang,
                    "PIN 连续错误次数过多，本机的检查记录、照片、签名和密钥已全部清除。已同步到服务器的内容不受影响；请设置新 PIN 后重新注册本设备。",
                    "Too many wrong PINs: this tablet's records, photos, signatures and key were wiped. What reached the server is not affected; set a new PIN and enrol the device again.") }</p>
            }
            <p>{ hint }</p>
            <form id="pin-form" onsubmit={submit}>
                <label>{ tr(lang, "PIN", "PIN") }
                    <input id="pin-input" type="password" inputmode="numeric" autocomplete="off" maxlength="12" ref={first} />
                </label>
                if pin.needs_new_pin {
                    <label>{ tr(lang, "再次输入 PIN", "The PIN again") }
                        <input id="pin-again" type="password" inputmode="numeric" autocomplete="off" maxlength="12" ref={second} />
                    </label>
                }
                <button id="pin-submit" type="submit" class="primary big">
                    { if pin.needs_new_pin { tr(lang, "设置", "Set") } else { tr(lang, "解锁", "Unlock") } }
                </button>
            </form>
            if !pin.needs_new_pin && pin.failures > 0 {
                <p id="pin-tries" class="warn">{ match lang {
                    choucha_app_api::Lang::Zh => format!("已连续输错 {} 次，再错 {} 次将清除本机数据。", pin.failures, pin.remaining),
                    choucha_app_api::Lang::En => format!("{} wrong in a row; {} more and this tablet's data are wiped.", pin.failures, pin.remaining),
                } }</p>
            }
            if let Some(w) = &pin.wait_until {
                <p id="pin-wait" class="warn">{ match lang {
                    choucha_app_api::Lang::Zh => format!("请于 {w} 后再试。"),
                    choucha_app_api::Lang::En => format!("Try again after {w}."),
                } }</p>
            }
        </section>
    }
}

/// The settings screen's PIN change.
#[function_component(ChangePinForm)]
pub fn change_pin_form() -> Html {
    let store = use_store();
    let lang = store.lang;
    let (old, new, again) = (use_node_ref(), use_node_ref(), use_node_ref());
    let submit = {
        let store = store.clone();
        let refs = (old.clone(), new.clone(), again.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (old_pin, new_pin, again_pin) = (value(&refs.0), value(&refs.1), value(&refs.2));
            clear(&[&refs.0, &refs.1, &refs.2]);
            if new_pin != again_pin {
                store.dispatch(Action::Failed(CommandError::new(
                    "refused",
                    tr(
                        store.lang,
                        "两次输入的新 PIN 不一致",
                        "The two new PINs differ",
                    ),
                )));
                return;
            }
            let store2 = store.clone();
            spawn(&store, async move {
                let v = ipc::invoke::<cmd::ChangePin>(&PinChange { old_pin, new_pin }).await?;
                store2.dispatch(Action::Pin(v));
                store2.dispatch(Action::Info(
                    tr(store2.lang, "PIN 已更改", "PIN changed").to_owned(),
                ));
                Ok(())
            });
        })
    };
    let kind = store
        .pin
        .as_ref()
        .map(|p| p.secret_kind.clone())
        .unwrap_or_default();
    let idle = store
        .pin
        .as_ref()
        .map(|p| p.idle_lock_minutes)
        .unwrap_or_default();
    html! {
        <section id="change-pin" class="card">
            <h3>{ tr(lang, "更改 PIN", "Change the PIN") }</h3>
            <p class="hint">{ match lang {
                choucha_app_api::Lang::Zh => format!("闲置 {idle} 分钟后自动锁定。设备密钥保存于：{kind}。"),
                choucha_app_api::Lang::En => format!("Locks after {idle} minutes without use. Device secret kept in: {kind}."),
            } }</p>
            <form id="change-pin-form" onsubmit={submit}>
                <label>{ tr(lang, "当前 PIN", "Current PIN") }<input id="pin-old" type="password" inputmode="numeric" maxlength="12" ref={old} /></label>
                <label>{ tr(lang, "新 PIN", "New PIN") }<input id="pin-new" type="password" inputmode="numeric" maxlength="12" ref={new} /></label>
                <label>{ tr(lang, "再次输入新 PIN", "New PIN again") }<input id="pin-new-again" type="password" inputmode="numeric" maxlength="12" ref={again} /></label>
                <button id="pin-change" type="submit">{ tr(lang, "更改", "Change") }</button>
            </form>
        </section>
    }
}
