//! `SimFs`: an in-memory file system that knows what a power cut would leave behind.
//!
//! Crash testing needs a disk that can lose power on command, at any operation, the same
//! way every time for the same seed. `SimFs` keeps two views of the world, like LevelDB's
//! `fault_injection_test` and Pebble's `vfs`:
//!
//! ```text
//!                  live view (what reads see)           durable view (what survives)
//!  file bytes      everything appended                  the prefix made durable by sync()
//!  dir entries     every create/rename/remove           those made durable by sync_dir()
//!                                                       + a pending log of the rest, per dir
//! ```
//!
//! [`SimFs::crash`] is the power cut. Per directory it applies a random prefix of the pending
//! directory changes (a journaling file system commits metadata in order), and per file it
//! keeps the synced bytes plus a random prefix of the unsynced ones, whose last sector (up to
//! 512 bytes) may be torn into zeros or garbage. Synced bytes are never damaged. Afterwards
//! the live view is the durable one, every lock is released, and every handle opened before
//! the crash fails with an error.
//!
//! [`SimFs::cut_power_after`] arranges the crash in advance: after `n` more operations every
//! operation fails (and changes nothing) until [`SimFs::restart`], which performs the crash.
//! A test first runs its workload once to count its operations with [`SimFs::op_count`], then
//! replays it cutting power at every one of them.
//!
//! [`SimFs::inject`] makes chosen operations fail with `EIO` or `ENOSPC`, with the side
//! effects a real disk has: a short write on a full disk, and lost data after a failed fsync.
//!
//! Directories are created durably at once (a simplification: FerrisDB creates its
//! directories before it writes anything that must survive), and renames must stay within
//! one directory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::{FileLock, FileSystem, ReadableFile, WritableFile};

/// The largest tail of unsynced bytes a crash may garble: one sector.
const TORN_SECTOR: usize = 512;

/// An operation [`SimFs`] counts, and a [`Fault`] can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// [`FileSystem::create`].
    Create,
    /// [`FileSystem::open`].
    Open,
    /// [`WritableFile::append`].
    Append,
    /// [`WritableFile::sync`].
    Sync,
    /// [`FileSystem::sync_dir`].
    SyncDir,
    /// [`FileSystem::rename`].
    Rename,
    /// [`FileSystem::remove`].
    Remove,
    /// [`FileSystem::list`] and [`FileSystem::exists`].
    List,
    /// [`FileSystem::lock`].
    Lock,
    /// [`ReadableFile::read_exact_at`].
    Read,
    /// [`FileSystem::create_dir_all`].
    CreateDir,
}

/// The error a [`Fault`] injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// An I/O error. On [`Op::Append`] nothing is written. On [`Op::Sync`] the bytes that
    /// were unsynced are lost for good, even if a later sync succeeds: Linux drops the dirty
    /// pages of a failed fsync and clears the error (the "fsyncgate" behaviour).
    Eio,
    /// The disk is full ([`io::ErrorKind::StorageFull`]). On [`Op::Append`] a random prefix of
    /// the data is written first, as a short write would.
    Enospc,
}

/// A planned failure: the `after + 1`-th operation of kind `op` (on a path containing
/// `path_contains`, if set) fails with `kind`; if `sticky`, so does every later match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    op: Op,
    kind: FaultKind,
    path_contains: Option<String>,
    after: u64,
    sticky: bool,
}

impl Fault {
    /// Fails the next `op` with `kind`, once.
    pub fn new(op: Op, kind: FaultKind) -> Fault {
        Fault {
            op,
            kind,
            path_contains: None,
            after: 0,
            sticky: false,
        }
    }

    /// Only operations on a path containing `needle` match.
    #[must_use]
    pub fn path_contains(mut self, needle: impl Into<String>) -> Fault {
        self.path_contains = Some(needle.into());
        self
    }

    /// The first `n` matching operations succeed.
    #[must_use]
    pub fn after(mut self, n: u64) -> Fault {
        self.after = n;
        self
    }

    /// Once fired, keep failing every matching operation.
    #[must_use]
    pub fn sticky(mut self, sticky: bool) -> Fault {
        self.sticky = sticky;
        self
    }

    fn matches(&self, op: Op, path: &Path) -> bool {
        self.op == op
            && self
                .path_contains
                .as_deref()
                .is_none_or(|n| path.to_string_lossy().contains(n))
    }
}

/// An in-memory file system that simulates power cuts and I/O faults deterministically
/// from a seed. Clones share the same state. See the [module docs](self).
#[derive(Clone)]
pub struct SimFs {
    inner: Arc<Mutex<Inner>>,
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.state();
        f.debug_struct("SimFs")
            .field("files", &inner.live.len())
            .field("ops", &inner.ops)
            .field("powered_off", &inner.powered_off)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Dir,
    File(u64),
}

#[derive(Debug, Clone)]
enum MetaOp {
    Link(PathBuf, u64),
    Unlink(PathBuf),
    Rename(PathBuf, PathBuf, u64),
}

#[derive(Debug, Default)]
struct Inode {
    data: Vec<u8>,
    synced_len: usize,
    /// Byte ranges whose fsync failed: whatever a later sync says, they are lost.
    lost: Vec<(usize, usize)>,
}

#[derive(Debug)]
struct Inner {
    rng: SmallRng,
    /// Bumped by every crash; handles from an older generation are stale.
    generation: u64,
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    live: BTreeMap<PathBuf, Entry>,
    durable: BTreeMap<PathBuf, Entry>,
    pending: BTreeMap<PathBuf, Vec<MetaOp>>,
    locks: HashSet<PathBuf>,
    ops: u64,
    cut_at: Option<u64>,
    powered_off: bool,
    faults: Vec<(Fault, u64)>,
}

fn err_power() -> io::Error {
    io::Error::other("simulated power cut: the file system is off until restart()")
}

fn err_stale() -> io::Error {
    io::Error::other("stale handle: it was opened before a simulated power cut")
}

fn err_not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} does not exist", path.display()),
    )
}

fn fault_error(kind: FaultKind, op: Op, path: &Path) -> io::Error {
    match kind {
        FaultKind::Eio => {
            io::Error::other(format!("simulated EIO on {op:?} of {}", path.display()))
        }
        FaultKind::Enospc => io::Error::new(
            io::ErrorKind::StorageFull,
            format!("simulated ENOSPC on {op:?} of {}", path.display()),
        ),
    }
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

impl Inner {
    /// Counts an operation and decides its fate: `Err` if the power is (or just went) off,
    /// `Ok(Some(kind))` if a fault fires, `Ok(None)` to proceed.
    fn begin(&mut self, op: Op, path: &Path) -> io::Result<Option<FaultKind>> {
        if self.powered_off {
            return Err(err_power());
        }
        self.ops += 1;
        if self.cut_at.is_some_and(|cut| self.ops > cut) {
            self.powered_off = true;
            return Err(err_power());
        }
        let mut fired = None;
        self.faults.retain_mut(|(fault, seen)| {
            if fired.is_some() || !fault.matches(op, path) {
                return true;
            }
            *seen += 1;
            if *seen <= fault.after {
                return true;
            }
            fired = Some(fault.kind);
            fault.sticky
        });
        Ok(fired)
    }

    fn check_dir(&self, dir: &Path) -> io::Result<()> {
        match self.live.get(dir) {
            Some(Entry::Dir) => Ok(()),
            Some(Entry::File(_)) => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is a file", dir.display()),
            )),
            None => Err(err_not_found(dir)),
        }
    }

    fn file(&self, path: &Path) -> io::Result<u64> {
        match self.live.get(path) {
            Some(Entry::File(ino)) => Ok(*ino),
            Some(Entry::Dir) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{} is a directory", path.display()),
            )),
            None => Err(err_not_found(path)),
        }
    }

    fn new_file(&mut self, path: &Path) -> u64 {
        let ino = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(ino, Inode::default());
        self.live.insert(path.to_path_buf(), Entry::File(ino));
        self.pending
            .entry(parent(path))
            .or_default()
            .push(MetaOp::Link(path.to_path_buf(), ino));
        ino
    }

    fn apply(durable: &mut BTreeMap<PathBuf, Entry>, op: &MetaOp) {
        match op {
            MetaOp::Link(path, ino) => {
                durable.insert(path.clone(), Entry::File(*ino));
            }
            MetaOp::Unlink(path) => {
                durable.remove(path);
            }
            MetaOp::Rename(from, to, ino) => {
                durable.remove(from);
                durable.insert(to.clone(), Entry::File(*ino));
            }
        }
    }

    fn crash(&mut self) {
        for ops in std::mem::take(&mut self.pending).into_values() {
            let keep = self.rng.random_range(0..=ops.len());
            for op in &ops[..keep] {
                Inner::apply(&mut self.durable, op);
            }
        }
        let survivors: HashSet<u64> = self
            .durable
            .values()
            .filter_map(|e| {
                if let Entry::File(ino) = e {
                    Some(*ino)
                } else {
                    None
                }
            })
            .collect();
        self.inodes.retain(|ino, _| survivors.contains(ino));
        let mut inos: Vec<u64> = survivors.into_iter().collect();
        inos.sort_unstable(); // HashSet order is random; the RNG draws must not be.
        for ino in inos {
            let inode = self.inodes.get_mut(&ino).expect("survivor inode exists");
            let unsynced = inode.data.len() - inode.synced_len;
            // The edges matter most (nothing of the tail survived; all of it did), so each
            // gets a quarter of the draws; the rest are uniform.
            let kept = match self.rng.random_range(0..4) {
                0 => 0,
                1 => unsynced,
                _ => self.rng.random_range(0..=unsynced),
            };
            let end = inode.synced_len + kept;
            inode.data.truncate(end);
            if kept > 0 && self.rng.random_bool(0.5) {
                let torn = kept.min(self.rng.random_range(1..=TORN_SECTOR));
                let garbage = self.rng.random_bool(0.5);
                for b in &mut inode.data[end - torn..] {
                    *b = if garbage { self.rng.random() } else { 0 };
                }
            }
            for &(start, stop) in &inode.lost {
                let (start, stop) = (start.min(end), stop.min(end));
                inode.data[start..stop].fill(0);
            }
            inode.lost.clear();
            inode.synced_len = inode.data.len();
        }
        self.live = self.durable.clone();
        self.locks.clear();
        self.generation += 1;
    }
}

impl SimFs {
    /// An empty file system whose crashes and short writes are drawn from `seed`.
    pub fn new(seed: u64) -> SimFs {
        let mut root = BTreeMap::new();
        root.insert(PathBuf::from("/"), Entry::Dir);
        SimFs {
            inner: Arc::new(Mutex::new(Inner {
                rng: SmallRng::seed_from_u64(seed),
                generation: 0,
                inodes: HashMap::new(),
                next_inode: 1,
                live: root.clone(),
                durable: root,
                pending: BTreeMap::new(),
                locks: HashSet::new(),
                ops: 0,
                cut_at: None,
                powered_off: false,
                faults: Vec::new(),
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, Inner> {
        // Nothing in this module panics while holding the lock, barring a bug; the state is
        // consistent between operations either way.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Simulates a power cut and reboot now: see the [module docs](self) for what survives.
    /// Also turns the power back on if it was cut.
    pub fn crash(&self) {
        let mut inner = self.state();
        inner.crash();
        inner.powered_off = false;
        inner.cut_at = None;
    }

    /// Cuts the power after `n_ops` more operations: they succeed, and every operation from
    /// the next one on fails without effect until [`SimFs::restart`].
    pub fn cut_power_after(&self, n_ops: u64) {
        let mut inner = self.state();
        inner.cut_at = Some(inner.ops + n_ops);
    }

    /// Reboots after a cut (or at any time): performs [`SimFs::crash`] and turns the power on.
    pub fn restart(&self) {
        self.crash();
    }

    /// Whether the power is off (a cut has taken effect and no restart has followed).
    pub fn is_powered_off(&self) -> bool {
        self.state().powered_off
    }

    /// The number of operations performed so far (failed ones included).
    pub fn op_count(&self) -> u64 {
        self.state().ops
    }

    /// Plans a failure; see [`Fault`]. Several faults may be planned at once; the first
    /// planned that matches fires.
    pub fn inject(&self, fault: Fault) {
        self.state().faults.push((fault, 0));
    }

    /// Removes every planned fault.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// How many bytes of the file at `path` are durable, or `None` if the path names no
    /// file. Note that the file's *name* may not be durable yet.
    pub fn durable_len(&self, path: &Path) -> Option<u64> {
        let inner = self.state();
        let ino = inner.file(path).ok()?;
        Some(inner.inodes[&ino].synced_len as u64)
    }
}

impl FileSystem for SimFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let mut inner = self.state();
        if let Some(kind) = inner.begin(Op::Create, path)? {
            return Err(fault_error(kind, Op::Create, path));
        }
        inner.check_dir(&parent(path))?;
        if inner.live.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists", path.display()),
            ));
        }
        let ino = inner.new_file(path);
        Ok(Box::new(SimWritable {
            fs: self.clone(),
            ino,
            path: path.to_path_buf(),
            generation: inner.generation,
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadableFile>> {
        let mut inner = self.state();
        if let Some(kind) = inner.begin(Op::Open, path)? {
            return Err(fault_error(kind, Op::Open, path));
        }
        let ino = inner.file(path)?;
        let len = inner.inodes[&ino].data.len() as u64;
        Ok(Box::new(SimReadable {
            fs: self.clone(),
            ino,
            path: path.to_path_buf(),
            len,
            generation: inner.generation,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut inner = self.state();
        if let Some(kind) = inner.begin(Op::Rename, from)? {
            return Err(fault_error(kind, Op::Rename, from));
        }
        let dir = parent(from);
        if dir != parent(to) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "SimFs renames only within one directory",
            ));
        }
        let ino = inner.file(from)?;
        if let Some(Entry::Dir) = inner.live.get(to) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{} is a directory", to.display()),
            ));
        }
        inner.live.remove(from);
        inner.live.insert(to.to_path_buf(), Entry::File(ino));
        inner.pending.entry(dir).or_default().push(MetaOp::Rename(
            from.to_path_buf(),
            to.to_path_buf(),
            ino,
        ));
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.state();
        if let Some(kind) = inner.begin(Op::Remove, path)? {
            return Err(fault_error(kind, Op::Remove, path));
        }
        inner.file(path)?;
        inner.live.remove(path);
        inner
            .pending
            .entry(parent(path))
            .or_default()
            .push(MetaOp::Unlink(path.to_path_buf()));
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut inner = self.state();
        if let Some(kind) = inner.begin(Op::List, dir)? {
            return Err(fault_error(kind, Op::List, dir));
        }
        inner.check_dir(dir)?;
        let names = inner
            .live
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        Ok(names) // BTreeMap order within one directory is sorted by name.
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let mut inner = self.state();
        if let Some(kind) = inner.begin(Op::List, path)? {
            return Err(fault_error(kind, Op::List, path));
        }
        Ok(inner.live.contains_key(path))
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut inner = self.state();
        if let Some(kind) = inner.begin(Op::CreateDir, dir)? {
            return Err(fault_error(kind, Op::CreateDir, dir));
        }
        let ancestors: Vec<&Path> = dir.ancestors().collect();
        for a in ancestors
            .into_iter()
            .rev()
            .filter(|a| !a.as_os_str().is_empty())
        {
            match inner.live.get(a) {
                Some(Entry::Dir) => {}
                Some(Entry::File(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!("{} is a file", a.display()),
                    ));
                }
                None => {
                    inner.live.insert(a.to_path_buf(), Entry::Dir);
                    inner.durable.insert(a.to_path_buf(), Entry::Dir);
                }
            }
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut inner = self.state();
        if let Some(kind) = inner.begin(Op::SyncDir, dir)? {
            return Err(fault_error(kind, Op::SyncDir, dir));
        }
        inner.check_dir(dir)?;
        let ops = inner.pending.remove(dir).unwrap_or_default();
        for op in &ops {
            Inner::apply(&mut inner.durable, op);
        }
        Ok(())
    }

    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        let mut inner = self.state();
        if let Some(kind) = inner.begin(Op::Lock, path)? {
            return Err(fault_error(kind, Op::Lock, path));
        }
        inner.check_dir(&parent(path))?;
        if !inner.live.contains_key(path) {
            inner.new_file(path);
        }
        if !inner.locks.insert(path.to_path_buf()) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked", path.display()),
            ));
        }
        let guard = SimLockGuard {
            fs: Arc::downgrade(&self.inner),
            path: path.to_path_buf(),
            generation: inner.generation,
        };
        Ok(FileLock::new(Box::new(guard)))
    }
}

struct SimLockGuard {
    fs: Weak<Mutex<Inner>>,
    path: PathBuf,
    generation: u64,
}

impl Drop for SimLockGuard {
    fn drop(&mut self) {
        if let Some(fs) = self.fs.upgrade() {
            let mut inner = fs.lock().unwrap_or_else(|p| p.into_inner());
            // A crash already released every lock; a new holder may have taken this one.
            if inner.generation == self.generation {
                inner.locks.remove(&self.path);
            }
        }
    }
}

struct SimWritable {
    fs: SimFs,
    ino: u64,
    path: PathBuf,
    generation: u64,
}

impl fmt::Debug for SimWritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimWritable")
            .field("path", &self.path)
            .finish()
    }
}

impl SimWritable {
    /// Locks the file system and checks this handle survived no crash.
    fn start(&self, op: Op) -> io::Result<(MutexGuard<'_, Inner>, Option<FaultKind>)> {
        let mut inner = self.fs.state();
        if inner.generation != self.generation && !inner.powered_off {
            return Err(err_stale());
        }
        let fault = inner.begin(op, &self.path)?;
        if inner.generation != self.generation {
            return Err(err_stale());
        }
        Ok((inner, fault))
    }
}

impl WritableFile for SimWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let (mut inner, fault) = self.start(Op::Append)?;
        let written = match fault {
            None => data.len(),
            Some(FaultKind::Eio) => 0,
            Some(FaultKind::Enospc) => inner.rng.random_range(0..=data.len()),
        };
        let inode = inner
            .inodes
            .get_mut(&self.ino)
            .expect("an open file's inode lives until a crash");
        inode.data.extend_from_slice(&data[..written]);
        match fault {
            None => Ok(()),
            Some(kind) => Err(fault_error(kind, Op::Append, &self.path)),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        let (mut inner, fault) = self.start(Op::Sync)?;
        let inode = inner
            .inodes
            .get_mut(&self.ino)
            .expect("an open file's inode lives until a crash");
        if fault.is_some() {
            // The kernel dropped the dirty pages and marked them clean: those bytes will
            // never reach the disk, and the next sync has nothing to report.
            inode.lost.push((inode.synced_len, inode.data.len()));
        }
        inode.synced_len = inode.data.len();
        match fault {
            None => Ok(()),
            Some(kind) => Err(fault_error(kind, Op::Sync, &self.path)),
        }
    }

    fn len(&self) -> u64 {
        let inner = self.fs.state();
        inner
            .inodes
            .get(&self.ino)
            .map_or(0, |i| i.data.len() as u64)
    }
}

struct SimReadable {
    fs: SimFs,
    ino: u64,
    path: PathBuf,
    len: u64,
    generation: u64,
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
        let mut inner = self.fs.state();
        if inner.generation != self.generation && !inner.powered_off {
            return Err(err_stale());
        }
        if let Some(kind) = inner.begin(Op::Read, &self.path)? {
            return Err(fault_error(kind, Op::Read, &self.path));
        }
        if inner.generation != self.generation {
            return Err(err_stale());
        }
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&end| end <= self.len)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "read of {} bytes at offset {offset} runs past the end of a {}-byte file",
                        buf.len(),
                        self.len
                    ),
                )
            })?;
        let data = &inner
            .inodes
            .get(&self.ino)
            .expect("an open file's inode lives until a crash")
            .data;
        buf.copy_from_slice(&data[offset as usize..end as usize]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(seed: u64) -> SimFs {
        let fs = SimFs::new(seed);
        fs.create_dir_all(Path::new("/d")).unwrap();
        fs
    }

    fn read_all(fs: &SimFs, path: &str) -> Option<Vec<u8>> {
        let file = fs.open(Path::new(path)).ok()?;
        Some(file.read_vec(0, file.len()).unwrap())
    }

    fn write(fs: &SimFs, path: &str, data: &[u8], sync: bool) {
        let mut f = fs.create(Path::new(path)).unwrap();
        f.append(data).unwrap();
        if sync {
            f.sync().unwrap();
        }
    }

    #[test]
    fn synced_bytes_survive_and_unsynced_ones_are_a_possibly_torn_prefix() {
        let (mut kept_all, mut kept_none, mut torn) = (0, 0, 0);
        for seed in 0..300 {
            let fs = setup(seed);
            let mut f = fs.create(Path::new("/d/f")).unwrap();
            f.append(&[1; 1000]).unwrap();
            f.sync().unwrap();
            fs.sync_dir(Path::new("/d")).unwrap();
            f.append(&[2; 2000]).unwrap();
            fs.crash();
            let data = read_all(&fs, "/d/f").expect("name and synced bytes are durable");
            assert!(data.len() >= 1000 && data.len() <= 3000, "seed {seed}");
            assert_eq!(
                &data[..1000],
                &[1; 1000],
                "seed {seed}: synced bytes damaged"
            );
            let tail = &data[1000..];
            kept_all += usize::from(tail.len() == 2000);
            kept_none += usize::from(tail.is_empty());
            // Outside the last sector, what survives is exactly what was written.
            let clean = tail.len().saturating_sub(TORN_SECTOR);
            assert!(tail[..clean].iter().all(|&b| b == 2), "seed {seed}");
            torn += usize::from(tail.iter().any(|&b| b != 2));
        }
        assert!(
            kept_all > 0 && kept_none > 0 && torn > 0,
            "{kept_all} kept all, {kept_none} kept none, {torn} torn"
        );
    }

    #[test]
    fn a_file_whose_directory_was_not_synced_may_vanish() {
        let (mut vanished, mut stayed) = (0, 0);
        for seed in 0..100 {
            let fs = setup(seed);
            write(&fs, "/d/f", b"data", true);
            fs.crash();
            match read_all(&fs, "/d/f") {
                None => vanished += 1,
                Some(data) => {
                    assert_eq!(data, b"data");
                    stayed += 1;
                }
            }
        }
        assert!(
            vanished > 0 && stayed > 0,
            "{vanished} vanished, {stayed} stayed"
        );
        for seed in 0..50 {
            let fs = setup(seed);
            write(&fs, "/d/f", b"data", true);
            fs.sync_dir(Path::new("/d")).unwrap();
            fs.crash();
            assert_eq!(
                read_all(&fs, "/d/f").as_deref(),
                Some(&b"data"[..]),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn rename_over_a_durable_file_is_atomic_across_a_crash() {
        let (mut old, mut new) = (0, 0);
        for seed in 0..200 {
            let fs = setup(seed);
            write(&fs, "/d/CURRENT", b"old", true);
            fs.sync_dir(Path::new("/d")).unwrap();
            write(&fs, "/d/CURRENT.tmp", b"new", true);
            fs.rename(Path::new("/d/CURRENT.tmp"), Path::new("/d/CURRENT"))
                .unwrap();
            fs.crash();
            match read_all(&fs, "/d/CURRENT").as_deref() {
                Some(b"old") => old += 1,
                Some(b"new") => new += 1,
                other => panic!("seed {seed}: CURRENT is {other:?}"),
            }
        }
        assert!(old > 0 && new > 0, "{old} old, {new} new");
    }

    #[test]
    fn a_removal_is_durable_only_after_the_directory_sync() {
        let mut came_back = 0;
        for seed in 0..100 {
            let fs = setup(seed);
            write(&fs, "/d/f", b"x", true);
            fs.sync_dir(Path::new("/d")).unwrap();
            fs.remove(Path::new("/d/f")).unwrap();
            fs.crash();
            came_back += usize::from(read_all(&fs, "/d/f").is_some());
        }
        assert!(came_back > 0 && came_back < 100, "{came_back}");
        let fs = setup(0);
        write(&fs, "/d/f", b"x", true);
        fs.remove(Path::new("/d/f")).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        fs.crash();
        assert!(read_all(&fs, "/d/f").is_none());
    }

    fn snapshot(fs: &SimFs) -> Vec<(String, Vec<u8>)> {
        let names = fs.list(Path::new("/d")).unwrap();
        names
            .into_iter()
            .map(|n| (n.clone(), read_all(fs, &format!("/d/{n}")).unwrap()))
            .collect()
    }

    #[test]
    fn the_same_seed_and_calls_give_the_same_crash() {
        let run = |seed| {
            let fs = setup(seed);
            for i in 0..20u8 {
                write(&fs, &format!("/d/{i}"), &vec![i; 700], i % 3 == 0);
                if i % 5 == 0 {
                    fs.sync_dir(Path::new("/d")).unwrap();
                }
            }
            fs.crash();
            snapshot(&fs)
        };
        for seed in 0..20 {
            assert_eq!(run(seed), run(seed), "seed {seed}");
        }
        assert!(
            (0..20).any(|s| run(s) != run(s + 1)),
            "different seeds crash differently"
        );
    }

    #[test]
    fn power_stays_off_from_the_cut_until_restart() {
        let fs = setup(1);
        fs.cut_power_after(2);
        let mut f = fs.create(Path::new("/d/f")).unwrap();
        f.append(b"one").unwrap();
        assert!(f.append(b"two").is_err());
        assert!(fs.is_powered_off());
        assert!(f.sync().is_err());
        assert!(fs.create(Path::new("/d/g")).is_err());
        assert!(fs.list(Path::new("/d")).is_err());
        fs.restart();
        assert!(!fs.is_powered_off());
        assert!(
            f.append(b"three")
                .unwrap_err()
                .to_string()
                .contains("stale")
        );
        fs.list(Path::new("/d")).unwrap();
    }

    #[test]
    fn a_cut_at_every_operation_never_panics_and_keeps_synced_data() {
        let workload = |fs: &SimFs| -> io::Result<()> {
            let mut f = fs.create(Path::new("/d/log"))?;
            fs.sync_dir(Path::new("/d"))?;
            for i in 0..5u8 {
                f.append(&[i; 100])?;
                f.sync()?;
            }
            let mut t = fs.create(Path::new("/d/tmp"))?;
            t.append(b"meta")?;
            t.sync()?;
            fs.rename(Path::new("/d/tmp"), Path::new("/d/META"))?;
            fs.sync_dir(Path::new("/d"))
        };
        let fs = setup(0);
        let before = fs.op_count();
        workload(&fs).unwrap();
        let n_ops = fs.op_count() - before;
        for cut in 0..=n_ops {
            let fs = setup(cut);
            fs.cut_power_after(cut);
            let done = workload(&fs).is_ok();
            fs.restart();
            if let Some(log) = read_all(&fs, "/d/log") {
                let synced = ((cut.saturating_sub(2)) / 2).min(5) as usize;
                assert!(log.len() >= synced * 100, "cut {cut}: {} bytes", log.len());
                for (i, chunk) in log.chunks(100).take(synced).enumerate() {
                    assert_eq!(chunk, &[i as u8; 100][..chunk.len()], "cut {cut}");
                }
            } else {
                assert!(cut < 2, "cut {cut}: the log's name was synced");
            }
            if done {
                assert_eq!(read_all(&fs, "/d/META").as_deref(), Some(&b"meta"[..]));
            }
        }
    }

    #[test]
    fn faults_fire_on_the_nth_matching_operation_once_or_stickily() {
        let fs = setup(2);
        fs.inject(
            Fault::new(Op::Sync, FaultKind::Eio)
                .path_contains("wal")
                .after(1),
        );
        let mut other = fs.create(Path::new("/d/table")).unwrap();
        let mut wal = fs.create(Path::new("/d/wal")).unwrap();
        other.sync().unwrap();
        other.sync().unwrap();
        wal.sync().unwrap();
        assert!(wal.sync().is_err(), "second wal sync fails");
        wal.sync().unwrap();

        fs.inject(Fault::new(Op::Create, FaultKind::Eio).sticky(true));
        assert!(fs.create(Path::new("/d/a")).is_err());
        assert!(fs.create(Path::new("/d/b")).is_err());
        fs.clear_faults();
        fs.create(Path::new("/d/c")).unwrap();
    }

    #[test]
    fn enospc_is_storage_full_and_may_write_a_prefix() {
        let mut partial = 0;
        for seed in 0..30 {
            let fs = setup(seed);
            let mut f = fs.create(Path::new("/d/f")).unwrap();
            fs.inject(Fault::new(Op::Append, FaultKind::Enospc));
            let err = f.append(&[9; 1000]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::StorageFull);
            assert!(f.len() <= 1000);
            partial += usize::from(!f.is_empty() && f.len() < 1000);
        }
        assert!(partial > 0);
    }

    #[test]
    fn bytes_of_a_failed_fsync_are_lost_even_after_a_later_successful_one() {
        let fs = setup(3);
        let mut f = fs.create(Path::new("/d/f")).unwrap();
        fs.sync_dir(Path::new("/d")).unwrap();
        f.append(b"good").unwrap();
        f.sync().unwrap();
        f.append(b"lost").unwrap();
        fs.inject(Fault::new(Op::Sync, FaultKind::Eio));
        assert!(f.sync().is_err());
        f.append(b"after").unwrap();
        f.sync().unwrap();
        fs.crash();
        assert_eq!(read_all(&fs, "/d/f").unwrap(), b"good\0\0\0\0after");
    }

    #[test]
    fn locks_are_exclusive_released_on_drop_and_by_a_crash() {
        let fs = setup(4);
        let lock = fs.lock(Path::new("/d/LOCK")).unwrap();
        assert_eq!(
            fs.lock(Path::new("/d/LOCK")).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        drop(lock);
        let held = fs.lock(Path::new("/d/LOCK")).unwrap();
        fs.crash();
        let _again = fs.lock(Path::new("/d/LOCK")).unwrap();
        drop(held); // a guard from before the crash must not release the new holder's lock
        assert_eq!(
            fs.lock(Path::new("/d/LOCK")).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }

    #[test]
    fn renames_across_directories_are_refused() {
        let fs = setup(5);
        fs.create_dir_all(Path::new("/e")).unwrap();
        write(&fs, "/d/f", b"x", false);
        assert_eq!(
            fs.rename(Path::new("/d/f"), Path::new("/e/f"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
