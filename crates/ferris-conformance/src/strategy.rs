//! The compaction-strategy contract, checked: [`check_strategy`] runs any
//! [`Strategy`] over random views of the levels and checks every rule the engine relies
//! on when it executes a [`Choice`] without second-guessing it.
//!
//! The views are well-formed databases of the kind the engine keeps: levels 1 and deeper
//! each a run of non-overlapping tables, level 0 overlapping tables, and sequence numbers
//! that grow from the deepest level up and from the oldest level-0 table to the newest,
//! so that a newer version of a key is always found first. Some levels are empty, some
//! over their size targets, some tables hold only tombstones, some tables are busy (owned
//! by a running compaction), and some views are idle. Every choice the strategy gives
//! must
//!
//! - name only tables of the view, at the levels where the view has them, each once,
//!   and none that is busy;
//! - move a table only into a level where nothing overlaps it;
//! - merge into a level at or below every input's level, taking every table of the
//!   output level (1 or deeper) that overlaps the inputs' key range;
//! - leave no table where a read finds it before the output while it holds older
//!   versions of the output's keys, or after the output while it holds newer ones.
//!
//! The checks, each a function taking the strategy and the options it runs with:
//!
//! | check | what it demands |
//! |---|---|
//! | [`empty_view`] | on an empty view, idle or not, [`choose`](Strategy::choose) and a [`manual`](Strategy::manual) compaction over everything give [`Choice::Nothing`], and there is no backlog |
//! | [`random_views`] | on the view of each seed of [`SEEDS`], `choose`, and `manual` over everything and over a random key range, give choices that keep the rules above; the same view always gives the same choice, backlog and write pressure |
//! | [`simulations`] | on the view of each seed of [`SIMULATION_SEEDS`], a small simulator applies each choice of `choose` (and then, from the same view, of `manual` over everything): a move moves, a drop removes, a merge replaces its inputs by one table covering their range in the output level. Every step's choice keeps the rules, and the strategy runs out of things to do within [`MAX_STEPS`] choices |
//!
//! A [`Failure`] names the strategy by its `Debug` form, the check and the seed, and its
//! detail gives the call, its choice, the rule it broke, and the view, level by level;
//! [`random_view`] rebuilds the view of a seed, and [`random_views_seed`] and
//! [`simulations_seed`] run one seed again. Keys are two bytes, big-endian numbers below
//! 1000, printed as numbers.
//!
//! ```
//! use ferris_compaction::{CompactionOptions, Tiered};
//! use ferris_conformance::strategy;
//!
//! let options = CompactionOptions::default();
//! strategy::empty_view(&Tiered::default(), &options)?;
//! strategy::random_views_seed(&Tiered::default(), &options, 17)?;
//! # Ok::<(), ferris_conformance::Failure>(())
//! ```
//!
//! # Limits
//!
//! The suite checks the rules a choice must keep, not how good a choice is: the write and
//! space amplification a strategy leads to is not judged here. The views are
//! table metadata only, and the simulator's merged tables keep every entry of their
//! inputs (the worst case), so a strategy that counts on compaction dropping tombstones
//! is seen at its most pessimistic.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;

use ferris_compaction::{Choice, CompactionOptions, Strategy, View};
use ferris_core::level::{FileMeta, Levels, NUM_LEVELS};
use ferris_core::{InternalKey, SeqNo, ValueKind};

use crate::Failure;
use crate::failure::{Checking, Problem, ensure};

/// The seeds of the random views [`random_views`] checks each strategy on.
pub const SEEDS: Range<u64> = 0..400;

/// The seeds of the random views [`simulations`] runs to the end.
pub const SIMULATION_SEEDS: Range<u64> = 0..40;

/// The most choices the simulator applies to one view before it calls the strategy stuck.
pub const MAX_STEPS: usize = 10_000;

/// The key space: user keys are the numbers below this, two bytes big-endian.
const KEYS: u16 = 1000;

/// A check of the suite: the strategy and its options in, the first failure out.
pub type Check = fn(&dyn Strategy, &CompactionOptions) -> Result<(), Failure>;

/// Every check, with its name, in the order [`check_strategy`] runs them.
pub const CHECKS: [(&str, Check); 3] = [
    ("empty_view", empty_view),
    ("random_views", random_views),
    ("simulations", simulations),
];

/// Runs every check of the suite on `strategy` under `options`, in the order of
/// [`CHECKS`]: see the [module docs](self) for every rule.
///
/// # Errors
///
/// The first [`Failure`], naming the strategy by its `Debug` form, the check, the seed of
/// the view ([`random_view`] rebuilds it), and in the detail the rule broken, the choice,
/// and the view, level by level.
pub fn check_strategy(strategy: &dyn Strategy, options: &CompactionOptions) -> Result<(), Failure> {
    CHECKS
        .iter()
        .try_for_each(|(_, check)| check(strategy, options))
}

/// The name of the implementation in a failure.
fn name(strategy: &dyn Strategy) -> String {
    format!("{strategy:?}")
}

/// An empty view, idle or not: [`choose`](Strategy::choose) and a manual compaction over
/// everything give [`Choice::Nothing`], and the backlog is 0.
///
/// # Errors
///
/// A [`Failure`] naming the call and what it gave.
pub fn empty_view(strategy: &dyn Strategy, options: &CompactionOptions) -> Result<(), Failure> {
    let name = name(strategy);
    let checking = Checking::new(&name, "empty_view");
    for idle in [false, true] {
        checking.case(format_args!("an empty view (idle: {idle})"), || {
            let view = View {
                idle,
                ..View::default()
            };
            let found = [
                ("choose", strategy.choose(&view, options)),
                ("manual over everything", strategy.manual(&view, None)),
            ];
            for (what, choice) in found {
                ensure(choice == Choice::Nothing, || {
                    Problem::mismatch(what, show(&choice), "Nothing")
                })?;
            }
            let pending = strategy.pending_compaction_bytes(&view, options);
            ensure(pending == 0, || {
                Problem::mismatch("pending_compaction_bytes", pending, 0)
            })
        })?;
    }
    Ok(())
}

/// The rules of every choice, on the random view of each seed of [`SEEDS`]: `choose`, and
/// a manual compaction over everything and over a random key range, each asked twice.
///
/// # Errors
///
/// The first [`Failure`].
pub fn random_views(strategy: &dyn Strategy, options: &CompactionOptions) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| random_views_seed(strategy, options, seed))
}

/// One seed of [`random_views`]: the view [`random_view`] builds from `seed`.
///
/// # Errors
///
/// A [`Failure`] naming the seed, the call, its choice, the rule it broke, and the view.
pub fn random_views_seed(
    strategy: &dyn Strategy,
    options: &CompactionOptions,
    seed: u64,
) -> Result<(), Failure> {
    Checking::new(&name(strategy), "random_views").seed(seed, || {
        let view = random_view(seed, options);
        check_view(strategy, options, &view, seed).map_err(|problem| on_view(problem, &view))
    })
}

/// The simulator, on the random view of each seed of [`SIMULATION_SEEDS`] (with no table
/// busy): each choice of `choose`, and then of a manual compaction over everything, is
/// checked and applied, until the strategy has nothing left to do.
///
/// # Errors
///
/// The first [`Failure`].
pub fn simulations(strategy: &dyn Strategy, options: &CompactionOptions) -> Result<(), Failure> {
    SIMULATION_SEEDS
        .into_iter()
        .try_for_each(|seed| simulations_seed(strategy, options, seed))
}

/// One seed of [`simulations`].
///
/// # Errors
///
/// A [`Failure`] naming the seed, which simulation, the step, the rule broken (or that
/// it took more than [`MAX_STEPS`] choices), and the view it happened on.
pub fn simulations_seed(
    strategy: &dyn Strategy,
    options: &CompactionOptions,
    seed: u64,
) -> Result<(), Failure> {
    Checking::new(&name(strategy), "simulations").seed(seed, || {
        let mut view = random_view(seed, options);
        view.busy.clear();
        for manual in [false, true] {
            if let Err((step, problem, at)) = simulate(strategy, options, view.clone(), manual) {
                let kind = if manual { "the manual" } else { "the" };
                return Err(on_view(
                    format!("{kind} simulation, step {step}: {problem}"),
                    &at,
                ));
            }
        }
        Ok(())
    })
}

/// A broken rule, followed by the view it was broken on.
fn on_view(problem: String, view: &View) -> Problem {
    Problem::from(format!("{problem}\n{}", describe(view)))
}

/// The random view of `seed`, as [`random_views`] and [`simulations`] build it: the one a failure
/// names, to look at or replay. Table sizes follow `options` (level targets, table size).
pub fn random_view(seed: u64, options: &CompactionOptions) -> View {
    let mut rng = Rng::new(seed);
    let mut files: Vec<(usize, Arc<FileMeta>)> = Vec::new();
    let mut number = 0u64;
    let mut next_seq: SeqNo = 1;
    let mut make = |rng: &mut Rng, lo: u16, hi: u16, seqs: (SeqNo, SeqNo), size: u64| {
        number += 1;
        let entries = 1 + rng.below(1000);
        let tombstones = if rng.chance(5) {
            entries
        } else {
            rng.below(entries + 1)
        };
        Arc::new(FileMeta {
            number,
            size: size.max(1),
            smallest: InternalKey::new(key(lo), seqs.1, ValueKind::Put),
            largest: InternalKey::new(key(hi), seqs.0, ValueKind::Put),
            min_seq: seqs.0,
            max_seq: seqs.1,
            entries,
            tombstones,
        })
    };
    // The deeper levels first: each holds older data than the levels above it.
    let deepest = rng.below(NUM_LEVELS as u64) as usize;
    for level in (1..=deepest).rev() {
        if rng.chance(4) {
            continue;
        }
        let n = 1 + rng.below(8);
        let mut points: Vec<u16> = (0..2 * n)
            .map(|_| rng.below(u64::from(KEYS)) as u16)
            .collect();
        points.sort_unstable();
        points.dedup();
        // A level's bytes range from a fraction of its target to three times it.
        let level_bytes = options
            .level_target_bytes(level)
            .saturating_mul(rng.below(300) + 1)
            / 100;
        let band = next_seq;
        for pair in points.chunks_exact(2) {
            let min_seq = band + rng.below(500);
            let max_seq = min_seq + rng.below(500);
            let size = level_bytes / (points.len() as u64 / 2) * (rng.below(100) + 50) / 100;
            files.push((
                level,
                make(&mut rng, pair[0], pair[1], (min_seq, max_seq), size),
            ));
        }
        next_seq = band + 1000;
    }
    // Level 0, oldest table first: each a flush (or a merged run) newer than the last.
    let l0_tables = rng.below(2 * options.l0_compaction_trigger.max(2) as u64 + 3);
    for _ in 0..l0_tables {
        let lo = rng.below(u64::from(KEYS)) as u16;
        let hi = lo + rng.below(u64::from(KEYS - lo)) as u16;
        let min_seq = next_seq;
        let max_seq = min_seq + rng.below(100);
        next_seq = max_seq + 1;
        let size = options.target_file_size.saturating_mul(rng.below(200) + 1) / 100;
        files.push((0, make(&mut rng, lo, hi, (min_seq, max_seq), size)));
    }
    let mut view = View::new(Levels::from_files(files));
    if rng.chance(2) {
        for (_, f) in view.levels.files() {
            if rng.chance(6) {
                view.busy.insert(f.number);
            }
        }
    }
    view.idle = rng.chance(2);
    view
}

/// The user key of number `k`.
fn key(k: u16) -> Vec<u8> {
    k.to_be_bytes().to_vec()
}

/// A user key as a number, for messages (the bytes, if not one of ours).
fn show_key(user_key: &[u8]) -> String {
    match user_key {
        [a, b] => u16::from_be_bytes([*a, *b]).to_string(),
        other => format!("{other:?}"),
    }
}

fn check_view(
    strategy: &dyn Strategy,
    options: &CompactionOptions,
    view: &View,
    seed: u64,
) -> Result<(), String> {
    let choice = strategy.choose(view, options);
    check_choice(view, &choice, &Ancestry::default())
        .map_err(|p| format!("choose gave {}: {p}", show(&choice)))?;
    let again = strategy.choose(&view.clone(), options);
    if again != choice {
        return Err(format!(
            "choose gave {} and then {} on the same view",
            show(&choice),
            show(&again)
        ));
    }
    let pending = strategy.pending_compaction_bytes(view, options);
    if strategy.pending_compaction_bytes(view, options) != pending {
        return Err("pending_compaction_bytes changed on the same view".into());
    }
    let pressure = strategy.write_pressure(view, options);
    if strategy.write_pressure(view, options) != pressure {
        return Err("write_pressure changed on the same view".into());
    }
    // A manual compaction over everything, and over a range that depends on the seed.
    let mut rng = Rng::new(seed ^ 0x6d61_6e75_616c);
    let lo = rng.below(u64::from(KEYS)) as u16;
    let hi = lo + rng.below(u64::from(KEYS - lo)) as u16;
    let (lo, hi) = (key(lo), key(hi));
    for range in [None, Some((&lo[..], &hi[..]))] {
        let choice = strategy.manual(view, range);
        let what = match range {
            None => "manual over everything".to_string(),
            Some((lo, hi)) => format!("manual over [{}, {}]", show_key(lo), show_key(hi)),
        };
        check_choice(view, &choice, &Ancestry::default())
            .map_err(|p| format!("{what} gave {}: {p}", show(&choice)))?;
        if strategy.manual(view, range) != choice {
            return Err(format!("{what} changed on the same view"));
        }
    }
    Ok(())
}

/// What the tables of a view were made of: for a table the simulator made by merging,
/// the tables of the random view whose entries it holds. Any other table stands for
/// itself.
///
/// A merged table's key and sequence ranges are the hulls of its inputs', which says
/// much less than the inputs did: a merge of a level-1 table into level 2 covers
/// sequence numbers of both levels, and would seem to clash with every level-1 table
/// next to it. The pieces keep the placement rule as exact after a merge as before.
#[derive(Debug, Default)]
struct Ancestry {
    pieces: HashMap<u64, Vec<Arc<FileMeta>>>,
}

impl Ancestry {
    /// The original tables `file` holds the entries of.
    fn pieces<'a>(&'a self, file: &'a Arc<FileMeta>) -> &'a [Arc<FileMeta>] {
        self.pieces
            .get(&file.number)
            .map_or(std::slice::from_ref(file), Vec::as_slice)
    }

    /// Records that table `number` holds the entries of `inputs`.
    fn merged(&mut self, number: u64, inputs: &[Arc<FileMeta>]) {
        let pieces = inputs
            .iter()
            .flat_map(|f| self.pieces(f).iter().cloned())
            .collect();
        self.pieces.insert(number, pieces);
    }
}

/// Checks one choice against `view`; the error says which rule it broke.
fn check_choice(view: &View, choice: &Choice, ancestry: &Ancestry) -> Result<(), String> {
    check_named(view, choice.tables())?;
    match choice {
        Choice::Nothing => Ok(()),
        Choice::Move { file, from } => {
            let to = from + 1;
            if to >= NUM_LEVELS {
                return Err(format!("moves table {} below the last level", file.number));
            }
            let (lo, hi) = (file.smallest.user_key(), file.largest.user_key());
            if let Some(t) = view.levels.overlapping(to, lo, hi).next() {
                return Err(format!(
                    "moves table {} into level {to}, where table {} overlaps it",
                    file.number, t.number
                ));
            }
            check_placement(view, std::slice::from_ref(file), to, ancestry)
        }
        Choice::Merge {
            inputs,
            output_level,
            ..
        } => {
            let output_level = *output_level;
            if output_level >= NUM_LEVELS {
                return Err(format!(
                    "merges into level {output_level}, which does not exist"
                ));
            }
            if let Some((level, _)) = inputs.iter().find(|(l, _)| *l > output_level) {
                return Err(format!("merges level {level} up into level {output_level}"));
            }
            let all = inputs_of(choice);
            if all.is_empty() {
                return Err("merges no table at all".into());
            }
            if output_level >= 1 {
                let (lo, hi) = ferris_compaction::key_range(&all);
                let taken: HashSet<u64> = all.iter().map(|f| f.number).collect();
                if let Some(t) = view
                    .levels
                    .overlapping(output_level, lo, hi)
                    .find(|t| !taken.contains(&t.number))
                {
                    return Err(format!(
                        "leaves table {} of the output level {output_level} out, though it overlaps the inputs' range [{}, {}]",
                        t.number,
                        show_key(lo),
                        show_key(hi)
                    ));
                }
            }
            check_placement(view, &all, output_level, ancestry)
        }
        Choice::Drop { files } if files.is_empty() => Err("drops no table at all".into()),
        Choice::Drop { .. } => Ok(()),
    }
}

/// The tables `choice` takes out of their levels, without their levels.
fn inputs_of(choice: &Choice) -> Vec<Arc<FileMeta>> {
    choice
        .tables()
        .into_iter()
        .map(|(_, f)| f.clone())
        .collect()
}

/// Every table named is in the view at that level, named once, and not busy.
fn check_named<'a>(
    view: &View,
    named: impl IntoIterator<Item = (usize, &'a Arc<FileMeta>)>,
) -> Result<(), String> {
    let mut seen = HashSet::new();
    for (level, file) in named {
        match view.levels.find(file.number) {
            None => {
                return Err(format!(
                    "names table {}, which is not in the view",
                    file.number
                ));
            }
            Some((actual, _)) if actual != level => {
                return Err(format!(
                    "names table {} in level {level}, but it is in level {actual}",
                    file.number
                ));
            }
            Some((_, f)) if **f != **file => {
                return Err(format!(
                    "names table {} with metadata the view does not have",
                    file.number
                ));
            }
            Some(_) => {}
        }
        if !seen.insert(file.number) {
            return Err(format!("names table {} twice", file.number));
        }
        if view.busy.contains(&file.number) {
            return Err(format!("names table {}, which is busy", file.number));
        }
    }
    Ok(())
}

/// Newer is found first: with `moved` (one table moved, or a merge's inputs) placed in
/// `level`, no other table a read consults before them holds a version older than one of
/// theirs, and none consulted after holds a newer one, wherever they share keys. Tables
/// are compared piece by piece ([`Ancestry`]).
fn check_placement(
    view: &View,
    moved: &[Arc<FileMeta>],
    level: usize,
    ancestry: &Ancestry,
) -> Result<(), String> {
    let numbers: HashSet<u64> = moved.iter().map(|f| f.number).collect();
    let newest = moved.iter().map(|f| f.max_seq).max().unwrap_or(0);
    for (t_level, t) in view.levels.files() {
        if numbers.contains(&t.number) {
            continue;
        }
        // Reads consult level 0 newest first (by largest sequence number), then each
        // deeper level; the output of a merge into level 0 sorts by its newest input.
        let before = t_level < level || (level == 0 && t_level == 0 && t.max_seq > newest);
        for s in moved {
            for p in ancestry.pieces(t) {
                for q in ancestry.pieces(s) {
                    if !p.overlaps(q.smallest.user_key(), q.largest.user_key()) {
                        continue;
                    }
                    let (side, clash) = if before {
                        ("before", p.min_seq <= q.max_seq)
                    } else {
                        ("after", p.max_seq >= q.min_seq)
                    };
                    if clash {
                        let age = if before { "older" } else { "newer" };
                        return Err(format!(
                            "leaves table {} (level {t_level}, sequence numbers {}..={}) where reads find it {side} the output in level {level}, though it may hold {age} versions of table {}'s keys ({}..={})",
                            t.number, p.min_seq, p.max_seq, s.number, q.min_seq, q.max_seq
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Applies the strategy's choices to `view` until it has nothing to do. The error: the
/// step, the problem, and the view it happened on.
fn simulate(
    strategy: &dyn Strategy,
    options: &CompactionOptions,
    mut view: View,
    manual: bool,
) -> Result<(), (usize, String, View)> {
    let mut next_number = view
        .levels
        .files()
        .map(|(_, f)| f.number)
        .max()
        .unwrap_or(0);
    let mut ancestry = Ancestry::default();
    for step in 0..MAX_STEPS {
        let choice = if manual {
            strategy.manual(&view, None)
        } else {
            strategy.choose(&view, options)
        };
        if let Err(problem) = check_choice(&view, &choice, &ancestry) {
            return Err((step, format!("{}: {problem}", show(&choice)), view));
        }
        let deleted: Vec<(usize, u64)> = choice
            .tables()
            .iter()
            .map(|(l, f)| (*l, f.number))
            .collect();
        let added = match &choice {
            Choice::Nothing => return Ok(()),
            Choice::Move { file, from } => vec![(from + 1, file.clone())],
            Choice::Drop { .. } => Vec::new(),
            Choice::Merge { output_level, .. } => {
                next_number += 1;
                let all = inputs_of(&choice);
                ancestry.merged(next_number, &all);
                vec![(*output_level, merged(next_number, &all))]
            }
        };
        match view.levels.apply(&deleted, added) {
            Ok(levels) => view.levels = levels,
            Err(problem) => {
                return Err((
                    step,
                    format!("{} does not apply: {problem}", show(&choice)),
                    view,
                ));
            }
        }
    }
    Err((
        MAX_STEPS,
        format!("still not done after {MAX_STEPS} choices"),
        view,
    ))
}

/// One table standing for the output of merging `inputs`: their key range, sequence
/// range, bytes, entries and tombstones (nothing is dropped: the worst case). The table
/// [`simulations`] puts in place of a merge's inputs, for a simulator of one's own.
pub fn merged(number: u64, inputs: &[Arc<FileMeta>]) -> Arc<FileMeta> {
    let (lo, hi) = ferris_compaction::key_range(inputs);
    let min_seq = inputs.iter().map(|f| f.min_seq).min().unwrap_or(0);
    let max_seq = inputs.iter().map(|f| f.max_seq).max().unwrap_or(0);
    Arc::new(FileMeta {
        number,
        size: inputs.iter().map(|f| f.size).sum(),
        smallest: InternalKey::new(lo.to_vec(), max_seq, ValueKind::Put),
        largest: InternalKey::new(hi.to_vec(), min_seq, ValueKind::Put),
        min_seq,
        max_seq,
        entries: inputs.iter().map(|f| f.entries).sum(),
        tombstones: inputs.iter().map(|f| f.tombstones).sum(),
    })
}

/// A choice in a few words: what it does to which tables.
fn show(choice: &Choice) -> String {
    match choice {
        Choice::Nothing => "Nothing".into(),
        Choice::Move { file, from } => format!("Move table {} from level {from}", file.number),
        Choice::Drop { files } => format!(
            "Drop {:?}",
            files
                .iter()
                .map(|(l, f)| (*l, f.number))
                .collect::<Vec<_>>()
        ),
        Choice::Merge {
            inputs,
            output_level,
            reason,
        } => format!(
            "Merge {:?} into level {output_level} ({reason:?})",
            inputs
                .iter()
                .map(|(l, f)| (*l, f.iter().map(|f| f.number).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        ),
    }
}

/// The view, level by level, one table a line.
fn describe(view: &View) -> String {
    let mut out = format!("view (idle: {}):\n", view.idle);
    for (level, files) in view.levels.levels().enumerate() {
        if files.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  level {level}: {} bytes",
            view.levels.level_bytes(level)
        );
        for f in files {
            let busy = if view.busy.contains(&f.number) {
                " busy"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    table {}: keys [{}, {}], seqs {}..={}, {} bytes, {}/{} tombstones{busy}",
                f.number,
                show_key(f.smallest.user_key()),
                show_key(f.largest.user_key()),
                f.min_seq,
                f.max_seq,
                f.size,
                f.tombstones,
                f.entries
            );
        }
    }
    out
}

/// SplitMix64: a few lines, no dependency, and the same numbers on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// True one time in `n`.
    fn chance(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_views_are_well_formed_databases() {
        let options = CompactionOptions::default();
        let mut busy_views = 0;
        for seed in SEEDS {
            let view = random_view(seed, &options);
            busy_views += usize::from(!view.busy.is_empty());
            for level in 1..NUM_LEVELS {
                let files = view.levels.level(level);
                for w in files.windows(2) {
                    assert!(
                        w[0].largest.user_key() < w[1].smallest.user_key(),
                        "seed {seed}: level {level} overlaps\n{}",
                        describe(&view)
                    );
                }
            }
            // Every table is placed correctly with respect to every other.
            for (level, f) in view.levels.files() {
                check_placement(&view, std::slice::from_ref(f), level, &Ancestry::default())
                    .unwrap_or_else(|p| panic!("seed {seed}: {p}\n{}", describe(&view)));
            }
        }
        assert!(busy_views > 0, "some views have busy tables");
    }
}
