//! Block round trips, cursor movement, and hostile bytes.

use std::cmp::Ordering;

use bytes::Bytes;
use proptest::prelude::*;

use super::{Block, BlockBuilder, BlockIter};

fn bytewise(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

fn build(entries: &[(Vec<u8>, Vec<u8>)], restart_interval: usize) -> Block {
    let mut b = BlockBuilder::new(restart_interval);
    for (k, v) in entries {
        b.add(k, v);
    }
    Block::new(Bytes::from(b.finish())).unwrap()
}

fn entries(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("user:{:05}", i * 3).into_bytes(),
                format!("v{i}").into_bytes(),
            )
        })
        .collect()
}

fn collect_forward(it: &mut BlockIter) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    it.seek_to_first();
    while it.valid() {
        out.push((it.key().to_vec(), it.value_slice().to_vec()));
        it.next();
    }
    out
}

fn collect_backward(it: &mut BlockIter) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    it.seek_to_last();
    while it.valid() {
        out.push((it.key().to_vec(), it.value_slice().to_vec()));
        it.prev();
    }
    out.reverse();
    out
}

#[rstest::rstest]
fn round_trips_forward_and_backward(
    #[values(0, 1, 2, 15, 16, 17, 100)] n: usize,
    #[values(1, 2, 16)] interval: usize,
) {
    let want = entries(n);
    let block = build(&want, interval);
    let mut it = block.iter(bytewise);
    assert_eq!(collect_forward(&mut it), want);
    assert_eq!(collect_backward(&mut it), want);
    it.status().unwrap();
}

#[test]
fn prefix_compression_shrinks_shared_prefixes() {
    let want = entries(100);
    let raw: usize = want.iter().map(|(k, v)| k.len() + v.len()).sum();
    let block = build(&want, 16);
    assert!(block.size() < raw, "{} encoded vs {raw} raw", block.size());
}

#[test]
fn seek_finds_the_first_key_not_below_the_target() {
    let want = entries(50); // keys user:00000, user:00003, ...
    let block = build(&want, 4);
    let mut it = block.iter(bytewise);
    it.seek(b"user:00003");
    assert_eq!(it.key(), b"user:00003");
    it.seek(b"user:00004");
    assert_eq!(it.key(), b"user:00006");
    it.seek(b"a");
    assert_eq!(it.key(), b"user:00000");
    it.seek(b"user:00147");
    assert_eq!(it.key(), b"user:00147");
    it.seek(b"user:00148");
    assert!(!it.valid());
    it.status().unwrap();
    it.seek(b"user:00010");
    it.prev();
    assert_eq!(it.key(), b"user:00009");
}

#[test]
fn damaged_restart_arrays_are_rejected() {
    let good = {
        let mut b = BlockBuilder::new(2);
        for (k, v) in entries(10) {
            b.add(&k, &v);
        }
        b.finish()
    };
    assert!(Block::new(Bytes::from_static(&[1, 2])).is_err());
    let mut huge_count = good.clone();
    let n = huge_count.len();
    huge_count[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Block::new(Bytes::from(huge_count)).is_err());
    let mut zero = good.clone();
    zero[n - 4..].copy_from_slice(&0u32.to_le_bytes());
    assert!(Block::new(Bytes::from(zero)).is_err());
    let mut out_of_order = good;
    let second = n - 4 - 5 * 4 + 4;
    out_of_order[second..second + 4].copy_from_slice(&0u32.to_le_bytes());
    assert!(Block::new(Bytes::from(out_of_order.clone())).is_err());
    // `validated` trusts the array (its bytes passed `new` once) but still refuses a
    // length or count that cannot be, and reads a damaged array without panicking.
    assert!(Block::validated(Bytes::from_static(&[1, 2])).is_err());
    let trusted = Block::validated(Bytes::from(out_of_order)).unwrap();
    let _ = collect_forward(&mut trusted.iter(bytewise));
}

/// A block rebuilt with `validated` from a validated block's bytes, as a cache hit is,
/// reads exactly as the original.
#[test]
fn a_validated_block_reads_as_the_original() {
    let original = build(&entries(40), 4);
    let again = Block::validated(original.clone().into_bytes()).unwrap();
    let (mut a, mut b) = (original.iter(bytewise), again.iter(bytewise));
    assert_eq!(collect_forward(&mut a), collect_forward(&mut b));
    assert_eq!(collect_forward(&mut b).len(), 40);
}

proptest! {
    #[test]
    fn seeks_agree_with_a_sorted_model(
        keys in proptest::collection::btree_set(proptest::collection::vec(b'a'..b'f', 0..6), 0..80),
        targets in proptest::collection::vec(proptest::collection::vec(b'a'..b'g', 0..6), 1..20),
        interval in 1usize..20,
    ) {
        let want: Vec<(Vec<u8>, Vec<u8>)> = keys.iter().map(|k| (k.clone(), k.iter().rev().copied().collect())).collect();
        let block = build(&want, interval);
        let mut it = block.iter(bytewise);
        prop_assert_eq!(collect_forward(&mut it), want.clone());
        prop_assert_eq!(collect_backward(&mut it), want.clone());
        for t in &targets {
            it.seek(t);
            let expected = want.iter().find(|(k, _)| k >= t);
            match expected {
                Some((k, v)) => {
                    prop_assert!(it.valid());
                    prop_assert_eq!(it.key(), &k[..]);
                    prop_assert_eq!(it.value_slice(), &v[..]);
                }
                None => prop_assert!(!it.valid()),
            }
        }
    }

    /// Lengths on both sides of 128 take both ways through the entry decoder: three
    /// one-byte lengths read directly, or any of them a multi-byte varint.
    #[test]
    fn long_and_short_keys_and_values_round_trip(
        sizes in proptest::collection::vec((0usize..300, 0usize..300), 1..40),
        interval in 1usize..20,
    ) {
        let want: Vec<(Vec<u8>, Vec<u8>)> = sizes
            .iter()
            .enumerate()
            .map(|(i, &(k, v))| {
                let mut key = format!("{i:04}").into_bytes();
                key.resize(4 + k, b'k');
                (key, vec![(i % 251) as u8; v])
            })
            .collect();
        let block = build(&want, interval);
        let mut it = block.iter(bytewise);
        prop_assert_eq!(collect_forward(&mut it), want.clone());
        prop_assert_eq!(collect_backward(&mut it), want.clone());
        for (k, v) in &want {
            it.seek(k);
            prop_assert!(it.valid());
            prop_assert_eq!(it.key(), &k[..]);
            prop_assert_eq!(it.value_slice(), &v[..]);
        }
        it.status().unwrap();
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_cursors_terminate(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        target in proptest::collection::vec(any::<u8>(), 0..6),
    ) {
        if let Ok(block) = Block::new(Bytes::from(bytes)) {
            // Every entry takes at least three bytes, so no walk can take more steps.
            let max_entries = block.size() / 3 + 1;
            let mut it = block.iter(bytewise);
            let mut forward = 0;
            it.seek_to_first();
            while it.valid() && forward <= max_entries {
                it.next();
                forward += 1;
            }
            prop_assert!(forward <= max_entries);
            let mut backward = 0;
            it.seek_to_last();
            while it.valid() && backward <= max_entries {
                it.prev();
                backward += 1;
            }
            prop_assert!(backward <= max_entries);
            it.seek(&target);
            if it.valid() {
                let _ = (it.key(), it.value());
            }
        }
    }
}
