//! Pacing group commit: when a leader should wait for the writers the last group released.
//!
//! # Why groups settle at half the writers
//!
//! Group commit shares one fsync among every writer queued when a leader starts. Left
//! alone, though, durable groups settle into two cohorts taking turns. While one group's
//! fsync runs, its members are blocked, so only the writers released by the group before
//! can queue. When the fsync ends, that queue becomes the next group at once, and the
//! writers just released come back a moment later, too late for it: they queue through
//! the whole of the next fsync and form the group after. N writers in two cohorts make
//! about N/2 records per fsync, and each durable write waits for nearly two fsyncs:
//!
//! ```text
//!  fsync:     |== group 1 (A,B,C,D) ==|== group 2 (E,F,G,H) ==|== group 3 (A,B,C,D) ==|
//!  A,B,C,D:    blocked in the fsync    ↑ back, queued behind group 2 ...
//!  E,F,G,H:    queued                  lead group 2 at once
//! ```
//!
//! # Gathering
//!
//! So a leader about to make a durable group first waits, briefly, for the members of the
//! last durable group to come back: until as many callers have queued since that group
//! was released as it had members, or for half of that group's write and fsync time,
//! whichever comes first. Then both cohorts share one fsync, and each write waits for
//! about one:
//!
//! ```text
//!  fsync:     |== group 1 (A..D) ==|·|======= group 2 (A..H) =======|·|=== group 3 ...
//!                                   ↑ the leader (E) waits until A..D are queued again
//! ```
//!
//! The wait costs nothing when there is nobody to gather. A lone writer is itself the
//! one member its last group released, so it has always "returned" by the time it leads;
//! a caller arriving after a quiet spell counts as returned too, since it queued after the
//! release. Only a leader that queued behind a busy group waits, and for at most half an
//! fsync. PostgreSQL's `commit_delay` and MySQL's `binlog_group_commit_sync_delay` trade a
//! little latency for larger groups in the same way, but with a fixed delay; this one
//! ends as soon as the writers it waits for are back, and is bounded by the disk's own
//! speed. `cargo xtask bench` shows the effect in its `wal append, fsync` and
//! `db put, fsync` rows (fsyncs per record, and throughput against one thread).
//!
//! # Yielding, not sleeping
//!
//! The gathering leader does not sleep until the last arrival wakes it: it gives up the
//! processor (`sched_yield`) and looks again, until the callers are back or the deadline
//! passes. The writers it waits for need a processor to come back on, and yielding hands
//! them the leader's; sleeping would add one more wake-up to every group, and a wake-up
//! is not cheap. The processors sit mostly idle either way, since the groups wait on
//! fsyncs and wake-ups, not on work, so the wake-ups are what to cut; `cargo xtask bench
//! --no-suite --wal-threads 1,8` measures eight durable writers against one, and
//! `docs/benchmarks.md` ("How durable writes got here") has what yielding gained over
//! sleeping. The price is a leader that keeps
//! asking the scheduler for up to half an fsync, and only when other writers were busy.
//!
//! # Followers: yield, then sleep
//!
//! A caller queued behind a leader waits for the group to finish. A group written without
//! an fsync takes microseconds, less than putting a thread to sleep on a condition
//! variable and waking it again (a `futex` call on each side and a trip through the
//! scheduler), so [`Handoff::wait`] can first yield the processor in a loop, watching a
//! counter of finished groups, for up to [`SPIN`], and only then sleep. A leader wakes
//! sleepers only when there are some, so a queue of yielding callers costs no system call
//! beyond the yields. A caller waiting for an fsync sleeps at once: its group takes a disk
//! flush, and yielding through it would take the processor from the leader.
//!
//! With every follower sleeping at once, eight threads appending to one WAL without sync
//! were slower together than one thread alone; `cargo xtask bench --no-suite
//! --wal-threads 1,8` prints the ratio in its `wal append, no sync` row at 8 threads, and
//! `docs/benchmarks.md` ("How durable writes got here") has the figures before and after.
//! The engine's write queue had the same trouble one level up, and waits the same way.
//!
//! [`GroupPacer`] is the bookkeeping. It lives inside a group-commit queue's mutex: the
//! WAL's ([`crate::Wal`]) and [`GroupQueue`]'s, which the engine's write path uses to form
//! its groups one level up.
//!
//! # A queue whose front caller leads
//!
//! [`GroupQueue`] is LevelDB's writer queue, with the pacing above: callers line up, the
//! one at the front becomes the **leader**, takes the jobs queued behind it that can join
//! its group (up to a size), does the group's work with the queue unlocked, and hands each
//! follower its result. Then the next caller at the front leads. The work is whatever the
//! caller passes in (the engine writes a group of batches as one WAL record and applies it
//! to the memtable): the queue only forms groups and hands results back.
//!
//! ```
//! use std::time::Duration;
//! use ferris_wal::group::{GroupJob, GroupQueue};
//!
//! /// A job: some bytes to write, durably or not.
//! struct Append(Vec<u8>, bool);
//!
//! impl GroupJob for Append {
//!     fn durable(&self) -> bool {
//!         self.1
//!     }
//!     fn joins(&self, _lead: &Append) -> Option<usize> {
//!         Some(self.0.len())
//!     }
//! }
//!
//! let queue: GroupQueue<Append, usize> = GroupQueue::new(1 << 20);
//! std::thread::scope(|s| {
//!     for i in 0..4 {
//!         let queue = &queue;
//!         s.spawn(move || {
//!             // The leader writes the whole group and reports how many bytes it wrote;
//!             // every member of the group gets that answer.
//!             let written = queue.submit(Append(vec![i; 10], true), |group| {
//!                 let bytes: usize = group.iter().map(|job| job.0.len()).sum();
//!                 (bytes, Some(Duration::from_millis(1)))
//!             });
//!             assert!(written >= 10 && written % 10 == 0);
//!         });
//!     }
//! });
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a follower that asked for no fsync yields the processor, waiting for its
/// leader, before it sleeps (see "Followers: yield, then sleep" in the [module
/// docs](self)). RocksDB's write thread does the same
/// (`enable_write_thread_adaptive_yield`, up to 100 µs).
pub const SPIN: Duration = Duration::from_micros(50);

/// Where a group-commit queue's followers wait for its leaders: yielding for a while,
/// then asleep on a condition variable. See the [module docs](self).
///
/// It sits beside the queue's mutex, not inside it. Both sides hold that mutex when they
/// meet it: a follower calls [`Handoff::wait`] with the queue locked, and a leader calls
/// [`Handoff::finish`] with the queue locked once its group's results are published, then
/// [`Handoff::wake`] after unlocking.
#[derive(Debug, Default)]
pub struct Handoff {
    /// How many groups have finished. Bumped under the queue's mutex.
    finished: AtomicU64,
    /// Followers asleep on `wake`. Changed only under the queue's mutex.
    sleepers: AtomicUsize,
    wake: Condvar,
}

impl Handoff {
    /// Returns, holding the queue's lock again, once a leader may have finished a group:
    /// after yielding the processor until one did (for at most `spin`), or asleep until a
    /// leader wakes it. `guard` is the queue's state, locked from `mutex`. The caller then
    /// looks at the queue again: a finished group may not have been its own.
    pub fn wait<'a, T>(
        &self,
        mutex: &'a Mutex<T>,
        mut guard: MutexGuard<'a, T>,
        spin: Duration,
    ) -> MutexGuard<'a, T> {
        let seen = self.finished.load(Ordering::Acquire);
        if !spin.is_zero() {
            drop(guard);
            let deadline = Instant::now() + spin;
            while self.finished.load(Ordering::Acquire) == seen && Instant::now() < deadline {
                std::thread::yield_now();
            }
            guard = mutex.lock().unwrap_or_else(PoisonError::into_inner);
        }
        // A leader bumps `finished` under the lock, so one that finishes after this check
        // finds this thread among the sleepers and wakes it.
        if self.finished.load(Ordering::Acquire) != seen {
            return guard;
        }
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        let guard = self
            .wake
            .wait(guard)
            .unwrap_or_else(PoisonError::into_inner);
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        guard
    }

    /// Records that a group has finished (or that the queue changed in some other way its
    /// followers must see). Call it with the queue's mutex held (`_locked` is the guard),
    /// after publishing the group's results. Returns whether any follower sleeps: if so,
    /// call [`Handoff::wake`], best after unlocking, so the woken threads do not find the
    /// mutex still held.
    #[must_use = "sleeping followers stay asleep unless `wake` is called"]
    pub fn finish<T>(&self, _locked: &MutexGuard<'_, T>) -> bool {
        self.finished.fetch_add(1, Ordering::Release);
        self.sleepers.load(Ordering::Relaxed) > 0
    }

    /// Wakes every sleeping follower; see [`Handoff::finish`].
    pub fn wake(&self) {
        self.wake.notify_all();
    }
}

/// Group commit's memory of its last durable group, and the tickets that tell whether
/// that group's members have queued again. See the [module docs](self).
///
/// Every caller that queues takes a ticket ([`GroupPacer::take_ticket`]); every group
/// that finishes reports itself ([`GroupPacer::released`]); a leader about to write a
/// durable group calls [`gather`] first.
#[derive(Debug, Default)]
pub struct GroupPacer {
    /// The ticket the next caller to queue gets.
    next_ticket: u64,
    /// How many callers the last durable group released: zero after a group that did not
    /// sync, since there is no fsync to share.
    released: u64,
    /// `next_ticket` when that group was released: every ticket from here on belongs to a
    /// caller that queued since.
    released_at: u64,
    /// How long that group's write and fsync took.
    sync_time: Duration,
}

impl GroupPacer {
    /// Issues a ticket to a caller that has just queued.
    pub fn take_ticket(&mut self) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        ticket
    }

    /// The ticket the next caller to queue will get: every ticket below it is issued.
    pub fn next_ticket(&self) -> u64 {
        self.next_ticket
    }

    /// A group has finished and released its `members` callers. `sync_time` is how long
    /// its write and fsync took, or `None` if it did not sync (or failed): only a durable
    /// group's members are worth waiting for.
    pub fn released(&mut self, members: u64, sync_time: Option<Duration>) {
        self.released = if sync_time.is_some() { members } else { 0 };
        self.released_at = self.next_ticket;
        self.sync_time = sync_time.unwrap_or_default();
    }

    /// Whether as many callers have queued since the last durable group was released as
    /// it had members.
    fn returned(&self) -> bool {
        self.next_ticket - self.released_at >= self.released
    }
}

/// Waits, as a leader about to write a durable group, until the callers the last durable
/// group released have queued again, or for half that group's write and fsync time,
/// whichever comes first (see the [module docs](self)). Returns at once when there is
/// nobody to wait for.
///
/// `guard` holds the queue's state, locked from `mutex`, and `pacer` finds the
/// [`GroupPacer`] in it. Between looks the leader releases the lock and yields the
/// processor (see "Yielding, not sleeping" in the [module docs](self)). The caller must
/// already be the leader, so that whoever queues meanwhile waits to join its group rather
/// than leading one of their own.
pub fn gather<'a, T>(
    mutex: &'a Mutex<T>,
    mut guard: MutexGuard<'a, T>,
    pacer: impl Fn(&mut T) -> &mut GroupPacer,
) -> MutexGuard<'a, T> {
    let p = pacer(&mut guard);
    if p.returned() {
        return guard;
    }
    let deadline = Instant::now() + p.sync_time / 2;
    while !pacer(&mut guard).returned() && Instant::now() < deadline {
        drop(guard);
        std::thread::yield_now();
        guard = mutex.lock().unwrap_or_else(PoisonError::into_inner);
    }
    guard
}

/// How a job takes part in a [`GroupQueue`]'s groups.
pub trait GroupJob {
    /// Whether the job's group waits on an fsync: its leader first [`gather`]s the callers
    /// the last durable group released, and a caller waiting behind a leader sleeps at
    /// once instead of yielding (see "Followers: yield, then sleep").
    fn durable(&self) -> bool;

    /// The bytes this job adds to a group that `lead` leads, or `None` when it cannot join
    /// that group (it then waits to lead one of its own).
    fn joins(&self, lead: &Self) -> Option<usize>;
}

/// A queue of callers whose front one leads a group; see "A queue whose front caller
/// leads" in the [module docs](self). `J` is a job, `R` the result each member gets.
#[derive(Debug)]
pub struct GroupQueue<J, R> {
    state: Mutex<QueueState<J, R>>,
    /// Where followers wait for a leader to finish.
    handoff: Handoff,
    /// A group stops growing at this many bytes beyond its leader's own job.
    max_group_bytes: usize,
}

#[derive(Debug)]
struct QueueState<J, R> {
    /// Jobs waiting, with their tickets, in the order they queued.
    waiting: VecDeque<(u64, J)>,
    /// Results for followers, by ticket.
    done: HashMap<u64, R>,
    leader_active: bool,
    /// Tickets, and the last durable group, for the next leader to gather its callers.
    pacer: GroupPacer,
    /// The leader's group buffers (tickets, jobs), handed back after each group so that
    /// leading one does not allocate.
    spare: (Vec<u64>, Vec<J>),
}

impl<J: GroupJob, R: Clone> GroupQueue<J, R> {
    /// An empty queue whose groups stop growing at `max_group_bytes` beyond the leader's
    /// own job, so a small job never waits behind megabytes of others.
    pub fn new(max_group_bytes: usize) -> GroupQueue<J, R> {
        GroupQueue {
            state: Mutex::new(QueueState {
                waiting: VecDeque::new(),
                done: HashMap::new(),
                leader_active: false,
                pacer: GroupPacer::default(),
                spare: (Vec::new(), Vec::new()),
            }),
            handoff: Handoff::default(),
            max_group_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState<J, R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` and returns its result: either this caller leads a group holding it,
    /// running `lead` on the group's jobs (its own first) with the queue unlocked, or a
    /// leader ran its own `lead` on a group this job joined. `lead` returns the group's
    /// result, which every member gets, and for a durable group how long its write and
    /// fsync took (what the next leader may wait half of, in [`gather`]).
    pub fn submit(&self, job: J, lead: impl FnOnce(&mut [J]) -> (R, Option<Duration>)) -> R {
        self.submit_each(job, lead, |_, group| group.clone())
    }

    /// [`submit`](GroupQueue::submit), where each member's result is `each(its job, the
    /// group's result)`, run on the leader's thread once `lead` is done: for a group whose
    /// leader may refuse some members and not others (a transaction that conflicts, in a
    /// group whose other writes commit), recorded in the jobs themselves.
    pub fn submit_each(
        &self,
        job: J,
        lead: impl FnOnce(&mut [J]) -> (R, Option<Duration>),
        each: impl Fn(&mut J, &R) -> R,
    ) -> R {
        let mut q = self.lock();
        let ticket = q.pacer.take_ticket();
        // A durable caller sleeps at once: see "Followers: yield, then sleep".
        let spin = if job.durable() { Duration::ZERO } else { SPIN };
        q.waiting.push_back((ticket, job));
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result;
            }
            let at_front = q.waiting.front().is_some_and(|(t, _)| *t == ticket);
            if at_front && !q.leader_active {
                break;
            }
            q = self.handoff.wait(&self.state, q, spin);
        }
        // Lead: take our own job and the jobs queued behind it that may join.
        q.leader_active = true;
        if q.waiting.front().is_some_and(|(_, job)| job.durable()) {
            q = gather(&self.state, q, |q| &mut q.pacer);
        }
        let (mut tickets, mut jobs) = std::mem::take(&mut q.spare);
        let (ticket, job) = q.waiting.pop_front().expect("we are at the front");
        tickets.push(ticket);
        jobs.push(job);
        let mut bytes = 0;
        while let Some(size) = q.waiting.front().and_then(|(_, j)| j.joins(&jobs[0])) {
            bytes += size;
            if bytes > self.max_group_bytes {
                break;
            }
            let (ticket, job) = q.waiting.pop_front().expect("checked");
            tickets.push(ticket);
            jobs.push(job);
        }
        drop(q);

        let (result, sync_time) = lead(&mut jobs);

        let mut q = self.lock();
        q.pacer.released(tickets.len() as u64, sync_time);
        for (&follower, job) in tickets[1..].iter().zip(&mut jobs[1..]) {
            q.done.insert(follower, each(job, &result));
        }
        let result = each(&mut jobs[0], &result);
        q.leader_active = false;
        tickets.clear();
        jobs.clear();
        q.spare = (tickets, jobs);
        let wake = self.handoff.finish(&q);
        drop(q);
        if wake {
            self.handoff.wake();
        }
        result
    }

    /// Waits until no group is being led and none is queued.
    pub fn wait_idle(&self) {
        let mut q = self.lock();
        while q.leader_active || !q.waiting.is_empty() {
            q = self.handoff.wait(&self.state, q, Duration::ZERO);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_lone_writer_has_always_returned() {
        let mut p = GroupPacer::default();
        for _ in 0..3 {
            p.take_ticket();
            assert!(p.returned(), "{p:?}");
            p.released(1, Some(Duration::from_secs(60)));
        }
    }

    #[test]
    fn a_leader_waits_for_as_many_arrivals_as_the_group_released() {
        let mut p = GroupPacer::default();
        for _ in 0..4 {
            p.take_ticket();
        }
        p.released(3, Some(Duration::from_secs(60)));
        // The fourth caller, queued before the release, leads: nobody has come back yet.
        assert!(!p.returned());
        p.take_ticket();
        p.take_ticket();
        assert!(!p.returned());
        p.take_ticket();
        assert!(p.returned());
    }

    #[test]
    fn a_group_that_did_not_sync_leaves_nobody_to_wait_for() {
        let mut p = GroupPacer::default();
        for _ in 0..4 {
            p.take_ticket();
        }
        p.released(4, None);
        assert!(p.returned());
    }

    /// The deadline ends the wait when the released callers never come back: with a group
    /// time of a millisecond, the wait is over after half of one.
    #[test]
    fn gather_gives_up_at_the_deadline() {
        let state = Mutex::new(GroupPacer::default());
        let mut p = state.lock().unwrap();
        p.take_ticket();
        p.released(5, Some(Duration::from_millis(1)));
        let p = gather(&state, p, |p| p);
        assert!(!p.returned());
    }

    /// The leader stops waiting once enough callers have queued, and lets them in to do
    /// it: a deadline of two hours would hang this test otherwise.
    #[test]
    fn gather_ends_when_the_released_callers_are_back() {
        let shared = Arc::new(Mutex::new(GroupPacer::default()));
        let mut p = shared.lock().unwrap();
        p.take_ticket();
        p.released(3, Some(Duration::from_secs(7200)));
        let arrivals: Vec<_> = (0..3)
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || shared.lock().unwrap().take_ticket())
            })
            .collect();
        let p = gather(&shared, p, |p| p);
        assert!(p.returned());
        drop(p);
        for a in arrivals {
            a.join().unwrap();
        }
    }

    /// A follower that waits (yielding for `spin`, then asleep) until `done` is set, in a
    /// thread; the receiver hears when it has seen `done`.
    fn follower(
        shared: &Arc<(Mutex<bool>, Handoff)>,
        spin: Duration,
    ) -> std::sync::mpsc::Receiver<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = shared.clone();
        std::thread::spawn(move || {
            let (mutex, handoff) = &*shared;
            let mut done = mutex.lock().unwrap();
            while !*done {
                done = handoff.wait(mutex, done, spin);
            }
            tx.send(()).unwrap();
        });
        rx
    }

    /// Generous: these tests check that a follower returns at all, not how fast.
    const LIVENESS: Duration = Duration::from_secs(60);

    #[test]
    fn a_sleeping_follower_is_woken_by_the_leader() {
        let shared = Arc::new((Mutex::new(false), Handoff::default()));
        let rx = follower(&shared, Duration::ZERO);
        // Let it go to sleep, most likely; the test holds either way.
        std::thread::sleep(Duration::from_millis(20));
        let (mutex, handoff) = &*shared;
        let mut done = mutex.lock().unwrap();
        *done = true;
        let wake = handoff.finish(&done);
        drop(done);
        if wake {
            handoff.wake();
        }
        rx.recv_timeout(LIVENESS)
            .expect("the follower was never woken");
    }

    /// A job of the queue test: its caller's id, the sum its group must report, and
    /// whether it may join groups.
    struct Job {
        id: u64,
        durable: bool,
        alone: bool,
    }

    impl GroupJob for Job {
        fn durable(&self) -> bool {
            self.durable
        }
        fn joins(&self, lead: &Job) -> Option<usize> {
            (!self.alone && !lead.alone).then_some(8)
        }
    }

    /// Many callers on real threads: every job runs in exactly one group, every caller
    /// gets the result of the group its job ran in, and a job that may not join leads a
    /// group of its own.
    #[test]
    fn every_job_runs_once_and_its_caller_gets_its_groups_result() {
        let queue: GroupQueue<Job, Vec<u64>> = GroupQueue::new(64);
        let ran: Mutex<Vec<u64>> = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for thread in 0..8u64 {
                let (queue, ran) = (&queue, &ran);
                s.spawn(move || {
                    for i in 0..200 {
                        let id = thread * 1000 + i;
                        let job = Job {
                            id,
                            durable: i % 3 == 0,
                            alone: i % 7 == 0,
                        };
                        let members = queue.submit(job, |group| {
                            let ids: Vec<u64> = group.iter().map(|j| j.id).collect();
                            assert!(ids.len() <= 1 + 64 / 8, "a group outgrew its limit");
                            assert!(ids.len() == 1 || group.iter().all(|j| !j.alone));
                            ran.lock().unwrap().extend(&ids);
                            (ids, None)
                        });
                        assert!(members.contains(&id), "{id} got another group's result");
                    }
                });
            }
        });
        queue.wait_idle();
        let mut ran = ran.into_inner().unwrap();
        ran.sort_unstable();
        let expected: Vec<u64> = (0..8u64)
            .flat_map(|t| (0..200).map(move |i| t * 1000 + i))
            .collect();
        assert_eq!(ran, expected, "every job runs exactly once");
    }

    /// With `submit_each`, every member gets the answer made for its own job: the leader
    /// marks some jobs (here, odd ids) and their callers see the mark, whoever led.
    #[test]
    fn each_member_gets_its_own_result() {
        let queue: GroupQueue<Job, Vec<u64>> = GroupQueue::new(64);
        std::thread::scope(|s| {
            for thread in 0..4u64 {
                let queue = &queue;
                s.spawn(move || {
                    for i in 0..200 {
                        let id = thread * 1000 + i;
                        let job = Job {
                            id,
                            durable: false,
                            alone: false,
                        };
                        let lead = |group: &mut [Job]| {
                            for job in group.iter_mut() {
                                job.durable = job.id % 2 == 1; // the leader's verdict
                            }
                            (group.iter().map(|j| j.id).collect::<Vec<u64>>(), None)
                        };
                        let each = |job: &mut Job, group: &Vec<u64>| match job.durable {
                            true => vec![u64::MAX, job.id],
                            false => group.clone(),
                        };
                        let got = queue.submit_each(job, lead, each);
                        match id % 2 {
                            1 => assert_eq!(got, [u64::MAX, id]),
                            _ => assert!(got.contains(&id), "{id} got another group's result"),
                        }
                    }
                });
            }
        });
    }

    #[test]
    fn a_yielding_follower_needs_no_wake_up() {
        let shared = Arc::new((Mutex::new(false), Handoff::default()));
        // Yields for up to an hour: it can only return by seeing the counter move.
        let rx = follower(&shared, Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(20));
        let (mutex, handoff) = &*shared;
        let mut done = mutex.lock().unwrap();
        *done = true;
        let wake = handoff.finish(&done);
        assert!(!wake, "a yielding follower counted as asleep");
        drop(done);
        rx.recv_timeout(LIVENESS)
            .expect("the follower did not see the finished group");
    }
}
