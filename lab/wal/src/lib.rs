//! # Lab stage 2: a write-ahead log
//!
//! A database acknowledges a write once it is in its **log**: a file of records, one per
//! batch of writes, appended and synced before the memtable is touched. After a crash the
//! log is read back and every batch it holds is applied again. Your job: [`LabLog`], an
//! implementation of [`ferris_log::LogFormat`], the format of that file: a [`LabWriter`]
//! that appends records, syncs them and seals the file, and a [`LabReader`] that reads
//! them back after whatever a power cut left.
//!
//! Read the contract first: `ferris_log::swap` (the trait, and what each method
//! promises), then `ferris-log`'s front page (why records are framed in blocks, what a torn
//! tail looks like, the four recovery modes). In short, what the grader checks:
//!
//! - **Round trips.** Every record comes back byte for byte, in order: empty ones,
//!   records of a few bytes, records of many kilobytes. `is_sealed` says whether
//!   `seal` was called.
//! - **Power cuts.** After a cut at any moment, recovery returns a prefix of what was
//!   appended, holding every record a `sync` acknowledged, and never a record that was not
//!   written. So `sync` must really sync the file (`WritableFile::sync`).
//! - **Torn tails.** A power cut leaves the last record half-written or garbage. Cut off,
//!   it is reported as `RecoveryEvent::TornTail` (an event, not an error), except under
//!   `RecoveryMode::Strict`, where it is `Error::Corruption`. Checksum every record: a
//!   record whose bytes are not the ones written must never come back.
//! - **Corruption.** Damage with intact records *after* it is not what a power cut does:
//!   under `TolerateTornTail` it is `Error::Corruption`; `PointInTime` stops there,
//!   `SkipCorrupted` skips it (each reporting an event). So after damage, look ahead for
//!   an intact record, and make `seal` write one at the end, so that in a sealed log every
//!   damage has something intact after it.
//! - **Hostile bytes.** No input panics the reader or makes it allocate gigabytes: check
//!   every length against `ferris_log::MAX_RECORD_LEN` and against the bytes that are
//!   there.
//! - **In a database.** The last check writes `ferris_core::WriteBatch`es through your
//!   log, cuts the power, recovers, replays the batches into a memtable, and compares it
//!   with what was acknowledged.
//!
//! A first design that passes: a header (magic, version, the log's id) then, for each
//! record, its length, a CRC-32C (`ferris_core::checksum`) of length and bytes, and the
//! bytes; a seal record at the end. Such a format is simple, but after a damaged length
//! it no longer knows where the next record starts, so to tell damage from a torn tail it
//! must search the rest of the file byte by byte for an intact record. The reference
//! frames records in 32 KiB blocks instead, so that its reader can start again at the next
//! block. Try the simple one first, and see which checks it passes.
//!
//! Every body below is empty: the writer writes nothing, the reader reads nothing. The
//! grader runs checks of the lab's own, then FerrisDB's log suite (the one
//! `ferris-log`'s own framing passes) on a simulated disk, then the database check:
//!
//! ```sh
//! cargo xtask lab check wal              # your log
//! cargo xtask lab check wal --reference  # ferris-log's framing, which passes
//! ```
//!
//! The reference solution is `ferris_log::Framing` (`crates/ferris-log/src/swap.rs`,
//! over `format.rs` and `reader.rs`; the spec is `docs/format/wal.md`).

// The bodies are yours to write; until then they ignore their arguments and fields.
// The lab's starters are the one place in the workspace where that is allowed: see
// CLAUDE.md.
#![allow(unused_variables, dead_code)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use ferris_core::Result;
use ferris_fs::{FileSystem, WritableFile};
use ferris_log::{LogFormat, LogReader, LogWriter, RecoveryEvent, RecoveryMode};

/// Your log format.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabLog;

impl LogFormat for LabLog {
    /// A short lowercase name for failures. Nothing to write.
    fn name(&self) -> &'static str {
        "lab"
    }

    /// Starts log `id` in `file`, a new and empty file at `path`.
    ///
    /// What to write: append a header (a magic number, a version, `id`, and a checksum of
    /// them) so that a reader can refuse a file that is not your log, or another log's.
    /// Keep the file and what the writer needs in a [`LabWriter`]. Turn an `io::Error`
    /// into `ferris_core::Error::io(path, e)`.
    fn create(
        &self,
        file: Box<dyn WritableFile>,
        path: &Path,
        id: u64,
    ) -> Result<Box<dyn LogWriter>> {
        Ok(Box::new(LabWriter {
            file,
            path: path.to_path_buf(),
        }))
    }

    /// Opens log `id` at `path`, to read it under `mode`.
    ///
    /// What to write: open the file (`fs.open`), check the header (damage is
    /// `Error::Corruption` naming the file, unless `mode` tolerates it: a header cut short
    /// with nothing after it is a torn tail), and keep the file in a [`LabReader`].
    fn open(
        &self,
        fs: &dyn FileSystem,
        path: &Path,
        id: u64,
        mode: RecoveryMode,
    ) -> Result<Box<dyn LogReader>> {
        Ok(Box::new(LabReader {
            path: path.to_path_buf(),
            mode,
            events: Vec::new(),
        }))
    }
}

/// Appends records to one log file.
///
/// What to write: the file, its path (for errors), how many records were appended (for
/// the seal), and whether a call failed (after which every call fails).
#[derive(Debug)]
pub struct LabWriter {
    file: Box<dyn WritableFile>,
    path: PathBuf,
}

impl LogWriter for LabWriter {
    /// Appends one record.
    ///
    /// What to write: refuse a record longer than `ferris_log::MAX_RECORD_LEN`
    /// (`Error::InvalidInput`); frame it (a length and a checksum before its bytes) and
    /// append the frame to the file. A failed append is `Error::Io`, and poisons the
    /// writer.
    fn append(&mut self, record: &[u8]) -> Result<()> {
        Ok(())
    }

    /// Makes every record appended so far durable.
    ///
    /// What to write: `self.file.sync()`, its failure an `Error::Io` that poisons the
    /// writer.
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    /// Closes the log cleanly.
    ///
    /// What to write: append a seal, a record of its own kind (holding the number of
    /// records, say) that a reader recognises, then sync.
    fn seal(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

/// Reads one log file back.
///
/// What to write: the file, where the next record starts, the mode, the events so far,
/// and whether the seal was read.
#[derive(Debug)]
pub struct LabReader {
    path: PathBuf,
    mode: RecoveryMode,
    events: Vec<RecoveryEvent>,
}

impl LogReader for LabReader {
    /// The next record, or `None` at the end.
    ///
    /// What to write: read the next frame and check it. Intact: return its bytes. The seal:
    /// note it, and return `None`. Damaged or cut short: look ahead for an intact frame. If
    /// there is none, it is a torn tail: an error under `Strict`, else push a
    /// `RecoveryEvent::TornTail` and return `None`. If there is one, it is corruption:
    /// `Error::Corruption` under `Strict` and `TolerateTornTail`, a
    /// `StoppedAtCorruption` event and `None` under `PointInTime`, a `SkippedCorruption`
    /// event and the intact record under `SkipCorrupted`.
    fn next_record(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }

    /// What was tolerated so far.
    fn events(&self) -> &[RecoveryEvent] {
        &self.events
    }

    /// Whether the seal was read.
    fn is_sealed(&self) -> bool {
        false
    }
}
