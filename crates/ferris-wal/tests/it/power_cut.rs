//! Simulated power cuts at every file-system operation of a workload: every record
//! acknowledged as durable is recovered, and what is recovered is a prefix of what was
//! written.

use std::path::Path;
use std::sync::Arc;

use ferris_fs::{FileSystem, SimFs};
use ferris_wal::{RecoveryMode, RecoveryOptions, SyncMode, Wal, WalRecovery};

use crate::{DIR, assert_prefix, options, records, recover, sim};

/// Appends `written` with small segments (so rotations happen) and returns how many records
/// were acknowledged as durable before the first error.
fn durable_workload(
    fs: &Arc<dyn FileSystem>,
    first_segment: u64,
    written: &[Vec<u8>],
    mode: SyncMode,
) -> usize {
    let Ok(wal) = Wal::create(
        fs.clone(),
        Path::new(DIR),
        first_segment,
        options(mode, 8 << 10),
    ) else {
        return 0;
    };
    let mut acked = 0;
    for (i, r) in written.iter().enumerate() {
        if wal.append(r).is_err() {
            break;
        }
        // In manual mode a record is durable once a later sync succeeds.
        if mode == SyncMode::Always {
            acked = i + 1;
        } else if i % 4 == 3 {
            if wal.sync().is_err() {
                break;
            }
            acked = i + 1;
        }
    }
    acked
}

fn ops_of_workload(seed: u64, written: &[Vec<u8>], mode: SyncMode) -> u64 {
    let (sim_fs, fs) = sim(seed);
    let before = sim_fs.op_count();
    durable_workload(&fs, 1, written, mode);
    sim_fs.op_count() - before
}

fn cut_at_every_op(seed: u64, mode: SyncMode) {
    let written = records(24, seed);
    let n_ops = ops_of_workload(seed, &written, mode);
    assert!(
        n_ops > 50,
        "the workload is big enough to be interesting: {n_ops} ops"
    );
    for cut in 0..=n_ops {
        let (sim_fs, fs) = sim(seed ^ cut);
        sim_fs.cut_power_after(cut);
        let acked = durable_workload(&fs, 1, &written, mode);
        sim_fs.restart();
        let got = recover(&fs, RecoveryMode::TolerateTornTail)
            .unwrap_or_else(|e| panic!("seed {seed}, cut after {cut} ops: {e}"));
        assert_prefix(&got.records, &written);
        assert!(
            got.records.len() >= acked,
            "seed {seed}, cut after {cut} ops: {acked} acknowledged, {} recovered",
            got.records.len()
        );
    }
}

#[test]
fn power_cut_at_every_operation_with_per_write_sync() {
    for seed in 0..4 {
        cut_at_every_op(seed, SyncMode::Always);
    }
}

#[test]
fn power_cut_at_every_operation_with_manual_sync() {
    for seed in 10..14 {
        cut_at_every_op(seed, SyncMode::Manual);
    }
}

/// Crash, recover, write on in a new segment, crash again: the torn tail of the first run
/// stays at the end of an old segment and must keep being tolerated there.
#[test]
fn repeated_crash_and_recovery_cycles_keep_every_acknowledged_record() {
    for seed in 0..40u64 {
        let sim_fs = SimFs::new(seed);
        let fs: Arc<dyn FileSystem> = Arc::new(sim_fs.clone());
        fs.create_dir_all(Path::new(DIR)).unwrap();
        let mut history: Vec<Vec<u8>> = Vec::new();
        let mut acked_total = 0;
        for round in 0..5u64 {
            let recovery = {
                let mut r =
                    WalRecovery::open(fs.clone(), Path::new(DIR), RecoveryOptions::default())
                        .unwrap();
                let mut got = Vec::new();
                while let Some(rec) = r
                    .next_record()
                    .unwrap_or_else(|e| panic!("seed {seed} round {round}: {e}"))
                {
                    got.push(rec.data);
                }
                (got, r.finish())
            };
            let (got, report) = recovery;
            assert!(
                got.len() >= acked_total,
                "seed {seed} round {round}: lost acknowledged records"
            );
            // What survives becomes the history the next round builds on.
            assert_prefix(&got, &history);
            history.truncate(got.len());
            acked_total = got.len();

            let fresh = records(10, seed * 100 + round);
            let budget = 5 + (seed * 7 + round * 13) % 60;
            sim_fs.cut_power_after(budget);
            let acked = durable_workload(&fs, report.next_segment_id, &fresh, SyncMode::Always);
            history.extend(fresh);
            acked_total += acked;
            sim_fs.restart();
        }
    }
}

#[test]
fn concurrent_writers_under_a_power_cut_keep_their_acknowledged_records() {
    use std::sync::atomic::{AtomicU32, Ordering};
    const THREADS: usize = 4;
    for seed in 0..20u64 {
        let (sim_fs, fs) = sim(seed);
        let wal = Wal::create(
            fs.clone(),
            Path::new(DIR),
            1,
            options(SyncMode::Always, 4 << 10),
        )
        .unwrap();
        sim_fs.cut_power_after(20 + seed * 11);
        let acked: Vec<AtomicU32> = (0..THREADS).map(|_| AtomicU32::new(0)).collect();
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (wal, acked) = (&wal, &acked);
                s.spawn(move || {
                    for i in 0..200u32 {
                        let mut r = vec![t as u8];
                        r.extend_from_slice(&i.to_le_bytes());
                        r.resize(300, t as u8);
                        if wal.append(&r).is_err() {
                            return;
                        }
                        acked[t].store(i + 1, Ordering::SeqCst);
                    }
                });
            }
        });
        drop(wal);
        sim_fs.restart();
        let got = recover(&fs, RecoveryMode::TolerateTornTail).unwrap();
        let mut counts = [0u32; THREADS];
        for r in &got.records {
            let t = usize::from(r[0]);
            let i = u32::from_le_bytes(r[1..5].try_into().unwrap());
            assert_eq!(i, counts[t], "seed {seed}: thread {t} has a hole");
            counts[t] += 1;
        }
        for t in 0..THREADS {
            let a = acked[t].load(Ordering::SeqCst);
            assert!(
                counts[t] >= a,
                "seed {seed}: thread {t} acknowledged {a}, recovered {}",
                counts[t]
            );
        }
    }
}
