//! The key vault (密钥保管): the data key, which opens the store and the
//! evidence files, kept only wrapped by a key derived with Argon2id from
//! the officer's PIN and a per-device secret. Whoever copies the tablet's
//! storage gets the store and a wrapped key, neither usable without the
//! PIN; where the platform has a keystore, the device secret lives there
//! and the copy lacks it too ([`DeviceSecret`]).
//!
//! Wrong PINs are counted in a file beside the vault: after
//! [`PinPolicy::free_tries`] each next try must wait (doubling), and after
//! [`PinPolicy::max_failures`] the vault, the device secret and the local
//! data are wiped. Changing the PIN wraps the same data key anew: the data
//! are not encrypted again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::keys::DeviceKey;

/// Where the device secret is kept. The platform's keystore (Android
/// Keystore, iOS Keychain, the Linux Secret Service) keeps it out of the
/// app's files; [`FileSecret`] is the fallback, weaker: a copy of the
/// keystore folder carries it, and then only the PIN's Argon2id cost
/// stands between the copy and the data.
pub trait DeviceSecret: Send + Sync + std::fmt::Debug {
    /// The secret, made on first use.
    fn load_or_create(&self) -> Result<[u8; 32], CoreError>;
    /// Forgets the secret for good (a wipe).
    fn destroy(&self) -> Result<(), CoreError>;
    /// Where it is kept, as the settings screen says it.
    fn kind_zh(&self) -> &'static str;
}

/// The device secret in a file of its own (mode 0600), beside the vault.
#[derive(Debug, Clone)]
pub struct FileSecret(pub PathBuf);

impl DeviceSecret for FileSecret {
    fn load_or_create(&self) -> Result<[u8; 32], CoreError> {
        Ok(*DeviceKey::load_or_create(&self.0)?.bytes())
    }

    fn destroy(&self) -> Result<(), CoreError> {
        remove_if_there(&self.0)
    }

    fn kind_zh(&self) -> &'static str {
        "应用文件（较弱：无系统密钥库）"
    }
}

/// How PINs are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPolicy {
    /// Wrong PINs in a row before the local data are wiped.
    pub max_failures: u32,
    /// Wrong PINs in a row allowed without waiting.
    pub free_tries: u32,
    /// The wait after the first wrong PIN past the free ones; each next
    /// doubles it, up to a quarter of an hour.
    pub first_wait: Duration,
    /// The app asks for the PIN again after this long without use.
    pub idle_lock: Duration,
}

impl Default for PinPolicy {
    fn default() -> Self {
        Self {
            max_failures: 10,
            free_tries: 3,
            first_wait: Duration::from_secs(30),
            idle_lock: Duration::from_secs(5 * 60),
        }
    }
}

/// The shortest and longest PIN, in digits.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 6..=12;

/// Checks a PIN's form: digits only, six to twelve of them.
pub fn check_pin_form(pin: &str) -> Result<(), CoreError> {
    if PIN_DIGITS.contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CoreError::Refused(format!(
            "PIN 须为 {} 至 {} 位数字 (a PIN is {} to {} digits)",
            PIN_DIGITS.start(),
            PIN_DIGITS.end(),
            PIN_DIGITS.start(),
            PIN_DIGITS.end()
        )))
    }
}

/// Where the vault stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultState {
    /// No PIN set yet: the first start, or an app from before the vault
    /// (its key file is wrapped when the PIN is set).
    NoPin,
    /// A PIN is set; `failures` wrong ones in a row so far, and the next
    /// try is allowed from `wait_until` (if set).
    Locked {
        failures: u32,
        wait_until: Option<DateTime<Utc>>,
    },
}

/// Why an unlock did not give the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    #[error("PIN 不正确，还可尝试 {remaining} 次；连续错误 {max} 次将清除本机数据")]
    WrongPin {
        remaining: u32,
        max: u32,
        wait_until: Option<DateTime<Utc>>,
    },
    #[error("尝试过于频繁，请于 {} 后再试", china_clock(.0))]
    TooSoon(DateTime<Utc>),
    #[error("PIN 连续错误次数过多，本机数据、照片和密钥已全部清除")]
    Wiped,
    #[error("尚未设置 PIN")]
    NoPin,
    #[error("{0}")]
    Other(String),
}

/// A moment as the lock screen says it: China time, `HH:MM:SS`.
pub fn china_clock(t: &DateTime<Utc>) -> String {
    t.with_timezone(&crate::app::china_time())
        .format("%H:%M:%S")
        .to_string()
}

impl From<CoreError> for UnlockError {
    fn from(e: CoreError) -> Self {
        Self::Other(e.to_string())
    }
}

/// The wrapped key as stored (`vault.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sealed {
    version: u32,
    /// Argon2id cost: memory in KiB, passes, lanes.
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    nonce: String,
    wrapped: String,
}

/// Wrong PINs in a row (`pin-attempts.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Attempts {
    failures: u32,
    wait_until: Option<DateTime<Utc>>,
}

/// Argon2id cost of a new wrap: about a quarter of a second on a tablet,
/// so that guessing a copied vault's PIN costs that per guess (and needs
/// the device secret too).
const M_KIB: u32 = 64 * 1024;
const T_COST: u32 = 3;
const AAD: &[u8] = b"choucha/vault/v1";

/// The vault in the keystore folder (outside the data directory).
#[derive(Debug)]
pub struct Vault {
    dir: PathBuf,
    secret: Box<dyn DeviceSecret>,
    policy: PinPolicy,
}

impl Vault {
    /// The vault in `dir`, with the device secret in `secret`.
    pub fn new(dir: &Path, secret: Box<dyn DeviceSecret>, policy: PinPolicy) -> Self {
        Self {
            dir: dir.to_owned(),
            secret,
            policy,
        }
    }

    /// The vault in `dir` with the file fallback for the device secret.
    pub fn with_file_secret(dir: &Path, policy: PinPolicy) -> Self {
        Self::new(dir, Box::new(FileSecret(dir.join("device.secret"))), policy)
    }

    pub fn policy(&self) -> PinPolicy {
        self.policy
    }

    pub fn secret_kind_zh(&self) -> &'static str {
        self.secret.kind_zh()
    }

    fn sealed_path(&self) -> PathBuf {
        self.dir.join("vault.json")
    }

    fn attempts_path(&self) -> PathBuf {
        self.dir.join("pin-attempts.json")
    }

    /// The plain key file of an app from before the vault.
    fn legacy_key_path(&self) -> PathBuf {
        self.dir.join("device.key")
    }

    pub fn state(&self) -> Result<VaultState, CoreError> {
        if !self.sealed_path().exists() {
            return Ok(VaultState::NoPin);
        }
        let a = self.attempts()?;
        Ok(VaultState::Locked {
            failures: a.failures,
            wait_until: a.wait_until.filter(|w| *w > Utc::now()),
        })
    }

    /// Sets the first PIN: wraps the key of an app from before the vault
    /// (and removes its plain file) or a new key. Refused once a PIN is set.
    pub fn set_pin(&self, pin: &str) -> Result<DeviceKey, CoreError> {
        check_pin_form(pin)?;
        if self.sealed_path().exists() {
            return Err(CoreError::Refused(
                "已设置 PIN；如需更改请在设置中修改 (a PIN is already set)".into(),
            ));
        }
        let legacy = self.legacy_key_path();
        let key = if legacy.exists() {
            DeviceKey::load_or_create(&legacy)?
        } else {
            DeviceKey::generate()
        };
        self.seal(&key, pin)?;
        self.save_attempts(&Attempts::default())?;
        // Only once the wrapped key is durable does the plain one go.
        remove_if_there(&legacy)?;
        Ok(key)
    }

    /// The data key for this PIN, counting a wrong one (and wiping the
    /// vault after too many: the caller then wipes the data).
    pub fn unlock(&self, pin: &str) -> Result<DeviceKey, UnlockError> {
        if !self.sealed_path().exists() {
            return Err(UnlockError::NoPin);
        }
        let mut attempts = self.attempts()?;
        let now = Utc::now();
        if let Some(w) = attempts.wait_until.filter(|w| *w > now) {
            // Not checked, not counted: waiting is the point.
            return Err(UnlockError::TooSoon(w));
        }
        if let Some(key) = self.open_with(pin)? {
            if attempts.failures > 0 {
                self.save_attempts(&Attempts::default())?;
            }
            return Ok(key);
        }
        attempts.failures += 1;
        if attempts.failures >= self.policy.max_failures {
            self.destroy()?;
            return Err(UnlockError::Wiped);
        }
        attempts.wait_until = (attempts.failures >= self.policy.free_tries).then(|| {
            let doublings = (attempts.failures - self.policy.free_tries).min(10);
            let wait =
                (self.policy.first_wait * 2u32.pow(doublings)).min(Duration::from_secs(15 * 60));
            now + chrono::Duration::from_std(wait).unwrap_or_default()
        });
        self.save_attempts(&attempts)?;
        Err(UnlockError::WrongPin {
            remaining: self.policy.max_failures - attempts.failures,
            max: self.policy.max_failures,
            wait_until: attempts.wait_until,
        })
    }

    /// Re-wraps the data key under a new PIN; the data stay as they are.
    pub fn change_pin(&self, old: &str, new: &str) -> Result<(), UnlockError> {
        check_pin_form(new)?;
        let key = self.unlock(old)?;
        self.seal(&key, new)?;
        Ok(())
    }

    /// Removes the vault, the attempts and the device secret: the data key
    /// is gone for good.
    pub fn destroy(&self) -> Result<(), CoreError> {
        remove_if_there(&self.sealed_path())?;
        remove_if_there(&self.legacy_key_path())?;
        self.secret.destroy()?;
        remove_if_there(&self.attempts_path())
    }

    fn kek(
        &self,
        pin: &str,
        salt: &[u8],
        m_kib: u32,
        t: u32,
        p: u32,
    ) -> Result<[u8; 32], CoreError> {
        let secret = self.secret.load_or_create()?;
        let params = Params::new(m_kib, t, p, Some(32))
            .map_err(|e| CoreError::Key(format!("Argon2 参数无效：{e}")))?;
        let argon = Argon2::new_with_secret(&secret, Algorithm::Argon2id, Version::V0x13, params)
            .map_err(|e| CoreError::Key(format!("Argon2：{e}")))?;
        let mut out = [0u8; 32];
        argon
            .hash_password_into(pin.as_bytes(), salt, &mut out)
            .map_err(|e| CoreError::Key(format!("Argon2：{e}")))?;
        Ok(out)
    }

    fn seal(&self, key: &DeviceKey, pin: &str) -> Result<(), CoreError> {
        let salt: [u8; 16] = rand::random();
        let nonce: [u8; 12] = rand::random();
        let kek = self.kek(pin, &salt, M_KIB, T_COST, 1)?;
        let wrapped = ChaCha20Poly1305::new((&kek).into())
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: key.bytes(),
                    aad: AAD,
                },
            )
            .map_err(|_| CoreError::Key("无法封装数据密钥 (wrap failed)".into()))?;
        let sealed = Sealed {
            version: 1,
            m_kib: M_KIB,
            t: T_COST,
            p: 1,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            wrapped: hex::encode(wrapped),
        };
        let json =
            serde_json::to_vec_pretty(&sealed).map_err(|e| CoreError::Format(e.to_string()))?;
        write_atomically(&self.sealed_path(), &json)
    }

    /// The key if `pin` is right; `None` if it is wrong.
    fn open_with(&self, pin: &str) -> Result<Option<DeviceKey>, CoreError> {
        let text =
            std::fs::read(self.sealed_path()).map_err(|e| CoreError::io("reading the vault", e))?;
        let s: Sealed = serde_json::from_slice(&text)
            .map_err(|e| CoreError::Key(format!("密钥保管文件已损坏：{e} (corrupt vault)")))?;
        let bad =
            |what: &str| CoreError::Key(format!("密钥保管文件已损坏：{what} (corrupt vault)"));
        let salt = hex::decode(&s.salt).map_err(|_| bad("salt"))?;
        let nonce = hex::decode(&s.nonce).map_err(|_| bad("nonce"))?;
        let wrapped = hex::decode(&s.wrapped).map_err(|_| bad("wrapped"))?;
        if nonce.len() != 12 {
            return Err(bad("nonce"));
        }
        let kek = self.kek(pin, &salt, s.m_kib, s.t, s.p)?;
        match ChaCha20Poly1305::new((&kek).into()).decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &wrapped,
                aad: AAD,
            },
        ) {
            Ok(plain) if plain.len() == 32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(&plain);
                Ok(Some(DeviceKey::from_bytes(k)))
            }
            Ok(_) => Err(bad("key length")),
            // The tag does not match: the PIN is wrong (or the device
            // secret is not this device's).
            Err(_) => Ok(None),
        }
    }

    fn attempts(&self) -> Result<Attempts, CoreError> {
        match std::fs::read(self.attempts_path()) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or(Attempts {
                // An unreadable count is taken as the worst short of a wipe.
                failures: self.policy.max_failures.saturating_sub(1),
                wait_until: None,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Attempts::default()),
            Err(e) => Err(CoreError::io("reading the PIN attempts", e)),
        }
    }

    fn save_attempts(&self, a: &Attempts) -> Result<(), CoreError> {
        let json = serde_json::to_vec(a).map_err(|e| CoreError::Format(e.to_string()))?;
        write_atomically(&self.attempts_path(), &json)
    }
}

fn remove_if_there(path: &Path) -> Result<(), CoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CoreError::io("removing a key file", e)),
    }
}

/// Writes `bytes` to a temporary file, syncs it and renames it over
/// `path`: a crash leaves the old file or the new, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| CoreError::io("creating the keystore folder", e))?;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .map_err(|e| CoreError::io("writing the vault", e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| CoreError::io("writing the vault", e))?;
    std::fs::rename(&tmp, path).map_err(|e| CoreError::io("replacing the vault", e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
