//! The model every suite judges answers against: the entries written, sorted.
//!
//! A table, a memtable and an iterator all promise the same reads of the entries they
//! hold: scans in internal-key order, seeks, and lookups at a snapshot. A sorted vector
//! answers each of them in a line or two, obviously right, so it is the reference for all
//! three suites.

use std::fmt;

use bytes::Bytes;
use ferris_core::iter::VecIter;
use ferris_core::{InternalKey, Lookup, SeqNo, ValueKind};

use crate::failure::{Outcome, Problem, ensure};
use crate::show;

/// An entry: an internal key and its value (empty for a tombstone).
pub(crate) type Entry = (InternalKey, Bytes);

/// The entries written, sorted: what every read must agree with.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    entries: Vec<Entry>,
}

impl Model {
    /// The model of `entries`, in any order. Of entries with the same internal key, the
    /// last is kept, as [`VecIter::new`] keeps it.
    pub(crate) fn new(entries: Vec<Entry>) -> Model {
        let mut model = Model { entries };
        model.sort();
        model
    }

    /// The model once `more` entries are written too.
    pub(crate) fn add(&mut self, more: &[Entry]) {
        self.entries.extend_from_slice(more);
        self.sort();
    }

    /// Sorts the entries in place, keeping the last of any with the same internal key.
    /// The memtable suite adds a batch at a time, so this runs often: the stable sort
    /// merges the sorted entries and the new ones in linear time, and nothing is copied.
    fn sort(&mut self) {
        let entries = &mut self.entries;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.reverse();
        entries.dedup_by(|a, b| a.0 == b.0);
        entries.reverse();
    }

    /// The entries, in internal-key order: the order a builder takes them in, and a scan
    /// yields them in.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// An iterator over the entries: the reference an iterator under test is walked
    /// beside.
    pub(crate) fn iter(&self) -> VecIter {
        VecIter::new(self.entries.clone())
    }

    /// The newest version of `user_key` at or below `snapshot`: the first entry at or
    /// after the seek key `(user_key, snapshot)`, if it has that user key.
    pub(crate) fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        let target = InternalKey::seek_key(Bytes::copy_from_slice(user_key), snapshot);
        let at = self.entries.partition_point(|(k, _)| *k < target);
        let (key, value) = self.entries.get(at)?;
        (key.user_key() == user_key).then(|| match key.kind() {
            ValueKind::Put => Lookup::Value(value.clone()),
            ValueKind::Delete => Lookup::Deleted,
        })
    }

    /// `Ok` when `got`, the answer of a lookup of `user_key` at `snapshot`, is the
    /// model's.
    pub(crate) fn check_get(
        &self,
        user_key: &[u8],
        snapshot: SeqNo,
        got: &Option<Lookup>,
    ) -> Outcome {
        lookup_agrees(
            format_args!("get({}, {snapshot})", show::bytes(user_key)),
            got,
            &self.get(user_key, snapshot),
        )
    }

    /// The sequence numbers of `user_key`'s versions, newest first.
    pub(crate) fn versions<'a>(&'a self, user_key: &'a [u8]) -> impl Iterator<Item = SeqNo> + 'a {
        let from = self
            .entries
            .partition_point(|(k, _)| k.user_key() < user_key);
        self.entries[from..]
            .iter()
            .take_while(move |(k, _)| k.user_key() == user_key)
            .map(|(k, _)| k.seq())
    }

    /// The distinct user keys, in order.
    pub(crate) fn user_keys(&self) -> Vec<Bytes> {
        let mut keys: Vec<Bytes> = self
            .entries
            .iter()
            .map(|(k, _)| k.user_key_bytes().clone())
            .collect();
        keys.dedup();
        keys
    }
}

/// `Ok` when `got`, the answer of the lookup `what`, is `want`.
pub(crate) fn lookup_agrees(
    what: impl fmt::Display,
    got: &Option<Lookup>,
    want: &Option<Lookup>,
) -> Outcome {
    ensure(got == want, || {
        Problem::mismatch(what, show::lookup(got), show::lookup(want))
    })
}

#[cfg(test)]
mod tests {
    use ferris_core::MAX_SEQNO;

    use super::*;

    fn put(k: &str, seq: SeqNo, v: &str) -> Entry {
        (
            InternalKey::new(Bytes::from(k.to_owned()), seq, ValueKind::Put),
            Bytes::from(v.to_owned()),
        )
    }

    fn del(k: &str, seq: SeqNo) -> Entry {
        (
            InternalKey::new(Bytes::from(k.to_owned()), seq, ValueKind::Delete),
            Bytes::new(),
        )
    }

    #[test]
    fn the_model_answers_lookups_at_snapshots() {
        let mut model = Model::new(vec![put("a", 5, "new"), put("a", 2, "old")]);
        model.add(&[del("a", 7), put("b", 1, "b")]);
        assert_eq!(model.get(b"a", 1), None);
        assert_eq!(model.get(b"a", 2), Some(Lookup::Value("old".into())));
        assert_eq!(model.get(b"a", 6), Some(Lookup::Value("new".into())));
        assert_eq!(model.get(b"a", 7), Some(Lookup::Deleted));
        assert_eq!(model.get(b"a", SeqNo::MAX), Some(Lookup::Deleted));
        assert_eq!(model.get(b"b", MAX_SEQNO), Some(Lookup::Value("b".into())));
        assert_eq!(model.get(b"c", MAX_SEQNO), None);
        assert_eq!(model.get(b"", MAX_SEQNO), None);
        assert_eq!(model.versions(b"a").collect::<Vec<_>>(), [7, 5, 2]);
        assert_eq!(model.versions(b"ab").count(), 0);
        assert_eq!(model.user_keys(), [Bytes::from("a"), Bytes::from("b")]);
    }
}
