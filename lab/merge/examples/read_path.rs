//! A database's read path from your own parts: `cargo run -p lab-merge --example read_path`.
//!
//! Three of your memtables (stage 1) hold writes in turn, the first two frozen as a
//! database freezes a full one; your merging iterator (stage 3) makes them one sorted
//! sequence; and `ferris_core::iter::UserIter`, the reader `Db::iter` uses, turns that into
//! what a reader at a snapshot sees: each key's newest visible value, deleted keys hidden.
//! It prints the scan at a few snapshots beside what it should be. With the starters as
//! shipped, every scan is empty; `cargo xtask lab check merge` (its `read_path` check runs
//! this with FerrisDB's memtable under your merge) says why.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use ferris_core::iter::UserIter;
use ferris_core::{InternalIterator, Memtable, MemtableFactory, WriteBatch};
use lab_memtable::LabFactory;
use lab_merge::MergingIterator;

fn main() -> Result<(), ferris_core::Error> {
    // Sequence numbers 1 to 30 over five keys, every fourth write a delete, ten to a
    // memtable.
    let writes: Vec<(String, u64, Option<String>)> = (1..=30u64)
        .map(|seq| {
            let key = format!("key{}", seq * 3 % 5);
            (
                key.clone(),
                seq,
                (seq % 4 != 0).then(|| format!("{key}@{seq}")),
            )
        })
        .collect();
    let memtables: Vec<Arc<dyn Memtable>> = writes
        .chunks(10)
        .map(|chunk| {
            let memtable = LabFactory.create();
            for (key, seq, value) in chunk {
                let mut batch = WriteBatch::new();
                match value {
                    Some(value) => batch.put(key, value),
                    None => batch.delete(key),
                };
                batch.set_seq(*seq);
                memtable.apply(batch.iter());
            }
            memtable
        })
        .collect();
    for snapshot in [5, 15, 30] {
        let sources = memtables.clone();
        let make = Box::new(move || {
            let children: Vec<Box<dyn InternalIterator>> =
                sources.iter().map(|m| Arc::clone(m).iter()).collect();
            Box::new(MergingIterator::new(children)) as Box<dyn InternalIterator>
        });
        let scan = UserIter::new(make, snapshot, Bound::Unbounded, Bound::Unbounded)
            .map(|kv| kv.map(|(_, v)| String::from_utf8_lossy(&v).into_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut newest = BTreeMap::new();
        for (key, seq, value) in &writes {
            if *seq <= snapshot {
                newest.insert(key, value);
            }
        }
        let should: Vec<String> = newest.into_values().flatten().cloned().collect();
        let verdict = if scan == should { "ok" } else { "WRONG" };
        println!("at snapshot {snapshot:>2}: {scan:?}\n      should be: {should:?} {verdict}");
    }
    Ok(())
}
