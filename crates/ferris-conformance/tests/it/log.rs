//! The log-format suite against ferris-log's framing, one test per check (ferris-log's
//! own tests run it too).

use ferris_conformance::{Failure, log};
use ferris_log::Framing;

#[test]
fn round_trips() -> Result<(), Failure> {
    log::round_trips(&Framing)
}

#[test]
fn power_cuts() -> Result<(), Failure> {
    log::power_cuts(&Framing)
}

#[test]
fn torn_tails() -> Result<(), Failure> {
    log::torn_tails(&Framing)
}

#[test]
fn bit_flips() -> Result<(), Failure> {
    log::bit_flips(&Framing)
}

#[test]
fn recovery_modes() -> Result<(), Failure> {
    log::recovery_modes(&Framing)
}

#[test]
fn io_faults() -> Result<(), Failure> {
    log::io_faults(&Framing)
}

#[test]
fn hostile_bytes() -> Result<(), Failure> {
    log::hostile_bytes(&Framing)
}
