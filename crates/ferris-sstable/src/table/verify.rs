//! Verifying a whole table: every block read back from the file, checksummed, decoded and
//! checked against the index and the properties.
//!
//! Normal reads check only the blocks they touch, so damage in a block nobody reads goes
//! unnoticed until the day somebody does. [`Table::verify`] reads everything, so a tool
//! (`ferris verify`) or a scrubber can find damage while an intact copy may still exist.

use std::cmp::Ordering;

use ferris_core::ValueKind;
use ferris_core::key::{InternalKeyRef, compare_encoded};

use crate::error::{Error, Result};
use crate::filter::may_contain;
use crate::table::Table;
use crate::table::format::{BLOCK_TRAILER_LEN, BlockHandle, FOOTER_LEN};

/// What [`Table::verify`] read, and the damage it found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct TableCheck {
    /// Checksummed blocks: every data block, and the filter, properties and index blocks,
    /// and the range-tombstone block of a table that has one.
    pub blocks: u64,
    /// Data blocks among them.
    pub data_blocks: u64,
    /// Entries decoded from the data blocks.
    pub entries: u64,
    /// Bytes read and checked: the blocks with their trailers, and the footer. For an intact
    /// table this is the file's size: no byte of it lies outside a checksum.
    pub bytes: u64,
    /// Every piece of damage found, each an [`Error::Corruption`] naming the file and the
    /// offset of the block (or footer) holding it. Empty when the table is intact.
    pub damage: Vec<Error>,
}

impl TableCheck {
    /// True when no damage was found.
    pub fn is_intact(&self) -> bool {
        self.damage.is_empty()
    }
}

/// What the data blocks add up to, compared with the properties at the end.
#[derive(Default)]
struct Totals {
    entries: u64,
    tombstones: u64,
    first_key: Option<Vec<u8>>,
    last_key: Vec<u8>,
}

impl Table {
    /// Reads and checks every data block of the table, bypassing the block cache.
    ///
    /// Each block is read from the file, its checksum verified, decompressed and decoded
    /// entry by entry; the range-tombstone block is read and decoded again too, and must
    /// hold what was read at open. Every key must be an internal key, sort after the one before it and
    /// lie between its block's index separator and the previous one, and be in the bloom
    /// filter; the blocks must tile the file with no gap; and the entries must add up to
    /// what the properties say. Damage in one data block does not stop the others being
    /// checked.
    ///
    /// The footer, filter, properties and index were verified when the table was opened:
    /// to check the file as it is on disk now, open it afresh (without a cache) first.
    ///
    /// ```
    /// # use std::{path::Path, sync::Arc};
    /// # use ferris_core::{InternalKey, ValueKind};
    /// # use ferris_fs::{FileSystem, SimFs};
    /// # use ferris_sstable::{Table, TableOptions, TableWriter};
    /// # let fs: Arc<dyn FileSystem> = Arc::new(SimFs::new(1));
    /// # fs.create_dir_all(Path::new("/db"))?;
    /// # let path = Path::new("/db/000001.sst");
    /// # let mut writer = TableWriter::create(fs.clone(), path, TableOptions::default())?;
    /// # writer.add(&InternalKey::new(&b"apple"[..], 1, ValueKind::Put), b"red")?;
    /// # writer.finish()?;
    /// let table = Table::open(&*fs, path)?;
    /// let check = table.verify()?;
    /// assert!(check.is_intact());
    /// assert_eq!(check.bytes, table.file_size());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a read fails. Damage is not an error: it is listed in
    /// [`TableCheck::damage`].
    pub fn verify(&self) -> Result<TableCheck> {
        let mut check = TableCheck::default();
        let index = match self.index_entries() {
            Ok(index) => index,
            Err(e) if e.is_corruption() => {
                check.damage.push(e);
                return Ok(check);
            }
            Err(e) => return Err(e),
        };
        let mut totals = Totals::default();
        // Keys of block `i` must sort after separator `i - 1` and at or before separator
        // `i`; checking that bound, rather than the previous block's last key, keeps the
        // check of each block independent of damage in its neighbours.
        let mut lower: Option<&[u8]> = None;
        for (separator, handle) in &index {
            check.blocks += 1;
            check.data_blocks += 1;
            check.bytes += handle.size + BLOCK_TRAILER_LEN as u64;
            match self.verify_data_block(*handle, lower, separator, &mut totals) {
                Ok(()) => {}
                Err(e) if e.is_corruption() => check.damage.push(e),
                Err(e) => return Err(e),
            }
            lower = Some(separator);
        }
        check.entries = totals.entries;
        let mut meta = vec![
            self.footer.filter,
            self.footer.properties,
            self.footer.index,
        ];
        if self.properties.range_tombstones > 0 {
            meta.push(self.properties.range_tombstone_block);
            // Read again from the file: open read it once, and damage since would
            // otherwise go unseen until the table is next opened.
            match self.read_range_tombstones() {
                Ok(now) if now == *self.range_tombstones => {}
                Ok(_) => check.damage.push(Error::corruption(
                    &self.path,
                    self.properties.range_tombstone_block.offset,
                    "the range tombstone block differs from the one read at open",
                )),
                Err(e) if e.is_corruption() => check.damage.push(e),
                Err(e) => return Err(e),
            }
        }
        check.blocks += meta.len() as u64;
        check.bytes += meta
            .iter()
            .map(|h| h.size + BLOCK_TRAILER_LEN as u64)
            .sum::<u64>()
            + FOOTER_LEN as u64;
        let mut handles: Vec<BlockHandle> = index.iter().map(|(_, h)| *h).collect();
        handles.extend(meta);
        if let Err(e) = self.check_tiling(handles) {
            check.damage.push(e);
        }
        // Counts only add up when every block could be read.
        if check.damage.is_empty()
            && let Err(e) = self.check_properties(&check, &totals)
        {
            check.damage.push(e);
        }
        Ok(check)
    }

    /// Checks one data block; see [`Table::verify`].
    fn verify_data_block(
        &self,
        handle: BlockHandle,
        lower: Option<&[u8]>,
        separator: &[u8],
        totals: &mut Totals,
    ) -> Result<()> {
        let corrupt = |reason: String| Error::corruption(&self.path, handle.offset, reason);
        let block = self.load_data_block(handle, None)?;
        let mut it = block.iter(compare_encoded);
        it.seek_to_first();
        // An empty key sorts before every internal key (see `compare_encoded`), so it
        // stands for "no lower bound" in the first block.
        let mut previous = lower.unwrap_or_default().to_vec();
        let mut n = 0u64;
        while it.valid() {
            let key = it.key();
            let parsed = InternalKeyRef::decode(key)
                .map_err(|e| corrupt(format!("data block entry {n}: not an internal key: {e}")))?;
            if compare_encoded(&previous, key) != Ordering::Less {
                return Err(corrupt(format!(
                    "data block entry {n} ({parsed:?}) does not sort after the key before it"
                )));
            }
            if compare_encoded(key, separator) == Ordering::Greater {
                return Err(corrupt(format!(
                    "data block entry {n} ({parsed:?}) sorts after its index separator"
                )));
            }
            if !self.filter.is_empty() && !may_contain(&self.filter, parsed.user_key) {
                // A filter that denies a key would make reads miss it: as bad as losing it.
                return Err(Error::corruption(
                    &self.path,
                    self.footer.filter.offset,
                    format!("the bloom filter does not contain {parsed:?}"),
                ));
            }
            if parsed.kind == ValueKind::Delete {
                totals.tombstones += 1;
            }
            totals.first_key.get_or_insert_with(|| key.to_vec());
            n += 1;
            previous.clear();
            previous.extend_from_slice(key);
            it.next();
        }
        it.status()
            .map_err(|e| corrupt(format!("data block: {e}")))?;
        if n == 0 {
            // The writer only ever writes a data block that holds entries.
            return Err(corrupt("data block holds no entries".into()));
        }
        totals.entries += n;
        totals.last_key = previous;
        Ok(())
    }

    /// Checks that the blocks and the footer cover the file exactly, so that no byte lies
    /// outside a checksum.
    fn check_tiling(&self, mut handles: Vec<BlockHandle>) -> Result<()> {
        handles.sort_by_key(|h| h.offset);
        let mut expected = 0u64;
        for h in handles {
            let reason = match h.offset.cmp(&expected) {
                Ordering::Equal => None,
                Ordering::Greater => {
                    Some(format!("bytes {expected}..{} lie in no block", h.offset))
                }
                Ordering::Less => Some(format!(
                    "the block at {} overlaps the one before it, which ends at {expected}",
                    h.offset
                )),
            };
            if let Some(reason) = reason {
                return Err(Error::corruption(
                    &self.path,
                    expected.min(h.offset),
                    reason,
                ));
            }
            expected = h
                .offset
                .saturating_add(h.size)
                .saturating_add(BLOCK_TRAILER_LEN as u64);
        }
        if expected != self.blocks_end {
            return Err(Error::corruption(
                &self.path,
                expected.min(self.blocks_end),
                format!(
                    "the blocks end at {expected} but the footer starts at {}",
                    self.blocks_end
                ),
            ));
        }
        Ok(())
    }

    /// Checks that the data blocks add up to what the properties block says.
    fn check_properties(&self, check: &TableCheck, totals: &Totals) -> Result<()> {
        let p = &self.properties;
        let count = |what, said: u64, found: u64| {
            (said != found).then(|| (what, said.to_string(), found.to_string()))
        };
        let key = |what, said: &[u8], found: &[u8]| {
            (said != found).then(|| (what, show(said), show(found)))
        };
        let first = totals.first_key.as_deref();
        let mismatch = count("data blocks", p.n_data_blocks, check.data_blocks)
            .or_else(|| count("entries", p.n_entries, totals.entries))
            .or_else(|| count("tombstones", p.n_tombstones, totals.tombstones))
            // An empty table has no keys to compare.
            .or_else(|| first.and_then(|first| key("smallest key", &p.smallest_key, first)))
            .or_else(|| first.and_then(|_| key("largest key", &p.largest_key, &totals.last_key)));
        match mismatch {
            Some((what, said, found)) => Err(Error::corruption(
                &self.path,
                self.footer.properties.offset,
                format!("{what}: the properties say {said} but the data blocks hold {found}"),
            )),
            None => Ok(()),
        }
    }
}

/// An encoded internal key for a message.
fn show(key: &[u8]) -> String {
    match InternalKeyRef::decode(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => key.escape_ascii().to_string(),
    }
}
