//! `ferris`: look inside FerrisDB's files.
//!
//! ```text
//! ferris wal dump FILE [--json]             every record of a WAL segment, with offsets
//! ferris table dump FILE [--blocks] [--json] a table's properties, index and entries
//! ```
//!
//! Exit codes: 0 when the file is intact (a torn WAL tail, which a crash leaves, counts as
//! intact), 1 when it is damaged, 2 for bad usage or a file that cannot be read.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

mod table;
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
    };
    match result {
        Ok(Verdict::Intact) => ExitCode::SUCCESS,
        Ok(Verdict::Damaged) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ferris: {e:#}");
            ExitCode::from(2)
        }
    }
}
