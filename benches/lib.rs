//! Shared helpers for FerrisDB's criterion benchmarks.
//!
//! The benches themselves live beside this file (`wal.rs`, `memtable.rs`, ...); this library
//! holds what they share so each bench reads as the question it answers.
#![forbid(unsafe_code)]

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A deterministic generator of benchmark keys and values, so every run sees the same data.
#[derive(Debug)]
pub struct Workload {
    rng: SmallRng,
}

impl Workload {
    /// A workload seeded with `seed`.
    pub fn new(seed: u64) -> Workload {
        Workload {
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// `n` distinct 16-byte keys, `key{i:012}` shuffled so inserts arrive in random order.
    pub fn shuffled_keys(&mut self, n: usize) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = (0..n).map(|i| format!("key{i:013}").into_bytes()).collect();
        for i in (1..keys.len()).rev() {
            let j = self.rng.random_range(0..=i);
            keys.swap(i, j);
        }
        keys
    }

    /// A random index below `n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// A value of `len` random bytes.
    pub fn value(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.rng.fill(&mut v[..]);
        v
    }
}
