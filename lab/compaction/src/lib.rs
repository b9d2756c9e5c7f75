//! # Lab stage 5: a compaction picker
//!
//! Flushes add tables to level 0, and every level-0 table is one more place a read must
//! look. Compaction merges them down: level 0 into level 1 once it holds
//! `l0_compaction_trigger` tables, and a deeper level into the next once it outgrows its
//! size target. Your job: [`LabLeveled`], a [`ferris_compaction::Strategy`] that decides
//! *what* to compact. It is a pure function of a [`View`] (each level's table metadata,
//! the tables running compactions own, whether the database is idle): it reads and writes
//! nothing, and the engine's executor carries its [`Choice`] out.
//!
//! Read the contract first: `ferris_compaction::Strategy`'s page, and the rules the
//! grader checks every choice against (`ferris_conformance::strategy`): name only tables
//! of the view, none that is busy; merge into a level at or below every input's, taking
//! every table of the output level that overlaps; never leave a table where a read would
//! find older versions before newer ones. And, the lab's own check, **do the job**: once
//! your strategy says [`Choice::Nothing`], level 0 is below its trigger and every level
//! but the last within its target.
//!
//! Every body below is empty: the strategy never compacts and reports no backlog. That
//! breaks no rule (doing nothing is always safe) but leaves the job undone:
//!
//! ```sh
//! cargo xtask lab check compaction              # your strategy
//! cargo xtask lab check compaction --reference  # FerrisDB's leveled, which passes
//! ```
//!
//! The reference solution is `ferris_compaction::Leveled`
//! (`crates/ferris-compaction/src/picker.rs`).

// The bodies are yours to write; until then they ignore their arguments.
// The lab's starters are the one place in the workspace where that is allowed: see
// CLAUDE.md.
#![allow(unused_variables)]
#![forbid(unsafe_code)]

use ferris_compaction::{Choice, CompactionOptions, Strategy, View};

/// Your leveled compaction strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabLeveled;

impl Strategy for LabLeveled {
    /// The name recorded in the manifest. Nothing to write.
    fn name(&self) -> &str {
        "lab-leveled"
    }

    /// The next compaction for `view` under `options`, or [`Choice::Nothing`].
    ///
    /// What to write: score each level (level 0: its table count over
    /// `options.l0_compaction_trigger`; level `n` from 1: its bytes,
    /// `view.levels.level_bytes(n)`, over `options.level_target_bytes(n)`); take the
    /// highest score of at least 1 (never the last level). For level 0, merge all of it
    /// with the level-1 tables that overlap its key range into level 1; for a deeper
    /// level, one table, moved down (`Choice::Move`) when nothing in the next level
    /// overlaps it, else merged with the tables that do. Skip what `view.busy` holds.
    fn choose(&self, view: &View, options: &CompactionOptions) -> Choice {
        Choice::Nothing
    }

    /// The bytes compaction must still rewrite to bring `view` within its targets: what
    /// flow control slows writes on.
    ///
    /// What to write: for each level over its target, the bytes over it (and level 0's
    /// bytes once it reaches its trigger).
    fn pending_compaction_bytes(&self, view: &View, options: &CompactionOptions) -> u64 {
        0
    }
}
