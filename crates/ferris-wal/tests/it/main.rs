//! Integration tests of ferris-wal: one binary, one module per concern. Shared helpers live
//! here.

mod concurrency;
mod damage;
mod golden;
mod power_cut;
mod replay;
mod round_trip;

use std::path::Path;
use std::sync::Arc;

use ferris_fs::{FileSystem, SimFs};
use ferris_wal::{
    Error, RecoveryEvent, RecoveryMode, RecoveryOptions, SyncMode, Wal, WalOptions, WalRecovery,
};

pub(crate) const DIR: &str = "/db/wal";

/// A simulated file system with the WAL directory created, and the same file system as a
/// trait object for the WAL.
pub(crate) fn sim(seed: u64) -> (SimFs, Arc<dyn FileSystem>) {
    let sim = SimFs::new(seed);
    let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
    fs.create_dir_all(Path::new(DIR)).unwrap();
    (sim, fs)
}

pub(crate) fn options(sync_mode: SyncMode, segment_size: u64) -> WalOptions {
    let mut options = WalOptions::default();
    options.sync_mode = sync_mode;
    options.segment_size = segment_size;
    options
}

/// `n` records of varied sizes, some crossing block boundaries; record `i` is tagged with `i`.
pub(crate) fn records(n: usize, seed: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let len = match (i as u64 * 7 + seed) % 5 {
                0 => 0,
                1 => 10,
                2 => 300,
                3 => 5_000,
                _ => 40_000,
            };
            let mut r = (i as u32).to_le_bytes().to_vec();
            r.extend((0..len).map(|j| (j as u64 ^ seed ^ i as u64) as u8));
            r
        })
        .collect()
}

/// What a recovery returned: the records and the events.
pub(crate) struct Recovered {
    pub records: Vec<Vec<u8>>,
    pub events: Vec<RecoveryEvent>,
}

pub(crate) fn recover(fs: &Arc<dyn FileSystem>, mode: RecoveryMode) -> Result<Recovered, Error> {
    let mut options = RecoveryOptions::default();
    options.mode = mode;
    let mut recovery = WalRecovery::open(fs.clone(), Path::new(DIR), options)?;
    let mut records = Vec::new();
    while let Some(r) = recovery.next_record()? {
        records.push(r.data);
    }
    Ok(Recovered {
        records,
        events: recovery.finish().events,
    })
}

/// Writes `records` to segment 1 of a fresh simulated WAL and returns the bytes the
/// writer appended: for a sealed segment, the whole file; for an unsealed one, the file
/// without the zeros of its reserved length (as a crash that lost the length leaves it).
pub(crate) fn segment_bytes(records: &[Vec<u8>], seal: bool) -> Vec<u8> {
    let (mut bytes, appended) = written_segment(records, seal);
    bytes.truncate(appended);
    bytes
}

/// Writes `records` to segment 1 of a fresh simulated WAL, left unsealed, and returns the
/// whole file, ending in the zeros of its reserved length, and how much of it the writer
/// appended.
pub(crate) fn reserved_segment_bytes(records: &[Vec<u8>]) -> (Vec<u8>, usize) {
    written_segment(records, false)
}

fn written_segment(records: &[Vec<u8>], seal: bool) -> (Vec<u8>, usize) {
    let (_, fs) = sim(0);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        1,
        options(SyncMode::Manual, u64::MAX),
    )
    .unwrap();
    for r in records {
        wal.append(r).unwrap();
    }
    let (_, mut appended) = wal.active_segment_len().unwrap();
    if seal {
        wal.close().unwrap();
    } else {
        wal.sync().unwrap();
    }
    let file = fs.open(&Path::new(DIR).join("000001.wal")).unwrap();
    if seal {
        appended = file.len();
    }
    (file.read_vec(0, file.len()).unwrap(), appended as usize)
}

/// A fresh simulated WAL directory holding exactly `bytes` as segment 1.
pub(crate) fn fs_with_segment(bytes: &[u8]) -> Arc<dyn FileSystem> {
    let (_, fs) = sim(0);
    let mut file = fs.create(&Path::new(DIR).join("000001.wal")).unwrap();
    file.append(bytes).unwrap();
    file.sync().unwrap();
    fs
}

/// Asserts that `got` is a prefix of `want`.
#[track_caller]
pub(crate) fn assert_prefix(got: &[Vec<u8>], want: &[Vec<u8>]) {
    assert!(
        got.len() <= want.len(),
        "recovered {} records, only {} were written",
        got.len(),
        want.len()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "record {i} differs: recovered {} bytes, wrote {} bytes",
            g.len(),
            w.len()
        );
    }
}
