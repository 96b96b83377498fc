//! Settings: language, where photo positions come from, the authority
//! printed on rectification orders, the device name; and the enrolment.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use choucha_app_api::{Lang, LocationSetting, Settings, cmd};

use crate::components::text_field::TextField;
use crate::i18n::tr;
use crate::ipc;
use crate::state::{Action, spawn, use_store};

fn input(r: &NodeRef) -> String {
    r.cast::<HtmlInputElement>()
        .map(|i| i.value().trim().to_owned())
        .unwrap_or_default()
}

#[function_component(SettingsScreen)]
pub fn settings_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let Some(home) = store.home.clone() else {
        return html! {};
    };
    let s = home.settings.clone();
    let mode = use_state(|| match s.location {
        LocationSetting::Platform => "platform",
        LocationSetting::Fixed { .. } => "fixed",
        LocationSetting::Simulated => "simulated",
    });
    let (lat, lon, authority, device) = (
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
    );
    let lang_ref = use_node_ref();
    let (flat, flon) = match s.location {
        LocationSetting::Fixed { lat, lon, .. } => (lat.to_string(), lon.to_string()),
        _ => (String::new(), String::new()),
    };
    let save = {
        let store = store.clone();
        let mode = mode.clone();
        let refs = (
            lat.clone(),
            lon.clone(),
            authority.clone(),
            device.clone(),
            lang_ref.clone(),
        );
        let base = s.clone();
        Callback::from(move |_| {
            let location = match *mode {
                "fixed" => {
                    let (Ok(lat), Ok(lon)) =
                        (input(&refs.0).parse::<f64>(), input(&refs.1).parse::<f64>())
                    else {
                        store.dispatch(Action::Failed(choucha_app_api::CommandError::new(
                            "refused",
                            "固定位置须填写纬度和经度（数字）(latitude and longitude must be numbers)",
                        )));
                        return;
                    };
                    LocationSetting::Fixed {
                        lat,
                        lon,
                        accuracy_m: None,
                    }
                }
                "simulated" => LocationSetting::Simulated,
                _ => LocationSetting::Platform,
            };
            let lang = match refs
                .4
                .cast::<HtmlSelectElement>()
                .map(|s| s.value())
                .as_deref()
            {
                Some("en") => Lang::En,
                _ => Lang::Zh,
            };
            let settings = Settings {
                lang,
                location,
                authority: input(&refs.2),
                device_name: input(&refs.3),
                ..base.clone()
            };
            let store2 = store.clone();
            spawn(&store, async move {
                let saved: Settings = ipc::invoke::<cmd::SaveSettings>(&settings).await?;
                store2.dispatch(Action::Settings(saved));
                store2.dispatch(Action::Info("设置已保存 (settings saved)".into()));
                Ok(())
            });
        })
    };
    let on_mode = {
        let mode = mode.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            mode.set(match v.as_str() {
                "fixed" => "fixed",
                "simulated" => "simulated",
                _ => "platform",
            });
        })
    };
    html! {
        <section id="screen-settings" class="card narrow">
            <h1>{ tr(lang, "设置", "Settings") }</h1>
            <label>{ tr(lang, "界面语言", "Language") }
                <select id="set-lang" ref={lang_ref}>
                    <option value="zh" selected={s.lang == Lang::Zh}>{ "中文" }</option>
                    <option value="en" selected={s.lang == Lang::En}>{ "English" }</option>
                </select>
            </label>
            <label>{ tr(lang, "定位来源", "Position source") }
                <select id="set-location" onchange={on_mode}>
                    <option value="platform" selected={*mode == "platform"}>{ tr(lang, "设备定位（平板 GPS）", "Device position (tablet GPS)") }</option>
                    <option value="fixed" selected={*mode == "fixed"}>{ tr(lang, "固定位置（台式机）", "Fixed point (desktop)") }</option>
                    <option value="simulated" selected={*mode == "simulated"}>{ tr(lang, "模拟定位（演示）", "Simulated (demo)") }</option>
                </select>
            </label>
            if *mode == "fixed" {
                <div class="row">
                    <label>{ tr(lang, "纬度", "Latitude") }<TextField id="set-lat" node_ref={lat} value={flat} /></label>
                    <label>{ tr(lang, "经度", "Longitude") }<TextField id="set-lon" node_ref={lon} value={flon} /></label>
                </div>
            }
            <label>{ tr(lang, "执法机关（打印在通知书上）", "Authority (printed on orders)") }<TextField id="set-authority" node_ref={authority} value={s.authority.clone()} /></label>
            <label>{ tr(lang, "设备名称", "Device name") }<TextField id="set-device" node_ref={device} value={s.device_name.clone()} /></label>
            <button id="settings-save" class="primary big" onclick={save}>{ tr(lang, "保存设置", "Save settings") }</button>
            if let Some(e) = &home.enrolment {
                <h2>{ tr(lang, "本设备", "This device") }</h2>
                <dl class="facts">
                    <dt>{ tr(lang, "服务器", "Server") }</dt><dd class="mono" id="set-server">{ &e.server_url }</dd>
                    <dt>{ tr(lang, "设备编号", "Device ID") }</dt><dd class="mono">{ &e.device_id }</dd>
                    <dt>{ tr(lang, "执法人员", "Officer") }</dt><dd>{ format!("{}（{}）", e.officer_name, e.officer_id) }</dd>
                </dl>
            }
            <crate::components::pin::ChangePinForm />
        </section>
    }
}
