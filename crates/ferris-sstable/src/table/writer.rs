//! Writing a table: entries in, one immutable file out.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::key::{InternalKeyRef, compare_encoded};
use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_core::{DEFAULT_KEYSPACE, InternalKey, KeyspaceId, MAX_SEQNO, ValueKind};
use ferris_fs::{FileSystem, WritableFile};

use crate::block::{BlockBuilder, DEFAULT_RESTART_INTERVAL};
use crate::error::{Error, Result};
use crate::filter::{BloomBuilder, DEFAULT_BITS_PER_KEY};
use crate::table::format::{
    BLOCK_TRAILER_LEN, BlockHandle, Compression, FORMAT_VERSION, Footer, Properties, block_crc,
    short_successor, shortest_separator,
};

/// How a table is written.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct TableOptions {
    /// Target size of a data block before compression (default 4 KiB). A block is closed
    /// once it reaches this size, so it may exceed it by one entry.
    pub block_size: usize,
    /// Entries between restart points in data blocks (default 16).
    pub restart_interval: usize,
    /// Bloom filter bits per user key (default 10, about 1% false positives); 0 writes no
    /// filter.
    pub bloom_bits_per_key: usize,
    /// Block compression (default none).
    pub compression: Compression,
    /// The zstd level when compressing (default 3).
    pub zstd_level: i32,
    /// The keyspace the table belongs to (default [`DEFAULT_KEYSPACE`]), recorded in its
    /// properties.
    pub keyspace: KeyspaceId,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            restart_interval: DEFAULT_RESTART_INTERVAL,
            bloom_bits_per_key: DEFAULT_BITS_PER_KEY,
            compression: Compression::None,
            zstd_level: 3,
            keyspace: DEFAULT_KEYSPACE,
        }
    }
}

/// Writes a table from entries given in internal-key order.
///
/// The file is written under a temporary name and appears under its real name only in
/// [`TableWriter::finish`], after it is complete and synced: a reader never sees half a
/// table, and a crash leaves at most a `.tmp` file to clean up.
#[derive(Debug)]
pub struct TableWriter {
    fs: Arc<dyn FileSystem>,
    path: PathBuf,
    tmp_path: PathBuf,
    file: Box<dyn WritableFile>,
    options: TableOptions,
    offset: u64,
    data: BlockBuilder,
    index: BlockBuilder,
    bloom: BloomBuilder,
    /// The last data block written, waiting for the next key to choose its index separator.
    pending: Option<BlockHandle>,
    last_key: Vec<u8>,
    props: Properties,
    /// Range tombstones added so far, fragmented together at `finish`.
    range_tombstones: Vec<RangeTombstone>,
    scratch: Vec<u8>,
    /// Blocks and trailers not yet handed to the file: they go out in writes of about
    /// [`WRITE_BUFFER_BYTES`], not two system calls per block.
    out: Vec<u8>,
    /// [`TableWriter::prefault`] set the file's length ahead: `finish` cuts it back.
    reserved: bool,
    /// The file is under its real name: dropping the writer removes nothing.
    finished: bool,
}

/// Index entries between restart points. Neighbouring separators share most of their
/// bytes, so with prefix compression an index entry takes about 21 bytes instead of 37
/// for 16-byte keys: the index of a 64 MiB table shrinks from 604 to 337 KB, and a
/// database of ten million such keys holds 5.7 MB of index in memory instead of 10.2
/// (`ferris-dbbench --num 10000000 --workloads fillrandom`, summed from the footers).
/// A lookup binary-searches the restarts and then decodes up to 16 entries that sit in
/// a few cache lines, instead of binary-searching every entry, at no measurable cost to
/// reads: `ferris-dbbench --num 1000000 --workloads readrandom,seekrandom` measures it
/// (`docs/benchmarks.md`, "Tables: an index restart every 16 entries", has the
/// comparison with a restart at every entry).
const INDEX_RESTART_INTERVAL: usize = 16;

/// Bytes a [`TableWriter`] gathers before it writes them to the file (RocksDB's
/// `writable_file_max_buffer_size` is the same 1 MiB). A 64 MiB table then costs 64
/// writes instead of 32,768 (a block and its trailer each), and the buffer is a bounded
/// 1 MiB per table being written.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

impl TableWriter {
    /// Starts writing the table that will appear at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the temporary file cannot be created (it must not exist).
    pub fn create(
        fs: Arc<dyn FileSystem>,
        path: &Path,
        options: TableOptions,
    ) -> Result<TableWriter> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp_path = PathBuf::from(tmp);
        let file = fs.create(&tmp_path).map_err(|e| Error::io(&tmp_path, e))?;
        Ok(TableWriter {
            fs,
            path: path.to_path_buf(),
            tmp_path,
            file,
            options,
            offset: 0,
            data: BlockBuilder::new(options.restart_interval),
            index: BlockBuilder::new(INDEX_RESTART_INTERVAL),
            bloom: BloomBuilder::new(options.bloom_bits_per_key),
            pending: None,
            last_key: Vec::new(),
            props: Properties {
                min_seq: MAX_SEQNO,
                keyspace: options.keyspace,
                ..Properties::default()
            },
            range_tombstones: Vec::new(),
            scratch: Vec::new(),
            out: Vec::with_capacity(WRITE_BUFFER_BYTES),
            reserved: false,
            finished: false,
        })
    }

    /// Has the file system set up page-cache pages for a table of about `expected_len`
    /// bytes now, before the entries arrive ([`WritableFile::prefault`]), so that writing
    /// the table later only copies. The contents are unaffected: a table larger than
    /// `expected_len` grows past it, and [`TableWriter::finish`] cuts a smaller one back
    /// to its size.
    ///
    /// The engine's flush thread prepares its next table this way while the memtable it
    /// will hold is still filling.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file system fails.
    pub fn prefault(&mut self, expected_len: u64) -> Result<()> {
        self.reserved = true;
        self.file
            .prefault(expected_len)
            .map_err(|e| Error::io(&self.tmp_path, e))
    }

    /// Adds an entry.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if `key` does not sort after the previous key;
    /// [`Error::Io`] if writing a full block fails.
    pub fn add(&mut self, key: &InternalKey, value: &[u8]) -> Result<()> {
        self.scratch.clear();
        key.encode_into(&mut self.scratch);
        let encoded = std::mem::take(&mut self.scratch);
        let result = self.add_encoded(&encoded, value);
        self.scratch = encoded;
        result
    }

    /// Adds an entry whose key is already an encoded internal key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if `key` is not an internal key or does not sort after the
    /// previous key; [`Error::Io`] if writing a full block fails.
    pub fn add_encoded(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let parsed = InternalKeyRef::decode(key)
            .map_err(|e| Error::InvalidInput(format!("not an internal key: {e}")))?;
        let first = self.props.n_entries == 0;
        if !first && compare_encoded(&self.last_key, key) != Ordering::Less {
            return Err(Error::InvalidInput(format!(
                "{:?} does not sort after {:?}",
                parsed,
                InternalKeyRef::decode(&self.last_key).expect("the last key was valid")
            )));
        }
        if let Some(handle) = self.pending.take() {
            // Any key between the last block's last key and this one separates them.
            let separator = internal_separator(&self.last_key, key);
            self.add_index_entry(&separator, handle);
        }
        let same_user_key = !first
            && InternalKeyRef::decode(&self.last_key)
                .expect("valid")
                .user_key
                == parsed.user_key;
        if !same_user_key && self.options.bloom_bits_per_key > 0 {
            self.bloom.add(parsed.user_key);
        }
        if first {
            self.props.smallest_key = key.to_vec();
        }
        self.props.n_entries += 1;
        self.props.n_tombstones += u64::from(parsed.kind == ValueKind::Delete);
        self.props.min_seq = self.props.min_seq.min(parsed.seq);
        self.props.max_seq = self.props.max_seq.max(parsed.seq);
        self.props.raw_bytes += (key.len() + value.len()) as u64;
        self.data.add(key, value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        if self.data.estimated_size() >= self.options.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Adds range tombstones (`ferris_core::range_del`), at any time before
    /// [`TableWriter::finish`]: they are fragmented together with those added before and
    /// stored in the table's range-tombstone block. The properties' bounds and sequence
    /// numbers stay the data blocks'; `ferris_table::TableProperties::with_range_tombstones`
    /// adds the tombstones' to them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a sequence number past `MAX_SEQNO`, which no reader
    /// would accept back; nothing is added then.
    pub fn add_range_tombstones(&mut self, tombstones: &Tombstones) -> Result<()> {
        tombstones.check_storable()?;
        self.range_tombstones.extend(tombstones.iter());
        Ok(())
    }

    /// True when range tombstones were added: the table will hold some.
    pub fn has_range_tombstones(&self) -> bool {
        !self.range_tombstones.is_empty()
    }

    /// Bytes written so far plus the open data block: what the file would roughly weigh now.
    pub fn estimated_size(&self) -> u64 {
        self.offset + self.data.estimated_size() as u64
    }

    /// The number of entries added.
    pub fn len(&self) -> u64 {
        self.props.n_entries
    }

    /// True when no entry has been added.
    pub fn is_empty(&self) -> bool {
        self.props.n_entries == 0
    }

    /// Writes the filter, range tombstones (if any), properties, index and footer, syncs the file, and moves it to
    /// its real name (then syncs the directory). Returns the table's properties.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] for any failed write, sync or rename; the temporary file is then
    /// removed (if the disk lets it be).
    pub fn finish(self) -> Result<Properties> {
        self.finish_with_len().map(|(props, _)| props)
    }

    /// [`TableWriter::finish`], also returning the table's size in bytes.
    ///
    /// # Errors
    ///
    /// As [`TableWriter::finish`].
    pub fn finish_with_len(self) -> Result<(Properties, u64)> {
        self.finish_with_tombstones()
            .map(|(props, len, _)| (props, len))
    }

    /// [`TableWriter::finish_with_len`], also returning the range tombstones written.
    pub(crate) fn finish_with_tombstones(mut self) -> Result<(Properties, u64, Tombstones)> {
        if !self.data.is_empty() {
            self.flush_data_block()?;
        }
        if let Some(handle) = self.pending.take() {
            let successor = internal_successor(&self.last_key);
            self.add_index_entry(&successor, handle);
        }
        self.props.largest_key = self.last_key.clone();
        if self.props.n_entries == 0 {
            self.props.min_seq = 0;
        }
        let filter = if self.options.bloom_bits_per_key > 0 {
            self.bloom.finish()
        } else {
            Vec::new()
        };
        let filter = self.write_block(&filter, Compression::None)?;
        let tombstones = Tombstones::new(std::mem::take(&mut self.range_tombstones));
        if !tombstones.is_empty() {
            let mut block = Vec::new();
            tombstones.encode(&mut block);
            self.props.range_tombstone_block = self.write_block(&block, Compression::None)?;
            self.props.range_tombstones = tombstones.len() as u64;
        }
        let properties = self.write_block(&self.props.encode(), Compression::None)?;
        let index_block = self.index.finish();
        let index = self.write_block(&index_block, Compression::None)?;
        let footer = Footer {
            version: FORMAT_VERSION,
            index,
            filter,
            properties,
        }
        .encode();
        self.append(&footer)?;
        self.write_out()?;
        if self.reserved {
            self.file
                .reserve(0)
                .map_err(|e| Error::io(&self.tmp_path, e))?;
        }
        self.file.sync().map_err(|e| Error::io(&self.tmp_path, e))?;
        self.fs
            .rename(&self.tmp_path, &self.path)
            .map_err(|e| Error::io(&self.tmp_path, e))?;
        // Renamed: there is no temporary file left for `Drop` to remove.
        self.finished = true;
        let dir = self.path.parent().unwrap_or(Path::new(""));
        self.fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        Ok((std::mem::take(&mut self.props), self.offset, tombstones))
    }

    fn flush_data_block(&mut self) -> Result<()> {
        let raw = self.data.finish();
        let handle = self.write_block(&raw, self.options.compression)?;
        self.props.n_data_blocks += 1;
        self.props.data_uncompressed_bytes += raw.len() as u64;
        self.props.data_stored_bytes += handle.size;
        self.pending = Some(handle);
        Ok(())
    }

    fn add_index_entry(&mut self, separator: &[u8], handle: BlockHandle) {
        let mut value = Vec::with_capacity(20);
        handle.encode_into(&mut value);
        self.index.add(separator, &value);
    }

    /// Stores a block (compressed if that saves at least an eighth) with its trailer.
    fn write_block(&mut self, raw: &[u8], compression: Compression) -> Result<BlockHandle> {
        let compressed = match compression {
            Compression::Zstd => {
                let frame = zstd::bulk::compress(raw, self.options.zstd_level)
                    .map_err(|e| Error::io(&self.tmp_path, e))?;
                let mut stored = Vec::with_capacity(4 + frame.len());
                stored.extend_from_slice(
                    &u32::try_from(raw.len())
                        .expect("a block stays under 4 GiB")
                        .to_le_bytes(),
                );
                stored.extend_from_slice(&frame);
                (stored.len() <= raw.len() - raw.len() / 8).then_some(stored)
            }
            Compression::None => None,
        };
        let (stored, tag) = match &compressed {
            Some(stored) => (stored.as_slice(), Compression::Zstd as u8),
            None => (raw, Compression::None as u8),
        };
        let handle = BlockHandle {
            offset: self.offset,
            size: stored.len() as u64,
        };
        let mut trailer = [0u8; BLOCK_TRAILER_LEN];
        trailer[0] = tag;
        trailer[1..].copy_from_slice(&block_crc(stored, tag).to_le_bytes());
        self.append(stored)?;
        self.append(&trailer)?;
        Ok(handle)
    }

    /// Appends to the table: into the write buffer, which goes to the file whenever the
    /// next bytes would not fit in its [`WRITE_BUFFER_BYTES`] (and at
    /// [`TableWriter::finish`], before the sync). Bytes longer than the whole buffer go to
    /// the file directly.
    ///
    /// The buffer is allocated once, at exactly [`WRITE_BUFFER_BYTES`], and never grows:
    /// a buffer left to double past its mark would be a 2 MiB allocation of a different
    /// size for every table, and such allocations, made and freed by the flush and
    /// compaction threads between the tables' long-lived index and filter blocks, leave
    /// the allocator's heap full of holes that no later request fits (see
    /// `docs/benchmarks.md`, "Ten million keys").
    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.offset += bytes.len() as u64;
        if self.out.len() + bytes.len() > WRITE_BUFFER_BYTES {
            self.write_out()?;
            if bytes.len() > WRITE_BUFFER_BYTES {
                return self
                    .file
                    .append(bytes)
                    .map_err(|e| Error::io(&self.tmp_path, e));
            }
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes the buffer to the file.
    fn write_out(&mut self) -> Result<()> {
        if !self.out.is_empty() {
            self.file
                .append(&self.out)
                .map_err(|e| Error::io(&self.tmp_path, e))?;
            self.out.clear();
        }
        Ok(())
    }
}

impl Drop for TableWriter {
    /// A writer dropped before [`TableWriter::finish`] renamed its file (never finished,
    /// or failed in `finish`) removes its temporary file: the table never appears, and
    /// nothing is left for recovery to clean up.
    fn drop(&mut self) {
        if !self.finished {
            // A temporary file left behind (the disk failing) is removed by the next open.
            let _ = self.fs.remove(&self.tmp_path);
        }
    }
}

/// A short internal key `s` with `last <= s < next`: the shortest user-key separator with
/// the largest trailer, so it sorts before every version of that user key.
fn internal_separator(last: &[u8], next: &[u8]) -> Vec<u8> {
    let (Ok(a), Ok(b)) = (InternalKeyRef::decode(last), InternalKeyRef::decode(next)) else {
        return last.to_vec();
    };
    let user = shortest_separator(a.user_key, b.user_key);
    if user.len() < a.user_key.len() && a.user_key < user.as_slice() {
        return InternalKey::new(user, MAX_SEQNO, ValueKind::MAX).encode();
    }
    last.to_vec()
}

/// A short internal key `s >= last`, for the index entry of the last block.
fn internal_successor(last: &[u8]) -> Vec<u8> {
    let Ok(a) = InternalKeyRef::decode(last) else {
        return last.to_vec();
    };
    let user = short_successor(a.user_key);
    if user.len() < a.user_key.len() && a.user_key < user.as_slice() {
        return InternalKey::new(user, MAX_SEQNO, ValueKind::MAX).encode();
    }
    last.to_vec()
}
