//! Reading ahead for a cursor that walks a table's blocks in order.
//!
//! A scan reads a table's data blocks one after another, and a table read with `pread`
//! then pays one system call per 4 KiB block: in a full scan of tables the page cache
//! already holds, those calls were about a tenth of the scan's time. A cursor that has
//! read two blocks in a row from the file (not from the block cache) is taken to be
//! scanning, and from its third block on it reads more than the block it needs: 16 KiB,
//! then twice as much at each refill, up to 256 KiB. The blocks that follow are then cut
//! from that buffer. A seek, a step backwards, or a block served by the cache elsewhere
//! in the table starts the count again, so a point lookup or a short range never reads
//! more than it asks for. RocksDB's iterators do the same ("automatic readahead", from
//! 8 KiB up to 256 KiB).
//!
//! A block is copied out of the buffer, and the buffer is read into again at the next
//! refill. Copying 4 KiB costs about what the read it replaces spent zeroing its new
//! buffer, and it keeps a cached block from being a slice of the buffer that would keep
//! all of it alive while the cache counted only the block.

use std::io;

use bytes::Bytes;

/// The first read-ahead, once a cursor is found scanning.
const FIRST: u64 = 16 << 10;
/// The most a cursor reads ahead at once.
const MOST: u64 = 256 << 10;
/// Blocks read in a row, each just after the last, before a cursor reads ahead.
const IN_A_ROW: u32 = 2;

/// A cursor's read-ahead: what it read past its last block, and whether it is scanning.
#[derive(Debug, Default)]
pub(super) struct Readahead {
    /// The file offset of `buf`'s first byte.
    start: u64,
    /// What was read ahead, reused from one refill to the next.
    buf: Vec<u8>,
    /// Where the last block the cursor moved to ends (with its trailer).
    last_end: Option<u64>,
    /// Blocks in a row, each starting where the one before ended.
    in_a_row: u32,
    /// The size of the next read-ahead.
    next_len: u64,
}

impl Readahead {
    /// Notes that the cursor moved to the block at `start..end` (from the cache or not).
    pub(super) fn visit(&mut self, start: u64, end: u64) {
        if self.last_end == Some(start) {
            self.in_a_row = self.in_a_row.saturating_add(1);
        } else {
            self.in_a_row = 0;
            self.next_len = FIRST;
            self.buf.clear();
        }
        self.last_end = Some(end);
    }

    /// A copy of the bytes at `start..end`, if the buffer holds them.
    pub(super) fn take(&self, start: u64, end: u64) -> Option<Bytes> {
        let from = usize::try_from(start.checked_sub(self.start)?).ok()?;
        let to = usize::try_from(end - self.start).ok()?;
        self.buf.get(from..to).map(Bytes::copy_from_slice)
    }

    /// How much to read at `start` for a block ending at `end`, in a file whose blocks end
    /// at `limit`: just the block, unless the cursor is scanning.
    pub(super) fn read_len(&mut self, start: u64, end: u64, limit: u64) -> u64 {
        let block = end - start;
        if self.in_a_row < IN_A_ROW {
            return block;
        }
        let len = self.next_len.max(FIRST);
        self.next_len = (len * 2).min(MOST);
        len.max(block).min(limit - start)
    }

    /// Fills the buffer with the `len` bytes at `start`, which `read` reads into the slice
    /// it is given. After an error the buffer holds nothing.
    pub(super) fn fill(
        &mut self,
        start: u64,
        len: u64,
        read: impl FnOnce(&mut [u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.start = start;
        let len = usize::try_from(len).map_err(|_| io::Error::other("read larger than memory"))?;
        self.buf.resize(len, 0);
        read(&mut self.buf).inspect_err(|_| self.buf.clear())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Visits blocks of 4 KiB, one after another, from offset 0.
    fn scan(ra: &mut Readahead, blocks: u64) -> Vec<u64> {
        (0..blocks)
            .map(|i| {
                let (start, end) = (i * 4096, (i + 1) * 4096);
                ra.visit(start, end);
                if ra.take(start, end).is_some() {
                    return 0;
                }
                let len = ra.read_len(start, end, 1 << 30);
                ra.fill(start, len, |_| Ok(())).expect("reads");
                len
            })
            .collect()
    }

    #[test]
    fn a_scan_reads_ahead_from_its_third_block_and_doubles() {
        let mut ra = Readahead::default();
        let reads = scan(&mut ra, 40);
        // Two single blocks, then 16 KiB (four blocks), 32 KiB (eight), 64 KiB (sixteen).
        let sizes: Vec<u64> = reads.into_iter().filter(|&n| n > 0).collect();
        assert_eq!(sizes, [4096, 4096, 16 << 10, 32 << 10, 64 << 10, 128 << 10]);
    }

    #[test]
    fn a_jump_starts_the_count_again() {
        let mut ra = Readahead::default();
        scan(&mut ra, 10);
        ra.visit(1 << 20, (1 << 20) + 4096);
        assert!(ra.take(1 << 20, (1 << 20) + 4096).is_none());
        assert_eq!(ra.read_len(1 << 20, (1 << 20) + 4096, 1 << 30), 4096);
    }

    #[test]
    fn a_read_ahead_stops_at_the_last_block() {
        let mut ra = Readahead::default();
        scan(&mut ra, 2);
        ra.visit(8192, 12288);
        assert_eq!(ra.read_len(8192, 12288, 10_000 + 8192), 10_000);
    }

    #[test]
    fn blocks_are_cut_from_what_was_read() {
        let mut ra = Readahead::default();
        let bytes: Vec<u8> = (0..=255).collect();
        ra.fill(100, 256, |buf| {
            buf.copy_from_slice(&bytes);
            Ok(())
        })
        .expect("reads");
        assert_eq!(ra.take(110, 120).as_deref(), Some(&bytes[10..20]));
        assert!(ra.take(90, 120).is_none(), "starts before the buffer");
        assert!(ra.take(300, 400).is_none(), "ends after it");
        let failed = ra.fill(0, 64, |_| Err(io::Error::other("disk gone")));
        assert!(failed.is_err());
        assert!(
            ra.take(0, 10).is_none(),
            "a failed read leaves nothing to take"
        );
    }
}
