//! Larger than memory: each engine's process in a memory cgroup of its own, and what the
//! disk itself can do.
//!
//! A database larger than the memory it may use reads from the disk, so its random reads
//! can go no faster than the disk's. `--memory-limit MIB` runs each engine's child process
//! in a control group of Linux's cgroup v1 memory controller with that limit
//! (`memory.limit_in_bytes`). The limit counts the page cache the group's reads and writes
//! bring in, not only its heap: an engine cannot get round it by leaning on the
//! operating system's cache. [`disk_random_reads`] measures the physical limit beside it:
//! random 4 KiB reads per second of the disk under the run's directory, with `O_DIRECT` so
//! that the page cache does not answer them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Where the cgroup v1 memory controller is mounted on the machines this runs on.
const MEMORY_CONTROLLER: &str = "/sys/fs/cgroup/memory";

/// A memory cgroup this process made, removed when dropped.
#[derive(Debug)]
pub(crate) struct MemoryGroup {
    path: PathBuf,
}

impl MemoryGroup {
    /// Creates the group `name` beside this process's own memory group, limited to
    /// `limit_bytes` of memory, page cache included.
    ///
    /// # Errors
    ///
    /// Says what is missing when the controller is not mounted (a machine with only
    /// cgroup v2, or none) or the group cannot be made (not root).
    pub(crate) fn create(name: &str, limit_bytes: u64) -> Result<MemoryGroup> {
        let controller = Path::new(MEMORY_CONTROLLER);
        if !controller.join("memory.limit_in_bytes").exists() {
            bail!(
                "--memory-limit needs Linux's cgroup v1 memory controller mounted at \
                 {MEMORY_CONTROLLER}, and this machine has none (a machine with only cgroup \
                 v2 mounts its memory limits elsewhere, and the bench does not drive those)"
            );
        }
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|groups| own_memory_group(&groups))
            .unwrap_or_default();
        let path = controller.join(own.trim_start_matches('/')).join(name);
        std::fs::create_dir_all(&path).with_context(|| {
            format!(
                "--memory-limit: creating the memory cgroup {} (this needs root)",
                path.display()
            )
        })?;
        let group = MemoryGroup { path };
        group
            .write("memory.limit_in_bytes", &limit_bytes.to_string())
            .context("--memory-limit: setting the group's limit")?;
        Ok(group)
    }

    /// The group's directory, which a child process joins with [`join`].
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The most memory the group held at once, page cache included
    /// (`memory.max_usage_in_bytes`).
    pub(crate) fn peak_bytes(&self) -> Option<u64> {
        self.read("memory.max_usage_in_bytes")
    }

    /// How many times the group's usage hit its limit and the kernel had to reclaim
    /// (`memory.failcnt`).
    pub(crate) fn limit_hits(&self) -> Option<u64> {
        self.read("memory.failcnt")
    }

    fn read(&self, file: &str) -> Option<u64> {
        std::fs::read_to_string(self.path.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn write(&self, file: &str, value: &str) -> Result<()> {
        let path = self.path.join(file);
        std::fs::write(&path, value).with_context(|| format!("writing {}", path.display()))
    }
}

impl Drop for MemoryGroup {
    fn drop(&mut self) {
        // Best effort: a group can be removed once its processes have ended; cgroup v1
        // moves what is still charged to it (page cache) to the parent.
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Moves this process into the memory group at `path`, before it allocates anything that
/// should count: threads it starts afterwards are in the group too.
///
/// # Errors
///
/// When the group's `cgroup.procs` cannot be written.
pub(crate) fn join(path: &Path) -> Result<()> {
    let procs = path.join("cgroup.procs");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&procs)
        .with_context(|| format!("opening {}", procs.display()))?;
    write!(file, "{}", std::process::id())
        .with_context(|| format!("joining the memory cgroup {}", path.display()))
}

/// This process's memory group path from the text of `/proc/self/cgroup` (the
/// `N:memory:/path` line of cgroup v1).
fn own_memory_group(groups: &str) -> Option<String> {
    groups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| path.to_owned())
    })
}

/// Bytes of the file the bench's disk probe reads from. `O_DIRECT` bypasses the page
/// cache, so the file need not outgrow memory; it spans enough of the device that the
/// reads are not all in one place.
pub(crate) const PROBE_FILE_BYTES: u64 = 256 << 20;

/// Random 4 KiB reads per second of the disk under `dir`, all threads together, `threads` reads in flight at
/// once (one per thread, as `--threads` threads of point reads keep), for about
/// `duration`. The reads bypass the page cache (`O_DIRECT`, Linux only) from a file of
/// `file_bytes` (a multiple of 1 MiB) written first and removed afterwards.
///
/// # Errors
///
/// When the file cannot be written, or the file system refuses `O_DIRECT` (tmpfs does).
pub(crate) fn disk_random_reads(
    dir: &Path,
    threads: usize,
    duration: Duration,
    file_bytes: u64,
) -> Result<f64> {
    let path = dir.join("disk-probe");
    let _remove = RemoveOnDrop(&path);
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let chunk = vec![0x5au8; 1 << 20];
    let blocks = (file_bytes / chunk.len() as u64).max(1);
    for _ in 0..blocks {
        file.write_all(&chunk)?;
    }
    file.sync_all()?;
    drop(file);

    let threads = threads.max(1);
    let path = path.as_path();
    let reads: Vec<Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || read_randomly(path, blocks << 20, t as u64, duration)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("disk probe thread panicked"))
            .collect()
    });
    let mut total = 0;
    for r in reads {
        total += r?;
    }
    Ok(total as f64 / duration.as_secs_f64())
}

/// One thread of the probe: 4 KiB reads at random aligned offsets until `duration` is up.
#[cfg(target_os = "linux")]
fn read_randomly(path: &Path, file_bytes: u64, seed: u64, duration: Duration) -> Result<u64> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    const BLOCK: usize = 4096;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .with_context(|| {
            format!(
                "opening {} with O_DIRECT (the file system may not support it)",
                path.display()
            )
        })?;
    // O_DIRECT wants a buffer aligned to the block size: take an aligned window of a
    // buffer twice as large.
    let mut buffer = vec![0u8; 2 * BLOCK];
    let skip = buffer.as_ptr().align_offset(BLOCK);
    let window = &mut buffer[skip..skip + BLOCK];
    let mut rng = SmallRng::seed_from_u64(0xd15c + seed);
    let blocks = file_bytes / BLOCK as u64;
    let (start, mut reads) = (Instant::now(), 0u64);
    while start.elapsed() < duration {
        let offset = rng.random_range(0..blocks) * BLOCK as u64;
        file.read_exact_at(window, offset)
            .with_context(|| format!("reading {} with O_DIRECT", path.display()))?;
        reads += 1;
    }
    Ok(reads)
}

#[cfg(not(target_os = "linux"))]
fn read_randomly(_: &Path, _: u64, _: u64, _: Duration) -> Result<u64> {
    bail!("the disk probe reads with O_DIRECT, which only Linux has here")
}

struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_own_memory_group_among_the_controllers() {
        let groups = "9:name=systemd:/\n4:memory:/process_api/abc\n3:cpuset:/\n0::/\n";
        assert_eq!(
            own_memory_group(groups).as_deref(),
            Some("/process_api/abc")
        );
        assert_eq!(own_memory_group("5:cpu,memory:/x\n").as_deref(), Some("/x"));
        assert_eq!(own_memory_group("0::/\n"), None);
    }

    /// Where the controller is there and this process may use it, a group limits and
    /// counts a child; elsewhere creating one says what is missing.
    #[test]
    fn a_group_is_made_limited_and_removed_or_the_error_says_why() {
        let name = format!("ferris-dbbench-test-{}", std::process::id());
        match MemoryGroup::create(&name, 64 << 20) {
            Ok(group) => {
                let limit =
                    std::fs::read_to_string(group.path().join("memory.limit_in_bytes")).unwrap();
                assert_eq!(limit.trim(), (64u64 << 20).to_string());
                assert!(group.peak_bytes().is_some());
                assert_eq!(group.limit_hits(), Some(0));
                let path = group.path().to_owned();
                drop(group);
                assert!(!path.exists(), "the group was not removed");
            }
            Err(e) => {
                let message = format!("{e:#}");
                assert!(
                    message.contains("--memory-limit"),
                    "an unclear error: {message}"
                );
            }
        }
    }

    #[test]
    fn the_disk_probe_counts_reads_or_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        match disk_random_reads(dir.path(), 2, Duration::from_millis(200), 4 << 20) {
            Ok(per_second) => assert!(per_second > 0.0),
            Err(e) => assert!(format!("{e:#}").contains("O_DIRECT"), "{e:#}"),
        }
        assert!(!dir.path().join("disk-probe").exists());
    }
}
