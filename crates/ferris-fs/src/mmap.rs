//! One of two places in `ferris-fs` that use `unsafe` (the other is `writeback`):
//! memory-mapping a file for reading.
//!
//! Mapping is unsafe because the mapped bytes can change underneath a `&[u8]` if anyone
//! modifies or truncates the file while it is mapped, which breaks Rust's aliasing rules
//! and, for a truncation, raises `SIGBUS` on access.
//!
//! FerrisDB maps only files it treats as immutable: a table file is written once, synced,
//! and then only read until it is deleted (deletion unlinks the name, and the mapping keeps
//! the inode alive). The database directory is held under an exclusive lock, so no other
//! FerrisDB process writes it. A user or program that edits the files of an open database
//! behind its back is outside what FerrisDB can defend against; that is documented as a
//! limit in the crate docs of the crates that read tables.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// A read-only mapping of a whole file.
#[derive(Debug)]
pub(crate) struct Map {
    map: memmap2::Mmap,
}

impl Map {
    pub(crate) fn new(file: &File) -> io::Result<Map> {
        // SAFETY: the file is opened read-only and FerrisDB never writes to a file after it
        // has been made visible for reading (files are created whole and then renamed or
        // recorded in the manifest). The database LOCK keeps other FerrisDB processes out.
        // The remaining hazard, an outside program truncating the file, is documented above.
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(Map { map })
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.map
    }
}
