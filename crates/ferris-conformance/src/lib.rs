//! # ferris-conformance: one suite per contract, run against every implementation
//!
//! ## The problem
//!
//! FerrisDB's engine meets its components through narrow traits: a table format
//! (`ferris_table::TableFormat`), a memtable (`ferris_core::Memtable`), a sorted iterator
//! (`ferris_core::iter::InternalIterator`), a compaction strategy
//! (`ferris_compaction::Strategy`), a transaction conflict resolver
//! (`ferris_txn::ConflictResolver`), and, for the lab, a log format
//! (`ferris_log::LogFormat`). Each trait's documentation states a contract, and
//! each trait has more than one implementation: `ferris-sstable` and `ferris-minitable`
//! are both table formats, and yours can be a third. A contract
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
//! obviously right. For tables, memtables and iterators the model is a sorted vector of
//! the entries written ([`VecIter`](ferris_core::iter::VecIter) is its iterator); for
//! compaction strategies it is a set of rules checked on each choice, and a simulator that
//! applies the choices. A suite also does to each implementation what the engine's
//! environment will do to it:
//!
//! - **random cases**, from fixed seeds, compared with the model answer by answer;
//! - **power cuts** at every file-system operation, on `ferris_fs::SimFs`, with what
//!   survives checked after the restart;
//! - **failing disks**: every write, sync, rename and read that can fail, failing once;
//! - **damage**: every single bit of a small file flipped, every truncation, and bytes
//!   that were never a table at all. Damage must be reported, never answered wrongly,
//!   never a panic;
//! - **real threads**: readers racing a writer, each checking what it must see.
//!
//! ## One shape for every suite
//!
//! Each suite is a module with the same parts, so that once you have run one you can run
//! them all:
//!
//! - **One function per check**, public, taking the implementation and returning
//!   `Result<(), `[`Failure`]`>`: the first broken promise, or `Ok`. A test can run one
//!   check at a time, and see at once which promise broke.
//! - **`check_*`**, one per contract, runs every check in turn:
//!   [`table::check_format`], [`memtable::check_factory`], [`iterator::check_iterator`],
//!   [`strategy::check_strategy`], [`resolver::check_resolver`], [`log::check_log_format`].
//! - **`CHECKS`**, each check with its name (the name a [`Failure`] gives), in the order
//!   `check_*` runs them, and a `Check` type for its entries.
//! - **Seeds.** A check that draws its cases from seeds runs a fixed range of them (each
//!   suite's `SEEDS`), and has a `_seed` function that runs one: a failure of
//!   `round_trips` for seed 3 is replayed by `round_trips_seed(format, 3)`.
//!
//! A [`Failure`] says which implementation broke which check, in which case, and how,
//! each part read by a method of its own:
//!
//! | method | what it returns |
//! |---|---|
//! | [`implementation`](Failure::implementation) | the table format's [`name`](ferris_table::TableFormat::name) (a log format's, [`LogFormat::name`](ferris_log::LogFormat::name)); the `Debug` form of a memtable factory or strategy (a unit struct's is its type's name); the name you give an iterator |
//! | [`check`](Failure::check) | the check, as `CHECKS` names it: the function to call again |
//! | [`seed`](Failure::seed) | the seed of the case, for a seeded check: the argument of its `_seed` function |
//! | [`case`](Failure::case) | the case in words: `seed 3`, `byte 17 of 436, bit 2 flipped`, `table 1, power cut after 5 of 40 operations, disk seed 0` |
//! | [`detail`](Failure::detail) | what broke: the call whose answer was wrong, or the promise broken, in a sentence |
//! | [`got`](Failure::got), [`expected`](Failure::expected) | for a wrong answer, what the implementation gave and what the contract demands |
//!
//! It prints as one sentence, and its `Debug` is the same sentence, so a test that
//! returns `Result<(), Failure>` reports it in full. Three, as this crate's mutant tests
//! (implementations broken on purpose, `tests/it/mutants/`) print them:
//!
//! ```text
//! mutant failed round_trips, seed 1: get(b"", 126): got Value(b"\xcd\xce\xcf\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf\xe0\xe1\xe2\xe3\xe4"), expected Value(b"ghijklmnopqrstuvwxyz{|}~..." (879 bytes))
//! BrokenFactory(TombstoneIsAbsent) failed against_model, seed 0: after 22 entries: get(b"\x00", 43): got None, expected Deleted
//! DropsBusy failed random_views, seed 0: choose gave Drop [(1, 2)]: names table 2, which is busy
//! view (idle: true):
//!   level 0: 189246994 bytes
//!     table 9: keys [414, 823], seqs 1165..=1175, 76504104 bytes, 725/725 tombstones
//! ...
//!   level 1: 48994834 bytes
//!     table 1: keys [90, 201], seqs 408..=833, 5025111 bytes, 71/93 tombstones
//!     table 2: keys [299, 390], seqs 182..=200, 10630043 bytes, 5/242 tombstones busy
//! ...
//! ```
//!
//! Every case is deterministic (the concurrent readers' timing aside), so calling the
//! check again repeats the failure. An implementation that panics fails the check too,
//! with the panic's message as the detail, whichever thread it panicked on: the suite
//! reports, it never panics itself.
//!
//! ## The suites
//!
//! | contract | run it | checks | limits |
//! |---|---|---|---|
//! | [`TableFormat`](ferris_table::TableFormat) | [`table::check_format`] | `names`, `builder_contract`, `round_trips` (12 seeds), `range_tombstones` (a fixed case, tombstones alone, 8 seeds), `power_cuts`, `io_faults`, `bit_flips`, `hostile_bytes` (300 seeds) | small tables (a few hundred entries, one of a few MiB); `SimFs` only; bit flips of one small table |
//! | [`Memtable`](ferris_core::Memtable) | [`memtable::check_factory`] | `against_model` (24 seeds), `iterators_across_applies` (24 seeds), `concurrent_readers` (3 seeds, real threads) | up to 40 batches of 8 entries; a race shows only when the threads' timing exposes it |
//! | [`InternalIterator`](ferris_core::InternalIterator) | [`iterator::check_iterator`] | `scans`, `seeks`, `random_walks` (48 seeds each) | up to 150 entries; the status must stay `Ok`, so failing iterators are the table suite's business |
//! | [`LogFormat`](ferris_log::LogFormat) | [`log::check_log_format`] | `round_trips` (16 seeds), `power_cuts`, `torn_tails`, `bit_flips`, `recovery_modes`, `io_faults`, `hostile_bytes` (200 seeds) | one log file of at most a few hundred KiB; `SimFs` only; bits flipped in one small sealed log |
//! | [`Strategy`](ferris_compaction::Strategy) | [`strategy::check_strategy`] | `empty_view`, `random_views` (400 seeds), `simulations` (40 seeds) | the rules a choice must keep, not how good it is; views of table metadata, keys below 1000 |
//! | [`ConflictResolver`](ferris_txn::ConflictResolver) | [`resolver::check_resolver`] | `conflicts`, `read_version_edges`, `keyspaces_apart`, `too_old` (fixed cases against a model that keeps every commit), `against_model` (48 seeds), `serializable` (24 seeded transaction histories, replayed by `ferris-txn-check`) | one thread: histories interleaved by a seeded generator, the resolver called as one write-queue leader calls it |
//!
//! Each module's documentation lists what each check demands.
//!
//! ## Running a suite against your own implementation
//!
//! Add this crate as a dev-dependency and call the suite from a test that returns
//! `Result<(), Failure>`. For a table format:
//!
//! ```
//! use ferris_conformance::{Failure, table};
//! # use ferris_minitable::MinitableFormat as MyFormat;
//!
//! // In your crate's `tests/it/main.rs`, marked `#[test]`:
//! fn my_format_conforms() -> Result<(), Failure> {
//!     table::check_format(&MyFormat)
//! }
//! # let _ = my_format_conforms;
//!
//! // Or check by check, as `CHECKS` lists them (a test for each, say, so that one
//! // failure does not hide the next):
//! fn my_format_conforms_check_by_check() -> Result<(), Failure> {
//!     for (_, check) in table::CHECKS {
//!         check(&MyFormat)?;
//!     }
//!     Ok(())
//! }
//! # let _ = my_format_conforms_check_by_check;
//!
//! // And the seed a failure named, alone:
//! table::round_trips_seed(&MyFormat, 3)?;
//! # Ok::<(), Failure>(())
//! ```
//!
//! For a memtable, through the factory the engine would be given:
//!
//! ```
//! use ferris_conformance::{Failure, memtable};
//! use ferris_memtable::{BTreeFactory, SkipListFactory};
//!
//! // In a test of yours, marked `#[test]`:
//! fn memtables_conform() -> Result<(), Failure> {
//!     memtable::check_factory(&SkipListFactory)?;
//!     memtable::check_factory(&BTreeFactory)
//! }
//! # let _ = memtables_conform;
//!
//! // One seed of one check:
//! memtable::against_model_seed(&BTreeFactory, 3)?;
//! # Ok::<(), Failure>(())
//! ```
//!
//! For an iterator, a name and a function that builds one over the entries it is given
//! (here the merging iterator, over the entries dealt to two children):
//!
//! ```
//! use bytes::Bytes;
//! use ferris_conformance::{Failure, iterator};
//! use ferris_core::iter::{MergingIterator, VecIter};
//! use ferris_core::{InternalIterator, InternalKey};
//!
//! fn merging(entries: Vec<(InternalKey, Bytes)>) -> Box<dyn InternalIterator> {
//!     let mut children = [Vec::new(), Vec::new()];
//!     for (i, entry) in entries.into_iter().enumerate() {
//!         children[i % 2].push(entry);
//!     }
//!     let children = children
//!         .into_iter()
//!         .map(|child| Box::new(VecIter::new(child)) as Box<dyn InternalIterator>)
//!         .collect();
//!     Box::new(MergingIterator::new(children))
//! }
//!
//! // In a test of yours, marked `#[test]`:
//! fn merging_conforms() -> Result<(), Failure> {
//!     iterator::check_iterator("merging", merging)
//! }
//! # let _ = merging_conforms;
//!
//! // One seed of one check:
//! iterator::seeks_seed("merging", &merging, 5)?;
//! # Ok::<(), Failure>(())
//! ```
//!
//! For a log format, the format itself (here ferris-log's own framing):
//!
//! ```
//! use ferris_conformance::log;
//! use ferris_log::Framing;
//!
//! log::torn_tails(&Framing)?;
//! log::hostile_bytes_seed(&Framing, 5)?;
//! # Ok::<(), ferris_conformance::Failure>(())
//! ```
//!
//! For a compaction strategy, under the options it will run with:
//!
//! ```
//! use ferris_compaction::{CompactionOptions, Leveled};
//! use ferris_conformance::strategy::check_strategy;
//!
//! check_strategy(&Leveled, &CompactionOptions::default())?;
//! # Ok::<(), ferris_conformance::Failure>(())
//! ```
//!
//! # Concurrency
//!
//! The checks share nothing: each makes its own simulated disk, memtables and views, so
//! a test harness may run them on as many threads as it likes. Two checks start threads
//! of their own: `round_trips` reads one table from two threads at once, and
//! `concurrent_readers` races two readers against a writer. Their threads synchronise
//! through the implementation and two atomics, never by sleeping, and every one is joined
//! before the check returns; a panic on any of them is reported as the check's failure.
//!
//! # Limits
//!
//! A suite finds what its checks and seeds reach, no more: it cannot prove an
//! implementation correct. Each check is sized to run in about a second or less in a
//! debug build (`cargo test -p ferris-conformance` runs every suite against every
//! implementation in the workspace), so the seeds are few and the tables small; an
//! implementation's own tests
//! (golden files, larger tables, its own corner cases) still matter. The table suite runs
//! on `SimFs` only, so code paths that only a real disk takes (memory maps, say) are not
//! reached. The concurrent-readers check reads at whatever snapshots the threads' timing
//! gives it, so a replay of its seed repeats the writes but not the interleaving, and a
//! race it did not hit is not a race ruled out. Each module's documentation says what its
//! checks leave out.
//!
//! # Exercises
//!
//! Worked answers: `docs/answers.md`, "Conformance suites". Try each exercise first.
//!
//! 1. Break one of FerrisDB's implementations on purpose (the mutants in this crate's
//!    `tests/it/mutants/` show how: wrap it, and change one answer). Which check catches
//!    it, and does the failure point at the cause?
//! 2. Find a bug no check catches: a broken memtable that passes `check_factory`. What
//!    check would catch it? Write it, and a mutant to prove it has teeth.
//! 3. Run the table suite against a format that leaves out the directory sync after its
//!    rename. Which case fails, and why only at the cut after the last operation?
//!
//! # What to read next
//!
//! `ferris-table`, the contract the [`table`] suite checks; `ferris-minitable`, the
//! smallest format that passes it; then write a format (or a memtable, or a strategy) of
//! your own, and run its suite.

#![forbid(unsafe_code)]

mod failure;
pub mod iterator;
pub mod log;
pub mod memtable;
mod model;
mod random;
pub mod resolver;
mod show;
pub mod strategy;
pub mod table;

pub use failure::Failure;
