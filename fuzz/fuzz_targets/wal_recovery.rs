//! Any bytes as a WAL segment: recovery in every mode must not panic, and fails only with a
//! typed corruption or version error.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use ferris_fs::{FileSystem, SimFs};
use ferris_wal::{Error, RecoveryMode, RecoveryOptions, WalRecovery};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fs: Arc<dyn FileSystem> = Arc::new(SimFs::new(0));
    let dir = Path::new("/wal");
    fs.create_dir_all(dir).unwrap();
    fs.create(&dir.join("000001.wal"))
        .unwrap()
        .append(data)
        .unwrap();
    for mode in [
        RecoveryMode::Strict,
        RecoveryMode::TolerateTornTail,
        RecoveryMode::PointInTime,
        RecoveryMode::SkipCorrupted,
    ] {
        let mut options = RecoveryOptions::default();
        options.mode = mode;
        let mut recovery = WalRecovery::open(fs.clone(), dir, options).unwrap();
        loop {
            match recovery.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(Error::Corruption(_) | Error::UnsupportedVersion(_)) => break,
                Err(e) => panic!("unexpected error kind: {e}"),
            }
        }
    }
});
