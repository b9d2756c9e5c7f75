//! Blocks: the unit a table is read in.
//!
//! A block holds a run of sorted entries, each key stored as the bytes it does not share
//! with the previous key. Sorted keys share long prefixes (`user:1001`, `user:1002`, ...),
//! so this **prefix compression** often halves the space keys take. The price is that an
//! entry cannot be decoded without the one before it, so every `restart_interval` entries
//! (16 by default) a key is stored whole: a **restart point**. The offsets of the restart
//! points, stored at the end of the block, let a reader binary-search the block and then
//! scan at most one interval.
//!
//! ```text
//! +---------+---------+-----+---------+-------------+-----+-------------+--------------+
//! | entry 0 | entry 1 | ... | entry n | restart[0]  | ... | restart[r-1]| n_restarts   |
//! +---------+---------+-----+---------+-------------+-----+-------------+--------------+
//!                                       u32 LE each                      u32 LE
//!
//! entry = shared: varint | unshared: varint | value_len: varint | key[shared..] | value
//! ```
//!
//! The first entry and every restart point have `shared = 0`. Both halves live here:
//! [`BlockBuilder`] encodes, [`Block`] and [`BlockIter`] decode, and decoding treats the
//! bytes as hostile: every length is checked against the block before it is used.

mod builder;
mod reader;

pub use builder::BlockBuilder;
pub use reader::{Block, BlockIter};

/// The default number of entries between restart points.
pub const DEFAULT_RESTART_INTERVAL: usize = 16;

#[cfg(test)]
mod tests;
