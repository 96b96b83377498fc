//! Choucha's printable documents as PDF/A-2b, for archives and printers:
//! one font ([`font`]), one page layout ([`layout`]), the same code on the
//! tablet (offline) and on the server, so a document rendered in either
//! place reads the same.
//!
//! Why `krilla`: it embeds fonts as subsets, writes PDF/A-2b and refuses on
//! export what that standard forbids (its validator), in pure Rust that also
//! builds for the tablet. The layout on top (line breaking for Chinese text,
//! tables, pages with a running head and page numbers) is this crate's.

pub mod font;
pub mod layout;
pub mod notice;

pub use layout::{Block, Made, Sheet};

/// Why a document could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The PDF library refused it; for PDF/A, each rule it would break.
    #[error("无法生成 PDF 文件：{0} (the PDF could not be written)")]
    Pdf(String),
    /// A photo that is not a JPEG the library can embed.
    #[error("照片 {name} 无法放入文件：{reason} (the photo cannot be embedded)")]
    Image { name: String, reason: String },
}
