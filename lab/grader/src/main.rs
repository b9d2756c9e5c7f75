//! `lab-check STAGE [--reference] [--check NAME] [--seed N]`: grades one stage of the lab
//! and prints each check as PASS or FAIL. `cargo xtask lab check` runs it; see
//! `lab/README.md`. Exits 0 when every check passed, 1 when one failed, 2 on bad
//! arguments.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use lab_grader::{Selection, Stage, Subject, grade};

const USAGE: &str = "usage: lab-check STAGE [--reference] [--check NAME] [--seed N]\n\
                     stages: memtable, wal, merge, table, compaction, engine, txn";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(passed) => {
            if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(message) => {
            eprintln!("lab-check: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Parses the arguments, grades, prints the report; whether every check passed.
fn run(args: Vec<String>) -> Result<bool, String> {
    let mut stage = None;
    let mut subject = Subject::Lab;
    let mut check = None;
    let mut seed = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reference" => subject = Subject::Reference,
            "--check" => check = Some(args.next().ok_or("--check needs a check's name")?),
            "--seed" => {
                let n = args.next().ok_or("--seed needs a number")?;
                seed = Some(
                    n.parse::<u64>()
                        .map_err(|_| format!("--seed {n}: not a number"))?,
                );
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(true);
            }
            name if stage.is_none() && !name.starts_with('-') => {
                stage = Some(Stage::from_name(name).ok_or(format!("no stage called {name}"))?);
            }
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    let stage = stage.ok_or("which stage?")?;
    let selection = Selection {
        check: check.as_deref(),
        seed,
    };
    let report = grade(stage, subject, selection)?;
    println!("{report}");
    Ok(report.passed())
}
