//! The sorted table as a [`TableFormat`]: how the engine (or anything that takes a table
//! format) writes and reads these tables through `ferris-table`'s traits.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::key::{TRAILER_LEN, compare_encoded};
use ferris_core::range_del::Tombstones;
use ferris_core::{InternalIterator, InternalKey, InternalKeyRef, Lookup, SeqNo, ValueKind};
use ferris_fs::FileSystem;
use ferris_table::{
    ReadOptions as FormatReadOptions, TableBuilder, TableCheck as FormatCheck, TableFormat,
    TableName, TableOptions as FormatOptions, TableProperties, TableReader,
};

use crate::error::Error;
use crate::table::format::{Compression, Properties};
use crate::table::reader::{ReadOptions, Table, TableCursor};
use crate::table::writer::{TableOptions, TableWriter};

/// The file name extension of a table.
const EXTENSION: &str = "sst";

/// FerrisDB's default table format: this crate's tables, named `NNNNNN.sst` (written as
/// `NNNNNN.sst.tmp` until finished).
#[derive(Debug, Clone, Copy, Default)]
pub struct SstableFormat;

impl TableFormat for SstableFormat {
    fn name(&self) -> &'static str {
        "sstable"
    }

    fn file_name(&self, number: u64) -> String {
        let name = TableName {
            number,
            temporary: false,
        };
        name.to_file_name(EXTENSION)
    }

    fn parse_file_name(&self, name: &str) -> Option<TableName> {
        // Only the names `file_name` gives, and their temporaries: `0000012.sst` also
        // spells 12, but taking it for table 12 would give one table two files.
        TableName::parse(name, EXTENSION)
    }

    fn create(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &FormatOptions,
    ) -> ferris_core::Result<Box<dyn TableBuilder>> {
        let writer_options = TableOptions {
            block_size: options.block_size,
            bloom_bits_per_key: options.bloom_bits_per_key,
            compression: match options.compression {
                ferris_table::Compression::Zstd => Compression::Zstd,
                _ => Compression::None,
            },
            keyspace: options.keyspace,
            ..TableOptions::default()
        };
        let path = self.path(dir, number);
        let writer = TableWriter::create(Arc::clone(fs), &path, writer_options)?;
        Ok(Box::new(SstableBuilder {
            writer,
            path,
            scratch: Vec::new(),
            failed: None,
        }))
    }

    fn open(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &FormatReadOptions,
    ) -> ferris_core::Result<Arc<dyn TableReader>> {
        let path = self.path(dir, number);
        let read = ReadOptions {
            block_cache: options.cache.clone(),
        };
        let table = Table::open_with(&**fs, &path, read)?;
        let properties = generic_properties(
            &path,
            table.properties(),
            table.file_size(),
            table.range_tombstones(),
        )?;
        Ok(Arc::new(SstableReader {
            table: Arc::new(table),
            properties,
        }))
    }
}

/// The format-neutral description of a table with these properties and range tombstones.
fn generic_properties(
    path: &Path,
    props: &Properties,
    file_size: u64,
    tombstones: &Tombstones,
) -> ferris_core::Result<TableProperties> {
    let key = |bytes: &[u8]| -> ferris_core::Result<InternalKey> {
        if props.n_entries == 0 {
            return Ok(InternalKey::new(Bytes::new(), 0, ValueKind::Delete));
        }
        InternalKey::decode(bytes).map_err(|e| {
            ferris_core::Error::corruption(path, 0, format!("a bound in the properties: {e}"))
        })
    };
    Ok(TableProperties::new(
        key(&props.smallest_key)?,
        key(&props.largest_key)?,
        props.n_entries,
        props.n_tombstones,
        props.min_seq,
        props.max_seq,
        props.raw_bytes,
        file_size,
    )
    .with_keyspace(props.keyspace)
    .with_range_tombstones(tombstones))
}

/// A [`TableWriter`] behind the [`TableBuilder`] trait.
#[derive(Debug)]
struct SstableBuilder {
    writer: TableWriter,
    path: PathBuf,
    scratch: Vec<u8>,
    /// The I/O error a write failed with. The writer cannot know which of its bytes
    /// reached the file, so every later call fails with it: going on would write blocks
    /// at offsets the index no longer matches, and `finish` would name a damaged table.
    failed: Option<ferris_core::Error>,
}

impl TableBuilder for SstableBuilder {
    fn add(&mut self, key: InternalKeyRef<'_>, value: &[u8]) -> ferris_core::Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.scratch.clear();
        key.encode_into(&mut self.scratch);
        let result = self.writer.add_encoded(&self.scratch, value);
        if let Err(e @ ferris_core::Error::Io(_)) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn add_range_tombstones(&mut self, tombstones: &Tombstones) -> ferris_core::Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.writer.add_range_tombstones(tombstones)
    }

    fn estimated_size(&self) -> u64 {
        self.writer.estimated_size()
    }

    fn len(&self) -> u64 {
        self.writer.len()
    }

    fn prefault(&mut self, expected_len: u64) -> ferris_core::Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.writer.prefault(expected_len)
    }

    fn finish(self: Box<Self>) -> ferris_core::Result<TableProperties> {
        if let Some(e) = self.failed {
            // Dropping the writer removes its temporary file.
            return Err(e);
        }
        if self.writer.is_empty() && !self.writer.has_range_tombstones() {
            return Err(ferris_core::Error::InvalidInput(
                "a table needs at least one entry or range tombstone".into(),
            ));
        }
        let path = self.path;
        let (props, len, tombstones) = self.writer.finish_with_tombstones()?;
        generic_properties(&path, &props, len, &tombstones)
    }
}

/// An open [`Table`] behind the [`TableReader`] trait.
#[derive(Debug)]
struct SstableReader {
    table: Arc<Table>,
    properties: TableProperties,
}

/// What a point lookup answers for an entry of the table.
fn lookup(kind: ValueKind, value: Bytes) -> Lookup {
    match kind {
        ValueKind::Put => Lookup::Value(value),
        ValueKind::Delete => Lookup::Deleted,
    }
}

impl TableReader for SstableReader {
    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> ferris_core::Result<Option<Lookup>> {
        // A key the bloom filter rules out has no version here, but a range tombstone
        // may still cover it: `Table::get` answers `None` and `resolve` decides.
        let point = self.table.get(user_key, snapshot)?;
        let point = point.map(|(key, value)| (key.seq(), lookup(key.kind(), value)));
        Ok(self
            .table
            .range_tombstones()
            .resolve(user_key, snapshot, point))
    }

    fn range_tombstones(&self) -> Arc<Tombstones> {
        Arc::clone(self.table.range_tombstones())
    }

    fn get_many(
        &self,
        keys: &[&[u8]],
        snapshot: SeqNo,
        found: &mut [Option<Lookup>],
    ) -> ferris_core::Result<()> {
        let tombstones = self.table.range_tombstones();
        if tombstones.is_empty() {
            return self
                .table
                .get_many(keys, snapshot, found, |key, value| lookup(key.kind, value));
        }
        // The keys not answered yet, with their sequence numbers kept for `resolve`.
        let (open, open_keys): (Vec<usize>, Vec<&[u8]>) = keys
            .iter()
            .zip(found.iter())
            .enumerate()
            .filter(|(_, (_, slot))| slot.is_none())
            .map(|(i, (key, _))| (i, *key))
            .unzip();
        let mut points = vec![None; open.len()];
        let result = self
            .table
            .get_many(&open_keys, snapshot, &mut points, |key, value| {
                (key.seq, lookup(key.kind, value))
            });
        if result.is_ok() {
            for ((i, key), point) in open.into_iter().zip(open_keys).zip(points) {
                found[i] = tombstones.resolve(key, snapshot, point);
            }
        }
        result
    }

    fn iter(self: Arc<Self>, fill_cache: bool) -> Box<dyn InternalIterator> {
        let cursor = self.table.owned_cursor().fill_cache(fill_cache);
        Box::new(TableIter::new(cursor, self.table.path()))
    }

    fn properties(&self) -> &TableProperties {
        &self.properties
    }

    fn path(&self) -> &Path {
        self.table.path()
    }

    fn verify(&self) -> ferris_core::Result<FormatCheck> {
        let check = self.table.verify()?;
        let mut out = FormatCheck::default();
        out.bytes = check.bytes;
        out.blocks = check.blocks;
        out.entries = check.entries;
        for damage in check.damage {
            match damage {
                Error::Corruption(c) => out.damage.push(c),
                other => return Err(other),
            }
        }
        Ok(out)
    }
}

/// A [`TableCursor`] as an [`InternalIterator`]: each move decodes (and so checks) the
/// current key's trailer once, and `seek_for_prev` is a seek and a step back.
pub struct TableIter {
    cursor: TableCursor<'static>,
    path: PathBuf,
    /// The decoded trailer of the current key, `None` when not positioned.
    current: Option<(SeqNo, ValueKind)>,
    error: Option<ferris_core::Error>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for TableIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableIter")
            .field("path", &self.path)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl TableIter {
    /// An iterator over what `cursor` walks, a table at `path`.
    pub fn new(cursor: TableCursor<'static>, path: &Path) -> TableIter {
        TableIter {
            cursor,
            path: path.to_path_buf(),
            current: None,
            error: None,
            scratch: Vec::new(),
        }
    }

    /// Decodes the cursor's position, or takes its error.
    fn settle(&mut self) {
        self.current = None;
        if !self.cursor.valid() {
            if let Err(e) = self.cursor.status() {
                self.error.get_or_insert(e);
            }
            return;
        }
        match InternalKeyRef::decode(self.cursor.key()) {
            Ok(k) => self.current = Some((k.seq, k.kind)),
            Err(e) => {
                self.error.get_or_insert(Error::corruption(
                    &self.path,
                    0,
                    format!("a table entry's key does not decode: {e}"),
                ));
            }
        }
    }

    fn encode(&mut self, target: InternalKeyRef<'_>) {
        self.scratch.clear();
        target.encode_into(&mut self.scratch);
    }
}

impl InternalIterator for TableIter {
    fn valid(&self) -> bool {
        self.current.is_some() && self.error.is_none()
    }

    fn key(&self) -> InternalKeyRef<'_> {
        let (seq, kind) = self.current.expect("key() on an invalid table iterator");
        let raw = self.cursor.key();
        InternalKeyRef {
            user_key: &raw[..raw.len() - TRAILER_LEN],
            seq,
            kind,
        }
    }

    fn value(&self) -> Bytes {
        self.cursor.value()
    }

    fn seek_to_first(&mut self) {
        self.cursor.seek_to_first();
        self.settle();
    }

    fn seek_to_last(&mut self) {
        self.cursor.seek_to_last();
        self.settle();
    }

    fn seek(&mut self, target: InternalKeyRef<'_>) {
        self.encode(target);
        self.cursor.seek(&self.scratch);
        self.settle();
    }

    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        self.encode(target);
        self.cursor.seek(&self.scratch);
        if self.cursor.valid() {
            if compare_encoded(self.cursor.key(), &self.scratch) == Ordering::Greater {
                self.cursor.prev();
            }
        } else {
            match self.cursor.status() {
                // Everything is before the target.
                Ok(()) => self.cursor.seek_to_last(),
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
        }
        self.settle();
    }

    fn next(&mut self) {
        self.cursor.next();
        self.settle();
    }

    fn prev(&mut self) {
        self.cursor.prev();
        self.settle();
    }

    fn status(&self) -> ferris_core::Result<()> {
        self.error.clone().map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use ferris_core::ValueKind;
    use ferris_fs::{Fault, FaultKind, Op, SimFs};

    use super::*;

    #[test]
    fn file_names_parse_back() {
        let f = SstableFormat;
        assert_eq!(f.file_name(12), "000012.sst");
        let table = |number, temporary| Some(TableName { number, temporary });
        assert_eq!(f.parse_file_name("000012.sst"), table(12, false));
        assert_eq!(f.parse_file_name("000012.sst.tmp"), table(12, true));
        assert_eq!(f.parse_file_name("1234567.sst"), table(1_234_567, false));
        for other in [
            "12.sst",
            // The regression: seven digits with a leading zero parsed as table 12.
            "0000012.sst",
            "000012.wal",
            "000012.sstx",
            "x00012.sst",
            "MANIFEST-000012",
            ".sst",
        ] {
            assert_eq!(f.parse_file_name(other), None, "{other}");
        }
    }

    /// A key the bloom filter rules out has no version in the table, but a range
    /// tombstone may still cover it: the lookup must answer `Deleted`, not `None`.
    #[test]
    fn a_key_the_filter_rules_out_is_still_deleted_under_a_range_tombstone() {
        use ferris_core::range_del::RangeTombstone;
        let sim = SimFs::new(3);
        let fs: Arc<dyn FileSystem> = Arc::new(sim);
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let format = SstableFormat;
        let mut builder = format
            .create(&fs, dir, 1, &FormatOptions::default())
            .unwrap();
        let past = Tombstones::new([RangeTombstone::new("a", None, ferris_core::MAX_SEQNO + 1)]);
        assert!(matches!(
            builder.add_range_tombstones(&past),
            Err(ferris_core::Error::InvalidInput(_))
        ));
        let over = Tombstones::new([RangeTombstone::new("a", Some("m".into()), 9)]);
        builder.add_range_tombstones(&over).unwrap();
        for k in ["b", "k"] {
            let key = InternalKey::new(k.as_bytes(), 4, ValueKind::Put);
            builder.add(key.as_ref(), b"v").unwrap();
        }
        builder.finish().unwrap();
        let reader = format
            .open(&fs, dir, 1, &FormatReadOptions::default())
            .unwrap();
        assert!(!reader.range_tombstones().is_empty());
        let mut found = vec![None; 3];
        reader.get_many(&[b"c", b"k", b"z"], 9, &mut found).unwrap();
        for (key, want) in [(&b"c"[..], Some(Lookup::Deleted)), (b"z", None)] {
            assert_eq!(reader.get(key, 9).unwrap(), want);
        }
        assert_eq!(found, [Some(Lookup::Deleted), Some(Lookup::Deleted), None]);
        assert_eq!(reader.get(b"c", 8).unwrap(), None, "before the tombstone");
    }

    /// Found by `ferris-conformance`'s `io_faults`: after an `add` failed to write a
    /// buffered block, the builder took more entries and `finish` succeeded. The writer
    /// had counted the lost bytes in its offsets, so the index pointed past the blocks
    /// actually written, and a damaged table appeared under its real name. Now the
    /// first I/O error poisons the builder: every later call returns it, and no table
    /// appears.
    #[test]
    fn a_builder_whose_write_failed_refuses_further_entries_and_finish() {
        let sim = SimFs::new(3);
        let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        sim.inject(Fault::new(Op::Append, FaultKind::Eio));
        let format = SstableFormat;
        let mut builder = format
            .create(&fs, dir, 12, &FormatOptions::default())
            .unwrap();
        let value = vec![7u8; 100_000];
        let key = |i: u32| InternalKey::new(i.to_be_bytes().to_vec(), 1, ValueKind::Put);
        let failed_at = (0..100)
            .find(|&i| builder.add(key(i).as_ref(), &value).is_err())
            .expect("a buffered write fails once the buffer is full");
        for i in failed_at + 1..failed_at + 20 {
            let refused = builder.add(key(i).as_ref(), &value);
            assert!(
                matches!(refused, Err(ferris_core::Error::Io(_))),
                "{refused:?}"
            );
        }
        let finished = builder.finish();
        assert!(
            matches!(finished, Err(ferris_core::Error::Io(_))),
            "{finished:?}"
        );
        assert_eq!(fs.list(dir).unwrap(), Vec::<String>::new());
    }
}
