//! # ferris-crash: killing a real process
//!
//! ## The problem
//!
//! The engine's power-cut tests (`ferris-engine/tests/it/power_cut.rs`, `ferris-sim`) run
//! on `ferris_fs::SimFs`, an in-memory file system that forgets every write not yet
//! fsync'd. They are exact and replayable, but they test the engine against a *model* of
//! a disk, through the engine's own file-system trait. Nothing in them proves that the
//! real program, on a real file system, with its real threads, survives being killed.
//!
//! That is what this crate does. `SIGKILL` cannot be caught or delayed: the process stops
//! between two instructions, wherever its threads are (in the middle of a flush, a
//! compaction, a WAL rotation, an open). What it does **not** lose is anything the process
//! had already handed to the kernel: a `write` that returned is in the page cache, and the
//! page cache outlives the process. So after a kill:
//!
//! - every write the engine acknowledged with `sync_writes` must be there, and so must
//!   every write it acknowledged without (it reached the page cache);
//! - a write in flight at the kill may or may not be there, but a batch is whole or absent;
//! - the database must open: half-written tables, manifests and WAL records are leftovers
//!   that recovery tidies, never a corruption error.
//!
//! ## The design
//!
//! ```text
//!   parent (crash_loop)                       child (ferris-crash-child)
//!   ───────────────────                       ──────────────────────────
//!   spawn child on DIR ─────────────────────▶ Db::open(DIR), small memtables
//!                                             print "ready"
//!                        ◀── "ack 0 0" ────── 3 writers: put / delete / batch,
//!   record acks          ◀── "ack 2 0" ────── flush, compact_range, pause;
//!                        ◀── "stats 1 3 …" ── after each Ok, print "ack <thread> <op>"
//!   at a random moment:  SIGKILL ───────────▶ ✝
//!   drain the pipe (acks written before the kill still count)
//!   Db::open(DIR), read every key, check against the model, Db::verify (some cycles)
//!   carry the model into the next cycle
//! ```
//!
//! **The workload is a pure function.** Operation `n` of thread `t` in cycle `c` is
//! [`Workload::op`]`(c, t, n)`, drawn from a generator seeded with the run's seed and
//! those three numbers. The child performs it; the parent regenerates it. So the child's
//! only report is `ack <t> <n>`, a few bytes, and every value names its key and the write
//! that made it (`t1-000042@7.1.311#xxxx…`): a value found on disk says where it came from.
//!
//! **An acknowledgement is a line the parent read.** The child prints it after the write
//! returned `Ok`, in one `write` call (pipe writes under `PIPE_BUF` are atomic), and
//! flushes before the next write starts. A line in the pipe when the child dies is still
//! read by the parent; a line cut short is ignored, so its write counts as in flight.
//!
//! **Each thread owns its keys** (`t<thread>-<n>`), so the order of the writes to a key is
//! the order of one thread's stream, and at most one write per thread is in flight at a
//! kill. Half the writes go to 32 hot keys per thread, so keys are overwritten and deleted
//! over and over, across flushes and compactions. The threads share the engine's write
//! queue: their writes are grouped into one WAL record and one fsync.
//!
//! **Keys live in three keyspaces** ([`KEYSPACES`]): key `n` of every thread is in
//! `default`, `red` or `blue` by `n % 3` ([`Workload::keyspace_of`]), so puts and deletes
//! go through three keyspace handles and most batches span keyspaces (one WAL record with
//! entries flagged with their keyspace). The child creates `red` and `blue` before it
//! reports `ready`, and the parent after every check, so from then on they must survive
//! every kill. The loop neither drops keyspaces nor creates them while writers run: each
//! thread's keys must keep a home for the oracle to trace them; `ferris-sim` covers drops
//! and creations under power cuts.
//!
//! **Some writes are transactions** ([`Op::Transfer`]). Each thread also owns
//! [`ACCOUNTS`] accounts, keys past its others, spread over the keyspaces like them,
//! which only transfers write: a transaction reads two of them, writes both back with an
//! amount moved from one to the other (each value names the transfer and holds the new
//! balance), holds open for up to half a millisecond, and commits. A quarter of them hold
//! longer and are then dropped uncommitted. What a transfer writes depends on what it
//! read, so the parent computes it from its model ([`Model::effects`]): the thread owns
//! the accounts, so the model holds what the transaction must have read, and a wrong
//! read shows as values the model does not expect.
//!
//! **Everything is small** ([`db_options`]): 32 KiB memtables, 16 KiB WAL segments,
//! 32 KiB tables, an 8 KiB manifest, a 128 KiB level 1 growing 4× per level, two
//! compaction threads, and idle work after 20 ms. With syncs on, a child flushes and
//! compacts several times a second, so random kills land in them. Every fourth cycle turns
//! `sync_writes` off (a write then returns once it is in the page cache, which a SIGKILL
//! does not touch: those must survive too), odd cycles write zstd-compressed tables, and
//! thread 0 sometimes pauses all writers for longer than `idle_after`, so the idle flush
//! and compaction are killed too.
//!
//! **Kills are aimed** ([`Aim`]). Every cycle draws a plan from the seed: kill within the time
//! the last open took (the child is still recovering), at a random moment, or a moment after
//! the child reports a frozen memtable (a flush) or a full level 0 (a compaction). The
//! child reports its counters every millisecond when they change; that is how the parent
//! knows, and how the report counts what each kill interrupted.
//!
//! ## What is checked
//!
//! After every kill the parent reopens the database (the open must succeed), lists its
//! keyspaces (every one created must be there, and no other), reads every keyspace by a
//! forward scan, a backward scan and a point `get` for every key the workload can write
//! (all three must agree, and each key must be in its own keyspace), and checks the
//! contents of all of them together with [`check`]:
//!
//! - each key holds what the acknowledged writes say (the last put's value, or nothing
//!   after a delete), or what the one in-flight write of its thread would make it;
//! - an in-flight batch, or an in-flight transaction's commit, shows in all its keys or
//!   none, across keyspaces, and a transaction dropped uncommitted (in flight at the
//!   kill, begun and held open, or acknowledged) shows in none;
//! - each thread's accounts sum to zero: a check of every transfer's wholeness that
//!   needs no model;
//! - nothing else: no value that was never written, no older value, no deleted key back.
//!
//! The contents found become the model for the next cycle, so a write that survived one
//! kill must survive every later one. Every few cycles, and after the last, `Db::verify`
//! reads every live file back and must find no problem.
//!
//! While the child runs, once per cycle at a moment drawn from the seed, the parent also
//! opens the database with `Db::open_read_only` beside it, without the lock the child
//! holds, and reads every keyspace. The open must succeed or fail with
//! `Error::ConcurrentChange` (the child changed the database under every attempt: counted,
//! not a failure); any other error fails the cycle. What it read is checked after the kill
//! with [`check_live`]: each thread's keys must show one prefix of its writes, at least
//! every write acknowledged before the open and at most what the thread had begun by the
//! kill, so a torn batch, a lost write or a mix of two moments fails the cycle.
//!
//! ## Example
//!
//! The oracle is a pure function, so its rules can be shown without killing anything. Here
//! an acknowledged put goes missing, and [`check`] names it:
//!
//! ```
//! use std::collections::BTreeMap;
//! use ferris_crash::{Model, Op, Workload, WriteId, check};
//!
//! let workload = Workload { seed: 1, threads: 1, keys_per_thread: 100 };
//! // What the database should hold after thread 0's first 50 operations of cycle 0.
//! let mut model = Model::default();
//! for op in 0..50 {
//!     model.apply(WriteId { cycle: 0, thread: 0, op }, &workload.op(0, 0, op));
//! }
//! let mut found: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
//! for key in workload.keys(0) {
//!     if let Some(value) = model.value(&key) {
//!         found.insert(key, value.to_vec());
//!     }
//! }
//! assert!(check(&Model::default(), &workload, 0, &[50], &found).is_ok());
//!
//! // Lose one acknowledged value: the check fails and says whose write it was.
//! let (key, _) = found.pop_first().unwrap();
//! let problems = check(&Model::default(), &workload, 0, &[50], &found).unwrap_err();
//! assert!(problems[0].contains(&String::from_utf8_lossy(&key).into_owned()));
//! assert!(problems[0].contains("written by cycle 0 thread 0"));
//! # let _ = Op::Flush;
//! ```
//!
//! The loop itself needs the child binary, so the example below is compiled but not run
//! as a doctest. Its executable counterpart is `cargo test -p ferris-crash`, whose
//! integration test (`tests/it/crash_loop.rs`) runs a short [`crash_loop`] against the
//! child binary cargo builds for it; `cargo xtask crash-test` builds the child and runs
//! the long one:
//!
//! ```no_run
//! use std::path::Path;
//! use ferris_crash::{CrashConfig, crash_loop};
//!
//! let mut config = CrashConfig::new("/tmp/crash-db", 42);
//! config.cycles = 10;
//! let report = crash_loop(&config, Path::new("target/release/ferris-crash-child"), &mut |c| {
//!     println!("cycle {}: {} writes acknowledged", c.cycle, c.acked_writes);
//! })?;
//! println!("{report}");
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! ## How to run it
//!
//! ```sh
//! cargo xtask crash-test                       # 100 cycles, a random seed, a temp dir
//! cargo xtask crash-test --cycles 500 --seed 7 --dir /mnt/ext4/crash
//! cargo test -p ferris-crash                   # the short version CI runs
//! ```
//!
//! ## Other memtables, table formats and strategies
//!
//! [`CrashConfig::components`] plugs a second implementation of a part into the child and
//! into the parent's reopen ([`ferris_sim::Components`], the same flags `cargo xtask sim`
//! takes; the child gets them on its command line):
//!
//! ```sh
//! cargo xtask crash-test --cycles 300 --memtable btree
//! cargo xtask crash-test --cycles 300 --table-format minitable
//! cargo xtask crash-test --cycles 60 --strategy fifo
//! ```
//!
//! FIFO runs with [`ferris_sim::FIFO_CAP`], a cap no run reaches, so it never drops a
//! table the model expects to find: it merges nothing, and level 0 only grows (FIFO does
//! not slow writes for a long level 0). Every cycle's check then reads through more
//! overlapping tables than the last, so a FIFO loop slows as it goes: hence fewer cycles. `cargo test -p ferris-crash` runs the short loop with
//! the defaults and with each second implementation.
//!
//! A failure prints the cycle, the seed and the database directory, which is kept, and
//! every key that is wrong, with the writes involved named by cycle, thread and operation.
//!
//! # Durability
//!
//! What this checks is the engine's promise for a crash of the *process*: every
//! acknowledged write is there after the reopen, and the contents are the acknowledged
//! history plus at most the in-flight write of each thread, never half a batch or half a
//! committed transaction, and nothing of one never committed.
//!
//! # Limits
//!
//! - **SIGKILL is not a power cut.** The page cache survives the kill, so a write that
//!   reached it but was never fsync'd still counts, and a missing fsync goes unnoticed
//!   here. That is why the simulated power cuts exist (`SimFs` drops everything not
//!   synced); the two tests cover each other's blind spots.
//! - The seed fixes the workload and the kill plan, not the instants: where a kill lands
//!   depends on the scheduler, so a failing seed may need a few runs to fail again.
//! - What a kill interrupted is inferred. "Flush under way" means the child's last report
//!   (at most about a millisecond old) showed a frozen memtable; "compaction under way"
//!   means the files show table work (a table's temporary file, `.sst.tmp` or
//!   `.mtb.tmp`, with data in it, or tables the manifest does not list) while no flush
//!   was. Both are estimates, and say so in the report. A temporary file that holds only
//!   zeros is the flush thread's next table, created ahead and not yet written (or one
//!   whose first mebibyte is still in memory): it does not count.
//! - Unix only in spirit: on other systems `Child::kill` is not a signal, and the check
//!   that the child died of SIGKILL (rather than exiting by itself) is skipped.
//! - One machine, one file system: run it on the file system you deploy on.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 10. Try each exercise first.
//!
//! 1. Run `cargo xtask crash-test --cycles 20 --seed 1` twice. Which figures in the
//!    summary repeat exactly, and which change from run to run? Why?
//! 2. With `sync_writes` off, which writes may a SIGKILL lose, and which may a power cut
//!    lose? Which of the two does this crate test?
//! 3. Kill the child with SIGTERM instead of SIGKILL (change `parent.rs`). What does a
//!    graceful signal let the engine do that makes the test weaker?
//!
//! ## What to read next
//!
//! `ferris-engine`'s `# Durability` section and `tests/it/power_cut.rs` for the simulated
//! power cuts, and `ferris-sim` for the deterministic simulation. The next chapter,
//! `ferris-txn`, turns from surviving crashes to surviving concurrency: transactions
//! that commit only if nothing they read has changed.

#![forbid(unsafe_code)]

mod child;
mod model;
mod parent;
mod workload;

pub use child::child_main;
pub use model::{Checked, Model, check, check_live};
pub use parent::{Aim, CrashConfig, CrashReport, CycleReport, crash_loop};
pub use workload::{
    ACCOUNTS, KEYSPACES, L0_TRIGGER, Op, Workload, WriteId, balance, db_options, parse_value,
};
