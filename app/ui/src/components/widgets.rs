//! Small pieces several screens use: the camera/file input that sends a
//! photo through the shell's photo pipeline, a lazily loaded evidence
//! thumbnail, and the platform position watcher.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use choucha_app_api::command::BlobId;
use choucha_app_api::{
    LocationFix, PHOTO_RECORD_HEADER, PHOTO_SUBJECT_HEADER, PhotoTaken, RecheckPhotoTaken, cmd,
    encode_subject,
};
use choucha_shared::record::PhotoSubject;

use crate::ipc;
use crate::state::{Action, spawn, use_store};

#[derive(Properties, PartialEq)]
pub struct PhotoInputProps {
    pub subject: PhotoSubject,
    /// Element id of the file input (tests attach files to it).
    pub id: AttrValue,
    pub label: AttrValue,
    /// For a 复查 record: the photo goes to it instead of the inspection
    /// on screen.
    #[prop_or_default]
    pub recheck: Option<uuid::Uuid>,
}

/// A big camera button: `<input type=file accept=image/* capture>` opens
/// the camera on Android/iOS and a file chooser on desktops. The file goes
/// as raw bytes to the shell, which refuses what is not a photo with a
/// message saying so.
#[function_component(PhotoInput)]
pub fn photo_input(p: &PhotoInputProps) -> Html {
    let store = use_store();
    let recheck = p.recheck;
    let (record_id, editable) = match recheck {
        Some(id) => (
            id,
            store
                .recheck
                .as_ref()
                .is_some_and(|r| r.state != choucha_app_api::RecheckState::Sealed),
        ),
        None => match store.inspection.as_ref() {
            Some(i) => (i.record.record_id, i.editable),
            None => return html! {},
        },
    };
    let onchange = {
        let store = store.clone();
        let subject = p.subject.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(files) = input.files() else { return };
            let picked: Vec<web_sys::File> =
                (0..files.length()).filter_map(|i| files.get(i)).collect();
            // Clear it, so choosing the same file again fires a change too.
            input.set_value("");
            let store2 = store.clone();
            let subject = subject.clone();
            spawn(&store, async move {
                for file in picked {
                    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
                        .await
                        .map_err(|_| {
                            choucha_app_api::CommandError::new(
                                "io",
                                "无法读取所选文件 (file unreadable)",
                            )
                        })?;
                    let bytes = js_sys::Uint8Array::new(&buffer);
                    let headers = [
                        (PHOTO_RECORD_HEADER, record_id.to_string()),
                        (PHOTO_SUBJECT_HEADER, encode_subject(&subject)),
                    ];
                    if recheck.is_some() {
                        let taken: RecheckPhotoTaken =
                            ipc::invoke_raw::<cmd::TakeRecheckPhoto>(bytes, &headers).await?;
                        store2.dispatch(Action::Photo(taken.data_url));
                        store2.dispatch(Action::Recheck(taken.recheck));
                    } else {
                        let taken: PhotoTaken =
                            ipc::invoke_raw::<cmd::TakePhoto>(bytes, &headers).await?;
                        store2.dispatch(Action::Photo(taken.data_url));
                        store2.dispatch(Action::Inspection(taken.inspection));
                    }
                }
                Ok(())
            });
        })
    };
    html! {
        <label class={classes!("camera-btn", (!editable).then_some("disabled"))}>
            <span>{ p.label.clone() }</span>
            <input id={p.id.clone()} type="file" accept="image/*" capture="environment"
                disabled={!editable} onchange={onchange} />
        </label>
    }
}

#[derive(Properties, PartialEq)]
pub struct ThumbProps {
    pub sha: AttrValue,
    #[prop_or_default]
    pub class: Classes,
}

/// An evidence image, loaded from the encrypted store when shown.
#[function_component(Thumb)]
pub fn thumb(p: &ThumbProps) -> Html {
    let url = use_state(|| None::<String>);
    {
        let url = url.clone();
        use_effect_with(p.sha.clone(), move |sha| {
            let sha = sha.to_string();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(u) = ipc::invoke::<cmd::PhotoData>(&BlobId { sha256: sha }).await {
                    url.set(Some(u));
                }
            });
        });
    }
    match (*url).clone() {
        Some(u) => {
            html! { <img class={classes!("thumb", p.class.clone())} src={u} data-sha={p.sha.clone()} alt="" /> }
        }
        None => html! { <div class={classes!("thumb", "loading", p.class.clone())}></div> },
    }
}

/// "No photo yet" / photo count line.
pub fn photo_count(lang: choucha_app_api::Lang, n: usize) -> String {
    match lang {
        choucha_app_api::Lang::Zh => format!("{n} 张照片"),
        choucha_app_api::Lang::En => format!("{n} photo(s)"),
    }
}

/// Forwards the platform's positions to the shell. On Android/iOS the
/// shell registers the Tauri geolocation plugin and positions come from its
/// `get_current_position` command (asked every 15 s); where the plugin is
/// not registered (desktop), the webview's `navigator.geolocation` is
/// watched instead. Errors (no permission, no receiver) are not shown
/// here: the photo screen says how many photos carry a position.
pub fn watch_position() {
    wasm_bindgen_futures::spawn_local(async {
        let options = serde_json::json!({ "options": { "enableHighAccuracy": true, "timeout": 10000, "maximumAge": 0 } });
        let mut plugin = true;
        while plugin {
            match ipc::plugin::<_, serde_json::Value>(
                "plugin:geolocation|get_current_position",
                &options,
            )
            .await
            {
                Ok(pos) => {
                    forward(&pos);
                    gloo_timers::future::TimeoutFuture::new(15_000).await;
                }
                Err(_) => plugin = false,
            }
        }
        watch_webview();
    });
}

/// Sends a W3C-shaped position (`{timestamp, coords: {latitude, …}}`).
fn forward(pos: &serde_json::Value) {
    let c = &pos["coords"];
    let (Some(lat), Some(lon)) = (c["latitude"].as_f64(), c["longitude"].as_f64()) else {
        return;
    };
    let fix = LocationFix {
        lat,
        lon,
        accuracy_m: c["accuracy"].as_f64(),
        timestamp_ms: pos["timestamp"].as_f64().unwrap_or(0.0) as i64,
    };
    wasm_bindgen_futures::spawn_local(async move {
        let _: Result<(), _> = ipc::invoke::<cmd::LocationFix>(&fix).await;
    });
}

fn watch_webview() {
    let Some(geo) = web_sys::window().and_then(|w| w.navigator().geolocation().ok()) else {
        return;
    };
    let on_fix = Closure::<dyn FnMut(JsValue)>::new(move |pos: JsValue| {
        let get = |obj: &JsValue, k: &str| js_sys::Reflect::get(obj, &JsValue::from_str(k)).ok();
        let Some(coords) = get(&pos, "coords") else {
            return;
        };
        let num = |k: &str| get(&coords, k).and_then(|v| v.as_f64());
        forward(&serde_json::json!({
            "timestamp": get(&pos, "timestamp").and_then(|v| v.as_f64()),
            "coords": { "latitude": num("latitude"), "longitude": num("longitude"), "accuracy": num("accuracy") },
        }));
    });
    let on_error = Closure::<dyn FnMut(JsValue)>::new(|_e: JsValue| {});
    let _ = geo.watch_position_with_error_callback(
        on_fix.as_ref().unchecked_ref(),
        Some(on_error.as_ref().unchecked_ref()),
    );
    // The watch lives as long as the app.
    on_fix.forget();
    on_error.forget();
}
