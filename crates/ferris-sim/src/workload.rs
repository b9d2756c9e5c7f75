//! What a seed stands for: the engine's settings, the operations, and where the power
//! fails. All of it is drawn from the seed before anything runs, so it is a pure function
//! of the seed (and of the [`SimConfig`]).

use std::fmt;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use ferris_engine::{Compression, KeyspaceOptions, Options, Ttl};
use ferris_fs::FileSystem;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::SimConfig;
use crate::components::CompactionStrategy;

/// The engine settings a seed chose. They are small on purpose: a memtable of a few
/// KiB, tables of a few KiB and a manifest that rotates after a few hundred bytes turn a
/// few hundred operations into dozens of flushes, compactions and manifest switches, so a
/// power cut has many chances to land inside one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setup {
    /// Leveled or tiered compaction (a seed draws one of the two;
    /// [`Components::strategy`](crate::Components::strategy) may replace it for a run).
    pub strategy: CompactionStrategy,
    /// Whether every write is fsync'd before it is acknowledged. With `false` a write is
    /// durable only after a later [`Op::SyncWal`], [`Op::Flush`], [`Op::Compact`],
    /// [`Op::CompactRange`] or clean [`Op::Reopen`], so many writes may be in doubt when
    /// the power fails, and the prefix check has many candidates.
    pub sync_writes: bool,
    /// [`Options::write_buffer_size`].
    pub write_buffer_size: usize,
    /// [`Options::max_immutable_memtables`].
    pub max_immutable_memtables: usize,
    /// [`Options::wal_segment_size`].
    pub wal_segment_size: u64,
    /// [`Options::max_manifest_size`].
    pub max_manifest_size: u64,
    /// [`Options::block_size`].
    pub block_size: usize,
    /// [`Options::bloom_bits_per_key`].
    pub bloom_bits_per_key: usize,
    /// [`Options::compression`].
    pub compression: Compression,
    /// [`Options::compaction_threads`].
    pub compaction_threads: usize,
    /// [`Options::idle_after`].
    pub idle_after: Option<Duration>,
    /// `CompactionOptions::l0_compaction_trigger`.
    pub l0_compaction_trigger: usize,
    /// `CompactionOptions::l0_slowdown_trigger`; `l0_stop_trigger` is 4 more.
    pub l0_slowdown_trigger: usize,
    /// `CompactionOptions::target_file_size`.
    pub target_file_size: u64,
    /// `CompactionOptions::level1_target_bytes`.
    pub level1_target_bytes: u64,
    /// Keys are `k0000` to this, exclusive: a small space, so that overwrites and deletes
    /// keep hitting the same keys in every level.
    pub n_keys: u16,
    /// Values are a short tag and up to this many filler bytes.
    pub max_value_len: u16,
    /// Whether each keyspace of [`KEYSPACES`] expires, by index: the default keyspace in
    /// some seeds ([`Options::ttl`]), `green` in every seed with a default time to live,
    /// `blue` in some seeds with none (only puts with a TTL of their own expire there),
    /// `red` never (a put with a TTL there must be refused). Drawn from the TTL
    /// generator, so the rest of the setup is what it was before TTL existed.
    pub ttl: [Ttl; 4],
}

impl Setup {
    fn generate(rng: &mut SmallRng) -> Setup {
        let write_buffer_size = [2 << 10, 4 << 10, 8 << 10][rng.random_range(0..3)];
        let target_file_size = [2 << 10, 4 << 10, 16 << 10][rng.random_range(0..3)];
        Setup {
            strategy: if rng.random_bool(0.5) {
                CompactionStrategy::Leveled
            } else {
                CompactionStrategy::Tiered
            },
            sync_writes: rng.random_bool(0.7),
            write_buffer_size,
            max_immutable_memtables: rng.random_range(1..=2),
            wal_segment_size: [1 << 10, 4 << 10, 64 << 10][rng.random_range(0..3)],
            max_manifest_size: [256, 1 << 10, 4 << 10][rng.random_range(0..3)],
            block_size: [128, 512, 4096][rng.random_range(0..3)],
            bloom_bits_per_key: if rng.random_bool(0.8) { 10 } else { 0 },
            compression: if rng.random_bool(0.15) {
                Compression::Zstd
            } else {
                Compression::None
            },
            compaction_threads: rng.random_range(1..=2),
            idle_after: match rng.random_range(0..4) {
                0 => Some(Duration::from_millis(1)),
                1 => Some(Duration::from_millis(5)),
                _ => None,
            },
            l0_compaction_trigger: rng.random_range(2..=4),
            // Mostly out of the way; sometimes low enough that writers slow down and stop
            // for compaction, which exercises the stall paths.
            l0_slowdown_trigger: if rng.random_bool(0.15) { 6 } else { 20 },
            target_file_size,
            level1_target_bytes: target_file_size * rng.random_range(2..=8),
            n_keys: [8, 32, 128][rng.random_range(0..3)],
            max_value_len: [16, 100, 600][rng.random_range(0..3)],
            ttl: [Ttl::Off; 4],
        }
    }

    /// Which keyspaces expire, and their defaults (see [`Setup::ttl`]), from the TTL
    /// generator.
    fn generate_ttl(rng: &mut SmallRng) -> [Ttl; 4] {
        let default_ttl = |rng: &mut SmallRng| {
            let ms = [1_000, 5_000, 30_000][rng.random_range(0..3)];
            Some(Duration::from_millis(ms))
        };
        let default = match rng.random_range(0..10) {
            0..2 => Ttl::On {
                default: default_ttl(rng),
            },
            2..4 => Ttl::On { default: None },
            _ => Ttl::Off,
        };
        let green = Ttl::On {
            default: default_ttl(rng),
        };
        let blue = if rng.random_bool(0.5) {
            Ttl::On { default: None }
        } else {
            Ttl::Off
        };
        [default, Ttl::Off, green, blue]
    }

    /// Engine options for this setup on `file_system`, with everything not chosen here left
    /// at its default. The run then plugs its [`Components`](crate::Components) in.
    pub fn options(&self, file_system: Arc<dyn FileSystem>) -> Options {
        let mut options = Options::default();
        options.file_system = file_system;
        options.compaction_strategy = self.strategy.build();
        options.sync_writes = self.sync_writes;
        options.write_buffer_size = self.write_buffer_size;
        options.max_immutable_memtables = self.max_immutable_memtables;
        options.wal_segment_size = self.wal_segment_size;
        options.max_manifest_size = self.max_manifest_size;
        options.block_size = self.block_size;
        options.bloom_bits_per_key = self.bloom_bits_per_key;
        options.compression = self.compression;
        options.compaction_threads = self.compaction_threads;
        options.idle_after = self.idle_after;
        options.block_cache_size = 64 << 10;
        let c = &mut options.compaction;
        c.l0_compaction_trigger = self.l0_compaction_trigger;
        c.l0_slowdown_trigger = self.l0_slowdown_trigger;
        c.l0_stop_trigger = self.l0_slowdown_trigger + 4;
        c.target_file_size = self.target_file_size;
        c.max_grandparent_overlap_bytes = 10 * self.target_file_size;
        c.level1_target_bytes = self.level1_target_bytes;
        options.ttl = self.ttl[0];
        options
    }

    /// Names in [`Options::keyspaces`] the keyspaces other than the default, with their
    /// [`Setup::ttl`] and `options`' own settings otherwise. Every one is named, expiring
    /// or not: a keyspace not named takes the database's settings, the default
    /// keyspace's TTL among them. Called once the run has plugged its components in, so
    /// every keyspace runs on the same strategy.
    pub fn name_keyspaces(&self, options: &mut Options) {
        for (name, ttl) in KEYSPACES.iter().zip(self.ttl).skip(1) {
            let mut keyspace = KeyspaceOptions::from(&*options);
            keyspace.ttl = ttl;
            options.keyspaces.insert(name.to_string(), keyspace);
        }
    }
}

/// One step of a workload. Keys are indices into the seed's key space ([`key`]); the
/// value a write stores is derived from the step's index ([`value`]), so every value in
/// the history is unique and names the step that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `Db::put` of a value with this many filler bytes.
    Put {
        /// The key index.
        key: u16,
        /// Filler bytes in the value.
        value_len: u16,
    },
    /// `Db::delete`.
    Delete {
        /// The key index.
        key: u16,
    },
    /// `Db::delete_range` from key `lo` (inclusive) to key `hi` (exclusive; `None`: to the
    /// end). Never empty: `hi` is after `lo`.
    DeleteRange {
        /// The first key index deleted.
        lo: u16,
        /// The first key index past the range, if any.
        hi: Option<u16>,
    },
    /// `Db::write` of a batch: puts (with their filler length) and deletes (`None`).
    Batch(Vec<(u16, Option<u16>)>),
    /// `Db::get`, checked against the model.
    Get {
        /// The key index.
        key: u16,
    },
    /// `Db::range`, forwards (and, with `reverse`, backwards too), checked against the
    /// model.
    Scan {
        /// The lower bound, as a key index.
        lo: Bound<u16>,
        /// The upper bound, as a key index.
        hi: Bound<u16>,
        /// Also walk it backwards.
        reverse: bool,
    },
    /// Takes a snapshot and remembers the model's state with it. At most four are live;
    /// a fifth releases the oldest.
    Snapshot,
    /// Reads through a live snapshot (the `which`-th, modulo how many are live; nothing if
    /// none is): a get of `key` and a scan, checked against the state the snapshot was
    /// taken at.
    SnapshotRead {
        /// Which live snapshot.
        which: usize,
        /// A key to get.
        key: u16,
        /// The scan's lower bound.
        lo: Bound<u16>,
        /// The scan's upper bound.
        hi: Bound<u16>,
        /// Walk backwards.
        reverse: bool,
    },
    /// Releases a live snapshot (modulo how many are live).
    ReleaseSnapshot {
        /// Which live snapshot.
        which: usize,
    },
    /// `Db::flush`.
    Flush,
    /// `Db::compact`.
    Compact,
    /// `Db::compact_range(key(lo)..=key(hi))`.
    CompactRange {
        /// The first key index.
        lo: u16,
        /// The last key index.
        hi: u16,
    },
    /// `Db::sync_wal`.
    SyncWal,
    /// `Db::close`, drop, and `Db::open` again (snapshots are released first), then a
    /// full scan checked against the model.
    Reopen,
    /// `Db::keyspace` of [`KEYSPACES`]`[keyspace]` (never the default): creates it, durably,
    /// if it is not live; a no-op if it is.
    CreateKeyspace {
        /// Index into [`KEYSPACES`], 1 to 3.
        keyspace: u8,
    },
    /// `Db::drop_keyspace` of [`KEYSPACES`]`[keyspace]` (never the default); a no-op if it
    /// is not live. The handle the run held stays, so later steps write through a dropped
    /// keyspace's handle and must get its typed error.
    DropKeyspace {
        /// Index into [`KEYSPACES`], 1 to 3.
        keyspace: u8,
    },
    /// `Keyspace::put` into a keyspace other than the default. Skipped if the keyspace was
    /// never created; through a dropped keyspace's handle it must fail with
    /// `Error::KeyspaceDropped` and change nothing.
    PutIn {
        /// Index into [`KEYSPACES`], 1 to 3.
        keyspace: u8,
        /// The key index.
        key: u16,
        /// Filler bytes in the value.
        value_len: u16,
    },
    /// `Keyspace::delete`, as [`Op::PutIn`].
    DeleteIn {
        /// Index into [`KEYSPACES`], 1 to 3.
        keyspace: u8,
        /// The key index.
        key: u16,
    },
    /// `Db::write` of one batch across keyspaces (`WriteBatch::put_in` and `delete_in`):
    /// `(keyspace, key, filler length or delete)`, the default keyspace being 0. Entries
    /// in keyspaces never created are left out; an entry naming a dropped keyspace makes
    /// the whole batch fail with `Error::NoSuchKeyspace`, and apply nothing.
    BatchIn(Vec<(u8, u16, Option<u16>)>),
    /// `Keyspace::get`, checked against the model, as [`Op::PutIn`].
    GetIn {
        /// Index into [`KEYSPACES`], 1 to 3.
        keyspace: u8,
        /// The key index.
        key: u16,
    },
    /// `Keyspace::range`, as [`Op::Scan`] in one keyspace.
    ScanIn {
        /// Index into [`KEYSPACES`], 1 to 3.
        keyspace: u8,
        /// The lower bound, as a key index.
        lo: Bound<u16>,
        /// The upper bound, as a key index.
        hi: Bound<u16>,
        /// Also walk it backwards.
        reverse: bool,
    },
    /// `Snapshot::get_in` and `Snapshot::range_in` through a live snapshot, as
    /// [`Op::SnapshotRead`] in a keyspace other than the default; nothing if that keyspace
    /// was not live when the snapshot was taken, or is not the same keyspace now.
    SnapshotReadIn {
        /// Which live snapshot.
        which: usize,
        /// Index into [`KEYSPACES`], 1 to 3.
        keyspace: u8,
        /// A key to get.
        key: u16,
        /// The scan's lower bound.
        lo: Bound<u16>,
        /// The scan's upper bound.
        hi: Bound<u16>,
        /// Walk backwards.
        reverse: bool,
    },
    /// `Db::checkpoint` into a new directory, which is then opened and read whole: it
    /// must hold exactly the model's state (the workload is one thread, so the
    /// checkpoint's moment is this step), every keyspace, and verify clean.
    Checkpoint,
    /// `Db::put_with_ttl` (keyspace 0) or `Keyspace::put_with_ttl`: a value that expires
    /// `ttl_ms` after the simulated clock's reading (0: at once). Skipped if the keyspace
    /// was never created; in a keyspace whose values do not expire it must fail with
    /// `LimitError::TtlNotEnabled`, and through a dropped keyspace's handle with
    /// `Error::KeyspaceDropped`, changing nothing.
    PutWithTtl {
        /// Index into [`KEYSPACES`], 0 to 3.
        keyspace: u8,
        /// The key index.
        key: u16,
        /// Filler bytes in the value.
        value_len: u16,
        /// The time to live, in milliseconds.
        ttl_ms: u64,
    },
    /// `Db::write` of one batch across keyspaces, as [`Op::BatchIn`], whose puts may
    /// carry a time to live of their own (`WriteBatch::put_with_ttl_in`, only in
    /// keyspaces whose values expire): `(keyspace, key, filler length and TTL in
    /// milliseconds, or delete)`.
    BatchWithTtl(Vec<BatchEntry>),
    /// A transaction (`Db::transaction_with`): its reads, checked against the model as of
    /// its read version with its own earlier writes laid over it; its buffered writes;
    /// then what [`TxnOp::outcome`] says. See [`TxnOp`].
    Txn(TxnOp),
}

/// One transaction of [`Op::Txn`], drawn from a generator of its own ([`TXN_SHARE`]).
///
/// Its steps run in order inside the transaction, across the default keyspace and the
/// live ones (steps naming a keyspace that is not live when the transaction begins are
/// left out). Every read is checked against the model: what the database held at the
/// read version, with the transaction's own earlier writes applied (read-your-writes),
/// in point reads and scans both ways. The workload is one thread, so the model knows
/// exactly whether a commit must conflict: under serializable isolation iff it writes
/// something and a write made after its read version (here, [`TxnOutcome::Interfere`]'s)
/// touched a key it read (a point read of a key it had not written itself, or any key in
/// a range it scanned; snapshot reads record nothing); under snapshot isolation iff that
/// write touched a key it writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TxnOp {
    /// Snapshot isolation (`Isolation::Snapshot`) instead of serializable.
    pub snapshot_isolation: bool,
    /// `TxnOptions::sync`: `None` follows the database's [`Setup::sync_writes`].
    pub sync: Option<bool>,
    /// The reads and writes, in order.
    pub steps: Vec<TxnStep>,
    /// What happens after the steps.
    pub outcome: TxnOutcome,
}

/// A read or write inside a transaction ([`TxnOp`]). Keyspaces are indices into
/// [`KEYSPACES`], keys into the seed's key space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TxnStep {
    /// `Transaction::get` (keyspace 0) or `get_in`; with `snapshot`,
    /// `Transaction::snapshot_get_in`, which records no conflict range.
    Get {
        /// The keyspace.
        keyspace: u8,
        /// The key index.
        key: u16,
        /// A snapshot read.
        snapshot: bool,
    },
    /// `Transaction::range` (keyspace 0) or `range_in`, forwards and, with `reverse`,
    /// backwards too.
    Scan {
        /// The keyspace.
        keyspace: u8,
        /// The lower bound, as a key index.
        lo: Bound<u16>,
        /// The upper bound, as a key index.
        hi: Bound<u16>,
        /// Also walk it backwards.
        reverse: bool,
    },
    /// `Transaction::put` or `put_in`, buffered until the commit.
    Put {
        /// The keyspace.
        keyspace: u8,
        /// The key index.
        key: u16,
        /// Filler bytes in the value.
        value_len: u16,
    },
    /// `Transaction::delete` or `delete_in`, buffered until the commit.
    Delete {
        /// The keyspace.
        keyspace: u8,
        /// The key index.
        key: u16,
    },
}

/// How an [`Op::Txn`] ends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TxnOutcome {
    /// `Transaction::commit`, which must succeed: the commit is one atomic write, durable
    /// on return if its `sync` says so, and otherwise in doubt until the next durability
    /// point, then after a power cut all there or not at all.
    Commit,
    /// The transaction is dropped without committing: it must leave nothing, now (a get
    /// of every key it wrote reads the model's value) or after any power cut (the prefix
    /// check finds a value it buffered as one never written).
    Abandon,
    /// Before the step at index `at` (after the last step if past them), a plain write
    /// (`Db::put` or `Keyspace::put`, `delete` with no `value_len`) outside the
    /// transaction, which later reads of the transaction must not see; then the commit,
    /// which must fail with `TxnError::Conflict` (and write nothing) exactly when the model
    /// says so, and succeed otherwise.
    Interfere {
        /// Where, among the steps, the plain write comes.
        at: usize,
        /// Its keyspace.
        keyspace: u8,
        /// Its key index.
        key: u16,
        /// A put's filler bytes, or `None` for a delete.
        value_len: Option<u16>,
    },
}

/// An entry of [`Op::BatchWithTtl`]: the keyspace's index into [`KEYSPACES`], the key's,
/// and a put's filler length and time to live in milliseconds (`None`: the keyspace's
/// default), or `None` for a delete.
pub type BatchEntry = (u8, u16, Option<(u16, Option<u64>)>);

/// The keyspaces a workload uses: the default one (index 0) and three it creates, drops,
/// and creates again. Few, so that names are reused after a drop.
pub const KEYSPACES: [&str; 4] = ["default", "red", "green", "blue"];

/// The share of keyspace operations: after each operation of the main mix, one of
/// [`Op::CreateKeyspace`] to [`Op::Checkpoint`] follows with this probability.
pub const KEYSPACE_SHARE: f64 = 0.15;

/// The share of TTL operations: after each operation of the main mix, an
/// [`Op::PutWithTtl`] or an [`Op::BatchWithTtl`] follows with this probability (after
/// the keyspace operation, if there is one). Plain puts into an expiring keyspace, and
/// reads of it, come from the other two mixes.
pub const TTL_SHARE: f64 = 0.08;

/// The share of transactions: after each operation of the main mix, an [`Op::Txn`]
/// follows with this probability (after the keyspace and TTL operations, if any), drawn
/// from a generator of its own, as they are.
pub const TXN_SHARE: f64 = 0.08;

/// Where the simulated clock starts, in milliseconds since the UNIX epoch (a moment in
/// November 2023): the same for every seed.
pub const CLOCK_START: u64 = 1_700_000_000_000;

impl Op {
    fn generate(rng: &mut SmallRng, setup: &Setup) -> Op {
        let n_keys = setup.n_keys;
        let key = |rng: &mut SmallRng| rng.random_range(0..n_keys);
        let value_len = |rng: &mut SmallRng| rng.random_range(0..=setup.max_value_len);
        let bound = |rng: &mut SmallRng| bound(rng, n_keys);
        // Weights out of 100.
        match rng.random_range(0..100) {
            0..30 => Op::Put {
                key: key(rng),
                value_len: value_len(rng),
            },
            30..36 => Op::Delete { key: key(rng) },
            36..38 => {
                // A short range mostly, so that some keys survive; sometimes to the end.
                let lo = key(rng);
                let hi = lo + rng.random_range(1..=n_keys / 8 + 1);
                Op::DeleteRange {
                    lo,
                    hi: (hi < n_keys && rng.random_bool(0.9)).then_some(hi),
                }
            }
            38..48 => {
                let n = rng.random_range(1..=8);
                Op::Batch(
                    (0..n)
                        .map(|_| {
                            let k = key(rng);
                            let v = rng.random_bool(0.75).then(|| value_len(rng));
                            (k, v)
                        })
                        .collect(),
                )
            }
            48..58 => Op::Get { key: key(rng) },
            58..64 => Op::Scan {
                lo: bound(rng),
                hi: bound(rng),
                reverse: rng.random_bool(0.5),
            },
            64..68 => Op::Snapshot,
            68..75 => Op::SnapshotRead {
                which: rng.random_range(0..4),
                key: key(rng),
                lo: bound(rng),
                hi: bound(rng),
                reverse: rng.random_bool(0.5),
            },
            75..78 => Op::ReleaseSnapshot {
                which: rng.random_range(0..4),
            },
            78..84 => Op::Flush,
            84..86 => Op::Compact,
            86..90 => {
                let (a, b) = (key(rng), key(rng));
                Op::CompactRange {
                    lo: a.min(b),
                    hi: a.max(b),
                }
            }
            90..95 => Op::SyncWal,
            _ => Op::Reopen,
        }
    }

    /// A keyspace operation, drawn from its own generator (see [`Workload::generate`]).
    fn generate_keyspace_op(rng: &mut SmallRng, setup: &Setup) -> Op {
        let n_keys = setup.n_keys;
        let key = |rng: &mut SmallRng| rng.random_range(0..n_keys);
        let keyspace = |rng: &mut SmallRng| rng.random_range(1..KEYSPACES.len() as u8);
        let value_len = |rng: &mut SmallRng| rng.random_range(0..=setup.max_value_len);
        let bound = |rng: &mut SmallRng| bound(rng, n_keys);
        // Weights out of 100.
        match rng.random_range(0..100) {
            0..18 => Op::CreateKeyspace {
                keyspace: keyspace(rng),
            },
            18..25 => Op::DropKeyspace {
                keyspace: keyspace(rng),
            },
            25..45 => Op::PutIn {
                keyspace: keyspace(rng),
                key: key(rng),
                value_len: value_len(rng),
            },
            45..52 => Op::DeleteIn {
                keyspace: keyspace(rng),
                key: key(rng),
            },
            52..75 => {
                let n = rng.random_range(2..=8);
                Op::BatchIn(
                    (0..n)
                        .map(|_| {
                            let ks = rng.random_range(0..KEYSPACES.len() as u8);
                            let k = key(rng);
                            let v = rng.random_bool(0.75).then(|| value_len(rng));
                            (ks, k, v)
                        })
                        .collect(),
                )
            }
            75..84 => Op::GetIn {
                keyspace: keyspace(rng),
                key: key(rng),
            },
            84..92 => Op::ScanIn {
                keyspace: keyspace(rng),
                lo: bound(rng),
                hi: bound(rng),
                reverse: rng.random_bool(0.5),
            },
            96.. => Op::Checkpoint,
            _ => Op::SnapshotReadIn {
                which: rng.random_range(0..4),
                keyspace: keyspace(rng),
                key: key(rng),
                lo: bound(rng),
                hi: bound(rng),
                reverse: rng.random_bool(0.5),
            },
        }
    }
}

impl Op {
    /// A TTL operation, drawn from its own generator (see [`Workload::generate`]).
    fn generate_ttl_op(rng: &mut SmallRng, setup: &Setup) -> Op {
        let n_keys = setup.n_keys;
        let key = |rng: &mut SmallRng| rng.random_range(0..n_keys);
        let value_len = |rng: &mut SmallRng| rng.random_range(0..=setup.max_value_len);
        let expiring: Vec<u8> = (0..KEYSPACES.len() as u8)
            .filter(|&ks| setup.ttl[usize::from(ks)].is_on())
            .collect();
        let some_expiring = |rng: &mut SmallRng| expiring[rng.random_range(0..expiring.len())];
        match rng.random_range(0..100) {
            // Mostly into a keyspace that expires; sometimes into any, which may refuse.
            0..55 => Op::PutWithTtl {
                keyspace: if rng.random_bool(0.9) {
                    some_expiring(rng)
                } else {
                    rng.random_range(0..KEYSPACES.len() as u8)
                },
                key: key(rng),
                value_len: value_len(rng),
                ttl_ms: ttl_ms(rng),
            },
            _ => {
                let n = rng.random_range(2..=8);
                Op::BatchWithTtl(
                    (0..n)
                        .map(|_| {
                            let ks = rng.random_range(0..KEYSPACES.len() as u8);
                            let k = key(rng);
                            let ttl = (setup.ttl[usize::from(ks)].is_on() && rng.random_bool(0.6))
                                .then(|| ttl_ms(rng));
                            let v = rng.random_bool(0.8).then(|| (value_len(rng), ttl));
                            (ks, k, v)
                        })
                        .collect(),
                )
            }
        }
    }
}

impl Op {
    /// A transaction, drawn from its own generator (see [`Workload::generate`]).
    fn generate_txn_op(rng: &mut SmallRng, setup: &Setup) -> Op {
        let n_keys = setup.n_keys;
        let key = |rng: &mut SmallRng| rng.random_range(0..n_keys);
        let value_len = |rng: &mut SmallRng| rng.random_range(0..=setup.max_value_len);
        // Half the steps in the default keyspace, so most transactions touch it, and
        // many span it and another.
        let keyspace = |rng: &mut SmallRng| match rng.random_bool(0.5) {
            true => 0,
            false => rng.random_range(1..KEYSPACES.len() as u8),
        };
        let n_steps = rng.random_range(1..=8);
        let steps: Vec<TxnStep> = (0..n_steps)
            .map(|_| match rng.random_range(0..100) {
                0..30 => TxnStep::Get {
                    keyspace: keyspace(rng),
                    key: key(rng),
                    snapshot: rng.random_bool(0.2),
                },
                30..45 => TxnStep::Scan {
                    keyspace: keyspace(rng),
                    lo: bound(rng, n_keys),
                    hi: bound(rng, n_keys),
                    reverse: rng.random_bool(0.5),
                },
                45..85 => TxnStep::Put {
                    keyspace: keyspace(rng),
                    key: key(rng),
                    value_len: value_len(rng),
                },
                _ => TxnStep::Delete {
                    keyspace: keyspace(rng),
                    key: key(rng),
                },
            })
            .collect();
        let outcome = match rng.random_range(0..100) {
            0..55 => TxnOutcome::Commit,
            55..70 => TxnOutcome::Abandon,
            _ => {
                // Mostly a key the transaction touches, so that conflicts are common;
                // sometimes any key, which mostly does not conflict.
                let touched = |s: &TxnStep| match *s {
                    TxnStep::Get { keyspace, key, .. }
                    | TxnStep::Put { keyspace, key, .. }
                    | TxnStep::Delete { keyspace, key } => Some((keyspace, key)),
                    TxnStep::Scan { .. } => None,
                };
                let touched: Vec<(u8, u16)> = steps.iter().filter_map(touched).collect();
                let (ks, k) = match touched.is_empty() || rng.random_bool(0.3) {
                    true => (keyspace(rng), key(rng)),
                    false => touched[rng.random_range(0..touched.len())],
                };
                TxnOutcome::Interfere {
                    at: rng.random_range(0..=steps.len()),
                    keyspace: ks,
                    key: k,
                    value_len: rng.random_bool(0.8).then(|| value_len(rng)),
                }
            }
        };
        Op::Txn(TxnOp {
            snapshot_isolation: rng.random_bool(0.2),
            sync: match rng.random_range(0..5) {
                0 => Some(true),
                1 => Some(false),
                _ => None,
            },
            steps,
            outcome,
        })
    }
}

/// A put's own time to live, in milliseconds: at once, within a few operations, or
/// long after (the simulated clock moves a few hundred milliseconds an operation on
/// average, see [`tick_ms`]).
fn ttl_ms(rng: &mut SmallRng) -> u64 {
    match rng.random_range(0..10) {
        0 => 0,
        1..4 => rng.random_range(1..=1_000),
        4..8 => rng.random_range(1_000..=10_000),
        _ => rng.random_range(10_000..=100_000),
    }
}

/// How far the simulated clock moves before `op` runs, in milliseconds: mostly a little,
/// sometimes seconds, past most TTLs; before a compaction often that much, so that
/// compactions meet values that have expired since they were written.
fn tick_ms(rng: &mut SmallRng, op: &Op) -> u64 {
    let compaction = matches!(op, Op::Compact | Op::CompactRange { .. });
    if compaction && rng.random_bool(0.5) {
        return rng.random_range(2_000..=30_000);
    }
    match rng.random_range(0..100) {
        0..66 => rng.random_range(0..=20),
        66..96 => rng.random_range(20..=300),
        _ => rng.random_range(1_000..=15_000),
    }
}

/// A scan bound over key indices below `n_keys`: unbounded, included or excluded.
fn bound(rng: &mut SmallRng, n_keys: u16) -> Bound<u16> {
    match rng.random_range(0..3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(rng.random_range(0..n_keys)),
        _ => Bound::Excluded(rng.random_range(0..n_keys)),
    }
}

/// The key with index `k`: `k0000`, `k0001`, ...
pub fn key(k: u16) -> Vec<u8> {
    format!("k{k:04}").into_bytes()
}

/// The value step `step` writes (entry `entry` of a batch, 0 for a put) with `len` filler
/// bytes: `s000042.0:` and then filler, so a value read back names the step that wrote it.
pub fn value(step: usize, entry: usize, len: u16) -> Vec<u8> {
    let mut v = format!("s{step:06}.{entry}:").into_bytes();
    // The filler varies with the step, so blocks do not all compress alike.
    let fill = b'a' + (step % 26) as u8;
    v.resize(v.len() + usize::from(len), fill);
    v
}

/// Everything a seed stands for. [`Workload::generate`] is a pure function: the same seed
/// and config give an equal `Workload`, on any machine with the same build.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Workload {
    /// The seed it was drawn from. It also seeds the [`ferris_fs::SimFs`], which decides
    /// what unsynced data a power cut keeps.
    pub seed: u64,
    /// The engine's settings.
    pub setup: Setup,
    /// The operations, run in order from one thread: [`SimConfig::ops_per_seed`] of the
    /// main mix, with keyspace operations ([`KEYSPACE_SHARE`]), TTL operations
    /// ([`TTL_SHARE`]) and transactions ([`TXN_SHARE`]) between them.
    pub ops: Vec<Op>,
    /// How far the simulated clock moves before each operation, in milliseconds, one
    /// entry per entry of `ops`. The clock starts at [`CLOCK_START`] and only moves
    /// forwards: a power cut does not turn it back.
    pub ticks_ms: Vec<u64>,
    /// The power cuts, in order: the first fails the power after that many file-system
    /// operations counted from the first `Db::open` (background threads' included), each
    /// later one after that many counted from the restart before it, so a small one lands
    /// inside recovery. Empty when the config asks for no cuts. When the workload ends
    /// before a cut lands, the disk is crashed at its end instead.
    pub cuts: Vec<u64>,
}

/// A little under the file-system operations one workload operation costs, on average
/// over seeds (`cargo xtask sim --no-cut` prints that figure). First cuts are drawn below
/// the main operations' count times `FS_OPS_PER_OP`, so they land inside the workload nearly always, and
/// spread over all of it.
pub const FS_OPS_PER_OP: u64 = 9;

impl Workload {
    /// The workload of `seed`.
    pub fn generate(seed: u64, config: &SimConfig) -> Workload {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut setup = Setup::generate(&mut rng);
        // TTL draws come from a generator of their own, as the keyspace operations do
        // (below), so what a seed drew before TTL existed is unchanged.
        let mut ttl_rng = SmallRng::seed_from_u64(seed ^ 0x7474_6c5f_636c_6f63);
        setup.ttl = Setup::generate_ttl(&mut ttl_rng);
        let main = (0..config.ops_per_seed)
            .map(|_| Op::generate(&mut rng, &setup))
            .collect::<Vec<_>>();
        // Keyspace operations come from a generator of their own, slotted in between, so
        // the seed's main operations, settings and cut counts are what they were before
        // keyspaces existed: the seeds still exercise what they did.
        let mut keyspace_rng = SmallRng::seed_from_u64(seed ^ 0x6b65_7973_7061_6365);
        // Transactions come from a fourth generator, for the same reason.
        let mut txn_rng = SmallRng::seed_from_u64(seed ^ 0x7472_616e_7361_6374);
        let mut ops = Vec::with_capacity(main.len() * 4 / 3);
        for op in &main {
            ops.push(op.clone());
            if keyspace_rng.random_bool(KEYSPACE_SHARE) {
                ops.push(Op::generate_keyspace_op(&mut keyspace_rng, &setup));
            }
            if ttl_rng.random_bool(TTL_SHARE) {
                ops.push(Op::generate_ttl_op(&mut ttl_rng, &setup));
            }
            if txn_rng.random_bool(TXN_SHARE) {
                ops.push(Op::generate_txn_op(&mut txn_rng, &setup));
            }
        }
        // A transaction's tick comes from its own generator too, so the clock moves
        // before every other operation as it did before transactions existed.
        let ticks_ms = (ops.iter())
            .map(|op| match op {
                Op::Txn(_) => tick_ms(&mut txn_rng, op),
                _ => tick_ms(&mut ttl_rng, op),
            })
            .collect();
        // The cuts are drawn over the main operations alone, as they always were.
        let horizon = (main.len() as u64 * FS_OPS_PER_OP).max(1);
        let n_cuts = match config.max_cuts {
            0 => 0,
            max => rng.random_range(1..=max),
        };
        let cuts = (0..n_cuts)
            .map(|i| match i {
                0 => rng.random_range(0..horizon),
                // A third of the later cuts come so soon after the restart that many land
                // inside the recovery from the cut before (`cargo xtask sim` counts
                // them).
                _ if rng.random_bool(1.0 / 3.0) => rng.random_range(0..40),
                _ => rng.random_range(0..horizon / n_cuts as u64 + 1),
            })
            .collect();
        Workload {
            seed,
            setup,
            ops,
            ticks_ms,
            cuts,
        }
    }

    /// A 64-bit digest of the whole workload (FNV-1a over its debug form), to compare two
    /// runs of a seed at a glance.
    pub fn digest(&self) -> u64 {
        let text = format!("{self:?}");
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

impl fmt::Display for Workload {
    /// The workload, one operation a line, for reading a failing seed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed {}: {:?}", self.seed, self.setup)?;
        writeln!(
            f,
            "power cuts after {:?} file-system operations (each counted from the restart \
             before it), and a crash at the end",
            self.cuts
        )?;
        for (i, (op, tick)) in self.ops.iter().zip(&self.ticks_ms).enumerate() {
            writeln!(f, "{i:5} +{tick}ms {op:?}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_keyspace_op(op: &Op) -> bool {
        matches!(
            op,
            Op::CreateKeyspace { .. }
                | Op::DropKeyspace { .. }
                | Op::PutIn { .. }
                | Op::DeleteIn { .. }
                | Op::BatchIn(_)
                | Op::GetIn { .. }
                | Op::ScanIn { .. }
                | Op::SnapshotReadIn { .. }
                | Op::Checkpoint
        )
    }

    fn is_ttl_op(op: &Op) -> bool {
        matches!(op, Op::PutWithTtl { .. } | Op::BatchWithTtl(_))
    }

    #[test]
    fn keyspace_operations_are_a_modest_share_beside_the_main_mix() {
        let config = SimConfig::default();
        let (mut main, mut keyspace) = (0, Vec::new());
        for seed in 0..200 {
            let w = Workload::generate(seed, &config);
            let ops = (w.ops.iter()).filter(|op| !is_ttl_op(op) && !matches!(op, Op::Txn(_)));
            let (ks, rest): (Vec<&Op>, Vec<&Op>) = ops.partition(|op| is_keyspace_op(op));
            // The main operations are all there, whatever came between them.
            assert_eq!(rest.len(), config.ops_per_seed, "seed {seed}");
            main += rest.len();
            keyspace.extend(ks.into_iter().cloned());
        }
        let share = keyspace.len() as f64 / main as f64;
        assert!((0.1..0.2).contains(&share), "keyspace share {share}");
        let count = |f: fn(&Op) -> bool| keyspace.iter().filter(|op| f(op)).count();
        assert!(count(|o| matches!(o, Op::CreateKeyspace { .. })) > 300);
        assert!(count(|o| matches!(o, Op::DropKeyspace { .. })) > 100);
        assert!(count(|o| matches!(o, Op::PutIn { .. } | Op::DeleteIn { .. })) > 300);
        // Batches that span several keyspaces.
        let spanning = |o: &Op| match o {
            Op::BatchIn(entries) => entries.iter().any(|e| e.0 != entries[0].0),
            _ => false,
        };
        assert!(count(spanning) > 300);
        assert!(count(|o| matches!(o, Op::GetIn { .. } | Op::ScanIn { .. })) > 200);
        assert!(count(|o| matches!(o, Op::SnapshotReadIn { .. })) > 50);
        assert!(count(|o| matches!(o, Op::Checkpoint)) > 50);
    }

    #[test]
    fn ttl_operations_write_expiring_values_on_a_clock_that_passes_them() {
        let config = SimConfig::default();
        let (mut ttl_ops, mut main, mut refused, mut own_ttl_in_batches) = (0, 0, 0, 0);
        let (mut default_expires, mut jumps_before_compaction) = (0, 0);
        for seed in 0..200 {
            let w = Workload::generate(seed, &config);
            assert_eq!(w.ticks_ms.len(), w.ops.len(), "seed {seed}");
            assert!(w.setup.ttl[2].is_on(), "green always expires");
            default_expires += usize::from(w.setup.ttl[0].is_on());
            main += (w.ops.iter())
                .filter(|op| !is_ttl_op(op) && !matches!(op, Op::Txn(_)))
                .count();
            for (op, tick) in w.ops.iter().zip(&w.ticks_ms) {
                match op {
                    Op::PutWithTtl { keyspace, .. } => {
                        ttl_ops += 1;
                        refused += usize::from(!w.setup.ttl[usize::from(*keyspace)].is_on());
                    }
                    Op::BatchWithTtl(entries) => {
                        ttl_ops += 1;
                        own_ttl_in_batches += entries
                            .iter()
                            .filter(|(_, _, v)| matches!(v, Some((_, Some(_)))))
                            .count();
                    }
                    Op::Compact | Op::CompactRange { .. } if *tick >= 2_000 => {
                        jumps_before_compaction += 1;
                    }
                    _ => {}
                }
            }
        }
        let share = ttl_ops as f64 / main as f64;
        assert!((0.05..0.12).contains(&share), "TTL share {share}");
        assert!(
            refused > 20,
            "{refused} puts with a TTL where none is allowed"
        );
        assert!(own_ttl_in_batches > 300, "{own_ttl_in_batches}");
        assert!((20..100).contains(&default_expires), "{default_expires}");
        assert!(jumps_before_compaction > 500, "{jumps_before_compaction}");
    }

    #[test]
    fn transactions_are_a_modest_share_with_every_outcome() {
        let config = SimConfig::default();
        let (mut txns, mut main) = (Vec::new(), 0);
        for seed in 0..200 {
            let w = Workload::generate(seed, &config);
            for op in &w.ops {
                match op {
                    Op::Txn(t) => txns.push(t.clone()),
                    _ => main += 1,
                }
            }
        }
        let share = txns.len() as f64 / main as f64;
        assert!((0.04..0.1).contains(&share), "transaction share {share}");
        let count = |f: &dyn Fn(&TxnOp) -> bool| txns.iter().filter(|t| f(t)).count();
        assert!(count(&|t| t.outcome == TxnOutcome::Commit) > 300);
        assert!(count(&|t| t.outcome == TxnOutcome::Abandon) > 100);
        assert!(count(&|t| matches!(t.outcome, TxnOutcome::Interfere { .. })) > 150);
        assert!(count(&|t| t.snapshot_isolation) > 80);
        assert!(count(&|t| t.sync == Some(false)) > 80);
        let keyspace = |s: &TxnStep| match *s {
            TxnStep::Get { keyspace, .. }
            | TxnStep::Scan { keyspace, .. }
            | TxnStep::Put { keyspace, .. }
            | TxnStep::Delete { keyspace, .. } => keyspace,
        };
        let spans = |t: &TxnOp| t.steps.iter().any(|s| keyspace(s) != keyspace(&t.steps[0]));
        assert!(count(&spans) > 300);
    }

    /// Transactions come from a generator of their own, and so do their clock ticks: with
    /// them taken out, a seed's workload is exactly what it was before they existed, so
    /// the seeds still exercise what they did. The digests are those of the workloads
    /// generated before transactions were added (they change if `rand` changes
    /// `SmallRng`'s stream).
    #[test]
    fn without_its_transactions_a_seed_generates_what_it_did_before_them() {
        let config = SimConfig::default();
        let before = [
            (0, 0xa368_0416_1668_32e4),
            (1, 0xd06d_f825_c191_8c4a),
            (7, 0x60fb_b935_c544_b13b),
            (1234, 0x8708_7b0a_d813_1c8c),
            (99_999, 0x78f2_59d5_83ab_671c),
        ];
        for (seed, digest) in before {
            let mut w = Workload::generate(seed, &config);
            let txn: Vec<bool> = w.ops.iter().map(|op| matches!(op, Op::Txn(_))).collect();
            assert!(txn.iter().any(|&t| t), "seed {seed} has transactions");
            let mut flags = txn.iter();
            w.ops.retain(|_| !flags.next().expect("a flag per op"));
            let mut flags = txn.iter();
            w.ticks_ms
                .retain(|_| !flags.next().expect("a flag per tick"));
            assert_eq!(w.digest(), digest, "seed {seed}");
        }
    }
}
