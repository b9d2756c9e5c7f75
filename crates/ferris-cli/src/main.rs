//! `ferris`: look inside FerrisDB's files.
//!
//! ```text
//! ferris wal dump FILE [--json]             every record of a WAL segment, with offsets
//! ferris table dump FILE [--blocks] [--json] a table's properties, index and entries
//! ferris manifest dump DIR [--json]         the version edits and the current version
//! ferris get DIR KEY [--json]               a value
//! ferris put DIR KEY VALUE [--json]         set a key (creates the database if needed)
//! ferris delete DIR KEY [--json]            delete a key
//! ferris scan DIR [--prefix P | --from A --to B] [--reverse] [--limit N] [--json]
//! ferris stats DIR [--json]                 levels, files, sizes and amplification
//! ferris verify DIR [--json]                every checksum of every live file
//! ```
//!
//! Exit codes: 0 when the file is intact (a torn WAL tail, which a crash leaves, counts as
//! intact) or the command succeeded, 1 when a file is damaged or `get` finds no value, 2
//! for bad usage, a database that cannot be opened, or a file that cannot be read.
//!
//! `ferris verify` opens the database as the other database commands do (which replays
//! the WAL, so it needs write access and the lock), then reads back CURRENT, the manifest,
//! every live table and every live WAL segment, checking every checksum. It exits 0 when
//! all of them are intact, and 1 when any is damaged, printing each problem as
//! `DAMAGED FILE at offset N: REASON`. Damage that stops the database from opening (a
//! table's footer, a WAL record before the tail) is damage too: it is printed the same way
//! and exits 1. A database that cannot be opened for any other reason (missing, locked,
//! a newer format) exits 2.
//!
//! ## Exercises
//!
//! 1. `ferris put /tmp/db k v` a few times with different keys, then run `ferris wal
//!    dump` on the newest WAL segment in `/tmp/db`. How many bytes of framing does one
//!    small put cost?
//! 2. Write enough to cause a flush, then `ferris table dump FILE --blocks` the new table.
//!    How many entries does a 4 KiB block hold with your keys and values?
//! 3. Flip one byte in the middle of that table (`printf '\xff' | dd of=FILE bs=1
//!    seek=N conv=notrunc`) and run `ferris verify /tmp/db`. Which block does it name?
//!
//! ## What to read next
//!
//! `docs/format/` for the byte layout each dump shows, and `ferris-engine` for what the
//! files are for.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

mod db;
mod table;
mod verify;
mod wal;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ferris", version, about = "Look inside FerrisDB's files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Print the value of KEY (exit 1 if it is not set).
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
    /// Print keys and values in order, one per line (tab-separated).
    Scan {
        /// The database directory.
        dir: PathBuf,
        /// Only keys starting with this.
        #[arg(long, conflicts_with_all = ["from", "to"])]
        prefix: Option<String>,
        /// The first key (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// The end key (exclusive).
        #[arg(long)]
        to: Option<String>,
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
    /// Levels, files and sizes, and the space and read amplification they imply.
    Stats {
        /// The database directory.
        dir: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check every checksum of every live file: CURRENT, the manifest, every table and
    /// every WAL segment. Exit 0 when intact, 1 naming the file and offset of any damage.
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
    /// Every record of a segment, with its offset, length and what it holds.
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
            json,
        } => db::put(&dir, &key, &value, json),
        Command::Delete { dir, key, json } => db::delete(&dir, &key, json),
        Command::Scan {
            dir,
            prefix,
            from,
            to,
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
