//! An iterator broken on purpose: a `VecIter` whose `seek_for_prev` lands one entry too
//! early when the target is not an entry itself.

use bytes::Bytes;
use ferris_conformance::iterator;
use ferris_core::iter::VecIter;
use ferris_core::{InternalIterator, InternalKey, InternalKeyRef};

use crate::caught;

struct EarlySeekForPrev(VecIter);

impl InternalIterator for EarlySeekForPrev {
    fn valid(&self) -> bool {
        self.0.valid()
    }
    fn key(&self) -> InternalKeyRef<'_> {
        self.0.key()
    }
    fn value(&self) -> Bytes {
        self.0.value()
    }
    fn seek_to_first(&mut self) {
        self.0.seek_to_first();
    }
    fn seek_to_last(&mut self) {
        self.0.seek_to_last();
    }
    fn seek(&mut self, target: InternalKeyRef<'_>) {
        self.0.seek(target);
    }
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        self.0.seek_for_prev(target);
        if self.0.valid() && self.0.key() != target {
            self.0.prev();
        }
    }
    fn next(&mut self) {
        self.0.next();
    }
    fn prev(&mut self) {
        self.0.prev();
    }
    fn status(&self) -> ferris_core::Result<()> {
        self.0.status()
    }
}

fn build(entries: Vec<(InternalKey, Bytes)>) -> Box<dyn InternalIterator> {
    Box::new(EarlySeekForPrev(VecIter::new(entries)))
}

#[test]
fn an_early_seek_for_prev_fails_the_seeks_and_its_seed_replays() {
    let f = caught(iterator::check_iterator("early", build));
    assert_eq!((f.implementation(), f.check()), ("early", "seeks"));
    // Seed 0 has no entries, so the first seed with any fails.
    assert_eq!(f.seed(), Some(1));
    assert!(f.detail().contains("seek_for_prev("), "{f}");
    assert!(
        f.got().is_some() && f.expected().is_some() && f.got() != f.expected(),
        "{f}"
    );
    // Scans never seek, so they pass.
    assert_eq!(iterator::scans("early", &build), Ok(()));
    assert_eq!(iterator::seeks_seed("early", &build, 1), Err(f));
    // The random walks seek for prev too.
    let f = caught(iterator::random_walks("early", &build));
    assert!(f.detail().contains("seek_for_prev("), "{f}");
}
