//! Checklists (监督检查表) as data.
//!
//! A checklist is a TOML document with an ID and a version; its items have
//! stable IDs, a legal basis, the verdicts an inspector may give, whether a
//! failure vetoes the whole inspection (否决项), and the evidence the item
//! needs. The format is documented in `checklists/README.md`.
//!
//! Parsing happens in two steps: serde reads a private *raw* form that keeps
//! the source position of every field worth pointing at, then [`validate`]
//! checks the rules serde cannot express and reports **every** problem with
//! its line and column. Only a fully valid document becomes a [`Checklist`].
//!
//! Published versions are immutable. [`Checklist::fingerprint`] hashes the
//! parsed content (not the text, so comments and layout may change) and the
//! `checklists` crate pins each published version's fingerprint.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::TargetCategory;
use crate::conclusion::{ConclusionRules, VetoRule};
use crate::value::{CivilDate, Sha256Hex};

/// Schema version of the checklist file format.
pub const CHECKLIST_SCHEMA: u16 = 1;

/// A verdict an inspector can give an item.
///
/// Two scales are in use: 符合/不符合/不适用 for most checklists, and
/// 合格/一般不合格/严重不合格 where the source rates clauses that way (the
/// production-licence condition review).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// 符合
    Conform,
    /// 不符合
    Nonconform,
    /// 不适用
    NotApplicable,
    /// 合格
    Pass,
    /// 一般不合格
    Minor,
    /// 严重不合格
    Major,
}

impl Verdict {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Conform => "符合",
            Self::Nonconform => "不符合",
            Self::NotApplicable => "不适用",
            Self::Pass => "合格",
            Self::Minor => "一般不合格",
            Self::Major => "严重不合格",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Conform => "Conforms",
            Self::Nonconform => "Does not conform",
            Self::NotApplicable => "Not applicable",
            Self::Pass => "Pass",
            Self::Minor => "Minor nonconformity",
            Self::Major => "Major nonconformity",
        }
    }

    /// A finding: the item needs a note, a photo and a disposition.
    pub fn is_nonconforming(self) -> bool {
        matches!(self, Self::Nonconform | Self::Minor | Self::Major)
    }
}

/// What an item needs as evidence. Only [`Evidence::Photo`] is enforced by the
/// completeness rules (an attached photo); the others tell the inspector how
/// the item is verified and appear on the printed checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// 现场拍照: a photo attached to the item.
    Photo,
    /// 查阅文件: certificates, licences, manuals, procedures.
    Document,
    /// 查阅记录: records, reports, ledgers.
    Record,
    /// 现场查看: looking at premises, equipment, products.
    SiteCheck,
    /// 询问: interviewing staff.
    Interview,
    /// 网上核查: checking a public register or platform online.
    Online,
}

impl Evidence {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Photo => "现场拍照",
            Self::Document => "查阅文件",
            Self::Record => "查阅记录",
            Self::SiteCheck => "现场查看",
            Self::Interview => "询问",
            Self::Online => "网上核查",
        }
    }
}

/// Identifies one version of one checklist.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChecklistRef {
    pub id: String,
    pub version: u32,
}

impl fmt::Display for ChecklistRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@v{}", self.id, self.version)
    }
}

/// A validated checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Checklist {
    pub schema: u16,
    pub id: String,
    pub version: u32,
    pub category: TargetCategory,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    /// Date from which this version is used for new tasks.
    pub effective: CivilDate,
    /// Laws and rules the whole checklist rests on.
    pub legal_basis: Vec<String>,
    /// Verdict scale for items that do not name their own.
    pub verdicts: Vec<Verdict>,
    pub sections: Vec<Section>,
    /// How the verdicts decide the conclusion (`[conclusion]`); none: the
    /// default rules ([`ConclusionRules::default`]). Left out of the
    /// fingerprint when absent, so versions published before the section
    /// existed keep theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<ConclusionRules>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Section {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Item {
    /// Stable across versions while the item means the same thing.
    pub id: String,
    pub text: String,
    /// Article of law or rule the item checks (法律依据).
    pub basis: String,
    /// Overrides the checklist's scale for this item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdicts: Option<Vec<Verdict>>,
    /// 否决项: a failure here fails the inspection whatever else passes.
    #[serde(default)]
    pub veto: bool,
    pub evidence: Vec<Evidence>,
    /// How to check, what to look at (检查方法).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<String>,
}

impl Checklist {
    pub fn reference(&self) -> ChecklistRef {
        ChecklistRef {
            id: self.id.clone(),
            version: self.version,
        }
    }

    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.sections.iter().flat_map(|s| s.items.iter())
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items().find(|i| i.id == id)
    }

    pub fn allowed_verdicts<'a>(&'a self, item: &'a Item) -> &'a [Verdict] {
        item.verdicts.as_deref().unwrap_or(&self.verdicts)
    }

    /// The checklist's conclusion rules, or the default ones.
    pub fn conclusion_rules(&self) -> ConclusionRules {
        self.conclusion.unwrap_or_default()
    }

    /// SHA-256 over the canonical JSON of the parsed content. Comments and
    /// layout do not change it; any change of meaning does.
    pub fn fingerprint(&self) -> String {
        Sha256Hex::of(&serde_json::to_vec(self).unwrap_or_default()).to_string()
    }
}

/// One problem in a checklist file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// A checklist file that could not be loaded: every problem found, each with
/// its line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ChecklistError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ChecklistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, p.reason)?;
        }
        Ok(())
    }
}

/// Parse and validate one checklist. `file` names the source in errors.
pub fn parse(file: &str, text: &str) -> Result<Checklist, ChecklistError> {
    let at = |span: Option<Range<usize>>, reason: String| {
        let (line, column) = span.map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ChecklistError {
            file: file.to_owned(),
            problems: vec![Problem {
                line,
                column,
                reason,
            }],
        }
    };
    let raw: RawChecklist =
        toml::from_str(text).map_err(|e| at(e.span(), e.message().to_owned()))?;
    let mut problems = Vec::new();
    validate(&raw, &mut |span: Range<usize>, reason: String| {
        let (line, column) = line_col(text, span.start);
        problems.push(Problem {
            line,
            column,
            reason,
        });
    });
    if !problems.is_empty() {
        return Err(ChecklistError {
            file: file.to_owned(),
            problems,
        });
    }
    Ok(raw.into_checklist())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecklist {
    schema: Spanned<u16>,
    id: Spanned<String>,
    version: Spanned<u32>,
    category: TargetCategory,
    title: Spanned<String>,
    title_en: Option<String>,
    effective: CivilDate,
    legal_basis: Spanned<Vec<String>>,
    verdicts: Spanned<Vec<Verdict>>,
    #[serde(default)]
    sections: Vec<RawSection>,
    conclusion: Option<Spanned<RawConclusion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConclusion {
    veto: Option<Spanned<VetoRule>>,
    major_fails: Spanned<bool>,
    nonconforming_limit: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    id: Spanned<String>,
    title: Spanned<String>,
    title_en: Option<String>,
    #[serde(default)]
    items: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: Spanned<String>,
    text: Spanned<String>,
    basis: Spanned<String>,
    verdicts: Option<Spanned<Vec<Verdict>>>,
    veto: Option<Spanned<bool>>,
    evidence: Spanned<Vec<Evidence>>,
    guidance: Option<String>,
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Item IDs: an uppercase prefix, '-', then digits, uppercase letters and
/// dots, e.g. `PL-1.03`. Kept short because they are printed and spoken.
fn is_item_id(s: &str) -> bool {
    let Some((prefix, rest)) = s.split_once('-') else {
        return false;
    };
    (2..=4).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_uppercase())
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'.')
        && rest.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

fn check_scale(
    scale: &Spanned<Vec<Verdict>>,
    what: &str,
    report: &mut impl FnMut(Range<usize>, String),
) {
    let v = scale.get_ref();
    let unique: BTreeSet<_> = v.iter().collect();
    if unique.len() != v.len() {
        report(scale.span(), format!("{what} lists a verdict twice"));
    }
    if !v.iter().any(|x| x.is_nonconforming())
        || !v
            .iter()
            .any(|x| matches!(x, Verdict::Conform | Verdict::Pass))
    {
        report(
            scale.span(),
            format!("{what} must offer at least one passing and one nonconforming verdict"),
        );
    }
    let graded = v
        .iter()
        .any(|x| matches!(x, Verdict::Pass | Verdict::Minor | Verdict::Major));
    let binary = v
        .iter()
        .any(|x| matches!(x, Verdict::Conform | Verdict::Nonconform));
    if graded && binary {
        report(
            scale.span(),
            format!("{what} mixes the 符合/不符合 and 合格/一般不合格/严重不合格 scales"),
        );
    }
}

fn non_empty(field: &Spanned<String>, what: &str, report: &mut impl FnMut(Range<usize>, String)) {
    if field.get_ref().trim().is_empty() {
        report(field.span(), format!("{what} must not be empty"));
    }
}

fn validate(raw: &RawChecklist, report: &mut impl FnMut(Range<usize>, String)) {
    if *raw.schema.get_ref() != CHECKLIST_SCHEMA {
        report(
            raw.schema.span(),
            format!(
                "schema {} is not supported; this build reads schema {CHECKLIST_SCHEMA}",
                raw.schema.get_ref()
            ),
        );
    }
    if !is_slug(raw.id.get_ref()) {
        report(
            raw.id.span(),
            format!(
                "checklist id '{}' must be lowercase letters, digits and '-'",
                raw.id.get_ref()
            ),
        );
    }
    if *raw.version.get_ref() == 0 {
        report(raw.version.span(), "version starts at 1".to_owned());
    }
    non_empty(&raw.title, "title", report);
    if raw
        .legal_basis
        .get_ref()
        .iter()
        .all(|b| b.trim().is_empty())
    {
        report(
            raw.legal_basis.span(),
            "legal_basis must name at least one law or rule".to_owned(),
        );
    }
    check_scale(&raw.verdicts, "verdicts", report);
    if raw.sections.is_empty() {
        report(
            raw.title.span(),
            "a checklist needs at least one [[sections]]".to_owned(),
        );
    }
    let mut section_ids = BTreeSet::new();
    let mut item_ids = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    for section in &raw.sections {
        non_empty(&section.id, "section id", report);
        non_empty(&section.title, "section title", report);
        if !section_ids.insert(section.id.get_ref().as_str()) {
            report(
                section.id.span(),
                format!("duplicate section id '{}'", section.id.get_ref()),
            );
        }
        if section.items.is_empty() {
            report(
                section.id.span(),
                format!("section '{}' has no items", section.id.get_ref()),
            );
        }
        for item in &section.items {
            let id = item.id.get_ref();
            if !is_item_id(id) {
                report(
                    item.id.span(),
                    format!(
                        "item id '{id}' must look like PL-1.03 (uppercase prefix, '-', digits/dots)"
                    ),
                );
            } else if let Some((prefix, _)) = id.split_once('-') {
                prefixes.insert(prefix.to_owned());
            }
            if !item_ids.insert(id.as_str()) {
                report(item.id.span(), format!("duplicate item id '{id}'"));
            }
            non_empty(&item.text, "item text", report);
            non_empty(&item.basis, "item basis (法律依据)", report);
            if let Some(scale) = &item.verdicts {
                check_scale(scale, &format!("verdicts of item '{id}'"), report);
            }
            if item.evidence.get_ref().is_empty() {
                report(
                    item.evidence.span(),
                    format!("item '{id}' must name the evidence it requires"),
                );
            }
        }
    }
    if let Some(rules) = &raw.conclusion {
        validate_conclusion(raw, rules.get_ref(), report);
    }
    if prefixes.len() > 1 {
        report(
            raw.id.span(),
            format!(
                "all item ids must share one prefix, found {}",
                prefixes.into_iter().collect::<Vec<_>>().join(", ")
            ),
        );
    }
}

/// Rules that could never apply, or that contradict the items, are errors:
/// a rule nobody can trigger is a rule somebody misread.
fn validate_conclusion(
    raw: &RawChecklist,
    rules: &RawConclusion,
    report: &mut impl FnMut(Range<usize>, String),
) {
    let items = || raw.sections.iter().flat_map(|s| s.items.iter());
    let is_veto = |i: &RawItem| i.veto.as_ref().is_some_and(|v| *v.get_ref());
    let scale = |i: &RawItem| -> Vec<Verdict> {
        i.verdicts
            .as_ref()
            .map_or_else(|| raw.verdicts.get_ref().clone(), |v| v.get_ref().clone())
    };
    match (&rules.veto, items().find(|i| is_veto(i))) {
        (Some(rule), None) => report(
            rule.span(),
            "[conclusion] sets a veto rule but no item is a veto item (veto = true)".to_owned(),
        ),
        (None, Some(item)) => report(
            item.id.span(),
            format!(
                "item '{}' is a veto item but [conclusion] sets no veto rule (veto = \"any\" or \"major\")",
                item.id.get_ref()
            ),
        ),
        _ => {}
    }
    if rules.veto.as_ref().map(Spanned::get_ref) == Some(&VetoRule::Major) {
        for item in items().filter(|i| is_veto(i)) {
            if !scale(item).contains(&Verdict::Major) {
                let at = item.veto.as_ref().map_or(item.id.span(), Spanned::span);
                report(
                    at,
                    format!(
                        "veto item '{}' can never fail under veto = \"major\": its scale has no 严重不合格 (major)",
                        item.id.get_ref()
                    ),
                );
            }
        }
    }
    if *rules.major_fails.get_ref() && !items().any(|i| scale(i).contains(&Verdict::Major)) {
        report(
            rules.major_fails.span(),
            "major_fails = true but no item's scale offers 严重不合格 (major)".to_owned(),
        );
    }
    if let Some(limit) = &rules.nonconforming_limit {
        let count = items().count();
        if *limit.get_ref() as usize >= count {
            report(
                limit.span(),
                format!(
                    "nonconforming_limit = {} can never be exceeded: the checklist has {count} items",
                    limit.get_ref()
                ),
            );
        }
    }
}

impl RawChecklist {
    fn into_checklist(self) -> Checklist {
        Checklist {
            schema: self.schema.into_inner(),
            id: self.id.into_inner(),
            version: self.version.into_inner(),
            category: self.category,
            title: self.title.into_inner().trim().to_owned(),
            title_en: self.title_en,
            effective: self.effective,
            legal_basis: self.legal_basis.into_inner(),
            verdicts: self.verdicts.into_inner(),
            sections: self
                .sections
                .into_iter()
                .map(|s| Section {
                    id: s.id.into_inner(),
                    title: s.title.into_inner(),
                    title_en: s.title_en,
                    items: s
                        .items
                        .into_iter()
                        .map(|i| Item {
                            id: i.id.into_inner(),
                            text: i.text.into_inner(),
                            basis: i.basis.into_inner(),
                            verdicts: i.verdicts.map(Spanned::into_inner),
                            veto: i.veto.is_some_and(Spanned::into_inner),
                            evidence: i.evidence.into_inner(),
                            guidance: i.guidance,
                        })
                        .collect(),
                })
                .collect(),
            conclusion: self.conclusion.map(|c| {
                let c = c.into_inner();
                ConclusionRules {
                    veto: c.veto.map(Spanned::into_inner),
                    major_fails: c.major_fails.into_inner(),
                    nonconforming_limit: c.nonconforming_limit.map(Spanned::into_inner),
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
schema = 1
id = "demo"
version = 1
category = "metrology"
title = "示例检查表"
effective = "2023-12-29"
legal_basis = ["《中华人民共和国计量法》"]
verdicts = ["conform", "nonconform", "not_applicable"]

[[sections]]
id = "1"
title = "强制检定"

[[sections.items]]
id = "MET-1.01"
text = "在用强制检定计量器具是否按规定申请检定"
basis = "《中华人民共和国计量法》第九条"
evidence = ["record", "photo"]
veto = true
"#;

    #[test]
    fn parses_a_valid_checklist() {
        let c = parse("demo.toml", GOOD).unwrap();
        assert_eq!(c.reference().to_string(), "demo@v1");
        let item = c.item("MET-1.01").unwrap();
        assert!(item.veto);
        assert_eq!(
            c.allowed_verdicts(item),
            &[
                Verdict::Conform,
                Verdict::Nonconform,
                Verdict::NotApplicable
            ]
        );
        assert_eq!(c.fingerprint().len(), 64);
    }

    #[test]
    fn fingerprint_ignores_comments_but_not_content() {
        let a = parse("a", GOOD).unwrap();
        let b = parse("b", &format!("# 注释\n{GOOD}")).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = parse("c", &GOOD.replace("申请检定", "申请周期检定")).unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let broken = GOOD.replace("title = \"强制检定\"", "title = \"强制检定");
        let err = parse("metrology.v1.toml", &broken).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.line, 13, "{err}");
        assert!(
            err.to_string().starts_with("metrology.v1.toml:13:"),
            "{err}"
        );
    }

    #[test]
    fn unknown_field_and_verdict_are_reported_with_line() {
        let err = parse("x.toml", &GOOD.replace("veto = true", "vetoo = true")).unwrap_err();
        assert!(err.to_string().contains("vetoo"), "{err}");
        assert_eq!(err.problems[0].line, 20);
        let err = parse(
            "x.toml",
            &GOOD.replace("\"nonconform\", \"not", "\"bad\", \"not"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("bad"), "{err}");
        assert_eq!(err.problems[0].line, 9);
    }

    #[test]
    fn semantic_problems_are_all_listed() {
        let dup = format!(
            "{GOOD}\n[[sections.items]]\nid = \"MET-1.01\"\ntext = \"\"\nbasis = \"x\"\nevidence = []\n"
        );
        let err = parse("dup.toml", &dup).unwrap_err();
        let reasons: Vec<_> = err.problems.iter().map(|p| p.reason.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{err}");
        assert!(reasons[0].contains("duplicate item id 'MET-1.01'"));
        assert!(reasons[1].contains("item text"));
        assert!(reasons[2].contains("evidence"));
        assert_eq!(err.problems[0].line, 23);
    }

    #[test]
    fn scale_rules() {
        let err = parse(
            "x",
            &GOOD.replace(
                "[\"conform\", \"nonconform\", \"not_applicable\"]",
                "[\"conform\", \"major\"]",
            ),
        )
        .unwrap_err();
        assert!(err.to_string().contains("mixes"), "{err}");
        let err = parse(
            "x",
            &GOOD.replace(
                "[\"conform\", \"nonconform\", \"not_applicable\"]",
                "[\"conform\"]",
            ),
        )
        .unwrap_err();
        assert!(err.to_string().contains("nonconforming"), "{err}");
        let err = parse("x", &GOOD.replace("MET-1.01", "met-1")).unwrap_err();
        assert!(err.to_string().contains("item id 'met-1'"), "{err}");
    }
}
