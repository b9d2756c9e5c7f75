//! The log-format suite: what every [`LogFormat`] must do, checked.
//!
//! A log format (`ferris_log::swap` states the contract) writes records to a file and
//! reads them back after whatever a crash or a failing disk left. Each check below takes
//! the format under test and returns `Result<(), Failure>`; [`check_log_format`] runs
//! them all, in this order:
//!
//! | check | what it demands |
//! |---|---|
//! | [`round_trips`] | for each of [`SEEDS`], random records (empty ones, a few bytes, many blocks, and the sizes that end exactly at, just before and just after the reference's 32 KiB block boundaries), synced at random points, sealed or not: read back in every [`RecoveryMode`], they are the records appended, in order, with no event, and the log is sealed exactly when it was sealed |
//! | [`power_cuts`] | a power cut (on `SimFs`) after every file operation of writing a few logs, with several disk seeds: under every mode but `Strict`, recovery succeeds and returns a prefix of the records appended that holds every record a sync (or the seal) acknowledged, and never a record that was not appended; a sealed log comes back whole and sealed |
//! | [`torn_tails`] | an unsealed log cut short at every length (and with garbage in place of its last bytes): the records wholly before the cut come back, and nothing else; a cut inside a record is reported as [`RecoveryEvent::TornTail`] (an error only in `Strict` mode, and then a [`Error::Corruption`]), a cut between two records as nothing at all |
//! | [`bit_flips`] | every single-bit flip in the records of a sealed log is [`Error::Corruption`] under `TolerateTornTail` (and `Strict`), never a torn tail, a wrong record or a panic; a flip in the seal (or the bytes that lead to it) is corruption or a log read whole but unsealed; `PointInTime` gives a prefix, `SkipCorrupted` never a record that was not written |
//! | [`recovery_modes`] | one damaged record in the middle of a sealed log, each record in turn: `Strict` and `TolerateTornTail` fail with [`Error::Corruption`]; `PointInTime` returns the records before it and reports [`RecoveryEvent::StoppedAtCorruption`]; `SkipCorrupted` returns every other record and reports [`RecoveryEvent::SkippedCorruption`] |
//! | [`io_faults`] | each append and sync failing once is an [`Error::Io`], and every later call of the writer fails too; each read failing once is an [`Error::Io`] (or the right records), never a [`Error::Corruption`] |
//! | [`hostile_bytes`] | for each of [`HOSTILE_SEEDS`], random bytes (after a valid start of a log, or not), and a log with random bytes overwritten (runs of `0xff`: huge lengths), read in every mode: nothing panics, no error but `Corruption` or `UnsupportedVersion`, the reader comes to an end, and no record comes back that was not written |
//!
//! The model is the list of records appended, and the points where a sync returned. The
//! suite knows nothing of the format's bytes: it learns where each record ends by asking
//! `SimFs` how many bytes are durable after each sync. Only the record sizes near block
//! boundaries are drawn from the reference's [`BLOCK_SIZE`], because that is where a
//! framing with blocks breaks first.
//!
//! ```
//! use ferris_conformance::log;
//! use ferris_log::Framing;
//!
//! log::round_trips_seed(&Framing, 3)?;
//! log::recovery_modes(&Framing)?;
//! # Ok::<(), ferris_conformance::Failure>(())
//! ```
//!
//! # Limits
//!
//! The logs are small (at most a few hundred KiB) and one file each; a sequence of
//! segments is the WAL's business (`ferris-wal`'s own tests). Bits are flipped in one
//! small sealed log and sampled in its padding. Allocation is not measured: a reader
//! that believes a damaged length fails here only if it panics or aborts.
//!
//! [`Error::Corruption`]: ferris_core::Error::Corruption
//! [`Error::Io`]: ferris_core::Error::Io

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ferris_core::Error;
use ferris_fs::{Fault, FaultKind, FileSystem, Op, SimFs};
use ferris_log::format::BLOCK_SIZE;
use ferris_log::{LogFormat, RecoveryEvent, RecoveryMode};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::failure::{Checking, Context, Outcome, Problem, ensure};
use crate::{Failure, random};

/// The seeds [`round_trips`] runs: each one a different list of records.
pub const SEEDS: Range<u64> = 0..16;

/// The seeds [`hostile_bytes`] runs.
pub const HOSTILE_SEEDS: Range<u64> = 0..200;

/// Every recovery mode, in the order the checks read with them.
pub const MODES: [RecoveryMode; 4] = [
    RecoveryMode::Strict,
    RecoveryMode::TolerateTornTail,
    RecoveryMode::PointInTime,
    RecoveryMode::SkipCorrupted,
];

/// A check of the suite: the format in, the first failure out.
pub type Check = fn(&dyn LogFormat) -> Result<(), Failure>;

/// Every check, with its name, in the order [`check_log_format`] runs them.
pub const CHECKS: [(&str, Check); 7] = [
    ("round_trips", round_trips),
    ("power_cuts", power_cuts),
    ("torn_tails", torn_tails),
    ("bit_flips", bit_flips),
    ("recovery_modes", recovery_modes),
    ("io_faults", io_faults),
    ("hostile_bytes", hostile_bytes),
];

/// Runs every check of the suite against `format`, in the order of [`CHECKS`].
///
/// # Errors
///
/// The first [`Failure`], naming `format` by its [`LogFormat::name`].
pub fn check_log_format(format: &dyn LogFormat) -> Result<(), Failure> {
    CHECKS.iter().try_for_each(|(_, check)| check(format))
}

/// The id of the log every check writes.
const ID: u64 = 1;

/// More records than any check writes: a reader that returns this many has not stopped.
const MAX_READ: usize = 10_000;

/// A fresh simulated disk with the directory `/wal`, crashes drawn from `seed`.
struct Disk {
    sim: SimFs,
    dir: PathBuf,
    path: PathBuf,
}

impl Disk {
    fn new(seed: u64) -> Disk {
        let sim = SimFs::new(seed);
        let dir = PathBuf::from("/wal");
        sim.create_dir_all(&dir)
            .expect("a new SimFs creates a directory");
        Disk {
            sim,
            path: dir.join("000001.log"),
            dir,
        }
    }

    /// A disk holding exactly `bytes` as the log.
    fn holding(bytes: &[u8]) -> Outcome<Disk> {
        let disk = Disk::new(0);
        let mut file = disk.sim.create(&disk.path).context("creating a file")?;
        file.append(bytes).context("writing a file")?;
        file.sync().context("syncing a file")?;
        Ok(disk)
    }

    /// The log's bytes.
    fn bytes(&self) -> Outcome<Vec<u8>> {
        let file = self.sim.open(&self.path).context("opening the log")?;
        file.read_vec(0, file.len()).context("reading the log")
    }

    /// How many of the log's bytes are durable.
    fn durable(&self) -> u64 {
        self.sim.durable_len(&self.path).unwrap_or(0)
    }
}

/// What to write: the records, whether to sync after each, and whether to seal.
struct Script {
    records: Vec<Vec<u8>>,
    sync_after: Vec<bool>,
    seal: bool,
}

/// How far a write got: how many records an append was called for, how many were
/// acknowledged durable, whether the seal returned, and the durable length after the
/// start of the log and after each record (with a sync after each).
#[derive(Default)]
struct Progress {
    attempted: usize,
    synced: usize,
    sealed: bool,
    ends: Vec<u64>,
}

/// Writes `script` to `disk`: creates the file and makes its name durable (the caller's
/// part, as the WAL does it), then the format's writer. Returns how far it got, and the
/// first error.
fn write(
    format: &dyn LogFormat,
    disk: &Disk,
    script: &Script,
) -> (Progress, ferris_core::Result<()>) {
    let mut progress = Progress::default();
    let result = (|| {
        let file = disk
            .sim
            .create(&disk.path)
            .map_err(|e| Error::io(&disk.path, e))?;
        disk.sim
            .sync_dir(&disk.dir)
            .map_err(|e| Error::io(&disk.dir, e))?;
        let mut writer = format.create(file, &disk.path, ID)?;
        writer.sync()?;
        progress.ends.push(disk.durable());
        for (i, record) in script.records.iter().enumerate() {
            progress.attempted = i + 1;
            writer.append(record)?;
            if script.sync_after[i] {
                writer.sync()?;
                progress.synced = i + 1;
                progress.ends.push(disk.durable());
            }
        }
        if script.seal {
            writer.seal()?;
            progress.synced = script.records.len();
            progress.sealed = true;
        }
        Ok(())
    })();
    (progress, result)
}

/// Writes `script`, which must succeed.
fn write_ok(format: &dyn LogFormat, disk: &Disk, script: &Script) -> Outcome<Progress> {
    let (progress, result) = write(format, disk, script);
    result.context("writing the log")?;
    Ok(progress)
}

/// Writes `script` to a fresh disk and reads it back whole under `Strict`: the records,
/// sealed if the script seals. Returns the log's bytes and where each record ends (the
/// durable length after the sync that follows it; the script syncs after every record).
/// The damage checks start from this, so a format that does not round-trip fails here,
/// with the reason.
fn written_whole(format: &dyn LogFormat, script: &Script) -> Outcome<(Vec<u8>, Vec<u64>)> {
    let disk = Disk::new(0);
    let progress = write_ok(format, &disk, script)?;
    let bytes = disk.bytes()?;
    read_back(format, &disk, script, RecoveryMode::Strict)?;
    let ends = &progress.ends;
    if let Some(i) = ends.windows(2).position(|w| w[1] <= w[0]) {
        return Err(Problem::mismatch(
            format_args!("the durable length of the log after the sync that followed record {i}"),
            ends[i + 1],
            format_args!(
                "more than {}: a record takes bytes, and sync makes them durable",
                ends[i]
            ),
        ));
    }
    Ok((bytes, progress.ends))
}

/// Reads back the log `script` wrote on `disk` under `mode`: the same records, sealed if
/// the script sealed it.
fn read_back(
    format: &dyn LogFormat,
    disk: &Disk,
    script: &Script,
    mode: RecoveryMode,
) -> Outcome<Read> {
    let what = format!(
        "{}, {}, read back under {mode:?}",
        Sizes(&script.records),
        if script.seal { "sealed" } else { "not sealed" }
    );
    let read = read_ok(format, disk, mode).map_err(|p| p.within(&what))?;
    same_records(&what, &read.records, &script.records)?;
    ensure(read.sealed == script.seal, || {
        Problem::mismatch(
            format_args!("{what}: is_sealed()"),
            read.sealed,
            script.seal,
        )
    })?;
    Ok(read)
}

/// What a reader returned.
struct Read {
    records: Vec<Vec<u8>>,
    events: Vec<RecoveryEvent>,
    sealed: bool,
}

/// Opens the log on `fs` under `mode` and reads it to its end: the records read before
/// an error are kept beside it. A reader that does not stop is a problem.
fn read(
    format: &dyn LogFormat,
    fs: &dyn FileSystem,
    path: &Path,
    mode: RecoveryMode,
) -> Outcome<(Read, Option<Error>)> {
    let mut read = Read {
        records: Vec::new(),
        events: Vec::new(),
        sealed: false,
    };
    let mut reader = match format.open(fs, path, ID, mode) {
        Ok(reader) => reader,
        Err(e) => return Ok((read, Some(e))),
    };
    loop {
        match reader.next_record() {
            Ok(Some(record)) => read.records.push(record),
            Ok(None) => break,
            Err(e) => return Ok((read, Some(e))),
        }
        ensure(read.records.len() <= MAX_READ, || {
            format!("next_record returned {MAX_READ} records and never None (under {mode:?})")
        })?;
    }
    read.events = reader.events().to_vec();
    read.sealed = reader.is_sealed();
    Ok((read, None))
}

/// Reads the log under `mode`, which must succeed.
fn read_ok(format: &dyn LogFormat, disk: &Disk, mode: RecoveryMode) -> Outcome<Read> {
    match read(format, &disk.sim, &disk.path, mode)? {
        (read, None) => Ok(read),
        (read, Some(e)) => Err(Problem::mismatch(
            format_args!(
                "reading the log under {mode:?} (after {} records)",
                read.records.len()
            ),
            format_args!("{e:?}"),
            "no error",
        )),
    }
}

/// A record list in a few words: how many, and their sizes.
struct Sizes<'a>(&'a [Vec<u8>]);

impl fmt::Display for Sizes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} records", self.0.len())?;
        if !self.0.is_empty() && self.0.len() <= 12 {
            let sizes: Vec<String> = self.0.iter().map(|r| r.len().to_string()).collect();
            write!(f, " of {} bytes", sizes.join(", "))?;
        }
        Ok(())
    }
}

/// `Ok` when `got` is a prefix of `wrote`: no record changed, none invented.
fn prefix_of(what: impl fmt::Display, got: &[Vec<u8>], wrote: &[Vec<u8>]) -> Outcome {
    for (i, record) in got.iter().enumerate() {
        match wrote.get(i) {
            Some(written) if written == record => {}
            Some(written) => {
                return Err(Problem::mismatch(
                    format_args!("{what}: record {i}"),
                    crate::show::bytes(record),
                    crate::show::bytes(written),
                ));
            }
            None => {
                return Err(Problem::mismatch(
                    format_args!("{what}: the number of records"),
                    got.len(),
                    format_args!("at most {}, as many as were appended", wrote.len()),
                ));
            }
        }
    }
    Ok(())
}

/// `Ok` when `got` is `wrote` with some records left out: none changed, none invented,
/// the order kept.
fn subsequence_of(what: impl fmt::Display, got: &[Vec<u8>], wrote: &[Vec<u8>]) -> Outcome {
    let mut left = wrote.iter();
    for (i, record) in got.iter().enumerate() {
        ensure(left.any(|w| w == record), || {
            Problem::mismatch(
                format_args!("{what}: record {i} read"),
                crate::show::bytes(record),
                "one of the records appended, in the order appended",
            )
        })?;
    }
    Ok(())
}

/// `Ok` when `got` is exactly `want`.
fn same_records(what: impl fmt::Display, got: &[Vec<u8>], want: &[Vec<u8>]) -> Outcome {
    prefix_of(&what, got, want)?;
    ensure(got.len() == want.len(), || {
        Problem::mismatch(
            format_args!("{what}: the number of records"),
            got.len(),
            want.len(),
        )
    })
}

fn is_torn_tail(event: &RecoveryEvent) -> bool {
    matches!(event, RecoveryEvent::TornTail { .. })
}

/// `Ok` when `error` is damage: corruption, or a version this build does not read.
fn damage(what: impl fmt::Display, error: &Error) -> Outcome {
    ensure(
        matches!(error, Error::Corruption(_) | Error::UnsupportedVersion(_)),
        || {
            Problem::mismatch(
                what,
                format_args!("{error:?}"),
                "Err(Corruption) or Err(UnsupportedVersion)",
            )
        },
    )
}

/// A record of `len` bytes, tagged with its index so that no two are alike.
fn record(rng: &mut SmallRng, i: usize, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes[..]);
    for (b, tag) in bytes.iter_mut().zip((i as u32).to_le_bytes()) {
        *b = tag;
    }
    bytes
}

/// A record size: mostly small, some empty, some of many blocks, and some that end at, or
/// a few bytes either side of, a block boundary of the reference framing (a 32-byte
/// header, 7-byte fragment headers, 32 KiB blocks).
fn size(rng: &mut SmallRng) -> usize {
    let edge = [
        BLOCK_SIZE - 32 - 7,
        BLOCK_SIZE - 32 - 7 - 6,
        BLOCK_SIZE - 7,
        BLOCK_SIZE - 7 - 7,
        2 * (BLOCK_SIZE - 7),
        BLOCK_SIZE,
    ];
    match rng.random_range(0..100) {
        0..12 => 0,
        12..62 => rng.random_range(1..=100),
        62..80 => rng.random_range(100..=4000),
        80..90 => {
            let e = edge[rng.random_range(0..edge.len())];
            e + rng.random_range(0..=2) - 1
        }
        _ => rng.random_range(BLOCK_SIZE..=3 * BLOCK_SIZE),
    }
}

/// The records and sync points of seed `seed`: seed 0 writes nothing, seed 1 only empty
/// records, the others a random mix.
fn script(seed: u64) -> Script {
    let mut rng = random::rng(seed);
    let n = match seed {
        0 => 0,
        _ => rng.random_range(1..=14),
    };
    let records = (0..n)
        .map(|i| {
            let len = if seed == 1 { 0 } else { size(&mut rng) };
            record(&mut rng, i, len)
        })
        .collect();
    Script {
        records,
        sync_after: (0..n).map(|_| rng.random_bool(0.4)).collect(),
        seal: rng.random_bool(0.5),
    }
}

/// [`round_trips`], for the one seed `seed`.
///
/// # Errors
///
/// A [`Failure`] naming the seed, the mode, and the record that came back wrong.
pub fn round_trips_seed(format: &dyn LogFormat, seed: u64) -> Result<(), Failure> {
    Checking::new(format.name(), "round_trips").seed(seed, || {
        let script = script(seed);
        let disk = Disk::new(seed);
        write_ok(format, &disk, &script)?;
        for mode in MODES {
            let read = read_back(format, &disk, &script, mode)?;
            ensure(read.events.is_empty(), || {
                Problem::mismatch(
                    format_args!(
                        "{}, read under {mode:?}: the events of an intact log",
                        Sizes(&script.records)
                    ),
                    format_args!("{:?}", read.events),
                    "none",
                )
            })?;
        }
        Ok(())
    })
}

/// Random records written and read back in every mode, for each of [`SEEDS`].
///
/// # Errors
///
/// The first [`Failure`], with its seed.
pub fn round_trips(format: &dyn LogFormat) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|s| round_trips_seed(format, s))
}

/// The logs the crash checks write: many small records with a sync every third, sealed;
/// and records of several blocks, every other one synced, not sealed.
fn crash_scripts() -> [Script; 2] {
    let mut rng = random::rng(100);
    let small: Vec<Vec<u8>> = (0..24)
        .map(|i| {
            let len = rng.random_range(0..300);
            record(&mut rng, i, len)
        })
        .collect();
    let big: Vec<Vec<u8>> = [10, 70_000, 0, 40_000, 5, BLOCK_SIZE - 7, 300]
        .into_iter()
        .enumerate()
        .map(|(i, len)| record(&mut rng, i, len))
        .collect();
    [
        Script {
            sync_after: (0..small.len()).map(|i| i % 3 == 2).collect(),
            records: small,
            seal: true,
        },
        Script {
            sync_after: (0..big.len()).map(|i| i % 2 == 1).collect(),
            records: big,
            seal: false,
        },
    ]
}

/// A power cut (on `SimFs`) after each file-system operation of writing a log, from the
/// first to the last, for two logs and several disk seeds per cut: after the restart,
/// reading under every mode but `Strict` succeeds and returns a prefix of the records
/// appended that holds every record acknowledged by a sync or the seal, and a log whose
/// seal returned comes back sealed and whole.
///
/// # Errors
///
/// A [`Failure`] naming the log, the operation the power was cut after, and the disk seed.
pub fn power_cuts(format: &dyn LogFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "power_cuts");
    for (log, script) in crash_scripts().iter().enumerate() {
        let n_ops = checking.case(format_args!("log {log}, no power cut"), || {
            let disk = Disk::new(0);
            let before = disk.sim.op_count();
            write_ok(format, &disk, script)?;
            Ok(disk.sim.op_count() - before)
        })?;
        for cut in 0..=n_ops {
            // A cut after the last operation must keep everything under every draw.
            let n_seeds = if cut == n_ops { 8 } else { 2 };
            for seed in 0..n_seeds {
                let case = format!(
                    "log {log} ({}), power cut after {cut} of {n_ops} operations, disk seed {seed}",
                    Sizes(&script.records)
                );
                checking.case(case, || {
                    let disk = Disk::new(seed);
                    disk.sim.cut_power_after(cut);
                    let (progress, _) = write(format, &disk, script);
                    disk.sim.restart();
                    if !disk.sim.exists(&disk.path).context("exists")? {
                        return ensure(progress.synced == 0, || {
                            format!(
                                "the log is gone, but {} records were acknowledged durable \
                                 (the suite made its name durable before the first record)",
                                progress.synced
                            )
                        });
                    }
                    for mode in &MODES[1..] {
                        let what = format!("recovery under {mode:?}");
                        let read = read_ok(format, &disk, *mode)?;
                        let appended = &script.records[..progress.attempted];
                        prefix_of(&what, &read.records, appended)?;
                        ensure(read.records.len() >= progress.synced, || {
                            Problem::mismatch(
                                format_args!(
                                    "{what}: records recovered, where {} were acknowledged \
                                     durable by a sync",
                                    progress.synced
                                ),
                                read.records.len(),
                                format_args!("at least {}", progress.synced),
                            )
                        })?;
                        ensure(!progress.sealed || read.sealed, || {
                            format!("{what}: seal returned Ok, but the log is not sealed")
                        })?;
                    }
                    Ok(())
                })?;
            }
        }
    }
    Ok(())
}

/// An unsealed log of small records, and one of records of several blocks, each synced
/// after every record: cut short at every length (every byte of the small one, and at,
/// next to and between the record boundaries of the big one), and then with the bytes
/// after the last whole record replaced by garbage. Under every mode but `Strict` the
/// whole records before the cut come back; a cut inside a record is a
/// [`RecoveryEvent::TornTail`], a cut between records no event. `Strict` reads a cut
/// between records, and fails with [`Error::Corruption`]
/// on a cut inside one.
///
/// # Errors
///
/// A [`Failure`] naming the log and the length it was cut to.
pub fn torn_tails(format: &dyn LogFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "torn_tails");
    let mut rng = random::rng(200);
    let small: Vec<Vec<u8>> = (0..8)
        .map(|i| {
            let len = [0, 1, 30, 0, 200, 7, 60, 3][i];
            record(&mut rng, i, len)
        })
        .collect();
    let big: Vec<Vec<u8>> = [100, 40_000, 10, 2 * BLOCK_SIZE, 1]
        .into_iter()
        .enumerate()
        .map(|(i, len)| record(&mut rng, i, len))
        .collect();
    for (log, records) in [small, big].iter().enumerate() {
        let script = Script {
            sync_after: vec![true; records.len()],
            records: records.clone(),
            seal: false,
        };
        let (bytes, ends) = checking.case(format_args!("log {log}, written whole"), || {
            written_whole(format, &script)
        })?;
        let header = ends[0];
        let cuts: Vec<u64> = if log == 0 {
            (0..=bytes.len() as u64).collect()
        } else {
            let mut cuts: Vec<u64> = (0..bytes.len() as u64).step_by(997).collect();
            for &end in &ends {
                cuts.extend([end.saturating_sub(1), end, end + 1]);
            }
            cuts.retain(|&c| c <= bytes.len() as u64);
            cuts
        };
        for cut in cuts {
            for garbage in [false, true] {
                let whole = ends[1..].iter().filter(|&&e| e <= cut).count();
                let last_end = if whole == 0 { header } else { ends[whole] };
                let clean = ends.contains(&cut);
                if garbage && (clean || cut <= header) {
                    continue;
                }
                let case = format!(
                    "log {log} ({}) cut to {cut} of {} bytes{}",
                    Sizes(records),
                    bytes.len(),
                    if garbage {
                        format!(", garbage from byte {last_end}")
                    } else {
                        String::new()
                    }
                );
                checking.case(case, || {
                    let mut torn = bytes[..cut as usize].to_vec();
                    if garbage {
                        rng.fill(&mut torn[last_end as usize..]);
                    }
                    let disk = Disk::holding(&torn)?;
                    judge_torn(format, &disk, &records[..whole], cut < header, clean)
                })?;
            }
        }
    }
    Ok(())
}

/// What [`torn_tails`] demands of a log cut short: `whole` are the records wholly before
/// the cut, `in_header` says the cut fell in what the format writes before the first
/// record (the demands there are only that nothing is read and nothing fails), and
/// `clean` that it fell between two records.
fn judge_torn(
    format: &dyn LogFormat,
    disk: &Disk,
    whole: &[Vec<u8>],
    in_header: bool,
    clean: bool,
) -> Outcome {
    for mode in &MODES[1..] {
        let what = format!("reading under {mode:?}");
        let read = read_ok(format, disk, *mode)?;
        same_records(&what, &read.records, whole)?;
        ensure(!read.sealed, || {
            format!("{what}: is_sealed() of a log never sealed")
        })?;
        if in_header {
            continue;
        }
        let torn = read.events.iter().any(is_torn_tail);
        ensure(
            torn != clean && read.events.len() == usize::from(torn),
            || {
                Problem::mismatch(
                    format_args!("{what}: the events"),
                    format_args!("{:?}", read.events),
                    if clean {
                        "none: the log ends where a record does"
                    } else {
                        "one TornTail: the last record was cut short, as a power cut leaves it"
                    },
                )
            },
        )?;
    }
    if in_header {
        return Ok(());
    }
    let (read, error) = read(format, &disk.sim, &disk.path, RecoveryMode::Strict)?;
    prefix_of("reading under Strict", &read.records, whole)?;
    match (error, clean) {
        (None, true) => same_records("reading under Strict", &read.records, whole),
        (Some(e), false) if e.is_corruption() => Ok(()),
        (error, _) => Err(Problem::mismatch(
            "reading under Strict",
            format_args!("{error:?}"),
            if clean {
                "no error: the log ends where a record does"
            } else {
                "Some(Corruption): Strict tolerates no torn tail"
            },
        )),
    }
}

/// A small sealed log: its script, its bytes, and where its records end (the seal, and
/// anything the format writes before it, is after that).
fn small_sealed(
    checking: Checking<'_>,
    format: &dyn LogFormat,
) -> Result<(Script, Vec<u8>, Vec<u64>), Failure> {
    checking.case("writing the small sealed log to damage", || {
        let mut rng = random::rng(300);
        let records: Vec<Vec<u8>> = (0..7)
            .map(|i| {
                let len = [12, 0, 90, 5, 200, 1, 40][i];
                record(&mut rng, i, len)
            })
            .collect();
        let script = Script {
            sync_after: vec![true; records.len()],
            records,
            seal: true,
        };
        let (bytes, ends) = written_whole(format, &script)?;
        Ok((script, bytes, ends))
    })
}

/// Every single-bit flip of the bytes of a small sealed log up to its last record's end,
/// and of its last 64 bytes and every 251st byte between (the seal, and what leads to
/// it): before the seal, `Strict` and `TolerateTornTail` fail with
/// [`Error::Corruption`] (or
/// [`UnsupportedVersion`](Error::UnsupportedVersion)) after a prefix of the
/// records, `PointInTime` returns a prefix, `SkipCorrupted` never a record that was not
/// written. In the seal, `TolerateTornTail` may instead read every record, unsealed.
///
/// # Errors
///
/// A [`Failure`] naming the byte and bit.
pub fn bit_flips(format: &dyn LogFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "bit_flips");
    let (script, bytes, ends) = small_sealed(checking, format)?;
    let records_end = *ends.last().expect("the start of the log") as usize;
    let mut at: Vec<usize> = (0..records_end).collect();
    at.extend((records_end..bytes.len()).step_by(251));
    at.extend(bytes.len().saturating_sub(64).max(records_end)..bytes.len());
    at.sort_unstable();
    at.dedup();
    for byte in at {
        for bit in 0..8 {
            let case = format!("byte {byte} of {}, bit {bit} flipped", bytes.len());
            checking.case(case, || {
                let mut damaged = bytes.clone();
                damaged[byte] ^= 1 << bit;
                let disk = Disk::holding(&damaged)?;
                judge_flip(format, &disk, &script.records, byte >= records_end)
            })?;
        }
    }
    Ok(())
}

/// What [`bit_flips`] demands of one flip; `in_seal` says it is past the records.
fn judge_flip(format: &dyn LogFormat, disk: &Disk, records: &[Vec<u8>], in_seal: bool) -> Outcome {
    for mode in MODES {
        let what = format!("reading under {mode:?}");
        let (read, error) = read(format, &disk.sim, &disk.path, mode)?;
        match mode {
            RecoveryMode::SkipCorrupted => subsequence_of(&what, &read.records, records)?,
            _ => prefix_of(&what, &read.records, records)?,
        }
        let strict = matches!(mode, RecoveryMode::Strict | RecoveryMode::TolerateTornTail);
        match error {
            Some(e) => damage(&what, &e)?,
            None if !strict => {}
            None if in_seal && mode == RecoveryMode::TolerateTornTail => {
                // A damaged seal with nothing after it looks like a torn tail: the records
                // must then all be there.
                same_records(&what, &read.records, records)?;
            }
            None => {
                return Err(Problem::mismatch(
                    format_args!(
                        "{what}, which read {} of {} records",
                        read.records.len(),
                        records.len()
                    ),
                    format_args!("no error, events {:?}", read.events),
                    "Err(Corruption): a sealed log's damage has the seal after it, so it is no \
                     torn tail",
                ));
            }
        }
    }
    Ok(())
}

/// A sealed log of six records (one of several blocks), each damaged in turn (a byte in
/// the middle of the record flipped): `Strict` and `TolerateTornTail` fail with
/// [`Error::Corruption`]; `PointInTime` returns the
/// records before the damaged one and reports [`RecoveryEvent::StoppedAtCorruption`];
/// `SkipCorrupted` returns every other record and reports
/// [`RecoveryEvent::SkippedCorruption`].
///
/// # Errors
///
/// A [`Failure`] naming the damaged record and the mode.
pub fn recovery_modes(format: &dyn LogFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "recovery_modes");
    let mut rng = random::rng(400);
    let records: Vec<Vec<u8>> = [30, 0, 50_000, 8, 300, 20]
        .into_iter()
        .enumerate()
        .map(|(i, len)| record(&mut rng, i, len))
        .collect();
    let script = Script {
        sync_after: vec![true; records.len()],
        records: records.clone(),
        seal: true,
    };
    let (bytes, ends) = checking.case("writing the log to damage", || {
        written_whole(format, &script)
    })?;
    for k in 0..records.len() {
        let at = ((ends[k] + ends[k + 1]) / 2) as usize;
        let case = format!(
            "{}, sealed; record {k} damaged (byte {at} flipped)",
            Sizes(&records)
        );
        checking.case(case, || {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            let disk = Disk::holding(&damaged)?;
            for mode in [RecoveryMode::Strict, RecoveryMode::TolerateTornTail] {
                let what = format!("reading under {mode:?}");
                let (read, error) = read(format, &disk.sim, &disk.path, mode)?;
                prefix_of(&what, &read.records, &records[..k])?;
                ensure(error.as_ref().is_some_and(Error::is_corruption), || {
                    Problem::mismatch(
                        what,
                        format_args!("{error:?}"),
                        "Some(Corruption): intact records follow the damage",
                    )
                })?;
            }
            let read = read_ok(format, &disk, RecoveryMode::PointInTime)?;
            same_records("reading under PointInTime", &read.records, &records[..k])?;
            ensure(
                read.events
                    .iter()
                    .any(|e| matches!(e, RecoveryEvent::StoppedAtCorruption { .. })),
                || {
                    Problem::mismatch(
                        "reading under PointInTime: the events",
                        format_args!("{:?}", read.events),
                        "a StoppedAtCorruption",
                    )
                },
            )?;
            let read = read_ok(format, &disk, RecoveryMode::SkipCorrupted)?;
            let mut others = records.clone();
            others.remove(k);
            same_records("reading under SkipCorrupted", &read.records, &others)?;
            ensure(
                read.events
                    .iter()
                    .any(|e| matches!(e, RecoveryEvent::SkippedCorruption { .. })),
                || {
                    Problem::mismatch(
                        "reading under SkipCorrupted: the events",
                        format_args!("{:?}", read.events),
                        "a SkippedCorruption",
                    )
                },
            )
        })?;
    }
    Ok(())
}

/// Each append and each sync of writing a log failing once with `EIO` (on `SimFs`): the
/// call that met it fails with [`Error::Io`], and so does every
/// later append, sync and seal (the writer cannot know what reached the disk). Then each
/// read of a sealed log failing once: reading fails with `Io` or returns every record,
/// never [`Error::Corruption`].
///
/// # Errors
///
/// A [`Failure`] naming the operation that failed.
pub fn io_faults(format: &dyn LogFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "io_faults");
    let [script, _] = crash_scripts();
    for op in [Op::Append, Op::Sync] {
        for skip in 0.. {
            let case = format!("{op} number {} of writing a log fails", skip + 1);
            let fired = checking.case(case, || {
                let disk = Disk::new(0);
                disk.sim.inject(Fault::new(op, FaultKind::Eio).after(skip));
                let file = disk.sim.create(&disk.path).context("create")?;
                let mut calls = Calls::default();
                let mut writer = match format.create(file, &disk.path, ID) {
                    Ok(writer) => writer,
                    Err(e) => {
                        calls.step(Err(e), "create")?;
                        return Ok(true);
                    }
                };
                for (i, record) in script.records.iter().enumerate() {
                    calls.step(writer.append(record), format_args!("append of record {i}"))?;
                    calls.step(writer.sync(), format_args!("sync after record {i}"))?;
                }
                calls.step(writer.seal(), "seal")?;
                Ok(calls.failed.is_some())
            })?;
            if !fired {
                break;
            }
        }
    }
    failed_reads(checking, format)
}

/// The writer's calls in [`io_faults`]: the first failure must be `Io`, and so must
/// every call after it.
#[derive(Default)]
struct Calls {
    failed: Option<Error>,
}

impl Calls {
    fn step(&mut self, result: ferris_core::Result<()>, call: impl fmt::Display) -> Outcome {
        match (&self.failed, result) {
            (None, Ok(())) => Ok(()),
            (None, Err(e @ Error::Io(_))) => {
                self.failed = Some(e);
                Ok(())
            }
            (None, Err(e)) => Err(Problem::mismatch(
                call,
                format_args!("{e:?}"),
                "Ok, or an Io error",
            )),
            (Some(_), Err(Error::Io(_))) => Ok(()),
            (Some(first), result) => Err(Problem::mismatch(
                format_args!("{call}, after an earlier call failed with {first:?}"),
                format_args!("{result:?}"),
                "an Io error: the writer cannot know what reached the disk",
            )),
        }
    }
}

/// The read half of [`io_faults`].
fn failed_reads(checking: Checking<'_>, format: &dyn LogFormat) -> Result<(), Failure> {
    let [_, script] = crash_scripts();
    let script = Script {
        seal: true,
        ..script
    };
    let disk = Disk::new(0);
    checking.case("writing the log to read", || {
        written_whole(format, &script)?;
        write_ok(format, &disk, &script).map(drop)
    })?;
    for op in [Op::Open, Op::Read] {
        for skip in 0.. {
            disk.sim.clear_faults();
            let before = disk.sim.stats().n_faults;
            disk.sim.inject(Fault::new(op, FaultKind::Eio).after(skip));
            let case = format!("{op} number {} of reading a sealed log fails", skip + 1);
            checking.case(case, || {
                for mode in MODES {
                    let what = format!("reading under {mode:?}, where only a read failed");
                    let (read, error) = read(format, &disk.sim, &disk.path, mode)?;
                    prefix_of(&what, &read.records, &script.records)?;
                    match error {
                        None => same_records(&what, &read.records, &script.records)?,
                        Some(Error::Io(_)) => {}
                        Some(e) => {
                            return Err(Problem::mismatch(
                                what,
                                format_args!("{e:?}"),
                                "an Io error",
                            ));
                        }
                    }
                }
                Ok(())
            })?;
            if disk.sim.stats().n_faults == before {
                break;
            }
        }
    }
    disk.sim.clear_faults();
    Ok(())
}

/// [`hostile_bytes`], for the one seed `seed`.
///
/// # Errors
///
/// A [`Failure`] naming the seed and what the bytes were.
pub fn hostile_bytes_seed(format: &dyn LogFormat, seed: u64) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "hostile_bytes");
    let (script, log, ends) = small_sealed(checking, format)?;
    checking.seed(seed, || {
        let mut rng = random::rng(seed);
        let (bytes, written) = match seed % 3 {
            0 => {
                let len = match rng.random_range(0..4) {
                    0 => rng.random_range(0..64),
                    1 => rng.random_range(64..2048),
                    _ => rng.random_range(2048..3 * BLOCK_SIZE),
                };
                let mut bytes = vec![0u8; len];
                rng.fill(&mut bytes[..]);
                (bytes, false)
            }
            1 => {
                // A valid start of a log, then garbage: the reader gets past the start.
                let start = ends[0] as usize;
                let mut bytes = log[..start].to_vec();
                let len = rng.random_range(0..2 * BLOCK_SIZE);
                bytes.extend((0..len).map(|_| rng.random::<u8>()));
                (bytes, false)
            }
            _ => {
                // The log with a few runs overwritten, some of them 0xff: lengths as large
                // as a field can hold.
                let mut bytes = log.clone();
                for _ in 0..rng.random_range(1..=6) {
                    let at = rng.random_range(0..bytes.len());
                    let end = (at + rng.random_range(1..=8)).min(bytes.len());
                    let ff = rng.random_bool(0.5);
                    for b in &mut bytes[at..end] {
                        *b = if ff { 0xff } else { rng.random() };
                    }
                }
                (bytes, true)
            }
        };
        let disk =
            Disk::holding(&bytes).map_err(|p| p.within(format_args!("{} bytes", bytes.len())))?;
        for mode in MODES {
            let what = format!(
                "reading {} {} bytes under {mode:?}",
                if written {
                    "a log with overwritten runs,"
                } else {
                    "random"
                },
                bytes.len()
            );
            let (read, error) = read(format, &disk.sim, &disk.path, mode)?;
            if let Some(e) = error {
                damage(&what, &e)?;
            }
            if written {
                match mode {
                    RecoveryMode::SkipCorrupted => {
                        subsequence_of(&what, &read.records, &script.records)?;
                    }
                    _ => prefix_of(&what, &read.records, &script.records)?,
                }
            }
        }
        Ok(())
    })
}

/// Bytes that were never a log, and a log with bytes overwritten, for each of
/// [`HOSTILE_SEEDS`]: read in every mode, nothing panics, no error but damage, and no
/// record comes back that was not written.
///
/// # Errors
///
/// The first [`Failure`], with its seed.
pub fn hostile_bytes(format: &dyn LogFormat) -> Result<(), Failure> {
    HOSTILE_SEEDS
        .into_iter()
        .try_for_each(|s| hostile_bytes_seed(format, s))
}
