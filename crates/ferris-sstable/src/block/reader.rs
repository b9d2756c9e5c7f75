//! Decoding a block: a validated view and a cursor over it.

use std::cmp::Ordering;

use bytes::Bytes;
use ferris_core::DecodeError;
use ferris_core::coding::Decoder;

/// A decoded block: its bytes and the location of its restart array, validated.
///
/// Cloning is cheap (a reference count on the bytes).
#[derive(Debug, Clone)]
pub struct Block {
    data: Bytes,
    /// Where the entries end and the restart array begins.
    restarts_start: usize,
    n_restarts: usize,
}

impl Block {
    /// Validates the restart array of an encoded block.
    ///
    /// Entries are checked as they are read, by [`BlockIter`].
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] if the block is too short for its restart array, the array is
    /// empty, or a restart offset is out of order or out of bounds.
    pub fn new(data: Bytes) -> Result<Block, DecodeError> {
        let block = Block::locate(data)?;
        let mut previous = None;
        for i in 0..block.n_restarts {
            let r = block.restart(i);
            let in_bounds = r < block.restarts_start || (r == 0 && block.restarts_start == 0);
            if !in_bounds || previous.is_some_and(|p| r <= p) || (i == 0 && r != 0) {
                return Err(DecodeError::new(
                    block.restarts_start + 4 * i,
                    "restart offset out of order or bounds",
                ));
            }
            previous = Some(r);
        }
        Ok(block)
    }

    /// A block whose bytes [`Block::new`] has already validated once, such as one the
    /// block cache holds (a table caches only blocks that decoded): this finds the
    /// restart array in constant time, without walking it again on every cache hit.
    /// Bytes that did not come through `new` are still safe to read, since every
    /// offset is bounds-checked as it is used, but damage is then found late.
    ///
    /// # Errors
    ///
    /// As [`Block::new`], for the block's length and restart count only.
    pub fn validated(data: Bytes) -> Result<Block, DecodeError> {
        Block::locate(data)
    }

    /// Finds the restart array: the count in the last four bytes, the offsets before it.
    fn locate(data: Bytes) -> Result<Block, DecodeError> {
        let len = data.len();
        let Some(count_at) = len.checked_sub(4) else {
            return Err(DecodeError::new(0, "block shorter than its restart count"));
        };
        let n_restarts = u32::from_le_bytes(data[count_at..].try_into().expect("4 bytes")) as usize;
        let restarts_start = n_restarts
            .checked_mul(4)
            .and_then(|n| count_at.checked_sub(n))
            .ok_or(DecodeError::new(
                count_at,
                "restart count larger than the block",
            ))?;
        if n_restarts == 0 {
            return Err(DecodeError::new(count_at, "block has no restart points"));
        }
        Ok(Block {
            data,
            restarts_start,
            n_restarts,
        })
    }

    fn restart(&self, i: usize) -> usize {
        let at = self.restarts_start + 4 * i;
        u32::from_le_bytes(self.data[at..at + 4].try_into().expect("4 bytes")) as usize
    }

    /// The block's encoded bytes, as given to [`Block::new`].
    pub fn into_bytes(self) -> Bytes {
        self.data
    }

    /// The encoded size of the block.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// True when the block holds no entries.
    pub fn is_empty(&self) -> bool {
        self.restarts_start == 0
    }

    /// A cursor over the block's entries, ordered by `cmp`. It starts unpositioned: call
    /// one of the `seek` methods first.
    pub fn iter(&self, cmp: fn(&[u8], &[u8]) -> Ordering) -> BlockIter {
        BlockIter {
            block: self.clone(),
            cmp,
            current: self.restarts_start,
            next: self.restarts_start,
            restart_idx: 0,
            key: Vec::new(),
            value: (0, 0),
            error: None,
        }
    }
}

/// A cursor over the entries of a [`Block`], forwards and backwards.
///
/// After a decoding error the cursor becomes invalid and [`BlockIter::status`] reports the
/// error; it never panics on any bytes.
#[derive(Debug, Clone)]
pub struct BlockIter {
    block: Block,
    cmp: fn(&[u8], &[u8]) -> Ordering,
    /// Offset of the current entry; `restarts_start` when not positioned on one.
    current: usize,
    /// Offset just past the current entry.
    next: usize,
    /// The restart interval holding the current entry.
    restart_idx: usize,
    key: Vec<u8>,
    value: (usize, usize),
    error: Option<DecodeError>,
}

impl BlockIter {
    /// Whether the cursor is on an entry.
    pub fn valid(&self) -> bool {
        self.current < self.block.restarts_start && self.error.is_none()
    }

    /// The current key.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](BlockIter::valid).
    pub fn key(&self) -> &[u8] {
        assert!(self.valid(), "key() on an unpositioned block cursor");
        &self.key
    }

    /// The current value, sharing the block's bytes.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](BlockIter::valid).
    pub fn value(&self) -> Bytes {
        assert!(self.valid(), "value() on an unpositioned block cursor");
        self.block.data.slice(self.value.0..self.value.1)
    }

    /// The current value as a slice.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](BlockIter::valid).
    pub fn value_slice(&self) -> &[u8] {
        assert!(
            self.valid(),
            "value_slice() on an unpositioned block cursor"
        );
        &self.block.data[self.value.0..self.value.1]
    }

    /// The first decoding error met, if any.
    ///
    /// # Errors
    ///
    /// The [`DecodeError`] that made the cursor invalid.
    pub fn status(&self) -> Result<(), DecodeError> {
        self.error.map_or(Ok(()), Err)
    }

    /// Positions on the first entry.
    pub fn seek_to_first(&mut self) {
        self.seek_to_restart(0);
        self.parse_next();
    }

    /// Positions on the last entry.
    pub fn seek_to_last(&mut self) {
        self.seek_to_restart(self.block.n_restarts - 1);
        while self.parse_next() && self.next < self.block.restarts_start {}
    }

    /// Positions on the first entry whose key is at least `target`; invalid if none is.
    pub fn seek(&mut self, target: &[u8]) {
        // Binary search for the last restart point whose key is below the target: every
        // entry before it is too small, and the answer is in its interval or the next.
        let (mut lo, mut hi) = (0, self.block.n_restarts - 1);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            match self.restart_key(mid) {
                Ok(key) if (self.cmp)(key, target) == Ordering::Less => lo = mid,
                Ok(_) => hi = mid - 1,
                Err(e) => return self.fail(e),
            }
        }
        self.seek_to_restart(lo);
        while self.parse_next() {
            if (self.cmp)(&self.key, target) != Ordering::Less {
                return;
            }
        }
    }

    /// Moves to the next entry; invalid past the last one.
    pub fn next(&mut self) {
        if self.valid() {
            self.parse_next();
        }
    }

    /// Moves to the previous entry; invalid before the first one.
    pub fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        let original = self.current;
        // Entries can only be decoded forwards, so step back to the restart point before
        // this entry and walk up to it.
        while self.block.restart(self.restart_idx) >= original {
            if self.restart_idx == 0 {
                self.current = self.block.restarts_start;
                self.next = self.block.restarts_start;
                return;
            }
            self.restart_idx -= 1;
        }
        self.seek_to_restart(self.restart_idx);
        while self.parse_next() && self.next < original {}
    }

    fn seek_to_restart(&mut self, idx: usize) {
        self.key.clear();
        self.restart_idx = idx;
        self.current = self.block.restart(idx);
        self.next = self.current;
    }

    /// The whole key stored at restart point `idx` (which must not share a prefix).
    fn restart_key(&self, idx: usize) -> Result<&[u8], DecodeError> {
        let offset = self.block.restart(idx);
        let (shared, key, _) = decode_entry(&self.block.data[..self.block.restarts_start], offset)?;
        if shared != 0 {
            return Err(DecodeError::new(offset, "restart entry shares a prefix"));
        }
        Ok(key)
    }

    /// Decodes the entry at `self.next`, making it current; false at the end or on error.
    fn parse_next(&mut self) -> bool {
        self.current = self.next;
        if self.current >= self.block.restarts_start {
            self.current = self.block.restarts_start;
            return false;
        }
        let entries = &self.block.data[..self.block.restarts_start];
        let (shared, unshared, value) = match decode_entry(entries, self.current) {
            Ok(parts) => parts,
            Err(e) => {
                self.fail(e);
                return false;
            }
        };
        if shared > self.key.len() {
            self.fail(DecodeError::new(
                self.current,
                "entry shares more than the previous key",
            ));
            return false;
        }
        self.key.truncate(shared);
        self.key.extend_from_slice(unshared);
        let value_start = value.as_ptr() as usize - entries.as_ptr() as usize;
        self.value = (value_start, value_start + value.len());
        self.next = self.value.1;
        while self.restart_idx + 1 < self.block.n_restarts
            && self.block.restart(self.restart_idx + 1) <= self.current
        {
            self.restart_idx += 1;
        }
        true
    }

    fn fail(&mut self, error: DecodeError) {
        self.error = Some(error);
        self.current = self.block.restarts_start;
        self.next = self.block.restarts_start;
    }
}

/// Decodes the entry at `offset`: its shared prefix length, the unshared key bytes, and
/// the value.
#[inline]
fn decode_entry(entries: &[u8], offset: usize) -> Result<(usize, &[u8], &[u8]), DecodeError> {
    // The usual entry has three one-byte lengths (keys and values under 128 bytes): read
    // them straight off, with the same bounds checks, instead of through three varints.
    if let Some(&[shared, unshared, value_len]) = entries.get(offset..offset + 3)
        && (shared | unshared | value_len) < 0x80
    {
        let key_start = offset + 3;
        let key_end = key_start + usize::from(unshared);
        let value_end = key_end + usize::from(value_len);
        if value_end <= entries.len() {
            return Ok((
                usize::from(shared),
                &entries[key_start..key_end],
                &entries[key_end..value_end],
            ));
        }
    }
    let mut d = Decoder::new(&entries[offset..]);
    let err = |e: DecodeError| e.at(offset);
    let shared = d.varint32().map_err(err)? as usize;
    let unshared = d.varint32().map_err(err)? as usize;
    let value_len = d.varint32().map_err(err)? as usize;
    let key = d.bytes(unshared).map_err(err)?;
    let value = d.bytes(value_len).map_err(err)?;
    Ok((shared, key, value))
}
