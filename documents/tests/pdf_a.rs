//! The documents as archives and printers take them: every character of
//! 《通用规范汉字表》 is in the font; a document with rare name characters,
//! paragraphs, a table over several pages and lines to sign is written as
//! PDF/A-2b (the library's validator passes it), `qpdf --check` passes, its
//! fonts are embedded subsets (`pdffonts`), and its text reads back
//! (`pdftotext`, poppler-utils) with no character lost.

use std::process::Command;

use choucha_documents::font;
use choucha_documents::{Block, Made, Sheet};

const LIST: &str = include_str!("../assets/fonts/tongyong-guifan-8105.txt");

#[test]
fn the_font_covers_the_general_standard_chinese_characters() {
    let chars: Vec<char> = LIST.lines().filter_map(|l| l.chars().next()).collect();
    assert_eq!(chars.len(), 8105);
    let missing: Vec<&char> = chars.iter().filter(|c| !font::covers(**c)).collect();
    assert!(missing.is_empty(), "not in the font: {missing:?}");
    for c in ['堃', '喆', '犇', '㵘', '№', '✓'] {
        assert!(font::covers(c), "{c}");
    }
    // A character outside it is reported, not dropped.
    assert_eq!(font::missing("重庆𪚥公司"), vec!['𪚥']);
}

fn tool(name: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} (installed by scripts/setup.sh): {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_document_is_pdf_a_with_embedded_subsets_and_reads_back() {
    let mut s = Sheet::new(
        "责令整改通知书",
        "重庆高新区市场监督管理局 — 责令整改通知书 渝高市监责改〔2026〕17号",
        Made {
            year: 2026,
            month: 9,
            day: 18,
            hour: 10,
            minute: 30,
        },
    );
    s.push(Block::Subtitle("重庆高新区市场监督管理局".into()))
        .push(Block::Title("责令整改通知书".into()))
        .push(Block::Right("渝高市监责改〔2026〕17号".into()))
        .push(Block::Rows(vec![
            ("当事人".into(), "重庆堃喆犇㵘检测技术有限公司".into()),
            ("统一社会信用代码".into(), "91500107MA5U8BXX1Q".into()),
        ]))
        .push(Block::Para(
            "本局执法人员于2026年9月18日依法对你单位开展“双随机、一公开”监督检查，发现存在下列问题：未按照 GB/T 27025—2019 的规定保存原始记录，部分检验报告缺少授权签字人签名。".repeat(3),
        ))
        .push(Block::Table {
            head: vec!["序号".into(), "检查项".into(), "结果".into()],
            widths: vec![1.0, 6.0, 2.0],
            rows: (1..=80)
                .map(|i| vec![i.to_string(), format!("检查项第{i}项：人员、设备、环境"), "✓ 符合".into()])
                .collect(),
        })
        .push(Block::Signatures(vec!["执法人员".into(), "执法人员".into(), "当事人签收".into()]));
    let pdf = s.to_pdf().expect("PDF/A-2b, as the validator checks it");
    if let Ok(keep) = std::env::var("CHOUCHA_KEEP_PDF") {
        std::fs::write(keep, &pdf).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notice.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let p = path.to_str().unwrap();

    let (ok, out) = tool("qpdf", &["--check", p]);
    assert!(ok, "qpdf --check: {out}");

    let (ok, fonts) = tool("pdffonts", &[p]);
    assert!(ok, "{fonts}");
    let rows: Vec<&str> = fonts
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(!rows.is_empty(), "no font: {fonts}");
    for r in &rows {
        let cols: Vec<&str> = r.split_whitespace().collect();
        // name type [encoding] emb sub uni object ID
        let n = cols.len();
        assert_eq!(cols[n - 5], "yes", "embedded: {r}");
        assert_eq!(cols[n - 4], "yes", "a subset: {r}");
        assert_eq!(cols[n - 3], "yes", "with a Unicode map: {r}");
        assert!(cols[0].contains('+'), "a subset's name has its tag: {r}");
    }

    let (ok, text) = tool("pdftotext", &["-layout", p, "-"]);
    assert!(ok, "{text}");
    let pages: Vec<&str> = text
        .split('\u{c}')
        .filter(|t| !t.trim().is_empty())
        .collect();
    assert!(pages.len() >= 2, "{} pages", pages.len());
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains("渝高市监责改〔2026〕17号"),
            "page {} has the head",
            i + 1
        );
        assert!(page.contains(&format!("第 {} 页，共 {} 页", i + 1, pages.len())));
    }
    let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for name in [
        "重庆堃喆犇㵘检测技术有限公司",
        "GB/T27025—2019",
        "检查项第80项",
        "当事人签收：",
    ] {
        assert!(flat.contains(name), "{name} reads back: {text}");
    }
    // Everything the sheet says is on the pages, in order.
    let said: String = s.text().chars().filter(|c| !c.is_whitespace()).collect();
    let mut at = 0;
    for c in said.chars() {
        match flat[at..].find(c) {
            Some(k) => at += k + c.len_utf8(),
            None => panic!("{c} of the content is missing after byte {at}"),
        }
    }
}
