//! Recovery: replaying a directory of segments, oldest first.
//!
//! Each segment is read by `ferris-log`'s [`SegmentReader`], which tells a torn tail from
//! corruption within one file. What this module adds is the sequence: segments are
//! replayed in id order from the oldest still needed, a gap in the ids is a missing
//! segment, and once [`RecoveryMode::PointInTime`] stops at damage every later segment is
//! ignored too.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::Corruption;
use ferris_fs::FileSystem;
use ferris_log::{Record, RecoveryEvent, RecoveryMode, SegmentReader};

use crate::error::{Error, Result};
use crate::format::{check_record_format, segment_path};
use crate::writer::{Wal, list_segments};

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

/// How far [`check_segment`] reads a segment: what its caller knows of the segment's
/// writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentEnd {
    /// All of it: nothing appends to it any more (it is sealed, or its writer is closed
    /// or poisoned).
    Whole,
    /// Its first `n` bytes: the part of the live segment that finished groups fill, as
    /// its own writer says ([`Wal::active_segment_len`](crate::Wal::active_segment_len)).
    /// Past that, a group may be being copied in while the reader looks.
    At(u64),
    /// All of it, though a writer the caller cannot ask may be appending to it: a
    /// database opened read-only, beside the process that writes it, has no length to
    /// stop at. Reading while a group is copied in can catch a fragment half-copied with
    /// a finished one after it (the reader's pages read at different moments), which
    /// looks like damage in the middle of the file. So framing damage counts only when
    /// the next read of the file finds it again, in the same place for the same reason:
    /// real damage stays put, and a write in progress is finished by then, or has moved
    /// on to a later offset. Damage that moves on every one of [`GROWING_READS`] reads
    /// was each time a write in progress, and the last one is reported as the torn tail
    /// it most likely is. A file cut short under the reader (a writer sealing the segment
    /// cuts its reserved length back) is read again too.
    Growing,
}

impl SegmentEnd {
    /// How far to read segment `id` of a WAL whose writer is `wal`, or `None` for a reader
    /// with no writer of its own (a database opened read-only, which another process may be
    /// writing).
    ///
    /// Asked after the segments were listed: the live segment is read [`SegmentEnd::At`]
    /// the length its finished groups fill; a segment listed as live and sealed since, and
    /// every older one, [`SegmentEnd::Whole`]; one created since was not listed. A
    /// poisoned or closed WAL appends nothing more, so then every segment is read whole.
    /// Without a writer, any listed segment may still change (the newest as it is
    /// appended to, the one before while it is sealed): [`SegmentEnd::Growing`].
    pub fn of(wal: Option<&Wal>, id: u64) -> SegmentEnd {
        let Some(wal) = wal else {
            return SegmentEnd::Growing;
        };
        match wal.active_segment_len() {
            Ok((active, len)) if active == id => SegmentEnd::At(len),
            _ => SegmentEnd::Whole,
        }
    }
}

/// How many times [`check_segment`] reads a [`SegmentEnd::Growing`] segment whose damage
/// moves, before it takes the last damage for a write in progress.
pub const GROWING_READS: usize = 4;

/// Reads segment `id` at `path` as recovery would, up to `end`, and passes every record
/// to `check`, which says what is wrong with it, if anything (a [`SegmentEnd::Growing`]
/// segment may be read, and its records passed, more than once). For a tool that checks
/// a database's files (`Db::verify`): damage is listed, not returned as an error.
///
/// # Errors
///
/// [`Error::Io`] if the segment cannot be read (`NotFound` when it was removed; for a
/// [`SegmentEnd::Growing`] segment, a file cut short under every one of twice
/// [`GROWING_READS`] reads, a quarter of a second in all);
/// [`Error::UnsupportedVersion`] for a newer framing or record format.
pub fn check_segment(
    fs: &dyn FileSystem,
    path: &Path,
    id: u64,
    end: SegmentEnd,
    mut check: impl FnMut(&[u8]) -> Option<String>,
) -> Result<SegmentCheck> {
    let limit = match end {
        SegmentEnd::At(n) => n,
        SegmentEnd::Whole | SegmentEnd::Growing => u64::MAX,
    };
    if end != SegmentEnd::Growing {
        return read_checked(fs, path, id, limit, &mut check).map(Checked::into_reported);
    }
    // The framing damage the read before found, if any.
    let (mut before, mut read): (Option<Corruption>, usize) = (None, 0);
    loop {
        read += 1;
        let Checked { mut found, framing } = match read_checked(fs, path, id, limit, &mut check) {
            // Shorter than when it was opened: a writer sealed it (or is still writing the
            // header of a segment it just created). The next read sees the seal; a writer
            // descheduled half-way (a loaded machine) is given time, doubling each read.
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                if read >= GROWING_READS * 2 {
                    return Err(Error::Io(e));
                }
                std::thread::sleep(std::time::Duration::from_millis(1 << read));
                before = None;
                continue;
            }
            result => result?,
        };
        match framing {
            None => return Ok(found),
            Some(damage) if before.as_ref() == Some(&damage) => {
                found.damage.push(damage);
                return Ok(found);
            }
            Some(damage) if read >= GROWING_READS => {
                found.torn_tail = Some(damage.offset);
                return Ok(found);
            }
            Some(damage) => before = Some(damage),
        }
    }
}

/// One read of a segment by [`check_segment`]: what it found, with the framing damage
/// that stopped it (if any) kept apart from the records `check` refused.
struct Checked {
    found: SegmentCheck,
    framing: Option<Corruption>,
}

impl Checked {
    /// The check with its framing damage listed as damage.
    fn into_reported(mut self) -> SegmentCheck {
        self.found.damage.extend(self.framing);
        self.found
    }
}

fn read_checked(
    fs: &dyn FileSystem,
    path: &Path,
    id: u64,
    end: u64,
    check: &mut impl FnMut(&[u8]) -> Option<String>,
) -> Result<Checked> {
    let mut reader = SegmentReader::open_to(fs, path, id, RecoveryMode::TolerateTornTail, end)
        .map_err(Error::from)?;
    check_record_format(path, reader.record_format())?;
    let mut out = SegmentCheck {
        bytes: reader.file_len(),
        ..SegmentCheck::default()
    };
    let mut framing = None;
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
                framing = Some(c);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    out.torn_tail = reader.events().iter().find_map(|event| match event {
        RecoveryEvent::TornTail { offset, .. } => Some(*offset),
        _ => None,
    });
    Ok(Checked {
        found: out,
        framing,
    })
}
