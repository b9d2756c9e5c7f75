//! How a transaction runs, and how long to wait before retrying one.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use crate::Isolation;

/// How a transaction runs: its isolation, whether its commit is durable when it returns,
/// and how often a retrying runner (FerrisDB's `Db::run`) retries it.
///
/// ```
/// use ferris_txn::{Isolation, TxnOptions};
/// let options = TxnOptions::new().isolation(Isolation::Snapshot).sync(false).max_retries(10);
/// assert_eq!(options.sync, Some(false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TxnOptions {
    /// Which conflicts the commit is checked for ([`Isolation::Serializable`] by default).
    pub isolation: Isolation,
    /// Whether the commit is fsync'd before it returns; `None` (the default) follows the
    /// database's own setting, as a write's does.
    pub sync: Option<bool>,
    /// How many times a retrying runner retries a transaction that failed with a retryable
    /// error ([`TxnError::is_retryable`](crate::TxnError::is_retryable)) before giving up
    /// with it (default 100).
    pub max_retries: u32,
}

impl Default for TxnOptions {
    fn default() -> TxnOptions {
        TxnOptions {
            isolation: Isolation::Serializable,
            sync: None,
            max_retries: 100,
        }
    }
}

impl TxnOptions {
    /// The defaults: serializable, durable as the database's writes are, 100 retries.
    pub fn new() -> TxnOptions {
        TxnOptions::default()
    }

    /// Sets the isolation.
    pub fn isolation(mut self, isolation: Isolation) -> TxnOptions {
        self.isolation = isolation;
        self
    }

    /// Sets whether the commit is durable when it returns.
    pub fn sync(mut self, sync: bool) -> TxnOptions {
        self.sync = Some(sync);
        self
    }

    /// Sets how many times a retrying runner retries.
    pub fn max_retries(mut self, max_retries: u32) -> TxnOptions {
        self.max_retries = max_retries;
        self
    }
}

/// How long to wait before retry `attempt` (counted from 1) of a transaction that
/// conflicted: not at all the first time (the new read version already holds the commit
/// it conflicted with, so a retry at once usually commits), then 50 µs doubling to at
/// most 10 ms, each scaled by a random factor in [0.5, 1.5) so that transactions that keep
/// conflicting with each other stop retrying in step. FoundationDB's client starts at 10 ms
/// and caps at one second; its commits take milliseconds over a network, these take
/// microseconds.
pub fn backoff(attempt: u32) -> Duration {
    if attempt <= 1 {
        return Duration::ZERO;
    }
    let base = (50u64 << (attempt - 2).min(8)).min(10_000);
    let jitter = RandomState::new().hash_one(attempt) % 1000;
    Duration::from_micros(base * (500 + jitter) / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_nothing_and_stays_under_fifteen_milliseconds() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        let second = backoff(2);
        assert!((Duration::from_micros(25)..Duration::from_micros(75)).contains(&second));
        for attempt in 2..200 {
            assert!(backoff(attempt) < Duration::from_millis(15), "{attempt}");
        }
        assert!(backoff(100) >= Duration::from_millis(5));
    }
}
