//! The disk model: what the page cache shows, what the disk holds, and what a power cut
//! leaves of the difference.
//!
//! Nothing here knows about power switches, faults or handles; [`Disk`] is the state of the
//! storage and the rules by which it changes, including [`Disk::crash`].

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::mem;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::rngs::SmallRng;

/// A disk sector: the unit a power cut can tear. The tail of a file's unsynced bytes that
/// survives a crash may have up to this many bytes replaced by zeros or garbage.
pub(super) const SECTOR: usize = 512;

/// How often the surviving tail of a file's unsynced bytes is torn.
const TEAR_PROBABILITY: f64 = 0.5;

/// A file's identity, independent of its names: a rename moves the name, not the inode.
pub(super) type InodeId = u64;

/// A file's bytes.
#[derive(Debug, Default)]
struct Inode {
    /// Everything appended: what reads see, like the page cache.
    data: Vec<u8>,
    /// The prefix of `data` that a successful sync made durable.
    synced_len: usize,
    /// The length [`WritableFile::reserve`](crate::WritableFile::reserve) set: past
    /// `data`, the file reads as zeros up to here.
    reserved: usize,
    /// `reserved` as the last successful sync left it: the length a power cut keeps for
    /// sure.
    synced_reserved: usize,
    /// Ranges of `data` that were unsynced when a sync failed. They never reach the disk,
    /// even after a later sync succeeds: after a crash they read as zeros.
    lost: Vec<Range<usize>>,
}

impl Inode {
    /// The file's length: what was appended, or the reserved length if that is more.
    fn len(&self) -> usize {
        self.data.len().max(self.reserved)
    }

    /// What a power cut leaves of the file: see the module docs of [`super`].
    fn crash(&mut self, rng: &mut SmallRng) {
        let unsynced = self.data.len() - self.synced_len;
        if unsynced > 0 {
            // Weight the two extremes: "nothing reached the disk" and "everything did" are
            // the cases recovery code most often gets wrong, and a uniform draw over a long
            // tail would almost never produce the second.
            let kept = match rng.random_range(0..4) {
                0 => 0,
                1 => unsynced,
                _ => rng.random_range(0..=unsynced),
            };
            let end = self.synced_len + kept;
            self.data.truncate(end);
            if kept > 0 && rng.random_bool(TEAR_PROBABILITY) {
                // The sector being written when the power failed holds neither the old nor
                // the new bytes. `torn <= kept`, so synced bytes are never touched.
                let torn = rng.random_range(1..=kept.min(SECTOR));
                let tail = &mut self.data[end - torn..];
                if rng.random_bool(0.5) {
                    tail.fill(0);
                } else {
                    rng.fill(tail);
                }
            }
        }
        let len = self.data.len();
        for range in self.lost.drain(..) {
            let range = range.start.min(len)..range.end.min(len);
            self.data[range].fill(0);
        }
        self.synced_len = len;
        // A length set since the last sync is metadata the file system may or may not
        // have committed: either the new one or the synced one survives.
        if self.reserved != self.synced_reserved && rng.random_bool(0.5) {
            self.reserved = self.synced_reserved;
        }
        self.synced_reserved = self.reserved;
    }
}

/// A directory change that is visible but not yet durable.
#[derive(Debug, Clone)]
enum Change {
    Create {
        path: PathBuf,
        ino: InodeId,
    },
    Remove {
        path: PathBuf,
    },
    /// Both paths are in the same directory, so one directory's log orders it.
    Rename {
        from: PathBuf,
        to: PathBuf,
        ino: InodeId,
    },
}

impl Change {
    fn apply(&self, names: &mut BTreeMap<PathBuf, InodeId>) {
        match self {
            Change::Create { path, ino } => {
                names.insert(path.clone(), *ino);
            }
            Change::Remove { path } => {
                names.remove(path);
            }
            Change::Rename { from, to, ino } => {
                names.remove(from);
                names.insert(to.clone(), *ino);
            }
        }
    }
}

/// The whole simulated storage.
///
/// Invariant: for every directory `d`, applying `pending[d]` in order to the entries of
/// `durable` in `d` gives the entries of `live` in `d`.
#[derive(Debug)]
pub(super) struct Disk {
    inodes: BTreeMap<InodeId, Inode>,
    next_ino: InodeId,
    /// Directories, all durable (see "Simplifications" in the module docs of [`super`]).
    dirs: BTreeSet<PathBuf>,
    /// File names as operations see them.
    live: BTreeMap<PathBuf, InodeId>,
    /// File names as they are on disk.
    durable: BTreeMap<PathBuf, InodeId>,
    /// Per directory, the changes made since its last sync, oldest first.
    pending: BTreeMap<PathBuf, Vec<Change>>,
}

/// Puts `path` in the one form the maps are keyed by: `/db/./a/` becomes `/db/a`. `..` is
/// left alone, as resolving it needs the file system.
pub(super) fn normalize(path: &Path) -> PathBuf {
    path.components().collect()
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

fn error(kind: io::ErrorKind, path: &Path, what: &str) -> io::Error {
    io::Error::new(kind, format!("{} {what}", path.display()))
}

impl Disk {
    pub(super) fn new() -> Disk {
        Disk {
            inodes: BTreeMap::new(),
            next_ino: 1,
            dirs: BTreeSet::from([PathBuf::from("/")]),
            live: BTreeMap::new(),
            durable: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    fn check_dir(&self, dir: &Path) -> io::Result<()> {
        if self.dirs.contains(dir) {
            Ok(())
        } else if self.live.contains_key(dir) {
            Err(error(
                io::ErrorKind::NotADirectory,
                dir,
                "is a file, not a directory",
            ))
        } else {
            Err(error(io::ErrorKind::NotFound, dir, "does not exist"))
        }
    }

    /// The inode named by `path`.
    pub(super) fn file(&self, path: &Path) -> io::Result<InodeId> {
        match self.live.get(path) {
            Some(&ino) => Ok(ino),
            None if self.dirs.contains(path) => Err(error(
                io::ErrorKind::IsADirectory,
                path,
                "is a directory, not a file",
            )),
            None => Err(error(io::ErrorKind::NotFound, path, "does not exist")),
        }
    }

    fn log(&mut self, dir: &Path, change: Change) {
        self.pending
            .entry(dir.to_path_buf())
            .or_default()
            .push(change);
    }

    pub(super) fn create(&mut self, path: &Path) -> io::Result<InodeId> {
        self.check_dir(parent(path))?;
        if self.live.contains_key(path) || self.dirs.contains(path) {
            return Err(error(io::ErrorKind::AlreadyExists, path, "already exists"));
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(ino, Inode::default());
        self.live.insert(path.to_path_buf(), ino);
        self.log(
            parent(path),
            Change::Create {
                path: path.to_path_buf(),
                ino,
            },
        );
        Ok(ino)
    }

    /// A second name for `original`'s inode: the new name is logged in its directory as a
    /// create of that inode, so a power cut before the directory is synced loses the name
    /// and never the bytes.
    pub(super) fn link(&mut self, original: &Path, link: &Path) -> io::Result<()> {
        let ino = self.file(original)?;
        self.check_dir(parent(link))?;
        if self.live.contains_key(link) || self.dirs.contains(link) {
            return Err(error(io::ErrorKind::AlreadyExists, link, "already exists"));
        }
        self.live.insert(link.to_path_buf(), ino);
        let path = link.to_path_buf();
        self.log(parent(link), Change::Create { path, ino });
        Ok(())
    }

    /// The inode named by `path`, created empty if the name is free.
    pub(super) fn open_or_create(&mut self, path: &Path) -> io::Result<InodeId> {
        self.check_dir(parent(path))?;
        match self.file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.create(path),
            found => found,
        }
    }

    pub(super) fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let dir = parent(from);
        if dir != parent(to) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "SimFs renames only within one directory: {} -> {}",
                    from.display(),
                    to.display()
                ),
            ));
        }
        self.check_dir(dir)?;
        let ino = self.file(from)?;
        if self.dirs.contains(to) {
            return Err(error(io::ErrorKind::IsADirectory, to, "is a directory"));
        }
        if from == to {
            // POSIX: renaming a file to itself does nothing, successfully.
            return Ok(());
        }
        self.live.remove(from);
        self.live.insert(to.to_path_buf(), ino);
        let (from, to) = (from.to_path_buf(), to.to_path_buf());
        self.log(dir, Change::Rename { from, to, ino });
        Ok(())
    }

    pub(super) fn remove(&mut self, path: &Path) -> io::Result<()> {
        self.file(path)?;
        self.live.remove(path);
        // The inode stays: open handles still read and write it, and the removal may yet
        // be undone by a crash.
        self.log(
            parent(path),
            Change::Remove {
                path: path.to_path_buf(),
            },
        );
        Ok(())
    }

    pub(super) fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.check_dir(dir)?;
        let children = self
            .dirs
            .iter()
            .chain(self.live.keys())
            .filter(|p| p.parent() == Some(dir));
        let mut names: Vec<String> = children
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    pub(super) fn exists(&self, path: &Path) -> bool {
        self.dirs.contains(path) || self.live.contains_key(path)
    }

    /// Creates `dir` and its missing ancestors, durably.
    ///
    /// A real file system would log each `mkdir` in the parent directory like a file
    /// create. Here a new directory is durable at once, as if its parent had been synced
    /// right after the `mkdir`; to stay consistent with that, the parent's earlier pending
    /// changes become durable too, exactly as a real `sync_dir` of the parent would make
    /// them.
    pub(super) fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        let mut missing = Vec::new();
        for ancestor in dir.ancestors() {
            if ancestor.as_os_str().is_empty() || self.dirs.contains(ancestor) {
                break;
            }
            if self.live.contains_key(ancestor) {
                return Err(if ancestor == dir {
                    error(
                        io::ErrorKind::AlreadyExists,
                        dir,
                        "already exists as a file",
                    )
                } else {
                    error(
                        io::ErrorKind::NotADirectory,
                        ancestor,
                        "is a file, not a directory",
                    )
                });
            }
            missing.push(ancestor);
        }
        for new_dir in missing.into_iter().rev() {
            self.sync_entries(parent(new_dir));
            self.dirs.insert(new_dir.to_path_buf());
        }
        Ok(())
    }

    pub(super) fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        self.check_dir(dir)?;
        self.sync_entries(dir);
        Ok(())
    }

    fn sync_entries(&mut self, dir: &Path) {
        for change in self.pending.remove(dir).unwrap_or_default() {
            change.apply(&mut self.durable);
        }
    }

    fn inode(&self, ino: InodeId) -> &Inode {
        // Inodes are only dropped by a crash, and a crash makes every handle that could
        // name a dropped inode stale before it can reach here.
        self.inodes
            .get(&ino)
            .expect("an inode outlives every handle of its power cycle")
    }

    fn inode_mut(&mut self, ino: InodeId) -> &mut Inode {
        self.inodes
            .get_mut(&ino)
            .expect("an inode outlives every handle of its power cycle")
    }

    pub(super) fn len(&self, ino: InodeId) -> u64 {
        self.inode(ino).len() as u64
    }

    pub(super) fn append(&mut self, ino: InodeId, bytes: &[u8]) {
        self.inode_mut(ino).data.extend_from_slice(bytes);
    }

    /// Sets the reserved length (see [`Inode::reserved`]); zero cuts the file back to
    /// what was appended.
    pub(super) fn reserve(&mut self, ino: InodeId, len: usize) {
        self.inode_mut(ino).reserved = len;
    }

    /// Copies `buf.len()` bytes at `offset`: appended bytes, then the zeros of a reserved
    /// length. The caller checked the range against the length the file had when it was
    /// opened; a file cut back since reads short, like a real one.
    pub(super) fn read(&self, ino: InodeId, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        let inode = self.inode(ino);
        crate::check_read_bounds(offset as u64, buf.len() as u64, inode.len() as u64)?;
        let appended = inode.data.len().saturating_sub(offset).min(buf.len());
        let (data, zeros) = buf.split_at_mut(appended);
        if appended > 0 {
            data.copy_from_slice(&inode.data[offset..offset + appended]);
        }
        zeros.fill(0);
        Ok(())
    }

    /// A successful sync: every byte appended so far, and the length, are durable.
    pub(super) fn sync(&mut self, ino: InodeId) {
        let inode = self.inode_mut(ino);
        inode.synced_len = inode.data.len();
        inode.synced_reserved = inode.reserved;
    }

    /// A failed sync: the unsynced bytes are lost for good, though reads still see them.
    pub(super) fn fail_sync(&mut self, ino: InodeId) {
        let inode = self.inode_mut(ino);
        let lost = inode.synced_len..inode.data.len();
        if lost.is_empty() {
            return;
        }
        // Ranges start at the synced length, which only grows, so a new range can only
        // overlap the last one.
        match inode.lost.last_mut() {
            Some(last) if last.end >= lost.start => last.end = last.end.max(lost.end),
            _ => inode.lost.push(lost),
        }
    }

    /// How many bytes of the file named `path` would survive a crash, if its name did.
    pub(super) fn durable_len(&self, path: &Path) -> Option<u64> {
        let ino = self.live.get(path)?;
        Some(self.inode(*ino).synced_len as u64)
    }

    /// The power cut: see the module docs of [`super`]. The random draws are made in a
    /// fixed order (directories, then inodes, each sorted), so the outcome depends only on
    /// the state of `rng` and of the disk.
    pub(super) fn crash(&mut self, rng: &mut SmallRng) {
        for changes in mem::take(&mut self.pending).into_values() {
            // A journaling file system commits metadata in order: a prefix survives.
            let n_kept = rng.random_range(0..=changes.len());
            for change in &changes[..n_kept] {
                change.apply(&mut self.durable);
            }
        }
        self.live = self.durable.clone();
        let named: BTreeSet<InodeId> = self.durable.values().copied().collect();
        self.inodes.retain(|ino, _| named.contains(ino));
        for inode in self.inodes.values_mut() {
            inode.crash(rng);
        }
    }
}
