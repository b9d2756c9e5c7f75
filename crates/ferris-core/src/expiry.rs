//! Expiring values (TTL): how a value carries the moment it stops being readable, and
//! the clock that says what the moment is now.
//!
//! A keyspace is created with its values expiring or not ([`Ttl`]), and stays that way.
//! In an expiring keyspace every stored value ends with an 8-byte trailer: its expiry
//! time, in milliseconds since the UNIX epoch, little-endian, or [`NEVER`] (0).
//!
//! ```text
//! +------------------------+-----------------+
//! | the user's value bytes | expiry: u64 LE  |
//! +------------------------+-----------------+
//! ```
//!
//! Nothing below the engine knows: the WAL, the memtables and the tables store the
//! trailer as the value's last 8 bytes, the compaction rules never look inside a value.
//! The engine writes it ([`WriteBatch::resolve_expiry`](crate::WriteBatch::resolve_expiry)
//! turns a put's time to live into an expiry time when the write is made) and strips it
//! on every read ([`live`]). A version whose expiry time has passed reads as a deletion:
//! the key is absent, and older versions stay hidden behind it, exactly as behind a
//! tombstone. A compaction filter (`ferris_compaction::ExpiryFilter`) then turns expired
//! versions into tombstones as compactions reach them, which drop out at the bottom
//! level: space comes back only when compaction reaches the data.
//!
//! Storing the expiry time, not the write time and a keyspace-wide TTL (as RocksDB's
//! `DBWithTTL` does), lets every write choose its own lifetime, and lets the keyspace's
//! default change between opens without changing when existing values expire.
//!
//! ```
//! use std::time::Duration;
//! use ferris_core::expiry::{self, Clock, ManualClock};
//!
//! let clock = ManualClock::new(1_000);
//! let mut stored = b"hello".to_vec();
//! expiry::append(&mut stored, expiry::expires_at(clock.now(), Duration::from_secs(2)));
//! assert_eq!(expiry::split(&stored), Some((&b"hello"[..], 3_000)));
//!
//! assert_eq!(expiry::live(stored.clone().into(), clock.now()), Ok(Some("hello".into())));
//! clock.advance(Duration::from_secs(2));
//! assert_eq!(expiry::live(stored.into(), clock.now()), Ok(None)); // expired: absent
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::DecodeError;

/// Bytes of the expiry trailer at the end of every value of an expiring keyspace.
pub const EXPIRY_LEN: usize = 8;

/// The expiry time of a value that never expires.
pub const NEVER: u64 = 0;

/// Whether a keyspace's values expire, and after how long by default.
///
/// Fixed at creation: a keyspace created with `Ttl::Off` never holds an expiry trailer,
/// and one created with `Ttl::On` always does (the manifest records which). The default
/// may change from one open to the next; it applies to writes made from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ttl {
    /// Values never expire and are stored as given; a write with a time to live is
    /// refused ([`LimitError::TtlNotEnabled`](crate::LimitError::TtlNotEnabled)). The
    /// default.
    #[default]
    Off,
    /// Every value carries an expiry time: its write's own time to live
    /// ([`WriteBatch::put_with_ttl_in`](crate::WriteBatch::put_with_ttl_in)), or, for a
    /// put without one, `default` (`None`: it never expires).
    On {
        /// How long a value written without a time to live of its own lives.
        default: Option<Duration>,
    },
}

impl Ttl {
    /// Whether values carry an expiry trailer.
    pub fn is_on(self) -> bool {
        matches!(self, Ttl::On { .. })
    }
}

/// Where the engine reads the time: milliseconds since the UNIX epoch.
///
/// The system clock by default ([`SystemClock`]); tests and simulations pass a
/// [`ManualClock`] to make expiry deterministic. Expiry is judged against it on every
/// read (a snapshot judges at the moment it was taken) and when a compaction starts.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The time now, in milliseconds since the UNIX epoch.
    fn now(&self) -> u64;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // A clock set before 1970 reads as the epoch: nothing written then expires early.
        let since = SystemTime::now().duration_since(UNIX_EPOCH);
        since.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told: for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicU64,
}

impl ManualClock {
    /// A clock reading `ms` milliseconds since the UNIX epoch.
    pub fn new(ms: u64) -> ManualClock {
        ManualClock {
            ms: AtomicU64::new(ms),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        let _ = (self.ms).fetch_update(Ordering::SeqCst, Ordering::SeqCst, |ms| {
            Some(ms.saturating_add(by))
        });
    }

    /// Sets the clock to `ms` milliseconds since the UNIX epoch (backwards too).
    pub fn set(&self, ms: u64) {
        self.ms.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// The expiry time of a value written at `now` to live for `ttl`: never [`NEVER`] (a
/// time to live of zero expires at once, as of `now`), and saturating far in the future.
pub fn expires_at(now: u64, ttl: Duration) -> u64 {
    let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    now.saturating_add(ttl).max(1)
}

/// Whether a value with expiry time `expiry` is expired at `now`.
pub fn is_expired(expiry: u64, now: u64) -> bool {
    expiry != NEVER && expiry <= now
}

/// Appends the expiry trailer `expiry` to a value.
pub fn append(value: &mut Vec<u8>, expiry: u64) {
    value.extend_from_slice(&expiry.to_le_bytes());
}

/// A stored value split into the user's value and its expiry time; `None` if it is too
/// short to hold a trailer (damage: every value of an expiring keyspace has one).
pub fn split(stored: &[u8]) -> Option<(&[u8], u64)> {
    let at = stored.len().checked_sub(EXPIRY_LEN)?;
    let (value, trailer) = stored.split_at(at);
    Some((value, u64::from_le_bytes(trailer.try_into().ok()?)))
}

/// What a read returns for a stored value at `now`: the user's value without its
/// trailer, or `None` once it has expired.
///
/// # Errors
///
/// A [`DecodeError`] if the value is too short to hold a trailer.
pub fn live(stored: Bytes, now: u64) -> Result<Option<Bytes>, DecodeError> {
    let Some((value, expiry)) = split(&stored) else {
        return Err(DecodeError::new(0, "a value too short for its expiry time"));
    };
    let len = value.len();
    Ok((!is_expired(expiry, now)).then(|| stored.slice(..len)))
}

/// [`live`] for a value read from the database at `origin` (named in the error).
///
/// # Errors
///
/// [`Error::Corruption`](crate::Error::Corruption) if the value is too short to hold a
/// trailer.
pub fn read(origin: &Path, stored: Bytes, now: u64) -> crate::Result<Option<Bytes>> {
    live(stored, now).map_err(|e| {
        let reason = format!("an expiring keyspace holds {}", e.reason);
        crate::Error::Corruption(crate::Corruption::new(origin, 0, reason))
    })
}

/// [`read`] for what a point read found (`None`: nothing) in a keyspace whose values
/// expire, as of `Some(now)`, or do not (`None`: `found` is returned as it is).
///
/// # Errors
///
/// As [`read`].
pub fn read_found(
    origin: &Path,
    found: Option<Bytes>,
    now: Option<u64>,
) -> crate::Result<Option<Bytes>> {
    match (found, now) {
        (Some(stored), Some(now)) => read(origin, stored, now),
        (found, _) => Ok(found),
    }
}

/// The entries of a scan as a reader of an expiring keyspace sees them at one moment
/// (`Some(now)`): expired entries skipped, trailers stripped, both ways. With `None` (a
/// keyspace whose values do not expire) the entries pass through untouched.
#[derive(Debug)]
pub struct Unexpired<I> {
    inner: I,
    /// The time, and where the values come from (for damage).
    expiry: Option<(u64, PathBuf)>,
}

impl<I> Unexpired<I> {
    /// `inner`'s entries, as a reader at `now` sees them (see the type's docs).
    pub fn new(inner: I, now: Option<u64>, origin: &Path) -> Unexpired<I> {
        let expiry = now.map(|now| (now, origin.to_path_buf()));
        Unexpired { inner, expiry }
    }

    /// What the scan yields for an entry of the inner one, if anything.
    fn yielded(&self, kv: crate::Result<(Bytes, Bytes)>) -> Option<crate::Result<(Bytes, Bytes)>> {
        let Some((now, origin)) = &self.expiry else {
            return Some(kv);
        };
        match kv {
            Ok((key, value)) => read(origin, value, *now)
                .map(|v| v.map(|v| (key, v)))
                .transpose(),
            Err(e) => Some(Err(e)),
        }
    }
}

impl<I: Iterator<Item = crate::Result<(Bytes, Bytes)>>> Iterator for Unexpired<I> {
    type Item = crate::Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        // An expired entry reads as deleted: the next one is what follows it.
        loop {
            let kv = self.inner.next()?;
            if let Some(yielded) = self.yielded(kv) {
                return Some(yielded);
            }
        }
    }
}

impl<I: DoubleEndedIterator<Item = crate::Result<(Bytes, Bytes)>>> DoubleEndedIterator
    for Unexpired<I>
{
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            let kv = self.inner.next_back()?;
            if let Some(yielded) = self.yielded(kv) {
                return Some(yielded);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_lives_until_its_expiry_time_and_not_a_millisecond_more() {
        let mut stored = b"v".to_vec();
        append(&mut stored, 500);
        let stored = Bytes::from(stored);
        assert_eq!(live(stored.clone(), 499), Ok(Some(Bytes::from("v"))));
        assert_eq!(live(stored, 500), Ok(None));
    }

    #[test]
    fn never_means_never_and_zero_ttl_means_now() {
        let mut stored = Vec::new();
        append(&mut stored, NEVER);
        assert_eq!(live(stored.into(), u64::MAX), Ok(Some(Bytes::new())));
        assert_eq!(expires_at(0, Duration::ZERO), 1, "never NEVER");
        assert!(is_expired(expires_at(7, Duration::ZERO), 7));
        assert_eq!(expires_at(u64::MAX - 1, Duration::MAX), u64::MAX);
    }

    #[test]
    fn a_value_shorter_than_a_trailer_is_damage() {
        assert_eq!(split(b"1234567"), None);
        let err = live(Bytes::from_static(b"short"), 0).unwrap_err();
        assert!(err.reason.contains("too short"));
    }

    #[test]
    fn a_scan_skips_expired_entries_both_ways_and_reports_damage() {
        let entry = |key: &str, value: &str, expiry: u64| {
            let mut stored = value.as_bytes().to_vec();
            append(&mut stored, expiry);
            Ok((Bytes::from(key.to_string()), Bytes::from(stored)))
        };
        let entries = vec![
            entry("a", "1", NEVER),
            entry("b", "2", 10),
            entry("c", "3", 11),
            Ok((Bytes::from("d"), Bytes::from("bad"))),
        ];
        let origin = Path::new("/db");
        let scan = |now| Unexpired::new(entries.clone().into_iter(), now, origin);
        let keys = |items: Vec<crate::Result<(Bytes, Bytes)>>| -> Vec<String> {
            (items.into_iter().take(2))
                .map(|kv| String::from_utf8(kv.unwrap().1.to_vec()).unwrap())
                .collect()
        };
        assert_eq!(keys(scan(Some(10)).collect()), ["1", "3"]);
        assert_eq!(keys(scan(Some(10)).rev().skip(1).collect()), ["3", "1"]);
        let last = scan(Some(10)).last().unwrap().unwrap_err();
        assert!(last.to_string().contains("too short"), "{last}");
        // A keyspace whose values do not expire: untouched.
        let raw: Vec<_> = scan(None).map(|kv| kv.unwrap().1).collect();
        assert_eq!(raw[3], Bytes::from("bad"));
    }

    #[test]
    fn the_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(10);
        assert_eq!(clock.now(), 10);
        clock.advance(Duration::from_millis(5));
        assert_eq!(clock.now(), 15);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), u64::MAX);
        clock.set(3);
        assert_eq!(clock.now(), 3);
        assert!(SystemClock.now() > 1_700_000_000_000, "after November 2023");
    }
}
