//! A [`FileSystem`] in front of the [`SimFs`] that notes where the power cut landed:
//! which thread (the workload, the flush thread, a compaction thread, the idle thread),
//! which operation, which file.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

use ferris_engine::TableFormat;
use ferris_fs::{FileLock, FileSystem, Op, ReadableFile, SimFs, WritableFile};

/// Which thread performed the file-system operation the power cut landed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Role {
    /// The workload's own thread: `Db::open` (recovery, which may write a table), a write
    /// (the WAL, and the freeze that rotates it), or a read.
    Workload,
    /// The engine's flush thread: a memtable becoming a table, its manifest edit, and the
    /// manifest rotations that follow.
    Flush,
    /// A compaction thread: merges, their output tables and their manifest edit.
    Compaction,
    /// The idle thread.
    Idle,
}

impl Role {
    fn of(thread_name: Option<&str>) -> Role {
        match thread_name {
            Some("ferris-flush") => Role::Flush,
            Some("ferris-idle") => Role::Idle,
            Some(name) if name.starts_with("ferris-compact") => Role::Compaction,
            _ => Role::Workload,
        }
    }
}

/// The kind of file the power cut landed on, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FileKind {
    /// A WAL segment (`*.wal`).
    Wal,
    /// A table or a table being written, as the run's table format names them
    /// (`*.sst` and `*.sst.tmp` for sorted tables, `*.mtb` and `*.mtb.tmp` for
    /// minitables).
    Table,
    /// A manifest (`MANIFEST-*`).
    Manifest,
    /// `CURRENT` or `CURRENT.tmp`: a manifest switch.
    Current,
    /// `LOCK`.
    Lock,
    /// The database directory or its parent (listing, syncing, creating them).
    Directory,
    /// Anything else.
    Other,
}

impl FileKind {
    fn of(path: &Path, dir: &Path, format: &dyn TableFormat) -> FileKind {
        // The database directory, or a parent of it (opening syncs the parent that holds
        // the directory's entry).
        if dir.starts_with(path) {
            return FileKind::Directory;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".wal") {
            FileKind::Wal
        } else if format.parse_file_name(name).is_some() {
            FileKind::Table
        } else if name.starts_with("MANIFEST-") {
            FileKind::Manifest
        } else if name.starts_with("CURRENT") {
            FileKind::Current
        } else if name == "LOCK" {
            FileKind::Lock
        } else {
            FileKind::Other
        }
    }
}

/// Where the power cut landed: the operation that found the power gone first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CutSite {
    /// The thread's name (`ferris-flush`, `ferris-compact-0`, ... or the workload's).
    pub thread: String,
    /// What that thread is.
    pub role: Role,
    /// The operation.
    pub op: Op,
    /// The file's name (or the directory's path).
    pub file: String,
    /// What kind of file it is.
    pub file_kind: FileKind,
}

impl fmt::Display for CutSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} in {:?} thread `{}`",
            self.op, self.file, self.role, self.thread
        )
    }
}

#[derive(Debug, Default)]
struct ProbeState {
    cut: Option<CutSite>,
    /// Calls made that change the disk (or would have, had the power been on): all but
    /// opens, reads and listings.
    changes: u64,
    /// Every thread that used this file system: panics in them belong to this seed.
    threads: HashSet<ThreadId>,
}

/// The probe: a [`FileSystem`] that forwards every call to a [`SimFs`], one at a time.
///
/// Each call runs under the probe's lock, with the power state read before and after, so
/// the one call during which the power went off is known exactly, whatever the threads do
/// meanwhile. `SimFs` serialises its operations behind one lock anyway, so this costs no
/// parallelism.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    sim: SimFs,
    dir: PathBuf,
    /// The run's table format: it alone knows which names are its tables.
    format: Arc<dyn TableFormat>,
    state: Arc<Mutex<ProbeState>>,
}

impl Probe {
    pub(crate) fn new(sim: SimFs, dir: &Path, format: Arc<dyn TableFormat>) -> Probe {
        Probe {
            sim,
            dir: dir.to_path_buf(),
            format,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ProbeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where the current power cut landed, if it has.
    pub(crate) fn cut_site(&self) -> Option<CutSite> {
        self.lock().cut.clone()
    }

    /// Where the current power cut landed, forgetting it, so the next cut is recorded.
    pub(crate) fn take_cut_site(&self) -> Option<CutSite> {
        self.lock().cut.take()
    }

    /// How many calls that change the disk were made through this probe: every one but
    /// [`Op::Open`], [`Op::Read`] and [`Op::List`] (a lock taken counts too).
    pub(crate) fn changes(&self) -> u64 {
        self.lock().changes
    }

    /// Whether `thread` performed an operation through this probe.
    pub(crate) fn saw_thread(&self, thread: ThreadId) -> bool {
        self.lock().threads.contains(&thread)
    }

    fn run<T>(&self, op: Op, path: &Path, call: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let mut state = self.lock();
        if !matches!(op, Op::Open | Op::Read | Op::List) {
            state.changes += 1;
        }
        let was_off = self.sim.is_powered_off();
        let result = call();
        let current = thread::current();
        if !was_off && self.sim.is_powered_off() && state.cut.is_none() {
            let name = current.name();
            state.cut = Some(CutSite {
                thread: name.unwrap_or("unnamed").to_string(),
                role: Role::of(name),
                op,
                file: path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into(),
                ),
                file_kind: FileKind::of(path, &self.dir, &*self.format),
            });
        }
        state.threads.insert(current.id());
        result
    }
}

impl FileSystem for Probe {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let inner = self.run(Op::Create, path, || self.sim.create(path))?;
        Ok(Box::new(ProbeWritable {
            inner,
            probe: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadableFile>> {
        let inner = self.run(Op::Open, path, || self.sim.open(path))?;
        Ok(Box::new(ProbeReadable {
            inner,
            probe: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.run(Op::Rename, to, || self.sim.rename(from, to))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.run(Op::Remove, path, || self.sim.remove(path))
    }

    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()> {
        self.run(Op::Link, link, || self.sim.hard_link(original, link))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.run(Op::List, dir, || self.sim.list(dir))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.run(Op::List, path, || self.sim.exists(path))
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.run(Op::CreateDir, dir, || self.sim.create_dir_all(dir))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.run(Op::SyncDir, dir, || self.sim.sync_dir(dir))
    }

    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        self.run(Op::Lock, path, || self.sim.lock(path))
    }
}

#[derive(Debug)]
struct ProbeWritable {
    inner: Box<dyn WritableFile>,
    probe: Probe,
    path: PathBuf,
}

impl WritableFile for ProbeWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let inner = &mut self.inner;
        self.probe
            .run(Op::Append, &self.path, || inner.append(data))
    }

    fn sync(&mut self) -> io::Result<()> {
        let inner = &mut self.inner;
        self.probe.run(Op::Sync, &self.path, || inner.sync())
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn reserve(&mut self, len: u64) -> io::Result<()> {
        let inner = &mut self.inner;
        self.probe
            .run(Op::Reserve, &self.path, || inner.reserve(len))
    }
}

#[derive(Debug)]
struct ProbeReadable {
    inner: Box<dyn ReadableFile>,
    probe: Probe,
    path: PathBuf,
}

impl ReadableFile for ProbeReadable {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.probe.run(Op::Read, &self.path, || {
            self.inner.read_exact_at(offset, buf)
        })
    }

    fn mapped(&self) -> Option<&[u8]> {
        self.inner.mapped()
    }

    fn read_vec(&self, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        self.probe
            .run(Op::Read, &self.path, || self.inner.read_vec(offset, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TableFormatKind;

    #[test]
    fn the_probe_names_the_operation_the_power_cut_landed_on() {
        let sim = SimFs::new(1);
        let format = TableFormatKind::Sstable.build();
        let probe = Probe::new(sim.clone(), Path::new("/db"), format);
        probe.create_dir_all(Path::new("/db")).unwrap();
        let mut wal = probe.create(Path::new("/db/000001.wal")).unwrap();
        sim.cut_power_after(1);
        wal.append(b"one").unwrap();
        assert!(wal.sync().is_err());
        // Operations after the cut fail too, but the cut landed on the sync.
        assert!(probe.create(Path::new("/db/CURRENT.tmp")).is_err());
        let site = probe.take_cut_site().unwrap();
        assert_eq!(site.op, Op::Sync);
        assert_eq!(site.file, "000001.wal");
        assert_eq!(site.file_kind, FileKind::Wal);
        assert_eq!(site.role, Role::Workload);
        assert!(probe.saw_thread(thread::current().id()));
        assert_eq!(probe.cut_site(), None, "taken");
        // The directory, the create, the append, the sync and the create after the cut
        // count as changes; a listing does not.
        sim.restart();
        assert!(probe.list(Path::new("/")).is_ok());
        assert_eq!(probe.changes(), 5);
    }

    #[test]
    fn file_kinds_and_roles_come_from_names() {
        let dir = Path::new("/db");
        let sstable = TableFormatKind::Sstable.build();
        let minitable = TableFormatKind::Minitable.build();
        let kind = |name: &str| FileKind::of(&dir.join(name), dir, &*sstable);
        assert_eq!(kind("000007.sst.tmp"), FileKind::Table);
        assert_eq!(kind("000007.sst"), FileKind::Table);
        // A table is whatever the run's format calls one.
        assert_eq!(kind("000007.mtb"), FileKind::Other);
        let mini = |name: &str| FileKind::of(&dir.join(name), dir, &*minitable);
        assert_eq!(mini("000007.mtb"), FileKind::Table);
        assert_eq!(mini("000007.mtb.tmp"), FileKind::Table);
        assert_eq!(mini("000007.sst"), FileKind::Other);
        assert_eq!(kind("MANIFEST-000003"), FileKind::Manifest);
        assert_eq!(kind("CURRENT.tmp"), FileKind::Current);
        assert_eq!(kind("LOCK"), FileKind::Lock);
        assert_eq!(
            FileKind::of(Path::new("/"), dir, &*sstable),
            FileKind::Directory
        );
        assert_eq!(Role::of(Some("ferris-compact-1")), Role::Compaction);
        assert_eq!(Role::of(Some("ferris-flush")), Role::Flush);
        assert_eq!(Role::of(None), Role::Workload);
    }
}
