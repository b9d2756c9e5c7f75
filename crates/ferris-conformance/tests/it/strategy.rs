//! Every compaction strategy in the workspace against the `Strategy` contract: the two in
//! `ferris-compaction` and FIFO, written outside it.

use ferris_compaction::{CompactionOptions, Leveled, Tiered};
use ferris_conformance::Failure;
use ferris_conformance::strategy::check_strategy;
use ferris_fifo::Fifo;

/// Small level targets, so that the random views put many levels over them and the
/// strategies have more to choose.
fn small() -> CompactionOptions {
    let mut options = CompactionOptions::default();
    options.level1_target_bytes = 10 << 20;
    options.target_file_size = 2 << 20;
    options.max_grandparent_overlap_bytes = 20 << 20;
    options
}

#[test]
fn leveled_keeps_the_contract() -> Result<(), Failure> {
    check_strategy(&Leveled, &CompactionOptions::default())?;
    check_strategy(&Leveled, &small())
}

#[test]
fn tiered_keeps_the_contract() -> Result<(), Failure> {
    check_strategy(&Tiered::default(), &CompactionOptions::default())?;
    // RocksDB's run limit, and a limit below the trigger.
    for max_runs in [4, 1] {
        let tiered = Tiered {
            max_runs,
            ..Tiered::default()
        };
        check_strategy(&tiered, &small())?;
    }
    Ok(())
}

#[test]
fn fifo_keeps_the_contract() -> Result<(), Failure> {
    let options = CompactionOptions::default();
    // A cap most views pass, and one only the biggest do.
    check_strategy(&Fifo::new(4 * options.target_file_size), &options)?;
    check_strategy(&Fifo::default(), &small())?;
    check_strategy(&Fifo::new(u64::MAX), &options)
}
