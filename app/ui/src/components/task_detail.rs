//! One task: the target's facts, registered address and coordinates, the
//! team, the deadline, and what evidence is still missing.

use yew::prelude::*;

use choucha_app_api::command::TaskId;
use choucha_app_api::{Inspection, cmd};
use choucha_shared::directory::TargetIdentity;
use choucha_shared::plan::MemberRole;

use crate::components::tasks::state_badge;
use crate::i18n::{category, tr, violation};
use crate::ipc;
use crate::state::{Action, Screen, spawn, use_store};

#[function_component(TaskScreen)]
pub fn task_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let Some(d) = store.detail.clone() else {
        return html! {};
    };
    let start = {
        let store = store.clone();
        let task_id = d.task_id.clone();
        Callback::from(move |_| {
            crate::timing::checklist_tapped();
            let store2 = store.clone();
            let task_id = task_id.clone();
            spawn(&store, async move {
                let i: Inspection = ipc::invoke::<cmd::StartTask>(&TaskId { task_id }).await?;
                store2.dispatch(Action::Inspection(i));
                store2.dispatch(Action::Item(0));
                Ok(())
            });
        })
    };
    let t = &d.target;
    let identity = match &t.identity {
        TargetIdentity::Organisation { uscc } => html! {
            <><dt>{ tr(lang, "统一社会信用代码", "USCC") }</dt><dd class="mono" id="target-uscc">{ uscc.to_string() }</dd></>
        },
        TargetIdentity::Standard { number, issuer, .. } => html! {
            <>
                <dt>{ tr(lang, "标准编号", "Standard no.") }</dt><dd class="mono">{ number.to_string() }</dd>
                <dt>{ tr(lang, "发布单位", "Issuer") }</dt><dd>{ issuer.to_string() }</dd>
            </>
        },
        // A product is checked against its certificate: the team needs
        // the number, the certified model and whose it is.
        TargetIdentity::Product {
            certificate_no,
            model,
            holder,
            holder_uscc,
        } => html! {
            <>
                <dt>{ tr(lang, "CCC 证书编号", "CCC certificate") }</dt><dd class="mono" id="target-certificate">{ certificate_no.to_string() }</dd>
                <dt>{ tr(lang, "型号", "Model") }</dt><dd id="target-model">{ model.clone() }</dd>
                <dt>{ tr(lang, "持证人", "Holder") }</dt><dd>{ holder.to_string() }</dd>
                <dt>{ tr(lang, "统一社会信用代码", "USCC") }</dt><dd class="mono">{ holder_uscc.to_string() }</dd>
            </>
        },
    };
    let started = d.record_id.is_some();
    html! {
        <section id="screen-task" class="two-col">
            <div class="card">
                <h1 id="task-target">{ t.name.to_string() }</h1>
                { state_badge(lang, d.state) }
                <dl class="facts">
                    <dt>{ tr(lang, "任务编号", "Task") }</dt><dd class="mono">{ &d.task_id }</dd>
                    <dt>{ tr(lang, "类别", "Category") }</dt><dd>{ category(lang, t.category) }</dd>
                    { identity }
                    <dt>{ tr(lang, "所属镇街", "Town/street") }</dt><dd>{ t.jurisdiction.to_string() }</dd>
                    <dt>{ tr(lang, "登记地址", "Registered address") }</dt><dd>{ t.address.clone().unwrap_or_else(|| "—".into()) }</dd>
                    <dt>{ tr(lang, "登记坐标", "Coordinates") }</dt>
                    <dd class="mono">{ t.location.map(|p| format!("{:.5}, {:.5}", p.lat, p.lon)).unwrap_or_else(|| "—".into()) }</dd>
                    <dt>{ tr(lang, "完成期限", "Deadline") }</dt><dd>{ d.due.map(|x| x.to_string()).unwrap_or_else(|| "—".into()) }</dd>
                    <dt>{ tr(lang, "检查表", "Checklist") }</dt><dd>{ &d.checklist_title }{ format!("（{} 项）", d.checklist_items) }</dd>
                </dl>
                <h2>{ tr(lang, "检查组", "Team") }</h2>
                <ul class="team">
                    { for d.team.iter().map(|m| html! {
                        <li>
                            <b>{ &m.name }</b>
                            <span class="badge">{ if m.role == MemberRole::Officer { tr(lang, "执法人员", "Officer") } else { tr(lang, "专家", "Expert") } }</span>
                            <span class="mono">{ &m.person_id }</span>
                        </li>
                    }) }
                </ul>
            </div>
            <div class="card">
                if let Some(w) = &d.withdrawn {
                    <p class="warn">{ tr(lang, "任务已撤回：", "Withdrawn: ") }{ w }</p>
                } else {
                    <button id="start-inspection" class="primary big" onclick={start}>
                        { if started { tr(lang, "继续检查", "Continue inspection") } else { tr(lang, "开始检查", "Start inspection") } }
                    </button>
                }
                <h2>{ tr(lang, "尚缺", "Still missing") }</h2>
                if !started {
                    <p class="hint">{ tr(lang, "开始检查后显示尚缺的结论、照片和签字。", "Once started, missing verdicts, photos and signatures are listed here.") }</p>
                } else if d.missing.is_empty() {
                    <p class="ok">{ tr(lang, "已齐全，可以封存。", "Complete: ready to seal.") }</p>
                } else {
                    <ul class="missing" id="task-missing">
                        { for d.missing.iter().take(30).map(|v| html! { <li>{ violation(lang, v) }</li> }) }
                        if d.missing.len() > 30 { <li>{ format!("… +{}", d.missing.len() - 30) }</li> }
                    </ul>
                }
                <button class="big" onclick={{ let s = store.clone(); Callback::from(move |_| s.dispatch(Action::Go(Screen::Tasks))) }}>
                    { tr(lang, "返回任务列表", "Back to tasks") }
                </button>
            </div>
        </section>
    }
}
