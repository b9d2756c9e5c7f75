//! Recovery: reading segments back, and deciding what damage means.
//!
//! # Torn tail or corruption?
//!
//! A power cut during a write can leave the end of the active segment incomplete or
//! garbled: that is a **torn tail**, and it is expected. Damage with intact data *after* it
//! is something else: bits that changed on disk after they were written, **corruption**.
//! The reader tells them apart by looking past the damage:
//!
//! ```text
//!  ... | rec | rec | ####### damaged ####### |            EOF   -> torn tail
//!  ... | rec | rec | ## damaged ## | rec | rec | seal     EOF   -> corruption
//! ```
//!
//! After damage at offset `x`, it searches the rest of `x`'s block byte by byte, and the
//! start of every later block, for an intact fragment (valid kind, length and checksum).
//! Finding one means the writer went on writing after `x`, so the damage is not where a
//! crash stopped it. A cleanly closed segment ends in a *seal* that starts its own block,
//! so in a sealed segment every damage has an intact fragment after it and is reported.
//!
//! [`RecoveryMode`] decides what happens next.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_fs::{FileSystem, ReadableFile};

use crate::error::{Error, Result};
use crate::format::{
    BLOCK_SIZE, FORMAT_VERSION, FRAGMENT_HEADER_LEN, FragmentKind, HeaderError, MAX_RECORD_LEN,
    SEAL_PAYLOAD_LEN, SEGMENT_HEADER_LEN, decode_segment_header, fragment_crc, segment_path,
};
use crate::writer::list_segments;

/// What recovery does when it finds damage. The names and trade-offs follow RocksDB's WAL
/// recovery modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Any damage, even a torn tail, is an error. Use it for a WAL that was closed cleanly
    /// and must be complete (RocksDB's `kAbsoluteConsistency`).
    Strict,
    /// A torn tail at the end of a segment is cut off and reported as a
    /// [`RecoveryEvent::TornTail`]; damage followed by intact records is
    /// [`Error::Corruption`]. This recovers everything a crash can leave and refuses to
    /// guess past real corruption (RocksDB's `kTolerateCorruptedTailRecords`). The default.
    #[default]
    TolerateTornTail,
    /// Replay stops at the first damage of any kind, which is reported as an event; the
    /// result is a consistent prefix of the history, but records after real corruption,
    /// acknowledged ones included, are silently dropped (RocksDB's `kPointInTimeRecovery`).
    PointInTime,
    /// Damaged records are skipped and replay goes on with the next intact one. Recovers
    /// the most data, but the result may have holes: a batch in the middle of the history
    /// can be missing while later ones are present (RocksDB's `kSkipAnyCorruptedRecords`).
    /// Meant for salvaging a damaged database, not for normal opens.
    SkipCorrupted,
}

/// One record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The segment it was read from.
    pub segment_id: u64,
    /// Byte offset of its first fragment within the segment file.
    pub offset: u64,
    /// The record's bytes, as passed to [`Wal::append`](crate::Wal::append).
    pub data: Vec<u8>,
}

/// Something recovery tolerated, reported so it is never silent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryEvent {
    /// A segment ended in an incomplete or damaged record with nothing intact after it:
    /// what a power cut leaves. Everything from `offset` on was ignored.
    TornTail {
        /// The segment.
        segment_id: u64,
        /// Where the ignored bytes start.
        offset: u64,
        /// How many bytes were ignored.
        dropped_bytes: u64,
    },
    /// [`RecoveryMode::SkipCorrupted`] skipped damaged bytes.
    SkippedCorruption {
        /// The segment.
        segment_id: u64,
        /// Where the skipped bytes start.
        offset: u64,
        /// How many bytes were skipped.
        skipped_bytes: u64,
        /// What was wrong.
        reason: String,
    },
    /// [`RecoveryMode::PointInTime`] stopped replay at damage; later records and segments
    /// were ignored.
    StoppedAtCorruption {
        /// The segment.
        segment_id: u64,
        /// Where the damage is.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A segment in the middle of the sequence is missing ([`RecoveryMode::SkipCorrupted`]
    /// goes on past it; [`RecoveryMode::PointInTime`] stops before it).
    MissingSegment {
        /// The missing segment's id.
        segment_id: u64,
    },
}

/// Reads the records of one segment file, in order.
///
/// [`WalRecovery`] uses one per segment; it is public for tools that inspect a single file,
/// such as `ferris wal dump`.
#[derive(Debug)]
pub struct SegmentReader {
    file: Box<dyn ReadableFile>,
    path: PathBuf,
    segment_id: u64,
    len: u64,
    mode: RecoveryMode,
    /// The current block (shorter than `BLOCK_SIZE` only at the end of the file).
    block: Vec<u8>,
    block_start: u64,
    pos: usize,
    /// A record being assembled from fragments: its offset and bytes so far.
    partial: Option<(u64, Vec<u8>)>,
    n_records: u64,
    sealed: bool,
    finished: bool,
    /// Set by [`RecoveryMode::PointInTime`] when it stops: later segments must be ignored.
    stopped: bool,
    events: Vec<RecoveryEvent>,
}

enum Frag {
    Fragment {
        kind: FragmentKind,
        offset: u64,
        start: usize,
        len: usize,
    },
    Damaged {
        offset: u64,
        reason: &'static str,
    },
    Eof,
}

impl SegmentReader {
    /// Opens segment file `path` and checks its header. `segment_id` is the id its name
    /// gives; the header must agree.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be opened or read; [`Error::UnsupportedVersion`] for
    /// a newer format; [`Error::Corruption`] for a damaged header followed by intact records
    /// (in the modes that do not tolerate it) or a header naming another segment.
    pub fn open(
        fs: &dyn FileSystem,
        path: &Path,
        segment_id: u64,
        mode: RecoveryMode,
    ) -> Result<SegmentReader> {
        SegmentReader::open_to(fs, path, segment_id, mode, u64::MAX)
    }

    /// As [`SegmentReader::open`], but reads no further than `end` bytes into the file.
    ///
    /// For a segment a [`Wal`](crate::Wal) is still appending to: pass the length
    /// [`Wal::active_segment_len`](crate::Wal::active_segment_len) returned, and the reader
    /// sees only groups whose writes had finished. Past that the file may hold a group
    /// being copied in right now, or the zeros of the segment's reserved length that later
    /// groups will fill; reading those while they change could mistake a half-copied
    /// fragment, followed by a finished one, for corruption.
    ///
    /// # Errors
    ///
    /// As [`SegmentReader::open`].
    pub fn open_to(
        fs: &dyn FileSystem,
        path: &Path,
        segment_id: u64,
        mode: RecoveryMode,
        end: u64,
    ) -> Result<SegmentReader> {
        let file = fs.open(path).map_err(|e| Error::io(path, e))?;
        let len = file.len().min(end);
        let mut reader = SegmentReader {
            file,
            path: path.to_path_buf(),
            segment_id,
            len,
            mode,
            block: Vec::with_capacity(BLOCK_SIZE),
            block_start: 0,
            pos: 0,
            partial: None,
            n_records: 0,
            sealed: false,
            finished: false,
            stopped: false,
            events: Vec::new(),
        };
        reader.load_block(0)?;
        match decode_segment_header(&reader.block) {
            Ok(header) if header.segment_id != segment_id => {
                return Err(Error::corruption(
                    path,
                    16,
                    format!(
                        "header names segment {} but the file is segment {segment_id}",
                        header.segment_id
                    ),
                ));
            }
            Ok(_) => reader.pos = SEGMENT_HEADER_LEN,
            Err(HeaderError::UnsupportedVersion(found)) => {
                return Err(Error::UnsupportedVersion {
                    file: path.to_path_buf(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            Err(HeaderError::Damaged(reason)) => {
                reader.on_damage(0, 0, reason)?;
                // Skipping resynchronised somewhere past the header; anything else finished.
            }
        }
        Ok(reader)
    }

    /// The segment's id.
    pub fn segment_id(&self) -> u64 {
        self.segment_id
    }

    /// The file's length when it was opened: the reader reads that far and no further, even
    /// if a writer is still appending to it.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Whether the segment ended with a valid seal (it was closed cleanly). Meaningful once
    /// [`SegmentReader::next_record`] has returned `None`.
    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// What was tolerated so far.
    pub fn events(&self) -> &[RecoveryEvent] {
        &self.events
    }

    /// Reads the next record, or `None` at the end of the segment.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] on a failed read; [`Error::Corruption`] for damage the mode does not
    /// tolerate. The reader must not be used after an error.
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let (kind, offset, start, len) = match self.read_fragment()? {
                Frag::Eof => {
                    if let Some((start, _)) = self.partial.take() {
                        self.on_damage(
                            start,
                            start,
                            "record is incomplete at the end of the segment",
                        )?;
                        continue;
                    }
                    self.finished = true;
                    return Ok(None);
                }
                Frag::Damaged { offset, reason } => {
                    let start = self.partial.take().map_or(offset, |(s, _)| s);
                    self.on_damage(start, offset, reason)?;
                    continue;
                }
                Frag::Fragment {
                    kind,
                    offset,
                    start,
                    len,
                } => (kind, offset, start, len),
            };
            let after = offset + (FRAGMENT_HEADER_LEN + len) as u64;
            if self.sealed {
                self.on_known_damage(offset, offset, "data after the seal", after)?;
                continue;
            }
            match kind {
                FragmentKind::Full | FragmentKind::First | FragmentKind::Seal
                    if self.partial.is_some() =>
                {
                    let (start_of_partial, _) = self.partial.take().expect("checked");
                    // Go back and read this fragment again once the damage is dealt with.
                    self.on_known_damage(
                        start_of_partial,
                        offset,
                        "record interrupted by a new record",
                        offset,
                    )?;
                }
                FragmentKind::Full => {
                    self.n_records += 1;
                    let data = self.block[start..start + len].to_vec();
                    return Ok(Some(Record {
                        segment_id: self.segment_id,
                        offset,
                        data,
                    }));
                }
                FragmentKind::First => {
                    self.partial = Some((offset, self.block[start..start + len].to_vec()));
                }
                FragmentKind::Middle | FragmentKind::Last => {
                    let Some((record_start, mut data)) = self.partial.take() else {
                        self.on_known_damage(
                            offset,
                            offset,
                            "fragment continues a record that never began",
                            after,
                        )?;
                        continue;
                    };
                    if data.len() as u64 + len as u64 > MAX_RECORD_LEN {
                        self.on_damage(
                            record_start,
                            offset,
                            "record grows past the maximum record length",
                        )?;
                        continue;
                    }
                    data.extend_from_slice(&self.block[start..start + len]);
                    if kind == FragmentKind::Last {
                        self.n_records += 1;
                        return Ok(Some(Record {
                            segment_id: self.segment_id,
                            offset: record_start,
                            data,
                        }));
                    }
                    self.partial = Some((record_start, data));
                }
                FragmentKind::Seal => {
                    let count = (len == SEAL_PAYLOAD_LEN).then(|| {
                        u64::from_le_bytes(
                            self.block[start..start + len].try_into().expect("8 bytes"),
                        )
                    });
                    if count != Some(self.n_records) {
                        let reason = "the seal's record count disagrees with the records read";
                        self.on_known_damage(offset, offset, reason, after)?;
                        continue;
                    }
                    self.sealed = true;
                }
            }
        }
    }

    /// Reads the next fragment from the current position, moving across blocks.
    fn read_fragment(&mut self) -> Result<Frag> {
        loop {
            let full_block = self.block.len() == BLOCK_SIZE;
            let avail = self.block.len() - self.pos;
            let offset = self.block_start + self.pos as u64;
            let rest = &self.block[self.pos..];
            if avail == 0
                || (full_block && avail < FRAGMENT_HEADER_LEN && rest.iter().all(|&b| b == 0))
            {
                // End of the block (or its zero trailer).
                let next = self.block_start + BLOCK_SIZE as u64;
                if !full_block || next >= self.len {
                    return Ok(Frag::Eof);
                }
                self.load_block(next / BLOCK_SIZE as u64)?;
                continue;
            }
            if avail < FRAGMENT_HEADER_LEN {
                let reason = if full_block {
                    "non-zero bytes in a block trailer"
                } else {
                    "fragment header cut off by the end of the file"
                };
                return Ok(Frag::Damaged { offset, reason });
            }
            let len = usize::from(u16::from_le_bytes([rest[4], rest[5]]));
            let tag = rest[6];
            if tag == 0 {
                // Zero padding runs to the end of the block (before a seal). Anything else
                // here is damage: zeros a torn write left, or a flipped kind byte.
                if full_block && rest.iter().all(|&b| b == 0) {
                    self.pos = self.block.len();
                    continue;
                }
                return Ok(Frag::Damaged {
                    offset,
                    reason: "zeroed or unknown fragment",
                });
            }
            let Some(kind) = FragmentKind::from_u8(tag) else {
                return Ok(Frag::Damaged {
                    offset,
                    reason: "unknown fragment kind",
                });
            };
            if FRAGMENT_HEADER_LEN + len > avail {
                let reason = if full_block {
                    "fragment length runs past the end of its block"
                } else {
                    "fragment cut off by the end of the file"
                };
                return Ok(Frag::Damaged { offset, reason });
            }
            let stored = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
            if stored != fragment_crc(&rest[4..7], &rest[7..7 + len]) {
                return Ok(Frag::Damaged {
                    offset,
                    reason: "fragment checksum mismatch",
                });
            }
            let start = self.pos + FRAGMENT_HEADER_LEN;
            self.pos = start + len;
            return Ok(Frag::Fragment {
                kind,
                offset,
                start,
                len,
            });
        }
    }

    /// Handles damage at `at`, where the affected bytes start at `start` (earlier, if a
    /// record was being assembled): searches for intact data after it, then acts by mode.
    fn on_damage(&mut self, start: u64, at: u64, reason: &str) -> Result<()> {
        let resume = self.find_intact_after(at)?;
        self.act(start, at, reason, resume)
    }

    /// Handles damage when an intact fragment is known to follow at `resume`.
    fn on_known_damage(&mut self, start: u64, at: u64, reason: &str, resume: u64) -> Result<()> {
        self.act(start, at, reason, Some(resume))
    }

    fn act(&mut self, start: u64, at: u64, reason: &str, resume: Option<u64>) -> Result<()> {
        self.partial = None;
        match (resume, self.mode) {
            (None, RecoveryMode::Strict) => Err(Error::corruption(
                &self.path,
                at,
                format!(
                    "{reason}, with nothing intact after it (a torn tail, which strict recovery rejects)"
                ),
            )),
            (None, _) => {
                let dropped_bytes = self.len - start;
                tracing::warn!(
                    segment = self.segment_id,
                    offset = start,
                    dropped_bytes,
                    reason,
                    "wal torn tail cut off"
                );
                self.events.push(RecoveryEvent::TornTail {
                    segment_id: self.segment_id,
                    offset: start,
                    dropped_bytes,
                });
                self.finished = true;
                Ok(())
            }
            (Some(_), RecoveryMode::Strict | RecoveryMode::TolerateTornTail) => {
                Err(Error::corruption(
                    &self.path,
                    at,
                    format!("{reason}, followed by intact records"),
                ))
            }
            (Some(_), RecoveryMode::PointInTime) => {
                tracing::warn!(
                    segment = self.segment_id,
                    offset = at,
                    reason,
                    "wal replay stopped at corruption"
                );
                self.events.push(RecoveryEvent::StoppedAtCorruption {
                    segment_id: self.segment_id,
                    offset: at,
                    reason: reason.to_owned(),
                });
                self.finished = true;
                self.stopped = true;
                Ok(())
            }
            (Some(resume), RecoveryMode::SkipCorrupted) => {
                tracing::warn!(
                    segment = self.segment_id,
                    offset = start,
                    resume,
                    reason,
                    "wal skipped corruption"
                );
                self.events.push(RecoveryEvent::SkippedCorruption {
                    segment_id: self.segment_id,
                    offset: start,
                    skipped_bytes: resume - start,
                    reason: reason.to_owned(),
                });
                self.seek(resume)
            }
        }
    }

    /// The offset of the first intact fragment after `at`: anywhere later in `at`'s block,
    /// or at the start of any later block.
    fn find_intact_after(&mut self, at: u64) -> Result<Option<u64>> {
        let block_idx = at / BLOCK_SIZE as u64;
        let mut block = if block_idx * BLOCK_SIZE as u64 == self.block_start {
            std::mem::take(&mut self.block)
        } else {
            self.read_block(block_idx)?
        };
        let in_block = (at % BLOCK_SIZE as u64) as usize;
        let found = (in_block + 1..block.len()).find(|&p| is_intact(&block, p));
        if block_idx * BLOCK_SIZE as u64 == self.block_start {
            std::mem::swap(&mut self.block, &mut block);
        }
        if let Some(p) = found {
            return Ok(Some(block_idx * BLOCK_SIZE as u64 + p as u64));
        }
        let n_blocks = self.len.div_ceil(BLOCK_SIZE as u64);
        for b in block_idx + 1..n_blocks {
            if is_intact(&self.read_block(b)?, 0) {
                return Ok(Some(b * BLOCK_SIZE as u64));
            }
        }
        Ok(None)
    }

    fn seek(&mut self, offset: u64) -> Result<()> {
        self.load_block(offset / BLOCK_SIZE as u64)?;
        self.pos = (offset % BLOCK_SIZE as u64) as usize;
        Ok(())
    }

    fn load_block(&mut self, block_idx: u64) -> Result<()> {
        let mut block = std::mem::take(&mut self.block);
        self.fill_block(block_idx, &mut block)?;
        self.block = block;
        self.block_start = block_idx * BLOCK_SIZE as u64;
        self.pos = 0;
        Ok(())
    }

    fn read_block(&self, block_idx: u64) -> Result<Vec<u8>> {
        let mut block = Vec::new();
        self.fill_block(block_idx, &mut block)?;
        Ok(block)
    }

    fn fill_block(&self, block_idx: u64, block: &mut Vec<u8>) -> Result<()> {
        let start = block_idx * BLOCK_SIZE as u64;
        let n = self.len.saturating_sub(start).min(BLOCK_SIZE as u64) as usize;
        block.clear();
        block.resize(n, 0);
        self.file
            .read_exact_at(start, block)
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Whether an intact fragment starts at `pos` of `block`.
fn is_intact(block: &[u8], pos: usize) -> bool {
    let Some(h) = block.get(pos..pos + FRAGMENT_HEADER_LEN) else {
        return false;
    };
    if FragmentKind::from_u8(h[6]).is_none() {
        return false;
    }
    let len = usize::from(u16::from_le_bytes([h[4], h[5]]));
    let Some(payload) = block.get(pos + FRAGMENT_HEADER_LEN..pos + FRAGMENT_HEADER_LEN + len)
    else {
        return false;
    };
    u32::from_le_bytes(h[..4].try_into().expect("4 bytes")) == fragment_crc(&h[4..7], payload)
}

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
    /// As [`SegmentReader::open`] and [`SegmentReader::next_record`], plus
    /// [`Error::Corruption`] for a missing segment in the middle of the sequence (in the
    /// modes that do not tolerate it).
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
                self.stopped = reader.stopped;
                continue;
            }
            let Some(id) = self.pending.next() else {
                return Ok(None);
            };
            if let Some(expected) = self.expected_next.filter(|&e| e != id) {
                match self.mode {
                    RecoveryMode::Strict | RecoveryMode::TolerateTornTail => {
                        return Err(Error::corruption(
                            segment_path(&self.dir, expected),
                            0,
                            format!("segment {expected} is missing (found segment {id} after it)"),
                        ));
                    }
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
                }
            }
            self.expected_next = Some(id + 1);
            let path = segment_path(&self.dir, id);
            let reader = SegmentReader::open(&*self.fs, &path, id, self.mode)?;
            self.report.segment_ids.push(id);
            self.current = Some(reader);
        }
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
