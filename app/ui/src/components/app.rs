//! The root: provides the store, loads the start data, polls the sync
//! status, forwards platform positions, and shows the top bar, the message
//! banner and the current screen.

use gloo_timers::callback::Interval;
use yew::prelude::*;

use choucha_app_api::command::NoArgs;
use choucha_app_api::{Lang, LocationSetting, SyncView, cmd};

use crate::components::{
    enrol::EnrolScreen, findings::FindingsScreen, items::ItemsScreen, outcome::OutcomeScreen,
    photos::PhotosScreen, pin::PinScreen, recheck::RecheckScreen, review::ReviewScreen,
    settings::SettingsScreen, sign::SignScreen, sync::SyncScreen, task_detail::TaskScreen,
    tasks::TasksScreen,
};
use crate::i18n::tr;
use crate::ipc;
use crate::state::{Action, AppState, Screen, Store, reload_home, spawn};

#[function_component(Root)]
pub fn root() -> Html {
    let store = use_reducer(AppState::default);

    {
        let store = store.clone();
        use_effect_with((), move |_| {
            // The lock first: nothing is read before the PIN opens it.
            spawn(&store, {
                let store = store.clone();
                async move {
                    let pin = ipc::invoke::<cmd::PinStatus>(&NoArgs {}).await?;
                    let open = !pin.locked && !pin.needs_new_pin;
                    store.dispatch(Action::Pin(pin));
                    if open {
                        reload_home(&store).await?;
                    }
                    Ok(())
                }
            });
            // Sync status in plain words, kept fresh while the app is open.
            let last = std::rc::Rc::new(std::cell::RefCell::new(None::<SyncView>));
            let poll = {
                let store = store.clone();
                Interval::new(1500, move || {
                    let store = store.clone();
                    let last = last.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        // Idle too long: the lock screen comes up by itself.
                        if let Ok(p) = ipc::invoke::<cmd::PinStatus>(&NoArgs {}).await {
                            store.dispatch(Action::Pin(p));
                        }
                        if let Ok(v) = ipc::invoke::<cmd::SyncStatus>(&NoArgs {}).await {
                            // The last status seen, kept here: the store
                            // handle in this closure is the first render's.
                            // Finished: seen running and now not, or a new
                            // success between two looks (the first look
                            // reloads once: a sync may have ended before it).
                            let finished = last.borrow().as_ref().is_none_or(|l: &SyncView| {
                                (l.running && !v.running) || l.last_success != v.last_success
                            });
                            *last.borrow_mut() = Some(v.clone());
                            store.dispatch(Action::Sync(v));
                            // A finished sync may have brought tasks or new
                            // states (the first one after the start-up
                            // enrolment brings the tasks).
                            if finished {
                                let _ = reload_home(&store).await;
                            }
                        }
                    });
                })
            };
            move || drop(poll)
        });
    }

    // The platform's position, when that is the chosen source.
    let platform_location = store
        .home
        .as_ref()
        .is_some_and(|h| h.settings.location == LocationSetting::Platform);
    use_effect_with(platform_location, |on| {
        if *on {
            crate::components::widgets::watch_position();
        }
    });

    // Revoked: the notice (then the wipe) takes the whole screen.
    let revoked = store.home.as_ref().map(|h| &h.sync).filter(|s| s.revoked);
    let locked = store.pin_locked();
    let screen = match (revoked, &store.screen) {
        _ if locked => html! { <PinScreen /> },
        (Some(s), _) => html! { <RevokedScreen wiped={s.wiped} /> },
        (None, screen) => screen_of(store.lang, screen),
    };

    html! {
        <ContextProvider<Store> context={store.clone()}>
            <div class={classes!("app", (store.busy > 0).then_some("busy"))} lang={if store.lang == Lang::Zh { "zh-CN" } else { "en" }}>
                if !locked { <TopBar /> }
                <Banner />
                <main class="screen">{ screen }</main>
            </div>
        </ContextProvider<Store>>
    }
}

fn screen_of(lang: Lang, screen: &Screen) -> Html {
    match screen {
        Screen::Loading => {
            html! { <div class="loading">{ tr(lang, "正在加载…", "Loading…") }</div> }
        }
        Screen::Enrol => html! { <EnrolScreen /> },
        Screen::Tasks => html! { <TasksScreen /> },
        Screen::Task => html! { <TaskScreen /> },
        Screen::Outcome => html! { <OutcomeScreen /> },
        Screen::Items => html! { <ItemsScreen /> },
        Screen::Photos => html! { <PhotosScreen /> },
        Screen::Findings => html! { <FindingsScreen /> },
        Screen::Review => html! { <ReviewScreen /> },
        Screen::Sign => html! { <SignScreen /> },
        Screen::Recheck => html! { <RecheckScreen /> },
        Screen::Sync => html! { <SyncScreen /> },
        Screen::Settings => html! { <SettingsScreen /> },
    }
}

#[derive(Properties, PartialEq)]
struct RevokedProps {
    wiped: bool,
}

/// The revocation notice; once read, the wipe; then an empty app.
#[function_component(RevokedScreen)]
fn revoked_screen(p: &RevokedProps) -> Html {
    let store = crate::state::use_store();
    let lang = store.lang;
    if p.wiped {
        return html! {
            <section id="screen-wiped" class="card">
                <h2>{ tr(lang, "本机数据已清除", "This tablet's data were wiped") }</h2>
                <p>{ tr(lang,
                    "本设备已被质量科注销，本机的检查记录、照片、签名和设备密钥均已清除。如需继续使用，请重新启动应用，并向质量科申请新的注册码。",
                    "The quality section revoked this device; its records, photos, signatures and key were wiped. To use it again, restart the app and ask the quality section for a new enrolment code.") }</p>
            </section>
        };
    }
    let wipe = {
        let store = store.clone();
        Callback::from(move |_| {
            let store2 = store.clone();
            spawn(&store, async move {
                let v: SyncView = ipc::invoke::<cmd::AcknowledgeRevocation>(&NoArgs {}).await?;
                store2.dispatch(Action::Sync(v));
                Ok(())
            });
        })
    };
    html! {
        <section id="screen-revoked" class="card">
            <h2>{ tr(lang, "本设备已被注销", "This device was revoked") }</h2>
            <p id="revoked-notice">{ tr(lang,
                "质量科已注销本设备（如设备遗失或更换）。本机保存的检查记录、照片、签名和设备密钥将被清除，无法恢复；已同步到服务器的内容不受影响。",
                "The quality section revoked this device (lost or replaced). The records, photos, signatures and key kept on it will be wiped for good; what reached the server is not affected.") }</p>
            <button id="wipe-confirm" class="primary big" onclick={wipe}>{ tr(lang, "我知道了，清除本机数据", "I understand — wipe this tablet") }</button>
        </section>
    }
}

#[function_component(TopBar)]
fn top_bar() -> Html {
    let store = crate::state::use_store();
    let lang = store.lang;
    let go = |screen: Screen| {
        let store = store.clone();
        Callback::from(move |_| {
            if screen == Screen::Tasks {
                spawn(&store, {
                    let store = store.clone();
                    async move { reload_home(&store).await }
                });
            }
            store.dispatch(Action::Go(screen.clone()))
        })
    };
    let toggle_lang = {
        let store = store.clone();
        Callback::from(move |_| {
            let Some(h) = store.home.as_ref() else { return };
            let mut settings = h.settings.clone();
            settings.lang = if store.lang == Lang::Zh {
                Lang::En
            } else {
                Lang::Zh
            };
            store.dispatch(Action::Lang(settings.lang));
            let store2 = store.clone();
            spawn(&store, async move {
                let s = ipc::invoke::<cmd::SaveSettings>(&settings).await?;
                store2.dispatch(Action::Settings(s));
                Ok(())
            });
        })
    };
    let enrolled = store.home.as_ref().and_then(|h| h.enrolment.clone());
    let sync = store
        .home
        .as_ref()
        .map(|h| h.sync.clone())
        .unwrap_or_default();
    let (pill_class, pill) = sync_pill(lang, &sync);
    html! {
        <header class="topbar">
            <div class="brand">{ tr(lang, "抽查 · 现场检查", "Choucha · Field inspection") }</div>
            if let Some(e) = enrolled {
                <nav class="nav">
                    <button id="nav-tasks" class="nav-btn" onclick={go(Screen::Tasks)}>{ tr(lang, "今日任务", "Today's tasks") }</button>
                    <button id="nav-sync" class={classes!("nav-btn", "sync-pill", format!("pill-{pill_class}"))} onclick={go(Screen::Sync)}>
                        <span id="sync-pill">{ pill }</span>
                    </button>
                    <button id="nav-settings" class="nav-btn" onclick={go(Screen::Settings)}>{ tr(lang, "设置", "Settings") }</button>
                </nav>
                <div class="who" id="officer-name">{ e.officer_name }</div>
            }
            <button id="lang-toggle" class="nav-btn lang" onclick={toggle_lang}>{ if lang == Lang::Zh { "English" } else { "中文" } }</button>
        </header>
    }
}

/// The sync state in a few words, and its colour.
pub fn sync_pill(lang: Lang, s: &SyncView) -> (&'static str, String) {
    if s.revoked {
        return ("bad", tr(lang, "设备已注销", "Device revoked").to_owned());
    }
    if s.running {
        return ("busy", tr(lang, "正在同步…", "Syncing…").to_owned());
    }
    if !s.refused.is_empty() {
        return (
            "bad",
            tr(lang, "服务器拒收，需处理", "Refused by the server").to_owned(),
        );
    }
    if s.last_error.is_some() {
        let n = s.entries_left + s.blobs_left;
        return (
            "bad",
            match lang {
                Lang::Zh => format!("同步失败 · {n} 项待发送"),
                Lang::En => format!("Sync failed · {n} waiting"),
            },
        );
    }
    if s.all_sent() {
        ("ok", tr(lang, "已全部同步", "All synced").to_owned())
    } else {
        (
            "wait",
            match lang {
                Lang::Zh => format!("{} 项待同步", s.entries_left + s.blobs_left),
                Lang::En => format!("{} waiting to sync", s.entries_left + s.blobs_left),
            },
        )
    }
}

#[function_component(Banner)]
fn banner() -> Html {
    let store = crate::state::use_store();
    let dismiss = {
        let store = store.clone();
        Callback::from(move |_| store.dispatch(Action::DismissMessages))
    };
    let notice = store.home.as_ref().and_then(|h| h.notice.clone());
    html! {
        <>
            if let Some(e) = store.error.clone() {
                <div id="error" class="banner error" role="alert">
                    <span class="msg">{ e }</span>
                    <button class="close" onclick={dismiss.clone()}>{ "×" }</button>
                </div>
            }
            if let Some(m) = store.info.clone() {
                <div id="info" class="banner info" role="status">
                    <span class="msg">{ m }</span>
                    <button class="close" onclick={dismiss}>{ "×" }</button>
                </div>
            }
            if let Some(n) = notice {
                <div id="notice" class="banner error">{ n }</div>
            }
        </>
    }
}
