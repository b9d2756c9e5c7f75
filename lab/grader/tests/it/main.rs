//! The lab checked: every stage's grader passes FerrisDB's own implementation (the
//! reference solution) and fails each starter crate as shipped, every failure in a
//! learner's words with the command that replays it.
//!
//! The starter tests guard the starters as this repository ships them. A learner who
//! fills one in makes its checks pass, and then `starters_fail_every_check_that_asks_for_work`
//! fails for that stage, saying so: that is the lab working, not a bug (see
//! `lab/README.md`).

mod engine;
mod txn;
mod wal;

use std::sync::Arc;

use ferris_core::range_del::Tombstones;
use ferris_core::{
    BatchIter, InternalIterator, Lookup, MAX_SEQNO, Memtable, MemtableFactory, SeqNo,
};
use lab_grader::{Selection, Stage, Subject, Verdict, grade, memtable, replay_command};

/// The checks a starter passes as shipped: doing nothing breaks no rule of the strategy
/// suite (it is always safe); the lab's own compaction checks are the ones that ask for
/// the work.
fn passes_as_shipped(stage: Stage) -> &'static [&'static str] {
    match stage {
        Stage::Compaction => &["empty_view", "random_views", "simulations"],
        Stage::Memtable | Stage::Wal | Stage::Merge | Stage::Table | Stage::Engine | Stage::Txn => {
            &[]
        }
    }
}

#[test]
fn every_stage_passes_on_the_reference() {
    for stage in Stage::ALL {
        let report = grade(stage, Subject::Reference, Selection::default()).expect("grades");
        assert_eq!(report.results.len(), stage.checks().len());
        assert!(
            report.passed(),
            "the reference fails its own lab:\n{report}"
        );
    }
}

#[test]
fn starters_fail_every_check_that_asks_for_work() {
    for stage in Stage::ALL {
        let report = grade(stage, Subject::Lab, Selection::default()).expect("grades");
        let text = report.to_string();
        for (check, verdict) in &report.results {
            let shipped_pass = passes_as_shipped(stage).contains(&check.name);
            match verdict {
                Verdict::Pass => assert!(
                    shipped_pass,
                    "lab/{stage} passes {}: if you are doing the lab, well done, this test only \
                     guards the starters as shipped; otherwise the check has lost its teeth \
                     or the starter is no longer empty\n{text}",
                    check.name
                ),
                Verdict::Fail(failure) => {
                    assert!(
                        !shipped_pass,
                        "{} should pass as shipped:\n{text}",
                        check.name
                    );
                    assert_eq!(failure.check(), check.name, "{text}");
                    // Every failure reads the same way: the guarantee, what broke, the case,
                    // and the command that runs it again (with its seed, if it has one).
                    let replay = report.replay(check, failure);
                    let seed = failure.seed().filter(|_| check.seed.is_some());
                    assert_eq!(
                        replay,
                        replay_command(stage, Subject::Lab, check.name, seed)
                    );
                    for line in [
                        format!("FAIL {}", check.name),
                        format!("guarantee: {}", check.guarantee),
                        format!(
                            "broke:     {}",
                            failure.detail().lines().next().unwrap_or("")
                        ),
                        format!("case:      {}", failure.case()),
                        format!("replay:    {replay}"),
                    ] {
                        assert!(text.contains(&line), "no line {line:?} in\n{text}");
                    }
                    assert!(!failure.detail().contains("panicked"), "{text}");
                }
            }
        }
        assert!(!report.passed(), "{text}");
        let failed = report.failures().count();
        assert!(text.ends_with(&format!(
            "{} passed, {failed} failed",
            report.results.len() - failed
        )));
    }
}

#[test]
fn a_failure_replays_with_its_seed() {
    let report = grade(Stage::Memtable, Subject::Lab, Selection::default()).expect("grades");
    let (check, failure) = report
        .failures()
        .find(|(c, _)| c.name == "against_model")
        .expect("the starter fails against_model");
    let seed = failure.seed().expect("against_model draws seeds");
    assert!(report.replay(check, failure).ends_with(&format!(
        "lab check memtable --check against_model --seed {seed}"
    )));
    let selection = Selection {
        check: Some("against_model"),
        seed: Some(seed),
    };
    let again = grade(Stage::Memtable, Subject::Lab, selection).expect("grades");
    match &again.results[..] {
        [(_, Verdict::Fail(replayed))] => assert_eq!(replayed, failure),
        other => panic!("the replay gave {other:?}"),
    }
}

#[test]
fn a_selection_the_stage_lacks_is_refused() {
    let unknown = Selection {
        check: Some("no_such_check"),
        seed: None,
    };
    let error = grade(Stage::Merge, Subject::Lab, unknown).expect_err("refused");
    assert!(error.contains("read_path"), "{error}");
    let unseeded = Selection {
        check: Some("in_the_engine"),
        seed: Some(1),
    };
    assert!(grade(Stage::Memtable, Subject::Lab, unseeded).is_err());
}

/// A memtable that answers every lookup with the newest version, whatever the snapshot:
/// the mistake of a first memtable that keys its map by user key alone.
#[derive(Debug)]
struct SeesTheFuture(Arc<dyn Memtable>);

impl Memtable for SeesTheFuture {
    fn apply(&self, entries: BatchIter<'_>) -> u64 {
        self.0.apply(entries)
    }
    fn get(&self, user_key: &[u8], _snapshot: SeqNo) -> Option<Lookup> {
        self.0.get(user_key, MAX_SEQNO)
    }
    fn range_tombstones(&self) -> Arc<Tombstones> {
        self.0.range_tombstones()
    }
    fn iter(self: Arc<Self>) -> Box<dyn InternalIterator> {
        Arc::clone(&self.0).iter()
    }
    fn approximate_size(&self) -> usize {
        self.0.approximate_size()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[derive(Debug)]
struct SeesTheFutureFactory;

impl MemtableFactory for SeesTheFutureFactory {
    fn create(&self) -> Arc<dyn Memtable> {
        Arc::new(SeesTheFuture(ferris_memtable::BTreeFactory.create()))
    }
}

#[test]
fn a_memtable_that_ignores_snapshots_is_told_it_saw_the_future() {
    let failure = memtable::reads_at_a_snapshot(&SeesTheFutureFactory).expect_err("caught");
    assert_eq!(
        failure.detail(),
        "a reader at snapshot 7 saw a write made at 9: reads must not see the future: \
         get(b\"k\", 7)"
    );
    assert_eq!(failure.got(), Some("Value(b\"written at 9\")"));
    assert_eq!(failure.expected(), Some("Value(b\"written at 5\")"));
    // The suite catches it too, at a seed it names; the engine check, in a database.
    let suite = ferris_conformance::memtable::against_model(&SeesTheFutureFactory);
    assert!(suite.is_err_and(|f| f.seed().is_some()));
    let engine = memtable::in_the_engine(Arc::new(SeesTheFutureFactory)).expect_err("caught");
    assert!(
        engine
            .detail()
            .starts_with("in a database with this memtable, reading at a snapshot"),
        "{engine}"
    );
    assert_eq!(engine.got(), Some("b\"green\""));
    assert_eq!(engine.expected(), Some("b\"red\""));
}
