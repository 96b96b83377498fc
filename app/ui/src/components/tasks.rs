//! Today's tasks with their states.

use yew::prelude::*;

use choucha_app_api::command::TaskId;
use choucha_app_api::{TaskDetail, TaskRow, TaskState, cmd};

use crate::i18n::{category, tr};
use crate::ipc;
use crate::state::{Action, spawn, use_store};

fn state_class(s: TaskState) -> &'static str {
    match s {
        TaskState::Pending => "st-pending",
        TaskState::InProgress => "st-progress",
        TaskState::AwaitingSignatures => "st-sign",
        TaskState::Sealed => "st-sealed",
        TaskState::AwaitingSync => "st-sync",
        TaskState::Submitted => "st-done",
        TaskState::Returned => "st-returned",
        TaskState::Withdrawn => "st-withdrawn",
    }
}

pub fn state_badge(lang: choucha_app_api::Lang, s: TaskState) -> Html {
    html! { <span class={classes!("badge", "task-state", state_class(s))} data-state={format!("{s:?}")}>{ s.label(lang) }</span> }
}

#[function_component(TasksScreen)]
pub fn tasks_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    use_effect_with((), |_| crate::timing::tasks_shown());
    let Some(home) = store.home.clone() else {
        return html! {};
    };
    let open = {
        let store = store.clone();
        move |task_id: String| {
            let store = store.clone();
            Callback::from(move |_| {
                let store2 = store.clone();
                let task_id = task_id.clone();
                spawn(&store, async move {
                    let d: TaskDetail = ipc::invoke::<cmd::TaskDetail>(&TaskId { task_id }).await?;
                    store2.dispatch(Action::Detail(d));
                    Ok(())
                });
            })
        }
    };
    let count = |s: TaskState| home.tasks.iter().filter(|t| t.state == s).count();
    let summary = [
        TaskState::Pending,
        TaskState::InProgress,
        TaskState::AwaitingSignatures,
        TaskState::Sealed,
        TaskState::AwaitingSync,
        TaskState::Submitted,
        TaskState::Returned,
    ];
    html! {
        <section id="screen-tasks">
            <h1>{ tr(lang, "今日任务", "Today's tasks") }</h1>
            <div class="summary">
                { for summary.iter().map(|s| html! {
                    <span class={classes!("chip", state_class(*s))}>{ s.label(lang) }{ " " }<b>{ count(*s) }</b></span>
                }) }
            </div>
            if home.tasks.is_empty() {
                <p class="empty">{ tr(lang, "暂无任务。任务会在同步后出现。", "No tasks yet. They appear after a sync.") }</p>
            }
            <ul class="task-list">
                { for home.tasks.iter().map(|t: &TaskRow| html! {
                    <li class="task-card" data-task={t.task_id.clone()} onclick={open(t.task_id.clone())}>
                        <div class="task-main">
                            <div class="task-name">{ &t.target_name }</div>
                            <div class="task-meta">
                                <span>{ category(lang, t.category) }</span>
                                <span class="mono">{ &t.task_id }</span>
                                if let Some(a) = &t.address { <span>{ a }</span> }
                                if let Some(d) = &t.due { <span>{ tr(lang, "期限 ", "Due ") }{ d.to_string() }</span> }
                            </div>
                        </div>
                        { state_badge(lang, t.state) }
                    </li>
                }) }
            </ul>
        </section>
    }
}
