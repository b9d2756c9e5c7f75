//! # ferris: looking inside a database
//!
//! ## The problem
//!
//! The chapters before this one describe files: WAL segments of checksummed fragments,
//! tables of blocks and a footer, a manifest of version edits, a one-line `CURRENT`. A
//! description is not the thing. When a database misbehaves (a key that should be there
//! is not, a directory that will not open, a disk that grows), the first question is what
//! the files actually hold, and the second is whether they are intact. `ferris` answers
//! both from the command line, with the same code the engine uses, so what it prints is
//! what the engine would read.
//!
//! ```text
//! ferris wal dump FILE [--json]             every record and entry of a WAL segment
//! ferris table dump FILE [--blocks] [--json] a table's properties, range tombstones, index, entries
//! ferris manifest dump DIR [--json]         the version edits and the current version
//! ferris get DIR KEY [--json]               a value
//! ferris put DIR KEY VALUE [--ttl S] [--json]   set a key (creates the database if
//!                                           needed), expiring after S seconds
//! ferris delete DIR KEY [--json]            delete a key
//! ferris delete-range DIR (--prefix P | --from A --to B) [--json]   delete a range, one write
//! ferris scan DIR [--prefix P | --from A --to B] [--reverse] [--limit N] [--json]
//! ferris stats DIR [--json]                 levels, files, sizes and amplification
//! ferris verify DIR [--json]                every checksum of every live file
//! ferris checkpoint DIR TARGET [--json]     a copy as of one moment, tables hard-linked
//! ```
//!
//! ## The design
//!
//! The commands come in two kinds, and the difference is what they touch.
//!
//! **The dumps read one file, and never write.** `wal dump`, `table dump` and `manifest
//! dump` go straight to the component crates (`ferris_log::SegmentReader`, which reads
//! both a WAL segment and a manifest, `ferris_sstable::Table`,
//! `ferris_manifest::read_current` and `ferris_manifest::VersionEdit::decode`): no lock,
//! no recovery, nothing written. They work on a database another process has open, on a
//! copy of one file pulled off a broken machine, and on a directory that will not open.
//! The price is that they show one file as it is, not the database as recovery would
//! make it: a `wal dump` of the live segment may end in a torn tail that the writer is
//! still filling, and `manifest dump` shows edits, not which of the files they name are
//! still on the disk. Damage is a finding, not an error: the dump prints what is
//! readable, names the offset of what is not, and exits 1. `wal dump` reads in
//! `SkipCorrupted` mode for that reason, so one bad record does not hide the ones after
//! it. A segment whose framing or records are of a newer format than this build reads is
//! not damage but an error, as it is for the engine (exit 2).
//!
//! **The database commands go through `ferris_engine::Db`.** `get`, `put`, `delete`,
//! `scan`, `stats` and `verify` open the database as any program would, so they see what
//! a program would see: the memtable replayed from the WAL, old versions hidden by newer
//! ones, deletes applied. The commands that only read (`get`, `scan`, `stats`, `verify`)
//! open it with `Db::open_read_only`, which replays the WAL into memory and writes
//! nothing: no `LOCK`, no new manifest or WAL segment, no cleanup. So they work on a
//! read-only directory and on a database another process has open for writing, and see
//! it as it was when the command opened it (a writer's later changes are not seen; if the
//! writer changes it under every attempt to read it, the command fails with
//! `ConcurrentChange` and can simply be run again). `put` and `delete` open it for writing:
//! they take the `LOCK` (a database another process has open fails with
//! `Error::Locked`), replay the WAL, write a fresh manifest and switch `CURRENT` to it,
//! start a WAL segment, and delete leftovers; an open that replays four or more segments
//! flushes them into a table (each command is one open, so in the walk-through below the
//! fifth write does). Compare `ls` before and after the reads below: they changed
//! nothing. Only `put` creates a database: the others refuse a directory that is not one,
//! so a mistyped directory is an error, not a new empty database. `put` and `delete` are
//! synced writes, durable when the command exits, and close the database cleanly.
//!
//! `verify` opens the database, then reads back CURRENT, the manifest, every live table
//! (every block, bypassing the cache) and every live WAL segment through `Db::verify`,
//! printing each problem as `DAMAGED FILE at offset N: REASON`. Damage that stops the open
//! (CURRENT, the manifest, a table's footer, a WAL record before the tail) is damage too:
//! it is printed the same way, and exits 1.
//!
//! `stats` prints what `Db::stats` knows about the levels, and two figures derived from
//! them. *Space amplification* is the bytes of all tables over the bytes of the deepest
//! non-empty level (RocksDB's estimate: the deepest level is taken to hold the live data
//! once and everything above it to be extra copies; it cannot see garbage inside the
//! deepest level, and reads 1.00 while every table is in level 0). *Read amplification* is
//! the number of tables a point lookup may probe: every level-0 table, since they overlap,
//! and one table in each deeper non-empty level (bloom filters make most of those probes
//! cheap; the memtables come first and are not counted). *Write amplification* is not
//! printed: the engine counts the bytes it writes only while a process has the database
//! open (`Db::stats`), nothing on disk records them, and a command that opens the
//! database for a moment has written nothing worth dividing.
//!
//! Output is text for people by default, and `--json` for scripts, with keys and values
//! printed as text when they are UTF-8 without control characters and escaped
//! (`\n`, `\xff`) otherwise, the same way in every command.
//!
//! ## Walk-through
//!
//! A transcript of the commands on a new database, recorded by running the `ferris` built
//! from this repository (the numbers in file names are whatever the opens allocated, and
//! `scan`'s tab between key and value is shown as spaces). It is tested: the integration
//! test `tests/it/walkthrough.rs` runs these commands again on a new database and fails
//! if the output differs from this page.
//!
//! ```text
//! $ ferris put /tmp/db apple red
//! $ ferris put /tmp/db pear green
//! $ ferris put --json /tmp/db plum purple
//! {
//!   "key": "plum",
//!   "ok": true,
//!   "op": "put",
//!   "seq": 3
//! }
//! $ ferris delete /tmp/db pear
//! $ ferris get /tmp/db apple
//! red
//! $ ferris get --json /tmp/db pear
//! {
//!   "found": false,
//!   "key": "pear",
//!   "value": null
//! }
//! (exit 1)
//! $ ferris scan /tmp/db
//! apple   red
//! plum    purple
//! $ ls /tmp/db
//! 000001.wal
//! 000002.wal
//! 000003.wal
//! 000004.wal
//! CURRENT
//! LOCK
//! MANIFEST-000004
//! $ ferris put /tmp/db fig yellow
//! $ ls /tmp/db
//! 000005.wal
//! 000006.sst
//! CURRENT
//! LOCK
//! MANIFEST-000005
//! $ ferris stats /tmp/db
//! level  files        bytes
//! L0         1          230
//! L1         0            0
//! L2         0            0
//! L3         0            0
//! L4         0            0
//! L5         0            0
//! L6         0            0
//! tables: 230 bytes; memtable (replayed from the WAL): 40 bytes
//! last sequence number: 5
//! space amplification: 1.00 (estimate: every table is in L0, so it cannot see copies of a key in overlapping tables)
//! read amplification: 1 (tables a point lookup may probe: 1 in L0 + one in each of 0 deeper non-empty levels)
//! write amplification: unknown (counted only while a process has the database open: see Db::stats)
//! $ ferris table dump /tmp/db/000006.sst
//! table /tmp/db/000006.sst
//!   keyspace:     0
//!   entries:      4 (1 tombstones)
//!   keys:         apple@1:Put .. plum@3:Put
//!   sequences:    1 .. 4
//!   data blocks:  1 (78 bytes raw, 78 stored, 63 bytes of keys and values)
//! index:
//!            0      78  q@72057594037927935:Put
//! $ ferris manifest dump /tmp/db
//! /tmp/db/MANIFEST-000005 (2 edits)
//!   @32       format 3, next file 6, last seq 4, next keyspace 1, +keyspace 0 "default" (sstable, leveled), log 1
//!   @75       next file 7, last seq 4, log 5, +L0 000006.sst (230 bytes, 4 entries, keys apple..plum, seqs 1..4)
//! current version:
//!   keyspace 0 "default" (sstable, leveled), log number 5
//!     L0: 000006.sst
//!   log number 5, next file number 7, last sequence 4
//! $ ferris verify /tmp/db
//!   current   CURRENT              36 bytes, 1 record
//!   manifest  MANIFEST-000005     124 bytes, 2 records
//!   table     000006.sst          230 bytes, 4 blocks, 4 records
//!   wal       000005.wal        32783 bytes, 1 record
//! checked 4 files, 33173 bytes, 4 blocks, 8 records: intact
//! $ printf 'X' | dd of=/tmp/db/000006.sst bs=1 seek=10 conv=notrunc status=none
//! $ ferris verify /tmp/db
//!   current   CURRENT              36 bytes, 1 record
//!   manifest  MANIFEST-000005     124 bytes, 2 records
//!   table     000006.sst          230 bytes, 4 blocks, 0 records
//!   wal       000005.wal        32783 bytes, 1 record
//! DAMAGED /tmp/db/000006.sst at offset 0: block checksum mismatch
//! checked 4 files, 33173 bytes, 4 blocks, 4 records: 1 problem
//! (exit 1)
//! $ ferris get /tmp/db apple
//! ferris: corruption in /tmp/db/000006.sst at offset 0: block checksum mismatch
//! (exit 2)
//! ```
//!
//! The reads wrote nothing: the first `ls` still shows the four WAL segments the four
//! writes left (each open for writing starts one). The `put` of `fig` is the fifth open
//! for writing: it replayed those four segments, flushed them into `000006.sst` and
//! retired them before writing `fig` to a new segment, which is why `stats` finds a table
//! and a memtable. The table holds four entries for
//! three keys: `pear`'s put and its tombstone, which `scan` hides; a compaction into the
//! deepest level would drop both. Its one index entry is a separator, the shortest key
//! after the block's last one (`q` > `plum`), at the largest sequence number. The byte
//! `dd` overwrote is inside the only data block, at offset 0: `verify` names the block,
//! and `get`, which reads that block, fails rather than answer from damaged bytes.
//!
//! # Guarantees and limits
//!
//! Exit codes, the same for every command:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | the file or database is intact (a torn WAL tail, which a crash leaves, counts as intact), or the command did what it was asked |
//! | 1 | `wal dump`, `table dump`, `manifest dump` or `verify` found damage (printed with its file and offset); or `get` found no value |
//! | 2 | bad usage; a database that cannot be opened for a reason other than damage (missing, not a database, locked or a directory it may not write for `put` and `delete`, changing under every attempt for the reading commands, a newer format version); a file that cannot be read; or damage met by `get`, `scan`, `put`, `delete` or `stats`, which report it as an error naming the file and offset |
//! | 141 | standard output's reader went away before the command finished (see below) |
//!
//! - The dumps and the reading commands (`get`, `scan`, `stats`, `verify`) never write,
//!   and work on a database in use and on a read-only directory. `put` and `delete` write
//!   (see above), and need the lock.
//! - `put` and `delete` are durable when the command exits 0.
//! - `verify` checks every checksum of every live file, and in tables the key order and
//!   the index's coverage of the blocks.
//! - Errors (exit 2) go to standard error as `ferris: ...`, each cause said once. Damage a
//!   dump finds goes to standard output; with `--json` that is sometimes one line of text
//!   rather than a JSON document, so a script should read the exit code first.
//! - Output piped to a reader that stops early (`ferris scan DIR | head`) ends the
//!   command quietly once the pipe closes, with exit 141, the status a shell gives a
//!   process that `SIGPIPE` ended: the command did not finish, so a `verify` cut short
//!   never reads as intact.
//! - One command, one open: a script that runs `ferris get` in a loop pays for a recovery
//!   each time. A program should link `ferris-engine` instead.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 8. Try each exercise first.
//!
//! 1. `ferris put /tmp/db k v` a few times with different keys, then run `ferris wal
//!    dump` on the newest WAL segment in `/tmp/db`. How many bytes of framing does one
//!    small put cost?
//! 2. From a small program, open the database once, `put` a few thousand keys and call
//!    `Db::flush`, then `ferris table dump FILE --blocks` the new table. How many entries
//!    does a 4 KiB block hold with your keys and values? (Puts from the command line will
//!    not do: each `ferris put` opens the database, writes one record to a WAL segment of
//!    its own and closes it, and nothing reaches a table until a memtable is flushed.)
//! 3. Flip one byte in the middle of that table (`printf '\xff' | dd of=FILE bs=1
//!    seek=N conv=notrunc`) and run `ferris verify /tmp/db`. Which block does it name?
//! 4. Run `ls /tmp/db`, then `ferris delete /tmp/db k`, then `ls` again. Which files
//!    changed, and which step of the engine's recovery changed each? Why does `ferris get`
//!    change none?
//! 5. Hold the database open from a small program (`Db::open`, write a key, then wait for
//!    a line on standard input) and run `ferris get` and `ferris put` on it. Why does one
//!    answer and the other fail, and does `get` see the key the program wrote?
//!
//! ## What to read next
//!
//! Chapter 9, `ferris-sim`: what these commands let you look at by hand, a simulation
//! checks over thousands of seeded workloads with power cuts. `docs/format/` has the
//! byte layout each dump shows, and `ferris-engine` what the files are for.
#![forbid(unsafe_code)]

/// Prints a line to standard output like `println!`, through [`output::line`]: a reader
/// that has gone away (`ferris scan DIR | head`) ends the command quietly instead of
/// panicking (exit 141).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

mod db;
mod output;
mod table;
mod verify;
mod wal;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ferris", version, about = "Look inside FerrisDB's files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The keys a command works on: those starting with a prefix, or a range of them.
#[derive(clap::Args, Debug)]
struct KeyRange {
    /// Only keys starting with this.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    prefix: Option<String>,
    /// The first key (inclusive).
    #[arg(long)]
    from: Option<String>,
    /// The end key (exclusive).
    #[arg(long)]
    to: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Write-ahead log segments.
    Wal {
        #[command(subcommand)]
        command: WalCommand,
    },
    /// Table files.
    Table {
        #[command(subcommand)]
        command: TableCommand,
    },
    /// The manifest of a database directory.
    Manifest {
        #[command(subcommand)]
        command: ManifestCommand,
    },
    /// Print the value of KEY (exit 1 if it is not set). Opens the database read-only:
    /// works while another process has it open, and writes nothing.
    Get {
        /// The database directory.
        dir: PathBuf,
        /// The key.
        key: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set KEY to VALUE, durably. Creates the database if there is none.
    Put {
        /// The database directory.
        dir: PathBuf,
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Make the value expire after this many seconds. The database's default keyspace
        /// must expire values: one this command creates does, when this is given.
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
        /// Print JSON (otherwise nothing is printed on success).
        #[arg(long)]
        json: bool,
    },
    /// Delete KEY.
    Delete {
        /// The database directory.
        dir: PathBuf,
        /// The key.
        key: String,
        /// Print JSON (otherwise nothing is printed on success).
        #[arg(long)]
        json: bool,
    },
    /// Delete every key in a range with one write (a range tombstone): the keys starting
    /// with --prefix, or those from --from (inclusive) to --to (exclusive); at least one
    /// is needed.
    #[command(group = clap::ArgGroup::new("range").required(true).multiple(true).args(["prefix", "from", "to"]))]
    DeleteRange {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        keys: KeyRange,
        /// Print JSON (otherwise nothing is printed on success).
        #[arg(long)]
        json: bool,
    },
    /// Print keys and values in order, one per line (tab-separated). Opens the database
    /// read-only: works while another process has it open, and writes nothing.
    Scan {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        keys: KeyRange,
        /// Walk backwards.
        #[arg(long)]
        reverse: bool,
        /// At most this many entries.
        #[arg(long)]
        limit: Option<usize>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a checkpoint of the database into TARGET (new or empty): a copy as of one
    /// moment that opens as a database, its tables hard-linked where TARGET is on the same
    /// file system. The database must not be open elsewhere; a service takes checkpoints
    /// with `Db::checkpoint` while it runs.
    Checkpoint {
        /// The database directory.
        dir: PathBuf,
        /// The directory to write the checkpoint into.
        target: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Levels, files and sizes, and the space and read amplification they imply. Opens
    /// the database read-only: works while another process has it open.
    Stats {
        /// The database directory.
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check every checksum of every live file: CURRENT, the manifest, every table and
    /// every WAL segment. Exit 0 when intact, 1 naming the file and offset of any damage.
    /// Opens the database read-only: works while another process has it open.
    Verify {
        /// The database directory.
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ManifestCommand {
    /// Every version edit of the live manifest, then the version they add up to.
    Dump {
        /// The database directory.
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum WalCommand {
    /// Every record of a segment, with its offset, length and what it holds: each entry of
    /// a write batch, and its keyspace when that is not the default one.
    Dump {
        /// The segment file (NNNNNN.wal).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TableCommand {
    /// A table's properties and index, and with --blocks every entry of every block.
    Dump {
        /// The table file.
        file: PathBuf,
        /// Also list the entries of every data block.
        #[arg(long)]
        blocks: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// What a command found.
pub(crate) enum Verdict {
    Intact,
    Damaged,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Wal {
            command: WalCommand::Dump { file, json },
        } => wal::dump(&file, json),
        Command::Table {
            command: TableCommand::Dump { file, blocks, json },
        } => table::dump(&file, blocks, json),
        Command::Manifest {
            command: ManifestCommand::Dump { dir, json },
        } => db::manifest_dump(&dir, json),
        Command::Get { dir, key, json } => db::get(&dir, &key, json),
        Command::Put {
            dir,
            key,
            value,
            ttl,
            json,
        } => db::put(&dir, &key, &value, ttl.map(Duration::from_secs), json),
        Command::Delete { dir, key, json } => db::delete(&dir, &key, json),
        Command::DeleteRange {
            dir,
            keys: KeyRange { prefix, from, to },
            json,
        } => db::delete_range(
            &dir,
            prefix.as_deref(),
            (from.as_deref(), to.as_deref()),
            json,
        ),
        Command::Checkpoint { dir, target, json } => db::checkpoint(&dir, &target, json),
        Command::Scan {
            dir,
            keys: KeyRange { prefix, from, to },
            reverse,
            limit,
            json,
        } => db::scan(
            &dir,
            &db::ScanArgs {
                prefix: prefix.as_deref(),
                from: from.as_deref(),
                to: to.as_deref(),
                reverse,
                limit,
                json,
            },
        ),
        Command::Stats { dir, json } => db::stats(&dir, json),
        Command::Verify { dir, json } => verify::verify(&dir, json),
    };
    match result {
        Ok(Verdict::Intact) => ExitCode::SUCCESS,
        Ok(Verdict::Damaged) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ferris: {}", message(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, joined by `: ` as anyhow's `{:#}` does, but with each cause
/// said once: the engine's errors already end with their source's message (`table:
/// corruption in FILE ...`), so printing every link of the chain would repeat it.
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
