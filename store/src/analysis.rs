//! Problem analysis (问题汇总分析, seed §五(三)): the findings of a plan
//! grouped by checklist item, target category, industry (the GB/T 4754
//! major group, e.g. `C38`, from the target's 行业代码) and town, and the
//! groups that suggest an escalation: the same item failing in several
//! targets of one industry (行业性问题) or of one town (突出集中的问题).
//! The thresholds are the caller's (the console's form), so the quality
//! section can tighten or loosen them per plan.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Store, StoreError};

/// How many distinct targets make a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Same item, same industry.
    pub industry_targets: usize,
    /// Same item, same town.
    pub town_targets: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            industry_targets: 3,
            town_targets: 3,
        }
    }
}

/// One finding as the analysis sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingFact {
    pub record_id: String,
    pub task_id: String,
    pub town: String,
    pub category: String,
    pub target_key: String,
    pub target_name: String,
    /// Empty when the finding is not tied to an item.
    pub item_id: String,
    /// The 行业代码's major group (`C38`), when the target has one.
    pub industry: Option<String>,
}

/// A group and how many findings and distinct targets it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub key: String,
    pub findings: usize,
    pub targets: usize,
}

/// What kind of escalation a candidate suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    /// 行业性问题: one item, one industry.
    Industry,
    /// 突出集中的问题: one item, one town.
    Concentrated,
}

/// A suggested escalation: the item failed in `targets` of one industry or
/// town, with the records to look at (the latest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub kind: CandidateKind,
    pub item_id: String,
    pub category: String,
    /// The industry group or the town.
    pub scope: String,
    pub targets: Vec<(String, String)>,
    pub records: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Analysis {
    pub findings: usize,
    pub by_item: Vec<Group>,
    pub by_category: Vec<Group>,
    pub by_industry: Vec<Group>,
    pub by_town: Vec<Group>,
    pub candidates: Vec<Candidate>,
}

/// The GB/T 4754 major group of a 行业代码: its letter and two digits.
pub fn industry_group(code: &str) -> Option<String> {
    let code = code.trim();
    let group: String = code.chars().take(3).collect();
    let mut c = group.chars();
    let ok = group.chars().count() == 3
        && c.next().is_some_and(|l| l.is_ascii_uppercase())
        && c.all(|d| d.is_ascii_digit());
    ok.then_some(group)
}

fn groups(facts: &[FindingFact], key: impl Fn(&FindingFact) -> Option<String>) -> Vec<Group> {
    let mut by: BTreeMap<String, (usize, BTreeSet<&str>)> = BTreeMap::new();
    for f in facts {
        if let Some(k) = key(f) {
            let e = by.entry(k).or_default();
            e.0 += 1;
            e.1.insert(&f.target_key);
        }
    }
    let mut out: Vec<Group> = by
        .into_iter()
        .map(|(key, (findings, targets))| Group {
            key,
            findings,
            targets: targets.len(),
        })
        .collect();
    // Most findings first; ties by key, so the order is stable.
    out.sort_by(|a, b| b.findings.cmp(&a.findings).then(a.key.cmp(&b.key)));
    out
}

/// The candidates of one kind: groups of (category, item, scope) with at
/// least `min` distinct targets.
fn candidates(
    facts: &[FindingFact],
    kind: CandidateKind,
    min: usize,
    scope: impl Fn(&FindingFact) -> Option<String>,
) -> Vec<Candidate> {
    type Key = (String, String, String);
    let mut by: BTreeMap<Key, Vec<&FindingFact>> = BTreeMap::new();
    for f in facts.iter().filter(|f| !f.item_id.is_empty()) {
        if let Some(s) = scope(f) {
            by.entry((f.category.clone(), f.item_id.clone(), s))
                .or_default()
                .push(f);
        }
    }
    let mut out = Vec::new();
    for ((category, item_id, scope), list) in by {
        let mut targets: BTreeMap<&str, &str> = BTreeMap::new();
        let mut records: Vec<String> = Vec::new();
        for f in list.iter().rev() {
            targets.insert(&f.target_key, &f.target_name);
            if !records.contains(&f.record_id) {
                records.push(f.record_id.clone());
            }
        }
        if targets.len() >= min.max(1) {
            out.push(Candidate {
                kind,
                item_id,
                category,
                scope,
                targets: targets
                    .into_iter()
                    .map(|(k, n)| (k.to_owned(), n.to_owned()))
                    .collect(),
                records,
            });
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.targets.len()));
    out
}

/// The analysis of the findings given.
pub fn analyse(facts: &[FindingFact], t: Thresholds) -> Analysis {
    let mut found = candidates(facts, CandidateKind::Industry, t.industry_targets, |f| {
        f.industry.clone()
    });
    found.extend(candidates(
        facts,
        CandidateKind::Concentrated,
        t.town_targets,
        |f| Some(f.town.clone()),
    ));
    Analysis {
        findings: facts.len(),
        by_item: groups(facts, |f| {
            (!f.item_id.is_empty()).then(|| format!("{} {}", f.category, f.item_id))
        }),
        by_category: groups(facts, |f| Some(f.category.clone())),
        by_industry: groups(facts, |f| f.industry.clone()),
        by_town: groups(facts, |f| Some(f.town.clone())),
        candidates: found,
    }
}

impl Store {
    /// The findings of a plan (one town's, for a town lead), oldest record
    /// first, with their targets' industries.
    pub async fn finding_facts(
        &self,
        plan_id: &str,
        town: Option<&str>,
    ) -> Result<Vec<FindingFact>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT f.record_id, f.task_id, f.jurisdiction, f.category, o.target_key, o.target_name, \
             f.item_id, g.industry_code FROM oversight_findings f \
             JOIN oversight_records o ON o.record_id = f.record_id AND o.version = f.version \
             LEFT JOIN targets g ON g.category = f.category AND g.target_key = o.target_key \
             WHERE f.plan_id = $1 AND ($2 = '' OR f.jurisdiction = $2) \
             ORDER BY o.inspection_date, f.record_id, f.finding_id",
        )
        .bind(plan_id)
        .bind(town.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(record_id, task_id, town, category, target_key, target_name, item_id, code)| {
                    FindingFact {
                        record_id,
                        task_id,
                        town,
                        category,
                        target_key,
                        target_name,
                        item_id,
                        industry: code.as_deref().and_then(industry_group),
                    }
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(target: &str, town: &str, item: &str, industry: Option<&str>) -> FindingFact {
        FindingFact {
            record_id: format!("r-{target}"),
            task_id: format!("t-{target}"),
            town: town.into(),
            category: "metrology".into(),
            target_key: target.into(),
            target_name: format!("企业{target}"),
            item_id: item.into(),
            industry: industry.map(str::to_owned),
        }
    }

    #[test]
    fn the_industry_group_is_a_letter_and_two_digits() {
        assert_eq!(industry_group("C3823").as_deref(), Some("C38"));
        assert_eq!(industry_group(" F5265 ").as_deref(), Some("F52"));
        assert_eq!(industry_group("38"), None);
        assert_eq!(industry_group("c38"), None);
    }

    #[test]
    fn candidates_need_distinct_targets_at_the_threshold() {
        let facts = vec![
            fact("A", "西永街道", "MET-1.01", Some("F52")),
            // The same target twice counts once.
            fact("A", "西永街道", "MET-1.01", Some("F52")),
            fact("B", "西永街道", "MET-1.01", Some("F52")),
            fact("C", "虎溪街道", "MET-1.01", Some("F52")),
            fact("D", "虎溪街道", "MET-2.01", Some("C38")),
            fact("E", "虎溪街道", "", None),
        ];
        let t = Thresholds {
            industry_targets: 3,
            town_targets: 2,
        };
        let a = analyse(&facts, t);
        assert_eq!(a.findings, 6);
        let industry: Vec<_> = a
            .candidates
            .iter()
            .filter(|c| c.kind == CandidateKind::Industry)
            .collect();
        assert_eq!(industry.len(), 1);
        assert_eq!(industry[0].scope, "F52");
        assert_eq!(industry[0].targets.len(), 3);
        let towns: Vec<_> = a
            .candidates
            .iter()
            .filter(|c| c.kind == CandidateKind::Concentrated)
            .map(|c| (c.scope.as_str(), c.item_id.as_str(), c.targets.len()))
            .collect();
        assert_eq!(towns, vec![("西永街道", "MET-1.01", 2)]);
        assert_eq!(a.by_item[0].key, "metrology MET-1.01");
        assert_eq!((a.by_item[0].findings, a.by_item[0].targets), (4, 3));
        assert_eq!(a.by_town[0].key, "虎溪街道");
        let t = Thresholds {
            industry_targets: 4,
            town_targets: 3,
        };
        assert!(analyse(&facts, t).candidates.is_empty());
    }
}
