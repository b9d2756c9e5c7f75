//! The handles [`SimFs`] gives out: files being written, files being read, and locks.
//!
//! Each handle remembers the power cycle (epoch) it was opened in. A crash starts a new
//! one, and from then on the handle refuses to work, as a file descriptor would after a
//! reboot, if it could survive one.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, Weak};

use rand::Rng;

use super::disk::InodeId;
use super::{FaultKind, Op, SimFs, State};
use crate::{ReadableFile, WritableFile};

/// A file opened by [`FileSystem::create`](crate::FileSystem::create).
pub(super) struct SimWritable {
    fs: SimFs,
    ino: InodeId,
    path: PathBuf,
    epoch: u64,
    /// The file's length: only this handle appends to it.
    len: u64,
}

impl SimWritable {
    pub(super) fn new(fs: SimFs, ino: InodeId, path: PathBuf, epoch: u64) -> SimWritable {
        SimWritable {
            fs,
            ino,
            path,
            epoch,
            len: 0,
        }
    }
}

impl fmt::Debug for SimWritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimWritable")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

impl WritableFile for SimWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut state = self.fs.state();
        let fault = state.begin(Op::Append, Some(self.epoch), &[&self.path])?;
        let n_written = match fault {
            None => data.len(),
            Some(FaultKind::Eio | FaultKind::ReadOnly) => 0,
            // A full disk accepts what fits and fails on the rest: a short write. Often
            // nothing fits at all; weight that case, so callers see it.
            Some(FaultKind::Enospc) if data.is_empty() || state.rng.random_ratio(1, 3) => 0,
            Some(FaultKind::Enospc) => state.rng.random_range(0..data.len()),
        };
        state.disk.append(self.ino, &data[..n_written]);
        self.len += n_written as u64;
        match fault {
            None => {
                state.stats.n_appends += 1;
                state.stats.n_bytes_appended += n_written as u64;
                Ok(())
            }
            Some(kind) => Err(kind.to_error(Op::Append, &self.path)),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.fs.state();
        match state.begin(Op::Sync, Some(self.epoch), &[&self.path])? {
            None => {
                state.disk.sync(self.ino);
                state.stats.n_syncs += 1;
                Ok(())
            }
            Some(kind) => {
                // A write-back error loses the unsynced pages; a read-only refusal
                // touches nothing.
                if kind != FaultKind::ReadOnly {
                    state.disk.fail_sync(self.ino);
                }
                Err(kind.to_error(Op::Sync, &self.path))
            }
        }
    }

    /// The bytes in the file, including those of a short write that reported an error.
    fn len(&self) -> u64 {
        self.len
    }

    fn reserve(&mut self, len: u64) -> io::Result<()> {
        let mut state = self.fs.state();
        if let Some(kind) = state.begin(Op::Reserve, Some(self.epoch), &[&self.path])? {
            return Err(kind.to_error(Op::Reserve, &self.path));
        }
        let len = usize::try_from(len).map_err(io::Error::other)?;
        state.disk.reserve(self.ino, len);
        Ok(())
    }
}

/// A file opened by [`FileSystem::open`](crate::FileSystem::open).
pub(super) struct SimReadable {
    fs: SimFs,
    ino: InodeId,
    path: PathBuf,
    epoch: u64,
    /// The length at open time; reads are checked against it, as for a mapped file.
    len: u64,
}

impl SimReadable {
    pub(super) fn new(fs: SimFs, ino: InodeId, path: PathBuf, epoch: u64, len: u64) -> SimReadable {
        SimReadable {
            fs,
            ino,
            path,
            epoch,
            len,
        }
    }
}

impl fmt::Debug for SimReadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimReadable")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

impl ReadableFile for SimReadable {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut state = self.fs.state();
        if let Some(kind) = state.begin(Op::Read, Some(self.epoch), &[&self.path])? {
            return Err(kind.to_error(Op::Read, &self.path));
        }
        crate::check_read_bounds(offset, buf.len() as u64, self.len)?;
        // Cannot fail: `offset <= len`, and `len` is the length of a file in memory.
        let offset = usize::try_from(offset).map_err(io::Error::other)?;
        state.disk.read(self.ino, offset, buf)
    }
}

/// Holds a lock taken by [`FileSystem::lock`](crate::FileSystem::lock) until dropped.
///
/// It keeps only a weak reference, so a forgotten lock does not keep a dropped file system
/// alive.
pub(super) struct LockGuard {
    pub(super) state: Weak<Mutex<State>>,
    pub(super) ino: InodeId,
    pub(super) epoch: u64,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let Some(state) = self.state.upgrade() else {
            return;
        };
        // Never panic in drop: a poisoned lock still holds a usable state.
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        // A crash released every lock of the old epoch, and a new holder may have taken
        // this one since: it is not ours to release.
        if state.epoch == self.epoch {
            state.locks.remove(&self.ino);
        }
    }
}
