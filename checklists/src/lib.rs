//! The inspection checklists, one TOML file per checklist version under
//! `checklists/data/`, embedded into every binary that needs them.
//!
//! Published versions never change: `published.lock` pins the content
//! fingerprint of each, and the tests fail if a published file's meaning is
//! edited. A change to a checklist is a new file with the next version.
//! See `checklists/README.md` for the file format.

use std::collections::BTreeMap;
use std::path::Path;

use choucha_shared::TargetCategory;
use choucha_shared::checklist::{self, Checklist, ChecklistError, ChecklistRef};
use choucha_shared::value::CivilDate;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// `(id, version, fingerprint)` of every published checklist version.
pub const PUBLISHED_LOCK: &str = include_str!("../published.lock");

/// Why a set of checklists could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Invalid(#[from] ChecklistError),
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:1:1: file name must be '{expected}' to match the id and version inside")]
    FileName { file: String, expected: String },
    #[error("{file}:1:1: {reference} is defined twice")]
    Duplicate {
        file: String,
        reference: ChecklistRef,
    },
}

/// All versions of all checklists, looked up by reference or by category.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    by_ref: BTreeMap<ChecklistRef, Checklist>,
}

impl Catalogue {
    /// The checklists compiled into this binary.
    pub fn embedded() -> Result<Self, LoadError> {
        Self::from_files(
            embedded::FILES
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string())),
        )
    }

    /// Checklists from a directory of `*.toml` files, e.g. versions an
    /// administrator added after this build.
    pub fn load_dir(dir: &Path) -> Result<Self, LoadError> {
        let io = |file: String| move |source| LoadError::Io { file, source };
        let entries = std::fs::read_dir(dir).map_err(io(dir.display().to_string()))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(dir.display().to_string()))?.path();
            if path.extension().is_some_and(|x| x == "toml") {
                let text =
                    std::fs::read_to_string(&path).map_err(io(path.display().to_string()))?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        Self::from_files(files)
    }

    fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Self, LoadError> {
        let mut by_ref = BTreeMap::new();
        for (file, text) in files {
            let c = checklist::parse(&file, &text)?;
            let expected = format!("{}.v{}.toml", c.id, c.version);
            if Path::new(&file).file_name().and_then(|n| n.to_str()) != Some(expected.as_str()) {
                return Err(LoadError::FileName { file, expected });
            }
            if by_ref.insert(c.reference(), c.clone()).is_some() {
                return Err(LoadError::Duplicate {
                    file,
                    reference: c.reference(),
                });
            }
        }
        Ok(Self { by_ref })
    }

    pub fn get(&self, reference: &ChecklistRef) -> Option<&Checklist> {
        self.by_ref.get(reference)
    }

    pub fn all(&self) -> impl Iterator<Item = &Checklist> {
        self.by_ref.values()
    }

    /// The version to use for a new task of `category` on `date`: the
    /// highest version already in effect.
    pub fn current(&self, category: TargetCategory, date: CivilDate) -> Option<&Checklist> {
        self.by_ref
            .values()
            .filter(|c| c.category == category && c.effective <= date)
            .max_by_key(|c| c.version)
    }
}
