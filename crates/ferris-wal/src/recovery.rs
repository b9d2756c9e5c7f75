//! Recovery: replaying a directory of segments, oldest first.
//!
//! Each segment is read by `ferris-log`'s [`SegmentReader`], which tells a torn tail from
//! corruption within one file. What this module adds is the sequence: segments are
//! replayed in id order from the oldest still needed, a gap in the ids is a missing
//! segment, and once [`RecoveryMode::PointInTime`] stops at damage every later segment is
//! ignored too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::Corruption;
use ferris_fs::FileSystem;
use ferris_log::{Record, RecoveryEvent, RecoveryMode, SegmentReader};

use crate::error::{Error, Result};
use crate::format::{check_record_format, segment_path};
use crate::writer::list_segments;

/// Options for [`WalRecovery::open`].
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RecoveryOptions {
    /// What to do about damage (default [`RecoveryMode::TolerateTornTail`]).
    pub mode: RecoveryMode,
    /// Segments older than this are ignored: their records are already durable elsewhere
    /// (the engine records this number in its manifest when a flush completes).
    pub min_segment_id: u64,
}

/// What a finished recovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Everything tolerated, in order.
    pub events: Vec<RecoveryEvent>,
    /// Records replayed.
    pub records: u64,
    /// The segments replayed.
    pub segment_ids: Vec<u64>,
    /// The id to give [`Wal::create`](crate::Wal::create): one past every segment in the
    /// directory, so a new writer never reuses a name.
    pub next_segment_id: u64,
}

/// Replays every record of a WAL directory, oldest segment first.
///
/// ```
/// # use std::{path::Path, sync::Arc};
/// # use ferris_fs::{FileSystem, SimFs};
/// use ferris_wal::{RecoveryOptions, Wal, WalOptions, WalRecovery};
///
/// # let fs: Arc<dyn FileSystem> = Arc::new(SimFs::new(1));
/// # let dir = Path::new("/wal");
/// # fs.create_dir_all(dir)?;
/// let mut recovery = WalRecovery::open(fs.clone(), dir, RecoveryOptions::default())?;
/// while let Some(record) = recovery.next_record()? {
///     // apply record.data to the memtable
/// #   let _ = record;
/// }
/// let report = recovery.finish();
/// let wal = Wal::create(fs, dir, report.next_segment_id, WalOptions::default())?;
/// # let _ = wal;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WalRecovery {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    mode: RecoveryMode,
    pending: std::vec::IntoIter<u64>,
    current: Option<SegmentReader>,
    report: RecoveryReport,
    stopped: bool,
    expected_next: Option<u64>,
}

impl WalRecovery {
    /// Lists the segments in `dir` (at least `options.min_segment_id`) for replay.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directory cannot be listed.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        options: RecoveryOptions,
    ) -> Result<WalRecovery> {
        let all = list_segments(&*fs, dir)?;
        let next_segment_id = all
            .last()
            .map_or(1, |last| last + 1)
            .max(options.min_segment_id)
            .max(1);
        let replay: Vec<u64> = all
            .into_iter()
            .filter(|&id| id >= options.min_segment_id)
            .collect();
        Ok(WalRecovery {
            fs,
            dir: dir.to_path_buf(),
            mode: options.mode,
            pending: replay.into_iter(),
            current: None,
            report: RecoveryReport {
                next_segment_id,
                ..RecoveryReport::default()
            },
            stopped: false,
            expected_next: None,
        })
    }

    /// The next record, or `None` when every segment has been read.
    ///
    /// # Errors
    ///
    /// As [`SegmentReader::open`] and [`SegmentReader::next_record`] (their errors
    /// converted to the WAL's), plus [`Error::Corruption`] for a missing segment in the
    /// middle of the sequence (in the modes that do not tolerate it), and
    /// [`Error::UnsupportedVersion`] for a segment whose records are in a newer format
    /// ([`check_record_format`]), in every mode: its batches may be acknowledged writes,
    /// so no mode skips it.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            if self.stopped {
                return Ok(None);
            }
            if let Some(reader) = &mut self.current {
                if let Some(record) = reader.next_record()? {
                    self.report.records += 1;
                    return Ok(Some(record));
                }
                let reader = self.current.take().expect("checked");
                self.report.events.extend_from_slice(reader.events());
                self.stopped = reader.stopped_at_corruption();
                continue;
            }
            let Some(id) = self.pending.next() else {
                return Ok(None);
            };
            if let Some(expected) = self.expected_next.filter(|&e| e != id) {
                match self.mode {
                    RecoveryMode::PointInTime => {
                        self.report.events.push(RecoveryEvent::MissingSegment {
                            segment_id: expected,
                        });
                        self.stopped = true;
                        return Ok(None);
                    }
                    RecoveryMode::SkipCorrupted => {
                        self.report.events.push(RecoveryEvent::MissingSegment {
                            segment_id: expected,
                        });
                    }
                    // `Strict` and `TolerateTornTail` refuse a hole in the log, and so does
                    // any mode `ferris-log` may add that does not say otherwise here.
                    _ => {
                        return Err(Error::corruption(
                            segment_path(&self.dir, expected),
                            0,
                            crate::replay::missing_reason(expected, id),
                        ));
                    }
                }
            }
            self.expected_next = Some(id + 1);
            let path = segment_path(&self.dir, id);
            let reader = SegmentReader::open(&*self.fs, &path, id, self.mode)?;
            check_record_format(&path, reader.record_format())?;
            self.report.segment_ids.push(id);
            self.current = Some(reader);
        }
    }

    /// The directory being recovered.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Ends recovery and returns what it found. Call it after [`WalRecovery::next_record`]
    /// returned `None`; called earlier, the report covers what was read so far.
    pub fn finish(mut self) -> RecoveryReport {
        if let Some(reader) = self.current.take() {
            self.report.events.extend_from_slice(reader.events());
        }
        self.report
    }
}
/// What [`check_segment`] read, and the damage it found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentCheck {
    /// The segment file's length in bytes.
    pub bytes: u64,
    /// Records read.
    pub records: u64,
    /// Where the segment ends in an incomplete record with nothing intact after it: what a
    /// crash, or an append still in progress, leaves. Not damage: recovery ignores it.
    pub torn_tail: Option<u64>,
    /// Damage: a record `check` refused, or framing the reader cannot go past (reading
    /// stops there; later segments can still be checked).
    pub damage: Vec<Corruption>,
}

/// Reads segment `id` at `path` as recovery would, up to `end` bytes (the part of a live
/// segment finished groups fill; `u64::MAX` for all of it), and passes every record to
/// `check`, which says what is wrong with it, if anything. For a tool that checks a
/// database's files (`Db::verify`): damage is listed, not returned as an error.
///
/// # Errors
///
/// [`Error::Io`] if the segment cannot be read (`NotFound` when it was removed);
/// [`Error::UnsupportedVersion`] for a newer framing or record format.
pub fn check_segment(
    fs: &dyn FileSystem,
    path: &Path,
    id: u64,
    end: u64,
    mut check: impl FnMut(&[u8]) -> Option<String>,
) -> Result<SegmentCheck> {
    let mut reader = SegmentReader::open_to(fs, path, id, RecoveryMode::TolerateTornTail, end)
        .map_err(Error::from)?;
    check_record_format(path, reader.record_format())?;
    let mut out = SegmentCheck {
        bytes: reader.file_len(),
        ..SegmentCheck::default()
    };
    loop {
        match reader.next_record().map_err(Error::from) {
            Ok(Some(record)) => {
                out.records += 1;
                if let Some(reason) = check(&record.data) {
                    out.damage
                        .push(Corruption::new(path, record.offset, reason));
                }
            }
            Ok(None) => break,
            Err(Error::Corruption(c)) => {
                out.damage.push(c);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    out.torn_tail = reader.events().iter().find_map(|event| match event {
        RecoveryEvent::TornTail { offset, .. } => Some(*offset),
        _ => None,
    });
    Ok(out)
}
