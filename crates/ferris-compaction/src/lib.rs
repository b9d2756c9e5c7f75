//! # ferris-compaction: keeping the levels in shape
//!
//! ## The problem
//!
//! Every flush adds a table to level 0, and level-0 tables overlap: a read may have to ask
//! every one of them, and an overwritten key keeps its old versions on disk forever.
//! Compaction merges tables, keeping only what a reader could still see, so that reads
//! touch few tables (read amplification), the disk holds little garbage (space
//! amplification), at the price of rewriting data (write amplification).
//!
//! ## The design
//!
//! This crate holds the *policy*, as pure functions: [`Strategy::choose`] looks at a
//! read-only [`View`] of the levels (table sizes, key ranges, sequence ranges, tombstone
//! counts, which tables are already being compacted) and returns a [`Choice`]: nothing, a
//! trivial move, a merge of some tables into a level, or dropping whole tables. The same
//! strategy says how far behind compaction is ([`Strategy::pending_compaction_bytes`]),
//! how hard writes must be held back for it ([`Strategy::write_pressure`]), and what a
//! manual compaction does next ([`Strategy::manual`]). No I/O, no clock, no threads: a
//! strategy can be tested with hand-built views, and run over a synthetic workload with
//! no disk at all. The engine (`ferris-engine`) executes the choice: it merges the
//! inputs, writes the outputs, and installs the result as one version edit.
//!
//! The *rules* of a merge live here too, just as pure. [`CompactionIterator`] filters the
//! merged inputs down to the versions someone can still read: the newest of each snapshot
//! stripe, none a range tombstone hides from every reader, and no tombstone at the bottom
//! that every snapshot sees ([`MergeRules`],
//! [`is_bottommost`]). [`OutputCuts`] says where the output tables end. The engine only
//! feeds table iterators in and writes what comes out, so the rules are tested here
//! with in-memory iterators, and never touch a file.
//!
//! ```text
//!   View ──► Strategy::choose ──► Choice::Merge { inputs, output_level }
//!                                         │ (engine opens the input tables)
//!   MergingIterator(inputs) ──► CompactionIterator(MergeRules) ──► OutputCuts ──► tables
//! ```
//!
//! This crate depends on `ferris-core` alone: a [`View`] holds the same
//! [`Levels`](ferris_core::level::Levels) of [`FileMeta`](ferris_core::level::FileMeta)
//! the manifest records, and the merge reads any
//! [`InternalIterator`](ferris_core::iter::InternalIterator).
//!
//! **Leveled** compaction ([`Leveled`], the default) keeps level 1 and deeper as sorted,
//! non-overlapping runs with sizes growing tenfold per level. Level 0 is merged into level
//! 1 once it holds [`CompactionOptions::l0_compaction_trigger`] tables; a deeper level
//! whose size passes its target has one table merged into the next level, the one whose
//! merge rewrites the fewest bytes of the level below (tables with many tombstones win
//! ties). A table with nothing below it to merge with simply moves down.
//!
//! The trigger on level 0 is a bet on more writes to come: with random keys, merging level
//! 0 into level 1 rewrites nearly all of level 1, so it pays to wait until level 0 holds
//! several flushes. When the engine sees no writes for a while it says so in the view
//! ([`View::idle`]), and the bet is off: if nothing else needs doing, [`Leveled`] merges
//! whatever level 0 holds into level 1 ([`Reason::Idle`]), which drops the versions the
//! two levels share for a single rewrite of level 1. It goes no deeper: the size targets
//! already keep the dead versions in deeper levels to about a tenth of the data, and a
//! full compaction for that tenth would rewrite the whole database each time the writes
//! pause.
//!
//! **Size-tiered** compaction ([`Tiered`], RocksDB's "universal" style) treats each
//! level-0 table and each deeper level as one sorted run, and merges runs of similar size,
//! or everything when the newer runs outweigh the oldest by too much. The engine runs
//! either (`ferris_engine::Options::compaction_strategy`).
//!
//! A strategy need not live in this crate: anything that implements [`Strategy`] can be
//! handed to the engine. `ferris-fifo` is one, written against this crate's public API
//! alone: FIFO compaction, which never merges and drops the oldest tables once the
//! database outgrows a size cap, for logs and time series.
//!
//! **Compaction filters** ([`CompactionFilter`]) are the user's hook into the merge: for
//! the newest version of each key that no live snapshot reads, a filter may keep it,
//! remove the key (the merge writes a tombstone in its place, or nothing at the bottom) or
//! change its value. Versions a snapshot reads are never shown to it, so a snapshot's view
//! never changes under it. Data a filter should see only meets it when a compaction
//! rewrites it; a manual compaction of a database with a filter ends by rewriting the
//! deepest level too ([`rewrite_bottom`]), so `Db::compact_range` forces it over a range.
//!
//! ## Range tombstones
//!
//! A range tombstone (`ferris_core::range_del`) deletes every key in `[start, end)` older
//! than itself with one entry. Table files keep them apart from their entries, so the
//! engine hands the merge the union of its inputs' ([`MergeRules::range_tombstones`]),
//! and the merge treats them by the same stripes as point versions:
//!
//! - A version `k @ s` under a tombstone `@ t` with `s < t` is dropped when no snapshot
//!   lies between them (at or above `s`, below `t`): every reader that could see it sees
//!   the tombstone too. A snapshot between them still reads `k @ s`, so it stays.
//! - Over each fragment of the key space, of several tombstones in one stripe only the
//!   newest stays: it hides everything the older ones hide, from everyone who sees them.
//! - In a bottommost merge, a tombstone every snapshot sees goes as well, as a point
//!   tombstone does: all it covered has just been dropped, and nothing older lies below.
//!
//! ```text
//!   snapshot:              s=5
//!   tombstone [a, z):   3   |   9          kept: @3, @9 (bottommost: @9 alone)
//!   versions of k:   2   4  |  6   11      kept: k@4 (s=5 reads it), k@11 (newer)
//! ```
//!
//! What survives is divided between the output tables. Each table's metadata claims the
//! user keys its tombstones cover, and the tables of a level must not overlap, so where
//! the engine cuts the output after key `x`, the tombstones are cut at `x\0`: the
//! smallest key after `x`, so the first table claims up to `x` exactly and the next one
//! begins after it ([`CompactionIterator::cut_range_tombstones`]). Cut at the next
//! table's first key instead, both tables would claim that key. The last table takes the
//! rest, and a merge whose every entry was deleted still writes one table with the
//! tombstones alone, for they may hide versions in the levels below.
//!
//! ## The amplification, measured
//!
//! `cargo xtask compaction-sim` runs both strategies over a synthetic workload with no I/O
//! (see `xtask/src/compaction_sim.rs` for the model). Its default run, 5,000,000 random
//! overwrites of 1,000,000 keys with 10,000-entry memtables, printed:
//!
//! ```text
//! strategy  write amp space amp end space amp max  read amp avg  read amp end  max L0 compactions  tables
//! leveled        8.63          1.09          1.13          3.27          1.76       4         554     126
//! tiered         4.19          2.03          2.03          4.31          8.00       8         245     105
//! ```
//!
//! Leveled compaction holds space amplification near 1.1 (almost no dead versions on
//! disk) by rewriting each entry about eight times. Tiered compaction rewrites each entry
//! about four times, half as often, and pays for it twice: up to twice the disk, and up
//! to eight sorted runs for a lookup to consult. That is the trade-off the two strategies
//! exist to offer.
//!
//! The tiered figures depend on one setting more than any other, the run limit
//! ([`Tiered::max_runs`]). With RocksDB's rule, which merges as soon as there are more
//! runs than the level-0 trigger (`--tiered-max-runs 4`), the simulator prints a write
//! amplification of 8.95, no better than leveled; with a limit of three it printed 19.09.
//! [`Tiered`]'s documentation explains why, and `docs/concepts/compaction.md` walks
//! through all three runs.
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use ferris_compaction::{Choice, CompactionOptions, Leveled, Strategy, View, WritePressure};
//! use ferris_core::level::{FileMeta, Levels};
//! use ferris_core::{InternalKey, ValueKind};
//!
//! let table = |number: u64, lo: &str, hi: &str| Arc::new(FileMeta {
//!     number,
//!     size: 1 << 20,
//!     smallest: InternalKey::new(lo.as_bytes().to_vec(), number, ValueKind::Put),
//!     largest: InternalKey::new(hi.as_bytes().to_vec(), number, ValueKind::Put),
//!     min_seq: number,
//!     max_seq: number,
//!     entries: 1000,
//!     tombstones: 0,
//! });
//! // Four overlapping level-0 tables: the trigger is reached.
//! let levels = Levels::from_files([
//!     (0, table(4, "a", "m")),
//!     (0, table(3, "c", "z")),
//!     (0, table(2, "a", "b")),
//!     (0, table(1, "k", "p")),
//!     (1, table(0, "n", "q")),
//! ]);
//! let view = View::new(levels);
//! let options = CompactionOptions::default();
//! let choice = Leveled.choose(&view, &options);
//! let Choice::Merge { inputs, output_level, .. } = choice else { panic!("{choice:?}") };
//! assert_eq!(output_level, 1);
//! assert_eq!(inputs[0].1.len(), 4); // all of level 0
//! assert_eq!(inputs[1].1.len(), 1); // and the level-1 table it overlaps
//! // Four tables are far from the slowdown trigger (20): writes go at full speed.
//! assert_eq!(Leveled.write_pressure(&view, &options), WritePressure::None);
//! ```
//!
//! ## Guarantees and limits
//!
//! - A strategy never picks a table a running compaction owns ([`View::busy`]), so two
//!   compactions never read or replace the same table.
//! - [`Leveled`] keeps level 1 and deeper sorted and non-overlapping; [`Tiered`] keeps at
//!   most [`Tiered::max_runs`] sorted runs once compaction has caught up.
//! - The picker sees sizes and key ranges, not keys: it cannot know how many entries a
//!   merge will drop, so its amplification figures are bounds, not predictions.
//! - One level-0 merge at a time; a level-0 merge under leveled compaction takes all of
//!   level 0, however big it has grown.
//! - [`CompactionIterator`] keeps, for every snapshot and for the present, the version
//!   that reader sees of every key: a proptest checks it against a model over random
//!   histories and snapshot sets. It drops a tombstone only in a bottommost merge, and
//!   only when every snapshot sees it. With range tombstones in the input, the same
//!   proptest cuts the output at random and checks that every reader finds the same in
//!   the output tables, each key read under its own table's tombstones, and that no two
//!   tables claim a key.
//! - [`CompactionIterator::next`] reads past every entry it drops before returning, so a
//!   long run of dropped versions is one call: a caller that checks for shutdown between
//!   calls checks less often there.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 7. Try each exercise first.
//!
//! 1. Run `cargo xtask compaction-sim --tiered-max-runs 16`. Which columns move, and why?
//! 2. Halve the simulator's `--memtable`. Does leveled write amplification change much?
//!    Why not?
//! 3. Build a [`View`] where both the space-amplification and the size-ratio rules of
//!    [`Tiered`] apply, and check which one [`Strategy::choose`] follows.
//! 4. Give [`Leveled`] an idle view ([`View::idle`]) with two level-0 tables and nothing
//!    else over its target. What does it choose, and what would it choose without
//!    `idle`?
//! 5. Run a [`CompactionIterator`] over three versions of one key, a put at 1, a delete
//!    at 2 and a put at 3, with a snapshot at 2, once with `bottommost` and once without.
//!    Which versions survive each time, and why may the tombstone go only in one of them?
//! 6. Give the same merge a range tombstone over the key, newer than the oldest version
//!    and older than the snapshot ([`MergeRules::range_tombstones`]). Which versions
//!    does it take with it, and which range tombstones survive, with and without
//!    `bottommost`?
//!
//! ## What to read next
//!
//! `ferris-fifo`, a third strategy written outside this crate, and
//! `ferris-conformance`'s `strategy` module, the rules every strategy is checked against.
//! Then chapter 8, `ferris-cli`: `ferris stats` and `ferris manifest dump` show the levels
//! a strategy shaped, on your own database. `ferris-engine`'s `compaction.rs` executes a
//! [`Choice`] with the iterator and cut rule above, and `docs/concepts/compaction.md`
//! walks through the simulator's runs.

#![forbid(unsafe_code)]

mod filter;
mod merge;
mod output;
mod picker;
mod tiered;

pub use filter::{CompactionFilter, Decision, ExpiryFilter};
pub use merge::{CompactionIterator, MergeRules, MergeStats};
pub use output::{OutputCuts, grandparents, is_bottommost};
pub use picker::{
    Choice, CompactionOptions, Leveled, Reason, Strategy, View, WritePressure, key_range,
    manual_step, rewrite_bottom,
};
pub use tiered::Tiered;
