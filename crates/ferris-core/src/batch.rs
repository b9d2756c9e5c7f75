//! Write batches: a group of puts and deletes applied atomically.
//!
//! A batch is kept in its encoded form from the moment it is built. The same bytes become
//! one WAL record, and recovery decodes them back into entries, so the write path encodes
//! once and copies once (into the log).
//!
//! ```text
//! +------------+--------------+-------------------------------------------+
//! | seq: u64LE | count: u32LE | entry 0 | entry 1 | ... | entry count-1 |
//! +------------+--------------+-------------------------------------------+
//!
//! entry = kind: u8 | (kind & 0x80: varint32 keyspace) | varint key_len | key
//!         | (kind & 0x7f == Put: varint value_len | value)
//!         | (kind & 0x7f == DeleteRange: varint end_len | end)
//! ```
//!
//! The kinds are [`BatchOp`]'s: `0` delete, `1` put, `2` range delete. A range delete's
//! key is the first key of the range (possibly empty: from the first key) and its end the
//! first key past it, exclusive, or empty for no end ([`crate::range_del`]).
//!
//! Entry `i` is written at sequence number `seq + i`, so a batch of `n` entries uses the
//! sequence numbers `seq ..= seq + n - 1`. `seq` is zero until the engine assigns it at
//! write time.
//!
//! # Keyspaces
//!
//! One batch may write to several keyspaces ([`KeyspaceId`]) and is still applied all or
//! nothing: the keyspaces share the WAL, so the batch is one record. An entry outside the
//! default keyspace sets the top bit of its kind byte ([`KEYSPACE_FLAG`]) and names its
//! keyspace in a varint after it; an entry in [`DEFAULT_KEYSPACE`] has neither. So a batch
//! that writes only the default keyspace, which is every batch of a database that never made
//! another one, is byte for byte what it was before keyspaces existed, and costs nothing
//! extra. (RocksDB encodes column families the same way: `kTypeColumnFamilyValue`.) The
//! flag on an entry of the default keyspace would be a second spelling of the same entry, so
//! the decoder refuses it: every batch has exactly one encoding.
//!
//! The sequence numbers are shared too. Entry `i` is at `seq + i` whatever its keyspace,
//! and [`WriteBatch::iter_in`] yields one keyspace's entries, each with its own number, for
//! that keyspace's memtable.
//!
//! ```
//! use ferris_core::{BatchOp, DEFAULT_KEYSPACE, WriteBatch};
//!
//! let mut batch = WriteBatch::new();
//! batch.put(b"apple", b"red");
//! batch.delete_in(7, b"pear");
//! batch.put_in(3, b"plum", b"purple");
//! batch.set_seq(100);
//!
//! let decoded = WriteBatch::decode(batch.as_bytes())?;
//! let entries: Vec<_> = decoded.iter().collect();
//! assert_eq!(entries[0].seq, 100);
//! assert_eq!(entries[0].kind, BatchOp::Put);
//! assert_eq!(entries[0].keyspace, DEFAULT_KEYSPACE);
//! assert_eq!((entries[1].keyspace, entries[1].key), (7, &b"pear"[..]));
//! assert_eq!(entries[1].seq, 101);
//!
//! // One keyspace's entries keep the sequence numbers of their places in the batch.
//! let in_3: Vec<_> = decoded.iter_in(3).map(|e| (e.seq, e.key)).collect();
//! assert_eq!(in_3, [(102, &b"plum"[..])]);
//! assert_eq!(batch.single_keyspace(), None);
//! assert_eq!(batch.keyspaces(), [DEFAULT_KEYSPACE, 3, 7]);
//! # Ok::<(), ferris_core::DecodeError>(())
//! ```

use std::ops::RangeBounds;
use std::time::Duration;

use crate::coding::{Decoder, put_varint32, put_varint64};
use crate::expiry::{EXPIRY_LEN, Ttl};
use crate::key::{SeqNo, ValueKind};
use crate::{DEFAULT_KEYSPACE, DecodeError, KeyspaceId, MAX_BATCH_LEN, MAX_KEY_LEN, MAX_VALUE_LEN};

/// Size of the batch header: the 8-byte sequence number and the 4-byte entry count.
pub const BATCH_HEADER_LEN: usize = 12;

/// The bit of an entry's kind byte that says a varint32 keyspace id follows it. Entries of
/// [`DEFAULT_KEYSPACE`] never set it.
pub const KEYSPACE_FLAG: u8 = 0x80;

/// What a batch entry does. The numbers are the entry's kind byte on disk (WAL records);
/// never renumber them. `Delete` and `Put` share [`ValueKind`]'s numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BatchOp {
    /// Delete one key.
    Delete = 0,
    /// Put a value under a key.
    Put = 1,
    /// Delete every key from [`BatchEntry::key`] (inclusive) to [`BatchEntry::value`]
    /// (exclusive; empty: no end). Only in record format 3 and later.
    DeleteRange = 2,
}

impl BatchOp {
    /// Decodes a kind byte (without the keyspace flag), or `None` for one no format defines.
    pub fn from_u8(tag: u8) -> Option<BatchOp> {
        match tag {
            0 => Some(BatchOp::Delete),
            1 => Some(BatchOp::Put),
            2 => Some(BatchOp::DeleteRange),
            _ => None,
        }
    }

    /// The kind of version a point entry leaves in a memtable; `None` for a range delete,
    /// which leaves a range tombstone instead.
    pub fn value_kind(self) -> Option<ValueKind> {
        match self {
            BatchOp::Delete => Some(ValueKind::Delete),
            BatchOp::Put => Some(ValueKind::Put),
            BatchOp::DeleteRange => None,
        }
    }
}

/// Which keyspaces a batch's entries are in, kept up to date as entries are added so that
/// the engine can route a batch without walking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    /// No entries yet.
    Empty,
    /// Every entry is in this keyspace.
    One(KeyspaceId),
    /// Entries in more than one keyspace.
    Several,
}

impl Span {
    fn with(self, other: Span) -> Span {
        match (self, other) {
            (Span::Empty, s) | (s, Span::Empty) => s,
            (Span::One(a), Span::One(b)) if a == b => Span::One(a),
            _ => Span::Several,
        }
    }

    fn single(self) -> Option<KeyspaceId> {
        match self {
            Span::Empty => Some(DEFAULT_KEYSPACE),
            Span::One(k) => Some(k),
            Span::Several => None,
        }
    }
}

/// A batch of puts and deletes, held in its encoded form.
#[derive(Clone, PartialEq, Eq)]
pub struct WriteBatch {
    rep: Vec<u8>,
    count: u32,
    max_key_len: usize,
    max_value_len: usize,
    has_empty_key: bool,
    /// A range delete over no key was asked for ([`LimitError::EmptyRange`]).
    has_empty_range: bool,
    /// Some entry is a range delete.
    has_range: bool,
    span: Span,
    /// Puts in the batch.
    puts: u32,
    /// The puts that carry an expiry trailer, in order ([`WriteBatch::put_with_ttl_in`]).
    expiring: Vec<ExpiringPut>,
}

/// A put whose value ends with an expiry trailer ([`crate::expiry`]), and what the trailer
/// is still to say.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExpiringPut {
    /// Its place in the batch.
    index: u32,
    keyspace: KeyspaceId,
    /// Where its trailer starts in the encoded batch.
    at: usize,
    /// Its time to live, until [`WriteBatch::resolve_expiry`] turns it into an expiry
    /// time; `None` once it has, or for a put that never expires.
    ttl: Option<Duration>,
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
            .field("single_keyspace", &self.span.single())
            .finish()
    }
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::with_capacity(0)
    }

    /// An empty batch with room for `bytes` bytes of encoded entries before it reallocates
    /// (an entry takes its key and value plus a kind byte and two varint lengths: 11 bytes
    /// at most within the size limits; 16 for an entry outside the default keyspace, whose
    /// keyspace id takes up to 5 more).
    pub fn with_capacity(bytes: usize) -> WriteBatch {
        let mut rep = Vec::with_capacity(BATCH_HEADER_LEN + bytes);
        rep.resize(BATCH_HEADER_LEN, 0);
        WriteBatch {
            rep,
            count: 0,
            max_key_len: 0,
            max_value_len: 0,
            has_empty_key: false,
            has_empty_range: false,
            has_range: false,
            span: Span::Empty,
            puts: 0,
            expiring: Vec::new(),
        }
    }

    /// A batch of one put of `value` (or, with `None`, one delete) of `key` in `keyspace`,
    /// allocated to its size at once: what a single `put` or `delete` call writes.
    pub fn one(keyspace: KeyspaceId, key: &[u8], value: Option<&[u8]>) -> WriteBatch {
        // The tag, two lengths and (outside the default keyspace) the id.
        let mut batch = WriteBatch::with_capacity(key.len() + value.map_or(0, <[u8]>::len) + 16);
        match value {
            Some(value) => batch.put_in(keyspace, key, value),
            None => batch.delete_in(keyspace, key),
        };
        batch
    }

    /// A batch of one put with an expiry trailer still to be set ([`WriteBatch::put_expiring_in`]),
    /// allocated to its size at once: what a single put into an expiring keyspace writes.
    pub fn one_expiring(
        keyspace: KeyspaceId,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
    ) -> WriteBatch {
        let len = key.len() + value.len() + EXPIRY_LEN + 16;
        let mut batch = WriteBatch::with_capacity(len);
        batch.put_expiring_in(keyspace, key, value, ttl);
        batch
    }

    /// Adds a put of `value` under `key` in the default keyspace.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut WriteBatch {
        self.put_in(DEFAULT_KEYSPACE, key, value)
    }

    /// Adds a put of `value` under `key` in `keyspace`.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn put_in(
        &mut self,
        keyspace: KeyspaceId,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> &mut WriteBatch {
        self.push_put(keyspace, key.as_ref(), value.as_ref(), 0);
        self
    }

    /// Adds a put of `value` under `key` in the default keyspace that expires `ttl` after
    /// it is written. See [`WriteBatch::put_with_ttl_in`].
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn put_with_ttl(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> &mut WriteBatch {
        self.put_with_ttl_in(DEFAULT_KEYSPACE, key, value, ttl)
    }

    /// Adds a put of `value` under `key` in `keyspace` that expires `ttl` after it is
    /// written (when the engine takes the batch), in place of the keyspace's default
    /// ([`Ttl::On`]): from then on the key reads as absent. The keyspace must have been
    /// created with expiring values; if not, the engine refuses the batch with
    /// [`LimitError::TtlNotEnabled`]. The value is stored 8 bytes longer, so the largest
    /// one accepted is 8 bytes short of [`MAX_VALUE_LEN`].
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn put_with_ttl_in(
        &mut self,
        keyspace: KeyspaceId,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> &mut WriteBatch {
        self.put_expiring_in(keyspace, key, value, Some(ttl))
    }

    /// [`WriteBatch::put_with_ttl_in`] with the time to live optional: `None` makes a
    /// value that never expires, whatever the keyspace's default.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn put_expiring_in(
        &mut self,
        keyspace: KeyspaceId,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: Option<Duration>,
    ) -> &mut WriteBatch {
        self.push_expiring(keyspace, key.as_ref(), value.as_ref(), ttl);
        self
    }

    /// A put whose value is followed by an expiry trailer still to be set, living `ttl`
    /// (`None`: never expiring).
    fn push_expiring(
        &mut self,
        keyspace: KeyspaceId,
        key: &[u8],
        value: &[u8],
        ttl: Option<Duration>,
    ) {
        self.push_put(keyspace, key, value, EXPIRY_LEN);
        self.expiring.push(ExpiringPut {
            index: self.count - 1,
            keyspace,
            at: self.rep.len() - EXPIRY_LEN,
            ttl,
        });
    }

    /// A put of `value` and `trailer` zero bytes after it.
    fn push_put(&mut self, keyspace: KeyspaceId, key: &[u8], value: &[u8], trailer: usize) {
        self.push_header(keyspace, BatchOp::Put, key);
        let len = value.len() + trailer;
        put_varint64(&mut self.rep, len as u64);
        self.rep.extend_from_slice(value);
        self.rep.resize(self.rep.len() + trailer, 0);
        self.max_value_len = self.max_value_len.max(len);
        self.puts += 1;
    }

    /// Makes the batch what expiring keyspaces store ([`crate::expiry`]), as the engine
    /// does once when it takes a batch, with `ttl_of` saying how each keyspace's values
    /// expire and `now` the time of the write: every put into an expiring keyspace gets
    /// an expiry trailer, set from its own time to live, or else from its keyspace's
    /// default. Puts that already carry one keep it, so a second call changes nothing.
    ///
    /// Cheap when every put into an expiring keyspace was made with a time to live (only
    /// their trailers are written, in place); otherwise the batch is encoded again, with
    /// the trailers added.
    ///
    /// # Errors
    ///
    /// [`LimitError::TtlNotEnabled`] for a put with a time to live into a keyspace whose
    /// values do not expire.
    pub fn resolve_expiry(
        &mut self,
        now: u64,
        ttl_of: impl Fn(KeyspaceId) -> Ttl,
    ) -> Result<(), LimitError> {
        if let Some(put) = self.expiring.iter().find(|p| !ttl_of(p.keyspace).is_on()) {
            return Err(LimitError::TtlNotEnabled {
                keyspace: put.keyspace,
            });
        }
        let bare = match self.span {
            Span::Empty => 0,
            Span::One(k) if ttl_of(k).is_on() => self.puts as usize - self.expiring.len(),
            Span::One(_) => 0,
            Span::Several => {
                let puts = self.iter().filter(|e| e.kind == BatchOp::Put);
                puts.filter(|e| ttl_of(e.keyspace).is_on()).count() - self.expiring.len()
            }
        };
        if bare > 0 {
            self.add_trailers(&ttl_of);
        }
        for put in &mut self.expiring {
            if let Some(ttl) = put.ttl.take() {
                let expiry = crate::expiry::expires_at(now, ttl);
                self.rep[put.at..put.at + EXPIRY_LEN].copy_from_slice(&expiry.to_le_bytes());
            }
        }
        Ok(())
    }

    /// Encodes the batch again with a trailer after every put into an expiring keyspace
    /// that has none, to live its keyspace's default.
    fn add_trailers(&mut self, ttl_of: &impl Fn(KeyspaceId) -> Ttl) {
        let mut out = WriteBatch::with_capacity(self.rep.len() + self.puts as usize * 8);
        let mut expiring = self.expiring.iter().peekable();
        for (i, e) in self.iter().enumerate() {
            let (k, key, value) = (e.keyspace, e.key, e.value);
            let carried = expiring.next_if(|p| p.index as usize == i);
            match (e.kind, ttl_of(k), carried) {
                (BatchOp::Put, _, Some(put)) => {
                    let value = &value[..value.len() - EXPIRY_LEN];
                    out.push_expiring(k, key, value, put.ttl);
                }
                (BatchOp::Put, Ttl::On { default }, None) => {
                    out.push_expiring(k, key, value, default);
                }
                (BatchOp::Put, Ttl::Off, None) => {
                    out.put_in(k, key, value);
                }
                (BatchOp::Delete, ..) => {
                    out.delete_in(k, key);
                }
                (BatchOp::DeleteRange, ..) => {
                    out.push_range(k, key, (!value.is_empty()).then_some(value));
                }
            }
        }
        out.set_seq(self.seq());
        // Limits found before (an empty key or range, which no entry records) stay found.
        out.has_empty_key |= self.has_empty_key;
        out.has_empty_range |= self.has_empty_range;
        *self = out;
    }

    /// Adds a delete of `key` in the default keyspace.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut WriteBatch {
        self.delete_in(DEFAULT_KEYSPACE, key)
    }

    /// Adds a delete of `key` in `keyspace`.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn delete_in(&mut self, keyspace: KeyspaceId, key: impl AsRef<[u8]>) -> &mut WriteBatch {
        self.push_header(keyspace, BatchOp::Delete, key.as_ref());
        self
    }

    /// Adds a delete of every key in `range` in the default keyspace: one entry, whatever
    /// the range holds. See [`WriteBatch::delete_range_in`].
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn delete_range<K: AsRef<[u8]>>(&mut self, range: impl RangeBounds<K>) -> &mut WriteBatch {
        self.delete_range_in(DEFAULT_KEYSPACE, range)
    }

    /// Adds a delete of every key in `range` in `keyspace`: one range tombstone
    /// ([`crate::range_del`]) covering every version written before it. A range that holds
    /// no key (reversed, or empty like `"b".."b"`) makes [`WriteBatch::check_limits`] fail
    /// with [`LimitError::EmptyRange`], so the engine refuses the batch.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn delete_range_in<K: AsRef<[u8]>>(
        &mut self,
        keyspace: KeyspaceId,
        range: impl RangeBounds<K>,
    ) -> &mut WriteBatch {
        match crate::range_del::key_range(&range) {
            Some((start, end)) => self.push_range(keyspace, &start, end.as_deref()),
            None => {
                self.has_empty_range = true;
                self
            }
        }
    }

    /// Adds a delete of every key starting with `prefix` in `keyspace` (all of them for an
    /// empty prefix).
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn delete_prefix_in(
        &mut self,
        keyspace: KeyspaceId,
        prefix: impl AsRef<[u8]>,
    ) -> &mut WriteBatch {
        let (start, end) = crate::range_del::prefix_range(prefix.as_ref());
        self.push_range(keyspace, &start, end.as_deref())
    }

    /// Adds a delete of every key starting with `prefix` in the default keyspace.
    ///
    /// # Panics
    ///
    /// Panics if the batch would hold more than `u32::MAX` entries.
    pub fn delete_prefix(&mut self, prefix: impl AsRef<[u8]>) -> &mut WriteBatch {
        self.delete_prefix_in(DEFAULT_KEYSPACE, prefix)
    }

    fn push_range(
        &mut self,
        keyspace: KeyspaceId,
        start: &[u8],
        end: Option<&[u8]>,
    ) -> &mut WriteBatch {
        // The start may be empty: a range from the first key.
        let had_empty = self.has_empty_key;
        self.push_header(keyspace, BatchOp::DeleteRange, start);
        self.has_empty_key = had_empty;
        let end = end.unwrap_or_default();
        put_varint64(&mut self.rep, end.len() as u64);
        self.rep.extend_from_slice(end);
        // An inclusive end is stored as the key after it, one byte longer.
        self.max_key_len = self.max_key_len.max(end.len().saturating_sub(1));
        self.has_range = true;
        self
    }

    /// Whether some put was given a time to live ([`WriteBatch::put_with_ttl_in`]).
    pub fn has_ttl(&self) -> bool {
        !self.expiring.is_empty()
    }

    /// Whether the batch holds a range delete, which only record format 3 can carry.
    pub fn has_range_delete(&self) -> bool {
        self.has_range
    }

    fn push_header(&mut self, keyspace: KeyspaceId, kind: BatchOp, key: &[u8]) {
        self.count = self
            .count
            .checked_add(1)
            .expect("a batch holds at most u32::MAX entries");
        self.rep[8..12].copy_from_slice(&self.count.to_le_bytes());
        if keyspace == DEFAULT_KEYSPACE {
            self.rep.push(kind as u8);
        } else {
            self.rep.push(kind as u8 | KEYSPACE_FLAG);
            put_varint32(&mut self.rep, keyspace);
        }
        put_varint64(&mut self.rep, key.len() as u64);
        self.rep.extend_from_slice(key);
        self.max_key_len = self.max_key_len.max(key.len());
        self.has_empty_key |= key.is_empty();
        self.span = self.span.with(Span::One(keyspace));
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
        self.has_empty_range |= other.has_empty_range;
        self.has_range |= other.has_range;
        self.span = self.span.with(other.span);
        let (index, at) = (self.count - other.count, self.rep.len() - other.rep.len());
        self.expiring
            .extend(other.expiring.iter().map(|p| ExpiringPut {
                index: p.index + index,
                at: p.at + at,
                ..p.clone()
            }));
        self.puts += other.puts;
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
        self.has_empty_range = false;
        self.has_range = false;
        self.span = Span::Empty;
        self.puts = 0;
        self.expiring.clear();
    }

    /// The keyspace every entry is in: `Some(k)` when all entries are in `k`,
    /// `Some(DEFAULT_KEYSPACE)` for an empty batch, `None` when the entries span several
    /// keyspaces. Kept as entries are added, so this costs nothing.
    pub fn single_keyspace(&self) -> Option<KeyspaceId> {
        self.span.single()
    }

    /// The keyspaces the entries are in, ascending and without repeats (empty for an empty
    /// batch). Free when the batch is in one keyspace; otherwise it walks the entries.
    pub fn keyspaces(&self) -> Vec<KeyspaceId> {
        match self.span {
            Span::Empty => Vec::new(),
            Span::One(k) => vec![k],
            Span::Several => keyspaces_of(self.iter()),
        }
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
        if self.has_empty_range {
            return Err(LimitError::EmptyRange);
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

    /// Iterates over the entries, of every keyspace.
    pub fn iter(&self) -> BatchIter<'_> {
        BatchIter::new(&self.rep[BATCH_HEADER_LEN..], self.seq(), self.count, None)
    }

    /// Iterates over the entries in `keyspace` only, each at its own sequence number (its
    /// place in the whole batch): what the engine applies to that keyspace's memtable.
    pub fn iter_in(&self, keyspace: KeyspaceId) -> BatchIter<'_> {
        let mut iter = self.iter();
        match self.span {
            // Every entry is in `keyspace`: no filter to test, entry by entry.
            Span::One(k) if k == keyspace => {}
            // None is: the batch's entries need not be walked at all.
            Span::Empty | Span::One(_) => iter.left = 0,
            Span::Several => iter.only = Some(keyspace),
        }
        iter
    }

    /// Validates an encoded batch (as read back from a WAL record) and borrows it.
    ///
    /// Every entry is checked before this returns, so applying the result cannot fail
    /// half-way: a batch is applied whole or not at all.
    ///
    /// # Errors
    ///
    /// Returns a [`DecodeError`] if the header is short, an entry is malformed (an unknown
    /// kind, a truncated or overlong varint, a keyspace id that does not fit in 32 bits, the
    /// keyspace flag on an entry of the default keyspace, a length past the end), the entry
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
        let mut iter = BatchIter::new(body, seq, count, None);
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

/// The sorted, deduplicated keyspaces of `entries`.
fn keyspaces_of(entries: BatchIter<'_>) -> Vec<KeyspaceId> {
    let mut out: Vec<KeyspaceId> = entries.map(|e| e.keyspace).collect();
    out.sort_unstable();
    out.dedup();
    out
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

    /// Iterates over the entries, of every keyspace. The batch was validated by
    /// [`WriteBatch::decode`], so this yields exactly [`BatchRef::len`] entries.
    pub fn iter(&self) -> BatchIter<'a> {
        BatchIter::new(self.body, self.seq, self.count, None)
    }

    /// Iterates over the entries in `keyspace` only, each at its own sequence number, as
    /// [`WriteBatch::iter_in`].
    pub fn iter_in(&self, keyspace: KeyspaceId) -> BatchIter<'a> {
        BatchIter::new(self.body, self.seq, self.count, Some(keyspace))
    }

    /// As [`WriteBatch::single_keyspace`]; a decoded batch keeps no summary, so this walks
    /// the entries.
    pub fn single_keyspace(&self) -> Option<KeyspaceId> {
        let mut keyspaces = self.iter().map(|e| e.keyspace);
        let first = keyspaces.next().unwrap_or(DEFAULT_KEYSPACE);
        keyspaces.all(|k| k == first).then_some(first)
    }

    /// As [`WriteBatch::keyspaces`]; this walks the entries.
    pub fn keyspaces(&self) -> Vec<KeyspaceId> {
        keyspaces_of(self.iter())
    }
}

/// One entry of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEntry<'a> {
    /// The sequence number this entry is written at.
    pub seq: SeqNo,
    /// The keyspace it writes to.
    pub keyspace: KeyspaceId,
    /// Put, delete or range delete.
    pub kind: BatchOp,
    /// The user key; for a range delete, the range's first key.
    pub key: &'a [u8],
    /// The value; empty for a delete; for a range delete, the first key past the range
    /// (empty: no end).
    pub value: &'a [u8],
}

/// Iterator over the entries of a batch: all of them ([`WriteBatch::iter`]), or one
/// keyspace's ([`WriteBatch::iter_in`]).
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    decoder: Decoder<'a>,
    seq: SeqNo,
    /// Entries not yet decoded, whether or not they will be yielded.
    left: u32,
    /// Yield only the entries of this keyspace; `None` yields every entry.
    only: Option<KeyspaceId>,
}

impl<'a> BatchIter<'a> {
    fn new(body: &'a [u8], seq: SeqNo, count: u32, only: Option<KeyspaceId>) -> BatchIter<'a> {
        BatchIter {
            decoder: Decoder::new(body),
            seq,
            left: count,
            only,
        }
    }

    fn try_next(&mut self) -> Result<BatchEntry<'a>, DecodeError> {
        let kind_at = self.decoder.position();
        let tag = self.decoder.u8()?;
        let kind = BatchOp::from_u8(tag & !KEYSPACE_FLAG)
            .ok_or(DecodeError::new(kind_at, "unknown batch entry kind"))?;
        let keyspace = if tag & KEYSPACE_FLAG == 0 {
            DEFAULT_KEYSPACE
        } else {
            let id_at = self.decoder.position();
            match self.decoder.varint32()? {
                // The default keyspace is spelled without the flag. This would be a second
                // spelling of the same entry, which nothing here writes.
                DEFAULT_KEYSPACE => {
                    return Err(DecodeError::new(
                        id_at,
                        "keyspace flag on an entry of the default keyspace",
                    ));
                }
                keyspace => keyspace,
            }
        };
        let key = self.decoder.length_prefixed()?;
        let value = match kind {
            BatchOp::Put => self.decoder.length_prefixed()?,
            BatchOp::Delete => &[],
            BatchOp::DeleteRange => {
                let end_at = self.decoder.position();
                let end = self.decoder.length_prefixed()?;
                if !end.is_empty() && key >= end {
                    return Err(DecodeError::new(end_at, "range delete over no key"));
                }
                end
            }
        };
        let entry = BatchEntry {
            seq: self.seq,
            keyspace,
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

    #[inline]
    fn next(&mut self) -> Option<BatchEntry<'a>> {
        while self.left > 0 {
            // Batches are built by `WriteBatch` or validated by `WriteBatch::decode`, so
            // every entry decodes; a failure here would be a bug in this module.
            let entry = self.try_next().expect("batch was validated");
            if self.only.is_none_or(|k| k == entry.keyspace) {
                return Some(entry);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.left as usize;
        match self.only {
            None => (left, Some(left)),
            // Any number of the entries left may be in another keyspace.
            Some(_) => (0, Some(left)),
        }
    }
}

/// A batch holds a key, a value or a total longer than FerrisDB accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A key is empty. FerrisDB refuses empty keys so that every stored key has at least
    /// one byte, which keeps bounds and prefixes unambiguous.
    #[error("keys must not be empty")]
    EmptyKey,
    /// A range delete's range holds no key: reversed (`"b".."a"`) or empty (`"a".."a"`).
    #[error("a range delete's range must hold at least one key")]
    EmptyRange,
    /// A put with a time to live into a keyspace created without expiring values
    /// ([`Ttl::Off`]).
    #[error("a put with a time to live into keyspace {keyspace}, whose values do not expire")]
    TtlNotEnabled {
        /// The keyspace's id.
        keyspace: KeyspaceId,
    },
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
                (10, BatchOp::Put, b"a".to_vec()),
                (11, BatchOp::Delete, b"b".to_vec()),
                (12, BatchOp::Put, b"c".to_vec()),
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

    #[test]
    fn a_default_keyspace_batch_is_encoded_as_before_keyspaces() {
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"v").delete(b"d").set_seq(5);
        let mut expected = 5u64.to_le_bytes().to_vec();
        expected.extend_from_slice(&2u32.to_le_bytes());
        expected.extend_from_slice(&[1, 1, b'k', 1, b'v']); // Put, key, value
        expected.extend_from_slice(&[0, 1, b'd']); // Delete, key
        assert_eq!(batch.as_bytes(), expected);
        assert_eq!(batch.single_keyspace(), Some(DEFAULT_KEYSPACE));
    }

    #[test]
    fn an_entry_outside_the_default_keyspace_carries_flag_and_id() {
        let mut batch = WriteBatch::new();
        batch.put_in(300, b"k", b"v").delete_in(1, b"d");
        let body = &batch.as_bytes()[BATCH_HEADER_LEN..];
        // 300 is the varint [0xac, 0x02].
        assert_eq!(
            body,
            [0x81, 0xac, 0x02, 1, b'k', 1, b'v', 0x80, 0x01, 1, b'd']
        );
        let decoded = WriteBatch::decode(batch.as_bytes()).unwrap();
        let got: Vec<_> = decoded.iter().map(|e| (e.keyspace, e.kind)).collect();
        assert_eq!(got, [(300, BatchOp::Put), (1, BatchOp::Delete)]);
    }

    #[test]
    fn a_batch_of_one_holds_its_entry_in_one_allocation() {
        let put = WriteBatch::one(3, b"k", Some(b"v"));
        let mut want = WriteBatch::new();
        want.put_in(3, b"k", b"v");
        assert_eq!(put.as_bytes(), want.as_bytes());
        assert!(put.rep.capacity() >= put.rep.len() && put.rep.capacity() <= put.rep.len() + 16);
        let delete = WriteBatch::one(DEFAULT_KEYSPACE, b"k", None);
        assert_eq!(delete.iter().next().map(|e| e.kind), Some(BatchOp::Delete));
    }

    #[test]
    fn a_range_delete_is_one_entry_carrying_its_end() {
        let mut batch = WriteBatch::new();
        batch.delete_range("b".."d").delete_prefix_in(4, b"x\xff");
        batch.delete_range::<&str>(..);
        assert!(batch.has_range_delete());
        assert_eq!(batch.check_limits(), Ok(()));
        let decoded = WriteBatch::decode(batch.as_bytes()).unwrap();
        let got: Vec<_> = decoded
            .iter()
            .map(|e| (e.keyspace, e.kind, e.key, e.value))
            .collect();
        assert_eq!(
            got,
            [
                (0, BatchOp::DeleteRange, &b"b"[..], &b"d"[..]),
                (4, BatchOp::DeleteRange, &b"x\xff"[..], &b"y"[..]),
                (0, BatchOp::DeleteRange, &b""[..], &b""[..]),
            ]
        );
        // Bytes no builder writes: a range whose end is not after its start.
        let err = WriteBatch::decode(&one_entry(&[2, 1, b'd', 1, b'b'])).unwrap_err();
        assert_eq!(err.reason, "range delete over no key");
    }

    #[test]
    fn a_range_over_no_key_fails_the_limit_check() {
        let mut batch = WriteBatch::new();
        batch.put("a", "1").delete_range("d".."b");
        assert_eq!(batch.check_limits(), Err(LimitError::EmptyRange));
        assert_eq!(batch.len(), 1, "nothing was added for the empty range");
        // An inclusive end at the longest key is one byte longer, and still accepted.
        let mut batch = WriteBatch::new();
        batch.delete_range(vec![0u8; 1]..=vec![0u8; MAX_KEY_LEN]);
        assert_eq!(batch.check_limits(), Ok(()));
    }

    /// A batch whose body is `body`, with a count of one entry.
    fn one_entry(body: &[u8]) -> Vec<u8> {
        let mut bytes = 0u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[rstest::rstest]
    #[case::flagged_default(&[0x81, 0x00, 1, b'k', 1, b'v'], 13, "keyspace flag on an entry of the default keyspace")]
    #[case::overlong_default(&[0x81, 0x80, 0x00, 1, b'k', 1, b'v'], 13, "keyspace flag on an entry of the default keyspace")]
    #[case::unknown_kind(&[0x83, 0x01, 1, b'k'], 12, "unknown batch entry kind")]
    #[case::unknown_kind_without_flag(&[0x7f, 1, b'k'], 12, "unknown batch entry kind")]
    #[case::truncated_keyspace(&[0x80, 0x80], 13, "truncated varint")]
    #[case::keyspace_past_32_bits(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 1, b'k'], 13, "varint overflows 32 bits")]
    #[case::keyspace_longer_than_10_bytes(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 13, "varint longer than 10 bytes")]
    fn malformed_keyspace_entries_are_rejected(
        #[case] body: &[u8],
        #[case] offset: usize,
        #[case] reason: &str,
    ) {
        let err = WriteBatch::decode(&one_entry(body)).unwrap_err();
        assert_eq!((err.offset, err.reason), (offset, reason));
    }

    #[test]
    fn the_keyspace_summary_follows_append_and_clear() {
        let mut a = WriteBatch::new();
        assert_eq!((a.single_keyspace(), a.keyspaces()), (Some(0), vec![]));
        a.put_in(4, b"a", b"1");
        assert_eq!((a.single_keyspace(), a.keyspaces()), (Some(4), vec![4]));
        a.append(&WriteBatch::new());
        assert_eq!(a.single_keyspace(), Some(4));
        let mut b = WriteBatch::new();
        b.put_in(4, b"b", b"2");
        a.append(&b);
        assert_eq!(a.single_keyspace(), Some(4));
        b.delete(b"c");
        a.append(&b);
        assert_eq!((a.single_keyspace(), a.keyspaces()), (None, vec![0, 4]));
        a.clear();
        assert_eq!(a, WriteBatch::new());
        assert_eq!((a.single_keyspace(), a.keyspaces()), (Some(0), vec![]));
    }

    #[test]
    fn iter_in_skips_other_keyspaces_but_keeps_sequence_numbers() {
        let mut batch = WriteBatch::new();
        batch
            .put_in(2, b"a", b"1")
            .put(b"b", b"2")
            .delete_in(2, b"c");
        batch.set_seq(40);
        let in_2: Vec<_> = batch.iter_in(2).map(|e| (e.seq, e.key)).collect();
        assert_eq!(in_2, [(40, &b"a"[..]), (42, &b"c"[..])]);
        let in_0: Vec<_> = batch.iter_in(0).map(|e| e.seq).collect();
        assert_eq!(in_0, [41]);
        assert_eq!(batch.iter_in(9).count(), 0);
        let mut only_2 = WriteBatch::new();
        only_2.put_in(2, b"x", b"");
        assert_eq!(only_2.iter_in(0).size_hint(), (0, Some(0)));
        assert_eq!(only_2.iter_in(2).size_hint(), (1, Some(1)));
    }

    #[test]
    fn a_put_with_a_ttl_into_a_keyspace_that_does_not_expire_is_refused() {
        let mut batch = WriteBatch::new();
        batch
            .put_in(1, b"a", b"1")
            .put_with_ttl_in(2, b"b", b"2", Duration::from_secs(1));
        let ttl_of = |k| match k {
            1 => Ttl::On { default: None },
            _ => Ttl::Off,
        };
        let refused = batch.resolve_expiry(0, ttl_of);
        assert_eq!(refused, Err(LimitError::TtlNotEnabled { keyspace: 2 }));
    }

    #[test]
    fn a_put_with_a_ttl_is_stamped_in_place() {
        let mut batch = WriteBatch::new();
        batch.put_with_ttl(b"k", b"v", Duration::from_millis(250));
        let before = batch.as_bytes().len();
        batch
            .resolve_expiry(1_000, |_| Ttl::On { default: None })
            .unwrap();
        assert_eq!(batch.as_bytes().len(), before, "no second encoding");
        let entry = batch.iter().next().unwrap();
        assert_eq!(crate::expiry::split(entry.value), Some((&b"v"[..], 1_250)));
        assert_eq!(batch.max_value_len(), 1 + EXPIRY_LEN);
    }

    /// An expiring-keyspace operation: keyspace, what it does, key, value.
    #[derive(Debug, Clone)]
    enum Act {
        Put,
        PutTtl(u64),
        Delete,
        DeleteRange,
    }

    fn acts() -> impl Strategy<Value = Vec<(KeyspaceId, Act, Vec<u8>, Vec<u8>)>> {
        let act = prop_oneof![
            Just(Act::Put),
            (0u64..1_000).prop_map(Act::PutTtl),
            Just(Act::Delete),
            Just(Act::DeleteRange),
        ];
        let key = proptest::collection::vec(any::<u8>(), 1..4);
        let value = proptest::collection::vec(any::<u8>(), 0..12);
        proptest::collection::vec((0u32..4, act, key, value), 0..16)
    }

    /// Keyspaces 1 and 3 expire (1 after 100 ms by default, 3 never by default); 0 and 2
    /// do not.
    fn ttl_of(keyspace: KeyspaceId) -> Ttl {
        match keyspace {
            1 => Ttl::On {
                default: Some(Duration::from_millis(100)),
            },
            3 => Ttl::On { default: None },
            _ => Ttl::Off,
        }
    }

    fn build_acts(acts: &[(KeyspaceId, Act, Vec<u8>, Vec<u8>)]) -> WriteBatch {
        let mut batch = WriteBatch::new();
        for (k, act, key, value) in acts {
            match act {
                // Only expiring keyspaces take a time to live.
                Act::PutTtl(ms) if ttl_of(*k).is_on() => {
                    batch.put_with_ttl_in(*k, key, value, Duration::from_millis(*ms))
                }
                Act::Put | Act::PutTtl(_) => batch.put_in(*k, key, value),
                Act::Delete => batch.delete_in(*k, key),
                Act::DeleteRange => batch.delete_prefix_in(*k, key),
            };
        }
        batch
    }

    proptest! {
        /// After `resolve_expiry`, every put into an expiring keyspace ends with the
        /// expiry its own time to live or its keyspace's default gives, every other entry
        /// is as it was, and resolving again, or resolving the pieces before appending
        /// them, gives the same bytes.
        #[test]
        fn resolving_expiry_trails_exactly_the_puts_of_expiring_keyspaces(a in acts(), b in acts()) {
            let now = 5_000;
            let all: Vec<_> = a.iter().chain(&b).cloned().collect();
            let mut batch = build_acts(&all);
            batch.set_seq(7);
            batch.resolve_expiry(now, ttl_of).unwrap();
            let entries: Vec<BatchEntry<'_>> = batch.iter().collect();
            prop_assert_eq!(entries.len(), all.len());
            for (e, (k, act, key, value)) in entries.iter().zip(&all) {
                prop_assert_eq!((e.keyspace, e.key), (*k, &key[..]));
                let expiry = match (act, ttl_of(*k)) {
                    (Act::Put | Act::PutTtl(_), Ttl::Off) => None,
                    (Act::PutTtl(ms), _) => Some(now + ms),
                    (Act::Put, Ttl::On { default }) => Some(default.map_or(0, |d| now + d.as_millis() as u64)),
                    (Act::Delete | Act::DeleteRange, _) => None,
                };
                match expiry {
                    Some(expiry) => prop_assert_eq!(crate::expiry::split(e.value), Some((&value[..], expiry))),
                    None if matches!(act, Act::Put | Act::PutTtl(_)) => prop_assert_eq!(e.value, &value[..]),
                    None => {}
                }
            }
            prop_assert_eq!(batch.seq(), 7);
            let once = batch.as_bytes().to_vec();
            batch.resolve_expiry(now, ttl_of).unwrap();
            prop_assert_eq!(batch.as_bytes(), &once[..]);
            let (mut first, mut second) = (build_acts(&a), build_acts(&b));
            first.resolve_expiry(now, ttl_of).unwrap();
            second.resolve_expiry(now, ttl_of).unwrap();
            first.append(&second).set_seq(7);
            prop_assert_eq!(first.as_bytes(), &once[..]);
            prop_assert!(WriteBatch::decode(&once).is_ok());
        }
    }

    /// A batch operation for the property tests: keyspace, put or delete, key, value.
    type Op = (KeyspaceId, bool, Vec<u8>, Vec<u8>);

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        // Mostly a few small ids, so that batches often share keyspaces; sometimes one that
        // takes a five-byte varint.
        let keyspace = prop_oneof![4 => 0u32..4, 1 => Just(u32::MAX)];
        proptest::collection::vec(
            (
                keyspace,
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..8),
                proptest::collection::vec(any::<u8>(), 0..8),
            ),
            0..20,
        )
    }

    fn build(ops: &[Op]) -> WriteBatch {
        let mut batch = WriteBatch::new();
        for (keyspace, is_put, k, v) in ops {
            if *is_put {
                batch.put_in(*keyspace, k, v);
            } else {
                batch.delete_in(*keyspace, k);
            }
        }
        batch
    }

    /// The keyspace summary a batch of `ops` must give, worked out from the ops.
    fn expected_keyspaces(ops: &[Op]) -> (Option<KeyspaceId>, Vec<KeyspaceId>) {
        let mut all: Vec<_> = ops.iter().map(|op| op.0).collect();
        all.sort_unstable();
        all.dedup();
        let single = match all[..] {
            [] => Some(DEFAULT_KEYSPACE),
            [k] => Some(k),
            _ => None,
        };
        (single, all)
    }

    proptest! {
        #[test]
        fn batches_round_trip(seq in 0u64..1 << 40, ops in ops()) {
            let batch = {
                let mut b = build(&ops);
                b.set_seq(seq);
                b
            };
            let decoded = WriteBatch::decode(batch.as_bytes()).unwrap();
            prop_assert_eq!(decoded.len(), ops.len());
            let expected: Vec<BatchEntry<'_>> = ops
                .iter()
                .enumerate()
                .map(|(i, (keyspace, is_put, k, v))| BatchEntry {
                    seq: seq + i as u64,
                    keyspace: *keyspace,
                    kind: if *is_put { BatchOp::Put } else { BatchOp::Delete },
                    key: k,
                    value: if *is_put { v } else { &[] },
                })
                .collect();
            prop_assert_eq!(&decoded.iter().collect::<Vec<_>>(), &expected);
            prop_assert_eq!(&batch.iter().collect::<Vec<_>>(), &expected);
            for k in [0, 1, 2, 3, 4, u32::MAX] {
                let of_k: Vec<_> = expected.iter().filter(|e| e.keyspace == k).copied().collect();
                prop_assert_eq!(&batch.iter_in(k).collect::<Vec<_>>(), &of_k);
                prop_assert_eq!(&decoded.iter_in(k).collect::<Vec<_>>(), &of_k);
            }
            let (single, all) = expected_keyspaces(&ops);
            prop_assert_eq!(batch.single_keyspace(), single);
            prop_assert_eq!(decoded.single_keyspace(), single);
            prop_assert_eq!(&batch.keyspaces(), &all);
            prop_assert_eq!(&decoded.keyspaces(), &all);
        }

        #[test]
        fn the_keyspace_summary_survives_append_and_clear(a in ops(), b in ops()) {
            let mut batch = build(&a);
            batch.append(&build(&b));
            let both: Vec<Op> = a.iter().chain(&b).cloned().collect();
            prop_assert_eq!(&batch, &build(&both));
            let (single, all) = expected_keyspaces(&both);
            prop_assert_eq!(batch.single_keyspace(), single);
            prop_assert_eq!(batch.keyspaces(), all);
            batch.clear();
            prop_assert_eq!(batch.single_keyspace(), Some(DEFAULT_KEYSPACE));
            prop_assert_eq!(batch.keyspaces(), Vec::<KeyspaceId>::new());
            prop_assert_eq!(batch, WriteBatch::new());
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(batch) = WriteBatch::decode(&bytes) {
                prop_assert_eq!(batch.iter().count(), batch.len());
                let keyspaces = batch.keyspaces();
                let in_each: usize = keyspaces.iter().map(|&k| batch.iter_in(k).count()).sum();
                prop_assert_eq!(in_each, batch.len());
                prop_assert_eq!(batch.single_keyspace().is_some(), keyspaces.len() <= 1);
            }
        }

        /// Batches that do decode are mostly not random: flip bits of a real one, keyspace
        /// ids included, and decoding still never panics.
        #[test]
        fn decoding_damaged_batches_never_panics(ops in ops(), flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..4)) {
            let mut bytes = build(&ops).as_bytes().to_vec();
            for (at, bit) in flips {
                let at = at % bytes.len();
                bytes[at] ^= 1 << bit;
            }
            if let Ok(batch) = WriteBatch::decode(&bytes) {
                prop_assert_eq!(batch.iter().count(), batch.len());
            }
        }
    }
}
