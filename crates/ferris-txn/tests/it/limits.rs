//! Trimming and the limits: what the resolver forgets, and that it then says `TooOld`
//! instead of answering.

use ferris_txn::{KeyRange, Resolver, ResolverLimits, TxnError};

use crate::{conflict, key};

fn too_old(read_version: u64, oldest: u64) -> Result<(), TxnError> {
    Err(TxnError::TooOld {
        read_version,
        oldest,
    })
}

#[test]
fn trimming_by_the_oldest_live_read_version() {
    let mut r = Resolver::default();
    r.record(2, &[key("a")], 0).unwrap();
    r.record(4, &[key("b")], 0).unwrap();
    r.record(6, &[key("c")], 0).unwrap();
    r.trim(4);
    assert_eq!((r.len(), r.oldest()), (1, 4));
    // Read versions from 4 on are answered; commit 6 is still remembered.
    assert_eq!(conflict(r.check(4, &[key("c")])).1, 6);
    r.check(5, &[key("b")]).unwrap();
    // Read versions below 4 would need commit 4, which is gone.
    assert_eq!(r.check(3, &[key("z")]), too_old(3, 4));
    // Trimming to a version between commits raises `oldest` only to the commit trimmed.
    r.trim(5);
    assert_eq!(r.oldest(), 4);
    r.check(4, &[key("a")]).unwrap();
}

#[test]
fn a_byte_cap_forgets_the_oldest_commits_and_raises_the_floor() {
    let one = key("k1").charged_bytes();
    let mut r = Resolver::new(
        0,
        ResolverLimits {
            max_history_bytes: 2 * one,
            ..ResolverLimits::default()
        },
    );
    r.record(1, &[key("k1")], 0).unwrap();
    r.record(2, &[key("k2")], 0).unwrap();
    assert_eq!((r.len(), r.oldest()), (2, 0));
    r.record(3, &[key("k3")], 0).unwrap();
    assert_eq!((r.len(), r.oldest(), r.history_bytes()), (2, 1, 2 * one));
    // Commit 1 is forgotten: a read at 0 might conflict with it, and the resolver no
    // longer knows, so it says so, even for a key commit 1 did not write.
    assert_eq!(r.check(0, &[key("zz")]), too_old(0, 1));
    assert_eq!(conflict(r.check(1, &[key("k2")])).1, 2);
}

#[test]
fn an_age_limit_forgets_old_commits_when_the_next_is_recorded() {
    let mut r = Resolver::new(
        0,
        ResolverLimits {
            max_age_ms: 5_000,
            ..ResolverLimits::default()
        },
    );
    r.record(1, &[key("a")], 1_000).unwrap();
    r.record(2, &[key("b")], 3_000).unwrap();
    // At 6,000 commit 1 is exactly 5 s old: still kept.
    r.record(3, &[key("c")], 6_000).unwrap();
    assert_eq!(r.oldest(), 0);
    // At 8,001 commits 1 and 2 are over 5 s old.
    r.record(4, &[], 8_001).unwrap();
    assert_eq!((r.len(), r.oldest()), (1, 2));
    assert_eq!(r.check(1, &[key("c")]), too_old(1, 2));
    assert_eq!(conflict(r.check(2, &[key("c")])).1, 3);
}

#[test]
fn a_transaction_over_the_size_limit_is_refused_and_not_recorded() {
    let limits = ResolverLimits {
        max_txn_bytes: 100,
        ..ResolverLimits::default()
    };
    let mut r = Resolver::new(0, limits);
    let big = KeyRange::key(0, [7u8; 80]);
    let bytes = big.charged_bytes();
    assert!(bytes > 100);
    let refused = Err(TxnError::TooLarge { bytes, limit: 100 });
    assert_eq!(r.record(1, std::slice::from_ref(&big), 0), refused);
    assert_eq!(r.check(0, std::slice::from_ref(&big)), refused);
    // Many small ranges add up.
    let many = vec![key("a"); 4];
    assert!(matches!(r.check(0, &many), Err(TxnError::TooLarge { .. })));
    // The refused commit left nothing behind, and its sequence number is still free.
    assert!(r.is_empty());
    r.record(1, &[key("a")], 0).unwrap();
}

#[test]
fn a_resolver_opened_on_a_database_knows_nothing_older() {
    let r = Resolver::new(100, ResolverLimits::default());
    assert_eq!(r.check(99, &[key("a")]), too_old(99, 100));
    r.check(100, &[key("a")]).unwrap();
}

#[test]
fn errors_read_as_sentences() {
    let err = TxnError::Conflict {
        range: key("a"),
        committed_at: 7,
    };
    assert_eq!(
        err.to_string(),
        "conflict on 0:[a, a\\x00): written by the commit at sequence 7"
    );
    assert_eq!(
        TxnError::TooOld {
            read_version: 3,
            oldest: 5
        }
        .to_string(),
        "read version 3 is too old: the resolver checks read versions from 5 on"
    );
}
