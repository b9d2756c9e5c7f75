//! Where threads wait: the background work's state behind one mutex, one condition
//! variable every waiter waits on, and the poison that refuses writes.
//!
//! Every wait in the engine (the flush and compaction threads waiting for work, a writer
//! stalled on full memtables or on compaction, `flush()` and `compact()` waiting for
//! theirs, a compaction stepping aside for a flush, the idle thread's sleep) goes through
//! [`Work`], on its one condition variable, and every change anyone could be waiting for
//! wakes all of them. A waiter that wakes for someone else's change checks its condition
//! and sleeps again: the events are a few per flush, so the extra wake-ups cost nothing
//! measurable, and no change can be signalled on the wrong condition variable, the class
//! of bug where a failure poisoned the database while a manual compaction slept on a
//! condition variable nobody signalled any more.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use ferris_core::{KeyspaceId, SeqNo};

use crate::error::{Error, Result};

/// What the background threads and the waiters share; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Work {
    state: Mutex<WorkState>,
    changed: Condvar,
    /// Set with `poison` once, never cleared: writes are refused from then on.
    poisoned: AtomicBool,
    poison: OnceLock<Arc<Error>>,
    /// Whether compactions step aside while a flush writes its table
    /// ([`Options::flush_priority`](crate::Options::flush_priority)).
    flush_first: bool,
}

/// An inclusive range of user keys.
pub(crate) type KeyRange = (Vec<u8>, Vec<u8>);

/// The state behind [`Work`]'s mutex.
#[derive(Debug, Default)]
pub(crate) struct WorkState {
    pub(crate) shutting_down: bool,
    /// The id of the newest frozen memtable whose flush has finished.
    pub(crate) flushed: u64,
    /// A flush is writing its table.
    pub(crate) flushing: bool,
    /// Tables that running compactions read or remove.
    pub(crate) busy: HashSet<u64>,
    /// Manual compactions asked for and not finished, by keyspace: the inclusive user-key
    /// range, or `None` for everything.
    pub(crate) manual: BTreeMap<KeyspaceId, Option<KeyRange>>,
    /// Manual compaction requests made, and the number of them finished: all requests made
    /// so far are finished once no keyspace has one left.
    pub(crate) manual_wanted: u64,
    pub(crate) manual_done: u64,
    /// The next file number when the last manual compaction was asked for: with a
    /// compaction filter, the deepest level's tables older than this are rewritten too.
    pub(crate) manual_mark: u64,
    /// The last sequence number at which the idle thread found the database quiet and
    /// flushed it. While no write has come since, compactions see an idle view.
    pub(crate) idle_seq: Option<SeqNo>,
}

impl Work {
    pub(crate) fn new(flush_first: bool) -> Work {
        Work {
            state: Mutex::default(),
            changed: Condvar::new(),
            poisoned: AtomicBool::new(false),
            poison: OnceLock::new(),
            flush_first,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, WorkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state and wakes every waiter.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut WorkState) -> T) -> T {
        let result = change(&mut self.lock());
        self.changed.notify_all();
        result
    }

    /// Wakes every waiter, after a change they wait for that lives elsewhere (a new super
    /// version). Taking the lock first means a waiter that checked before the change is
    /// asleep by now, so it cannot miss the wake-up.
    pub(crate) fn notify(&self) {
        drop(self.lock());
        self.changed.notify_all();
    }

    /// Wakes every waiter, for a caller that changed the state while holding the lock
    /// (inside [`Work::next_job`]'s closure).
    pub(crate) fn wake(&self) {
        self.changed.notify_all();
    }

    fn wait<'a>(&self, state: MutexGuard<'a, WorkState>) -> MutexGuard<'a, WorkState> {
        self.changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `ready` gives an answer. Fails with [`Error::Poisoned`] or
    /// [`Error::Closed`] if the database is poisoned or shuts down first.
    pub(crate) fn wait_for<T>(
        &self,
        mut ready: impl FnMut(&mut WorkState) -> Option<T>,
    ) -> Result<T> {
        let mut state = self.lock();
        loop {
            self.check()?;
            if let Some(answer) = ready(&mut state) {
                return Ok(answer);
            }
            if state.shutting_down {
                return Err(Error::Closed);
            }
            state = self.wait(state);
        }
    }

    /// A background thread's wait for its next job: `None` once the database shuts down.
    /// A poisoned database gives no more work; its threads wait for the shutdown.
    pub(crate) fn next_job<T>(
        &self,
        mut ready: impl FnMut(&mut WorkState) -> Option<T>,
    ) -> Option<T> {
        let mut state = self.lock();
        loop {
            if state.shutting_down {
                return None;
            }
            if !self.is_poisoned()
                && let Some(job) = ready(&mut state)
            {
                return Some(job);
            }
            state = self.wait(state);
        }
    }

    /// Sleeps for `period`, or until shutdown; false once shutting down.
    pub(crate) fn sleep(&self, period: Duration) -> bool {
        let deadline = Instant::now() + period;
        let mut state = self.lock();
        while !state.shutting_down {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return true;
            };
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }

    /// Refuses writes from now on, keeping the first failure, and wakes every waiter so
    /// they see it.
    pub(crate) fn poison(&self, failure: Error) {
        if self.poison.set(Arc::new(failure)).is_ok() {
            let failure = self.poison.get().expect("just set");
            tracing::error!(error = %failure, "the database refuses writes until reopened");
        }
        self.poisoned.store(true, Ordering::Release);
        self.notify();
    }

    /// Poisons the database with `failure` and returns it, for `map_err`.
    pub(crate) fn poisoned_by(&self, failure: Error) -> Error {
        self.poison(failure.clone());
        failure
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// [`Error::Poisoned`] once the database is poisoned.
    pub(crate) fn check(&self) -> Result<()> {
        if !self.is_poisoned() {
            return Ok(());
        }
        match self.poison.get() {
            Some(source) => Err(Error::Poisoned {
                source: Arc::clone(source),
            }),
            None => Ok(()),
        }
    }

    /// Marks a flush as writing its table until the guard is dropped.
    pub(crate) fn flushing(&self) -> Flushing<'_> {
        self.update(|s| s.flushing = true);
        Flushing { work: self }
    }

    /// Blocks while a flush writes its table, when compactions step aside for flushes (a
    /// flush never waits for a compaction, so this always ends). False once the database
    /// is shutting down: the compaction should stop.
    pub(crate) fn let_flush_pass(&self) -> bool {
        let mut state = self.lock();
        while self.flush_first && state.flushing && !state.shutting_down {
            state = self.wait(state);
        }
        !state.shutting_down
    }
}

/// A flush writing its table; see [`Work::flushing`].
pub(crate) struct Flushing<'a> {
    work: &'a Work,
}

impl Drop for Flushing<'_> {
    fn drop(&mut self) {
        self.work.update(|s| s.flushing = false);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Every kind of waiter wakes up, and sees the failure, when the database is
    /// poisoned: a caller waiting for a condition gets `Poisoned` with the failure as its
    /// source, and a background thread waiting for work keeps waiting until shutdown.
    #[test]
    fn poisoning_wakes_every_waiter() {
        let work = Arc::new(Work::new(true));
        let caller = std::thread::spawn({
            let work = Arc::clone(&work);
            move || work.wait_for(|s| (s.manual_done > 0).then_some(()))
        });
        let worker = std::thread::spawn({
            let work = Arc::clone(&work);
            move || work.next_job(|s| s.manual.pop_first())
        });
        work.poison(Error::InvalidInput("disk on fire".into()));
        match caller.join().unwrap() {
            Err(Error::Poisoned { source }) => {
                assert!(matches!(&*source, Error::InvalidInput(r) if r == "disk on fire"));
            }
            other => panic!("expected Poisoned, got {other:?}"),
        }
        // A second failure does not replace the first.
        work.poison(Error::Closed);
        assert!(
            matches!(work.check(), Err(Error::Poisoned { source }) if matches!(&*source, Error::InvalidInput(_)))
        );
        work.update(|s| s.shutting_down = true);
        assert_eq!(worker.join().unwrap(), None);
    }

    /// A compaction waiting for a flush passes exactly when the flush ends; with flushes
    /// first turned off, it never waits.
    #[test]
    fn a_compaction_waits_for_the_running_flush_only() {
        let work = Arc::new(Work::new(true));
        assert!(work.let_flush_pass());
        let off = Work::new(false);
        let _flushing = off.flushing();
        assert!(off.let_flush_pass());

        let flushing = work.flushing();
        let passed = Arc::new(AtomicBool::new(false));
        let waiter = std::thread::spawn({
            let (work, passed) = (Arc::clone(&work), Arc::clone(&passed));
            move || {
                assert!(work.let_flush_pass(), "not shutting down");
                passed.store(true, Ordering::SeqCst);
            }
        });
        // Whenever the waiter ran, it cannot have passed while the flush runs.
        std::thread::yield_now();
        assert!(!passed.load(Ordering::SeqCst), "passed a running flush");
        drop(flushing);
        waiter.join().unwrap();
        assert!(passed.load(Ordering::SeqCst));
    }
}
