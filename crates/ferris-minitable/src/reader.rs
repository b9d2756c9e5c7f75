//! Reading a minitable: open (footer, index, properties), point lookups, and a check of
//! every byte.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::iter::InternalIterator;
use ferris_core::key::compare_encoded;
use ferris_core::range_del::Tombstones;
use ferris_core::{
    Corruption, Error, InternalKey, IoResultExt, Lookup, MAX_SEQNO, Result, SeqNo,
    UnsupportedVersion, ValueKind,
};
use ferris_fs::{FileSystem, ReadableFile};
use ferris_table::{BlockCache, ReadOptions, TableCheck, TableProperties, TableReader};

use crate::format::{
    BLOCK_TRAILER_LEN, Block, FOOTER_LEN, FORMAT_VERSION, Footer, FooterError, Handle, Properties,
    crc,
};
use crate::iter::MinitableIter;

/// An open minitable. Opening reads and checks the footer, the properties, the index and
/// the range tombstones (kept in memory, decoded); data blocks are read (and checked)
/// when a lookup or an iterator needs them.
#[derive(Debug)]
pub(crate) struct MinitableReader {
    /// The first half of this table's keys in the block cache.
    id: u64,
    cache: Option<Arc<BlockCache>>,
    file: Box<dyn ReadableFile>,
    path: PathBuf,
    footer: Footer,
    /// Where the footer starts: the file's length less [`FOOTER_LEN`].
    footer_at: u64,
    /// The index block: data block `i`'s last key is entry `i`'s key.
    index: Block,
    /// Entry `i`'s value, decoded: where data block `i` is.
    handles: Vec<Handle>,
    /// The properties block as read at open, for [`TableReader::verify`] to compare.
    properties_block: Bytes,
    /// The properties block, decoded: the data blocks' own counts and bounds.
    props: Properties,
    /// The range-tombstone block as read at open (empty when there is none), for
    /// [`TableReader::verify`] to compare.
    range_tombstone_block: Bytes,
    range_tombstones: Arc<Tombstones>,
    properties: TableProperties,
}

impl MinitableReader {
    /// Opens the minitable at `path`.
    pub(crate) fn open(
        fs: &dyn FileSystem,
        path: &Path,
        options: &ReadOptions,
    ) -> Result<MinitableReader> {
        let file = fs.open(path).at(path)?;
        let len = file.len();
        let Some(footer_at) = len.checked_sub(FOOTER_LEN as u64) else {
            return Err(Error::corruption(
                path,
                0,
                format!("{len} bytes is too short for a minitable"),
            ));
        };
        let footer = read_footer(&*file, path, footer_at)?;
        let corrupt = |offset: u64, reason: String| Error::corruption(path, offset, reason);
        // The blocks lie back to back: the data blocks from offset 0, then the index, the
        // range tombstones (if any), the properties and the footer. Checking that here
        // means no byte of the file lies outside a checksum, and no handle can point
        // anywhere else.
        let laid_out = |ok: bool| {
            ok.then_some(()).ok_or_else(|| {
                corrupt(
                    footer_at,
                    "the footer's handles do not lay out the file".into(),
                )
            })
        };
        laid_out(footer.properties.end() == Some(footer_at))?;
        let properties_block = read_block(&*file, path, footer.properties, footer_at)?;
        let props = Properties::decode(&properties_block, footer.version)
            .map_err(|e| corrupt(footer.properties.offset, format!("properties block: {e}")))?;
        let tombstones_at = props.range_tombstone_block;
        let index_end = if props.range_tombstones > 0 {
            laid_out(tombstones_at.end() == Some(footer.properties.offset))?;
            tombstones_at.offset
        } else {
            footer.properties.offset
        };
        laid_out(footer.index.end() == Some(index_end))?;
        let index_block = read_block(&*file, path, footer.index, footer_at)?;
        // A table of range tombstones alone has an index of no entries.
        let index = if index_block.is_empty() && props.entries == 0 {
            Block::empty()
        } else {
            Block::decode(index_block)
                .map_err(|e| corrupt(footer.index.offset, format!("index block: {e}")))?
        };
        let handles = decode_handles(&index, footer.index.offset)
            .map_err(|reason| corrupt(footer.index.offset, reason))?;
        let (range_tombstone_block, range_tombstones) = if props.range_tombstones > 0 {
            let bytes = read_block(&*file, path, tombstones_at, footer_at)?;
            let tombstones = decode_tombstones(&bytes, props.range_tombstones)
                .map_err(|reason| corrupt(tombstones_at.offset, reason))?;
            (bytes, tombstones)
        } else {
            (Bytes::new(), Tombstones::default())
        };
        let properties = check_properties(&props, &index, len, &range_tombstones)
            .map_err(|reason| corrupt(footer.properties.offset, reason))?;
        Ok(MinitableReader {
            id: BlockCache::next_table_id(),
            cache: options.cache.clone(),
            file,
            path: path.to_path_buf(),
            footer,
            footer_at,
            index,
            handles,
            properties_block,
            props,
            range_tombstone_block,
            range_tombstones: Arc::new(range_tombstones),
            properties,
        })
    }

    /// The number of data blocks.
    pub(crate) fn n_blocks(&self) -> usize {
        self.handles.len()
    }

    /// The data block an entry at or after the encoded internal key `target` can be in:
    /// the first whose last key is at or after it, or [`MinitableReader::n_blocks`] when
    /// every key of the table sorts before `target`.
    pub(crate) fn block_for(&self, target: &[u8]) -> usize {
        self.index.seek(target)
    }

    /// Data block `block_idx`, checked, through the block cache when there is one;
    /// cached if it had to be read and `fill` is set.
    pub(crate) fn data_block(&self, block_idx: usize, fill: bool) -> Result<Block> {
        let handle = self.handles[block_idx];
        let bytes = match &self.cache {
            Some(cache) => cache.get_or_load(self.id, handle.offset, fill, || {
                read_block(&*self.file, &self.path, handle, self.footer_at)
            })?,
            None => read_block(&*self.file, &self.path, handle, self.footer_at)?,
        };
        self.decode_data_block(block_idx, bytes)
    }

    /// Decodes data block `block_idx` and checks that it belongs where the index puts it:
    /// its keys after the previous block's last key, its own last key the index's.
    fn decode_data_block(&self, block_idx: usize, bytes: Bytes) -> Result<Block> {
        let offset = self.handles[block_idx].offset;
        let block = Block::decode(bytes)
            .map_err(|e| Error::corruption(&self.path, offset, format!("data block: {e}")))?;
        let after_previous = block_idx == 0
            || compare_encoded(self.index.key(block_idx - 1), block.key(0)) == Ordering::Less;
        if !after_previous {
            return Err(Error::corruption(
                &self.path,
                offset,
                "data block starts at or before the previous block's last key",
            ));
        }
        if block.key(block.len() - 1) != self.index.key(block_idx) {
            return Err(Error::corruption(
                &self.path,
                offset,
                "data block's last key is not the one its index entry names",
            ));
        }
        Ok(block)
    }

    /// Reads the footer, the index and the properties from the file again and checks
    /// they are what was read at open.
    fn verify_meta(&self, check: &mut TableCheck) -> Result<()> {
        check.bytes += FOOTER_LEN as u64;
        match read_footer(&*self.file, &self.path, self.footer_at) {
            Ok(footer) if footer == self.footer => {}
            Ok(_) => check.damage.push(Corruption::new(
                &self.path,
                self.footer_at,
                "the footer differs from the one read at open",
            )),
            // A newer version's footer with a right checksum, where version 1's was: damage
            // all the same, since the table opened as version 1.
            Err(Error::UnsupportedVersion(v)) => {
                check
                    .damage
                    .push(Corruption::new(&self.path, self.footer_at, v.to_string()))
            }
            Err(e) => push_damage(check, e)?,
        }
        let mut meta = vec![
            (self.footer.index, self.index.as_bytes().clone(), "index"),
            (
                self.footer.properties,
                self.properties_block.clone(),
                "properties",
            ),
        ];
        if self.props.range_tombstones > 0 {
            meta.push((
                self.props.range_tombstone_block,
                self.range_tombstone_block.clone(),
                "range tombstone",
            ));
        }
        for (handle, at_open, what) in meta {
            check.blocks += 1;
            check.bytes += handle.size + BLOCK_TRAILER_LEN as u64;
            match read_block(&*self.file, &self.path, handle, self.footer_at) {
                Ok(now) if now == at_open => {}
                Ok(_) => check.damage.push(Corruption::new(
                    &self.path,
                    handle.offset,
                    format!("the {what} block differs from the one read at open"),
                )),
                Err(e) => push_damage(check, e)?,
            }
        }
        Ok(())
    }
}

/// Reads and decodes the footer at `footer_at`.
fn read_footer(file: &dyn ReadableFile, path: &Path, footer_at: u64) -> Result<Footer> {
    let mut raw = [0u8; FOOTER_LEN];
    file.read_exact_at(footer_at, &mut raw).at(path)?;
    Footer::decode(&raw).map_err(|e| match e {
        FooterError::Damaged(reason) => Error::corruption(path, footer_at, reason),
        FooterError::UnsupportedVersion(found) => Error::UnsupportedVersion(UnsupportedVersion {
            file: path.to_path_buf(),
            format: "minitable",
            found,
            supported: FORMAT_VERSION,
        }),
    })
}

/// Reads the block at `handle` and checks it against its checksum. Blocks lie before
/// `limit` (the footer); the handle is checked against it before anything is read or
/// allocated.
fn read_block(file: &dyn ReadableFile, path: &Path, handle: Handle, limit: u64) -> Result<Bytes> {
    let Some(end) = handle.end().filter(|&end| end <= limit) else {
        return Err(Error::corruption(
            path,
            handle.offset,
            format!(
                "a block of {} bytes at {} runs past the blocks' end at {limit}",
                handle.size, handle.offset
            ),
        ));
    };
    let mut raw = file.read_vec(handle.offset, end - handle.offset).at(path)?;
    let trailer = raw.split_off(raw.len() - BLOCK_TRAILER_LEN);
    let stored = u32::from_le_bytes(trailer.try_into().expect("4 bytes"));
    if stored != crc(&raw) {
        return Err(Error::corruption(
            path,
            handle.offset,
            "block checksum mismatch",
        ));
    }
    Ok(Bytes::from(raw))
}

/// The data blocks' handles from the index's values, checked to lie back to back from
/// offset 0 up to the index block.
fn decode_handles(index: &Block, index_offset: u64) -> Result<Vec<Handle>, String> {
    let mut handles = Vec::with_capacity(index.len());
    let mut expected = 0u64;
    for i in 0..index.len() {
        let handle =
            Handle::decode(&index.value(i)).map_err(|e| format!("index entry {i}: {e}"))?;
        if handle.offset != expected {
            return Err(format!(
                "index entry {i} puts its block at {} instead of {expected}",
                handle.offset
            ));
        }
        expected = handle
            .end()
            .ok_or_else(|| format!("index entry {i}: the block's end overflows"))?;
        handles.push(handle);
    }
    if expected != index_offset {
        return Err(format!(
            "the data blocks end at {expected}, the index starts at {index_offset}"
        ));
    }
    Ok(handles)
}

/// Decodes a range-tombstone block, which must hold `count` tombstones.
fn decode_tombstones(bytes: &[u8], count: u64) -> Result<Tombstones, String> {
    let tombstones =
        Tombstones::decode(bytes).map_err(|e| format!("range tombstone block: {e}"))?;
    if tombstones.len() as u64 != count {
        return Err(format!(
            "range tombstones: the properties say {count} but the block holds {}",
            tombstones.len()
        ));
    }
    Ok(tombstones)
}

/// The format-neutral properties of a table with properties `p` and `tombstones`: the
/// entries' bounds (none for a table of tombstones alone) widened by the tombstones'.
pub(crate) fn table_properties(
    p: &Properties,
    file_size: u64,
    tombstones: &Tombstones,
) -> Result<TableProperties, String> {
    let key = |what: &str, bytes: &[u8]| {
        if p.entries == 0 {
            // `with_range_tombstones` replaces it: the table has tombstones only.
            return Ok(InternalKey::new(Bytes::new(), 0, ValueKind::Delete));
        }
        InternalKey::decode(bytes).map_err(|e| format!("the {what} key: {e}"))
    };
    Ok(TableProperties::new(
        key("smallest", &p.smallest)?,
        key("largest", &p.largest)?,
        p.entries,
        p.tombstones,
        p.min_seq,
        p.max_seq,
        p.raw_bytes,
        file_size,
    )
    .with_keyspace(p.keyspace)
    .with_range_tombstones(tombstones))
}

/// The format-neutral properties, once they are checked against the index.
fn check_properties(
    p: &Properties,
    index: &Block,
    file_size: u64,
    tombstones: &Tombstones,
) -> Result<TableProperties, String> {
    if p.entries == 0 {
        // Only a table of range tombstones has no entries, and then no keys either.
        let empty = index.is_empty() && p.smallest.is_empty() && p.largest.is_empty();
        if !empty || tombstones.is_empty() || p.tombstones > 0 || p.min_seq > 0 || p.max_seq > 0 {
            return Err("a table without entries that is not one of range tombstones".into());
        }
        return table_properties(p, file_size, tombstones);
    }
    let key = |what: &str, bytes: &[u8]| {
        InternalKey::decode(bytes).map_err(|e| format!("the {what} key: {e}"))
    };
    let (smallest, largest) = (key("smallest", &p.smallest)?, key("largest", &p.largest)?);
    if index.is_empty() || p.largest != index.key(index.len() - 1) {
        return Err("the largest key is not the last block's last key".into());
    }
    if smallest > largest {
        return Err("the smallest key sorts after the largest".into());
    }
    if p.entries < index.len() as u64 || p.tombstones > p.entries {
        return Err(format!(
            "{} entries and {} tombstones in {} blocks do not add up",
            p.entries,
            p.tombstones,
            index.len()
        ));
    }
    if p.min_seq > p.max_seq || p.max_seq > MAX_SEQNO {
        return Err(format!(
            "sequence numbers {}..={} are not a range",
            p.min_seq, p.max_seq
        ));
    }
    table_properties(p, file_size, tombstones)
}

/// Files damage found by `verify` in `check`; an I/O error ends the check instead.
fn push_damage(check: &mut TableCheck, error: Error) -> Result<()> {
    match error {
        Error::Corruption(c) => {
            check.damage.push(c);
            Ok(())
        }
        other => Err(other),
    }
}

/// What the data blocks add up to, for comparison with the properties.
#[derive(Default)]
struct Totals {
    entries: u64,
    tombstones: u64,
    min_seq: SeqNo,
    max_seq: SeqNo,
    raw_bytes: u64,
    smallest: Option<Vec<u8>>,
}

impl TableReader for MinitableReader {
    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Option<Lookup>> {
        let point = self.point(user_key, snapshot)?;
        Ok(self.range_tombstones.resolve(user_key, snapshot, point))
    }

    fn range_tombstones(&self) -> Arc<Tombstones> {
        Arc::clone(&self.range_tombstones)
    }

    fn iter(self: Arc<Self>, fill_cache: bool) -> Box<dyn InternalIterator> {
        Box::new(MinitableIter::new(self, fill_cache))
    }

    fn properties(&self) -> &TableProperties {
        &self.properties
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every byte of the file again, none from the cache: the footer, the index,
    /// the range tombstones and the properties (which must be what was read at open), and
    /// each data block, whose checksum, entries and place in the index are checked. The
    /// entries must add up to the properties. Damage in one block does not stop the
    /// others being checked.
    fn verify(&self) -> Result<TableCheck> {
        self.verify_all()
    }
}

impl MinitableReader {
    /// The newest entry for `user_key` at or below `snapshot`, with its sequence number;
    /// range tombstones are left to the caller.
    fn point(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Option<(SeqNo, Lookup)>> {
        // Without a filter, the key range is the only way to skip the table unread.
        let p = &self.properties;
        if user_key < p.smallest.user_key() || user_key > p.largest.user_key() {
            return Ok(None);
        }
        let mut target = Vec::with_capacity(user_key.len() + 8);
        InternalKey::seek_key(Bytes::copy_from_slice(user_key), snapshot).encode_into(&mut target);
        let block_idx = self.block_for(&target);
        if block_idx == self.n_blocks() {
            return Ok(None);
        }
        let block = self.data_block(block_idx, true)?;
        // The block's last key is at or after the target, so an entry is found.
        let at = block.seek(&target);
        let key = block.internal_key(at);
        if key.user_key != user_key {
            return Ok(None);
        }
        let found = match key.kind {
            ValueKind::Put => Lookup::Value(block.value(at)),
            ValueKind::Delete => Lookup::Deleted,
        };
        Ok(Some((key.seq, found)))
    }

    /// See [`TableReader::verify`].
    fn verify_all(&self) -> Result<TableCheck> {
        let mut check = TableCheck::default();
        let mut totals = Totals {
            min_seq: MAX_SEQNO,
            ..Totals::default()
        };
        for (block_idx, &handle) in self.handles.iter().enumerate() {
            check.blocks += 1;
            check.bytes += handle.size + BLOCK_TRAILER_LEN as u64;
            let block = read_block(&*self.file, &self.path, handle, self.footer_at)
                .and_then(|bytes| self.decode_data_block(block_idx, bytes));
            match block {
                Ok(block) => {
                    for i in 0..block.len() {
                        let key = block.internal_key(i);
                        totals.entries += 1;
                        totals.tombstones += u64::from(key.kind == ValueKind::Delete);
                        totals.min_seq = totals.min_seq.min(key.seq);
                        totals.max_seq = totals.max_seq.max(key.seq);
                        totals.raw_bytes += (block.key(i).len() + block.value(i).len()) as u64;
                    }
                    totals.smallest.get_or_insert_with(|| block.key(0).to_vec());
                }
                Err(e) => push_damage(&mut check, e)?,
            }
        }
        check.entries = totals.entries;
        if totals.entries == 0 {
            // As the builder records a table of range tombstones alone.
            totals.min_seq = 0;
        }
        self.verify_meta(&mut check)?;
        // The totals only mean something when every block could be read.
        if check.damage.is_empty()
            && let Some(reason) = self.mismatch(&totals)
        {
            check.damage.push(Corruption::new(
                &self.path,
                self.footer.properties.offset,
                reason,
            ));
        }
        Ok(check)
    }
}

impl MinitableReader {
    /// How the data blocks' totals disagree with the properties, if they do.
    fn mismatch(&self, totals: &Totals) -> Option<String> {
        // The properties block's own counts: the data blocks', without range tombstones.
        let p = &self.props;
        [
            ("entries", p.entries, totals.entries),
            ("tombstones", p.tombstones, totals.tombstones),
            ("smallest sequence number", p.min_seq, totals.min_seq),
            ("largest sequence number", p.max_seq, totals.max_seq),
            ("raw bytes", p.raw_bytes, totals.raw_bytes),
        ]
        .into_iter()
        .find(|(_, said, found)| said != found)
        .map(|(what, said, found)| {
            format!("{what}: the properties say {said} but the data blocks hold {found}")
        })
        .or_else(|| {
            (totals.smallest.as_deref().unwrap_or_default() != p.smallest.as_slice())
                .then(|| "the smallest key is not the first block's first key".to_owned())
        })
    }
}
