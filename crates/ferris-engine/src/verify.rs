//! `Db::verify`: every live file read back from the disk and checked.
//!
//! Reads check only what they touch: a table block nobody reads, or a WAL segment that is
//! only read at the next open, can sit damaged for months. Verification reads all of it
//! now, while an intact copy (a backup, a replica) may still exist:
//!
//! - `CURRENT`: its checksum, and that it names the manifest the database writes;
//! - the manifest: every record's checksum and every edit, replayed; the state it adds up
//!   to must be the one the database runs on;
//! - every table of the current version, opened afresh (so its footer and meta blocks are
//!   read from the disk again, not from memory) and checked by
//!   the table format's [`verify`](ferris_table::TableReader::verify): every block's checksum, every entry
//!   decoded and in order, and its properties against the manifest's record of it
//!   (the keyspace it recorded included);
//! - every live WAL segment, read to its end as recovery would, each record decoded as a
//!   write batch.
//!
//! Damage does not stop the check: every problem found is listed in the
//! [`VerifyReport`], with the file, the offset and the reason, so a tool can show the
//! whole extent of it. Only a failing disk (an I/O error other than a missing file) makes
//! [`Db::verify`](crate::Db::verify) return an error.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::KeyspaceId;
use ferris_manifest::{CURRENT, manifest_file_name};
use ferris_table::ReadOptions;
use ferris_wal::format::segment_path;
use ferris_wal::{GROWING_READS, SegmentEnd, list_segments};

use crate::db::Shared;
use crate::error::{Corruption, Error, Result};
use crate::versions::{Env, TableFile};

/// The kinds of file a database is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// `CURRENT`, which names the live manifest.
    Current,
    /// The manifest, the log of version edits.
    Manifest,
    /// A sorted table (`NNNNNN.sst`).
    Table,
    /// A write-ahead log segment (`NNNNNN.wal`).
    Wal,
}

impl FileKind {
    /// A short lowercase name: `current`, `manifest`, `table` or `wal`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Current => "current",
            FileKind::Manifest => "manifest",
            FileKind::Table => "table",
            FileKind::Wal => "wal",
        }
    }
}

/// One file [`Db::verify`](crate::Db::verify) read back, and what it found there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileCheck {
    /// The file.
    pub path: PathBuf,
    /// What it is.
    pub kind: FileKind,
    /// Bytes read and checked against a checksum.
    pub bytes: u64,
    /// Checksummed blocks read: a table's data and meta blocks; 0 for the other kinds.
    pub blocks: u64,
    /// Records decoded: a table's entries, a WAL segment's write batches, the manifest's
    /// edits, CURRENT's one line.
    pub records: u64,
    /// Where a log (a WAL segment or the manifest) ends in an incomplete record with
    /// nothing intact after it: what a crash, or an append still in progress, leaves. It is
    /// not damage, and recovery ignores it.
    pub torn_tail: Option<u64>,
}

impl FileCheck {
    fn new(path: PathBuf, kind: FileKind) -> FileCheck {
        FileCheck {
            path,
            kind,
            bytes: 0,
            blocks: 0,
            records: 0,
            torn_tail: None,
        }
    }
}

/// What [`Db::verify`](crate::Db::verify) checked, and every problem it found.
///
/// ```
/// use ferris_engine::{Db, FileKind, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put("apple", "red")?;
/// db.flush()?;
///
/// let report = db.verify()?;
/// assert!(report.is_clean(), "{:?}", report.problems);
/// let tables = report.files.iter().filter(|f| f.kind == FileKind::Table).count();
/// assert_eq!(tables, 1);
/// for problem in &report.problems {
///     eprintln!("DAMAGED {problem}"); // the file, the offset and what is wrong
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Every file checked, in order: CURRENT, the manifest, the tables (level by level),
    /// the WAL segments (oldest first).
    pub files: Vec<FileCheck>,
    /// Every problem found, as the damage every component reports: the file, the offset
    /// (of the block, record or fragment holding it; 0 for a whole-file problem, such as
    /// a missing file) and what was found. Empty when the database is intact.
    pub problems: Vec<Corruption>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Bytes read and checked, over every file.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Checksummed table blocks read, over every table.
    pub fn blocks(&self) -> u64 {
        self.files.iter().map(|f| f.blocks).sum()
    }

    /// Records decoded, over every file.
    pub fn records(&self) -> u64 {
        self.files.iter().map(|f| f.records).sum()
    }

    /// Records `error`, met while checking `file`, as a problem; hands it back instead when
    /// it is the disk failing rather than damage. A missing file is damage: nothing the
    /// database still needs is ever deleted while it runs.
    fn record(&mut self, file: &Path, error: impl Into<Error>) -> Result<()> {
        let error = error.into();
        let problem = match error {
            Error::Corruption(c) => c,
            Error::Io(e) if e.kind() == io::ErrorKind::NotFound => {
                Corruption::new(file, 0, "the file is missing")
            }
            Error::Io(e) => return Err(Error::Io(e)),
            // Anything else about bytes read back (a format version newer than this build,
            // in a file the database itself wrote or already read) is damage too.
            other => Corruption::new(file, 0, other.to_string()),
        };
        self.problems.push(problem);
        Ok(())
    }
}

/// Checks every live file of the database; see [`Db::verify`](crate::Db::verify).
pub(crate) fn verify(shared: &Shared) -> Result<VerifyReport> {
    shared.check_open()?;
    let env = &shared.env;
    let mut report = VerifyReport::default();
    // CURRENT and the manifest are read, and the live files chosen, under the manifest
    // lock: edits, manifest switches and new versions happen only under it, so what is
    // read here is one consistent state. The pinned super version keeps its tables from
    // being deleted after the lock is let go.
    // A poisoned database's manifest may be behind or ahead of its state in memory, and
    // CURRENT may name either manifest: then only the checksums are checked. So too in a
    // database opened read-only, whose state is the manifest's as of the open: a writer
    // beside it may have appended edits or switched manifests since.
    let read_only = shared.writes.wal.is_none();
    let trusted = !read_only && !shared.work.is_poisoned();
    let (svs, segments) = shared.versions.with_state(|number, state| {
        let (fs, dir) = (&*env.fs, &env.dir);
        let (number, checked) = match read_only {
            true => ferris_manifest::check_beside_writer(fs, dir, number, GROWING_READS)?,
            false => (
                number,
                ferris_manifest::check(fs, dir, number, trusted.then_some(state))?,
            ),
        };
        let svs: Vec<_> = (shared.versions.keyspaces().iter())
            .map(|k| (k.id, k.current()))
            .collect();
        let mut current = FileCheck::new(env.path(CURRENT), FileKind::Current);
        current.bytes = checked.current_bytes;
        current.records = u64::from(checked.current_read);
        let mut manifest = FileCheck::new(env.path(manifest_file_name(number)), FileKind::Manifest);
        (manifest.bytes, manifest.records) = (checked.manifest_bytes, checked.edits);
        manifest.torn_tail = checked.torn_tail;
        report.files.extend([current, manifest]);
        report.problems.extend(checked.damage);
        let segments: Vec<u64> = list_segments(&*env.fs, &env.dir)?
            .into_iter()
            .filter(|&id| id >= state.log_number())
            .collect();
        Ok::<_, Error>((svs, segments))
    })?;
    for (id, sv) in &svs {
        for (_, file) in sv.version.levels.files() {
            check_table(env, *id, file, read_only, &mut report)?;
        }
    }
    check_wal(shared, &segments, &mut report)?;
    Ok(report)
}

fn check_table(
    env: &Env,
    keyspace: KeyspaceId,
    file: &TableFile,
    read_only: bool,
    report: &mut VerifyReport,
) -> Result<()> {
    let path = file.reader.path().to_path_buf();
    let mut check = FileCheck::new(path.clone(), FileKind::Table);
    // Opened afresh and without the block cache, so that every byte comes from the disk
    // as it is now.
    let uncached = ReadOptions::default();
    let table = match env
        .format()
        .open(&env.fs, &env.dir, file.meta.number, &uncached)
    {
        Ok(table) => table,
        // A writer beside a database opened read-only may have retired the table since the
        // open; the reader opened then still reads it (and `verify` bypasses every cache).
        Err(ferris_core::Error::Io(e)) if read_only && e.kind() == io::ErrorKind::NotFound => {
            Arc::clone(&file.reader)
        }
        Err(e) => {
            report.files.push(check);
            return report.record(&path, e);
        }
    };
    let checked = table.verify()?;
    check.bytes = checked.bytes;
    check.blocks = checked.blocks;
    check.records = checked.entries;
    for damage in checked.damage {
        report.record(&path, damage)?;
    }
    let props = table.properties();
    if let Some(reason) = props.disagreement(&file.meta) {
        report.problems.push(Corruption::new(&path, 0, reason));
    }
    if let Err(e) = props.check_keyspace(&path, keyspace) {
        report.record(&path, e)?;
    }
    report.files.push(check);
    Ok(())
}

fn check_wal(shared: &Shared, segments: &[u64], report: &mut VerifyReport) -> Result<()> {
    let dir = &shared.env.dir;
    report
        .problems
        .extend(ferris_wal::missing_segments(dir, segments));
    // How far each segment can be trusted to hold finished writes is the WAL's to say,
    // asked after the listing: the live segment as far as finished groups fill it, and
    // for a database opened read-only (no WAL of its own) damage only where it stays put,
    // since a writer beside it may be appending (`SegmentEnd::of`).
    let wal = shared.writes.wal.as_ref();
    for &id in segments {
        let path = segment_path(dir, id);
        let end = SegmentEnd::of(wal, id);
        let mut check = FileCheck::new(path.clone(), FileKind::Wal);
        match ferris_wal::check_segment(&*shared.env.fs, &path, id, end, ferris_wal::batch_problem)
        {
            Ok(checked) => {
                (check.bytes, check.records) = (checked.bytes, checked.records);
                check.torn_tail = checked.torn_tail;
                for damage in checked.damage {
                    report.record(&path, damage)?;
                }
            }
            // A flush finished since the segments were listed, and retired this one: its
            // writes are in a table now.
            Err(ferris_wal::Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => report.record(&path, e)?,
        }
        report.files.push(check);
    }
    Ok(())
}
