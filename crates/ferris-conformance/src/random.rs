//! Random keys, values and entries for the suites, each drawn from a seeded generator so
//! that a failure can be replayed.

use bytes::Bytes;
use ferris_core::{InternalKey, MAX_SEQNO, SeqNo, ValueKind};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::model::Model;

/// The generator behind every check: the same seed gives the same run.
pub(crate) fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

/// `n` distinct user keys, short and long, with shared prefixes.
///
/// Short keys are one to three bytes from `\x00`, `a`, `b` and `\xff`, so keys share
/// prefixes, one key is often a prefix of another, and the extreme bytes catch signed
/// comparisons. Long keys (a short key, then 28 to 70 bytes) cross the length at which a
/// memtable might stop storing a key inline. No key is empty: the engine refuses empty
/// keys, so a memtable need not handle them.
pub(crate) fn user_keys(rng: &mut SmallRng, n: usize) -> Vec<Bytes> {
    const ALPHABET: [u8; 4] = [0x00, b'a', b'b', 0xff];
    let mut keys: Vec<Vec<u8>> = Vec::with_capacity(n);
    // The short keys run out (84 of them), so the loop is bounded by attempts too.
    for _ in 0..n * 20 {
        if keys.len() == n {
            break;
        }
        let len = rng.random_range(1..=3);
        let mut key: Vec<u8> = (0..len)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
            .collect();
        if rng.random_bool(0.25) {
            let fill = rng.random_range(28..=70);
            key.extend(std::iter::repeat_n(b'k', fill));
            if rng.random_bool(0.5) {
                key.push(ALPHABET[rng.random_range(0..ALPHABET.len())]);
            }
        }
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.into_iter().map(Bytes::from).collect()
}

/// A value for a put: empty, short, long, and now and then larger than an eighth of the
/// skip list's 64 KiB arena chunk, which takes an allocation of its own.
pub(crate) fn value(rng: &mut SmallRng) -> Bytes {
    let len = match rng.random_range(0..100) {
        0..15 => 0,
        15..85 => rng.random_range(1..=16),
        85..98 => rng.random_range(17..=300),
        _ => 9_000,
    };
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes[..]);
    Bytes::from(bytes)
}

/// Puts are three times as common as deletes.
pub(crate) fn kind(rng: &mut SmallRng) -> ValueKind {
    if rng.random_bool(0.75) {
        ValueKind::Put
    } else {
        ValueKind::Delete
    }
}

/// The model of up to `max` entries with distinct internal keys over a pool of user keys
/// (so keys have several versions). A tombstone's value is empty, as every
/// source stores it. Sequence numbers include, now and then, 0 and [`MAX_SEQNO`].
pub(crate) fn entries(rng: &mut SmallRng, max: usize) -> Model {
    let n = rng.random_range(0..=max);
    let pool = user_keys(rng, (n / 3).max(1));
    let entries = (0..n)
        .map(|_| {
            let user = pool[rng.random_range(0..pool.len())].clone();
            let seq: SeqNo = match rng.random_range(0..50) {
                0 => 0,
                1 => MAX_SEQNO,
                _ => rng.random_range(1..=(2 * n as SeqNo)),
            };
            let kind = kind(rng);
            let value = match kind {
                ValueKind::Put => value(rng),
                ValueKind::Delete => Bytes::new(),
            };
            (InternalKey::new(user, seq, kind), value)
        })
        .collect();
    // The model sorts, and keeps one entry per internal key.
    Model::new(entries)
}
