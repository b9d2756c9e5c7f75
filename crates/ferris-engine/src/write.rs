//! The write path: a queue of writers whose front one leads a group, LevelDB-style.
//!
//! Writers line up in a queue. The writer at the front becomes the leader: it takes the
//! batches queued behind it (up to a size limit), assigns them consecutive sequence
//! numbers, writes them to the WAL as one record with at most one fsync, inserts them into
//! the memtable, and publishes the new last sequence number. Then it hands each follower
//! its result and the next writer at the front leads the next group. One record per group
//! keeps the WAL in sequence-number order, so a crash always leaves a prefix of history.
//!
//! # Waiting for the leader
//!
//! A writer behind the leader waits for the group to finish. Without sync, a group takes
//! a few microseconds, less than putting a thread to sleep and waking it, so such a writer
//! first yields the processor in a loop, watching a counter of finished groups, for up to
//! `ferris_wal::group::SPIN`; only then does it sleep on a condition variable. A leader
//! wakes sleepers only when there are some, so a queue of spinning writers costs no system
//! call beyond the yields. A durable writer sleeps at once: its group takes an fsync, and
//! spinning through it would take the processor from the leader. The queue is
//! `ferris_wal::group::GroupQueue`, which does the waiting, the grouping and the handing
//! back of results; this module says what a group does. `docs/benchmarks.md` has what
//! the waiting measured.
//!
//! # Gathering the writers a sync just released
//!
//! A leader about to write a durable group first waits, briefly, for the writers the
//! last durable group released to queue again, so that both halves of the writers share
//! one fsync instead of taking turns (`ferris_wal::group` explains the turns and the
//! wait; the WAL's own group commit does the same one level down).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferris_compaction::WritePressure;
use ferris_core::WriteBatch;
use ferris_wal::group::{GroupJob, GroupQueue};
use ferris_wal::{SyncMode, Wal};

use crate::db::Shared;
use crate::error::Result;

/// A group stops growing at this many encoded bytes (beyond its leader's own batch), so a
/// small write never waits behind megabytes of others.
const MAX_GROUP_BYTES: usize = 1 << 20;

/// What a queued writer wants done.
#[derive(Debug)]
pub(crate) enum Job {
    /// Write a batch.
    Write { batch: WriteBatch, sync: bool },
    /// Freeze the memtable (if it holds anything) so it will be flushed; yields the id of
    /// the newest frozen memtable.
    Freeze,
}

impl GroupJob for Job {
    fn durable(&self) -> bool {
        matches!(self, Job::Write { sync: true, .. })
    }

    /// Writes join a write's group; a freeze leads alone.
    fn joins(&self, lead: &Job) -> Option<usize> {
        match (lead, self) {
            (Job::Write { .. }, Job::Write { batch, .. }) => Some(batch.as_bytes().len()),
            _ => None,
        }
    }
}

/// The write controller: the queue, the WAL, and the sequence number reads see.
#[derive(Debug)]
pub(crate) struct Writes {
    /// Writers line up here; the one at the front leads a group (see the module docs).
    pub(crate) queue: GroupQueue<Job, Result<u64>>,
    pub(crate) wal: Wal,
    /// The last sequence number whose write is fully in the memtable: what reads see.
    pub(crate) last_seq: AtomicU64,
}

impl Writes {
    pub(crate) fn new(wal: Wal, last_seq: u64) -> Writes {
        Writes {
            queue: GroupQueue::new(MAX_GROUP_BYTES),
            wal,
            last_seq: AtomicU64::new(last_seq),
        }
    }

    /// The sequence number a read starting now sees.
    pub(crate) fn visible(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }
}

impl Shared {
    /// Queues `job`, and either waits for a leader to do it or leads a group that does.
    /// Returns the job's result: for a freeze, the id of the newest frozen memtable.
    pub(crate) fn submit(&self, job: Job) -> Result<u64> {
        self.writes.queue.submit(job, |group| match &group[0] {
            Job::Freeze => (self.freeze_memtable(true), None),
            // Only the WAL write and fsync count as the group's time, not a stall for flow
            // control or a flush: the next leader may wait for half of it.
            Job::Write { .. } => match self.write_group(group) {
                Ok(wal_time) => (Ok(0), wal_time),
                Err(e) => (Err(e), None),
            },
        })
    }

    /// Writes a group of batches as one WAL record, then applies it to the memtable.
    /// Returns how long the WAL write and its fsync took, if the group was synced.
    fn write_group(&self, group: &mut [Job]) -> Result<Option<Duration>> {
        self.work.check()?;
        self.flow_control()?;
        // Only a full memtable needs freezing.
        if self.versions.current().mem.approximate_size() >= self.env.options.write_buffer_size {
            self.freeze_memtable(false)?;
        }
        // The followers' batches are appended to the leader's, in place: no new batch.
        let (lead, followers) = group.split_first_mut().expect("a group has a leader");
        let Job::Write { batch, sync } = lead else {
            unreachable!("write_group runs only for writes");
        };
        let mut sync = *sync;
        for job in followers {
            let Job::Write {
                batch: theirs,
                sync: s,
            } = job
            else {
                unreachable!("groups hold only writes after the first job");
            };
            sync |= *s;
            batch.append(theirs);
        }
        let last = self.writes.visible();
        batch.set_seq(last + 1);
        let mode = if sync {
            SyncMode::Always
        } else {
            SyncMode::Manual
        };
        let started = sync.then(Instant::now);
        self.writes
            .wal
            .append_with(batch.as_bytes(), mode)
            .map_err(|e| self.work.poisoned_by(e.into()))?;
        let wal_time = started.map(|t| t.elapsed());
        let user_bytes = self.versions.current().mem.apply(batch.iter());
        // Only now may readers see the group: every entry is in the memtable.
        self.writes
            .last_seq
            .store(last + batch.len() as u64, Ordering::Release);
        self.stats
            .user_bytes
            .fetch_add(user_bytes, Ordering::Relaxed);
        Ok(wal_time)
    }

    /// Holds writes back as the compaction strategy asks (RocksDB's write stalls): a
    /// millisecond per group while it asks to slow down, so writers keep going at a pace
    /// compaction can follow; nothing at all while it asks to stop, until a compaction
    /// changes its mind. The leveled and tiered strategies ask by level-0 table count and
    /// pending compaction bytes (`CompactionOptions`' triggers).
    fn flow_control(&self) -> Result<()> {
        let pressure = || self.versions.current().version.pressure;
        match pressure() {
            WritePressure::Stop => {
                let start = Instant::now();
                self.stats.stalls.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("writes stopped: the compaction strategy waits for compaction");
                self.work
                    .wait_for(|_| (pressure() != WritePressure::Stop).then_some(()))?;
                let micros = start.elapsed().as_micros() as u64;
                self.stats.stall_micros.fetch_add(micros, Ordering::Relaxed);
                tracing::info!(micros, "writes resumed after compaction caught up");
            }
            WritePressure::Slowdown => {
                self.stats.slowdowns.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
            _ => {}
        }
        Ok(())
    }

    /// Freezes the active memtable when it is full (or, with `force`, when it holds
    /// anything), stalling first while too many frozen ones wait for the flush thread.
    /// Returns the id of the newest frozen memtable. Runs only in a write-group leader, so
    /// no other thread freezes meanwhile.
    pub(crate) fn freeze_memtable(&self, force: bool) -> Result<u64> {
        let options = &self.env.options;
        let mut stalled: Option<Instant> = None;
        loop {
            let sv = self.versions.current();
            let full = sv.mem.approximate_size() >= options.write_buffer_size;
            if !(full || force && !sv.mem.is_empty()) {
                break;
            }
            if sv.frozen.len() >= options.max_immutable_memtables.max(1) {
                if stalled.is_none() {
                    tracing::warn!(
                        frozen = sv.frozen.len(),
                        "writes stalled: flushing has fallen behind"
                    );
                    stalled = Some(Instant::now());
                    self.stats.stalls.fetch_add(1, Ordering::Relaxed);
                }
                let limit = options.max_immutable_memtables.max(1);
                self.work
                    .wait_for(|_| (self.versions.current().frozen.len() < limit).then_some(()))?;
                continue;
            }
            self.work.check()?;
            let next_log = self
                .writes
                .wal
                .rotate()
                .map_err(|e| self.work.poisoned_by(e.into()))?;
            self.versions.freeze(&self.env, next_log);
            self.work.notify();
            if force {
                break;
            }
        }
        if let Some(start) = stalled {
            let micros = start.elapsed().as_micros() as u64;
            self.stats.stall_micros.fetch_add(micros, Ordering::Relaxed);
            tracing::info!(micros, "writes resumed after a stall");
        }
        // Not the newest memtable still frozen: the flush thread may have installed it
        // and not yet counted it flushed, and a caller waiting for an older id would
        // return before the flush had finished.
        Ok(self.versions.last_frozen_id())
    }
}
