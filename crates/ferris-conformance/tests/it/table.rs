//! The table suite against both of FerrisDB's table formats, one test per check, so a
//! failure names the format and the check in the test's name as well as in its message.

use ferris_conformance::{Failure, table};
use ferris_minitable::MinitableFormat;
use ferris_sstable::SstableFormat;
use ferris_table::TableFormat;

/// One `#[test]` per check of the table suite for `$format`, in a module named `$name`.
macro_rules! table_suite {
    ($name:ident, $format:expr) => {
        mod $name {
            use super::*;

            fn format() -> &'static dyn TableFormat {
                &$format
            }

            #[test]
            fn names() -> Result<(), Failure> {
                table::names(format())
            }

            #[test]
            fn builder_contract() -> Result<(), Failure> {
                table::builder_contract(format())
            }

            #[test]
            fn round_trips() -> Result<(), Failure> {
                table::round_trips(format())
            }

            #[test]
            fn range_tombstones() -> Result<(), Failure> {
                table::range_tombstones(format())
            }

            #[test]
            fn power_cuts() -> Result<(), Failure> {
                table::power_cuts(format())
            }

            #[test]
            fn io_faults() -> Result<(), Failure> {
                table::io_faults(format())
            }

            #[test]
            fn bit_flips() -> Result<(), Failure> {
                table::bit_flips(format())
            }

            #[test]
            fn hostile_bytes() -> Result<(), Failure> {
                table::hostile_bytes(format())
            }
        }
    };
}

table_suite!(sstable, SstableFormat);
table_suite!(minitable, MinitableFormat);
