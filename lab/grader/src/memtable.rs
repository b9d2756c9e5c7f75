//! Stage 1, the memtable: `lab_memtable::LabFactory`, or the reference
//! `ferris_memtable::BTreeFactory`.
//!
//! | check | from | what it demands |
//! |---|---|---|
//! | `holds_a_write` | the lab | a put is found by `get`, and counted by `len` |
//! | `reads_at_a_snapshot` | the lab | two versions of a key: each reader sees the newest at or below its snapshot, nothing newer |
//! | `tombstones_are_answers` | the lab | a delete answers `Deleted`, not `None`; a reader before it still sees the value |
//! | `scans_in_order` | the lab | the iterator yields every version, user keys ascending, newest version first |
//! | `against_model`, `range_deletes`, `iterators_across_applies`, `concurrent_readers` | `ferris_conformance::memtable` | the whole contract, on random batches from seeds, and on real threads |
//! | `in_the_engine` | the lab | a `ferris_engine::Db` on a simulated disk, with this memtable in `Options::memtable`: reads at snapshots, a flush, a power cut, and the log replayed into a new memtable on reopen |

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferris_conformance::memtable as suite;
use ferris_core::{Lookup, Memtable, MemtableFactory, SeqNo};
use ferris_engine::{Db, Options};
use ferris_fs::{FileSystem, SimFs};

use crate::{Check, Failure, Subject, apply_each, caught, lab_failure};

/// The factory graded for `subject`.
pub fn factory(subject: Subject) -> Arc<dyn MemtableFactory> {
    match subject {
        Subject::Lab => Arc::new(lab_memtable::LabFactory),
        Subject::Reference => Arc::new(ferris_memtable::BTreeFactory),
    }
}

/// The stage's checks, in order.
pub const CHECKS: [Check; 9] = [
    Check {
        name: "holds_a_write",
        guarantee: "what was written is there: a put is found by get, and counted by len",
        run: |s| holds_a_write(&*factory(s)),
        seed: None,
    },
    Check {
        name: "reads_at_a_snapshot",
        guarantee: "a reader at snapshot S sees the newest version written at or below S, and \
                    nothing written after S",
        run: |s| reads_at_a_snapshot(&*factory(s)),
        seed: None,
    },
    Check {
        name: "tombstones_are_answers",
        guarantee: "a delete is a version too: get answers Deleted for it (an answer, not None), \
                    and a reader from before the delete still sees the value",
        run: |s| tombstones_are_answers(&*factory(s)),
        seed: None,
    },
    Check {
        name: "scans_in_order",
        guarantee: "iter() yields every version in internal-key order: user keys ascending, then \
                    the newest version first",
        run: |s| scans_in_order(&*factory(s)),
        seed: None,
    },
    Check {
        name: "against_model",
        guarantee: "lookups at every snapshot, len, approximate_size and every walk of the \
                    iterator agree with a sorted list of every write",
        run: |s| suite::against_model(&*factory(s)),
        seed: Some(|s, seed| suite::against_model_seed(&*factory(s), seed)),
    },
    Check {
        name: "range_deletes",
        guarantee: "a range delete hides every older version under it from readers at or after \
                    it, is counted by len, and comes back from range_tombstones()",
        run: |s| suite::range_deletes(&*factory(s)),
        seed: Some(|s, seed| suite::range_deletes_seed(&*factory(s), seed)),
    },
    Check {
        name: "iterators_across_applies",
        guarantee: "an iterator stays sound while more batches are applied: it yields only real \
                    entries, in order, and misses none that were there when it began",
        run: |s| suite::iterators_across_applies(&*factory(s)),
        seed: Some(|s, seed| suite::iterators_across_applies_seed(&*factory(s), seed)),
    },
    Check {
        name: "concurrent_readers",
        guarantee: "readers on other threads, while a writer applies batches, see every write \
                    up to their snapshot, whole",
        run: |s| suite::concurrent_readers(&*factory(s)),
        seed: Some(|s, seed| suite::concurrent_readers_seed(&*factory(s), seed)),
    },
    Check {
        name: "in_the_engine",
        guarantee: "in a real database (Options::memtable), through writes, snapshots, a flush, \
                    a power cut and recovery, every read answers as the writes say",
        run: |s| in_the_engine(factory(s)),
        seed: None,
    },
];

/// A memtable from `factory`, with one batch applied per `(key, seq, value)`
/// (`None`: a delete).
fn memtable_with(
    factory: &dyn MemtableFactory,
    writes: &[(&str, SeqNo, Option<&str>)],
) -> Arc<dyn Memtable> {
    let memtable = factory.create();
    apply_each(&*memtable, writes);
    memtable
}

/// A lookup's answer in a few words.
fn show(lookup: &Option<Lookup>) -> String {
    match lookup {
        None => "None".into(),
        Some(Lookup::Deleted) => "Deleted".into(),
        Some(Lookup::Value(v)) => format!("Value(b\"{}\")", v.escape_ascii()),
    }
}

/// The check `holds_a_write` of memtables from `factory`.
///
/// # Errors
///
/// A [`Failure`] saying which answer was wrong.
pub fn holds_a_write(factory: &dyn MemtableFactory) -> Result<(), Failure> {
    const CASE: &str = "apple = red, put at 1";
    let name = format!("{factory:?}");
    caught(&name, "holds_a_write", CASE, || {
        let memtable = memtable_with(factory, &[("apple", 1, Some("red"))]);
        let got = memtable.get(b"apple", 1);
        let want = Some(Lookup::Value(Bytes::from_static(b"red")));
        if got != want {
            return Err(lab_failure(
                &name,
                "holds_a_write",
                CASE,
                "get(b\"apple\", 1) did not find the put made at 1: a memtable must answer for \
                 what it was given",
            )
            .with_answers(show(&got), show(&want)));
        }
        let len = memtable.len();
        if len != 1 {
            return Err(lab_failure(
                &name,
                "holds_a_write",
                CASE,
                "len() after one put is not 1: len counts the versions held",
            )
            .with_answers(len.to_string(), "1"));
        }
        Ok(())
    })
}

/// The check `reads_at_a_snapshot`: `k` written at 5 and at 9, read at snapshots 7, 5,
/// 9, 12 and 4.
///
/// # Errors
///
/// A [`Failure`] naming the snapshot and the write the reader saw, or missed.
pub fn reads_at_a_snapshot(factory: &dyn MemtableFactory) -> Result<(), Failure> {
    const CASE: &str = "k written at 5 and at 9";
    let name = format!("{factory:?}");
    caught(&name, "reads_at_a_snapshot", CASE, || {
        let memtable = memtable_with(
            factory,
            &[
                ("k", 5, Some("written at 5")),
                ("k", 9, Some("written at 9")),
            ],
        );
        // Each snapshot, and the write it must see.
        // Between the writes first: the reader a memtable that ignores snapshots fails.
        for (snapshot, sees) in [
            (7, Some(5)),
            (5, Some(5)),
            (9, Some(9)),
            (12, Some(9)),
            (4, None),
        ] {
            let got = memtable.get(b"k", snapshot);
            let want = sees.map(|s| Lookup::Value(Bytes::from(format!("written at {s}"))));
            if got == want {
                continue;
            }
            let saw = match &got {
                Some(Lookup::Value(v)) => std::str::from_utf8(v)
                    .ok()
                    .and_then(|v| v.strip_prefix("written at "))
                    .and_then(|s| s.parse::<SeqNo>().ok()),
                _ => None,
            };
            let detail = match (saw, sees) {
                (Some(made), _) if made > snapshot => format!(
                    "a reader at snapshot {snapshot} saw a write made at {made}: reads must not \
                     see the future"
                ),
                (Some(made), Some(newest)) => format!(
                    "a reader at snapshot {snapshot} saw the write made at {made}, though the one \
                     made at {newest} is newer and visible: the newest version at or below the \
                     snapshot decides"
                ),
                (_, Some(newest)) => format!(
                    "a reader at snapshot {snapshot} did not see the write made at {newest}: a \
                     reader sees every write at or below its snapshot, and a memtable keeps \
                     every version (a put does not replace the one before)"
                ),
                (_, None) => format!(
                    "a reader at snapshot {snapshot}, before any write of k, found something: \
                     reads must not see the future"
                ),
            };
            return Err(lab_failure(
                &name,
                "reads_at_a_snapshot",
                CASE,
                format!("{detail}: get(b\"k\", {snapshot})"),
            )
            .with_answers(show(&got), show(&want)));
        }
        let len = memtable.len();
        if len != 2 {
            return Err(lab_failure(
                &name,
                "reads_at_a_snapshot",
                CASE,
                "len() after two writes of the same key is not 2: a memtable keeps every \
                 version, it does not overwrite",
            )
            .with_answers(len.to_string(), "2"));
        }
        Ok(())
    })
}

/// The check `tombstones_are_answers`: `k` put at 1 and deleted at 2.
///
/// # Errors
///
/// A [`Failure`] saying which read was wrong.
pub fn tombstones_are_answers(factory: &dyn MemtableFactory) -> Result<(), Failure> {
    const CASE: &str = "k put at 1, deleted at 2";
    let name = format!("{factory:?}");
    caught(&name, "tombstones_are_answers", CASE, || {
        let memtable = memtable_with(factory, &[("k", 1, Some("v")), ("k", 2, None)]);
        let after = memtable.get(b"k", 2);
        if after != Some(Lookup::Deleted) {
            let detail = if after.is_none() {
                "get(b\"k\", 2) after the delete at 2 answered None: a tombstone is an answer \
                 (Deleted); None would send the reader on to older tables, where the deleted \
                 value still lives"
            } else {
                "get(b\"k\", 2) after the delete at 2 still found the value: a delete is the \
                 newest version, and hides the older ones from readers at or after it"
            };
            return Err(lab_failure(&name, "tombstones_are_answers", CASE, detail)
                .with_answers(show(&after), "Deleted"));
        }
        let before = memtable.get(b"k", 1);
        let want = Some(Lookup::Value(Bytes::from_static(b"v")));
        if before != want {
            return Err(lab_failure(
                &name,
                "tombstones_are_answers",
                CASE,
                "get(b\"k\", 1), a reader from before the delete at 2, lost the value put at 1: a \
                 delete must not reach back before its own sequence number",
            )
            .with_answers(show(&before), show(&want)));
        }
        Ok(())
    })
}

/// The check `scans_in_order`: three versions of two keys, scanned.
///
/// # Errors
///
/// A [`Failure`] with the keys the scan yielded.
pub fn scans_in_order(factory: &dyn MemtableFactory) -> Result<(), Failure> {
    const CASE: &str = "b put at 1, a put at 2 and at 3";
    let name = format!("{factory:?}");
    caught(&name, "scans_in_order", CASE, || {
        let memtable = memtable_with(
            factory,
            &[
                ("b", 1, Some("b1")),
                ("a", 2, Some("a2")),
                ("a", 3, Some("a3")),
            ],
        );
        let mut it = Arc::clone(&memtable).iter();
        it.seek_to_first();
        let mut got = Vec::new();
        while it.valid() && got.len() < 10 {
            got.push(format!("{:?}", it.key()));
            it.next();
        }
        let want = ["a@3:Put", "a@2:Put", "b@1:Put"];
        if got == want {
            return Ok(());
        }
        let detail = if got.is_empty() {
            "a scan from seek_to_first yielded nothing: iter() must walk every version (is \
             valid() ever true?)"
        } else if got.len() == 2 && got.iter().any(|k| k.starts_with("b")) {
            "a scan lost a version of a: every version is kept, and yielded"
        } else {
            "a scan yielded the versions out of order: user keys ascend, and the versions of \
             one key come newest first (a@3 before a@2)"
        };
        Err(lab_failure(&name, "scans_in_order", CASE, detail)
            .with_answers(format!("{got:?}"), format!("{want:?}")))
    })
}

/// What [`in_the_engine`] does, step by step; each step names itself in a failure.
const ENGINE_CASE: &str = "a database on a simulated disk, synced writes";

/// The check `in_the_engine`: a `ferris_engine::Db` on a simulated disk with memtables
/// from `factory`, written, read at a snapshot, flushed, cut off by a power cut and
/// reopened.
///
/// # Errors
///
/// A [`Failure`] naming the step and the read that was wrong, or the engine's error.
pub fn in_the_engine(factory: Arc<dyn MemtableFactory>) -> Result<(), Failure> {
    let name = format!("{factory:?}");
    caught(&name, "in_the_engine", ENGINE_CASE, || {
        engine_steps(&factory).map_err(|(step, detail, answers)| {
            let failure = lab_failure(
                &name,
                "in_the_engine",
                ENGINE_CASE,
                format!("in a database with this memtable, {step}: {detail}"),
            );
            match answers {
                Some((got, want)) => failure.with_answers(got, want),
                None => failure,
            }
        })
    })
}

/// A failed step of [`in_the_engine`]: where, what, and the answers if it was one.
type StepError = (&'static str, String, Option<(String, String)>);

fn engine_steps(factory: &Arc<dyn MemtableFactory>) -> Result<(), StepError> {
    let sim = SimFs::new(0);
    let dir = Path::new("/db");
    let mut options = Options::default();
    options.file_system = Arc::new(sim.clone()) as Arc<dyn FileSystem>;
    options.memtable = Arc::clone(factory);
    options.sync_writes = true;
    options.idle_after = None;
    let engine = |step: &'static str| {
        move |e: ferris_engine::Error| (step, format!("the engine failed: {e}"), None)
    };
    let expect = |step: &'static str, key: &str, got: Option<Bytes>, want: Option<&str>| {
        let show = |v: Option<&[u8]>| {
            v.map_or("None".to_string(), |v| format!("b\"{}\"", v.escape_ascii()))
        };
        if got.as_deref() == want.map(str::as_bytes) {
            Ok(())
        } else {
            Err((
                step,
                format!("get(\"{key}\") answered wrongly"),
                Some((show(got.as_deref()), show(want.map(str::as_bytes)))),
            ))
        }
    };
    {
        let step = "writing and reading back";
        let db = Db::open(dir, options.clone()).map_err(engine(step))?;
        db.put("apple", "red").map_err(engine(step))?;
        let snapshot = db.snapshot().map_err(engine(step))?;
        db.put("apple", "green").map_err(engine(step))?;
        db.put("fig", "purple").map_err(engine(step))?;
        db.delete("fig").map_err(engine(step))?;
        expect(
            step,
            "apple",
            db.get("apple").map_err(engine(step))?,
            Some("green"),
        )?;
        expect(step, "fig", db.get("fig").map_err(engine(step))?, None)?;
        let step = "reading at a snapshot taken before the second write";
        expect(
            step,
            "apple",
            snapshot.get("apple").map_err(engine(step))?,
            Some("red"),
        )?;
        drop(snapshot);
        let step = "after a flush (your memtable's iterator, written to a table)";
        db.flush().map_err(engine(step))?;
        expect(
            step,
            "apple",
            db.get("apple").map_err(engine(step))?,
            Some("green"),
        )?;
        expect(step, "fig", db.get("fig").map_err(engine(step))?, None)?;
        let step = "writing after the flush, into a new memtable";
        db.put("pear", "yellow").map_err(engine(step))?;
        db.put("apple", "golden").map_err(engine(step))?;
        expect(
            step,
            "pear",
            db.get("pear").map_err(engine(step))?,
            Some("yellow"),
        )?;
        expect(
            step,
            "apple",
            db.get("apple").map_err(engine(step))?,
            Some("golden"),
        )?;
        let keys: Vec<Bytes> = db
            .iter()
            .map_err(engine(step))?
            .map(|kv| kv.map(|(k, _)| k))
            .collect::<Result<_, _>>()
            .map_err(engine("scanning"))?;
        let want = vec![Bytes::from_static(b"apple"), Bytes::from_static(b"pear")];
        if keys != want {
            return Err((
                "scanning the memtable and the table together",
                "db.iter() yielded the wrong keys".into(),
                Some((format!("{keys:?}"), format!("{want:?}"))),
            ));
        }
        // The power goes out with the database open: only the synced log survives.
        sim.crash();
        drop(db);
    }
    let step = "after a power cut, reopened (the log replayed into a new memtable)";
    let db = Db::open(dir, options).map_err(engine(step))?;
    expect(
        step,
        "pear",
        db.get("pear").map_err(engine(step))?,
        Some("yellow"),
    )?;
    expect(
        step,
        "apple",
        db.get("apple").map_err(engine(step))?,
        Some("golden"),
    )?;
    expect(step, "fig", db.get("fig").map_err(engine(step))?, None)?;
    Ok(())
}
