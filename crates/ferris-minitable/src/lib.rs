//! # ferris-minitable: the learner's first table
//!
//! ## The problem
//!
//! A full memtable has to become a file, and the file has to answer three questions
//! later: *what is the newest version of this key at this sequence number?*, *what comes
//! next, in order?*, and *are my bytes still the ones that were written?* `ferris-table`
//! states those questions as a contract ([`TableFormat`], [`TableBuilder`],
//! [`TableReader`]); `ferris-sstable` answers them the way LevelDB does, with prefix
//! compression, restart points, a bloom filter and optional zstd. That is a lot to read
//! before a first table works.
//!
//! This crate answers the same contract with the least that still makes a real table:
//! durable, checksummed, searchable without reading the whole file, and refusing damaged
//! bytes instead of returning wrong answers. It is the table to write first, and the one
//! to hold up against `ferris-sstable` to see what each of its pieces buys. The engine
//! takes either through `Arc<dyn TableFormat>`, and one conformance suite
//! (`ferris-conformance`) checks both.
//!
//! ## The layout
//!
//! A minitable is a sorted run of entries cut into blocks, an index with one entry per
//! block, the table's range tombstones (when it has any), the table's properties, and a
//! fixed 48-byte footer. Every block is followed by
//! its masked CRC-32C. `docs/format/minitable.md` is the byte-level specification; all
//! integers are little-endian.
//!
//! ```text
//! +--------------+-----+-----+--------------+-----+-------+-----+-------------+-----+------------+-----+--------+
//! | data block 0 | crc | ... | data block n | crc | index | crc | range dels? | crc | properties | crc | footer |
//! +--------------+-----+-----+--------------+-----+-------+-----+-------------+-----+------------+-----+--------+
//!  offset 0                                                                                          48 bytes
//!
//! entry (data and index blocks alike):
//! +-------------------+---------------------+-----------------------+-------+
//! | key_len: varint   | value_len: varint   | key: internal key     | value |
//! +-------------------+---------------------+-----------------------+-------+
//!
//! footer:
//! 0              16                  32        36         40               48
//! | index handle | properties handle | version | checksum | magic FRSDBMIN |
//!   offset: u64, size: u64 each        u32: 3    u32: masked CRC-32C of bytes 0..36
//! ```
//!
//! - **Data blocks** hold whole entries, one after the other: no key shares bytes with
//!   the one before it, and there are no restart points. A block is closed once it
//!   reaches [`TableOptions::block_size`] (4 KiB by default), so it may exceed it by one
//!   entry. A tombstone's value is empty.
//! - **The index** is a block of entries too, one per data block: the key is the data
//!   block's *last* internal key, the value its handle (offset and size, 16 bytes).
//!   The last key rather than the first, because then "the first block whose last key is
//!   at or after the target" is the only block that can hold the first entry at or after
//!   the target: a lookup or a seek reads exactly one block. Indexed by first keys, the
//!   answer could be the first entry of the *next* block, and a lookup would sometimes
//!   read two. (What the last key costs is `seek_for_prev` on the first entry of a block,
//!   which steps back one block; a reverse seek is the rarer operation.)
//! - **The properties** are what the builder counted: entries, tombstones, the smallest
//!   and largest sequence numbers, the raw bytes, the smallest and largest keys, and the
//!   keyspace the table was written for ([`TableOptions::keyspace`]). The engine records
//!   them in its manifest without scanning the table, and refuses a table that its
//!   manifest lists under another keyspace. Version 2 added the keyspace; a version 1
//!   table still reads, as one of the default keyspace. Version 3 added the count of
//!   range tombstones and, when there are any, the handle of their block.
//! - **The range tombstones** (`ferris_core::range_del`, version 3) are one block whose
//!   bytes are `Tombstones::encode`, read at open and kept in memory: a lookup resolves
//!   the version it finds against them, so a key under a newer range delete answers
//!   [`Lookup::Deleted`](ferris_core::Lookup::Deleted). A table may hold only range
//!   tombstones, with no data block and an empty index.
//! - **The footer** is at the end because a table is written front to back and only the
//!   end knows where the index went. It is fixed-size so a reader finds it from the
//!   file's length alone; its magic says "this is a minitable", its version says which
//!   layout, and its own checksum covers both handles and the version.
//!
//! Opening a table reads the footer, the properties, the index and the range tombstones
//! and checks them all
//! (and that the blocks lie back to back, so no byte escapes a checksum). A lookup
//! binary-searches the index (held in memory) for the one block, reads and checks it,
//! and walks it from the front: with no restart points a block can only be decoded in
//! order. An iterator ([`TableReader::iter`]) decodes a block's entry positions once and
//! steps through them both ways, loading the neighbouring block at either end.
//!
//! ## What it gives up
//!
//! Next to `ferris-sstable`, each missing piece has a price, and each is an exercise:
//!
//! - **No bloom filter.** A lookup of a key the table does not hold, but whose range
//!   (smallest to largest key) it falls in, reads and checks a whole block to find that
//!   out. `ferris-sstable` answers most of those from about 10 bits per key in memory;
//!   in an LSM tree, where a lookup asks every level, that is most of the reads of a
//!   missing key.
//! - **No prefix compression.** Neighbouring keys in a sorted run share long prefixes
//!   (`user:1001`, `user:1002`, ...), and every entry stores its key whole: bigger files,
//!   more bytes read per block, a bigger index.
//! - **No restart points.** Finding a key in a block means decoding it from the front:
//!   a linear scan of up to a block's worth of entries per lookup, where
//!   `ferris-sstable` binary-searches restart points and decodes at most 16 entries.
//! - **No compression.** [`TableOptions::compression`] and
//!   [`TableOptions::bloom_bits_per_key`] are ignored; [`TableOptions::block_size`] is
//!   honoured.
//!
//! What it keeps is everything the engine relies on: sorted order, lookups at a
//! snapshot, iteration both ways, a checksum over every byte, crash-safe creation, and
//! the shared [`BlockCache`](ferris_table::BlockCache) (checked blocks, keyed by a table
//! id and the block's offset; an iterator created with `fill_cache` off adds nothing to
//! it).
//!
//! ## Example
//!
//! Everything goes through the `ferris-table` traits, as the engine's calls do:
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//!
//! use ferris_core::iter::InternalIterator;
//! use ferris_core::{InternalKey, Lookup, ValueKind};
//! use ferris_fs::{FileSystem, SimFs};
//! use ferris_minitable::MinitableFormat;
//! use ferris_table::{ReadOptions, TableFormat, TableOptions};
//!
//! let fs: Arc<dyn FileSystem> = Arc::new(SimFs::new(1));
//! let dir = Path::new("/db");
//! fs.create_dir_all(dir)?;
//! let format = MinitableFormat;
//!
//! // Entries go in internal-key order: user keys ascending, newest version first.
//! let mut builder = format.create(&fs, dir, 7, &TableOptions::default())?;
//! builder.add(InternalKey::new(&b"apple"[..], 2, ValueKind::Put).as_ref(), b"green")?;
//! builder.add(InternalKey::new(&b"apple"[..], 1, ValueKind::Put).as_ref(), b"red")?;
//! builder.add(InternalKey::new(&b"pear"[..], 3, ValueKind::Delete).as_ref(), b"")?;
//! let properties = builder.finish()?;
//! assert_eq!(properties.entries, 3);
//! assert_eq!(fs.list(dir)?, ["000007.mtb"]);
//!
//! let table = format.open(&fs, dir, 7, &ReadOptions::default())?;
//! assert_eq!(table.get(b"apple", 1)?, Some(Lookup::Value("red".into())));
//! assert_eq!(table.get(b"apple", 9)?, Some(Lookup::Value("green".into())));
//! assert_eq!(table.get(b"pear", 9)?, Some(Lookup::Deleted)); // a tombstone is an answer
//! assert_eq!(table.get(b"plum", 9)?, None);
//!
//! // Every version, in order, through the shared iterator contract.
//! let mut it = Arc::clone(&table).iter(true);
//! it.seek_to_first();
//! let mut seen = Vec::new();
//! while it.valid() {
//!     seen.push(format!("{:?}", it.key()));
//!     it.next();
//! }
//! it.status()?;
//! assert_eq!(seen, ["apple@2:Put", "apple@1:Put", "pear@3:Delete"]);
//!
//! // Every byte lies under a checksum.
//! let check = table.verify()?;
//! assert!(check.is_intact());
//! assert_eq!(check.bytes, properties.file_size);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Durability
//!
//! A table is written as `NNNNNN.mtb.tmp`, gathered into 1 MiB appends; [`TableBuilder::finish`]
//! then syncs the file, renames it to `NNNNNN.mtb` and syncs the directory, and returns
//! only after all three. A power cut before the rename leaves at most the temporary
//! file (which [`TableFormat::parse_file_name`] reports as `temporary: true`, for
//! recovery to remove); one after it leaves the whole table, synced before it was named.
//! A builder dropped before `finish`, or whose `finish` failed before the rename, removes
//! its temporary file. After a failed write the builder is poisoned: every later call
//! returns the same error. The specification's crash analysis goes step by step.
//!
//! # Concurrency
//!
//! A finished table never changes. A reader is `Send + Sync` and every method takes
//! `&self`: any number of threads may look up and iterate at once, and each iterator
//! keeps the table open while it lives.
//!
//! # Guarantees
//!
//! - **Never a panic on bad bytes, never a wrong answer.** Every length is checked
//!   against the bytes present before anything is sliced or allocated, every block's
//!   checksum is checked before it is decoded, and a damaged table is an
//!   [`Error::Corruption`](ferris_core::Error::Corruption) naming the file and the
//!   block's offset. A newer version is
//!   [`Error::UnsupportedVersion`](ferris_core::Error::UnsupportedVersion).
//!   The tests feed arbitrary bytes to every reader path, flip every bit of a real
//!   table, and pin version 1's bytes with a golden file (`tests/golden/`).
//! - **[`TableReader::verify`]** reads every byte of the file again, bypassing the cache,
//!   lists every damaged block, and for an intact table accounts for the file's every
//!   byte.
//!
//! # Limits
//!
//! - The whole index is in memory while the table is open: some 60 bytes plus the last
//!   key for each data block (the entry's bytes, its decoded position, its handle).
//! - Decoding a block records every entry's position, about 24 bytes an entry, for as
//!   long as a lookup or an iterator holds it.
//! - A lookup reads a block for every key inside the table's key range, present or not.
//!
//! # Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 4. Try each exercise first.
//!
//! 1. Write the same 100,000 keys (`user:000000`, `user:000001`, ...) with
//!    `ferris_sstable::SstableFormat` and with [`MinitableFormat`], and compare
//!    [`TableProperties::file_size`](ferris_table::TableProperties). How much of the
//!    difference is prefix compression, and how much the bloom filter taking space?
//! 2. Look up 100,000 keys that are *not* in each table, with a
//!    [`BlockCache`](ferris_table::BlockCache), and compare the caches' misses. Which
//!    table reads a block for nearly every lookup, and why?
//! 3. Index by each block's *first* key instead of its last. Which lookups now read two
//!    blocks? Run `ferris-conformance` against your version: does it still pass?
//! 4. Add restart points to the data blocks, bump [`format::FORMAT_VERSION`], keep
//!    reading versions 1 and 2, and keep their golden files passing.
//!
//! # What to read next
//!
//! `ferris-sstable`, the default table format, which adds what this one leaves out;
//! then `ferris-conformance`, the suite every table format passes, to run against a
//! table format of your own. `docs/format/minitable.md` has the bytes.

#![forbid(unsafe_code)]

mod builder;
pub mod format;
mod iter;
mod reader;

use std::path::Path;
use std::sync::Arc;

use ferris_core::Result;
use ferris_fs::FileSystem;
use ferris_table::{ReadOptions, TableBuilder, TableFormat, TableName, TableOptions, TableReader};

use crate::builder::MinitableBuilder;
use crate::reader::MinitableReader;

/// The extension of a minitable's file name: `000012.mtb`.
pub const EXTENSION: &str = "mtb";

/// The minitable format: tables named `NNNNNN.mtb` (`NNNNNN.mtb.tmp` while being
/// written). See the [crate docs](crate).
#[derive(Debug, Clone, Copy, Default)]
pub struct MinitableFormat;

impl TableFormat for MinitableFormat {
    fn name(&self) -> &'static str {
        "minitable"
    }

    fn file_name(&self, number: u64) -> String {
        let name = TableName {
            number,
            temporary: false,
        };
        name.to_file_name(EXTENSION)
    }

    fn parse_file_name(&self, name: &str) -> Option<TableName> {
        TableName::parse(name, EXTENSION)
    }

    fn create(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &TableOptions,
    ) -> Result<Box<dyn TableBuilder>> {
        let builder = MinitableBuilder::create(Arc::clone(fs), dir, number, options)?;
        Ok(Box::new(builder))
    }

    fn open(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &ReadOptions,
    ) -> Result<Arc<dyn TableReader>> {
        let reader = MinitableReader::open(&**fs, &self.path(dir, number), options)?;
        Ok(Arc::new(reader))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_parse_back() {
        let f = MinitableFormat;
        assert_eq!(f.file_name(12), "000012.mtb");
        let table = |number, temporary| Some(TableName { number, temporary });
        assert_eq!(f.parse_file_name("000012.mtb"), table(12, false));
        assert_eq!(f.parse_file_name("000012.mtb.tmp"), table(12, true));
        assert_eq!(f.parse_file_name("1234567.mtb"), table(1_234_567, false));
        let max = f.file_name(u64::MAX);
        assert_eq!(f.parse_file_name(&max), table(u64::MAX, false));
        for other in [
            "12.mtb",
            "0000012.mtb",
            "+00012.mtb",
            "000012.sst",
            "000012.mtbx",
            "000012.mtb.tmp.tmp",
            "x00012.mtb",
            "99999999999999999999.mtb",
            "MANIFEST-000012",
            ".mtb",
            "",
        ] {
            assert_eq!(f.parse_file_name(other), None, "{other}");
        }
    }
}
