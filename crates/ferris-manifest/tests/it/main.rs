//! Integration tests of ferris-manifest: replay after power cuts and after damage, and the
//! golden files of every format version.

mod damage;
mod decode;
mod golden;
mod power_cut;

use std::path::Path;
use std::sync::Arc;

use ferris_core::{InternalKey, ValueKind};
use ferris_fs::{FileSystem, SimFs};
use ferris_manifest::{FileMeta, VersionEdit};

pub(crate) const DIR: &str = "/db";

pub(crate) fn sim(seed: u64) -> (SimFs, Arc<dyn FileSystem>) {
    let sim = SimFs::new(seed);
    let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
    fs.create_dir_all(Path::new(DIR)).unwrap();
    (sim, fs)
}

/// The edit a flush of table `number` would write.
pub(crate) fn flush_edit(number: u64) -> VersionEdit {
    VersionEdit {
        added: vec![(
            0,
            0,
            FileMeta {
                number,
                size: 1000 * number,
                smallest: InternalKey::new(
                    format!("k{number:04}a").into_bytes(),
                    number * 10,
                    ValueKind::Put,
                ),
                largest: InternalKey::new(
                    format!("k{number:04}z").into_bytes(),
                    number * 10 + 9,
                    ValueKind::Delete,
                ),
                min_seq: number * 10,
                max_seq: number * 10 + 9,
                entries: 10,
                tombstones: 1,
            },
        )],
        log_numbers: vec![(0, number)],
        next_file_number: Some(number + 1),
        last_sequence: Some(number * 10 + 9),
        ..VersionEdit::default()
    }
}
