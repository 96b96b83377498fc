//! One server process per SQLite data directory.
//!
//! SQLite is the embedded single-instance default: the writer queue, the
//! token cache and the part files all assume that this process is the only
//! server writing the directory. A second `serve` on the same directory
//! (started by mistake, or a "cluster" pointed at a shared disk) would
//! break those assumptions silently, so it is refused at start with a
//! message that says what to do. The lock is an OS file lock: it goes away
//! with the process however that ends, so a crash never leaves a stale lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Held for as long as the server runs.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DataDirLockError {
    #[error(
        "数据目录 {dir} 已被另一个 choucha-server 进程使用；SQLite 只支持单实例运行，\
         多实例请改用 PostgreSQL（见 docs/deploy.md） \
         (the data directory {dir} is in use by another choucha-server process; \
         SQLite runs one instance only — stop the other one, or use PostgreSQL for several)"
    )]
    InUse { dir: String },
    #[error("无法锁定数据目录 {dir} (cannot lock the data directory {dir}: {source})")]
    Io {
        dir: String,
        #[source]
        source: io::Error,
    },
}

impl DataDirLock {
    /// Takes `<data_dir>/choucha.lock`, creating the directory if needed.
    pub fn acquire(data_dir: &Path) -> Result<Self, DataDirLockError> {
        let dir = data_dir.display().to_string();
        let io = |source| DataDirLockError::Io {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let path = data_dir.join("choucha.lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        // flock(2) through rustix: `File::try_lock` is newer than the
        // workspace's minimum Rust version.
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(DataDirLockError::InUse { dir });
            }
            Err(e) => return Err(io(e.into())),
        }
        // For an operator looking: which process holds it.
        file.set_len(0).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let second = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(second, DataDirLockError::InUse { .. }), "{second}");
        assert!(second.to_string().contains("SQLite"), "{second}");
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
