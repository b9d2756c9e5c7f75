//! # ferris-log: framing records in a log file
//!
//! ## The problem
//!
//! Two parts of FerrisDB keep a log. The write-ahead log appends one record per group of
//! writes, the manifest one record per change to the set of live tables. Both append,
//! sync, and after a crash read back every record that reached the disk whole. To do that
//! a reader must know where each record ends, whether its bytes are the ones written, and,
//! when they are not, whether it is looking at what a power cut leaves (expected, and
//! harmless: nobody was told that write succeeded) or at damage (bits that changed on disk
//! after they were written). And no bytes, however garbled, may make it panic, return a
//! record that was never written, or allocate a gigabyte because a length field says so.
//!
//! The obvious layout is a length, a checksum and the payload, record after record. It
//! works until a length field is damaged: the reader then has no idea where the next record
//! starts, so everything after the damage is lost, and it cannot even tell whether there
//! *is* anything after the damage, which is the one question that separates a torn tail
//! from corruption.
//!
//! ## Blocks
//!
//! So the file is cut into **blocks** of 32 KiB, and nothing is allowed to cross a block
//! boundary. Every block then begins with something the reader can parse from scratch:
//! after damage, it jumps to the next block and finds its feet again. The price is small: a
//! block whose last few bytes cannot hold another header has them zero-filled (the
//! *trailer*, at most 6 bytes a block). The grid is LevelDB's, and so is the size: big
//! enough that the framing costs little, small enough that the search past damage is short.
//!
//! ## Fragments
//!
//! A record is not a block, though: it may be a few bytes or many blocks long. So records
//! are cut into **fragments** at block boundaries. A record that fits in what is left of
//! the block is one `Full` fragment; a longer one is a `First`, as many `Middle`s as it
//! takes, and a `Last`. Each fragment has a 7-byte header (a CRC-32C, a length, a kind) and
//! its own checksum, and a record is returned only when all its fragments check out:
//!
//! ```text
//! | header | Full r1 | Full r2 | First r3 ......|  .... Middle r3 .... | Last r3 | Full r4 |tr|
//! |<------------- block 0 (32 KiB) ----------->|<------------- block 1 (32 KiB) --------->|
//!
//! fragment: crc32c (4) | length (2) | kind (1) | payload (length bytes)
//! ```
//!
//! The file starts with a 32-byte **header** (the magic `FRSDBWAL`, the framing version,
//! the block size, the file's id, the *record format* and a checksum), so a file renamed
//! into the wrong place, or one from a newer version, is refused by name. The record format
//! says what the records hold. The framing cannot know that, so the file's writer chooses
//! the number and the reader hands it to its caller ([`SegmentReader::record_format`]),
//! which refuses records newer than it understands, by name, instead of finding them
//! undecodable and calling that damage. A writer whose records are in the first record
//! format writes a header of framing version 1, as before record formats existed, so that
//! older builds keep reading what they understand ([`format::framing_version_for`]). A writer that closes a file cleanly
//! ends it with a **seal**: zeros to the next block boundary, then a `Seal` fragment
//! holding the record count. One framed file is a **segment**; the WAL writes a sequence
//! of them (`000001.wal`, `000002.wal`, ...), a manifest is one. `docs/format/wal.md` is the
//! byte-level specification.
//!
//! ## What a torn tail looks like
//!
//! A power cut during an append leaves a prefix of what was appended, and the last sector
//! of it may be garbage or zeros. So the end of the last segment may hold a record whose
//! `Last` fragment never arrived, or a fragment cut short, or one whose checksum fails. In
//! every case nothing intact comes *after* it: the writer had not got that far. Damage in
//! the middle of a file is different: the writer went on, and its later fragments are
//! still there.
//!
//! ```text
//!  ... | r7 | r8 | First r9 | Midd              EOF    torn tail: r9 never finished
//!  ... | r7 | r8 | Full r9 with a bad crc      EOF    torn tail: nothing after it
//!  ... | r7 | #### damaged #### | r9 | r10 | seal EOF   corruption: intact fragments follow
//! ```
//!
//! That is the reader's rule. After damage it searches the rest of the block byte by byte,
//! and the start of every later block, for an intact fragment (a known kind, a length
//! inside its block, a matching checksum). None: a torn tail. One: corruption. The seal
//! starts its own block precisely so that in a cleanly closed segment every damage has an
//! intact fragment after it and is reported as corruption.
//!
//! ## The four recovery modes
//!
//! What the reader does then is the caller's choice, a [`RecoveryMode`]:
//!
//! | mode | torn tail | damage followed by intact records |
//! |---|---|---|
//! | `Strict` | error | error |
//! | `TolerateTornTail` (default) | cut off, reported as an event | error |
//! | `PointInTime` | cut off, reported | reading stops there, reported |
//! | `SkipCorrupted` | cut off, reported | skipped, reading goes on, reported |
//!
//! `TolerateTornTail` recovers everything a crash can leave and refuses to guess past
//! real damage; it is what the WAL uses by default and what the manifest always uses.
//! `PointInTime` gives a consistent prefix even of a damaged log, `SkipCorrupted` salvages
//! the most records at the cost of holes, and `Strict` is for a log that was closed cleanly
//! and must be whole. Whatever is tolerated is reported as a [`RecoveryEvent`], never
//! silently.
//!
//! ## Example
//!
//! ```
//! use std::path::Path;
//! use ferris_fs::{FileSystem, SimFs};
//! use ferris_log::format::{SEGMENT_HEADER_LEN, encode_segment_header, frame_record};
//! use ferris_log::{RecoveryEvent, RecoveryMode, SegmentReader};
//!
//! // Three records framed into segment 1, whose header says they are in record format 2
//! // (what that means is the writer's business). The second does not fit in block 0: it
//! // becomes a First fragment there and a Last in block 1.
//! let mut bytes = encode_segment_header(1, 2).to_vec();
//! let mut block_offset = SEGMENT_HEADER_LEN;
//! for record in [&b"alpha"[..], &[7; 40_000], b"omega"] {
//!     frame_record(&mut bytes, &mut block_offset, record);
//! }
//!
//! // A power cut during the last append: three bytes of "omega" never reached the disk.
//! let fs = SimFs::new(1);
//! let path = Path::new("/000001.log");
//! let mut file = fs.create(path)?;
//! file.append(&bytes[..bytes.len() - 3])?;
//! file.sync()?;
//!
//! let mut reader = SegmentReader::open(&fs, path, 1, RecoveryMode::TolerateTornTail)?;
//! assert_eq!(reader.record_format(), Some(2));
//! let mut records = Vec::new();
//! while let Some(record) = reader.next_record()? {
//!     records.push(record.data);
//! }
//! assert_eq!(records, [b"alpha".to_vec(), vec![7; 40_000]]);
//! // The 9 bytes of the torn fragment (its 7-byte header and 2 of 5 payload bytes).
//! assert!(matches!(
//!     reader.events(),
//!     [RecoveryEvent::TornTail { dropped_bytes: 9, .. }]
//! ));
//!
//! // Strict recovery accepts no damage at all, not even a torn tail.
//! let mut strict = SegmentReader::open(&fs, path, 1, RecoveryMode::Strict)?;
//! let read: Result<Vec<_>, _> = std::iter::from_fn(|| strict.next_record().transpose()).collect();
//! assert!(read.unwrap_err().is_corruption());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Guarantees
//!
//! - A record is returned whole, in the order it was framed, and only if the checksum of
//!   every one of its fragments passed.
//! - No input makes the reader panic. It holds one block at a time plus the record being
//!   assembled, which grows only by fragments whose checksums passed and never past
//!   [`MAX_RECORD_LEN`]: a damaged length cannot make it allocate.
//! - Framing is a pure function of the records and the block offset they start at: the
//!   same records are always the same bytes, so golden files can pin the format.
//!
//! # Durability
//!
//! The framing does no writing I/O. [`format::frame_record`] and [`format::frame_seal`]
//! append bytes to a buffer; when to append the buffer to a file and when to sync it is the
//! writer's decision, and so is every durability promise (see `ferris-wal` and
//! `ferris-manifest`). The one writer in this crate, [`Framing`]'s (see [`swap`]), appends
//! each record as it is given and syncs only when its caller says. What the reader assumes of the disk is what `docs/format/wal.md`
//! states: synced bytes stay as written, and unsynced appends survive a power cut as a
//! prefix whose last sector may be torn.
//!
//! # Errors
//!
//! The reader fails only with the shared vocabulary of `ferris-core`, so its errors are
//! [`ferris_core::Error`] itself: [`Error::Io`] when the file system fails,
//! [`Error::Corruption`] for damage the mode does not tolerate, and
//! [`Error::UnsupportedVersion`] (format `"log"`) for a segment from a newer framing.
//!
//! # Limits
//!
//! - A record is at most [`MAX_RECORD_LEN`] bytes (1 GiB).
//! - Each fragment costs 7 bytes, each segment a 32-byte header, each block up to 6 bytes of
//!   trailer, and a seal up to one block of padding.
//! - A CRC-32C catches every burst of up to 32 flipped bits; other damage slips through
//!   with a chance of one in 2³².
//! - Damage costs at least the record it hits; [`RecoveryMode::SkipCorrupted`] loses
//!   everything up to the next intact fragment.
//!
//! The fuzz targets `wal_recovery` and `manifest_decode` in `fuzz/` feed arbitrary
//! segments to this reader; `fuzz/README.md` says how to run them.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 2. Try each exercise first.
//!
//! 1. In the example, cut `bytes` at other lengths. Which cuts give no event at all, and
//!    which lose the 40,000-byte record as well as "omega"?
//! 2. Instead of cutting the tail, flip one bit inside "alpha". Why is that an error under
//!    `TolerateTornTail` and not an event? What do `PointInTime` and `SkipCorrupted` return?
//! 3. Frame a record of exactly `BLOCK_SIZE - SEGMENT_HEADER_LEN - 7` bytes and then
//!    another. Where does the second one start? Now make the first one byte shorter, then
//!    three bytes shorter: what is between the two records each time?
//! 4. Seal a segment with [`format::frame_seal`], then damage its last record. Why is it
//!    corruption now, when the same damage in an unsealed segment is a torn tail?
//!
//! ## Swapping the format
//!
//! The WAL and the manifest call the functions above directly. For everything else, the
//! [`LogFormat`] trait ([`swap`]) puts a log format behind three small pieces, a format
//! that creates writers and opens readers, a [`LogWriter`] (append, sync, seal) and a
//! [`LogReader`] (records, events, sealed or not), and [`Framing`] is this crate's framing
//! behind them. That is what lets one suite, `ferris_conformance::log`, check any log
//! format against the guarantees above, and the lab's WAL stage (`lab/wal`) grade a
//! learner's.
//!
//! ## What to read next
//!
//! `ferris-wal`, which writes segments with group commit and recovers a directory of them
//! in order, and `ferris-manifest`, which keeps each manifest's version edits in one
//! segment.

#![forbid(unsafe_code)]

pub mod format;
mod reader;
pub mod swap;

pub use ferris_core::{Error, Result};
pub use format::MAX_RECORD_LEN;
pub use reader::{Record, RecoveryEvent, RecoveryMode, SegmentReader};
pub use swap::{Framing, LogFormat, LogReader, LogWriter};
