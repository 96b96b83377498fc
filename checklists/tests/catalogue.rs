//! The shipped checklists: one for every category loads, IDs are unique, published versions
//! are pinned, and a malformed file is reported with file, line and reason.

use std::collections::{BTreeMap, BTreeSet};

use choucha_checklists::{Catalogue, LoadError, PUBLISHED_LOCK};
use choucha_shared::TargetCategory;
use choucha_shared::checklist::Evidence;
use choucha_shared::value::CivilDate;

fn lock() -> BTreeMap<(String, u32), String> {
    PUBLISHED_LOCK
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<_> = l.split('\t').collect();
            assert_eq!(
                f.len(),
                3,
                "published.lock line must be id<TAB>version<TAB>fingerprint: {l}"
            );
            ((f[0].to_owned(), f[1].parse().unwrap()), f[2].to_owned())
        })
        .collect()
}

#[test]
fn every_category_has_a_checklist() {
    let cat = Catalogue::embedded().unwrap_or_else(|e| panic!("{e}"));
    let date = CivilDate::parse("2024-01-01").unwrap();
    for category in TargetCategory::ALL {
        let c = cat
            .current(category, date)
            .unwrap_or_else(|| panic!("no checklist for {category}"));
        assert!(
            c.items().count() >= 10,
            "{} has only {} items",
            c.id,
            c.items().count()
        );
        assert!(
            c.items().all(|i| !i.basis.trim().is_empty()),
            "{} has an item without legal basis",
            c.id
        );
    }
}

#[test]
fn item_ids_are_unique_within_each_checklist() {
    let cat = Catalogue::embedded().unwrap();
    for c in cat.all() {
        let mut seen = BTreeSet::new();
        for item in c.items() {
            assert!(
                seen.insert(&item.id),
                "{}: duplicate item id {}",
                c.reference(),
                item.id
            );
        }
    }
}

#[test]
fn published_versions_are_never_edited() {
    let cat = Catalogue::embedded().unwrap();
    let lock = lock();
    let mut unpinned = Vec::new();
    for c in cat.all() {
        let key = (c.id.clone(), c.version);
        let fp = c.fingerprint();
        match lock.get(&key) {
            Some(pinned) => assert_eq!(
                pinned,
                &fp,
                "{} was published with different content. Published versions are immutable: \
                 revert the edit and add the change as version {} in a new file.",
                c.reference(),
                c.version + 1
            ),
            None => unpinned.push(format!("{}\t{}\t{}", c.id, c.version, fp)),
        }
    }
    assert!(
        unpinned.is_empty(),
        "checklists missing from checklists/published.lock. When final, add:\n{}",
        unpinned.join("\n")
    );
    for (id, version) in lock.keys() {
        assert!(
            cat.all().any(|c| &c.id == id && c.version == *version),
            "{id}@v{version} is published but its file is gone: published versions are never deleted"
        );
    }
}

#[test]
fn item_ids_stay_stable_across_versions() {
    // A later version may add or retire items, but an ID never moves to a
    // different section: the ID names the same requirement forever.
    let cat = Catalogue::embedded().unwrap();
    let mut section_of: BTreeMap<(String, String), (String, u32)> = BTreeMap::new();
    for c in cat.all() {
        for s in &c.sections {
            for i in &s.items {
                let key = (c.id.clone(), i.id.clone());
                if let Some((section, version)) = section_of.get(&key) {
                    assert_eq!(
                        section, &s.id,
                        "{} moved from section {section} (v{version})",
                        i.id
                    );
                }
                section_of.insert(key, (s.id.clone(), c.version));
            }
        }
    }
}

#[test]
fn on_site_checklists_ask_for_photos_and_standards_do_not() {
    let cat = Catalogue::embedded().unwrap();
    for c in cat.all() {
        let photos = c
            .items()
            .filter(|i| i.evidence.contains(&Evidence::Photo))
            .count();
        if c.category.is_on_site() {
            assert!(photos > 0, "{} asks for no photo evidence", c.reference());
        } else {
            assert_eq!(
                photos,
                0,
                "{} is checked off site but asks for photos",
                c.reference()
            );
        }
    }
}

#[test]
fn load_dir_reports_file_line_and_reason() {
    let dir = std::env::temp_dir().join(format!("choucha-checklists-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = choucha_checklists_file("metrology.v1.toml");
    // Break the 12th line: an unterminated string.
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    let idx = lines
        .iter()
        .position(|l| l.starts_with("title = ") && l.len() > 10)
        .unwrap();
    lines[idx] = "title = \"未闭合".into();
    std::fs::write(dir.join("metrology.v1.toml"), lines.join("\n")).unwrap();
    let err = Catalogue::load_dir(&dir).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LoadError::Invalid(_)));
    assert!(
        msg.contains(&format!("metrology.v1.toml:{}:", idx + 1)),
        "{msg}"
    );

    // A file whose name does not match its id and version.
    std::fs::write(dir.join("metrology.v1.toml"), &good).unwrap();
    std::fs::rename(dir.join("metrology.v1.toml"), dir.join("metrology.toml")).unwrap();
    let err = Catalogue::load_dir(&dir).unwrap_err();
    assert!(
        err.to_string().contains("must be 'metrology.v1.toml'"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn choucha_checklists_file(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(name),
    )
    .unwrap()
}
