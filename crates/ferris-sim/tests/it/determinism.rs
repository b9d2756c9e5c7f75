//! What replays: a seed's workload is a pure function of the seed, and with no background
//! work in play a seed's whole run replays to the same report.

use ferris_sim::{SimConfig, Workload, run_seed, run_workload};

#[test]
fn a_seed_always_generates_the_same_workload() {
    let config = SimConfig::default();
    for seed in [0, 1, 7, 1234, u64::MAX] {
        let a = Workload::generate(seed, &config);
        let b = Workload::generate(seed, &config);
        assert_eq!(a, b, "seed {seed}");
        assert_eq!(a.digest(), b.digest(), "seed {seed}");
        // The main mix, and keyspace operations between its steps.
        assert!(a.ops.len() >= config.ops_per_seed, "seed {seed}");
        assert!(!a.cuts.is_empty() && a.cuts.len() <= config.max_cuts);
    }
    assert_ne!(
        Workload::generate(1, &config).digest(),
        Workload::generate(2, &config).digest()
    );
}

#[test]
fn a_seed_replays_the_same_workload_and_passes_again() {
    let config = SimConfig::default();
    for seed in [3, 42, 977] {
        let first = run_seed(seed, &config).unwrap_or_else(|f| panic!("{f}"));
        let second = run_seed(seed, &config).unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(first.workload_digest, second.workload_digest, "seed {seed}");
        assert_eq!(
            first.workload_digest,
            Workload::generate(seed, &config).digest()
        );
    }
}

/// A cut inside the first `Db::open` happens before the engine starts a thread, so with
/// no operations after it (and no idle thread) the whole run is single-threaded and
/// replays exactly: the same operation cut, on the same file, the same recovery, the same
/// report.
#[test]
fn a_cut_before_any_background_thread_replays_exactly() {
    let config = SimConfig::default();
    for seed in 0..16 {
        let mut workload = Workload::generate(seed, &config);
        workload.cuts = vec![seed];
        workload.ops.clear();
        workload.setup.idle_after = None;
        let first = run_workload(&workload, &config).unwrap_or_else(|f| panic!("{f}"));
        let second = run_workload(&workload, &config).unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(first, second, "seed {seed}");
        assert_eq!(first.cuts_landed, 1, "seed {seed}: the cut was in the open");
    }
}
