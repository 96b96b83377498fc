//! Front-end timings for the benchmarks: when the task list first shows,
//! and how long a checklist takes from the tap to its first item on screen.

use std::cell::Cell;

use choucha_app_api::{UiTiming, cmd};

thread_local! {
    static CHECKLIST_TAP: Cell<Option<f64>> = const { Cell::new(None) };
    static TASKS_REPORTED: Cell<bool> = const { Cell::new(false) };
}

pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

fn report(name: &str, ms: f64) {
    let timing = UiTiming {
        name: name.to_owned(),
        ms,
    };
    wasm_bindgen_futures::spawn_local(async move {
        let _: Result<(), _> = crate::ipc::invoke::<cmd::UiTiming>(&timing).await;
    });
}

/// The task list is on screen (reported once per start).
pub fn tasks_shown() {
    if !TASKS_REPORTED.with(|r| r.replace(true)) {
        report("tasks_shown", now_ms());
    }
}

/// The user asked for a checklist.
pub fn checklist_tapped() {
    CHECKLIST_TAP.with(|t| t.set(Some(now_ms())));
}

/// The checklist's first item is on screen.
pub fn checklist_shown() {
    if let Some(start) = CHECKLIST_TAP.with(|t| t.take()) {
        report("checklist_open", now_ms() - start);
    }
}
