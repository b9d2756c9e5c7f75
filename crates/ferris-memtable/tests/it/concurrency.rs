//! Writers and readers at once: every insert lands, every scan is sorted, and reads bounded
//! by a completed sequence number see exactly the writes up to it.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use ferris_core::{InternalKey, ValueKind};
use ferris_memtable::{Lookup, SkipListMemtable};

const WRITERS: u64 = 4;
const PER_WRITER: u64 = 5_000;

fn key(i: u64) -> Bytes {
    Bytes::from(format!("key{:05}", i % 1_000))
}

#[test]
fn concurrent_writers_and_readers() {
    let table = SkipListMemtable::new();
    // Writer w inserts sequence numbers w, w + WRITERS, w + 2 WRITERS, ...
    let done = AtomicU64::new(0);
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let table = &table;
            let done = &done;
            s.spawn(move || {
                for n in 0..PER_WRITER {
                    let seq = 1 + w + n * WRITERS;
                    let kind = if seq.is_multiple_of(7) {
                        ValueKind::Delete
                    } else {
                        ValueKind::Put
                    };
                    table.insert(key(seq), seq, kind, Bytes::from(seq.to_le_bytes().to_vec()));
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        for _ in 0..2 {
            let (table, done) = (&table, &done);
            s.spawn(move || {
                while done.load(Ordering::SeqCst) < WRITERS {
                    // Every scan, forward or backward, is in internal-key order.
                    let forward: Vec<InternalKey> = table.iter().map(|(k, _)| k).collect();
                    assert!(
                        forward.windows(2).all(|w| w[0] < w[1]),
                        "forward scan out of order"
                    );
                    let backward: Vec<InternalKey> =
                        table.iter().rev().take(500).map(|(k, _)| k).collect();
                    assert!(
                        backward.windows(2).all(|w| w[0] > w[1]),
                        "reverse scan out of order"
                    );
                    // Any value a lookup returns is one that was written for that key.
                    if let Some(Lookup::Value(v)) = table.get(&key(42), u64::MAX >> 8) {
                        let seq = u64::from_le_bytes(v[..].try_into().unwrap());
                        assert_eq!(seq % 1_000, 42);
                    }
                }
            });
        }
    });

    let total = WRITERS * PER_WRITER;
    assert_eq!(table.len() as u64, total);
    assert_eq!(table.iter().count() as u64, total);
    assert_eq!(table.seq_range(), Some((1, total)));
    // After all writes, each key's newest version is the largest seq with that key.
    for k in 0..1_000u64 {
        let newest = (0..=total)
            .rev()
            .find(|s| s % 1_000 == k && *s >= 1)
            .unwrap();
        let expected = if newest.is_multiple_of(7) {
            Lookup::Deleted
        } else {
            Lookup::Value(Bytes::from(newest.to_le_bytes().to_vec()))
        };
        assert_eq!(table.get(&key(k), u64::MAX >> 8), Some(expected), "key {k}");
    }
}

#[test]
fn many_versions_of_one_key_are_all_kept_and_each_is_reachable() {
    let table = SkipListMemtable::new();
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let table = &table;
            s.spawn(move || {
                for n in 0..2_000u64 {
                    let seq = 1 + w + 2 * n;
                    table.insert(
                        &b"hot"[..],
                        seq,
                        ValueKind::Put,
                        Bytes::from(seq.to_string()),
                    );
                }
            });
        }
    });
    assert_eq!(table.range(&b"hot"[..]..=&b"hot"[..]).count(), 4_000);
    for snapshot in [1u64, 2, 777, 3_999, 4_000] {
        assert_eq!(
            table.get(b"hot", snapshot),
            Some(Lookup::Value(Bytes::from(snapshot.to_string())))
        );
    }
}
