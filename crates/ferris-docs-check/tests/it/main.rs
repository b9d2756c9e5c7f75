//! Worked answers to the book's exercises, as tests: `docs/answers.md` points here where
//! an answer is something a learner can run. One module per chapter; each test is named
//! after its exercise and asserts what the answer says.

mod compaction;
mod core;
mod engine;
mod fs;
mod log;
mod memtable;
mod wal;
