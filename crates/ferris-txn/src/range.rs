//! Conflict ranges: the half-open key ranges a transaction read or wrote.

use std::fmt;
use std::ops::RangeBounds;

use bytes::Bytes;
use ferris_core::KeyspaceId;
use ferris_core::range_del::{key_range, prefix_range};

/// What the resolver charges for one remembered range on top of its key bytes: the
/// keyspace, the sequence number, the map or list entry that holds it. An estimate, not a
/// measurement; it exists so that a million ranges over empty keys are not free.
pub const RANGE_OVERHEAD: usize = 32;

/// A half-open range of keys `[start, end)` in one keyspace; `end: None` runs to the end of
/// the keyspace.
///
/// A transaction describes what it read and what it wrote as a list of these (its *conflict
/// ranges*): a point read of `k` is the range `[k, k\0)`, which holds `k` and nothing else,
/// because `k\0` is the next key after `k` in byte order; a scan is the range it scanned,
/// whatever keys it found there. A range is never empty: every constructor returns `None`
/// (or cannot be asked) for a range that holds no key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyRange {
    keyspace: KeyspaceId,
    start: Bytes,
    end: Option<Bytes>,
}

impl KeyRange {
    /// The range `[start, end)` in `keyspace`, or `None` when it holds no key (`end <= start`).
    pub fn new(
        keyspace: KeyspaceId,
        start: impl Into<Bytes>,
        end: Option<Bytes>,
    ) -> Option<KeyRange> {
        let start = start.into();
        match &end {
            Some(end) if *end <= start => None,
            _ => Some(KeyRange {
                keyspace,
                start,
                end,
            }),
        }
    }

    /// The range holding exactly `key`: `[key, key\0)`.
    pub fn key(keyspace: KeyspaceId, key: impl AsRef<[u8]>) -> KeyRange {
        let key = key.as_ref();
        let mut end = Vec::with_capacity(key.len() + 1);
        end.extend_from_slice(key);
        end.push(0);
        KeyRange {
            keyspace,
            start: Bytes::copy_from_slice(key),
            end: Some(Bytes::from(end)),
        }
    }

    /// The keys in `range` (`"a".."m"`, `"a"..="m"`, `..`, ...), or `None` when it holds no
    /// key (reversed, or empty like `"b".."b"`). Bounds become `[start, end)` as
    /// [`ferris_core::range_del::key_range`] turns them, so a scan and a range delete over
    /// the same bounds name the same keys.
    pub fn bounds<K: AsRef<[u8]>>(
        keyspace: KeyspaceId,
        range: impl RangeBounds<K>,
    ) -> Option<KeyRange> {
        let (start, end) = key_range(&range)?;
        Some(KeyRange {
            keyspace,
            start,
            end,
        })
    }

    /// Every key beginning with `prefix` (all of the keyspace when `prefix` is empty).
    pub fn prefix(keyspace: KeyspaceId, prefix: impl AsRef<[u8]>) -> KeyRange {
        let (start, end) = prefix_range(prefix.as_ref());
        KeyRange {
            keyspace,
            start,
            end,
        }
    }

    /// The keyspace the range lies in.
    pub fn keyspace(&self) -> KeyspaceId {
        self.keyspace
    }

    /// The first key in the range.
    pub fn start(&self) -> &Bytes {
        &self.start
    }

    /// The first key past the range, or `None` when it runs to the end of the keyspace.
    pub fn end(&self) -> Option<&Bytes> {
        self.end.as_ref()
    }

    /// The one key the range holds, when it holds exactly one (`[k, k\0)`).
    pub fn as_key(&self) -> Option<&Bytes> {
        let end = self.end.as_ref()?;
        let single = end.len() == self.start.len() + 1
            && end.last() == Some(&0)
            && end[..self.start.len()] == self.start[..];
        single.then_some(&self.start)
    }

    /// Whether `key` in `keyspace` lies in the range.
    pub fn contains(&self, keyspace: KeyspaceId, key: &[u8]) -> bool {
        self.keyspace == keyspace
            && &self.start[..] <= key
            && self.end.as_ref().is_none_or(|end| key < &end[..])
    }

    /// Whether the two ranges share a key: the same keyspace, and each starts before the
    /// other ends. Ranges are never empty, so that is enough.
    pub fn intersects(&self, other: &KeyRange) -> bool {
        let before = |a: &KeyRange, b: &KeyRange| a.end.as_ref().is_none_or(|end| b.start < *end);
        self.keyspace == other.keyspace && before(self, other) && before(other, self)
    }

    /// What the range costs the resolver to remember, and counts against a transaction's
    /// limit: its key bytes plus [`RANGE_OVERHEAD`].
    pub fn charged_bytes(&self) -> usize {
        self.start.len() + self.end.as_ref().map_or(0, Bytes::len) + RANGE_OVERHEAD
    }
}

/// Keys print as escaped bytes, `ks:[start, end)`, with `..` for no end.
impl fmt::Debug for KeyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:[{}, ", self.keyspace, self.start.escape_ascii())?;
        match &self.end {
            Some(end) => write!(f, "{})", end.escape_ascii()),
            None => f.write_str("..)"),
        }
    }
}

impl fmt::Display for KeyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn r(start: &str, end: Option<&str>) -> KeyRange {
        KeyRange::new(0, start.to_owned(), end.map(|e| Bytes::from(e.to_owned()))).unwrap()
    }

    #[test]
    fn a_key_range_holds_the_key_and_nothing_else() {
        let k = KeyRange::key(0, "b");
        assert!(k.contains(0, b"b"));
        assert!(!k.contains(0, b"a"));
        assert!(!k.contains(0, b"b\0"));
        assert!(!k.contains(0, b"ba"));
        assert!(!k.contains(1, b"b"));
        assert_eq!(k.as_key().map(|k| &k[..]), Some(&b"b"[..]));
        assert_eq!(r("a", Some("c")).as_key(), None);
        assert_eq!(r("b", Some("b\x01")).as_key(), None);
        assert_eq!(r("b", None).as_key(), None);
    }

    #[test]
    fn empty_and_reversed_ranges_are_none() {
        assert_eq!(KeyRange::new(0, "b", Some(Bytes::from("b"))), None);
        assert_eq!(KeyRange::new(0, "c", Some(Bytes::from("b"))), None);
        assert_eq!(KeyRange::bounds(0, "b".."b"), None);
        assert_eq!(KeyRange::bounds(0, "c"..="b"), None);
    }

    #[test]
    fn bounds_become_half_open_ranges() {
        assert_eq!(KeyRange::bounds(0, "a".."c"), Some(r("a", Some("c"))));
        assert_eq!(KeyRange::bounds(0, "a"..="c"), Some(r("a", Some("c\0"))));
        assert_eq!(KeyRange::bounds(0, "a"..), Some(r("a", None)));
        assert_eq!(KeyRange::bounds::<&str>(0, ..), Some(r("", None)));
        assert_eq!(KeyRange::bounds(3, "k"..="k"), Some(KeyRange::key(3, "k")));
    }

    #[test]
    fn a_prefix_range_ends_at_the_next_prefix() {
        assert_eq!(KeyRange::prefix(0, "ab"), r("ab", Some("ac")));
        assert_eq!(KeyRange::prefix(0, ""), r("", None));
        let all_ff = KeyRange::prefix(0, [0xff, 0xff]);
        assert_eq!(all_ff.end(), None);
        assert!(all_ff.contains(0, &[0xff, 0xff, 0x00]));
    }

    #[rstest]
    #[case(r("a", Some("c")), r("b", Some("d")), true)]
    #[case(r("a", Some("c")), r("c", Some("d")), false)]
    #[case(r("a", Some("c")), r("", Some("a")), false)]
    #[case(r("a", Some("c")), r("", Some("a\0")), true)]
    #[case(r("a", None), r("zzz", Some("zzzz")), true)]
    #[case(r("a", None), r("b", None), true)]
    #[case(r("b", Some("c")), r("a", None), true)]
    #[case(KeyRange::key(0, "b"), r("a", Some("b")), false)]
    #[case(KeyRange::key(0, "b"), r("a", Some("b\0")), true)]
    #[case(KeyRange::key(0, "b"), KeyRange::key(0, "b"), true)]
    #[case(KeyRange::key(0, "b"), KeyRange::key(1, "b"), false)]
    fn intersects_is_symmetric_and_half_open(
        #[case] a: KeyRange,
        #[case] b: KeyRange,
        #[case] want: bool,
    ) {
        assert_eq!(a.intersects(&b), want, "{a} vs {b}");
        assert_eq!(b.intersects(&a), want, "{b} vs {a}");
    }

    #[test]
    fn ranges_print_with_escaped_keys() {
        assert_eq!(format!("{}", KeyRange::key(2, "a")), "2:[a, a\\x00)");
        assert_eq!(format!("{:?}", r("a", None)), "0:[a, ..)");
    }
}
