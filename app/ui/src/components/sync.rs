//! Sync status in plain words: what is waiting, how much is left, when it
//! last worked, what failed and what the user can do about it.

use yew::prelude::*;

use choucha_app_api::command::NoArgs;
use choucha_app_api::{Lang, SyncView, cmd};

use crate::components::app::sync_pill;
use crate::i18n::{bytes, tr};
use crate::ipc;
use crate::state::{Action, reload_home, spawn, use_store};

/// What the user can do about a failure, from its words.
fn advice(lang: Lang, error: &str) -> &'static str {
    if error.contains("无法连接服务器") || error.contains("unreachable") {
        tr(
            lang,
            "请检查网络（移动数据或 Wi-Fi）。数据已安全保存在本机，恢复联网后会自动继续上传，无需重复操作。",
            "Check the network (mobile data or Wi-Fi). Everything is safely stored on this tablet and uploads by itself once online; nothing needs redoing.",
        )
    } else if error.contains("注销") || error.contains("revoked") {
        tr(
            lang,
            "本设备已被质量科注销，请联系质量科。",
            "The quality section revoked this device; contact them.",
        )
    } else {
        tr(
            lang,
            "请稍后重试；如反复出现，请联系质量科并告知上面的错误信息。",
            "Try again later; if it keeps happening, tell the quality section the message above.",
        )
    }
}

/// The failure in a few words (the full text is under "details").
fn plain(lang: Lang, error: &str) -> &'static str {
    if error.contains("无法连接服务器") || error.contains("unreachable") {
        tr(
            lang,
            "上次同步失败：无法连接服务器（网络中断或服务器未运行）。",
            "The last sync failed: the server could not be reached (no network, or the server is down).",
        )
    } else if error.contains("注销") || error.contains("revoked") {
        tr(
            lang,
            "上次同步失败：本设备已被注销。",
            "The last sync failed: this device was revoked.",
        )
    } else {
        tr(
            lang,
            "上次同步失败：服务器拒绝了请求。",
            "The last sync failed: the server refused the request.",
        )
    }
}

#[function_component(SyncScreen)]
pub fn sync_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let s = store
        .home
        .as_ref()
        .map(|h| h.sync.clone())
        .unwrap_or_default();
    let now = {
        let store = store.clone();
        Callback::from(move |_| {
            let store2 = store.clone();
            spawn(&store, async move {
                let v: SyncView = ipc::invoke::<cmd::SyncNow>(&NoArgs {}).await?;
                store2.dispatch(Action::Sync(v));
                reload_home(&store2).await
            });
        })
    };
    let (class, headline) = sync_pill(lang, &s);
    let waiting = match lang {
        Lang::Zh => format!(
            "等待上传：{} 条检查操作、{} 个照片/签名文件，共 {}。",
            s.entries_left,
            s.blobs_left,
            bytes(s.bytes_left)
        ),
        Lang::En => format!(
            "Waiting to upload: {} inspection entries, {} photo/signature files, {} in all.",
            s.entries_left,
            s.blobs_left,
            bytes(s.bytes_left)
        ),
    };
    let last = s
        .last_success
        .map(|t| {
            t.with_timezone(
                &chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!()),
            )
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
        })
        .unwrap_or_else(|| tr(lang, "尚未成功同步过", "never").to_owned());
    html! {
        <section id="screen-sync" class="card narrow">
            <h1>{ tr(lang, "同步", "Sync") }</h1>
            <p class={classes!("headline", class)} id="sync-headline">{ headline }</p>
            <p id="sync-waiting">{ if s.all_sent() { tr(lang, "没有等待上传的内容。", "Nothing is waiting to upload.").to_owned() } else { waiting } }</p>
            <p id="sync-last">{ tr(lang, "上次成功：", "Last success: ") }{ last }</p>
            if let Some(e) = &s.last_error {
                <div class="problem" id="sync-error">
                    <div class="what">{ plain(lang, e) }</div>
                    <div class="advice">{ advice(lang, e) }</div>
                    <details><summary>{ tr(lang, "技术细节", "Details") }</summary><div class="mono">{ e }</div></details>
                </div>
            }
            if !s.refused.is_empty() {
                <div class="problem" id="sync-refused">
                    <div>{ tr(lang, "服务器拒收了以下内容（之后的内容暂停发送）：", "The server refused these (what follows waits):") }</div>
                    <ul>{ for s.refused.iter().map(|r| html! { <li>{ r }</li> }) }</ul>
                    <div class="advice">{ tr(lang, "数据仍完整保存在本机。请联系质量科，告知上面的信息。", "Everything is still stored on this tablet. Tell the quality section the message above.") }</div>
                </div>
            }
            if !s.refused_entries.is_empty() {
                <div class="problem" id="sync-refused-entries">
                    <div>{ tr(lang, "以下内容服务器未予采用（其余内容已继续发送）：", "The server did not accept these (the rest was sent):") }</div>
                    <ul>{ for s.refused_entries.iter().map(|r| html! { <li>{ r }</li> }) }</ul>
                    <div class="advice">{ tr(lang, "原始记录仍保存在本机。请按提示核对任务信息，或联系质量科。", "The original is still stored on this tablet. Check the task as the message says, or tell the quality section.") }</div>
                </div>
            }
            if let Some(n) = s.next_attempt_in_s {
                if !s.running && !s.all_sent() {
                    <p class="hint" id="sync-next">{ match lang {
                        Lang::Zh => format!("将在 {n} 秒后自动重试。"),
                        Lang::En => format!("Retrying by itself in {n} s."),
                    } }</p>
                }
            }
            <button id="sync-now" class="primary big" onclick={now} disabled={s.running}>{ tr(lang, "立即同步", "Sync now") }</button>
        </section>
    }
}
