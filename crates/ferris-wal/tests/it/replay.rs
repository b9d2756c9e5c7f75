//! Replaying batches into memtables (`WalRecovery::replay_batches`): each keyspace's
//! entries go to its memtable from its log number on, a dropped keyspace's are skipped, and
//! a keyspace that never existed is damage.

use std::path::Path;
use std::sync::Arc;

use ferris_core::{Lookup, MemtableFactory, WriteBatch};
use ferris_memtable::SkipListFactory;
use ferris_wal::{Error, RecoveryOptions, Route, SyncMode, Wal, WalRecovery};

use crate::{DIR, options, sim};

/// Two segments: batch 1 (default keyspace and keyspace 5) in segment 1, batch 2
/// (keyspaces 5 and 9) in segment 2.
fn two_segments() -> Arc<dyn ferris_fs::FileSystem> {
    let (_, fs) = sim(1);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        1,
        options(SyncMode::Always, u64::MAX),
    )
    .unwrap();
    let mut first = WriteBatch::new();
    first.put("a", "1").put_in(5, "b", "1");
    first.set_seq(1);
    wal.append(first.as_bytes()).unwrap();
    wal.rotate().unwrap();
    let mut second = WriteBatch::new();
    second.put_in(5, "b", "2").delete_range_in(9, "a".."z");
    second.set_seq(3);
    wal.append(second.as_bytes()).unwrap();
    wal.close().unwrap();
    fs
}

#[test]
fn each_keyspace_gets_its_entries_from_its_log_number_on() {
    let fs = two_segments();
    let mut recovery = WalRecovery::open(fs, Path::new(DIR), RecoveryOptions::default()).unwrap();
    let (default, five) = (SkipListFactory.create(), SkipListFactory.create());
    let replayed = recovery
        .replay_batches(|id| match id {
            0 => Route::Apply {
                memtable: &*default,
                from_segment: 1,
            },
            // Keyspace 5's segment-1 writes are in its tables already.
            5 => Route::Apply {
                memtable: &*five,
                from_segment: 2,
            },
            _ => Route::Dropped,
        })
        .unwrap();
    assert_eq!(replayed.last_sequence, 4);
    assert_eq!(replayed.first_segments, [(0, 1), (5, 2)].into());
    assert_eq!(default.get(b"a", 10), Some(Lookup::Value("1".into())));
    assert_eq!(five.len(), 1, "only segment 2's put");
    assert_eq!(five.get(b"b", 10), Some(Lookup::Value("2".into())));
}

#[test]
fn a_keyspace_that_never_existed_is_damage_naming_the_segment() {
    let fs = two_segments();
    let mut recovery = WalRecovery::open(fs, Path::new(DIR), RecoveryOptions::default()).unwrap();
    let mem = SkipListFactory.create();
    let err = recovery
        .replay_batches(|id| match id {
            9 => Route::Unknown,
            _ => Route::Apply {
                memtable: &*mem,
                from_segment: 0,
            },
        })
        .unwrap_err();
    let Error::Corruption(c) = err else {
        panic!("{err}")
    };
    assert!(c.file.ends_with("000002.wal"), "{c}");
    assert!(c.reason.contains("keyspace 9, never created"), "{c}");
}

#[test]
fn a_gap_in_the_segment_numbers_is_a_lost_segment_and_a_bad_record_is_named() {
    let lost = ferris_wal::missing_segments(Path::new(DIR), &[3, 4, 6, 9]);
    let named: Vec<_> = lost.iter().map(|c| c.reason.clone()).collect();
    assert_eq!(
        named,
        [
            "segment 5 is missing (found segment 6 after it)",
            "segment 7 is missing (found segment 9 after it)"
        ]
    );
    assert!(lost[0].file.ends_with("000005.wal"));
    assert_eq!(
        ferris_wal::batch_problem(WriteBatch::new().as_bytes()),
        None
    );
    let problem = ferris_wal::batch_problem(b"short").unwrap();
    assert!(
        problem.starts_with("a WAL record is not a write batch"),
        "{problem}"
    );
}
