//! The tablet's keys under the officer's PIN (issue #18): a copy of the
//! tablet's files opens nothing without the PIN; the PIN can be changed
//! without encrypting the data again; wrong PINs are slowed and, after too
//! many, the data, the evidence and the key are wiped; a revocation wipes
//! the vault too. Each check failed on the code before, whose key was a
//! plain file beside the data.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use choucha_app_core::App;
use choucha_app_core::keys::DeviceKey;
use choucha_app_core::testkit::offline_enrolment;
use choucha_app_core::vault::{PinPolicy, UnlockError, Vault, VaultState};

const PIN: &str = "246810";

struct Tablet {
    _root: tempfile::TempDir,
    data: PathBuf,
    keystore: PathBuf,
}

fn tablet() -> Tablet {
    let root = tempfile::tempdir().unwrap();
    Tablet {
        data: root.path().join("data"),
        keystore: root.path().join("keystore"),
        _root: root,
    }
}

fn vault(keystore: &Path, policy: PinPolicy) -> Arc<Vault> {
    Arc::new(Vault::with_file_secret(keystore, policy))
}

/// Opens the app with the key `pin` unlocks, and says who it is enrolled as.
fn officer_with(t: &Tablet, v: &Arc<Vault>, pin: &str) -> Result<String, UnlockError> {
    let key = v.unlock(pin)?;
    let app = App::open_unlocked(&t.data, &key, v.clone()).unwrap();
    Ok(app.enrolment().unwrap().unwrap().officer_name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn a_copy_of_the_tablets_files_opens_nothing_without_the_pin() {
    let t = tablet();
    let v = vault(&t.keystore, PinPolicy::default());
    assert_eq!(v.state().unwrap(), VaultState::NoPin);
    let key = v.set_pin(PIN).unwrap();
    {
        let app = App::open_unlocked(&t.data, &key, v.clone()).unwrap();
        offline_enrolment(&app).unwrap();
    }

    // Everything on the tablet's storage, copied elsewhere.
    let thief = tempfile::tempdir().unwrap();
    copy_dir(&t.data, &thief.path().join("data"));
    copy_dir(&t.keystore, &thief.path().join("keystore"));
    let files: Vec<PathBuf> = std::fs::read_dir(thief.path().join("keystore"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    // No file of it is the data key: tried as a key file, each one fails
    // to open the store (or is not a key at all).
    for file in &files {
        let as_key = thief.path().join("try.key");
        std::fs::copy(file, &as_key).unwrap();
        let opened = App::open(&thief.path().join("data"), &as_key);
        assert!(opened.is_err(), "{} opened the store", file.display());
        std::fs::remove_file(&as_key).unwrap();
    }
    // Nor does a new key.
    assert!(App::open(&thief.path().join("data"), &thief.path().join("new.key")).is_err());
    // The vault of the copy refuses every PIN but the officer's.
    let copied = vault(&thief.path().join("keystore"), PinPolicy::default());
    assert!(matches!(
        copied.unlock("135790"),
        Err(UnlockError::WrongPin { remaining: 9, .. })
    ));
    // The plain key is nowhere on disk.
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == key.bytes()),
            "{} holds the data key",
            file.display()
        );
    }
}

#[test]
fn the_pin_changes_without_encrypting_the_data_again() {
    let t = tablet();
    let v = vault(&t.keystore, PinPolicy::default());
    let key = v.set_pin(PIN).unwrap();
    {
        let app = App::open_unlocked(&t.data, &key, v.clone()).unwrap();
        offline_enrolment(&app).unwrap();
    }
    let db = t.data.join("choucha-app.db");
    let before = std::fs::read(&db).unwrap();

    // A bad new PIN is refused by its form; a wrong old one counts.
    assert!(v.change_pin(PIN, "12ab56").is_err());
    assert!(matches!(
        v.change_pin("000000", "13579246"),
        Err(UnlockError::WrongPin { .. })
    ));
    v.change_pin(PIN, "13579246").unwrap();

    assert!(matches!(v.unlock(PIN), Err(UnlockError::WrongPin { .. })));
    assert_eq!(officer_with(&t, &v, "13579246").unwrap(), "张建国");
    assert_eq!(std::fs::read(&db).unwrap().len(), before.len());
    // The same data key: the store was not rewritten under another.
    assert_eq!(v.unlock("13579246").unwrap().bytes(), key.bytes());
    assert!(
        v.set_pin("111111").is_err(),
        "a second first PIN is refused"
    );
}

#[test]
fn wrong_pins_are_slowed_then_the_tablet_is_wiped() {
    let t = tablet();
    let policy = PinPolicy {
        max_failures: 4,
        free_tries: 2,
        first_wait: Duration::ZERO,
        ..PinPolicy::default()
    };
    let v = vault(&t.keystore, policy);
    let key = v.set_pin(PIN).unwrap();
    {
        let app = App::open_unlocked(&t.data, &key, v.clone()).unwrap();
        offline_enrolment(&app).unwrap();
    }
    for remaining in [3, 2, 1] {
        match v.unlock("999999") {
            Err(UnlockError::WrongPin { remaining: r, .. }) => assert_eq!(r, remaining),
            other => panic!("{other:?}"),
        }
    }
    // A right PIN before the last wrong one resets the count.
    assert_eq!(officer_with(&t, &v, PIN).unwrap(), "张建国");
    for _ in 0..3 {
        assert!(matches!(
            v.unlock("999999"),
            Err(UnlockError::WrongPin { .. })
        ));
    }
    let e = v.unlock("999999").unwrap_err();
    assert_eq!(e, UnlockError::Wiped);
    assert!(e.to_string().contains("已全部清除"), "{e}");
    // The key is gone for good; the app then removes the data.
    assert_eq!(v.state().unwrap(), VaultState::NoPin);
    assert!(matches!(v.unlock(PIN), Err(UnlockError::NoPin)));
    let left: Vec<_> = std::fs::read_dir(&t.keystore).unwrap().collect();
    assert!(left.is_empty(), "keystore not empty: {left:?}");
    choucha_app_core::app::remove_local_data(&t.data).unwrap();
    assert!(!t.data.join("choucha-app.db").exists());
    assert!(!t.data.join("evidence").exists());
}

#[test]
fn past_the_free_tries_each_next_try_must_wait() {
    let t = tablet();
    let policy = PinPolicy {
        free_tries: 1,
        first_wait: Duration::from_secs(60),
        ..PinPolicy::default()
    };
    let v = vault(&t.keystore, policy);
    v.set_pin(PIN).unwrap();
    let wait = match v.unlock("999999") {
        Err(UnlockError::WrongPin {
            wait_until: Some(w),
            remaining: 9,
            ..
        }) => w,
        other => panic!("{other:?}"),
    };
    assert!(wait > chrono::Utc::now() + chrono::Duration::seconds(50));
    // Even the right PIN waits, and the wait is not a further failure.
    let e = v.unlock(PIN).unwrap_err();
    assert_eq!(e, UnlockError::TooSoon(wait));
    assert!(e.to_string().contains("后再试"), "{e}");
    assert_eq!(
        v.state().unwrap(),
        VaultState::Locked {
            failures: 1,
            wait_until: Some(wait)
        }
    );
}

#[test]
fn an_app_from_before_the_vault_keeps_its_data_under_the_first_pin() {
    let t = tablet();
    let legacy = t.keystore.join("device.key");
    {
        let app = App::open(&t.data, &legacy).unwrap();
        offline_enrolment(&app).unwrap();
    }
    let plain = DeviceKey::load_or_create(&legacy).unwrap();
    let v = vault(&t.keystore, PinPolicy::default());
    assert_eq!(v.state().unwrap(), VaultState::NoPin);
    let key = v.set_pin(PIN).unwrap();
    assert_eq!(key.bytes(), plain.bytes(), "the same key, now wrapped");
    assert!(!legacy.exists(), "the plain key file is gone");
    assert_eq!(officer_with(&t, &v, PIN).unwrap(), "张建国");
}

#[test]
fn a_revocation_wipes_the_vault_with_the_data() {
    let t = tablet();
    let v = vault(&t.keystore, PinPolicy::default());
    let key = v.set_pin(PIN).unwrap();
    let app = App::open_unlocked(&t.data, &key, v.clone()).unwrap();
    offline_enrolment(&app).unwrap();
    app.wipe_after_revocation().unwrap();
    drop(app);
    assert_eq!(v.state().unwrap(), VaultState::NoPin);
    assert!(matches!(v.unlock(PIN), Err(UnlockError::NoPin)));
    // The next start, with a new PIN, is an empty app.
    let key = v.set_pin("13579246").unwrap();
    let app = App::open_unlocked(&t.data, &key, v.clone()).unwrap();
    assert!(app.enrolment().unwrap().is_none());
}
