//! The table error type: the shared vocabulary of `ferris-core`.
//!
//! A table is damaged ([`Error::Corruption`], naming the file and the offset of the block
//! or footer), unreadable ([`Error::Io`]), from a newer format version
//! ([`Error::UnsupportedVersion`]), or given entries out of order by its writer's caller
//! ([`Error::InvalidInput`]). Nothing here is particular to tables, so the crate uses
//! `ferris_core::Error` itself: the engine above sees the same error whichever table
//! format it runs.

pub use ferris_core::{Error, Result};
