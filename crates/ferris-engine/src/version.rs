//! Versions: the immutable set of live tables, and the "super version" a read pins.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use ferris_core::{SeqNo, ValueKind};
use ferris_fs::FileSystem;
use ferris_manifest::{FileMeta, LevelState, NUM_LEVELS, VersionEdit};
use ferris_memtable::{Lookup, SkipListMemtable as Memtable};
use ferris_sstable::{ReadOptions, Table};

use crate::error::Result;

/// The path of table `number` in `dir`: `000012.sst`.
pub(crate) fn table_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.sst"))
}

/// Parses a table file name back into its number.
pub(crate) fn parse_table_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".sst")?;
    (stem.len() >= 6 && stem.bytes().all(|b| b.is_ascii_digit()))
        .then(|| stem.parse().ok())
        .flatten()
}

/// An open table file, shared by every version (and iterator) that holds it.
///
/// When an edit removes the file from the live set, it is marked obsolete; the file is
/// deleted when the last holder lets go. So a table is never deleted under a reader, and
/// never deleted while a version that lists it could still be installed.
#[derive(Debug)]
pub(crate) struct TableFile {
    pub(crate) meta: Arc<FileMeta>,
    pub(crate) table: Arc<Table>,
    fs: Arc<dyn FileSystem>,
    obsolete: AtomicBool,
}

impl TableFile {
    pub(crate) fn open(
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        meta: Arc<FileMeta>,
        read: &ReadOptions,
    ) -> Result<Arc<TableFile>> {
        let path = table_path(dir, meta.number);
        let table = Table::open_with(&**fs, &path, read.clone())?;
        Ok(TableFile::new(fs, meta, table))
    }

    pub(crate) fn new(
        fs: &Arc<dyn FileSystem>,
        meta: Arc<FileMeta>,
        table: Table,
    ) -> Arc<TableFile> {
        Arc::new(TableFile {
            meta,
            table: Arc::new(table),
            fs: Arc::clone(fs),
            obsolete: AtomicBool::new(false),
        })
    }

    /// Marks the file for deletion once nothing holds it any more.
    pub(crate) fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for TableFile {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            let path = self.table.path();
            match self.fs.remove(path) {
                Ok(()) => tracing::debug!(file = %path.display(), "deleted obsolete table"),
                // Left behind, it is an orphan the next open removes.
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "could not delete obsolete table")
                }
            }
        }
    }
}

/// The live tables of each level, never changed once built. L0 is ordered newest first
/// (its tables may overlap, so a read must ask the newest first); deeper levels are sorted
/// by key and do not overlap.
#[derive(Debug, Default)]
pub(crate) struct Version {
    pub(crate) levels: Vec<Vec<Arc<TableFile>>>,
}

impl Version {
    pub(crate) fn new(mut levels: Vec<Vec<Arc<TableFile>>>) -> Version {
        levels.resize_with(NUM_LEVELS, Vec::new);
        levels[0].sort_by_key(|f| std::cmp::Reverse(f.meta.max_seq));
        for level in &mut levels[1..] {
            level.sort_by(|a, b| a.meta.smallest.cmp(&b.meta.smallest));
        }
        Version { levels }
    }

    /// Opens every file of `state`.
    pub(crate) fn open(
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        state: &LevelState,
        read: &ReadOptions,
    ) -> Result<Version> {
        let mut levels = Vec::with_capacity(NUM_LEVELS);
        for files in state.levels.levels() {
            let opened = files
                .iter()
                .map(|meta| TableFile::open(fs, dir, Arc::clone(meta), read))
                .collect::<Result<Vec<_>>>()?;
            levels.push(opened);
        }
        Ok(Version::new(levels))
    }

    /// This version with `edit` applied; `added` are the opened files the edit adds, in
    /// the same order. Removed files are marked obsolete: call this only once the edit is
    /// durable.
    pub(crate) fn apply(&self, edit: &VersionEdit, added: Vec<Arc<TableFile>>) -> Version {
        let mut levels = self.levels.clone();
        let mut removed = std::collections::HashMap::new();
        for &(level, number) in &edit.deleted {
            if let Some(i) = levels[level].iter().position(|f| f.meta.number == number) {
                removed.insert(number, levels[level].remove(i));
            }
        }
        let mut added = added.into_iter();
        for (level, meta) in &edit.added {
            // A file both deleted and added moved between levels: the same file, still live.
            let file = match removed.remove(&meta.number) {
                Some(file) => file,
                None => added.next().expect("an opened file for every new file"),
            };
            levels[*level].push(file);
        }
        for file in removed.into_values() {
            file.mark_obsolete();
        }
        Version::new(levels)
    }

    /// Every table, newest level first.
    pub(crate) fn files(&self) -> impl Iterator<Item = &Arc<TableFile>> {
        self.levels.iter().flatten()
    }

    /// The newest version of `key` at or below `snapshot` in the tables.
    pub(crate) fn get(&self, key: &[u8], snapshot: SeqNo) -> Result<Option<Lookup>> {
        let in_range =
            |f: &TableFile| f.meta.smallest.user_key() <= key && key <= f.meta.largest.user_key();
        for file in &self.levels[0] {
            if file.meta.min_seq > snapshot || !in_range(file) {
                continue;
            }
            if let Some(found) = lookup(file, key, snapshot)? {
                return Ok(Some(found));
            }
        }
        for level in &self.levels[1..] {
            // The first file whose largest key is at or after `key` is the only candidate.
            let i = level.partition_point(|f| f.meta.largest.user_key() < key);
            if let Some(file) = level.get(i).filter(|f| in_range(f))
                && let Some(found) = lookup(file, key, snapshot)?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

fn lookup(file: &TableFile, key: &[u8], snapshot: SeqNo) -> Result<Option<Lookup>> {
    Ok(file
        .table
        .get(key, snapshot)?
        .map(|(ikey, value): (_, Bytes)| match ikey.kind() {
            ValueKind::Put => Lookup::Value(value),
            ValueKind::Delete => Lookup::Deleted,
        }))
}

/// A frozen memtable waiting to be flushed.
#[derive(Debug)]
pub(crate) struct Immutable {
    pub(crate) mem: Arc<Memtable>,
    /// The first WAL segment holding writes *not* in this memtable or older ones: once this
    /// memtable is in a table, every segment before it can go.
    pub(crate) next_log: u64,
    /// Freezing order, from 1.
    pub(crate) id: u64,
}

/// Everything a read needs, pinned together: the active memtable, the frozen ones (newest
/// first), and the table version. Replaced, never changed.
#[derive(Debug)]
pub(crate) struct SuperVersion {
    pub(crate) mem: Arc<Memtable>,
    pub(crate) imms: Vec<Arc<Immutable>>,
    pub(crate) version: Arc<Version>,
}

impl SuperVersion {
    /// The newest version of `key` at or below `snapshot`: memtable, frozen memtables,
    /// then tables.
    pub(crate) fn get(&self, key: &[u8], snapshot: SeqNo) -> Result<Option<Bytes>> {
        let found = match self.mem.get(key, snapshot) {
            Some(found) => Some(found),
            None => match self.imms.iter().find_map(|imm| imm.mem.get(key, snapshot)) {
                Some(found) => Some(found),
                None => self.version.get(key, snapshot)?,
            },
        };
        Ok(match found {
            Some(Lookup::Value(v)) => Some(v),
            Some(Lookup::Deleted) | None => None,
        })
    }
}
