//! `cargo xtask crash-test`: the real-process crash loop of `ferris-crash`.
//!
//! Builds the child binary (`ferris-crash-child`, release profile), then runs
//! [`ferris_crash::crash_loop`]: a child writes with sync and is killed with SIGKILL at
//! random moments, including during flushes, compactions and its own open; after each kill
//! the database is reopened and every acknowledged write must be there. Prints a line per
//! cycle and a summary; exits non-zero with the failing cycle, seed and keys on a failure.
//! `--memtable`, `--table-format` and `--strategy` plug another implementation of a part
//! into the child and the reopen (`components.rs`, shared with `cargo xtask sim`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use ferris_crash::{CrashConfig, crash_loop};

use crate::components::ComponentArgs;

/// Options of `cargo xtask crash-test`.
#[derive(Args, Debug)]
pub(crate) struct CmdArgs {
    /// Cycles to run (one child, one SIGKILL, one reopen and check each).
    #[arg(long, default_value_t = 100)]
    cycles: u32,
    /// Seed of the workload and kill plan (default: from the clock; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// Database directory (default: a new temporary directory, removed on success and
    /// kept on failure). It must be empty or absent.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Writer threads in the child.
    #[arg(long, default_value_t = 3)]
    threads: u32,
    /// Keys per writer thread.
    #[arg(long, default_value_t = 1_000)]
    keys: u32,
    /// The longest a child runs before it is killed, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    max_run_ms: u64,
    /// Run `Db::verify` after every this many cycles (and after the last).
    #[arg(long, default_value_t = 5)]
    verify_every: u32,
    #[command(flatten)]
    components: ComponentArgs,
}

pub(crate) fn run(args: &CmdArgs) -> Result<()> {
    let child = build_child()?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });

    // A temporary directory is removed on success and kept on failure, for inspection.
    let temp = match &args.dir {
        Some(_) => None,
        None => Some(tempfile::tempdir().context("creating a temporary directory")?),
    };
    let dir = match (&args.dir, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().join("db"),
        (None, None) => unreachable!("a temporary directory is made when no --dir is given"),
    };
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: the crash loop's model starts from an empty database",
            dir.display()
        );
    }

    let mut config = CrashConfig::new(&dir, seed);
    config.cycles = args.cycles;
    config.threads = args.threads;
    config.keys_per_thread = args.keys;
    config.max_run = Duration::from_millis(args.max_run_ms);
    config.verify_every = args.verify_every;
    config.components = args.components.components();
    println!(
        "crash loop: {} cycles, seed {seed}, {} writers x {} keys, database {}",
        args.cycles,
        args.threads,
        args.keys,
        dir.display()
    );
    args.components.print("leveled");
    let flags: String = config
        .components
        .to_args()
        .iter()
        .map(|arg| format!(" {arg}"))
        .collect();
    println!("(replay the plan with --seed {seed}{flags})");

    let result = crash_loop(&config, &child, &mut |c| {
        let mut notes = Vec::new();
        if c.during_open {
            notes.push("during open".to_string());
        }
        if c.flush_under_way {
            notes.push("flush under way".to_string());
        }
        if c.compaction_under_way {
            notes.push("compaction under way".to_string());
        }
        if c.table_being_written {
            notes.push("table half written".to_string());
        }
        if c.unlisted_tables > 0 {
            notes.push(format!("{} unlisted tables", c.unlisted_tables));
        }
        if c.verified {
            notes.push("verified".to_string());
        }
        let open = c
            .open_time
            .map_or_else(|| "-".to_string(), |t| format!("{t:.1?}"));
        println!(
            "cycle {:>4}  aim {:<15}  open {:>7}  ran {:>7.1?}  acked {:>6}  keys {:>5}  {}",
            c.cycle,
            c.aim.map(|a| a.to_string()).unwrap_or_default(),
            open,
            c.ran,
            c.acked_writes,
            c.keys_live,
            notes.join(", ")
        );
    });
    match result {
        Ok(report) => {
            println!("\n{report}");
            Ok(())
        }
        Err(e) => {
            if let Some(temp) = temp {
                let kept = temp.keep();
                eprintln!("the database is kept in {}", kept.join("db").display());
            }
            Err(e)
        }
    }
}

/// Builds `ferris-crash-child` in release mode into this workspace's target directory and
/// returns its path.
fn build_child() -> Result<PathBuf> {
    let target_dir = target_dir()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "ferris-crash",
            "--bin",
            "ferris-crash-child",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .context("running cargo build for the crash child")?;
    if !status.success() {
        bail!("building ferris-crash-child failed ({status})");
    }
    let exe = target_dir.join("release").join(format!(
        "ferris-crash-child{}",
        std::env::consts::EXE_SUFFIX
    ));
    if !exe.is_file() {
        bail!(
            "cargo built the crash child, but {} is not there",
            exe.display()
        );
    }
    Ok(exe)
}

/// The target directory xtask itself was built in: `CARGO_TARGET_DIR` if set, else two
/// levels above this executable (`<target>/<profile>/xtask`).
fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("locating the xtask executable")?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("the xtask executable has no target directory above it")
}
