//! One screen (or widget) per file.

pub mod app;
pub mod enrol;
pub mod enterprise_sign;
pub mod escalate;
pub mod findings;
pub mod inspect_nav;
pub mod items;
pub mod outcome;
pub mod pad;
pub mod photos;
pub mod pin;
pub mod recheck;
pub mod review;
pub mod settings;
pub mod sign;
pub mod sync;
pub mod task_detail;
pub mod tasks;
pub mod text_field;
pub mod widgets;
