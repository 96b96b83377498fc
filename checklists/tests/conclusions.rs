//! The conclusion of every shipped checklist under its own rules: all items
//! passing is 合格, a failing veto item is 不合格, and where the checklist
//! limits the number of nonconforming items, the limit is where 基本合格
//! turns into 不合格.

use std::collections::BTreeMap;

use choucha_checklists::Catalogue;
use choucha_shared::checklist::{Checklist, Item, Verdict};
use choucha_shared::conclusion::{Conclusion, FailReason, VetoRule, conclude};
use choucha_shared::record::ItemEntry;

type Verdicts = BTreeMap<String, ItemEntry>;

fn give(v: &mut Verdicts, item: &Item, verdict: Verdict) {
    v.insert(
        item.id.clone(),
        ItemEntry {
            verdict: Some(verdict),
            note: None,
        },
    );
}

/// Every item at the passing verdict of its scale.
fn all_pass(c: &Checklist) -> Verdicts {
    let mut v = Verdicts::new();
    for item in c.items() {
        let pass = *c
            .allowed_verdicts(item)
            .iter()
            .find(|x| matches!(x, Verdict::Conform | Verdict::Pass))
            .expect("every scale has a passing verdict");
        give(&mut v, item, pass);
    }
    v
}

/// The mildest nonconforming verdict of the item's scale.
fn mildest_failure(c: &Checklist, item: &Item) -> Verdict {
    *c.allowed_verdicts(item)
        .iter()
        .filter(|x| x.is_nonconforming())
        .min_by_key(|x| matches!(x, Verdict::Major))
        .expect("every scale has a nonconforming verdict")
}

#[test]
fn every_checklist_concludes_by_its_rules() {
    let cat = Catalogue::embedded().unwrap();
    let mut with_rules = 0;
    for c in cat.all() {
        let at = c.reference();
        let rules = c.conclusion_rules();
        with_rules += usize::from(c.conclusion.is_some());
        let pass = all_pass(c);
        assert_eq!(conclude(&pass, c), Conclusion::Pass, "{at}");

        // A failing veto item fails the inspection alone.
        let veto = c
            .items()
            .find(|i| i.veto)
            .unwrap_or_else(|| panic!("{at} has no veto item"));
        let failing = match rules.veto {
            Some(VetoRule::Major) => Verdict::Major,
            _ => mildest_failure(c, veto),
        };
        let mut vetoed = pass.clone();
        give(&mut vetoed, veto, failing);
        assert_eq!(
            conclude(&vetoed, c),
            Conclusion::Fail {
                reasons: vec![FailReason::Veto {
                    item_id: veto.id.clone()
                }]
            },
            "{at}"
        );

        // Ordinary nonconformities: within the limit 基本合格, one more 不合格.
        let ordinary: Vec<&Item> = c
            .items()
            .filter(|i| !i.veto && mildest_failure(c, i) != Verdict::Major)
            .collect();
        let limit = rules
            .nonconforming_limit
            .map_or(ordinary.len().min(3), |l| l as usize);
        assert!(
            ordinary.len() > limit,
            "{at}: too few ordinary items to test"
        );
        let mut issues = pass.clone();
        for item in &ordinary[..limit] {
            give(&mut issues, item, mildest_failure(c, item));
        }
        assert_eq!(
            conclude(&issues, c),
            Conclusion::PassWithIssues {
                nonconforming: limit as u32
            },
            "{at}"
        );
        give(
            &mut issues,
            ordinary[limit],
            mildest_failure(c, ordinary[limit]),
        );
        let over = conclude(&issues, c);
        match rules.nonconforming_limit {
            Some(l) => assert_eq!(
                over,
                Conclusion::Fail {
                    reasons: vec![FailReason::TooMany {
                        count: l + 1,
                        limit: l
                    }]
                },
                "{at}"
            ),
            None => assert!(!over.is_fail(), "{at}: no limit, {over:?}"),
        }
    }
    assert!(with_rules >= 6, "every current checklist states its rules");
}
