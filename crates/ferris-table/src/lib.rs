//! # ferris-table: the contract every table format meets
//!
//! ## The problem
//!
//! A full memtable becomes a file, and compaction merges files into new ones. The engine
//! does both without caring how the bytes inside are laid out: it needs to *write* a sorted
//! run of internal keys to a new file, and later to *find* a key in it, *walk* it in order,
//! and *check* it for damage. How entries are grouped into blocks, whether there is a
//! filter, how the index works: that is the table format's business, and there can be more
//! than one. `ferris-sstable` is FerrisDB's default (LevelDB's layout: prefix-compressed
//! blocks with restart points, a bloom filter, optional zstd); `ferris-minitable` is the
//! smallest format that honours the same contract, the one to write first.
//!
//! This crate is the contract, and nothing else:
//!
//! - [`TableFormat`]: names table files, creates them and opens them;
//! - [`TableBuilder`]: takes entries in order and finishes a table, reporting its
//!   [`TableProperties`];
//! - [`TableReader`]: point lookups, an [`InternalIterator`], [`TableReader::verify`];
//! - [`BlockCache`]: a byte-bounded cache of decoded blocks, shared by every table of a
//!   database whatever its format.
//!
//! The engine names none of the formats: it holds an `Arc<dyn TableFormat>` from its
//! options and talks to tables through these traits.
//!
//! ```
//! use std::sync::Arc;
//! use ferris_table::{TableFormat, TableName};
//!
//! // Any format: here, whatever the caller was given.
//! fn describe(format: &dyn TableFormat, name: &str) -> String {
//!     match format.parse_file_name(name) {
//!         Some(TableName { number, temporary: false }) => format!("table {number}"),
//!         Some(TableName { number, temporary: true }) => format!("table {number}, unfinished"),
//!         None => format!("not a {} table", format.name()),
//!     }
//! }
//! # let _ = describe;
//! ```
//!
//! ## The contract
//!
//! **Writing.** [`TableFormat::create`] starts table `number` in a directory. Entries are
//! added in strictly increasing internal-key order ([`Error::InvalidInput`] otherwise);
//! nothing is visible under the table's name until [`TableBuilder::finish`] returns, which
//! makes the file durable *and* its name durable (fsync the file, rename it into place,
//! fsync the directory). A power cut at any moment before that leaves at most a temporary
//! file, which [`TableFormat::parse_file_name`] recognises (`temporary: true`) so that
//! recovery can remove it. A builder dropped without `finish` removes its temporary file
//! itself. A table holds at least one entry or range tombstone: finishing a builder given
//! neither is [`Error::InvalidInput`]. The table records the keyspace it belongs to,
//! [`TableOptions::keyspace`], and reports it back as [`TableProperties::keyspace`] from
//! `finish` and from every reader that opens it: the one thing in [`TableOptions`] that is
//! not a hint. A table that is finished but not yet named in the manifest
//! (a power cut between the two) is the engine's business, not the format's: no version
//! lists it, and the next open removes it.
//!
//! **Reading.** A table is immutable once finished. [`TableReader::get`] answers "the newest
//! version of this user key at or below this sequence number", with the same
//! [`Lookup`] a memtable gives: a tombstone is [`Lookup::Deleted`], an answer that stops
//! the read, and `None` sends it on to older tables. [`TableReader::get_many`] asks the
//! same of many sorted keys at once, skipping those a newer table already answered.
//! [`TableReader::iter`] walks every
//! entry, every version and every tombstone, in internal-key order (user key ascending,
//! newest version first) through the [`InternalIterator`] contract: which versions a
//! reader may see is decided above it, by sequence number. Every byte read is checked: a
//! checksum mismatch, a length past the end or a key out of order is an
//! [`Error::Corruption`] naming the file and offset, never a panic and never a wrong
//! answer.
//!
//! **Range tombstones.** A table may also hold range deletes ([`ferris_core::range_del`]):
//! [`TableBuilder::add_range_tombstones`] takes them at any time before `finish`, and the
//! table keeps them in a part of its own, apart from the entries.
//! [`TableReader::range_tombstones`] hands them back, fragmented, as they were added
//! (loaded when the table opens: a reader consults them for every lookup in its range).
//! [`TableReader::get`] and [`TableReader::get_many`] honour them: a tombstone over the
//! key, visible at the snapshot and newer than the key's newest version in the table (or
//! over a key the table holds no version of), answers [`Lookup::Deleted`]
//! ([`Tombstones::resolve`](ferris_core::range_del::Tombstones::resolve)).
//! [`TableReader::iter`] yields entries only. The table's key range
//! ([`TableProperties::smallest`], [`TableProperties::largest`]) holds what its
//! tombstones cover ([`Tombstones::largest_key`](ferris_core::range_del::Tombstones::largest_key)),
//! so a table holding only a tombstone is a table, and the levels find it for every key it
//! covers. A format that cannot store them keeps the trait's defaults: adding is
//! [`Error::InvalidInput`], and its tables have none.
//!
//! **Checking.** [`TableReader::verify`] reads the whole file back, bypassing any cache,
//! and lists every piece of damage it finds instead of stopping at the first.
//!
//! **Naming.** The format owns its file names: [`TableFormat::file_name`] and
//! [`TableFormat::parse_file_name`] are inverses, and the engine never builds a table's
//! name itself. [`TableName::to_file_name`] and [`TableName::parse`] are the convention
//! both of FerrisDB's formats follow (`000012.sst`, `000012.sst.tmp`), for a format
//! that wants it.
//!
//! ## In the engine
//!
//! A database holds one format, `ferris_engine::Options::table_format` (an
//! `Arc<dyn TableFormat>`; by default `ferris_sstable::SstableFormat`). Flushes and
//! compactions write through it with [`TableOptions`] taken from the database's options
//! (block size, bloom bits, compression, for a format that uses them); every table is
//! opened through it with [`ReadOptions`] holding the database's one [`BlockCache`]; an
//! open asks it which files in the directory are tables and which are temporaries to
//! remove; `Db::verify` calls [`TableReader::verify`] on every live table. A database is
//! reopened with the format it was written with: the manifest records table numbers,
//! and the format turns them into names.
//!
//! ```
//! use std::sync::Arc;
//! use ferris_engine::{Db, Options};
//! use ferris_minitable::MinitableFormat;
//!
//! let dir = tempfile::tempdir()?;
//! let mut options = Options::default();
//! options.table_format = Arc::new(MinitableFormat);
//! let db = Db::open(dir.path(), options.clone())?;
//! db.put("apple", "red")?;
//! db.flush()?; // the memtable becomes a minitable, NNNNNN.mtb
//! assert!(std::fs::read_dir(dir.path())?
//!     .any(|entry| entry.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".mtb"))));
//! drop(db);
//! let db = Db::open(dir.path(), options)?;
//! assert_eq!(db.get("apple")?.as_deref(), Some(&b"red"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Checking a format
//!
//! `ferris-conformance` checks all of this against any format, on a simulated disk with
//! power cuts, failing operations and bit flips: a new format runs
//! `ferris_conformance::table::check_format` from one of its tests, and passes it before
//! the engine runs on it. That crate's front page shows the test.
//!
//! ## What to read next
//!
//! `ferris-sstable`, the default format and its chapter, then `ferris-minitable` for the
//! smallest one. `docs/concepts/swapping-components.md` plugs a second implementation of
//! each of the engine's traits into a database.

#![forbid(unsafe_code)]

mod cache;
pub mod levels;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::iter::InternalIterator;
use ferris_core::range_del::Tombstones;
use ferris_core::{
    Corruption, DEFAULT_KEYSPACE, InternalKey, InternalKeyRef, KeyspaceId, Lookup, Memtable,
    Result, SeqNo, ValueKind,
};
use ferris_fs::FileSystem;

pub use cache::{BlockCache, CacheStats};
pub use ferris_core::Error;

/// How blocks are compressed, for formats that compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Stored as is.
    #[default]
    None,
    /// Zstandard.
    Zstd,
}

/// How tables are written: hints every format may use or ignore (a format without
/// compression ignores [`TableOptions::compression`]), and one fact every format records:
/// [`TableOptions::keyspace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableOptions {
    /// Target size of a data block before compression, in bytes (default 4 KiB).
    pub block_size: usize,
    /// Bloom filter bits per user key (default 10, about 1% false positives); 0 for no
    /// filter.
    pub bloom_bits_per_key: usize,
    /// Block compression (default none).
    pub compression: Compression,
    /// The keyspace the table belongs to (default [`DEFAULT_KEYSPACE`]). Not a hint: every
    /// format records it in the file and reports it back as
    /// [`TableProperties::keyspace`], so that a table listed under the wrong keyspace is
    /// caught, and a table found alone can be attributed.
    pub keyspace: KeyspaceId,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            bloom_bits_per_key: 10,
            compression: Compression::None,
            keyspace: DEFAULT_KEYSPACE,
        }
    }
}

/// How tables are read.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// A cache of decoded blocks shared with other tables; `None` reads every block from
    /// the file every time.
    pub cache: Option<Arc<BlockCache>>,
}

impl ReadOptions {
    /// Options that read through `cache`.
    pub fn with_cache(cache: Arc<BlockCache>) -> ReadOptions {
        ReadOptions { cache: Some(cache) }
    }
}

/// What a file name is to a table format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableName {
    /// The table's number.
    pub number: u64,
    /// A table still being written (or abandoned by a crash): never live, always safe to
    /// remove when no writer holds it.
    pub temporary: bool,
}

impl TableName {
    /// What a table being written is called until it is finished: its name plus this.
    pub const TEMPORARY_SUFFIX: &str = ".tmp";

    /// The conventional file name of this table with `extension` (a helper for
    /// formats): the number in at least six digits, a dot and the extension
    /// (`000012.sst`), and [`TableName::TEMPORARY_SUFFIX`] after that for a temporary
    /// file (`000012.sst.tmp`).
    pub fn to_file_name(&self, extension: &str) -> String {
        let suffix = if self.temporary {
            Self::TEMPORARY_SUFFIX
        } else {
            ""
        };
        format!("{:06}.{extension}{suffix}", self.number)
    }

    /// The inverse of [`TableName::to_file_name`]: what `name` is, if it is exactly the
    /// name of a table or a temporary file with `extension`, and `None` for anything
    /// else. `0000012.sst`, `12.sst` and `+00012.sst` all spell the number 12, but none
    /// of them is `000012.sst`: one table has one name.
    pub fn parse(name: &str, extension: &str) -> Option<TableName> {
        let (stem, temporary) = match name.strip_suffix(Self::TEMPORARY_SUFFIX) {
            Some(stem) => (stem, true),
            None => (name, false),
        };
        let number = stem
            .strip_suffix(extension)?
            .strip_suffix('.')?
            .parse()
            .ok()?;
        let parsed = TableName { number, temporary };
        (parsed.to_file_name(extension) == name).then_some(parsed)
    }
}

/// What a finished table holds, as its writer recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableProperties {
    /// The smallest internal key, or the start of the first range tombstone when that
    /// sorts first (see [`TableProperties::with_range_tombstones`]).
    pub smallest: InternalKey,
    /// The largest internal key, or the greatest key the range tombstones cover when that
    /// sorts last.
    pub largest: InternalKey,
    /// Entries (versions), tombstones included.
    pub entries: u64,
    /// Tombstones.
    pub tombstones: u64,
    /// The smallest sequence number, of entries and range tombstones alike.
    pub min_seq: SeqNo,
    /// The largest sequence number, of entries and range tombstones alike.
    pub max_seq: SeqNo,
    /// Bytes of keys (encoded internal keys) and values, before any encoding.
    pub raw_bytes: u64,
    /// The file's size in bytes.
    pub file_size: u64,
    /// The keyspace the table belongs to, as its writer recorded it
    /// ([`TableOptions::keyspace`]); [`DEFAULT_KEYSPACE`] for a table of a format version
    /// that predates keyspaces.
    pub keyspace: KeyspaceId,
    /// Range tombstones, counted as [`Tombstones::len`] counts them (one per fragment and
    /// sequence number); 0 for a table of a format version that predates them.
    pub range_tombstones: u64,
}

impl TableProperties {
    /// Properties for a table of the given bounds and counts (a helper for formats), in
    /// [`DEFAULT_KEYSPACE`] until [`TableProperties::with_keyspace`] says otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        smallest: InternalKey,
        largest: InternalKey,
        entries: u64,
        tombstones: u64,
        min_seq: SeqNo,
        max_seq: SeqNo,
        raw_bytes: u64,
        file_size: u64,
    ) -> TableProperties {
        TableProperties {
            smallest,
            largest,
            entries,
            tombstones,
            min_seq,
            max_seq,
            raw_bytes,
            file_size,
            keyspace: DEFAULT_KEYSPACE,
            range_tombstones: 0,
        }
    }

    /// These properties, for a table of `keyspace`.
    pub fn with_keyspace(mut self, keyspace: KeyspaceId) -> TableProperties {
        self.keyspace = keyspace;
        self
    }

    /// These properties, for a table that also holds `tombstones`: a helper for formats,
    /// which record their entries' bounds and add the tombstones' here, so that the
    /// table's key range holds what its tombstones cover (see the
    /// [crate docs](crate#the-contract)).
    ///
    /// [`TableProperties::range_tombstones`] becomes their count. The bounds widen to
    /// hold `(start, newest tombstone seq, Delete)` of the first fragment and
    /// `(`[`Tombstones::largest_key`]`, 0, Delete)`, each taken only where it sorts
    /// before [`smallest`](TableProperties::smallest) (after
    /// [`largest`](TableProperties::largest)) in internal-key order: user key first, and
    /// for one user key the trailer that sorts before (after) every version of it. The
    /// sequence numbers widen to the tombstones'. With no entries
    /// ([`TableProperties::entries`] 0) the bounds and sequence numbers are the
    /// tombstones' alone; with no tombstones nothing changes.
    pub fn with_range_tombstones(mut self, tombstones: &Tombstones) -> TableProperties {
        let (Some(start), Some(end), Some((lo, hi))) = (
            tombstones.smallest_key(),
            tombstones.largest_key(),
            tombstones.seq_range(),
        ) else {
            return self;
        };
        let smallest = InternalKey::new(start.clone(), hi, ValueKind::Delete);
        let largest = InternalKey::new(end, 0, ValueKind::Delete);
        self.range_tombstones = tombstones.len() as u64;
        if self.entries == 0 {
            (self.smallest, self.largest) = (smallest, largest);
            (self.min_seq, self.max_seq) = (lo, hi);
            return self;
        }
        if smallest < self.smallest {
            self.smallest = smallest;
        }
        if largest > self.largest {
            self.largest = largest;
        }
        self.min_seq = self.min_seq.min(lo);
        self.max_seq = self.max_seq.max(hi);
        self
    }

    /// Checks that the table at `path` belongs to `expected`, the keyspace something
    /// else (the engine's manifest) lists it under.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming `path` and both keyspaces when the table recorded
    /// another: the table, or the record of it, is not what was written.
    pub fn check_keyspace(&self, path: &Path, expected: KeyspaceId) -> Result<()> {
        if self.keyspace == expected {
            return Ok(());
        }
        Err(Error::corruption(
            path,
            0,
            format!(
                "the table belongs to keyspace {} but is listed under keyspace {expected}",
                self.keyspace
            ),
        ))
    }

    /// The manifest's record of table `number` with these properties.
    pub fn to_meta(&self, number: u64) -> ferris_core::FileMeta {
        ferris_core::FileMeta {
            number,
            size: self.file_size,
            smallest: self.smallest.clone(),
            largest: self.largest.clone(),
            min_seq: self.min_seq,
            max_seq: self.max_seq,
            entries: self.entries,
            tombstones: self.tombstones,
        }
    }

    /// What the manifest's record of the table, `meta`, says otherwise than these
    /// properties (read from the table itself): its size, its entry count or its key
    /// range, or `None` when they agree. The two are written from the same properties, so
    /// a difference is damage to one or the other.
    pub fn disagreement(&self, meta: &ferris_core::FileMeta) -> Option<String> {
        if self.file_size != meta.size {
            Some(format!(
                "the file holds {} bytes but the manifest says {}",
                self.file_size, meta.size
            ))
        } else if self.entries != meta.entries {
            Some(format!(
                "the table holds {} entries but the manifest says {}",
                self.entries, meta.entries
            ))
        } else if self.smallest != meta.smallest || self.largest != meta.largest {
            Some("the table's key range is not the one the manifest records".to_string())
        } else {
            None
        }
    }
}

/// What [`TableReader::verify`] read, and the damage it found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableCheck {
    /// Bytes read and checked against a checksum. For an intact table this is the file's
    /// size: no byte lies outside a checksum.
    pub bytes: u64,
    /// Checksummed blocks read.
    pub blocks: u64,
    /// Entries decoded.
    pub entries: u64,
    /// Every piece of damage found, each naming the file and the offset of the block
    /// holding it. Empty when the table is intact.
    pub damage: Vec<Corruption>,
}

impl TableCheck {
    /// True when no damage was found.
    pub fn is_intact(&self) -> bool {
        self.damage.is_empty()
    }
}

/// A table format: how table files are named, written and opened. See the
/// [crate docs](crate) for the whole contract. In short:
///
/// - **Naming:** the format owns its file names. [`file_name`](TableFormat::file_name)
///   and [`parse_file_name`](TableFormat::parse_file_name) are inverses, and
///   `parse_file_name` also recognises the format's temporary files, so that recovery can
///   remove what a power cut left.
/// - **Order and visibility:** the [`TableBuilder`]s it creates take entries in
///   internal-key order; the [`TableReader`]s it opens answer at a sequence number.
/// - **Power cuts:** a table is durable under its name once
///   [`TableBuilder::finish`] returns; before that a cut leaves at most a temporary file
///   ([`TableName::temporary`]), never a file under a table's name.
///
/// What an implementor writes: `name`, `file_name`, `parse_file_name`, `create` and
/// `open`; `path` has a default. `ferris_minitable::MinitableFormat` is the smallest
/// implementation, and `ferris_conformance::table::check_format` checks one.
pub trait TableFormat: Send + Sync + fmt::Debug {
    /// A short lowercase name for logs and errors: `"sstable"`, `"minitable"`.
    fn name(&self) -> &'static str;

    /// The file name of table `number` (`000012.sst`).
    fn file_name(&self, number: u64) -> String;

    /// What `name` is to this format: one of its tables, one of its temporary files, or
    /// (`None`) something else.
    fn parse_file_name(&self, name: &str) -> Option<TableName>;

    /// Starts writing table `number` in `dir`. The table records `options.keyspace`,
    /// and its properties report it back (from [`TableBuilder::finish`] and
    /// [`TableReader::properties`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be created.
    fn create(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &TableOptions,
    ) -> Result<Box<dyn TableBuilder>>;

    /// Opens finished table `number` in `dir`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read, [`Error::Corruption`] if what must be read to
    /// open it is damaged, [`Error::UnsupportedVersion`] for a newer format version.
    fn open(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &ReadOptions,
    ) -> Result<Arc<dyn TableReader>>;

    /// The path of table `number` in `dir`.
    fn path(&self, dir: &Path, number: u64) -> PathBuf {
        dir.join(self.file_name(number))
    }
}

/// Writes one table from entries given in internal-key order. Dropping it without
/// [`finish`](TableBuilder::finish) removes what it wrote.
///
/// - **Order:** entries come in strictly increasing internal-key order (user key
///   ascending, then sequence number descending); one out of order is
///   [`Error::InvalidInput`]. Every version and every tombstone given is kept: which to
///   drop is decided before the builder, by the compaction's merge rules.
/// - **Power cuts:** until `finish` returns, the table exists only as a temporary file
///   (`000012.sst.tmp`, `000012.mtb.tmp` in FerrisDB's formats), which the format's
///   [`parse_file_name`](TableFormat::parse_file_name) reports as `temporary` and the
///   engine's next open removes. `finish` fsyncs the file, renames it into place and
///   fsyncs the directory, so after it returns the table survives a cut under its name.
///
/// What an implementor writes: `add`, `estimated_size`, `len` and `finish`; `add_all`,
/// `is_empty` and `prefault` have defaults.
pub trait TableBuilder: Send + fmt::Debug {
    /// Adds an entry.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if `key` does not sort after the previous key;
    /// [`Error::Io`] if writing fails.
    fn add(&mut self, key: InternalKeyRef<'_>, value: &[u8]) -> Result<()>;

    /// Adds every entry of `entries` from its first on, skipping those with a sequence
    /// number above `max_seq` (`SeqNo::MAX` keeps all): a flush writes a whole memtable,
    /// a checkpoint what memtables held at its moment.
    ///
    /// # Errors
    ///
    /// As for [`add`](TableBuilder::add), and the iterator's own error.
    fn add_all(&mut self, entries: &mut dyn InternalIterator, max_seq: SeqNo) -> Result<()> {
        entries.seek_to_first();
        while entries.valid() {
            if entries.key().seq <= max_seq {
                self.add(entries.key(), &entries.value())?;
            }
            entries.next();
        }
        entries.status()
    }

    /// Adds what `mems` hold up to `max_seq`: their versions, merged, and the range
    /// tombstones a reader at `max_seq` sees (a flush writes one whole memtable with
    /// `SeqNo::MAX`, a checkpoint what several held at its moment). Returns whether it
    /// added anything.
    ///
    /// # Errors
    ///
    /// As [`add`](TableBuilder::add) and
    /// [`add_range_tombstones`](TableBuilder::add_range_tombstones), and an iterator's own.
    fn add_memtables(&mut self, mems: &[Arc<dyn Memtable>], max_seq: SeqNo) -> Result<bool> {
        let before = self.len();
        let mut iters: Vec<Box<dyn InternalIterator>> =
            mems.iter().map(|m| Arc::clone(m).iter()).collect();
        match iters.len() {
            // One memtable needs no merge: a flush copies it straight.
            1 => self.add_all(&mut *iters.remove(0), max_seq)?,
            _ => self.add_all(&mut ferris_core::iter::MergingIterator::new(iters), max_seq)?,
        }
        let tombstones = Tombstones::union(mems.iter().map(|m| m.range_tombstones()));
        let tombstones = tombstones.visible_at(max_seq);
        self.add_range_tombstones(&tombstones)?;
        Ok(self.len() > before || !tombstones.is_empty())
    }

    /// Adds range tombstones ([`ferris_core::range_del`]), written at `finish` with those
    /// added before; the table's key range grows to hold what they cover. May be called
    /// before, between or after entries.
    ///
    /// # Errors
    ///
    /// The default, for a format that cannot store range tombstones, is
    /// [`Error::InvalidInput`] whenever `tombstones` is not empty.
    fn add_range_tombstones(&mut self, tombstones: &Tombstones) -> Result<()> {
        if tombstones.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidInput(
            "this table format cannot store range tombstones".into(),
        ))
    }

    /// About how large the file would be if finished now, in bytes: what compaction cuts
    /// its outputs by.
    fn estimated_size(&self) -> u64;

    /// Entries added so far.
    fn len(&self) -> u64;

    /// True before the first entry.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A hint that the table will be about `expected_len` bytes: a format may prepare the
    /// file for it now (the engine's flush thread calls this between flushes). The default
    /// does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if preparing the file fails.
    fn prefault(&mut self, expected_len: u64) -> Result<()> {
        let _ = expected_len;
        Ok(())
    }

    /// Completes the table and makes it durable under its name (file and directory
    /// entry). Returns what the table holds, [`TableProperties::keyspace`] being the
    /// keyspace it was created for.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a table with neither entries nor range tombstones;
    /// [`Error::Io`] for any failed
    /// write, sync or rename (the table then never appears, and its temporary file is
    /// removed if it can be).
    fn finish(self: Box<Self>) -> Result<TableProperties>;
}

/// A finished table, open for reading. Shared between threads; every method takes `&self`.
///
/// - **Order:** [`iter`](TableReader::iter) yields every entry in internal-key order (user
///   key ascending, then sequence number descending) through the [`InternalIterator`]
///   contract, tombstones included.
/// - **Visibility:** [`get`](TableReader::get) answers from versions numbered at most
///   `snapshot`, the newest of them deciding; [`Lookup::Deleted`] for a tombstone (an
///   answer: older tables must not be asked), `None` when the table holds no such version.
/// - **Power cuts:** a finished table never changes, and the engine names it in a version
///   only once `finish` has made it durable; a cut leaves it as it was.
/// - **Damage:** every byte read is checked; damage is [`Error::Corruption`] with the file
///   and offset, never a panic and never a wrong answer.
///
/// What an implementor writes: `get`, `iter`, `properties`, `path` and `verify`;
/// [`get_many`](TableReader::get_many) has a default that loops over `get`.
pub trait TableReader: Send + Sync + fmt::Debug {
    /// The newest version of `user_key` with a sequence number at most `snapshot`, or
    /// `None` when the table holds none; [`Lookup::Deleted`] when one of the table's range
    /// tombstones at most `snapshot` covers the key and is newer than that version (see
    /// the [crate docs](crate#the-contract)).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Corruption`] from the blocks read.
    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Option<Lookup>>;

    /// The table's range tombstones, fragmented; empty for a table without any.
    fn range_tombstones(&self) -> Arc<Tombstones> {
        Arc::default()
    }

    /// Many lookups at one `snapshot`: for each `i` whose `found[i]` is `None`, sets it to
    /// what [`get`](TableReader::get)`(keys[i], snapshot)` answers (which may be `None`
    /// again). An entry already `Some` is left as it is and its key not looked up: the
    /// engine asks tables newest first, and an answer from a newer table stands.
    ///
    /// `keys` are user keys in strictly ascending order (sorted, no duplicates), and
    /// `found` is as long as `keys`, so a format can answer in one forward pass: ask its
    /// filter per key, and read each block once for all the keys that fall in it. The
    /// default asks `get` for each key; a format overrides it when it can do better.
    ///
    /// # Errors
    ///
    /// As [`get`](TableReader::get). On an error, entries of `found` may have been set
    /// (each to its right answer), and the rest are as they were.
    ///
    /// # Panics
    ///
    /// A format may panic when `keys` and `found` differ in length, and may answer wrongly
    /// when `keys` are not ascending: both are bugs in the caller.
    fn get_many(
        &self,
        keys: &[&[u8]],
        snapshot: SeqNo,
        found: &mut [Option<Lookup>],
    ) -> Result<()> {
        assert_eq!(keys.len(), found.len(), "get_many: one answer per key");
        for (key, slot) in keys.iter().zip(found) {
            if slot.is_none() {
                *slot = self.get(key, snapshot)?;
            }
        }
        Ok(())
    }

    /// An iterator over every entry that keeps the table open while it lives. With
    /// `fill_cache` off, blocks it has to read are not added to the block cache (a
    /// compaction reads each block once, and would only evict what readers need).
    fn iter(self: Arc<Self>, fill_cache: bool) -> Box<dyn InternalIterator>;

    /// What the writer recorded about the table, the same as its
    /// [`TableBuilder::finish`] returned (keyspace included; [`DEFAULT_KEYSPACE`] for a
    /// table of a format version that recorded none).
    fn properties(&self) -> &TableProperties;

    /// The file.
    fn path(&self) -> &Path;

    /// Reads the whole file back, bypassing any cache, and checks every checksum and every
    /// entry. Damage is listed in the result, not returned as an error.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read.
    fn verify(&self) -> Result<TableCheck>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_another_keyspace_is_corruption_naming_both() {
        let key = |seq| InternalKey::new(&b"k"[..], seq, ferris_core::ValueKind::Put);
        let props = TableProperties::new(key(2), key(1), 2, 0, 1, 2, 10, 100);
        assert_eq!(props.keyspace, DEFAULT_KEYSPACE);
        let props = props.with_keyspace(7);
        let path = Path::new("/db/000012.sst");
        props.check_keyspace(path, 7).unwrap();
        let err = props.check_keyspace(path, 3).unwrap_err();
        let damage = err.as_corruption().expect("corruption");
        assert_eq!(damage.file, path);
        assert_eq!(
            damage.reason,
            "the table belongs to keyspace 7 but is listed under keyspace 3"
        );
    }

    #[test]
    fn a_manifest_record_agrees_with_its_table_until_one_of_them_changes() {
        let key = |seq| InternalKey::new(&b"k"[..], seq, ferris_core::ValueKind::Put);
        let props = TableProperties::new(key(2), key(1), 2, 0, 1, 2, 10, 100);
        let mut meta = props.to_meta(12);
        assert_eq!(props.disagreement(&meta), None);
        meta.entries = 3;
        let reason = props.disagreement(&meta).unwrap();
        assert_eq!(reason, "the table holds 2 entries but the manifest says 3");
        meta.entries = 2;
        meta.largest = key(0);
        assert!(props.disagreement(&meta).unwrap().contains("key range"));
        meta.size = 99;
        assert!(
            props
                .disagreement(&meta)
                .unwrap()
                .contains("holds 100 bytes")
        );
    }

    #[test]
    fn range_tombstones_widen_the_bounds_only_where_they_reach_further() {
        use ferris_core::range_del::RangeTombstone;
        let key = |k: &'static str, seq, kind| InternalKey::new(k.as_bytes(), seq, kind);
        let entries = TableProperties::new(
            key("c", 4, ValueKind::Put),
            key("m", 3, ValueKind::Put),
            2,
            0,
            3,
            4,
            10,
            100,
        );
        let inside = Tombstones::new([RangeTombstone::new("d", Some("e".into()), 9)]);
        let p = entries.clone().with_range_tombstones(&inside);
        assert_eq!(
            (&p.smallest, &p.largest),
            (&entries.smallest, &entries.largest)
        );
        assert_eq!((p.min_seq, p.max_seq, p.range_tombstones), (3, 9, 1));
        // Starting at the first entry's user key: the tombstone's newer trailer sorts first.
        let over = Tombstones::new([
            RangeTombstone::new("c", Some("m\0".into()), 2),
            RangeTombstone::new("c", Some("d".into()), 7),
        ]);
        let p = entries.clone().with_range_tombstones(&over);
        assert_eq!(p.smallest, key("c", 7, ValueKind::Delete));
        assert_eq!(p.largest, key("m", 0, ValueKind::Delete));
        assert_eq!((p.min_seq, p.max_seq, p.range_tombstones), (2, 7, 3));
        // No entries: the tombstones' bounds alone.
        let empty = TableProperties::new(
            key("", 0, ValueKind::Delete),
            key("", 0, ValueKind::Delete),
            0,
            0,
            0,
            0,
            0,
            50,
        );
        let p = empty.with_range_tombstones(&inside);
        assert_eq!(p.smallest, key("d", 9, ValueKind::Delete));
        assert_eq!(p.largest, key("e", 0, ValueKind::Delete));
        assert_eq!((p.min_seq, p.max_seq), (9, 9));
        assert_eq!(
            entries
                .clone()
                .with_range_tombstones(&Tombstones::default()),
            entries
        );
    }

    #[test]
    fn conventional_names_parse_back_and_only_they_do() {
        let table = |number, temporary| TableName { number, temporary };
        for name in [
            table(0, false),
            table(12, true),
            table(1_234_567, false),
            table(u64::MAX, true),
        ] {
            assert_eq!(
                TableName::parse(&name.to_file_name("sst"), "sst"),
                Some(name)
            );
        }
        assert_eq!(table(12, false).to_file_name("sst"), "000012.sst");
        assert_eq!(table(12, true).to_file_name("mtb"), "000012.mtb.tmp");
        for other in [
            "",
            ".sst",
            "12.sst",
            "0000012.sst",
            "+00012.sst",
            "000012.mtb",
            "000012.sstx",
            "000012.sst.tmp.tmp",
            "x00012.sst",
            "99999999999999999999.sst",
        ] {
            assert_eq!(TableName::parse(other, "sst"), None, "{other}");
        }
    }
}
