//! The app state as a `Reducible` with an `Action` enum. Screens read it
//! from the context and dispatch actions; work that needs the shell runs in
//! [`spawn`], which marks the app busy and turns a failure into the error
//! banner (with the violations, when sealing was refused).

use std::future::Future;
use std::rc::Rc;

use yew::prelude::*;

use choucha_app_api::{
    CommandError, Home, Inspection, Lang, PinView, RecheckView, Settings, SyncView, TaskDetail,
};
use choucha_shared::completeness::Violation;

#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    Loading,
    Enrol,
    Tasks,
    Task,
    /// 检查情况: the walk-through or a case with its evidence.
    Outcome,
    Items,
    Photos,
    Findings,
    Review,
    Sign,
    /// 复查: the follow-up visit of a rectification order.
    Recheck,
    Sync,
    Settings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    pub lang: Lang,
    pub screen: Screen,
    pub home: Option<Home>,
    pub detail: Option<TaskDetail>,
    pub inspection: Option<Inspection>,
    /// The 复查 on screen.
    pub recheck: Option<RecheckView>,
    /// The checklist item on screen (index into the checklist's items).
    pub item: usize,
    pub error: Option<String>,
    pub info: Option<String>,
    /// Why the last seal was refused.
    pub seal_refused: Vec<Violation>,
    pub busy: u32,
    /// The last photo taken, watermarked, as a data URL.
    pub last_photo: Option<String>,
    /// The PIN lock; `None` until first asked. Locked (or no PIN yet): the
    /// lock screen takes the whole window.
    pub pin: Option<PinView>,
}

impl AppState {
    /// Whether the lock screen is up.
    pub fn pin_locked(&self) -> bool {
        self.pin
            .as_ref()
            .is_none_or(|p| p.locked || p.needs_new_pin)
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            lang: Lang::Zh,
            screen: Screen::Loading,
            home: None,
            detail: None,
            inspection: None,
            recheck: None,
            item: 0,
            error: None,
            info: None,
            seal_refused: Vec::new(),
            busy: 0,
            last_photo: None,
            pin: None,
        }
    }
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // one action per user step: size does not matter
pub enum Action {
    Home(Home),
    Go(Screen),
    Detail(TaskDetail),
    Inspection(Inspection),
    /// A 复查 changed (or was opened): shown on its screen.
    Recheck(RecheckView),
    /// Show the checklist at this item.
    Item(usize),
    Failed(CommandError),
    Info(String),
    DismissMessages,
    Busy(bool),
    Sync(SyncView),
    Photo(String),
    Lang(Lang),
    Settings(Settings),
    /// Where the PIN lock stands.
    Pin(PinView),
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        // The sync status is polled every 1.5 s and mostly unchanged: the
        // same state (same `Rc`) means no re-render of the whole screen.
        if let Action::Sync(v) = &action {
            if self.home.as_ref().map(|h| &h.sync) == Some(v) {
                return self;
            }
        }
        // The PIN lock is polled too: unchanged, nothing re-renders.
        if let Action::Pin(p) = &action {
            if self.pin.as_ref() == Some(p) {
                return self;
            }
        }
        let mut s = (*self).clone();
        match action {
            Action::Home(h) => {
                s.lang = h.settings.lang;
                // The enrolment screen gives way once enrolled (also when
                // the start-up enrolment finished in the background).
                if s.screen == Screen::Loading
                    || (h.enrolment.is_none() && s.screen != Screen::Settings)
                    || (h.enrolment.is_some() && s.screen == Screen::Enrol)
                {
                    s.screen = if h.enrolment.is_some() {
                        Screen::Tasks
                    } else {
                        Screen::Enrol
                    };
                }
                s.home = Some(h);
            }
            Action::Go(screen) => {
                s.screen = screen;
                s.error = None;
                s.info = None;
            }
            Action::Detail(d) => {
                s.detail = Some(d);
                s.screen = Screen::Task;
                s.error = None;
                s.info = None;
            }
            Action::Inspection(i) => {
                if s.inspection.as_ref().map(|x| x.record.record_id) != Some(i.record.record_id) {
                    s.item = 0;
                    s.last_photo = None;
                    s.seal_refused.clear();
                }
                // What sealing was refused for is shown until it is fixed.
                s.seal_refused.retain(|v| i.violations.contains(v));
                s.inspection = Some(i);
            }
            Action::Recheck(r) => {
                if s.recheck.as_ref().map(|x| &x.task.recheck_id) != Some(&r.task.recheck_id) {
                    s.last_photo = None;
                    s.seal_refused.clear();
                }
                s.seal_refused.retain(|v| r.violations.contains(v));
                s.recheck = Some(r);
                if s.screen != Screen::Recheck {
                    s.screen = Screen::Recheck;
                    s.error = None;
                    s.info = None;
                }
            }
            Action::Item(n) => {
                s.item = n;
                s.screen = Screen::Items;
                s.error = None;
                s.info = None;
            }
            // A command refused for the lock (idle too long): up comes
            // the lock screen; nothing else is said.
            Action::Failed(e) if e.code == "locked" => {
                if let Some(p) = s.pin.as_mut() {
                    p.locked = true;
                }
            }
            Action::Failed(e) => {
                if !e.violations.is_empty() {
                    s.seal_refused = e.violations.clone();
                }
                s.error = Some(e.message);
                s.info = None;
            }
            Action::Info(m) => {
                s.info = Some(m);
                s.error = None;
            }
            Action::DismissMessages => {
                s.info = None;
                s.error = None;
            }
            Action::Busy(on) => {
                s.busy = if on {
                    s.busy + 1
                } else {
                    s.busy.saturating_sub(1)
                };
            }
            Action::Sync(v) => {
                if let Some(h) = s.home.as_mut() {
                    h.sync = v;
                }
            }
            Action::Photo(url) => s.last_photo = Some(url),
            Action::Lang(l) => {
                s.lang = l;
                if let Some(h) = s.home.as_mut() {
                    h.settings.lang = l;
                }
            }
            Action::Pin(p) => {
                s.pin = Some(p);
            }
            Action::Settings(settings) => {
                s.lang = settings.lang;
                if let Some(h) = s.home.as_mut() {
                    h.settings = settings;
                }
            }
        }
        Rc::new(s)
    }
}

pub type Store = UseReducerHandle<AppState>;

/// The store from the context (the root always provides it).
#[hook]
pub fn use_store() -> Store {
    use_context::<Store>().unwrap_or_else(|| unreachable!("the root provides the store"))
}

/// Runs `work` with the busy indicator on; its error goes to the banner.
pub fn spawn<F>(store: &Store, work: F)
where
    F: Future<Output = Result<(), CommandError>> + 'static,
{
    let store = store.clone();
    wasm_bindgen_futures::spawn_local(async move {
        store.dispatch(Action::Busy(true));
        if let Err(e) = work.await {
            store.dispatch(Action::Failed(e));
        }
        store.dispatch(Action::Busy(false));
    });
}

/// Reloads the start screen's data.
pub async fn reload_home(store: &Store) -> Result<(), CommandError> {
    let h: Home =
        crate::ipc::invoke::<choucha_app_api::cmd::Home>(&choucha_app_api::command::NoArgs {})
            .await?;
    store.dispatch(Action::Home(h));
    Ok(())
}
