//! What the simulator is for: telling a crash-safe write protocol from one that only looks
//! like it.
//!
//! The protocol replaces a small file atomically, as FerrisDB's `CURRENT` pointer is:
//! write a temporary file, sync it, rename it over the old one, sync the directory, and
//! only then report success. Cutting the power after every operation, under many seeds,
//! the correct protocol always leaves the old or the new contents, and the new ones once
//! it has reported success. Leaving out either sync breaks one of those promises, and the
//! simulator must catch it: otherwise the crash tests built on it prove nothing.

use std::io;
use std::path::Path;

use ferris_fs::{FileSystem, SimFs};

use crate::read;

const OLD: &[u8] = b"MANIFEST-000001";
const NEW: &[u8] = b"MANIFEST-000002, and a longer name than before";
const SEEDS: u64 = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Correct,
    NoFileSync,
    NoDirSync,
}

fn set_current(fs: &dyn FileSystem, contents: &[u8], protocol: Protocol) -> io::Result<()> {
    let (dir, tmp, current) = (
        Path::new("/db"),
        Path::new("/db/CURRENT.tmp"),
        Path::new("/db/CURRENT"),
    );
    let mut file = fs.create(tmp)?;
    file.append(contents)?;
    if protocol != Protocol::NoFileSync {
        file.sync()?;
    }
    fs.rename(tmp, current)?;
    if protocol != Protocol::NoDirSync {
        fs.sync_dir(dir)?;
    }
    Ok(())
}

/// A file system where `CURRENT` durably holds `OLD`.
fn setup(seed: u64) -> SimFs {
    let fs = SimFs::new(seed);
    fs.create_dir_all(Path::new("/db")).unwrap();
    set_current(&fs, OLD, Protocol::Correct).unwrap();
    fs
}

/// Runs the protocol with a power cut after every number of operations, under many seeds,
/// and returns every broken promise found, as `(seed, cut, what)`.
fn broken_promises(protocol: Protocol) -> Vec<(u64, u64, String)> {
    let fs = setup(0);
    let start = fs.op_count();
    set_current(&fs, NEW, protocol).unwrap();
    let n_ops = fs.op_count() - start;

    let mut broken = Vec::new();
    for seed in 0..SEEDS {
        for cut in 0..=n_ops {
            let fs = setup(seed);
            fs.cut_power_after(cut);
            let acknowledged = set_current(&fs, NEW, protocol).is_ok();
            fs.restart();
            let current = read(&fs, Path::new("/db/CURRENT"));
            if current != OLD && current != NEW {
                broken.push((
                    seed,
                    cut,
                    format!("CURRENT holds {:?}", String::from_utf8_lossy(&current)),
                ));
            } else if acknowledged && current != NEW {
                broken.push((seed, cut, "an acknowledged update was lost".to_owned()));
            }
        }
    }
    broken
}

#[test]
fn the_correct_protocol_survives_a_cut_at_every_operation() {
    let broken = broken_promises(Protocol::Correct);
    assert!(broken.is_empty(), "(seed, cut, what): {broken:?}");
}

#[test]
fn renaming_before_the_file_is_synced_is_caught() {
    let broken = broken_promises(Protocol::NoFileSync);
    assert!(
        broken
            .iter()
            .any(|(_, _, what)| what.starts_with("CURRENT holds")),
        "{broken:?}"
    );
}

#[test]
fn acknowledging_before_the_directory_is_synced_is_caught() {
    let broken = broken_promises(Protocol::NoDirSync);
    assert!(
        broken
            .iter()
            .any(|(_, _, what)| what.contains("acknowledged")),
        "{broken:?}"
    );
}
