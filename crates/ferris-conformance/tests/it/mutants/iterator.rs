//! An iterator broken on purpose: a `VecIter` whose `seek_for_prev` lands one entry too
//! early when the target is not an entry itself.

use bytes::Bytes;
use ferris_conformance::iterator;
use ferris_core::iter::VecIter;
use ferris_core::{InternalIterator, InternalKey};

use crate::{Move, Tampered, assert_replays, caught, is_wrong_answer};

fn build(entries: Vec<(InternalKey, Bytes)>) -> Box<dyn InternalIterator> {
    Box::new(Tampered {
        inner: Box::new(VecIter::new(entries)),
        after: |it, moved| {
            if let Move::SeekForPrev(target) = moved
                && it.valid()
                && it.key() != target
            {
                it.prev();
            }
        },
    })
}

#[test]
fn an_early_seek_for_prev_fails_the_seeks_and_its_seed_replays() {
    let f = caught(iterator::check_iterator("early", build), "seeks");
    assert_eq!(f.implementation(), "early");
    // Seed 0 has no entries, so the first seed with any fails.
    assert_eq!(f.seed(), Some(1));
    assert!(f.detail().contains("seek_for_prev("), "{f}");
    assert!(is_wrong_answer(&f), "{f}");
    // Scans never seek, so they pass.
    assert_eq!(iterator::scans("early", &build), Ok(()));
    assert_replays(f, |seed| iterator::seeks_seed("early", &build, seed));
    // The random walks seek for prev too.
    let f = caught(iterator::random_walks("early", &build), "random_walks");
    assert!(f.detail().contains("seek_for_prev("), "{f}");
}
