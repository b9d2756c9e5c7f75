//! Stage 7, the transaction conflict resolver: `lab_txn::LabResolver`, or the reference
//! `ferris_txn::Resolver`, through the trait `ferris_txn::ConflictResolver`.
//!
//! | check | from | what it demands |
//! |---|---|---|
//! | `a_later_write_conflicts` | the lab | a read at version 5 of a key written at 7 conflicts; a read at 7 does not |
//! | `a_scan_sees_an_insert` | the lab | a scan of a range conflicts with a later insert of a key that did not exist when it was scanned (a phantom) |
//! | `forgotten_is_too_old` | the lab | once a trim has forgotten a write a check needs, the answer is `TooOld`, never `Ok` |
//! | `conflicts`, `read_version_edges`, `keyspaces_apart`, `too_old`, `against_model`, `serializable` | `ferris_conformance::resolver` | every answer as a resolver that keeps every commit forever gives, `TooOld` where it forgot; random concurrent transactions it admits replay serializably |
//! | `bank_transfers` | the lab | transfers between five accounts, committed through your resolver's `admit` as the engine's write-queue leader does: the balances still add up |

use std::collections::BTreeMap;

use bytes::Bytes;
use ferris_conformance::resolver::{self as suite, Make};
use ferris_core::SeqNo;
use ferris_txn::{
    ConflictResolver, Isolation, KeyRange, Resolver, ResolverLimits, TxnBuffer, TxnError,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::{Check, Failure, Subject, caught, lab_failure};

/// Makes the resolver graded for `subject`.
pub fn make(subject: Subject) -> Make {
    match subject {
        Subject::Lab => |oldest, limits| Box::new(lab_txn::LabResolver::new(oldest, limits)),
        Subject::Reference => |oldest, limits| Box::new(Resolver::new(oldest, limits)),
    }
}

/// The name a failure gives the resolver.
fn name(subject: Subject) -> &'static str {
    match subject {
        Subject::Lab => "lab_txn::LabResolver",
        Subject::Reference => "ferris_txn::Resolver",
    }
}

/// The seeds of the bank runs `bank_transfers` makes.
pub const BANK_SEEDS: std::ops::Range<u64> = 0..8;

/// The stage's checks, in order.
pub const CHECKS: [Check; 10] = [
    Check {
        name: "a_later_write_conflicts",
        guarantee: "a transaction conflicts with a write committed after its read version, \
                    and not with one at it, which its snapshot already holds",
        run: |s| a_later_write_conflicts(make(s), name(s)),
        seed: None,
    },
    Check {
        name: "a_scan_sees_an_insert",
        guarantee: "a scan conflicts with a later write anywhere in the range it scanned, keys \
                    that did not exist yet included: no phantoms",
        run: |s| a_scan_sees_an_insert(make(s), name(s)),
        seed: None,
    },
    Check {
        name: "forgotten_is_too_old",
        guarantee: "a resolver that has forgotten a write a check needs says TooOld, never Ok",
        run: |s| forgotten_is_too_old(make(s), name(s)),
        seed: None,
    },
    Check {
        name: "conflicts",
        guarantee: "point and range writes conflict with point and range reads exactly when \
                    they share a key; a conflict names the first range read and the newest \
                    commit that wrote into it",
        run: |s| suite::conflicts(name(s), make(s)),
        seed: None,
    },
    Check {
        name: "read_version_edges",
        guarantee: "a write at the read version is in the snapshot (no conflict), one after it \
                    is a conflict; a check of nothing always passes",
        run: |s| suite::read_version_edges(name(s), make(s)),
        seed: None,
    },
    Check {
        name: "keyspaces_apart",
        guarantee: "the same key in two keyspaces never conflicts",
        run: |s| suite::keyspaces_apart(name(s), make(s)),
        seed: None,
    },
    Check {
        name: "too_old",
        guarantee: "after a trim, a skip, the age limit or the byte limit, a read version below \
                    what was forgotten is TooOld; out-of-order and oversized commits are refused",
        run: |s| suite::too_old(name(s), make(s)),
        seed: None,
    },
    Check {
        name: "against_model",
        guarantee: "random records, checks, trims and skips answer as a resolver that keeps \
                    every commit forever, TooOld where it forgot, and oldest() agrees",
        run: |s| suite::against_model(name(s), make(s)),
        seed: Some(|s, seed| suite::against_model_seed(name(s), make(s), seed)),
    },
    Check {
        name: "serializable",
        guarantee: "the transactions the resolver lets commit replay one at a time in commit \
                    order, each reading what it read: no lost update, no write skew, no phantom",
        run: |s| suite::serializable(name(s), make(s)),
        seed: Some(|s, seed| suite::serializable_seed(name(s), make(s), seed)),
    },
    Check {
        name: "bank_transfers",
        guarantee: "transfers between accounts, committed through the resolver as the engine's \
                    write-queue leader commits them, leave the balances adding up",
        run: |s| {
            BANK_SEEDS
                .into_iter()
                .try_for_each(|seed| bank_transfers_seed(make(s), name(s), seed))
        },
        seed: Some(|s, seed| bank_transfers_seed(make(s), name(s), seed)),
    },
];

/// An answer, as a failure prints it.
fn show(answer: &Result<(), TxnError>) -> String {
    match answer {
        Ok(()) => "Ok(())".to_owned(),
        Err(e) => format!("Err({e:?})"),
    }
}

/// `key` alone, in the default keyspace.
fn key(k: &str) -> KeyRange {
    KeyRange::key(0, k)
}

/// Records `commit` writing `writes`, failing the check if the resolver refuses it.
fn record(
    resolver: &mut dyn ConflictResolver,
    (name, check, case): (&str, &'static str, &str),
    commit: SeqNo,
    writes: &[KeyRange],
) -> Result<(), Failure> {
    resolver.record(commit, writes, 0).map_err(|e| {
        lab_failure(
            name,
            check,
            case,
            format!(
                "record({commit}, {writes:?}, 0) was refused: {e}; commits come in sequence \
                 number order, and only a commit at or below the last one is out of order"
            ),
        )
    })
}

/// A read at version 5 of a key written at 7 conflicts; a read at 7 does not.
pub fn a_later_write_conflicts(make: Make, name: &str) -> Result<(), Failure> {
    const CHECK: &str = "a_later_write_conflicts";
    let case = "k written at 3 and at 7, read at 5 and at 7";
    caught(name, CHECK, case, || {
        let mut resolver = make(0, ResolverLimits::default());
        record(&mut *resolver, (name, CHECK, case), 3, &[key("k")])?;
        record(&mut *resolver, (name, CHECK, case), 7, &[key("k")])?;
        let got = resolver.check(5, &[key("k")]);
        let expected = Err(TxnError::Conflict {
            range: key("k"),
            committed_at: 7,
        });
        if got != expected {
            let detail = match &got {
                Ok(()) => "a transaction that read k at version 5 was let through although k \
                           was written at 7, after its read version: what it read is stale, and \
                           two such read-modify-writes lose an update: check(5, [k])"
                    .to_owned(),
                Err(TxnError::Conflict { committed_at, .. }) => format!(
                    "the conflict names the commit at {committed_at}: it must name the newest \
                     commit after the read version that wrote the range, 7 (3 is in the \
                     snapshot at 5): check(5, [k])"
                ),
                Err(_) => "check(5, [k]) refused for the wrong reason".to_owned(),
            };
            return Err(
                lab_failure(name, CHECK, case, detail).with_answers(show(&got), show(&expected))
            );
        }
        let got = resolver.check(7, &[key("k")]);
        if got.is_err() {
            return Err(lab_failure(
                name,
                CHECK,
                case,
                "a transaction that read k at version 7 was refused for the write of k at 7, \
                 which its snapshot already holds: only commits after the read version \
                 conflict: check(7, [k])",
            )
            .with_answers(show(&got), "Ok(())"));
        }
        Ok(())
    })
}

/// A scan conflicts with a later insert into its range.
pub fn a_scan_sees_an_insert(make: Make, name: &str) -> Result<(), Failure> {
    const CHECK: &str = "a_scan_sees_an_insert";
    let case = "orders/ scanned at 5, orders/0042 inserted at 7";
    caught(name, CHECK, case, || {
        let mut resolver = make(0, ResolverLimits::default());
        record(
            &mut *resolver,
            (name, CHECK, case),
            7,
            &[key("orders/0042")],
        )?;
        let scan = KeyRange::prefix(0, "orders/");
        let got = resolver.check(5, std::slice::from_ref(&scan));
        let expected = Err(TxnError::Conflict {
            range: scan,
            committed_at: 7,
        });
        if got == expected {
            return Ok(());
        }
        let detail = match &got {
            Ok(()) => {
                "a transaction that scanned orders/ at version 5 was let through although \
                       orders/0042 was inserted into that range at 7: a scan's answer (\"these \
                       are all the orders\") covers the keys that did not exist yet, so any \
                       write inside the range conflicts (a phantom): check(5, [orders/..])"
            }
            Err(_) => {
                "check(5, [orders/..]) gave the wrong answer after an insert of \
                       orders/0042 at 7"
            }
        };
        Err(lab_failure(name, CHECK, case, detail).with_answers(show(&got), show(&expected)))
    })
}

/// Once a trim forgot a write a check needs, the answer is `TooOld`.
pub fn forgotten_is_too_old(make: Make, name: &str) -> Result<(), Failure> {
    const CHECK: &str = "forgotten_is_too_old";
    let case = "a written at 3, b at 7, trim(7), b read at 5";
    caught(name, CHECK, case, || {
        let mut resolver = make(0, ResolverLimits::default());
        record(&mut *resolver, (name, CHECK, case), 3, &[key("a")])?;
        record(&mut *resolver, (name, CHECK, case), 7, &[key("b")])?;
        resolver.trim(7);
        let got = resolver.check(5, &[key("b")]);
        let expected = Err(TxnError::TooOld {
            read_version: 5,
            oldest: 7,
        });
        if got != expected {
            let detail = match &got {
                Ok(()) => {
                    "a transaction that read b at version 5 was let through after trim(7) \
                           forgot the write of b at 7: a resolver that no longer remembers a \
                           commit after the read version cannot know, and must say TooOld, \
                           never Ok: check(5, [b])"
                }
                Err(TxnError::Conflict { .. }) => {
                    "check(5, [b]) reported a conflict with a \
                           commit trim(7) should have forgotten: trim forgets every commit at or \
                           below its argument, and a read version below what was forgotten is \
                           TooOld"
                }
                Err(_) => "check(5, [b]) after trim(7) gave the wrong answer",
            };
            return Err(
                lab_failure(name, CHECK, case, detail).with_answers(show(&got), show(&expected))
            );
        }
        let oldest = resolver.oldest();
        if oldest != 7 {
            return Err(lab_failure(
                name,
                CHECK,
                case,
                "oldest() after trim(7) is not 7: it is the newest commit forgotten",
            )
            .with_answers(oldest.to_string(), "7"));
        }
        Ok(())
    })
}

/// Accounts in the bank, and what each holds at the start.
const ACCOUNTS: usize = 5;
const OPENING: u64 = 100;

/// Transfers each bank run attempts.
const TRANSFERS: usize = 150;

/// Account `n`'s key.
fn account(n: usize) -> String {
    format!("account/{n}")
}

/// A transfer begun: its buffer, its read version, and what it read.
struct Transfer {
    id: usize,
    buffer: TxnBuffer,
    read_version: SeqNo,
    /// The accounts it read.
    read: [usize; 2],
    /// The balances it writes.
    writes: [(usize, u64); 2],
}

/// What a bank run found wrong: the first transfer admitted although an account it read
/// was written after its read version.
struct Lost {
    id: usize,
    account: usize,
    read_version: SeqNo,
    written_at: SeqNo,
    commit: SeqNo,
}

/// One bank run: five accounts of 100; transfers of 1 to 20 between two of them, up to
/// three begun at a time, each reading both balances at its read version and writing both
/// back; each committed through the resolver's `admit`, as a write group of one, as the
/// engine's leader does, and the resolver trimmed to the oldest running read version.
/// The balances must add up to 500 at the end, and some transfer must have committed.
fn bank_transfers_seed(make: Make, name: &str, seed: u64) -> Result<(), Failure> {
    const CHECK: &str = "bank_transfers";
    let case = format!("seed {seed}");
    let fail = |detail: String| Failure::new(name, CHECK, Some(seed), case.as_str(), detail);
    caught(name, CHECK, &case, || {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut resolver = make(0, ResolverLimits::default());
        // Every version of every account: (sequence number, balance).
        let mut versions: BTreeMap<usize, Vec<(SeqNo, u64)>> = BTreeMap::new();
        let mut last: SeqNo = 0;
        for n in 0..ACCOUNTS {
            // Opened by plain writes, as a loader would.
            let mut batch = ferris_core::WriteBatch::new();
            batch.put(account(n), OPENING.to_string());
            last = resolver.admit(last, &batch, None, 0, true);
            versions.insert(n, vec![(last, OPENING)]);
        }
        let balance = |versions: &BTreeMap<usize, Vec<(SeqNo, u64)>>, n: usize, at: SeqNo| {
            (versions.get(&n).into_iter().flatten())
                .rev()
                .find(|(seq, _)| *seq <= at)
                .map_or(0, |(_, b)| *b)
        };
        let mut running: Vec<Transfer> = Vec::new();
        let (mut begun, mut committed, mut refused) = (0, 0, 0);
        let mut lost: Option<Lost> = None;
        while begun < TRANSFERS || !running.is_empty() {
            if begun < TRANSFERS
                && (running.is_empty() || (running.len() < 3 && rng.random_bool(0.5)))
            {
                let from = rng.random_range(0..ACCOUNTS);
                let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                let amount = rng.random_range(1..=20u64);
                let mut buffer = TxnBuffer::new(Isolation::Serializable);
                let read = |buffer: &mut TxnBuffer, n: usize| {
                    let value = balance(&versions, n, last);
                    let got = buffer.read(0, account(n).as_bytes(), true, || {
                        Ok::<_, ()>(Some(Bytes::from(value.to_string())))
                    });
                    got.ok()
                        .flatten()
                        .and_then(|b| std::str::from_utf8(&b).ok()?.parse::<u64>().ok())
                };
                let (Some(a), Some(b)) = (read(&mut buffer, from), read(&mut buffer, to)) else {
                    return Err(fail("the grader could not read its own balances".into()));
                };
                let amount = amount.min(a);
                let writes = buffer.writes_mut();
                let wrote = writes
                    .put(0, account(from), (a - amount).to_string())
                    .and_then(|()| writes.put(0, account(to), (b + amount).to_string()));
                if wrote.is_err() {
                    return Err(fail("the grader could not buffer its own transfer".into()));
                }
                running.push(Transfer {
                    id: begun,
                    buffer,
                    read_version: last,
                    read: [from, to],
                    writes: [(from, a - amount), (to, b + amount)],
                });
                begun += 1;
                continue;
            }
            let Transfer {
                id,
                buffer,
                read_version,
                read,
                writes,
            } = running.swap_remove(rng.random_range(0..running.len()));
            let Some((batch, mut check)) = buffer.into_commit(read_version) else {
                continue;
            };
            let next = resolver.admit(last, &batch, Some(&mut check), 0, true);
            if check.refused.is_some() {
                refused += 1;
                continue;
            }
            let commit = last + batch.len() as u64;
            if next != commit || check.commit != commit {
                return Err(fail(format!(
                    "admit let transfer {} through after sequence number {last} but numbered it \
                     {next} (commit version {}), not {commit}: a batch of {} writes takes the \
                     next {} sequence numbers",
                    id,
                    check.commit,
                    batch.len(),
                    batch.len()
                ))
                .with_answers(next.to_string(), commit.to_string()));
            }
            // Was an account it read written after its read version? Then it was let
            // through on a stale balance.
            for n in read {
                let newer = (versions.get(&n).into_iter().flatten())
                    .map(|(seq, _)| *seq)
                    .filter(|seq| *seq > read_version)
                    .max();
                if let (Some(written_at), None) = (newer, &lost) {
                    lost = Some(Lost {
                        id,
                        account: n,
                        read_version,
                        written_at,
                        commit,
                    });
                }
            }
            for (n, value) in writes {
                versions.entry(n).or_default().push((commit, value));
            }
            last = commit;
            committed += 1;
            let oldest = running.iter().map(|t| t.read_version).min().unwrap_or(last);
            resolver.trim(oldest);
        }
        let total: u64 = (0..ACCOUNTS).map(|n| balance(&versions, n, last)).sum();
        let expected = ACCOUNTS as u64 * OPENING;
        if total != expected || lost.is_some() {
            let mut detail = match total == expected {
                false => format!(
                    "after {committed} transfers committed through this resolver ({refused} \
                     refused), the {ACCOUNTS} accounts hold {total} in all, not {expected}: \
                     money was made or lost by transfers committed on stale balances"
                ),
                true => format!(
                    "after {committed} transfers committed through this resolver ({refused} \
                     refused), the {ACCOUNTS} accounts add up to {expected} by luck: a \
                     transfer was committed on a stale balance"
                ),
            };
            if let Some(l) = lost {
                detail.push_str(&format!(
                    "\nthe first: transfer {} read {} at version {} and committed at {} \
                     although {} was written at {}, after its read version: the resolver \
                     must have refused it",
                    l.id,
                    account(l.account),
                    l.read_version,
                    l.commit,
                    account(l.account),
                    l.written_at
                ));
            }
            return Err(match total == expected {
                true => fail(detail),
                false => fail(detail).with_answers(total.to_string(), expected.to_string()),
            });
        }
        if committed == 0 {
            return Err(fail(format!(
                "no transfer of {TRANSFERS} committed: every one was refused; refusing \
                 everything is safe, and useless"
            )));
        }
        Ok(())
    })
}
