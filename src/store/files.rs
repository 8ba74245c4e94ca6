//! The files behind the store, watched so that a database deleted or
//! replaced under a running service is noticed instead of written into.
//!
//! SQLite keeps writing to a file it has open even after the file is deleted
//! or renamed away, and whatever it writes there is lost at the next start; a
//! deleted shared-memory file splits the view of the database between
//! processes; a deleted lock file lets a second service in. So before each
//! commit the writer checks that all of them are still the files it opened.

use std::path::{Path, PathBuf};

use super::StoreError;

/// Identity of one file: device and inode on Unix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

/// The database file and its write-ahead log, as opened.
#[derive(Debug)]
pub(super) struct StoreFiles {
    watched: Vec<(PathBuf, FileId)>,
}

impl StoreFiles {
    /// Records the identity of the database at `path`, of its WAL and
    /// shared-memory files, and of the service's lock file when there is one.
    pub(super) fn opened(path: &Path, lock: Option<PathBuf>) -> Result<Self, StoreError> {
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let shm = PathBuf::from(format!("{}-shm", path.display()));
        let mut watched = Vec::new();
        for file in [path.to_owned(), wal, shm].into_iter().chain(lock) {
            let id = identity(&file).ok_or_else(|| {
                StoreError::Database(format!("{} is missing after opening", file.display()))
            })?;
            watched.push((file, id));
        }
        Ok(Self { watched })
    }

    /// Fails when a watched file was deleted or replaced since it was opened.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        for (file, id) in &self.watched {
            if identity(file) != Some(*id) {
                tracing::error!(
                    file = %file.display(),
                    "The store file was deleted or replaced while in use; restart the service."
                );
                return Err(StoreError::Database(format!(
                    "{} was deleted or replaced while in use",
                    file.display()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn identity(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some(FileId(metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|_| FileId(0, 0))
}
