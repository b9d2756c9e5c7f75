//! # ferris-conformance: one test suite per contract
//!
//! FerrisDB's components meet through narrow traits (`ferris_core::memtable`,
//! `ferris_core::iter`, ...), and each trait has more than one implementation: a fast one
//! and a simple one written to be read. A trait's doc comment states its contract, but
//! prose does not catch a broken implementation. This crate does: for each contract it
//! has **one** suite, a set of public functions that take an implementation (or a way to
//! make one) and check it against a model, so every implementation is held to the same
//! promises, and a new one, yours included, is checked by calling a function.
//!
//! - [`memtable`]: [`check_factory`](memtable::check_factory) runs the
//!   [`Memtable`](ferris_core::Memtable) suite on the memtables a factory makes: lookups at
//!   every interesting snapshot, iteration and memory accounting checked against a model,
//!   iterators kept across later writes, and readers on real threads racing a writer.
//! - [`iterator`]: [`check_iterator`](iterator::check_iterator) runs the
//!   [`InternalIterator`](ferris_core::InternalIterator) suite on iterators built over
//!   given entries, against [`VecIter`](ferris_core::iter::VecIter) as the model: seeks of
//!   every kind, steps both ways, turning around.
//!
//! ```
//! use ferris_memtable::{BTreeFactory, SkipListFactory};
//!
//! ferris_conformance::memtable::check_factory(&SkipListFactory);
//! ferris_conformance::memtable::check_factory(&BTreeFactory);
//! ```
//!
//! # How a failure reads
//!
//! The suites are for tests: a broken promise panics, like `assert!`, with a message that
//! names the check, the seed and what broke (the operation, what the model expected and
//! what the implementation gave). Every check is random but seeded, and each has a public
//! function taking the seed, so a failure is replayed by calling that function with the
//! seed from the message.
//!
//! # What the suites cannot check
//!
//! A suite checks behaviour, not cost: nothing here times anything (benchmarks do, in
//! `benches/` and `cargo xtask bench`). The concurrent checks run real threads and check
//! invariants that must hold under any interleaving, but a race that this machine's
//! scheduler never produces goes unseen.

pub mod iterator;
pub mod memtable;
mod random;
