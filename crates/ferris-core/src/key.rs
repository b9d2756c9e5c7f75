//! Internal keys: how one user key carries many versions.
//!
//! An LSM tree never overwrites in place. A `put("k", "v2")` after `put("k", "v1")` adds a
//! second *version* of `k`, and a `delete("k")` adds a third, a *tombstone*. To keep all of
//! them in one sorted structure, every entry is stored under an **internal key**:
//!
//! ```text
//! +----------------------+------------------------------------------+
//! | user key (n bytes)   | trailer: u64 little-endian               |
//! |                      |   bits 63..8  sequence number (56 bits)  |
//! |                      |   bits  7..0  value kind (put, delete)   |
//! +----------------------+------------------------------------------+
//! ```
//!
//! Internal keys sort by user key ascending, then by sequence number **descending**, so the
//! newest version of a key comes first. A reader that wants "the newest version visible at
//! sequence `s`" seeks to `(key, s)` and takes the first entry it finds with the same user key:
//! every entry before that point is too new, and every entry after it is older.
//!
//! ```
//! use ferris_core::{InternalKey, ValueKind};
//!
//! let old = InternalKey::new(&b"apple"[..], 7, ValueKind::Put);
//! let new = InternalKey::new(&b"apple"[..], 9, ValueKind::Delete);
//! let next = InternalKey::new(&b"banana"[..], 1, ValueKind::Put);
//! assert!(new < old, "newer versions sort first");
//! assert!(old < next, "then the next user key");
//!
//! let bytes = new.encode();
//! assert_eq!(InternalKey::decode(&bytes)?, new);
//! # Ok::<(), ferris_core::DecodeError>(())
//! ```

use std::cmp::Ordering;
use std::fmt;

use bytes::Bytes;

use crate::DecodeError;

/// A sequence number: the position of a write in the database's total order of writes.
///
/// Only the low 56 bits are usable ([`MAX_SEQNO`]); the trailer's low byte holds the
/// [`ValueKind`].
pub type SeqNo = u64;

/// The largest sequence number an internal key can carry: 2^56 - 1.
///
/// At a million writes per second this lasts over two thousand years.
pub const MAX_SEQNO: SeqNo = (1 << 56) - 1;

/// Length of the trailer that follows the user key in an encoded internal key.
pub const TRAILER_LEN: usize = 8;

/// What an entry records about its user key.
///
/// The numeric values are part of the on-disk format (WAL batches and tables); never
/// renumber them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ValueKind {
    /// A tombstone: the key was deleted at this sequence number.
    Delete = 0,
    /// A value was written at this sequence number.
    Put = 1,
}

impl ValueKind {
    /// The kind with the largest tag. A seek key uses it so that it sorts before every real
    /// entry with the same user key and sequence number.
    pub const MAX: ValueKind = ValueKind::Put;

    /// Decodes a kind tag, or `None` for a tag this format version does not define.
    pub fn from_u8(tag: u8) -> Option<ValueKind> {
        match tag {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Put),
            _ => None,
        }
    }
}

/// Packs a sequence number and kind into the 8-byte trailer value.
///
/// # Panics
///
/// Panics if `seq` exceeds [`MAX_SEQNO`]; sequence numbers are assigned by the engine, so an
/// overflow is a bug, not bad input.
pub fn pack_trailer(seq: SeqNo, kind: ValueKind) -> u64 {
    assert!(seq <= MAX_SEQNO, "sequence number {seq} exceeds 56 bits");
    (seq << 8) | kind as u64
}

/// Splits a trailer into its sequence number and kind.
///
/// # Errors
///
/// Returns a [`DecodeError`] when the kind byte is not a known [`ValueKind`].
pub fn unpack_trailer(trailer: u64) -> Result<(SeqNo, ValueKind), DecodeError> {
    let tag = (trailer & 0xff) as u8;
    let kind = ValueKind::from_u8(tag).ok_or(DecodeError::new(0, "unknown value kind"))?;
    Ok((trailer >> 8, kind))
}

/// Compares two user keys. FerrisDB orders user keys bytewise (lexicographically).
///
/// Every search and every merge step runs through here, so it settles most comparisons
/// without a call to `memcmp`: the first eight bytes of each key, read as big-endian
/// integers, order the same way as the bytes do, and two keys that differ there (random
/// keys almost always do) are ordered by one integer comparison.
#[inline]
pub fn compare_user_keys(a: &[u8], b: &[u8]) -> Ordering {
    if let (Some(a8), Some(b8)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        let (a8, b8) = (u64::from_be_bytes(*a8), u64::from_be_bytes(*b8));
        if a8 != b8 {
            return a8.cmp(&b8);
        }
    }
    a.cmp(b)
}

/// An owned internal key: a user key, the sequence number of its write, and its kind.
///
/// The user key is a [`Bytes`], so cloning an `InternalKey` does not copy the key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct InternalKey {
    user_key: Bytes,
    seq: SeqNo,
    kind: ValueKind,
}

impl InternalKey {
    /// Creates an internal key.
    ///
    /// # Panics
    ///
    /// Panics if `seq` exceeds [`MAX_SEQNO`].
    pub fn new(user_key: impl Into<Bytes>, seq: SeqNo, kind: ValueKind) -> InternalKey {
        assert!(seq <= MAX_SEQNO, "sequence number {seq} exceeds 56 bits");
        InternalKey {
            user_key: user_key.into(),
            seq,
            kind,
        }
    }

    /// The key that sorts just before every version of `user_key` visible at `snapshot`:
    /// seek to it and the first entry with the same user key is the answer to a read at
    /// `snapshot`.
    pub fn seek_key(user_key: impl Into<Bytes>, snapshot: SeqNo) -> InternalKey {
        InternalKey::new(user_key, snapshot.min(MAX_SEQNO), ValueKind::MAX)
    }

    /// The user key.
    pub fn user_key(&self) -> &[u8] {
        &self.user_key
    }

    /// The user key as a shared buffer (cheap to clone).
    pub fn user_key_bytes(&self) -> &Bytes {
        &self.user_key
    }

    /// The sequence number.
    pub fn seq(&self) -> SeqNo {
        self.seq
    }

    /// The kind.
    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    /// The packed trailer value (`seq << 8 | kind`).
    pub fn trailer(&self) -> u64 {
        pack_trailer(self.seq, self.kind)
    }

    /// Borrows this key as an [`InternalKeyRef`].
    pub fn as_ref(&self) -> InternalKeyRef<'_> {
        InternalKeyRef {
            user_key: &self.user_key,
            seq: self.seq,
            kind: self.kind,
        }
    }

    /// Length of the encoded form: the user key plus the 8-byte trailer.
    pub fn encoded_len(&self) -> usize {
        self.user_key.len() + TRAILER_LEN
    }

    /// Encodes the key as `user_key || trailer (u64 LE)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded key to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.as_ref().encode_into(out);
    }

    /// Decodes an encoded internal key, copying the user key.
    ///
    /// # Errors
    ///
    /// Returns a [`DecodeError`] if `bytes` is shorter than the trailer or the kind is unknown.
    pub fn decode(bytes: &[u8]) -> Result<InternalKey, DecodeError> {
        InternalKeyRef::decode(bytes).map(|k| k.to_owned())
    }
}

impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_ref().cmp(&other.as_ref())
    }
}

impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for InternalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

/// A borrowed internal key, as decoded in place from a block or a batch.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InternalKeyRef<'a> {
    /// The user key.
    pub user_key: &'a [u8],
    /// The sequence number.
    pub seq: SeqNo,
    /// The kind.
    pub kind: ValueKind,
}

impl<'a> InternalKeyRef<'a> {
    /// Decodes `user_key || trailer` without copying.
    ///
    /// # Errors
    ///
    /// Returns a [`DecodeError`] if `bytes` is shorter than the trailer or the kind is unknown.
    pub fn decode(bytes: &'a [u8]) -> Result<InternalKeyRef<'a>, DecodeError> {
        let Some(split) = bytes.len().checked_sub(TRAILER_LEN) else {
            return Err(DecodeError::new(0, "internal key shorter than its trailer"));
        };
        let (user_key, trailer) = bytes.split_at(split);
        let trailer = u64::from_le_bytes(trailer.try_into().expect("trailer is 8 bytes"));
        let (seq, kind) = unpack_trailer(trailer).map_err(|e| e.at(split))?;
        Ok(InternalKeyRef {
            user_key,
            seq,
            kind,
        })
    }

    /// Appends `user_key || trailer` to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.user_key);
        out.extend_from_slice(&pack_trailer(self.seq, self.kind).to_le_bytes());
    }

    /// Copies the key into an owned [`InternalKey`].
    pub fn to_owned(&self) -> InternalKey {
        InternalKey::new(Bytes::copy_from_slice(self.user_key), self.seq, self.kind)
    }
}

impl Ord for InternalKeyRef<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_user_keys(self.user_key, other.user_key)
            .then_with(|| other.seq.cmp(&self.seq))
            .then_with(|| (other.kind as u8).cmp(&(self.kind as u8)))
    }
}

impl PartialOrd for InternalKeyRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for InternalKeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}:{:?}",
            self.user_key.escape_ascii(),
            self.seq,
            self.kind
        )
    }
}

/// Compares two *encoded* internal keys with the same order as [`InternalKey`]'s `Ord`.
///
/// Keys too short to hold a trailer sort before all well-formed keys (by bytes among
/// themselves), so the comparison is total and never panics on corrupt input.
pub fn compare_encoded(a: &[u8], b: &[u8]) -> Ordering {
    match (split_encoded(a), split_encoded(b)) {
        (Some((ua, ta)), Some((ub, tb))) => compare_user_keys(ua, ub).then_with(|| tb.cmp(&ta)),
        (None, None) => a.cmp(b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
    }
}

fn split_encoded(bytes: &[u8]) -> Option<(&[u8], u64)> {
    let split = bytes.len().checked_sub(TRAILER_LEN)?;
    let (user_key, trailer) = bytes.split_at(split);
    Some((user_key, u64::from_le_bytes(trailer.try_into().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(user: &[u8], seq: SeqNo, kind: ValueKind) -> InternalKey {
        InternalKey::new(user.to_vec(), seq, kind)
    }

    #[test]
    fn newer_versions_of_a_key_sort_first() {
        let mut keys = [
            key(b"b", 1, ValueKind::Put),
            key(b"a", 1, ValueKind::Put),
            key(b"a", 3, ValueKind::Delete),
            key(b"a", 2, ValueKind::Put),
        ];
        keys.sort();
        let seqs: Vec<_> = keys
            .iter()
            .map(|k| (k.user_key().to_vec(), k.seq()))
            .collect();
        assert_eq!(
            seqs,
            vec![
                (b"a".to_vec(), 3),
                (b"a".to_vec(), 2),
                (b"a".to_vec(), 1),
                (b"b".to_vec(), 1)
            ]
        );
    }

    #[test]
    fn seek_key_sorts_before_every_visible_version() {
        let seek = InternalKey::seek_key(&b"k"[..], 5);
        assert!(seek <= key(b"k", 5, ValueKind::Put));
        assert!(seek < key(b"k", 5, ValueKind::Delete));
        assert!(seek < key(b"k", 4, ValueKind::Put));
        assert!(seek > key(b"k", 6, ValueKind::Delete));
        assert!(seek > key(b"j", 0, ValueKind::Delete));
    }

    #[test]
    fn encoding_is_user_key_then_little_endian_trailer() {
        let encoded = key(b"ab", 0x0102, ValueKind::Put).encode();
        assert_eq!(encoded, [b'a', b'b', 0x01, 0x02, 0x01, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn decoding_rejects_short_input_and_unknown_kinds() {
        assert!(InternalKey::decode(b"short").is_err());
        let mut bad = key(b"k", 1, ValueKind::Put).encode();
        bad[1] = 7;
        assert_eq!(
            InternalKey::decode(&bad).unwrap_err().reason,
            "unknown value kind"
        );
    }

    #[test]
    #[should_panic(expected = "exceeds 56 bits")]
    fn sequence_numbers_beyond_56_bits_are_a_bug() {
        key(b"k", MAX_SEQNO + 1, ValueKind::Put);
    }

    fn any_key() -> impl Strategy<Value = InternalKey> {
        (
            proptest::collection::vec(0u8..4, 0..4),
            0..=MAX_SEQNO,
            prop_oneof![Just(ValueKind::Put), Just(ValueKind::Delete)],
        )
            .prop_map(|(k, s, kind)| InternalKey::new(k, s, kind))
    }

    proptest! {
        #[test]
        fn user_keys_compare_as_their_bytes(
            a in proptest::collection::vec(any::<u8>(), 0..20),
            b in proptest::collection::vec(any::<u8>(), 0..20),
            shared in proptest::collection::vec(any::<u8>(), 0..12),
        ) {
            // A shared prefix makes the first eight bytes tie often, as real keys do.
            let (a, b) = ([&shared[..], &a].concat(), [&shared[..], &b].concat());
            prop_assert_eq!(compare_user_keys(&a, &b), a.cmp(&b));
        }

        #[test]
        fn encode_decode_round_trips(k in any_key()) {
            prop_assert_eq!(InternalKey::decode(&k.encode()).unwrap(), k);
        }

        #[test]
        fn encoded_order_matches_struct_order(a in any_key(), b in any_key()) {
            prop_assert_eq!(compare_encoded(&a.encode(), &b.encode()), a.cmp(&b));
        }

        #[test]
        fn compare_encoded_is_total_on_arbitrary_bytes(
            a in proptest::collection::vec(any::<u8>(), 0..20),
            b in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            prop_assert_eq!(compare_encoded(&a, &b), compare_encoded(&b, &a).reverse());
        }
    }
}
