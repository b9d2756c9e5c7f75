//! Stage 4, the table format: `lab_table::LabFormat`, or the reference
//! `ferris_minitable::MinitableFormat`.
//!
//! The checks are FerrisDB's table suite, `ferris_conformance::table`, unchanged: the one
//! `ferris-sstable` and `ferris-minitable` pass, on a simulated disk (`ferris_fs::SimFs`)
//! with power cuts, failing operations and bit flips. Its module page says what each
//! check does; the guarantees below say what each stands for.

use ferris_conformance::table as suite;
use ferris_table::TableFormat;

use crate::{Check, Subject};

/// The format graded for `subject`.
pub fn format(subject: Subject) -> &'static dyn TableFormat {
    match subject {
        Subject::Lab => &lab_table::LabFormat,
        Subject::Reference => &ferris_minitable::MinitableFormat,
    }
}

/// The stage's checks, in order: the suite's, cheap and basic first.
pub const CHECKS: [Check; 8] = [
    Check {
        name: "names",
        guarantee: "the format owns its file names: file_name and parse_file_name are inverses, \
                    and a table being written has a temporary name parse_file_name recognises, \
                    so recovery can remove what a power cut left",
        run: |s| suite::names(format(s)),
        seed: None,
    },
    Check {
        name: "builder_contract",
        guarantee: "a builder takes entries in strictly increasing order, refuses one out of \
                    order and an empty table (InvalidInput), counts what it took, and leaves no \
                    file when dropped unfinished",
        run: |s| suite::builder_contract(format(s)),
        seed: None,
    },
    Check {
        name: "round_trips",
        guarantee: "what was written is what is read: get at every snapshot, get_many, scans \
                    both ways, seeks, the properties and verify agree with the entries written",
        run: |s| suite::round_trips(format(s)),
        seed: Some(|s, seed| suite::round_trips_seed(format(s), seed)),
    },
    Check {
        name: "range_tombstones",
        guarantee: "a table keeps its range deletes apart from its entries, hands them back, and \
                    get resolves each key against them",
        run: |s| suite::range_tombstones(format(s)),
        seed: None,
    },
    Check {
        name: "power_cuts",
        guarantee: "a power cut at any moment of a build leaves either no table under its name \
                    or the whole table, and a finished table always survives",
        run: |s| suite::power_cuts(format(s)),
        seed: None,
    },
    Check {
        name: "io_faults",
        guarantee: "a failed write, sync, rename or read is an Io error, never a Corruption, a \
                    wrong answer or a leftover file",
        run: |s| suite::io_faults(format(s)),
        seed: None,
    },
    Check {
        name: "bit_flips",
        guarantee: "damage is found: every bit flipped and every truncation is a Corruption naming \
                    the file, never a panic and never a wrong answer",
        run: |s| suite::bit_flips(format(s)),
        seed: None,
    },
    Check {
        name: "hostile_bytes",
        guarantee: "bytes that were never a table never panic the reader and never answer as if \
                    they were one",
        run: |s| suite::hostile_bytes(format(s)),
        seed: Some(|s, seed| suite::hostile_bytes_seed(format(s), seed)),
    },
];
