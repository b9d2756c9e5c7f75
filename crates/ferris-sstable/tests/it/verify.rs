//! `Table::verify`: an intact table verifies clean with every byte accounted for; every
//! flipped bit is found, at the block that holds it; and blocks whose checksum is right but
//! whose contents are wrong (out of order, undecodable, disagreeing with the properties, or
//! leaving bytes outside every block) are reported too.

use std::path::Path;

use bytes::Bytes;
use ferris_core::{InternalKey, ValueKind};
use ferris_sstable::block::BlockBuilder;
use ferris_sstable::table::format::{
    BLOCK_TRAILER_LEN, BlockHandle, FOOTER_LEN, Footer, Properties, block_crc,
};
use ferris_sstable::{Compression, Error, Table, TableCheck, TableOptions};
use proptest::prelude::*;

use crate::{entries, path, range_tombstones, sim, write, write_with};

fn options(compression: Compression) -> TableOptions {
    let mut o = TableOptions::default();
    o.block_size = 256;
    o.compression = compression;
    o
}

/// The bytes of a real table of several data blocks and a range-tombstone block.
fn table_bytes(compression: Compression) -> Vec<u8> {
    let (_, fs) = sim();
    let o = options(compression);
    write_with(&fs, "t.sst", &entries(30, 2), &range_tombstones(), o);
    let file = fs.open(&path("t.sst")).unwrap();
    file.read_vec(0, file.len()).unwrap()
}

/// Opens `bytes` as a table and verifies it: the damage found, at open or by `verify`.
fn open_and_verify(bytes: &[u8]) -> Result<TableCheck, Error> {
    let (_, fs) = sim();
    fs.create(&path("x.sst")).unwrap().append(bytes).unwrap();
    Table::open(&*fs, &path("x.sst"))?.verify()
}

/// The one piece of damage `check` found.
fn only_damage(check: &TableCheck) -> &Error {
    assert_eq!(check.damage.len(), 1, "{:?}", check.damage);
    &check.damage[0]
}

fn offset_of(e: &Error) -> u64 {
    match e {
        Error::Corruption(c) => c.offset,
        other => panic!("not a corruption error: {other}"),
    }
}

/// Where every checksummed region of `bytes` starts: its blocks and its footer.
fn region_starts(bytes: &[u8]) -> Vec<u64> {
    let footer_at = bytes.len() - FOOTER_LEN;
    let footer = Footer::decode(bytes[footer_at..].try_into().unwrap()).unwrap();
    let (_, fs) = sim();
    fs.create(&path("r.sst")).unwrap().append(bytes).unwrap();
    let table = Table::open(&*fs, &path("r.sst")).unwrap();
    let mut starts: Vec<u64> = table
        .index_entries()
        .unwrap()
        .iter()
        .map(|(_, h)| h.offset)
        .collect();
    starts.extend([footer.filter, footer.properties, footer.index].map(|h| h.offset));
    starts.push(table.properties().range_tombstone_block.offset);
    starts.push(footer_at as u64);
    starts.sort_unstable();
    starts
}

#[rstest::rstest]
fn an_intact_table_verifies_clean_with_every_byte_counted(
    #[values(Compression::None, Compression::Zstd)] compression: Compression,
) {
    let (_, fs) = sim();
    let want = entries(30, 2);
    let table = write(&fs, "t.sst", &want, options(compression));
    let check = table.verify().unwrap();
    assert!(check.is_intact(), "{:?}", check.damage);
    let p = table.properties();
    assert_eq!(check.entries, want.len() as u64);
    assert_eq!(check.data_blocks, p.n_data_blocks);
    assert!(check.data_blocks > 3, "256-byte blocks: {check:?}");
    assert_eq!(
        check.blocks,
        check.data_blocks + 3,
        "plus filter, properties, index"
    );
    assert_eq!(
        check.bytes,
        table.file_size(),
        "every byte lies under a checksum"
    );
}

#[test]
fn a_table_with_range_tombstones_verifies_their_block_too() {
    let (_, fs) = sim();
    let o = options(Compression::None);
    let with = write_with(&fs, "t.sst", &entries(30, 2), &range_tombstones(), o);
    let without = write(&fs, "u.sst", &entries(30, 2), o);
    let (check, plain) = (with.verify().unwrap(), without.verify().unwrap());
    assert!(check.is_intact(), "{:?}", check.damage);
    assert_eq!(
        check.blocks,
        plain.blocks + 1,
        "plus the range-tombstone block"
    );
    assert_eq!(check.bytes, with.file_size());
    // Only the tombstones: no data block, and still a table.
    let only = write_with(&fs, "o.sst", &[], &range_tombstones(), o);
    let check = only.verify().unwrap();
    assert!(check.is_intact(), "{:?}", check.damage);
    assert_eq!((check.data_blocks, check.entries), (0, 0));
    assert_eq!(**only.range_tombstones(), range_tombstones());
}

#[test]
fn an_empty_table_verifies_clean() {
    let (_, fs) = sim();
    let table = write(&fs, "e.sst", &[], TableOptions::default());
    let check = table.verify().unwrap();
    assert!(check.is_intact(), "{:?}", check.damage);
    assert_eq!((check.data_blocks, check.entries), (0, 0));
    assert_eq!(check.bytes, table.file_size());
}

#[rstest::rstest]
#[case::raw(Compression::None, "v1-raw.sst")]
#[case::raw_index_restart_1(Compression::None, "v1-raw-index-restart-1.sst")]
#[case::zstd(Compression::Zstd, "v1-zstd.sst")]
#[case::v2_raw(Compression::None, "v2-raw.sst")]
#[case::v2_zstd(Compression::Zstd, "v2-zstd.sst")]
#[case::v3_raw(Compression::None, "v3-raw.sst")]
#[case::v3_zstd(Compression::Zstd, "v3-zstd.sst")]
fn the_golden_tables_verify_clean(#[case] _compression: Compression, #[case] name: &str) {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let check = open_and_verify(&std::fs::read(golden).unwrap()).unwrap();
    assert!(check.is_intact(), "{:?}", check.damage);
    assert_eq!(check.entries, 60);
}

/// Every bit of a table, flipped in turn: opening the table or verifying it finds the
/// damage, and names the offset of the block (or footer) holding the flipped bit. Data
/// blocks are only read by `verify`; the footer and the meta blocks already by `open`.
#[rstest::rstest]
fn every_bit_flip_is_found_at_its_block(
    #[values(Compression::None, Compression::Zstd)] compression: Compression,
) {
    let bytes = table_bytes(compression);
    let starts = region_starts(&bytes);
    let (mut at_open, mut by_verify) = (0, 0);
    for pos in 0..bytes.len() {
        let region = *starts.iter().rev().find(|&&s| s <= pos as u64).unwrap();
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 1 << bit;
            let damage = match open_and_verify(&flipped) {
                Err(e) => {
                    at_open += 1;
                    vec![e]
                }
                Ok(check) => {
                    by_verify += 1;
                    check.damage
                }
            };
            assert!(!damage.is_empty(), "byte {pos} bit {bit}: not found");
            for e in &damage {
                assert_eq!(offset_of(e), region, "byte {pos} bit {bit}: {e}");
            }
        }
    }
    assert!(
        at_open > 0 && by_verify > 0,
        "{at_open} found at open, {by_verify} by verify"
    );
}

/// Replaces the block at `handle` in `bytes` with `stored` (same size) and gives it a valid
/// checksum, as if the writer had written it.
fn replace_block(bytes: &mut [u8], handle: BlockHandle, stored: &[u8]) {
    assert_eq!(stored.len() as u64, handle.size);
    let (start, end) = (
        handle.offset as usize,
        (handle.offset + handle.size) as usize,
    );
    bytes[start..end].copy_from_slice(stored);
    let tag = bytes[end];
    bytes[end + 1..end + BLOCK_TRAILER_LEN].copy_from_slice(&block_crc(stored, tag).to_le_bytes());
}

/// A raw table of one data block holding `a@1` and `b@1`, and that block's handle.
fn two_key_table() -> (Vec<u8>, BlockHandle) {
    let (_, fs) = sim();
    let kv = |k: &'static [u8]| (InternalKey::new(k, 1, ValueKind::Put), Bytes::from("v"));
    let table = write(
        &fs,
        "two.sst",
        &[kv(b"a"), kv(b"b")],
        options(Compression::None),
    );
    let handle = table.index_entries().unwrap()[0].1;
    let file = fs.open(&path("two.sst")).unwrap();
    (file.read_vec(0, file.len()).unwrap(), handle)
}

#[test]
fn a_block_that_checksums_but_is_out_of_order_is_reported() {
    let (mut bytes, handle) = two_key_table();
    // The same two entries swapped: the same size (neither key shares a prefix with the
    // other), a valid checksum, and the wrong order.
    let mut swapped = BlockBuilder::new(16);
    for k in [&b"b"[..], b"a"] {
        swapped.add(&InternalKey::new(k, 1, ValueKind::Put).encode(), b"v");
    }
    replace_block(&mut bytes, handle, &swapped.finish());
    let check = open_and_verify(&bytes).unwrap();
    let e = only_damage(&check);
    assert_eq!(offset_of(e), handle.offset);
    assert!(e.to_string().contains("does not sort after"), "{e}");
}

#[test]
fn a_block_that_checksums_but_does_not_decode_is_reported() {
    let (mut bytes, handle) = two_key_table();
    let (start, end) = (
        handle.offset as usize,
        (handle.offset + handle.size) as usize,
    );
    let mut block = bytes[start..end].to_vec();
    // A restart count far larger than the block.
    let n = block.len();
    block[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
    replace_block(&mut bytes, handle, &block);
    let check = open_and_verify(&bytes).unwrap();
    let e = only_damage(&check);
    assert_eq!(offset_of(e), handle.offset);
    assert!(e.to_string().contains("restart count"), "{e}");
}

#[test]
fn properties_that_disagree_with_the_blocks_are_reported() {
    let (mut bytes, _) = two_key_table();
    let footer_at = bytes.len() - FOOTER_LEN;
    let footer = Footer::decode(bytes[footer_at..].try_into().unwrap()).unwrap();
    let h = footer.properties;
    let stored = &bytes[h.offset as usize..(h.offset + h.size) as usize];
    let mut props = Properties::decode(stored, footer.version).unwrap();
    props.n_entries += 1; // 2 -> 3: the same varint length, so the same block size
    replace_block(&mut bytes, h, &props.encode());
    let check = open_and_verify(&bytes).unwrap();
    let e = only_damage(&check);
    assert_eq!(offset_of(e), h.offset);
    assert!(
        e.to_string()
            .contains("entries: the properties say 3 but the data blocks hold 2"),
        "{e}"
    );
}

#[test]
fn bytes_outside_every_block_are_reported() {
    let (bytes, data) = two_key_table();
    let footer_at = bytes.len() - FOOTER_LEN;
    let footer = Footer::decode(bytes[footer_at..].try_into().unwrap()).unwrap();
    // Three stray bytes between the data block and the meta blocks, and a footer (with a
    // valid checksum) pointing past them: nothing a reader touches is damaged.
    let gap_at = (data.offset + data.size) as usize + BLOCK_TRAILER_LEN;
    let shift = |h: BlockHandle| BlockHandle {
        offset: h.offset + 3,
        size: h.size,
    };
    let mut spliced = bytes[..gap_at].to_vec();
    spliced.extend_from_slice(&[0xaa; 3]);
    spliced.extend_from_slice(&bytes[gap_at..footer_at]);
    let moved = Footer {
        version: footer.version,
        index: shift(footer.index),
        filter: shift(footer.filter),
        properties: shift(footer.properties),
    };
    spliced.extend_from_slice(&moved.encode());
    let check = open_and_verify(&spliced).unwrap();
    let e = only_damage(&check);
    assert_eq!(offset_of(e), gap_at as u64);
    assert!(e.to_string().contains("lie in no block"), "{e}");
}

proptest! {
    /// Overwriting any run of a real table with arbitrary bytes never panics, and unless
    /// the bytes happen to be the same, open or verify finds the damage.
    #[test]
    fn overwritten_bytes_never_panic_and_are_found(
        zstd in any::<bool>(),
        at in any::<prop::sample::Index>(),
        garbage in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let compression = if zstd { Compression::Zstd } else { Compression::None };
        let bytes = table_bytes(compression);
        let start = at.index(bytes.len());
        let end = (start + garbage.len()).min(bytes.len());
        let mut damaged = bytes.clone();
        damaged[start..end].copy_from_slice(&garbage[..end - start]);
        prop_assume!(damaged != bytes);
        match open_and_verify(&damaged) {
            Ok(check) => prop_assert!(!check.is_intact(), "{start}..{end} not found"),
            Err(e) => prop_assert!(
                matches!(e, Error::Corruption { .. } | Error::UnsupportedVersion { .. }),
                "{e}"
            ),
        }
    }
}
