//! Today's tasks with their states.

use yew::prelude::*;

use choucha_app_api::command::{RecheckId, TaskId};
use choucha_app_api::{
    RecheckRow, RecheckView, TaskDetail, TaskRow, TaskState, cmd, deadline_words,
};

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
    let open_recheck = {
        let store = store.clone();
        move |recheck_id: String| {
            let store = store.clone();
            Callback::from(move |_| {
                let store2 = store.clone();
                let recheck_id = recheck_id.clone();
                spawn(&store, async move {
                    let r: RecheckView =
                        ipc::invoke::<cmd::Recheck>(&RecheckId { recheck_id }).await?;
                    store2.dispatch(Action::Recheck(r));
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
            if !home.rechecks.is_empty() {
                <h2 id="rechecks-title">{ tr(lang, "整改复查", "Follow-up visits (复查)") }</h2>
                <ul class="task-list recheck-list">
                    { for home.rechecks.iter().map(|r: &RecheckRow| {
                        let urgency = if r.days_left < 0 { "overdue" } else if r.days_left <= 3 { "due-soon" } else { "due-later" };
                        html! {
                            <li class="task-card recheck-card" data-recheck={r.recheck_id.clone()} onclick={open_recheck(r.recheck_id.clone())}>
                                <div class="task-main">
                                    <div class="task-name">{ &r.target_name }</div>
                                    <div class="task-meta">
                                        <span>{ tr(lang, "责令整改通知书 ", "Order ") }{ &r.order_no }</span>
                                        <span>{ tr(lang, "整改期限 ", "Deadline ") }{ r.deadline.to_string() }</span>
                                        <span class={classes!("deadline", urgency)} data-days={r.days_left.to_string()}>{ deadline_words(lang, r.days_left) }</span>
                                        <span>{ match lang {
                                            choucha_app_api::Lang::Zh => format!("{} 个整改事项", r.findings),
                                            choucha_app_api::Lang::En => format!("{} ordered findings", r.findings),
                                        } }</span>
                                    </div>
                                </div>
                                <span class="badge recheck-state" data-state={format!("{:?}", r.state)}>{ r.state.label(lang) }</span>
                            </li>
                        }
                    }) }
                </ul>
            }
        </section>
    }
}
