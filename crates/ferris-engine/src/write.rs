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
//! the same way, through the same [`Handoff`].
//!
//! Before writers yielded, with two writer threads on the 2-core bench machine the
//! scheduler took a third of all samples, and `ferris-dbbench --num 500000 --workloads
//! fillrandom,ycsb-a` filled at 210k puts/s with two threads and 179k with four, against
//! 422k with one. Yielding first: 370k with two threads, 424k with four, 427k with one
//! (one run each, 2026-12-05). Eight durable writers still put 5.00x one's throughput
//! through the engine.
//!
//! # Gathering the writers a sync just released
//!
//! A leader about to write a durable group first waits, briefly, for the writers the
//! last durable group released to queue again, so that both halves of the writers share
//! one fsync instead of taking turns (`ferris_wal::group` explains the turns and the
//! wait; the WAL's own group commit does the same one level down).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ferris_core::WriteBatch;
use ferris_wal::SyncMode;
use ferris_wal::group::{GroupPacer, Handoff, SPIN, gather};

use crate::db::Inner;
use crate::error::{Error, Result};

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

#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    state: Mutex<QueueState>,
    /// Where writers wait for a leader to finish (see "Waiting for the leader").
    handoff: Handoff,
}

impl WriteQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until no group is being written and none is queued.
    pub(crate) fn wait_idle(&self) {
        let mut q = self.lock();
        while q.leader_active || !q.waiting.is_empty() {
            q = self.wait(q, Duration::ZERO);
        }
    }

    /// Returns once a leader may have finished: after yielding the processor until one
    /// did (for at most `spin`), or asleep until a leader wakes it.
    fn wait<'a>(
        &'a self,
        q: MutexGuard<'a, QueueState>,
        spin: Duration,
    ) -> MutexGuard<'a, QueueState> {
        self.handoff.wait(&self.state, q, spin)
    }
}

impl Inner {
    /// Queues `job`, and either waits for a leader to do it or leads a group that does.
    /// Returns the job's result: for a freeze, the id of the newest frozen memtable.
    pub(crate) fn submit(&self, job: Job) -> Result<u64> {
        let queue = &self.write_queue;
        let mut q = queue.lock();
        let ticket = q.pacer.take_ticket();
        // A writer that syncs sleeps at once: see "Waiting for the leader".
        let spin = if matches!(job, Job::Write { sync: false, .. }) {
            SPIN
        } else {
            Duration::ZERO
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
            q = queue.wait(q, spin);
        }
        // Lead: take our own job and, if it is a write, the writes queued behind it.
        q.leader_active = true;
        let durable = matches!(
            q.waiting.front(),
            Some(Waiter {
                job: Job::Write { sync: true, .. },
                ..
            })
        );
        if durable {
            q = gather(&queue.state, q, |q| &mut q.pacer);
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

        let mut q = queue.lock();
        // Only the WAL write and fsync count as the group's time, not a stall for flow
        // control or a flush: the next leader may wait for half of it.
        q.pacer.released(group.len() as u64, wal_time);
        for waiter in &group[1..] {
            let theirs = match &result {
                Ok(v) => Ok(*v),
                Err(e) => Err(Error::Poisoned {
                    reason: format!("the group this write was part of failed: {e}"),
                }),
            };
            q.done.insert(waiter.ticket, theirs);
        }
        q.leader_active = false;
        group.clear();
        q.spare_group = group;
        let wake = queue.handoff.finish(&q);
        drop(q);
        if wake {
            queue.handoff.wake();
        }
        result
    }

    /// Writes a group of batches as one WAL record, then applies it to the memtable.
    /// Returns how long the WAL write and its fsync took, if the group was synced.
    fn write_group(&self, group: &mut [Waiter]) -> Result<Option<Duration>> {
        self.check_writable()?;
        self.flow_control()?;
        // Only a full memtable needs the core lock to be frozen.
        if self.super_version().mem.approximate_size() >= self.options.write_buffer_size {
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
        let last = self.last_seq.load(Ordering::Acquire);
        let first = last + 1;
        batch.set_seq(first);
        let mode = if sync {
            SyncMode::Always
        } else {
            SyncMode::Manual
        };
        let started = sync.then(Instant::now);
        if let Err(e) = self.wal.append_with(batch.as_bytes(), mode) {
            self.poison(&format!("a WAL write failed: {e}"));
            return Err(e.into());
        }
        let wal_time = started.map(|t| t.elapsed());
        let user_bytes = self.super_version().mem.apply(batch.iter());
        // Only now may readers see the group: every entry is in the memtable.
        self.last_seq
            .store(last + batch.len() as u64, Ordering::Release);
        self.counters
            .user_bytes
            .fetch_add(user_bytes, Ordering::Relaxed);
        Ok(wal_time)
    }

    /// Slows writes down while level 0 holds many tables, and stops them while it holds
    /// too many, so compaction can catch up and reads stay bounded (RocksDB's
    /// `level0_slowdown_writes_trigger` and `level0_stop_writes_trigger`).
    fn flow_control(&self) -> Result<()> {
        let options = &self.options.compaction;
        let l0 = |inner: &Inner| inner.super_version().version.levels[0].len();
        // The common case costs two loads and no lock.
        let (tables, pending_now) = (
            l0(self),
            self.pending_compaction_bytes.load(Ordering::Acquire),
        );
        let quiet_tables = options.l0_slowdown_trigger.min(options.l0_stop_trigger);
        let quiet_bytes = options
            .soft_pending_compaction_bytes
            .min(options.hard_pending_compaction_bytes);
        if tables < quiet_tables && pending_now < quiet_bytes {
            return Ok(());
        }
        let pending = |inner: &Inner| inner.pending_compaction_bytes.load(Ordering::Acquire);
        let stopped = |inner: &Inner| {
            l0(inner) >= options.l0_stop_trigger
                || pending(inner) >= options.hard_pending_compaction_bytes
        };
        if stopped(self) {
            let start = Instant::now();
            self.counters.stalls.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                tables = l0(self),
                pending_bytes = pending(self),
                "writes stopped: level 0 or the pending compaction bytes are at their stop trigger; waiting for compaction"
            );
            let mut core = self.lock_core();
            while stopped(self) {
                if let Some(reason) = &core.poisoned {
                    return Err(Error::Poisoned {
                        reason: reason.clone(),
                    });
                }
                if core.shutting_down {
                    return Err(Error::Closed);
                }
                core = self
                    .compacted
                    .wait(core)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let micros = start.elapsed().as_micros() as u64;
            self.counters
                .stall_micros
                .fetch_add(micros, Ordering::Relaxed);
            tracing::info!(micros, "writes resumed after compaction caught up");
        } else if l0(self) >= options.l0_slowdown_trigger
            || pending(self) >= options.soft_pending_compaction_bytes
        {
            // A short delay per write group: writers keep going, at a pace compaction can
            // follow, instead of hitting the stop trigger and halting outright.
            self.counters.slowdowns.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    /// Freezes the active memtable when it is full (or, with `force`, when it holds
    /// anything), stalling first while too many frozen ones wait for the flush thread.
    /// Returns the id of the newest frozen memtable. Runs only in a write-group leader.
    pub(crate) fn freeze_memtable(&self, force: bool) -> Result<u64> {
        let mut core = self.lock_core();
        let mut stalled: Option<Instant> = None;
        loop {
            if let Some(reason) = &core.poisoned {
                return Err(Error::Poisoned {
                    reason: reason.clone(),
                });
            }
            let sv = self.super_version();
            let full = sv.mem.approximate_size() >= self.options.write_buffer_size;
            if !(full || force && !sv.mem.is_empty()) {
                break;
            }
            if sv.imms.len() >= self.options.max_immutable_memtables.max(1) {
                // The flush thread stops at shutdown, so no flush would end this wait.
                // Only a freeze that raced with `close` (the idle thread's) gets here.
                if core.shutting_down {
                    return Err(Error::Closed);
                }
                if stalled.is_none() {
                    tracing::warn!(
                        frozen = sv.imms.len(),
                        "writes stalled: flushing has fallen behind"
                    );
                    stalled = Some(Instant::now());
                    self.counters.stalls.fetch_add(1, Ordering::Relaxed);
                }
                core = self
                    .flushed
                    .wait(core)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            let next_log = match self.wal.rotate() {
                Ok(id) => id,
                Err(e) => {
                    let reason = format!("a WAL rotation failed: {e}");
                    core.poisoned = Some(reason);
                    self.poisoned.store(true, Ordering::Release);
                    return Err(e.into());
                }
            };
            core.next_imm_id += 1;
            let imm = crate::version::Immutable {
                mem: sv.mem.clone(),
                next_log,
                id: core.next_imm_id,
            };
            tracing::debug!(
                id = imm.id,
                bytes = imm.mem.approximate_size(),
                "froze the memtable"
            );
            let mut imms = vec![std::sync::Arc::new(imm)];
            imms.extend(sv.imms.iter().cloned());
            self.install(crate::version::SuperVersion {
                mem: Default::default(),
                imms,
                version: sv.version.clone(),
            });
            self.flush_wanted.notify_all();
            if force {
                break;
            }
        }
        if let Some(start) = stalled {
            let micros = start.elapsed().as_micros() as u64;
            self.counters
                .stall_micros
                .fetch_add(micros, Ordering::Relaxed);
            tracing::info!(micros, "writes resumed after a stall");
        }
        Ok(self
            .super_version()
            .imms
            .first()
            .map_or(core.flushed_imm_id, |imm| imm.id))
    }
}
