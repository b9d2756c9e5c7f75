//! Reading a table: open, point lookups, and a two-level cursor.

use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::key::{InternalKeyRef, compare_encoded};
use ferris_core::range_del::Tombstones;
use ferris_core::{InternalKey, SeqNo, ValueKind};
use ferris_fs::{FileSystem, ReadableFile};

use crate::block::{Block, BlockIter};
use crate::error::{Error, Result};
use crate::filter::may_contain;
use crate::table::format::{
    BLOCK_TRAILER_LEN, BlockHandle, Compression, FOOTER_LEN, FORMAT_VERSION, Footer, FooterError,
    MAX_BLOCK_LEN, Properties, block_crc,
};
use crate::table::range::TableRange;
use crate::table::readahead::Readahead;
use ferris_table::BlockCache;

/// How a table is read.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// A block cache shared with other tables; `None` reads every data block from the
    /// file on every access.
    pub block_cache: Option<Arc<BlockCache>>,
}

impl ReadOptions {
    /// Options that read through `cache`.
    pub fn with_cache(cache: Arc<BlockCache>) -> ReadOptions {
        ReadOptions {
            block_cache: Some(cache),
        }
    }
}

/// An open table file.
///
/// Opening reads and verifies the footer, the index, the filter, the properties and the
/// range tombstones (kept in memory: every lookup may consult them); data blocks are
/// read, verified and decompressed when a lookup or cursor needs them.
#[derive(Debug)]
pub struct Table {
    id: u64,
    cache: Option<Arc<BlockCache>>,
    file: Box<dyn ReadableFile>,
    pub(super) path: PathBuf,
    /// Where data and meta blocks may lie: everything before the footer.
    pub(super) blocks_end: u64,
    pub(super) index: Block,
    /// Where the meta blocks are, for errors about them and for [`Table::verify`].
    pub(super) footer: Footer,
    pub(super) filter: Bytes,
    pub(super) properties: Properties,
    /// The range-tombstone block, decoded; empty when the table has none.
    pub(super) range_tombstones: Arc<Tombstones>,
}

impl Table {
    /// Opens the table at `path` with no block cache.
    ///
    /// # Errors
    ///
    /// As [`Table::open_with`].
    pub fn open(fs: &dyn FileSystem, path: &Path) -> Result<Table> {
        Table::open_with(fs, path, ReadOptions::default())
    }

    /// Opens the table at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read; [`Error::Corruption`] if it is too short,
    /// its footer or any meta block is damaged; [`Error::UnsupportedVersion`] for a newer
    /// format.
    pub fn open_with(fs: &dyn FileSystem, path: &Path, options: ReadOptions) -> Result<Table> {
        let file = fs.open(path).map_err(|e| Error::io(path, e))?;
        let len = file.len();
        let Some(footer_at) = len.checked_sub(FOOTER_LEN as u64) else {
            return Err(Error::corruption(
                path,
                0,
                format!("{len} bytes is too short for a table"),
            ));
        };
        let mut raw = [0u8; FOOTER_LEN];
        file.read_exact_at(footer_at, &mut raw)
            .map_err(|e| Error::io(path, e))?;
        let footer = match Footer::decode(&raw) {
            Ok(footer) => footer,
            Err(FooterError::Damaged(reason)) => {
                return Err(Error::corruption(path, footer_at, reason));
            }
            Err(FooterError::UnsupportedVersion(found)) => {
                return Err(Error::UnsupportedVersion(ferris_core::UnsupportedVersion {
                    file: path.to_path_buf(),
                    format: "table",
                    found,
                    supported: FORMAT_VERSION,
                }));
            }
        };
        let mut table = Table {
            id: BlockCache::next_table_id(),
            cache: options.block_cache,
            file,
            path: path.to_path_buf(),
            blocks_end: footer_at,
            index: Block::new(Bytes::from_static(&[0, 0, 0, 0, 1, 0, 0, 0]))
                .expect("an empty block is valid"),
            footer,
            filter: Bytes::new(),
            properties: Properties::default(),
            range_tombstones: Arc::default(),
        };
        table.filter = table.read_block_bytes(footer.filter)?;
        let properties = table.read_block_bytes(footer.properties)?;
        table.properties = Properties::decode(&properties, footer.version).map_err(|e| {
            Error::corruption(
                path,
                footer.properties.offset,
                format!("properties block: {e}"),
            )
        })?;
        let index = table.read_block_bytes(footer.index)?;
        table.index = Block::new(index).map_err(|e| {
            Error::corruption(path, footer.index.offset, format!("index block: {e}"))
        })?;
        table.range_tombstones = Arc::new(table.read_range_tombstones()?);
        Ok(table)
    }

    /// Reads, verifies and decodes the range-tombstone block the properties name, if
    /// they name one, and checks it holds as many tombstones as they say.
    pub(super) fn read_range_tombstones(&self) -> Result<Tombstones> {
        let (count, handle) = (
            self.properties.range_tombstones,
            self.properties.range_tombstone_block,
        );
        if count == 0 {
            return Ok(Tombstones::default());
        }
        let corrupt = |reason: String| Error::corruption(&self.path, handle.offset, reason);
        let bytes = self.read_block_bytes(handle)?;
        let tombstones = Tombstones::decode(&bytes)
            .map_err(|e| corrupt(format!("range tombstone block: {e}")))?;
        if tombstones.len() as u64 != count {
            return Err(corrupt(format!(
                "range tombstones: the properties say {count} but the block holds {}",
                tombstones.len()
            )));
        }
        Ok(tombstones)
    }

    /// The table's range tombstones, fragmented; empty when it has none.
    pub fn range_tombstones(&self) -> &Arc<Tombstones> {
        &self.range_tombstones
    }

    /// What the writer recorded about the table.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// The file's size in bytes.
    pub fn file_size(&self) -> u64 {
        self.blocks_end + FOOTER_LEN as u64
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The newest version of `user_key` with a sequence number at most `snapshot`: its
    /// internal key (which says whether it is a value or a tombstone) and value.
    ///
    /// The bloom filter is asked first; a "no" answers without reading any data block.
    /// Range tombstones are not consulted: a caller resolves the entry against
    /// [`Table::range_tombstones`] (`SstableFormat`'s reader does).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Corruption`] from reading the blocks involved.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Option<(InternalKey, Bytes)>> {
        if !self.filter.is_empty() && !may_contain(&self.filter, user_key) {
            return Ok(None);
        }
        let target = InternalKey::seek_key(Bytes::copy_from_slice(user_key), snapshot).encode();
        let mut cursor = self.cursor();
        cursor.seek(&target);
        if !cursor.valid() {
            return cursor.status().map(|()| None);
        }
        let key = InternalKeyRef::decode(cursor.key()).map_err(|e| cursor.corruption(e.reason))?;
        if key.user_key != user_key {
            return Ok(None);
        }
        Ok(Some((key.to_owned(), cursor.value())))
    }

    /// Many lookups at one `snapshot`, for user keys in strictly ascending order: for each
    /// `i` whose `found[i]` is `None`, sets it to what [`Table::get`]`(keys[i], snapshot)`
    /// answers; an entry already `Some` is skipped.
    ///
    /// One cursor walks forward through the table: the bloom filter is asked per key,
    /// and a key that falls in the data block the cursor already holds is sought there
    /// without asking the index or the block cache again, so each block is fetched and
    /// decoded once for all the keys in it.
    ///
    /// # Errors
    ///
    /// As [`Table::get`]; entries answered before the error keep their answers.
    ///
    /// # Panics
    ///
    /// If `keys` and `found` differ in length.
    pub fn get_many<T>(
        &self,
        keys: &[&[u8]],
        snapshot: SeqNo,
        found: &mut [Option<T>],
        mut answer: impl FnMut(InternalKeyRef<'_>, Bytes) -> T,
    ) -> Result<()> {
        assert_eq!(keys.len(), found.len(), "get_many: one answer per key");
        let mut cursor = self.cursor();
        let mut target = Vec::new();
        let snapshot = snapshot.min(ferris_core::MAX_SEQNO);
        for (&user_key, slot) in keys.iter().zip(found) {
            if slot.is_some() || (!self.filter.is_empty() && !may_contain(&self.filter, user_key)) {
                continue;
            }
            target.clear();
            InternalKeyRef {
                user_key,
                seq: snapshot,
                kind: ValueKind::MAX,
            }
            .encode_into(&mut target);
            cursor.seek_forward(&target);
            if !cursor.valid() {
                // Past the last entry: no later key is in the table either.
                return cursor.status();
            }
            let key =
                InternalKeyRef::decode(cursor.key()).map_err(|e| cursor.corruption(e.reason))?;
            if key.user_key == user_key {
                *slot = Some(answer(key, cursor.value()));
            }
        }
        Ok(())
    }

    /// The entries whose user keys lie within `bounds` (every version of each), as a
    /// double-ended iterator.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, bounds: R) -> TableRange<'_> {
        let lo = bounds.start_bound().map(AsRef::as_ref);
        let hi = bounds.end_bound().map(AsRef::as_ref);
        TableRange::new(self.cursor(), self.cursor(), lo, hi)
    }

    /// Every entry, as a double-ended iterator.
    pub fn iter(&self) -> TableRange<'_> {
        self.range::<&[u8], _>(..)
    }

    /// A cursor over every entry, in internal-key order. It starts unpositioned.
    pub fn cursor(&self) -> TableCursor<'_> {
        self.cursor_from(TableRef::Borrowed(self))
    }

    /// Like [`Table::cursor`], but the cursor keeps the table alive itself, so it can
    /// outlive the borrow: the engine's iterators hold one per table they read.
    pub fn owned_cursor(self: &Arc<Table>) -> TableCursor<'static> {
        self.cursor_from(TableRef::Shared(Arc::clone(self)))
    }

    fn cursor_from<'a>(&self, table: TableRef<'a>) -> TableCursor<'a> {
        TableCursor {
            table,
            index: self.index.iter(compare_encoded),
            data: None,
            data_offset: 0,
            error: None,
            failed: false,
            fill_cache: true,
            readahead: Readahead::default(),
        }
    }

    /// The index: each data block's separator key (an encoded internal key) and handle, in
    /// order. For tools that show a table's structure, such as `ferris table dump`.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] if an index entry does not decode.
    pub fn index_entries(&self) -> Result<Vec<(Vec<u8>, BlockHandle)>> {
        let mut out = Vec::new();
        let mut it = self.index.iter(compare_encoded);
        it.seek_to_first();
        while it.valid() {
            let handle = BlockHandle::decode(it.value_slice()).map_err(|e| {
                Error::corruption(
                    &self.path,
                    self.footer.index.offset,
                    format!("index entry: {e}"),
                )
            })?;
            out.push((it.key().to_vec(), handle));
            it.next();
        }
        it.status().map_err(|e| {
            Error::corruption(
                &self.path,
                self.footer.index.offset,
                format!("index block: {e}"),
            )
        })?;
        Ok(out)
    }

    /// The data block at `handle`, verified and decompressed, through the cache when there
    /// is one.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Corruption`] from reading it.
    pub fn data_block(&self, handle: BlockHandle) -> Result<Block> {
        self.data_block_filling(handle, true, None)
    }

    /// [`Table::data_block`], caching a block it had to read only with `fill`, and reading
    /// it through a cursor's read-ahead when there is one.
    fn data_block_filling(
        &self,
        handle: BlockHandle,
        fill: bool,
        ahead: Option<&mut Readahead>,
    ) -> Result<Block> {
        let Some(cache) = &self.cache else {
            return self.load_data_block(handle, ahead);
        };
        // Only a block that decoded is cached, so a hit skips walking its restart
        // array again (most of a cached lookup's decoding cost otherwise).
        let bytes = cache.get_or_load(self.id, handle.offset, fill, || {
            self.load_data_block(handle, ahead).map(Block::into_bytes)
        })?;
        Block::validated(bytes)
            .map_err(|e| Error::corruption(&self.path, handle.offset, format!("data block: {e}")))
    }

    /// Reads the data block at `handle` from the file (never from the cache), through
    /// `ahead` when given, verifies, decompresses and decodes it.
    pub(super) fn load_data_block(
        &self,
        handle: BlockHandle,
        ahead: Option<&mut Readahead>,
    ) -> Result<Block> {
        let bytes = self.read_block_via(handle, ahead)?;
        Block::new(bytes)
            .map_err(|e| Error::corruption(&self.path, handle.offset, format!("data block: {e}")))
    }

    /// Reads, verifies and decompresses the block at `handle`.
    fn read_block_bytes(&self, handle: BlockHandle) -> Result<Bytes> {
        self.read_block_via(handle, None)
    }

    /// [`Table::read_block_bytes`], through a cursor's read-ahead when there is one.
    fn read_block_via(&self, handle: BlockHandle, ahead: Option<&mut Readahead>) -> Result<Bytes> {
        let end = handle
            .offset
            .checked_add(handle.size)
            .and_then(|e| e.checked_add(BLOCK_TRAILER_LEN as u64))
            .filter(|&e| e <= self.blocks_end);
        let Some(end) = end else {
            return Err(Error::corruption(
                &self.path,
                handle.offset,
                format!(
                    "block of {} bytes at {} runs past the blocks' end at {}",
                    handle.size, handle.offset, self.blocks_end
                ),
            ));
        };
        let with_trailer = match (self.file.mapped(), ahead) {
            (Some(map), _) => Bytes::copy_from_slice(&map[handle.offset as usize..end as usize]),
            (None, None) => self.read_at(handle.offset, end - handle.offset)?,
            (None, Some(ahead)) => match ahead.take(handle.offset, end) {
                Some(bytes) => bytes,
                None => {
                    let len = ahead.read_len(handle.offset, end, self.blocks_end);
                    ahead
                        .fill(handle.offset, len, |buf| {
                            self.file.read_exact_at(handle.offset, buf)
                        })
                        .map_err(|e| Error::io(&self.path, e))?;
                    ahead
                        .take(handle.offset, end)
                        .expect("the read-ahead holds the block it was read for")
                }
            },
        };
        let size = handle.size as usize;
        let (stored, trailer) = (with_trailer.slice(..size), &with_trailer[size..]);
        let tag = trailer[0];
        let crc = u32::from_le_bytes(trailer[1..].try_into().expect("4 bytes"));
        if crc != block_crc(&stored, tag) {
            return Err(Error::corruption(
                &self.path,
                handle.offset,
                "block checksum mismatch",
            ));
        }
        match Compression::from_u8(tag) {
            Some(Compression::None) => Ok(stored),
            Some(Compression::Zstd) => self.decompress(&stored, handle.offset),
            None => Err(Error::corruption(
                &self.path,
                handle.offset,
                format!("unknown compression {tag}"),
            )),
        }
    }

    /// `len` bytes of the file at `offset`.
    fn read_at(&self, offset: u64, len: u64) -> Result<Bytes> {
        self.file
            .read_vec(offset, len)
            .map(Bytes::from)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn decompress(&self, stored: &[u8], offset: u64) -> Result<Bytes> {
        let Some((len, frame)) = stored.split_first_chunk::<4>() else {
            return Err(Error::corruption(
                &self.path,
                offset,
                "compressed block shorter than its length",
            ));
        };
        let len = u32::from_le_bytes(*len);
        if u64::from(len) > MAX_BLOCK_LEN {
            return Err(Error::corruption(
                &self.path,
                offset,
                format!("block claims {len} bytes uncompressed"),
            ));
        }
        let raw = zstd::bulk::decompress(frame, len as usize)
            .map_err(|e| Error::corruption(&self.path, offset, format!("zstd: {e}")))?;
        if raw.len() != len as usize {
            return Err(Error::corruption(
                &self.path,
                offset,
                "block decompressed to the wrong length",
            ));
        }
        Ok(Bytes::from(raw))
    }
}

/// A cursor over a table's entries: the index block picks the data block, a block cursor
/// walks it, and crossing a block boundary loads the next (or previous) block.
///
/// Keys are encoded internal keys; decode them with `ferris_core::InternalKeyRef::decode`.
/// After an error the cursor is invalid and [`TableCursor::status`] returns the error.
#[derive(Debug)]
pub struct TableCursor<'a> {
    table: TableRef<'a>,
    index: BlockIter,
    data: Option<BlockIter>,
    data_offset: u64,
    /// The error that stopped the cursor, until [`TableCursor::status`] hands it out.
    error: Option<Error>,
    failed: bool,
    /// Blocks read from the file go into the block cache.
    fill_cache: bool,
    /// What the cursor read past its block, when it is scanning.
    readahead: Readahead,
}

/// The table a cursor reads: borrowed, or shared so the cursor can be `'static`.
#[derive(Debug)]
enum TableRef<'a> {
    Borrowed(&'a Table),
    Shared(Arc<Table>),
}

impl std::ops::Deref for TableRef<'_> {
    type Target = Table;

    fn deref(&self) -> &Table {
        match self {
            TableRef::Borrowed(table) => table,
            TableRef::Shared(table) => table,
        }
    }
}

impl TableCursor<'_> {
    /// Whether blocks this cursor has to read from the file go into the table's block
    /// cache (the default, `true`). Blocks already cached are used either way.
    ///
    /// A compaction reads each input block once and never again (its output replaces the
    /// inputs), so it turns this off: otherwise every compaction would fill the cache with
    /// blocks of tables about to be deleted, evicting the blocks readers need, and hold
    /// the cache's whole capacity in memory under a write-only load. RocksDB's
    /// `ReadOptions::fill_cache` is the same switch.
    #[must_use]
    pub fn fill_cache(mut self, fill: bool) -> Self {
        self.fill_cache = fill;
        self
    }

    /// Whether the cursor is on an entry.
    pub fn valid(&self) -> bool {
        !self.failed && self.data.as_ref().is_some_and(BlockIter::valid)
    }

    /// The current encoded internal key.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](TableCursor::valid).
    pub fn key(&self) -> &[u8] {
        self.data
            .as_ref()
            .expect("key() on an unpositioned table cursor")
            .key()
    }

    /// The current value.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](TableCursor::valid).
    pub fn value(&self) -> Bytes {
        self.data
            .as_ref()
            .expect("value() on an unpositioned table cursor")
            .value()
    }

    /// The error that made the cursor invalid, if any. The error is handed out once; later
    /// calls on a failed cursor report that it failed.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] or [`Error::Io`] that made the cursor invalid.
    pub fn status(&mut self) -> Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None if self.failed => {
                Err(self.corruption("the cursor failed earlier and reported why"))
            }
            None => Ok(()),
        }
    }

    fn fail(&mut self, error: Error) {
        self.error = Some(error);
        self.failed = true;
        self.data = None;
    }

    /// Positions on the first entry.
    pub fn seek_to_first(&mut self) {
        self.index.seek_to_first();
        if self.load_block() {
            self.data.as_mut().expect("loaded").seek_to_first();
        }
        self.skip_empty_forward();
    }

    /// Positions on the last entry.
    pub fn seek_to_last(&mut self) {
        self.index.seek_to_last();
        if self.load_block() {
            self.data.as_mut().expect("loaded").seek_to_last();
        }
        self.skip_empty_backward();
    }

    /// Positions on the first entry at or after the encoded internal key `target`.
    pub fn seek(&mut self, target: &[u8]) {
        self.index.seek(target);
        if self.load_block() {
            self.data.as_mut().expect("loaded").seek(target);
        }
        self.skip_empty_forward();
    }

    /// Like [`TableCursor::seek`], for a cursor moved only by seeks to ascending targets:
    /// when `target` falls in the data block the cursor holds, it is sought within that
    /// block, without asking the index or the block cache again. A batch of sorted
    /// lookups ([`Table::get_many`]) reads each block once this way.
    ///
    /// The shortcut assumes every entry of the blocks before the cursor's is below
    /// `target`, which seeks to ascending targets guarantee. After `next`, `prev` or a
    /// seek to a larger target, it may land past the right entry.
    pub fn seek_forward(&mut self, target: &[u8]) {
        // The index entry the cursor is on bounds its block from above, and every earlier
        // block holds only entries below an earlier target (that is why the cursor is not
        // there), so a target at or below this entry's key has its first entry at or after
        // it in this block, or (when the block ends before it) in the next blocks, which
        // `skip_empty_forward` moves to.
        let in_block = !self.failed
            && self.data.is_some()
            && self.index.valid()
            && compare_encoded(target, self.index.key()) != std::cmp::Ordering::Greater;
        if !in_block {
            return self.seek(target);
        }
        self.data.as_mut().expect("checked above").seek(target);
        self.skip_empty_forward();
    }

    /// Moves to the next entry.
    pub fn next(&mut self) {
        if let Some(data) = self.data.as_mut().filter(|d| d.valid()) {
            data.next();
            self.skip_empty_forward();
        }
    }

    /// Moves to the previous entry.
    pub fn prev(&mut self) {
        if let Some(data) = self.data.as_mut().filter(|d| d.valid()) {
            data.prev();
            self.skip_empty_backward();
        }
    }

    /// While the data cursor has run off its block, moves to the next block.
    fn skip_empty_forward(&mut self) {
        while !self.failed && self.data.as_ref().is_some_and(|d| !d.valid()) {
            if !self.check_data_status() {
                return;
            }
            self.index.next();
            if !self.load_block() {
                return;
            }
            self.data.as_mut().expect("loaded").seek_to_first();
        }
    }

    fn skip_empty_backward(&mut self) {
        while !self.failed && self.data.as_ref().is_some_and(|d| !d.valid()) {
            if !self.check_data_status() {
                return;
            }
            self.index.prev();
            if !self.load_block() {
                return;
            }
            self.data.as_mut().expect("loaded").seek_to_last();
        }
    }

    fn check_data_status(&mut self) -> bool {
        if let Some(Err(e)) = self.data.as_ref().map(BlockIter::status) {
            self.fail(self.corruption(&format!("data block: {e}")));
            return false;
        }
        true
    }

    /// Loads the data block the index cursor points at; false (and no block) when the index
    /// is exhausted or the block cannot be read.
    fn load_block(&mut self) -> bool {
        self.data = None;
        if !self.index.valid() {
            if let Err(e) = self.index.status() {
                self.fail(self.corruption(&format!("index block: {e}")));
            }
            return false;
        }
        let handle = match BlockHandle::decode(self.index.value_slice()) {
            Ok(h) => h,
            Err(e) => {
                self.fail(self.corruption(&format!("index entry: {e}")));
                return false;
            }
        };
        self.data_offset = handle.offset;
        let end =
            (handle.offset.saturating_add(handle.size)).saturating_add(BLOCK_TRAILER_LEN as u64);
        self.readahead.visit(handle.offset, end);
        match self
            .table
            .data_block_filling(handle, self.fill_cache, Some(&mut self.readahead))
        {
            Ok(block) => {
                self.data = Some(block.iter(compare_encoded));
                true
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    pub(crate) fn corruption(&self, reason: &str) -> Error {
        Error::corruption(&self.table.path, self.data_offset, reason)
    }
}
