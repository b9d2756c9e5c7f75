//! # ferris-conformance: one suite per contract, run against every implementation
//!
//! ## The problem
//!
//! FerrisDB's engine meets its components through narrow traits: a table format
//! (`ferris_table::TableFormat`), a memtable (`ferris_core::Memtable`), a sorted iterator
//! (`ferris_core::iter::InternalIterator`). Each trait's documentation states a contract,
//! and each trait has more than one implementation: `ferris-sstable` and
//! `ferris-minitable` are both table formats, and yours can be a third. A contract
//! written only in prose is a contract each implementation reads its own way. The
//! difference shows up far from its cause, as a lost key after a crash, in an engine
//! test that knows nothing of tables.
//!
//! A **conformance suite** is the contract as code: one set of checks, written once
//! against the trait alone, that every implementation must pass. ripgrep tests every
//! regex engine behind its `Matcher` trait with one suite, and TiKV runs one set of tests
//! against every storage engine behind `engine_traits`. When a suite passes for the
//! default implementation and for a second, very different one, the contract is what the
//! engine relies on, not an accident of the first implementation. When a third breaks a
//! check, the failure names the check, the case and the seed, not a symptom three layers
//! up.
//!
//! ## What a suite checks
//!
//! A suite exercises the contract, not an implementation: it calls only the trait's
//! methods, and judges the answers against a **model**, the simplest thing that is
//! obviously right. For tables the model is a sorted vector
//! (`ferris_core::iter::VecIter`). It also does to each implementation what the
//! engine's environment will do to it:
//!
//! - **random round trips**, from fixed seeds, compared with the model entry by entry;
//! - **power cuts** at every file-system operation, on `ferris_fs::SimFs`, with what
//!   survives checked after the restart;
//! - **failing disks**: every write, sync, rename and read that can fail, failing once;
//! - **damage**: every single bit of a small file flipped, every truncation, and bytes
//!   that were never a table at all. Damage must be reported, never answered wrongly,
//!   never a panic.
//!
//! Every seed is fixed, so a failure repeats exactly when the check is run again, and a
//! failure names the check, the case and the seed.
//!
//! ## The suites
//!
//! - [`table`]: [`check_format`](table::check_format) runs the
//!   `ferris_table::TableFormat` suite: model round trips, power cuts, I/O faults, bit
//!   flips and hostile bytes. Each check is a plain function returning
//!   `Result<(), Failure>`, so a test can run the whole suite or one check at a time.
//! - [`memtable`]: [`check_factory`](memtable::check_factory) runs the
//!   [`Memtable`](ferris_core::Memtable) suite on the memtables a factory makes: lookups at
//!   every interesting snapshot, iteration and memory accounting checked against a model,
//!   iterators kept across later writes, and readers on real threads racing a writer.
//! - [`strategy`]: [`check_strategy`](strategy::check_strategy) runs the
//!   `ferris_compaction::Strategy` suite over random views of the levels, and a small
//!   simulator that applies each choice until the strategy has nothing left to do.
//! - [`iterator`]: [`check_iterator`](iterator::check_iterator) runs the
//!   [`InternalIterator`](ferris_core::InternalIterator) suite on iterators built over
//!   given entries, against [`VecIter`](ferris_core::iter::VecIter) as the model: seeks of
//!   every kind, steps both ways, turning around.
//!
//! The memtable, strategy and iterator suites panic on a broken promise, like `assert!`, with a
//! message naming the check and the seed; each has a public function taking the seed, to
//! replay a failure.
//!
//! ## Running a suite against your own implementation
//!
//! Add this crate as a dev-dependency and call the suite from a test. For a table
//! format:
//!
//! ```
//! use ferris_conformance::table::{self, Failure};
//! # use ferris_minitable::MinitableFormat as MyFormat;
//!
//! // In your crate's `tests/it/main.rs`, marked `#[test]`:
//! fn my_format_conforms() -> Result<(), Failure> {
//!     table::check_format(&MyFormat)
//! }
//! # let _ = my_format_conforms;
//! # table::names(&MyFormat)?;
//! # Ok::<(), Failure>(())
//! ```
//!
//! A failure reads, for example:
//!
//! ```text
//! Error: minitable failed round_trips, seed 3: get(b"k\x01", 17) gave None, the model
//! says Value(b"v")
//! ```
//!
//! and `table::round_trip(&MyFormat, 3)` runs that one seed again under a debugger. The
//! [`table`] module's documentation lists each check and what it demands.
//!
//! For a memtable:
//!
//! ```
//! use ferris_memtable::{BTreeFactory, SkipListFactory};
//!
//! ferris_conformance::memtable::check_factory(&SkipListFactory);
//! ferris_conformance::memtable::check_factory(&BTreeFactory);
//! ```
//!
//! For a compaction strategy:
//!
//! ```
//! use ferris_compaction::{CompactionOptions, Leveled};
//! use ferris_conformance::strategy::check_strategy;
//!
//! check_strategy(&Leveled, &CompactionOptions::default());
//! ```
//!
//! # Limits
//!
//! A suite finds what its checks and seeds reach, no more: it cannot prove an
//! implementation correct. Each check is sized to run in a few seconds in a debug build,
//! so the seeds are few and the tables small; an implementation's own tests (golden
//! files, larger tables, its own corner cases) still matter. The suites run on
//! `SimFs` only, so code paths that only a real disk takes (memory maps, say) are not
//! reached.
//!
//! # What to read next
//!
//! `ferris-table`, the contract the [`table`] suite checks; `ferris-minitable`, the
//! smallest format that passes it; then write a format of your own, and run the suite.

#![forbid(unsafe_code)]

pub mod iterator;
pub mod memtable;
mod random;
pub mod strategy;
pub mod table;
