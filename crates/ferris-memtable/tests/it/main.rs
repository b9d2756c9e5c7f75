//! Integration tests of ferris-memtable: concurrency and a model test against `BTreeMap`.

mod concurrency;
mod model;
