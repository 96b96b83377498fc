//! The one module that talks to the Tauri shell. Arguments and answers are
//! the `choucha-app-api` types, passed as JSON so that both sides read the
//! same serde representation.

use std::cell::Cell;

use choucha_app_api::{Command, CommandError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "core"], js_name = invoke)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "core"], js_name = invoke)]
    async fn tauri_invoke_with(
        cmd: &str,
        body: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsValue>;
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, CommandError> {
    let json =
        serde_json::to_string(v).map_err(|e| CommandError::new("internal", e.to_string()))?;
    js_sys::JSON::parse(&json).map_err(|_| CommandError::new("internal", "JSON"))
}

fn from_js<R: DeserializeOwned>(v: JsValue) -> Result<R, CommandError> {
    let json: String = if v.is_undefined() {
        "null".into()
    } else {
        js_sys::JSON::stringify(&v)
            .map(String::from)
            .unwrap_or_else(|_| "null".into())
    };
    serde_json::from_str(&json).map_err(|e| {
        CommandError::new(
            "internal",
            format!("界面与应用版本不一致 (unexpected answer): {e}"),
        )
    })
}

/// What a rejected invoke carries: our `CommandError`, or a plain string
/// from Tauri itself (unknown command, arguments that do not deserialise).
fn error_from(v: JsValue) -> CommandError {
    if let Some(s) = v.as_string() {
        return CommandError::new("internal", s);
    }
    from_js::<CommandError>(v.clone()).unwrap_or_else(|_| {
        CommandError::new(
            "internal",
            js_sys::JSON::stringify(&v)
                .map(String::from)
                .unwrap_or_else(|_| "未知错误 (unknown error)".into()),
        )
    })
}

thread_local! {
    static NEXT_TICKET: Cell<u64> = const { Cell::new(0) };
    static SERVING: Cell<u64> = const { Cell::new(0) };
}

/// Commands that change the record run one at a time, in the order the
/// user acted ([`Command::SERIAL`]): a note saved on blur and the verdict
/// tapped right after must not overtake each other in the shell's thread
/// pool. (The core serialises writes too; this keeps the user's order.)
struct Turn(bool);

impl Turn {
    async fn wait(serial: bool) -> Self {
        if !serial {
            return Self(false);
        }
        let mine = NEXT_TICKET.with(|n| n.replace(n.get() + 1));
        while SERVING.with(Cell::get) != mine {
            gloo_timers::future::TimeoutFuture::new(2).await;
        }
        Self(true)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.0 {
            SERVING.with(|s| s.set(s.get() + 1));
        }
    }
}

/// Invokes the shell's handler of `C` with `args`; the answer is a
/// `C::Output` or the handler's [`CommandError`].
pub async fn invoke<C: Command>(args: &C::Args) -> Result<C::Output, CommandError> {
    let args = to_js(&serde_json::json!({ "args": args }))?;
    let _turn = Turn::wait(C::SERIAL).await;
    match tauri_invoke(C::NAME, args).await {
        Ok(v) => from_js(v),
        Err(e) => Err(error_from(e)),
    }
}

/// Calls a plugin's command (not one of ours) with named arguments.
pub async fn plugin<A: Serialize, R: DeserializeOwned>(
    cmd: &str,
    args: &A,
) -> Result<R, CommandError> {
    let args = to_js(args)?;
    match tauri_invoke(cmd, args).await {
        Ok(v) => from_js(v),
        Err(e) => Err(error_from(e)),
    }
}

/// Invokes `C` with a raw body (file bytes) and headers.
pub async fn invoke_raw<C: Command>(
    body: js_sys::Uint8Array,
    headers: &[(&str, String)],
) -> Result<C::Output, CommandError> {
    let h = js_sys::Object::new();
    for (k, v) in headers {
        js_sys::Reflect::set(&h, &JsValue::from_str(k), &JsValue::from_str(v))
            .map_err(|_| CommandError::new("internal", "headers"))?;
    }
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &JsValue::from_str("headers"), &h)
        .map_err(|_| CommandError::new("internal", "headers"))?;
    let _turn = Turn::wait(C::SERIAL).await;
    match tauri_invoke_with(C::NAME, body.into(), options.into()).await {
        Ok(v) => from_js(v),
        Err(e) => Err(error_from(e)),
    }
}
