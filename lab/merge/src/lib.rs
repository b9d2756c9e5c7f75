//! # Lab stage 3: a merging iterator
//!
//! An LSM tree keeps its data in many sorted places at once: the memtable, the frozen
//! memtables, every level-0 table, one sorted run per deeper level. A scan, and a
//! compaction, must see them as one sorted sequence. Your job: [`MergingIterator`], which
//! takes any number of [`InternalIterator`]s (its children) and is one itself, yielding
//! every entry of every child in internal-key order.
//!
//! Read the contract first: the `ferris_core::iter` module page. What a merge adds:
//!
//! - **The smallest current key comes first** (the largest, moving backwards). Children
//!   never share an internal key: in a database every write has its own sequence number.
//! - **Seeks position every child**; `next` steps the child on top.
//! - **Turning around** (a `prev` after a `next`) is the hard part: every other child
//!   must be moved to the nearest entry on the new side of the current key.
//! - **A failed child stops the merge**: the merge becomes invalid and `status` returns
//!   that child's error. Going on without it would skip its entries silently.
//!
//! A `Vec` of children and a linear scan for the smallest is a correct first version;
//! a binary heap makes each step `O(log n)`.
//!
//! Every body below is empty: the merge is never on an entry. The grader runs it over
//! children built from the same entries as a model and says which guarantee is missing:
//!
//! ```sh
//! cargo xtask lab check merge              # your merge
//! cargo xtask lab check merge --reference  # FerrisDB's, which passes
//! ```
//!
//! The grader's `read_path` check then puts your merge in the middle of a database's
//! read path: the memtables of stage 1, merged by yours, read through
//! `ferris_core::iter::UserIter` at a snapshot, as `Db::iter` reads them. The reference
//! solution is `ferris_core::iter::MergingIterator` (`crates/ferris-core/src/iter/merge.rs`).

// The bodies are yours to write; until then they ignore their arguments and fields.
// The lab's starters are the one place in the workspace where that is allowed: see
// CLAUDE.md.
#![allow(unused_variables, dead_code)]
#![forbid(unsafe_code)]

use bytes::Bytes;
use ferris_core::{InternalIterator, InternalKeyRef, ValueKind};

/// Many sorted iterators as one.
///
/// What to write: the state of the merge (which child is current, which direction you
/// are moving, the first error a child reported) and the ten methods below.
pub struct MergingIterator {
    children: Vec<Box<dyn InternalIterator>>,
}

impl MergingIterator {
    /// A merge of `children`, not yet positioned. Nothing to write here unless you add
    /// fields.
    pub fn new(children: Vec<Box<dyn InternalIterator>>) -> MergingIterator {
        MergingIterator { children }
    }
}

impl InternalIterator for MergingIterator {
    /// Whether the merge is on an entry: some child is, and none has failed.
    fn valid(&self) -> bool {
        false
    }

    /// The current child's key; called only while `valid`.
    fn key(&self) -> InternalKeyRef<'_> {
        InternalKeyRef {
            user_key: &[],
            seq: 0,
            kind: ValueKind::Put,
        }
    }

    /// The current child's value; called only while `valid`.
    fn value(&self) -> Bytes {
        Bytes::new()
    }

    /// Positions every child on its first entry; the smallest is current.
    fn seek_to_first(&mut self) {}

    /// Positions every child on its last entry; the largest is current.
    fn seek_to_last(&mut self) {}

    /// Seeks every child to `target`; the smallest is current.
    fn seek(&mut self, target: InternalKeyRef<'_>) {}

    /// Seeks every child back to `target`; the largest is current.
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {}

    /// Steps forwards: after a `prev`, first move every other child just past the current
    /// key; then step the current child, and find the smallest again.
    fn next(&mut self) {}

    /// Steps backwards: the mirror of `next`.
    fn prev(&mut self) {}

    /// The first error a child reported, if one did.
    fn status(&self) -> ferris_core::Result<()> {
        Ok(())
    }
}
