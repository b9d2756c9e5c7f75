//! The engine stage's checks on engines with one mistake each, built on the reference:
//! each mistake is caught, by the check meant for it, in the words meant for it.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferris_fs::FileSystem;
use lab_grader::Subject;
use lab_grader::engine::{self, Engine, EngineError};

/// The mistake a [`Flawed`] engine makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    /// `delete` does nothing: the first mistake of a write path that only knows puts.
    ForgetsDeletes,
    /// Every write is made unsynced, whatever the caller asked.
    NeverSyncs,
}

/// The reference `Db`, with one flaw.
struct Flawed(Box<dyn Engine>, Flaw);

impl Engine for Flawed {
    fn put(&mut self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError> {
        self.0.put(key, value, sync && self.1 != Flaw::NeverSyncs)
    }
    fn delete(&mut self, key: &[u8], _sync: bool) -> Result<(), EngineError> {
        match self.1 {
            Flaw::ForgetsDeletes => Ok(()),
            Flaw::NeverSyncs => self.0.delete(key, false),
        }
    }
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, EngineError> {
        self.0.get(key)
    }
    fn snapshot(&mut self) -> Result<u64, EngineError> {
        self.0.snapshot()
    }
    fn get_at(&self, key: &[u8], snapshot: u64) -> Result<Option<Bytes>, EngineError> {
        self.0.get_at(key, snapshot)
    }
    fn scan(&self) -> Result<Vec<(Bytes, Bytes)>, EngineError> {
        self.0.scan()
    }
    fn scan_at(&self, snapshot: u64) -> Result<Vec<(Bytes, Bytes)>, EngineError> {
        self.0.scan_at(snapshot)
    }
    fn flush(&mut self) -> Result<(), EngineError> {
        self.0.flush()
    }
    fn close(self: Box<Self>) -> Result<(), EngineError> {
        self.0.close()
    }
}

fn forgets_deletes(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<Box<dyn Engine>, EngineError> {
    let db = engine::opener(Subject::Reference)(fs, dir)?;
    Ok(Box::new(Flawed(db, Flaw::ForgetsDeletes)))
}

fn never_syncs(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<Box<dyn Engine>, EngineError> {
    let db = engine::opener(Subject::Reference)(fs, dir)?;
    Ok(Box::new(Flawed(db, Flaw::NeverSyncs)))
}

#[test]
fn an_engine_that_forgets_deletes_is_told_get_returned_the_old_value() {
    let failure = engine::fixed_check("forgets deletes", forgets_deletes, "deletes_hide_values")
        .expect_err("caught");
    assert!(
        failure
            .detail()
            .starts_with("get(k) after delete(k) returned the old value"),
        "{failure}"
    );
    assert_eq!(failure.got(), Some("b\"v\""));
    assert_eq!(failure.expected(), Some("None"));
    // The model check catches it too, at a seed it names.
    let model = (0..16).find_map(|seed| {
        engine::against_model_with("forgets deletes", forgets_deletes, seed).err()
    });
    assert!(model.is_some_and(|f| f.seed().is_some()));
}

#[test]
fn an_engine_that_never_syncs_loses_a_synced_write_to_a_power_cut() {
    // Every answer is right while the power stays on.
    for check in [
        "reads_its_writes",
        "deletes_hide_values",
        "recovers_on_reopen",
    ] {
        engine::fixed_check("never syncs", never_syncs, check).expect(check);
    }
    let failure = (0..2)
        .find_map(|seed| engine::power_cuts_with("never syncs", never_syncs, seed).err())
        .expect("a power cut loses an acknowledged synced write");
    assert!(
        failure
            .detail()
            .contains("a synced write, and every write before it, survives"),
        "{failure}"
    );
    assert_eq!(failure.check(), "power_cuts");
}

#[test]
fn a_fixed_check_the_stage_lacks_is_named() {
    let failure = engine::fixed_check("reference", engine::opener(Subject::Reference), "nope")
        .expect_err("no such check");
    assert!(failure.detail().contains("nope"));
}
