//! The plumbing, written for you: where each file lives, and the table list.
//!
//! A `LabDb` directory holds three kinds of file:
//!
//! ```text
//!   /db/wal/000001.wal ...   the write-ahead log's segments (ferris-wal names them)
//!   /db/000003.sst ...       tables, one per flush (ferris-sstable's format)
//!   /db/TABLES               the table list: which tables exist, and the log number
//! ```
//!
//! The **table list** plays the part of FerrisDB's manifest, cut down to what this engine
//! needs: the tables that make up the database, oldest first, and the **log number**, the
//! first WAL segment whose writes are not all in those tables yet. It is a small text
//! file, replaced whole at each flush by writing `TABLES.tmp`, syncing it, renaming it
//! over `TABLES` and syncing the directory: a power cut leaves the old list or the new one,
//! never a torn one. A table file the list does not name is the leftover of a flush that
//! was cut off, and [`remove_unlisted`] deletes it at the next open.
//!
//! ```text
//! ferris-lab-tables 1
//! log 4
//! table 2
//! table 3
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::{Error, IoResultExt, Result};
use ferris_fs::FileSystem;
use ferris_table::TableFormat;

/// The first line of every table list: its name and format version.
const MAGIC: &str = "ferris-lab-tables 1";

/// The table list's file name in the database directory.
pub const TABLE_LIST: &str = "TABLES";

/// The table format every table of a `LabDb` is written in: FerrisDB's default.
pub fn format() -> Arc<dyn TableFormat> {
    Arc::new(ferris_sstable::SstableFormat)
}

/// The directory of the write-ahead log's segments.
pub fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("wal")
}

/// What the table list says: the log number, and the tables, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableList {
    /// The first WAL segment whose writes are not all in `tables`: recovery replays it and
    /// every later one; older segments may be deleted.
    pub log_number: u64,
    /// The tables' numbers, oldest first.
    pub tables: Vec<u64>,
}

impl TableList {
    /// Reads the table list of the database in `dir`; an empty list (no tables, log
    /// number 0) when there is none yet.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if it cannot be read, [`Error::Corruption`] if it is not a table list.
    pub fn load(fs: &dyn FileSystem, dir: &Path) -> Result<TableList> {
        let path = dir.join(TABLE_LIST);
        if !fs.exists(&path).at(&path)? {
            return Ok(TableList::default());
        }
        let file = fs.open(&path).at(&path)?;
        let bytes = file.read_vec(0, file.len()).at(&path)?;
        TableList::parse(&bytes).map_err(|reason| Error::corruption(&path, 0, reason))
    }

    /// The list in `bytes`, or why it is not one.
    fn parse(bytes: &[u8]) -> std::result::Result<TableList, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_string())?;
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(format!("the first line is not {MAGIC:?}"));
        }
        let mut list = TableList::default();
        for line in lines {
            let number = |value: &str| {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{value:?} is not a number"))
            };
            match line.split_once(' ') {
                Some(("log", value)) => list.log_number = number(value)?,
                Some(("table", value)) => list.tables.push(number(value)?),
                _ => return Err(format!("unexpected line {line:?}")),
            }
        }
        Ok(list)
    }

    /// Replaces the table list of the database in `dir` with this one, durably: when it
    /// returns, a power cut leaves this list.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if writing, syncing or renaming fails; the old list then stands.
    pub fn save(&self, fs: &dyn FileSystem, dir: &Path) -> Result<()> {
        let mut text = format!("{MAGIC}\nlog {}\n", self.log_number);
        for table in &self.tables {
            text.push_str(&format!("table {table}\n"));
        }
        let tmp = dir.join(format!("{TABLE_LIST}.tmp"));
        let path = dir.join(TABLE_LIST);
        let mut file = fs.create(&tmp).at(&tmp)?;
        file.append(text.as_bytes()).at(&tmp)?;
        // Synced before the rename: otherwise the rename could survive a power cut and the
        // bytes it names not.
        file.sync().at(&tmp)?;
        drop(file);
        fs.rename(&tmp, &path).at(&path)?;
        fs.sync_dir(dir).at(dir)
    }
}

/// Deletes every table file in `dir` that `list` does not name (what a flush cut off by a
/// power cut left, finished or not), and returns the number for the next table: one past
/// every table number seen, listed or not.
///
/// # Errors
///
/// [`Error::Io`] if the directory cannot be listed or a file removed.
pub fn remove_unlisted(
    fs: &dyn FileSystem,
    format: &dyn TableFormat,
    dir: &Path,
    list: &TableList,
) -> Result<u64> {
    let mut next = list.tables.iter().max().map_or(1, |n| n + 1);
    for name in fs.list(dir).at(dir)? {
        let Some(table) = format.parse_file_name(&name) else {
            continue;
        };
        next = next.max(table.number + 1);
        if table.temporary || !list.tables.contains(&table.number) {
            let path = dir.join(&name);
            fs.remove(&path).at(&path)?;
        }
    }
    Ok(next)
}
