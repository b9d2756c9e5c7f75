//! `crates/ferris-core/src/lib.rs`, exercises 1, 2, 3 and 4.

use std::cmp::Ordering;

use ferris_core::coding::varint_len;
use ferris_core::key::compare_encoded;
use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_core::{InternalKey, ValueKind, WriteBatch};

#[test]
fn ex1_newest_version_sorts_first() {
    let mut encoded: Vec<Vec<u8>> = [1, 2, 3]
        .map(|seq| InternalKey::new(&b"k"[..], seq, ValueKind::Put).encode())
        .into();
    encoded.sort_by(|a, b| compare_encoded(a, b));
    let seqs: Vec<u64> = encoded
        .iter()
        .map(|e| InternalKey::decode(e).unwrap().seq())
        .collect();
    assert_eq!(seqs, [3, 2, 1]);
    // The trailer is little-endian, so plain byte order is not the order: it is the
    // trailer read as a number, descending.
    let (a, b) = (&encoded[0], &encoded[2]);
    assert_eq!(compare_encoded(a, b), Ordering::Less);
}

#[test]
fn ex2_a_batch_cut_short_is_an_error() {
    let mut batch = WriteBatch::new();
    batch.put("k", "v").delete("gone");
    let bytes = batch.as_bytes();
    assert!(WriteBatch::decode(bytes).is_ok());
    // The last entry's value length says one byte more than is left.
    let err = WriteBatch::decode(&bytes[..bytes.len() - 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "length runs past the end of the input (at byte 19)"
    );
}

#[test]
fn ex3_varint_lengths() {
    assert_eq!(varint_len(100), 1);
    assert_eq!(varint_len(1 << 20), 3);
    assert_eq!(varint_len(10), 1);
}

#[test]
fn ex4_fragments_and_one_search() {
    let t = Tombstones::new([
        RangeTombstone::new(&b"a"[..], Some((&b"m"[..]).into()), 5),
        RangeTombstone::new(&b"f"[..], Some((&b"z"[..]).into()), 9),
    ]);
    type Shown<'a> = (&'a [u8], Option<&'a [u8]>, Vec<u64>);
    let fragments: Vec<Shown<'_>> = t
        .fragments()
        .iter()
        .map(|f| (&f.start[..], f.end.as_deref(), f.seqs.clone()))
        .collect();
    assert_eq!(
        fragments,
        [
            (&b"a"[..], Some(&b"f"[..]), vec![5]),
            (&b"f"[..], Some(&b"m"[..]), vec![9, 5]),
            (&b"m"[..], Some(&b"z"[..]), vec![9]),
        ]
    );
    assert_eq!(t.covering(b"g", u64::MAX), Some(9));
    assert_eq!(t.covering(b"g", 7), Some(5));
}
