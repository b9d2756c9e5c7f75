//! `Db`: the facade users call, and the parts it wires together.

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use ferris_core::expiry::{self, Ttl};
use ferris_core::{DEFAULT_KEYSPACE, SeqNo, WriteBatch};
use ferris_fs::FileLock;
use ferris_wal::Wal;

use crate::error::{Error, Result};
use ferris_core::iter::{owned_bounds, prefix_bounds};

use crate::iter::DbIter;
use crate::keyspace::{Keyspace, KeyspaceStats};
use crate::options::Options;
use crate::versions::{Env, KeyspaceCore, SuperVersion, VersionSet};
use crate::work::Work;
use crate::write::{Job, Writes};

/// An open database. See the [crate docs](crate) for how the pieces fit.
///
/// `Db` is a cheap handle: clone it (an `Arc` inside) and hand the clones to threads; any
/// method may be called from any of them at once. The database closes when
/// [`Db::close`] is called on any clone, or when the last handle to it is dropped: the
/// last `Db` clone, [`Keyspace`] or [`Snapshot`], each of which keeps it open.
///
/// The database's own reading and writing methods work on its **default keyspace**;
/// [`Db::keyspace`] opens others. [`Db::flush`], [`Db::compact`], [`Db::sync_wal`],
/// [`Db::stats`] and [`Db::verify`] cover the whole database.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) shared: Arc<Shared>,
    handle: Arc<Handle>,
}

/// What the handles share and the background threads do not: the threads themselves. The
/// last handle dropped closes the database.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// How a write is made; the default follows [`Options::sync_writes`].
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let db = ferris_engine::Db::open(dir.path(), Default::default())?;
/// use ferris_engine::WriteOptions;
/// // A write that may be lost to a power cut (but not to a crash of the process) until the
/// // next durable write or `sync_wal`; it still shares the WAL with durable writes.
/// db.put_opt("cache:page-1", "...", WriteOptions::new().sync(false))?;
/// db.put_opt("balance", "100", WriteOptions::new().sync(true))?; // fsync'd on return
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Whether the write is fsync'd to the WAL before the call returns; `None` (the default)
    /// follows [`Options::sync_writes`]. A durable write shares its fsync with every other
    /// writer in its group.
    pub sync: Option<bool>,
}

impl WriteOptions {
    /// Options that follow the database's defaults.
    pub fn new() -> WriteOptions {
        WriteOptions::default()
    }

    /// Sets whether the write is durable when the call returns.
    pub fn sync(mut self, sync: bool) -> WriteOptions {
        self.sync = Some(sync);
        self
    }
}

/// The parts of an open database, each with one job, shared by the `Db` handle and its
/// background threads.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The file system, directory, options and block cache: read by all, changed by none.
    pub(crate) env: Env,
    /// The live tables, the manifest, and the super version reads pin.
    pub(crate) versions: VersionSet,
    /// The write queue, the WAL and the published sequence number.
    pub(crate) writes: Writes,
    /// Background work's state, the one place threads wait, and the poison.
    pub(crate) work: Work,
    /// Live snapshots: sequence number to count. Compaction keeps what they can see.
    pub(crate) snapshots: Mutex<BTreeMap<SeqNo, usize>>,
    pub(crate) stats: Counters,
    pub(crate) closed: AtomicBool,
    pub(crate) lock: Mutex<Option<FileLock>>,
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
    /// Write groups delayed because the compaction strategy asked writes to slow down.
    pub slowdowns: u64,
    /// Times writers stalled waiting for a flush, or for compaction when the strategy
    /// asked writes to stop.
    pub stalls: u64,
    /// Total time writers spent stalled.
    pub stall_time: Duration,
    /// WAL fsyncs since open.
    pub wal_syncs: u64,
    /// Block cache hits and misses since open.
    pub block_cache: ferris_table::CacheStats,
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

impl Shared {
    pub(crate) fn check_open(&self) -> Result<()> {
        // Not `ok_or`, which makes the error (and drops it) on every call: see `Writes::wal`.
        match self.closed.load(Ordering::Acquire) {
            false => Ok(()),
            true => Err(Error::Closed),
        }
    }

    /// Checks that a write may go ahead: the database is open, was not opened read-only,
    /// and is not poisoned.
    pub(crate) fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        self.writes.wal()?;
        self.work.check()
    }

    /// What a read of `keyspace` pins, and the sequence number it reads at: `snapshot`'s,
    /// or (for `None`) the last one published.
    ///
    /// The super version is pinned *before* the sequence number is read, as RocksDB does:
    /// read the other way round, a flush and a compaction between the two could replace
    /// the tables holding the versions visible at that sequence number (no snapshot
    /// protects them) with ones holding only newer versions, and the read would see
    /// neither. Pinned first, a read may miss a write that lands in a memtable frozen in
    /// between, which is a write concurrent with the read.
    pub(crate) fn pin(
        &self,
        keyspace: &KeyspaceCore,
        snapshot: Option<SeqNo>,
    ) -> Result<(Arc<SuperVersion>, SeqNo)> {
        self.check_open()?;
        keyspace.check()?;
        let sv = keyspace.current();
        Ok((sv, snapshot.unwrap_or_else(|| self.writes.visible())))
    }

    pub(crate) fn get_at(
        &self,
        keyspace: &KeyspaceCore,
        key: &[u8],
        at: ReadPoint,
    ) -> Result<Option<Bytes>> {
        let (sv, seq) = self.pin(keyspace, at.map(|a| a.0))?;
        let now = self.expiry_now(keyspace, at);
        Ok(expiry::read_found(&self.env.dir, sv.get(key, seq)?, now)?)
    }

    /// The time a read of `keyspace` at `at` judges expiry by (the snapshot's, or now),
    /// or `None` if the keyspace's values do not expire.
    pub(crate) fn expiry_now(&self, keyspace: &KeyspaceCore, at: ReadPoint) -> Option<u64> {
        let now = || at.map_or_else(|| self.env.options.clock.now(), |a| a.1);
        keyspace.options.ttl.is_on().then(now)
    }

    /// A scan of `keyspace` at `at` between user-key bounds (from `owned_bounds` or
    /// `prefix_bounds`).
    pub(crate) fn iter_at(
        &self,
        keyspace: &KeyspaceCore,
        at: ReadPoint,
        (lo, hi): (Bound<Bytes>, Bound<Bytes>),
    ) -> Result<DbIter> {
        let (sv, seq) = self.pin(keyspace, at.map(|a| a.0))?;
        let now = self.expiry_now(keyspace, at);
        Ok(DbIter::new(sv, seq, lo, hi, (now, &self.env.dir)))
    }

    /// Checks and queues `batch`; see [`Db::write_opt`]. A transaction's commit (`txn`) is
    /// written only if the resolver lets it.
    pub(crate) fn write(
        &self,
        mut batch: WriteBatch,
        options: WriteOptions,
        txn: Option<Box<ferris_txn::Check>>,
    ) -> Result<SeqNo> {
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(batch.check_limits().map(|()| 0)?);
        }
        let single = batch.single_keyspace();
        let default = single == Some(DEFAULT_KEYSPACE);
        let mut expiring = batch.has_ttl() || default && self.versions.default.options.ttl.is_on();
        if !default {
            for id in single.map_or_else(|| batch.keyspaces(), |id| vec![id]) {
                let keyspace = self.versions.keyspace(id);
                let keyspace = keyspace.ok_or(Error::NoSuchKeyspace { id })?;
                keyspace.check()?;
                expiring |= keyspace.options.ttl.is_on();
            }
        }
        if expiring {
            let ttl_of = |id| (self.versions.keyspace(id)).map_or(Ttl::Off, |k| k.options.ttl);
            batch.resolve_expiry(self.env.options.clock.now(), ttl_of)?;
        }
        batch.check_limits()?;
        let sync = options.sync.unwrap_or(self.env.options.sync_writes);
        self.submit(Job::Write { batch, sync, txn })
    }

    /// One put (or, with no value, one delete) in `keyspace`, living `ttl` if given: the
    /// one-entry batch behind `put` and `delete` of `Db` and `Keyspace` alike.
    pub(crate) fn put(
        &self,
        keyspace: &KeyspaceCore,
        key: &[u8],
        value: Option<&[u8]>,
        ttl: Option<Duration>,
        options: WriteOptions,
    ) -> Result<()> {
        keyspace.check()?;
        // With the trailer in place: no second encoding (`write` refuses a time to live
        // outside an expiring keyspace).
        let id = keyspace.id;
        let batch = match (value, keyspace.options.ttl) {
            (Some(v), Ttl::On { default }) => WriteBatch::one_expiring(id, key, v, ttl.or(default)),
            (Some(v), Ttl::Off) if ttl.is_some() => WriteBatch::one_expiring(id, key, v, ttl),
            _ => WriteBatch::one(id, key, value),
        };
        self.write(batch, options, None).map(drop)
    }

    /// Freezes the memtables of `keyspace` (or of every keyspace) and waits until they
    /// are in tables.
    pub(crate) fn flush_and_wait(&self, keyspace: Option<&Arc<KeyspaceCore>>) -> Result<()> {
        self.check_writable()?;
        let target = self.submit(Job::Freeze(keyspace.cloned()))?;
        self.work.wait_for(|s| (s.flushed >= target).then_some(()))
    }

    /// Flushes, then runs a manual compaction of `keyspace` (or every keyspace) over the
    /// inclusive user-key `range` (or everything) and waits for it.
    pub(crate) fn compact(
        &self,
        keyspace: Option<&Arc<KeyspaceCore>>,
        range: Option<(Vec<u8>, Vec<u8>)>,
    ) -> Result<()> {
        self.flush_and_wait(keyspace)?;
        let ids = match keyspace {
            Some(k) => vec![k.id],
            None => self.versions.keyspaces().iter().map(|k| k.id).collect(),
        };
        let mark = self.versions.with_state(|_, state| state.next_file_number);
        let target = self.work.update(|s| {
            s.manual_mark = mark;
            for id in ids {
                // A manual compaction already queued is widened to cover both requests.
                let widened = match (s.manual.remove(&id), range.clone()) {
                    (None, range) => range,
                    (Some(None), _) | (Some(_), None) => None,
                    (Some(Some((a, b))), Some((c, d))) => Some((a.min(c), b.max(d))),
                };
                s.manual.insert(id, widened);
            }
            s.manual_wanted += 1;
            s.manual_wanted
        });
        self.work
            .wait_for(|s| (s.manual_done >= target).then_some(()))
    }

    /// The sequence numbers live snapshots read at, oldest first.
    pub(crate) fn snapshot_seqs(&self) -> Vec<SeqNo> {
        self.snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }
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
    /// - [`Error::Corruption`] naming the damaged file and offset;
    /// - [`Error::UnsupportedVersion`] for files from a newer format;
    /// - [`Error::Io`] when the disk fails.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let shared = Arc::new(crate::recovery::open(path.as_ref(), options, true)?);
        let db = Db::over(&shared);
        let spawn = |name: String, work: fn(&Arc<Shared>)| {
            let worker = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(name)
                .spawn(move || work(&worker))
                .map_err(|e| Error::io(path.as_ref(), e))
        };
        let mut threads = vec![spawn("ferris-flush".into(), Shared::flush_loop)?];
        for i in 0..shared.env.options.compaction_threads.max(1) {
            threads.push(spawn(
                format!("ferris-compact-{i}"),
                Shared::compaction_loop,
            )?);
        }
        if shared.env.options.idle_after.is_some() {
            threads.push(spawn("ferris-idle".into(), Shared::idle_loop)?);
        }
        *db.handle
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = threads;
        Ok(db)
    }

    /// Opens the database in `path` for reading only, as it is at this moment: writes
    /// nothing at all (no lock, manifest, WAL segment or cleanup) and replays the WAL into
    /// memory, so it works on a read-only mount and beside a process that has the
    /// database open for writing. Reads, snapshots, [`Db::multi_get`], existing
    /// keyspaces, [`Db::stats`] and [`Db::verify`] work as usual; what that writer does
    /// later is not seen (open again to see it). Every write fails with
    /// [`Error::OpenedReadOnly`]. No background threads run.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use ferris_engine::{Db, Error};
    ///
    /// let writer = Db::open(dir.path(), Default::default())?;
    /// writer.put("k", "v1")?;
    /// let reader = Db::open_read_only(dir.path(), Default::default())?;
    /// writer.put("k", "v2")?;
    /// assert_eq!(reader.get("k")?.as_deref(), Some(&b"v1"[..])); // as of its open
    /// assert!(matches!(reader.put("k", "v3"), Err(Error::OpenedReadOnly)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::NotADatabase`] if the directory does not exist (whatever
    ///   [`Options::create_if_missing`] says), has no CURRENT file, or holds something else;
    /// - [`Error::ConcurrentChange`] if a writer changed the database under every attempt
    ///   to read it (the files read did not fit together each time);
    /// - [`Error::Corruption`], [`Error::UnsupportedVersion`], [`Error::Io`] as
    ///   [`Db::open`].
    pub fn open_read_only(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let shared = crate::recovery::open(path.as_ref(), options, false)?;
        Ok(Db::over(&Arc::new(shared)))
    }

    /// A handle on `shared`, with no background threads yet.
    fn over(shared: &Arc<Shared>) -> Db {
        Db {
            shared: Arc::clone(shared),
            handle: Arc::new(Handle {
                shared: Arc::clone(shared),
                threads: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// As [`Db::write`].
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.put_opt(key, value, WriteOptions::default())
    }

    /// Sets `key` to `value`, made as `options` say.
    ///
    /// # Errors
    ///
    /// As [`Db::write`].
    pub fn put_opt(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: WriteOptions,
    ) -> Result<()> {
        let default = &self.shared.versions.default;
        (self.shared).put(default, key.as_ref(), Some(value.as_ref()), None, options)
    }

    /// Sets `key` to `value` for `ttl`: from then on it reads as deleted. The default
    /// keyspace must have been created with expiring values ([`Options::ttl`]);
    /// [`KeyspaceOptions::ttl`](crate::KeyspaceOptions::ttl) tells the whole story.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use ferris_engine::{Db, ManualClock, Options, Ttl};
    ///
    /// let clock = Arc::new(ManualClock::new(1_000_000));
    /// let mut options = Options::default();
    /// options.ttl = Ttl::On { default: None };
    /// options.clock = clock.clone();
    /// # let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), options)?;
    /// db.put_with_ttl("session:42", "alice", Duration::from_secs(30))?;
    /// db.put("user:alice", "forever")?; // no default TTL: never expires
    /// clock.advance(Duration::from_secs(29));
    /// assert_eq!(db.get("session:42")?.as_deref(), Some(&b"alice"[..]));
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(db.get("session:42")?, None);
    /// assert_eq!(db.iter()?.count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Limit`] with `LimitError::TtlNotEnabled` if the keyspace's values do not
    /// expire; otherwise as [`Db::write`].
    pub fn put_with_ttl(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> Result<()> {
        let (default, options) = (&self.shared.versions.default, WriteOptions::default());
        (self.shared).put(
            default,
            key.as_ref(),
            Some(value.as_ref()),
            Some(ttl),
            options,
        )
    }

    /// Deletes `key` (deleting a key that is not there is not an error).
    ///
    /// # Errors
    ///
    /// As [`Db::write`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.delete_opt(key, WriteOptions::default())
    }

    /// Deletes `key`, made as `options` say.
    ///
    /// # Errors
    ///
    /// As [`Db::write`].
    pub fn delete_opt(&self, key: impl AsRef<[u8]>, options: WriteOptions) -> Result<()> {
        let default = &self.shared.versions.default;
        (self.shared).put(default, key.as_ref(), None, None, options)
    }

    /// Deletes every key in `range` (`"a".."c"`, `"k"..`, `..=b"x"`), with one write
    /// whatever the range holds: a range tombstone ([`ferris_core::range_del`]), which
    /// reads, scans (both ways) and snapshots honour at once, and compaction turns into
    /// space as it reaches the data. A key written after it is there again; a snapshot
    /// taken before it still sees every key it covers. For durability other than
    /// [`Options::sync_writes`], or to delete a range together with other writes,
    /// [`WriteBatch::delete_range`] and [`Db::write_opt`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = ferris_engine::Db::open(dir.path(), Default::default())?;
    /// for key in ["a1", "a2", "b1", "b2", "c1"] {
    ///     db.put(key, "v")?;
    /// }
    /// db.delete_range("a2"..="b1")?;
    /// db.delete_prefix("c")?;
    /// let keys: Vec<_> = db.iter()?.map(|kv| kv.map(|(k, _)| k)).collect::<Result<_, _>>()?;
    /// assert_eq!(keys, ["a1", "b2"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Limit`] with `LimitError::EmptyRange` for a range that holds no key
    /// (reversed, or `"b".."b"`), or with `KeyTooLarge` for a bound over the key limit;
    /// otherwise as [`Db::write`].
    pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        self.write(std::mem::take(WriteBatch::new().delete_range(range)))
    }

    /// Deletes every key that starts with `prefix` (every key, for an empty one), as
    /// [`Db::delete_range`] does.
    ///
    /// # Errors
    ///
    /// As [`Db::write`].
    pub fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        self.write(std::mem::take(WriteBatch::new().delete_prefix(prefix)))
    }

    /// Applies every put and delete in `batch` atomically, in whichever keyspaces they
    /// name (`WriteBatch::put_in`): after a crash, all of them or none are there, and no
    /// reader ever sees some without the others. With [`Options::sync_writes`] (the
    /// default) the batch is durable when this returns.
    ///
    /// # Errors
    ///
    /// - [`Error::Limit`] for an empty key, or a key, value or batch over the limits;
    /// - [`Error::NoSuchKeyspace`] if the batch names a keyspace this database does not
    ///   have live (one dropped, or an id from another database);
    /// - [`Error::Io`] if the WAL write or fsync failed (the write is then not
    ///   acknowledged, and the database is poisoned; a write grouped with it gets the same
    ///   error);
    /// - [`Error::Poisoned`] after an earlier failure;
    /// - [`Error::OpenedReadOnly`] for a database opened with [`Db::open_read_only`];
    /// - [`Error::Closed`] after [`Db::close`].
    ///
    /// Nothing of a batch refused with an error is written.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_opt(batch, WriteOptions::default())
    }

    /// [`Db::write`], made as `options` say.
    ///
    /// # Errors
    ///
    /// As [`Db::write`].
    pub fn write_opt(&self, batch: WriteBatch, options: WriteOptions) -> Result<()> {
        self.shared.write(batch, options, None).map(drop)
    }

    /// The value of `key`, or `None` if it is not set.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] or [`Error::Io`] if a table read fails or finds damage;
    /// [`Error::Closed`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let default = &self.shared.versions.default;
        self.shared.get_at(default, key.as_ref(), None)
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
        let default = &self.shared.versions.default;
        self.shared.iter_at(default, None, owned_bounds(&bounds))
    }

    /// The entries whose keys start with `prefix`, in key order.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<DbIter> {
        let default = &self.shared.versions.default;
        (self.shared).iter_at(default, None, prefix_bounds(prefix.as_ref()))
    }

    /// Every entry, in key order.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn iter(&self) -> Result<DbIter> {
        self.range::<&[u8], _>(..)
    }

    /// A consistent, read-only view of the whole database (every keyspace) as of now.
    /// Writes, flushes and compactions that follow do not change what it sees. It owns
    /// what it needs: store it, or move it to another thread; it keeps the database open.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`].
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.shared.check_open()?;
        let mut snapshots = self
            .shared
            .snapshots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Read under the registry lock, so a compaction that reads the registry sees this
        // snapshot before it could drop anything the snapshot needs.
        let seq = self.shared.writes.visible();
        *snapshots.entry(seq).or_default() += 1;
        Ok(Snapshot {
            db: self.clone(),
            seq,
            now: self.shared.env.options.clock.now(),
        })
    }

    /// Freezes the memtable of every keyspace, writes each to a level-0 table and waits
    /// until they are in the manifest. Afterwards every write made before the call is in a
    /// table, and the WAL segments that held them are deleted.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] if this or an earlier flush failed (the database then refuses
    /// writes until reopened); the errors of [`Db::write`].
    pub fn flush(&self) -> Result<()> {
        self.shared.flush_and_wait(None)
    }

    /// Runs a full manual compaction of every keyspace and waits: flushes the memtables,
    /// then has each keyspace's strategy compact every level (the leveled and tiered
    /// strategies merge everything down into the deepest level, dropping every version no
    /// snapshot can see and every tombstone that hides nothing, so afterwards the data
    /// sits in one level).
    ///
    /// # Errors
    ///
    /// As [`Db::flush`]; [`Error::Poisoned`] if a compaction failed.
    pub fn compact(&self) -> Result<()> {
        self.shared.compact(None, None)
    }

    /// Like [`Db::compact`], but only for the tables holding keys in `bounds` (a table
    /// that straddles a bound is compacted whole).
    ///
    /// # Errors
    ///
    /// As [`Db::compact`].
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, bounds: R) -> Result<()> {
        compact_range(&self.shared, None, bounds)
    }

    /// Makes every write acknowledged so far durable. Only needed with
    /// [`Options::sync_writes`] off.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the fsync fails (the database is then poisoned);
    /// [`Error::OpenedReadOnly`]; [`Error::Closed`].
    pub fn sync_wal(&self) -> Result<()> {
        self.shared.check_writable()?;
        let work = &self.shared.work;
        (self.shared.writes.wal()?)
            .sync()
            .map_err(|e| work.poisoned_by(e.into()))
    }

    /// Counters and sizes of the whole database, every keyspace summed; see [`Stats`].
    /// [`Keyspace::stats`] has one keyspace's.
    pub fn stats(&self) -> Stats {
        let shared = &self.shared;
        let mut total = KeyspaceStats::default();
        for keyspace in shared.versions.keyspaces() {
            total.add(&KeyspaceStats::of(&keyspace));
        }
        let c = &shared.stats;
        let wal = (shared.writes.wal.as_ref()).map_or_else(Default::default, Wal::stats);
        let user = c.user_bytes.load(Ordering::Relaxed);
        let table = c.table_bytes.load(Ordering::Relaxed);
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            levels: total.levels,
            memtable_bytes: total.memtable_bytes,
            immutable_memtables: total.immutable_memtables,
            immutable_memtable_bytes: total.immutable_memtable_bytes,
            last_sequence: shared.writes.visible(),
            user_bytes_written: user,
            wal_bytes_written: wal.file_bytes,
            table_bytes_written: table,
            write_amplification: if user == 0 {
                0.0
            } else {
                (wal.file_bytes + table) as f64 / user as f64
            },
            flushes: load(&c.flushes),
            compactions: load(&c.compactions),
            idle_flushes: load(&c.idle_flushes),
            idle_compactions: load(&c.idle_compactions),
            pending_compaction_bytes: total.pending_compaction_bytes,
            compaction_bytes_read: load(&c.compaction_bytes_read),
            slowdowns: load(&c.slowdowns),
            stalls: load(&c.stalls),
            stall_time: Duration::from_micros(load(&c.stall_micros)),
            wal_syncs: wal.syncs,
            block_cache: (shared.env.read.cache.as_ref())
                .map_or_else(Default::default, |c| c.stats()),
        }
    }

    /// The database's directory.
    pub fn path(&self) -> &Path {
        &self.shared.env.dir
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
    /// [`Error::Closed`]; [`Error::Io`] when the disk fails. Damage is never an error
    /// here: it is in [`VerifyReport::problems`](crate::VerifyReport::problems).
    pub fn verify(&self) -> Result<crate::VerifyReport> {
        crate::verify::verify(&self.shared)
    }

    /// Writes a checkpoint into `target`: a copy of the database as of one moment, taken
    /// while reads and writes go on, that opens as a database of its own. `target` must
    /// not exist or be an empty directory, outside this database's directory.
    ///
    /// Table files are shared with the checkpoint through hard links where `target` is on
    /// the same file system (no byte is copied, and the disk space is shared until
    /// compaction replaces the table here), and copied otherwise; what only the memtables
    /// hold is written as new tables, so the checkpoint has no WAL to replay. A power cut
    /// or a failure during the call leaves no checkpoint: CURRENT is written last, and a
    /// directory without it does not open. [`CheckpointStats`](crate::CheckpointStats)
    /// says what was linked, copied and written, and the sequence number the checkpoint
    /// holds.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use ferris_engine::{Db, Options};
    ///
    /// let db = Db::open(dir.path().join("db"), Options::default())?;
    /// db.put("k", "v1")?;
    /// let checkpoint = db.checkpoint(dir.path().join("backup"))?;
    /// db.put("k", "v2")?;
    ///
    /// let backup = Db::open(dir.path().join("backup"), Options::default())?;
    /// assert_eq!(backup.get("k")?.as_deref(), Some(&b"v1"[..]));
    /// assert_eq!(checkpoint.sequence, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::CheckpointTarget`] if `target` is not empty or lies inside the database;
    /// [`Error::Io`] if it cannot be written (nothing is left in it then);
    /// [`Error::Closed`], [`Error::Poisoned`].
    pub fn checkpoint(&self, target: impl AsRef<Path>) -> Result<crate::CheckpointStats> {
        self.shared.checkpoint(target.as_ref())
    }

    /// Shuts down cleanly: waits for writes in flight, stops the background threads, seals
    /// and syncs the WAL and releases the lock. Frozen memtables not yet flushed stay in
    /// the WAL and are replayed by the next open. Every later call fails with
    /// [`Error::Closed`]; closing twice is not an error. Dropping a `Db` closes it too.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if sealing the WAL fails. The database is closed all the same, and
    /// the next open recovers whatever reached the disk.
    pub fn close(&self) -> Result<()> {
        self.handle.close()
    }
}

impl Handle {
    fn close(&self) -> Result<()> {
        let shared = &self.shared;
        if shared.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Writes in flight finish first.
        shared.writes.queue.wait_idle();
        shared.work.update(|s| s.shutting_down = true);
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for handle in threads {
            if handle.join().is_err() {
                tracing::error!("a background thread panicked");
            }
        }
        let wal = shared.writes.wal.as_ref();
        let result = wal.map_or(Ok(()), Wal::close).map_err(Error::from);
        shared
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        tracing::info!(dir = %shared.env.dir.display(), "closed");
        result
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(error = %e, "closing on drop failed; the next open recovers");
        }
    }
}

/// A consistent read-only view of a database, every keyspace of it, at one moment. See
/// [`Db::snapshot`].
///
/// It owns what it needs (`'static`, `Send + Sync`): keep it in a struct, or move it to
/// another thread. While it lives, compaction keeps every version it can see, and the
/// database stays open.
#[derive(Debug)]
pub struct Snapshot {
    db: Db,
    seq: SeqNo,
    /// The clock when it was taken: expiry is judged as of then.
    now: u64,
}

impl Snapshot {
    /// The value `key` had in the default keyspace when the snapshot was taken.
    ///
    /// # Errors
    ///
    /// As [`Db::get`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let shared = &self.db.shared;
        shared.get_at(&shared.versions.default, key.as_ref(), self.at())
    }

    /// The value `key` had in `keyspace` when the snapshot was taken.
    ///
    /// # Errors
    ///
    /// As [`Db::get`]; [`Error::KeyspaceDropped`] if the keyspace was dropped.
    pub fn get_in(&self, keyspace: &Keyspace, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.db
            .shared
            .get_at(keyspace.core(), key.as_ref(), self.at())
    }

    /// The entries of the default keyspace in `bounds` as they were when the snapshot was
    /// taken.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, bounds: R) -> Result<DbIter> {
        let shared = &self.db.shared;
        shared.iter_at(&shared.versions.default, self.at(), owned_bounds(&bounds))
    }

    /// The entries of `keyspace` in `bounds` as they were when the snapshot was taken.
    ///
    /// # Errors
    ///
    /// As [`Snapshot::get_in`].
    pub fn range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        keyspace: &Keyspace,
        bounds: R,
    ) -> Result<DbIter> {
        (self.db.shared).iter_at(keyspace.core(), self.at(), owned_bounds(&bounds))
    }

    /// The entries of the default keyspace starting with `prefix` as they were when the
    /// snapshot was taken.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<DbIter> {
        let (shared, bounds) = (&self.db.shared, prefix_bounds(prefix.as_ref()));
        shared.iter_at(&shared.versions.default, self.at(), bounds)
    }

    /// Every entry of the default keyspace as of the snapshot.
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

    /// Where its reads read: its sequence number, and its time for expiry.
    pub(crate) fn at(&self) -> ReadPoint {
        Some((self.seq, self.now))
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut snapshots = self
            .db
            .shared
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

/// Where a read reads: a snapshot's sequence number and the time it judges expiry by, or
/// (`None`) the present.
pub(crate) type ReadPoint = Option<(SeqNo, u64)>;

/// A manual compaction of `keyspace` (or every keyspace) over `bounds`.
pub(crate) fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(
    shared: &Shared,
    keyspace: Option<&Arc<KeyspaceCore>>,
    bounds: R,
) -> Result<()> {
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
    shared.compact(keyspace, Some((lo, hi)))
}
