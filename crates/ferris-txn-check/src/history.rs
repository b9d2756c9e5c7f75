//! What the threads saw, and the replay that decides whether it is serializable.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;

/// Which of the two keyspaces a step works on: the default one (0) or `other` (1).
pub type Space = u8;

/// One step of a transaction, with what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A point read of `key`, and the value it returned.
    Get {
        /// The keyspace.
        space: Space,
        /// The key read.
        key: Bytes,
        /// What the read returned.
        found: Option<Bytes>,
    },
    /// A scan of `[lo, hi)`, forwards or backwards, and every entry it returned.
    Scan {
        /// The keyspace.
        space: Space,
        /// The first key of the range.
        lo: Bytes,
        /// The first key past it.
        hi: Bytes,
        /// Whether it walked backwards.
        reverse: bool,
        /// The entries, in the order returned.
        found: Vec<(Bytes, Bytes)>,
    },
    /// A put.
    Put {
        /// The keyspace.
        space: Space,
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
    },
    /// A delete.
    Delete {
        /// The keyspace.
        space: Space,
        /// The key.
        key: Bytes,
    },
}

/// A transaction that committed: its steps, and the commit version `commit` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The thread that ran it.
    pub thread: usize,
    /// Its commit version: the sequence number of its last write, or for a transaction
    /// that wrote nothing, its read version.
    pub commit: u64,
    /// What it did and saw, in order.
    pub steps: Vec<Step>,
}

impl Committed {
    /// Whether it wrote anything.
    pub fn writes(&self) -> bool {
        (self.steps.iter()).any(|s| matches!(s, Step::Put { .. } | Step::Delete { .. }))
    }
}

/// Every key of the replayed database, per keyspace.
pub type State = BTreeMap<(Space, Bytes), Bytes>;

/// A committed transaction saw something that no run of the committed transactions one at
/// a time, in commit order, would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The transaction.
    pub txn: Committed,
    /// Which of its steps.
    pub step: usize,
    /// What the serial replay read there.
    pub expected: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "transaction of thread {} committed at {} saw {:?} at step {}; in commit order it \
             would have seen {}",
            self.txn.thread, self.txn.commit, self.txn.steps[self.step], self.step, self.expected
        )
    }
}

/// Replays `history` one transaction at a time in commit order (at equal versions, a
/// transaction that wrote before one that only read: the reader's read version includes
/// that commit) against an empty database, checking that every read returns what the
/// transaction saw, with its own earlier writes applied. Returns the final state, which
/// the database must hold too.
///
/// # Errors
///
/// The first [`Violation`] in commit order.
pub fn replay(mut history: Vec<Committed>) -> Result<State, Box<Violation>> {
    history.sort_by_key(|t| (t.commit, !t.writes()));
    let mut state = State::new();
    for txn in history {
        // The transaction's own writes so far: a value, or `None` for a delete.
        let mut own: BTreeMap<(Space, Bytes), Option<Bytes>> = BTreeMap::new();
        for (i, step) in txn.steps.iter().enumerate() {
            let fail = |expected: String| {
                Err(Box::new(Violation {
                    txn: txn.clone(),
                    step: i,
                    expected,
                }))
            };
            match step {
                Step::Get { space, key, found } => {
                    let k = (*space, key.clone());
                    let want = own
                        .get(&k)
                        .cloned()
                        .unwrap_or_else(|| state.get(&k).cloned());
                    if want != *found {
                        return fail(format!("{want:?}"));
                    }
                }
                Step::Scan {
                    space,
                    lo,
                    hi,
                    reverse,
                    found,
                } => {
                    let range = (*space, lo.clone())..(*space, hi.clone());
                    let mut merged: BTreeMap<Bytes, Bytes> = (state.range(range.clone()))
                        .map(|((_, k), v)| (k.clone(), v.clone()))
                        .collect();
                    for ((_, k), v) in own.range(range) {
                        match v {
                            Some(v) => merged.insert(k.clone(), v.clone()),
                            None => merged.remove(k),
                        };
                    }
                    let mut want: Vec<(Bytes, Bytes)> = merged.into_iter().collect();
                    if *reverse {
                        want.reverse();
                    }
                    if want != *found {
                        return fail(format!("{want:?}"));
                    }
                }
                Step::Put { space, key, value } => {
                    own.insert((*space, key.clone()), Some(value.clone()));
                }
                Step::Delete { space, key } => {
                    own.insert((*space, key.clone()), None);
                }
            }
        }
        for (k, v) in own {
            match v {
                Some(v) => state.insert(k, v),
                None => state.remove(&k),
            };
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn get(key: &str, found: Option<&str>) -> Step {
        Step::Get {
            space: 0,
            key: b(key),
            found: found.map(b),
        }
    }

    fn put(key: &str, value: &str) -> Step {
        Step::Put {
            space: 0,
            key: b(key),
            value: b(value),
        }
    }

    fn txn(commit: u64, steps: Vec<Step>) -> Committed {
        Committed {
            thread: 0,
            commit,
            steps,
        }
    }

    #[test]
    fn a_serial_history_replays() {
        let history = vec![
            txn(2, vec![get("x", Some("1")), put("x", "2")]),
            txn(1, vec![get("x", None), put("x", "1")]),
            // Read-only at version 2: sees the commit at 2.
            txn(2, vec![get("x", Some("2"))]),
        ];
        let state = replay(history).unwrap();
        assert_eq!(state.get(&(0, b("x"))), Some(&b("2")));
    }

    /// The checker must catch what it exists for: two increments that both read 0.
    #[test]
    fn a_lost_update_is_caught() {
        let history = vec![
            txn(1, vec![get("x", None), put("x", "1")]),
            txn(2, vec![get("x", None), put("x", "1")]),
        ];
        let violation = replay(history).unwrap_err();
        assert_eq!((violation.txn.commit, violation.step), (2, 0));
        assert!(
            violation.to_string().contains("Some(b\"1\")"),
            "{violation}"
        );
    }

    /// A phantom: a scan that missed a key committed before it in commit order.
    #[test]
    fn a_phantom_is_caught_and_own_writes_are_seen() {
        let scan = |found: Vec<(&str, &str)>| Step::Scan {
            space: 0,
            lo: b("a"),
            hi: b("z"),
            reverse: true,
            found: found.into_iter().map(|(k, v)| (b(k), b(v))).collect(),
        };
        let ok = vec![
            txn(1, vec![put("m", "1")]),
            txn(3, vec![put("q", "2"), scan(vec![("q", "2"), ("m", "1")])]),
        ];
        replay(ok).unwrap();
        let phantom = vec![
            txn(1, vec![put("m", "1")]),
            txn(2, vec![scan(vec![]), put("total", "0")]),
        ];
        assert_eq!(replay(phantom).unwrap_err().step, 0);
    }
}
