//! The serializability check over a few dozen histories, as CI runs it.

use ferris_txn_check::{Config, Outcome, run_history};

/// Histories with four threads, flushes and compactions, and enough contention that
/// commits are refused; each must be serializable in commit order.
#[test]
fn random_transaction_histories_are_serializable() {
    let mut total = Outcome::default();
    for seed in 0..24 {
        let config = Config {
            seed,
            keys: if seed % 2 == 0 { 8 } else { 48 },
            ..Config::default()
        };
        let outcome = run_history(&config).unwrap_or_else(|e| panic!("{e}"));
        total.add(&outcome);
    }
    // Not a speed: a history where nothing commits, or nothing conflicts, checks nothing.
    assert!(total.committed > 1_000, "{total:?}");
    assert!(total.read_only > 0 && total.conflicts > 0, "{total:?}");
    assert!(total.maintenance > 0, "{total:?}");
}

/// Without maintenance and with one thread, nothing conflicts, and everything not
/// abandoned commits.
#[test]
fn a_lone_thread_never_conflicts() {
    let config = Config {
        threads: 1,
        maintenance: false,
        ..Config::default()
    };
    let outcome = run_history(&config).unwrap();
    assert_eq!(outcome.conflicts + outcome.too_old, 0);
    let done = outcome.committed + outcome.read_only + outcome.abandoned;
    assert_eq!(done, 200);
}
