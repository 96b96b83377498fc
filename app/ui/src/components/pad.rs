//! A signature pad: pointer strokes (finger, pen or mouse) drawn on a
//! canvas and handed over as points, which the shell renders into the
//! signature image bound to the record's content hash.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, PointerEvent};
use yew::prelude::*;

use choucha_app_api::{PadCapture, PadPoint, PadStroke};

use crate::i18n::tr;
use crate::state::use_store;

/// Pad size in canvas pixels (what the points are measured in).
pub const PAD_W: u32 = 800;
pub const PAD_H: u32 = 300;

#[derive(Properties, PartialEq)]
pub struct PadProps {
    pub title: AttrValue,
    pub on_done: Callback<PadCapture>,
    pub on_cancel: Callback<()>,
}

#[derive(Default)]
struct Ink {
    strokes: Vec<PadStroke>,
    drawing: bool,
    start_ms: Option<f64>,
}

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok().flatten()?.dyn_into().ok()
}

fn point(canvas: &HtmlCanvasElement, e: &PointerEvent, ink: &mut Ink) -> PadPoint {
    let rect = canvas.get_bounding_client_rect();
    let sx = if rect.width() > 0.0 {
        canvas.width() as f64 / rect.width()
    } else {
        1.0
    };
    let sy = if rect.height() > 0.0 {
        canvas.height() as f64 / rect.height()
    } else {
        1.0
    };
    let now = crate::timing::now_ms();
    let start = *ink.start_ms.get_or_insert(now);
    let x = ((e.client_x() as f64 - rect.left()) * sx).clamp(0.0, canvas.width() as f64 - 1.0);
    let y = ((e.client_y() as f64 - rect.top()) * sy).clamp(0.0, canvas.height() as f64 - 1.0);
    PadPoint {
        x: x as f32,
        y: y as f32,
        t_ms: (now - start).max(0.0) as u32,
        pressure: (e.pointer_type() == "pen").then(|| e.pressure()),
    }
}

#[function_component(Pad)]
pub fn pad(p: &PadProps) -> Html {
    let store = use_store();
    let lang = store.lang;
    let canvas_ref = use_node_ref();
    let ink = use_mut_ref(Ink::default);
    let points = use_state(|| 0usize);

    let down = {
        let (canvas_ref, ink, points) = (canvas_ref.clone(), ink.clone(), points.clone());
        Callback::from(move |e: PointerEvent| {
            e.prevent_default();
            let Some(canvas) = canvas_ref.cast::<HtmlCanvasElement>() else {
                return;
            };
            let _ = canvas.set_pointer_capture(e.pointer_id());
            let mut ink = ink.borrow_mut();
            let pt = point(&canvas, &e, &mut ink);
            ink.drawing = true;
            ink.strokes.push(PadStroke { points: vec![pt] });
            points.set(ink.strokes.iter().map(|s| s.points.len()).sum());
        })
    };
    let moved = {
        let (canvas_ref, ink, points) = (canvas_ref.clone(), ink.clone(), points.clone());
        Callback::from(move |e: PointerEvent| {
            let Some(canvas) = canvas_ref.cast::<HtmlCanvasElement>() else {
                return;
            };
            let mut ink: std::cell::RefMut<'_, Ink> = ink.borrow_mut();
            if !ink.drawing {
                return;
            }
            e.prevent_default();
            let pt = point(&canvas, &e, &mut ink);
            let last = ink.strokes.last().and_then(|s| s.points.last().copied());
            if let Some(stroke) = ink.strokes.last_mut() {
                stroke.points.push(pt);
            }
            if let (Some(ctx), Some(a)) = (context(&canvas), last) {
                ctx.set_line_width(4.0);
                ctx.set_line_cap("round");
                ctx.begin_path();
                ctx.move_to(a.x as f64, a.y as f64);
                ctx.line_to(pt.x as f64, pt.y as f64);
                ctx.stroke();
            }
            points.set(ink.strokes.iter().map(|s| s.points.len()).sum());
        })
    };
    let up = {
        let ink = ink.clone();
        Callback::from(move |_e: PointerEvent| ink.borrow_mut().drawing = false)
    };
    let clear = {
        let (canvas_ref, ink, points) = (canvas_ref.clone(), ink.clone(), points.clone());
        Callback::from(move |_| {
            *ink.borrow_mut() = Ink::default();
            points.set(0);
            if let Some(canvas) = canvas_ref.cast::<HtmlCanvasElement>() {
                if let Some(ctx) = context(&canvas) {
                    ctx.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
                }
            }
        })
    };
    let save = {
        let (ink, on_done) = (ink.clone(), p.on_done.clone());
        Callback::from(move |_| {
            let strokes = std::mem::take(&mut ink.borrow_mut().strokes);
            on_done.emit(PadCapture {
                width: PAD_W,
                height: PAD_H,
                strokes: strokes
                    .into_iter()
                    .filter(|s| !s.points.is_empty())
                    .collect(),
            });
        })
    };
    let cancel = {
        let on_cancel = p.on_cancel.clone();
        Callback::from(move |_| on_cancel.emit(()))
    };
    let _keep: Rc<RefCell<Ink>> = ink;
    html! {
        <div class="pad-wrap" id="pad-wrap">
            <h2 id="pad-title">{ p.title.clone() }</h2>
            <canvas id="pad" class="pad" ref={canvas_ref} width={PAD_W.to_string()} height={PAD_H.to_string()}
                onpointerdown={down} onpointermove={moved} onpointerup={up.clone()} onpointercancel={up.clone()} onpointerleave={up}></canvas>
            <div class="pad-actions">
                <span class="hint" id="pad-points">{ format!("{} ", *points) }{ tr(lang, "个点", "points") }</span>
                <button id="pad-clear" class="big" onclick={clear}>{ tr(lang, "重写", "Clear") }</button>
                <button id="pad-cancel" class="big" onclick={cancel}>{ tr(lang, "取消", "Cancel") }</button>
                <button id="pad-save" class="primary big" disabled={*points == 0} onclick={save}>{ tr(lang, "确认签名", "Confirm signature") }</button>
            </div>
        </div>
    }
}
