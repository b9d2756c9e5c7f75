//! The resolver suite against `ferris_txn::Resolver`, and against broken resolvers it
//! must catch: one that counts a write at the read version as a conflict, one that says
//! `Ok` where it has forgotten, and one that lets every transaction through.

use ferris_conformance::resolver::{self, CHECKS};
use ferris_core::SeqNo;
use ferris_txn::{ConflictResolver, KeyRange, Resolver, ResolverLimits, TxnError};

use crate::{assert_replays, caught, is_wrong_answer};

fn reference(oldest: SeqNo, limits: ResolverLimits) -> Box<dyn ConflictResolver> {
    Box::new(Resolver::new(oldest, limits))
}

#[test]
fn the_resolver_conforms() {
    for (name, check) in CHECKS {
        check("Resolver", reference).unwrap_or_else(|f| panic!("{name}: {f}"));
    }
}

/// How a [`Broken`] resolver goes wrong.
#[derive(Debug, Clone, Copy)]
enum Mistake {
    /// Checks from the read version itself: a write at it conflicts.
    SeesItsOwnSnapshot,
    /// Says `Ok` where it should say `TooOld`.
    OkWhenForgotten,
    /// Lets every transaction through.
    NeverConflicts,
}

#[derive(Debug)]
struct Broken(Resolver, Mistake);

impl ConflictResolver for Broken {
    fn check(&self, read_version: SeqNo, reads: &[KeyRange]) -> Result<(), TxnError> {
        match self.1 {
            Mistake::SeesItsOwnSnapshot => self.0.check(read_version.saturating_sub(1), reads),
            Mistake::OkWhenForgotten => match self.0.check(read_version, reads) {
                Err(TxnError::TooOld { .. }) => Ok(()),
                other => other,
            },
            Mistake::NeverConflicts => Ok(()),
        }
    }
    fn record(&mut self, c: SeqNo, writes: &[KeyRange], now: u64) -> Result<(), TxnError> {
        self.0.record(c, writes, now)
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

fn broken(mistake: Mistake) -> impl Fn(SeqNo, ResolverLimits) -> Box<dyn ConflictResolver> {
    move |oldest, limits| Box::new(Broken(Resolver::new(oldest, limits), mistake))
}

#[test]
fn a_write_at_the_read_version_counted_as_a_conflict_is_caught() {
    fn make(o: SeqNo, l: ResolverLimits) -> Box<dyn ConflictResolver> {
        broken(Mistake::SeesItsOwnSnapshot)(o, l)
    }
    let failure = caught(
        resolver::read_version_edges("broken", make),
        "read_version_edges",
    );
    assert!(is_wrong_answer(&failure), "{failure}");
    assert_eq!(
        failure.detail(),
        "after record(5, [0:[k, k\\x00)], 0): check(5, [0:[k, k\\x00)])"
    );
    assert_eq!(
        failure.got(),
        Some("Err(Conflict { range: 0:[k, k\\x00), committed_at: 5 })")
    );
    assert_eq!(failure.expected(), Some("Ok(())"));
    let failure = caught(resolver::against_model("broken", make), "against_model");
    assert_replays(failure, |seed| {
        resolver::against_model_seed("broken", make, seed)
    });
}

#[test]
fn ok_where_it_forgot_is_caught() {
    fn make(o: SeqNo, l: ResolverLimits) -> Box<dyn ConflictResolver> {
        broken(Mistake::OkWhenForgotten)(o, l)
    }
    let failure = caught(resolver::too_old("broken", make), "too_old");
    assert_eq!(failure.case(), "trims");
    assert_eq!(failure.got(), Some("Ok(())"));
    assert_eq!(
        failure.expected(),
        Some("Err(TooOld { read_version: 2, oldest: 3 })")
    );
    let failure = caught(resolver::against_model("broken", make), "against_model");
    assert_replays(failure, |seed| {
        resolver::against_model_seed("broken", make, seed)
    });
}

#[test]
fn a_resolver_that_lets_everything_through_is_not_serializable() {
    fn make(o: SeqNo, l: ResolverLimits) -> Box<dyn ConflictResolver> {
        broken(Mistake::NeverConflicts)(o, l)
    }
    let failure = caught(resolver::serializable("broken", make), "serializable");
    assert!(
        failure
            .detail()
            .starts_with("the transactions this resolver let commit are not serializable"),
        "{failure}"
    );
    assert_replays(failure, |seed| {
        resolver::serializable_seed("broken", make, seed)
    });
    caught(resolver::conflicts("broken", make), "conflicts");
    caught(resolver::keyspaces_apart("broken", make), "keyspaces_apart");
}
