//! The one interface every engine under test is driven through, and FerrisDB's side of it.
//!
//! Each engine gets the same [`Settings`]: the same sync mode, compression, block-cache size,
//! memtable size and bloom-filter bits per key. The peers' adapters live in `peers.rs`,
//! each behind its cargo feature.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Settings every engine is opened with, so their figures can be compared.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Each write (or batch, with `--batch`) is fsync'd before it returns.
    pub sync: bool,
    /// Block compression: `none`, or `zstd` where the engine has it.
    pub compression: Codec,
    /// Bytes of block cache (RocksDB's LRU cache, fjall's cache, sled's page cache).
    pub cache_bytes: u64,
    /// Bytes of the active memtable before it is frozen and flushed.
    pub memtable_bytes: u64,
    /// Bloom filter bits per key (sled has no filters).
    pub bloom_bits_per_key: u32,
    /// FerrisDB only: memory-map tables instead of reading them with `pread` (its
    /// default); the mapped pages a scan or a compaction touches then count in RSS.
    pub mmap: bool,
    /// Keyspaces to open beside the default one (FerrisDB's keyspaces, RocksDB's column
    /// families, fjall's keyspaces), each with the settings above, for
    /// [`Engine::write_in`]. Set by the `keyspaces` workload, not on the command line.
    pub keyspaces: usize,
    /// How long the default keyspace's values live after they are written, `None` for
    /// values that never expire (FerrisDB's `Ttl::On { default }`, RocksDB's
    /// `DBWithTTL`). Set by the TTL workloads, not on the command line; engines without
    /// expiring values skip those ([`EngineKind::has_ttl`]).
    pub ttl: Option<Duration>,
}

/// A block compression codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// No compression.
    None,
    /// zstd (fjall has only lz4 and uses that instead; the settings line says so).
    Zstd,
}

impl FromStr for Codec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Codec, String> {
        match s {
            "none" | "off" => Ok(Codec::None),
            "zstd" => Ok(Codec::Zstd),
            other => Err(format!("unknown compression {other:?}: use none or zstd")),
        }
    }
}

/// The engines this crate can drive. The peers are compiled only with their feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    /// FerrisDB, always built.
    Ferris,
    /// RocksDB through the `rocksdb` crate (feature `rocksdb`).
    Rocksdb,
    /// fjall (feature `fjall`).
    Fjall,
    /// sled (feature `sled`).
    Sled,
}

impl EngineKind {
    /// The name used on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Ferris => "ferrisdb",
            EngineKind::Rocksdb => "rocksdb",
            EngineKind::Fjall => "fjall",
            EngineKind::Sled => "sled",
        }
    }

    /// Whether the engine takes checkpoints while it runs (fjall 3.1 and sled have no
    /// such call).
    pub fn has_checkpoint(self) -> bool {
        matches!(self, EngineKind::Ferris | EngineKind::Rocksdb)
    }

    /// Whether the engine deletes a key range with one call (fjall 3.1 and sled do not).
    pub fn has_delete_range(self) -> bool {
        matches!(self, EngineKind::Ferris | EngineKind::Rocksdb)
    }

    /// Whether the engine expires values by age (FerrisDB's TTL, RocksDB's `DBWithTTL`;
    /// fjall 3.1 and sled have none).
    pub fn has_ttl(self) -> bool {
        matches!(self, EngineKind::Ferris | EngineKind::Rocksdb)
    }

    /// Whether the engine has optimistic transactions the transaction workloads drive
    /// (FerrisDB's `Db::transaction`, RocksDB's `OptimisticTransactionDB`, fjall's
    /// `OptimisticTxDatabase`; sled's transactions are not driven here).
    pub fn has_transactions(self) -> bool {
        matches!(
            self,
            EngineKind::Ferris | EngineKind::Rocksdb | EngineKind::Fjall
        )
    }

    /// Whether this build can run the engine (its feature is on).
    pub fn available(self) -> bool {
        match self {
            EngineKind::Ferris => true,
            EngineKind::Rocksdb => cfg!(feature = "rocksdb"),
            EngineKind::Fjall => cfg!(feature = "fjall"),
            EngineKind::Sled => cfg!(feature = "sled"),
        }
    }
}

impl FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<EngineKind, String> {
        match s {
            "ferrisdb" | "ferris" => Ok(EngineKind::Ferris),
            "rocksdb" => Ok(EngineKind::Rocksdb),
            "fjall" => Ok(EngineKind::Fjall),
            "sled" => Ok(EngineKind::Sled),
            other => Err(format!(
                "unknown engine {other:?}: use ferrisdb, rocksdb, fjall or sled"
            )),
        }
    }
}

/// One key-value pair of a batch.
pub type Entry<'a> = (&'a [u8], &'a [u8]);

/// One key-value pair of a batch, in keyspace number `.0` (of [`Settings::keyspaces`]).
pub type KeyspaceEntry<'a> = (usize, &'a [u8], &'a [u8]);

/// What a read handed back, as its caller would use it: how many entries, their key and
/// value bytes, and a CRC-32C of those bytes. Every engine's adapter builds one from the
/// slices the engine gives it, so every read loop touches every byte it gets, on every
/// engine alike: a scan that only counted entries would measure an engine's cursor
/// moves, not what a caller pays to read through it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Entries read (one for a point read).
    pub entries: usize,
    /// Key and value bytes read (only the value's for a point read: the caller has the key).
    pub bytes: usize,
    /// CRC-32C over the bytes, in the order read.
    pub crc: u32,
}

impl Seen {
    /// A point read's value.
    pub fn value(value: &[u8]) -> Seen {
        Seen {
            entries: 1,
            bytes: value.len(),
            crc: crc32c::crc32c(value),
        }
    }

    /// Adds one entry of a scan.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        self.entries += 1;
        self.bytes += key.len() + value.len();
        self.crc = crc32c::crc32c_append(crc32c::crc32c_append(self.crc, key), value);
    }
}

/// What the workloads need of an engine. Every call is made from several threads at once
/// when `--threads` is above one.
pub trait Engine: Send + Sync {
    /// Writes every entry as one atomic batch (one entry for plain puts), synced when the
    /// settings say so.
    fn write(&self, entries: &[Entry<'_>]) -> Result<()>;

    /// `key`'s value as [`Seen`], or `None` when the key is absent. The value's bytes are
    /// read where the engine hands them over (a pinned slice where it has one), not
    /// copied into a buffer of the bench's.
    fn get(&self, key: &[u8]) -> Result<Option<Seen>>;

    /// `keys`' values, in order, as [`Engine::get`] gives them, read in one call where the
    /// engine has a batched read. The default is a loop of `get`, for engines without one.
    fn multi_get(&self, keys: &[&[u8]]) -> Result<Vec<Option<Seen>>> {
        keys.iter().map(|key| self.get(key)).collect()
    }

    /// Writes every entry, each into its keyspace, as one atomic batch (one entry for a
    /// plain put), synced when the settings say so. `None` for engines without keyspaces
    /// whose batches span them atomically (sled: its trees take a transaction instead).
    fn write_in(&self, entries: &[KeyspaceEntry<'_>]) -> Option<Result<()>> {
        let _ = entries;
        None
    }

    /// Deletes `key`, synced when the settings say so.
    fn delete(&self, key: &[u8]) -> Result<()>;

    /// Deletes every key from `from` (inclusive) to `to` (exclusive) with the engine's
    /// range delete, synced when the settings say so. `None` for engines without one
    /// (fjall 3.1, sled).
    fn delete_range(&self, from: &[u8], to: &[u8]) -> Option<Result<()>> {
        let _ = (from, to);
        None
    }

    /// Seeks to the first key at or after `start` and reads up to `n` entries forward,
    /// each key and value ([`Seen::add`]).
    fn scan(&self, start: &[u8], n: usize) -> Result<Seen>;

    /// Reads every entry, forward or in reverse, each key and value ([`Seen::add`]).
    fn scan_all(&self, reverse: bool) -> Result<Seen>;

    /// Writes a checkpoint (a copy that opens as a database, taken while the engine runs)
    /// into `target`, a directory that does not exist yet. `None` for engines without one.
    fn checkpoint(&self, target: &Path) -> Option<Result<()>> {
        let _ = target;
        None
    }

    /// Runs a full manual compaction of the default keyspace and waits for it (FerrisDB's
    /// `Db::compact`, RocksDB's `CompactRange` over every key). `None` for engines without
    /// one the workloads use.
    fn compact(&self) -> Option<Result<()>> {
        None
    }

    /// What the engine itself reports about its state, for the notes column (empty for
    /// engines that report nothing comparable).
    fn stats_note(&self) -> String {
        String::new()
    }

    /// Closes the engine, waiting for what it must finish.
    fn close(self: Box<Self>) -> Result<()>;
}

/// Opens `kind` in `dir` (a fresh directory) with `settings`.
pub fn open(kind: EngineKind, dir: &Path, settings: &Settings) -> Result<Box<dyn Engine>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    match kind {
        EngineKind::Ferris => Ok(Box::new(Ferris::open(dir, settings)?)),
        #[cfg(feature = "rocksdb")]
        EngineKind::Rocksdb => Ok(Box::new(crate::peers::Rocks::open(dir, settings)?)),
        #[cfg(feature = "fjall")]
        EngineKind::Fjall => Ok(Box::new(crate::peers::Fjall::open(dir, settings)?)),
        #[cfg(feature = "sled")]
        EngineKind::Sled => Ok(Box::new(crate::peers::Sled::open(dir, settings)?)),
        #[allow(unreachable_patterns)]
        other => bail!(
            "{} is not built in: run `cargo xtask bench --compare {}` (it enables the feature)",
            other.name(),
            other.name()
        ),
    }
}

/// FerrisDB through its public API, as any user would call it.
struct Ferris {
    db: ferris_engine::Db,
    keyspaces: Vec<ferris_engine::Keyspace>,
}

/// FerrisDB's options for `settings`: the same for the plain workloads and for the
/// transaction workloads (`txn.rs`), which open the same `Db` type.
pub(crate) fn ferris_options(settings: &Settings) -> Result<ferris_engine::Options> {
    let mut options = ferris_engine::Options::default();
    options.sync_writes = settings.sync;
    options.block_cache_size = settings.cache_bytes;
    options.write_buffer_size = usize::try_from(settings.memtable_bytes)?;
    options.bloom_bits_per_key = settings.bloom_bits_per_key as usize;
    if settings.mmap {
        let mut fs = ferris_fs::StdFsOptions::default();
        fs.mmap = true;
        options.file_system = std::sync::Arc::new(ferris_fs::StdFs::with_options(fs));
    }
    options.compression = match settings.compression {
        Codec::None => ferris_engine::Compression::None,
        Codec::Zstd => ferris_engine::Compression::Zstd,
    };
    if let Some(ttl) = settings.ttl {
        options.ttl = ferris_engine::Ttl::On { default: Some(ttl) };
    }
    Ok(options)
}

impl Ferris {
    fn open(dir: &Path, settings: &Settings) -> Result<Ferris> {
        let db = ferris_engine::Db::open(dir, ferris_options(settings)?)?;
        let keyspaces = (0..settings.keyspaces)
            .map(|i| db.keyspace(&format!("ks{i}")))
            .collect::<Result<_, _>>()?;
        Ok(Ferris { db, keyspaces })
    }
}

impl Engine for Ferris {
    fn write(&self, entries: &[Entry<'_>]) -> Result<()> {
        if let [(key, value)] = entries {
            self.db.put(key, value)?;
        } else {
            let mut batch = ferris_engine::WriteBatch::new();
            for (key, value) in entries {
                batch.put(key, value);
            }
            self.db.write(batch)?;
        }
        Ok(())
    }

    fn write_in(&self, entries: &[KeyspaceEntry<'_>]) -> Option<Result<()>> {
        let result = if let [(ks, key, value)] = entries {
            self.keyspaces[*ks].put(key, value)
        } else {
            let mut batch = ferris_engine::WriteBatch::new();
            for (ks, key, value) in entries {
                batch.put_in(self.keyspaces[*ks].id(), key, value);
            }
            self.db.write(batch)
        };
        Some(result.map_err(Into::into))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Seen>> {
        Ok(self.db.get(key)?.map(|v| Seen::value(&v)))
    }

    fn delete_range(&self, from: &[u8], to: &[u8]) -> Option<Result<()>> {
        Some(self.db.delete_range(from..to).map_err(Into::into))
    }

    fn checkpoint(&self, target: &Path) -> Option<Result<()>> {
        Some(self.db.checkpoint(target).map(drop).map_err(Into::into))
    }

    fn compact(&self) -> Option<Result<()>> {
        Some(self.db.compact().map_err(Into::into))
    }

    fn multi_get(&self, keys: &[&[u8]]) -> Result<Vec<Option<Seen>>> {
        let values = self.db.multi_get(keys)?;
        Ok(values
            .into_iter()
            .map(|v| v.map(|v| Seen::value(&v)))
            .collect())
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        Ok(self.db.delete(key)?)
    }

    fn scan(&self, start: &[u8], n: usize) -> Result<Seen> {
        let mut seen = Seen::default();
        for entry in self.db.range(start..)?.take(n) {
            let (key, value) = entry?;
            seen.add(&key, &value);
        }
        Ok(seen)
    }

    fn scan_all(&self, reverse: bool) -> Result<Seen> {
        let iter = self.db.iter()?;
        let mut seen = Seen::default();
        if reverse {
            for entry in iter.rev() {
                let (key, value) = entry?;
                seen.add(&key, &value);
            }
        } else {
            for entry in iter {
                let (key, value) = entry?;
                seen.add(&key, &value);
            }
        }
        Ok(seen)
    }

    /// Level-0 tables now, flushes and compactions so far, and write stalls: the stop
    /// trigger was never reached while `stops` reads 0.
    fn stats_note(&self) -> String {
        let s = self.db.stats();
        format!(
            "L0 {} tables, {} flushes, {} compactions, {} slowdowns, {} stops",
            s.levels.first().map_or(0, |l| l.files),
            s.flushes,
            s.compactions,
            s.slowdowns,
            s.stalls
        )
    }

    fn close(self: Box<Self>) -> Result<()> {
        Ok(self.db.close()?)
    }
}
