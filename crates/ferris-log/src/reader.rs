//! Reading a segment back, and deciding what damage means.
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

use ferris_core::{Error, Result, UnsupportedVersion};
use ferris_fs::{FileSystem, ReadableFile};

use crate::format::{
    BLOCK_SIZE, FORMAT_VERSION, FRAGMENT_HEADER_LEN, FragmentKind, HeaderError, MAX_RECORD_LEN,
    SEAL_PAYLOAD_LEN, SEGMENT_HEADER_LEN, decode_segment_header, fragment_crc,
};

/// The name a [`UnsupportedVersion`] gives the framing: a manifest with a newer framing
/// is "a log format version" too new, not a manifest format version.
const FORMAT_NAME: &str = "log";

/// What a reader does when it finds damage. The names and trade-offs follow RocksDB's WAL
/// recovery modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Any damage, even a torn tail, is an error. Use it for a log that was closed cleanly
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

/// One record read back from a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The segment it was read from.
    pub segment_id: u64,
    /// Byte offset of its first fragment within the segment file.
    pub offset: u64,
    /// The record's bytes, as given to [`frame_record`](crate::format::frame_record).
    pub data: Vec<u8>,
}

/// Something a reader tolerated, reported so it is never silent.
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
    /// A segment in the middle of a sequence of segments is missing
    /// ([`RecoveryMode::SkipCorrupted`] goes on past it; [`RecoveryMode::PointInTime`]
    /// stops before it). A [`SegmentReader`] reads one segment and never reports this; a
    /// reader of a sequence does (the WAL's `WalRecovery`), and shares this enum so that
    /// one list holds everything a recovery tolerated.
    MissingSegment {
        /// The missing segment's id.
        segment_id: u64,
    },
}

/// Reads the records of one segment file, in order.
///
/// The WAL's recovery uses one per segment, the manifest's replay one for its file, and
/// tools that inspect a single file (`ferris wal dump`, `ferris manifest dump`) one each.
///
/// ```
/// use std::path::Path;
/// use ferris_fs::{FileSystem, SimFs};
/// use ferris_log::format::{SEGMENT_HEADER_LEN, encode_segment_header, frame_record};
/// use ferris_log::{RecoveryMode, SegmentReader};
///
/// let mut bytes = encode_segment_header(7, 1).to_vec();
/// let mut block_offset = SEGMENT_HEADER_LEN;
/// frame_record(&mut bytes, &mut block_offset, b"hello");
///
/// let fs = SimFs::new(1);
/// let path = Path::new("/000007.log");
/// fs.create(path)?.append(&bytes)?;
/// let mut reader = SegmentReader::open(&fs, path, 7, RecoveryMode::Strict)?;
/// assert_eq!(reader.record_format(), Some(1));
/// let record = reader.next_record()?.expect("one record");
/// assert_eq!((record.offset, record.data.as_slice()), (32, &b"hello"[..]));
/// assert_eq!(reader.next_record()?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SegmentReader {
    file: Box<dyn ReadableFile>,
    path: PathBuf,
    segment_id: u64,
    /// The header's record format; `None` when the header was damaged and the mode read on.
    record_format: Option<u32>,
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
    /// For a segment a writer is still appending to: pass the length its appends had
    /// reached (the WAL's `Wal::active_segment_len`), and the reader sees only writes that
    /// had finished. Past that the file may hold bytes being copied in right now, or zeros
    /// a writer reserved ahead of its appends; reading those while they change could
    /// mistake a half-copied fragment, followed by a finished one, for corruption.
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
            record_format: None,
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
            Ok(header) => {
                reader.record_format = Some(header.record_format);
                reader.pos = SEGMENT_HEADER_LEN;
            }
            Err(HeaderError::UnsupportedVersion(found)) => {
                return Err(Error::UnsupportedVersion(UnsupportedVersion {
                    file: path.to_path_buf(),
                    format: FORMAT_NAME,
                    found,
                    supported: FORMAT_VERSION,
                }));
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

    /// What the segment's records hold, as its header says: the record format its writer
    /// chose (1 for a header of framing version 1). The framing does not judge it: a caller
    /// that knows which record formats it reads refuses the others, as the WAL does.
    ///
    /// `None` when the header was damaged and the recovery mode read on past it (a torn
    /// header with nothing after it, or [`RecoveryMode::SkipCorrupted`]): the records, if
    /// any, must then be judged by their own contents.
    pub fn record_format(&self) -> Option<u32> {
        self.record_format
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

    /// Whether [`RecoveryMode::PointInTime`] stopped at damage in this segment. A reader of
    /// a sequence of segments must then ignore the later ones too: their records come after
    /// the damage in the history, and replaying them would leave a hole.
    pub fn stopped_at_corruption(&self) -> bool {
        self.stopped
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
                    file = %self.path.display(),
                    offset = start,
                    dropped_bytes,
                    reason,
                    "log torn tail cut off"
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
                    file = %self.path.display(),
                    offset = at,
                    reason,
                    "log replay stopped at corruption"
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
                    file = %self.path.display(),
                    offset = start,
                    resume,
                    reason,
                    "log skipped corruption"
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
