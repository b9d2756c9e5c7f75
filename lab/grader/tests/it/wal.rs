//! The WAL stage's own checks against logs broken on purpose: each mistake is told in
//! the sentence a learner needs.

use std::path::Path;

use ferris_core::Result;
use ferris_fs::{FileSystem, WritableFile};
use ferris_log::{Framing, LogFormat, LogReader, LogWriter, RecoveryEvent, RecoveryMode};
use lab_grader::wal;

/// The reference framing, with a reader that keeps its events to itself: the mistake of
/// a recovery that cuts off a torn tail silently.
#[derive(Debug)]
struct SilentTornTail;

#[derive(Debug)]
struct SilentReader(Box<dyn LogReader>);

impl LogReader for SilentReader {
    fn next_record(&mut self) -> Result<Option<Vec<u8>>> {
        self.0.next_record()
    }
    fn events(&self) -> &[RecoveryEvent] {
        &[]
    }
    fn is_sealed(&self) -> bool {
        self.0.is_sealed()
    }
}

impl LogFormat for SilentTornTail {
    fn name(&self) -> &'static str {
        "silent"
    }
    fn create(
        &self,
        file: Box<dyn WritableFile>,
        path: &Path,
        id: u64,
    ) -> Result<Box<dyn LogWriter>> {
        Framing.create(file, path, id)
    }
    fn open(
        &self,
        fs: &dyn FileSystem,
        path: &Path,
        id: u64,
        mode: RecoveryMode,
    ) -> Result<Box<dyn LogReader>> {
        Ok(Box::new(SilentReader(Framing.open(fs, path, id, mode)?)))
    }
}

#[test]
fn a_log_that_drops_a_torn_tail_silently_is_told_to_report_it() {
    wal::one_record(&SilentTornTail).expect("its records are the reference's");
    let failure = wal::a_torn_tail_is_an_event(&SilentTornTail).expect_err("caught");
    assert!(
        failure
            .detail()
            .starts_with("the torn record must be reported, once, as a RecoveryEvent::TornTail"),
        "{failure}"
    );
    assert_eq!(failure.got(), Some("[]"));
    // The suite catches it too, with the cut that shows it.
    let suite = ferris_conformance::log::torn_tails(&SilentTornTail).expect_err("caught");
    assert!(suite.detail().contains("the events"), "{suite}");
    // A database does not notice: the records are right, only the report is missing.
    wal::in_a_database(&SilentTornTail).expect("the records are the reference's");
}

#[test]
fn the_starter_reads_back_nothing_and_is_told_so() {
    let failure = wal::one_record(&lab_wal::LabLog).expect_err("the starter reads nothing");
    assert!(
        failure
            .detail()
            .starts_with("the log read back empty: next_record returned None at once"),
        "{failure}"
    );
    assert_eq!(failure.got(), Some("no record"));
    assert_eq!(failure.expected(), Some("b\"hello\""));
}
