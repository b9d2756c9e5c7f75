//! Tables give back exactly what was written, by scan and by lookup.

use bytes::Bytes;
use ferris_core::{InternalKey, ValueKind};
use ferris_fs::{Fault, FaultKind, Op};
use ferris_sstable::{Compression, Error, Table, TableOptions, TableWriter};

use crate::{entries, path, scan, sim, write};

fn options(block_size: usize, compression: Compression) -> TableOptions {
    let mut o = TableOptions::default();
    o.block_size = block_size;
    o.compression = compression;
    o
}

#[rstest::rstest]
fn scans_return_every_entry_both_ways(
    #[values(0, 1, 500)] n: usize,
    #[values(Compression::None, Compression::Zstd)] compression: Compression,
) {
    let (_, fs) = sim();
    let want = entries(n, 3);
    let table = write(&fs, "t.sst", &want, options(256, compression));
    assert_eq!(scan(&table).unwrap(), want);
    let mut back = Vec::new();
    let mut c = table.cursor();
    c.seek_to_last();
    while c.valid() {
        back.push((InternalKey::decode(c.key()).unwrap(), c.value()));
        c.prev();
    }
    back.reverse();
    assert_eq!(back, want);
    let p = table.properties();
    assert_eq!(p.n_entries, want.len() as u64);
    assert_eq!(
        p.n_tombstones,
        want.iter()
            .filter(|(k, _)| k.kind() == ValueKind::Delete)
            .count() as u64
    );
    if n > 0 {
        assert_eq!(p.smallest_key, want[0].0.encode());
        assert_eq!(p.largest_key, want.last().unwrap().0.encode());
    }
    if n == 500 {
        assert!(
            p.n_data_blocks > 10,
            "256-byte blocks: only {} of them",
            p.n_data_blocks
        );
    }
}

#[test]
fn zstd_shrinks_compressible_blocks() {
    let (_, fs) = sim();
    let want = entries(2000, 1);
    let raw = write(&fs, "raw.sst", &want, options(4096, Compression::None));
    let zstd = write(&fs, "zstd.sst", &want, options(4096, Compression::Zstd));
    let (r, z) = (raw.properties(), zstd.properties());
    assert_eq!(r.data_stored_bytes, r.data_uncompressed_bytes);
    assert!(
        z.data_stored_bytes * 2 < z.data_uncompressed_bytes,
        "{} stored of {}",
        z.data_stored_bytes,
        z.data_uncompressed_bytes
    );
}

/// Many versions of one user key spread over several blocks: a read at every snapshot must
/// find the right one, whichever block it is in.
#[test]
fn versions_of_one_key_straddling_blocks_come_back_right() {
    let (_, fs) = sim();
    let mut want: Vec<(InternalKey, Bytes)> = vec![(
        InternalKey::new(&b"a"[..], 1, ValueKind::Put),
        Bytes::from("a"),
    )];
    for seq in (10..=400u64).rev() {
        let kind = if seq.is_multiple_of(7) {
            ValueKind::Delete
        } else {
            ValueKind::Put
        };
        want.push((
            InternalKey::new(&b"hot"[..], seq, kind),
            Bytes::from(format!("v{seq}")),
        ));
    }
    want.push((
        InternalKey::new(&b"z"[..], 5, ValueKind::Put),
        Bytes::from("z"),
    ));
    let table = write(&fs, "t.sst", &want, options(128, Compression::None));
    assert!(table.properties().n_data_blocks > 20);
    for snapshot in 0..=450u64 {
        let got = table.get(b"hot", snapshot).unwrap();
        let expected = (10..=400).rev().find(|&s| s <= snapshot);
        match expected {
            None => assert_eq!(got, None, "snapshot {snapshot}"),
            Some(seq) => {
                let (key, value) = got.unwrap_or_else(|| panic!("snapshot {snapshot}: missing"));
                assert_eq!(key.seq(), seq, "snapshot {snapshot}");
                if seq.is_multiple_of(7) {
                    assert_eq!(key.kind(), ValueKind::Delete);
                } else {
                    assert_eq!(value, Bytes::from(format!("v{seq}")));
                }
            }
        }
    }
    assert_eq!(table.get(b"a", 0).unwrap(), None);
    assert_eq!(table.get(b"z", 100).unwrap().unwrap().1, Bytes::from("z"));
    assert_eq!(table.get(b"m", 100).unwrap(), None);
}

#[test]
fn lookups_of_every_key_and_of_absent_keys() {
    let (_, fs) = sim();
    let want = entries(300, 2);
    let table = write(&fs, "t.sst", &want, options(512, Compression::Zstd));
    for i in 0..300 {
        let key = format!("key{i:06}");
        let newest = &want[2 * i];
        let (k, v) = table.get(key.as_bytes(), u64::MAX >> 8).unwrap().unwrap();
        assert_eq!((&k, &v), (&newest.0, &newest.1));
        assert_eq!(
            table
                .get(format!("{key}x").as_bytes(), u64::MAX >> 8)
                .unwrap(),
            None
        );
    }
}

#[test]
fn out_of_order_and_duplicate_keys_are_typed_errors() {
    let (_, fs) = sim();
    let mut w = TableWriter::create(fs.clone(), &path("t.sst"), TableOptions::default()).unwrap();
    w.add(&InternalKey::new(&b"b"[..], 5, ValueKind::Put), b"1")
        .unwrap();
    for bad in [
        InternalKey::new(&b"a"[..], 9, ValueKind::Put),
        InternalKey::new(&b"b"[..], 5, ValueKind::Put),
        InternalKey::new(&b"b"[..], 6, ValueKind::Put),
    ] {
        assert!(
            matches!(w.add(&bad, b""), Err(Error::InvalidInput(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        w.add_encoded(b"short", b""),
        Err(Error::InvalidInput(_))
    ));
    w.add(&InternalKey::new(&b"b"[..], 4, ValueKind::Delete), b"")
        .unwrap();
    assert_eq!(w.finish().unwrap().n_entries, 2);
}

#[test]
fn a_table_appears_only_when_finished_and_survives_a_power_cut_after() {
    let (sim_fs, fs) = sim();
    let want = entries(50, 1);
    let mut w = TableWriter::create(fs.clone(), &path("t.sst"), TableOptions::default()).unwrap();
    for (k, v) in &want {
        w.add(k, v).unwrap();
    }
    assert!(
        !fs.exists(&path("t.sst")).unwrap(),
        "not visible before finish"
    );
    w.finish().unwrap();
    sim_fs.crash();
    let table = Table::open(&*fs, &path("t.sst")).unwrap();
    assert_eq!(crate::scan(&table).unwrap(), want);
}

#[test]
fn a_power_cut_during_creation_leaves_no_table_or_a_whole_one() {
    let want = entries(40, 1);
    let count = {
        let (sim_fs, fs) = sim();
        let before = sim_fs.op_count();
        write(&fs, "t.sst", &want, TableOptions::default());
        sim_fs.op_count() - before
    };
    for cut in 0..count {
        let (sim_fs, fs) = sim();
        sim_fs.cut_power_after(cut);
        let finished = (|| {
            let mut w = TableWriter::create(fs.clone(), &path("t.sst"), TableOptions::default())?;
            for (k, v) in &want {
                w.add(k, v)?;
            }
            w.finish()
        })();
        sim_fs.restart();
        match Table::open(&*fs, &path("t.sst")) {
            Ok(table) => assert_eq!(scan(&table).unwrap(), want, "cut after {cut} ops"),
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                assert!(
                    finished.is_err(),
                    "cut after {cut} ops: a finished table vanished"
                );
            }
            Err(e) => panic!("cut after {cut} ops: {e}"),
        }
    }
}

/// `n` puts of 100-byte values under the keys `key00000000`, `key00000001`, ...
fn numbered_puts(n: u32) -> Vec<(InternalKey, Bytes)> {
    (0..n)
        .map(|i| {
            (
                InternalKey::new(Bytes::from(format!("key{i:08}")), 1, ValueKind::Put),
                Bytes::from(vec![(i % 251) as u8; 100]),
            )
        })
        .collect()
}

/// A table several times the writer's 1 MiB buffer: the blocks go out in buffered writes
/// during the build, the rest at `finish`, and every offset in the index still points at
/// its block.
#[test]
fn a_table_larger_than_the_write_buffer_round_trips() {
    let (_, fs) = sim();
    let want = numbered_puts(30_000);
    let table = write(&fs, "big.sst", &want, TableOptions::default());
    assert!(table.file_size() > 3 << 20, "{} bytes", table.file_size());
    assert_eq!(scan(&table).unwrap(), want);
    for (k, v) in want.iter().step_by(997) {
        let (got_key, got_value) = table.get(k.user_key(), 1).unwrap().unwrap();
        assert_eq!((&got_key, &got_value), (k, v));
    }
    let check = table.verify().unwrap();
    assert!(check.is_intact(), "{:?}", check.damage);
    assert_eq!(
        check.bytes,
        table.file_size(),
        "every byte lies under a checksum"
    );
}

/// A table prepared with `prefault` for more bytes than it takes, or fewer, ends at its
/// own size, reads back whole, and verifies, with the same bytes as one written without.
#[rstest::rstest]
fn a_prefaulted_table_ends_at_its_own_size(#[values(0.5, 3.0)] guess: f64) {
    let (_, fs) = sim();
    let want = numbered_puts(20_000);
    let plain = write(&fs, "plain.sst", &want, TableOptions::default());
    let mut w = TableWriter::create(fs.clone(), &path("pre.sst"), TableOptions::default()).unwrap();
    w.prefault((plain.file_size() as f64 * guess) as u64)
        .unwrap();
    for (k, v) in &want {
        w.add(k, v).unwrap();
    }
    w.finish().unwrap();
    let table = Table::open(&*fs, &path("pre.sst")).unwrap();
    assert_eq!(table.file_size(), plain.file_size());
    let bytes = |name: &str| {
        fs.open(&path(name))
            .unwrap()
            .read_vec(0, plain.file_size())
            .unwrap()
    };
    assert_eq!(bytes("pre.sst"), bytes("plain.sst"));
    assert_eq!(scan(&table).unwrap(), want);
    assert!(table.verify().unwrap().is_intact());
}

/// A block larger than the whole write buffer (one value of 3 MiB) goes to the file
/// directly, after the buffered blocks before it and before the ones after it.
#[test]
fn a_block_larger_than_the_write_buffer_round_trips_in_order() {
    let (_, fs) = sim();
    let value = |i: u32| {
        let len = if i == 5_000 { 3 << 20 } else { 100 };
        Bytes::from(vec![(i % 251) as u8; len])
    };
    let want: Vec<(InternalKey, Bytes)> = (0..10_000u32)
        .map(|i| {
            let key = InternalKey::new(Bytes::from(format!("key{i:08}")), 1, ValueKind::Put);
            (key, value(i))
        })
        .collect();
    let table = write(&fs, "huge-value.sst", &want, TableOptions::default());
    assert_eq!(scan(&table).unwrap(), want);
    let (_, got) = table.get(b"key00005000", 1).unwrap().unwrap();
    assert_eq!(got, want[5_000].1);
    let check = table.verify().unwrap();
    assert!(check.is_intact(), "{:?}", check.damage);
    assert_eq!(check.bytes, table.file_size());
}

/// A write that fails while the writer empties its buffer mid-table is a typed I/O
/// error naming the temporary file, and no table appears under the real name.
#[test]
fn a_failed_buffered_write_is_an_io_error_naming_the_temporary_file() {
    let (sim_fs, fs) = sim();
    sim_fs.inject(Fault::new(Op::Append, FaultKind::Eio).path_contains("big.sst"));
    let mut w = TableWriter::create(fs.clone(), &path("big.sst"), TableOptions::default()).unwrap();
    let mut failed = None;
    for i in 0..30_000u32 {
        let key = InternalKey::new(Bytes::from(format!("key{i:08}")), 1, ValueKind::Put);
        if let Err(e) = w.add(&key, &[7u8; 100]) {
            failed = Some(e);
            break;
        }
    }
    let e = failed.expect("the first buffered write fails, before the table is finished");
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("big.sst.tmp"), "{e}");
    drop(w);
    assert!(!fs.exists(&path("big.sst")).unwrap());
}
