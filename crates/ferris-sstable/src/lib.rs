//! # ferris-sstable: sorted tables, the LSM tree's files
//!
//! **This chapter is being written.** Its first two sections exist: the block format and
//! the bloom filter. The table writer and reader that put them together into a file (index,
//! properties, footer, checksums, compression, the block cache) come next; until then this
//! crate writes no files.
//!
//! ## The problem
//!
//! When a memtable fills up, its sorted contents are written to disk as an immutable
//! **sorted string table**: sorted, so that a reader can binary-search it instead of
//! scanning, and immutable, so that writing it is one sequential pass and reading it needs
//! no locks. A table is read in **blocks** of a few KiB: big enough to make a disk read
//! worthwhile, small enough that finding one key reads little else.
//!
//! ## Blocks
//!
//! [`block`] is the unit of reading: sorted entries with prefix-compressed keys and
//! restart points for binary search. Read its module docs first.
//!
//! ```
//! use bytes::Bytes;
//! use ferris_sstable::block::{Block, BlockBuilder};
//!
//! let mut builder = BlockBuilder::new(16);
//! for (key, value) in [("user:1001", "ada"), ("user:1002", "grace"), ("user:1003", "edsger")] {
//!     builder.add(key.as_bytes(), value.as_bytes());
//! }
//! let block = Block::new(Bytes::from(builder.finish()))?;
//!
//! let mut cursor = block.iter(|a, b| a.cmp(b));
//! cursor.seek(b"user:1002");
//! assert_eq!(cursor.value_slice(), b"grace");
//! cursor.prev();
//! assert_eq!(cursor.key(), b"user:1001");
//! # Ok::<(), ferris_core::DecodeError>(())
//! ```
//!
//! ## Bloom filters
//!
//! [`filter`] answers "is this key possibly here?" from about 10 bits per key, so a lookup
//! of an absent key usually skips the table without reading a block. Its module docs derive
//! the false-positive rate, and a test measures it.
//!
//! ```
//! use ferris_sstable::filter::{BloomBuilder, may_contain};
//!
//! let mut builder = BloomBuilder::new(10);
//! builder.add(b"apple");
//! let filter = builder.finish();
//! assert!(may_contain(&filter, b"apple")); // never a false "no"
//! ```
//!
//! ## Limits
//!
//! - Blocks are at most 4 GiB (the restart offsets are 32-bit); tables write blocks of a
//!   few KiB.
//! - Blocks carry no checksum of their own: the table format will checksum each block as
//!   it is stored. A block cursor over damaged bytes never panics and reports the damage it
//!   can see, but only the checksum can prove the bytes are the ones written.
//!
//! ## What to read next
//!
//! `ferris-memtable`, whose contents a table is built from.

#![forbid(unsafe_code)]

pub mod block;
pub mod filter;
