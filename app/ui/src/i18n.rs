//! Chinese first, English switchable: every string on screen is written as
//! a Chinese/English pair where it is used, so the two cannot drift apart
//! and nothing is looked up by key at run time.

use choucha_app_api::Lang;
use choucha_shared::TargetCategory;
use choucha_shared::checklist::Verdict;
use choucha_shared::completeness::Violation;
use choucha_shared::record::SignerRole;

pub fn tr(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

pub fn verdict(lang: Lang, v: Verdict) -> &'static str {
    match lang {
        Lang::Zh => v.label_zh(),
        Lang::En => v.label_en(),
    }
}

pub fn category(lang: Lang, c: TargetCategory) -> &'static str {
    match lang {
        Lang::Zh => c.label_zh(),
        Lang::En => c.label_en(),
    }
}

pub fn role(lang: Lang, r: SignerRole) -> &'static str {
    match (lang, r) {
        (Lang::Zh, r) => r.label_zh(),
        (Lang::En, SignerRole::Officer) => "Enforcement officer",
        (Lang::En, SignerRole::Expert) => "Third-party expert",
        (Lang::En, SignerRole::EnterpriseRepresentative) => "Enterprise representative",
    }
}

/// A violation in the screen's language (the Chinese text is the shared
/// crate's, the one the server shows too).
pub fn violation(lang: Lang, v: &Violation) -> String {
    if lang == Lang::Zh {
        return v.to_string();
    }
    v.english()
}

/// Bytes in plain words.
pub fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{:.0} KB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_read_in_both_languages() {
        let v = Violation::GatePhotoMissing;
        assert!(violation(Lang::Zh, &v).contains("大门"));
        assert!(violation(Lang::En, &v).contains("gate"));
        let v = Violation::OfficerSignaturesMissing { found: 1 };
        assert!(violation(Lang::En, &v).contains("1 did"));
    }

    #[test]
    fn bytes_are_plain() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2048), "2 KB");
        assert_eq!(bytes(3 * 1024 * 1024 + 1024 * 512), "3.5 MB");
    }
}
