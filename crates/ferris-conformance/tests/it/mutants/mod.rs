//! The suites have teeth: implementations broken on purpose, each in one way the engine
//! would suffer from, fail the check meant to catch it, with a [`Failure`] that says
//! where: the check, the case or seed (which replays it), and what was got and expected.
//!
//! Each mutant wraps an implementation that passes every check, and breaks one promise.
//!
//! [`Failure`]: ferris_conformance::Failure

mod iterator;
mod log;
mod memtable;
mod strategy;
mod table;
