//! Integration tests of ferris-wal: one binary, one module per concern. Shared helpers live
//! here.

mod concurrency;
mod damage;
mod golden;
mod power_cut;
mod replay;
mod round_trip;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferris_fs::{FileLock, FileSystem, ReadableFile, SimFs, WritableFile};
use ferris_wal::{
    Error, RecoveryEvent, RecoveryMode, RecoveryOptions, SyncMode, Wal, WalOptions, WalRecovery,
};

pub(crate) const DIR: &str = "/db/wal";

/// A simulated file system with the WAL directory created, and the same file system as a
/// trait object for the WAL.
pub(crate) fn sim(seed: u64) -> (SimFs, Arc<dyn FileSystem>) {
    let sim = SimFs::new(seed);
    let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
    fs.create_dir_all(Path::new(DIR)).unwrap();
    (sim, fs)
}

pub(crate) fn options(sync_mode: SyncMode, segment_size: u64) -> WalOptions {
    let mut options = WalOptions::default();
    options.sync_mode = sync_mode;
    options.segment_size = segment_size;
    options
}

/// `n` records of varied sizes, some crossing block boundaries; record `i` is tagged with `i`.
pub(crate) fn records(n: usize, seed: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let len = match (i as u64 * 7 + seed) % 5 {
                0 => 0,
                1 => 10,
                2 => 300,
                3 => 5_000,
                _ => 40_000,
            };
            let mut r = (i as u32).to_le_bytes().to_vec();
            r.extend((0..len).map(|j| (j as u64 ^ seed ^ i as u64) as u8));
            r
        })
        .collect()
}

/// What a recovery returned: the records and the events.
pub(crate) struct Recovered {
    pub records: Vec<Vec<u8>>,
    pub events: Vec<RecoveryEvent>,
}

pub(crate) fn recover(fs: &Arc<dyn FileSystem>, mode: RecoveryMode) -> Result<Recovered, Error> {
    let mut options = RecoveryOptions::default();
    options.mode = mode;
    let mut recovery = WalRecovery::open(fs.clone(), Path::new(DIR), options)?;
    let mut records = Vec::new();
    while let Some(r) = recovery.next_record()? {
        records.push(r.data);
    }
    Ok(Recovered {
        records,
        events: recovery.finish().events,
    })
}

/// Writes `records` to segment 1 of a fresh simulated WAL and returns the bytes the
/// writer appended: for a sealed segment, the whole file; for an unsealed one, the file
/// without the zeros of its reserved length (as a crash that lost the length leaves it).
pub(crate) fn segment_bytes(records: &[Vec<u8>], seal: bool) -> Vec<u8> {
    let (mut bytes, appended) = written_segment(records, seal);
    bytes.truncate(appended);
    bytes
}

/// Writes `records` to segment 1 of a fresh simulated WAL, left unsealed, and returns the
/// whole file, ending in the zeros of its reserved length, and how much of it the writer
/// appended.
pub(crate) fn reserved_segment_bytes(records: &[Vec<u8>]) -> (Vec<u8>, usize) {
    written_segment(records, false)
}

fn written_segment(records: &[Vec<u8>], seal: bool) -> (Vec<u8>, usize) {
    let (_, fs) = sim(0);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        1,
        options(SyncMode::Manual, u64::MAX),
    )
    .unwrap();
    for r in records {
        wal.append(r).unwrap();
    }
    let (_, mut appended) = wal.active_segment_len().unwrap();
    if seal {
        wal.close().unwrap();
    } else {
        wal.sync().unwrap();
    }
    let file = fs.open(&Path::new(DIR).join("000001.wal")).unwrap();
    if seal {
        appended = file.len();
    }
    (file.read_vec(0, file.len()).unwrap(), appended as usize)
}

/// A fresh simulated WAL directory holding exactly `bytes` as segment 1.
pub(crate) fn fs_with_segment(bytes: &[u8]) -> Arc<dyn FileSystem> {
    let (_, fs) = sim(0);
    let mut file = fs.create(&Path::new(DIR).join("000001.wal")).unwrap();
    file.append(bytes).unwrap();
    file.sync().unwrap();
    fs
}

/// Asserts that `got` is a prefix of `want`.
#[track_caller]
pub(crate) fn assert_prefix(got: &[Vec<u8>], want: &[Vec<u8>]) {
    assert!(
        got.len() <= want.len(),
        "recovered {} records, only {} were written",
        got.len(),
        want.len()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "record {i} differs: recovered {} bytes, wrote {} bytes",
            g.len(),
            w.len()
        );
    }
}

/// A file system wrapper for tests: fsyncs can be made to take a millisecond, like a real
/// disk's (so writers arriving during one have something to group behind), a hook can run
/// inside the next `list`, to force an interleaving, and another before every `open`, to
/// change a file between two reads of it.
pub(crate) struct HookFs {
    inner: Arc<dyn FileSystem>,
    slow_sync: bool,
    pub(crate) on_list: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    on_open: Mutex<Option<OpenHook>>,
}

/// What [`HookFs`] runs before every `open`, with the path being opened.
type OpenHook = Box<dyn FnMut(&Path) + Send>;

impl HookFs {
    pub(crate) fn slow_sync(inner: Arc<dyn FileSystem>) -> HookFs {
        HookFs {
            slow_sync: true,
            ..HookFs::with_list_hook(inner)
        }
    }

    pub(crate) fn with_list_hook(inner: Arc<dyn FileSystem>) -> HookFs {
        HookFs {
            inner,
            slow_sync: false,
            on_list: Mutex::new(None),
            on_open: Mutex::new(None),
        }
    }

    pub(crate) fn with_open_hook(
        inner: Arc<dyn FileSystem>,
        hook: impl FnMut(&Path) + Send + 'static,
    ) -> HookFs {
        HookFs {
            on_open: Mutex::new(Some(Box::new(hook))),
            ..HookFs::with_list_hook(inner)
        }
    }
}

impl std::fmt::Debug for HookFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookFs")
            .field("slow_sync", &self.slow_sync)
            .finish()
    }
}

#[derive(Debug)]
struct SlowFile(Box<dyn WritableFile>);

impl WritableFile for SlowFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.append(data)
    }
    fn sync(&mut self) -> io::Result<()> {
        std::thread::sleep(Duration::from_millis(1));
        self.0.sync()
    }
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn reserve(&mut self, len: u64) -> io::Result<()> {
        self.0.reserve(len)
    }
}

impl FileSystem for HookFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = self.inner.create(path)?;
        Ok(if self.slow_sync {
            Box::new(SlowFile(file))
        } else {
            file
        })
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadableFile>> {
        if let Some(hook) = self.on_open.lock().unwrap().as_mut() {
            hook(path);
        }
        self.inner.open(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }
    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()> {
        self.inner.hard_link(original, link)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let hook = self.on_list.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        self.inner.list(dir)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        self.inner.lock(path)
    }
}
