//! Reading a PDF back as a reader would: its text page by page, as
//! poppler's `pdftotext` extracts it (installed by `scripts/setup.sh`).

use std::path::Path;

use anyhow::{Context, ensure};

/// The text of each page of the PDF at `path`, as `pdftotext -layout` reads
/// it (it maps shared CJK glyphs back to the characters the page had, where
/// some libraries give their radicals).
pub fn pages(path: &Path) -> anyhow::Result<Vec<String>> {
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(path)
        .arg("-")
        .output()
        .context("running pdftotext (poppler-utils, installed by scripts/setup.sh)")?;
    ensure!(
        out.status.success(),
        "pdftotext failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).context("pdftotext's output is not UTF-8")?;
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    Ok(pages)
}
