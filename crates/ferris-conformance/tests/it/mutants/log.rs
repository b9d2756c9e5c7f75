//! Log formats broken on purpose: each wraps ferris-log's framing and breaks one promise.

use std::path::Path;

use ferris_conformance::log;
use ferris_core::{Error, Result};
use ferris_fs::{FileSystem, WritableFile};
use ferris_log::{Framing, LogFormat, LogReader, LogWriter, RecoveryEvent, RecoveryMode};

use crate::caught;

/// The one promise a mutant breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    /// `sync` returns `Ok` without syncing: acknowledged records can be lost.
    SyncDoesNothing,
    /// The reader cuts off a torn tail without reporting it.
    SilentTornTail,
    /// `Strict` is read as `TolerateTornTail`: a torn tail passes unreported as an error.
    LaxStrict,
    /// `SkipCorrupted` is read as `PointInTime`: it stops at damage instead of skipping.
    SkipStops,
    /// The reader returns one record too many: the last one again.
    RepeatsTheLast,
    /// A failed append is reported as success to the next call: the writer goes on.
    ForgetsFailure,
}

#[derive(Debug)]
struct Mutant(Mutation);

#[derive(Debug)]
struct Writer(Mutation, Box<dyn LogWriter>, bool);

impl LogWriter for Writer {
    fn append(&mut self, record: &[u8]) -> Result<()> {
        match (self.0, self.1.append(record)) {
            (Mutation::ForgetsFailure, Err(Error::Io(e))) if !self.2 => {
                self.2 = true;
                Err(Error::Io(e))
            }
            (Mutation::ForgetsFailure, Err(_)) if self.2 => Ok(()),
            (_, result) => result,
        }
    }
    fn sync(&mut self) -> Result<()> {
        match self.0 {
            Mutation::SyncDoesNothing => Ok(()),
            Mutation::ForgetsFailure if self.2 => Ok(()),
            _ => self.1.sync(),
        }
    }
    fn seal(self: Box<Self>) -> Result<()> {
        self.1.seal()
    }
}

#[derive(Debug)]
struct Reader(Mutation, Box<dyn LogReader>, Option<Vec<u8>>, bool);

impl LogReader for Reader {
    fn next_record(&mut self) -> Result<Option<Vec<u8>>> {
        let record = self.1.next_record()?;
        if self.0 == Mutation::RepeatsTheLast {
            if record.is_some() {
                self.2.clone_from(&record);
            } else if !self.3 {
                self.3 = true;
                return Ok(self.2.clone());
            }
        }
        Ok(record)
    }
    fn events(&self) -> &[RecoveryEvent] {
        match self.0 {
            Mutation::SilentTornTail => &[],
            _ => self.1.events(),
        }
    }
    fn is_sealed(&self) -> bool {
        self.1.is_sealed()
    }
}

impl LogFormat for Mutant {
    fn name(&self) -> &'static str {
        "mutant"
    }
    fn create(
        &self,
        file: Box<dyn WritableFile>,
        path: &Path,
        id: u64,
    ) -> Result<Box<dyn LogWriter>> {
        Ok(Box::new(Writer(
            self.0,
            Framing.create(file, path, id)?,
            false,
        )))
    }
    fn open(
        &self,
        fs: &dyn FileSystem,
        path: &Path,
        id: u64,
        mode: RecoveryMode,
    ) -> Result<Box<dyn LogReader>> {
        let mode = match (self.0, mode) {
            (Mutation::LaxStrict, RecoveryMode::Strict) => RecoveryMode::TolerateTornTail,
            (Mutation::SkipStops, RecoveryMode::SkipCorrupted) => RecoveryMode::PointInTime,
            (_, mode) => mode,
        };
        let reader = Framing.open(fs, path, id, mode)?;
        Ok(Box::new(Reader(self.0, reader, None, false)))
    }
}

#[test]
fn a_log_whose_sync_does_nothing_loses_acknowledged_records() {
    let failure = caught(
        log::power_cuts(&Mutant(Mutation::SyncDoesNothing)),
        "power_cuts",
    );
    assert!(
        failure.detail().contains("acknowledged durable"),
        "{failure}"
    );
}

#[test]
fn a_silent_torn_tail_is_caught() {
    let failure = caught(
        log::torn_tails(&Mutant(Mutation::SilentTornTail)),
        "torn_tails",
    );
    assert!(failure.detail().contains("the events"), "{failure}");
    assert!(
        failure.expected().unwrap_or("").contains("TornTail"),
        "{failure}"
    );
}

#[test]
fn a_lax_strict_mode_is_caught() {
    let failure = caught(log::torn_tails(&Mutant(Mutation::LaxStrict)), "torn_tails");
    assert!(failure.detail().contains("Strict"), "{failure}");
}

#[test]
fn a_skip_that_stops_is_caught() {
    let failure = caught(
        log::recovery_modes(&Mutant(Mutation::SkipStops)),
        "recovery_modes",
    );
    assert!(failure.detail().contains("SkipCorrupted"), "{failure}");
}

#[test]
fn a_record_read_twice_is_caught() {
    let mutant = Mutant(Mutation::RepeatsTheLast);
    let failure = caught(log::round_trips(&mutant), "round_trips");
    assert!(failure.seed().is_some(), "{failure}");
    assert_eq!(
        log::round_trips_seed(&mutant, failure.seed().unwrap_or(0)),
        Err(failure)
    );
}

#[test]
fn a_writer_that_forgets_its_failure_is_caught() {
    let failure = caught(
        log::io_faults(&Mutant(Mutation::ForgetsFailure)),
        "io_faults",
    );
    assert!(
        failure.detail().contains("after an earlier call failed"),
        "{failure}"
    );
}
