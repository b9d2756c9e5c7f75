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
//! [`SPIN`]; only then does it sleep on a condition variable. A leader wakes sleepers
//! only when there are some, so a queue of spinning writers costs no system call beyond
//! the yields. A durable writer sleeps at once: its group takes an fsync, and spinning
//! through it would take the processor from the leader. The WAL's own group commit waits
//! the same way, through the same [`Handoff`]. `docs/benchmarks.md` has what this
//! measured.
//!
//! # Gathering the writers a sync just released
//!
//! A leader about to write a durable group first waits, briefly, for the writers the
//! last durable group released to queue again, so that both halves of the writers share
//! one fsync instead of taking turns (`ferris_wal::group` explains the turns and the
//! wait; the WAL's own group commit does the same one level down).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ferris_compaction::WritePressure;
use ferris_core::WriteBatch;
use ferris_wal::group::{GroupPacer, Handoff, SPIN, gather};
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

#[derive(Debug)]
struct Waiter {
    ticket: u64,
    job: Job,
}

#[derive(Debug, Default)]
struct QueueState {
    waiting: VecDeque<Waiter>,
    /// Results for followers, by ticket.
    done: HashMap<u64, Result<u64>>,
    leader_active: bool,
    /// Tickets, and the last durable group, for the next leader to gather its writers.
    pacer: GroupPacer,
    /// The leader's group buffer, handed back after each group so that leading one does
    /// not allocate.
    spare_group: Vec<Waiter>,
}

/// The write controller: the queue, the WAL, and the sequence number reads see.
#[derive(Debug)]
pub(crate) struct Writes {
    queue: Mutex<QueueState>,
    /// Where writers wait for a leader to finish (see "Waiting for the leader").
    handoff: Handoff,
    pub(crate) wal: Wal,
    /// The last sequence number whose write is fully in the memtable: what reads see.
    pub(crate) last_seq: AtomicU64,
}

impl Writes {
    pub(crate) fn new(wal: Wal, last_seq: u64) -> Writes {
        Writes {
            queue: Mutex::default(),
            handoff: Handoff::default(),
            wal,
            last_seq: AtomicU64::new(last_seq),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The sequence number a read starting now sees.
    pub(crate) fn visible(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    /// Waits until no group is being written and none is queued.
    pub(crate) fn wait_idle(&self) {
        let mut q = self.lock();
        while q.leader_active || !q.waiting.is_empty() {
            q = self.handoff.wait(&self.queue, q, Duration::ZERO);
        }
    }
}

impl Shared {
    /// Queues `job`, and either waits for a leader to do it or leads a group that does.
    /// Returns the job's result: for a freeze, the id of the newest frozen memtable.
    pub(crate) fn submit(&self, job: Job) -> Result<u64> {
        let writes = &self.writes;
        let mut q = writes.lock();
        let ticket = q.pacer.take_ticket();
        // A writer that syncs sleeps at once: see "Waiting for the leader".
        let spin = match job {
            Job::Write { sync: false, .. } => SPIN,
            _ => Duration::ZERO,
        };
        q.waiting.push_back(Waiter { ticket, job });
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result;
            }
            let at_front = q.waiting.front().is_some_and(|w| w.ticket == ticket);
            if at_front && !q.leader_active {
                break;
            }
            q = writes.handoff.wait(&writes.queue, q, spin);
        }
        // Lead: take our own job and, if it is a write, the writes queued behind it.
        q.leader_active = true;
        if let Some(Waiter {
            job: Job::Write { sync: true, .. },
            ..
        }) = q.waiting.front()
        {
            q = gather(&writes.queue, q, |q| &mut q.pacer);
        }
        let lead = q.waiting.pop_front().expect("we are at the front");
        let mut group = std::mem::take(&mut q.spare_group);
        group.push(lead);
        if matches!(group[0].job, Job::Write { .. }) {
            let mut bytes = 0;
            while let Some(Waiter {
                job: Job::Write { batch, .. },
                ..
            }) = q.waiting.front()
            {
                bytes += batch.as_bytes().len();
                if bytes > MAX_GROUP_BYTES {
                    break;
                }
                group.push(q.waiting.pop_front().expect("checked"));
            }
        }
        drop(q);

        let mut wal_time = None;
        let result = match &group[0].job {
            Job::Freeze => self.freeze_memtable(true),
            Job::Write { .. } => self
                .write_group(&mut group)
                .map(|synced| wal_time = synced)
                .map(|()| 0),
        };

        let mut q = writes.lock();
        // Only the WAL write and fsync count as the group's time, not a stall for flow
        // control or a flush: the next leader may wait for half of it.
        q.pacer.released(group.len() as u64, wal_time);
        for waiter in &group[1..] {
            q.done.insert(waiter.ticket, result.clone());
        }
        q.leader_active = false;
        group.clear();
        q.spare_group = group;
        let wake = writes.handoff.finish(&q);
        drop(q);
        if wake {
            writes.handoff.wake();
        }
        result
    }

    /// Writes a group of batches as one WAL record, then applies it to the memtable.
    /// Returns how long the WAL write and its fsync took, if the group was synced.
    fn write_group(&self, group: &mut [Waiter]) -> Result<Option<Duration>> {
        self.work.check()?;
        self.flow_control()?;
        // Only a full memtable needs freezing.
        if self.versions.current().mem.approximate_size() >= self.env.options.write_buffer_size {
            self.freeze_memtable(false)?;
        }
        // The followers' batches are appended to the leader's, in place: no new batch.
        let (lead, followers) = group.split_first_mut().expect("a group has a leader");
        let Job::Write { batch, sync } = &mut lead.job else {
            unreachable!("write_group runs only for writes");
        };
        let mut sync = *sync;
        for waiter in followers {
            let Job::Write {
                batch: theirs,
                sync: s,
            } = &waiter.job
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
        match self.versions.pressure() {
            WritePressure::Stop => {
                let start = Instant::now();
                self.stats.stalls.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    pending_bytes = self.versions.pending_compaction_bytes(),
                    "writes stopped: the compaction strategy asks for it; waiting for compaction"
                );
                self.work.wait_for(|_| {
                    (self.versions.pressure() != WritePressure::Stop).then_some(())
                })?;
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
