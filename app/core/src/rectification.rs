//! The rectification orders (责令整改通知书) of a record, written on the
//! tablet, offline, as PDF/A-2b by the documents crate: the same code the
//! server writes them with, so an order printed on site and the one the
//! server renders from the synced record read the same.

pub use choucha_documents::notice::{Notice, NoticeError, REMEDY_NOTICE, chinese_date, orders};
