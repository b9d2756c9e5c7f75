//! # Lab stage 1: a memtable
//!
//! Every write lands in a memtable once the write-ahead log has it, and stays there until
//! the memtable is full and flushed to a table. Your job: [`LabMemtable`], an
//! implementation of [`ferris_core::Memtable`], and [`LabFactory`], the
//! [`MemtableFactory`] the engine makes memtables with.
//!
//! Read the contract first: the `ferris_core::memtable` module page. In short:
//!
//! - **Keep every version.** A put of a key already here adds a version; a delete adds a
//!   tombstone. Nothing is overwritten: hiding old versions is the reader's job.
//! - **Answer at a sequence number.** `get(key, snapshot)` looks only at versions numbered
//!   at most `snapshot`, and the newest of those decides: [`Lookup::Value`] or
//!   [`Lookup::Deleted`]. `None` means "nothing here, ask older layers"; a tombstone is an
//!   answer, never `None`.
//! - **Iterate in internal-key order**: user keys ascending, newest version first, with an
//!   iterator that owns what it needs (`self: Arc<Self>`).
//! - **Take `&self` everywhere**: readers run on other threads while a batch is applied.
//! - **Range deletes** come in a batch as entries of kind `BatchOp::DeleteRange`; keep them
//!   in a [`MemTombstones`](ferris_core::range_del::MemTombstones) and let it resolve
//!   lookups.
//!
//! Every body below is empty: it returns nothing, or zero, or an iterator that is never on
//! an entry. That compiles, and the grader tells you, check by check, which guarantee is
//! still missing:
//!
//! ```sh
//! cargo xtask lab check memtable              # your memtable
//! cargo xtask lab check memtable --reference  # FerrisDB's, which passes
//! ```
//!
//! The reference solution is `ferris_memtable::BTreeMemtable`
//! (`crates/ferris-memtable/src/btree.rs`): a `BTreeMap` behind a lock, the shortest
//! correct memtable. Try yours before you read it. Once `cargo xtask lab check memtable`
//! passes, your memtable runs inside a real database: the grader's `in_the_engine` check
//! opens a `ferris_engine::Db` with `options.memtable = Arc::new(LabFactory)`, writes,
//! flushes, cuts the power and reopens, and the example `cargo run -p lab-memtable
//! --example db` (in this crate, `examples/db.rs`) does the same where you can watch it.

// The bodies are yours to write; until then they ignore their arguments and fields.
// This crate (and the lab's other starters) is the one place in the workspace where that
// is allowed: see CLAUDE.md.
#![allow(unused_variables, dead_code)]
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::range_del::Tombstones;
use ferris_core::{
    BatchIter, InternalIterator, InternalKeyRef, Lookup, Memtable, MemtableFactory, SeqNo,
    ValueKind,
};

/// Your memtable.
///
/// What to write: the fields that hold the versions (a `BTreeMap<InternalKey, Bytes>`
/// behind an `RwLock` is enough to pass every check; a skip list is the fast way), the
/// range tombstones (a `MemTombstones`), and counters for [`Memtable::len`] and
/// [`Memtable::approximate_size`].
#[derive(Default)]
pub struct LabMemtable {}

impl fmt::Debug for LabMemtable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabMemtable").finish_non_exhaustive()
    }
}

impl Memtable for LabMemtable {
    /// Inserts every entry of the batch under its own sequence number (`entry.seq`).
    ///
    /// What to write: for each entry, `entry.kind.value_kind()` is `Some(Put)` or
    /// `Some(Delete)` for a version (insert `InternalKey::new(key, seq, kind)` and its
    /// value), or `None` for a range delete (`entry.key` up to `entry.value`, no end when
    /// the value is empty: add a `RangeTombstone` to your `MemTombstones`). Grow the size
    /// by at least the bytes of keys and values, and return those bytes.
    fn apply(&self, entries: BatchIter<'_>) -> u64 {
        0
    }

    /// The newest version of `user_key` numbered at most `snapshot`.
    ///
    /// What to write: find the first entry at or after
    /// `InternalKey::seek_key(user_key, snapshot)`; if it has this user key, it is the
    /// answer (a `Put` is `Lookup::Value`, a `Delete` is `Lookup::Deleted`). Then let
    /// `MemTombstones::resolve` weigh it against the range tombstones.
    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        None
    }

    /// The range tombstones applied so far.
    ///
    /// What to write: `MemTombstones::get`.
    fn range_tombstones(&self) -> Arc<Tombstones> {
        Arc::default()
    }

    /// An iterator over every version, in internal-key order.
    ///
    /// What to write: nothing here; the work is in [`LabMemtableIter`].
    fn iter(self: Arc<Self>) -> Box<dyn InternalIterator> {
        Box::new(LabMemtableIter { memtable: self })
    }

    /// Bytes of memory held: at least the keys and values applied, and it never shrinks.
    ///
    /// What to write: return the counter `apply` grows.
    fn approximate_size(&self) -> usize {
        0
    }

    /// Versions and range tombstones held.
    ///
    /// What to write: the number of versions plus `MemTombstones::len`.
    fn len(&self) -> usize {
        0
    }
}

/// The iterator over a [`LabMemtable`]: it holds the memtable (an `Arc`), so it lives as
/// long as it needs to.
///
/// What to write: a position (the current entry, copied out: an `InternalKey` and its
/// `Bytes`, or `None` off the end), and each move as a lookup in the memtable's map
/// (`range(target..).next()` for `seek`, `range(..=target).next_back()` for
/// `seek_for_prev`, `range((Excluded(current), Unbounded))` for `next`, and so on). The
/// contract is on the `ferris_core::iter` module page. Every body below leaves the
/// iterator off the end.
pub struct LabMemtableIter {
    memtable: Arc<LabMemtable>,
}

impl InternalIterator for LabMemtableIter {
    /// Whether the iterator is on an entry.
    fn valid(&self) -> bool {
        false
    }

    /// The current entry's key; called only while `valid`.
    fn key(&self) -> InternalKeyRef<'_> {
        InternalKeyRef {
            user_key: &[],
            seq: 0,
            kind: ValueKind::Put,
        }
    }

    /// The current entry's value (empty for a tombstone); called only while `valid`.
    fn value(&self) -> Bytes {
        Bytes::new()
    }

    /// Positions on the first entry.
    fn seek_to_first(&mut self) {}

    /// Positions on the last entry.
    fn seek_to_last(&mut self) {}

    /// Positions on the first entry at or after `target`.
    fn seek(&mut self, target: InternalKeyRef<'_>) {}

    /// Positions on the last entry at or before `target`.
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {}

    /// Steps to the next entry.
    fn next(&mut self) {}

    /// Steps to the previous entry.
    fn prev(&mut self) {}

    /// `Ok`: a memtable reads no disk, so nothing can fail.
    fn status(&self) -> ferris_core::Result<()> {
        Ok(())
    }
}

/// Makes empty [`LabMemtable`]s: what the engine is given in `Options::memtable`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabFactory;

impl MemtableFactory for LabFactory {
    /// A new, empty memtable. Nothing to write here.
    fn create(&self) -> Arc<dyn Memtable> {
        Arc::new(LabMemtable::default())
    }
}
