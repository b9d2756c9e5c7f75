//! Integration tests of the minitable: its bytes pinned by a golden file, its layout, its
//! reads through the cache, damage of every kind, and power cuts while it is written.
//! (`ferris-conformance` runs the table suite against it as well.)

mod crash;
mod damage;
mod golden;
mod layout;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_core::{InternalKey, ValueKind};
use ferris_fs::{FileSystem, SimFs};
use ferris_minitable::MinitableFormat;
use ferris_table::{ReadOptions, TableFormat, TableOptions, TableReader};

/// The table number the tests write.
pub(crate) const NUMBER: u64 = 12;

pub(crate) type Entry = (InternalKey, Bytes);

/// A simulated disk with an empty `/db`.
pub(crate) fn sim() -> (SimFs, Arc<dyn FileSystem>) {
    sim_with_seed(7)
}

/// A simulated disk with an empty `/db`, whose crashes are drawn from `seed`.
pub(crate) fn sim_with_seed(seed: u64) -> (SimFs, Arc<dyn FileSystem>) {
    let sim = SimFs::new(seed);
    let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
    fs.create_dir_all(Path::new("/db")).unwrap();
    (sim, fs)
}

pub(crate) fn dir() -> &'static Path {
    Path::new("/db")
}

/// `n` user keys with `versions` versions each (newest first), every fifth version a
/// tombstone.
pub(crate) fn entries(n: usize, versions: u64) -> Vec<Entry> {
    let mut out = Vec::new();
    for i in 0..n {
        for v in (1..=versions).rev() {
            let seq = i as u64 * 100 + v;
            let (kind, value) = if seq.is_multiple_of(5) {
                (ValueKind::Delete, Bytes::new())
            } else {
                (ValueKind::Put, Bytes::from(format!("value-{i}-{v}")))
            };
            out.push((
                InternalKey::new(Bytes::from(format!("key{i:06}")), seq, kind),
                value,
            ));
        }
    }
    out
}

pub(crate) fn options(block_size: usize) -> TableOptions {
    let mut options = TableOptions::default();
    options.block_size = block_size;
    options
}

/// Writes table [`NUMBER`] of `entries`.
pub(crate) fn write(
    fs: &Arc<dyn FileSystem>,
    entries: &[Entry],
    options: &TableOptions,
) -> ferris_core::Result<ferris_table::TableProperties> {
    write_with(fs, entries, &Tombstones::default(), options)
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
    entries: &[Entry],
    tombstones: &Tombstones,
    options: &TableOptions,
) -> ferris_core::Result<ferris_table::TableProperties> {
    let mut builder = MinitableFormat.create(fs, dir(), NUMBER, options)?;
    builder.add_range_tombstones(tombstones)?;
    for (key, value) in entries {
        builder.add(key.as_ref(), value)?;
    }
    builder.finish()
}

/// Opens table [`NUMBER`].
pub(crate) fn open(
    fs: &Arc<dyn FileSystem>,
    options: &ReadOptions,
) -> ferris_core::Result<Arc<dyn TableReader>> {
    MinitableFormat.open(fs, dir(), NUMBER, options)
}

/// The bytes of table [`NUMBER`].
pub(crate) fn table_bytes(fs: &Arc<dyn FileSystem>) -> Vec<u8> {
    let file = fs.open(&MinitableFormat.path(dir(), NUMBER)).unwrap();
    file.read_vec(0, file.len()).unwrap()
}

/// `bytes` as table [`NUMBER`] on a fresh disk.
pub(crate) fn put_table(bytes: &[u8]) -> Arc<dyn FileSystem> {
    let (_, fs) = sim();
    fs.create(&MinitableFormat.path(dir(), NUMBER))
        .unwrap()
        .append(bytes)
        .unwrap();
    fs
}

/// Every entry, forwards.
pub(crate) fn scan(reader: &Arc<dyn TableReader>) -> ferris_core::Result<Vec<Entry>> {
    let mut it = Arc::clone(reader).iter(true);
    let mut out = Vec::new();
    it.seek_to_first();
    while it.valid() {
        out.push((it.key().to_owned(), it.value()));
        it.next();
    }
    it.status()?;
    Ok(out)
}
