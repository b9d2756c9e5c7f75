//! The picker: what to compact next, as a pure function of the levels and the options.

use std::collections::HashSet;
use std::sync::Arc;

use ferris_core::level::{FileMeta, Levels, NUM_LEVELS};

/// When and how compaction runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactionOptions {
    /// Level 0 is compacted into level 1 once it holds this many tables (default 4).
    pub l0_compaction_trigger: usize,
    /// Writes are slowed once level 0 holds this many tables (default 20).
    pub l0_slowdown_trigger: usize,
    /// Writes stop until compaction catches up once level 0 holds this many (default 36).
    pub l0_stop_trigger: usize,
    /// Target size of level 1 in bytes (default 256 MiB); level `n` targets
    /// `level1_target_bytes * multiplier^(n-1)`.
    pub level1_target_bytes: u64,
    /// Growth factor between levels (default 10).
    pub level_multiplier: u64,
    /// Compaction output tables are cut at this size (default 64 MiB).
    pub target_file_size: u64,
    /// An output table is also cut once it overlaps this many bytes of the level below
    /// its output level (default 10 × `target_file_size`), so a later compaction of it
    /// never has to rewrite too much.
    pub max_grandparent_overlap_bytes: u64,
    /// Writes are slowed once the strategy estimates this many bytes of compaction work
    /// pending (default 64 GiB, RocksDB's `soft_pending_compaction_bytes_limit`).
    pub soft_pending_compaction_bytes: u64,
    /// Writes stop until compaction catches up once this many bytes of compaction work are
    /// pending (default 256 GiB, RocksDB's `hard_pending_compaction_bytes_limit`).
    pub hard_pending_compaction_bytes: u64,
}

impl Default for CompactionOptions {
    fn default() -> Self {
        CompactionOptions {
            l0_compaction_trigger: 4,
            l0_slowdown_trigger: 20,
            l0_stop_trigger: 36,
            level1_target_bytes: 256 << 20,
            level_multiplier: 10,
            target_file_size: 64 << 20,
            max_grandparent_overlap_bytes: 10 * (64 << 20),
            soft_pending_compaction_bytes: 64 << 30,
            hard_pending_compaction_bytes: 256 << 30,
        }
    }
}

impl CompactionOptions {
    /// The target size of `level` (1 and deeper).
    pub fn level_target_bytes(&self, level: usize) -> u64 {
        let mut target = self.level1_target_bytes;
        for _ in 1..level {
            target = target.saturating_mul(self.level_multiplier);
        }
        target
    }
}

/// A read-only view of the levels for the picker: the live tables of each level (level 0
/// newest first, deeper levels sorted by key, as [`Levels`] keeps them), which tables a
/// running compaction already owns, and whether the database is idle.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The tables of each level.
    pub levels: Levels<Arc<FileMeta>>,
    /// Numbers of tables that running compactions are reading: not to be picked again.
    pub busy: HashSet<u64>,
    /// No writes have arrived for a while (the engine decides what "a while" is), so work
    /// that would be wasteful under a write load is worth doing now: [`Leveled`] then
    /// merges level 0 into level 1 below its trigger ([`Reason::Idle`]).
    pub idle: bool,
}

impl View {
    /// A view of `levels` with nothing busy, not idle.
    pub fn new(levels: Levels<Arc<FileMeta>>) -> View {
        View {
            levels,
            busy: HashSet::new(),
            idle: false,
        }
    }

    /// Whether any of `files` is owned by a running compaction ([`View::busy`]).
    pub fn is_busy<'a>(&self, files: impl IntoIterator<Item = &'a Arc<FileMeta>>) -> bool {
        files.into_iter().any(|f| self.busy.contains(&f.number))
    }

    /// The tables of `level` whose user-key ranges overlap `[lo, hi]`, collected.
    fn overlapping(&self, level: usize, lo: &[u8], hi: &[u8]) -> Vec<Arc<FileMeta>> {
        self.levels.overlapping(level, lo, hi).cloned().collect()
    }
}

/// Why a compaction was chosen, for logs and stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Level 0 reached its file-count trigger.
    L0FileCount,
    /// A level outgrew its size target.
    LevelSize,
    /// A manual compaction asked for it.
    Manual,
    /// Tiered: the newer runs outweigh the oldest by too much.
    SpaceAmplification,
    /// Tiered: runs of similar size.
    SizeRatio,
    /// Tiered: too many runs.
    RunCount,
    /// Leveled: the database is idle ([`View::idle`]) and level 0 holds tables below its
    /// trigger.
    Idle,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Nothing needs compacting.
    Nothing,
    /// Move one table down a level unchanged: nothing in the next level overlaps it, so no
    /// byte needs rewriting.
    Move {
        /// The table.
        file: Arc<FileMeta>,
        /// Its level.
        from: usize,
    },
    /// Merge these tables into new tables in `output_level`.
    Merge {
        /// Input tables per level, shallower level first; the last input level is
        /// `output_level` (or the one above it when nothing there overlaps).
        inputs: Vec<(usize, Vec<Arc<FileMeta>>)>,
        /// Where the output goes.
        output_level: usize,
        /// Why.
        reason: Reason,
    },
    /// Remove whole tables without reading them: the strategy decided nobody needs their
    /// entries. [`Leveled`] drops tables of only tombstones with nothing older below them
    /// (there is nothing left for the tombstones to hide); a FIFO strategy drops the oldest
    /// tables once the database outgrows its size cap (their data is meant to expire).
    /// The executor installs the removal as one version edit and writes nothing.
    Drop {
        /// The tables, with their levels.
        files: Vec<(usize, Arc<FileMeta>)>,
    },
}

impl Choice {
    /// The tables the choice takes out of their levels, each with its level: a move's
    /// table, a merge's inputs, the dropped tables; none for [`Choice::Nothing`]. They are
    /// what the executor marks busy while it runs, and what its version edit deletes.
    pub fn tables(&self) -> Vec<(usize, &Arc<FileMeta>)> {
        match self {
            Choice::Nothing => Vec::new(),
            Choice::Move { file, from } => vec![(*from, file)],
            Choice::Merge { inputs, .. } => inputs
                .iter()
                .flat_map(|(level, files)| files.iter().map(move |f| (*level, f)))
                .collect(),
            Choice::Drop { files } => files.iter().map(|(level, f)| (*level, f)).collect(),
        }
    }
}

/// How hard writes must be held back for compaction to keep up, as a [`Strategy`] judges
/// it ([`Strategy::write_pressure`]). The variants are ordered: `None < Slowdown < Stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum WritePressure {
    /// Compaction keeps up: writes go at full speed.
    #[default]
    None,
    /// Compaction is falling behind: each write is delayed a little, so that compaction
    /// gets the machine's time before the backlog grows.
    Slowdown,
    /// Compaction is too far behind: writes wait until it catches up.
    Stop,
}

impl WritePressure {
    /// The pressure as one byte, in the variants' order (0, 1, 2), for keeping it in an
    /// atomic.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The pressure [`code`](WritePressure::code) gave; any byte above the largest reads
    /// as [`Stop`](WritePressure::Stop).
    pub fn from_code(code: u8) -> WritePressure {
        match code {
            0 => WritePressure::None,
            1 => WritePressure::Slowdown,
            _ => WritePressure::Stop,
        }
    }

    /// The pressure of `tables` tables in level 0 ([`Stop`](WritePressure::Stop) at
    /// [`CompactionOptions::l0_stop_trigger`], [`Slowdown`](WritePressure::Slowdown) at
    /// [`CompactionOptions::l0_slowdown_trigger`]): every read may have to consult each
    /// of them.
    pub fn of_level0_tables(tables: usize, options: &CompactionOptions) -> WritePressure {
        WritePressure::at(
            tables as u64,
            options.l0_slowdown_trigger as u64,
            options.l0_stop_trigger as u64,
        )
    }

    /// The pressure of `pending` bytes of compaction work ([`Stop`](WritePressure::Stop)
    /// at [`CompactionOptions::hard_pending_compaction_bytes`],
    /// [`Slowdown`](WritePressure::Slowdown) at
    /// [`CompactionOptions::soft_pending_compaction_bytes`]).
    pub fn of_pending_bytes(pending: u64, options: &CompactionOptions) -> WritePressure {
        WritePressure::at(
            pending,
            options.soft_pending_compaction_bytes,
            options.hard_pending_compaction_bytes,
        )
    }

    /// `Stop` once `value` reaches `stop`, `Slowdown` once it reaches `slowdown`.
    fn at(value: u64, slowdown: u64, stop: u64) -> WritePressure {
        if value >= stop {
            WritePressure::Stop
        } else if value >= slowdown {
            WritePressure::Slowdown
        } else {
            WritePressure::None
        }
    }
}

/// A compaction strategy: every policy decision of compaction, as pure functions of a
/// [`View`] and the [`CompactionOptions`].
///
/// # What an implementor writes
///
/// Two methods are required: [`choose`](Strategy::choose), the next compaction, and
/// [`pending_compaction_bytes`](Strategy::pending_compaction_bytes), the backlog estimate.
/// Two more have defaults that suit a strategy built on levels, and are worth overriding
/// when the strategy's shape differs: [`write_pressure`](Strategy::write_pressure) (by
/// default level 0's table count and the backlog against their limits) and
/// [`manual`](Strategy::manual) (by default [`manual_step`], which merges every level
/// down into the deepest).
///
/// # The contract
///
/// The engine executes a [`Choice`] without second-guessing it, so a strategy promises:
///
/// - **Purity.** No I/O, no clock, no randomness, no state that a call changes: the same
///   view and options always give the same answer (the engine may ask twice).
/// - **Real, free tables.** A choice names only tables of the view, at the levels where
///   the view has them, and none that is [busy](View::busy).
/// - **Sorted levels stay sorted.** A [`Choice::Move`] goes to a level where nothing
///   overlaps the table; a [`Choice::Merge`] into level 1 or deeper takes every table of
///   its output level that overlaps the inputs' key range.
/// - **Newer is found first.** A read consults level 0 newest first (by largest sequence
///   number), then one level after another. A move or a merge must not put a table where
///   a read finds it after a table holding older versions of its keys, or before one
///   holding newer versions. So a merge's output level is at or below every input's
///   level; a merge of level-0 tables into a deeper level takes every overlapping level-0
///   table older than its newest input; and a merge that stays in level 0 takes a
///   contiguous run of its tables.
/// - **Progress.** Applying the choices one after another reaches
///   [`Choice::Nothing`]: a strategy must not ask for the same work forever.
///
/// `ferris-conformance`'s `strategy::check_strategy` checks all of these over random
/// views; run it on any new strategy.
///
/// # Snapshots and power cuts
///
/// A strategy sees table metadata, never a key or a snapshot. Which versions a merge
/// keeps is the [`CompactionIterator`](crate::CompactionIterator)'s rule (the newest
/// version in each snapshot stripe; a tombstone dropped only at the bottom, once every
/// snapshot sees it), whatever the strategy chose, so no choice can hide a version a
/// snapshot reads, except one: a [`Choice::Drop`] removes whole tables for every reader,
/// snapshots included. A strategy drops only tables it has decided nobody needs
/// ([`Leveled`]: tombstones with nothing older below them to hide; FIFO: data past its
/// size cap), and never one whose removal would uncover an older version of a key it
/// holds.
///
/// A strategy writes nothing, so a power cut leaves nothing of it to recover. The engine
/// installs each choice as one manifest edit (inputs out and outputs in, a move, or a
/// drop): a cut before the edit is durable leaves the inputs live and any outputs written
/// so far as files no version lists, which the next open removes; a cut after it leaves
/// the result. Either way the reopened engine shows the strategy a fresh view and asks
/// again, which is why a strategy may not depend on remembering what it chose before.
pub trait Strategy: Send + Sync + std::fmt::Debug {
    /// The strategy's name, recorded in the manifest when a keyspace is created: opening
    /// the keyspace again with a strategy of another name is refused, since one strategy's
    /// levels are not another's (FIFO drops what leveled compaction keeps). Parameters such
    /// as a size cap are not part of the name. The default is the type's name; FerrisDB's
    /// own are `leveled`, `tiered` and `fifo`.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// The next compaction for `view` under `options`, or [`Choice::Nothing`].
    fn choose(&self, view: &View, options: &CompactionOptions) -> Choice;

    /// An estimate of the bytes compaction must still rewrite (or remove) to bring `view`
    /// within the strategy's targets. Flow control slows and stops writes on it, through
    /// [`write_pressure`](Strategy::write_pressure).
    fn pending_compaction_bytes(&self, view: &View, options: &CompactionOptions) -> u64;

    /// How hard writes must be held back for compaction to keep up with `view`. The engine
    /// asks once per new version, and its flow control delays or stops writes on the
    /// answer.
    ///
    /// The default, RocksDB's rule for leveled and universal compaction: the stronger of
    /// [`WritePressure::of_level0_tables`] (level 0's table count against
    /// [`CompactionOptions::l0_slowdown_trigger`] and
    /// [`CompactionOptions::l0_stop_trigger`]) and [`WritePressure::of_pending_bytes`]
    /// ([`pending_compaction_bytes`](Strategy::pending_compaction_bytes) against the
    /// soft and hard limits). A strategy that keeps many level-0 tables by design
    /// overrides it.
    fn write_pressure(&self, view: &View, options: &CompactionOptions) -> WritePressure {
        let tables = WritePressure::of_level0_tables(view.levels.level(0).len(), options);
        let pending = self.pending_compaction_bytes(view, options);
        tables.max(WritePressure::of_pending_bytes(pending, options))
    }

    /// The next step of a manual compaction over the inclusive user-key range `range`
    /// (`None`: every key), or [`Choice::Nothing`] once it is done. The engine asks again
    /// after each step is installed, until `Nothing`.
    ///
    /// The default is [`manual_step`]: every table holding a key in the range merged down,
    /// level by level, into the deepest non-empty level.
    fn manual(&self, view: &View, range: Option<(&[u8], &[u8])>) -> Choice {
        manual_step(view, range)
    }
}

/// Leveled compaction (LevelDB's and RocksDB's default): level 0 is merged into level 1
/// once it holds enough tables; a deeper level that outgrows its size target has one table
/// merged into the next level.
#[derive(Debug, Clone, Copy, Default)]
pub struct Leveled;

impl Leveled {
    /// Each level's score: level 0's table count over its trigger, deeper levels' bytes
    /// over their targets. A level scoring 1 or more needs compaction. The last level
    /// never does (there is nowhere to go).
    pub fn scores(view: &View, options: &CompactionOptions) -> Vec<f64> {
        let mut scores = vec![0.0; NUM_LEVELS];
        scores[0] = view.levels.level(0).len() as f64 / options.l0_compaction_trigger.max(1) as f64;
        for (level, score) in scores.iter_mut().enumerate().take(NUM_LEVELS - 1).skip(1) {
            *score =
                view.levels.level_bytes(level) as f64 / options.level_target_bytes(level) as f64;
        }
        scores
    }

    fn pick_l0(view: &View, reason: Reason) -> Choice {
        let l0: Vec<_> = view.levels.level(0).to_vec();
        if l0.is_empty() || view.is_busy(&l0) {
            return Choice::Nothing;
        }
        let (lo, hi) = key_range(&l0);
        let l1 = view.overlapping(1, lo, hi);
        if view.is_busy(&l1) {
            return Choice::Nothing;
        }
        Choice::Merge {
            inputs: vec![(0, l0), (1, l1)],
            output_level: 1,
            reason,
        }
    }

    /// From `level`, the table whose merge into the next level rewrites the fewest bytes
    /// per byte moved; among equals, the one with the most tombstones (they free space
    /// and speed up reads once compacted away).
    fn pick_level(view: &View, level: usize) -> Choice {
        struct Candidate {
            ratio: f64,
            file: Arc<FileMeta>,
            below: Vec<Arc<FileMeta>>,
        }
        let mut best: Option<Candidate> = None;
        for file in view.levels.level(level) {
            if view.busy.contains(&file.number) {
                continue;
            }
            let below =
                view.overlapping(level + 1, file.smallest.user_key(), file.largest.user_key());
            if view.is_busy(&below) {
                continue;
            }
            let overlap: u64 = below.iter().map(|f| f.size).sum();
            let ratio = overlap as f64 / file.size.max(1) as f64;
            let better = best.as_ref().is_none_or(|b| {
                ratio < b.ratio || (ratio == b.ratio && file.tombstones > b.file.tombstones)
            });
            if better {
                best = Some(Candidate {
                    ratio,
                    file: file.clone(),
                    below,
                });
            }
        }
        match best {
            None => Choice::Nothing,
            Some(Candidate { file, below, .. }) if below.is_empty() => {
                Choice::Move { file, from: level }
            }
            Some(Candidate { file, below, .. }) => Choice::Merge {
                inputs: vec![(level, vec![file]), (level + 1, below)],
                output_level: level + 1,
                reason: Reason::LevelSize,
            },
        }
    }

    /// Tables holding only tombstones, in the deepest non-empty level, with nothing below.
    fn pick_drop(view: &View) -> Choice {
        let deepest = view.levels.deepest_nonempty();
        if deepest == 0 {
            return Choice::Nothing;
        }
        let files: Vec<_> = view
            .levels
            .level(deepest)
            .iter()
            .filter(|f| {
                f.entries > 0 && f.entries == f.tombstones && !view.busy.contains(&f.number)
            })
            .map(|f| (deepest, f.clone()))
            .collect();
        if files.is_empty() {
            Choice::Nothing
        } else {
            Choice::Drop { files }
        }
    }
}

impl Strategy for Leveled {
    fn name(&self) -> &str {
        "leveled"
    }

    /// Level 0's bytes once it reaches its trigger, plus, for each deeper level over its
    /// target, the excess times `1 + level_multiplier` (moving a byte down rewrites it and
    /// about `multiplier` bytes of the level below), as RocksDB estimates it.
    fn pending_compaction_bytes(&self, view: &View, options: &CompactionOptions) -> u64 {
        let mut pending = 0u64;
        if view.levels.level(0).len() >= options.l0_compaction_trigger {
            pending = view.levels.level_bytes(0);
        }
        for level in 1..NUM_LEVELS - 1 {
            let excess = view
                .levels
                .level_bytes(level)
                .saturating_sub(options.level_target_bytes(level));
            pending = pending.saturating_add(excess.saturating_mul(1 + options.level_multiplier));
        }
        pending
    }

    fn choose(&self, view: &View, options: &CompactionOptions) -> Choice {
        let scores = Leveled::scores(view, options);
        let mut order: Vec<usize> = (0..NUM_LEVELS - 1).filter(|&l| scores[l] >= 1.0).collect();
        order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
        for level in order {
            let choice = if level == 0 {
                Leveled::pick_l0(view, Reason::L0FileCount)
            } else {
                Leveled::pick_level(view, level)
            };
            if choice != Choice::Nothing {
                return choice;
            }
        }
        let drop = Leveled::pick_drop(view);
        if drop != Choice::Nothing || !view.idle {
            return drop;
        }
        // Idle, and nothing is over its target. Under a write load, level 0 waits for its
        // trigger so that one merge into level 1 carries several flushes' worth of keys
        // (with random keys, every such merge rewrites nearly all of level 1). Once writes
        // stop there is nothing to amortise against: merging the few tables left leaves
        // one sorted level and drops every version they shadow, for a single rewrite of
        // level 1. Deeper levels are left as they are: their size targets already bound
        // the dead versions they hold to about 1 / level_multiplier of the data, and a
        // full compaction would rewrite the whole database for that last tenth.
        Leveled::pick_l0(view, Reason::Idle)
    }
}

/// The smallest and largest user keys of `files`.
pub fn key_range(files: &[Arc<FileMeta>]) -> (&[u8], &[u8]) {
    let lo = files
        .iter()
        .map(|f| f.smallest.user_key())
        .min()
        .unwrap_or_default();
    let hi = files
        .iter()
        .map(|f| f.largest.user_key())
        .max()
        .unwrap_or_default();
    (lo, hi)
}

/// A manual compaction: the tables holding keys in `range` (inclusive user keys; `None`
/// for everything) merged down, level by level, into the deepest non-empty level (or
/// level 1). Returns the next step, or [`Choice::Nothing`] once no level above the
/// deepest holds a key in the range.
pub fn manual_step(view: &View, range: Option<(&[u8], &[u8])>) -> Choice {
    let deepest = view.levels.deepest_nonempty().max(1);
    for level in 0..deepest {
        let mut files = match range {
            None => view.levels.level(level).to_vec(),
            Some((lo, hi)) => view.overlapping(level, lo, hi),
        };
        if files.is_empty() {
            continue;
        }
        if level == 0 {
            // Level-0 tables overlap each other. Leaving behind an older one that shares
            // keys with a merged newer one would let its stale versions shadow the new
            // ones from above, so take every table that overlaps the chosen ones, until
            // the set is closed.
            loop {
                let (lo, hi) = key_range(&files);
                let closed = view.overlapping(0, lo, hi);
                if closed.len() == files.len() {
                    break;
                }
                files = closed;
            }
        }
        if view.is_busy(&files) {
            return Choice::Nothing;
        }
        let (lo, hi) = key_range(&files);
        let below = view.overlapping(level + 1, lo, hi);
        if view.is_busy(&below) {
            return Choice::Nothing;
        }
        return Choice::Merge {
            inputs: vec![(level, files), (level + 1, below)],
            output_level: level + 1,
            reason: Reason::Manual,
        };
    }
    Choice::Nothing
}

/// The last step of a manual compaction when a [`CompactionFilter`](crate::CompactionFilter)
/// is set: a table of the deepest level holding keys in `range` (`None` for all) and
/// numbered below `older_than` (the first file number of the manual compaction, so a table
/// it wrote is not rewritten again) merged into new tables of the same level, so that the
/// filter sees data no other compaction would read again (RocksDB's
/// `kIfHaveCompactionFilter` for the bottommost level). The manual compaction asks again
/// until none is left: [`Choice::Nothing`] then, while the table is busy, or when only
/// level 0 holds tables (a strategy that keeps its tables there, such as FIFO, never
/// merges them).
///
/// One table at a time, because what a rewrite writes stays within its inputs' key range:
/// two old tables with a newer one between them (written by a compaction from above since
/// the mark) would come back as tables spanning the newer one, and the level's tables
/// would overlap; even two neighbours leave a gap between them that a concurrent
/// compaction from the level above may fill meanwhile. The seeded simulator found this.
pub fn rewrite_bottom(view: &View, range: Option<(&[u8], &[u8])>, older_than: u64) -> Choice {
    let deepest = view.levels.deepest_nonempty();
    if deepest == 0 {
        return Choice::Nothing;
    }
    let files = match range {
        None => view.levels.level(deepest).to_vec(),
        Some((lo, hi)) => view.overlapping(deepest, lo, hi),
    };
    let files: Vec<Arc<FileMeta>> = files
        .into_iter()
        .find(|f| f.number < older_than)
        .into_iter()
        .collect();
    if files.is_empty() || view.is_busy(&files) {
        return Choice::Nothing;
    }
    Choice::Merge {
        inputs: vec![(deepest, files)],
        output_level: deepest,
        reason: Reason::Manual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferris_core::{InternalKey, ValueKind};

    fn table(number: u64, lo: &str, hi: &str, size: u64) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            number,
            size,
            smallest: InternalKey::new(lo.as_bytes().to_vec(), number, ValueKind::Put),
            largest: InternalKey::new(hi.as_bytes().to_vec(), number, ValueKind::Put),
            min_seq: number,
            max_seq: number,
            entries: 100,
            tombstones: 0,
        })
    }

    fn view(levels: &[(usize, Vec<Arc<FileMeta>>)]) -> View {
        View::new(Levels::from_files(levels.iter().flat_map(
            |(level, files)| files.iter().map(move |f| (*level, f.clone())),
        )))
    }

    fn small() -> CompactionOptions {
        CompactionOptions {
            level1_target_bytes: 1000,
            ..CompactionOptions::default()
        }
    }

    #[test]
    fn pending_bytes_count_level0_at_its_trigger_and_each_excess_times_the_fanout() {
        let options = small();
        let l0: Vec<_> = (1..=3).map(|n| table(n, "a", "z", 100)).collect();
        let v = view(&[(0, l0.clone()), (1, vec![table(10, "a", "z", 1000)])]);
        assert_eq!(Leveled.pending_compaction_bytes(&v, &options), 0);
        let mut l0 = l0;
        l0.push(table(4, "a", "z", 100));
        // Level 1 is 500 bytes over its 1000-byte target: 500 * (1 + 10).
        let v = view(&[(0, l0), (1, vec![table(10, "a", "z", 1500)])]);
        assert_eq!(Leveled.pending_compaction_bytes(&v, &options), 400 + 5500);
    }

    #[test]
    fn write_pressure_is_the_stronger_of_level0_count_and_backlog() {
        let options = CompactionOptions {
            l0_slowdown_trigger: 3,
            l0_stop_trigger: 5,
            soft_pending_compaction_bytes: 1000,
            hard_pending_compaction_bytes: 5000,
            ..small()
        };
        let l0 = |n: u64| (1..=n).map(|i| table(i, "a", "z", 10)).collect::<Vec<_>>();
        let pressure = |v: &View| Leveled.write_pressure(v, &options);
        assert_eq!(pressure(&view(&[(0, l0(2))])), WritePressure::None);
        assert_eq!(pressure(&view(&[(0, l0(3))])), WritePressure::Slowdown);
        assert_eq!(pressure(&view(&[(0, l0(5))])), WritePressure::Stop);
        // Level 1 is 100 bytes over its 1000-byte target: 1100 bytes pending, past the
        // soft limit, with level 0 empty.
        let over = view(&[(1, vec![table(9, "a", "z", 1100)])]);
        assert_eq!(Leveled.pending_compaction_bytes(&over, &options), 1100);
        assert_eq!(pressure(&over), WritePressure::Slowdown);
        // Past the hard limit, and with the slowdown trigger reached: the stronger wins.
        let both = view(&[(0, l0(3)), (1, vec![table(9, "a", "z", 1500)])]);
        assert_eq!(pressure(&both), WritePressure::Stop);
        assert!(WritePressure::None < WritePressure::Slowdown);
        assert!(WritePressure::Slowdown < WritePressure::Stop);
    }

    #[test]
    fn the_default_manual_compaction_is_manual_step() {
        let v = view(&[
            (0, vec![table(9, "a", "z", 10)]),
            (2, vec![table(1, "c", "d", 10)]),
        ]);
        assert_eq!(Leveled.manual(&v, None), manual_step(&v, None));
        assert_eq!(
            Leveled.manual(&v, Some((b"x", b"y"))),
            manual_step(&v, Some((b"x", b"y")))
        );
        assert_ne!(Leveled.manual(&v, None), Choice::Nothing);
    }

    #[test]
    fn nothing_to_do_below_the_triggers() {
        let v = view(&[
            (0, vec![table(1, "a", "b", 10)]),
            (1, vec![table(2, "a", "z", 10)]),
        ]);
        assert_eq!(Leveled.choose(&v, &small()), Choice::Nothing);
        assert_eq!(Leveled.choose(&View::default(), &small()), Choice::Nothing);
    }

    #[test]
    fn level0_merges_into_the_overlapping_level1_tables() {
        let l0 = vec![
            table(9, "c", "f", 10),
            table(8, "a", "d", 10),
            table(7, "e", "g", 10),
            table(6, "b", "c", 10),
        ];
        let l1 = vec![
            table(1, "a", "b", 10),
            table(2, "c", "d", 10),
            table(3, "x", "z", 10),
        ];
        let v = view(&[(0, l0.clone()), (1, l1.clone())]);
        let Choice::Merge {
            inputs,
            output_level,
            reason,
        } = Leveled.choose(&v, &small())
        else {
            panic!()
        };
        assert_eq!((output_level, reason), (1, Reason::L0FileCount));
        assert_eq!(inputs[0].1, l0);
        assert_eq!(inputs[1].1, vec![l1[0].clone(), l1[1].clone()]);
    }

    #[test]
    fn a_busy_level0_is_left_alone() {
        let l0: Vec<_> = (1..=4).map(|n| table(n, "a", "z", 10)).collect();
        let mut v = view(&[(0, l0)]);
        v.busy.insert(2);
        assert_eq!(Leveled.choose(&v, &small()), Choice::Nothing);
    }

    #[test]
    fn an_oversized_level_merges_the_table_with_least_overlap() {
        // Level 1 is 1200 bytes against a 1000-byte target.
        let l1 = vec![
            table(1, "a", "f", 400),
            table(2, "g", "m", 400),
            table(3, "n", "z", 400),
        ];
        let l2 = vec![
            table(10, "a", "c", 900),
            table(11, "h", "i", 100),
            table(12, "o", "z", 5000),
        ];
        let v = view(&[(1, l1.clone()), (2, l2.clone())]);
        let Choice::Merge {
            inputs,
            output_level,
            ..
        } = Leveled.choose(&v, &small())
        else {
            panic!()
        };
        assert_eq!(output_level, 2);
        assert_eq!(
            inputs,
            vec![(1, vec![l1[1].clone()]), (2, vec![l2[1].clone()])]
        );
    }

    #[test]
    fn a_table_with_nothing_below_moves_down() {
        let l1 = vec![table(1, "a", "f", 700), table(2, "g", "m", 700)];
        let l2 = vec![table(10, "a", "c", 900)];
        let v = view(&[(1, l1.clone()), (2, l2)]);
        assert_eq!(
            Leveled.choose(&v, &small()),
            Choice::Move {
                file: l1[1].clone(),
                from: 1
            }
        );
    }

    #[test]
    fn the_fullest_level_goes_first() {
        let l0: Vec<_> = (1..=4).map(|n| table(n, "a", "z", 10)).collect();
        // Level 1 at 5x its target outranks level 0 at 1x its trigger.
        let l1 = vec![table(20, "a", "z", 5000)];
        let v = view(&[(0, l0), (1, l1.clone())]);
        assert_eq!(
            Leveled.choose(&v, &small()),
            Choice::Move {
                file: l1[0].clone(),
                from: 1
            }
        );
    }

    fn idle(mut v: View) -> View {
        v.idle = true;
        v
    }

    #[test]
    fn an_idle_view_merges_level0_below_its_trigger() {
        let l0 = vec![table(9, "c", "f", 10), table(8, "a", "d", 10)];
        let l1 = vec![
            table(1, "a", "b", 10),
            table(2, "e", "g", 10),
            table(3, "x", "z", 10),
        ];
        let v = view(&[(0, l0.clone()), (1, l1.clone())]);
        // Two tables against a trigger of four: nothing to do under load.
        assert_eq!(Leveled.choose(&v, &small()), Choice::Nothing);
        assert_eq!(
            Leveled.choose(&idle(v), &small()),
            Choice::Merge {
                inputs: vec![(0, l0), (1, vec![l1[0].clone(), l1[1].clone()])],
                output_level: 1,
                reason: Reason::Idle,
            }
        );
    }

    #[test]
    fn an_idle_view_with_an_empty_level0_has_nothing_to_do() {
        // Levels 1 and 2 overlap (level 2 holds versions level 1 shadows), but both are
        // within their targets: idleness does not start a full compaction.
        let v = idle(view(&[
            (1, vec![table(1, "a", "z", 500)]),
            (2, vec![table(2, "a", "z", 5000)]),
        ]));
        assert_eq!(Leveled.choose(&v, &small()), Choice::Nothing);
        assert_eq!(
            Leveled.choose(&idle(View::default()), &small()),
            Choice::Nothing
        );
    }

    #[test]
    fn idleness_waits_for_levels_over_their_targets_and_busy_tables() {
        let l0 = vec![table(9, "a", "z", 10)];
        // Level 1 is over its target: that goes first, as it would under load.
        let l1 = vec![table(1, "a", "m", 700), table(2, "n", "z", 700)];
        let v = idle(view(&[(0, l0.clone()), (1, l1.clone())]));
        let Choice::Move { from: 1, .. } = Leveled.choose(&v, &small()) else {
            panic!("{:?}", Leveled.choose(&v, &small()))
        };
        // A level-0 table already being compacted keeps the idle merge back.
        let mut v = idle(view(&[(
            0,
            vec![table(9, "a", "z", 10), table(8, "a", "z", 10)],
        )]));
        v.busy.insert(8);
        assert_eq!(Leveled.choose(&v, &small()), Choice::Nothing);
        // So does a level-1 table under it.
        let mut v = idle(view(&[(0, l0), (1, vec![l1[0].clone()])]));
        v.busy.insert(l1[0].number);
        assert_eq!(Leveled.choose(&v, &small()), Choice::Nothing);
    }

    #[test]
    fn bottom_tables_of_only_tombstones_are_dropped() {
        let mut dead = (*table(5, "a", "c", 10)).clone();
        dead.tombstones = dead.entries;
        let dead = Arc::new(dead);
        let v = view(&[
            (1, vec![table(1, "x", "z", 10)]),
            (3, vec![dead.clone(), table(6, "d", "e", 10)]),
        ]);
        assert_eq!(
            Leveled.choose(&v, &small()),
            Choice::Drop {
                files: vec![(3, dead)]
            }
        );
    }

    #[test]
    fn a_pressure_survives_its_code() {
        for p in [
            WritePressure::None,
            WritePressure::Slowdown,
            WritePressure::Stop,
        ] {
            assert_eq!(WritePressure::from_code(p.code()), p);
        }
        assert_eq!(WritePressure::from_code(200), WritePressure::Stop);
    }

    /// A rewrite never spans a table newer than the mark: its output would overlap it.
    #[test]
    fn a_bottom_rewrite_never_spans_a_newer_table() {
        let view = view(&[(
            2,
            vec![
                table(3, "a", "f", 10),
                table(12, "g", "m", 10),
                table(7, "n", "z", 10),
            ],
        )]);
        let Choice::Merge { inputs, .. } = rewrite_bottom(&view, None, 10) else {
            panic!("an old table is rewritten");
        };
        let numbers: Vec<u64> = inputs[0].1.iter().map(|f| f.number).collect();
        assert_eq!(numbers, [3], "one table, never 3 and 7 around 12");
    }

    #[test]
    fn a_bottom_rewrite_takes_the_deepest_tables_older_than_the_mark_once() {
        let view = view(&[
            (
                2,
                vec![
                    table(3, "a", "f", 10),
                    table(7, "g", "m", 10),
                    table(12, "n", "z", 10),
                ],
            ),
            (0, vec![table(20, "a", "z", 10)]),
        ]);
        let Choice::Merge {
            inputs,
            output_level,
            reason,
        } = rewrite_bottom(&view, None, 10)
        else {
            panic!("the tables below the mark are rewritten");
        };
        let numbers: Vec<u64> = inputs[0].1.iter().map(|f| f.number).collect();
        assert_eq!(
            (inputs[0].0, numbers, output_level, reason),
            (2, vec![3], 2, Reason::Manual)
        );
        let Choice::Merge { inputs, .. } = rewrite_bottom(&view, Some((b"h", b"i")), 10) else {
            panic!("a range takes the tables it overlaps");
        };
        assert_eq!(inputs[0].1[0].number, 7);
        assert_eq!(
            rewrite_bottom(&view, None, 3),
            Choice::Nothing,
            "all newer than the mark"
        );
        let only_l0 = View::new(Levels::from_files(vec![(0, table(1, "a", "z", 10))]));
        assert_eq!(rewrite_bottom(&only_l0, None, 10), Choice::Nothing);
    }

    #[test]
    fn a_manual_compaction_walks_everything_down_to_one_level() {
        let mut v = view(&[
            (0, vec![table(9, "a", "z", 10)]),
            (1, vec![table(5, "a", "m", 10), table(6, "n", "z", 10)]),
            (3, vec![table(1, "c", "d", 10)]),
        ]);
        let mut steps = Vec::new();
        loop {
            let choice = manual_step(&v, None);
            let Choice::Merge {
                output_level,
                reason,
                ..
            } = choice
            else {
                break;
            };
            assert_eq!(reason, Reason::Manual);
            steps.push(output_level);
            // Apply the step to the view: the inputs become one table in the output level.
            let merged = table(100 + steps.len() as u64, "a", "z", 10);
            let deleted: Vec<(usize, u64)> = choice
                .tables()
                .iter()
                .map(|(l, f)| (*l, f.number))
                .collect();
            v.levels = v.levels.apply(&deleted, [(output_level, merged)]).unwrap();
        }
        assert_eq!(steps, vec![1, 2, 3]);
        assert_eq!(v.levels.deepest_nonempty(), 3);
        assert!((0..3).all(|l| v.levels.level(l).is_empty()));
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;
    use ferris_core::{InternalKey, ValueKind};

    fn table(number: u64, lo: &str, hi: &str) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            number,
            size: 10,
            smallest: InternalKey::new(lo.as_bytes().to_vec(), number, ValueKind::Put),
            largest: InternalKey::new(hi.as_bytes().to_vec(), number, ValueKind::Put),
            min_seq: number,
            max_seq: number,
            entries: 1,
            tombstones: 0,
        })
    }

    #[test]
    fn a_range_takes_every_level0_table_chained_to_it_by_overlap() {
        // 4 holds the range; 3 overlaps 4, and 2 overlaps 3; 1 overlaps none of them.
        let l0 = [
            table(4, "m", "p"),
            table(3, "j", "n"),
            table(2, "g", "k"),
            table(1, "x", "z"),
        ];
        let view = View::new(Levels::from_files(l0.into_iter().map(|f| (0, f))));
        let Choice::Merge { inputs, .. } = manual_step(&view, Some((b"o", b"o"))) else {
            panic!()
        };
        let numbers: Vec<u64> = inputs[0].1.iter().map(|f| f.number).collect();
        assert_eq!(numbers, vec![4, 3, 2]);
    }
}
