//! An operation-sequence fuzzer: the input is decoded into puts, deletes, batches,
//! flushes, compactions, point reads, scans both ways, reopens and power cuts, run on a
//! `Db` over `SimFs`; every read is checked against a `BTreeMap`. Every write is synced
//! (the default), so even after a power cut the database must match the model exactly.
//!
//! Each byte of the input picks an operation, and the bytes after it its arguments (a
//! short input simply ends the sequence). Keys come from a small set, so operations
//! collide; values carry a counter and some are long, so memtables fill and flush on their
//! own.
#![no_main]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use ferris_engine::{Db, Options, WriteBatch};
use ferris_fs::{FileSystem, SimFs};
use libfuzzer_sys::fuzz_target;

const DIR: &str = "/db";
/// Operations per input, so one execution stays short.
const MAX_OPS: usize = 64;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn options(sim: &SimFs) -> Options {
    let mut options = Options::default();
    options.file_system = Arc::new(sim.clone()) as Arc<dyn FileSystem>;
    options.write_buffer_size = 4 << 10;
    options.block_size = 256;
    options.block_cache_size = 64 << 10;
    options.max_manifest_size = 2 << 10;
    options.idle_after = None;
    options
}

fn key(b: u8) -> Vec<u8> {
    format!("k{:02}", b % 48).into_bytes()
}

fn value(counter: u32, b: u8) -> Vec<u8> {
    format!("{counter}-{}", "v".repeat(usize::from(b % 8) * 50)).into_bytes()
}

/// The input, read a byte at a time; zeros once it runs out.
struct Input<'a>(std::slice::Iter<'a, u8>);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        self.0.next().copied().unwrap_or(0)
    }
}

fn bound(b: u8, k: u8) -> Bound<Vec<u8>> {
    match b % 3 {
        0 => Bound::Unbounded,
        1 => Bound::Included(key(k)),
        _ => Bound::Excluded(key(k)),
    }
}

fn check_scan(db: &Db, model: &Model, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>, reverse: bool) {
    // BTreeMap::range panics on an empty or inverted range; the engine yields nothing.
    let empty = match (&lo, &hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    };
    let mut expected: Vec<(Vec<u8>, Vec<u8>)> = if empty {
        Vec::new()
    } else {
        let range = model.range((lo.clone(), hi.clone()));
        range.map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let iter = db.range((lo, hi)).unwrap();
    let got: Vec<(Vec<u8>, Vec<u8>)> = if reverse {
        expected.reverse();
        iter.rev()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect()
    } else {
        iter.map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect()
    };
    assert_eq!(got, expected, "scan (reverse: {reverse})");
}

fuzz_target!(|data: &[u8]| {
    let sim = SimFs::new(u64::from(data.first().copied().unwrap_or(0)));
    let mut db = Some(Db::open(DIR, options(&sim)).unwrap());
    let mut model = Model::new();
    let mut counter = 0u32;
    let mut input = Input(data.iter());
    for _ in 0..MAX_OPS {
        if input.0.len() == 0 {
            break;
        }
        let d = db.as_ref().unwrap();
        counter += 1;
        match input.byte() % 16 {
            0..=4 => {
                let (k, v) = (key(input.byte()), value(counter, input.byte()));
                d.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            5 | 6 => {
                let k = key(input.byte());
                d.delete(&k).unwrap();
                model.remove(&k);
            }
            7 => {
                let mut batch = WriteBatch::new();
                let mut applied = model.clone();
                for _ in 0..1 + input.byte() % 8 {
                    let (b, k) = (input.byte(), key(input.byte()));
                    if b % 3 == 0 {
                        batch.delete(&k);
                        applied.remove(&k);
                    } else {
                        let v = value(counter, b);
                        batch.put(&k, &v);
                        applied.insert(k, v);
                    }
                }
                d.write(batch).unwrap();
                model = applied;
            }
            8 => d.flush().unwrap(),
            9 => d.compact().unwrap(),
            10 | 11 => {
                let k = key(input.byte());
                let got = d.get(&k).unwrap().map(|v| v.to_vec());
                assert_eq!(
                    got.as_ref(),
                    model.get(&k),
                    "get {:?}",
                    String::from_utf8_lossy(&k)
                );
            }
            12 | 13 => {
                let (a, ka, b, kb, r) = (
                    input.byte(),
                    input.byte(),
                    input.byte(),
                    input.byte(),
                    input.byte(),
                );
                check_scan(d, &model, bound(a, ka), bound(b, kb), r % 2 == 1);
            }
            14 => {
                drop(db.take());
                db = Some(Db::open(DIR, options(&sim)).unwrap());
            }
            _ => {
                // A power cut while the database runs: every write was synced, so all of
                // them survive. Background work may fail against the dead handles; the
                // reopen sorts it out.
                sim.crash();
                drop(db.take());
                db = Some(Db::open(DIR, options(&sim)).unwrap());
            }
        }
    }
    let d = db.as_ref().unwrap();
    check_scan(d, &model, Bound::Unbounded, Bound::Unbounded, false);
    check_scan(d, &model, Bound::Unbounded, Bound::Unbounded, true);
});
