//! The resolver against a model that forgets nothing: the resolver suite's
//! ([`ferris_conformance::resolver::Model`]), here under proptest, which shrinks a failing
//! history, and with what `Resolver` has beyond the trait.
//!
//! The model keeps every commit forever and answers a check by brute force: the newest
//! commit after the read version whose writes intersect the first read range that has
//! one. It also tracks which commits the resolver's limits and trims have made it forget
//! (the oldest go first, while the rest weigh too much or the oldest is too old), and so
//! the read versions it may call too old. Over random histories the resolver must answer
//! exactly as the model, remember as many commits, and weigh them the same.

use ferris_conformance::resolver::Model;
use ferris_txn::{KeyRange, RangeSet, Resolver, ResolverLimits};
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
        let mut model = Model::new(0, limits);
        let mut now = 0;
        for op in ops {
            match op {
                Op::Record { gap, dt, writes } => {
                    now += dt;
                    let seq = model.last() + gap;
                    prop_assert_eq!(resolver.record(seq, &writes, now), model.record(seq, &writes, now));
                }
                Op::Check { back, reads } => {
                    let read_version = model.last().saturating_sub(back);
                    prop_assert_eq!(resolver.check(read_version, &reads), model.check(read_version, &reads));
                    // A RangeSet holds the same ranges, single keys first: the same answer,
                    // the model's for that order.
                    let set: RangeSet = reads.iter().collect();
                    let reordered: Vec<KeyRange> = set.iter().collect();
                    prop_assert_eq!(resolver.check_set(read_version, &set), model.check(read_version, &reordered));
                }
                Op::Trim { back } => {
                    let version = model.last().saturating_sub(back);
                    resolver.trim(version);
                    model.trim(version);
                }
            }
            prop_assert_eq!(resolver.oldest(), model.oldest());
            prop_assert_eq!(resolver.len(), model.remembered());
            let weight = model.remembered_bytes();
            prop_assert_eq!(resolver.history_bytes(), weight);
            prop_assert!(weight <= limits.max_history_bytes);
        }
    }
}
