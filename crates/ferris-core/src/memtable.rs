//! The memtable contract: what the engine asks of the in-memory sorted buffer.
//!
//! Every write lands in a memtable after the WAL has it, and stays there until the
//! memtable is full and flushed to a table. The engine needs four things of it, and
//! [`Memtable`] is exactly those four:
//!
//! 1. **apply a batch**: insert each entry of a write batch under its own sequence
//!    number, while readers read (the engine's write-group leader is the only writer at a
//!    time, but reads never stop);
//! 2. **a point lookup at a sequence number**: the newest version of a key no newer than
//!    the reader's snapshot, which is either a value or a tombstone;
//! 3. **iterate**: every version, in internal-key order, through an [`InternalIterator`]
//!    that owns what it needs (scans and flushes hold it for as long as they run);
//! 4. **an approximate size**, which decides when the memtable is full.
//!
//! `ferris-memtable` has two: a skip list whose readers take no lock, the default, and a `BTreeMap` behind
//! a lock, written to be read. The engine creates memtables through the
//! [`MemtableFactory`] in its options, so either (or one of your own) can be plugged in.
//!
//! # The contract
//!
//! - **Versions are kept, not replaced.** Applying a put for a key that already has a
//!   version adds a version; a delete adds a tombstone. Hiding the older versions is the
//!   reader's job, by sequence number.
//! - **Visibility.** [`Memtable::get`] at `snapshot` answers from versions with sequence
//!   numbers at most `snapshot`, and the newest of them decides: [`Lookup::Value`] or
//!   [`Lookup::Deleted`]. `None` means no version that old exists here, and the reader must
//!   ask older layers. A tombstone is an answer, not an absence.
//! - **Concurrency.** Every method takes `&self`; lookups and iterators may run while a
//!   batch is applied. A reader sees each entry whole or not at all. The engine publishes
//!   a group's sequence numbers only after the whole group is applied, so a reader bounded
//!   by its snapshot never sees half a batch; the memtable itself need not make batches
//!   atomic.
//! - **Iteration** follows the [`InternalIterator`](crate::iter) contract. An iterator may
//!   or may not see entries applied after it was created.
//! - **Memory.** [`Memtable::approximate_size`] only grows as entries are applied, and is
//!   close enough to the memory held that the engine's write buffer bounds it.
//! - **Range deletes.** A batch entry of kind [`BatchOp::DeleteRange`](crate::BatchOp)
//!   adds a range tombstone ([`crate::range_del`]), kept apart from the versions:
//!   [`Memtable::range_tombstones`] hands them over fragmented (for scans, flushes and
//!   checkpoints), and [`Memtable::get`] honours them, answering [`Lookup::Deleted`] for a
//!   key under a tombstone newer than the key's newest version here
//!   ([`Tombstones::resolve`](crate::range_del::Tombstones::resolve)). [`Memtable::iter`]
//!   yields versions only. [`Memtable::len`] counts tombstones too, so a memtable holding
//!   only a range delete is not empty, and is flushed.
//! - **No I/O.** A power cut loses the memtable, and recovery rebuilds it from the WAL:
//!   nothing here needs to be durable.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::batch::BatchIter;
use crate::iter::InternalIterator;
use crate::key::SeqNo;
use crate::range_del::Tombstones;

/// What a point lookup found for a key: its newest visible version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The key has this value.
    Value(Bytes),
    /// The key was deleted; older layers must not be consulted.
    Deleted,
}

/// An in-memory sorted buffer of versions; see the [module docs](self) for the whole
/// contract. In short:
///
/// - **Order:** [`iter`](Memtable::iter) yields every version in internal-key order (user
///   key ascending, then sequence number descending), tombstones included.
/// - **Visibility:** [`get`](Memtable::get) at `snapshot` answers from versions numbered
///   at most `snapshot`, newest first; a tombstone is [`Lookup::Deleted`], an answer, and
///   `None` sends the reader to older layers.
/// - **Power cuts:** a memtable does no I/O and nothing in it is durable; a power cut
///   leaves nothing of it, and recovery rebuilds a new one from the write-ahead log.
///
/// What an implementor writes: `apply`, `get`, `range_tombstones`, `iter`,
/// `approximate_size` and `len` (a [`MemTombstones`](crate::range_del::MemTombstones)
/// keeps the range tombstones);
/// `is_empty` has a default. `ferris_memtable::BTreeMemtable` is the shortest correct
/// implementation, and `ferris_conformance::memtable::check_factory` checks one.
pub trait Memtable: Send + Sync + fmt::Debug {
    /// Inserts every entry of a batch, each under its own sequence number (`entries`
    /// yields them with theirs). Returns the bytes of user keys and values inserted, for
    /// the engine's write statistics.
    fn apply(&self, entries: BatchIter<'_>) -> u64;

    /// The newest version of `user_key` with a sequence number at most `snapshot`, or
    /// `None` when there is none here. A range tombstone at most `snapshot` over the key
    /// and newer than that version (or over a key with no version here) answers
    /// [`Lookup::Deleted`].
    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup>;

    /// The range tombstones applied so far, fragmented.
    fn range_tombstones(&self) -> Arc<Tombstones>;

    /// The largest sequence number of any version (not range tombstone) applied so far (0
    /// for none), if the memtable keeps it. A scan then seeks past the ranges of this
    /// memtable's own range tombstones newer than that, which cover every version it holds
    /// there ([`skip_covered`](crate::iter::skip_covered)); the default, `None`, leaves the
    /// scan to check each version.
    fn newest_version(&self) -> Option<SeqNo> {
        None
    }

    /// An iterator over every version, in internal-key order, that keeps the memtable
    /// alive for as long as it lives.
    fn iter(self: Arc<Self>) -> Box<dyn InternalIterator>;

    /// Bytes of memory the memtable accounts for: what the engine compares with its write
    /// buffer size.
    fn approximate_size(&self) -> usize;

    /// How many versions and range tombstones it holds.
    fn len(&self) -> usize;

    /// True when it holds nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Frees `mem`, a memtable its owner is done with (the engine, once it is flushed), on
/// the calling thread, after waiting up to `patience` for every other holder to let go.
/// Returns whether this call freed it.
///
/// Freeing a full memtable is not free: one cache miss and one `free` per node. A skip
/// list of 100,000 entries with 100-byte values takes tens of milliseconds to drop
/// (`cargo bench -p ferris-benches --bench memtable -- drop`), and a full 64 MiB one holds
/// nearly three times as many. Whoever lets go of the last `Arc` pays that, and a reader
/// that pinned the database's state a moment before a flush replaced it would be the
/// last: one of its point reads would stall for all that time. Point reads let go within microseconds, so the
/// engine's flush thread waits a little and frees the memtable itself; a long scan that
/// still holds it frees it when it ends, as before.
pub fn retire<M: ?Sized>(mem: Arc<M>, patience: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    while Arc::strong_count(&mem) > 1 && started.elapsed() < patience {
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
    let last = Arc::strong_count(&mem) == 1;
    drop(mem);
    last
}

/// Makes empty memtables: the engine asks for a new one every time it freezes the
/// current one, and during recovery (which replays the write-ahead log into it). The
/// engine takes one in `ferris_engine::Options::memtable`.
pub trait MemtableFactory: Send + Sync + fmt::Debug {
    /// A new, empty memtable.
    fn create(&self) -> Arc<dyn Memtable>;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn retire_frees_on_this_thread_once_the_others_let_go() {
        let mem = Arc::new(vec![0u8; 1024]);
        let reader = Arc::clone(&mem);
        let releasing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            drop(reader);
        });
        assert!(
            retire(mem, Duration::from_secs(10)),
            "it was the last holder"
        );
        releasing.join().unwrap();
    }

    #[test]
    fn retire_gives_up_on_a_holder_that_keeps_it() {
        let mem = Arc::new(vec![0u8; 1024]);
        let scan = Arc::clone(&mem);
        assert!(!retire(mem, Duration::from_millis(2)));
        // The holder keeps what it holds, and frees it itself.
        assert_eq!(Arc::strong_count(&scan), 1);
    }
}
