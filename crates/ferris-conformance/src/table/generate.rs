//! The random tables the checks write, the options they are written with, and the
//! lookups and seeks that read them.

use std::collections::BTreeSet;

use bytes::Bytes;
use ferris_core::{InternalKey, MAX_SEQNO, SeqNo, ValueKind};
use ferris_table::{Compression, TableOptions};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::model::Model;

/// A user key to look up or seek to: one `model` holds, a near miss of one (a byte more
/// or less, which sorts right beside it), or an unrelated one.
pub(super) fn pick_user_key(model: &Model, rng: &mut SmallRng) -> Bytes {
    let entries = model.entries();
    let (key, _) = &entries[rng.random_range(0..entries.len())];
    let key = key.user_key();
    match rng.random_range(0..10) {
        0..6 => Bytes::copy_from_slice(key),
        6 => Bytes::from([key, &[0]].concat()),
        7 => Bytes::copy_from_slice(&key[..key.len().saturating_sub(1)]),
        _ => short_key(rng),
    }
}

/// A snapshot or sequence number to look up or seek at: near one `model` holds, or an
/// extreme.
pub(super) fn pick_seq(model: &Model, rng: &mut SmallRng) -> SeqNo {
    let entries = model.entries();
    let (key, _) = &entries[rng.random_range(0..entries.len())];
    match rng.random_range(0..10) {
        0..5 => key.seq(),
        5 => key.seq().saturating_add(1).min(MAX_SEQNO),
        6 => key.seq().saturating_sub(1),
        7 => 0,
        8 => MAX_SEQNO,
        _ => rng.random_range(0..=MAX_SEQNO),
    }
}

/// Lookups that cover a table of `model`: every user key at the newest snapshot and at
/// one of its own versions, the empty key, and `misses` keys it may not hold.
pub(super) fn probes(model: &Model, rng: &mut SmallRng, misses: usize) -> Vec<(Bytes, SeqNo)> {
    let mut probes = vec![(Bytes::new(), MAX_SEQNO)];
    for key in model.user_keys() {
        probes.push((key.clone(), MAX_SEQNO));
        probes.push((key, pick_seq(model, rng)));
    }
    for _ in 0..misses {
        probes.push((pick_user_key(model, rng), pick_seq(model, rng)));
    }
    probes
}

/// How big and how varied a generated table is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    /// Distinct user keys, at most; at least half as many.
    pub(super) keys: usize,
    /// Versions of one user key, at most.
    pub(super) versions: usize,
    /// Whether some user keys are a few KiB long.
    pub(super) long_keys: bool,
    /// The longest value. Values are mostly empty or short, one in ten up to this long.
    pub(super) max_value: usize,
}

/// Random entries of the given shape: user keys over a small alphabet (so they share
/// prefixes), the empty user key among them now and then; several versions of a key,
/// sequence numbers from 0 to [`MAX_SEQNO`]; a quarter tombstones (with empty values),
/// and some empty values among the puts.
pub(super) fn entries(rng: &mut SmallRng, shape: Shape) -> Model {
    let mut user_keys = BTreeSet::new();
    let n_keys = rng.random_range(shape.keys.div_ceil(2)..=shape.keys);
    while user_keys.len() < n_keys {
        let key = if shape.long_keys && rng.random_ratio(1, 10) {
            let mut key = short_key(rng).to_vec();
            key.resize(rng.random_range(1000..4000), b'x');
            Bytes::from(key)
        } else {
            short_key(rng)
        };
        user_keys.insert(key);
    }
    let mut entries = Vec::new();
    for user_key in user_keys {
        let n_versions = rng.random_range(1..=shape.versions);
        let mut versions = BTreeSet::new();
        while versions.len() < n_versions {
            let seq = match rng.random_range(0..20) {
                0 => 0,
                1 => MAX_SEQNO,
                _ => rng.random_range(0..200),
            };
            let kind = if rng.random_ratio(1, 4) {
                ValueKind::Delete
            } else {
                ValueKind::Put
            };
            versions.insert((seq, kind as u8));
        }
        for (seq, kind) in versions {
            let kind = ValueKind::from_u8(kind).expect("a kind's own tag");
            let value = match kind {
                ValueKind::Delete => Bytes::new(),
                ValueKind::Put => value(rng, shape.max_value),
            };
            entries.push((InternalKey::new(user_key.clone(), seq, kind), value));
        }
    }
    Model::new(entries)
}

/// A user key of up to 6 bytes over an alphabet that makes neighbours share prefixes,
/// with the bytes 0 and 255 to test the edges of the byte order.
fn short_key(rng: &mut SmallRng) -> Bytes {
    const ALPHABET: &[u8] = b"\x00ab\xff";
    let len = rng.random_range(0..=6);
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect::<Vec<u8>>()
        .into()
}

/// A value: often empty or short, one in ten up to `max` bytes long.
fn value(rng: &mut SmallRng, max: usize) -> Bytes {
    let len = match rng.random_range(0..20) {
        0..4 => 0,
        4 | 5 => rng.random_range(0..=max),
        _ => rng.random_range(0..=max.min(40)),
    };
    let fill = rng.random::<u8>();
    (0..len)
        .map(|i| fill.wrapping_add(i as u8))
        .collect::<Vec<u8>>()
        .into()
}

/// Table options as the engine might pass them: block sizes from one byte (a block per
/// entry) to the default, with and without a bloom filter and compression, which a
/// format is free to ignore.
pub(super) fn options(rng: &mut SmallRng) -> TableOptions {
    let mut options = TableOptions::default();
    options.block_size = [1, 64, 256, 1024, 4096][rng.random_range(0..5)];
    options.bloom_bits_per_key = [0, 10][rng.random_range(0..2)];
    options.compression = if rng.random_ratio(1, 3) {
        Compression::Zstd
    } else {
        Compression::None
    };
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random;

    #[test]
    fn generated_entries_are_sorted_and_distinct() {
        for seed in 0..20 {
            let mut rng = random::rng(seed);
            let shape = Shape {
                keys: 30,
                versions: 5,
                long_keys: true,
                max_value: 100,
            };
            let model = entries(&mut rng, shape);
            assert!(!model.entries().is_empty());
            assert!(
                model.entries().windows(2).all(|w| w[0].0 < w[1].0),
                "seed {seed}"
            );
        }
    }
}
