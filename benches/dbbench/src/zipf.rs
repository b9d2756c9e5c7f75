//! YCSB's scrambled zipfian key chooser.
//!
//! YCSB picks keys with a zipfian distribution (constant 0.99): a few keys are very hot,
//! most are cold. The generator is Gray et al.'s "Quickly generating billion-record
//! synthetic databases" (SIGMOD 1994), as YCSB's `ZipfianGenerator` implements it; the
//! "scrambled" variant hashes the rank so the hot keys are spread over the key space
//! instead of all sitting at its start, which would favour whatever caches the first block.

use rand::Rng;

/// Draws item numbers in `0..n`, zipfian with constant `theta`, scrambled.
#[derive(Clone, Debug)]
pub struct ScrambledZipfian {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

/// YCSB's default zipfian constant.
pub const YCSB_THETA: f64 = 0.99;

impl ScrambledZipfian {
    /// A generator over `0..n` (`n >= 1`) with YCSB's constant.
    pub fn new(n: u64) -> ScrambledZipfian {
        ScrambledZipfian::with_theta(n, YCSB_THETA)
    }

    /// A generator over `0..n` with constant `theta` (in `(0, 1)`).
    pub fn with_theta(n: u64, theta: f64) -> ScrambledZipfian {
        let n = n.max(1);
        // zeta(n) = sum over i in 1..=n of 1 / i^theta: O(n) once, about 10 ms per million.
        let zetan: f64 = (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum();
        let zeta2 = 1.0 + 0.5f64.powf(theta);
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        ScrambledZipfian {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
        }
    }

    /// The next item's rank before scrambling: 0 is the most popular.
    pub fn next_rank(&self, rng: &mut impl Rng) -> u64 {
        let u: f64 = rng.random();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.n - 1);
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }

    /// The next item: a rank spread over `0..n` by a hash.
    pub fn next(&self, rng: &mut impl Rng) -> u64 {
        fnv1a(self.next_rank(rng)) % self.n
    }
}

/// 64-bit FNV-1a over the little-endian bytes of `x`, as YCSB scrambles with FNV.
fn fnv1a(x: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in x.to_le_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    #[test]
    fn ranks_are_skewed_as_zipf_predicts() {
        let n = 10_000;
        let zipf = ScrambledZipfian::new(n);
        let mut rng = SmallRng::seed_from_u64(1);
        let draws = 200_000;
        let mut counts = vec![0u32; n as usize];
        for _ in 0..draws {
            counts[zipf.next_rank(&mut rng) as usize] += 1;
        }
        // P(rank 0) = 1 / zeta(n): about 10% for n = 10,000 at theta 0.99.
        let expected = f64::from(draws) / zipf.zetan;
        let got = f64::from(counts[0]);
        assert!(
            (got - expected).abs() < expected * 0.05,
            "rank 0 drawn {got} times, expected about {expected:.0}"
        );
        // The top 1% of ranks take about half of all draws; the bottom half far fewer.
        let top: u32 = counts[..100].iter().sum();
        let bottom: u32 = counts[5_000..].iter().sum();
        assert!(top > draws / 2 - draws / 10, "top 1% drew {top}");
        assert!(bottom < draws / 10, "bottom half drew {bottom}");
    }

    #[test]
    fn scrambled_items_stay_in_range_and_spread_the_hot_keys() {
        let n = 1_000;
        let zipf = ScrambledZipfian::new(n);
        let mut rng = SmallRng::seed_from_u64(2);
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..10_000 {
            let item = zipf.next(&mut rng);
            assert!(item < n);
            seen_low |= item < n / 2;
            seen_high |= item >= n / 2;
        }
        assert!(seen_low && seen_high);
        // The hottest rank does not land on item 0.
        assert_ne!(fnv1a(0) % n, 0);
    }

    #[test]
    fn a_single_item_is_always_chosen() {
        let zipf = ScrambledZipfian::new(1);
        let mut rng = SmallRng::seed_from_u64(3);
        assert!((0..100).all(|_| zipf.next(&mut rng) == 0));
    }
}
