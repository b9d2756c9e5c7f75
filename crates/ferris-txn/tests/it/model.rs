//! The resolver against a model that forgets nothing.
//!
//! The model keeps every commit forever and answers a check by brute force: the newest
//! commit after the read version whose writes intersect the first read range that has
//! one. It also tracks which commits the resolver's limits and trims have made it forget
//! (the rule is simple: the oldest go first, while the rest weigh too much or the oldest
//! is too old), and so the read versions it may call too old. Over random histories the
//! resolver must answer exactly as the model whenever the model's needed history is
//! still remembered, and say `TooOld` exactly when a commit after the read version was
//! forgotten.

use ferris_core::SeqNo;
use ferris_txn::{KeyRange, RangeSet, Resolver, ResolverLimits, TxnError};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Commit `writes` at the last commit plus `gap`, `dt` milliseconds after the last.
    Record {
        gap: u64,
        dt: u64,
        writes: Vec<KeyRange>,
    },
    /// Check `reads` at the last commit minus `back`.
    Check { back: u64, reads: Vec<KeyRange> },
    /// Trim at the last commit minus `back`.
    Trim { back: u64 },
}

struct Commit {
    seq: SeqNo,
    at_ms: u64,
    writes: Vec<KeyRange>,
    bytes: usize,
}

struct Model {
    limits: ResolverLimits,
    /// Every commit that wrote anything, forever.
    commits: Vec<Commit>,
    /// How many of `commits`, from the front, the resolver should have forgotten.
    forgotten: usize,
    last: SeqNo,
}

impl Model {
    fn size(&self, ranges: &[KeyRange]) -> Result<usize, TxnError> {
        let bytes = ranges.iter().map(KeyRange::charged_bytes).sum();
        match bytes > self.limits.max_txn_bytes {
            true => Err(TxnError::TooLarge {
                bytes,
                limit: self.limits.max_txn_bytes,
            }),
            false => Ok(bytes),
        }
    }

    fn oldest(&self) -> SeqNo {
        self.commits[..self.forgotten]
            .iter()
            .map(|c| c.seq)
            .max()
            .unwrap_or(0)
    }

    fn remembered(&self) -> &[Commit] {
        &self.commits[self.forgotten..]
    }

    fn check(&self, read_version: SeqNo, reads: &[KeyRange]) -> Result<(), TxnError> {
        self.size(reads)?;
        // Too old exactly when a commit the check would have to look at is forgotten (and
        // there is something to check).
        if !reads.is_empty()
            && self.commits[..self.forgotten]
                .iter()
                .any(|c| c.seq > read_version)
        {
            return Err(TxnError::TooOld {
                read_version,
                oldest: self.oldest(),
            });
        }
        for range in reads {
            let newest = self
                .commits
                .iter()
                .filter(|c| c.seq > read_version && c.writes.iter().any(|w| w.intersects(range)))
                .map(|c| c.seq)
                .max();
            if let Some(committed_at) = newest {
                return Err(TxnError::Conflict {
                    range: range.clone(),
                    committed_at,
                });
            }
        }
        Ok(())
    }

    fn record(&mut self, seq: SeqNo, writes: &[KeyRange], now_ms: u64) -> Result<(), TxnError> {
        let bytes = self.size(writes)?;
        self.last = seq;
        if !writes.is_empty() {
            self.commits.push(Commit {
                seq,
                at_ms: now_ms,
                writes: writes.to_vec(),
                bytes,
            });
        }
        loop {
            let remembered = self.remembered();
            let weight: usize = remembered.iter().map(|c| c.bytes).sum();
            let Some(front) = remembered.first() else {
                break;
            };
            let too_old = now_ms.saturating_sub(front.at_ms) > self.limits.max_age_ms;
            if !too_old && weight <= self.limits.max_history_bytes {
                break;
            }
            self.forgotten += 1;
        }
        Ok(())
    }

    fn trim(&mut self, version: SeqNo) {
        self.forgotten += self
            .remembered()
            .iter()
            .take_while(|c| c.seq <= version)
            .count();
    }
}

fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![Just(b'a'), Just(b'b'), Just(b'c'), Just(0u8)],
        0..3,
    )
}

fn range() -> impl Strategy<Value = KeyRange> {
    let keyspace = 0u32..2;
    prop_oneof![
        6 => (keyspace.clone(), key_bytes()).prop_map(|(ks, k)| KeyRange::key(ks, k)),
        2 => (keyspace.clone(), key_bytes(), key_bytes(), any::<bool>()).prop_map(|(ks, a, b, open)| {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            match open {
                true => KeyRange::bounds(ks, lo..),
                false => KeyRange::bounds(ks, lo..=hi),
            }
            .expect("a non-empty range")
        }),
        1 => (keyspace, key_bytes()).prop_map(|(ks, p)| KeyRange::prefix(ks, p)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let ranges = || proptest::collection::vec(range(), 0..5);
    prop_oneof![
        4 => (1u64..3, 0u64..8, ranges()).prop_map(|(gap, dt, writes)| Op::Record { gap, dt, writes }),
        4 => (0u64..12, ranges()).prop_map(|(back, reads)| Op::Check { back, reads }),
        1 => (0u64..12).prop_map(|back| Op::Trim { back }),
    ]
}

fn limits() -> impl Strategy<Value = ResolverLimits> {
    (100usize..600, 0u64..40, 60usize..250).prop_map(
        |(max_history_bytes, max_age_ms, max_txn_bytes)| ResolverLimits {
            max_history_bytes,
            max_age_ms,
            max_txn_bytes,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_resolver_answers_as_a_model_that_forgets_nothing(
        limits in limits(),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut resolver = Resolver::new(0, limits);
        let mut model = Model { limits, commits: Vec::new(), forgotten: 0, last: 0 };
        let mut now = 0;
        for op in ops {
            match op {
                Op::Record { gap, dt, writes } => {
                    now += dt;
                    let seq = model.last + gap;
                    prop_assert_eq!(resolver.record(seq, &writes, now), model.record(seq, &writes, now));
                }
                Op::Check { back, reads } => {
                    let read_version = model.last.saturating_sub(back);
                    prop_assert_eq!(resolver.check(read_version, &reads), model.check(read_version, &reads));
                    // A RangeSet holds the same ranges, single keys first: the same answer,
                    // the model's for that order.
                    let set: RangeSet = reads.iter().collect();
                    let reordered: Vec<KeyRange> = set.iter().collect();
                    prop_assert_eq!(resolver.check_set(read_version, &set), model.check(read_version, &reordered));
                }
                Op::Trim { back } => {
                    let version = model.last.saturating_sub(back);
                    resolver.trim(version);
                    model.trim(version);
                }
            }
            prop_assert_eq!(resolver.oldest(), model.oldest());
            prop_assert_eq!(resolver.len(), model.remembered().len());
            let weight: usize = model.remembered().iter().map(|c| c.bytes).sum();
            prop_assert_eq!(resolver.history_bytes(), weight);
            prop_assert!(weight <= limits.max_history_bytes);
        }
    }
}
