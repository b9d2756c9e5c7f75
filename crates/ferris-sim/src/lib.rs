//! # ferris-sim: deterministic simulation
//!
//! ## The problem
//!
//! The engine's tests each check one thing: a model test runs random operations against a
//! `BTreeMap` with no crash; a power-cut test crashes a fixed workload at chosen points.
//! The bugs that hurt storage engines live where these meet: a power cut *inside* a
//! compaction that runs while a snapshot pins old versions, a manifest switch torn halfway
//! through a flush that a reopen had just started, a reverse scan over a level that a
//! compaction is replacing. No one writes those tests by hand; there are too many of them.
//!
//! The answer of FoundationDB, TigerBeetle and sled is *simulation*: run the whole system
//! on a simulated disk, drive it with a random workload drawn from a seed, cut the power
//! at a random moment, and check the outcome against a model. Then do it for thousands
//! of seeds. A failure is one number, the seed, and replaying the seed replays the
//! workload.
//!
//! ## The design
//!
//! A seed expands ([`Workload::generate`], a pure function) into three things:
//!
//! - a [`Setup`]: the engine's settings, all tiny (a memtable of 2 to 8 KiB, tables of a
//!   few KiB, a manifest rotated after a few hundred bytes), leveled or tiered compaction,
//!   one or two compaction threads, idle work on or off, synced writes or not. Small
//!   settings make a few hundred operations do dozens of flushes, compactions and
//!   manifest switches;
//! - a list of [`Op`]s over a small key space (8 to 128 keys, so overwrites and deletes
//!   keep colliding in every level): puts, deletes, atomic batches, gets, scans both
//!   ways, snapshots and reads through them, flushes, full and ranged compactions, WAL
//!   syncs and reopens. Every value names the step that wrote it (`s000042.0:aaaa`), so a
//!   value read back says where it came from. Between them, about one step in seven
//!   ([`KEYSPACE_SHARE`], drawn from a generator of its own so the main operations are
//!   what they were before keyspaces existed) works on [`KEYSPACES`]: creating and dropping
//!   `red`, `green` and `blue` (names come back after a drop), puts, deletes, gets and
//!   scans in them, batches across several keyspaces, snapshot reads of one, and writes
//!   and reads through the handle of a dropped keyspace, which must fail with its typed
//!   error and change nothing. About one step in twelve more ([`TTL_SHARE`], from a third
//!   generator) writes values that expire: see [Expiring values](#expiring-values-ttl)
//!   below; and about one in twelve more ([`TXN_SHARE`], from a fourth) is a
//!   transaction: see [Transactions](#transactions) below;
//! - where the power fails, one to three times ([`SimConfig::max_cuts`]): the first cut
//!   after `n` file-system operations counted from the first `Db::open`, whichever thread
//!   performs them; each later one counted from the restart before it, and a third of
//!   the time small enough to land inside the recovery itself. The
//!   [`ferris_fs::SimFs`] is seeded by the same seed and decides what the "disk" keeps of
//!   the unsynced data at each cut.
//!
//! [`run_seed`] then runs the operations from one thread against [`ferris_engine::Db`] on
//! the simulated disk, and beside it a model:
//!
//! ```text
//!   history:  ... w40 w41 │ w42  w43  w44 │ ✂ power cut (step 45, inside a compaction)
//!                          │              │
//!                last durability point    every write issued since: "in doubt"
//!                (an acknowledged synced write, a flush, a compaction,
//!                 a WAL sync, a clean close)
//!
//!   after the restart the database must hold exactly one of:
//!       durable, durable+w42, durable+w42+w43, durable+w42+w43+w44
//! ```
//!
//! While the workload runs, every read must match the model exactly: a get, a scan
//! forwards and backwards, and reads through snapshots taken earlier, which must keep
//! seeing their moment while flushes and compactions rewrite the tables beneath them.
//! A clean reopen must give back exactly the model.
//!
//! The power cut stops the disk: every later operation fails, in whichever thread. The
//! workload stops at the first error that the cut explains (an error with the power on is
//! a failure). Then the disk "restarts" (a crash decides what survived), the database is
//! opened again with the same options, and the harness checks:
//!
//! 1. it opens at all, and reads back the same way by full scans forwards and backwards
//!    and by a get of every key ([`FailureKind::RecoveryFailed`],
//!    [`FailureKind::WrongRead`]);
//! 2. what it holds, every keyspace `Db::list_keyspaces` names and each one's contents,
//!    is a **prefix** of the history: the state at the last durability point with the
//!    first `j` writes in doubt applied, for some `j`. So every write acknowledged as
//!    durable is there ([`FailureKind::LostWrite`] otherwise), and no write is there
//!    without every write before it ([`FailureKind::Hole`]); a batch across keyspaces is
//!    all there or not at all. A keyspace's creation or drop is durable when the call
//!    returns, unsynced writes before it or not, so in every prefix the acknowledged ones
//!    are applied: a created keyspace never vanishes, a dropped one never comes back;
//! 3. `Db::verify` finds no damage in its files ([`FailureKind::Damaged`]).
//!
//! Before that open, the state the cut left is opened with `Db::open_read_only`, as a
//! reader beside a crashed writer would, and read whole the same way. It must open (a
//! directory the first open left unfinished reads as the empty database the recovery
//! will create), make no call through the probe that changes the disk and leave every
//! file's bytes as they were, and read exactly what the recovery that follows reads
//! ([`FailureKind::ReadOnly`]). It runs before the next cut is planned, so the cut counts
//! are what they were without it.
//!
//! What it recovered becomes the model's state, durable (it was on the disk when the
//! power came back, so a later cut must not lose it), and the workload goes on from the
//! step after the one the cut interrupted, towards the next cut. When the planned cuts
//! run out the workload runs to its end, the disk is crashed there, wherever the
//! background work has got to, and after the same checks one last one:
//!
//! 4. the recovered database takes a write, and keeps it across a clean reopen
//!    ([`FailureKind::AfterRecovery`]).
//!
//! Nothing may panic: the workload runs under `catch_unwind`, and a panic hook records
//! panics in the engine's own threads (`ferris-flush`, `ferris-compact-N`, `ferris-idle`),
//! which `Db::close` would otherwise only log. Either is a [`FailureKind::Panic`] or
//! [`FailureKind::BackgroundPanic`] failure naming the seed.
//!
//! The file system the engine sees is a thin probe in front of the `SimFs` that notes
//! which operation the cut landed on, in which thread and on which file ([`CutSite`]), so
//! a campaign can say how many cuts landed inside flushes, compactions and manifest
//! switches.
//!
//! ## Expiring values (TTL)
//!
//! The database reads the time from a simulated clock the run owns
//! (`ferris_engine::ManualClock` in `Options::clock`), which starts at [`CLOCK_START`]
//! for every seed and moves before every step by an amount the seed drew
//! ([`Workload::ticks_ms`]): mostly a few milliseconds, sometimes seconds, past most
//! times to live, and before half the compactions that much, so compactions meet
//! values that expired since they were written. The clock is no part of the disk: a
//! power cut does not turn it back, and what expired before the cut stays expired.
//!
//! Which keyspaces expire is part of the [`Setup`] ([`Setup::ttl`]): `green` always,
//! with a default time to live; `blue` in half the seeds, with none; the default
//! keyspace in four seeds in ten, half of them with a default; `red` never. Plain puts and
//! batches into them take the default, and [`Op::PutWithTtl`] and [`Op::BatchWithTtl`]
//! give values a time to live of their own (`put_with_ttl`, `put_with_ttl_in`), from
//! zero (expired at once) to well past the workload's end; one into a keyspace that does
//! not expire must be refused with `LimitError::TtlNotEnabled` and change nothing.
//!
//! The model keeps every value with the expiry time the engine gives it
//! (`ferris_core::expiry::expires_at` of the clock's reading and the time to live, fixed
//! at the write), and every check compares against what a reader sees at a moment:
//! gets and scans at the clock's reading, snapshots at the moment each was taken (they
//! must keep reading a value that has expired since), a checkpoint and a reopen at the
//! reading of their step. After a power cut, a prefix of the history is compared as a
//! reader sees it *now*: a value that expired during the outage is absent in every
//! prefix, and the WAL replay must restore each surviving value's own expiry time, not a
//! later one (the model goes on with the prefix's expiry times, so a wrong one shows at
//! a later read). Compactions run the engine's `ExpiryFilter` over expired values, and
//! every check after them must still hold; [`SeedReport::expired_before_compactions`]
//! counts what expired before each compaction call.
//!
//! ## Transactions
//!
//! An [`Op::Txn`] runs one transaction ([`TxnOp`]): `Db::transaction_with`, serializable
//! or (one in five) snapshot isolation, its commit synced as the database's writes are,
//! or explicitly synced or not ([`TxnOp::sync`]). Its steps ([`TxnStep`]) are point
//! reads (some of them snapshot reads, which record no conflict range), scans both ways,
//! puts and deletes, across the default keyspace and whichever of the others are live.
//! Every read is checked against the model as the transaction must see it: the state at
//! its read version, with its own earlier writes laid over it (read-your-writes, in
//! scans too). Then, as [`TxnOutcome`] says:
//!
//! - **commit**: the commit is one write of every key it wrote to the [history](#the-design):
//!   in doubt until a durability point (its own, if synced), then after a cut all of it
//!   or none, never part; the commit version must lie past the read version by at least
//!   the keys written;
//! - **drop**: the transaction is dropped uncommitted; a get of every key it wrote must
//!   read the model's value, and since nothing was issued to the history, any of its
//!   values found after a cut is a value never written ([`FailureKind::LostWrite`]);
//! - **interfere**: a plain write outside the transaction comes between two of its
//!   steps (its later reads must not see it), then the commit. The workload is one
//!   thread, so the model knows every write between begin and commit, and predicts the
//!   outcome exactly: under serializable isolation the commit conflicts iff it writes
//!   something and the plain write touched a key it read (not one it had written first,
//!   whose read came from its own buffer) or a key in a range it scanned; under snapshot
//!   isolation iff the plain write touched a key it writes. A conflict must be
//!   `TxnError::Conflict` and write nothing; a wrong outcome either way is a
//!   [`FailureKind::Conflict`].
//!
//! The transaction generator draws its own clock ticks too, so with the transactions
//! taken out a seed's workload is exactly what it was before they existed (a unit test
//! compares digests). [`SeedReport::txns`] counts what the transactions did.
//!
//! ## Example
//!
//! ```
//! use ferris_sim::{SimConfig, run_seed};
//!
//! let config = SimConfig::default();
//! for seed in 0..3 {
//!     let report = run_seed(seed, &config)?;
//!     assert!(report.writes_recovered <= report.writes_in_doubt);
//! }
//! # Ok::<(), ferris_sim::SimFailure>(())
//! ```
//!
//! ## Replaying a failing seed
//!
//! A failure prints its seed and a command:
//!
//! ```text
//! FAIL seed 1234: lost write: after restart 1: 1 key(s) hold what no prefix allows:
//!      k0007: recovered s000031.0:ffff, durable s000052.0:zzzz (last durable point at
//!      step Some(52); 0 write(s) in doubt after it (steps []))
//!      replay: cargo xtask sim --seeds 1 --start 1234
//! ```
//!
//! `cargo xtask sim --seeds 1 --start 1234 --verbose` prints the seed's setup and every
//! operation, then runs it and prints its [`SeedReport`] (where each cut landed). From a
//! test, `run_seed(1234, &SimConfig::default())` does the same. The seed's workload
//! (settings, operations and cut points) is the same on every run. Add a regression test
//! named after the bug that runs the seed, or better, a hand-written minimal workload
//! built from what the seed showed.
//!
//! ## Other memtables, table formats and strategies
//!
//! The engine takes its memtable, table format and compaction strategy through options,
//! and each has a second implementation. [`SimConfig::components`] plugs them in
//! ([`Components`]): the seed's workload stays the same, only the engine under it
//! changes, and a failure's replay command names the components it ran with.
//!
//! ```text
//! cargo xtask sim --seeds 2000 --memtable btree          # ferris_memtable::BTreeFactory
//! cargo xtask sim --seeds 2000 --table-format minitable  # ferris_minitable::MinitableFormat
//! cargo xtask sim --seeds 2000 --strategy fifo           # ferris_fifo::Fifo, for every seed
//! ```
//!
//! FIFO runs with a cap no seed reaches ([`FIFO_CAP`]): the model expects every write to
//! stay, and a table dropped by design would look like a lost write. So FIFO here merges
//! nothing and drops nothing, and what the seeds test is an engine whose level 0 only
//! grows. Nor does it run the `ExpiryFilter` (it compacts nothing): with FIFO, expired
//! values are hidden by reads alone. CI runs the 2,000 seeds with the defaults and again with each second
//! implementation (`tests/it/campaign.rs`, which says what that costs).
//!
//! # Determinism: what replays and what does not
//!
//! The *workload* is a pure function of the seed and the [`SimConfig`]: the same
//! operations, the same settings, the same cut points, on every run of the same build
//! (`rand`'s `SmallRng` may change between versions). [`Workload::digest`] makes it easy
//! to compare. The `SimFs` is seeded too, so a crash of the same file-system state
//! keeps the same bytes.
//!
//! The *schedule* is not. The engine flushes and compacts on background threads, which
//! the operating system schedules as it likes, so the file-system operation numbered `n`
//! is not always the same operation, and the cut may land in a flush on one run and in a
//! write on the next. A failing seed therefore replays the same workload and the same cut
//! *counts*, which usually reproduces the failure, but a bug that depends on a rare
//! interleaving may need a few replays (or a loop over the one seed). Making the schedule
//! deterministic too would need the engine to run its background work on a scheduler the
//! simulation controls, as FoundationDB's does; FerrisDB's threads are plain OS threads.
//!
//! # Limits
//!
//! - One workload thread: writes are never concurrent, so group commit and the write
//!   queue's races are not exercised here (the engine's concurrency tests cover them).
//!   With synced writes, at most one write is in doubt at a cut; with unsynced writes
//!   many are, which is where the prefix check has the most to say.
//! - Power cuts only, no injected I/O errors (`SimFs::inject`): a failed fsync is a
//!   different promise (poisoning) with its own tests.
//! - A hang is not detected: a seed that deadlocks the engine hangs its test.
//!   `cargo xtask sim` prints the seeds still running when progress stalls, which names
//!   the culprit.
//! - A panic in a background thread is pinned on a seed by the threads that used the
//!   seed's file system. A panicking thread that never touched it (possible only before
//!   its first I/O) is blamed on every seed running at the time; a replay of one seed
//!   settles it.
//! - The state space is small on purpose (tiny options, few keys); a bug that needs
//!   large tables or deep levels will not show here.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 9. Try each exercise first.
//!
//! 1. Run `cargo xtask sim --seeds 200 --verbose` and pick a seed whose cut landed inside
//!    a compaction. Replay it with `--start SEED --seeds 1`: does the cut land in the same
//!    place? Why might it not?
//! 2. Make the engine lose a write on purpose (in `ferris-engine`'s `write.rs`, append
//!    every group with `SyncMode::Manual`, so a durable write is acknowledged without its
//!    fsync) and run `cargo test -p ferris-sim`. How many seeds fail, and what does the
//!    first report say? (A bug that needs two threads to show, such as publishing the
//!    sequence number before the WAL append returns, is invisible here: the simulation
//!    runs its operations from one thread.)
//! 3. Why does the prefix check accept a state that holds *more* than the last durable
//!    acknowledgement, but never one with a hole?
//!
//! ## What to read next
//!
//! Chapter 10, `ferris-crash`: acknowledged writes checked again, against a real process
//! on a real file system killed with SIGKILL, which tests what a simulated disk cannot.
//! Beside it: `ferris_fs::SimFs` for the disk model (what a power cut keeps, what a torn
//! write looks like); `ferris-engine`'s `tests/it/power_cut.rs` for the exhaustive version over one
//! fixed workload; and `xtask/src/sim.rs` for the campaign runner.

#![forbid(unsafe_code)]

mod components;
mod model;
mod panics;
mod probe;
mod run;
mod workload;

pub use components::{
    CompactionStrategy, Components, FIFO_CAP, MemtableKind, TableFormatKind, UnknownComponent,
};
pub use probe::{CutSite, FileKind, Role};
pub use run::{
    DIR, FailureKind, SeedReport, SimConfig, SimFailure, TxnCounts, run_seed, run_workload,
};
pub use workload::{
    BatchEntry, CLOCK_START, FS_OPS_PER_OP, KEYSPACE_SHARE, KEYSPACES, Op, Setup, TTL_SHARE,
    TXN_SHARE, TxnOp, TxnOutcome, TxnStep, Workload, key, value,
};
