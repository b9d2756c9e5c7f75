//! Damaged tables: every flipped bit is detected or harmless, truncation is an error, and
//! arbitrary bytes never panic.

use bytes::Bytes;
use ferris_core::InternalKey;
use ferris_sstable::{Compression, Error, Table, TableOptions};
use proptest::prelude::*;

use crate::{entries, path, range_tombstones, scan, sim, write_with};

fn table_bytes(compression: Compression) -> (Vec<u8>, Vec<(InternalKey, Bytes)>) {
    let (_, fs) = sim();
    let want = entries(40, 2);
    let mut options = TableOptions::default();
    options.block_size = 256;
    options.compression = compression;
    write_with(&fs, "t.sst", &want, &range_tombstones(), options);
    let file = fs.open(&path("t.sst")).unwrap();
    (file.read_vec(0, file.len()).unwrap(), want)
}

type Entry = (InternalKey, Bytes);

/// Opens `bytes` as a table and reads all of it, by scan and by lookups, and checks its
/// range tombstones are the ones written.
fn read_all(bytes: &[u8]) -> ferris_sstable::Result<(Vec<Entry>, Vec<Option<Entry>>)> {
    let (_, fs) = sim();
    let mut f = fs.create(&path("x.sst")).unwrap();
    f.append(bytes).unwrap();
    let table = Table::open(&*fs, &path("x.sst"))?;
    assert_eq!(**table.range_tombstones(), range_tombstones());
    let scanned = scan(&table)?;
    let mut looked_up = Vec::new();
    for i in 0..40 {
        looked_up.push(table.get(format!("key{i:06}").as_bytes(), u64::MAX >> 8)?);
    }
    Ok((scanned, looked_up))
}

#[rstest::rstest]
fn every_bit_flip_is_detected_or_harmless(
    #[values(Compression::None, Compression::Zstd)] compression: Compression,
) {
    let (bytes, want) = table_bytes(compression);
    let (clean_scan, clean_gets) = read_all(&bytes).unwrap();
    assert_eq!(clean_scan, want);
    let (mut detected, mut harmless) = (0, 0);
    for pos in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 1 << bit;
            match read_all(&flipped) {
                Err(e) => {
                    assert!(e.is_corruption(), "byte {pos} bit {bit}: {e}");
                    detected += 1;
                }
                Ok((scanned, gets)) => {
                    // Provably harmless: every read returned exactly the original data.
                    assert_eq!(scanned, clean_scan, "byte {pos} bit {bit} changed a scan");
                    assert_eq!(gets, clean_gets, "byte {pos} bit {bit} changed a lookup");
                    harmless += 1;
                }
            }
        }
    }
    assert!(
        detected > harmless * 50,
        "{detected} detected, {harmless} harmless"
    );
}

#[test]
fn every_truncation_is_an_error() {
    let (bytes, _) = table_bytes(Compression::None);
    for len in 0..bytes.len() {
        let err = read_all(&bytes[..len])
            .err()
            .unwrap_or_else(|| panic!("truncated to {len} bytes, read fine"));
        assert!(err.is_corruption(), "{len}: {err}");
    }
}

#[test]
fn a_newer_version_is_a_typed_error() {
    let (mut bytes, _) = table_bytes(Compression::None);
    let footer = bytes.len() - 64;
    let newer = ferris_sstable::table::format::FORMAT_VERSION + 1;
    bytes[footer + 48..footer + 52].copy_from_slice(&newer.to_le_bytes());
    let crc = ferris_sstable::table::format::block_crc(&bytes[footer..footer + 52], 0);
    bytes[footer + 52..footer + 56].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        read_all(&bytes),
        Err(Error::UnsupportedVersion(ferris_core::UnsupportedVersion {
            found,
            supported: ferris_sstable::table::format::FORMAT_VERSION,
            ..
        })) if found == newer
    ));
}

/// A version 2 table whose footer says version 1 (an intact footer, so only the
/// properties can tell): its properties end in a field version 1 does not have, which is
/// damage, not a table of the default keyspace.
#[test]
fn a_v2_table_labelled_v1_is_damage() {
    let (mut bytes, _) = table_bytes(Compression::None);
    let footer = bytes.len() - 64;
    bytes[footer + 48..footer + 52].copy_from_slice(&1u32.to_le_bytes());
    let crc = ferris_sstable::table::format::block_crc(&bytes[footer..footer + 52], 0);
    bytes[footer + 52..footer + 56].copy_from_slice(&crc.to_le_bytes());
    let e = read_all(&bytes).unwrap_err();
    assert!(e.is_corruption(), "{e}");
    assert!(e.to_string().contains("bytes after the properties"), "{e}");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..600), with_magic in any::<bool>()) {
        if with_magic && bytes.len() >= 8 {
            let n = bytes.len();
            bytes[n - 8..].copy_from_slice(b"FRSDBSST");
        }
        match read_all(&bytes) {
            Ok(_) | Err(Error::Corruption { .. } | Error::UnsupportedVersion { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
        }
    }
}
