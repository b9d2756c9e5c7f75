//! `cargo xtask sim`: a campaign of deterministic simulation seeds (`ferris-sim`).
//!
//! Runs seeds `start..start + seeds`, each a random workload with a power cut on the
//! simulated file system, checked against a model (see the `ferris_sim` crate docs), on a
//! few threads. Prints progress, then a summary: where the cuts landed (which thread, which
//! kind of file), what the workloads did, and every failure with the command that replays
//! it. Exits non-zero if any seed failed.
//! `--memtable`, `--table-format` and `--strategy` plug another implementation of a part
//! into the engine for every seed (`components.rs`, shared with `cargo xtask crash-test`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use ferris_sim::{
    FS_OPS_PER_OP, FileKind, Role, SeedReport, SimConfig, SimFailure, Workload, run_workload,
};

use crate::components::ComponentArgs;

/// Options of `cargo xtask sim`.
#[derive(Args, Debug)]
pub(crate) struct CmdArgs {
    /// How many seeds to run.
    #[arg(long, default_value_t = 1_000)]
    seeds: u64,
    /// The first seed; seeds `start..start + seeds` run.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Operations per seed's workload (default: `SimConfig::default()`'s).
    #[arg(long)]
    ops: Option<usize>,
    /// Seeds run at once, each on its own thread.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The most power cuts a seed plans (default: `SimConfig::default()`'s); each seed
    /// picks 1 to this many, later ones often inside the recovery from the one before.
    #[arg(long)]
    max_cuts: Option<usize>,
    /// Plan no power cut: each workload runs to its end and the disk crashes there. Prints
    /// the file-system operations per workload operation, the figure cut points are drawn
    /// from.
    #[arg(long)]
    no_cut: bool,
    /// Print each seed's workload before running it, and its report after: for replaying
    /// one seed.
    #[arg(long)]
    verbose: bool,
    #[command(flatten)]
    components: ComponentArgs,
}

/// How long a seed may run before the progress line names it as possibly stuck.
const STUCK_AFTER: Duration = Duration::from_secs(30);

pub(crate) fn run(args: &CmdArgs) -> Result<()> {
    let mut config = SimConfig::default();
    if let Some(ops) = args.ops {
        config.ops_per_seed = ops;
    }
    if let Some(max_cuts) = args.max_cuts {
        config.max_cuts = max_cuts;
    }
    if args.no_cut {
        config.max_cuts = 0;
    }
    config.components = args.components.components();
    let end = args.start.saturating_add(args.seeds);
    let threads = args.threads.clamp(1, 64);
    println!(
        "sim: seeds {}..{end} ({} seeds), {} ops and up to {} power cut(s) each, {threads} \
         thread(s)",
        args.start, args.seeds, config.ops_per_seed, config.max_cuts
    );
    args.components.print("each seed's leveled or tiered");

    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(args.start));
    // Which seed each worker runs, and since when: named if progress stalls.
    let in_flight: Arc<Mutex<BTreeMap<usize, (u64, Instant)>>> = Arc::default();
    let (tx, rx) = mpsc::channel::<Result<SeedReport, SimFailure>>();
    let mut workers = Vec::new();
    for worker in 0..threads {
        let (next, in_flight, tx, config) =
            (next.clone(), in_flight.clone(), tx.clone(), config.clone());
        let verbose = args.verbose;
        workers.push(
            std::thread::Builder::new()
                .name(format!("sim-{worker}"))
                .spawn(move || {
                    loop {
                        let seed = next.fetch_add(1, Ordering::Relaxed);
                        if seed >= end {
                            break;
                        }
                        let workload = Workload::generate(seed, &config);
                        if verbose {
                            println!("{workload}");
                        }
                        lock(&in_flight).insert(worker, (seed, Instant::now()));
                        let result = run_workload(&workload, &config);
                        lock(&in_flight).remove(&worker);
                        if tx.send(result).is_err() {
                            break;
                        }
                    }
                })?,
        );
    }
    drop(tx);

    let mut summary = Summary::default();
    let mut last_progress = Instant::now();
    let mut last_result = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(result) => {
                last_result = Instant::now();
                match &result {
                    Ok(report) if args.verbose => println!("{report:#?}"),
                    Err(failure) => {
                        println!("FAIL {failure}");
                        println!("     replay: {}", failure.replay_command());
                    }
                    Ok(_) => {}
                }
                summary.add(result);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if last_progress.elapsed() >= Duration::from_secs(5) {
            last_progress = Instant::now();
            println!(
                "  {}/{} seeds, {} failed, {:.1} s",
                summary.n_seeds,
                args.seeds,
                summary.failures.len(),
                started.elapsed().as_secs_f64()
            );
            if last_result.elapsed() >= STUCK_AFTER {
                for (worker, (seed, since)) in lock(&in_flight).iter() {
                    if since.elapsed() >= STUCK_AFTER {
                        println!(
                            "  worker {worker}: seed {seed} has run for {:.0} s; it may be \
                             hung (replay: {})",
                            since.elapsed().as_secs_f64(),
                            config.replay_command(*seed)
                        );
                    }
                }
            }
        }
    }
    for worker in workers {
        if worker.join().is_err() {
            bail!("a sim worker thread panicked");
        }
    }
    summary.print(started.elapsed(), &config);
    if !summary.failures.is_empty() {
        bail!(
            "{} of {} seeds failed",
            summary.failures.len(),
            summary.n_seeds
        );
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Totals over the seeds of a campaign.
#[derive(Default)]
struct Summary {
    n_seeds: u64,
    failures: Vec<SimFailure>,
    /// Power cycles: planned cuts that landed, and crashes at the end.
    n_crashes: u64,
    cuts_landed: u64,
    cuts_in_recovery: u64,
    by_role: BTreeMap<Role, u64>,
    by_file: BTreeMap<FileKind, u64>,
    /// Cuts in the flush or compaction threads on table, manifest or CURRENT files.
    in_flush_or_compaction: u64,
    /// Cuts on CURRENT: a manifest switch, whichever thread.
    in_manifest_switch: u64,
    steps_run: u64,
    fs_ops: u64,
    writes_acknowledged: u64,
    writes_in_doubt: u64,
    writes_recovered: u64,
    flushes: u64,
    compactions: u64,
    reopens: u64,
    txns_committed: u64,
    txns_conflicted: u64,
    txns_abandoned: u64,
}

impl Summary {
    fn add(&mut self, result: Result<SeedReport, SimFailure>) {
        self.n_seeds += 1;
        let report = match result {
            Ok(report) => report,
            Err(failure) => {
                self.failures.push(failure);
                return;
            }
        };
        self.n_crashes += report.cuts.len() as u64;
        self.cuts_landed += report.cuts_landed as u64;
        self.cuts_in_recovery += report.cuts_in_recovery as u64;
        for cut in &report.cuts {
            *self.by_role.entry(cut.role).or_default() += 1;
            *self.by_file.entry(cut.file_kind).or_default() += 1;
            let background = matches!(cut.role, Role::Flush | Role::Compaction);
            let table_or_manifest = matches!(
                cut.file_kind,
                FileKind::Table | FileKind::Manifest | FileKind::Current
            );
            self.in_flush_or_compaction += u64::from(background && table_or_manifest);
            self.in_manifest_switch += u64::from(cut.file_kind == FileKind::Current);
        }
        self.steps_run += report.steps_run as u64;
        self.fs_ops += report.fs_ops;
        self.writes_acknowledged += report.writes_acknowledged as u64;
        self.writes_in_doubt += report.writes_in_doubt as u64;
        self.writes_recovered += report.writes_recovered as u64;
        self.flushes += report.flushes;
        self.compactions += report.compactions;
        self.reopens += report.reopens as u64;
        self.txns_committed += report.txns.committed as u64;
        self.txns_conflicted += report.txns.conflicted as u64;
        self.txns_abandoned += report.txns.abandoned as u64;
    }

    fn print(&self, elapsed: Duration, config: &SimConfig) {
        let passed = self.n_seeds - self.failures.len() as u64;
        println!();
        println!(
            "sim summary: {} seeds in {:.1} s ({:.1} seeds/s): {passed} passed, {} failed",
            self.n_seeds,
            elapsed.as_secs_f64(),
            self.n_seeds as f64 / elapsed.as_secs_f64().max(1e-9),
            self.failures.len()
        );
        if passed > 0 {
            println!(
                "  workloads: {} steps run, {} writes acknowledged, {} clean reopens, {} \
                 flushes, {} compactions",
                self.steps_run,
                self.writes_acknowledged,
                self.reopens,
                self.flushes,
                self.compactions
            );
            println!(
                "  transactions: {} committed, {} refused with the conflict the model \
                 predicted, {} dropped uncommitted",
                self.txns_committed, self.txns_conflicted, self.txns_abandoned
            );
            if config.max_cuts > 0 {
                println!(
                    "  power cuts: {} landed during the workloads ({} of them inside the \
                     recovery from the cut before), {} crashes at a workload's end",
                    self.cuts_landed,
                    self.cuts_in_recovery,
                    self.n_crashes.saturating_sub(self.cuts_landed)
                );
            } else {
                println!(
                    "  file-system operations per workload operation: {:.1} (first cuts are \
                     drawn below ops x FS_OPS_PER_OP = {FS_OPS_PER_OP})",
                    self.fs_ops as f64 / self.steps_run.max(1) as f64
                );
            }
            let roles: Vec<String> = self
                .by_role
                .iter()
                .map(|(role, n)| format!("{role:?} {n}"))
                .collect();
            let files: Vec<String> = self
                .by_file
                .iter()
                .map(|(kind, n)| format!("{kind:?} {n}"))
                .collect();
            println!("  cut landed in thread: {}", roles.join(", "));
            println!("  cut landed on file:   {}", files.join(", "));
            println!(
                "  cuts inside a background flush or compaction (table, manifest or CURRENT): \
                 {}; on CURRENT (a manifest switch): {}",
                self.in_flush_or_compaction, self.in_manifest_switch
            );
            println!(
                "  writes in doubt at the cuts: {}; the recovered states held {} of them \
                 (each state a prefix of its history)",
                self.writes_in_doubt, self.writes_recovered
            );
        }
        if !self.failures.is_empty() {
            println!();
            println!("failures:");
            for failure in &self.failures {
                println!("  {failure}");
                if let Some(cut) = &failure.cut {
                    println!("    the cut had landed on: {cut}");
                }
                println!("    replay: {}", failure.replay_command());
            }
        }
    }
}
