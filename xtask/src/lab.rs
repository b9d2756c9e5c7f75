//! `cargo xtask lab check STAGE [--reference] [--check NAME] [--seed N]`: grades one stage
//! of the lab (`lab/README.md`).
//!
//! Runs the lab's grader, `lab-check` (crate `lab-grader`), with `cargo run` in the dev
//! profile: the lab's crates are workspace members, so the grader reuses what `cargo
//! test --workspace` and `cargo build` already compiled, and a learner's change rebuilds
//! only their starter crate and the grader. (xtask itself runs in release, and linking
//! the grader into it would compile every component a second time, in release.) The
//! grader prints each check as PASS or FAIL; a failure says which guarantee broke, the
//! case and its seed, and the command that replays it. Exits with the grader's code: 0
//! when every check passed.

use std::process::Command;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

/// Options of `cargo xtask lab`.
#[derive(Args, Debug)]
pub(crate) struct CmdArgs {
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(Subcommand, Debug)]
enum LabCommand {
    /// Grade a stage: memtable, wal, merge, table, compaction, engine or txn.
    Check(CheckArgs),
}

/// Options of `cargo xtask lab check`.
#[derive(Args, Debug)]
struct CheckArgs {
    /// The stage: memtable, wal, merge, table, compaction, engine or txn (its crate is
    /// `lab/STAGE`).
    stage: String,
    /// Grade FerrisDB's own implementation, the reference solution, instead of yours.
    #[arg(long)]
    reference: bool,
    /// Run only this check (as the report names it).
    #[arg(long)]
    check: Option<String>,
    /// Run only this seed of the check (as a failure names it).
    #[arg(long, requires = "check")]
    seed: Option<u64>,
}

impl CheckArgs {
    /// The arguments `lab-check` is run with.
    fn grader_args(&self) -> Vec<String> {
        let mut args = vec![self.stage.clone()];
        if self.reference {
            args.push("--reference".into());
        }
        if let Some(check) = &self.check {
            args.extend(["--check".into(), check.clone()]);
        }
        if let Some(seed) = self.seed {
            args.extend(["--seed".into(), seed.to_string()]);
        }
        args
    }
}

pub(crate) fn run(args: &CmdArgs) -> Result<()> {
    let LabCommand::Check(check) = &args.command;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "-p",
            "lab-grader",
            "--bin",
            "lab-check",
            "--",
        ])
        .args(check.grader_args())
        .status()
        .context("running cargo run for the lab's grader")?;
    // The grader has printed its report (or why it could not run): its exit code is the
    // verdict, passed on without an error message of xtask's own on top.
    std::process::exit(status.code().unwrap_or(1));
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: LabCommand,
    }

    fn grader_args(line: &[&str]) -> Vec<String> {
        let cli = Cli::try_parse_from(line).expect("parses");
        let LabCommand::Check(check) = cli.command;
        check.grader_args()
    }

    #[test]
    fn a_check_line_becomes_the_graders_arguments() {
        assert_eq!(grader_args(&["lab", "check", "memtable"]), ["memtable"]);
        assert_eq!(
            grader_args(&["lab", "check", "wal", "--reference"]),
            ["wal", "--reference"]
        );
        assert_eq!(
            grader_args(&[
                "lab",
                "check",
                "merge",
                "--reference",
                "--check",
                "seeks",
                "--seed",
                "7"
            ]),
            ["merge", "--reference", "--check", "seeks", "--seed", "7"]
        );
        // A seed alone names no case: it needs its check.
        assert!(Cli::try_parse_from(["lab", "check", "table", "--seed", "3"]).is_err());
    }
}
