//! The table-format suite: what every [`TableFormat`] must do, checked.
//!
//! Each check below is a function taking the format under test and returning
//! `Result<(), Failure>`, and [`check_format`] runs them all, in this order (the cheap
//! and basic first, so that a broken format fails where the cause is plainest):
//!
//! | check | what it demands |
//! |---|---|
//! | [`names`] | `parse_file_name(file_name(n))` is `n`, not temporary, for any `n`; `path` joins the name; the names of other files (`CURRENT`, `000001.log`, ...) are not tables; every file a builder has written before `finish` parses as table `n`, temporary |
//! | [`builder_contract`] | finishing an empty builder, and adding a key that does not sort after the last one, are [`Error::InvalidInput`], and a rejected entry is not added; `len` counts entries; a builder dropped before `finish` leaves no file, even after writing megabytes |
//! | [`round_trips`] | for each of [`SEEDS`], random entries (many versions of a key, puts and tombstones, empty values, long keys, values larger than a block; block sizes from 1 byte up) written and read back: [`TableReader::get`] at many snapshots, [`TableReader::get_many`] of random sorted key sets (some answers given beforehand, which it must leave alone), full scans both ways and random walks of seeks and steps agree with the model; the properties are the entries' bounds, counts and sequence numbers, `file_size` is the file's length, and `keyspace` is the one the table was written for (7, 0, `u32::MAX` or 1), from `finish` and from the reader alike; `verify` finds the table intact and accounts for every byte; the same answers through a [`BlockCache`], with an iterator that does not fill it adding nothing to it, and from two threads at once |
//! | [`range_tombstones`] | range tombstones added in several calls (before, between and after the entries; overlapping; some with no end) come back from [`TableReader::range_tombstones`] as their union; [`TableReader::get`] and [`TableReader::get_many`] at many snapshots resolve the newest version against them (a newer version beats an older tombstone, a snapshot before a tombstone still sees the key, a key with no version under a tombstone is `Deleted`); a scan yields the entries and no tombstone; the properties count them and their bounds and sequence numbers hold them; a table of tombstones alone is a table; in a fixed case and for each of [`RANGE_SEEDS`] |
//! | [`power_cuts`] | a power cut after every file-system operation of a build (on `SimFs`) leaves either no table under its name, or the whole table; a finished one always survives; nothing but the table and its temporary file is ever left |
//! | [`io_faults`] | each write, sync, rename or directory sync of a build failing once is an [`Error::Io`] and leaves no temporary file; each read failing once is an [`Error::Io`], never a [`Error::Corruption`] or a wrong answer |
//! | [`bit_flips`] | every single-bit flip of a small table (with range tombstones), and every truncation of it, is reported as [`Error::Corruption`] (or [`Error::UnsupportedVersion`]) naming the file, by `open`, by a read or by `verify`, and never changes an answer |
//! | [`hostile_bytes`] | for each of [`HOSTILE_SEEDS`], arbitrary bytes under a table's name, and a table with random bytes overwritten, never panic, fail only with `Corruption` or `UnsupportedVersion`, and never give a wrong answer |
//!
//! The model throughout is [`VecIter`](ferris_core::iter::VecIter): a sorted vector of
//! the entries written, which answers every iterator call by binary search, and a lookup
//! at a snapshot as "the first entry at or after `(key, snapshot)` with that user key".
//!
//! A check returns the first [`Failure`] it meets, naming the format by its
//! [`TableFormat::name`], the check, the case (a seed, a byte and bit, the operation the
//! power was cut after) and what went wrong. A format that panics fails the check too,
//! with its panic message as the detail. Every case is deterministic, so running the
//! check again repeats the failure; [`round_trips_seed`] and [`hostile_bytes_seed`] run
//! the one seed a failure names.
//!
//! ```
//! use ferris_conformance::table;
//! use ferris_minitable::MinitableFormat;
//!
//! table::names(&MinitableFormat)?;
//! table::builder_contract(&MinitableFormat)?;
//! table::round_trips_seed(&MinitableFormat, 3)?;
//! # Ok::<(), ferris_conformance::Failure>(())
//! ```
//!
//! # Limits
//!
//! The tables are small: up to 200 user keys of a few versions each, and for the crash
//! checks one table of 3 MiB, so what a format does only with large files (past 4 GiB,
//! say) is its own tests' business. Bits are flipped in one small table of several
//! blocks, and reads fail in one table, so damage only a larger layout has (a
//! second-level index, say) is reached only by chance. Everything runs on `SimFs`.
//!
//! [`Error::InvalidInput`]: ferris_core::Error::InvalidInput
//! [`Error::Io`]: ferris_core::Error::Io
//! [`Error::Corruption`]: ferris_core::Error::Corruption
//! [`Error::UnsupportedVersion`]: ferris_core::Error::UnsupportedVersion
//! [`TableReader::get`]: ferris_table::TableReader::get
//! [`TableReader::get_many`]: ferris_table::TableReader::get_many
//! [`TableReader::range_tombstones`]: ferris_table::TableReader::range_tombstones
//! [`BlockCache`]: ferris_table::BlockCache

mod builder;
mod crash;
mod damage;
mod generate;
mod harness;
mod names;
mod range_del;
mod round_trip;

use std::ops::Range;

use ferris_table::TableFormat;

use crate::Failure;

pub use builder::builder_contract;
pub use crash::{io_faults, power_cuts};
pub use damage::{bit_flips, hostile_bytes, hostile_bytes_seed};
pub use names::names;
pub use range_del::range_tombstones;
pub use round_trip::{round_trips, round_trips_seed};

/// The seeds [`round_trips`] runs: each one a different set of entries and options.
pub const SEEDS: Range<u64> = 0..12;

/// The seeds [`range_tombstones`] runs: each one random entries and random tombstones.
pub const RANGE_SEEDS: Range<u64> = 0..8;

/// The seeds [`hostile_bytes`] runs: each one random bytes, and a table with random bytes
/// overwritten.
pub const HOSTILE_SEEDS: Range<u64> = 0..300;

/// A check of the suite: the format in, the first failure out.
pub type Check = fn(&dyn TableFormat) -> Result<(), Failure>;

/// Every check, with its name, in the order [`check_format`] runs them.
pub const CHECKS: [(&str, Check); 8] = [
    ("names", names),
    ("builder_contract", builder_contract),
    ("round_trips", round_trips),
    ("range_tombstones", range_tombstones),
    ("power_cuts", power_cuts),
    ("io_faults", io_faults),
    ("bit_flips", bit_flips),
    ("hostile_bytes", hostile_bytes),
];

/// Runs every check of the suite against `format`, in the order of [`CHECKS`].
///
/// # Errors
///
/// The first [`Failure`], naming `format` by its [`TableFormat::name`].
pub fn check_format(format: &dyn TableFormat) -> Result<(), Failure> {
    CHECKS.iter().try_for_each(|(_, check)| check(format))
}
