//! # ferris-core: the words every FerrisDB crate shares
//!
//! ## The problem
//!
//! An LSM tree never overwrites in place. A `put("k", "v2")` after `put("k", "v1")` adds a
//! second *version* of `k`, and a delete adds a third, a *tombstone*; all three may sit in
//! the memtable, in a WAL record and in two tables at once. Every layer of the engine has
//! to agree, to the bit, on how one version is named, how versions sort, how a group of
//! writes is packed into one record, how an integer is written and how damage is
//! detected. If the memtable sorted versions one way and the tables another, a merge of
//! the two would return the wrong value, and nothing would crash to say so.
//!
//! This crate is that shared vocabulary: it does no I/O and knows no file format, so
//! every other crate can depend on it and it can be tested on its own. Because every
//! component depends on it, it is also where the contracts between them live: the
//! errors they report, the iterator and memtable traits, and the level layout.
//!
//! ## The design
//!
//! - [`key`]: **internal keys**. A user key followed by an 8-byte trailer holding a
//!   56-bit sequence number and an 8-bit kind (put or delete), ordered by user key
//!   ascending and then by trailer **descending**, so that the newest version of a key
//!   comes first. That order is what lets an LSM tree keep many versions of one key and
//!   still answer "what was the value at sequence *s*?" with a single seek.
//! - [`batch`]: **write batches**. A group of puts and deletes that is applied atomically:
//!   encoded once, logged as one WAL record, replayed whole or not at all.
//! - [`coding`]: the little-endian integers and varints that every on-disk format uses,
//!   with decoders that treat their input as hostile.
//! - [`checksum`]: the masked CRC-32C that every file format puts on every block and
//!   record.
//! - [`error`]: the error vocabulary every component shares ([`Corruption`], [`IoError`],
//!   [`UnsupportedVersion`], gathered in [`Error`]), so that damage reads the same
//!   whichever component found it.
//! - [`iter`]: the one iterator contract every sorted source meets
//!   ([`InternalIterator`]), and the iterators that compose them: a merge of many, one
//!   level's tables as one, a reader's view at a snapshot.
//! - [`memtable`]: the memtable contract ([`Memtable`], [`MemtableFactory`]).
//! - [`level`]: what is known of a table without opening it ([`FileMeta`]) and the
//!   layout of the levels ([`Levels`]), which the manifest, the compaction strategies
//!   and the engine share.
//!
//! Each choice has a price:
//!
//! - **One 64-bit trailer, sequence number in the high 56 bits, kind in the low 8.** Two
//!   versions of a key compare with one integer comparison, and the trailer is always the
//!   last 8 bytes, so an encoded key splits without parsing (the user key is everything
//!   before it). The price is the range: sequence numbers stop at [`MAX_SEQNO`], 2^56 - 1
//!   (over two thousand years at a million writes a second), and the kind has 256 values
//!   where a bit would do. LevelDB and RocksDB pay the same 8 bytes per entry for the same
//!   reasons.
//! - **Varints for lengths, fixed width where position matters.** Most keys and values
//!   are short, so a length that fits in 7 bits costs one byte instead of four. But a
//!   varint must be decoded to be skipped: a run of varint-framed entries can only be
//!   walked from its start, which is why tables add restart points
//!   (`ferris-sstable`). Fields a reader must find without parsing stay fixed width: the
//!   trailer, file headers and footers, and a batch's sequence number, which the engine
//!   fills in at write time by overwriting 8 bytes of the encoded batch
//!   ([`WriteBatch::set_seq`]).
//! - **CRC-32C, masked.** CRC-32C has hardware support on current CPUs, so every block is
//!   checked on every read. The stored value is rotated and offset (LevelDB's mask), so
//!   bytes that contain their own checksum do not checksum to a constant. A CRC finds
//!   accidents (torn writes, flipped bits, a block from the wrong place), not malice: it
//!   is not a cryptographic hash.
//!
//! ## The format
//!
//! This crate owns no file, but two of its encodings are part of every file that holds
//! keys: the internal key (user key, then the trailer as a little-endian `u64`) inside
//! WAL batches and table blocks, and the write batch (`seq: u64 LE`, `count: u32 LE`,
//! then the entries) as the payload of every WAL record. [`key`] and [`batch`] draw them
//! byte by byte; `docs/format/wal.md` and `docs/format/table.md` show where they sit.
//!
//! ## Walk-through
//!
//! Three versions of one key and one of another, encoded, shuffled, and sorted as bytes:
//! the newest version of each key comes first, and a reader at sequence 2 seeks straight
//! to the version it may see.
//!
//! ```
//! use ferris_core::key::compare_encoded;
//! use ferris_core::{BatchOp, InternalKey, ValueKind, WriteBatch};
//!
//! let mut encoded = vec![
//!     InternalKey::new(&b"pear"[..], 1, ValueKind::Put).encode(),
//!     InternalKey::new(&b"apple"[..], 1, ValueKind::Put).encode(),
//!     InternalKey::new(&b"apple"[..], 3, ValueKind::Delete).encode(),
//!     InternalKey::new(&b"apple"[..], 2, ValueKind::Put).encode(),
//! ];
//! encoded.sort_by(|a, b| compare_encoded(a, b));
//! let sorted: Vec<_> = encoded
//!     .iter()
//!     .map(|bytes| InternalKey::decode(bytes).map(|k| format!("{k:?}")))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(sorted, ["apple@3:Delete", "apple@2:Put", "apple@1:Put", "pear@1:Put"]);
//!
//! // The newest version of "apple" a reader at sequence 2 may see: the first entry at or
//! // after the seek key.
//! let seek = InternalKey::seek_key(&b"apple"[..], 2).encode();
//! let i = encoded.partition_point(|k| compare_encoded(k, &seek).is_lt());
//! assert_eq!(InternalKey::decode(&encoded[i])?.seq(), 2);
//!
//! // A batch round-trips through its encoding: entry i gets sequence number seq + i.
//! let mut batch = WriteBatch::new();
//! batch.put("apple", "red").delete("pear");
//! batch.set_seq(10);
//! let bytes = batch.as_bytes().to_vec();
//! let decoded = WriteBatch::decode(&bytes)?;
//! let entries: Vec<_> = decoded.iter().map(|e| (e.seq, e.kind, e.key)).collect();
//! assert_eq!(entries, [(10, BatchOp::Put, &b"apple"[..]), (11, BatchOp::Delete, &b"pear"[..])]);
//!
//! // Cut short, the same bytes are an error, never a panic or a shorter batch.
//! assert!(WriteBatch::decode(&bytes[..bytes.len() - 1]).is_err());
//! # Ok::<(), ferris_core::DecodeError>(())
//! ```
//!
//! # Guarantees
//!
//! - **Decoders never panic**, whatever the bytes: [`InternalKey::decode`],
//!   [`WriteBatch::decode`] and [`coding::Decoder`] check every length against the bytes
//!   present and return a [`DecodeError`] with the offset of the problem. Proptests feed
//!   each of them arbitrary bytes (in `batch.rs`, `coding.rs`, and below for keys).
//! - [`key::compare_encoded`] is a total order on arbitrary bytes (malformed keys sort
//!   first), so sorting or searching damaged bytes cannot panic either.
//! - **No I/O, no threads, no `unsafe`**: the encodings are pure functions of their
//!   arguments, and the iterators read only through the iterators (and, for
//!   `ConcatIterator`, the function that opens a file) they are given.
//! - The numeric values of [`ValueKind`] and every layout here are part of the on-disk
//!   formats, and change only with a format version.
//!
//! # Limits
//!
//! Keys are at most [`MAX_KEY_LEN`] bytes, values at most [`MAX_VALUE_LEN`] bytes and an
//! encoded batch at most [`MAX_BATCH_LEN`] bytes. The limits keep every length in every format comfortably inside 32 bits and bound the memory a
//! single record can demand during recovery. User keys compare bytewise; there is no
//! custom comparator.
//!
//! ## Reading order
//!
//! This is chapter 0 of the book. Read [`key`] first, then [`batch`], [`coding`] and
//! [`checksum`]. Come back for [`iter`], [`memtable`] and [`level`] when the memtable
//! and the engine use them, for [`error`] with the first file format, and for
//! [`range_del`] (deleting a whole key range with one entry) after the engine's read path.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 0. Try each exercise first.
//!
//! 1. Encode `InternalKey`s for user key `b"k"` at sequence numbers 1, 2 and 3 and sort
//!    the encoded bytes with [`key::compare_encoded`]. Which comes first, and why does the
//!    trailer store the sequence number so that this order falls out?
//! 2. Build a [`WriteBatch`] with a put and a delete, encode it, cut the encoding one
//!    byte short, and decode it. What error do you get, and why must a decoder never
//!    trust a length it reads?
//! 3. How many bytes does a varint take for a 100-byte value's length, and for a 1 MiB
//!    one? What would a fixed `u32` cost for a table of a million 10-byte keys?
//! 4. Build [`range_del::Tombstones`] from `["a", "m") @ 5` and `["f", "z") @ 9` and
//!    print its fragments. Which sequence numbers cover `"g"`, and which one does a
//!    reader at snapshot 7 see? Why does a lookup need only one binary search?
//!
//! ## What to read next
//!
//! Chapter 1, `ferris-fs`: how FerrisDB touches the disk, and what `fsync` promises. Then
//! `ferris-wal`, how a write becomes durable.

#![forbid(unsafe_code)]

pub mod batch;
pub mod checksum;
pub mod coding;
pub mod error;
pub mod expiry;
pub mod iter;
pub mod key;
pub mod level;
pub mod memtable;
pub mod range_del;

pub use batch::{BatchEntry, BatchIter, BatchOp, BatchRef, LimitError, WriteBatch};
pub use error::{Corruption, Error, IoError, IoResultExt, Result, UnsupportedVersion};
pub use iter::InternalIterator;
pub use key::{InternalKey, InternalKeyRef, MAX_SEQNO, SeqNo, ValueKind};
pub use level::{FileMeta, HasMeta, Levels, NUM_LEVELS};
pub use memtable::{Lookup, Memtable, MemtableFactory};

/// Names a keyspace within one database: a separate sorted key space with its own memtable,
/// tables and options, sharing the database's WAL, manifest and sequence numbers (RocksDB
/// calls it a column family). Ids are handed out in order and never reused, so a WAL entry
/// or a manifest record that names a dropped keyspace can never be taken for a newer one.
pub type KeyspaceId = u32;

/// The keyspace every database has, which the database's own methods read and write. A
/// database written before keyspaces existed holds only this one.
pub const DEFAULT_KEYSPACE: KeyspaceId = 0;

/// The longest user key FerrisDB accepts, in bytes (64 KiB).
pub const MAX_KEY_LEN: usize = 64 << 10;

/// The longest value FerrisDB accepts, in bytes (64 MiB).
pub const MAX_VALUE_LEN: usize = 64 << 20;

/// The longest encoded write batch FerrisDB accepts, in bytes (512 MiB). A batch becomes
/// one WAL record (with the batches grouped behind it, at most a mebibyte more), and a
/// record's length is limited by the log's framing (1 GiB); this limit keeps every batch
/// well inside it, so no accepted batch can fail in the log.
pub const MAX_BATCH_LEN: usize = 512 << 20;

/// Bytes that do not decode as the format says they should.
///
/// This is the raw finding of a decoder working on a buffer. Crates that know which file
/// and offset the buffer came from wrap it into their own `Corruption` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (at byte {offset})")]
pub struct DecodeError {
    /// Offset of the problem within the buffer being decoded.
    pub offset: usize,
    /// What was wrong, in a few words.
    pub reason: &'static str,
}

impl DecodeError {
    /// A decode error at `offset`.
    pub const fn new(offset: usize, reason: &'static str) -> DecodeError {
        DecodeError { offset, reason }
    }

    /// Shifts the offset by `base`, for an error found in a sub-slice starting at `base`.
    #[must_use]
    pub const fn at(self, base: usize) -> DecodeError {
        DecodeError {
            offset: self.offset + base,
            reason: self.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The front page promises that decoders never panic; `batch.rs` and `coding.rs`
        /// test theirs, and this tests the internal-key decoder: arbitrary bytes either
        /// fail to decode or decode to a key that encodes back to the same bytes.
        #[test]
        fn internal_keys_decode_arbitrary_bytes_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..24),
        ) {
            match InternalKeyRef::decode(&bytes) {
                Ok(key) => {
                    let mut out = Vec::new();
                    key.encode_into(&mut out);
                    prop_assert_eq!(&out, &bytes);
                    prop_assert_eq!(InternalKey::decode(&bytes).unwrap(), key.to_owned());
                }
                Err(_) => prop_assert!(InternalKey::decode(&bytes).is_err()),
            }
        }
    }
}
