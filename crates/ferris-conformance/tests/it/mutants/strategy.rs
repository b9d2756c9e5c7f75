//! Compaction strategies broken on purpose: each chooses by a plain function of the view,
//! and breaks one rule.

use ferris_compaction::{Choice, CompactionOptions, Reason, Strategy, View};
use ferris_conformance::strategy;

use crate::caught;

/// A strategy whose choice is `choose(view)`, named `name`.
struct Broken {
    name: &'static str,
    choose: fn(&View) -> Choice,
}

impl std::fmt::Debug for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Strategy for Broken {
    fn choose(&self, view: &View, _: &CompactionOptions) -> Choice {
        (self.choose)(view)
    }

    fn pending_compaction_bytes(&self, _: &View, _: &CompactionOptions) -> u64 {
        0
    }
}

/// Runs the whole suite on the broken strategy: its failure.
fn failure(name: &'static str, choose: fn(&View) -> Choice) -> ferris_conformance::Failure {
    let f = caught(strategy::check_strategy(
        &Broken { name, choose },
        &CompactionOptions::default(),
    ));
    assert_eq!(f.implementation(), name);
    f
}

/// Merges level 0 into level 1 but leaves the overlapping level-1 tables out.
fn leaves_level1_out(view: &View) -> Choice {
    let l0 = view.levels.level(0).to_vec();
    if l0.is_empty() || view.levels.level(1).is_empty() || view.is_busy(&l0) {
        return Choice::Nothing;
    }
    Choice::Merge {
        inputs: vec![(0, l0)],
        output_level: 1,
        reason: Reason::L0FileCount,
    }
}

#[test]
fn a_merge_that_leaves_an_overlapping_table_out_is_caught_and_its_view_replays() {
    let f = failure("LeavesLevel1Out", leaves_level1_out);
    assert_eq!(f.check(), "random_views");
    assert!(f.detail().contains("of the output level 1 out"), "{f}");
    // The failure shows the view, level by level.
    assert!(f.detail().contains("\nview (idle: "), "{f}");
    let seed = f.seed().expect("random views are seeded");
    let broken = Broken {
        name: "LeavesLevel1Out",
        choose: leaves_level1_out,
    };
    let options = CompactionOptions::default();
    assert_eq!(strategy::random_views_seed(&broken, &options, seed), Err(f));
    // And the view of that seed is there to look at.
    assert!(
        !strategy::random_view(seed, &options)
            .levels
            .level(1)
            .is_empty()
    );
}

/// Merges only the newest level-0 table into level 1, leaving older level-0 tables
/// above it: their stale versions would hide the merged ones.
fn newest_only(view: &View) -> Choice {
    let Some(newest) = view.levels.level(0).first() else {
        return Choice::Nothing;
    };
    let (lo, hi) = (newest.smallest.user_key(), newest.largest.user_key());
    let below: Vec<_> = view.levels.overlapping(1, lo, hi).cloned().collect();
    if view.is_busy([newest]) || view.is_busy(&below) {
        return Choice::Nothing;
    }
    Choice::Merge {
        inputs: vec![(0, vec![newest.clone()]), (1, below)],
        output_level: 1,
        reason: Reason::L0FileCount,
    }
}

#[test]
fn a_merge_that_leaves_older_level0_tables_above_is_caught() {
    let f = failure("NewestOnly", newest_only);
    assert_eq!(f.check(), "random_views");
    assert!(
        f.detail()
            .contains("where reads find it before the output in level 1"),
        "{f}"
    );
}

/// Drops a table a running compaction owns.
fn drops_busy(view: &View) -> Choice {
    match view
        .levels
        .files()
        .find(|(_, f)| view.busy.contains(&f.number))
    {
        Some((level, f)) => Choice::Drop {
            files: vec![(level, f.clone())],
        },
        None => Choice::Nothing,
    }
}

#[test]
fn a_busy_table_is_caught() {
    let f = failure("DropsBusy", drops_busy);
    assert_eq!(f.check(), "random_views");
    assert!(f.detail().contains("which is busy"), "{f}");
}

/// Merges all of level 0 into one level-0 table, and then that table into itself,
/// forever. Every choice is valid on its own.
fn merges_forever(view: &View) -> Choice {
    let l0 = view.levels.level(0).to_vec();
    if l0.is_empty() || view.is_busy(&l0) {
        return Choice::Nothing;
    }
    Choice::Merge {
        inputs: vec![(0, l0)],
        output_level: 0,
        reason: Reason::RunCount,
    }
}

#[test]
fn a_strategy_that_never_finishes_is_caught_by_the_simulations() {
    let f = failure("MergesForever", merges_forever);
    assert_eq!(f.check(), "simulations");
    assert!(
        f.detail().contains("still not done after 10000 choices"),
        "{f}"
    );
}

/// Gives a choice for an empty view.
fn merges_nothing(_: &View) -> Choice {
    Choice::Merge {
        inputs: Vec::new(),
        output_level: 1,
        reason: Reason::RunCount,
    }
}

#[test]
fn a_choice_for_an_empty_view_fails_the_empty_view() {
    let f = failure("MergesNothing", merges_nothing);
    assert_eq!(
        (f.check(), f.case()),
        ("empty_view", "an empty view (idle: false)")
    );
    assert_eq!((f.detail(), f.expected()), ("choose", Some("Nothing")));
}
