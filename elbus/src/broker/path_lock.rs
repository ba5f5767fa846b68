//! Exclusive ownership of a path the broker serves (a UNIX socket or a FIFO), through an
//! `flock`ed lock file beside it (`PATH.lock`).
//!
//! Two brokers started at the same instant on one path would otherwise both see it free (or
//! both see the same stale socket), both remove it and both bind; the loser then serves a
//! socket nobody can reach, and stopping either removes the other's file. With the lock, the
//! check for a stale file, its removal, the bind and, at the end, the removal of the file all
//! happen while holding the lock, so exactly one broker owns a path at a time, and a broker only
//! ever removes the file it created itself.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::Error;

/// How often a lock is retried when the lock file is replaced under us (its previous holder
/// removed it between our open and our lock): each retry follows a completed hand-over, so a
/// few are plenty.
const LOCK_ATTEMPTS: usize = 8;

/// The device and inode of a file: what tells "the file this process created" from a file
/// someone put at the same path later. (Not the change time: writes to a FIFO change it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The file at `path` itself (a symlink is not followed).
    fn at(path: &Path) -> Option<FileId> {
        std::fs::symlink_metadata(path)
            .ok()
            .map(|meta| FileId::of(&meta))
    }
}

/// The lock file of `path`: `PATH.lock`.
pub(crate) fn lock_path_for(path: &Path) -> PathBuf {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    PathBuf::from(lock)
}

/// Held for as long as this process serves `path`; see the module docs.
#[derive(Debug)]
pub(crate) struct PathLock {
    path: PathBuf,
    lock_path: PathBuf,
    /// The locked file; closing it releases the lock.
    file: File,
    /// The file this process created at `path`, once [`PathLock::claim`] recorded it.
    created: Option<FileId>,
}

impl PathLock {
    /// Takes the lock of `path`, or fails at once (without waiting) if another process holds
    /// it: `Busy`, naming the path and the lock file.
    pub(crate) fn acquire(path: &Path) -> Result<PathLock, Error> {
        let lock_path = lock_path_for(path);
        for _ in 0..LOCK_ATTEMPTS {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .mode(0o600)
                // A symlink planted at the lock path is refused, not followed.
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&lock_path)
                .map_err(|err| {
                    Error::io(format!(
                        "unable to bind {}: unable to open the lock file {}: {err}",
                        path.display(),
                        lock_path.display()
                    ))
                })?;
            // SAFETY: the descriptor is open for the duration of the call.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let err = std::io::Error::last_os_error();
                if err.kind() == std::io::ErrorKind::WouldBlock {
                    return Err(Error::busy(format!(
                        "unable to bind {}: another process is listening on it (a broker \
                         holds {})",
                        path.display(),
                        lock_path.display()
                    )));
                }
                return Err(Error::io(format!(
                    "unable to bind {}: unable to lock {}: {err}",
                    path.display(),
                    lock_path.display()
                )));
            }
            // The previous holder removes the lock file before it lets go: a lock taken on a
            // file that is no longer at the path guards nothing, so try again on the new one.
            let locked = file.metadata().ok().map(|meta| FileId::of(&meta));
            if locked.is_some() && locked == FileId::at(&lock_path) {
                return Ok(PathLock {
                    path: path.to_path_buf(),
                    lock_path,
                    file,
                    created: None,
                });
            }
        }
        Err(Error::io(format!(
            "unable to bind {}: the lock file {} keeps being replaced",
            path.display(),
            lock_path.display()
        )))
    }

    /// Records the file now at the path as this process's own, to be removed by
    /// [`PathLock::release`].
    pub(crate) fn claim(&mut self) {
        self.created = FileId::at(&self.path);
    }

    /// Removes the file this process created at the path (only if it is still that file), then
    /// the lock file, then lets the lock go.
    pub(crate) fn release(self) {
        if let Some(created) = self.created {
            if FileId::at(&self.path) == Some(created) {
                if let Err(err) = std::fs::remove_file(&self.path) {
                    tracing::warn!("unable to remove {}: {err}", self.path.display());
                }
            }
        }
        // Removed while still locked, so the next broker locks a fresh file, never this one.
        let _ = std::fs::remove_file(&self.lock_path);
        drop(self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_release_removes_only_what_was_created() {
        let dir = std::env::temp_dir().join(format!("elbus-path-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bus.sock");
        let mut first = PathLock::acquire(&path).unwrap();
        let err = PathLock::acquire(&path).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Busy, "{err}");
        std::fs::write(&path, b"mine").unwrap();
        first.claim();
        // Someone else's file now sits at the path: release must leave it alone.
        let theirs = dir.join("theirs");
        std::fs::write(&theirs, b"theirs").unwrap();
        std::fs::rename(&theirs, &path).unwrap();
        first.release();
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
        assert!(!lock_path_for(&path).exists());
        let mut second = PathLock::acquire(&path).unwrap();
        second.claim();
        second.release();
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
