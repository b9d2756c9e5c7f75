//! Group commit: concurrent durable writers share fsyncs, every acknowledged record is
//! recovered in each writer's order, and a failed fsync poisons every writer.

use std::io;
use std::path::Path;
use std::sync::Arc;

use ferris_fs::{Fault, FaultKind, FileSystem, Op};
use ferris_wal::{Error, RecoveryMode, SyncMode, Wal};

use crate::{DIR, HookFs, options, recover, sim};

fn record(thread: u8, i: u32) -> Vec<u8> {
    let mut r = vec![thread];
    r.extend_from_slice(&i.to_le_bytes());
    r.resize(100, thread);
    r
}

/// Splits recovered records by writer thread, asserting each thread's records come back
/// in the order it wrote them with no holes, and returns how many each thread has.
fn per_thread_counts(records: &[Vec<u8>], n_threads: u8) -> Vec<u32> {
    let mut counts = vec![0u32; usize::from(n_threads)];
    for r in records {
        let t = usize::from(r[0]);
        let i = u32::from_le_bytes(r[1..5].try_into().unwrap());
        assert_eq!(
            i, counts[t],
            "thread {t}: record {i} out of order or after a hole"
        );
        assert_eq!(r, &record(r[0], i));
        counts[t] += 1;
    }
    counts
}

/// Appends `record(t, 0..per_thread)` from each of `threads` threads at once.
fn append_from_threads(wal: &Wal, threads: u8, per_thread: u32) {
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..per_thread {
                    wal.append(&record(t, i)).unwrap();
                }
            });
        }
    });
}

#[test]
fn concurrent_durable_writers_share_fsyncs_and_lose_nothing() {
    const THREADS: u8 = 8;
    const PER_THREAD: u32 = 50;
    let (_, sim_fs) = sim(20);
    let fs: Arc<dyn FileSystem> = Arc::new(HookFs::slow_sync(sim_fs.clone()));
    let wal = Wal::create(fs, Path::new(DIR), 1, options(SyncMode::Always, 16 << 10)).unwrap();
    let syncs_before = wal.stats().syncs;
    append_from_threads(&wal, THREADS, PER_THREAD);
    let stats = wal.stats();
    let n_records = u64::from(THREADS) * u64::from(PER_THREAD);
    assert_eq!(stats.records, n_records);
    let syncs = stats.syncs - syncs_before;
    assert!(
        syncs < n_records,
        "{syncs} fsyncs for {n_records} records: no group ever formed"
    );

    let got = recover(&sim_fs, RecoveryMode::Strict).unwrap();
    assert_eq!(
        per_thread_counts(&got.records, THREADS),
        vec![PER_THREAD; usize::from(THREADS)]
    );
}

/// Writers without fsync wait for their leader by yielding before they sleep
/// (`ferris_wal::group::Handoff`): many of them at once, on a WAL small enough to rotate,
/// lose nothing, and each one's records come back in its order.
#[test]
fn concurrent_writers_without_fsync_lose_nothing() {
    const THREADS: u8 = 8;
    const PER_THREAD: u32 = 200;
    let (_, sim_fs) = sim(23);
    let fs: Arc<dyn FileSystem> = sim_fs.clone();
    let wal = Wal::create(fs, Path::new(DIR), 1, options(SyncMode::Manual, 16 << 10)).unwrap();
    append_from_threads(&wal, THREADS, PER_THREAD);
    let stats = wal.stats();
    assert_eq!(stats.records, u64::from(THREADS) * u64::from(PER_THREAD));
    assert!(stats.rotations > 0, "{stats:?}: the WAL never rotated");
    wal.close().unwrap();
    let got = recover(&sim_fs, RecoveryMode::Strict).unwrap();
    assert_eq!(
        per_thread_counts(&got.records, THREADS),
        vec![PER_THREAD; usize::from(THREADS)]
    );
}

/// Leaders gather the writers the last durable group released (`ferris_wal::group`)
/// while holding the lead: durable writers, writers without fsync, and a thread rotating
/// and syncing all contend for it. After a power cut, every durable writer's records are
/// all there, and every writer's records come back in its order with no holes.
#[test]
fn gathering_leaders_race_writers_without_fsync_rotations_and_syncs() {
    const DURABLE: u8 = 4;
    const THREADS: u8 = 6;
    const PER_THREAD: u32 = 40;
    let (power, sim_fs) = sim(22);
    let fs: Arc<dyn FileSystem> = Arc::new(HookFs::slow_sync(sim_fs.clone()));
    let wal = Wal::create(fs, Path::new(DIR), 1, options(SyncMode::Always, 64 << 10)).unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let wal = &wal;
            s.spawn(move || {
                let mode = if t < DURABLE {
                    SyncMode::Always
                } else {
                    SyncMode::Manual
                };
                for i in 0..PER_THREAD {
                    wal.append_with(&record(t, i), mode).unwrap();
                }
            });
        }
        // A fixed number of rounds, not "until the writers are done": a writer that
        // panicked would otherwise leave this loop spinning.
        s.spawn(|| {
            for _ in 0..20 {
                wal.rotate().unwrap();
                wal.sync().unwrap();
            }
        });
    });
    assert_eq!(
        wal.stats().records,
        u64::from(THREADS) * u64::from(PER_THREAD)
    );
    power.crash();
    let got = recover(&sim_fs, RecoveryMode::TolerateTornTail).unwrap();
    let counts = per_thread_counts(&got.records, THREADS);
    assert_eq!(
        counts[..usize::from(DURABLE)],
        vec![PER_THREAD; usize::from(DURABLE)]
    );
}

#[test]
fn a_failed_fsync_poisons_the_wal_for_every_writer() {
    let (sim_fs, fs) = sim(21);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        1,
        options(SyncMode::Always, u64::MAX),
    )
    .unwrap();
    wal.append(b"durable").unwrap();
    sim_fs.inject(Fault::new(Op::Sync, FaultKind::Eio));

    let err = wal.append(b"not acknowledged").unwrap_err();
    assert!(
        matches!(err, Error::Io(_)),
        "the leader sees the I/O error: {err}"
    );
    for attempt in [
        wal.append(b"later"),
        wal.sync(),
        wal.rotate().map(drop),
        wal.close(),
    ] {
        assert!(
            matches!(attempt, Err(Error::Poisoned { .. })),
            "{attempt:?}"
        );
    }
    // The fault was one-shot, yet the WAL stays poisoned: after a failed fsync nothing
    // written since the last good one can be trusted.
    assert!(matches!(
        wal.append(b"still refused"),
        Err(Error::Poisoned { .. })
    ));

    drop(wal);
    sim_fs.crash();
    let got = recover(&fs, RecoveryMode::TolerateTornTail).unwrap();
    assert_eq!(got.records[0], b"durable");
    assert!(got.records.len() <= 2);
}

#[test]
fn a_failed_append_poisons_the_wal() {
    let (sim_fs, fs) = sim(22);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        1,
        options(SyncMode::Always, u64::MAX),
    )
    .unwrap();
    wal.append(b"durable").unwrap();
    sim_fs.inject(Fault::new(Op::Append, FaultKind::Enospc));
    let err = wal.append(&[7; 5000]).unwrap_err();
    let Error::Io(io_error) = &err else {
        panic!("{err}")
    };
    assert_eq!(io_error.kind(), io::ErrorKind::StorageFull);
    // Every refusal carries the failure that poisoned the WAL as its source.
    let refused = wal.append(b"x").unwrap_err();
    assert!(matches!(refused, Error::Poisoned { .. }), "{refused}");
    let cause = std::error::Error::source(&refused).expect("the poisoning failure");
    assert_eq!(cause.to_string(), err.to_string());
    drop(wal);
    // The short write left part of a record behind: a torn tail, cut off on recovery.
    let got = recover(&fs, RecoveryMode::TolerateTornTail).unwrap();
    assert_eq!(got.records, vec![b"durable".to_vec()]);
}

#[test]
fn concurrent_followers_of_a_failed_group_are_not_acknowledged() {
    const THREADS: u8 = 4;
    let (sim_fs, _) = sim(23);
    let fs: Arc<dyn FileSystem> = Arc::new(HookFs::slow_sync(Arc::new(sim_fs.clone())));
    let wal = Wal::create(fs, Path::new(DIR), 1, options(SyncMode::Always, u64::MAX)).unwrap();
    sim_fs.inject(Fault::new(Op::Sync, FaultKind::Eio).after(30));
    let acked: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let wal = &wal;
                s.spawn(move || {
                    let mut n = 0;
                    while n < 1000 && wal.append(&record(t, n)).is_ok() {
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        acked.iter().all(|&n| n < 1000),
        "every writer hit the poison: {acked:?}"
    );
    drop(wal);
    sim_fs.crash();
    let fs: Arc<dyn FileSystem> = Arc::new(sim_fs);
    let got = recover(&fs, RecoveryMode::TolerateTornTail).unwrap();
    let counts = per_thread_counts(&got.records, THREADS);
    for (t, (&n_acked, &n_recovered)) in acked.iter().zip(&counts).enumerate() {
        assert!(
            n_recovered >= n_acked,
            "thread {t}: {n_acked} acknowledged, {n_recovered} recovered"
        );
    }
}

/// Regression: `rotate()` racing `close()` on another thread panicked. `rotate` waited for
/// its turn to be done, then expected the segment to be back, but `close` could take it in
/// between. It must report `Closed` instead.
#[test]
fn rotate_racing_close_reports_closed_instead_of_panicking() {
    for seed in 0..500 {
        let (_, fs) = sim(seed);
        let wal = Wal::create(fs, Path::new(DIR), 1, options(SyncMode::Manual, u64::MAX)).unwrap();
        std::thread::scope(|s| {
            let rotator = s.spawn(|| {
                loop {
                    match wal.rotate() {
                        Ok(_) => {}
                        Err(Error::Closed) => return,
                        Err(e) => panic!("seed {seed}: {e}"),
                    }
                }
            });
            // Appends lead groups that carry the rotator's requests, so the rotator is
            // often a follower, woken after the close below has taken the segment.
            for _ in 0..20 {
                wal.append(b"x").unwrap();
            }
            wal.close().unwrap();
            rotator
                .join()
                .unwrap_or_else(|_| panic!("seed {seed}: rotate panicked"));
        });
    }
}

/// Regression: `remove_segments_before` read the active segment id, listed the directory,
/// and removed every id below its bound except the one it had read, so a rotation in
/// between made it delete the new active segment. The hook rotates exactly there.
#[test]
fn purging_never_removes_a_segment_a_concurrent_rotation_created() {
    let (_, sim_fs) = sim(30);
    let hook_fs = Arc::new(HookFs::with_list_hook(sim_fs.clone()));
    let fs: Arc<dyn FileSystem> = hook_fs.clone();
    let wal =
        Arc::new(Wal::create(fs, Path::new(DIR), 1, options(SyncMode::Always, u64::MAX)).unwrap());
    wal.append(b"old").unwrap();
    let rotating = wal.clone();
    *hook_fs.on_list.lock().unwrap() = Some(Box::new(move || {
        assert_eq!(rotating.rotate().unwrap(), 2);
    }));
    assert_eq!(
        wal.remove_segments_before(u64::MAX).unwrap(),
        0,
        "segment 1 was active when read"
    );
    assert_eq!(wal.active_segment_id().unwrap(), 2);
    wal.append(b"new").unwrap();
    assert!(
        sim_fs.exists(&Path::new(DIR).join("000002.wal")).unwrap(),
        "the active segment survives"
    );
    drop(wal);
    let got = recover(&sim_fs, RecoveryMode::Strict).unwrap();
    assert_eq!(got.records, vec![b"old".to_vec(), b"new".to_vec()]);
}
