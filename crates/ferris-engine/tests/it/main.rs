//! Integration tests of ferris-engine: the API, bad input, power cuts, concurrency and a
//! model check.

mod api;
mod bad_input;
mod checkpoint;
mod compaction_filter;
mod concurrency;
mod corruption;
mod golden;
mod idle;
mod io_faults;
mod keyspaces;
mod model;
mod multi_get;
mod power_cut;
mod range_delete;
mod read_only;
mod swap;
mod ttl;
mod txn;
mod verify;

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferris_engine::{Db, Options};
use ferris_fs::{FileLock, FileSystem, ReadableFile, SimFs, WritableFile};

pub(crate) const DIR: &str = "/db";

/// Options on a simulated file system, with a small write buffer and manifest limit so
/// tests flush and rotate the manifest.
pub(crate) fn sim_options(sim: &SimFs) -> Options {
    let mut options = Options::default();
    options.file_system = Arc::new(sim.clone()) as Arc<dyn FileSystem>;
    options.write_buffer_size = 16 << 10;
    options.block_cache_size = 1 << 20;
    // Small, so flushes also rotate the manifest and switch CURRENT.
    options.max_manifest_size = 1 << 10;
    options
}

/// [`sim_options`] without idle work, for tests that assert the layout of the levels:
/// otherwise a test thread descheduled for longer than `idle_after` could find level 0
/// compacted under it.
pub(crate) fn stable_options(sim: &SimFs) -> Options {
    let mut options = sim_options(sim);
    options.idle_after = None;
    options
}

/// Polls `done` until it holds, and panics naming `what` if it has not after a minute.
/// Tests wait for background work (idle flushes and compactions) this way: the deadline
/// is only there to turn a hang into a failure, never to assert a speed.
pub(crate) fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Counts a running thread out of `left` when dropped, whether the thread returns or
/// panics. Writer threads hold one, so that a reader looping "while writers are left"
/// stops when a writer fails, and the test reports the failure instead of hanging.
pub(crate) struct Leaving<'a>(pub(crate) &'a AtomicUsize);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// The components a test runs with: FerrisDB's own, or one of the alternatives plugged in
/// through [`Options`] in place of its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plug {
    /// The skip-list memtable, sorted tables and leveled compaction.
    Defaults,
    /// Size-tiered compaction.
    Tiered,
    /// The teaching memtable: a `BTreeMap` behind a lock.
    BTreeMemtable,
    /// The smallest table format, `ferris-minitable`.
    MiniTable,
    /// FIFO compaction (`ferris-fifo`), with a cap no test reaches: nothing is ever merged,
    /// and nothing dropped.
    Fifo,
}

impl Plug {
    pub(crate) fn apply(self, options: &mut Options) {
        match self {
            Plug::Defaults => {}
            Plug::Tiered => {
                options.compaction_strategy = Arc::new(ferris_compaction::Tiered::default());
            }
            Plug::BTreeMemtable => options.memtable = Arc::new(ferris_memtable::BTreeFactory),
            Plug::MiniTable => options.table_format = Arc::new(ferris_minitable::MinitableFormat),
            Plug::Fifo => options.compaction_strategy = Arc::new(ferris_fifo::Fifo::new(1 << 40)),
        }
    }
}

pub(crate) fn open_sim(seed: u64) -> (SimFs, Db) {
    let sim = SimFs::new(seed);
    let db = Db::open(DIR, sim_options(&sim)).unwrap();
    (sim, db)
}

pub(crate) fn reopen(sim: &SimFs, db: Db) -> Db {
    drop(db);
    Db::open(DIR, sim_options(sim)).unwrap()
}

/// Every key and value, forwards, as strings.
pub(crate) fn dump(
    iter: impl Iterator<Item = ferris_engine::Result<(ferris_engine::Bytes, ferris_engine::Bytes)>>,
) -> Vec<(String, String)> {
    iter.map(|kv| {
        let (k, v) = kv.unwrap();
        (
            String::from_utf8(k.to_vec()).unwrap(),
            String::from_utf8(v.to_vec()).unwrap(),
        )
    })
    .collect()
}

pub(crate) fn path(name: &str) -> std::path::PathBuf {
    Path::new(DIR).join(name)
}

/// What [`hooked`] runs for every `open`: it opens the file itself (`sim.open(path)`),
/// and may change the disk first or wrap the file it hands out.
type OpenHook = dyn Fn(&SimFs, &Path) -> io::Result<Box<dyn ReadableFile>> + Send + Sync;

/// A file system over `sim` whose every `open` goes through `hook`: to change the
/// database between two reads of it, as a writer beside a reader does, or to hand out a
/// file that reads differently from the disk. Every other call goes to `sim` as it is.
pub(crate) fn hooked(
    sim: &SimFs,
    hook: impl Fn(&SimFs, &Path) -> io::Result<Box<dyn ReadableFile>> + Send + Sync + 'static,
) -> Arc<dyn FileSystem> {
    Arc::new(Hooked {
        sim: sim.clone(),
        hook: Box::new(hook),
    })
}

struct Hooked {
    sim: SimFs,
    hook: Box<OpenHook>,
}

impl std::fmt::Debug for Hooked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooked").field("sim", &self.sim).finish()
    }
}

impl FileSystem for Hooked {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.sim.create(path)
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadableFile>> {
        (self.hook)(&self.sim, path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.sim.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.sim.remove(path)
    }
    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()> {
        self.sim.hard_link(original, link)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.sim.list(dir)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.sim.exists(path)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.sim.create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.sim.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        self.sim.lock(path)
    }
}
