//! What the operating system says about this process and its files: disk writes, peak
//! resident memory, directory sizes, the machine. Linux's `/proc`; elsewhere the figures
//! are absent rather than wrong.

use std::path::Path;

/// Bytes this process has caused to be sent to the storage layer (`write_bytes` in
/// `/proc/self/io`, counted when pages are dirtied, so a background thread's writes count
/// as soon as it makes them, and mmap writes count too).
pub(crate) fn disk_write_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let line = io.lines().find(|l| l.starts_with("write_bytes:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak resident set size to the current one (writing `5` to
/// `/proc/self/clear_refs`, Linux 4.0 and later), so [`peak_rss`] measures from here.
pub(crate) fn reset_peak_rss() {
    // Best effort: without it, the peak covers the process's whole life so far.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size (`VmHWM`) in bytes.
pub(crate) fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Total size of the files under `dir`, recursively: each file's length, less the holes
/// in it (on Unix, a file counts for no more than the blocks it has on disk). A file's
/// length set ahead of its writes (FerrisDB's WAL segments, and the table its flush
/// thread prepares) is a hole that takes no space until written.
pub(crate) fn dir_size(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            stored_len(&meta)
        };
    }
    Ok(total)
}

/// The bytes of the files in `dir` (not nested) that share their data with another name
/// (hard links), and of those that do not.
pub(crate) fn linked_and_own_bytes(dir: &Path) -> std::io::Result<(u64, u64)> {
    let (mut linked, mut own) = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            match links(&meta) > 1 {
                true => linked += stored_len(&meta),
                false => own += stored_len(&meta),
            }
        }
    }
    Ok((linked, own))
}

#[cfg(unix)]
fn links(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn links(_: &std::fs::Metadata) -> u64 {
    1
}

#[cfg(unix)]
fn stored_len(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.len().min(meta.blocks() * 512)
}

#[cfg(not(unix))]
fn stored_len(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

/// Cores and CPU model, for the report's header.
pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown cpu".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?.to_owned();
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!(", {} GiB", kib >> 20))
        })
        .unwrap_or_default();
    format!("{cores} cores, {cpu}{memory}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_size_counts_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        assert_eq!(dir_size(dir.path()).unwrap(), 15);
    }

    #[test]
    fn dir_size_leaves_out_holes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [1u8; 10]).unwrap();
        let sparse = std::fs::File::create(dir.path().join("sparse")).unwrap();
        sparse.set_len(64 << 20).unwrap();
        let size = dir_size(dir.path()).unwrap();
        if cfg!(unix) {
            assert!(size < 1 << 20, "{size} bytes: the 64 MiB hole was counted");
        }
        assert!(size >= 10, "{size}");
    }

    #[test]
    fn hard_links_count_as_linked_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, [1u8; 4096]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::hard_link(&a, dir.path().join("sub/a")).unwrap();
        std::fs::write(&b, [2u8; 4096]).unwrap();
        let (linked, own) = linked_and_own_bytes(dir.path()).unwrap();
        if cfg!(unix) {
            assert_eq!((linked, own), (4096, 4096));
        }
    }

    #[test]
    fn linux_reports_what_the_bench_reads() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss().is_some_and(|b| b > 0));
            reset_peak_rss();
            assert!(peak_rss().is_some());
            assert!(machine().contains("cores"));
        }
    }
}
