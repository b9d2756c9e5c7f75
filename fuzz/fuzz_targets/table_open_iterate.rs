//! Any bytes as a table file: open, scan both ways and look keys up, never panicking, and
//! failing only with a typed corruption or version error.
#![no_main]

use std::path::Path;

use ferris_fs::{FileSystem, SimFs};
use ferris_sstable::{Error, Table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fs = SimFs::new(0);
    fs.create_dir_all(Path::new("/t")).unwrap();
    let path = Path::new("/t/x.sst");
    fs.create(path).unwrap().append(data).unwrap();
    let table = match Table::open(&fs, path) {
        Ok(table) => table,
        Err(Error::Corruption { .. } | Error::UnsupportedVersion { .. }) => return,
        Err(e) => panic!("unexpected error kind: {e}"),
    };
    for item in table.iter().take(10_000) {
        if item.is_err() {
            break;
        }
    }
    for item in table.iter().rev().take(10_000) {
        if item.is_err() {
            break;
        }
    }
    for key in [&b""[..], b"a", b"key", &data[..data.len().min(12)]] {
        let _ = table.get(key, u64::MAX >> 8);
    }
});
