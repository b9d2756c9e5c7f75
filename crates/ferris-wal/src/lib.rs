//! # ferris-wal: how a write survives a power cut
//!
//! ## The problem
//!
//! An LSM tree collects writes in a memtable, in memory, and only later writes them to
//! sorted files on disk. If the power fails in between, the memtable is gone. Yet a database
//! that told its caller "your write is saved" must still have that write after the reboot.
//!
//! The answer is a **write-ahead log**: before a write touches the memtable, it is appended
//! to a log file and the file is `fsync`'d. Appending is the cheapest thing a disk does,
//! and after `fsync` returns the bytes are on stable storage. After a crash, recovery reads
//! the log from the start and replays every record into a fresh memtable.
//!
//! ```text
//!  put(k, v) ─► encode batch ─► WAL append ─► fsync ─► memtable insert ─► "ok"
//!                                              │
//!                          power cut here? ────┘ the write was never acknowledged:
//!                                                losing it breaks no promise
//! ```
//!
//! ## The format
//!
//! The log is a sequence of **segment files** (`000001.wal`, `000002.wal`, ...). The bytes
//! inside each are the record framing of `ferris-log`, which the manifest uses too: a
//! 32-byte header (magic, format version, segment id, checksum) followed by **fragments**
//! laid out on a grid of 32 KiB blocks, LevelDB style:
//!
//! ```text
//! | header | Full r1 | Full r2 | First r3 ...  |  ... Middle r3 ... | Last r3 | Full r4 | ...
//! |<------------- block 0 (32 KiB) ---------->|<------------- block 1 ------------------>
//!
//! fragment: crc32c (4) | length (2) | kind (1) | payload
//! ```
//!
//! A record that fits in the rest of a block is one `Full` fragment; a longer one is split
//! into `First`, `Middle`s and `Last`. Every fragment has its own CRC-32C, so a flipped bit is
//! caught, and because fragments never cross a block boundary, a reader that hits damage
//! can find its feet again at the next block. A segment closed cleanly ends with a **seal**
//! fragment holding its record count. `ferris-log`'s front page explains the framing and
//! how a reader tells a torn tail from corruption; `docs/format/wal.md` has the byte-level
//! specification and a crash analysis of every write. This crate adds what makes a
//! sequence of segments a log: their names, a writer with group commit that rotates and
//! seals them, and recovery that replays them in order.
//!
//! One record is one `WriteBatch` (from `ferris-core`) in the engine, so a batch is
//! replayed whole or not at all: its fragments either all check out or the record is
//! dropped. This crate does not decode the records, but it does declare what they are:
//! every segment's header names its **record format**, [`format::RECORD_FORMAT`] (3, write
//! batches whose entries may name keyspaces and delete ranges; 2 had no range deletes),
//! and recovery refuses a segment whose records
//! are newer than that with [`Error::UnsupportedVersion`], instead of replaying it until a
//! batch fails to decode. Segments from before record formats (framing version 1) hold
//! format 1, batches of the default keyspace alone, and are replayed as ever.
//!
//! Replay is the one place the WAL looks inside its records:
//! [`WalRecovery::replay_batches`] decodes each as a batch and applies each keyspace's
//! entries to the memtable the caller routes that keyspace to ([`Route`]), skipping
//! segments older than the keyspace's log number (their writes are in its tables), and
//! keyspaces dropped since; a keyspace that never existed is damage.
//!
//! ## Writing and recovering
//!
//! ```
//! use std::{path::Path, sync::Arc};
//! use ferris_fs::{FileSystem, SimFs};
//! use ferris_wal::{RecoveryOptions, Wal, WalOptions, WalRecovery};
//!
//! let sim = SimFs::new(7);
//! let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
//! let dir = Path::new("/db/wal");
//! fs.create_dir_all(dir)?;
//!
//! let wal = Wal::create(fs.clone(), dir, 1, WalOptions::default())?;
//! wal.append(b"first batch")?;  // returns once fsync'd
//! wal.append(b"second batch")?;
//!
//! sim.crash(); // pull the plug
//!
//! let mut recovery = WalRecovery::open(fs.clone(), dir, RecoveryOptions::default())?;
//! let mut replayed = Vec::new();
//! while let Some(record) = recovery.next_record()? {
//!     replayed.push(record.data);
//! }
//! assert_eq!(replayed, [b"first batch".to_vec(), b"second batch".to_vec()]);
//!
//! // Start a new segment after the ones recovered; old segments are never appended to.
//! let report = recovery.finish();
//! let wal = Wal::create(fs, dir, report.next_segment_id, WalOptions::default())?;
//! wal.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Group commit
//!
//! An fsync takes the same time for one record as for a hundred. When many threads append
//! at once, one of them becomes the *leader*: it writes every queued record in one go and
//! fsyncs once for all of them, while the others wait for it. The more writers, the more
//! records each fsync carries; see [`Wal`]'s module docs for the protocol, and
//! `cargo xtask bench` (or `cargo bench -p ferris-benches --bench wal`) for what it buys.
//!
//! Left alone, the writers split into two cohorts that take turns, each fsync carrying
//! about half of them. So a leader first waits, briefly, for the writers the last group
//! released to queue again: the [`group`] module explains the turns and the wait, which
//! the engine's own write queue reuses. The same module has the followers' side
//! ([`group::Handoff`]): a writer that asked for no fsync yields the processor for a few
//! tens of microseconds before it sleeps, since its group takes less time than a sleep
//! and a wake-up.
//!
//! An fsync is also cheaper when the file's length does not change: appending past the
//! end of a file makes the fsync write the new length too. So the active segment's length
//! is set ahead of its appends, [`RESERVE_STEP`] at a time, and its records are followed
//! by zeros the reader takes for padding; sealing cuts a segment back to its seal.
//!
//! # Durability
//!
//! - With [`SyncMode::Always`] (the default), [`Wal::append`] returns `Ok` only after the
//!   record is fsync'd, and, for the first record of a segment, after the segment's
//!   directory entry is synced too. Such a record survives any power cut.
//! - With [`SyncMode::Manual`], `append` returns once the record is in the operating
//!   system's page cache: it survives a crash of the process, not of the machine, until
//!   [`Wal::sync`] returns.
//! - Rotation (by size, or [`Wal::rotate`]) seals and fsyncs the old segment before the
//!   new one is used, so only the active segment can ever end in a torn write.
//! - If a write or fsync fails, the WAL is **poisoned**: every later call fails with
//!   [`Error::Poisoned`] until it is reopened through recovery. After a failed fsync Linux
//!   may have dropped the dirty pages and cleared the error, so a later "successful" fsync
//!   would prove nothing.
//!
//! # Recovery
//!
//! [`WalRecovery`] replays segments in order, each through `ferris-log`'s
//! [`SegmentReader`]. What it does with damage depends on the [`RecoveryMode`]:
//!
//! | mode | torn tail | damage followed by intact records |
//! |---|---|---|
//! | `Strict` | error | error |
//! | `TolerateTornTail` (default) | cut off, reported as an event | error |
//! | `PointInTime` | cut off, reported | replay stops there, reported |
//! | `SkipCorrupted` | cut off, reported | skipped, replay goes on, reported |
//!
//! A gap in the segment ids is a missing segment: an error in the first two modes,
//! where `PointInTime` stops and past which `SkipCorrupted` goes on, reported as
//! [`RecoveryEvent::MissingSegment`]. Recovery never panics on any bytes, and never
//! allocates more than the file holds: a record is assembled only from fragments whose
//! checksums passed, and one that grows past [`MAX_RECORD_LEN`] is treated as corruption.
//!
//! [`check_segment`] reads one segment the same way for a tool that checks files
//! (`Db::verify`), listing damage instead of failing on it, as far as a [`SegmentEnd`]
//! says. A segment being appended to by a writer the reader cannot ask (a database opened
//! read-only, beside the process writing it) is [`SegmentEnd::Growing`]: a record can be
//! caught half-copied there, with its next fragment already written, which looks like
//! damage followed by intact records. So such damage counts only when the next read finds
//! it again: damage stays put, a write in progress does not.
//!
//! # Errors
//!
//! [`Error`] holds the shared vocabulary of `ferris-core` as it is ([`Error::Io`],
//! [`Error::Corruption`], [`Error::UnsupportedVersion`]; what `ferris-log`'s reader
//! returns converts into these), plus the WAL's own states: [`Error::RecordTooLarge`],
//! [`Error::Poisoned`] (whose `source()` is the failure that poisoned it) and
//! [`Error::Closed`].
//!
//! # Concurrency
//!
//! [`Wal`] is `Send + Sync`; `append`, `sync` and `rotate` may be called from any number of
//! threads. Records are ordered as their calls took the internal lock, and a call that
//! returns `Ok` has had its record written in that order.
//!
//! # Limits
//!
//! - A record is at most [`MAX_RECORD_LEN`] bytes (1 GiB).
//! - Each fragment carries 7 bytes of framing; a segment carries a 32-byte header and, when
//!   sealed, up to one block of padding before its seal. The active segment's file runs up
//!   to [`RESERVE_STEP`] (1 MiB) of zeros past its last record.
//! - The WAL assumes what most disks and file systems give: unsynced appends persist as a
//!   prefix of what was written, with possibly the last sector torn. A disk that loses
//!   synced data, or reorders unsynced pages so that later pages survive while earlier ones
//!   vanish, can make a torn tail look like corruption; [`RecoveryMode::PointInTime`]
//!   recovers from that.
//!
//! The fuzz target `wal_recovery` in `fuzz/` feeds arbitrary segments to recovery in every
//! mode; `fuzz/README.md` says how to run it.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 2. Try each exercise first.
//!
//! 1. In the example above, append a third record with [`SyncMode::Manual`] through
//!    [`Wal::append_with`] before `sim.crash()`. Is it replayed? Run it with a few
//!    `SimFs` seeds: what decides?
//! 2. Write a segment, then flip one byte in the middle of the first record on disk: the
//!    `FileSystem` has no in-place write, so read the segment (`open`, `read_vec`), flip
//!    the byte in the copy, `remove` the file and `create` it again with the changed bytes
//!    (`append`, `sync`). What does recovery return under
//!    [`RecoveryMode::TolerateTornTail`], and what under [`RecoveryMode::PointInTime`]?
//!    Now flip a byte of the *last* record instead: why is the answer different?
//! 3. Run `cargo bench -p ferris-benches --bench wal` and read the fsyncs per record it
//!    prints for 8 threads. Then make [`group::gather`] return at once and run it again:
//!    why does it settle near 1/4 without the wait, and why does the throughput not
//!    double when the fsyncs halve?
//!
//! ## What to read next
//!
//! `ferris-memtable`, where replayed records land; then the engine crate, which decides when
//! to rotate the log and when old segments may be deleted. `ferris-manifest` keeps its
//! version edits in the same framing, one segment per manifest file.

#![forbid(unsafe_code)]

mod error;
pub mod format;
pub mod group;
mod recovery;
mod replay;
mod writer;

pub use error::{Error, Result};
// The framing's reader and its vocabulary: the WAL's callers meet them in recovery, and
// `ferris wal dump` reads a single segment with them.
pub use ferris_log::{MAX_RECORD_LEN, Record, RecoveryEvent, RecoveryMode, SegmentReader};
pub use recovery::{
    GROWING_READS, RecoveryOptions, RecoveryReport, SegmentCheck, SegmentEnd, WalRecovery,
    check_segment,
};
pub use replay::{Replayed, Route, batch_problem, missing_segments};
pub use writer::{RESERVE_STEP, SyncMode, Wal, WalOptions, WalStats, list_segments};
