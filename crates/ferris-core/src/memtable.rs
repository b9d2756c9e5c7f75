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
//! `ferris-memtable` has two: a lock-free skip list, the default, and a `BTreeMap` behind
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

/// Makes empty memtables: the engine asks for a new one every time it freezes the
/// current one, and during recovery (which replays the write-ahead log into it). The
/// engine takes one in `ferris_engine::Options::memtable`.
pub trait MemtableFactory: Send + Sync + fmt::Debug {
    /// A new, empty memtable.
    fn create(&self) -> Arc<dyn Memtable>;
}
