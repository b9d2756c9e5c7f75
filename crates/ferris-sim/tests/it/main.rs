//! Integration tests of ferris-sim: a campaign of seeds (the simulation's own CI run), the
//! determinism of a seed's workload, and seeds that once failed.

mod campaign;
mod determinism;
mod regressions;

use ferris_sim::{SeedReport, SimConfig, SimFailure, run_seed};

/// Seeds the campaign runs in total, split over its tests: 2,000 unless
/// `FERRIS_SIM_SEEDS` asks for more (or fewer).
pub(crate) fn total_seeds() -> u64 {
    std::env::var("FERRIS_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// The first seed of the campaign: 0 unless `FERRIS_SIM_START` moves it, to explore
/// seeds CI has not run.
pub(crate) fn first_seed() -> u64 {
    std::env::var("FERRIS_SIM_START")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs `seeds` and panics listing every failure with its replay command; returns the
/// reports of the seeds that passed.
pub(crate) fn run_seeds(seeds: impl Iterator<Item = u64>, config: &SimConfig) -> Vec<SeedReport> {
    let mut reports = Vec::new();
    let mut failures: Vec<SimFailure> = Vec::new();
    for seed in seeds {
        match run_seed(seed, config) {
            Ok(report) => reports.push(report),
            Err(failure) => failures.push(failure),
        }
    }
    if !failures.is_empty() {
        let lines: Vec<String> = failures
            .iter()
            .map(|f| format!("{f}\n    replay: {}", f.replay_command()))
            .collect();
        panic!(
            "{} of {} seeds failed:\n{}",
            failures.len(),
            failures.len() + reports.len(),
            lines.join("\n")
        );
    }
    reports
}
