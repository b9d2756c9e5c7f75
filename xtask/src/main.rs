//! FerrisDB's project commands, run as `cargo xtask <command>`.
//!
//! - `cargo xtask bench`: the main job. Measures FerrisDB on this machine, in a temporary
//!   directory, and prints a table (see `docs/benchmarks.md`).
//!
//! - `cargo xtask compaction-sim`: runs the compaction strategies over a synthetic
//!   workload with no I/O and prints the amplification each gives.
//!
//! - `cargo xtask sim --seeds N`: the deterministic simulation (`ferris-sim`), random
//!   workloads with power cuts on the simulated file system, checked against a model.
//!
//! - `cargo xtask crash-test --cycles N`: the real-process crash loop (`ferris-crash`), a
//!   child writing with sync killed with SIGKILL, every acknowledged write checked.
//!
//! - `cargo xtask txn-check --histories N`: the serializability checker
//!   (`ferris-txn-check`), threads running random transactions beside flushes and
//!   compactions, every committed one replayed in commit order against a model.
//!
//! - `cargo xtask book [--open]`: the book, rendered by mdBook from `docs/SUMMARY.md`
//!   with the API docs inside, every link checked (see `book.rs`).
//!
//! - `cargo xtask loc [CRATE...]`: lines of code per crate and file, not counting
//!   comments, blank lines and tests (the count the engine's size limit uses).
//!
//! - `cargo xtask lab check STAGE [--reference]`: grades a stage of the lab (`lab/`) with
//!   FerrisDB's own test suites, the learner's crate or the reference.
//!
//! Its tests include the tidy checks (`tidy.rs`): docs and code must agree.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

mod bench;
mod book;
mod compaction_sim;
mod components;
mod crash_test;
mod lab;
mod loc;
mod sim;
mod tidy;
mod txn_check;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "FerrisDB project commands")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the db_bench and YCSB suite on FerrisDB (and, with `--compare`, its peers), then
    /// the component benchmarks, and print a table of measured figures.
    Bench(Box<bench::BenchArgs>),
    /// Run the compaction strategies over a synthetic workload, with no I/O, and print
    /// their write, space and read amplification.
    CompactionSim(compaction_sim::SimArgs),
    /// Deterministic simulation: random workloads with power cuts on the simulated file
    /// system, one seed each, checked against a model. A seed always replays the same
    /// workload and cut points; background threads may still schedule differently.
    Sim(sim::CmdArgs),
    /// Real-process crash loop: a child writes with sync and is killed with SIGKILL at
    /// random moments; after each kill every acknowledged write must be there.
    CrashTest(crash_test::CmdArgs),
    /// Serializability checker: threads run random transactions beside flushes and
    /// compactions; replaying the committed ones in commit order must reproduce every
    /// value they read.
    TxnCheck(txn_check::CmdArgs),
    /// Build the book (chapters, concept articles, format specs, API docs) with mdBook
    /// into target/book/html, and fail on any broken link.
    Book(book::BookArgs),
    /// The lab: `lab check STAGE [--reference]` grades a stage (lab/README.md).
    Lab(lab::CmdArgs),
    /// Count lines of code per crate and file (no comments, blank lines or tests).
    Loc(loc::LocArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => bench::run(&args),
        Command::CompactionSim(args) => compaction_sim::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::CrashTest(args) => crash_test::run(&args),
        Command::TxnCheck(args) => txn_check::run(&args),
        Command::Book(args) => book::run(&args),
        Command::Lab(args) => lab::run(&args),
        Command::Loc(args) => loc::run(&args),
    }
}
