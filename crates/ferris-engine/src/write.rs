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
//!
//! # Transactions: checked where sequence numbers are assigned
//!
//! A transaction's commit is a write job that carries its read version and the ranges to
//! check. The leader checks each with the resolver (`ferris_txn::Resolver`) and records
//! each write a live transaction could conflict with, in the order the group will be
//! written and at the sequence numbers it will get, before the group reaches the WAL: no
//! commit can slip between a check and its record, since only a leader assigns sequence
//! numbers. A refused transaction is left out of the group and gets its own error; the
//! rest of the group commits. While no transaction is live, plain writes skip the resolver
//! (see `Shared::resolve` for why that is safe).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferris_compaction::WritePressure;
use ferris_core::{BatchIter, DEFAULT_KEYSPACE, SeqNo, WriteBatch};
use ferris_txn::{Check, Resolver, ResolverLimits};
use ferris_wal::group::{GroupJob, GroupQueue};
use ferris_wal::{SyncMode, Wal};

use crate::db::Shared;
use crate::error::{Error, Result};
use crate::versions::{KeyspaceCore, SuperVersion};

/// A group stops growing at this many encoded bytes (beyond its leader's own batch), so a
/// small write never waits behind megabytes of others.
const MAX_GROUP_BYTES: usize = 1 << 20;

/// A keyspace whose active memtable holds writes from this many WAL segments back is
/// frozen at the next rotation, however little it holds: a keyspace written rarely would
/// otherwise keep every WAL segment since its first write (RocksDB bounds this with
/// `max_total_wal_size`).
const MAX_LOG_LAG: u64 = 4;

/// What a queued writer wants done.
#[derive(Debug)]
pub(crate) enum Job {
    /// Write a batch; for a transaction's commit, only if its check passes.
    Write {
        batch: WriteBatch,
        sync: bool,
        txn: Option<Box<Check>>,
    },
    /// Freeze the memtable of one keyspace, or of all (`None`), if it holds anything, so
    /// it will be flushed; yields the id of the newest frozen memtable.
    Freeze(Option<Arc<KeyspaceCore>>),
    /// Pin every keyspace's super version at one sequence number, for a checkpoint;
    /// yields the sequence number.
    Capture(crate::checkpoint::Captured),
}

impl GroupJob for Job {
    fn durable(&self) -> bool {
        matches!(self, Job::Write { sync: true, .. })
    }

    /// Writes join a write's group; a freeze or a capture leads alone.
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
    /// `None` in a database opened read-only.
    pub(crate) wal: Option<Wal>,
    /// The last sequence number whose write is fully in the memtable: what reads see.
    pub(crate) last_seq: AtomicU64,
    /// Recent commits' write ranges; only a leader locks it, so the lock is never waited on.
    pub(crate) resolver: Mutex<Resolver>,
    /// Transactions begun and not yet dropped: while there are none, no write is recorded.
    pub(crate) live_txns: AtomicUsize,
    /// Whether the resolver may remember commits: so that its history is let go once no
    /// transaction is live, without locking it for every plain write.
    remembers: AtomicBool,
}

impl Writes {
    pub(crate) fn new(wal: Option<Wal>, last_seq: u64, limits: ResolverLimits) -> Writes {
        Writes {
            queue: GroupQueue::new(MAX_GROUP_BYTES),
            wal,
            last_seq: AtomicU64::new(last_seq),
            resolver: Mutex::new(Resolver::new(last_seq, limits)),
            live_txns: AtomicUsize::new(0),
            remembers: AtomicBool::new(false),
        }
    }

    /// The WAL, or [`Error::OpenedReadOnly`] for a database opened read-only: what every
    /// write checks first.
    pub(crate) fn wal(&self) -> Result<&Wal> {
        // Not `ok_or`: an error made eagerly is dropped on every write, and dropping an
        // `Error` is a call (with the one in `check_open`, 45 instructions per put).
        match &self.wal {
            Some(wal) => Ok(wal),
            None => Err(Error::OpenedReadOnly),
        }
    }

    /// The sequence number a read starting now sees.
    pub(crate) fn visible(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }
}

impl Shared {
    /// Queues `job`, and either waits for a leader to do it or leads a group that does.
    /// Returns the job's result: for a freeze, the id of the newest frozen memtable; for a
    /// transaction's commit, its commit version.
    pub(crate) fn submit(&self, job: Job) -> Result<u64> {
        let lead = |group: &mut [Job]| match &group[0] {
            Job::Freeze(which) => {
                let all = match which {
                    Some(keyspace) => vec![Arc::clone(keyspace)],
                    None => self.versions.keyspaces(),
                };
                (self.freeze_memtable(&all, true), None)
            }
            Job::Capture(into) => (self.capture(into), None),
            // Only the WAL write and fsync count as the group's time, not a stall for flow
            // control or a flush: the next leader may wait for half of it.
            Job::Write { .. } => match self.write_group(group) {
                Ok(wal_time) => (Ok(0), wal_time),
                Err(e) => (Err(e), None),
            },
        };
        // A transaction gets its own result: refused, or its commit version.
        let each = |job: &mut Job, group: &Result<u64>| match job {
            Job::Write { txn: Some(txn), .. } => match txn.refused.take() {
                Some(refused) => Err(refused.into()),
                None => group.clone().map(|_| txn.commit),
            },
            _ => group.clone(),
        };
        self.writes.queue.submit_each(job, lead, each)
    }

    /// Writes a group of batches as one WAL record, then applies it to the memtable.
    /// Returns how long the WAL write and its fsync took, if the group was synced.
    fn write_group(&self, group: &mut [Job]) -> Result<Option<Duration>> {
        self.work.check()?;
        self.flow_control()?;
        let last = self.writes.visible();
        // The group is admitted (its commits recorded at the sequence numbers it will take)
        // before the freeze and the WAL append below. If either fails, the database is
        // poisoned (or closed) and takes no other write, so no later group reuses those
        // numbers; were that to change, the resolver would see them again (`OutOfOrder`).
        let txns = (group.iter()).filter(|j| matches!(j, Job::Write { txn: Some(_), .. }));
        let txns = txns.count();
        let recorded = self.resolve(group, last, txns);
        // The followers' batches are appended to the leader's, in place: no new batch.
        // A refused transaction's batch is left out (the leader's, by clearing it).
        let refused = |txn: &Option<Box<Check>>| txn.as_ref().is_some_and(|t| t.refused.is_some());
        let (lead, followers) = group.split_first_mut().expect("a group has a leader");
        let Job::Write { batch, sync, txn } = lead else {
            unreachable!("write_group runs only for writes");
        };
        let mut sync = *sync && !refused(txn);
        if refused(txn) {
            batch.clear();
        }
        for job in followers {
            let Job::Write {
                batch: theirs,
                sync: s,
                txn,
            } = job
            else {
                unreachable!("groups hold only writes after the first job");
            };
            if !refused(txn) {
                sync |= *s;
                batch.append(theirs);
            }
        }
        if batch.is_empty() {
            return Ok(None); // every member was refused
        }
        // Only a full memtable needs freezing: the ones this group writes to (those still
        // live). A group in one keyspace, the usual case, allocates nothing for this, and
        // one in the default keyspace (never dropped) does not even look it up.
        let (one, many): (Option<Arc<KeyspaceCore>>, Vec<Arc<KeyspaceCore>>);
        let single = batch.single_keyspace();
        let targets: &[Arc<KeyspaceCore>] = match single {
            Some(DEFAULT_KEYSPACE) => std::slice::from_ref(&self.versions.default),
            Some(id) => {
                one = self.versions.keyspace(id);
                one.as_slice()
            }
            None => {
                let live = batch.keyspaces().into_iter();
                many = live.filter_map(|id| self.versions.keyspace(id)).collect();
                &many
            }
        };
        // The first target's super version, read once for the check and the apply: its
        // active memtable changes only in a freeze, and only a leader (this one) freezes.
        let mut first = targets.first().map(|k| k.current());
        let full = |k: &Arc<KeyspaceCore>, sv: &SuperVersion| {
            sv.mem.approximate_size() >= k.options.write_buffer_size
        };
        if (targets.iter().zip(&first)).any(|(k, sv)| full(k, sv))
            || (targets.iter().skip(1)).any(|k| full(k, &k.current()))
        {
            self.freeze_memtable(targets, false)?;
            first = targets.first().map(|k| k.current());
        }
        batch.set_seq(last + 1);
        let mode = if sync {
            SyncMode::Always
        } else {
            SyncMode::Manual
        };
        let started = sync.then(Instant::now);
        (self.writes.wal()?)
            .append_with(batch.as_bytes(), mode)
            .map_err(|e| self.work.poisoned_by(e.into()))?;
        let wal_time = started.map(|t| t.elapsed());
        // A keyspace dropped since the batch was checked is not among the targets: its
        // entries are simply not applied (as if written just before the drop), and
        // recovery skips them too.
        let entries = |k: &KeyspaceCore| match single {
            Some(_) => batch.iter(),
            None => batch.iter_in(k.id),
        };
        let mut user_bytes = 0;
        for k in targets {
            // The first target's was read already; `take` leaves `None` for the rest.
            let sv = first.take().unwrap_or_else(|| k.current());
            user_bytes += self.apply_to(k, &sv, entries(k));
        }
        // Only now may readers see the group: every entry is in the memtable.
        self.writes
            .last_seq
            .store(last + batch.len() as u64, Ordering::Release);
        self.stats
            .user_bytes
            .fetch_add(user_bytes, Ordering::Relaxed);
        if !recorded {
            // A transaction that began while this group was written may read below it:
            // the fence pairs with the one in `Db::transaction_with` (see `resolve`).
            fence(Ordering::SeqCst);
            if self.writes.live_txns.load(Ordering::Relaxed) > txns {
                let now = self.env.options.clock.now();
                self.resolver().admit(last, batch, None, now, true);
                self.writes.remembers.store(true, Ordering::Relaxed);
            }
        }
        Ok(wal_time)
    }

    /// Checks each transaction of `group` (written after sequence number `last`; `txns`
    /// of its members are transactions) with the resolver, marking the refused ones, and
    /// records the writes of the rest, each at the sequence number of its last entry, in
    /// the order they will be written: so each transaction is checked against every
    /// commit before it, this group's included. Then trims the history to the oldest live
    /// snapshot. Returns whether it recorded the group.
    ///
    /// It records nothing when no transaction but (at most) one of this group is live:
    /// no other could be checked against these writes, as long as every transaction that
    /// begins reads at or after them. A transaction counts itself live and then reads the
    /// published sequence number; the leader publishes, then looks at the count again
    /// (`write_group`), each side with a `SeqCst` fence between. So either the leader sees
    /// the newcomer and records the group late (no check can come between: it still
    /// leads), or the newcomer reads after the group. That keeps the resolver off the path
    /// of plain writes while no transaction runs, and of a lone transaction's commit.
    fn resolve(&self, group: &mut [Job], last: SeqNo, txns: usize) -> bool {
        let live = self.writes.live_txns.load(Ordering::SeqCst);
        if live == 0 {
            // Every transaction that begins from now on reads at or after `last`.
            if self.writes.remembers.swap(false, Ordering::Relaxed) {
                self.resolver().trim(last);
            }
            return false;
        }
        // Some transaction outside the group, or a later one of the group, may be checked
        // against these writes.
        let remember = live > txns || txns > 1;
        let now = self.env.options.clock.now();
        let mut resolver = self.resolver();
        let mut next = last;
        for job in group {
            if let Job::Write { batch, txn, .. } = job {
                next = resolver.admit(next, batch, txn.as_deref_mut(), now, remember);
            }
        }
        if remember {
            self.writes.remembers.store(true, Ordering::Relaxed);
            let snapshots = self
                .snapshots
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let oldest = snapshots.keys().next().map_or(last, |&s| s.min(last));
            drop(snapshots);
            resolver.trim(oldest);
        }
        remember
    }

    fn resolver(&self) -> std::sync::MutexGuard<'_, Resolver> {
        (self.writes.resolver.lock()).unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `entries` to `keyspace`'s active memtable (that of `sv`, its current super
    /// version), noting the WAL segment its first write went to.
    fn apply_to(&self, keyspace: &KeyspaceCore, sv: &SuperVersion, entries: BatchIter<'_>) -> u64 {
        if keyspace.first_log.load(Ordering::Relaxed) == 0 {
            // Only the leader writes, so nobody races this; a failure to read the id only
            // leaves the keyspace unmarked, and a flush marks it again.
            if let Some(Ok(segment)) = self.writes.wal.as_ref().map(Wal::active_segment_id) {
                keyspace.first_log.store(segment, Ordering::Relaxed);
            }
        }
        sv.mem.apply(entries)
    }

    /// Holds writes back as the compaction strategy asks (RocksDB's write stalls): a
    /// millisecond per group while it asks to slow down, so writers keep going at a pace
    /// compaction can follow; nothing at all while it asks to stop, until a compaction
    /// changes its mind. The leveled and tiered strategies ask by level-0 table count and
    /// pending compaction bytes (`CompactionOptions`' triggers).
    fn flow_control(&self) -> Result<()> {
        let pressure = || self.versions.pressure();
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

    /// Freezes the active memtables of `keyspaces` that are full (or, with `force`, that
    /// hold anything), stalling first while too many frozen ones of a keyspace wait for
    /// the flush thread, and with them any keyspace whose writes reach too far back in the
    /// WAL ([`MAX_LOG_LAG`]). All freeze at one WAL rotation. Returns the id of the newest
    /// frozen memtable. Runs only in a write-group leader, so no other thread freezes
    /// meanwhile.
    pub(crate) fn freeze_memtable(
        &self,
        keyspaces: &[Arc<KeyspaceCore>],
        force: bool,
    ) -> Result<u64> {
        let limit = self.env.options.max_immutable_memtables.max(1);
        let due = |k: &&Arc<KeyspaceCore>| {
            let mem = k.current().mem.clone();
            mem.approximate_size() >= k.options.write_buffer_size || force && !mem.is_empty()
        };
        let mut stalled: Option<Instant> = None;
        loop {
            let due: Vec<&Arc<KeyspaceCore>> = keyspaces.iter().filter(due).collect();
            if due.is_empty() {
                break;
            }
            if let Some(k) = due.iter().find(|k| k.current().frozen.len() >= limit) {
                if stalled.is_none() {
                    tracing::warn!(
                        keyspace = k.name,
                        "writes stalled: flushing has fallen behind"
                    );
                    stalled = Some(Instant::now());
                    self.stats.stalls.fetch_add(1, Ordering::Relaxed);
                }
                let room = || k.current().frozen.len() < limit || k.check().is_err();
                self.work.wait_for(|_| room().then_some(()))?;
                continue;
            }
            self.work.check()?;
            let next_log = (self.writes.wal()?)
                .rotate()
                .map_err(|e| self.work.poisoned_by(e.into()))?;
            let lagging = self.versions.keyspaces().into_iter().filter(|k| {
                let first = k.first_log.load(Ordering::Relaxed);
                let lags = first != 0 && first + MAX_LOG_LAG <= next_log;
                lags && !due.iter().any(|d| d.id == k.id) && k.current().frozen.len() < limit
            });
            for keyspace in due.iter().copied().cloned().chain(lagging) {
                self.versions.freeze(&self.env, &keyspace, next_log);
            }
            self.work.notify();
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
