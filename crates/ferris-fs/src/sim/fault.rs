//! Planned failures: which operation fails, how, and what a real disk would have done
//! before reporting the error.

use std::fmt;
use std::io;
use std::path::Path;

/// An operation [`SimFs`](super::SimFs) counts and a [`Fault`] can target.
///
/// Each variant is one trait method, except [`Op::List`], which also stands for
/// [`FileSystem::exists`](crate::FileSystem::exists) (both only read a directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// [`FileSystem::create`](crate::FileSystem::create).
    Create,
    /// [`FileSystem::open`](crate::FileSystem::open).
    Open,
    /// [`WritableFile::append`](crate::WritableFile::append).
    Append,
    /// [`WritableFile::sync`](crate::WritableFile::sync).
    Sync,
    /// [`WritableFile::reserve`](crate::WritableFile::reserve).
    Reserve,
    /// [`FileSystem::sync_dir`](crate::FileSystem::sync_dir).
    SyncDir,
    /// [`FileSystem::rename`](crate::FileSystem::rename).
    Rename,
    /// [`FileSystem::remove`](crate::FileSystem::remove).
    Remove,
    /// [`FileSystem::hard_link`](crate::FileSystem::hard_link).
    Link,
    /// [`FileSystem::list`](crate::FileSystem::list) and
    /// [`FileSystem::exists`](crate::FileSystem::exists).
    List,
    /// [`FileSystem::lock`](crate::FileSystem::lock).
    Lock,
    /// [`ReadableFile::read_exact_at`](crate::ReadableFile::read_exact_at) (and so
    /// [`ReadableFile::read_vec`](crate::ReadableFile::read_vec)).
    Read,
    /// [`FileSystem::create_dir_all`](crate::FileSystem::create_dir_all).
    CreateDir,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Create => "create",
            Op::Open => "open",
            Op::Append => "append",
            Op::Sync => "sync",
            Op::Reserve => "reserve",
            Op::SyncDir => "sync_dir",
            Op::Rename => "rename",
            Op::Remove => "remove",
            Op::Link => "hard_link",
            Op::List => "list",
            Op::Lock => "lock",
            Op::Read => "read",
            Op::CreateDir => "create_dir_all",
        })
    }
}

/// The error a [`Fault`] injects, and the damage that comes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// An I/O error (`EIO`), reported as [`io::ErrorKind::Other`].
    ///
    /// On [`Op::Append`] nothing is written. On [`Op::Sync`] the bytes that were unsynced
    /// are lost for good, even if a later sync succeeds (see the
    /// [module docs](super#fsyncgate-a-failed-sync-loses-data)). Any other operation
    /// changes nothing.
    Eio,
    /// The disk is full (`ENOSPC`), reported as [`io::ErrorKind::StorageFull`].
    ///
    /// On [`Op::Append`] a random part of the data is written first, as a short write on a
    /// full disk would: a prefix shorter than the whole, empty one time in three. On [`Op::Sync`] the unsynced bytes are lost, as
    /// with [`FaultKind::Eio`]: Linux reports both through the same write-back error.
    /// Any other operation changes nothing.
    Enospc,
    /// The file system is mounted read-only, or the directory is not writable by this
    /// process (`EROFS`, or `EACCES` from permission bits), reported as
    /// [`io::ErrorKind::ReadOnlyFilesystem`].
    ///
    /// Nothing is written or changed, whatever the operation. Aimed at [`Op::Lock`] or
    /// [`Op::CreateDir`], it stands for a database directory a process may read but not
    /// write (a test running as root cannot make one with permission bits).
    ReadOnly,
}

impl FaultKind {
    /// The error an operation hit by this fault returns.
    pub(super) fn to_error(self, op: Op, path: &Path) -> io::Error {
        match self {
            FaultKind::Eio => io::Error::other(format!(
                "simulated EIO (input/output error) on {op} of {}",
                path.display()
            )),
            FaultKind::Enospc => io::Error::new(
                io::ErrorKind::StorageFull,
                format!(
                    "simulated ENOSPC (no space left on device) on {op} of {}",
                    path.display()
                ),
            ),
            FaultKind::ReadOnly => io::Error::new(
                io::ErrorKind::ReadOnlyFilesystem,
                format!(
                    "simulated EROFS (read-only file system) on {op} of {}",
                    path.display()
                ),
            ),
        }
    }
}

/// A planned failure, given to [`SimFs::inject`](super::SimFs::inject).
///
/// By default a fault fires on the next operation of kind `op`, once. The builder methods
/// narrow it down:
///
/// ```
/// use std::path::Path;
/// use ferris_fs::{Fault, FaultKind, FileSystem, Op, SimFs};
///
/// let fs = SimFs::new(1);
/// fs.create_dir_all(Path::new("/db"))?;
/// // The third sync of a file whose path contains "wal" fails, and so does every later one.
/// fs.inject(Fault::new(Op::Sync, FaultKind::Eio).path_contains("wal").after(2).sticky(true));
///
/// let mut wal = fs.create(Path::new("/db/000001.wal"))?;
/// let mut table = fs.create(Path::new("/db/000002.sst"))?;
/// wal.sync()?;
/// table.sync()?; // does not match: not counted
/// wal.sync()?;
/// assert!(wal.sync().is_err());
/// assert!(wal.sync().is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Every planned fault counts the operations that match it from the moment it is injected,
/// whether or not they would have failed anyway and whether or not another fault fires on
/// them. When several faults are due on the same operation, the one injected first fires.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fault {
    op: Op,
    kind: FaultKind,
    path_contains: Option<String>,
    after: u64,
    sticky: bool,
}

impl Fault {
    /// A fault that fails the next operation of kind `op` with `kind`, once.
    pub fn new(op: Op, kind: FaultKind) -> Fault {
        Fault {
            op,
            kind,
            path_contains: None,
            after: 0,
            sticky: false,
        }
    }

    /// Only operations on a path containing `needle` match (for [`Op::Rename`], either
    /// path). File handles match by the path they were created or opened with.
    #[must_use]
    pub fn path_contains(mut self, needle: impl Into<String>) -> Fault {
        self.path_contains = Some(needle.into());
        self
    }

    /// Lets the first `n` matching operations succeed; the fault fires on the one after.
    #[must_use]
    pub fn after(mut self, n: u64) -> Fault {
        self.after = n;
        self
    }

    /// If `true`, once the fault has fired it fails every later matching operation too, as
    /// a disk that has died would. The default is `false`: fire once, then disarm.
    #[must_use]
    pub fn sticky(mut self, sticky: bool) -> Fault {
        self.sticky = sticky;
        self
    }

    fn matches(&self, op: Op, paths: &[&Path]) -> bool {
        self.op == op
            && self
                .path_contains
                .as_deref()
                .is_none_or(|needle| paths.iter().any(|p| p.to_string_lossy().contains(needle)))
    }
}

/// The faults waiting to fire, each with the number of matching operations it has seen.
#[derive(Debug, Default)]
pub(super) struct Faults {
    armed: Vec<Armed>,
}

#[derive(Debug)]
struct Armed {
    fault: Fault,
    n_seen: u64,
}

impl Faults {
    pub(super) fn inject(&mut self, fault: Fault) {
        self.armed.push(Armed { fault, n_seen: 0 });
    }

    pub(super) fn clear(&mut self) {
        self.armed.clear();
    }

    /// Shows the operation to every planned fault and returns the kind of the one that
    /// fires, if any. A fault that is not sticky is disarmed when it fires, so a sticky one
    /// that is still armed after firing keeps firing.
    pub(super) fn check(&mut self, op: Op, paths: &[&Path]) -> Option<FaultKind> {
        let mut firing = None;
        for (idx, armed) in self.armed.iter_mut().enumerate() {
            if !armed.fault.matches(op, paths) {
                continue;
            }
            armed.n_seen += 1;
            if armed.n_seen > armed.fault.after && firing.is_none() {
                firing = Some((idx, armed.fault.kind));
            }
        }
        let (idx, kind) = firing?;
        if !self.armed[idx].fault.sticky {
            self.armed.remove(idx);
        }
        Some(kind)
    }
}
