//! # ferris-conformance: the checks every implementation of a contract must pass
//!
//! FerrisDB's components meet through narrow traits, so that each can be replaced: a
//! compaction strategy, a table format, a memtable, an iterator. A trait's doc comment
//! states its contract; this crate turns each contract into a check that runs against any
//! implementation, so that a second implementation is held to exactly the rules the
//! first one is, and a new one finds out what it broke before the engine does.
//!
//! Each module checks one contract, and each check is a plain function that panics with
//! a replayable account of the first rule broken (the seed, and the input that broke
//! it):
//!
//! - [`strategy`]: `ferris_compaction::Strategy`, over random views of the levels.
//!   `tests/it/` runs it against `Leveled`, `Tiered` and `ferris_fifo::Fifo`.
//!
//! ```
//! use ferris_compaction::{CompactionOptions, Leveled};
//! use ferris_conformance::strategy::check_strategy;
//!
//! check_strategy(&Leveled, &CompactionOptions::default());
//! ```
//!
//! ## What to read next
//!
//! The contracts themselves: `ferris_compaction::Strategy`'s documentation, and
//! `ferris-fifo`, a strategy written outside `ferris-compaction` that these checks keep
//! honest.

#![forbid(unsafe_code)]

pub mod strategy;
