//! `ferris-dbbench`: see the library's docs, or run it through `cargo xtask bench`.
#![forbid(unsafe_code)]

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "ferris-dbbench",
    about = "db_bench and YCSB workloads on FerrisDB and its peers"
)]
struct Cli {
    #[command(flatten)]
    suite: ferris_dbbench::SuiteArgs,
}

fn main() -> anyhow::Result<()> {
    ferris_dbbench::run(&Cli::parse().suite)?;
    Ok(())
}
