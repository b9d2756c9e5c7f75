//! Integration tests of ferris-engine: the API, bad input, power cuts, concurrency and a
//! model check.

mod api;
mod bad_input;
mod concurrency;
mod model;
mod power_cut;

use std::path::Path;
use std::sync::Arc;

use ferris_engine::{Db, Options};
use ferris_fs::{FileSystem, SimFs};

pub(crate) const DIR: &str = "/db";

/// Options on a simulated file system, with a small write buffer and manifest limit so
/// tests flush and rotate the manifest.
pub(crate) fn sim_options(sim: &SimFs) -> Options {
    let mut options = Options::default();
    options.file_system = Arc::new(sim.clone()) as Arc<dyn FileSystem>;
    options.write_buffer_size = 16 << 10;
    options.block_cache_size = 1 << 20;
    // Small, so flushes also rotate the manifest and switch CURRENT.
    options.max_manifest_size = 1 << 10;
    options
}

pub(crate) fn open_sim(seed: u64) -> (SimFs, Db) {
    let sim = SimFs::new(seed);
    let db = Db::open(DIR, sim_options(&sim)).unwrap();
    (sim, db)
}

pub(crate) fn reopen(sim: &SimFs, db: Db) -> Db {
    drop(db);
    Db::open(DIR, sim_options(sim)).unwrap()
}

/// Every key and value, forwards, as strings.
pub(crate) fn dump(
    iter: impl Iterator<Item = ferris_engine::Result<(ferris_engine::Bytes, ferris_engine::Bytes)>>,
) -> Vec<(String, String)> {
    iter.map(|kv| {
        let (k, v) = kv.unwrap();
        (
            String::from_utf8(k.to_vec()).unwrap(),
            String::from_utf8(v.to_vec()).unwrap(),
        )
    })
    .collect()
}

pub(crate) fn path(name: &str) -> std::path::PathBuf {
    Path::new(DIR).join(name)
}
