//! `Db`: the facade users call.

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use ferris_core::{SeqNo, WriteBatch};
use ferris_fs::{FileLock, FileSystem};
use ferris_manifest::{LevelState, ManifestWriter};
use ferris_sstable::{BlockCache, ReadOptions};
use ferris_wal::Wal;

use crate::error::{Error, Result};
use crate::flush::FlushGate;
use crate::iter::{DbIter, prefix_successor};
use crate::options::Options;
use crate::version::SuperVersion;
use crate::write::{Job, WriteQueue};

/// An open database. See the [crate docs](crate) for how the pieces fit.
///
/// `Db` is `Send + Sync`: share it between threads (in an `Arc`, or by reference in scoped
/// threads) and call any method concurrently. Dropping it closes it.
#[derive(Debug)]
pub struct Db {
    inner: Arc<Inner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// State shared by the `Db` handle and its flush thread.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) dir: PathBuf,
    pub(crate) options: Options,
    pub(crate) read_options: ReadOptions,
    pub(crate) block_cache: Arc<BlockCache>,
    pub(crate) wal: Wal,
    /// The last sequence number whose write is fully in the memtable: what reads see.
    pub(crate) last_seq: AtomicU64,
    /// The strategy's estimate of compaction work pending, for flow control; updated with
    /// every new version.
    pub(crate) pending_compaction_bytes: AtomicU64,
    /// What reads pin. Replaced (under `core`) by freezes and flushes.
    current: RwLock<Arc<SuperVersion>>,
    pub(crate) core: Mutex<Core>,
    /// Signalled when a memtable is frozen, or on shutdown: work for the flush thread.
    pub(crate) flush_wanted: Condvar,
    /// Signalled when a flush finishes or fails: stalled writers and `flush()` wait on it.
    pub(crate) flushed: Condvar,
    /// Signalled when a flush or compaction changed the levels, or on shutdown: work for
    /// the compaction threads.
    pub(crate) compaction_wanted: Condvar,
    /// Signalled when a compaction finishes: writers stopped by flow control and manual
    /// compactions wait on it.
    pub(crate) compacted: Condvar,
    /// Signalled on shutdown, so the idle thread stops sleeping at once. Writes never
    /// signal it: it finds them by sampling `last_seq`.
    pub(crate) idle_wake: Condvar,
    pub(crate) strategy: Box<dyn ferris_compaction::Strategy>,
    pub(crate) write_queue: WriteQueue,
    /// Live snapshots: sequence number to count. Compaction keeps what they can see.
    pub(crate) snapshots: Mutex<BTreeMap<SeqNo, usize>>,
    pub(crate) counters: Counters,
    pub(crate) closed: AtomicBool,
    /// Marks a flush writing its table, for compactions to step aside from.
    pub(crate) flush_gate: FlushGate,
    /// Set whenever `Core::poisoned` is, so the write path can check it without the lock.
    pub(crate) poisoned: AtomicBool,
    lock: Mutex<Option<FileLock>>,
}

/// Mutable state behind `Inner::core`.
#[derive(Debug)]
pub(crate) struct Core {
    /// The manifest's state, in step with every edit written.
    pub(crate) state: LevelState,
    pub(crate) manifest: ManifestWriter,
    pub(crate) next_imm_id: u64,
    pub(crate) flushed_imm_id: u64,
    pub(crate) poisoned: Option<String>,
    pub(crate) shutting_down: bool,
    /// Tables that running compactions read.
    pub(crate) busy: std::collections::HashSet<u64>,
    /// A manual compaction asked for and not finished: its inclusive user-key range, or
    /// `None` inside for everything.
    pub(crate) manual: Option<Option<(Vec<u8>, Vec<u8>)>>,
    /// Manual compactions finished.
    pub(crate) manual_done: u64,
    /// The last sequence number at which the idle thread found the database quiet and
    /// flushed it. While `last_seq` still equals it, compaction threads show the strategy
    /// an idle view.
    pub(crate) idle_seq: Option<SeqNo>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) user_bytes: AtomicU64,
    pub(crate) table_bytes: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) stalls: AtomicU64,
    pub(crate) stall_micros: AtomicU64,
    pub(crate) compactions: AtomicU64,
    pub(crate) compaction_bytes_read: AtomicU64,
    pub(crate) slowdowns: AtomicU64,
    pub(crate) idle_flushes: AtomicU64,
    pub(crate) idle_compactions: AtomicU64,
}

/// What [`Db::stats`] reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// Per level, L0 first.
    pub levels: Vec<LevelStats>,
    /// Bytes the active memtable accounts for.
    pub memtable_bytes: u64,
    /// Frozen memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Bytes the frozen memtables account for.
    pub immutable_memtable_bytes: u64,
    /// The last sequence number written.
    pub last_sequence: SeqNo,
    /// Bytes of keys and values written by users since open.
    pub user_bytes_written: u64,
    /// Bytes written to WAL segments since open.
    pub wal_bytes_written: u64,
    /// Bytes of tables written by flushes and compactions since open.
    pub table_bytes_written: u64,
    /// `(wal_bytes_written + table_bytes_written) / user_bytes_written`, or 0 before any
    /// write.
    pub write_amplification: f64,
    /// Memtables flushed since open.
    pub flushes: u64,
    /// Merging compactions run since open.
    pub compactions: u64,
    /// Memtables flushed since open because no write had arrived for
    /// [`Options::idle_after`] (also counted in `flushes`).
    pub idle_flushes: u64,
    /// Compactions run since open because the database was idle (also counted in
    /// `compactions`): with leveled compaction, level 0 merged into level 1 below its
    /// trigger.
    pub idle_compactions: u64,
    /// The compaction strategy's estimate of the bytes compaction must still rewrite.
    pub pending_compaction_bytes: u64,
    /// Bytes of tables compactions read since open.
    pub compaction_bytes_read: u64,
    /// Writes delayed because level 0 reached its slowdown trigger.
    pub slowdowns: u64,
    /// Times writers stalled waiting for a flush, or for compaction to bring level 0
    /// under its stop trigger.
    pub stalls: u64,
    /// Total time writers spent stalled.
    pub stall_time: Duration,
    /// WAL fsyncs since open.
    pub wal_syncs: u64,
    /// Block cache hits and misses since open.
    pub block_cache: ferris_sstable::CacheStats,
}

/// One level in [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LevelStats {
    /// Table files.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

impl Inner {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        fs: Arc<dyn FileSystem>,
        dir: PathBuf,
        options: Options,
        block_cache: Arc<BlockCache>,
        wal: Wal,
        last_seq: SeqNo,
        sv: SuperVersion,
        core: Core,
        lock: FileLock,
    ) -> Inner {
        let strategy = options.compaction_strategy.build();
        let flush_gate = FlushGate::new(options.flush_priority.resolve(options.compaction_threads));
        let view = ferris_compaction::View::new(sv.version.metas());
        let pending = strategy.pending_compaction_bytes(&view, &options.compaction);
        Inner {
            strategy,
            fs,
            dir,
            read_options: ReadOptions::with_cache(block_cache.clone()),
            block_cache,
            options,
            wal,
            last_seq: AtomicU64::new(last_seq),
            pending_compaction_bytes: AtomicU64::new(pending),
            current: RwLock::new(Arc::new(sv)),
            core: Mutex::new(core),
            flush_wanted: Condvar::new(),
            flushed: Condvar::new(),
            compaction_wanted: Condvar::new(),
            compacted: Condvar::new(),
            idle_wake: Condvar::new(),
            write_queue: WriteQueue::default(),
            snapshots: Mutex::new(BTreeMap::new()),
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            flush_gate,
            poisoned: AtomicBool::new(false),
            lock: Mutex::new(Some(lock)),
        }
    }

    pub(crate) fn lock_core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn super_version(&self) -> Arc<SuperVersion> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the super version. Callers hold `core`, so replacements never race.
    pub(crate) fn install(&self, sv: SuperVersion) {
        let view = ferris_compaction::View::new(sv.version.metas());
        let pending = self
            .strategy
            .pending_compaction_bytes(&view, &self.options.compaction);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(sv);
        self.pending_compaction_bytes
            .store(pending, Ordering::Release);
    }

    /// Refuses writes from now on, and wakes everyone waiting so they see it.
    pub(crate) fn poison(&self, reason: &str) {
        let mut core = self.lock_core();
        core.poisoned.get_or_insert_with(|| reason.to_string());
        self.poisoned.store(true, Ordering::Release);
        drop(core);
        // Everyone waiting in `wait_until` must see it, whichever signal they wait on.
        self.flushed.notify_all();
        self.compacted.notify_all();
        self.flush_wanted.notify_all();
        self.compaction_wanted.notify_all();
    }

    /// Waits on `signal` until `done` holds, failing if the database is poisoned or shut
    /// down first.
    pub(crate) fn wait_until(&self, signal: &Condvar, done: impl Fn(&Core) -> bool) -> Result<()> {
        let mut core = self.lock_core();
        loop {
            if let Some(reason) = &core.poisoned {
                return Err(Error::Poisoned {
                    reason: reason.clone(),
                });
            }
            if done(&core) {
                return Ok(());
            }
            if core.shutting_down {
                return Err(Error::Closed);
            }
            core = signal.wait(core).unwrap_or_else(PoisonError::into_inner);
        }
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if !self.poisoned.load(Ordering::Acquire) {
            return Ok(());
        }
        match &self.lock_core().poisoned {
            Some(reason) => Err(Error::Poisoned {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn get_at(&self, key: &[u8], snapshot: SeqNo) -> Result<Option<Bytes>> {
        self.check_open()?;
        self.super_version().get(key, snapshot)
    }

    fn iter_at(&self, snapshot: SeqNo, lo: Bound<Bytes>, hi: Bound<Bytes>) -> Result<DbIter> {
        self.check_open()?;
        Ok(DbIter::new(self.super_version(), snapshot, lo, hi))
    }
}

fn owned_bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(bounds: &R) -> (Bound<Bytes>, Bound<Bytes>) {
    let own = |b: Bound<&K>| b.map(|k| Bytes::copy_from_slice(k.as_ref()));
    (own(bounds.start_bound()), own(bounds.end_bound()))
}

fn prefix_bounds(prefix: &[u8]) -> (Bound<Bytes>, Bound<Bytes>) {
    let hi = match prefix_successor(prefix) {
        Some(end) => Bound::Excluded(Bytes::from(end)),
        None => Bound::Unbounded,
    };
    (Bound::Included(Bytes::copy_from_slice(prefix)), hi)
}

impl Db {
    /// Opens the database in `path`, creating it (and the directory) if there is none and
    /// [`Options::create_if_missing`] is set.
    ///
    /// Opening replays the manifest (which tables are live), then the WAL segments newer
    /// than the last flush into a memtable, starts a fresh manifest and WAL segment, and
    /// removes files a crash left behind.
    ///
    /// # Errors
    ///
    /// - [`Error::Locked`] if another `Db` has it open;
    /// - [`Error::ReadOnly`] if the directory cannot be written (a read-only mount, or no
    ///   write permission): opening always writes;
    /// - [`Error::NotADatabase`] if the directory holds something else, or does not exist
    ///   and `create_if_missing` is off;
    /// - [`Error::is_corruption`] errors (in [`Error::Manifest`], [`Error::Wal`],
    ///   [`Error::Table`] or [`Error::Corruption`]) naming the damaged file and offset;
    /// - an `UnsupportedVersion` inside those for files from a newer format;
    /// - [`Error::Io`] and the I/O variants inside the others when the disk fails.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let inner = Arc::new(crate::recovery::open(path.as_ref(), options)?);
        let db = Db {
            inner: Arc::clone(&inner),
            threads: Mutex::new(Vec::new()),
        };
        let spawn = |name: String, work: fn(&Arc<Inner>)| {
            let worker = Arc::clone(&inner);
            std::thread::Builder::new()
                .name(name)
                .spawn(move || work(&worker))
                .map_err(|e| Error::io(path.as_ref(), e))
        };
        let mut threads = vec![spawn("ferris-flush".into(), Inner::flush_loop)?];
        for i in 0..inner.options.compaction_threads.max(1) {
            threads.push(spawn(
                format!("ferris-compact-{i}"),
                Inner::compaction_loop,
            )?);
        }
        if inner.options.idle_after.is_some() {
            threads.push(spawn("ferris-idle".into(), Inner::idle_loop)?);
        }
        *db.threads.lock().unwrap_or_else(PoisonError::into_inner) = threads;
        Ok(db)
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// As [`Db::write`].
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut batch = WriteBatch::with_capacity(key.len() + value.len() + 11);
        batch.put(key, value);
        self.write(batch)
    }

    /// Deletes `key` (deleting a key that is not there is not an error).
    ///
    /// # Errors
    ///
    /// As [`Db::write`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete(key);
        self.write(batch)
    }

    /// Applies every put and delete in `batch` atomically: after a crash, all of them or
    /// none are there, and no reader ever sees some without the others. With
    /// [`Options::sync_writes`] (the default) the batch is durable when this returns.
    ///
    /// # Errors
    ///
    /// - [`Error::Limit`] for an empty key, or a key or value over the limits;
    /// - [`Error::Wal`] if the WAL write or fsync failed (the write is then not
    ///   acknowledged, and the database is poisoned);
    /// - [`Error::Poisoned`] after an earlier failure, or if this write was grouped with
    ///   one that failed;
    /// - [`Error::Closed`] after [`Db::close`].
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.inner.check_writable()?;
        batch.check_limits()?;
        if batch.is_empty() {
            return Ok(());
        }
        let sync = self.inner.options.sync_writes;
        self.inner.submit(Job::Write { batch, sync }).map(drop)
    }

    /// The value of `key`, or `None` if it is not set.
    ///
    /// # Errors
    ///
    /// [`Error::Table`] if a table read fails or finds damage; [`Error::Closed`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let snapshot = self.inner.last_seq.load(Ordering::Acquire);
        self.inner.get_at(key.as_ref(), snapshot)
    }

    /// The entries whose keys lie in `bounds`, in key order; `.rev()` walks backwards.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = ferris_engine::Db::open(dir.path(), Default::default())?;
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// db.put("c", "3")?;
    /// let keys: Vec<_> = db.range("a".."c")?.rev().map(|kv| kv.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, ["b", "a"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Closed`]; read errors are yielded by the iterator.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, bounds: R) -> Result<DbIter> {
        let snapshot = self.inner.last_seq.load(Ordering::Acquire);
        let (lo, hi) = owned_bounds(&bounds);
        self.inner.iter_at(snapshot, lo, hi)
    }

    /// The entries whose keys start with `prefix`, in key order.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<DbIter> {
        let snapshot = self.inner.last_seq.load(Ordering::Acquire);
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        self.inner.iter_at(snapshot, lo, hi)
    }

    /// Every entry, in key order.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn iter(&self) -> Result<DbIter> {
        self.range::<&[u8], _>(..)
    }

    /// A consistent, read-only view of the database as of now. Writes, flushes and
    /// compactions that follow do not change what it sees.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`].
    pub fn snapshot(&self) -> Result<Snapshot<'_>> {
        self.inner.check_open()?;
        let mut snapshots = self
            .inner
            .snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Read under the registry lock, so a compaction that reads the registry sees this
        // snapshot before it could drop anything the snapshot needs.
        let seq = self.inner.last_seq.load(Ordering::Acquire);
        *snapshots.entry(seq).or_default() += 1;
        Ok(Snapshot { db: self, seq })
    }

    /// Freezes the memtable, writes it to a level-0 table and waits until that table is in
    /// the manifest. Afterwards every write made before the call is in a table, and the WAL
    /// segments that held them are deleted.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] if this or an earlier flush failed (the database then refuses
    /// writes until reopened); the errors of [`Db::write`].
    pub fn flush(&self) -> Result<()> {
        self.inner.check_writable()?;
        let target = self.inner.submit(Job::Freeze)?;
        self.inner
            .wait_until(&self.inner.flushed, |core| core.flushed_imm_id >= target)
    }

    /// Runs a full manual compaction and waits: flushes the memtable, then merges every
    /// level down into the deepest one, dropping every version no snapshot can see and
    /// every tombstone that hides nothing. Afterwards the data sits in one level.
    ///
    /// # Errors
    ///
    /// As [`Db::flush`]; [`Error::Poisoned`] if a compaction failed.
    pub fn compact(&self) -> Result<()> {
        self.compact_inclusive(None)
    }

    /// Like [`Db::compact`], but only for the tables holding keys in `bounds`: those are
    /// merged down into the deepest level. Tables outside the range are left alone (a
    /// table that straddles a bound is compacted whole).
    ///
    /// # Errors
    ///
    /// As [`Db::compact`].
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, bounds: R) -> Result<()> {
        // Tables are chosen by inclusive user-key ranges; treating an excluded bound as
        // included only ever compacts a little more.
        let lo = match bounds.start_bound() {
            Bound::Included(k) | Bound::Excluded(k) => k.as_ref().to_vec(),
            Bound::Unbounded => Vec::new(),
        };
        let hi = match bounds.end_bound() {
            Bound::Included(k) | Bound::Excluded(k) => k.as_ref().to_vec(),
            // No key exceeds MAX_KEY_LEN bytes of 0xff.
            Bound::Unbounded => vec![0xff; crate::MAX_KEY_LEN + 1],
        };
        if lo > hi {
            return Ok(());
        }
        self.compact_inclusive(Some((lo, hi)))
    }

    fn compact_inclusive(&self, range: Option<(Vec<u8>, Vec<u8>)>) -> Result<()> {
        self.flush()?;
        let mut core = self.inner.lock_core();
        // A manual compaction already queued is widened to cover both requests.
        core.manual = Some(match (core.manual.take(), range) {
            (None, range) => range,
            (Some(None), _) | (Some(_), None) => None,
            (Some(Some((a, b))), Some((c, d))) => Some((a.min(c), b.max(d))),
        });
        let target = core.manual_done + 1;
        drop(core);
        self.inner.compaction_wanted.notify_all();
        self.inner
            .wait_until(&self.inner.compacted, |core| core.manual_done >= target)
    }

    /// Makes every write acknowledged so far durable. Only needed with
    /// [`Options::sync_writes`] off.
    ///
    /// # Errors
    ///
    /// [`Error::Wal`] if the fsync fails (the database is then poisoned); [`Error::Closed`].
    pub fn sync_wal(&self) -> Result<()> {
        self.inner.check_writable()?;
        self.inner.wal.sync().map_err(|e| {
            self.inner.poison(&format!("a WAL sync failed: {e}"));
            Error::Wal(e)
        })
    }

    /// Counters and sizes; see [`Stats`].
    pub fn stats(&self) -> Stats {
        let sv = self.inner.super_version();
        let levels = sv
            .version
            .levels
            .iter()
            .map(|files| LevelStats {
                files: files.len(),
                bytes: files.iter().map(|f| f.meta.size).sum(),
            })
            .collect();
        let c = &self.inner.counters;
        let wal = self.inner.wal.stats();
        let user = c.user_bytes.load(Ordering::Relaxed);
        let table = c.table_bytes.load(Ordering::Relaxed);
        Stats {
            levels,
            memtable_bytes: sv.mem.approximate_size() as u64,
            immutable_memtables: sv.imms.len(),
            immutable_memtable_bytes: sv
                .imms
                .iter()
                .map(|i| i.mem.approximate_size() as u64)
                .sum(),
            last_sequence: self.inner.last_seq.load(Ordering::Acquire),
            user_bytes_written: user,
            wal_bytes_written: wal.file_bytes,
            table_bytes_written: table,
            write_amplification: if user == 0 {
                0.0
            } else {
                (wal.file_bytes + table) as f64 / user as f64
            },
            flushes: c.flushes.load(Ordering::Relaxed),
            compactions: c.compactions.load(Ordering::Relaxed),
            idle_flushes: c.idle_flushes.load(Ordering::Relaxed),
            idle_compactions: c.idle_compactions.load(Ordering::Relaxed),
            pending_compaction_bytes: self.inner.pending_compaction_bytes.load(Ordering::Relaxed),
            compaction_bytes_read: c.compaction_bytes_read.load(Ordering::Relaxed),
            slowdowns: c.slowdowns.load(Ordering::Relaxed),
            stalls: c.stalls.load(Ordering::Relaxed),
            stall_time: Duration::from_micros(c.stall_micros.load(Ordering::Relaxed)),
            wal_syncs: wal.syncs,
            block_cache: self.inner.block_cache.stats(),
        }
    }

    /// The database's directory.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// Reads every live file back from the disk and checks every checksum in it: CURRENT,
    /// the manifest, every table of the current version (every block, bypassing the block
    /// cache) and every WAL segment not yet flushed. Reads, writes, flushes and compactions
    /// go on meanwhile; the files checked are those live when the call began.
    ///
    /// Damage does not stop the check: the report lists every problem found, with its file
    /// and offset. See [`VerifyReport`](crate::VerifyReport).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`]; [`Error::Io`] (or an I/O variant inside the component errors)
    /// when the disk fails. Damage is never an error here: it is in
    /// [`VerifyReport::problems`](crate::VerifyReport::problems).
    pub fn verify(&self) -> Result<crate::VerifyReport> {
        crate::verify::verify(&self.inner)
    }

    /// Shuts down cleanly: waits for writes in flight, stops the flush thread, seals and
    /// syncs the WAL and releases the lock. Frozen memtables not yet flushed stay in the
    /// WAL and are replayed by the next open. Every later call fails with
    /// [`Error::Closed`]; closing twice is not an error. Dropping a `Db` closes it too.
    ///
    /// # Errors
    ///
    /// [`Error::Wal`] if sealing the WAL fails. The database is closed all the same, and
    /// the next open recovers whatever reached the disk.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.write_queue.wait_idle();
        self.inner.lock_core().shutting_down = true;
        self.inner.flush_wanted.notify_all();
        self.inner.flushed.notify_all();
        self.inner.compaction_wanted.notify_all();
        self.inner.compacted.notify_all();
        self.inner.idle_wake.notify_all();
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for handle in threads {
            if handle.join().is_err() {
                tracing::error!("a background thread panicked");
            }
        }
        let result = self.inner.wal.close().map_err(Error::from);
        self.inner
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        tracing::info!(dir = %self.inner.dir.display(), "closed");
        result
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(error = %e, "closing on drop failed; the next open recovers");
        }
    }
}

/// A consistent read-only view of a database at one moment. See [`Db::snapshot`].
///
/// While it lives, compaction keeps every version it can see.
#[derive(Debug)]
pub struct Snapshot<'db> {
    db: &'db Db,
    seq: SeqNo,
}

impl Snapshot<'_> {
    /// The value `key` had when the snapshot was taken.
    ///
    /// # Errors
    ///
    /// As [`Db::get`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.db.inner.get_at(key.as_ref(), self.seq)
    }

    /// The entries in `bounds` as they were when the snapshot was taken.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, bounds: R) -> Result<DbIter> {
        let (lo, hi) = owned_bounds(&bounds);
        self.db.inner.iter_at(self.seq, lo, hi)
    }

    /// The entries starting with `prefix` as they were when the snapshot was taken.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<DbIter> {
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        self.db.inner.iter_at(self.seq, lo, hi)
    }

    /// Every entry as of the snapshot.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn iter(&self) -> Result<DbIter> {
        self.range::<&[u8], _>(..)
    }

    /// The sequence number the snapshot reads at.
    pub fn sequence(&self) -> SeqNo {
        self.seq
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        let mut snapshots = self
            .db
            .inner
            .snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = snapshots.get_mut(&self.seq) {
            *count -= 1;
            if *count == 0 {
                snapshots.remove(&self.seq);
            }
        }
    }
}
