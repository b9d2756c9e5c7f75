//! One test per rule of the check, each shaped as the anomaly it prevents.

use ferris_txn::{KeyRange, Resolver};

use crate::{conflict, key, span};

#[test]
fn a_read_of_a_key_written_after_the_read_version_conflicts() {
    // Lost update: both transfers read the balance at 5; the first commits at 6.
    let mut r = Resolver::default();
    r.check(5, &[key("balance")]).unwrap();
    r.record(6, &[key("balance")], 0).unwrap();
    assert_eq!(conflict(r.check(5, &[key("balance")])), (key("balance"), 6));
}

#[test]
fn a_read_of_a_key_written_at_or_before_the_read_version_does_not() {
    let mut r = Resolver::default();
    r.record(6, &[key("balance")], 0).unwrap();
    // A transaction that read at 6 saw commit 6's write; one at 7 saw it too.
    r.check(6, &[key("balance")]).unwrap();
    r.check(7, &[key("balance")]).unwrap();
    // Neighbouring keys were not written.
    r.check(5, &[key("balanc"), key("balance\0"), key("balancf")])
        .unwrap();
}

#[test]
fn a_range_read_conflicts_with_an_insert_inside_it() {
    // Phantom: the scan found no "orders/7" (it did not exist), but the insert lands in
    // the scanned range.
    let mut r = Resolver::default();
    let scanned = KeyRange::prefix(0, "orders/");
    r.record(4, &[key("orders/7")], 0).unwrap();
    assert_eq!(
        conflict(r.check(3, std::slice::from_ref(&scanned))),
        (scanned.clone(), 4)
    );
    // An insert just past the range does not conflict.
    let mut r = Resolver::default();
    r.record(4, &[key("orders0"), key("orders.")], 0).unwrap();
    r.check(3, &[scanned]).unwrap();
}

#[test]
fn a_range_delete_conflicts_with_a_point_read_inside_it() {
    let mut r = Resolver::default();
    r.record(4, &[span(0, "a", "m")], 0).unwrap();
    assert_eq!(conflict(r.check(3, &[key("z"), key("c")])), (key("c"), 4));
    r.check(3, &[key("m"), span(0, "m", "z")]).unwrap();
}

#[test]
fn write_skew_is_caught_when_reads_are_checked() {
    // Both doctors on call at 10; each reads both and takes themself off.
    let mut r = Resolver::default();
    let both = [key("oncall/alice"), key("oncall/bob")];
    r.check(10, &both).unwrap();
    r.record(11, &[key("oncall/alice")], 0).unwrap();
    // The second to commit read alice's key, which commit 11 wrote.
    assert_eq!(conflict(r.check(10, &both)), (key("oncall/alice"), 11));
}

#[test]
fn snapshot_isolation_checking_writes_only_lets_write_skew_through() {
    let mut r = Resolver::default();
    r.check(10, &[key("oncall/alice")]).unwrap();
    r.record(11, &[key("oncall/alice")], 0).unwrap();
    // Under SI bob's transaction checks only what it writes: no conflict, both commit.
    r.check(10, &[key("oncall/bob")]).unwrap();
    r.record(12, &[key("oncall/bob")], 0).unwrap();
    // SI still stops a lost update: a third writer of alice's key conflicts.
    assert_eq!(
        conflict(r.check(10, &[key("oncall/alice")])),
        (key("oncall/alice"), 11)
    );
}

#[test]
fn keyspaces_do_not_conflict_across() {
    let mut r = Resolver::default();
    r.record(2, &[KeyRange::key(1, "k"), KeyRange::prefix(2, "")], 0)
        .unwrap();
    r.check(1, &[KeyRange::key(0, "k"), KeyRange::prefix(3, "")])
        .unwrap();
    assert_eq!(conflict(r.check(1, &[KeyRange::key(1, "k")])).1, 2);
    assert_eq!(conflict(r.check(1, &[KeyRange::key(2, "x")])).1, 2);
}

#[test]
fn the_first_conflicting_range_is_named() {
    let mut r = Resolver::default();
    r.record(2, &[key("b")], 0).unwrap();
    r.record(3, &[key("c")], 0).unwrap();
    let reads = [key("a"), key("c"), key("b")];
    assert_eq!(conflict(r.check(1, &reads)), (key("c"), 3));
    // At read version 2, commit 2's write of "b" no longer counts.
    assert_eq!(conflict(r.check(2, &reads)), (key("c"), 3));
    r.check(3, &reads).unwrap();
}

#[test]
fn a_transaction_that_checks_nothing_passes_however_old() {
    let mut r = Resolver::default();
    r.record(2, &[key("a")], 0).unwrap();
    r.check(0, &[]).unwrap();
    // A blind write cannot conflict: not even a forgotten history makes it too old.
    r.trim(2);
    r.check(0, &[]).unwrap();
    assert!(matches!(
        r.check(0, &[key("z")]),
        Err(ferris_txn::TxnError::TooOld { .. })
    ));
}
