//! FerrisDB's project commands, run as `cargo xtask <command>`.
//!
//! - `cargo xtask bench`: the main job. Measures FerrisDB's components on this machine, in
//!   a temporary directory, and prints a table (see `docs/benchmarks.md`).
//!
//! Its tests include the tidy checks (`tidy.rs`): docs and code must agree.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

mod bench;
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
    /// Benchmark FerrisDB's components and print a table of measured figures.
    Bench(bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bench(args) => bench::run(&args),
    }
}
