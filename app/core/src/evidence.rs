//! Evidence files (photos, signature images) on the tablet, encrypted at
//! rest with ChaCha20-Poly1305 under the device's evidence key, named by the
//! SHA-256 of their plaintext. Written to a temp file, fsynced, renamed: a
//! crash leaves either the whole file or none.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use choucha_shared::Sha256Hex;

use crate::error::CoreError;
use crate::keys::DeviceKey;

#[derive(Clone)]
pub struct EvidenceStore {
    dir: PathBuf,
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for EvidenceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl EvidenceStore {
    pub fn open(dir: &Path, key: &DeviceKey) -> Result<Self, CoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| CoreError::io("creating the evidence directory", e))?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key.evidence_key()));
        Ok(Self {
            dir: dir.to_owned(),
            cipher,
        })
    }

    fn path(&self, sha: &Sha256Hex) -> PathBuf {
        self.dir.join(format!("{sha}.enc"))
    }

    /// Stores `bytes`; returns their SHA-256. Storing the same bytes twice
    /// is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<Sha256Hex, CoreError> {
        let sha = Sha256Hex::of(bytes);
        let path = self.path(&sha);
        if path.exists() {
            return Ok(sha);
        }
        let nonce_bytes: [u8; 12] = rand::random();
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce_bytes), bytes)
            .map_err(|_| CoreError::Key("加密证据文件失败 (encryption failed)".into()))?;
        let tmp = self.dir.join(format!(".{sha}.tmp"));
        let mut f = std::fs::File::create(&tmp)
            .map_err(|e| CoreError::io("writing an evidence file", e))?;
        f.write_all(&nonce_bytes)
            .and_then(|_| f.write_all(&sealed))
            .and_then(|_| f.sync_all())
            .map_err(|e| CoreError::io("writing an evidence file", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| CoreError::io("storing an evidence file", e))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(sha)
    }

    /// The plaintext, verified against its name.
    pub fn get(&self, sha: &Sha256Hex) -> Result<Vec<u8>, CoreError> {
        let data = std::fs::read(self.path(sha)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CoreError::NotFound(format!("证据文件 {sha}")),
            _ => CoreError::io("reading an evidence file", e),
        })?;
        if data.len() < 12 {
            return Err(CoreError::EvidenceCorrupt(sha.to_string()));
        }
        let (nonce, body) = data.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| CoreError::EvidenceCorrupt(sha.to_string()))?;
        if Sha256Hex::of(&plain) != *sha {
            return Err(CoreError::EvidenceCorrupt(sha.to_string()));
        }
        Ok(plain)
    }

    pub fn contains(&self, sha: &Sha256Hex) -> bool {
        self.path(sha).exists()
    }

    /// Removes everything (revoked device).
    pub fn wipe(&self) -> Result<(), CoreError> {
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).map_err(|e| CoreError::io("wiping evidence", e))?;
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| CoreError::io("creating the evidence directory", e))
    }
}
