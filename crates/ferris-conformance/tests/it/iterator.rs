//! The iterator suite against `VecIter`, the merging and concatenating iterators, and both
//! memtables' iterators.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use ferris_conformance::Failure;
use ferris_conformance::iterator::check_iterator;
use ferris_core::iter::{ConcatIterator, MergingIterator, VecIter};
use ferris_core::{FileMeta, HasMeta, InternalIterator, InternalKey};
use ferris_memtable::{BTreeFactory, SkipListFactory};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::memtable_iter;

type Entries = Vec<(InternalKey, Bytes)>;

#[test]
fn vec_iter() -> Result<(), Failure> {
    check_iterator("vec", |entries| Box::new(VecIter::new(entries)))
}

/// The entries dealt at random among one to four children (some of them empty).
#[test]
fn merging_iterator_over_a_random_split() -> Result<(), Failure> {
    let rng = RefCell::new(SmallRng::seed_from_u64(18));
    check_iterator("merging", |entries| {
        let mut rng = rng.borrow_mut();
        let mut children: Vec<Entries> = vec![Vec::new(); rng.random_range(1..=4)];
        for entry in entries {
            let child = rng.random_range(0..children.len());
            children[child].push(entry);
        }
        let children = children
            .into_iter()
            .map(|c| Box::new(VecIter::new(c)) as Box<dyn InternalIterator>)
            .collect();
        Box::new(MergingIterator::new(children))
    })
}

/// A "table file": its metadata and its entries.
struct File(FileMeta, Arc<Entries>);

impl HasMeta for File {
    fn meta(&self) -> &FileMeta {
        &self.0
    }
}

/// The entries cut into files at random places between user keys, as compaction cuts a
/// level, so that the files do not overlap.
#[test]
fn concat_iterator_over_non_overlapping_files() -> Result<(), Failure> {
    let rng = RefCell::new(SmallRng::seed_from_u64(18));
    check_iterator("concat", |entries| {
        let mut rng = rng.borrow_mut();
        let mut files: Vec<File> = Vec::new();
        let mut part: Entries = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            part.push(entry.clone());
            let same_user_key_next = entries
                .get(i + 1)
                .is_some_and(|(next, _)| next.user_key() == entry.0.user_key());
            if i + 1 == entries.len() || (!same_user_key_next && rng.random_bool(0.3)) {
                let meta = FileMeta {
                    number: files.len() as u64,
                    size: 1,
                    smallest: part[0].0.clone(),
                    largest: part[part.len() - 1].0.clone(),
                    min_seq: 0,
                    max_seq: 0,
                    entries: part.len() as u64,
                    tombstones: 0,
                };
                files.push(File(meta, Arc::new(std::mem::take(&mut part))));
            }
        }
        Box::new(ConcatIterator::new(
            files,
            Box::new(|f: &File| Box::new(VecIter::new(f.1.to_vec())) as Box<dyn InternalIterator>),
        ))
    })
}

#[test]
fn skip_list_memtable_iterator() -> Result<(), Failure> {
    check_iterator("skip list memtable", |entries| {
        memtable_iter(&SkipListFactory, entries)
    })
}

#[test]
fn btree_memtable_iterator() -> Result<(), Failure> {
    check_iterator("btree memtable", |entries| {
        memtable_iter(&BTreeFactory, entries)
    })
}
