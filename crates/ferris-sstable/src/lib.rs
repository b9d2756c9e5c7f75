//! # ferris-sstable: sorted tables, the LSM tree's files
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
//! ## Tables
//!
//! A [`TableWriter`] takes entries in internal-key order and writes a file under a temporary
//! name, which appears under its real name only once complete and synced. It gathers its
//! blocks in a 1 MiB buffer and writes that whole, so a 64 MiB table costs 64 system
//! calls rather than two per block (a block and its trailer); it shows in the
//! `overwrite` workload of `cargo xtask bench`, whose flushes and compactions write
//! tables all the time (`docs/benchmarks.md`, "Tables: one 1 MiB write buffer"). The
//! buffer is allocated once at exactly that size and never grows,
//! and the bloom builder keeps its hashes in 64 KiB segments: large allocations of a new
//! size for every table would fragment the allocator's heap (`docs/benchmarks.md`, "Ten
//! million keys"). A [`Table`] opens
//! it, verifying the footer and every block it loads. `docs/format/table.md` is the
//! byte-level specification, with a crash analysis of table creation.
//!
//! ```
//! use std::{path::Path, sync::Arc};
//! use ferris_core::{InternalKey, ValueKind};
//! use ferris_fs::{FileSystem, SimFs};
//! use ferris_sstable::{Table, TableOptions, TableWriter};
//!
//! let fs: Arc<dyn FileSystem> = Arc::new(SimFs::new(1));
//! fs.create_dir_all(Path::new("/db"))?;
//! let path = Path::new("/db/000001.sst");
//!
//! let mut writer = TableWriter::create(fs.clone(), path, TableOptions::default())?;
//! writer.add(&InternalKey::new(&b"apple"[..], 2, ValueKind::Put), b"green")?;
//! writer.add(&InternalKey::new(&b"apple"[..], 1, ValueKind::Put), b"red")?;
//! writer.add(&InternalKey::new(&b"pear"[..], 3, ValueKind::Delete), b"")?;
//! writer.finish()?;
//!
//! let table = Table::open(&*fs, path)?;
//! let (key, value) = table.get(b"apple", 1)?.expect("apple existed at sequence 1");
//! assert_eq!((key.seq(), &value[..]), (1, &b"red"[..]));
//! let (key, _) = table.get(b"pear", 10)?.expect("a tombstone is an answer");
//! assert_eq!(key.kind(), ValueKind::Delete);
//! assert!(table.get(b"plum", 10)?.is_none()); // most likely answered by the filter alone
//!
//! // Every version of every key in a range, newest first within a key; .rev() for backwards.
//! let apples: Vec<_> = table.range(&b"apple"[..]..=&b"apple"[..]).collect::<Result<_, _>>()?;
//! assert_eq!(apples.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The format
//!
//! `docs/format/table.md` is the byte-level specification (version 3). A table is its
//! blocks, each followed by a 5-byte trailer (a compression byte and a masked CRC-32C of
//! the stored bytes and that byte), then a fixed 64-byte footer:
//!
//! ```text
//! +--------------+---+-----+--------------+---+--------+---+-------------+---+------------+---+-------+---+--------+
//! | data block 0 | T | ... | data block n | T | filter | T | range dels? | T | properties | T | index | T | footer |
//! +--------------+---+-----+--------------+---+--------+---+-------------+---+------------+---+-------+---+--------+
//!                                                                                                         64 bytes
//! T = block trailer (5 bytes); the range-tombstone block only in a table that has range tombstones
//! ```
//!
//! | offset | size | footer field | value |
//! |---|---|---|---|
//! | 0 | 8 | index offset | u64 |
//! | 8 | 8 | index size | u64 |
//! | 16 | 8 | filter offset | u64 |
//! | 24 | 8 | filter size | u64 |
//! | 32 | 8 | properties offset | u64 |
//! | 40 | 8 | properties size | u64 |
//! | 48 | 4 | format version | `3` |
//! | 52 | 4 | footer checksum | masked CRC-32C of bytes 0..52 followed by one zero byte |
//! | 56 | 8 | magic | ASCII `FRSDBSST` |
//!
//! All integers are little-endian. A reader starts at the end: the magic identifies the
//! file, the checksum and version are checked, and the footer's handles (offset and size,
//! checked against the file's length before anything is read) locate the index, the filter
//! and the properties: counts, bounds and sequence numbers, and the keyspace the table
//! belongs to ([`TableOptions::keyspace`]; version 2 added it, and a version 1 table,
//! which still reads, belongs to the default keyspace), and from version 3 the count of
//! range tombstones and, when there are any, the handle of their block
//! ([`TableWriter::add_range_tombstones`], `ferris_core::range_del`): its payload is
//! `Tombstones::encode`, read and kept in memory at open ([`Table::range_tombstones`]).
//! A version 1 or 2 table has none. [`Table::get`] returns the entry it finds and leaves
//! range tombstones to its caller; [`SstableFormat`]'s reader resolves the two, as the
//! `ferris_table` contract asks. The index maps a separator key
//! per data block to that block's handle, so every block is found by handle, never by
//! position. The spec gives the layout of every block kind, what each checksum covers,
//! and the crash analysis of table creation.
//!
//! Reads check only the blocks they touch. [`Table::verify`] checks them all: it reads
//! every data block from the file (never from the cache), verifies its checksum, decodes
//! every entry, checks the order of the keys against each other and the index, and that
//! the blocks cover every byte of the file and add up to the properties. It lists all the
//! damage it finds, each with the offset of the block that holds it.
//!
//! ## Reading from disk
//!
//! On the real file system a block is read with `pread` into a buffer of its own, and its
//! checksum is verified there. With `ferris_fs::StdFsOptions::mmap` the table is
//! memory-mapped instead, and a block is copied out of the map just before its checksum is
//! verified: one system call less per block, but every page touched counts in the
//! process's resident memory, which is why mapping is off by default. Borrowing blocks
//! from the map instead (zero-copy)
//! was tried and measured: `sstable/get_hit/raw` (`cargo bench -p ferris-benches --bench
//! sstable`) showed no gain (within the run's noise),
//! because a 4 KiB copy is small next to the index search and block seek. It would also
//! leave cached blocks pointing into the map long after their checksum was checked, so the
//! copy stays.
//!
//! A [`TableCursor`] that reads blocks from the file one after another is scanning, and
//! from its third block on it *reads ahead*: 16 KiB, then twice as much at each refill up
//! to 256 KiB, in one `pread`, and cuts the blocks that follow from that buffer (a copy
//! each, so a cached block never keeps the whole buffer alive). A seek or a step backwards
//! starts the count again, so point lookups and short ranges read only what they ask for.
//! A full scan then makes one system call per 64 blocks instead of one per block;
//! RocksDB's iterators read ahead the same way. The `table/readahead` module has the rule.
//!
//! ## The block cache
//!
//! A [`BlockCache`] keeps verified, decompressed data blocks in memory up to a capacity in
//! bytes, shared by every table opened with it ([`ReadOptions::with_cache`]), and counts its
//! hits and misses. Its module docs say why it is built on `quick_cache`.
//!
//! A cursor that reads blocks it will never need again, such as a compaction's, can leave
//! the cache alone with [`TableCursor::fill_cache`]`(false)`: it still takes a block the
//! cache already holds, but a block it has to read is used once and dropped, so it evicts
//! nothing readers need. The engine's compactions read that way; without it, one
//! compaction under a write-only load filled the 64 MiB cache with blocks of tables about
//! to be deleted, and the process held that memory for nothing.
//!
//! ## Batched lookups
//!
//! [`Table::get_many`] answers many sorted keys at one sequence number with one cursor
//! walking forward ([`TableCursor::seek_forward`]): the filter is asked per key, and a key
//! that falls in the block the cursor already holds is sought there, so a block holding
//! several of the keys is fetched from the cache (or the file) and set up once, not once
//! per key. The engine's `Db::multi_get` reads tables this way.
//!
//! # Durability
//!
//! [`TableWriter::finish`] returns only after the table is synced, renamed into place and
//! the directory synced: from then on a power cut cannot lose or tear it. Before that, a
//! crash leaves at most a `.tmp` file.
//!
//! ## Limits
//!
//! - Blocks are at most 4 GiB (the restart offsets are 32-bit); tables write blocks of a
//!   few KiB.
//! - A block carries no checksum of its own: the table checksums each block as it is
//!   stored, and verifies it on every read. A block cursor over damaged bytes never panics
//!   and reports the damage it can see, but only the checksum proves the bytes are intact.
//! - Without a [`BlockCache`], data blocks are read, verified and decompressed on every
//!   access.
//!
//! ## Testing against hostile bytes
//!
//! Every decoder here takes untrusted input. The tests flip every bit of a real table and
//! truncate it at every length, and proptests feed arbitrary bytes to blocks and tables.
//! Every single flipped bit is found by opening the table or by [`Table::verify`], which
//! names the block (or footer) that holds it (`tests/it/verify.rs`).
//! Coverage-guided fuzz targets (`block_decode`, `table_open_iterate`) live in `fuzz/`;
//! `fuzz/README.md` says how to run them, with a stable toolchain too.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 4. Try each exercise first.
//!
//! 1. Build a table of 100,000 keys with [`TableWriter`], then look up 100,000 keys that
//!    are not in it with [`Table::get`] and count how many data blocks were read
//!    ([`BlockCache`]'s stats, with a cache). Divide by the lookups: does it match the
//!    bloom filter's false-positive rate of about 0.8% at 10 bits per key?
//! 2. Build the same table with [`Compression::Zstd`] and with no compression. Compare
//!    the file sizes for random values and for values of repeated text. Why does zstd
//!    help one and not the other?
//! 3. Flip one bit in a data block of a table file and call [`Table::verify`]. Which
//!    offset does it report? Flip a bit in the footer instead: what does [`Table::open`]
//!    say?
//!
//! ## What to read next
//!
//! Chapter 5, `ferris-manifest`: a directory of tables is not yet a database until
//! something records which tables are live, at which level, and survives a crash in the
//! middle of changing that. `docs/concepts/sorted-tables.md` and
//! `docs/concepts/bloom-filters.md` go deeper into this chapter's two ideas.

#![forbid(unsafe_code)]

pub mod block;
mod error;
pub mod filter;
pub mod table;

pub use error::{Error, Result};
pub use ferris_table::{BlockCache, CacheStats};
pub use table::format::{BlockHandle, Compression, Properties};
pub use table::{
    ReadOptions, SstableFormat, Table, TableCheck, TableCursor, TableIter, TableOptions,
    TableRange, TableWriter,
};
