//! Idle work: once writes stop, flush the memtable and let the strategy tidy up.
//!
//! Under a write load the engine holds work back on purpose: a memtable is flushed only
//! when full, and level 0 is merged into level 1 only once it holds
//! `l0_compaction_trigger` tables, so each rewrite of level 1 carries several flushes'
//! worth of keys. When the writes stop, whatever was held back stays: a partly full
//! memtable whose WAL segments cannot be retired, and level-0 tables full of versions that
//! level 1 shadows or is shadowed by. The idle thread notices the quiet and spends the idle
//! I/O on it, as InfluxDB's TSM engine does for a shard that has gone cold.
//!
//! It samples the published last sequence number on a timer instead of being told about
//! writes, so the write path pays nothing for it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ferris_core::SeqNo;

use crate::db::Shared;
use crate::write::Job;

impl Shared {
    /// The idle thread's loop, started when `Options::idle_after` is set: once the last
    /// sequence number has not moved for `idle_after`, do the idle work for it, once.
    pub(crate) fn idle_loop(self: &Arc<Shared>) {
        let Some(idle_after) = self.env.options.idle_after else {
            return;
        };
        // A zero period would spin; a millisecond is as good as zero to anyone.
        let idle_after = idle_after.max(Duration::from_millis(1));
        // The last sequence number seen, and when it was first seen: no write has been
        // published since then. A change is noticed at the next sample, so the quiet is
        // measured from that sample and idle work begins between `idle_after` and twice
        // that after the last write.
        let mut seen = self.writes.visible();
        let mut since = Instant::now();
        // The sequence number the idle work was last done for: not again until it moves.
        let mut done: Option<SeqNo> = None;
        loop {
            let now = self.writes.visible();
            if now != seen {
                (seen, since) = (now, Instant::now());
            }
            let quiet = since.elapsed();
            let wait = if done == Some(seen) || self.work.is_poisoned() {
                idle_after
            } else if quiet >= idle_after {
                self.idle_work(seen);
                done = Some(seen);
                continue;
            } else {
                idle_after - quiet
            };
            if !self.work.sleep(wait) {
                return;
            }
        }
    }

    /// The idle work for last sequence number `seq`: flush what the memtables hold, then
    /// mark the database idle at `seq` so the compaction threads ask the strategy with an
    /// idle view until it says there is nothing to do, or a write arrives.
    fn idle_work(&self, seq: SeqNo) {
        let keyspaces = self.versions.keyspaces();
        let flush = keyspaces.iter().any(|k| !k.current().mem.is_empty());
        tracing::info!(
            last_sequence = seq,
            flush,
            "no writes for a while: flushing and compacting with idle I/O"
        );
        // The same freeze `Db::flush` queues: it waits its turn behind any writer, rotates
        // the WAL, and hands the memtable to the flush thread, which retires the segments
        // as usual. With nothing in the active memtable it only names the newest frozen
        // one, so this also waits for the flushes already queued: compacting level 0
        // before they land would only mean compacting it again after.
        let flushed = self
            .check_writable()
            .and_then(|()| self.submit(Job::Freeze(None)))
            .and_then(|target| self.work.wait_for(|s| (s.flushed >= target).then_some(())));
        if let Err(e) = flushed {
            // Shutting down, or a failure that has already poisoned the database and been
            // logged by whoever met it: either way there is nothing idle to do.
            tracing::debug!(error = %e, "idle work stopped");
            return;
        }
        // Counted once the table is written, not when the flush is decided: a write that
        // slips in before the freeze goes into this flush, and whoever sees the count grow
        // must find that write flushed too.
        if flush {
            self.stats.idle_flushes.fetch_add(1, Ordering::Relaxed);
        }
        self.work.update(|s| s.idle_seq = Some(seq));
    }
}
