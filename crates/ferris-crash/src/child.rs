//! The child: opens the database, writes until it is killed, and reports every write that
//! returned `Ok` on stdout.
//!
//! The protocol is one line per event, each written with a single `write` call and flushed
//! before the next write begins, so a line the parent reads is a line the child finished
//! (a pipe write of under `PIPE_BUF` bytes is atomic), and a SIGKILL can at worst cut off
//! a line the parent then ignores:
//!
//! ```text
//! ready                                  the database is open
//! ack <thread> <op>                      operation <op> of <thread> returned Ok
//! stats <frozen> <l0> <flushes> <compactions>   sampled every millisecond, when changed
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ferris_engine::{Db, Keyspace, WriteBatch};
use ferris_sim::Components;

use crate::workload::{KEYSPACES, Op, Workload, db_options};

/// What the parent tells the child, as `--name value` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChildArgs {
    pub(crate) dir: PathBuf,
    pub(crate) cycle: u32,
    pub(crate) workload: Workload,
    /// Passed on as [`Components::to_args`]: nothing for the defaults.
    pub(crate) components: Components,
}

impl ChildArgs {
    pub(crate) fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--dir".into(),
            self.dir.display().to_string(),
            "--cycle".into(),
            self.cycle.to_string(),
            "--seed".into(),
            self.workload.seed.to_string(),
            "--threads".into(),
            self.workload.threads.to_string(),
            "--keys".into(),
            self.workload.keys_per_thread.to_string(),
        ];
        args.extend(self.components.to_args());
        args
    }

    fn parse(args: impl IntoIterator<Item = String>) -> Result<ChildArgs> {
        let (mut dir, mut cycle, mut seed, mut threads, mut keys) = (None, None, None, None, None);
        let mut components = Components::default();
        let mut args = args.into_iter();
        while let Some(name) = args.next() {
            let value = args
                .next()
                .with_context(|| format!("{name} needs a value"))?;
            if components.parse_flag(&name, &value)? {
                continue;
            }
            match name.as_str() {
                "--dir" => dir = Some(PathBuf::from(value)),
                "--cycle" => cycle = Some(value.parse().context("--cycle")?),
                "--seed" => seed = Some(value.parse().context("--seed")?),
                "--threads" => threads = Some(value.parse().context("--threads")?),
                "--keys" => keys = Some(value.parse().context("--keys")?),
                _ => bail!("unknown argument {name}"),
            }
        }
        let workload = Workload {
            seed: seed.context("--seed is required")?,
            threads: threads.context("--threads is required")?,
            keys_per_thread: keys.context("--keys is required")?,
        };
        if workload.threads == 0 || workload.keys_per_thread == 0 {
            bail!("--threads and --keys must be at least 1");
        }
        Ok(ChildArgs {
            dir: dir.context("--dir is required")?,
            cycle: cycle.context("--cycle is required")?,
            workload,
            components,
        })
    }
}

/// Writes a whole line to stdout, in one `write` call, flushed at once: a line the
/// parent reads is an event that happened.
fn report(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|()| out.flush())
        // The parent closed the pipe: it has gone, and so should we.
        .context("reporting to the parent")
}

/// The child process's main function (`ferris-crash-child` is a thin wrapper around it):
/// opens the database in `--dir`, prints `ready`, then runs `--threads` writers, each
/// performing its stream of [`Workload::op`]s and printing `ack <thread> <op>` after each
/// returns `Ok`, until the process is killed.
///
/// # Errors
///
/// Bad arguments, a failed open or write (every write should succeed: the parent reports
/// any exit that is not its own SIGKILL), or a closed stdout (the parent is gone).
pub fn child_main(args: impl IntoIterator<Item = String>) -> Result<()> {
    let args = ChildArgs::parse(args)?;
    let db = Db::open(&args.dir, db_options(args.cycle, &args.components))
        .with_context(|| format!("opening {}", args.dir.display()))?;
    // Created (durably) before `ready`, so the parent may insist on them from then on.
    let keyspaces = KEYSPACES
        .iter()
        .map(|name| db.keyspace(name))
        .collect::<ferris_engine::Result<Vec<Keyspace>>>()
        .context("opening the keyspaces")?;
    report("ready\n")?;

    // Writers hold this for reading around each operation; a pause takes it for writing,
    // so every writer stops and the database goes idle.
    let gate = RwLock::new(());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let stats = s.spawn(|| report_stats(&db, &stop));
        let writers: Vec<_> = (0..args.workload.threads)
            .map(|thread| {
                let (db, gate, stop, args) = (&db, &gate, &stop, &args);
                let keyspaces = &keyspaces;
                s.spawn(move || {
                    let (workload, cycle) = (&args.workload, args.cycle);
                    let result = write_loop(db, keyspaces, gate, stop, workload, cycle, thread);
                    stop.store(true, Ordering::Relaxed);
                    result
                })
            })
            .collect();
        for writer in writers {
            writer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        }
        stats
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// One writer thread: its operations in order, each acknowledged once it returned `Ok`.
fn write_loop(
    db: &Db,
    keyspaces: &[Keyspace],
    gate: &RwLock<()>,
    stop: &AtomicBool,
    workload: &Workload,
    cycle: u32,
    thread: u32,
) -> Result<()> {
    // Another writer failed: stop, so the process exits and the parent sees why.
    for n in (0u64..).take_while(|_| !stop.load(Ordering::Relaxed)) {
        let op = workload.op(cycle, thread, n);
        if let Op::Pause(pause) = op {
            let _all_stopped = gate
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Not synchronisation: the point is to be quiet for longer than `idle_after`.
            std::thread::sleep(pause);
        } else {
            let _running = gate
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            apply(db, keyspaces, workload, &op)
                .with_context(|| format!("cycle {cycle} thread {thread} op {n}"))?;
        }
        report(&format!("ack {thread} {n}\n"))?;
    }
    Ok(())
}

fn apply(db: &Db, keyspaces: &[Keyspace], workload: &Workload, op: &Op) -> Result<()> {
    // Every key of the workload has its keyspace; the default one would do for others.
    let home = |key: &[u8]| &keyspaces[workload.keyspace_of(key).unwrap_or(0)];
    match op {
        Op::Put { key, value } => home(key).put(key, value)?,
        Op::Delete { key } => home(key).delete(key)?,
        Op::Batch(entries) => {
            let mut batch = WriteBatch::new();
            for (key, value) in entries {
                let id = home(key).id();
                match value {
                    Some(value) => batch.put_in(id, key, value),
                    None => batch.delete_in(id, key),
                };
            }
            db.write(batch)?;
        }
        Op::Flush => db.flush()?,
        Op::CompactRange { lo, hi } => db.compact_range(lo.clone()..=hi.clone())?,
        Op::Pause(_) => {}
        Op::Transfer {
            from,
            to,
            commit,
            hold,
            ..
        } => {
            let mut txn = db.transaction()?;
            let from_value = txn.get_in(home(from), from)?;
            let to_value = txn.get_in(home(to), to)?;
            let Some(writes) = op.transfer_writes(from_value.as_deref(), to_value.as_deref())
            else {
                bail!(
                    "a transfer read a value that holds no balance: {from_value:?}, {to_value:?}"
                );
            };
            for (key, value) in writes {
                txn.put_in(home(&key), &key, value)?;
            }
            // Open for a while, written but not committed: a kill here must leave nothing
            // of it. Not synchronisation.
            std::thread::sleep(*hold);
            if *commit {
                // No other thread writes these keys, so the commit cannot conflict: an
                // error here is a bug, and ends the child.
                txn.commit()?;
            }
        }
    }
    Ok(())
}

/// Samples the engine's counters every millisecond and prints them when they change, so
/// the parent knows what was under way when it killed: a frozen memtable means a flush is
/// queued or running, a full level 0 means a compaction is due or running.
fn report_stats(db: &Db, stop: &AtomicBool) -> Result<()> {
    let mut last = String::new();
    while !stop.load(Ordering::Relaxed) {
        let stats = db.stats();
        let line = format!(
            "stats {} {} {} {}\n",
            stats.immutable_memtables,
            stats.levels.first().map_or(0, |l| l.files),
            stats.flushes,
            stats.compactions
        );
        if line != last {
            report(&line)?;
            last = line;
        }
        // A sampling interval, not synchronisation.
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip() {
        let args = ChildArgs {
            dir: PathBuf::from("/tmp/some db"),
            cycle: 12,
            workload: Workload {
                seed: u64::MAX,
                threads: 3,
                keys_per_thread: 900,
            },
            components: Components::default(),
        };
        assert_eq!(ChildArgs::parse(args.to_args()).unwrap(), args);
        for components in Components::second_implementations() {
            let args = ChildArgs {
                components,
                ..args.clone()
            };
            assert_eq!(ChildArgs::parse(args.to_args()).unwrap(), args);
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let parse = |a: &[&str]| ChildArgs::parse(a.iter().map(|s| s.to_string()));
        assert!(parse(&["--dir"]).is_err());
        assert!(parse(&["--bogus", "1"]).is_err());
        let unknown = parse(&["--memtable", "art"]).unwrap_err().to_string();
        assert!(unknown.contains("unknown memtable `art`"), "{unknown}");
        assert!(
            parse(&[
                "--dir",
                "x",
                "--cycle",
                "1",
                "--seed",
                "1",
                "--threads",
                "1"
            ])
            .is_err()
        );
        let zero = [
            "--dir",
            "x",
            "--cycle",
            "1",
            "--seed",
            "1",
            "--threads",
            "0",
            "--keys",
            "5",
        ];
        assert!(parse(&zero).is_err());
    }
}
