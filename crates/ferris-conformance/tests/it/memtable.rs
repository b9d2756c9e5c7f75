//! The memtable suite against both memtables.

use ferris_conformance::Failure;
use ferris_conformance::memtable::check_factory;
use ferris_memtable::{BTreeFactory, SkipListFactory};

#[test]
fn skip_list_factory() -> Result<(), Failure> {
    check_factory(&SkipListFactory)
}

#[test]
fn btree_factory() -> Result<(), Failure> {
    check_factory(&BTreeFactory)
}
