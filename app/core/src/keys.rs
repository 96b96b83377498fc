//! The data key: 32 random bytes from which the database key (SQLCipher)
//! and the evidence-file key are derived. On the tablet it is kept only
//! wrapped by the officer's PIN (`crate::vault`); a plain key file outside
//! the data directory remains for tests, tools and the simulation.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::CoreError;

/// Key material, wiped from memory on drop is not attempted (the process
/// holds the open database anyway); never logged: `Debug` hides it.
#[derive(Clone)]
pub struct DeviceKey([u8; 32]);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey(…)")
    }
}

impl DeviceKey {
    /// Loads the key file, creating it (mode 0600) with a fresh random key
    /// on first use.
    pub fn load_or_create(path: &Path) -> Result<Self, CoreError> {
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut k = [0u8; 32];
                k.copy_from_slice(&bytes);
                Ok(Self(k))
            }
            Ok(bytes) => Err(CoreError::Key(format!(
                "密钥文件 {} 已损坏（{} 字节，应为 32）(corrupt key file)",
                path.display(),
                bytes.len()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| CoreError::io("creating the key directory", e))?;
                }
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts
                    .open(path)
                    .map_err(|e| CoreError::io("creating the key file", e))?;
                f.write_all(&key)
                    .map_err(|e| CoreError::io("writing the key file", e))?;
                f.sync_all()
                    .map_err(|e| CoreError::io("syncing the key file", e))?;
                Ok(Self(key))
            }
            Err(e) => Err(CoreError::io("reading the key file", e)),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"choucha/");
        h.update(purpose.as_bytes());
        h.update(self.0);
        h.finalize().into()
    }

    /// SQLCipher raw key: `PRAGMA key = "x'…'"` skips its slow KDF.
    pub fn database_pragma(&self) -> String {
        format!("x'{}'", hex::encode(self.derive("database")))
    }

    pub fn evidence_key(&self) -> [u8; 32] {
        self.derive("evidence")
    }
}
