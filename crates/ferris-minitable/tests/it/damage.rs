//! Damaged minitables: every flipped bit is found at the block that holds it, every
//! truncation is corruption, a newer version is told apart from damage, blocks that
//! checksum but lie are caught, and arbitrary bytes never panic.

use std::sync::Arc;

use bytes::Bytes;
use ferris_core::iter::InternalIterator;
use ferris_core::{Error, InternalKey, MAX_SEQNO, UnsupportedVersion, ValueKind};
use ferris_minitable::format::{
    BLOCK_TRAILER_LEN, Block, FOOTER_LEN, Footer, Handle, Properties, crc, put_entry,
};
use ferris_table::{ReadOptions, TableCheck};
use proptest::prelude::*;

use crate::{
    entries, open, options, put_table, range_tombstones, scan, sim, table_bytes, write, write_with,
};

/// A real table of 30 keys with 2 versions each, in 256-byte blocks, and range
/// tombstones.
fn real_table() -> Vec<u8> {
    let (_, fs) = sim();
    write_with(&fs, &entries(30, 2), &range_tombstones(), &options(256)).unwrap();
    table_bytes(&fs)
}

/// Opens `bytes` as a table and verifies it.
fn open_and_verify(bytes: &[u8]) -> Result<TableCheck, Error> {
    let fs = put_table(bytes);
    open(&fs, &ReadOptions::default())?.verify()
}

fn offset_of(e: &Error) -> u64 {
    e.as_corruption()
        .unwrap_or_else(|| panic!("not corruption: {e}"))
        .offset
}

/// The footer of `bytes`, and where it starts.
fn footer_of(bytes: &[u8]) -> (Footer, usize) {
    let at = bytes.len() - FOOTER_LEN;
    (Footer::decode(bytes[at..].try_into().unwrap()).unwrap(), at)
}

/// Where each checksummed region of `bytes` starts, in file order, and whether `open`
/// reads it (the index, the range tombstones, the properties and the footer) or only
/// `verify` (the data blocks).
fn regions(bytes: &[u8]) -> Vec<(u64, bool)> {
    let (footer, footer_at) = footer_of(bytes);
    let index = Block::decode(block(bytes, footer.index)).unwrap();
    let mut out: Vec<(u64, bool)> = (0..index.len())
        .map(|i| (Handle::decode(&index.value(i)).unwrap().offset, false))
        .collect();
    let props = Properties::decode(&block(bytes, footer.properties), footer.version).unwrap();
    out.push((footer.index.offset, true));
    if props.range_tombstones > 0 {
        out.push((props.range_tombstone_block.offset, true));
    }
    out.extend([(footer.properties.offset, true), (footer_at as u64, true)]);
    out
}

fn block(bytes: &[u8], h: Handle) -> Bytes {
    Bytes::copy_from_slice(&bytes[h.offset as usize..(h.offset + h.size) as usize])
}

/// Every bit of a table flipped in turn is found: by `open` for the index, the range
/// tombstones, the properties and the footer, by `verify` for a data block, and either way named at the
/// offset of the block (or footer) that holds it.
#[test]
fn every_bit_flip_is_found_at_its_block() {
    let bytes = real_table();
    let regions = regions(&bytes);
    for pos in 0..bytes.len() {
        let &(region, read_at_open) = regions
            .iter()
            .filter(|(start, _)| *start <= pos as u64)
            .max_by_key(|(start, _)| *start)
            .unwrap();
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 1 << bit;
            match open_and_verify(&flipped) {
                Err(e) => {
                    assert!(read_at_open, "byte {pos} bit {bit}: open failed with {e}");
                    assert_eq!(offset_of(&e), region, "byte {pos} bit {bit}: {e}");
                }
                Ok(check) => {
                    assert!(!read_at_open, "byte {pos} bit {bit}: open missed it");
                    assert_eq!(check.damage.len(), 1, "byte {pos} bit {bit}: {check:?}");
                    assert_eq!(check.damage[0].offset, region, "byte {pos} bit {bit}");
                    assert_eq!(check.bytes, bytes.len() as u64);
                }
            }
        }
    }
}

#[test]
fn every_truncation_is_corruption() {
    let bytes = real_table();
    for len in 0..bytes.len() {
        let e = open_and_verify(&bytes[..len]).expect_err("a truncated table opened");
        assert!(e.is_corruption(), "{len}: {e}");
    }
}

/// Rewrites the footer of `bytes` with `version` and a checksum to match.
fn set_version(bytes: &mut [u8], version: u32) {
    let at = bytes.len() - FOOTER_LEN;
    bytes[at + 32..at + 36].copy_from_slice(&version.to_le_bytes());
    let sum = crc(&bytes[at..at + 36]);
    bytes[at + 36..at + 40].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn a_newer_version_is_unsupported_and_version_0_is_damage() {
    let mut bytes = real_table();
    let newer = ferris_minitable::format::FORMAT_VERSION + 1;
    set_version(&mut bytes, newer);
    let e = open_and_verify(&bytes).unwrap_err();
    let Error::UnsupportedVersion(UnsupportedVersion {
        format,
        found,
        supported,
        ..
    }) = e
    else {
        panic!("{e}")
    };
    assert_eq!((format, found, supported), ("minitable", newer, newer - 1));
    set_version(&mut bytes, 0);
    assert!(open_and_verify(&bytes).unwrap_err().is_corruption());
}

/// A version 3 table whose footer says version 1 or 2 (an intact footer, so only the
/// properties can tell): its properties end in fields those versions do not have, which
/// is damage, not an older table.
#[test]
fn a_v3_table_labelled_older_is_damage() {
    for version in [1, 2] {
        let mut bytes = real_table();
        set_version(&mut bytes, version);
        let e = open_and_verify(&bytes).unwrap_err();
        assert!(e.to_string().contains("bytes after the properties"), "{e}");
    }
}

/// Replaces the block at `h` in `bytes` with `new` (the same size) under a valid
/// checksum, as if the writer had written it.
fn replace_block(bytes: &mut [u8], h: Handle, new: &[u8]) {
    assert_eq!(new.len() as u64, h.size);
    let (start, end) = (h.offset as usize, (h.offset + h.size) as usize);
    bytes[start..end].copy_from_slice(new);
    bytes[end..end + BLOCK_TRAILER_LEN].copy_from_slice(&crc(new).to_le_bytes());
}

/// A table of one block holding `a@1` and `b@1`, and the block's handle.
fn two_key_table() -> (Vec<u8>, Handle) {
    let (_, fs) = sim();
    let kv = |k: &'static [u8]| (InternalKey::new(k, 1, ValueKind::Put), Bytes::from("v"));
    write(&fs, &[kv(b"a"), kv(b"b")], &options(4096)).unwrap();
    let bytes = table_bytes(&fs);
    let handle = Handle {
        offset: 0,
        size: regions(&bytes)[1].0 - BLOCK_TRAILER_LEN as u64,
    };
    (bytes, handle)
}

#[test]
fn a_block_that_checksums_but_is_out_of_order_is_caught_by_reads_and_verify() {
    let (mut bytes, handle) = two_key_table();
    let mut swapped = Vec::new();
    for k in [&b"b"[..], b"a"] {
        put_entry(
            &mut swapped,
            &InternalKey::new(k, 1, ValueKind::Put).encode(),
            b"v",
        );
    }
    replace_block(&mut bytes, handle, &swapped);
    let fs = put_table(&bytes);
    let table = open(&fs, &ReadOptions::default()).unwrap();
    assert!(table.get(b"a", MAX_SEQNO).unwrap_err().is_corruption());
    assert!(scan(&table).unwrap_err().is_corruption());
    let check = table.verify().unwrap();
    assert_eq!(check.damage.len(), 1, "{check:?}");
    assert!(
        check.damage[0].reason.contains("does not sort after"),
        "{check:?}"
    );
}

/// A block whose last key is not the one the index names would send seeks to the wrong
/// block: it is damage, even with a right checksum.
#[test]
fn a_block_whose_last_key_is_not_its_index_key_is_caught() {
    let (mut bytes, handle) = two_key_table();
    let mut other = Vec::new();
    for k in [&b"a"[..], b"c"] {
        put_entry(
            &mut other,
            &InternalKey::new(k, 1, ValueKind::Put).encode(),
            b"v",
        );
    }
    replace_block(&mut bytes, handle, &other);
    let check = open_and_verify(&bytes).unwrap();
    assert_eq!(check.damage.len(), 1, "{check:?}");
    assert_eq!(check.damage[0].offset, 0);
    assert!(
        check.damage[0]
            .reason
            .contains("not the one its index entry names"),
        "{check:?}"
    );
}

#[test]
fn properties_that_disagree_with_the_blocks_are_reported_by_verify() {
    let (mut bytes, _) = two_key_table();
    let (footer, _) = footer_of(&bytes);
    let mut props = Properties::decode(&block(&bytes, footer.properties), footer.version).unwrap();
    props.entries += 1; // 2 -> 3: the same varint length, so the same block size
    replace_block(&mut bytes, footer.properties, &props.encode());
    let check = open_and_verify(&bytes).unwrap();
    assert_eq!(check.damage.len(), 1, "{check:?}");
    assert_eq!(check.damage[0].offset, footer.properties.offset);
    assert!(
        check.damage[0]
            .reason
            .contains("entries: the properties say 3 but the data blocks hold 2"),
        "{check:?}"
    );
}

/// `verify` reads the file again rather than trusting what `open` read: damage done to
/// the file on a real disk after the table was opened is found in each of its regions
/// (a data block, the index, the range tombstones, the properties, the footer), at the
/// region's offset.
#[test]
fn damage_done_after_open_is_found_by_verify() {
    use std::io::{Read, Seek, SeekFrom, Write};

    use ferris_fs::{FileSystem, StdFs};
    use ferris_minitable::MinitableFormat;
    use ferris_table::TableFormat;

    let bytes = real_table();
    let regions = regions(&bytes);
    let n = regions.len();
    // The second data block, the index, the range tombstones, the properties and the
    // footer.
    let last = [
        regions[n - 4],
        regions[n - 3],
        regions[n - 2],
        regions[n - 1],
    ];
    for (region, _) in std::iter::once(regions[1]).chain(last) {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn FileSystem> = Arc::new(StdFs::default());
        let path = MinitableFormat.path(dir.path(), crate::NUMBER);
        std::fs::write(&path, &bytes).unwrap();
        let table = MinitableFormat
            .open(&fs, dir.path(), crate::NUMBER, &ReadOptions::default())
            .unwrap();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut byte = [0u8];
        file.seek(SeekFrom::Start(region + 1)).unwrap();
        file.read_exact(&mut byte).unwrap();
        file.seek(SeekFrom::Start(region + 1)).unwrap();
        file.write_all(&[byte[0] ^ 0x10]).unwrap();
        drop(file);
        let check = table.verify().unwrap();
        assert_eq!(check.damage.len(), 1, "region at {region}: {check:?}");
        assert_eq!(check.damage[0].offset, region, "{check:?}");
        assert_eq!(check.bytes, bytes.len() as u64);
    }
}

/// Opens `bytes` and reads it every way, returning the first error. Nothing may panic.
fn read_everything(bytes: &[u8]) -> Result<(), Error> {
    let fs = put_table(bytes);
    let table = open(&fs, &ReadOptions::default())?;
    for key in [&b"key000003"[..], b"", b"zzz"] {
        table.get(key, MAX_SEQNO)?;
    }
    scan(&table)?;
    let mut it = Arc::clone(&table).iter(false);
    it.seek_to_last();
    while it.valid() {
        it.prev();
    }
    it.status()?;
    let target = InternalKey::new(&b"key000010"[..], 7, ValueKind::Put);
    it.seek_for_prev(target.as_ref());
    it.seek(target.as_ref());
    it.status()?;
    table.verify().map(drop)
}

/// Whether `result` is a success or damage, and not some other failure.
fn reported_as_damage(result: Result<(), Error>) -> bool {
    matches!(
        result,
        Ok(()) | Err(Error::Corruption(_) | Error::UnsupportedVersion(_))
    )
}

proptest! {
    /// Arbitrary bytes as a table never panic: opening, lookups, iteration both ways and
    /// verify fail only with `Corruption` or `UnsupportedVersion`. Half the cases end in
    /// a real footer's magic, so they get past the first check.
    #[test]
    fn arbitrary_bytes_never_panic(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..800),
        with_magic in any::<bool>(),
    ) {
        if with_magic && bytes.len() >= 8 {
            let n = bytes.len();
            bytes[n - 8..].copy_from_slice(b"FRSDBMIN");
        }
        prop_assert!(reported_as_damage(read_everything(&bytes)), "unexpected error kind");
    }

    /// A real table with a run of bytes overwritten never panics, and unless the bytes
    /// are the same as before, open or verify finds the damage.
    #[test]
    fn overwritten_bytes_never_panic_and_are_found(
        at in any::<prop::sample::Index>(),
        garbage in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let bytes = real_table();
        let start = at.index(bytes.len());
        let end = (start + garbage.len()).min(bytes.len());
        let mut damaged = bytes.clone();
        damaged[start..end].copy_from_slice(&garbage[..end - start]);
        prop_assume!(damaged != bytes);
        prop_assert!(reported_as_damage(read_everything(&damaged)), "unexpected error kind");
        match open_and_verify(&damaged) {
            Ok(check) => prop_assert!(!check.is_intact(), "{start}..{end} not found"),
            Err(e) => prop_assert!(
                matches!(e, Error::Corruption(_) | Error::UnsupportedVersion(_)),
                "{e}"
            ),
        }
    }
}
