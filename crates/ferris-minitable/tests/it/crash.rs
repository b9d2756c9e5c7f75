//! Writing a minitable on a disk that loses power or fails: only a finished table is
//! ever visible under its name, a cut leaves at most `NNNNNN.mtb.tmp`, and a builder
//! whose write failed finishes nothing.

use ferris_core::{InternalKey, ValueKind};
use ferris_fs::{Fault, FaultKind, Op};
use ferris_minitable::MinitableFormat;
use ferris_table::{ReadOptions, TableFormat};

use crate::{NUMBER, dir, entries, open, options, scan, sim, sim_with_seed, write};

/// The table the power cuts interrupt: several MiB, so that the 1 MiB write buffer goes
/// to the file during the build as well as at `finish`.
fn big_entries() -> Vec<crate::Entry> {
    let mut out = entries(40, 1);
    for (i, (_, value)) in out.iter_mut().enumerate() {
        if i % 2 == 0 {
            *value = vec![i as u8; 200_000].into();
        }
    }
    out
}

#[test]
fn a_power_cut_anywhere_in_a_build_leaves_the_whole_table_or_at_most_its_temporary() {
    let want = big_entries();
    let n_ops = {
        let (sim, fs) = sim();
        let before = sim.op_count();
        write(&fs, &want, &options(4096)).unwrap();
        sim.op_count() - before
    };
    // A table written in one go takes five: create, append, sync, rename, sync_dir.
    assert!(
        n_ops > 6,
        "only {n_ops} operations: the buffer never went out early"
    );
    let (live, temporary) = (
        MinitableFormat.file_name(NUMBER),
        format!("{}.tmp", MinitableFormat.file_name(NUMBER)),
    );
    for cut in 0..=n_ops {
        for seed in 0..4 {
            let (sim, fs) = sim_with_seed(seed);
            sim.cut_power_after(cut);
            let finished = write(&fs, &want, &options(4096));
            sim.restart();
            let names = fs.list(dir()).unwrap();
            assert!(
                names.iter().all(|n| *n == live || *n == temporary),
                "cut {cut}: {names:?}"
            );
            if names.contains(&live) {
                let table = open(&fs, &ReadOptions::default()).unwrap();
                assert_eq!(scan(&table).unwrap(), want, "cut {cut}");
                assert!(table.verify().unwrap().is_intact(), "cut {cut}");
            } else {
                assert!(finished.is_err(), "cut {cut}: a finished table vanished");
            }
        }
    }
}

#[test]
fn a_failed_sync_fails_the_build_and_leaves_nothing() {
    let (sim, fs) = sim();
    sim.inject(Fault::new(Op::Sync, FaultKind::Eio));
    let e = write(&fs, &entries(20, 1), &options(256)).unwrap_err();
    assert!(e.as_io().is_some(), "{e}");
    assert!(e.to_string().contains("000012.mtb.tmp"), "{e}");
    assert_eq!(fs.list(dir()).unwrap(), Vec::<String>::new());
}

/// A write that fails poisons the builder: later entries and `finish` fail with the
/// same error, and nothing is left behind.
#[test]
fn a_builder_whose_write_failed_refuses_everything_after() {
    let (sim, fs) = sim();
    sim.inject(Fault::new(Op::Append, FaultKind::Enospc));
    let mut builder = MinitableFormat
        .create(&fs, dir(), NUMBER, &options(4096))
        .unwrap();
    let value = vec![1u8; 300_000];
    let key = |i: u32| InternalKey::new(i.to_be_bytes().to_vec(), 1, ValueKind::Put);
    let failed_at = (0..20)
        .find(|&i| builder.add(key(i).as_ref(), &value).is_err())
        .expect("the first write of the buffer fails");
    let refused = builder
        .add(key(failed_at + 1).as_ref(), &value)
        .unwrap_err();
    assert!(refused.as_io().is_some(), "{refused}");
    let e = builder.finish().unwrap_err();
    assert_eq!(e.to_string(), refused.to_string());
    assert_eq!(fs.list(dir()).unwrap(), Vec::<String>::new());
}
