//! # The engine, step by step
//!
//! The [front page](crate) of this chapter shows what the database does and how to use
//! it. These four chapters show how it does it, one path through the engine each, with
//! what happens at each step and what each fsync is for. Read them in order: each
//! builds on the one before.
//!
//! 1. [The write path](crate::guide::write_path): a `put` from the call to the moment a
//!    reader can see it: the queue of writers, group commit, flow control, the WAL append
//!    and its fsync, the memtable, and publishing the sequence number.
//! 2. [The read path](crate::guide::read_path): a `get`, a `multi_get` and a scan; versions
//!    and snapshots; the merging iterator that turns many sorted sources into one, and the
//!    reader's view of it, which hides old versions, tombstones and range tombstones, both
//!    ways.
//! 3. [Flush and recovery](crate::guide::flush_and_recovery): a full memtable becoming a
//!    table file, and an open putting the database back together from `CURRENT`, the
//!    manifest and the WAL after a clean shutdown or a power cut.
//! 4. [Background work](crate::guide::background_work): compaction, what a merge may drop
//!    once snapshots are in play, holding writers back when compaction falls behind, and
//!    the work done when the writes stop.
//!
//! These modules hold no code: they are text, kept beside the code they describe so that
//! `cargo doc` checks their links and a change to the engine can change them in the same
//! commit.

pub mod write_path;

pub mod read_path;

pub mod flush_and_recovery;

pub mod background_work;
