//! # ferris-fs: every byte FerrisDB reads or writes goes through here
//!
//! A storage engine makes promises about what survives a crash. To test those promises we
//! need to *cause* crashes: thousands of them, at exact points, reproducibly. Pulling the
//! plug on a real machine cannot do that, so FerrisDB never calls `std::fs` directly.
//! Instead, every crate takes a [`FileSystem`], and there are two of them:
//!
//! - [`StdFs`]: the real one, on `std::fs`; it appends with `pwrite` at the end it
//!   tracks, and reads with `pread`, or, when asked ([`StdFsOptions::mmap`]), maps
//!   immutable files with `memmap2`.
//! - [`SimFs`]: an in-memory file system that remembers which bytes and which directory
//!   entries were made durable, and can simulate a power cut from a seed: unsynced data and
//!   unsynced directory changes are dropped or torn, deterministically. It can also be told
//!   to fail a chosen operation with `EIO` or `ENOSPC`.
//!
//! ## The durability model
//!
//! The trait exposes exactly the guarantees a POSIX file system gives, no more:
//!
//! ```text
//!   append(bytes) ──► in the page cache: readable, NOT durable
//!   reserve(len)  ──► the file is `len` bytes long, zeros past what was appended,
//!                     which appends then overwrite: NOT durable either
//!   prefault(len) ──► reserve(len), with the page cache set up ahead for the
//!                     appends to come (only a matter of speed)
//!   sync()        ──► the file's bytes and length so far are durable ...
//!   sync_dir(dir) ──► ... and so are creates, renames, links and removes in `dir`
//! ```
//!
//! On [`StdFs`], every MiB appended asks Linux to start writing those pages out without
//! waiting (`sync_file_range`), so that a `sync` after many appends waits for the last
//! MiB or so rather than all of them; it changes when bytes reach the disk, not what is
//! promised.
//!
//! A file created, written and synced, whose directory was never synced, may vanish in a
//! power cut. A rename is atomic, but only durable after `sync_dir`. Code that wants a file to
//! appear atomically writes it under a temporary name, syncs it, renames it, and syncs the
//! directory: each crate's format spec in `docs/` analyses what a power cut leaves between
//! those steps.
//!
//! ## The design: one trait for every call
//!
//! Every crate above takes an `Arc<dyn FileSystem>`, and every open file is a
//! `Box<dyn WritableFile>` or `Box<dyn ReadableFile>`. That is what lets one engine run
//! unchanged on a real disk, on a simulated one that loses power on command, and on a
//! simulated one wrapped by a test to fail or shorten a chosen read
//! (`ferris-engine`'s `tests/it/io_faults.rs`). It costs a virtual call per file
//! operation and an allocation per opened file, both small next to the system call
//! behind them; and the compiler cannot inline across the boundary, which matters only
//! where no system call follows (a block read from a memory-mapped table is a virtual
//! call to [`ReadableFile::mapped`] and a copy). The larger price
//! is the trait's narrowness: whatever is not in it, FerrisDB cannot use. There is no
//! `O_DIRECT`, no read-ahead hint, no `io_uring`, and adding one means adding it to every
//! implementation, the simulated disk's model included. [`WritableFile::reserve`] is the
//! one such addition so far, and it shows the price: it is a single `ftruncate` on
//! [`StdFs`], but [`SimFs`] had to learn what a power cut does to a file length that was
//! set but not synced. A generic parameter (`Db<F: FileSystem>`) would remove the
//! virtual calls, but would make every type above generic and every error message and
//! test longer, for a saving no benchmark here has shown to matter.
//!
//! ## Example
//!
//! ```
//! use std::path::Path;
//! use ferris_fs::{FileSystem, SimFs};
//!
//! let fs = SimFs::new(42);
//! let dir = Path::new("/db");
//! fs.create_dir_all(dir)?;
//!
//! let mut file = fs.create(&dir.join("a.log"))?;
//! file.append(b"durable")?;
//! file.sync()?;
//! fs.sync_dir(dir)?;
//! file.append(b" and lost")?;
//!
//! fs.crash(); // power cut: unsynced bytes are dropped or torn
//! let file = fs.open(&dir.join("a.log"))?;
//! let mut head = vec![0; 7];
//! file.read_exact_at(0, &mut head)?;
//! assert_eq!(head, b"durable");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Errors
//!
//! Operations return [`std::io::Result`]: the file system is the one layer where
//! `io::Error` *is* the right type. A full disk is [`io::ErrorKind::StorageFull`], a held lock
//! is [`io::ErrorKind::WouldBlock`], a file that already exists is
//! [`io::ErrorKind::AlreadyExists`]. Crates above wrap these in their own error types,
//! adding the path.
//!
//! # Limits
//!
//! [`SimFs`] models a disk that loses power and reports errors; its [module
//! docs](sim) describe the model in full. What it does **not** model:
//!
//! - **Damage to synced data.** Bytes made durable by a sync are never changed by a
//!   crash: no bit rot, no misdirected or lost writes of synced sectors. FerrisDB's
//!   checksums are tested against that separately, by flipping bits in real files.
//! - **Reordered writes within a file.** A crash keeps a *prefix* of a file's unsynced
//!   bytes (with at most the last sector torn); a real disk may persist sectors out of
//!   order, so a later block survives while an earlier one does not.
//! - **One journal across directories.** Each directory's pending changes survive a
//!   crash independently of the others', which is harsher than most file systems.
//! - **Capacity, latency and concurrency of the device.** A full disk is an injected
//!   fault ([`FaultKind::Enospc`]), not a size; operations take no time; there is no
//!   second process (locks are per `SimFs`).
//! - **Memory maps.** [`ReadableFile::mapped`] is always `None`, so code that reads
//!   through a map is tested only on [`StdFs`].
//! - **Faults outside the list.** An injected fault is `EIO` or `ENOSPC`, or
//!   `FaultKind::ReadOnly` for a directory that cannot be written; short reads and other
//!   misbehaviour come from wrappers a test puts around the trait.
//!
//! [`StdFs`] promises only what the operating system does: whether a sync reaches the
//! medium depends on the disk's write cache and the file system's mount options.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 1. Try each exercise first.
//!
//! 1. On a [`SimFs`], create a file, append to it, sync it, append again without a sync,
//!    and call [`SimFs::crash`]. Read the file back under a few seeds: what can survive
//!    of the unsynced append, and what always survives?
//! 2. Create a file and sync it, but not its directory, then crash. Is the file still
//!    there? Which call makes its name durable?
//! 3. [`SimFs::inject`] a [`Fault`] that fails the next sync with [`FaultKind::Eio`].
//!    Why must a database that sees a failed fsync refuse writes until it is reopened,
//!    rather than retry the fsync?
//!
//! ## What to read next
//!
//! Chapter 2, `ferris-wal`, the first crate that puts these promises to work: a log that survives a
//! power cut because it knows exactly which bytes `sync` made durable.

use std::fmt;
use std::io;
use std::path::Path;

mod mmap;
pub mod sim;
mod std_fs;
mod writeback;

pub use sim::{Fault, FaultKind, Op, SimFs, SimStats};
pub use std_fs::{StdFs, StdFsOptions};

/// The file operations FerrisDB needs, and nothing else.
///
/// # Contract
///
/// An implementation must provide POSIX-like semantics, as described in the crate docs:
///
/// - [`create`](FileSystem::create) makes a new, empty file and fails with
///   [`io::ErrorKind::AlreadyExists`] if the path exists. FerrisDB never overwrites a file in
///   place; it writes a new one and renames it.
/// - Appended bytes are readable at once by any reader, and durable only after
///   [`WritableFile::sync`] returns `Ok`.
/// - [`rename`](FileSystem::rename) atomically replaces `to` if it exists.
/// - Directory changes (create, rename, hard link, remove) are durable only after
///   [`sync_dir`](FileSystem::sync_dir) on the directory that holds them.
/// - [`lock`](FileSystem::lock) takes an exclusive advisory lock, creating the lock file if
///   needed, and fails with [`io::ErrorKind::WouldBlock`] if another holder has it. The lock
///   is released when the returned [`FileLock`] is dropped.
///
/// Implementations are shared across threads (`Send + Sync`); each method may be called
/// concurrently.
pub trait FileSystem: Send + Sync + fmt::Debug + 'static {
    /// Creates a new empty file for appending.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::AlreadyExists`] if `path` exists; any other I/O error.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;

    /// Opens an existing file for reading at arbitrary offsets.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if `path` does not exist; any other I/O error.
    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadableFile>>;

    /// Atomically renames `from` to `to`, replacing `to` if it exists. Both paths must be in
    /// the same directory.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if `from` does not exist; any other I/O error.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes a file.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if `path` does not exist; any other I/O error.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Gives the file at `original` a second name, `link` (a hard link): both names then
    /// read the same bytes, and removing one leaves the other. Like a create, the new name
    /// is durable only after [`sync_dir`](FileSystem::sync_dir) on `link`'s directory.
    /// The file's bytes are as durable as they were under `original`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if `original` does not exist,
    /// [`io::ErrorKind::AlreadyExists`] if `link` does, and
    /// [`io::ErrorKind::CrossesDevices`] or [`io::ErrorKind::Unsupported`] where the file
    /// system cannot link the two paths (different file systems, or none that links):
    /// [`link_or_copy`] then copies instead. Any other I/O error.
    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()>;

    /// The names (not paths) of the entries in `dir`, sorted.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] if `dir` does not exist; any other I/O error.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;

    /// Whether `path` names an existing file or directory.
    ///
    /// # Errors
    ///
    /// Any I/O error other than "not found".
    fn exists(&self, path: &Path) -> io::Result<bool>;

    /// Creates `dir` and its missing parents.
    ///
    /// # Errors
    ///
    /// Any I/O error, including a file standing where a directory should be.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// Makes the creates, renames and removes in `dir` durable.
    ///
    /// # Errors
    ///
    /// Any I/O error. After a failure, which of the changes are durable is unknown.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Takes an exclusive lock on the file at `path`, creating it if needed.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::WouldBlock`] if the lock is held elsewhere (another process, or
    /// another handle in this one); any other I/O error.
    fn lock(&self, path: &Path) -> io::Result<FileLock>;
}

/// A file being written: bytes are only ever appended.
pub trait WritableFile: Send + Sync + fmt::Debug {
    /// Appends `data` to the file. On success all of `data` was written (to the page cache,
    /// not yet durably).
    ///
    /// # Errors
    ///
    /// Any I/O error, such as [`io::ErrorKind::StorageFull`]. After an error an unknown
    /// prefix of `data` may have been written: the caller must treat the file as damaged
    /// from its previous length on.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;

    /// Makes every byte appended so far durable (`fdatasync`).
    ///
    /// # Errors
    ///
    /// Any I/O error. After a failed sync the caller must assume the unsynced bytes are
    /// lost *even if a later sync succeeds*: on Linux a failed fsync drops the dirty pages
    /// and clears the error. The safe reaction is to stop writing and reopen.
    fn sync(&mut self) -> io::Result<()>;

    /// The number of bytes appended so far.
    fn len(&self) -> u64;

    /// Makes the file `len` bytes long, or as long as what was appended if that is more:
    /// the bytes past those appended read as zeros, and later appends overwrite them in
    /// place. `reserve(0)` cuts the file back to exactly what was appended. Like appended
    /// bytes, the new length is durable only after [`WritableFile::sync`].
    ///
    /// This is for logs that sync after every few appends. Appending past the end of a
    /// file changes its length, and a sync must then write the file's metadata as well as
    /// its data (on ext4, a journal commit); an append into a length set in advance has
    /// only data to sync. The WAL reserves its segments a mebibyte at a time.
    ///
    /// # Errors
    ///
    /// Any I/O error. After an error the file's length is unknown, but its appended bytes
    /// are as they were.
    fn reserve(&mut self, len: u64) -> io::Result<()>;

    /// Reserves `len` bytes as [`WritableFile::reserve`] does, and has the operating
    /// system set up the page-cache pages for them now, ahead of the appends that will
    /// fill them. Write into them and cut the file back with `reserve(0)` before the last
    /// sync, as after `reserve`. The contents are those `reserve` gives either way: this
    /// only moves work earlier.
    ///
    /// What it is for: an append into pages the page cache already holds is a copy, but
    /// an append past them first makes the kernel find and map new pages. On a virtual
    /// machine whose balloon driver hands free memory back to the host, each such page
    /// costs a fault on the host as well, and writing tens of mebibytes can take ten times
    /// longer than the copy. The engine calls this from its flush thread while it waits
    /// for the next memtable to fill, so that the flush itself, which holds a whole frozen
    /// memtable in memory, only copies.
    ///
    /// The default implementation only reserves. [`StdFs`] reads the reserved range on
    /// Unix: a read of a hole is answered with zero-filled pages that stay in the page
    /// cache, clean, without touching the disk.
    ///
    /// # Errors
    ///
    /// As [`WritableFile::reserve`].
    fn prefault(&mut self, len: u64) -> io::Result<()> {
        self.reserve(len)
    }

    /// True when nothing has been appended.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A file opened for reading at arbitrary offsets.
pub trait ReadableFile: Send + Sync + fmt::Debug {
    /// The file's length when it was opened.
    fn len(&self) -> u64;

    /// True when the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset..offset + buf.len()`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::UnexpectedEof`] if the range runs past the end of the file; any other
    /// I/O error.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// The whole file as a memory-mapped slice, when the implementation maps files.
    ///
    /// Callers must work without it: [`SimFs`] never maps, and [`StdFs`] does not map empty
    /// files.
    fn mapped(&self) -> Option<&[u8]> {
        None
    }

    /// Reads `len` bytes at `offset` into a new buffer.
    ///
    /// The range is checked against [`ReadableFile::len`] *before* anything is allocated, so
    /// a bogus length read from a corrupt file costs nothing.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::UnexpectedEof`] if the range runs past the end of the file; any other
    /// I/O error.
    fn read_vec(&self, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let end = check_read_bounds(offset, len, self.len())?;
        let len = usize::try_from(end - offset)
            .map_err(|_| io::Error::other("read larger than memory"))?;
        let mut buf = vec![0; len];
        self.read_exact_at(offset, &mut buf)?;
        Ok(buf)
    }
}

/// Checks that `len` bytes at `offset` lie within a file of `file_len` bytes, and returns
/// the end offset. Every implementation's reads go through this one check.
pub(crate) fn check_read_bounds(offset: u64, len: u64, file_len: u64) -> io::Result<u64> {
    offset.checked_add(len).filter(|&end| end <= file_len).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("read of {len} bytes at offset {offset} runs past the end of a {file_len}-byte file"),
        )
    })
}

/// How [`link_or_copy`] gave a file its second name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// A hard link: no byte was copied.
    Linked,
    /// A copy of this many bytes, synced.
    Copied(u64),
}

/// The bytes a copy reads and appends at a time.
const COPY_CHUNK: u64 = 1 << 20;

/// Gives the immutable file at `from` the name `to`: a hard link where the file system
/// can make one, otherwise a copy, written and synced. Either way `to`'s bytes are durable
/// when this returns; its name is durable after [`FileSystem::sync_dir`] on its directory.
/// The file must not change while this runs (a table, never a log being appended).
///
/// A link is tried first because it costs nothing and shares the disk space; it fails
/// across file systems ([`io::ErrorKind::CrossesDevices`]) and on file systems without
/// links ([`io::ErrorKind::Unsupported`], and `EPERM`, which some report instead). Only
/// those fall back to a copy: any other failure (a missing `from`, an existing `to`, a
/// full disk) is returned as it is.
///
/// # Errors
///
/// The link's error if it is not one that a copy may get around; otherwise the copy's:
/// [`io::ErrorKind::AlreadyExists`] if `to` exists, or any I/O error. A failed copy may
/// leave a partial `to` behind for the caller to remove.
pub fn link_or_copy(fs: &dyn FileSystem, from: &Path, to: &Path) -> io::Result<Transfer> {
    match fs.hard_link(from, to) {
        Ok(()) => return Ok(Transfer::Linked),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::CrossesDevices
                    | io::ErrorKind::Unsupported
                    | io::ErrorKind::PermissionDenied
            ) => {}
        Err(e) => return Err(e),
    }
    let source = fs.open(from)?;
    let mut target = fs.create(to)?;
    let mut offset = 0;
    while offset < source.len() {
        let len = COPY_CHUNK.min(source.len() - offset);
        target.append(&source.read_vec(offset, len)?)?;
        offset += len;
    }
    target.sync()?;
    Ok(Transfer::Copied(offset))
}

/// An exclusive lock on a file, released on drop.
pub struct FileLock {
    _guard: Box<dyn Send + Sync>,
}

impl FileLock {
    /// Wraps whatever value keeps a lock held; dropping it must release the lock.
    pub fn new(guard: Box<dyn Send + Sync>) -> FileLock {
        FileLock { _guard: guard }
    }
}

impl fmt::Debug for FileLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileLock")
    }
}
