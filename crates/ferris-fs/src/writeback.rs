//! Starting the write-back of a file's dirty pages early, so that its `fsync` has little
//! left to do: the other place in `ferris-fs` that uses `unsafe`, for one system call.
//!
//! A file appended without syncing collects dirty pages in the page cache, and the kernel
//! writes them out when it gets round to it. The `fsync` that finally makes the file
//! durable then waits for all of them: the WAL's segment, sealed when the engine switches
//! memtables, held about 64 MiB, and the seal's sync took 40 to 90 ms, during which no
//! write could complete. Linux's `sync_file_range(SYNC_FILE_RANGE_WRITE)` asks the kernel
//! to start writing a range now and returns without waiting for it, so every
//! [`WRITEBACK_STEP`] appended starts on its way to the disk while appends go on, and the
//! final `fsync` waits for the last step at most. RocksDB does the same for its WAL and
//! tables (`wal_bytes_per_sync`, `bytes_per_sync`).
//!
//! It is a hint, not a promise: nothing is durable until `fsync` returns, and an error it
//! reports is reported again by that `fsync`, so its errors are ignored here. Elsewhere
//! than Linux it does nothing.
#![allow(unsafe_code)]

use std::fs::File;

/// Bytes appended between two write-back hints.
pub(crate) const WRITEBACK_STEP: u64 = 1 << 20;

/// Asks the kernel to start writing `len` bytes of `file` at `offset` to the disk, without
/// waiting.
#[cfg(target_os = "linux")]
pub(crate) fn start(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: `sync_file_range` reads no memory of ours: it takes a file descriptor, which
    // `file` keeps open for the duration of the call, two integers and flags. Whatever it
    // returns, nothing in this process changes.
    let _ = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
}

/// Elsewhere than Linux, nothing: the final `fsync` does all the work.
#[cfg(not(target_os = "linux"))]
pub(crate) fn start(_: &File, _: u64, _: u64) {}
