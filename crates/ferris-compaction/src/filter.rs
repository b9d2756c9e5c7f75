//! Compaction filters: a user's hook on what a compaction writes.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::expiry;

/// What a [`CompactionFilter`] decides for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Write the entry as it is.
    Keep,
    /// Remove the key: the compaction writes a tombstone in the entry's place (so older
    /// versions in deeper levels stay hidden), and drops even that where tombstones go
    /// (at the bottom, with no snapshot that could see the key).
    Remove,
    /// Write this value instead.
    ChangeValue(Bytes),
}

/// A hook run on entries as a compaction writes them: to drop expired data, rewrite values
/// into a new encoding, or garbage-collect what the application knows is dead, without a
/// write per key.
///
/// # Which entries it sees
///
/// Only the newest version of each key, and only when no live snapshot can read that
/// version (it is newer than every snapshot): what a snapshot reads never changes under
/// it. Older versions that snapshots still read are written as they are, and tombstones
/// are never shown. A key the filter removes reads as deleted from then on, by readers
/// without a snapshot and snapshots taken later; one whose value it changes reads the new
/// value. Flushes do not run it, only compactions, so its effect shows once a compaction
/// reaches the data: the cost model of every compaction filter (RocksDB's and fjall's
/// too). `Db::compact_range` forces it over a range.
///
/// # Contract
///
/// `filter` must be a pure function of its arguments (the same entry may be filtered again
/// if a compaction is retried after a failure) and fast (it runs inside compactions, which
/// hold back writes when they fall behind). It may run on several compaction threads at
/// once. A panic is caught: the compaction fails with an error naming the filter, writes
/// nothing, and the database keeps every entry as it was.
pub trait CompactionFilter: Send + Sync + fmt::Debug {
    /// A name for logs and errors.
    fn name(&self) -> &str;

    /// The decision for `key`'s newest version, holding `value`, being written to
    /// `level`.
    fn filter(&self, level: usize, key: &[u8], value: &[u8]) -> Decision;
}

/// The compaction filter of an expiring keyspace ([`ferris_core::expiry`]): it removes
/// the keys whose newest version has expired, and hands the rest, without their expiry
/// trailers, to the keyspace's own filter, if it has one.
///
/// A removed key becomes a tombstone, which hides the key's older versions below and
/// drops out at the bottom level; until a compaction reaches an expired value, reads hide
/// it all the same. The time is read once, when the compaction starts, so the filter is a
/// pure function of its arguments, as the contract asks.
///
/// ```
/// use ferris_compaction::{CompactionFilter, Decision, ExpiryFilter};
///
/// let filter = ExpiryFilter::new(1_000, None); // the time now: 1,000 ms
/// let expired = [&b"v"[..], &999u64.to_le_bytes()].concat();
/// let forever = [&b"v"[..], &0u64.to_le_bytes()].concat(); // 0: never expires
/// assert_eq!(filter.filter(1, b"k", &expired), Decision::Remove);
/// assert_eq!(filter.filter(1, b"k", &forever), Decision::Keep);
/// ```
#[derive(Debug)]
pub struct ExpiryFilter {
    now: u64,
    inner: Option<Arc<dyn CompactionFilter>>,
}

impl ExpiryFilter {
    /// A filter judging expiry at `now` (milliseconds since the UNIX epoch), then running
    /// `inner` on what has not expired.
    pub fn new(now: u64, inner: Option<Arc<dyn CompactionFilter>>) -> ExpiryFilter {
        ExpiryFilter { now, inner }
    }
}

impl CompactionFilter for ExpiryFilter {
    /// The keyspace's own filter's name (a panic is its), or `"expiry"`.
    fn name(&self) -> &str {
        self.inner.as_ref().map_or("expiry", |f| f.name())
    }

    fn filter(&self, level: usize, key: &[u8], stored: &[u8]) -> Decision {
        // A value too short for a trailer is damage, which reads report; not the
        // filter's to remove.
        let Some((value, expiry)) = expiry::split(stored) else {
            return Decision::Keep;
        };
        if expiry::is_expired(expiry, self.now) {
            return Decision::Remove;
        }
        match self.inner.as_ref().map(|f| f.filter(level, key, value)) {
            None | Some(Decision::Keep) => Decision::Keep,
            Some(Decision::Remove) => Decision::Remove,
            Some(Decision::ChangeValue(new)) => {
                let mut with_trailer = Vec::with_capacity(new.len() + expiry::EXPIRY_LEN);
                with_trailer.extend_from_slice(&new);
                expiry::append(&mut with_trailer, expiry);
                Decision::ChangeValue(with_trailer.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upper-cases values and removes keys starting with `x`.
    #[derive(Debug)]
    struct Shout;

    impl CompactionFilter for Shout {
        fn name(&self) -> &str {
            "shout"
        }

        fn filter(&self, _: usize, key: &[u8], value: &[u8]) -> Decision {
            match key.first() {
                Some(b'x') => Decision::Remove,
                _ => Decision::ChangeValue(value.to_ascii_uppercase().into()),
            }
        }
    }

    fn stored(value: &[u8], expiry: u64) -> Vec<u8> {
        let mut out = value.to_vec();
        expiry::append(&mut out, expiry);
        out
    }

    #[test]
    fn the_keyspace_filter_sees_values_without_trailers_and_keeps_their_expiry() {
        let filter = ExpiryFilter::new(100, Some(Arc::new(Shout)));
        assert_eq!(filter.name(), "shout");
        let changed = filter.filter(0, b"k", &stored(b"abc", 200));
        assert_eq!(changed, Decision::ChangeValue(stored(b"ABC", 200).into()));
        assert_eq!(filter.filter(0, b"x", &stored(b"abc", 0)), Decision::Remove);
        // Expired: removed before the keyspace's filter is asked.
        assert_eq!(
            filter.filter(0, b"k", &stored(b"abc", 100)),
            Decision::Remove
        );
    }

    #[test]
    fn a_value_too_short_for_a_trailer_is_kept_for_reads_to_report() {
        let filter = ExpiryFilter::new(100, Some(Arc::new(Shout)));
        assert_eq!(filter.filter(0, b"x", b"short"), Decision::Keep);
        assert_eq!(ExpiryFilter::new(0, None).name(), "expiry");
    }
}
