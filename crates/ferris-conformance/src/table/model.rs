//! The model a table is judged against, and the random entries and options it is built
//! from.

use std::collections::BTreeSet;

use bytes::Bytes;
use ferris_core::iter::VecIter;
use ferris_core::{InternalKey, Lookup, MAX_SEQNO, SeqNo, ValueKind};
use ferris_table::{Compression, TableOptions};
use rand::Rng;
use rand::rngs::SmallRng;

use super::harness::Entry;

/// The entries written, sorted: what every read of the table must agree with.
pub(super) struct Model {
    entries: Vec<Entry>,
}

impl Model {
    /// The model of a table holding `entries` (in any order; each internal key once).
    pub(super) fn new(entries: Vec<Entry>) -> Model {
        Model {
            entries: VecIter::new(entries).entries().to_vec(),
        }
    }

    /// The entries, in internal-key order: the order a builder takes them in.
    pub(super) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// An iterator over the entries: the reference every table iterator is walked
    /// against.
    pub(super) fn iter(&self) -> VecIter {
        VecIter::new(self.entries.clone())
    }

    /// The newest version of `user_key` at or below `snapshot`: the first entry at or
    /// after the seek key `(user_key, snapshot)`, if it has that user key.
    pub(super) fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        let target = InternalKey::seek_key(Bytes::copy_from_slice(user_key), snapshot);
        let at = self.entries.partition_point(|(k, _)| *k < target);
        let (key, value) = self.entries.get(at)?;
        (key.user_key() == user_key).then(|| match key.kind() {
            ValueKind::Put => Lookup::Value(value.clone()),
            ValueKind::Delete => Lookup::Deleted,
        })
    }

    /// The distinct user keys.
    pub(super) fn user_keys(&self) -> Vec<Bytes> {
        let mut keys: Vec<Bytes> = self
            .entries
            .iter()
            .map(|(k, _)| k.user_key_bytes().clone())
            .collect();
        keys.dedup();
        keys
    }

    /// A user key to look up or seek to: one the table holds, a near miss of one (a byte
    /// more or less, which sorts right beside it), or an unrelated one.
    pub(super) fn pick_user_key(&self, rng: &mut SmallRng) -> Bytes {
        let (key, _) = &self.entries[rng.random_range(0..self.entries.len())];
        let key = key.user_key();
        match rng.random_range(0..10) {
            0..6 => Bytes::copy_from_slice(key),
            6 => Bytes::from([key, &[0]].concat()),
            7 => Bytes::copy_from_slice(&key[..key.len().saturating_sub(1)]),
            _ => short_key(rng),
        }
    }

    /// A snapshot or sequence number to look up or seek at: near one the table holds,
    /// or an extreme.
    pub(super) fn pick_seq(&self, rng: &mut SmallRng) -> SeqNo {
        let (key, _) = &self.entries[rng.random_range(0..self.entries.len())];
        match rng.random_range(0..10) {
            0..5 => key.seq(),
            5 => key.seq().saturating_add(1).min(MAX_SEQNO),
            6 => key.seq().saturating_sub(1),
            7 => 0,
            8 => MAX_SEQNO,
            _ => rng.random_range(0..=MAX_SEQNO),
        }
    }

    /// Lookups that cover the table: every user key at the newest snapshot and at one of
    /// its own versions, the empty key, and `misses` keys it may not hold.
    pub(super) fn probes(&self, rng: &mut SmallRng, misses: usize) -> Vec<(Bytes, SeqNo)> {
        let mut probes = vec![(Bytes::new(), MAX_SEQNO)];
        for key in self.user_keys() {
            probes.push((key.clone(), MAX_SEQNO));
            probes.push((key, self.pick_seq(rng)));
        }
        for _ in 0..misses {
            probes.push((self.pick_user_key(rng), self.pick_seq(rng)));
        }
        probes
    }
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
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn the_model_answers_lookups_at_snapshots() {
        let put = |k: &str, seq, v: &str| {
            (
                InternalKey::new(Bytes::from(k.to_owned()), seq, ValueKind::Put),
                Bytes::from(v.to_owned()),
            )
        };
        let del = |k: &str, seq| {
            (
                InternalKey::new(Bytes::from(k.to_owned()), seq, ValueKind::Delete),
                Bytes::new(),
            )
        };
        let model = Model::new(vec![
            put("a", 5, "new"),
            put("a", 2, "old"),
            del("a", 7),
            put("b", 1, "b"),
        ]);
        assert_eq!(model.get(b"a", 1), None);
        assert_eq!(model.get(b"a", 2), Some(Lookup::Value("old".into())));
        assert_eq!(model.get(b"a", 6), Some(Lookup::Value("new".into())));
        assert_eq!(model.get(b"a", 7), Some(Lookup::Deleted));
        assert_eq!(model.get(b"b", MAX_SEQNO), Some(Lookup::Value("b".into())));
        assert_eq!(model.get(b"c", MAX_SEQNO), None);
        assert_eq!(model.get(b"", MAX_SEQNO), None);
    }

    #[test]
    fn generated_entries_are_sorted_and_distinct() {
        for seed in 0..20 {
            let mut rng = SmallRng::seed_from_u64(seed);
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
