//! The parent: runs the cycles, kills the child, reopens the database and checks it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ferris_engine::{Db, Options, TableFormat};
use ferris_fs::StdFs;
use ferris_sim::Components;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::child::ChildArgs;
use crate::model::{Model, check, check_live};
use crate::workload::{KEYSPACES, L0_TRIGGER, Workload, db_options};

/// How to run the crash loop. Start from [`CrashConfig::new`] and change what you need.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CrashConfig {
    /// The database directory, created by the first child; it should be empty or absent.
    pub dir: PathBuf,
    /// The seed: it fixes the workload (every key and value) and the kill schedule. The
    /// moments the kills land still depend on the operating system's timing, so a replay
    /// with the same seed exercises the same plan, not necessarily the same instants.
    pub seed: u64,
    /// Cycles to run: one child, one SIGKILL, one reopen and check each (default 100).
    pub cycles: u32,
    /// Writer threads in the child (default 3).
    pub threads: u32,
    /// Keys per writer thread (default 1,000).
    pub keys_per_thread: u32,
    /// The longest a child runs before it is killed (default 1 s).
    pub max_run: Duration,
    /// Run `Db::verify` after every this many cycles, and after the last (default 5).
    pub verify_every: u32,
    /// The memtable, table format and compaction strategy the child and the parent's
    /// reopen plug in (default: the engine's own, with leveled compaction). The child
    /// gets them as flags ([`Components::to_args`]).
    pub components: Components,
}

impl CrashConfig {
    /// The defaults, for a database in `dir`.
    pub fn new(dir: impl Into<PathBuf>, seed: u64) -> CrashConfig {
        CrashConfig {
            dir: dir.into(),
            seed,
            cycles: 100,
            threads: 3,
            keys_per_thread: 1_000,
            max_run: Duration::from_secs(1),
            verify_every: 5,
            components: Components::default(),
        }
    }
}

/// When a cycle means to kill its child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aim {
    /// Within the time the last open took: the child is starting or recovering.
    DuringOpen,
    /// At a random moment.
    Anytime,
    /// Just after the child reports a frozen memtable (a flush queued or running), once
    /// a random minimum time has passed.
    Flush,
    /// Just after the child reports a full level 0 (a compaction due or running), once a
    /// random minimum time has passed.
    Compaction,
}

impl std::fmt::Display for Aim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Aim::DuringOpen => "during open",
            Aim::Anytime => "anytime",
            Aim::Flush => "at a flush",
            Aim::Compaction => "at a compaction",
        })
    }
}

/// What one cycle did and found.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CycleReport {
    /// The cycle, counting from 0.
    pub cycle: u32,
    /// When it meant to kill; `None` only in `Default`.
    pub aim: Option<Aim>,
    /// How long the child ran, from spawn to SIGKILL.
    pub ran: Duration,
    /// Operations the child acknowledged in this cycle (including flushes and pauses).
    pub acked_ops: u64,
    /// Acknowledged operations that changed contents, each checked after the kill.
    pub acked_writes: u64,
    /// Keys compared after the reopen.
    pub keys_compared: usize,
    /// Keys holding a value after the reopen.
    pub keys_live: usize,
    /// The kill came before the child had opened the database.
    pub during_open: bool,
    /// How long the child took from spawn to an open database (`None` if it was killed
    /// first): process start plus recovery.
    pub open_time: Option<Duration>,
    /// The child's last report showed a frozen memtable: a flush was queued or running.
    pub flush_under_way: bool,
    /// A table's temporary file (`.sst.tmp`, `.mtb.tmp`) with data in it was on disk after
    /// the kill: a table was being written. (One of zeros is the flush thread's next
    /// table, prepared ahead.)
    pub table_being_written: bool,
    /// Tables on disk after the kill that the manifest did not list: written by a flush
    /// or compaction whose manifest edit had not yet been synced, or inputs of one whose
    /// edit had, not yet deleted.
    pub unlisted_tables: usize,
    /// A compaction was under way, as far as the files tell: table work (a temporary
    /// table file or unlisted tables) with no flush under way. An estimate (see the crate docs).
    pub compaction_under_way: bool,
    /// Writes in flight at the kill that the reopened database holds.
    pub unacked_survived: u32,
    /// Writes in flight at the kill that it does not.
    pub unacked_lost: u32,
    /// Acknowledged transfers that committed, each checked whole.
    pub acked_transfers: u64,
    /// Transfers in flight at the kill: `[committing, never to commit]`
    /// ([`Checked::transfers_in_flight`](crate::Checked::transfers_in_flight)).
    pub transfers_in_flight: [u32; 2],
    /// `Db::verify` ran after this cycle (and found nothing wrong).
    pub verified: bool,
    /// A read-only open beside the running child read the database, and what it saw was
    /// a prefix of each writer's history (`check_live`): `Some(true)`; `Some(false)` if the
    /// open met the child's changes on every attempt (`Error::ConcurrentChange`); `None`
    /// if the cycle ended before its moment came.
    pub live_read: Option<bool>,
    /// Flushes and compactions the child had completed, from its last report.
    pub child_flushes: u64,
    /// See `child_flushes`.
    pub child_compactions: u64,
}

/// What the whole loop did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CrashReport {
    /// Cycles run; each ended with one SIGKILL.
    pub cycles: u32,
    /// Acknowledged operations, of all kinds.
    pub acked_ops: u64,
    /// Acknowledged writes (puts, deletes, batches), each checked after its kill.
    pub acked_writes: u64,
    /// Keys compared, summed over cycles.
    pub keys_compared: u64,
    /// Keys holding a value at the end.
    pub keys_live: usize,
    /// Kills before the child had opened the database.
    pub kills_during_open: u32,
    /// The slowest open of a child (spawn to open database), over the cycles that got
    /// that far.
    pub slowest_open: Duration,
    /// Kills with a flush queued or running.
    pub kills_flush_under_way: u32,
    /// Kills with a table half written.
    pub kills_table_being_written: u32,
    /// Kills that left tables the manifest did not list.
    pub kills_with_unlisted_tables: u32,
    /// Kills with a compaction under way (estimate).
    pub kills_compaction_under_way: u32,
    /// In-flight writes that survived their kill.
    pub unacked_survived: u64,
    /// In-flight writes that did not.
    pub unacked_lost: u64,
    /// Acknowledged transfers that committed, each checked whole after its kill.
    pub acked_transfers: u64,
    /// Kills with a transfer in flight that was committing (whole or absent after it).
    pub kills_mid_commit: u32,
    /// Kills with a transfer open that was never to commit (nothing of it after it).
    pub kills_mid_uncommitted: u32,
    /// Runs of `Db::verify`, all clean.
    pub verifies: u32,
    /// Read-only opens beside a running child that read the database, all consistent.
    pub live_reads: u32,
    /// Read-only opens beside a running child that met its changes on every attempt.
    pub live_reads_busy: u32,
    /// Flushes the children completed.
    pub child_flushes: u64,
    /// Compactions the children completed.
    pub child_compactions: u64,
    /// Wall time of the loop.
    pub elapsed: Duration,
}

impl CrashReport {
    fn add(&mut self, c: &CycleReport) {
        self.cycles += 1;
        self.acked_ops += c.acked_ops;
        self.acked_writes += c.acked_writes;
        self.keys_compared += c.keys_compared as u64;
        self.keys_live = c.keys_live;
        self.kills_during_open += u32::from(c.during_open);
        self.slowest_open = self.slowest_open.max(c.open_time.unwrap_or_default());
        self.kills_flush_under_way += u32::from(c.flush_under_way);
        self.kills_table_being_written += u32::from(c.table_being_written);
        self.kills_with_unlisted_tables += u32::from(c.unlisted_tables > 0);
        self.kills_compaction_under_way += u32::from(c.compaction_under_way);
        self.unacked_survived += u64::from(c.unacked_survived);
        self.unacked_lost += u64::from(c.unacked_lost);
        self.acked_transfers += c.acked_transfers;
        self.kills_mid_commit += c.transfers_in_flight[0];
        self.kills_mid_uncommitted += c.transfers_in_flight[1];
        self.verifies += u32::from(c.verified);
        self.live_reads += u32::from(c.live_read == Some(true));
        self.live_reads_busy += u32::from(c.live_read == Some(false));
        self.child_flushes += c.child_flushes;
        self.child_compactions += c.child_compactions;
    }
}

impl std::fmt::Display for CrashReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "cycles (one SIGKILL each)    {}", self.cycles)?;
        writeln!(
            f,
            "acknowledged writes checked  {} ({} operations in all)",
            self.acked_writes, self.acked_ops
        )?;
        writeln!(f, "keys compared                {}", self.keys_compared)?;
        writeln!(f, "keys live at the end         {}", self.keys_live)?;
        writeln!(
            f,
            "in-flight writes at kills    {} survived, {} lost",
            self.unacked_survived, self.unacked_lost
        )?;
        writeln!(
            f,
            "transactions                 {} committed and checked; in flight at kills: {} \
             committing, {} open and never to commit",
            self.acked_transfers, self.kills_mid_commit, self.kills_mid_uncommitted
        )?;
        writeln!(f, "kills during open            {}", self.kills_during_open)?;
        writeln!(f, "slowest child open           {:.1?}", self.slowest_open)?;
        writeln!(
            f,
            "kills, flush under way       {}",
            self.kills_flush_under_way
        )?;
        writeln!(
            f,
            "kills, compaction under way  {} (estimate)",
            self.kills_compaction_under_way
        )?;
        writeln!(
            f,
            "kills, table half written    {}",
            self.kills_table_being_written
        )?;
        writeln!(
            f,
            "kills, unlisted tables left  {}",
            self.kills_with_unlisted_tables
        )?;
        writeln!(
            f,
            "children's flushes           {} (compactions {})",
            self.child_flushes, self.child_compactions
        )?;
        writeln!(f, "Db::verify runs, all clean   {}", self.verifies)?;
        writeln!(
            f,
            "live read-only opens         {} consistent, {} met changes throughout",
            self.live_reads, self.live_reads_busy
        )?;
        write!(f, "wall time                    {:.1?}", self.elapsed)
    }
}

/// Runs the crash loop: `config.cycles` times, start `child_exe` (the
/// `ferris-crash-child` binary) on `config.dir`, kill it with SIGKILL, reopen the
/// database and check it against every acknowledged write. `on_cycle` is called after each
/// cycle passes, for progress.
///
/// # Errors
///
/// The first failure, naming the cycle and seed: a write acknowledged and then lost, a
/// value never written, a torn batch, a key that `get` and a scan disagree on, an open
/// that fails after a kill, a `Db::verify` problem, a child that exits by itself (its
/// stderr is quoted) or breaks the line protocol, an engine panic, or an I/O error of the
/// harness itself. The database directory is left as the failure found it.
pub fn crash_loop(
    config: &CrashConfig,
    child_exe: &Path,
    on_cycle: &mut dyn FnMut(&CycleReport),
) -> Result<CrashReport> {
    let started = Instant::now();
    let workload = Workload {
        seed: config.seed,
        threads: config.threads.max(1),
        keys_per_thread: config.keys_per_thread.max(1),
    };
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut model = Model::default();
    let mut report = CrashReport::default();
    // A guess until the first child reports how long its open took.
    let mut last_open = Duration::from_millis(10);
    for cycle in 0..config.cycles {
        let cycle_report = run_cycle(
            config, child_exe, &workload, cycle, &mut rng, &mut model, last_open,
        )
        .with_context(|| {
            format!(
                "crash loop failed in cycle {cycle} (seed {}, database {})",
                config.seed,
                config.dir.display()
            )
        })?;
        last_open = cycle_report.open_time.unwrap_or(last_open);
        report.add(&cycle_report);
        on_cycle(&cycle_report);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// A line from the child.
enum Line {
    Ready,
    Ack { thread: u32, op: u64 },
    Stats(ChildStats),
}

#[derive(Debug, Clone, Copy, Default)]
struct ChildStats {
    frozen: usize,
    l0: usize,
    flushes: u64,
    compactions: u64,
}

fn parse_line(line: &str) -> Option<Line> {
    let mut words = line.split_ascii_whitespace();
    let line = match words.next()? {
        "ready" => Line::Ready,
        "ack" => Line::Ack {
            thread: words.next()?.parse().ok()?,
            op: words.next()?.parse().ok()?,
        },
        "stats" => Line::Stats(ChildStats {
            frozen: words.next()?.parse().ok()?,
            l0: words.next()?.parse().ok()?,
            flushes: words.next()?.parse().ok()?,
            compactions: words.next()?.parse().ok()?,
        }),
        _ => return None,
    };
    words.next().is_none().then_some(line)
}

/// What the parent heard from the child in one cycle.
struct Heard {
    ready: bool,
    /// When `ready` arrived, from the spawn (set by the caller).
    open_time: Option<Duration>,
    /// Per thread, how many operations were acknowledged (they arrive in order).
    acked: Vec<u64>,
    stats: ChildStats,
}

impl Heard {
    fn hear(&mut self, line: &str) -> Result<()> {
        match parse_line(line) {
            Some(Line::Ready) => self.ready = true,
            Some(Line::Ack { thread, op }) => {
                let Some(n) = self.acked.get_mut(thread as usize) else {
                    bail!("the child acknowledged for thread {thread}, which does not exist");
                };
                if op != *n {
                    bail!(
                        "the child acknowledged op {op} of thread {thread} after op {}",
                        i128::from(*n) - 1
                    );
                }
                *n += 1;
            }
            Some(Line::Stats(stats)) => self.stats = stats,
            None => bail!("the child printed a line outside the protocol: {line:?}"),
        }
        Ok(())
    }
}

/// Kills the child if the cycle is left early (an error), so no writer outlives it.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Errors mean it is already gone; there is nothing else to do.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_cycle(
    config: &CrashConfig,
    child_exe: &Path,
    workload: &Workload,
    cycle: u32,
    rng: &mut SmallRng,
    model: &mut Model,
    last_open: Duration,
) -> Result<CycleReport> {
    let max_run = config.max_run.max(Duration::from_millis(20));
    let (aim, mut deadline_after, aim_after) = match rng.random_range(0..100) {
        // Opens take from a few milliseconds to a few tens, depending on how much WAL
        // there is to replay and how busy the machine is: aim at a random point of the
        // last one measured (the fraction is drawn from the seed, the scale is measured).
        0..12 => (
            Aim::DuringOpen,
            last_open.mul_f64(rng.random_range(0.0..1.1)),
            None,
        ),
        12..45 => (
            Aim::Anytime,
            rng.random_range(Duration::from_millis(5)..max_run),
            None,
        ),
        45..72 => (
            Aim::Flush,
            max_run,
            Some(rng.random_range(Duration::ZERO..max_run / 2)),
        ),
        _ => (
            Aim::Compaction,
            max_run,
            Some(rng.random_range(Duration::ZERO..max_run / 2)),
        ),
    };
    // Drawn whether used or not, so the schedule does not depend on timing.
    let aim_delay = rng.random_range(Duration::ZERO..Duration::from_millis(3));
    // When a read-only open reads the database beside the running child.
    let live_at = rng.random_range(Duration::ZERO..max_run);

    let args = ChildArgs {
        dir: config.dir.clone(),
        cycle,
        workload: *workload,
        components: config.components,
    };
    let spawned = Instant::now();
    let mut child = KillOnDrop(
        Command::new(child_exe)
            .args(args.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", child_exe.display()))?,
    );
    let stdout = child.0.stdout.take().context("the child's stdout")?;
    let mut stderr = child.0.stderr.take().context("the child's stderr")?;
    let (tx, rx) = mpsc::channel::<String>();
    let out_reader = std::thread::spawn(move || -> std::io::Result<()> {
        let mut stdout = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            // A line cut off by the kill has no newline: it was never a whole report.
            if stdout.read_line(&mut line)? == 0 || !line.ends_with('\n') {
                return Ok(());
            }
            if tx.send(line).is_err() {
                return Ok(());
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut heard = Heard {
        ready: false,
        open_time: None,
        acked: vec![0; workload.threads as usize],
        stats: ChildStats::default(),
    };
    let mut live: Option<Option<Live>> = None;
    loop {
        let elapsed = spawned.elapsed();
        let live_due = live.is_none() && heard.ready;
        if live_due && elapsed >= live_at {
            live = Some(read_live(config, cycle, &heard.acked)?);
            continue;
        }
        let Some(left) = deadline_after.checked_sub(elapsed) else {
            break;
        };
        let wait = match live_due {
            true => left.min(live_at - elapsed),
            false => left,
        };
        match rx.recv_timeout(wait) {
            Ok(line) => {
                heard.hear(&line)?;
                if heard.ready && heard.open_time.is_none() {
                    heard.open_time = Some(spawned.elapsed());
                }
                let hit = match aim {
                    Aim::Flush => heard.stats.frozen > 0,
                    Aim::Compaction => heard.stats.l0 >= L0_TRIGGER,
                    Aim::DuringOpen | Aim::Anytime => false,
                };
                if hit && aim_after.is_some_and(|after| spawned.elapsed() >= after) {
                    deadline_after = deadline_after.min(spawned.elapsed() + aim_delay);
                }
            }
            // The moment for the live read (or the deadline: checked above).
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            // The child closed its stdout (it exited: caught below).
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let ran = spawned.elapsed();
    child.0.kill().context("killing the child")?;
    let status = child.0.wait().context("waiting for the child")?;
    // Whatever the child wrote before it died is still in the pipe: those acks count.
    for line in rx {
        heard.hear(&line)?;
    }
    out_reader
        .join()
        .map_err(|_| anyhow::anyhow!("the stdout reader panicked"))?
        .context("reading the child's stdout")?;
    let stderr = err_reader
        .join()
        .map_err(|_| anyhow::anyhow!("the stderr reader panicked"))?;
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        const SIGKILL: i32 = 9;
        if status.signal() != Some(SIGKILL) {
            bail!(
                "the child exited by itself ({status}) before it was killed; its stderr:\n{stderr}"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (status, stderr);

    // Every operation a thread had applied when the live read began was acknowledged by
    // the kill, but for the one it was doing: the acknowledgements heard now bound it.
    if let Some(Some(live)) = &live {
        check_live(
            model,
            workload,
            cycle,
            &live.before,
            &heard.acked,
            &live.observed,
        )
        .map_err(|problems| {
            anyhow::anyhow!(
                "a read-only open beside the running child saw a state no prefix of the \
                     acknowledged history explains:\n{}",
                list(&problems)
            )
        })?;
    }

    let format = config.components.table_format.build();
    let (table_being_written, unlisted_tables) = inspect_files(&config.dir, &*format);
    let flush_under_way = heard.ready && heard.stats.frozen > 0;
    let compaction_under_way =
        heard.ready && !flush_under_way && (table_being_written || unlisted_tables > 0);

    // Reopen and read everything back. The engine is not expected to panic, but if it
    // does the message should say where.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reopen_and_check(config, workload, cycle, &heard.acked, heard.ready, model)
    }));
    let (checked, verified) = match read {
        Ok(result) => result?,
        Err(_) => bail!("the engine panicked while reopening or reading the database"),
    };
    let report = CycleReport {
        cycle,
        aim: Some(aim),
        ran,
        acked_ops: heard.acked.iter().sum(),
        acked_writes: checked.acked_writes,
        keys_compared: checked.keys_compared,
        keys_live: checked.model.len(),
        during_open: !heard.ready,
        open_time: heard.open_time,
        flush_under_way,
        table_being_written,
        unlisted_tables,
        compaction_under_way,
        unacked_survived: checked.unacked_survived,
        unacked_lost: checked.unacked_lost,
        acked_transfers: checked.acked_transfers,
        transfers_in_flight: checked.transfers_in_flight,
        verified,
        live_read: live.map(|live| live.is_some()),
        child_flushes: heard.stats.flushes,
        child_compactions: heard.stats.compactions,
    };
    *model = checked.model;
    Ok(report)
}

/// Whether the file has a byte other than zero in its first 64 KiB. A table's first
/// block starts with a key, and the flush thread's next table, prepared ahead, is all
/// zeros until its flush writes.
fn holds_data(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
        .is_ok_and(|_| head.iter().any(|&b| b != 0))
}

/// After a kill, before the reopen tidies up: is a table half written (a temporary file
/// of the run's table `format`, `.sst.tmp` or `.mtb.tmp`), and how many tables does the
/// manifest not list? The format alone knows its file names. The manifest is read with
/// the same code the engine uses; if that fails the reopen will say why, so it counts as
/// none here.
fn inspect_files(dir: &Path, format: &dyn TableFormat) -> (bool, usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (false, 0);
    };
    let names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let tables: Vec<_> = names
        .iter()
        .filter_map(|n| Some((n, format.parse_file_name(n)?)))
        .collect();
    let tmp = tables
        .iter()
        .any(|(n, table)| table.temporary && holds_data(&dir.join(n)));
    let fs = StdFs::default();
    let live: Option<std::collections::HashSet<u64>> = ferris_manifest::read_current(&fs, dir)
        .ok()
        .flatten()
        .and_then(|number| ferris_manifest::replay(&fs, dir, number).ok())
        .map(|replayed| replayed.state.live_files().collect());
    let unlisted = live.map_or(0, |live| {
        tables
            .iter()
            .filter(|(_, table)| !table.temporary && !live.contains(&table.number))
            .count()
    });
    (tmp, unlisted)
}

/// What a read-only open beside the running child saw.
struct Live {
    /// Per thread, the operations acknowledged when the open began.
    before: Vec<u64>,
    /// Every key and value of every keyspace.
    observed: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// Opens the database read-only while the child writes to it, and reads every keyspace.
/// `None` if the open met the child's changes on every attempt
/// (`Error::ConcurrentChange`): the one error it may meet; any other fails the cycle.
fn read_live(config: &CrashConfig, cycle: u32, acked: &[u64]) -> Result<Option<Live>> {
    let before = acked.to_vec();
    let options = parent_options(cycle, &config.components);
    let db = match Db::open_read_only(&config.dir, options) {
        Ok(db) => db,
        Err(ferris_engine::Error::ConcurrentChange { .. }) => return Ok(None),
        Err(e) => return Err(e).context("a read-only open beside the running child"),
    };
    let mut observed = BTreeMap::new();
    for name in db.list_keyspaces().context("listing keyspaces read-only")? {
        let keyspace = db.keyspace(&name).context("a keyspace, read-only")?;
        for entry in keyspace.iter().context("scanning read-only")? {
            let (key, value) = entry.context("scanning read-only")?;
            observed.insert(key.to_vec(), value.to_vec());
        }
    }
    Ok(Some(Live { before, observed }))
}

/// The options the parent reopens with: the child's, without idle work (the parent only
/// reads).
fn parent_options(cycle: u32, components: &Components) -> Options {
    let mut options = db_options(cycle, components);
    options.idle_after = None;
    options
}

fn reopen_and_check(
    config: &CrashConfig,
    workload: &Workload,
    cycle: u32,
    acked: &[u64],
    keyspaces_acknowledged: bool,
    model: &Model,
) -> Result<(crate::model::Checked, bool)> {
    let db = Db::open(&config.dir, parent_options(cycle, &config.components))
        .context("reopening the database after the kill")?;

    // Every keyspace the database lists is read, and must be one of the workload's: the
    // child creates them all before it reports `ready`, and this function after every
    // kill, so from then on each must be there.
    let names = db.list_keyspaces().context("listing keyspaces")?;
    let mut problems = Vec::new();
    let must_have_all = keyspaces_acknowledged || cycle > 0;
    for name in KEYSPACES {
        if must_have_all && !names.iter().any(|n| n == name) {
            problems.push(format!(
                "keyspace {name:?}, acknowledged, is gone: {names:?}"
            ));
        }
    }
    let mut keyspaces = Vec::new();
    for name in &names {
        let Some(index) = KEYSPACES.iter().position(|k| k == name) else {
            problems.push(format!("keyspace {name:?} was never created"));
            continue;
        };
        let keyspace = db.keyspace(name).context("opening a listed keyspace")?;
        keyspaces.push((index, keyspace));
    }
    let mut observed = BTreeMap::new();
    for (index, keyspace) in &keyspaces {
        let name = KEYSPACES[*index];
        let mut forward = Vec::new();
        for entry in keyspace.iter().context("scanning")? {
            let (key, value) = entry.context("scanning")?;
            if workload.keyspace_of(&key) != Some(*index) {
                problems.push(format!(
                    "key {:?} found in keyspace {name}, which it was never written to",
                    String::from_utf8_lossy(&key)
                ));
            }
            forward.push((key.to_vec(), value.to_vec()));
        }
        // The backward scan and point reads take other paths through the engine (filters,
        // the newest-first search of level 0): they must agree with the forward scan.
        let mut backward = Vec::new();
        for entry in keyspace.iter().context("scanning backwards")?.rev() {
            let (key, value) = entry.context("scanning backwards")?;
            backward.push((key.to_vec(), value.to_vec()));
        }
        backward.reverse();
        if backward != forward {
            problems.push(format!(
                "in keyspace {name}, a backward scan ({} keys) disagrees with a forward scan \
                 ({} keys)",
                backward.len(),
                forward.len()
            ));
        }
        observed.extend(forward);
    }
    let mut asked = std::collections::BTreeSet::new();
    for t in 0..workload.threads {
        asked.extend(workload.keys(t));
    }
    asked.extend(observed.keys().cloned());
    for key in &asked {
        let home = workload.keyspace_of(key).unwrap_or(0);
        let Some((_, keyspace)) = keyspaces.iter().find(|(index, _)| *index == home) else {
            continue;
        };
        let got = keyspace.get(key).context("reading a key")?;
        if got.as_deref() != observed.get(key).map(Vec::as_slice) {
            problems.push(format!(
                "get({:?}) returns {:?} bytes where a scan shows {:?} bytes",
                String::from_utf8_lossy(key),
                got.map(|v| v.len()),
                observed.get(key).map(Vec::len)
            ));
        }
    }
    let checked = match check(model, workload, cycle, acked, &observed) {
        Ok(checked) if problems.is_empty() => checked,
        Ok(_) => bail!("{}", list(&problems)),
        Err(more) => {
            problems.extend(more);
            bail!(
                "the reopened database breaks the acknowledged history:\n{}",
                list(&problems)
            )
        }
    };

    let every = config.verify_every.max(1);
    let verified = (cycle + 1).is_multiple_of(every) || cycle + 1 == config.cycles;
    if verified {
        let report = db.verify().context("Db::verify")?;
        if !report.is_clean() {
            let problems: Vec<String> = report
                .problems
                .iter()
                .map(|p| format!("{}, offset {}: {}", p.file.display(), p.offset, p.reason))
                .collect();
            bail!("Db::verify found problems:\n{}", list(&problems));
        }
    }
    // The parent creates the keyspaces too, so that from the next cycle on they must be
    // there whether or not that cycle's child got as far as creating them.
    for name in KEYSPACES {
        db.keyspace(name).context("creating a keyspace")?;
    }
    drop(keyspaces);
    db.close().context("closing the database")?;
    Ok((checked, verified))
}

/// The first 20 problems, one a line, and how many more there are.
fn list(problems: &[String]) -> String {
    let mut text: Vec<String> = problems
        .iter()
        .take(20)
        .map(|p| format!("  - {p}"))
        .collect();
    if problems.len() > 20 {
        text.push(format!("  ... and {} more", problems.len() - 20));
    }
    text.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(threads: usize) -> Heard {
        Heard {
            ready: false,
            open_time: None,
            acked: vec![0; threads],
            stats: ChildStats::default(),
        }
    }

    #[test]
    fn the_protocol_is_parsed() {
        let mut h = heard(2);
        h.hear("ready\n").unwrap();
        h.hear("ack 1 0\n").unwrap();
        h.hear("ack 1 1\n").unwrap();
        h.hear("stats 1 4 7 2\n").unwrap();
        assert!(h.ready);
        assert_eq!(h.acked, [0, 2]);
        assert_eq!(
            (
                h.stats.frozen,
                h.stats.l0,
                h.stats.flushes,
                h.stats.compactions
            ),
            (1, 4, 7, 2)
        );
    }

    #[test]
    fn acks_out_of_order_or_garbage_are_errors() {
        let mut h = heard(2);
        assert!(h.hear("ack 0 1\n").is_err(), "op 0 was never acknowledged");
        assert!(h.hear("ack 2 0\n").is_err(), "no thread 2");
        assert!(h.hear("ack 0\n").is_err());
        assert!(h.hear("stats 1 2 3\n").is_err());
        assert!(h.hear("ready now\n").is_err());
        assert!(h.hear("thread 0 panicked\n").is_err());
    }
}
