//! A text field that keeps what the user is typing.
//!
//! Yew writes a bound `value` back into the element on *every* render
//! whenever the two differ ("controlled" inputs). The app re-renders while a
//! field is being typed into — the sync status refreshes in the background,
//! a photo finishes processing — so a field bound to the stored value lost
//! the unsaved text each time: an inspector's half-written note vanished.
//! This field shows the stored value until the user types, then the draft
//! until the component goes away (callers key it by what it edits).

use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct TextFieldProps {
    pub id: AttrValue,
    /// The stored value, shown until the user types.
    pub value: AttrValue,
    /// A `<textarea>` of this many rows; a one-line `<input>` when `None`.
    #[prop_or_default]
    pub rows: Option<u32>,
    #[prop_or_default]
    pub disabled: bool,
    #[prop_or_default]
    pub node_ref: NodeRef,
    /// Fired when the field loses focus after a change (the DOM `change`).
    #[prop_or_default]
    pub onchange: Callback<Event>,
}

#[function_component(TextField)]
pub fn text_field(p: &TextFieldProps) -> Html {
    let draft = use_state(|| None::<String>);
    let oninput = {
        let draft = draft.clone();
        let multiline = p.rows.is_some();
        Callback::from(move |e: InputEvent| {
            let v = if multiline {
                e.target_unchecked_into::<HtmlTextAreaElement>().value()
            } else {
                e.target_unchecked_into::<HtmlInputElement>().value()
            };
            draft.set(Some(v));
        })
    };
    let value = (*draft).clone().unwrap_or_else(|| p.value.to_string());
    match p.rows {
        Some(rows) => html! {
            <textarea id={p.id.clone()} ref={p.node_ref.clone()} rows={rows.to_string()}
                disabled={p.disabled} {value} {oninput} onchange={p.onchange.clone()} />
        },
        None => html! {
            <input id={p.id.clone()} ref={p.node_ref.clone()} type="text"
                disabled={p.disabled} {value} {oninput} onchange={p.onchange.clone()} />
        },
    }
}
