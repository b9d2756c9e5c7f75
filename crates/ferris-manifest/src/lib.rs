//! # ferris-manifest: which files make up the database
//!
//! ## The problem
//!
//! An LSM tree's data lives in many immutable table files, and the set of live ones changes
//! all the time: a flush adds a table, a compaction replaces several with others. After a
//! crash the engine must know exactly which files were live. Listing the directory is not
//! enough: a half-written table, or one a compaction already replaced but had not yet
//! deleted, would be taken for live data.
//!
//! ## The design
//!
//! Every change to the set of live files is a **version edit** ([`VersionEdit`]): files
//! added and removed per level, plus the counters that must move with them (the oldest WAL
//! segment still needed, the next file number, the last sequence number used). A database
//! holds one or more **keyspaces** (separate key spaces sharing the WAL and the manifest;
//! RocksDB's column families): an edit also creates and drops keyspaces, and each file and
//! each WAL log number it names belongs to one keyspace. A keyspace's definition
//! ([`KeyspaceDef`]) is fixed when it is created: its table format, its compaction
//! strategy, and whether it is **expiring**, its every value ending in an 8-byte expiry
//! time (manifest format 3; the keyspaces of older manifests never expire). Edits are
//! appended, one record each, to the **manifest**, a log in `ferris-log`'s record framing,
//! the one the WAL's segments use too (`docs/format/wal.md`): 32 KiB blocks, checksummed
//! fragments, a torn tail told from corruption. Each manifest file is one segment of that
//! framing, its number the segment id. Replaying the edits in order gives the state ([`LevelState`]). An edit takes
//! effect when its record is durable, so a flush is complete the moment its edit is synced,
//! and not a moment before.
//!
//! The manifest only grows, so it is rotated: a new manifest starts with one **snapshot**
//! edit that rebuilds the whole state, and then a tiny file named **CURRENT** is switched to
//! point at it. CURRENT is replaced atomically (write `CURRENT.tmp`, sync, rename, sync the
//! directory), so after any crash it names a whole manifest, old or new. The byte-level
//! format and a crash analysis of each step are in `docs/format/manifest.md`.
//!
//! ```text
//! CURRENT ──► MANIFEST-000007: [snapshot: L0 {4, 6}, log 9, next file 8, seq 1200]
//!                              [edit: +L0 8, log 10, next file 9, seq 1530]
//!                              [edit: +L0 9, log 11, next file 10, seq 1801]
//! ```
//!
//! ## Example
//!
//! ```
//! use std::{path::Path, sync::Arc};
//! use ferris_core::{DEFAULT_KEYSPACE, InternalKey, ValueKind};
//! use ferris_fs::{FileSystem, SimFs};
//! use ferris_manifest::{FileMeta, LevelState, ManifestWriter, VersionEdit};
//!
//! let fs: Arc<dyn FileSystem> = Arc::new(SimFs::new(1));
//! let dir = Path::new("/db");
//! fs.create_dir_all(dir)?;
//!
//! // A new database: an empty state, written as the first manifest, made current.
//! let mut state = LevelState::default();
//! let mut manifest = ManifestWriter::create(&fs, dir, 1, &state.snapshot())?;
//! ferris_manifest::write_current(&*fs, dir, 1)?;
//!
//! // A flush wrote table 2 holding sequence numbers 1..=100 from WAL segment 1.
//! let table = FileMeta {
//!     number: 2,
//!     size: 4096,
//!     smallest: InternalKey::new(&b"apple"[..], 7, ValueKind::Put),
//!     largest: InternalKey::new(&b"pear"[..], 3, ValueKind::Put),
//!     min_seq: 1,
//!     max_seq: 100,
//!     entries: 100,
//!     tombstones: 0,
//! };
//! let edit = VersionEdit {
//!     added: vec![(DEFAULT_KEYSPACE, 0, table)], // keyspace, level, table
//!     log_numbers: vec![(DEFAULT_KEYSPACE, 2)],
//!     last_sequence: Some(100),
//!     ..VersionEdit::default()
//! };
//! manifest.append(&edit)?; // durable: from here on, table 2 is live
//! state.apply(&edit).map_err(std::io::Error::other)?;
//!
//! // Recovery reads CURRENT, then replays the manifest it names.
//! let number = ferris_manifest::read_current(&*fs, dir)?.expect("a database");
//! let replayed = ferris_manifest::replay(&*fs, dir, number)?;
//! assert_eq!(replayed.state, state);
//! assert_eq!(replayed.state.log_number(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! Everything the manifest and CURRENT can report is in the shared vocabulary, so the
//! crate's [`Error`] is `ferris_core::Error` itself: [`Error::Io`], [`Error::Corruption`]
//! (the framing's checksums, an edit that does not decode, edits that contradict each
//! other) and [`Error::UnsupportedVersion`], whose `format` names what is too new:
//! `"manifest"` (the edits), `"CURRENT"` or `"log"` (the framing).
//!
//! # Durability
//!
//! [`ManifestWriter::append`] returns once the edit is synced. [`write_current`] returns
//! once the rename is durable. A writer whose append failed is poisoned: whether the edit
//! is on disk is unknown, so the engine stops and a reopen decides by replaying.
//!
//! # Limits
//!
//! - Seven levels ([`NUM_LEVELS`]) per keyspace; keyspace names of 1 to 255 bytes
//!   ([`check_keyspace_name`]).
//! - An edit is one framed record, so at most 1 GiB (`ferris_log::MAX_RECORD_LEN`); a
//!   snapshot of a database with millions of files would approach that.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 5. Try each exercise first.
//!
//! 1. Open a database with `ferris-engine`, write and flush a few times, then run
//!    `ferris manifest dump DIR`. Match each version edit to the flush or compaction that
//!    wrote it.
//! 2. Delete `CURRENT` from a database directory and open it. Why does the engine refuse
//!    to guess which manifest is live, even though there may be only one?
//! 3. Truncate the manifest in the middle of its last edit and reopen. Which version does
//!    the database come back at, and why is that safe?
//!
//! ## What to read next
//!
//! `ferris-engine`, which writes an edit for every flush, replays the manifest before the
//! WAL when it opens, and deletes a table only once no version references it.

#![forbid(unsafe_code)]

mod check;
mod current;
mod edit;
mod error;
mod log;
mod manifest;

pub use check::{ManifestCheck, check, check_beside_writer};
pub use current::{
    CURRENT, CURRENT_MAGIC, CURRENT_TMP, CURRENT_VERSION, Raced, decode_current, encode_current,
    manifest_position, read_consistent, read_current, write_current,
};
pub use edit::{
    DEFAULT_KEYSPACE_NAME, FORMAT_VERSION, FileMeta, KeyspaceDef, KeyspaceState, LevelState,
    MAX_KEYSPACE_NAME_LEN, NUM_LEVELS, VersionEdit, check_keyspace_name,
};
pub use error::{Error, Result};
pub use log::Manifest;
pub use manifest::{
    ManifestWriter, Replayed, manifest_file_name, parse_manifest_file_name, replay,
};
