//! FerrisDB's project commands, run as `cargo xtask <command>`.
//!
//! - `cargo xtask bench`: the main job. Measures FerrisDB on this machine, in a temporary
//!   directory, and prints a table (see `docs/benchmarks.md`).
//!
//! - `cargo xtask compaction-sim`: runs the compaction strategies over a synthetic
//!   workload with no I/O and prints the amplification each gives.
//!
//! Its tests include the tidy checks (`tidy.rs`): docs and code must agree.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

mod bench;
mod compaction_sim;
mod tidy;

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => bench::run(&args),
        Command::CompactionSim(args) => compaction_sim::run(&args),
    }
}
