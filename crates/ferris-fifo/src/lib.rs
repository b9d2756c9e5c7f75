//! # ferris-fifo: compaction that only ever throws the oldest data away
//!
//! ## The problem
//!
//! Some data is written once, read while it is recent, and worth nothing once it is old:
//! application logs, metrics, traces, sensor readings. Keys are mostly new (a timestamp,
//! a counter), so there is little to overwrite and nothing for a merge to reclaim; what
//! the disk must be protected from is the data's sheer *age*. Leveled or tiered
//! compaction would rewrite every byte several times to sort it into levels, only for it
//! to be deleted later by the application, each delete a tombstone that takes another
//! round of merges to clear.
//!
//! ## The design
//!
//! [`Fifo`] keeps every flushed table in level 0 as it is, and merges nothing: a byte is
//! written once, by its flush (write amplification 1). Once the tables together weigh
//! more than [`Fifo::max_total_bytes`], it drops the oldest ones, whole, until they fit
//! under the cap again: a [`Choice::Drop`], which the engine installs as one version edit
//! without reading or writing a table. It is RocksDB's FIFO compaction
//! (`kCompactionStyleFIFO` with `max_table_files_size`).
//!
//! "Oldest" is by newest entry: the table whose largest sequence number is the smallest.
//! In a database that has only ever used FIFO, each table is one flush and holds a range
//! of sequence numbers of its own, so that is also the table all of whose entries are
//! older than every other table's. A table is never dropped while a table it would
//! uncover stays: if another table overlapping its keys holds an entry older than the
//! dropped table's newest, a read could find an old version the dropped table used to
//! hide, so that table goes in the same drop. In a database that only ever used FIFO this
//! never happens; in one that used another strategy before, the first drops may take
//! more than the excess.
//!
//! ```text
//!   flush ──► L0: [t9] [t8] [t7] [t6] [t5] [t4] [t3] [t2] [t1]   total > cap
//!                                                 └─ dropped ─┘  oldest first
//! ```
//!
//! This crate is written against `ferris-compaction`'s public API alone ([`Strategy`],
//! [`View`], [`Choice`]): the proof that a strategy can live outside that crate.
//!
//! ## The trade-offs
//!
//! - **Reads consult every table.** Nothing is merged, so a point lookup may have to ask
//!   every table whose key range holds the key (each table's bloom filter keeps most of
//!   those asks cheap), and a scan merges all of them. Keep the tables few and large: a
//!   big memtable, and a cap a modest multiple of it.
//! - **Space stays at about the cap**: between drops the tables may pass it by one flush.
//! - **Old data is deleted, whatever it is.** Data older than what fits under the cap is
//!   gone, read or not, overwritten or not, deleted or not. A key overwritten since keeps
//!   its newer value; a key never written again loses its only one. Deletes free no space
//!   before the tables holding them age out.
//!
//! So FIFO suits logs, metrics and time series, where the newest data is what matters and
//! the cap says how much history to keep; it does not suit a database whose old keys must
//! stay readable.
//!
//! ## Example
//!
//! Five flushed tables of 100 bytes each against a 350-byte cap: the two oldest go.
//!
//! ```
//! use std::sync::Arc;
//! use ferris_compaction::{Choice, CompactionOptions, Strategy, View, WritePressure};
//! use ferris_core::level::{FileMeta, Levels};
//! use ferris_core::{InternalKey, ValueKind};
//! use ferris_fifo::Fifo;
//!
//! // Table `n` is the n-th flush: a time range of keys, sequence numbers 100n..100n+99.
//! let flush = |n: u64| Arc::new(FileMeta {
//!     number: n,
//!     size: 100,
//!     smallest: InternalKey::new(format!("t{n:03}").into_bytes(), 100 * n + 99, ValueKind::Put),
//!     largest: InternalKey::new(format!("t{:03}", n + 1).into_bytes(), 100 * n, ValueKind::Put),
//!     min_seq: 100 * n,
//!     max_seq: 100 * n + 99,
//!     entries: 100,
//!     tombstones: 0,
//! });
//! let view = View::new(Levels::from_files((1..=5).map(|n| (0, flush(n)))));
//! let fifo = Fifo::new(350);
//! let options = CompactionOptions::default();
//!
//! let Choice::Drop { files } = fifo.choose(&view, &options) else { panic!() };
//! let dropped: Vec<u64> = files.iter().map(|(_, f)| f.number).collect();
//! assert_eq!(dropped, [1, 2]);
//! assert_eq!(fifo.pending_compaction_bytes(&view, &options), 150);
//! // Five level-0 tables, or five hundred: FIFO never holds writes back for the count.
//! assert_eq!(fifo.write_pressure(&view, &options), WritePressure::None);
//!
//! // Under the cap there is nothing to do, manual compaction included.
//! let view = View::new(Levels::from_files((3..=5).map(|n| (0, flush(n)))));
//! assert_eq!(fifo.choose(&view, &options), Choice::Nothing);
//! assert_eq!(fifo.manual(&view, None), Choice::Nothing);
//! ```
//!
//! ## Using it with the engine
//!
//! The engine takes any [`Strategy`] in `ferris_engine::Options::compaction_strategy`.
//! Here a database of hourly readings keeps about 64 KiB of tables, and forgets the
//! oldest hours as new ones arrive:
//!
//! ```
//! use std::sync::Arc;
//! use ferris_engine::{Db, Options, WriteBatch};
//! use ferris_fifo::Fifo;
//!
//! let dir = tempfile::tempdir()?;
//! let mut options = Options::default();
//! options.compaction_strategy = Arc::new(Fifo::new(64 << 10));
//! let db = Db::open(dir.path(), options)?;
//!
//! let reading = vec![b'r'; 1000];
//! for hour in 0..20 {
//!     let mut batch = WriteBatch::new();
//!     for minute in (0..60).step_by(6) {
//!         batch.put(format!("{hour:02}:{minute:02}"), &reading);
//!     }
//!     db.write(batch)?;
//!     db.flush()?; // one level-0 table an hour, about 10 KiB
//! }
//! // Background compaction drops the oldest tables as the cap is passed; a manual
//! // compaction runs FIFO's own step, which drops whatever is still over it.
//! db.compact()?;
//!
//! let stats = db.stats();
//! let bytes: u64 = stats.levels.iter().map(|level| level.bytes).sum();
//! assert!(bytes <= 64 << 10);
//! assert_eq!(stats.levels[0].bytes, bytes); // every table is still in level 0
//! assert_eq!(db.get("00:00")?, None); // the oldest hours are gone
//! assert_eq!(db.get("19:54")?.as_deref(), Some(&reading[..])); // the newest are kept
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Guarantees
//!
//! - **Never merges or moves**: every choice is [`Choice::Nothing`] or a
//!   [`Choice::Drop`]. The tables a flush writes are the only tables there are.
//! - **Oldest first**: a drop takes tables in order of their newest entry, and stops at
//!   a table a running compaction owns rather than skip it for a newer one.
//! - **No resurrection**: a drop never uncovers an older version of a key it removes
//!   (see the design above).
//! - After a drop the tables weigh at most [`Fifo::max_total_bytes`].
//! - Writes are never held back for level 0's table count, only for a backlog of drops
//!   ([`Fifo`]'s [`Strategy::write_pressure`]).
//!
//! ## Limits
//!
//! - The cap is on table bytes: the memtables and the write-ahead log come on top.
//! - Age is by sequence number, not time: there is no time-to-live. A database written
//!   slowly keeps old data as long as it fits.
//! - A single table bigger than the cap is dropped as soon as it is flushed, so keep the
//!   cap well above the memtable size.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 7. Try each exercise first.
//!
//! 1. Build a view with one deep table from an earlier leveled life (level 6, sequence
//!    numbers 1 to 1000, keys `a` to `z`) under three FIFO flushes, and a cap that one
//!    drop satisfies. Which tables go, and why more than the oldest flush?
//! 2. What should `write_pressure` say for a FIFO database whose oldest table a leftover
//!    compaction owns for an hour? Follow [`Strategy::write_pressure`] for it.
//! 3. RocksDB's FIFO compaction can also merge small level-0 tables into bigger ones
//!    (`allow_compaction`). What would that win for reads, and what would it cost?
//!
//! ## What to read next
//!
//! `ferris-compaction` for the trait and the other two strategies, and
//! `ferris-conformance`'s `strategy` module, whose checks this strategy passes.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::sync::Arc;

use ferris_compaction::{Choice, CompactionOptions, Strategy, View, WritePressure};
use ferris_core::level::FileMeta;

/// FIFO compaction: flushes stay in level 0, nothing is merged, and once the tables weigh
/// more than [`max_total_bytes`](Fifo::max_total_bytes) the oldest are dropped. See the
/// [crate docs](crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fifo {
    /// The most bytes of tables to keep (default 1 GiB, RocksDB's
    /// `max_table_files_size`). Past it, the oldest tables are dropped until the rest fit.
    pub max_total_bytes: u64,
}

impl Default for Fifo {
    fn default() -> Self {
        Fifo::new(1 << 30)
    }
}

impl Fifo {
    /// FIFO compaction keeping at most `max_total_bytes` of tables.
    pub fn new(max_total_bytes: u64) -> Fifo {
        Fifo { max_total_bytes }
    }

    /// The oldest tables to drop to bring `view` under the cap, or [`Choice::Nothing`].
    fn drop_over_cap(&self, view: &View) -> Choice {
        let mut total: u64 = view.levels.files().map(|(_, f)| f.size).sum();
        if total <= self.max_total_bytes {
            return Choice::Nothing;
        }
        let mut oldest_first: Vec<(usize, &Arc<FileMeta>)> = view.levels.files().collect();
        oldest_first.sort_by_key(|(_, f)| (f.max_seq, f.number));
        let mut dropped: Vec<(usize, Arc<FileMeta>)> = Vec::new();
        let mut gone: HashSet<u64> = HashSet::new();
        for &(level, file) in &oldest_first {
            if total <= self.max_total_bytes {
                break;
            }
            if gone.contains(&file.number) {
                continue;
            }
            let group = uncovered_with(&oldest_first, &gone, (level, file));
            // An older table held by a running compaction waits, and everything newer
            // waits behind it: dropping newer data first would break the FIFO order.
            if view.is_busy(group.iter().map(|&(_, f)| f)) {
                break;
            }
            for (level, file) in group {
                total -= file.size;
                gone.insert(file.number);
                dropped.push((level, file.clone()));
            }
        }
        if dropped.is_empty() {
            Choice::Nothing
        } else {
            dropped.sort_by_key(|(_, f)| (f.max_seq, f.number));
            Choice::Drop { files: dropped }
        }
    }
}

/// `first` and every table that must go with it: each remaining table that shares keys
/// with one in the group and holds an entry older than that one's newest. Left behind, it
/// could hold an older version of a key the group removes, and reads would find it.
fn uncovered_with<'a>(
    tables: &[(usize, &'a Arc<FileMeta>)],
    gone: &HashSet<u64>,
    first: (usize, &'a Arc<FileMeta>),
) -> Vec<(usize, &'a Arc<FileMeta>)> {
    let mut group = vec![first];
    let mut i = 0;
    while i < group.len() {
        let (_, member) = group[i];
        for &(level, t) in tables {
            let older_below = t.min_seq < member.max_seq
                && t.overlaps(member.smallest.user_key(), member.largest.user_key());
            let taken = gone.contains(&t.number) || group.iter().any(|(_, g)| g.number == t.number);
            if older_below && !taken {
                group.push((level, t));
            }
        }
        i += 1;
    }
    group
}

impl Strategy for Fifo {
    fn name(&self) -> &str {
        "fifo"
    }

    /// Drops the oldest tables while the tables weigh more than the cap; otherwise
    /// nothing. Never merges, never moves a table.
    fn choose(&self, view: &View, _options: &CompactionOptions) -> Choice {
        self.drop_over_cap(view)
    }

    /// The bytes over the cap: what the next drop removes (at least).
    fn pending_compaction_bytes(&self, view: &View, _options: &CompactionOptions) -> u64 {
        let total: u64 = view.levels.files().map(|(_, f)| f.size).sum();
        total.saturating_sub(self.max_total_bytes)
    }

    /// Never on level 0's table count: a FIFO database keeps every table in level 0 by
    /// design, and more tables cost reads, not a backlog. Only on the bytes over the cap,
    /// against [`CompactionOptions::soft_pending_compaction_bytes`] and
    /// [`CompactionOptions::hard_pending_compaction_bytes`]
    /// ([`WritePressure::of_pending_bytes`]): a drop is a single edit, so the excess
    /// grows only while drops cannot happen (the oldest table held by a compaction left
    /// from another strategy), and then writes slow and stop before the disk fills.
    fn write_pressure(&self, view: &View, options: &CompactionOptions) -> WritePressure {
        WritePressure::of_pending_bytes(self.pending_compaction_bytes(view, options), options)
    }

    /// The same as [`choose`](Strategy::choose), whatever the range: drop what is over the
    /// cap, else nothing. There is nothing to merge, and dropping data below the cap
    /// because a user asked to compact a range would lose data nobody asked to lose.
    fn manual(&self, view: &View, _range: Option<(&[u8], &[u8])>) -> Choice {
        self.drop_over_cap(view)
    }
}

#[cfg(test)]
mod tests {
    use ferris_compaction::Strategy;
    use ferris_core::level::Levels;
    use ferris_core::{InternalKey, ValueKind};
    use proptest::prelude::*;

    use super::*;

    fn table(number: u64, lo: &str, hi: &str, seqs: (u64, u64), size: u64) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            number,
            size,
            smallest: InternalKey::new(lo.as_bytes().to_vec(), seqs.1, ValueKind::Put),
            largest: InternalKey::new(hi.as_bytes().to_vec(), seqs.0, ValueKind::Put),
            min_seq: seqs.0,
            max_seq: seqs.1,
            entries: 10,
            tombstones: 0,
        })
    }

    fn numbers(choice: &Choice) -> Vec<u64> {
        match choice {
            Choice::Drop { files } => files.iter().map(|(_, f)| f.number).collect(),
            Choice::Nothing => Vec::new(),
            other => panic!("FIFO chose {other:?}"),
        }
    }

    #[test]
    fn a_busy_oldest_table_holds_back_every_drop() {
        let l0 = (1..=4).map(|n| (0, table(n, "a", "z", (10 * n, 10 * n + 9), 100)));
        let mut view = View::new(Levels::from_files(l0));
        let fifo = Fifo::new(250);
        let options = CompactionOptions::default();
        assert_eq!(numbers(&fifo.choose(&view, &options)), [1, 2]);
        view.busy.insert(1);
        assert_eq!(fifo.choose(&view, &options), Choice::Nothing);
        // The backlog stays visible to flow control meanwhile.
        assert_eq!(fifo.pending_compaction_bytes(&view, &options), 150);
    }

    #[test]
    fn a_table_that_would_uncover_older_versions_goes_with_the_oldest() {
        // A table from an earlier leveled life: deep, old entries and one recent one, over
        // every key. Dropping flush 2 alone would let its keys' old versions in the deep
        // table show again; so the deep table goes with it, and flush 3 (whose keys lie
        // outside it) stays.
        let deep = table(1, "a", "m", (1, 500), 1000);
        let flush2 = table(2, "c", "d", (100, 199), 100);
        let flush3 = table(3, "x", "y", (600, 699), 100);
        let view = View::new(Levels::from_files([(6, deep), (0, flush2), (0, flush3)]));
        let fifo = Fifo::new(1100);
        assert_eq!(
            numbers(&fifo.choose(&view, &CompactionOptions::default())),
            [2, 1]
        );
    }

    #[test]
    fn level0_table_counts_never_stop_writes() {
        let options = CompactionOptions::default();
        let l0 = (1..=100).map(|n| (0, table(n, "a", "z", (n, n), 1)));
        let view = View::new(Levels::from_files(l0));
        assert_eq!(
            Fifo::new(1000).write_pressure(&view, &options),
            WritePressure::None
        );
        let mut options = options;
        options.soft_pending_compaction_bytes = 10;
        options.hard_pending_compaction_bytes = 50;
        assert_eq!(
            Fifo::new(80).write_pressure(&view, &options),
            WritePressure::Slowdown
        );
        assert_eq!(
            Fifo::new(50).write_pressure(&view, &options),
            WritePressure::Stop
        );
    }

    proptest! {
        /// A FIFO database (flushes only, each its own sequence range) under any cap: each
        /// drop takes the oldest tables and leaves the rest under the cap, and a key's
        /// newest surviving version is never older than one the drop removed.
        #[test]
        fn flushes_and_drops_keep_the_newest_data_under_the_cap(
            flushes in proptest::collection::vec((0u8..20, 0u8..5, 1u64..500), 1..60),
            cap in 0u64..3000,
        ) {
            let fifo = Fifo::new(cap);
            let options = CompactionOptions::default();
            let mut view = View::default();
            for (i, &(lo, width, size)) in flushes.iter().enumerate() {
                let n = i as u64 + 1;
                let (lo, hi) = (format!("{lo:02}"), format!("{:02}", lo + width));
                let flushed = table(n, &lo, &hi, (100 * n, 100 * n + 99), size);
                view.levels = view.levels.apply(&[], [(0, flushed)]).unwrap();
                let choice = fifo.choose(&view, &options);
                let dropped = numbers(&choice);
                let Choice::Drop { files } = &choice else { continue };
                let newest_dropped = files.iter().map(|(_, f)| f.max_seq).max().unwrap();
                let deleted: Vec<(usize, u64)> = choice.tables().iter().map(|(l, f)| (*l, f.number)).collect();
                view.levels = view.levels.apply(&deleted, []).unwrap();
                let total: u64 = view.levels.files().map(|(_, f)| f.size).sum();
                prop_assert!(total <= cap, "{} bytes left over a cap of {}", total, cap);
                prop_assert!(view.levels.files().all(|(_, f)| f.min_seq > newest_dropped));
                prop_assert!(dropped.windows(2).all(|w| w[0] < w[1]), "oldest first: {:?}", dropped);
                prop_assert_eq!(fifo.choose(&view, &options), Choice::Nothing);
            }
        }
    }
}
