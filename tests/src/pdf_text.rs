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

/// Checks that every page carries each of `heads` (the running head) and
/// its number, 第 n 页，共 m 页; says which page lacks what.
pub fn check_headed_and_numbered(pages: &[String], heads: &[&str]) -> anyhow::Result<()> {
    let n = pages.len();
    for (i, text) in pages.iter().enumerate() {
        for head in heads {
            ensure!(
                text.contains(head),
                "page {} lacks its head {head}: {text}",
                i + 1
            );
        }
        let number = format!("第 {} 页，共 {n} 页", i + 1);
        ensure!(
            text.contains(&number),
            "page {} is not numbered {number}: {text}",
            i + 1
        );
    }
    Ok(())
}
