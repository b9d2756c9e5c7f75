//! `cargo xtask txn-check`: a campaign of the serializability checker (`ferris-txn-check`).
//!
//! Runs histories `start..start + histories`, each on a fresh database: threads run random
//! transactions while another flushes and compacts, and replaying the committed ones in
//! commit order against a model must reproduce every value they read (see the
//! `ferris_txn_check` crate docs). Prints a line every so often and a summary of what was
//! verified; stops at the first history that fails, naming its seed.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use ferris_txn_check::{Config, Outcome, run_history};

/// Options of `cargo xtask txn-check`.
#[derive(Args, Debug)]
pub(crate) struct CmdArgs {
    /// How many histories to run.
    #[arg(long, default_value_t = 1_000)]
    histories: u64,
    /// The first history's seed; seeds `start..start + histories` run.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Threads running transactions in each history.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Transactions each thread begins.
    #[arg(long, default_value_t = 200)]
    txns: usize,
    /// Keys per keyspace; by default histories alternate between 8 (much contention) and
    /// 48 (some).
    #[arg(long)]
    keys: Option<u32>,
    /// No flushes and compactions beside the transactions.
    #[arg(long)]
    no_maintenance: bool,
}

pub(crate) fn run(args: &CmdArgs) -> Result<()> {
    let started = Instant::now();
    let mut total = Outcome::default();
    for (n, seed) in (args.start..args.start + args.histories).enumerate() {
        let config = Config {
            seed,
            threads: args.threads,
            txns_per_thread: args.txns,
            keys: args.keys.unwrap_or(if seed % 2 == 0 { 8 } else { 48 }),
            maintenance: !args.no_maintenance,
            ..Config::default()
        };
        total.add(&run_history(&config)?);
        if (n + 1) % 100 == 0 {
            println!(
                "{} histories serializable ({:.0?})",
                n + 1,
                started.elapsed()
            );
        }
    }
    let Outcome {
        committed,
        read_only,
        conflicts,
        too_old,
        abandoned,
        maintenance,
    } = total;
    println!(
        "{} histories serializable in {:.1?}: {committed} committed transactions that wrote \
         and {read_only} that only read, replayed in commit order; {conflicts} commits \
         refused with a conflict, {too_old} as too old, {abandoned} abandoned; \
         {maintenance} flushes and compactions beside them",
        args.histories,
        started.elapsed()
    );
    Ok(())
}
