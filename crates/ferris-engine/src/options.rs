//! How a database is opened, and which components it is built from.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferris_compaction::{CompactionFilter, CompactionOptions, ExpiryFilter, Strategy};
use ferris_core::expiry::{Clock, SystemClock, Ttl};
use ferris_core::{KeyspaceId, MemtableFactory};
use ferris_fs::{FileSystem, StdFs};
use ferris_table::{Compression, TableFormat, TableOptions};
use ferris_txn::ResolverLimits;
use ferris_wal::RecoveryMode;

/// Whether a compaction steps aside while a flush writes its table; see
/// [`Options::flush_priority`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FlushPriority {
    /// Step aside when the machine has fewer cores than the flush thread, the compaction
    /// threads and one writer need to run at once (default): on 2 cores with one
    /// compaction thread, yes; on 3 or more, no.
    #[default]
    Auto,
    /// Always step aside, whatever the cores.
    Always,
    /// Never: flushes and compactions share the cores as the scheduler decides.
    Never,
}

impl FlushPriority {
    /// Whether compactions step aside, on this machine, with `compaction_threads`.
    pub(crate) fn resolve(self, compaction_threads: usize) -> bool {
        match self {
            FlushPriority::Always => true,
            FlushPriority::Never => false,
            FlushPriority::Auto => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                // The flush thread, the compaction threads and one writer.
                cores < compaction_threads.max(1) + 2
            }
        }
    }
}

/// Options for [`Db::open`](crate::Db::open). Start from `Options::default()` and change
/// what you need:
///
/// ```
/// let mut options = ferris_engine::Options::default();
/// options.sync_writes = false; // RocksDB's default: durable at the next sync_wal()
/// options.write_buffer_size = 8 << 20;
/// ```
///
/// # Components
///
/// Three parts of the engine are chosen here, each through the trait it is used by, with
/// FerrisDB's own as the defaults: [`Options::memtable`] (a
/// [`MemtableFactory`]), [`Options::table_format`] (a [`TableFormat`]) and
/// [`Options::compaction_strategy`] (a [`Strategy`]). Anything implementing those traits
/// can be plugged in; `docs/concepts/swapping-components.md` walks through it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Create the directory and an empty database when there is none (default `true`).
    /// Off, a directory without CURRENT (missing, empty, or an interrupted checkpoint)
    /// is [`Error::NotADatabase`](crate::Error::NotADatabase), and nothing is written.
    pub create_if_missing: bool,
    /// Every write is fsync'd to the WAL before it returns (default `true`). Concurrent
    /// writers share fsyncs through group commit. With `false`, a write returns once it is
    /// in the operating system's page cache: it survives a crash of the process but not a
    /// power cut, until [`Db::sync_wal`](crate::Db::sync_wal) or a later synced write.
    pub sync_writes: bool,
    /// Bytes of memtable (as it accounts them) before it is frozen and flushed to a table
    /// (default 64 MiB).
    pub write_buffer_size: usize,
    /// Frozen memtables that may wait for the flush thread before writers stall (default
    /// 2). Memory for memtables stays under about `(1 + this) * write_buffer_size`.
    pub max_immutable_memtables: usize,
    /// Bytes of decoded blocks kept in the block cache, shared by every table (default
    /// 64 MiB).
    pub block_cache_size: u64,
    /// Target data block size in tables (default 4 KiB).
    pub block_size: usize,
    /// Bloom filter bits per key in tables (default 10, about 1% false positives); 0 turns
    /// filters off. Formats without filters ignore it.
    pub bloom_bits_per_key: usize,
    /// Table block compression (default none). Formats without compression ignore it.
    pub compression: Compression,
    /// A WAL segment is sealed and a new one started at this size (default 64 MiB).
    pub wal_segment_size: u64,
    /// The manifest is rewritten as a fresh snapshot once it grows past this (default
    /// 4 MiB).
    pub max_manifest_size: u64,
    /// When compaction runs, and the write slowdown and stop thresholds (see
    /// [`CompactionOptions`]).
    pub compaction: CompactionOptions,
    /// The compaction strategy (default [`ferris_compaction::Leveled`]; also
    /// [`ferris_compaction::Tiered`], `ferris_fifo::Fifo`, or your own [`Strategy`]). It
    /// decides what to compact, and how hard writes are held back while compaction
    /// catches up.
    pub compaction_strategy: Arc<dyn Strategy>,
    /// A hook run on the newest version of each key that no snapshot reads, as
    /// compactions write it: keep it, remove the key, or change its value (see
    /// [`CompactionFilter`] for what it sees and when). `None` by default. A filter that
    /// panics fails its compaction, which poisons the database with the panic as the
    /// error's source; the data stays as it was.
    pub compaction_filter: Option<Arc<dyn CompactionFilter>>,
    /// Whether the default keyspace's values expire ([`Ttl::Off`] by default), fixed
    /// when the database is created; [`KeyspaceOptions::ttl`] says what it means. Like
    /// every setting here, a keyspace [`Db::keyspace`](crate::Db::keyspace) creates
    /// without options of its own in [`Options::keyspaces`] takes it too.
    pub ttl: Ttl,
    /// Where expiry and the transaction resolver's age limit read the time (default
    /// [`SystemClock`]); tests pass a [`ferris_core::expiry::ManualClock`].
    pub clock: Arc<dyn Clock>,
    /// How much commit history the transaction resolver keeps (by default 64 MiB and five
    /// seconds, FoundationDB's window) and how large one transaction may be (10 MiB of
    /// conflict ranges): [`Db::transaction`](crate::Db::transaction) explains both.
    pub transaction_limits: ResolverLimits,
    /// Makes the memtables (default the skip list,
    /// [`ferris_memtable::SkipListFactory`]).
    pub memtable: Arc<dyn MemtableFactory>,
    /// The table format flushes and compactions write (default
    /// [`ferris_sstable::SstableFormat`]). A database must be reopened with the format it
    /// was written with.
    pub table_format: Arc<dyn TableFormat>,
    /// Background compaction threads (default 1).
    pub compaction_threads: usize,
    /// Whether a compaction pauses while a flush writes its table (default
    /// [`FlushPriority::Auto`]: when cores are short).
    ///
    /// A flush is what frees a frozen memtable and lets writers stalled on full memtables
    /// go on; until it ends, the frozen memtable and the new one filling behind it are both
    /// in memory. When a compaction shares the flush's core, the flush takes longer, and so
    /// does that overlap. A compaction that steps aside (it checks as it starts and every
    /// thousand entries or so) is delayed by the flush's length, a tenth of a second or
    /// two. `docs/benchmarks.md` has what it measured.
    pub flush_priority: FlushPriority,
    /// Once no write has arrived for this long, the database tidies up with its idle I/O
    /// (default 5 s; `None` turns it off): it flushes the memtable, so the WAL segments
    /// are retired, and the strategy may do work it holds back under load (leveled
    /// compaction merges level 0 into level 1 below its trigger). It happens once per
    /// quiet period, between `idle_after` and twice that after the last write, and costs
    /// the write path nothing: a background thread samples the last sequence number.
    ///
    /// The default is a few seconds: far longer than the gaps between writes of any load
    /// that is really running (where holding level 0 back saves rewriting level 1 on
    /// every flush), short enough that a database whose writer has finished is compact
    /// soon after. A load that pauses for longer than this pays one extra rewrite of the
    /// level-0 key range of level 1 per pause.
    pub idle_after: Option<Duration>,
    /// What WAL replay does about damage (default
    /// [`RecoveryMode::TolerateTornTail`]: a torn tail from a crash is dropped, real
    /// corruption is an error).
    pub wal_recovery_mode: RecoveryMode,
    /// The file system to use (default the operating system's, [`StdFs`]). Tests pass a
    /// `ferris_fs::SimFs` to simulate power cuts and I/O errors.
    pub file_system: Arc<dyn FileSystem>,
    /// Options of keyspaces other than the default, by name: what
    /// [`Db::keyspace`](crate::Db::keyspace) creates a keyspace with, and what an existing
    /// keyspace runs with from the moment the database opens (its compaction and flushes
    /// need them before anyone asks for its handle). A keyspace not named here gets the
    /// database's own ([`KeyspaceOptions::from`] these options). A keyspace created with a
    /// compaction strategy other than the database's must be named here when the database
    /// is opened again, or the open fails with [`Error::KeyspaceOptions`](crate::Error::KeyspaceOptions).
    pub keyspaces: BTreeMap<String, KeyspaceOptions>,
}

/// What each keyspace may set for itself ([`Options::keyspaces`],
/// [`Db::keyspace_with`](crate::Db::keyspace_with)); everything else (the WAL, the memtable
/// kind, the table format, the block cache, the threads) the keyspaces share.
///
/// The compaction strategy is part of what a keyspace is: the manifest records its
/// [name](Strategy::name), and opening the keyspace with another is refused. The rest may
/// change from one open to the next.
///
/// ```
/// use std::sync::Arc;
/// let mut events = ferris_engine::KeyspaceOptions::from(&ferris_engine::Options::default());
/// events.compaction_strategy = Arc::new(ferris_compaction::Tiered::default());
/// events.write_buffer_size = 4 << 20;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeyspaceOptions {
    /// As [`Options::write_buffer_size`], for this keyspace's memtable.
    pub write_buffer_size: usize,
    /// As [`Options::block_size`].
    pub block_size: usize,
    /// As [`Options::bloom_bits_per_key`].
    pub bloom_bits_per_key: usize,
    /// As [`Options::compression`].
    pub compression: Compression,
    /// As [`Options::compaction`].
    pub compaction: CompactionOptions,
    /// As [`Options::compaction_strategy`]; fixed when the keyspace is created.
    pub compaction_strategy: Arc<dyn Strategy>,
    /// As [`Options::compaction_filter`].
    pub compaction_filter: Option<Arc<dyn CompactionFilter>>,
    /// Whether values expire, fixed when the keyspace is created (the manifest records
    /// it); [`Ttl::Off`] by default. In a keyspace created with [`Ttl::On`], every value
    /// carries an expiry time (8 bytes more on disk): its write's own time to live
    /// ([`Keyspace::put_with_ttl`](crate::Keyspace::put_with_ttl),
    /// [`WriteBatch::put_with_ttl_in`](crate::WriteBatch::put_with_ttl_in)) or the
    /// default given here, which may change between opens. An expired value reads as
    /// deleted; compactions turn it into a tombstone (`ferris_core::expiry` has the whole
    /// story). Opening an expiring keyspace with `Ttl::Off` gives it no default; opening
    /// one created with `Ttl::Off` with `Ttl::On` fails with
    /// [`Error::KeyspaceOptions`](crate::Error::KeyspaceOptions). A keyspace not named in
    /// [`Options::keyspaces`] opens as it was created: not expiring, or expiring with the
    /// default of [`Options::ttl`].
    pub ttl: Ttl,
}

impl From<&Options> for KeyspaceOptions {
    /// The database's own settings, which the default keyspace uses.
    fn from(o: &Options) -> KeyspaceOptions {
        KeyspaceOptions {
            write_buffer_size: o.write_buffer_size,
            block_size: o.block_size,
            bloom_bits_per_key: o.bloom_bits_per_key,
            compression: o.compression,
            compaction: o.compaction,
            compaction_strategy: Arc::clone(&o.compaction_strategy),
            compaction_filter: o.compaction_filter.clone(),
            ttl: o.ttl,
        }
    }
}

impl KeyspaceOptions {
    /// The hints the table format is given for every table of keyspace `id`, which it
    /// records.
    pub(crate) fn table_options(&self, id: KeyspaceId) -> TableOptions {
        let mut t = TableOptions::default();
        t.keyspace = id;
        t.block_size = self.block_size;
        t.bloom_bits_per_key = self.bloom_bits_per_key;
        t.compression = self.compression;
        t
    }

    /// What differs between these options and `other`, if anything (strategies and
    /// filters compare by name).
    pub(crate) fn difference(&self, other: &KeyspaceOptions) -> Option<String> {
        let (a, b) = (self, other);
        let strategy = |o: &KeyspaceOptions| o.compaction_strategy.name().to_string();
        let filter =
            |o: &KeyspaceOptions| o.compaction_filter.as_ref().map(|f| f.name().to_string());
        let fields = [
            (
                "write_buffer_size",
                a.write_buffer_size != b.write_buffer_size,
            ),
            ("block_size", a.block_size != b.block_size),
            (
                "bloom_bits_per_key",
                a.bloom_bits_per_key != b.bloom_bits_per_key,
            ),
            ("compression", a.compression != b.compression),
            ("compaction", a.compaction != b.compaction),
            ("compaction_strategy", strategy(a) != strategy(b)),
            ("compaction_filter", filter(a) != filter(b)),
            ("ttl", a.ttl != b.ttl),
        ];
        let differ: Vec<&str> = fields.iter().filter(|f| f.1).map(|f| f.0).collect();
        (!differ.is_empty())
            .then(|| format!("{} differ from the open keyspace's", differ.join(", ")))
    }

    /// The filter a compaction starting at `now` runs: the keyspace's own, behind the
    /// expiry filter if its values expire.
    pub(crate) fn filter(&self, now: impl FnOnce() -> u64) -> Option<Arc<dyn CompactionFilter>> {
        let own = self.compaction_filter.clone();
        match self.ttl.is_on() {
            true => Some(Arc::new(ExpiryFilter::new(now(), own))),
            false => own,
        }
    }
}

impl Default for Options {
    /// FerrisDB's own components, and the settings `docs/benchmarks.md` measures.
    fn default() -> Self {
        Options {
            create_if_missing: true,
            sync_writes: true,
            write_buffer_size: 64 << 20,
            max_immutable_memtables: 2,
            block_cache_size: 64 << 20,
            block_size: 4096,
            bloom_bits_per_key: 10,
            compression: Compression::None,
            wal_segment_size: 64 << 20,
            max_manifest_size: 4 << 20,
            compaction: CompactionOptions::default(),
            compaction_strategy: Arc::new(ferris_compaction::Leveled),
            compaction_filter: None,
            ttl: Ttl::Off,
            clock: Arc::new(SystemClock),
            transaction_limits: ResolverLimits::default(),
            memtable: Arc::new(ferris_memtable::SkipListFactory),
            table_format: Arc::new(ferris_sstable::SstableFormat),
            compaction_threads: 1,
            flush_priority: FlushPriority::Auto,
            idle_after: Some(Duration::from_secs(5)),
            wal_recovery_mode: RecoveryMode::TolerateTornTail,
            file_system: Arc::new(StdFs::default()),
            keyspaces: BTreeMap::new(),
        }
    }
}
