//! Read-your-writes for scans: a transaction's buffered writes laid over a scan of the
//! database.

use std::collections::VecDeque;
use std::iter::Fuse;

use bytes::Bytes;

/// A scan as a transaction sees it: the database's entries (`base`, a scan at the read
/// version) with the transaction's own writes in the same bounds laid over them (from
/// [`WriteSet::range`](crate::WriteSet::range)). A key the transaction put shows its new
/// value, inserted in key order; a key it deleted is gone; every other key is the
/// database's.
///
/// Double-ended, as the scan under it is: `.rev()` walks backwards, and `next` and
/// `next_back` may be mixed; they stop when they meet. An error from `base` is passed on
/// as it comes.
///
/// ```
/// use bytes::Bytes;
/// use ferris_txn::Overlay;
///
/// let db = [("a", "1"), ("b", "2"), ("c", "3")]
///     .map(|(k, v)| Ok::<_, ()>((Bytes::from(k), Bytes::from(v))));
/// // The transaction put "bb" and deleted "c".
/// let writes = vec![("bb".into(), Some("new".into())), ("c".into(), None)];
/// let keys: Vec<Bytes> = Overlay::new(db.into_iter(), writes).rev().map(|kv| kv.unwrap().0).collect();
/// assert_eq!(keys, ["bb", "b", "a"]);
/// ```
#[derive(Debug)]
pub struct Overlay<I> {
    base: Fuse<I>,
    /// The next entry of `base` from the front, taken and not yet yielded.
    front: Option<(Bytes, Bytes)>,
    /// The next entry of `base` from the back, taken and not yet yielded.
    back: Option<(Bytes, Bytes)>,
    /// The transaction's writes in the scan's bounds, in key order, not yet yielded.
    writes: VecDeque<(Bytes, Option<Bytes>)>,
}

impl<I, E> Overlay<I>
where
    I: DoubleEndedIterator<Item = Result<(Bytes, Bytes), E>>,
{
    /// Lays `writes` (in key order, each key once) over `base`.
    pub fn new(base: I, writes: Vec<(Bytes, Option<Bytes>)>) -> Overlay<I> {
        Overlay {
            base: base.fuse(),
            front: None,
            back: None,
            writes: writes.into(),
        }
    }
}

impl<I, E> Iterator for Overlay<I>
where
    I: DoubleEndedIterator<Item = Result<(Bytes, Bytes), E>>,
{
    type Item = Result<(Bytes, Bytes), E>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.front.is_none() {
                match self.base.next() {
                    Some(Ok(kv)) => self.front = Some(kv),
                    Some(Err(e)) => return Some(Err(e)),
                    // The base met its other end: what the back took is the last entry.
                    None => self.front = self.back.take(),
                }
            }
            let write_first = match (self.writes.front(), &self.front) {
                (None, None) => return None,
                (None, Some(_)) => false,
                (Some(_), None) => true,
                (Some((written, _)), Some((stored, _))) => written <= stored,
            };
            if !write_first {
                return self.front.take().map(Ok);
            }
            let (key, value) = self.writes.pop_front()?;
            // The transaction's write replaces the stored version of the same key.
            if self
                .front
                .as_ref()
                .is_some_and(|(stored, _)| *stored == key)
            {
                self.front = None;
            }
            if let Some(value) = value {
                return Some(Ok((key, value)));
            }
        }
    }
}

impl<I, E> DoubleEndedIterator for Overlay<I>
where
    I: DoubleEndedIterator<Item = Result<(Bytes, Bytes), E>>,
{
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if self.back.is_none() {
                match self.base.next_back() {
                    Some(Ok(kv)) => self.back = Some(kv),
                    Some(Err(e)) => return Some(Err(e)),
                    None => self.back = self.front.take(),
                }
            }
            let write_first = match (self.writes.back(), &self.back) {
                (None, None) => return None,
                (None, Some(_)) => false,
                (Some(_), None) => true,
                (Some((written, _)), Some((stored, _))) => written >= stored,
            };
            if !write_first {
                return self.back.take().map(Ok);
            }
            let (key, value) = self.writes.pop_back()?;
            if self.back.as_ref().is_some_and(|(stored, _)| *stored == key) {
                self.back = None;
            }
            if let Some(value) = value {
                return Some(Ok((key, value)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    type Base = std::vec::IntoIter<Result<(Bytes, Bytes), ()>>;

    fn overlay(stored: &BTreeMap<u8, u8>, written: &BTreeMap<u8, Option<u8>>) -> Overlay<Base> {
        let b = |x: u8| Bytes::from(vec![x]);
        let base: Vec<_> = stored.iter().map(|(&k, &v)| Ok((b(k), b(v)))).collect();
        let writes = written.iter().map(|(&k, v)| (b(k), v.map(b))).collect();
        Overlay::new(base.into_iter(), writes)
    }

    proptest! {
        /// Any mix of `next` and `next_back` yields exactly the merged map, each entry
        /// once, in order from each end.
        #[test]
        fn yields_the_merge_from_both_ends(
            stored in prop::collection::btree_map(0u8..20, any::<u8>(), 0..12),
            written in prop::collection::btree_map(0u8..20, prop::option::of(any::<u8>()), 0..12),
            directions in prop::collection::vec(any::<bool>(), 0..30),
        ) {
            let mut want: BTreeMap<u8, u8> = stored.clone();
            for (k, v) in &written {
                match v {
                    Some(v) => want.insert(*k, *v),
                    None => want.remove(k),
                };
            }
            let mut want: VecDeque<(u8, u8)> = want.into_iter().collect();
            let mut it = overlay(&stored, &written);
            let pair = |kv: Result<(Bytes, Bytes), ()>| {
                let (k, v) = kv.unwrap();
                (k[0], v[0])
            };
            for forward in directions.into_iter().chain(std::iter::repeat_n(true, 40)) {
                let (got, expected) = if forward {
                    (it.next().map(pair), want.pop_front())
                } else {
                    (it.next_back().map(pair), want.pop_back())
                };
                prop_assert_eq!(got, expected);
            }
        }
    }
}
