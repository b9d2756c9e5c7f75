//! The txn stage's own checks, against resolvers broken the way a first resolver often
//! is: each must be told what it did wrong, in a sentence that names the versions.

use ferris_core::SeqNo;
use ferris_txn::{ConflictResolver, KeyRange, Resolver, ResolverLimits, TxnError};
use lab_grader::{Selection, Stage, Subject, Verdict, grade, txn};

/// A resolver that checks from the read version itself, so a write at the read version
/// (already in the transaction's snapshot) counts as a conflict.
#[derive(Debug)]
struct OffByOne(Resolver);

/// A resolver that says `Ok` where it has forgotten what it would need.
#[derive(Debug)]
struct OkWhenForgotten(Resolver);

macro_rules! wrap {
    ($t:ty, |$r:ident, $v:ident, $reads:ident| $check:expr) => {
        impl ConflictResolver for $t {
            fn check(&self, $v: SeqNo, $reads: &[KeyRange]) -> Result<(), TxnError> {
                let $r = &self.0;
                $check
            }
            fn record(&mut self, c: SeqNo, w: &[KeyRange], now: u64) -> Result<(), TxnError> {
                self.0.record(c, w, now)
            }
            fn skip(&mut self, commit: SeqNo) {
                self.0.skip(commit);
            }
            fn trim(&mut self, oldest: SeqNo) {
                self.0.trim(oldest);
            }
            fn oldest(&self) -> SeqNo {
                self.0.oldest()
            }
        }
    };
}

wrap!(OffByOne, |r, v, reads| r.check(v.saturating_sub(1), reads));
wrap!(OkWhenForgotten, |r, v, reads| match r.check(v, reads) {
    Err(TxnError::TooOld { .. }) => Ok(()),
    other => other,
});

fn off_by_one(oldest: SeqNo, limits: ResolverLimits) -> Box<dyn ConflictResolver> {
    Box::new(OffByOne(Resolver::new(oldest, limits)))
}

fn ok_when_forgotten(oldest: SeqNo, limits: ResolverLimits) -> Box<dyn ConflictResolver> {
    Box::new(OkWhenForgotten(Resolver::new(oldest, limits)))
}

#[test]
fn a_resolver_that_refuses_its_own_snapshot_is_told_so() {
    let failure = txn::a_later_write_conflicts(off_by_one, "off-by-one").expect_err("caught");
    assert_eq!(
        failure.detail(),
        "a transaction that read k at version 7 was refused for the write of k at 7, which \
         its snapshot already holds: only commits after the read version conflict: check(7, [k])"
    );
    assert_eq!(
        failure.got(),
        Some("Err(Conflict { range: 0:[k, k\\x00), committed_at: 7 })")
    );
    assert_eq!(failure.expected(), Some("Ok(())"));
    // The rest of the stage passes it: the edge is the one thing it got wrong.
    assert!(txn::a_scan_sees_an_insert(off_by_one, "off-by-one").is_ok());
}

#[test]
fn a_resolver_that_answers_ok_after_forgetting_is_told_to_say_too_old() {
    let failure = txn::forgotten_is_too_old(ok_when_forgotten, "forgetful").expect_err("caught");
    assert!(
        failure
            .detail()
            .starts_with("a transaction that read b at version 5 was let through after trim(7)"),
        "{failure}"
    );
    assert_eq!(failure.got(), Some("Ok(())"));
    assert_eq!(
        failure.expected(),
        Some("Err(TooOld { read_version: 5, oldest: 7 })")
    );
}

#[test]
fn the_starter_loses_money_in_the_bank() {
    let selection = Selection {
        check: Some("bank_transfers"),
        seed: Some(0),
    };
    let report = grade(Stage::Txn, Subject::Lab, selection).expect("grades");
    let [(_, Verdict::Fail(failure))] = &report.results[..] else {
        panic!("the starter passes bank_transfers:\n{report}");
    };
    assert!(
        failure.detail().contains("money was made or lost"),
        "{failure}"
    );
    assert!(
        failure.detail().contains("\nthe first: transfer "),
        "{failure}"
    );
    assert_ne!(failure.got(), failure.expected());
    let text = report.to_string();
    assert!(
        text.contains("replay:    cargo xtask lab check txn --check bank_transfers --seed 0"),
        "{text}"
    );
}
