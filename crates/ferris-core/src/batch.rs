//! Write batches: a group of puts and deletes applied atomically.
//!
//! A batch is kept in its encoded form from the moment it is built. The same bytes become
//! one WAL record, and recovery decodes them back into entries, so the write path encodes
//! once and copies once (into the log).
//!
//! ```text
//! +------------+-----------+-------------------------------------------+
//! | seq: u64LE | count: u32LE | entry 0 | entry 1 | ... | entry count-1 |
//! +------------+-----------+-------------------------------------------+
//!
//! entry = kind: u8 | varint key_len | key | (kind == Put: varint value_len | value)
//! ```
//!
//! Entry `i` is written at sequence number `seq + i`, so a batch of `n` entries uses the
//! sequence numbers `seq ..= seq + n - 1`. `seq` is zero until the engine assigns it at
//! write time.
//!
//! ```
//! use ferris_core::{WriteBatch, ValueKind};
//!
//! let mut batch = WriteBatch::new();
//! batch.put(b"apple", b"red");
//! batch.delete(b"pear");
//! batch.set_seq(100);
//!
//! let decoded = WriteBatch::decode(batch.as_bytes())?;
//! let entries: Vec<_> = decoded.iter().collect();
//! assert_eq!(entries[0].seq, 100);
//! assert_eq!(entries[0].kind, ValueKind::Put);
//! assert_eq!(entries[1].key, b"pear");
//! assert_eq!(entries[1].seq, 101);
//! # Ok::<(), ferris_core::DecodeError>(())
//! ```

use crate::coding::{Decoder, put_varint64};
use crate::key::{SeqNo, ValueKind};
use crate::{DecodeError, MAX_BATCH_LEN, MAX_KEY_LEN, MAX_VALUE_LEN};

/// Size of the batch header: the 8-byte sequence number and the 4-byte entry count.
pub const BATCH_HEADER_LEN: usize = 12;

/// A batch of puts and deletes, held in its encoded form.
#[derive(Clone, PartialEq, Eq)]
pub struct WriteBatch {
    rep: Vec<u8>,
    count: u32,
    max_key_len: usize,
    max_value_len: usize,
    has_empty_key: bool,
}

impl Default for WriteBatch {
    fn default() -> Self {
        WriteBatch::new()
    }
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatch")
            .field("count", &self.count)
            .field("encoded_len", &self.rep.len())
            .finish()
    }
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::with_capacity(0)
    }

    /// An empty batch with room for `bytes` bytes of encoded entries before it reallocates
    /// (an entry takes its key and value plus a tag byte and two varint lengths: 11 bytes at
    /// most within the size limits).
    pub fn with_capacity(bytes: usize) -> WriteBatch {
        let mut rep = Vec::with_capacity(BATCH_HEADER_LEN + bytes);
        rep.resize(BATCH_HEADER_LEN, 0);
        WriteBatch {
            rep,
            count: 0,
            max_key_len: 0,
            max_value_len: 0,
            has_empty_key: false,
        }
    }

    /// Adds a put of `value` under `key`.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut WriteBatch {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.push_header(ValueKind::Put, key);
        put_varint64(&mut self.rep, value.len() as u64);
        self.rep.extend_from_slice(value);
        self.max_value_len = self.max_value_len.max(value.len());
        self
    }

    /// Adds a delete of `key`.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut WriteBatch {
        self.push_header(ValueKind::Delete, key.as_ref());
        self
    }

    fn push_header(&mut self, kind: ValueKind, key: &[u8]) {
        self.count = self
            .count
            .checked_add(1)
            .expect("a batch holds at most u32::MAX entries");
        self.rep[8..12].copy_from_slice(&self.count.to_le_bytes());
        self.rep.push(kind as u8);
        put_varint64(&mut self.rep, key.len() as u64);
        self.rep.extend_from_slice(key);
        self.max_key_len = self.max_key_len.max(key.len());
        self.has_empty_key |= key.is_empty();
    }

    /// Appends every entry of `other` after this batch's entries. The result is still one
    /// batch, applied all or nothing; the engine uses this to write a group of concurrent
    /// batches as a single WAL record.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn append(&mut self, other: &WriteBatch) -> &mut WriteBatch {
        self.count = self
            .count
            .checked_add(other.count)
            .expect("a batch holds at most u32::MAX entries");
        self.rep[8..12].copy_from_slice(&self.count.to_le_bytes());
        self.rep.extend_from_slice(&other.rep[BATCH_HEADER_LEN..]);
        self.max_key_len = self.max_key_len.max(other.max_key_len);
        self.max_value_len = self.max_value_len.max(other.max_value_len);
        self.has_empty_key |= other.has_empty_key;
        self
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the batch has no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes every entry, keeping the allocation.
    pub fn clear(&mut self) {
        self.rep.truncate(BATCH_HEADER_LEN);
        self.rep.fill(0);
        self.count = 0;
        self.max_key_len = 0;
        self.max_value_len = 0;
        self.has_empty_key = false;
    }

    /// The sequence number of the first entry (zero until assigned).
    pub fn seq(&self) -> SeqNo {
        u64::from_le_bytes(self.rep[..8].try_into().expect("8 bytes"))
    }

    /// Assigns the sequence number of the first entry; entry `i` gets `seq + i`.
    pub fn set_seq(&mut self, seq: SeqNo) {
        self.rep[..8].copy_from_slice(&seq.to_le_bytes());
    }

    /// The longest key in the batch, so a caller can enforce limits without decoding.
    pub fn max_key_len(&self) -> usize {
        self.max_key_len
    }

    /// The longest value in the batch.
    pub fn max_value_len(&self) -> usize {
        self.max_value_len
    }

    /// Checks the batch against [`MAX_KEY_LEN`], [`MAX_VALUE_LEN`] and
    /// [`MAX_BATCH_LEN`], and that no key is empty.
    ///
    /// # Errors
    ///
    /// Returns a [`LimitError`] naming the first limit broken.
    pub fn check_limits(&self) -> Result<(), LimitError> {
        if self.has_empty_key {
            return Err(LimitError::EmptyKey);
        }
        if self.max_key_len > MAX_KEY_LEN {
            return Err(LimitError::KeyTooLarge {
                len: self.max_key_len,
                max: MAX_KEY_LEN,
            });
        }
        if self.max_value_len > MAX_VALUE_LEN {
            return Err(LimitError::ValueTooLarge {
                len: self.max_value_len,
                max: MAX_VALUE_LEN,
            });
        }
        if self.rep.len() > MAX_BATCH_LEN {
            return Err(LimitError::BatchTooLarge {
                len: self.rep.len(),
                max: MAX_BATCH_LEN,
            });
        }
        Ok(())
    }

    /// The encoded batch: exactly the bytes of its WAL record.
    pub fn as_bytes(&self) -> &[u8] {
        &self.rep
    }

    /// Iterates over the entries.
    pub fn iter(&self) -> BatchIter<'_> {
        BatchIter {
            decoder: Decoder::new(&self.rep[BATCH_HEADER_LEN..]),
            seq: self.seq(),
            left: self.count,
        }
    }

    /// Validates an encoded batch (as read back from a WAL record) and borrows it.
    ///
    /// Every entry is checked before this returns, so applying the result cannot fail
    /// half-way: a batch is applied whole or not at all.
    ///
    /// # Errors
    ///
    /// Returns a [`DecodeError`] if the header is short, an entry is malformed, the entry
    /// count disagrees with the entries present, or bytes follow the last entry.
    pub fn decode(bytes: &[u8]) -> Result<BatchRef<'_>, DecodeError> {
        let mut d = Decoder::new(bytes);
        let seq = d
            .u64_le()
            .map_err(|_| DecodeError::new(0, "batch shorter than its header"))?;
        let count = d
            .u32_le()
            .map_err(|_| DecodeError::new(0, "batch shorter than its header"))?;
        let body = d.remaining();
        let mut iter = BatchIter {
            decoder: Decoder::new(body),
            seq,
            left: count,
        };
        let mut n_seen = 0u32;
        while iter.left > 0 {
            iter.try_next().map_err(|e| e.at(BATCH_HEADER_LEN))?;
            n_seen += 1;
        }
        if !iter.decoder.is_empty() {
            return Err(DecodeError::new(
                BATCH_HEADER_LEN + iter.decoder.position(),
                "bytes after the last batch entry",
            ));
        }
        debug_assert_eq!(n_seen, count);
        if count > 0
            && seq
                .checked_add(u64::from(count) - 1)
                .is_none_or(|last| last > crate::MAX_SEQNO)
        {
            return Err(DecodeError::new(0, "batch sequence numbers exceed 56 bits"));
        }
        Ok(BatchRef { seq, count, body })
    }
}

/// A decoded, validated batch borrowed from its encoded bytes.
#[derive(Debug, Clone, Copy)]
pub struct BatchRef<'a> {
    seq: SeqNo,
    count: u32,
    body: &'a [u8],
}

impl<'a> BatchRef<'a> {
    /// The sequence number of the first entry.
    pub fn seq(&self) -> SeqNo {
        self.seq
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the batch has no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The sequence number of the last entry, or `None` for an empty batch.
    pub fn last_seq(&self) -> Option<SeqNo> {
        self.count.checked_sub(1).map(|n| self.seq + u64::from(n))
    }

    /// Iterates over the entries. The batch was validated by [`WriteBatch::decode`], so
    /// this yields exactly [`BatchRef::len`] entries.
    pub fn iter(&self) -> BatchIter<'a> {
        BatchIter {
            decoder: Decoder::new(self.body),
            seq: self.seq,
            left: self.count,
        }
    }
}

/// One entry of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEntry<'a> {
    /// The sequence number this entry is written at.
    pub seq: SeqNo,
    /// Put or delete.
    pub kind: ValueKind,
    /// The user key.
    pub key: &'a [u8],
    /// The value; empty for a delete.
    pub value: &'a [u8],
}

/// Iterator over the entries of a batch.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    decoder: Decoder<'a>,
    seq: SeqNo,
    left: u32,
}

impl<'a> BatchIter<'a> {
    fn try_next(&mut self) -> Result<BatchEntry<'a>, DecodeError> {
        let tag = self.decoder.u8()?;
        let kind = ValueKind::from_u8(tag).ok_or(DecodeError::new(
            self.decoder.position() - 1,
            "unknown batch entry kind",
        ))?;
        let key = self.decoder.length_prefixed()?;
        let value = match kind {
            ValueKind::Put => self.decoder.length_prefixed()?,
            ValueKind::Delete => &[],
        };
        let entry = BatchEntry {
            seq: self.seq,
            kind,
            key,
            value,
        };
        self.seq += 1;
        self.left -= 1;
        Ok(entry)
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = BatchEntry<'a>;

    fn next(&mut self) -> Option<BatchEntry<'a>> {
        if self.left == 0 {
            return None;
        }
        // Batches are built by `WriteBatch` or validated by `WriteBatch::decode`, so every
        // entry decodes; a failure here would be a bug in this module.
        Some(self.try_next().expect("batch was validated"))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for BatchIter<'_> {}

/// A batch holds a key, a value or a total longer than FerrisDB accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A key is empty. FerrisDB refuses empty keys so that every stored key has at least
    /// one byte, which keeps bounds and prefixes unambiguous.
    #[error("keys must not be empty")]
    EmptyKey,
    /// A key is longer than [`MAX_KEY_LEN`].
    #[error("key of {len} bytes exceeds the limit of {max} bytes")]
    KeyTooLarge {
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value is longer than [`MAX_VALUE_LEN`].
    #[error("value of {len} bytes exceeds the limit of {max} bytes")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The encoded batch is longer than [`MAX_BATCH_LEN`].
    #[error("batch of {len} encoded bytes exceeds the limit of {max} bytes")]
    BatchTooLarge {
        /// The batch's encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_batch_round_trips() {
        let batch = WriteBatch::new();
        let decoded = WriteBatch::decode(batch.as_bytes()).unwrap();
        assert!(decoded.is_empty());
        assert_eq!(decoded.last_seq(), None);
    }

    #[test]
    fn append_concatenates_entries_in_order() {
        let mut a = WriteBatch::new();
        a.put(b"a", b"1");
        let mut b = WriteBatch::new();
        b.delete(b"b").put(b"c", vec![7; 300]);
        a.append(&b).set_seq(10);
        let decoded = WriteBatch::decode(a.as_bytes()).unwrap();
        let got: Vec<_> = decoded
            .iter()
            .map(|e| (e.seq, e.kind, e.key.to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![
                (10, ValueKind::Put, b"a".to_vec()),
                (11, ValueKind::Delete, b"b".to_vec()),
                (12, ValueKind::Put, b"c".to_vec()),
            ]
        );
        assert_eq!(a.max_value_len(), 300);
    }

    #[test]
    fn empty_keys_break_the_limits() {
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"v");
        assert_eq!(batch.check_limits(), Ok(()));
        batch.delete(b"");
        assert_eq!(batch.check_limits(), Err(LimitError::EmptyKey));
        batch.clear();
        assert_eq!(batch.check_limits(), Ok(()));
    }

    #[test]
    fn clear_resets_everything() {
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"v").set_seq(9);
        batch.clear();
        assert_eq!(batch, WriteBatch::new());
    }

    #[test]
    fn decode_rejects_count_mismatch_and_trailing_bytes() {
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"v");
        let mut more = batch.as_bytes().to_vec();
        more[8] = 2;
        assert!(
            WriteBatch::decode(&more).is_err(),
            "count says two, one entry present"
        );
        let mut trailing = batch.as_bytes().to_vec();
        trailing.push(0);
        assert_eq!(
            WriteBatch::decode(&trailing).unwrap_err().reason,
            "bytes after the last batch entry"
        );
        assert!(WriteBatch::decode(&[0; 5]).is_err());
    }

    #[test]
    fn limits_are_checked_without_decoding() {
        let mut batch = WriteBatch::new();
        batch.put(vec![0; MAX_KEY_LEN], b"");
        assert_eq!(batch.check_limits(), Ok(()));
        batch.delete(vec![0; MAX_KEY_LEN + 1]);
        assert_eq!(
            batch.check_limits(),
            Err(LimitError::KeyTooLarge {
                len: MAX_KEY_LEN + 1,
                max: MAX_KEY_LEN
            })
        );
    }

    #[test]
    fn sequence_overflow_is_rejected() {
        let mut batch = WriteBatch::new();
        batch.put(b"a", b"").put(b"b", b"");
        batch.set_seq(crate::MAX_SEQNO);
        assert!(WriteBatch::decode(batch.as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn batches_round_trip(
            seq in 0u64..1 << 40,
            ops in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..8), proptest::collection::vec(any::<u8>(), 0..8)), 0..20),
        ) {
            let mut batch = WriteBatch::new();
            for (is_put, k, v) in &ops {
                if *is_put { batch.put(k, v); } else { batch.delete(k); }
            }
            batch.set_seq(seq);
            let decoded = WriteBatch::decode(batch.as_bytes()).unwrap();
            prop_assert_eq!(decoded.len(), ops.len());
            for (i, (entry, (is_put, k, v))) in decoded.iter().zip(&ops).enumerate() {
                prop_assert_eq!(entry.seq, seq + i as u64);
                prop_assert_eq!(entry.kind == ValueKind::Put, *is_put);
                prop_assert_eq!(entry.key, &k[..]);
                prop_assert_eq!(entry.value, if *is_put { &v[..] } else { &[][..] });
            }
            let via_iter: Vec<_> = batch.iter().collect();
            prop_assert_eq!(via_iter, decoded.iter().collect::<Vec<_>>());
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(batch) = WriteBatch::decode(&bytes) {
                prop_assert_eq!(batch.iter().count(), batch.len());
            }
        }
    }
}
