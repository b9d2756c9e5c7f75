//! The `FileSystem` contract, checked against every implementation: `StdFs` on a real
//! temporary directory and `SimFs` in memory. A new implementation joins by adding a case to
//! `each_fs`.

mod contract;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_fs::{FileSystem, SimFs, StdFs};

/// A file system under test and a fresh, empty directory in it.
pub(crate) struct Fixture {
    pub fs: Arc<dyn FileSystem>,
    pub dir: PathBuf,
    pub name: &'static str,
    _temp: Option<tempfile::TempDir>,
}

impl Fixture {
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// One fixture per implementation.
pub(crate) fn each_fs() -> Vec<Fixture> {
    let temp = tempfile::tempdir().expect("temp dir");
    let std_dir = temp.path().join("db");
    let std_fs: Arc<dyn FileSystem> = Arc::new(StdFs::default());
    std_fs.create_dir_all(&std_dir).unwrap();
    let sim: Arc<dyn FileSystem> = Arc::new(SimFs::new(1));
    sim.create_dir_all(Path::new("/db")).unwrap();
    vec![
        Fixture {
            fs: std_fs,
            dir: std_dir,
            name: "StdFs",
            _temp: Some(temp),
        },
        Fixture {
            fs: sim,
            dir: PathBuf::from("/db"),
            name: "SimFs",
            _temp: None,
        },
    ]
}
