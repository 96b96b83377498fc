//! The field app's front end (Yew, client-side rendered, wasm32).
//!
//! * [`ipc`] — the one module that talks to the Tauri shell (`invoke`).
//! * [`state`] — the app state as a `Reducible` with an `Action` enum.
//! * [`i18n`] — Chinese first, English switchable.
//! * [`components`] — one screen (or widget) per file.
//!
//! Everything the inspector does is stored by the shell before the screen
//! changes, so the app works fully offline; sync runs in the background.

mod components;
mod i18n;
mod ipc;
mod state;
mod timing;

fn main() {
    // The native build exists only for the workspace's clippy and tests;
    // the app runs this in the webview (wasm32).
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    yew::Renderer::<components::app::Root>::new().render();
}
