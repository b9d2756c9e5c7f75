//! # Lab stage 4: a table format
//!
//! A full memtable becomes a file, and compaction merges files into new ones. Your job:
//! [`LabFormat`], an implementation of [`ferris_table::TableFormat`]: a
//! [`TableBuilder`] that writes sorted entries to a file and makes it durable, and a
//! [`TableReader`] that finds a key in it, walks it, and checks it for damage.
//!
//! Read the contract first: `ferris-table`'s front page. Start with the simplest format
//! that keeps it, `ferris-minitable`'s (its byte-level spec is `docs/format/minitable.md`):
//! entries in checksummed blocks, a sparse index of each block's last key, a footer. In
//! short, what the grader checks:
//!
//! - **Names.** `file_name(12)` and `parse_file_name` are inverses, and a file still being
//!   written has a temporary name that `parse_file_name` recognises
//!   (`ferris_table::TableName` has the convention: `000012.lab`, `000012.lab.tmp`).
//! - **Round trips.** What was added comes back: `get` at every snapshot, `iter` both ways,
//!   the properties (bounds, counts, sequence numbers, file size, keyspace).
//! - **Range tombstones**, kept apart from the entries, resolved by `get`.
//! - **Power cuts.** `finish` fsyncs the file, renames it into place and fsyncs the
//!   directory; a cut at any moment before leaves no file under the table's name.
//! - **Damage.** Every bit flipped, every truncation, is an `Error::Corruption` naming the
//!   file, never a panic and never a wrong answer: checksum every byte you read.
//!
//! Every body below is empty: names are empty, the builder keeps nothing and refuses to
//! finish an empty table (rightly: it has no entries), the reader finds nothing. The grader
//! runs FerrisDB's table suite, the same one `ferris-sstable` and `ferris-minitable` pass,
//! on a simulated disk:
//!
//! ```sh
//! cargo xtask lab check table              # your format
//! cargo xtask lab check table --reference  # ferris-minitable, which passes
//! ```
//!
//! The reference solution is `ferris_minitable::MinitableFormat`
//! (`crates/ferris-minitable/src/`).

// The bodies are yours to write; until then they ignore their arguments and fields.
// The lab's starters are the one place in the workspace where that is allowed: see
// CLAUDE.md.
#![allow(unused_variables, dead_code)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::{Error, InternalIterator, InternalKey, InternalKeyRef, Lookup, Result, SeqNo};
use ferris_fs::FileSystem;
use ferris_table::{
    ReadOptions, TableBuilder, TableCheck, TableFormat, TableName, TableOptions, TableProperties,
    TableReader,
};

/// Your table format.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabFormat;

impl TableFormat for LabFormat {
    /// A short lowercase name for logs and errors. Nothing to write.
    fn name(&self) -> &'static str {
        "lab"
    }

    /// The file name of table `number`.
    ///
    /// What to write: `TableName { number, temporary: false }.to_file_name("lab")`.
    fn file_name(&self, number: u64) -> String {
        String::new()
    }

    /// What `name` is to this format: a table, a temporary file, or `None`.
    ///
    /// What to write: `TableName::parse(name, "lab")`.
    fn parse_file_name(&self, name: &str) -> Option<TableName> {
        None
    }

    /// Starts writing table `number` in `dir`.
    ///
    /// What to write: create the temporary file (`fs.create`) and keep it, with what the
    /// builder needs, in a [`LabBuilder`].
    fn create(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &TableOptions,
    ) -> Result<Box<dyn TableBuilder>> {
        Ok(Box::new(LabBuilder {
            keyspace: options.keyspace,
        }))
    }

    /// Opens finished table `number` in `dir`.
    ///
    /// What to write: read and check the footer and the index, then keep the file in a
    /// [`LabReader`]. Damage is `Error::Corruption` naming the file and offset.
    fn open(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &ReadOptions,
    ) -> Result<Arc<dyn TableReader>> {
        let nothing = InternalKey::new(Vec::new(), 0, ferris_core::ValueKind::Put);
        Ok(Arc::new(LabReader {
            path: self.path(dir, number),
            properties: TableProperties::new(nothing.clone(), nothing, 0, 0, 0, 0, 0, 0),
        }))
    }
}

/// Writes one table.
///
/// What to write: the temporary file, the current block, the index so far, the last key
/// added (to refuse one out of order), the counts and bounds for the properties, the
/// range tombstones. Dropping a builder unfinished removes its temporary file
/// (`impl Drop`).
#[derive(Debug)]
pub struct LabBuilder {
    keyspace: ferris_core::KeyspaceId,
}

impl TableBuilder for LabBuilder {
    /// Adds an entry, in strictly increasing internal-key order.
    ///
    /// What to write: refuse a key that does not sort after the last one
    /// (`Error::InvalidInput`), append the entry to the current block, and write the
    /// block out (with its checksum) once it reaches the block size.
    fn add(&mut self, key: InternalKeyRef<'_>, value: &[u8]) -> Result<()> {
        Ok(())
    }

    /// Adds range tombstones, written at `finish`.
    ///
    /// What to write: keep them (`Tombstones::union`). Until then, the trait's rule for a
    /// format that cannot store them.
    fn add_range_tombstones(
        &mut self,
        tombstones: &ferris_core::range_del::Tombstones,
    ) -> Result<()> {
        if tombstones.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidInput(
            "this table format cannot store range tombstones yet".into(),
        ))
    }

    /// About how large the file would be if finished now.
    fn estimated_size(&self) -> u64 {
        0
    }

    /// Entries added so far.
    fn len(&self) -> u64 {
        0
    }

    /// Completes the table and makes it durable under its name.
    ///
    /// What to write: the last block, the range tombstones, the index, the footer (magic,
    /// version, keyspace, checksums); then sync the file, rename it to its name, sync the
    /// directory, and return the properties. A table with no entry and no range
    /// tombstone is `Error::InvalidInput`, as here: this builder keeps nothing, so every
    /// table it is given is empty.
    fn finish(self: Box<Self>) -> Result<TableProperties> {
        Err(Error::InvalidInput(
            "a table holds at least one entry or range tombstone".into(),
        ))
    }
}

/// A finished table, open for reading.
///
/// What to write: the file, the index read at `open`, the properties and range
/// tombstones from the footer.
#[derive(Debug)]
pub struct LabReader {
    path: PathBuf,
    properties: TableProperties,
}

impl TableReader for LabReader {
    /// The newest version of `user_key` numbered at most `snapshot`.
    ///
    /// What to write: find the block that may hold `(user_key, snapshot)` in the index,
    /// read and check it, and search it; then resolve against the range tombstones.
    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Option<Lookup>> {
        Ok(None)
    }

    /// An iterator over every entry.
    ///
    /// What to write: an iterator holding this reader (`self`, an `Arc`), a block and a
    /// position in it; a damaged block makes it invalid with the error in `status`.
    fn iter(self: Arc<Self>, fill_cache: bool) -> Box<dyn InternalIterator> {
        Box::new(ferris_core::iter::VecIter::default())
    }

    /// What the builder recorded, read back from the file.
    fn properties(&self) -> &TableProperties {
        &self.properties
    }

    /// The file.
    fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the whole file back and lists every piece of damage found.
    ///
    /// What to write: check every block's checksum and every entry's order, counting the
    /// bytes checked (an intact table accounts for all of them).
    fn verify(&self) -> Result<TableCheck> {
        Ok(TableCheck::default())
    }
}
