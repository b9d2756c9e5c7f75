//! Integration tests of ferris-sstable tables: round trips, lookups, damage and verification.

mod cache;
mod damage;
mod golden;
mod range;
mod round_trip;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_core::{InternalKey, ValueKind};
use ferris_fs::{FileSystem, SimFs};
use ferris_sstable::{Table, TableOptions, TableWriter};

pub(crate) fn sim() -> (SimFs, Arc<dyn FileSystem>) {
    let sim = SimFs::new(7);
    let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
    fs.create_dir_all(Path::new("/db")).unwrap();
    (sim, fs)
}

pub(crate) fn path(name: &str) -> PathBuf {
    Path::new("/db").join(name)
}

/// `n` distinct user keys, each with `versions` versions (newest first), every fifth
/// version a tombstone.
pub(crate) fn entries(n: usize, versions: u64) -> Vec<(InternalKey, Bytes)> {
    let mut out = Vec::new();
    for i in 0..n {
        for v in (1..=versions).rev() {
            let seq = i as u64 * 100 + v;
            let kind = if seq.is_multiple_of(5) {
                ValueKind::Delete
            } else {
                ValueKind::Put
            };
            let value = if kind == ValueKind::Put {
                Bytes::from(format!("value-{i}-{v}"))
            } else {
                Bytes::new()
            };
            out.push((
                InternalKey::new(Bytes::from(format!("key{i:06}")), seq, kind),
                value,
            ));
        }
    }
    out
}

pub(crate) fn write(
    fs: &Arc<dyn FileSystem>,
    name: &str,
    entries: &[(InternalKey, Bytes)],
    options: TableOptions,
) -> Table {
    write_with(fs, name, entries, &Tombstones::default(), options)
}

/// Range tombstones over keys of [`entries`]: two overlapping ranges, covering some
/// versions of `key000003` to `key000011` and not others, and one with no end past the
/// last key.
pub(crate) fn range_tombstones() -> Tombstones {
    Tombstones::new([
        RangeTombstone::new("key000003", Some("key000007".into()), 450),
        RangeTombstone::new("key000005", Some("key000012".into()), 1000),
        RangeTombstone::new("key000028", None, 50),
    ])
}

/// [`write`], with range tombstones too.
pub(crate) fn write_with(
    fs: &Arc<dyn FileSystem>,
    name: &str,
    entries: &[(InternalKey, Bytes)],
    tombstones: &Tombstones,
    options: TableOptions,
) -> Table {
    let mut w = TableWriter::create(fs.clone(), &path(name), options).unwrap();
    w.add_range_tombstones(tombstones).unwrap();
    for (k, v) in entries {
        w.add(k, v).unwrap();
    }
    w.finish().unwrap();
    Table::open(&**fs, &path(name)).unwrap()
}

/// Every entry of a table, forwards.
pub(crate) fn scan(table: &Table) -> ferris_sstable::Result<Vec<(InternalKey, Bytes)>> {
    walk(table.cursor())
}

/// Every entry `c` walks from the first, forwards.
pub(crate) fn walk(
    mut c: ferris_sstable::TableCursor<'_>,
) -> ferris_sstable::Result<Vec<(InternalKey, Bytes)>> {
    let mut out = Vec::new();
    c.seek_to_first();
    while c.valid() {
        out.push((InternalKey::decode(c.key()).unwrap(), c.value()));
        c.next();
    }
    c.status()?;
    Ok(out)
}
