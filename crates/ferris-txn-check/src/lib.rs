//! # ferris-txn-check: is what the transactions saw serializable?
//!
//! The anomaly tests (`crates/ferris-engine/tests/it/txn.rs`) each stage one bad
//! interleaving by hand. This crate looks for the ones nobody thought to stage: several
//! threads run random transactions (point reads, scans both ways, puts and deletes, in two
//! keyspaces over a few dozen keys, so they keep colliding) while another thread flushes
//! and compacts, and every transaction that commits is recorded with what it read and its
//! **commit version** (what `Transaction::commit` returns).
//!
//! Serializability is then a replay: run the committed transactions one at a time, in
//! commit order, against a `BTreeMap` ([`replay`]). If the engine is serializable in commit
//! order (what FoundationDB promises, and what the resolver is built to give), each
//! transaction's reads in the replay return exactly what it saw, its own earlier writes
//! included, and the map ends as the database does. A lost update shows as an increment
//! that read a value the replay had already overwritten; a phantom as a scan that misses
//! a key an earlier commit inserted; a leak of an uncommitted or refused transaction as a
//! final state the replay does not have.
//!
//! ```
//! use ferris_txn_check::{Config, run_history};
//!
//! let config = Config { threads: 2, txns_per_thread: 50, ..Config::default() };
//! let outcome = run_history(&config)?;
//! assert!(outcome.committed > 0);
//! # Ok::<(), ferris_txn_check::CheckError>(())
//! ```
//!
//! `cargo test -p ferris-txn-check` runs a few dozen histories; `cargo xtask txn-check`
//! runs long campaigns over many seeds and prints what it verified.
//!
//! # What it does not check
//!
//! Interleavings are the operating system's: a seed fixes each thread's transactions,
//! not the order in which they meet, so a failure is not replayed by its seed alone (run
//! the seed again, and more histories). Snapshot reads and snapshot isolation are left
//! out: they promise less than serializability, and the anomaly tests cover them.

#![forbid(unsafe_code)]

mod history;
mod run;

pub use history::{Committed, Space, State, Step, Violation, replay};
pub use run::{CheckError, Config, Outcome, run_history};
