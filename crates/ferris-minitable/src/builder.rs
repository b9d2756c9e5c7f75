//! Writing a minitable: entries in, blocks out, then the index, the properties and the
//! footer, and only then the file's real name.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_core::{Error, InternalKeyRef, MAX_SEQNO, Result, ValueKind};
use ferris_fs::{FileSystem, WritableFile};
use ferris_table::{TableBuilder, TableName, TableOptions, TableProperties};

use crate::format::{FORMAT_VERSION, Footer, Handle, Properties, crc, put_entry};

/// Bytes gathered before they are handed to the file. Without the buffer every block
/// would cost two appends (the block and its checksum), each a system call on a real
/// disk; with it, a 64 MiB table costs 64. It is allocated once and never grows past this
/// size (a block larger than it goes to the file directly), so a builder holds a bounded
/// 1 MiB, as `ferris-sstable`'s writer does for the same reasons.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// Writes one minitable to `NNNNNN.mtb.tmp`, and renames it to `NNNNNN.mtb` in
/// [`TableBuilder::finish`].
#[derive(Debug)]
pub(crate) struct MinitableBuilder {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    path: PathBuf,
    tmp_path: PathBuf,
    file: Box<dyn WritableFile>,
    block_size: usize,
    /// Bytes not yet handed to the file.
    out: Vec<u8>,
    /// Bytes given to `append` so far: the offset of the next block.
    offset: u64,
    /// The data block being filled.
    block: Vec<u8>,
    /// The index block being built: one entry per finished data block.
    index: Vec<u8>,
    /// The last key added, encoded; the index key of the open block when it is closed.
    last_key: Vec<u8>,
    props: Properties,
    /// Range tombstones added so far, fragmented together when the table is finished.
    range_tombstones: Vec<RangeTombstone>,
    /// The first I/O error: the file's contents are unknown from then on, so every later
    /// call fails with it (the builder is poisoned).
    failed: Option<Error>,
    /// The file is under its real name: dropping the builder removes nothing.
    renamed: bool,
}

impl MinitableBuilder {
    /// Starts writing table `number`, which will appear as `dir/NNNNNN.mtb`, by creating
    /// `dir/NNNNNN.mtb.tmp`, with `options`' block size and keyspace.
    pub(crate) fn create(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &TableOptions,
    ) -> Result<MinitableBuilder> {
        let name = |temporary| TableName { number, temporary }.to_file_name(crate::EXTENSION);
        let path = dir.join(name(false));
        let tmp_path = dir.join(name(true));
        let file = fs.create(&tmp_path).map_err(|e| Error::io(&tmp_path, e))?;
        Ok(MinitableBuilder {
            fs,
            dir: dir.to_path_buf(),
            path,
            tmp_path,
            file,
            block_size: options.block_size,
            out: Vec::with_capacity(WRITE_BUFFER_BYTES),
            offset: 0,
            block: Vec::new(),
            index: Vec::new(),
            last_key: Vec::new(),
            props: Properties {
                min_seq: MAX_SEQNO,
                keyspace: options.keyspace,
                ..Properties::default()
            },
            range_tombstones: Vec::new(),
            failed: None,
            renamed: false,
        })
    }

    /// Closes the open data block: appends it with its checksum, and indexes it under its
    /// last key.
    fn finish_block(&mut self) -> Result<()> {
        let block = std::mem::take(&mut self.block);
        let handle = self.write_block(&block)?;
        let mut value = Vec::with_capacity(16);
        handle.encode_into(&mut value);
        put_entry(&mut self.index, &self.last_key, &value);
        // Reuse the block's allocation for the next one.
        self.block = block;
        self.block.clear();
        Ok(())
    }

    /// Appends a block and its trailer, and returns where it went.
    fn write_block(&mut self, block: &[u8]) -> Result<Handle> {
        let handle = Handle {
            offset: self.offset,
            size: block.len() as u64,
        };
        self.append(block)?;
        self.append(&crc(block).to_le_bytes())?;
        Ok(handle)
    }

    /// Appends to the table, through the write buffer.
    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.offset += bytes.len() as u64;
        if self.out.len() + bytes.len() > WRITE_BUFFER_BYTES {
            self.write_out()?;
            if bytes.len() > WRITE_BUFFER_BYTES {
                return self.io(|file| file.append(bytes));
            }
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Hands the buffer to the file.
    fn write_out(&mut self) -> Result<()> {
        if !self.out.is_empty() {
            let out = std::mem::take(&mut self.out);
            let result = self.io(|file| file.append(&out));
            self.out = out;
            self.out.clear();
            result?;
        }
        Ok(())
    }

    /// Runs a file operation, poisoning the builder if it fails.
    fn io(&mut self, op: impl FnOnce(&mut dyn WritableFile) -> std::io::Result<()>) -> Result<()> {
        op(&mut *self.file).map_err(|e| self.poison(Error::io(&self.tmp_path, e)))
    }

    fn poison(&mut self, error: Error) -> Error {
        self.failed.get_or_insert(error).clone()
    }

    /// Everything after the last entry: the last block, the index, the range tombstones
    /// (if any), the properties and the footer, then the sync, the rename and the
    /// directory sync.
    fn complete(&mut self) -> Result<TableProperties> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.props.entries == 0 && self.range_tombstones.is_empty() {
            return Err(Error::InvalidInput(
                "a table needs at least one entry or range tombstone".into(),
            ));
        }
        if !self.block.is_empty() {
            self.finish_block()?;
        }
        if self.props.entries == 0 {
            // Tombstones only: no keys, and no sequence numbers of entries.
            self.props.min_seq = 0;
        }
        self.props.largest = self.last_key.clone();
        let index = std::mem::take(&mut self.index);
        let index = self.write_block(&index)?;
        let tombstones = Tombstones::new(std::mem::take(&mut self.range_tombstones));
        if !tombstones.is_empty() {
            let mut block = Vec::new();
            tombstones.encode(&mut block);
            self.props.range_tombstone_block = self.write_block(&block)?;
            self.props.range_tombstones = tombstones.len() as u64;
        }
        let properties = self.write_block(&self.props.encode())?;
        let footer = Footer {
            version: FORMAT_VERSION,
            index,
            properties,
        };
        self.append(&footer.encode())?;
        self.write_out()?;
        // The bytes must be durable before the name is: renamed first, a power cut could
        // leave the table under its real name with a torn tail.
        self.io(|file| file.sync())?;
        self.fs
            .rename(&self.tmp_path, &self.path)
            .map_err(|e| Error::io(&self.tmp_path, e))?;
        self.renamed = true;
        // Without the directory sync the rename itself could be undone by a power cut
        // after `finish` returned: the table would vanish after being reported written.
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        Ok(
            crate::reader::table_properties(&self.props, self.offset, &tombstones)
                .expect("the builder only takes internal keys"),
        )
    }
}

impl TableBuilder for MinitableBuilder {
    fn add(&mut self, key: InternalKeyRef<'_>, value: &[u8]) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let first = self.props.entries == 0;
        if !first {
            let last = InternalKeyRef::decode(&self.last_key).expect("an encoded internal key");
            if last.cmp(&key) != Ordering::Less {
                return Err(Error::InvalidInput(format!(
                    "{key:?} does not sort after {last:?}"
                )));
            }
        }
        self.last_key.clear();
        key.encode_into(&mut self.last_key);
        if first {
            self.props.smallest = self.last_key.clone();
        }
        self.props.entries += 1;
        self.props.tombstones += u64::from(key.kind == ValueKind::Delete);
        self.props.min_seq = self.props.min_seq.min(key.seq);
        self.props.max_seq = self.props.max_seq.max(key.seq);
        self.props.raw_bytes += (self.last_key.len() + value.len()) as u64;
        put_entry(&mut self.block, &self.last_key, value);
        if self.block.len() >= self.block_size {
            self.finish_block()?;
        }
        Ok(())
    }

    fn add_range_tombstones(&mut self, tombstones: &Tombstones) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        tombstones.check_storable()?;
        self.range_tombstones.extend(tombstones.iter());
        Ok(())
    }

    fn estimated_size(&self) -> u64 {
        self.offset + (self.block.len() + self.index.len()) as u64
    }

    fn len(&self) -> u64 {
        self.props.entries
    }

    fn finish(mut self: Box<Self>) -> Result<TableProperties> {
        // On failure `self` is dropped here, which removes the temporary file.
        self.complete()
    }
}

impl Drop for MinitableBuilder {
    /// A builder dropped before its file was renamed (never finished, or failed on the
    /// way) removes its temporary file, so that nothing is left for recovery to clean up.
    fn drop(&mut self) {
        if !self.renamed {
            // A file the disk will not let us remove stays a `.tmp`, which recovery
            // recognises (`parse_file_name`) and removes.
            let _ = self.fs.remove(&self.tmp_path);
        }
    }
}
