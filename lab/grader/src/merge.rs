//! Stage 3, the merging iterator: `lab_merge::MergingIterator`, or the reference
//! `ferris_core::iter::MergingIterator`.
//!
//! | check | from | what it demands |
//! |---|---|---|
//! | `yields_the_smallest_first` | the lab | two children, interleaved: one sorted sequence |
//! | `newest_version_first` | the lab | versions of one key in two children: the newest first |
//! | `turns_around` | the lab | a `prev` after `next`s goes back to the entry before |
//! | `a_failed_child_stops_the_merge` | the lab | a child that fails makes the merge invalid, with the child's error in `status` |
//! | `scans`, `seeks`, `random_walks` | `ferris_conformance::iterator` | the whole iterator contract, over the entries of each seed dealt to three children and an empty one |
//! | `read_path` | the lab | three memtables, merged by this merge and read through `ferris_core::iter::UserIter` at snapshots, as `Db::iter` reads a database: each scan yields the newest visible value of each key, deleted keys hidden |

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use ferris_conformance::iterator as suite;
use ferris_core::iter::{UserIter, VecIter};
use ferris_core::{
    Error, InternalIterator, InternalKey, InternalKeyRef, Memtable, MemtableFactory, SeqNo,
    ValueKind,
};

use crate::{Check, Failure, Subject, apply_each, caught, lab_failure};

/// A merge of `children`, by the subject's merging iterator.
pub fn merge_of(
    subject: Subject,
    children: Vec<Box<dyn InternalIterator>>,
) -> Box<dyn InternalIterator> {
    match subject {
        Subject::Lab => Box::new(lab_merge::MergingIterator::new(children)),
        Subject::Reference => Box::new(ferris_core::iter::MergingIterator::new(children)),
    }
}

/// The name a failure gives the merge.
fn name(subject: Subject) -> &'static str {
    match subject {
        Subject::Lab => "lab_merge::MergingIterator",
        Subject::Reference => "ferris_core::iter::MergingIterator",
    }
}

/// The iterator the suite walks: `entries` dealt in turn to three children, with an empty
/// fourth, merged.
fn dealt(subject: Subject, entries: Vec<(InternalKey, Bytes)>) -> Box<dyn InternalIterator> {
    let mut children = vec![Vec::new(), Vec::new(), Vec::new()];
    for (i, entry) in entries.into_iter().enumerate() {
        children[i % 3].push(entry);
    }
    let mut children: Vec<Box<dyn InternalIterator>> = children
        .into_iter()
        .map(|c| Box::new(VecIter::new(c)) as Box<dyn InternalIterator>)
        .collect();
    children.push(Box::new(VecIter::default()));
    merge_of(subject, children)
}

/// The stage's checks, in order.
pub const CHECKS: [Check; 8] = [
    Check {
        name: "yields_the_smallest_first",
        guarantee: "a merge yields every entry of every child as one sorted sequence: the \
                    smallest current key first",
        run: yields_the_smallest_first,
        seed: None,
    },
    Check {
        name: "newest_version_first",
        guarantee: "versions of one key held by different children come out newest first, as \
                    internal-key order says",
        run: newest_version_first,
        seed: None,
    },
    Check {
        name: "turns_around",
        guarantee: "prev after next goes back to the entry before, whichever child holds it",
        run: turns_around,
        seed: None,
    },
    Check {
        name: "a_failed_child_stops_the_merge",
        guarantee: "a child that fails stops the merge: it becomes invalid and status() returns \
                    the child's error, so no entry is skipped silently",
        run: a_failed_child_stops_the_merge,
        seed: None,
    },
    Check {
        name: "scans",
        guarantee: "a full scan forwards, then backwards, yields every entry once, in order",
        run: |s| suite::scans(name(s), &move |e| dealt(s, e)),
        seed: Some(|s, seed| suite::scans_seed(name(s), &move |e| dealt(s, e), seed)),
    },
    Check {
        name: "seeks",
        guarantee: "seek lands on the first entry at or after its target, seek_for_prev on the \
                    last at or before it, and steps both ways follow",
        run: |s| suite::seeks(name(s), &move |e| dealt(s, e)),
        seed: Some(|s, seed| suite::seeks_seed(name(s), &move |e| dealt(s, e), seed)),
    },
    Check {
        name: "random_walks",
        guarantee: "any sequence of seeks and steps agrees with a sorted list of the entries",
        run: |s| suite::random_walks(name(s), &move |e| dealt(s, e)),
        seed: Some(|s, seed| suite::random_walks_seed(name(s), &move |e| dealt(s, e), seed)),
    },
    Check {
        name: "read_path",
        guarantee: "in a database's read path (memtables merged, read through UserIter at a \
                    snapshot, as Db::iter reads), a scan yields each key's newest visible value \
                    and hides deleted keys",
        run: read_path,
        seed: None,
    },
];

/// A child over `keys`, each a put at `seq` with the key as its value.
fn child(keys: &[(&str, SeqNo)]) -> Box<dyn InternalIterator> {
    let entries = keys
        .iter()
        .map(|(k, seq)| {
            (
                InternalKey::new(k.as_bytes().to_vec(), *seq, ValueKind::Put),
                Bytes::copy_from_slice(k.as_bytes()),
            )
        })
        .collect();
    Box::new(VecIter::new(entries))
}

/// The keys a forward scan from the first entry yields (at most 20).
fn scan(it: &mut dyn InternalIterator) -> Vec<String> {
    let mut keys = Vec::new();
    it.seek_to_first();
    while it.valid() && keys.len() < 20 {
        keys.push(format!("{:?}", it.key()));
        it.next();
    }
    keys
}

/// A forward scan of a merge of `children` must yield `want`.
fn scan_case(
    subject: Subject,
    check: &'static str,
    case: &'static str,
    children: Vec<Box<dyn InternalIterator>>,
    want: &[&str],
    wrong: &str,
) -> Result<(), Failure> {
    caught(name(subject), check, case, || {
        let got = scan(&mut *merge_of(subject, children));
        if got == want {
            return Ok(());
        }
        let detail = if got.is_empty() {
            "a scan from seek_to_first yielded nothing: the merge is never on an entry \
             (valid() must say true while any child is on one)"
                .to_string()
        } else {
            wrong.to_string()
        };
        Err(lab_failure(name(subject), check, case, detail)
            .with_answers(format!("{got:?}"), format!("{want:?}")))
    })
}

fn yields_the_smallest_first(subject: Subject) -> Result<(), Failure> {
    scan_case(
        subject,
        "yields_the_smallest_first",
        "children [a, c] and [b]",
        vec![child(&[("a", 1), ("c", 1)]), child(&[("b", 1)])],
        &["a@1:Put", "b@1:Put", "c@1:Put"],
        "the merge yielded the children's entries out of order: at each step the child with \
         the smallest current key goes next",
    )
}

fn newest_version_first(subject: Subject) -> Result<(), Failure> {
    scan_case(
        subject,
        "newest_version_first",
        "children [k@3] and [k@7]",
        vec![child(&[("k", 3)]), child(&[("k", 7)])],
        &["k@7:Put", "k@3:Put"],
        "the versions of k came out oldest first, or one went missing: in internal-key order \
         a higher sequence number sorts first, so a reader meets the newest version first",
    )
}

fn turns_around(subject: Subject) -> Result<(), Failure> {
    const CHECK: &str = "turns_around";
    const CASE: &str = "children [a, c] and [b, d]: seek_to_first, next, next, prev";
    caught(name(subject), CHECK, CASE, || {
        let mut it = merge_of(
            subject,
            vec![child(&[("a", 1), ("c", 1)]), child(&[("b", 1), ("d", 1)])],
        );
        it.seek_to_first();
        let mut at = Vec::new();
        for step in 0..3 {
            if !it.valid() {
                break;
            }
            match step {
                0 | 1 => it.next(),
                _ => it.prev(),
            }
            at.push(if it.valid() {
                format!("{:?}", it.key())
            } else {
                "off the end".into()
            });
        }
        let want = ["b@1:Put", "c@1:Put", "b@1:Put"];
        if at == want {
            return Ok(());
        }
        let detail = if at.len() == 3 && at[..2] == want[..2] {
            "prev after next, next did not go back to b: turning around, every child but the \
             current one must be moved to its entry just before the current key (b's child is \
             past it, on d)"
        } else {
            "the steps before turning around already went wrong: next must go to the next \
             smallest key of any child"
        };
        Err(lab_failure(name(subject), CHECK, CASE, detail)
            .with_answers(format!("{at:?}"), format!("{want:?}")))
    })
}

/// A child whose source failed: never on an entry, its error in `status`.
struct FailedChild;

impl InternalIterator for FailedChild {
    fn valid(&self) -> bool {
        false
    }
    fn key(&self) -> InternalKeyRef<'_> {
        InternalKeyRef {
            user_key: &[],
            seq: 0,
            kind: ValueKind::Put,
        }
    }
    fn value(&self) -> Bytes {
        Bytes::new()
    }
    fn seek_to_first(&mut self) {}
    fn seek_to_last(&mut self) {}
    fn seek(&mut self, _: InternalKeyRef<'_>) {}
    fn seek_for_prev(&mut self, _: InternalKeyRef<'_>) {}
    fn next(&mut self) {}
    fn prev(&mut self) {}
    fn status(&self) -> ferris_core::Result<()> {
        Err(Error::corruption(
            "/db/000007.sst",
            4096,
            "checksum mismatch (a child failed on purpose)",
        ))
    }
}

fn a_failed_child_stops_the_merge(subject: Subject) -> Result<(), Failure> {
    const CHECK: &str = "a_failed_child_stops_the_merge";
    const CASE: &str = "children [a, b] and one whose table is damaged: seek_to_first";
    caught(name(subject), CHECK, CASE, || {
        let mut it = merge_of(
            subject,
            vec![child(&[("a", 1), ("b", 1)]), Box::new(FailedChild)],
        );
        it.seek_to_first();
        let (valid, status) = (it.valid(), it.status());
        let got = match (valid, &status) {
            (true, _) => format!("on {:?}, status {status:?}", it.key()),
            (false, _) => format!("invalid, status {status:?}"),
        };
        let detail = match (valid, status.is_err()) {
            (false, true) => return Ok(()),
            (true, _) => {
                "a child failed, and the merge went on without it: a failed child must stop the \
                 merge (invalid, its error in status()), or the entries behind the damage are \
                 skipped silently and a scan returns a wrong answer as if it were right"
            }
            (false, false) => {
                "a child failed, and the merge stopped but reports no error: status() must return \
                 the child's error, or the end of a damaged scan looks like the end of the data"
            }
        };
        Err(lab_failure(name(subject), CHECK, CASE, detail)
            .with_answers(got, "invalid, status Err(corruption in /db/000007.sst)"))
    })
}

/// The writes of [`read_path`]: sequence numbers 1 to 60 over 12 keys, every fifth a
/// delete, in three memtables of 20 writes each (the first two frozen, as a database holds
/// them before a flush).
fn read_path_writes() -> Vec<(String, SeqNo, Option<String>)> {
    (1..=60u64)
        .map(|seq| {
            let key = format!("k{:02}", (seq * 7) % 12);
            let value = (seq % 5 != 0).then(|| format!("{key} at {seq}"));
            (key, seq, value)
        })
        .collect()
}

fn read_path(subject: Subject) -> Result<(), Failure> {
    const CHECK: &str = "read_path";
    const CASE: &str =
        "60 writes over 12 keys in three memtables, scanned at snapshots 0, 10, 20, 35 and 60";
    caught(name(subject), CHECK, CASE, || {
        let writes = read_path_writes();
        let mems: Vec<Arc<dyn Memtable>> = writes
            .chunks(20)
            .map(|chunk| {
                let memtable = ferris_memtable::BTreeFactory.create();
                apply_each(&*memtable, chunk);
                memtable
            })
            .collect();
        for snapshot in [0, 10, 20, 35, 60] {
            let mut want = std::collections::BTreeMap::new();
            for (key, seq, value) in &writes {
                if *seq <= snapshot {
                    want.insert(key.clone(), value.clone());
                }
            }
            let want: Vec<(String, String)> = want
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            let sources = mems.clone();
            let make = Box::new(move || {
                merge_of(
                    subject,
                    sources.iter().map(|m| Arc::clone(m).iter()).collect(),
                )
            });
            let got: Vec<(String, String)> =
                UserIter::new(make, snapshot, Bound::Unbounded, Bound::Unbounded)
                    .take(want.len() + 1)
                    .map(|kv| {
                        kv.map(|(k, v)| {
                            (
                                String::from_utf8_lossy(&k).into_owned(),
                                String::from_utf8_lossy(&v).into_owned(),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|e| {
                        lab_failure(
                            name(subject),
                            CHECK,
                            CASE,
                            format!("a scan at snapshot {snapshot} failed: {e}"),
                        )
                    })?;
            if got != want {
                let at = got.iter().zip(&want).take_while(|(g, w)| g == w).count();
                let show = |kv: Option<&(String, String)>| {
                    kv.map_or("the end of the scan".to_string(), |(k, v)| {
                        format!("{k} = {v}")
                    })
                };
                return Err(lab_failure(
                    name(subject),
                    CHECK,
                    CASE,
                    format!(
                        "a scan at snapshot {snapshot} (your merge under UserIter, as Db::iter \
                         reads) went wrong at its entry {at}: UserIter keeps the first version \
                         of each key it meets, so the merge must put the newest first"
                    ),
                )
                .with_answers(show(got.get(at)), show(want.get(at))));
            }
        }
        Ok(())
    })
}
