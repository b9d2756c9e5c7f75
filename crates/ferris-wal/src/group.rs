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
//! is not cheap. On the 2-core bench VM, eight durable writers through the engine got
//! 4.71 times one writer's throughput with a yielding leader and 4.24 times with one that
//! slept on a condition variable (medians of five alternating runs of `cargo xtask bench
//! --no-suite --wal-threads 1,8`), while the processors sat mostly idle in both: the
//! groups wait on fsyncs and wake-ups, not on work. The price is a leader that keeps
//! asking the scheduler for up to half an fsync, and only when other writers were busy.
//!
//! [`GroupPacer`] is the bookkeeping. It lives inside a group-commit queue's mutex: the
//! WAL's ([`crate::Wal`]) and the engine's write queue, which forms its groups one level
//! up, both use it.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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
}
