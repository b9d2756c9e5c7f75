//! # ferris-core: the words every FerrisDB crate shares
//!
//! Before the write-ahead log, the memtable and the sorted tables can talk to each other they
//! need a common vocabulary. This crate is that vocabulary and nothing more: it does no I/O,
//! holds no state, and has no opinion about files or levels.
//!
//! - [`key`]: **internal keys**. A user key plus a 56-bit sequence number and a kind (put or
//!   delete), ordered so that the newest version of a key comes first. This ordering is what
//!   lets an LSM tree keep many versions of one key and still answer "what was the value at
//!   time *t*?" with a single seek.
//! - [`batch`]: **write batches**. A group of puts and deletes that is applied atomically:
//!   encoded once, logged as one WAL record, replayed whole or not at all.
//! - [`coding`]: the little-endian integers and varints that every on-disk format uses, with
//!   decoders that treat their input as hostile.
//!
//! ## Reading order
//!
//! This is chapter 0 of the book. Read [`key`] first, then [`batch`]; then go on to
//! `ferris-fs` (how FerrisDB touches the disk) and `ferris-wal` (how a write becomes durable).
//!
//! ## Limits
//!
//! Keys are at most [`MAX_KEY_LEN`] bytes and values at most [`MAX_VALUE_LEN`] bytes. The
//! limits keep every length in every format comfortably inside 32 bits and bound the memory a
//! single record can demand during recovery.
//!
//! ## Exercises
//!
//! 1. Encode `InternalKey`s for user key `b"k"` at sequence numbers 1, 2 and 3 and sort
//!    the encoded bytes with [`key::compare_encoded`]. Which comes first, and why does the
//!    trailer store the sequence number so that this order falls out?
//! 2. Build a [`WriteBatch`] with a put and a delete, encode it, cut the encoding one
//!    byte short, and decode it. What error do you get, and why must a decoder never
//!    trust a length it reads?
//!
//! ## What to read next
//!
//! `ferris-fs`, how FerrisDB touches the disk, and then `ferris-wal`.

#![forbid(unsafe_code)]

pub mod batch;
pub mod checksum;
pub mod coding;
pub mod key;

pub use batch::{BatchEntry, BatchRef, LimitError, WriteBatch};
pub use key::{InternalKey, InternalKeyRef, MAX_SEQNO, SeqNo, ValueKind};

/// The longest user key FerrisDB accepts, in bytes (64 KiB).
pub const MAX_KEY_LEN: usize = 64 << 10;

/// The longest value FerrisDB accepts, in bytes (64 MiB).
pub const MAX_VALUE_LEN: usize = 64 << 20;

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
