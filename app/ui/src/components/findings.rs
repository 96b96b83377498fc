//! Findings (发现的问题) with their disposition, and the rectification
//! order (责令整改通知书) preview with print.

use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use choucha_app_api::command::{RecordFinding, RecordId};
use choucha_app_api::{AddFinding, CommandError, Inspection, OrderView, cmd};
use choucha_shared::record::{Disposition, DispositionKind, Finding, PhotoSubject};
use choucha_shared::value::CivilDate;

use crate::components::escalate::EscalateCard;
use crate::components::inspect_nav::InspectNav;
use crate::components::widgets::{PhotoInput, Thumb};
use crate::i18n::tr;
use crate::ipc;
use crate::state::{Action, spawn, use_store};

fn value_of(r: &NodeRef) -> String {
    if let Some(i) = r.cast::<HtmlInputElement>() {
        return i.value().trim().to_owned();
    }
    if let Some(t) = r.cast::<HtmlTextAreaElement>() {
        return t.value().trim().to_owned();
    }
    r.cast::<HtmlSelectElement>()
        .map(|s| s.value())
        .unwrap_or_default()
}

fn bad(msg: &str) -> CommandError {
    CommandError::new("refused", msg)
}

#[function_component(FindingsScreen)]
pub fn findings_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let kind = use_state(|| DispositionKind::RectificationOrder);
    let orders = use_state(Vec::<OrderView>::new);
    let (item_ref, desc_ref, no_ref, deadline_ref, req_ref, ref_ref) = (
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
        use_node_ref(),
    );
    let Some(insp) = store.inspection.clone() else {
        return html! {};
    };
    let record_id = insp.record.record_id;
    let editable = insp.editable;

    let add = {
        let store = store.clone();
        let kind = kind.clone();
        let refs = (
            item_ref.clone(),
            desc_ref.clone(),
            no_ref.clone(),
            deadline_ref.clone(),
            req_ref.clone(),
            ref_ref.clone(),
        );
        Callback::from(move |_| {
            let (item, desc, no, deadline, req, reference) = (
                value_of(&refs.0),
                value_of(&refs.1),
                value_of(&refs.2),
                value_of(&refs.3),
                value_of(&refs.4),
                value_of(&refs.5),
            );
            let opt = |s: String| (!s.is_empty()).then_some(s);
            let disposition = match *kind {
                DispositionKind::RectificationOrder => {
                    let Ok(deadline) = CivilDate::parse(&deadline) else {
                        store.dispatch(Action::Failed(bad("请填写整改期限 (enter the deadline)")));
                        return;
                    };
                    Disposition::RectificationOrder {
                        order_no: no,
                        deadline,
                        requirements: req,
                        follow_up: None,
                    }
                }
                DispositionKind::FixedOnSite => Disposition::FixedOnSite { description: req },
                DispositionKind::CaseFiled => Disposition::CaseFiled {
                    case_no: opt(reference),
                },
                DispositionKind::TransferredToJudicial => Disposition::TransferredToJudicial {
                    organ: req,
                    reference: opt(reference),
                },
                DispositionKind::TransferredToDiscipline => Disposition::TransferredToDiscipline {
                    organ: req,
                    reference: opt(reference),
                },
                DispositionKind::NoticeToDepartment => Disposition::NoticeToDepartment {
                    department: req,
                    reference: opt(reference),
                },
            };
            let req = AddFinding {
                record_id,
                finding: Finding {
                    finding_id: uuid::Uuid::nil(),
                    item_id: opt(item),
                    description: desc,
                    disposition,
                },
            };
            let store2 = store.clone();
            let desc_ref = refs.1.clone();
            spawn(&store, async move {
                let i: Inspection = ipc::invoke::<cmd::AddFinding>(&req).await?;
                store2.dispatch(Action::Inspection(i));
                if let Some(t) = desc_ref.cast::<HtmlTextAreaElement>() {
                    t.set_value("");
                }
                Ok(())
            });
        })
    };
    let preview = {
        let store = store.clone();
        let orders = orders.clone();
        Callback::from(move |_| {
            let orders = orders.clone();
            spawn(&store, async move {
                let o: Vec<OrderView> =
                    ipc::invoke::<cmd::RectificationOrders>(&RecordId { record_id }).await?;
                orders.set(o);
                Ok(())
            });
        })
    };
    let on_kind = {
        let kind = kind.clone();
        Callback::from(move |e: Event| {
            let code = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Ok(k) = code.parse::<DispositionKind>() {
                kind.set(k);
            }
        })
    };
    let nonconforming: Vec<_> = insp
        .checklist
        .items()
        .filter(|i| {
            insp.record
                .items
                .get(&i.id)
                .and_then(|e| e.verdict)
                .is_some_and(|v| v.is_nonconforming())
        })
        .collect();
    let req_label = match *kind {
        DispositionKind::RectificationOrder => tr(lang, "整改要求", "Requirements"),
        DispositionKind::FixedOnSite => tr(lang, "现场整改情况", "What was fixed"),
        DispositionKind::NoticeToDepartment => tr(lang, "通报部门", "Department"),
        DispositionKind::CaseFiled => tr(lang, "备注", "Remarks"),
        DispositionKind::TransferredToJudicial | DispositionKind::TransferredToDiscipline => {
            tr(lang, "移送机关", "Organ")
        }
    };
    html! {
        <>
        <InspectNav />
        <section id="screen-findings" class="two-col">
            <div class="card">
                <h2>{ tr(lang, "发现的问题", "Findings") }</h2>
                if insp.record.findings.is_empty() { <p class="hint">{ tr(lang, "尚无。", "None yet.") }</p> }
                <ul class="findings" id="findings">
                    { for insp.record.findings.iter().map(|f| {
                        let fid = f.finding_id;
                        let store = store.clone();
                        let remove = Callback::from(move |_| {
                            let store2 = store.clone();
                            spawn(&store, async move {
                                let i = ipc::invoke::<cmd::RemoveFinding>(&RecordFinding { record_id, finding_id: fid }).await?;
                                store2.dispatch(Action::Inspection(i));
                                Ok(())
                            });
                        });
                        let photos: Vec<String> = insp.record.photos_of(&PhotoSubject::Finding(fid)).map(|p| p.sha256.to_string()).collect();
                        html! {
                            <li class="finding">
                                <div><b>{ f.item_id.clone().unwrap_or_default() }</b>{ " " }{ &f.description }</div>
                                <div class="chip">{ f.disposition.label_zh() }</div>
                                { for photos.into_iter().map(|s| html! { <Thumb sha={AttrValue::from(s)} class="item-thumb" /> }) }
                                if editable { <button class="remove" onclick={remove}>{ tr(lang, "删除", "Remove") }</button> }
                            </li>
                        }
                    }) }
                </ul>
                if editable {
                    <h2>{ tr(lang, "登记问题", "Record a finding") }</h2>
                    <label>{ tr(lang, "对应检查项", "Checklist item") }
                        <select id="finding-item" ref={item_ref}>
                            { for nonconforming.iter().map(|i| html! { <option value={i.id.clone()}>{ format!("{} {}", i.id, i.text.chars().take(24).collect::<String>()) }</option> }) }
                            <option value="">{ tr(lang, "（不对应具体检查项）", "(no specific item)") }</option>
                        </select>
                    </label>
                    <label>{ tr(lang, "问题描述", "Description") }<textarea id="finding-desc" ref={desc_ref} rows="3" /></label>
                    <label>{ tr(lang, "处置方式", "Disposition") }
                        <select id="finding-kind" onchange={on_kind}>
                            { for DispositionKind::ALL.into_iter().map(|k| html! { <option value={k.as_str()} selected={*kind == k}>{ tr(lang, k.label_zh(), k.label_en()) }</option> }) }
                        </select>
                    </label>
                    if *kind == DispositionKind::RectificationOrder {
                        <label>{ tr(lang, "文书编号", "Order no.") }<input id="finding-order-no" ref={no_ref} type="text" placeholder="渝高新市监责改〔2024〕1号" /></label>
                        <label>{ tr(lang, "整改期限", "Deadline") }<input id="finding-deadline" ref={deadline_ref} type="date" /></label>
                    }
                    <label>{ req_label }<textarea id="finding-req" ref={req_ref} rows="2" /></label>
                    if *kind == DispositionKind::CaseFiled || kind.is_transfer() {
                        <label>{ tr(lang, "文号/编号", "Reference") }<input id="finding-ref" ref={ref_ref} type="text" /></label>
                    }
                    <button id="finding-add" class="primary big" onclick={add}>{ tr(lang, "添加问题", "Add finding") }</button>
                    if let Some(f) = insp.record.findings.last() {
                        <PhotoInput id="finding-photo-input" subject={PhotoSubject::Finding(f.finding_id)} label={AttrValue::from(tr(lang, "为最后一个问题拍照", "Photo of the last finding"))} />
                    }
                }
            </div>
            <div class="card">
                <h2>{ tr(lang, "责令整改通知书", "Rectification order") }</h2>
                <button id="orders-preview" class="big" onclick={preview}>{ tr(lang, "生成通知书（PDF）", "Write the order (PDF)") }</button>
                { for orders.iter().map(|o| html! {
                    <div class="order">
                        <p class="mono order-no" id="order-no">{ &o.order_no }</p>
                        <p class="hint order-file">{ tr(lang, "已保存为 PDF，可用便携打印机打印或作为文件交付：", "Saved as PDF, for the portable printer or to hand over: ") }<span class="mono">{ &o.file }</span></p>
                        <pre class="order-text" id="order-text">{ &o.text }</pre>
                    </div>
                }) }
            </div>
            <EscalateCard />
        </section>
        </>
    }
}
