//! The log-format suite (`ferris_conformance::log`) against this crate's framing, the
//! reference implementation of `LogFormat`. `ferris-conformance`'s own tests run it check
//! by check, beside the broken formats it must catch.

use ferris_conformance::{Failure, log};
use ferris_log::Framing;

#[test]
fn the_framing_passes_the_log_suite() -> Result<(), Failure> {
    log::check_log_format(&Framing)
}
