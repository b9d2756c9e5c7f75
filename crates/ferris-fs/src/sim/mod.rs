//! `SimFs`: an in-memory disk that loses power on command.
//!
//! A storage engine's promises are about crashes: "a write acknowledged as durable
//! survives", "recovery sees a prefix of what was written". Testing them means crashing at
//! every point of a workload, thousands of times, and getting the same crash again when a
//! test fails. A real machine cannot do that; a simulated disk can. [`SimFs`] implements
//! [`FileSystem`] in memory and remembers, besides what every read sees, what is actually
//! *on the disk*. A simulated power cut throws the difference away, partly and at random,
//! with the randomness drawn from a seed.
//!
//! The idea comes from LevelDB's `fault_injection_test.cc`, whose test `Env` tracks the
//! unsynced data of every file and the files created since the last directory sync, and
//! from Pebble's `vfs` package, whose in-memory file system can be cloned in the state a
//! crash would leave (`CrashClone`) and whose `errorfs` injects I/O errors.
//!
//! # The disk model
//!
//! A file's bytes are an append-only vector with a durable prefix:
//!
//! ```text
//!                               synced_len                      data.len()
//!                                    |                              |
//!   before a cut:  [ made durable    | appended, not yet synced     ]    reads see all of it
//!   after it:      [ made durable    | a prefix of them ▒▒▒▒]            what the disk kept
//!                                                      └──┘
//!                           the last ≤ 512 bytes kept may be torn: zeros or garbage
//! ```
//!
//! - Reads see every appended byte, as they would through the page cache.
//! - [`WritableFile::reserve`] sets a length past the appended bytes, which reads as
//!   zeros (a hole, on a real file system) until appends overwrite it.
//! - [`WritableFile::sync`] makes every byte appended so far durable, and the reserved
//!   length. Durable bytes are never damaged by a crash.
//! - Of the unsynced bytes, a crash keeps a random prefix: none, all, or anything in
//!   between. The model assumes the disk writes a file's new bytes front to back, so a
//!   later byte never survives without the earlier ones. But the sector being written
//!   when the power went may be torn: with probability ½, up to the last 512 bytes of the
//!   kept prefix are replaced by zeros or by random garbage.
//! - A reserved length set since the last sync is metadata a crash keeps or drops, with
//!   probability ½ each. Whatever of it survives reads as zeros past the kept bytes.
//!
//! That is the disk FerrisDB's write-ahead log is designed for: after a crash, the log's
//! unsynced tail is a prefix of what was appended, and only its last record can be
//! half-written or garbage, which its checksum reveals. (A real disk may also persist
//! sectors out of order; the checksums catch that too, but recovery then reports damage
//! before the tail as corruption rather than as a torn write.)
//!
//! Directory entries (file names) live in a separate log per directory:
//!
//! ```text
//!   /db   durable entries           pending changes, oldest first
//!         CURRENT    -> inode 3     1. create 000005.log    -> inode 7
//!         000004.log -> inode 6     2. rename CURRENT.tmp   -> CURRENT (inode 8)
//!                                   3. remove 000004.log
//!
//!   sync_dir("/db")  makes 1, 2 and 3 durable entries, in order.
//!   power cut        keeps 1..=k for a random k in 0..=3 and forgets the rest.
//! ```
//!
//! - Creates, renames and removes take effect at once for every operation, and become
//!   durable only through [`FileSystem::sync_dir`] on their directory.
//! - A crash applies a random prefix of each directory's pending changes (possibly none,
//!   possibly all) to its durable entries, as a journaling file system that commits
//!   metadata in order would. So a file synced but never made durable in its directory may
//!   vanish; a removal may be undone; a rename is atomic: the target names either the old
//!   file or the new one, never a mix. The new file's *bytes* are another matter: rename a
//!   file you did not sync, and the target may survive holding a torn prefix of them.
//! - After a crash every file keeps only what the two rules above leave of it, the live
//!   view is the durable one, nothing is pending, every lock is released, and every handle
//!   opened before the crash is stale: each of its operations fails with an error saying
//!   it predates the power cut.
//!
//! # Power cuts
//!
//! [`SimFs::crash`] cuts the power and reboots at once, between two operations.
//! To crash *during* a workload, [`SimFs::cut_power_after`] arranges the cut in advance:
//! after `n` more operations, every operation fails with a "simulated power cut" error and
//! changes nothing, until [`SimFs::restart`] performs the crash and turns the power back
//! on. An operation is any call of a [`FileSystem`], [`WritableFile`] or [`ReadableFile`]
//! method that touches the disk (everything but `len` and `is_empty`), failed ones
//! included; [`SimFs::op_count`] counts them. So a test runs its workload once to count
//! its operations, then replays it, cutting the power after each number of them:
//!
//! ```
//! use std::io;
//! use std::path::Path;
//! use ferris_fs::{FileSystem, SimFs};
//!
//! /// Replaces the contents of `CURRENT` atomically: the protocol under test.
//! fn set_current(fs: &dyn FileSystem, contents: &[u8]) -> io::Result<()> {
//!     let mut tmp = fs.create(Path::new("/db/CURRENT.tmp"))?;
//!     tmp.append(contents)?;
//!     tmp.sync()?; // without it, CURRENT could survive as a torn prefix
//!     fs.rename(Path::new("/db/CURRENT.tmp"), Path::new("/db/CURRENT"))?;
//!     fs.sync_dir(Path::new("/db"))
//! }
//!
//! fn read(fs: &dyn FileSystem, path: &str) -> io::Result<Vec<u8>> {
//!     let file = fs.open(Path::new(path))?;
//!     file.read_vec(0, file.len())
//! }
//!
//! /// A file system where CURRENT durably holds "v1".
//! fn setup(seed: u64) -> io::Result<SimFs> {
//!     let fs = SimFs::new(seed);
//!     fs.create_dir_all(Path::new("/db"))?;
//!     set_current(&fs, b"v1")?;
//!     Ok(fs)
//! }
//!
//! // Count the operations of the workload...
//! let fs = setup(0)?;
//! let start = fs.op_count();
//! set_current(&fs, b"v2")?;
//! let n_ops = fs.op_count() - start;
//!
//! // ...then cut the power after each number of them: 0 (before the first) to all.
//! for cut in 0..=n_ops {
//!     let fs = setup(cut)?;
//!     fs.cut_power_after(cut);
//!     let finished = set_current(&fs, b"v2").is_ok();
//!     fs.restart();
//!     let current = read(&fs, "/db/CURRENT")?;
//!     assert!(current == b"v1" || current == b"v2", "cut {cut}: {current:?}");
//!     if finished {
//!         assert_eq!(current, b"v2", "cut {cut}: acknowledged, so durable");
//!     }
//! }
//! # Ok::<(), io::Error>(())
//! ```
//!
//! # Faults
//!
//! A disk can also fail without losing power. [`SimFs::inject`] plans a [`Fault`]: the
//! next operation of a kind ([`Op`]), optionally only on paths containing a string, after
//! skipping some matches, once or every time after, fails with `EIO` or `ENOSPC`
//! ([`FaultKind`]). The failure has the side effects a real disk's has:
//!
//! - An append that hits `ENOSPC` writes a random prefix of its data (maybe nothing)
//!   before failing: a short write on a full disk. One that hits `EIO` writes nothing.
//! - A sync that fails loses data (below).
//! - Any other operation that fails changes nothing.
//!
//! ## fsyncgate: a failed sync loses data
//!
//! When Linux fails to write a file's dirty pages back to the disk, it reports the error
//! to the next `fsync`, and then forgets it: the pages are marked clean (reads still see
//! them, from memory) and will never be written again. A retried `fsync` succeeds, having
//! nothing left to write, and the data is not on the disk. PostgreSQL found this out in
//! 2018 ("fsyncgate"); Rebello et al., "Can Applications Recover from fsync Failures?"
//! (USENIX ATC '20) found the same trap in several widely used databases.
//!
//! [`SimFs`] models it: the bytes that were unsynced when a sync failed are lost for good.
//! Reads still return them until the next crash, a later successful sync does not make
//! them durable, and a crash turns them into zeros (if it keeps the file that far).
//! Bytes appended after the failure are made durable by a later sync as usual. This is
//! why FerrisDB stops writing after a failed sync until it is reopened, and why tests must
//! be able to show that it does.
//!
//! # Determinism
//!
//! Every random choice (how many pending changes of a directory survive, how much of each
//! file, which tails are torn and with what, how short a short write is) is drawn from one
//! random number generator seeded by [`SimFs::new`], in an order fixed by the calls made.
//! The same seed and the same sequence of calls give byte-for-byte the same result, so a
//! failing crash test is replayed from its seed. The generator is `rand`'s `SmallRng`,
//! whose algorithm may change between `rand` versions: a seed replays a failure with the
//! same build, not forever.
//!
//! Threads that call a `SimFs` concurrently are safe, but the order of their calls, and so
//! the outcome of the next crash, depends on scheduling. A test that must replay exactly
//! crashes only after joining its threads, or drives the file system from one thread.
//!
//! # Simplifications and limits
//!
//! - Directories are durable as soon as [`FileSystem::create_dir_all`] returns, as if it
//!   synced every parent it added an entry to, which also makes the earlier pending
//!   changes in those parents durable. FerrisDB creates its directories before it writes
//!   anything that must survive. Directories cannot be removed or renamed.
//! - [`FileSystem::rename`] only works within one directory (anything else is an
//!   [`io::ErrorKind::InvalidInput`] error), so one directory's log orders every change it
//!   makes. The logs of different directories are independent: a crash may keep a change
//!   in one directory and lose an earlier one in another, which a file system with one
//!   journal would not do. That makes `SimFs` harsher than most real file systems, where
//!   durable directories make it gentler; code should sync what it needs either way.
//! - Paths are normalised (`/db/./a/` is `/db/a`) but `..` is not resolved. The root
//!   directory `/` always exists; relative paths work, but form a separate tree whose top
//!   directory must be created first.
//! - Everything lives in memory. The bytes of a file removed (or replaced by a rename) are
//!   freed at the next crash, since until then a crash may bring the file back.
//! - [`ReadableFile::mapped`] is always `None`, so readers exercise their copying path.
//! - Locks are per `SimFs` (one simulated process) and, as with `flock`, belong to the
//!   file rather than its name: a renamed file keeps its lock. A crash releases them all.

mod disk;
mod fault;
mod file;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::SeedableRng;
use rand::rngs::SmallRng;

use self::disk::{Disk, InodeId, normalize};
use self::fault::Faults;
pub use self::fault::{Fault, FaultKind, Op};
use self::file::{LockGuard, SimReadable, SimWritable};
use crate::{FileLock, FileSystem, ReadableFile, WritableFile};

/// An in-memory file system that simulates power cuts and I/O faults, deterministically
/// from a seed. See the [module docs](self) for the disk model.
///
/// Clones share one disk: a test keeps a clone to crash it while the code under test holds
/// another (often as an `Arc<dyn FileSystem>`).
///
/// The inspection methods ([`SimFs::op_count`], [`SimFs::durable_len`],
/// [`SimFs::stats`], ...) are not operations: they are not counted, never fail, and work
/// with the power off.
#[derive(Clone)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

/// Counters of what a [`SimFs`] has done, from [`SimFs::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimStats {
    /// Operations counted so far: the same as [`SimFs::op_count`].
    pub n_ops: u64,
    /// Successful appends.
    pub n_appends: u64,
    /// Bytes written by successful appends.
    pub n_bytes_appended: u64,
    /// Successful [`WritableFile::sync`]s.
    pub n_syncs: u64,
    /// Successful [`FileSystem::sync_dir`]s.
    pub n_sync_dirs: u64,
    /// Injected faults that fired.
    pub n_faults: u64,
    /// Crashes, by [`SimFs::crash`] or [`SimFs::restart`].
    pub n_crashes: u64,
}

/// Everything behind the mutex: the disk, and the machinery around it.
#[derive(Debug)]
struct State {
    disk: Disk,
    /// The source of every random choice; see "Determinism" in the module docs.
    rng: SmallRng,
    /// The power cycle: bumped by every crash. A handle from an older epoch is stale.
    epoch: u64,
    /// Once `stats.n_ops` exceeds this, the power goes off.
    cut_at: Option<u64>,
    powered_off: bool,
    faults: Faults,
    /// The inodes locked by a live [`LockGuard`].
    locks: BTreeSet<InodeId>,
    stats: SimStats,
}

impl State {
    /// The gate every operation passes before touching the disk.
    ///
    /// With the power off it fails, uncounted. Otherwise it counts the operation, cuts the
    /// power if that was planned for now, refuses a handle from before a crash (`epoch`),
    /// and returns the fault to inject, if one is due. The caller carries the fault out.
    fn begin(
        &mut self,
        op: Op,
        epoch: Option<u64>,
        paths: &[&Path],
    ) -> io::Result<Option<FaultKind>> {
        if self.powered_off {
            return Err(power_cut_error());
        }
        self.stats.n_ops += 1;
        if self.cut_at.is_some_and(|cut| self.stats.n_ops > cut) {
            self.powered_off = true;
            return Err(power_cut_error());
        }
        if epoch.is_some_and(|epoch| epoch != self.epoch) {
            return Err(io::Error::other(
                "stale handle: it was opened before a simulated power cut; open the file again",
            ));
        }
        let fault = self.faults.check(op, paths);
        self.stats.n_faults += u64::from(fault.is_some());
        Ok(fault)
    }

    /// [`State::begin`] for a file-system operation whose fault changes nothing: the fault
    /// becomes the error.
    fn begin_plain(&mut self, op: Op, paths: &[&Path]) -> io::Result<()> {
        match self.begin(op, None, paths)? {
            None => Ok(()),
            Some(kind) => Err(kind.to_error(op, paths[0])),
        }
    }

    fn crash(&mut self) {
        self.disk.crash(&mut self.rng);
        self.epoch += 1;
        self.locks.clear();
        self.cut_at = None;
        self.powered_off = false;
        self.stats.n_crashes += 1;
    }
}

fn power_cut_error() -> io::Error {
    io::Error::other("simulated power cut: the file system is off until SimFs::restart")
}

impl SimFs {
    /// An empty file system, holding only the root directory `/`, whose every random
    /// choice is drawn from `seed`.
    pub fn new(seed: u64) -> SimFs {
        let state = State {
            disk: Disk::new(),
            rng: SmallRng::seed_from_u64(seed),
            epoch: 0,
            cut_at: None,
            powered_off: false,
            faults: Faults::default(),
            locks: BTreeSet::new(),
            stats: SimStats::default(),
        };
        SimFs {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is consistent between operations, and nothing panics while holding the
        // lock barring a bug in this module; a panic in a test thread elsewhere must not
        // make every later operation panic too.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cuts the power and reboots: a random part of everything not yet durable is lost, as
    /// described in the [module docs](self#the-disk-model).
    ///
    /// Afterwards the live view is the durable one, every lock is released, every handle
    /// opened before is stale, and the power is on, with no cut planned. Planned faults
    /// stay planned.
    pub fn crash(&self) {
        self.state().crash();
    }

    /// Plans a power cut: the next `n_ops` operations run normally, and the one after them
    /// and every later one fail with a "simulated power cut" error, changing nothing, until
    /// [`SimFs::restart`]. `cut_power_after(0)` fails the very next operation.
    ///
    /// A plan replaces any earlier one. See the [module docs](self#power-cuts) for what
    /// counts as an operation.
    pub fn cut_power_after(&self, n_ops: u64) {
        let mut state = self.state();
        state.cut_at = Some(state.stats.n_ops + n_ops);
    }

    /// Turns the power back on after a cut: performs [`SimFs::crash`], which decides what
    /// survived. Calling it with the power on crashes all the same.
    pub fn restart(&self) {
        self.crash();
    }

    /// Whether a planned power cut has happened and no restart has followed.
    pub fn is_powered_off(&self) -> bool {
        self.state().powered_off
    }

    /// The number of operations performed so far, failed ones included, but not those
    /// attempted with the power off.
    pub fn op_count(&self) -> u64 {
        self.state().stats.n_ops
    }

    /// Plans a fault: see [`Fault`] for which operation it hits and [`FaultKind`] for what
    /// it does. Several faults may be planned at once. Crashes do not clear them.
    pub fn inject(&self, fault: Fault) {
        self.state().faults.inject(fault);
    }

    /// Removes every planned fault, sticky ones included.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// How many bytes of the file at `path` are durable, or `None` if no file is there.
    ///
    /// Those bytes survive a crash if the file's *name* does, which takes a
    /// [`FileSystem::sync_dir`]; bytes lost to a failed sync count as durable once a later
    /// sync succeeds, and survive as zeros.
    pub fn durable_len(&self, path: &Path) -> Option<u64> {
        self.state().disk.durable_len(&normalize(path))
    }

    /// Counters of what this file system has done so far.
    pub fn stats(&self) -> SimStats {
        self.state().stats
    }
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `try_lock`: formatting must not deadlock when called while an operation runs.
        match self.state.try_lock() {
            Ok(state) => f
                .debug_struct("SimFs")
                .field("epoch", &state.epoch)
                .field("powered_off", &state.powered_off)
                .field("stats", &state.stats)
                .finish_non_exhaustive(),
            Err(_) => f.debug_struct("SimFs").finish_non_exhaustive(),
        }
    }
}

impl FileSystem for SimFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let path = normalize(path);
        let mut state = self.state();
        state.begin_plain(Op::Create, &[&path])?;
        let ino = state.disk.create(&path)?;
        Ok(Box::new(SimWritable::new(
            self.clone(),
            ino,
            path,
            state.epoch,
        )))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadableFile>> {
        let path = normalize(path);
        let mut state = self.state();
        state.begin_plain(Op::Open, &[&path])?;
        let ino = state.disk.file(&path)?;
        let len = state.disk.len(ino);
        Ok(Box::new(SimReadable::new(
            self.clone(),
            ino,
            path,
            state.epoch,
            len,
        )))
    }

    /// Renames within one directory.
    ///
    /// # Errors
    ///
    /// As for any [`FileSystem`], and [`io::ErrorKind::InvalidInput`] if `from` and `to`
    /// are in different directories.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (normalize(from), normalize(to));
        let mut state = self.state();
        state.begin_plain(Op::Rename, &[&from, &to])?;
        state.disk.rename(&from, &to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let path = normalize(path);
        let mut state = self.state();
        state.begin_plain(Op::Remove, &[&path])?;
        state.disk.remove(&path)
    }

    /// Links within or across directories; the new name is a pending change of `link`'s
    /// directory, as a create is.
    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()> {
        let (original, link) = (normalize(original), normalize(link));
        let mut state = self.state();
        state.begin_plain(Op::Link, &[&original, &link])?;
        state.disk.link(&original, &link)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let dir = normalize(dir);
        let mut state = self.state();
        state.begin_plain(Op::List, &[&dir])?;
        state.disk.list(&dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let path = normalize(path);
        let mut state = self.state();
        state.begin_plain(Op::List, &[&path])?;
        Ok(state.disk.exists(&path))
    }

    /// Creates `dir` and its missing parents, durably at once (see the
    /// [module docs](self#simplifications-and-limits)).
    ///
    /// # Errors
    ///
    /// As for any [`FileSystem`]: a file standing where a directory should be.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let dir = normalize(dir);
        let mut state = self.state();
        state.begin_plain(Op::CreateDir, &[&dir])?;
        state.disk.create_dir_all(&dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let dir = normalize(dir);
        let mut state = self.state();
        state.begin_plain(Op::SyncDir, &[&dir])?;
        state.disk.sync_dir(&dir)?;
        state.stats.n_sync_dirs += 1;
        Ok(())
    }

    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        let path = normalize(path);
        let mut state = self.state();
        state.begin_plain(Op::Lock, &[&path])?;
        let ino = state.disk.open_or_create(&path)?;
        // Like `flock`, the lock belongs to the file, not the name: a file renamed keeps
        // it, and a new file created under the old name is free.
        if !state.locks.insert(ino) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked by another handle", path.display()),
            ));
        }
        let guard = LockGuard {
            state: Arc::downgrade(&self.state),
            ino,
            epoch: state.epoch,
        };
        Ok(FileLock::new(Box::new(guard)))
    }
}
