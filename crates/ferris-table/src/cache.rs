//! The block cache: decoded blocks shared by every open table, whatever its format.
//!
//! Reading a data block costs a copy out of the page cache, a checksum, and for a
//! compressed block a decompression. A hot block read a thousand times a second should pay
//! that once. The block cache keeps verified, decompressed blocks in memory, up to a
//! capacity in bytes, shared by all tables (one cache per database, not per table, so the
//! memory bound holds however many tables are open).
//!
//! ## Why `quick_cache`
//!
//! A block cache is hit by every reader thread, so a single global LRU list under one mutex
//! becomes the bottleneck. `quick_cache` is sharded (many locks, each guarding a part of the
//! keys), weighs entries by a caller-given size (so the capacity is in bytes, not in
//! blocks), and evicts with a scan-resistant policy (CLOCK-Pro), which keeps one full table
//! scan from flushing every hot block. Writing that well is its own project; the cache is not
//! what FerrisDB sets out to teach, the formats and the LSM tree are.
//!
//! Keys are `(table id, block offset)`. Every opened table takes a fresh id from
//! [`BlockCache::next_table_id`], a process-wide counter, so two tables never share
//! entries, and a reopened file starts cold rather than trusting blocks cached under an
//! old id. Values are a block's bytes as its format decoded them: verified against their
//! checksum and decompressed, so a hit skips both.

use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use bytes::Bytes;
use ferris_core::Result;

/// Bytes charged per cached block beyond its data: the key, the `Bytes` handle, and the
/// cache's own bookkeeping, rounded up.
const ENTRY_OVERHEAD: u64 = 64;

/// A shared cache of decoded blocks with a capacity in bytes.
pub struct BlockCache {
    cache: Cache<(u64, u64), Bytes, BlockWeighter>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("stats", &self.stats())
            .finish()
    }
}

/// What a [`BlockCache`] holds and how well it is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that had to read the block.
    pub misses: u64,
    /// Bytes held now (blocks plus per-entry overhead).
    pub bytes: u64,
    /// The capacity in bytes.
    pub capacity: u64,
}

impl CacheStats {
    /// Hits over lookups, or 0 before any lookup.
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct BlockWeighter;

impl Weighter<(u64, u64), Bytes> for BlockWeighter {
    fn weight(&self, _key: &(u64, u64), block: &Bytes) -> u64 {
        block.len() as u64 + ENTRY_OVERHEAD
    }
}

impl BlockCache {
    /// A cache holding up to `capacity_bytes` of blocks.
    pub fn new(capacity_bytes: u64) -> BlockCache {
        // The item estimate only sizes the initial tables; 4 KiB is the default block size.
        let estimated_items = usize::try_from(capacity_bytes / 4096)
            .unwrap_or(usize::MAX)
            .max(16);
        BlockCache {
            cache: Cache::with_weighter(estimated_items, capacity_bytes, BlockWeighter),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Hits, misses, bytes held and capacity.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bytes: self.cache.weight(),
            capacity: self.cache.capacity(),
        }
    }

    /// The cached block of `table_id` at `offset`, or the one `load` reads. With `fill`,
    /// a block that had to be read is then cached; without, it is used once and dropped,
    /// so a read that will not come back (a compaction's) evicts nothing.
    ///
    /// # Errors
    ///
    /// Whatever `load` returns.
    pub fn get_or_load(
        &self,
        table_id: u64,
        offset: u64,
        fill: bool,
        load: impl FnOnce() -> Result<Bytes>,
    ) -> Result<Bytes> {
        if let Some(block) = self.cache.get(&(table_id, offset)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(block);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let block = load()?;
        if fill {
            self.cache.insert((table_id, offset), block.clone());
        }
        Ok(block)
    }

    /// A process-wide unique id for a table being opened: the first half of its blocks'
    /// keys.
    pub fn next_table_id() -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }
}
