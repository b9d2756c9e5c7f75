//! Compaction strategies broken on purpose: each chooses by a plain function of the view,
//! and breaks one rule.

use ferris_compaction::{Choice, CompactionOptions, Reason, Strategy, View};
use ferris_conformance::strategy;

use crate::{assert_replays, caught};

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

/// Runs the whole suite on the broken strategy: its failure, which must name `check`.
fn failure(
    name: &'static str,
    choose: fn(&View) -> Choice,
    check: &str,
) -> ferris_conformance::Failure {
    let broken = Broken { name, choose };
    let f = caught(
        strategy::check_strategy(&broken, &CompactionOptions::default()),
        check,
    );
    assert_eq!(f.implementation(), name);
    f
}

/// All of level 0 merged into `output_level`, or nothing if a level-0 table is busy.
fn all_of_level0_into(view: &View, output_level: usize, reason: Reason) -> Choice {
    let l0 = view.levels.level(0).to_vec();
    if l0.is_empty() || view.is_busy(&l0) {
        return Choice::Nothing;
    }
    Choice::Merge {
        inputs: vec![(0, l0)],
        output_level,
        reason,
    }
}

/// Merges level 0 into level 1 but leaves the overlapping level-1 tables out.
fn leaves_level1_out(view: &View) -> Choice {
    if view.levels.level(1).is_empty() {
        return Choice::Nothing;
    }
    all_of_level0_into(view, 1, Reason::L0FileCount)
}

#[test]
fn a_merge_that_leaves_an_overlapping_table_out_is_caught_and_its_view_replays() {
    let f = failure("LeavesLevel1Out", leaves_level1_out, "random_views");
    assert!(f.detail().contains("of the output level 1 out"), "{f}");
    // The failure shows the view, level by level.
    assert!(f.detail().contains("\nview (idle: "), "{f}");
    let broken = Broken {
        name: "LeavesLevel1Out",
        choose: leaves_level1_out,
    };
    let options = CompactionOptions::default();
    let seed = assert_replays(f, |seed| {
        strategy::random_views_seed(&broken, &options, seed)
    });
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
    let f = failure("NewestOnly", newest_only, "random_views");
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
    let f = failure("DropsBusy", drops_busy, "random_views");
    assert!(f.detail().contains("which is busy"), "{f}");
}

/// Merges all of level 0 into one level-0 table, and then that table into itself,
/// forever. Every choice is valid on its own.
fn merges_forever(view: &View) -> Choice {
    all_of_level0_into(view, 0, Reason::RunCount)
}

#[test]
fn a_strategy_that_never_finishes_is_caught_by_the_simulations() {
    let f = failure("MergesForever", merges_forever, "simulations");
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
    let f = failure("MergesNothing", merges_nothing, "empty_view");
    assert_eq!(f.case(), "an empty view (idle: false)");
    assert_eq!((f.detail(), f.expected()), ("choose", Some("Nothing")));
}
