//! The client side of a transaction: what it keeps until commit.

use std::ops::Bound;

use bytes::Bytes;
use ferris_core::{KeyspaceId, SeqNo, WriteBatch};

use crate::{Isolation, KeyRange, Overlay, RangeSet, TxnError, WriteSet};

/// What a transaction keeps until it commits: its buffered writes ([`WriteSet`]) and the
/// conflict ranges its reads recorded, and the rules that tie them to its reads: a read
/// of a key the transaction wrote answers from the buffer and records nothing; any other
/// read records its key (or a scan its whole range) under [`Isolation::Serializable`],
/// unless it is a snapshot read; a scan sees the writes made before it began.
///
/// An engine wraps it with a snapshot to read from (FerrisDB's `Transaction` does); the
/// reads themselves are closures it passes in, so this type does no I/O and can be
/// tested alone.
///
/// ```
/// use ferris_txn::{Isolation, KeyRange, TxnBuffer};
///
/// let mut txn = TxnBuffer::new(Isolation::Serializable);
/// // A read the buffer cannot answer goes to the database, and is recorded.
/// let balance = txn.read(0, b"alice", true, || Ok::<_, ()>(Some("100".into())))?;
/// assert_eq!(balance.as_deref(), Some(&b"100"[..]));
/// txn.writes_mut().put(0, "alice", "90").unwrap();
/// // Read again: the transaction's own write, and no second range.
/// let again = txn.read(0, b"alice", true, || unreachable!())?;
/// assert_eq!(again.as_deref(), Some(&b"90"[..]));
///
/// let (batch, check) = txn.into_commit(7).expect("it wrote something");
/// assert_eq!(batch.len(), 1);
/// assert_eq!(check.read_version, 7);
/// assert_eq!(check.ranges.iter().collect::<Vec<_>>(), [KeyRange::key(0, "alice")]);
/// # Ok::<(), ()>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct TxnBuffer {
    isolation: Isolation,
    writes: WriteSet,
    reads: RangeSet,
}

/// What the resolver checks before a transaction's batch is written
/// ([`Resolver::admit`](crate::Resolver::admit)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The transaction's read version.
    pub read_version: SeqNo,
    /// What is checked: its read ranges (serializable) or its write ranges (snapshot
    /// isolation).
    pub ranges: RangeSet,
    /// Why the resolver refused it, if it did: set by `admit`.
    pub refused: Option<TxnError>,
    /// The sequence number of its last write, once `admit` let it through: its commit
    /// version, where it falls in the serial order.
    pub commit: SeqNo,
}

impl TxnBuffer {
    /// An empty buffer for a transaction isolated as `isolation` says.
    pub fn new(isolation: Isolation) -> TxnBuffer {
        TxnBuffer {
            isolation,
            ..TxnBuffer::default()
        }
    }

    /// The value of `key` in `keyspace` as the transaction sees it: its own last write if
    /// it wrote the key, else what `fetch` reads from the database at the read version,
    /// recording the key as read when `record` (a snapshot read passes `false`) under
    /// serializable isolation.
    ///
    /// # Errors
    ///
    /// What `fetch` returns; nothing is recorded then.
    pub fn read<E>(
        &mut self,
        keyspace: KeyspaceId,
        key: &[u8],
        record: bool,
        fetch: impl FnOnce() -> Result<Option<Bytes>, E>,
    ) -> Result<Option<Bytes>, E> {
        if let Some(written) = self.writes.get(keyspace, key) {
            return Ok(written.map(Bytes::copy_from_slice));
        }
        let value = fetch()?;
        if record && self.isolation == Isolation::Serializable {
            self.reads.add_key(keyspace, key);
        }
        Ok(value)
    }

    /// A scan of `keyspace` between `lo` and `hi` as the transaction sees it: what `open`
    /// scans from the database (at the read version, over the same bounds) with the
    /// transaction's writes in the bounds laid over it. Records the whole range when
    /// `record` under serializable isolation, whatever the scan finds or the caller reads
    /// of it: an insert anywhere in it by a later commit must conflict.
    ///
    /// # Errors
    ///
    /// What `open` returns; nothing is recorded then.
    pub fn scan<I, E>(
        &mut self,
        keyspace: KeyspaceId,
        (lo, hi): (Bound<Bytes>, Bound<Bytes>),
        record: bool,
        open: impl FnOnce((Bound<Bytes>, Bound<Bytes>)) -> Result<I, E>,
    ) -> Result<Overlay<I>, E>
    where
        I: DoubleEndedIterator<Item = Result<(Bytes, Bytes), E>>,
    {
        let writes = self.writes.range(keyspace, as_slice(&lo), as_slice(&hi));
        let range = KeyRange::bounds(keyspace, (lo.clone(), hi.clone()));
        let base = open((lo, hi))?;
        if let Some(range) = range.filter(|_| record && self.isolation == Isolation::Serializable) {
            self.reads.add_range(range);
        }
        Ok(Overlay::new(base, writes))
    }

    /// The buffered writes, to add to.
    pub fn writes_mut(&mut self) -> &mut WriteSet {
        &mut self.writes
    }

    /// The buffered writes.
    pub fn writes(&self) -> &WriteSet {
        &self.writes
    }

    /// The read conflict ranges recorded so far.
    pub fn reads(&self) -> &RangeSet {
        &self.reads
    }

    /// What to commit for a transaction that read at `read_version`: the batch of its
    /// writes (one put or delete per key) and what to check; `None` when it wrote
    /// nothing: a read-only transaction saw one consistent snapshot, so it is serializable
    /// at its read version, and has nothing to check or write.
    pub fn into_commit(self, read_version: SeqNo) -> Option<(WriteBatch, Check)> {
        if self.writes.is_empty() {
            return None;
        }
        let batch = self.writes.to_batch();
        let ranges = match self.isolation {
            Isolation::Serializable => self.reads,
            Isolation::Snapshot => RangeSet::of_batch(&batch),
        };
        let check = Check {
            read_version,
            ranges,
            refused: None,
            commit: 0,
        };
        Some((batch, check))
    }
}

fn as_slice(bound: &Bound<Bytes>) -> Bound<&[u8]> {
    bound.as_ref().map(|k| &k[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found() -> Result<Option<Bytes>, ()> {
        Ok(Some(Bytes::from("v")))
    }

    #[test]
    fn snapshot_isolation_records_no_read_and_checks_its_writes() {
        let mut txn = TxnBuffer::new(Isolation::Snapshot);
        txn.read(0, b"a", true, found).unwrap();
        let none = std::iter::empty::<Result<(Bytes, Bytes), ()>>();
        txn.scan(0, (Bound::Unbounded, Bound::Unbounded), true, |_| Ok(none))
            .unwrap();
        assert!(txn.reads().is_empty());
        txn.writes_mut().delete(0, "b").unwrap();
        let (_, check) = txn.into_commit(3).unwrap();
        assert_eq!(
            check.ranges.iter().collect::<Vec<_>>(),
            [KeyRange::key(0, "b")]
        );
    }

    #[test]
    fn snapshot_reads_and_failed_reads_record_nothing() {
        let mut txn = TxnBuffer::new(Isolation::Serializable);
        txn.read(0, b"a", false, found).unwrap();
        assert_eq!(txn.read(0, b"b", true, || Err(())), Err(()));
        let failed = txn.scan::<std::iter::Empty<_>, _>(
            0,
            (Bound::Unbounded, Bound::Unbounded),
            true,
            |_| Err(()),
        );
        assert!(failed.is_err());
        assert!(txn.reads().is_empty());
    }

    #[test]
    fn a_scan_records_its_whole_range_and_sees_earlier_writes() {
        let mut txn = TxnBuffer::new(Isolation::Serializable);
        txn.writes_mut().put(0, "m", "mine").unwrap();
        let (lo, hi) = (
            Bound::Included(Bytes::from("a")),
            Bound::Excluded(Bytes::from("z")),
        );
        let stored = vec![Ok::<_, ()>((Bytes::from("b"), Bytes::from("theirs")))];
        let keys: Vec<Bytes> = (txn.scan(0, (lo, hi), true, |_| Ok(stored.into_iter())))
            .unwrap()
            .map(|kv| kv.unwrap().0)
            .collect();
        assert_eq!(keys, ["b", "m"]);
        let reads: Vec<KeyRange> = txn.reads().iter().collect();
        assert_eq!(reads, [KeyRange::bounds(0, "a".."z").unwrap()]);
        assert!(TxnBuffer::default().into_commit(1).is_none());
    }
}
