//! The real file system: `std::fs`, plus `memmap2` for reading immutable files.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use crate::{FileLock, FileSystem, ReadableFile, WritableFile};

/// Options for [`StdFs`].
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct StdFsOptions {
    /// Memory-map files opened for reading (default `false`: files are read with
    /// `pread`). Mapping saves a system call per block read, but every mapped page a read
    /// touches counts in the process's resident memory until the kernel reclaims it: a scan
    /// or a compaction over a 1 GiB database then shows as 1 GiB of RSS, whatever the block
    /// cache's size. With `pread` those pages stay in the page cache, charged to no process,
    /// and the block cache is the one memory knob. `cargo xtask bench` measured both on the
    /// 2-core bench machine (1M keys; `--mmap` turns mapping on there): peak RSS 417 MiB
    /// mapped against 238 MiB with `pread`, at about the same speed. FerrisDB only maps
    /// files it never modifies after creating them; see [`ReadableFile::mapped`].
    pub mmap: bool,
}

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFs {
    options: StdFsOptions,
}

impl StdFs {
    /// A file system with the given options.
    pub fn with_options(options: StdFsOptions) -> StdFs {
        StdFs { options }
    }
}

impl FileSystem for StdFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        // Readable too, for `prefault`.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Box::new(StdWritable {
            file,
            len: 0,
            written_back: 0,
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadableFile>> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let map = if self.options.mmap && len > 0 {
            Some(crate::mmap::Map::new(&file)?)
        } else {
            None
        };
        Ok(Box::new(StdReadable { file, len, map }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()> {
        fs::hard_link(original, link)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            // A name that is not UTF-8 cannot be one of FerrisDB's files; listing it
            // lossily still lets callers report it as unexpected.
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // On Unix a directory is synced through a file descriptor opened on it. Windows
        // offers no such call; NTFS journals metadata, so there is nothing to do.
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    }

    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        lock_file(file, path)
    }
}

/// Takes the lock on `file` (at `path`, for the error message).
fn lock_file(file: File, path: &Path) -> io::Result<FileLock> {
    match file.try_lock() {
        Ok(()) => Ok(FileLock::new(Box::new(Locked(file)))),
        Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("{} is locked by another process or handle", path.display()),
        )),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// A locked file that unlocks explicitly when dropped.
///
/// Closing the descriptor is not enough. The lock belongs to the open file, and a process
/// that forks while the lock is held gives the child a copy of the descriptor, which the
/// child keeps until it execs (the descriptor is close-on-exec) or exits. A database closed
/// in that window would stay locked for as long as the child took: another process
/// opening it right after would be told it is locked. A test binary that opens a database
/// while other tests start `ferris` as a child process met exactly that, now and then,
/// under load. Unlocking releases the lock however many copies of the descriptor exist.
#[derive(Debug)]
struct Locked(File);

impl Drop for Locked {
    fn drop(&mut self) {
        // A failure leaves the lock to be released when the last descriptor closes.
        let _ = self.0.unlock();
    }
}

/// Bytes read per call by `StdWritable::prefault`.
#[cfg(unix)]
const PREFAULT_CHUNK: usize = 256 * 1024;

#[derive(Debug)]
struct StdWritable {
    file: File,
    len: u64,
    /// Where the last write-back hint ended ([`crate::writeback`]).
    written_back: u64,
}

impl WritableFile for StdWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        write_all_at(&self.file, data, self.len)?;
        self.len += data.len() as u64;
        if self.len - self.written_back >= crate::writeback::WRITEBACK_STEP {
            crate::writeback::start(&self.file, self.written_back, self.len - self.written_back);
            self.written_back = self.len;
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        // fdatasync: the data and the metadata needed to read it back (the length), without
        // the timestamps.
        self.file.sync_data()?;
        self.written_back = self.len;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn reserve(&mut self, len: u64) -> io::Result<()> {
        // `ftruncate`: past the appended bytes the file becomes a hole, which reads as
        // zeros and takes no disk space until an append fills it.
        self.file.set_len(len.max(self.len))
    }

    fn prefault(&mut self, len: u64) -> io::Result<()> {
        self.reserve(len)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            // The hole past the appended bytes: each read fills page-cache pages with
            // zeros, and they stay there, clean, for the appends to overwrite.
            let mut buf = vec![0u8; PREFAULT_CHUNK];
            let mut offset = self.len;
            while offset < len {
                let want =
                    usize::try_from(len - offset).map_or(PREFAULT_CHUNK, |n| n.min(PREFAULT_CHUNK));
                match self.file.read_at(&mut buf[..want], offset)? {
                    0 => break,
                    n => offset += n as u64,
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct StdReadable {
    file: File,
    len: u64,
    map: Option<crate::mmap::Map>,
}

impl ReadableFile for StdReadable {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        crate::check_read_bounds(offset, buf.len() as u64, self.len)?;
        if let Some(map) = &self.map {
            let start = usize::try_from(offset).map_err(io::Error::other)?;
            buf.copy_from_slice(&map.as_slice()[start..start + buf.len()]);
            return Ok(());
        }
        read_exact_at(&self.file, offset, buf)
    }

    fn mapped(&self) -> Option<&[u8]> {
        self.map.as_ref().map(|m| m.as_slice())
    }
}

/// Writes `data` at `offset`, the end of what this handle has written. On Unix that is
/// `pwrite`: the kernel skips the file position and its lock, which `write` takes on every
/// call; an append to the WAL is one such call per write group, so it shows
/// (`docs/benchmarks.md`, "`pwrite` for appends").
#[cfg(unix)]
fn write_all_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

/// Elsewhere, a plain `write`: the handle's position is always its end.
#[cfg(not(unix))]
fn write_all_at(mut file: &File, data: &[u8], _offset: u64) -> io::Result<()> {
    io::Write::write_all(&mut file, data)
}

#[cfg(unix)]
fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database closed while a forked child still held a copy of the lock's descriptor
    /// stayed locked until the child exec'd: closing the descriptor does not release a
    /// lock another copy of it holds. The copy here stands for the child's.
    #[test]
    fn a_lock_is_released_even_while_a_copy_of_its_descriptor_lives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("LOCK");
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .unwrap()
        };
        let file = open();
        let childs_copy = file.try_clone().unwrap();
        let lock = lock_file(file, &path).unwrap();
        assert_eq!(
            lock_file(open(), &path).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        drop(lock);
        let again = lock_file(open(), &path);
        assert!(again.is_ok(), "still locked through the copy: {again:?}");
        drop(childs_copy);
    }
}
