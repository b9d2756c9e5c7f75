//! Stage 5, the compaction picker: `lab_compaction::LabLeveled`, or the reference
//! `ferris_compaction::Leveled`, under `CompactionOptions::default()`.
//!
//! | check | from | what it demands |
//! |---|---|---|
//! | `level0_over_its_trigger` | the lab | level 0 at its trigger, nothing below: `choose` compacts |
//! | `empty_view`, `random_views`, `simulations` | `ferris_conformance::strategy` | every choice keeps the rules the engine relies on, and a run of choices ends |
//! | `reports_its_backlog` | the lab | `pending_compaction_bytes` is more than 0 exactly when a level is over its target (level 0: at its trigger) |
//! | `does_its_job` | the lab | once the strategy says `Nothing`, level 0 is below its trigger and every level but the last within its target |
//!
//! Doing nothing breaks no rule of the suite (it is always safe), so a strategy that never
//! compacts passes it: the lab's own checks are the ones that ask for the work. They
//! judge a leveled strategy, the one this stage asks for; a tiered or FIFO strategy keeps
//! its levels otherwise on purpose.

use std::sync::Arc;

use ferris_compaction::{Choice, CompactionOptions, Strategy, View};
use ferris_conformance::strategy::{self as suite, MAX_STEPS, SIMULATION_SEEDS};
use ferris_core::level::{FileMeta, Levels, NUM_LEVELS};
use ferris_core::{InternalKey, ValueKind};

use crate::{Check, Failure, Subject, caught, lab_failure};

/// The strategy graded for `subject`.
pub fn strategy(subject: Subject) -> &'static dyn Strategy {
    match subject {
        Subject::Lab => &lab_compaction::LabLeveled,
        Subject::Reference => &ferris_compaction::Leveled,
    }
}

/// The seeds of the random views the check `reports_its_backlog` runs.
pub const BACKLOG_SEEDS: std::ops::Range<u64> = 0..100;

/// The stage's checks, in order.
pub const CHECKS: [Check; 6] = [
    Check {
        name: "level0_over_its_trigger",
        guarantee: "once level 0 holds l0_compaction_trigger tables, choose compacts it: every \
                    level-0 table is one more place each read must look",
        run: level0_over_its_trigger,
        seed: None,
    },
    Check {
        name: "empty_view",
        guarantee: "with no tables there is nothing to do: choose and manual give Nothing, and \
                    the backlog is 0",
        run: |s| suite::empty_view(strategy(s), &CompactionOptions::default()),
        seed: None,
    },
    Check {
        name: "random_views",
        guarantee: "every choice names only real tables no compaction owns, merges downwards \
                    taking every overlapping table of the output level, and never lets a read \
                    find an older version before a newer one; the same view, the same choice",
        run: |s| suite::random_views(strategy(s), &CompactionOptions::default()),
        seed: Some(|s, seed| {
            suite::random_views_seed(strategy(s), &CompactionOptions::default(), seed)
        }),
    },
    Check {
        name: "simulations",
        guarantee: "applied one after another, the choices keep every rule and come to an end \
                    (Nothing)",
        run: |s| suite::simulations(strategy(s), &CompactionOptions::default()),
        seed: Some(|s, seed| {
            suite::simulations_seed(strategy(s), &CompactionOptions::default(), seed)
        }),
    },
    Check {
        name: "reports_its_backlog",
        guarantee: "pending_compaction_bytes, which flow control slows writes on, is more than 0 \
                    exactly when a level is over its target (level 0: at its trigger)",
        run: |s| {
            BACKLOG_SEEDS
                .into_iter()
                .try_for_each(|seed| reports_its_backlog_seed(s, seed))
        },
        seed: Some(reports_its_backlog_seed),
    },
    Check {
        name: "does_its_job",
        guarantee: "once the strategy says Nothing, level 0 is below its trigger and every level \
                    but the last within its size target",
        run: |s| {
            SIMULATION_SEEDS
                .into_iter()
                .try_for_each(|seed| does_its_job_seed(s, seed))
        },
        seed: Some(does_its_job_seed),
    },
];

/// The name a failure gives the strategy: its `Debug` form, as the suite's.
fn name(subject: Subject) -> String {
    format!("{:?}", strategy(subject))
}

/// A table of keys `[lo, hi]` (two-byte numbers, as the suite's views use) and sequence
/// numbers `seqs`.
fn table(number: u64, lo: u16, hi: u16, seqs: (u64, u64), size: u64) -> Arc<FileMeta> {
    Arc::new(FileMeta {
        number,
        size,
        smallest: InternalKey::new(lo.to_be_bytes().to_vec(), seqs.1, ValueKind::Put),
        largest: InternalKey::new(hi.to_be_bytes().to_vec(), seqs.0, ValueKind::Put),
        min_seq: seqs.0,
        max_seq: seqs.1,
        entries: 100,
        tombstones: 0,
    })
}

fn level0_over_its_trigger(subject: Subject) -> Result<(), Failure> {
    const CHECK: &str = "level0_over_its_trigger";
    let options = CompactionOptions::default();
    let trigger = options.l0_compaction_trigger;
    let case =
        format!("{trigger} level-0 tables of 1 MiB each (the trigger is {trigger}), nothing below");
    let name = name(subject);
    caught(&name, CHECK, &case, || {
        let files = (0..trigger as u64)
            .map(|i| (0, table(i + 1, 0, 999, (i * 10 + 1, i * 10 + 9), 1 << 20)));
        let view = View::new(Levels::from_files(files));
        match strategy(subject).choose(&view, &options) {
            Choice::Nothing => Err(lab_failure(
                &name,
                CHECK,
                case.as_str(),
                format!(
                    "choose gave Nothing with level 0 at its trigger of {trigger} tables: they \
                     all overlap, so every read looks in each of them, and each flush adds one \
                     more; merge them (with the level-1 tables they overlap) into level 1"
                ),
            )
            .with_answers("Nothing", "a Merge of level 0 into level 1")),
            _ => Ok(()),
        }
    })
}

/// Where `view` is over its targets: a sentence for each level that is.
fn over_targets(view: &View, options: &CompactionOptions) -> Vec<String> {
    let mut over = Vec::new();
    let l0 = view.levels.level(0).len();
    if l0 >= options.l0_compaction_trigger {
        over.push(format!(
            "level 0 holds {l0} tables (the trigger is {})",
            options.l0_compaction_trigger
        ));
    }
    for level in 1..NUM_LEVELS - 1 {
        let (bytes, target) = (
            view.levels.level_bytes(level),
            options.level_target_bytes(level),
        );
        if bytes > target {
            over.push(format!(
                "level {level} holds {bytes} bytes (its target is {target})"
            ));
        }
    }
    over
}

/// One seed of `reports_its_backlog`: the suite's random view of `seed`.
fn reports_its_backlog_seed(subject: Subject, seed: u64) -> Result<(), Failure> {
    const CHECK: &str = "reports_its_backlog";
    let options = CompactionOptions::default();
    let name = name(subject);
    let case = format!("seed {seed}");
    caught(&name, CHECK, &case, || {
        let view = suite::random_view(seed, &options);
        let pending = strategy(subject).pending_compaction_bytes(&view, &options);
        let over = over_targets(&view, &options);
        let detail = match (over.first(), pending) {
            (Some(first), 0) => format!(
                "pending_compaction_bytes is 0, though {first}: flow control slows writes on \
                 this figure, so a backlog reported as 0 lets writes outrun compaction"
            ),
            (None, p) if p > 0 => format!(
                "pending_compaction_bytes is {p}, though every level is within its target: \
                 writes would be slowed for nothing"
            ),
            _ => return Ok(()),
        };
        let expected = if over.is_empty() { "0" } else { "more than 0" };
        Err(
            Failure::new(&name, CHECK, Some(seed), case.as_str(), detail)
                .with_answers(pending.to_string(), expected),
        )
    })
}

/// One seed of `does_its_job`: the suite's random view of `seed` (nothing busy), the
/// strategy's choices applied until it says `Nothing`, and the levels then.
fn does_its_job_seed(subject: Subject, seed: u64) -> Result<(), Failure> {
    const CHECK: &str = "does_its_job";
    let options = CompactionOptions::default();
    let name = name(subject);
    let case = format!("seed {seed}");
    let fail = |detail: String| Failure::new(&name, CHECK, Some(seed), case.as_str(), detail);
    caught(&name, CHECK, &case, || {
        let mut view = suite::random_view(seed, &options);
        view.busy.clear();
        let mut next_number = view
            .levels
            .files()
            .map(|(_, f)| f.number)
            .max()
            .unwrap_or(0);
        for step in 0..MAX_STEPS {
            let choice = strategy(subject).choose(&view, &options);
            let deleted: Vec<(usize, u64)> = choice
                .tables()
                .iter()
                .map(|(l, f)| (*l, f.number))
                .collect();
            let added = match &choice {
                Choice::Nothing => {
                    let over = over_targets(&view, &options);
                    return match over.first() {
                        None => Ok(()),
                        Some(first) => Err(fail(format!(
                            "after {step} choices, choose gave Nothing though {first}: a leveled \
                             strategy compacts until every level is within its target (only \
                             the last level may grow)"
                        ))
                        .with_answers("Nothing", "a compaction")),
                    };
                }
                Choice::Move { file, from } => vec![(from + 1, Arc::clone(file))],
                Choice::Drop { .. } => Vec::new(),
                Choice::Merge { output_level, .. } => {
                    next_number += 1;
                    let inputs: Vec<Arc<FileMeta>> = choice
                        .tables()
                        .into_iter()
                        .map(|(_, f)| Arc::clone(f))
                        .collect();
                    vec![(*output_level, suite::merged(next_number, &inputs))]
                }
            };
            view.levels = view
                .levels
                .apply(&deleted, added)
                .map_err(|problem| fail(format!("choice {step} does not apply: {problem}")))?;
        }
        Err(fail(format!("still compacting after {MAX_STEPS} choices")))
    })
}
