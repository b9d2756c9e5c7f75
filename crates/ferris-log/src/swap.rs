//! A log format behind a trait: [`LogFormat`], its writer and its reader, and
//! [`Framing`], this crate's framing behind it.
//!
//! The WAL and the manifest call the framing's functions directly, and go on doing so:
//! nothing in FerrisDB's write path goes through this trait. It exists so that a log
//! format can be *swapped and tested*: the lab's WAL stage (`lab/wal`) is a learner's
//! log format, and `ferris_conformance::log` is one suite of checks (round trips, a power
//! cut after every file operation, torn tails, flipped bits, hostile bytes, the recovery
//! modes) that runs against any implementation of it. [`Framing`] is the reference: the
//! suite passes it, byte for byte the format `docs/format/wal.md` specifies.
//!
//! # The contract
//!
//! A log is one file of records, appended in order and read back in order.
//!
//! - **Writing.** [`LogFormat::create`] is handed a new, empty file and writes what the
//!   format puts first (a header, say). [`LogWriter::append`] adds one record of any
//!   length up to [`MAX_RECORD_LEN`], empty ones included; [`LogWriter::sync`] makes
//!   every record appended so far durable; [`LogWriter::seal`] closes the log cleanly
//!   (so that a reader can tell a finished log from one a crash cut short) and syncs.
//!   After a failed append or sync the writer cannot know what reached the disk, so every
//!   later call fails too.
//! - **Reading.** [`LogFormat::open`] reads a log under a [`RecoveryMode`], and
//!   [`LogReader::next_record`] returns its records in the order they were appended,
//!   each one byte for byte as given, then `None`. A record is never returned unless every
//!   byte of it is the one written (checksum it).
//! - **Torn tail or corruption.** A power cut leaves a prefix of what was appended, and
//!   the last bytes of it may be garbage: a **torn tail**, with nothing intact after it.
//!   Damage with intact records after it (in particular anywhere before the seal of a
//!   sealed log) is **corruption**. The mode decides what each becomes, as the crate's
//!   front page tabulates; whatever is tolerated is reported by [`LogReader::events`]
//!   ([`RecoveryEvent::TornTail`], [`RecoveryEvent::StoppedAtCorruption`],
//!   [`RecoveryEvent::SkippedCorruption`]), and what is not is [`Error::Corruption`].
//! - **No input panics** the reader or makes it allocate more than the records it
//!   returns: every length read from the file is checked against [`MAX_RECORD_LEN`] and
//!   against the bytes actually there before anything is allocated.
//!
//! The writer owns its file but not its directory: whoever creates the file makes its
//! name durable (`FileSystem::sync_dir`), as the WAL does when it starts a segment.
//!
//! # Example
//!
//! ```
//! use std::path::Path;
//! use ferris_fs::{FileSystem, SimFs};
//! use ferris_log::{Framing, LogFormat, RecoveryMode};
//!
//! let fs = SimFs::new(1);
//! let path = Path::new("/000001.log");
//! let mut writer = Framing.create(fs.create(path)?, path, 1)?;
//! writer.append(b"alpha")?;
//! writer.append(&[7; 40_000])?;
//! writer.sync()?;
//! writer.seal()?;
//!
//! let mut reader = Framing.open(&fs, path, 1, RecoveryMode::Strict)?;
//! assert_eq!(reader.next_record()?.as_deref(), Some(&b"alpha"[..]));
//! assert_eq!(reader.next_record()?.map(|r| r.len()), Some(40_000));
//! assert_eq!(reader.next_record()?, None);
//! assert!(reader.is_sealed() && reader.events().is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use ferris_core::{Error, Result};
use ferris_fs::{FileSystem, WritableFile};

use crate::format::{
    FIRST_RECORD_FORMAT, MAX_RECORD_LEN, SEGMENT_HEADER_LEN, encode_segment_header, frame_record,
    frame_seal,
};
use crate::{RecoveryEvent, RecoveryMode, SegmentReader};

/// A log format: how records become the bytes of a file, and how they are read back.
///
/// The module documentation states the contract; `ferris_conformance::log` checks it.
pub trait LogFormat: Send + Sync + fmt::Debug {
    /// A short lowercase name, for failures and logs.
    fn name(&self) -> &'static str;

    /// Starts log `id` in `file`, a new, empty file at `path` (the path is for errors):
    /// writes whatever the format puts before the first record. Nothing is durable until
    /// the writer's first [`LogWriter::sync`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file fails.
    fn create(
        &self,
        file: Box<dyn WritableFile>,
        path: &Path,
        id: u64,
    ) -> Result<Box<dyn LogWriter>>;

    /// Opens log `id` at `path` for reading, under `mode`. The id is the one the log was
    /// created with; a log that names another is corruption.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be opened or read; [`Error::Corruption`] for a
    /// damaged start of the log that `mode` does not tolerate;
    /// [`Error::UnsupportedVersion`] for a log of a newer version of the format.
    fn open(
        &self,
        fs: &dyn FileSystem,
        path: &Path,
        id: u64,
        mode: RecoveryMode,
    ) -> Result<Box<dyn LogReader>>;
}

/// Appends records to one log file.
pub trait LogWriter: Send + fmt::Debug {
    /// Appends `record` to the file. It is durable after the next [`LogWriter::sync`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a record longer than [`MAX_RECORD_LEN`] (nothing is
    /// written); [`Error::Io`] when the file fails, and for every call after any failure.
    fn append(&mut self, record: &[u8]) -> Result<()>;

    /// Makes every record appended so far durable.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file fails, and for every call after any failure.
    fn sync(&mut self) -> Result<()>;

    /// Closes the log cleanly: writes what tells a reader the log is whole, and syncs.
    ///
    /// # Errors
    ///
    /// As [`LogWriter::sync`].
    fn seal(self: Box<Self>) -> Result<()>;
}

/// Reads the records of one log file back, in order.
pub trait LogReader: fmt::Debug {
    /// The next record, or `None` at the end of the log (or where the mode stopped).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] on a failed read; [`Error::Corruption`] for damage the mode does not
    /// tolerate. The reader is not used after an error.
    fn next_record(&mut self) -> Result<Option<Vec<u8>>>;

    /// What was tolerated so far: a torn tail cut off, damage skipped or stopped at.
    fn events(&self) -> &[RecoveryEvent];

    /// Whether the log was sealed. Meaningful once [`LogReader::next_record`] has returned
    /// `None`.
    fn is_sealed(&self) -> bool;
}

/// This crate's framing as a [`LogFormat`]: the reference implementation.
///
/// The writer frames each record with [`frame_record`] and appends it at once, seals with
/// [`frame_seal`]; the reader is a [`SegmentReader`]. A log's header declares the first
/// record format ([`FIRST_RECORD_FORMAT`]): its records are whatever bytes it was given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Framing;

impl LogFormat for Framing {
    fn name(&self) -> &'static str {
        "ferris-log"
    }

    fn create(
        &self,
        file: Box<dyn WritableFile>,
        path: &Path,
        id: u64,
    ) -> Result<Box<dyn LogWriter>> {
        let mut writer = FramingWriter {
            file,
            path: path.to_path_buf(),
            out: Vec::new(),
            block_offset: SEGMENT_HEADER_LEN,
            n_records: 0,
            failed: false,
        };
        writer.write(|out, _| {
            out.extend_from_slice(&encode_segment_header(id, FIRST_RECORD_FORMAT));
        })?;
        Ok(Box::new(writer))
    }

    fn open(
        &self,
        fs: &dyn FileSystem,
        path: &Path,
        id: u64,
        mode: RecoveryMode,
    ) -> Result<Box<dyn LogReader>> {
        Ok(Box::new(SegmentReader::open(fs, path, id, mode)?))
    }
}

/// [`Framing`]'s writer: frames into a buffer, appends the buffer.
#[derive(Debug)]
struct FramingWriter {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    /// The bytes of the current call, reused.
    out: Vec<u8>,
    block_offset: usize,
    n_records: u64,
    /// Set by any failed append or sync: what reached the disk is unknown, so the framing
    /// no longer knows the block offset the file is at.
    failed: bool,
}

impl FramingWriter {
    /// Refuses to go on after a failure.
    fn check(&self) -> Result<()> {
        if self.failed {
            return Err(Error::io(
                &self.path,
                std::io::Error::other("an earlier append or sync of this log failed"),
            ));
        }
        Ok(())
    }

    /// Frames with `frame` and appends what it framed.
    fn write(&mut self, frame: impl FnOnce(&mut Vec<u8>, &mut usize)) -> Result<()> {
        self.check()?;
        self.out.clear();
        frame(&mut self.out, &mut self.block_offset);
        let appended = self.file.append(&self.out);
        self.failed = appended.is_err();
        appended.map_err(|e| Error::io(&self.path, e))
    }
}

impl LogWriter for FramingWriter {
    fn append(&mut self, record: &[u8]) -> Result<()> {
        if record.len() as u64 > MAX_RECORD_LEN {
            return Err(Error::InvalidInput(format!(
                "a log record of {} bytes is longer than the limit of {MAX_RECORD_LEN}",
                record.len()
            )));
        }
        self.write(|out, block_offset| frame_record(out, block_offset, record))?;
        self.n_records += 1;
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.check()?;
        let synced = self.file.sync();
        self.failed = synced.is_err();
        synced.map_err(|e| Error::io(&self.path, e))
    }

    fn seal(mut self: Box<Self>) -> Result<()> {
        let n_records = self.n_records;
        self.write(|out, block_offset| frame_seal(out, block_offset, n_records))?;
        self.sync()
    }
}

impl LogReader for SegmentReader {
    fn next_record(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(SegmentReader::next_record(self)?.map(|record| record.data))
    }

    fn events(&self) -> &[RecoveryEvent] {
        SegmentReader::events(self)
    }

    fn is_sealed(&self) -> bool {
        SegmentReader::is_sealed(self)
    }
}
