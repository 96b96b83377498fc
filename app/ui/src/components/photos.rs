//! Gate/signboard and process photos, with the watermarked result shown
//! as the shell stored it.

use yew::prelude::*;

use choucha_app_api::cmd;
use choucha_app_api::command::RecordPhoto;
use choucha_shared::record::PhotoSubject;

use crate::components::inspect_nav::InspectNav;
use crate::components::widgets::{PhotoInput, Thumb, photo_count};
use crate::i18n::tr;
use crate::ipc;
use crate::state::{Action, spawn, use_store};

#[function_component(PhotosScreen)]
pub fn photos_screen() -> Html {
    let store = use_store();
    let lang = store.lang;
    let Some(insp) = store.inspection.clone() else {
        return html! {};
    };
    let record_id = insp.record.record_id;
    let editable = insp.editable;
    let list = |subject: PhotoSubject, class: &'static str| {
        let shas: Vec<String> = insp
            .record
            .photos_of(&subject)
            .map(|p| p.sha256.to_string())
            .collect();
        html! {
            <div class={classes!("photo-row", class)}>
                <span class="count">{ photo_count(lang, shas.len()) }</span>
                { for shas.into_iter().map(|sha| {
                    let store = store.clone();
                    let remove = {
                        let sha = sha.clone();
                        Callback::from(move |_| {
                            let store2 = store.clone();
                            let sha = sha.clone();
                            spawn(&store, async move {
                                let i = ipc::invoke::<cmd::RemovePhoto>(&RecordPhoto { record_id, sha256: sha }).await?;
                                store2.dispatch(Action::Inspection(i));
                                Ok(())
                            });
                        })
                    };
                    html! {
                        <figure class="photo">
                            <Thumb sha={AttrValue::from(sha.clone())} />
                            if editable { <button class="remove" onclick={remove}>{ tr(lang, "删除", "Remove") }</button> }
                        </figure>
                    }
                }) }
            </div>
        }
    };
    let with_gps = insp
        .record
        .photos
        .iter()
        .filter(|p| p.gps.is_some())
        .count();
    html! {
        <>
        <InspectNav />
        <section id="screen-photos" class="two-col">
            <div class="card">
                <h2>{ tr(lang, "大门/牌匾照片", "Gate / signboard photo") }</h2>
                <p class="hint">{ tr(lang, "检查人员在被检查单位大门或牌匾处合影，证实到场。", "The officers at the gate or signboard: proof of presence.") }</p>
                <PhotoInput id="gate-photo-input" subject={PhotoSubject::Gate} label={AttrValue::from(tr(lang, "拍摄大门照片", "Take gate photo"))} />
                { list(PhotoSubject::Gate, "gate-photos") }
                <h2>{ tr(lang, "检查过程照片", "Inspection process photos") }</h2>
                <PhotoInput id="process-photo-input" subject={PhotoSubject::Process} label={AttrValue::from(tr(lang, "拍摄过程照片", "Take process photo"))} />
                { list(PhotoSubject::Process, "process-photos") }
                <p class="hint" id="photo-positions">
                    { match lang {
                        choucha_app_api::Lang::Zh => format!("共 {} 张照片，{} 张带定位。", insp.record.photos.len(), with_gps),
                        choucha_app_api::Lang::En => format!("{} photos, {} with a position.", insp.record.photos.len(), with_gps),
                    } }
                </p>
            </div>
            <div class="card">
                <h2>{ tr(lang, "最近一张（已加水印）", "Last photo (watermarked)") }</h2>
                if let Some(url) = store.last_photo.clone() {
                    <img id="photo-result" class="photo-result" src={url} alt="" />
                } else {
                    <p class="hint">{ tr(lang, "拍照后在此显示加了时间、地点、对象和检查人员水印的照片。", "After a photo is taken, the watermarked result (time, place, target, officers) shows here.") }</p>
                }
            </div>
        </section>
        </>
    }
}
