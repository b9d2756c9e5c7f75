//! Tables: data blocks, a filter, range tombstones (when there are any), properties and an
//! index, closed by a footer.
//!
//! ```text
//! +--------------+-----+--------------+--------+-------------+------------+-------+--------+
//! | data block 0 | ... | data block n | filter | range dels? | properties | index | footer |
//! +--------------+-----+--------------+--------+-------------+------------+-------+--------+
//!  each block is followed by a 5-byte trailer: compression (1) | masked crc32c (4)
//! ```
//!
//! The index block maps a separator key (at or after the last key of a data block, and
//! before the first key of the next) to that block's handle, so one binary search of the
//! index finds the only block that can hold a key. `docs/format/table.md` is the byte-level
//! specification.

mod contract;
pub mod format;
mod range;
mod readahead;
mod reader;
mod verify;
mod writer;

pub use contract::{SstableFormat, TableIter};
pub use range::TableRange;
pub use reader::{ReadOptions, Table, TableCursor};
pub use verify::TableCheck;
pub use writer::{TableOptions, TableWriter};
