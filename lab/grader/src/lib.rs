//! # lab-grader: FerrisDB's test suites, as a learner's grader
//!
//! The lab (`lab/README.md`) has one starter crate per stage: `lab/memtable`,
//! `lab/wal`, `lab/merge`, `lab/table`, `lab/compaction`, `lab/engine`, `lab/txn`. Each
//! holds the public API of one component with empty bodies, and a learner fills them in.
//! This crate grades a stage: it plugs
//! the learner's implementation, or FerrisDB's own (the reference solution), into the
//! stage's checks through the component traits, runs every check, and reports each one
//! as `PASS` or `FAIL`, a failure in the learner's words.
//!
//! The checks are FerrisDB's own conformance suites (`ferris-conformance`, the ones every
//! implementation in the workspace passes), run unchanged, preceded by a few small checks
//! of the lab's own that catch the first mistakes with a precise diagnosis, and followed
//! by one that runs the component in a bigger whole (the memtable inside a real
//! `ferris_engine::Db`, with a power cut; the log's write batches replayed into a memtable
//! after a power cut; the merge inside a database's read path):
//!
//! | stage | yours | the reference | checks |
//! |---|---|---|---|
//! | `memtable` | `lab_memtable::LabFactory` | `ferris_memtable::BTreeFactory` | [`memtable`] |
//! | `wal` | `lab_wal::LabLog` | `ferris_log::Framing` | [`wal`] |
//! | `merge` | `lab_merge::MergingIterator` | `ferris_core::iter::MergingIterator` | [`merge`] |
//! | `table` | `lab_table::LabFormat` | `ferris_minitable::MinitableFormat` | [`table`] |
//! | `compaction` | `lab_compaction::LabLeveled` | `ferris_compaction::Leveled` | [`compaction`] |
//! | `engine` | `lab_engine::LabDb` | `ferris_engine::Db` | [`engine`] |
//! | `txn` | `lab_txn::LabResolver` | `ferris_txn::Resolver` | [`txn`] |
//!
//! Every check returns `Result<(), `[`Failure`]`>`, the suites' own report: which check,
//! which case, which seed, what was got and expected. [`Report`] prints it with the
//! guarantee the check stands for and the command that replays it. This one is from the
//! lab's own test, of a memtable that answers every lookup with the newest version,
//! whatever the snapshot:
//!
//! ```text
//! FAIL reads_at_a_snapshot
//!      guarantee: a reader at snapshot S sees the newest version written at or below S, and nothing written after S
//!      broke:     a reader at snapshot 7 saw a write made at 9: reads must not see the future: get(b"k", 7)
//!      got:       Value(b"written at 9")
//!      expected:  Value(b"written at 5")
//!      case:      k written at 5 and at 9
//!      replay:    cargo xtask lab check memtable --check reads_at_a_snapshot
//! ```
//!
//! `cargo xtask lab check STAGE [--reference]` runs this crate's binary, `lab-check`.
//! A check that panics fails with the panic's message; the grader itself never panics on
//! a learner's code.

#![forbid(unsafe_code)]

pub mod compaction;
pub mod engine;
pub mod memtable;
pub mod merge;
pub mod table;
pub mod txn;
pub mod wal;
mod words;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use ferris_conformance::Failure;

/// A stage of the lab: one component to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Stage 1: a memtable (`lab/memtable`).
    Memtable,
    /// Stage 2: a write-ahead log's format, with crash recovery (`lab/wal`).
    Wal,
    /// Stage 3: a merging iterator (`lab/merge`).
    Merge,
    /// Stage 4: a table format (`lab/table`).
    Table,
    /// Stage 5: a compaction picker (`lab/compaction`).
    Compaction,
    /// Stage 6: an engine's write and read path, from FerrisDB's parts (`lab/engine`).
    Engine,
    /// Stage 7: a transaction conflict resolver (`lab/txn`).
    Txn,
}

impl Stage {
    /// Every stage, in the order the lab takes them.
    pub const ALL: [Stage; 7] = [
        Stage::Memtable,
        Stage::Wal,
        Stage::Merge,
        Stage::Table,
        Stage::Compaction,
        Stage::Engine,
        Stage::Txn,
    ];

    /// The stage's name: its folder under `lab/`, and the argument of `lab check`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Memtable => "memtable",
            Stage::Wal => "wal",
            Stage::Merge => "merge",
            Stage::Table => "table",
            Stage::Compaction => "compaction",
            Stage::Engine => "engine",
            Stage::Txn => "txn",
        }
    }

    /// The stage called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The stage's checks, in the order they run.
    pub fn checks(self) -> &'static [Check] {
        match self {
            Stage::Memtable => &memtable::CHECKS,
            Stage::Wal => &wal::CHECKS,
            Stage::Merge => &merge::CHECKS,
            Stage::Table => &table::CHECKS,
            Stage::Compaction => &compaction::CHECKS,
            Stage::Engine => &engine::CHECKS,
            Stage::Txn => &txn::CHECKS,
        }
    }

    /// What is graded for `subject`: the type, and where its code is.
    pub fn graded(self, subject: Subject) -> &'static str {
        match (self, subject) {
            (Stage::Memtable, Subject::Lab) => "lab_memtable::LabFactory (lab/memtable)",
            (Stage::Memtable, Subject::Reference) => {
                "ferris_memtable::BTreeFactory (crates/ferris-memtable/src/btree.rs)"
            }
            (Stage::Wal, Subject::Lab) => "lab_wal::LabLog (lab/wal)",
            (Stage::Wal, Subject::Reference) => {
                "ferris_log::Framing (crates/ferris-log/src/swap.rs)"
            }
            (Stage::Merge, Subject::Lab) => "lab_merge::MergingIterator (lab/merge)",
            (Stage::Merge, Subject::Reference) => {
                "ferris_core::iter::MergingIterator (crates/ferris-core/src/iter/merge.rs)"
            }
            (Stage::Table, Subject::Lab) => "lab_table::LabFormat (lab/table)",
            (Stage::Table, Subject::Reference) => {
                "ferris_minitable::MinitableFormat (crates/ferris-minitable)"
            }
            (Stage::Compaction, Subject::Lab) => "lab_compaction::LabLeveled (lab/compaction)",
            (Stage::Compaction, Subject::Reference) => {
                "ferris_compaction::Leveled (crates/ferris-compaction/src/picker.rs)"
            }
            (Stage::Engine, Subject::Lab) => "lab_engine::LabDb (lab/engine)",
            (Stage::Engine, Subject::Reference) => "ferris_engine::Db (crates/ferris-engine)",
            (Stage::Txn, Subject::Lab) => "lab_txn::LabResolver (lab/txn)",
            (Stage::Txn, Subject::Reference) => {
                "ferris_txn::Resolver (crates/ferris-txn/src/resolver.rs)"
            }
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whose implementation a stage grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The learner's: the starter crate under `lab/`, as far as it has been filled in.
    Lab,
    /// FerrisDB's own, the reference solution: it passes every check.
    Reference,
}

/// Runs every case of a check on the subject's implementation.
pub type RunAll = fn(Subject) -> Result<(), Failure>;

/// Runs the case of one seed of a check on the subject's implementation.
pub type RunSeed = fn(Subject, u64) -> Result<(), Failure>;

/// One check of a stage: its name, the guarantee it stands for, and how to run it.
#[derive(Clone, Copy)]
pub struct Check {
    /// The check's name: what a [`Failure`] names, and the argument of `--check`.
    pub name: &'static str,
    /// The guarantee the check stands for, in a sentence: what a failure broke.
    pub guarantee: &'static str,
    /// Runs every case of the check.
    pub run: RunAll,
    /// Runs the case of one seed, for a check whose cases are drawn from seeds.
    pub seed: Option<RunSeed>,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What one check found.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Every case kept the guarantee.
    Pass,
    /// A case broke it: the first one.
    Fail(Failure),
}

/// Which checks to run, and on which seed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection<'a> {
    /// Only the check of this name (all of them when `None`).
    pub check: Option<&'a str>,
    /// Only this seed of a seeded check (every seed when `None`).
    pub seed: Option<u64>,
}

/// What grading a stage found: each check run, with its verdict.
#[derive(Debug)]
pub struct Report {
    /// The stage graded.
    pub stage: Stage,
    /// Whose implementation.
    pub subject: Subject,
    /// Each check run, in order, with what it found.
    pub results: Vec<(Check, Verdict)>,
}

impl Report {
    /// Whether every check run passed (and at least one ran).
    pub fn passed(&self) -> bool {
        !self.results.is_empty() && self.results.iter().all(|(_, v)| matches!(v, Verdict::Pass))
    }

    /// The failures, each with its check.
    pub fn failures(&self) -> impl Iterator<Item = (&Check, &Failure)> {
        self.results
            .iter()
            .filter_map(|(check, verdict)| match verdict {
                Verdict::Fail(failure) => Some((check, failure)),
                Verdict::Pass => None,
            })
    }

    /// The command that runs `check` again, on the seed `failure` names if it has one.
    pub fn replay(&self, check: &Check, failure: &Failure) -> String {
        replay_command(
            self.stage,
            self.subject,
            check.name,
            failure.seed().filter(|_| check.seed.is_some()),
        )
    }
}

/// The command that runs check `check` of `stage` again, alone, on `seed` if given.
pub fn replay_command(stage: Stage, subject: Subject, check: &str, seed: Option<u64>) -> String {
    let mut command = format!("cargo xtask lab check {stage}");
    if subject == Subject::Reference {
        command.push_str(" --reference");
    }
    command.push_str(&format!(" --check {check}"));
    if let Some(seed) = seed {
        command.push_str(&format!(" --seed {seed}"));
    }
    command
}

/// Grades `stage` for `subject`: runs the checks `selection` picks, each to its first
/// failing case, and the next check after a failure (one broken guarantee does not hide
/// the next).
///
/// # Errors
///
/// A sentence, when `selection` names a check the stage does not have, or a seed for a
/// check that draws none.
pub fn grade(stage: Stage, subject: Subject, selection: Selection<'_>) -> Result<Report, String> {
    let checks: Vec<Check> = match selection.check {
        None => stage.checks().to_vec(),
        Some(name) => match stage.checks().iter().find(|c| c.name == name) {
            Some(check) => vec![*check],
            None => {
                let names: Vec<_> = stage.checks().iter().map(|c| c.name).collect();
                return Err(format!(
                    "stage {stage} has no check {name}; its checks are {}",
                    names.join(", ")
                ));
            }
        },
    };
    let mut results = Vec::with_capacity(checks.len());
    for check in checks {
        let verdict = match (selection.seed, check.seed) {
            (None, _) => run_caught(check.name, || (check.run)(subject)),
            (Some(seed), Some(run_seed)) => run_caught(check.name, || run_seed(subject, seed)),
            (Some(_), None) => {
                return Err(format!(
                    "check {} draws no seeds: replay it without --seed",
                    check.name
                ));
            }
        };
        results.push((check, verdict));
    }
    Ok(Report {
        stage,
        subject,
        results,
    })
}

/// Runs a check; a panic that escapes it (the suites catch the implementation's own, the
/// lab's checks catch them too, so this is a last resort) is its failure.
fn run_caught(name: &'static str, run: impl FnOnce() -> Result<(), Failure>) -> Verdict {
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(())) => Verdict::Pass,
        Ok(Err(failure)) => Verdict::Fail(failure),
        Err(payload) => Verdict::Fail(Failure::new(
            "the implementation",
            name,
            None,
            "the check as a whole",
            format!("panicked: {}", words::panic_message(&*payload)),
        )),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "lab stage {}: grading {}",
            self.stage,
            self.stage.graded(self.subject)
        )?;
        for (check, verdict) in &self.results {
            match verdict {
                Verdict::Pass => writeln!(f, "PASS {}", check.name)?,
                Verdict::Fail(failure) => {
                    writeln!(f, "FAIL {}", check.name)?;
                    words::explain(f, check, failure, &self.replay(check, failure))?;
                }
            }
        }
        let failed = self.failures().count();
        let passed = self.results.len() - failed;
        write!(f, "{passed} passed, {failed} failed")
    }
}

/// The failure of a lab check of `check` for the implementation `implementation`:
/// `detail` says what broke, in the learner's words.
pub(crate) fn lab_failure(
    implementation: &str,
    check: &'static str,
    case: impl Into<String>,
    detail: impl Into<String>,
) -> Failure {
    Failure::new(implementation, check, None, case, detail)
}

/// Applies each write of `writes` to `memtable` as a batch of its own: a key, its
/// sequence number, and its value (`None`: a delete).
pub(crate) fn apply_each<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    memtable: &dyn ferris_core::Memtable,
    writes: &[(K, ferris_core::SeqNo, Option<V>)],
) {
    for (key, seq, value) in writes {
        let mut batch = ferris_core::WriteBatch::new();
        match value {
            Some(value) => batch.put(key, value),
            None => batch.delete(key),
        };
        batch.set_seq(*seq);
        memtable.apply(batch.iter());
    }
}

/// Runs the body of a lab check, turning a panic of the implementation into the check's
/// failure, as the suites do.
pub(crate) fn caught(
    implementation: &str,
    check: &'static str,
    case: &str,
    body: impl FnOnce() -> Result<(), Failure>,
) -> Result<(), Failure> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        Err(lab_failure(
            implementation,
            check,
            case,
            format!("panicked: {}", words::panic_message(&*payload)),
        ))
    })
}
