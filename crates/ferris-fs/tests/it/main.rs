//! ferris-fs integration tests: one binary, one module per concern.
//!
//! - `conformance`: the [`FileSystem`] contract, each test run on [`StdFs`] (in a temporary
//!   directory) and on [`SimFs`]. An implementation that passes can stand in for the other.
//! - `protocols`: what the simulator is for. A correct write protocol survives a power cut
//!   after every operation under many seeds; the same protocol missing one sync does not.

mod conformance;
mod protocols;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_fs::{FileSystem, SimFs, StdFs, WritableFile};
use tempfile::TempDir;

/// Which implementation a test runs on; `#[values(Impl::Std, Impl::Sim)]` runs it on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Impl {
    Std,
    Sim,
}

/// A file system under test, and an empty directory in it that tests work in.
pub(crate) struct Harness {
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) dir: PathBuf,
    /// Deletes the real directory when the test ends.
    _temp: Option<TempDir>,
}

impl Harness {
    pub(crate) fn new(imp: Impl) -> Harness {
        let (fs, dir, temp): (Arc<dyn FileSystem>, _, _) = match imp {
            Impl::Std => {
                let temp = tempfile::tempdir().expect("create a temporary directory");
                (
                    Arc::new(StdFs::default()),
                    temp.path().join("db"),
                    Some(temp),
                )
            }
            Impl::Sim => (Arc::new(SimFs::new(7)), PathBuf::from("/db"), None),
        };
        fs.create_dir_all(&dir).unwrap();
        Harness {
            fs,
            dir,
            _temp: temp,
        }
    }

    /// The path of `name` in the test directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Creates `name` holding `data`, synced.
    pub(crate) fn write(&self, name: &str, data: &[u8]) -> Box<dyn WritableFile> {
        let mut file = self.fs.create(&self.path(name)).unwrap();
        file.append(data).unwrap();
        file.sync().unwrap();
        file
    }

    /// The whole of `name`.
    pub(crate) fn read(&self, name: &str) -> Vec<u8> {
        read(self.fs.as_ref(), &self.path(name))
    }
}

/// The whole file at `path`.
pub(crate) fn read(fs: &dyn FileSystem, path: &Path) -> Vec<u8> {
    let file = fs.open(path).unwrap();
    file.read_vec(0, file.len()).unwrap()
}
