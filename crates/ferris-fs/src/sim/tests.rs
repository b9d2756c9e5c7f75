//! Tests of the simulator itself: does a crash leave what the disk model says, no more and
//! no less? The contract it shares with `StdFs` is tested in `tests/it/conformance.rs`.
//!
//! Most tests run a scenario under many seeds, assert what must hold under every one, and
//! count the outcomes that may vary, asserting each of them happens: a model that never
//! loses anything would pass the first half and fail the second.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use proptest::prelude::*;

use super::disk::SECTOR;
use super::*;

fn path(s: &str) -> &Path {
    Path::new(s)
}

/// A file system with an empty directory `/d`.
fn setup(seed: u64) -> SimFs {
    let fs = SimFs::new(seed);
    fs.create_dir_all(path("/d")).unwrap();
    fs
}

/// Creates a file holding `data`, synced if `sync`. Its name is not synced.
fn write(fs: &SimFs, name: &str, data: &[u8], sync: bool) -> Box<dyn WritableFile> {
    let mut file = fs.create(path(name)).unwrap();
    file.append(data).unwrap();
    if sync {
        file.sync().unwrap();
    }
    file
}

/// The whole file, or `None` if it does not exist.
fn read(fs: &SimFs, name: &str) -> Option<Vec<u8>> {
    match fs.open(path(name)) {
        Ok(file) => Some(file.read_vec(0, file.len()).unwrap()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => panic!("open {name}: {e}"),
    }
}

/// Every file in `/d` with its bytes.
fn snapshot(fs: &SimFs) -> BTreeMap<String, Vec<u8>> {
    let names = fs.list(path("/d")).unwrap();
    names
        .into_iter()
        .map(|n| (n.clone(), read(fs, &format!("/d/{n}")).unwrap()))
        .collect()
}

/// Bytes that are never zero, and differ from one `salt` to another.
fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (byte(i) ^ salt) | 1).collect()
}

/// `x` folded into a byte.
fn byte(x: usize) -> u8 {
    u8::try_from(x % 251).unwrap()
}

fn is_power_cut(e: &io::Error) -> bool {
    e.to_string().contains("simulated power cut")
}

fn is_stale(e: &io::Error) -> bool {
    e.to_string().contains("before a simulated power cut")
}

// ---- File data -------------------------------------------------------------------------

#[test]
fn synced_bytes_survive_and_unsynced_ones_leave_a_possibly_torn_prefix() {
    let synced = pattern(1000, 0x10);
    let unsynced = pattern(3000, 0x20);
    let (mut none, mut all, mut partial, mut torn_zeros, mut torn_garbage) = (0, 0, 0, 0, 0);
    for seed in 0..400 {
        let fs = setup(seed);
        let mut file = write(&fs, "/d/f", &synced, true);
        fs.sync_dir(path("/d")).unwrap();
        file.append(&unsynced).unwrap();
        fs.crash();

        let data = read(&fs, "/d/f").expect("a synced name survives");
        assert_eq!(
            data[..synced.len()],
            synced[..],
            "seed {seed}: synced bytes damaged"
        );
        let tail = &data[synced.len()..];
        assert!(tail.len() <= unsynced.len(), "seed {seed}: the file grew");
        // Everything up to the first wrong byte is what was written; from there on it is
        // one torn sector at the very end.
        let first_bad = tail
            .iter()
            .zip(&unsynced)
            .position(|(a, b)| a != b)
            .unwrap_or(tail.len());
        let torn = &tail[first_bad..];
        assert!(
            torn.len() <= SECTOR,
            "seed {seed}: {} torn bytes",
            torn.len()
        );
        match (tail.len(), torn.len()) {
            (0, _) => none += 1,
            (_, 0) if tail.len() == unsynced.len() => all += 1,
            (_, 0) => partial += 1,
            _ if torn.iter().all(|&b| b == 0) => torn_zeros += 1,
            _ => torn_garbage += 1,
        }
    }
    let outcomes = [none, all, partial, torn_zeros, torn_garbage];
    assert!(
        outcomes.iter().all(|&n| n > 0),
        "none, all, partial, zeros, garbage: {outcomes:?}"
    );
}

#[test]
fn a_fully_synced_file_in_a_synced_directory_always_survives_intact() {
    for seed in 0..50 {
        let fs = setup(seed);
        let data = pattern(5000, 1);
        write(&fs, "/d/f", &data, true);
        fs.sync_dir(path("/d")).unwrap();
        fs.crash();
        assert_eq!(read(&fs, "/d/f"), Some(data), "seed {seed}");
    }
}

// ---- Directory entries -----------------------------------------------------------------

#[test]
fn a_file_synced_but_not_its_directory_may_vanish() {
    let (mut vanished, mut stayed) = (0, 0);
    for seed in 0..100 {
        let fs = setup(seed);
        write(&fs, "/d/f", b"data", true);
        fs.crash();
        match read(&fs, "/d/f") {
            None => vanished += 1,
            Some(data) => {
                assert_eq!(data, b"data", "seed {seed}");
                stayed += 1;
            }
        }
    }
    assert!(
        vanished > 0 && stayed > 0,
        "{vanished} vanished, {stayed} stayed"
    );
}

#[test]
fn a_file_synced_and_its_directory_synced_always_survives() {
    for seed in 0..100 {
        let fs = setup(seed);
        write(&fs, "/d/f", b"data", true);
        fs.sync_dir(path("/d")).unwrap();
        fs.crash();
        assert_eq!(
            read(&fs, "/d/f").as_deref(),
            Some(&b"data"[..]),
            "seed {seed}"
        );
    }
}

#[test]
fn pending_changes_survive_as_a_prefix_in_order() {
    // Four changes in one directory: a crash keeps the first k of them for some k.
    let mut seen = BTreeSet::new();
    for seed in 0..200 {
        let fs = setup(seed);
        for name in ["a", "b", "c", "d"] {
            write(&fs, &format!("/d/{name}"), b"x", true);
        }
        fs.crash();
        let names = fs.list(path("/d")).unwrap();
        let k = names.len();
        assert_eq!(
            names,
            ["a", "b", "c", "d"][..k],
            "seed {seed}: not a prefix"
        );
        seen.insert(k);
    }
    assert_eq!(seen, BTreeSet::from([0, 1, 2, 3, 4]));
}

#[test]
fn rename_over_a_durable_file_is_atomic_across_a_crash() {
    let old = pattern(300, 1);
    let new = pattern(700, 2);
    let (mut kept_old, mut got_new) = (0, 0);
    for seed in 0..200 {
        let fs = setup(seed);
        write(&fs, "/d/CURRENT", &old, true);
        fs.sync_dir(path("/d")).unwrap();
        write(&fs, "/d/CURRENT.tmp", &new, true);
        fs.rename(path("/d/CURRENT.tmp"), path("/d/CURRENT"))
            .unwrap();
        fs.crash();

        let current =
            read(&fs, "/d/CURRENT").unwrap_or_else(|| panic!("seed {seed}: CURRENT lost"));
        let tmp = read(&fs, "/d/CURRENT.tmp");
        if current == old {
            kept_old += 1;
        } else {
            assert_eq!(current, new, "seed {seed}: CURRENT is a mix");
            assert_eq!(tmp, None, "seed {seed}: one file under two names");
            got_new += 1;
        }
    }
    assert!(kept_old > 0 && got_new > 0, "{kept_old} old, {got_new} new");
}

/// The reason the protocol above syncs the temporary file before renaming it: the rename
/// can reach the disk before the bytes do.
#[test]
fn renaming_an_unsynced_file_can_leave_a_torn_target() {
    let new = pattern(700, 2);
    let mut damaged = 0;
    for seed in 0..200 {
        let fs = setup(seed);
        write(&fs, "/d/CURRENT", b"old", true);
        fs.sync_dir(path("/d")).unwrap();
        write(&fs, "/d/CURRENT.tmp", &new, false);
        fs.rename(path("/d/CURRENT.tmp"), path("/d/CURRENT"))
            .unwrap();
        fs.sync_dir(path("/d")).unwrap();
        fs.crash();
        let current = read(&fs, "/d/CURRENT").unwrap();
        damaged += usize::from(current != new);
    }
    assert!(
        damaged > 0,
        "the rename was durable, the bytes were not: damage must show"
    );
}

#[test]
fn a_removal_is_undone_by_a_crash_unless_the_directory_was_synced() {
    let mut came_back = 0;
    for seed in 0..100 {
        let fs = setup(seed);
        write(&fs, "/d/f", b"x", true);
        fs.sync_dir(path("/d")).unwrap();
        fs.remove(path("/d/f")).unwrap();
        assert_eq!(read(&fs, "/d/f"), None, "removed at once for every reader");
        fs.crash();
        if let Some(data) = read(&fs, "/d/f") {
            assert_eq!(data, b"x");
            came_back += 1;
        }
    }
    assert!(
        came_back > 0 && came_back < 100,
        "came back {came_back} times of 100"
    );

    for seed in 0..20 {
        let fs = setup(seed);
        write(&fs, "/d/f", b"x", true);
        fs.remove(path("/d/f")).unwrap();
        fs.sync_dir(path("/d")).unwrap();
        fs.crash();
        assert_eq!(read(&fs, "/d/f"), None, "seed {seed}");
    }
}

#[test]
fn directories_are_durable_at_once_and_commit_their_parents_pending_changes() {
    for seed in 0..30 {
        let fs = setup(seed);
        write(&fs, "/d/f", b"x", true);
        fs.create_dir_all(path("/d/sub/deeper")).unwrap();
        fs.crash();
        assert!(fs.exists(path("/d/sub/deeper")).unwrap(), "seed {seed}");
        // Creating /d/sub synced /d, so the earlier create of /d/f is durable too.
        assert_eq!(read(&fs, "/d/f").as_deref(), Some(&b"x"[..]), "seed {seed}");
    }
}

#[test]
fn a_removed_file_replaced_by_a_directory_does_not_come_back() {
    for seed in 0..30 {
        let fs = setup(seed);
        write(&fs, "/d/x", b"file", true);
        fs.sync_dir(path("/d")).unwrap();
        fs.remove(path("/d/x")).unwrap();
        fs.create_dir_all(path("/d/x")).unwrap();
        fs.crash();
        assert_eq!(fs.list(path("/d")).unwrap(), ["x"], "seed {seed}");
        assert_eq!(
            fs.open(path("/d/x")).unwrap_err().kind(),
            io::ErrorKind::IsADirectory
        );
    }
}

// ---- Determinism -----------------------------------------------------------------------

/// A workload touching every random choice: partial syncs, renames, removes, a short
/// write, and two crashes. Returns what is left, with durable lengths.
fn eventful_run(seed: u64) -> (BTreeMap<String, Vec<u8>>, Vec<Option<u64>>) {
    let fs = setup(seed);
    for i in 0..12u8 {
        let name = format!("/d/{i:02}");
        let mut file = write(
            &fs,
            &name,
            &pattern(700 + usize::from(i) * 50, i),
            i % 3 == 0,
        );
        file.append(&pattern(300, i)).unwrap();
        if i % 4 == 1 {
            fs.sync_dir(path("/d")).unwrap();
        }
        if i % 5 == 2 {
            fs.rename(path(&name), path("/d/renamed")).unwrap();
        }
        if i == 7 {
            fs.remove(path("/d/03")).unwrap();
            fs.inject(Fault::new(Op::Append, FaultKind::Enospc));
            assert!(file.append(&[7; 900]).is_err());
        }
    }
    fs.crash();
    write(&fs, "/d/after", &pattern(2000, 9), false);
    fs.crash();
    let names = fs.list(path("/d")).unwrap();
    let durable = names
        .iter()
        .map(|n| fs.durable_len(&Path::new("/d").join(n)))
        .collect();
    (snapshot(&fs), durable)
}

#[test]
fn the_same_seed_and_calls_give_the_same_crash() {
    for seed in 0..20 {
        assert_eq!(eventful_run(seed), eventful_run(seed), "seed {seed}");
    }
    let distinct: BTreeSet<_> = (0..20).map(eventful_run).collect();
    assert!(
        distinct.len() > 10,
        "only {} distinct outcomes from 20 seeds",
        distinct.len()
    );
}

// ---- Power cuts ------------------------------------------------------------------------

/// Every kind of operation, each of which must fail while the power is off.
fn try_every_operation(
    fs: &SimFs,
    file: &mut dyn WritableFile,
    reader: &dyn ReadableFile,
) -> Vec<io::Error> {
    let mut buf = [0; 1];
    [
        fs.create(path("/d/new")).map(drop),
        fs.open(path("/d/f")).map(drop),
        fs.rename(path("/d/f"), path("/d/g")),
        fs.remove(path("/d/f")),
        fs.list(path("/d")).map(drop),
        fs.exists(path("/d/f")).map(drop),
        fs.create_dir_all(path("/d/sub")),
        fs.sync_dir(path("/d")),
        fs.lock(path("/d/LOCK")).map(drop),
        file.append(b"more"),
        file.sync(),
        reader.read_exact_at(0, &mut buf),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect()
}

#[test]
fn power_stays_off_from_the_cut_until_restart() {
    let fs = setup(1);
    let mut file = write(&fs, "/d/f", b"synced", true);
    fs.sync_dir(path("/d")).unwrap();
    let reader = fs.open(path("/d/f")).unwrap();
    let appended = fs.stats().n_bytes_appended;

    fs.cut_power_after(2);
    file.append(b" one").unwrap();
    fs.list(path("/d")).unwrap();
    assert!(!fs.is_powered_off(), "two operations were allowed");
    let n_ops = fs.op_count();

    let errors = try_every_operation(&fs, file.as_mut(), reader.as_ref());
    assert_eq!(errors.len(), 12, "every operation fails");
    assert!(errors.iter().all(is_power_cut), "{errors:?}");
    assert!(fs.is_powered_off());
    assert_eq!(
        fs.op_count(),
        n_ops + 1,
        "only the fatal operation is counted"
    );
    assert_eq!(file.len(), 10, "a dead append appends nothing");
    assert_eq!(fs.stats().n_bytes_appended, appended + 4);

    fs.restart();
    assert!(!fs.is_powered_off());
    assert!(read(&fs, "/d/f").unwrap().starts_with(b"synced"));
    assert!(
        !fs.exists(path("/d/new")).unwrap(),
        "the dead create changed nothing"
    );
    fs.create(path("/d/new")).unwrap();
}

/// One step of a scripted workload: each is exactly one operation.
#[derive(Debug, Clone)]
enum Step {
    Create(&'static str),
    Append(&'static str, u8),
    Sync(&'static str),
    SyncDir,
    Rename(&'static str, &'static str),
    Remove(&'static str),
}

/// Runs `steps`, stopping at the first error; returns how many succeeded.
fn run_steps(fs: &SimFs, steps: &[Step]) -> usize {
    let mut files: BTreeMap<&str, Box<dyn WritableFile>> = BTreeMap::new();
    for (done, step) in steps.iter().enumerate() {
        let result = match *step {
            Step::Create(name) => fs.create(&Path::new("/d").join(name)).map(|f| {
                files.insert(name, f);
            }),
            Step::Append(name, byte) => files.get_mut(name).unwrap().append(&[byte; 200]),
            Step::Sync(name) => files.get_mut(name).unwrap().sync(),
            Step::SyncDir => fs.sync_dir(path("/d")),
            Step::Rename(from, to) => {
                fs.rename(&Path::new("/d").join(from), &Path::new("/d").join(to))
            }
            Step::Remove(name) => fs.remove(&Path::new("/d").join(name)),
        };
        if result.is_err() {
            return done;
        }
    }
    steps.len()
}

#[test]
fn a_cut_after_every_operation_of_a_workload_keeps_what_was_acknowledged() {
    use Step::*;
    let steps = [
        Create("log"),
        SyncDir,
        Append("log", 1),
        Sync("log"),
        Append("log", 2),
        Append("log", 3),
        Sync("log"),
        Create("tmp"),
        Append("tmp", 9),
        Sync("tmp"),
        Rename("tmp", "META"),
        SyncDir,
        Remove("log"),
        SyncDir,
    ];
    let fs = setup(0);
    let start = fs.op_count();
    assert_eq!(run_steps(&fs, &steps), steps.len());
    assert_eq!(
        fs.op_count() - start,
        steps.len() as u64,
        "one operation per step"
    );

    for cut in 0..=steps.len() {
        for seed in 0..10 {
            let fs = setup(seed);
            fs.cut_power_after(cut as u64);
            let done = run_steps(&fs, &steps);
            assert_eq!(
                done,
                cut.min(steps.len()),
                "cut {cut}: exactly {cut} operations ran"
            );
            assert_eq!(fs.is_powered_off(), cut < steps.len(), "cut {cut}");
            if fs.is_powered_off() {
                assert!(
                    is_power_cut(&fs.list(path("/d")).unwrap_err()),
                    "dead until restart"
                );
            }
            fs.restart();

            // What each acknowledged step promised. The log's name is durable from step 2
            // on, its removal from step 14; in between it may be either way.
            let log = read(&fs, "/d/log");
            let n_synced = match done {
                0..=3 => 0,
                4..=6 => 200,
                _ => 600,
            };
            match log {
                _ if done == steps.len() => {
                    assert_eq!(log, None, "cut {cut} seed {seed}: removal synced")
                }
                None => assert!(!(2..13).contains(&done), "cut {cut} seed {seed}: log lost"),
                Some(log) => {
                    let written: Vec<u8> = [[1; 200], [2; 200], [3; 200]].concat();
                    assert!(
                        log.len() >= n_synced,
                        "cut {cut} seed {seed}: synced bytes lost"
                    );
                    assert_eq!(
                        log[..n_synced],
                        written[..n_synced],
                        "cut {cut} seed {seed}"
                    );
                }
            }
            if done >= 12 {
                assert_eq!(
                    read(&fs, "/d/META"),
                    Some(vec![9; 200]),
                    "cut {cut} seed {seed}"
                );
            }
        }
    }
}

// ---- Faults ----------------------------------------------------------------------------

#[test]
fn a_fault_fires_on_the_nth_matching_operation_only_on_matching_paths_once() {
    let fs = setup(2);
    fs.inject(
        Fault::new(Op::Sync, FaultKind::Eio)
            .path_contains("wal")
            .after(2),
    );
    let mut wal = fs.create(path("/d/000001.wal")).unwrap();
    let mut table = fs.create(path("/d/000002.sst")).unwrap();
    wal.sync().unwrap();
    for _ in 0..5 {
        table.sync().unwrap(); // other paths neither fail nor count
    }
    wal.sync().unwrap();
    let err = wal.sync().unwrap_err();
    assert!(
        err.to_string().contains("EIO") && err.to_string().contains("000001.wal"),
        "{err}"
    );
    wal.sync().unwrap();
    wal.sync().unwrap();
    assert_eq!(fs.stats().n_faults, 1);
}

#[test]
fn a_sticky_fault_keeps_firing_until_cleared() {
    let fs = setup(3);
    fs.inject(Fault::new(Op::Create, FaultKind::Eio).after(1).sticky(true));
    fs.create(path("/d/a")).unwrap();
    for name in ["/d/b", "/d/c", "/d/d"] {
        assert!(fs.create(path(name)).is_err(), "{name}");
    }
    fs.crash(); // crashes do not clear faults
    assert!(fs.create(path("/d/e")).is_err());
    fs.clear_faults();
    fs.create(path("/d/f")).unwrap();
}

#[test]
fn the_first_injected_of_two_due_faults_fires_first() {
    let fs = setup(4);
    fs.inject(Fault::new(Op::List, FaultKind::Enospc));
    fs.inject(Fault::new(Op::List, FaultKind::Eio));
    assert_eq!(
        fs.list(path("/d")).unwrap_err().kind(),
        io::ErrorKind::StorageFull
    );
    assert_eq!(
        fs.list(path("/d")).unwrap_err().kind(),
        io::ErrorKind::Other
    );
    fs.list(path("/d")).unwrap();
}

#[test]
fn a_rename_fault_matches_either_path() {
    let fs = setup(5);
    write(&fs, "/d/a", b"", false);
    fs.inject(
        Fault::new(Op::Rename, FaultKind::Eio)
            .path_contains("CURRENT")
            .sticky(true),
    );
    assert!(fs.rename(path("/d/a"), path("/d/CURRENT")).is_err());
    fs.rename(path("/d/a"), path("/d/b")).unwrap();
    write(&fs, "/d/CURRENT.tmp", b"", false);
    assert!(fs.rename(path("/d/CURRENT.tmp"), path("/d/c")).is_err());
}

#[test]
fn a_faulted_operation_changes_nothing() {
    let fs = setup(6);
    let mut file = write(&fs, "/d/f", b"data", true);
    fs.sync_dir(path("/d")).unwrap();
    for op in [
        Op::Create,
        Op::Rename,
        Op::Remove,
        Op::Link,
        Op::Lock,
        Op::CreateDir,
        Op::Append,
        Op::Reserve,
    ] {
        fs.inject(Fault::new(op, FaultKind::Eio).sticky(true));
    }
    assert!(fs.create(path("/d/g")).is_err());
    assert!(fs.rename(path("/d/f"), path("/d/g")).is_err());
    assert!(fs.remove(path("/d/f")).is_err());
    assert!(fs.hard_link(path("/d/f"), path("/d/h")).is_err());
    assert!(fs.lock(path("/d/LOCK")).is_err());
    assert!(fs.create_dir_all(path("/d/sub")).is_err());
    assert!(file.append(b"more").is_err());
    assert!(file.reserve(4096).is_err());
    assert_eq!(fs.list(path("/d")).unwrap(), ["f"]);
    assert_eq!(read(&fs, "/d/f").as_deref(), Some(&b"data"[..]));
    assert_eq!(file.len(), 4, "EIO on append writes nothing");

    // A failed directory sync leaves the changes pending: a crash may still lose them.
    let mut lost = 0;
    for seed in 0..50 {
        let fs = setup(seed);
        fs.inject(Fault::new(Op::SyncDir, FaultKind::Eio));
        write(&fs, "/d/f", b"data", true);
        assert!(fs.sync_dir(path("/d")).is_err());
        fs.crash();
        lost += usize::from(read(&fs, "/d/f").is_none());
    }
    assert!(lost > 0);
}

#[test]
fn enospc_is_storage_full_after_a_random_short_write() {
    let data = pattern(1000, 3);
    let (mut nothing, mut some) = (0, 0);
    for seed in 0..50 {
        let fs = setup(seed);
        let mut file = write(&fs, "/d/f", b"head", false);
        fs.inject(Fault::new(Op::Append, FaultKind::Enospc));
        let err = file.append(&data).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull, "seed {seed}");

        let written = usize::try_from(file.len()).unwrap() - 4;
        assert!(written <= data.len(), "seed {seed}");
        let contents = read(&fs, "/d/f").unwrap();
        assert_eq!(
            contents,
            [&b"head"[..], &data[..written]].concat(),
            "seed {seed}: a prefix"
        );
        if written == 0 {
            nothing += 1;
        } else if written < data.len() {
            some += 1;
        }
    }
    assert!(
        nothing > 0 && some > 0,
        "{nothing} wrote nothing, {some} wrote part"
    );
}

/// A reserved length is metadata: a sync makes it durable along with the bytes; without
/// one, a power cut keeps either the new length or the last synced one.
#[test]
fn an_unsynced_reservation_may_or_may_not_survive_a_crash() {
    let (mut kept, mut dropped) = (0, 0);
    for seed in 0..60 {
        let fs = setup(seed);
        let mut file = write(&fs, "/d/f", b"abc", true);
        fs.sync_dir(path("/d")).unwrap();
        file.reserve(4096).unwrap();
        fs.crash();
        match read(&fs, "/d/f").unwrap() {
            data if data == b"abc" => dropped += 1,
            data => {
                assert_eq!(data.len(), 4096, "seed {seed}");
                assert!(data.starts_with(b"abc") && data[3..].iter().all(|&b| b == 0));
                kept += 1;
            }
        }

        let fs = setup(seed);
        let mut file = write(&fs, "/d/f", b"abc", true);
        fs.sync_dir(path("/d")).unwrap();
        file.reserve(4096).unwrap();
        file.sync().unwrap();
        fs.crash();
        assert_eq!(
            read(&fs, "/d/f").unwrap().len(),
            4096,
            "seed {seed}: synced"
        );
    }
    assert!(kept > 0 && dropped > 0, "{kept} kept, {dropped} dropped");
}

/// Appends into a synced reservation follow the prefix rule of any unsynced bytes: a
/// crash keeps a prefix of them, maybe torn at the end, and the rest of the reserved
/// length reads as zeros.
#[test]
fn unsynced_appends_into_a_reservation_survive_as_a_prefix_then_zeros() {
    let (mut none, mut all, mut part) = (0, 0, 0);
    for seed in 0..100 {
        let fs = setup(seed);
        let mut file = write(&fs, "/d/f", b"abc", false);
        file.reserve(2048).unwrap();
        file.sync().unwrap();
        fs.sync_dir(path("/d")).unwrap();
        let tail = pattern(1000, 7);
        file.append(&tail).unwrap();
        fs.crash();
        let data = read(&fs, "/d/f").unwrap();
        assert_eq!(data.len(), 2048, "seed {seed}");
        assert_eq!(&data[..3], b"abc");
        let kept = data[3..].iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        assert!(kept <= tail.len(), "seed {seed}: zeros past the appends");
        // All but the last sector of what survived is exactly what was appended.
        let exact = kept.saturating_sub(SECTOR);
        assert_eq!(&data[3..3 + exact], &tail[..exact], "seed {seed}");
        match kept {
            0 => none += 1,
            k if k == tail.len() && data[3..3 + k] == tail[..] => all += 1,
            _ => part += 1,
        }
    }
    assert!(none > 0 && all > 0 && part > 0, "{none} / {all} / {part}");
}

/// Cutting a file back below what a reader opened it with makes the reader's later
/// reads past the new end short, as on a real file system, and never a panic.
#[test]
fn a_reader_of_a_file_cut_back_reads_short() {
    let fs = setup(12);
    let mut file = write(&fs, "/d/f", b"abc", false);
    file.reserve(100).unwrap();
    let reader = fs.open(path("/d/f")).unwrap();
    assert_eq!(reader.len(), 100);
    file.reserve(0).unwrap();
    let mut buf = [0; 10];
    assert_eq!(
        reader.read_exact_at(50, &mut buf).unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof
    );
    reader.read_exact_at(0, &mut buf[..3]).unwrap();
    assert_eq!(&buf[..3], b"abc");
}

#[test]
fn bytes_of_a_failed_sync_are_lost_even_after_a_later_successful_one() {
    let fs = setup(7);
    let mut file = write(&fs, "/d/f", b"good", true);
    fs.sync_dir(path("/d")).unwrap();
    file.append(b"lost").unwrap();
    fs.inject(Fault::new(Op::Sync, FaultKind::Eio));
    assert!(file.sync().is_err());
    assert_eq!(
        read(&fs, "/d/f").as_deref(),
        Some(&b"goodlost"[..]),
        "the page cache still has them"
    );
    file.append(b"after").unwrap();
    file.sync().unwrap();
    assert_eq!(fs.durable_len(path("/d/f")), Some(13));
    fs.crash();
    assert_eq!(
        read(&fs, "/d/f").as_deref(),
        Some(&b"good\0\0\0\0after"[..])
    );
}

#[test]
fn bytes_of_a_failed_sync_never_survive_even_without_a_later_sync() {
    for seed in 0..50 {
        let fs = setup(seed);
        let mut file = write(&fs, "/d/f", b"good", true);
        fs.sync_dir(path("/d")).unwrap();
        file.append(&[b'x'; 100]).unwrap();
        fs.inject(Fault::new(Op::Sync, FaultKind::Enospc));
        assert_eq!(file.sync().unwrap_err().kind(), io::ErrorKind::StorageFull);
        assert_eq!(
            fs.durable_len(path("/d/f")),
            Some(4),
            "a failed sync makes nothing durable"
        );
        fs.crash();
        let data = read(&fs, "/d/f").unwrap();
        assert_eq!(&data[..4], b"good", "seed {seed}");
        assert!(
            data[4..].iter().all(|&b| b == 0),
            "seed {seed}: lost bytes came back"
        );
    }
}

#[test]
fn a_read_only_refusal_changes_nothing_and_a_later_sync_still_works() {
    let fs = setup(9);
    let mut file = write(&fs, "/d/f", b"good", true);
    fs.sync_dir(path("/d")).unwrap();
    file.append(b"more").unwrap();
    fs.inject(Fault::new(Op::Sync, FaultKind::ReadOnly));
    assert_eq!(
        file.sync().unwrap_err().kind(),
        io::ErrorKind::ReadOnlyFilesystem
    );
    fs.inject(Fault::new(Op::Append, FaultKind::ReadOnly));
    assert!(file.append(b"refused").is_err());
    assert!(
        fs.create(path("/d/g")).is_ok(),
        "the faults fired once each"
    );
    file.sync().unwrap();
    fs.crash();
    assert_eq!(read(&fs, "/d/f").as_deref(), Some(&b"goodmore"[..]));
}

// ---- Handles and locks -----------------------------------------------------------------

#[test]
fn handles_opened_before_a_crash_are_stale() {
    let fs = setup(8);
    let mut writer = write(&fs, "/d/f", b"data", true);
    fs.sync_dir(path("/d")).unwrap();
    let reader = fs.open(path("/d/f")).unwrap();
    fs.crash();

    let mut buf = [0; 4];
    let errors = [
        writer.append(b"x").unwrap_err(),
        writer.sync().unwrap_err(),
        reader.read_exact_at(0, &mut buf).unwrap_err(),
    ];
    assert!(errors.iter().all(is_stale), "{errors:?}");
    assert_eq!(reader.len(), 4, "len needs no disk");

    let fresh = fs.open(path("/d/f")).unwrap();
    fresh.read_exact_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"data");
}

#[test]
fn a_reader_sees_the_length_the_file_had_when_opened() {
    let fs = setup(9);
    let mut writer = write(&fs, "/d/f", b"abc", false);
    let reader = fs.open(path("/d/f")).unwrap();
    writer.append(b"def").unwrap();
    assert_eq!(reader.len(), 3);
    let mut buf = [0; 4];
    assert_eq!(
        reader.read_exact_at(0, &mut buf).unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof
    );
    assert_eq!(
        fs.open(path("/d/f")).unwrap().read_vec(2, 4).unwrap(),
        b"cdef"
    );
}

#[test]
fn a_removed_file_stays_readable_and_writable_through_open_handles() {
    let fs = setup(10);
    let mut writer = write(&fs, "/d/f", b"abc", false);
    let reader = fs.open(path("/d/f")).unwrap();
    fs.remove(path("/d/f")).unwrap();
    writer.append(b"def").unwrap();
    writer.sync().unwrap();
    assert_eq!(reader.read_vec(0, 3).unwrap(), b"abc");
}

#[test]
fn locks_are_exclusive_and_released_on_drop() {
    let fs = setup(11);
    let lock = fs.lock(path("/d/LOCK")).unwrap();
    assert!(
        fs.exists(path("/d/LOCK")).unwrap(),
        "taking a lock creates its file"
    );
    let clone = fs.clone();
    assert_eq!(
        clone.lock(path("/d/LOCK")).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    drop(lock);
    let _again = clone.lock(path("/d/LOCK")).unwrap();
}

#[test]
fn a_crash_releases_locks_and_old_guards_do_not_release_new_ones() {
    let fs = setup(12);
    let old = fs.lock(path("/d/LOCK")).unwrap();
    fs.sync_dir(path("/d")).unwrap();
    fs.crash();
    let new = fs.lock(path("/d/LOCK")).unwrap();
    drop(old);
    assert_eq!(
        fs.lock(path("/d/LOCK")).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    drop(new);
    fs.lock(path("/d/LOCK")).unwrap();
}

#[test]
fn a_lock_belongs_to_the_file_not_its_name() {
    let fs = setup(13);
    let _held = fs.lock(path("/d/LOCK")).unwrap();
    fs.rename(path("/d/LOCK"), path("/d/MOVED")).unwrap();
    assert_eq!(
        fs.lock(path("/d/MOVED")).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    let _other = fs.lock(path("/d/LOCK")).unwrap(); // a new file under the old name
}

#[test]
fn a_lock_outliving_its_file_system_is_harmless() {
    let fs = setup(14);
    let lock = fs.lock(path("/d/LOCK")).unwrap();
    drop(fs);
    drop(lock);
}

// ---- Namespace errors ------------------------------------------------------------------

#[test]
fn operations_in_a_missing_directory_are_not_found() {
    let fs = setup(15);
    let not_found = [
        fs.create(path("/nope/f")).map(drop).unwrap_err(),
        fs.lock(path("/nope/LOCK")).map(drop).unwrap_err(),
        fs.list(path("/nope")).unwrap_err(),
        fs.sync_dir(path("/nope")).unwrap_err(),
        fs.open(path("/nope/f")).map(drop).unwrap_err(),
        fs.rename(path("/nope/a"), path("/nope/b")).unwrap_err(),
        fs.remove(path("/nope/f")).unwrap_err(),
    ];
    for err in not_found {
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }
    assert!(!fs.exists(path("/nope/f")).unwrap());
}

#[test]
fn renames_across_directories_are_invalid_input() {
    let fs = setup(16);
    fs.create_dir_all(path("/e")).unwrap();
    write(&fs, "/d/f", b"x", false);
    let err = fs.rename(path("/d/f"), path("/e/f")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert!(fs.exists(path("/d/f")).unwrap());
}

#[test]
fn files_and_directories_do_not_mix() {
    let fs = setup(17);
    write(&fs, "/d/f", b"x", false);
    fs.create_dir_all(path("/d/sub")).unwrap();
    assert_eq!(
        fs.create(path("/d/sub")).unwrap_err().kind(),
        io::ErrorKind::AlreadyExists
    );
    assert_eq!(
        fs.create(path("/d/f/g")).unwrap_err().kind(),
        io::ErrorKind::NotADirectory
    );
    assert_eq!(
        fs.create_dir_all(path("/d/f")).unwrap_err().kind(),
        io::ErrorKind::AlreadyExists
    );
    assert_eq!(
        fs.create_dir_all(path("/d/f/g")).unwrap_err().kind(),
        io::ErrorKind::NotADirectory
    );
    assert_eq!(
        fs.remove(path("/d/sub")).unwrap_err().kind(),
        io::ErrorKind::IsADirectory
    );
    assert_eq!(
        fs.lock(path("/d/sub")).unwrap_err().kind(),
        io::ErrorKind::IsADirectory
    );
    assert_eq!(
        fs.rename(path("/d/f"), path("/d/sub")).unwrap_err().kind(),
        io::ErrorKind::IsADirectory
    );
    assert_eq!(fs.list(path("/d")).unwrap(), ["f", "sub"]);
}

#[test]
fn paths_are_normalised() {
    let fs = setup(18);
    write(&fs, "/d/./f", b"x", false);
    assert_eq!(read(&fs, "/d/f").as_deref(), Some(&b"x"[..]));
    assert_eq!(fs.list(path("/d/")).unwrap(), ["f"]);
    fs.rename(path("/d/f"), path("/d/./g/")).unwrap();
    assert!(fs.exists(path("/d/g")).unwrap());
}

#[test]
fn renaming_a_file_to_itself_does_nothing() {
    let fs = setup(19);
    write(&fs, "/d/f", b"x", true);
    fs.sync_dir(path("/d")).unwrap();
    fs.rename(path("/d/f"), path("/d/f")).unwrap();
    fs.crash();
    assert_eq!(read(&fs, "/d/f").as_deref(), Some(&b"x"[..]));
}

#[test]
fn stats_count_successes_and_faults() {
    let fs = setup(20);
    let mut file = write(&fs, "/d/f", b"abc", true);
    file.append(b"de").unwrap();
    fs.sync_dir(path("/d")).unwrap();
    fs.inject(Fault::new(Op::Sync, FaultKind::Eio));
    assert!(file.sync().is_err());
    fs.crash();
    let stats = fs.stats();
    assert_eq!((stats.n_appends, stats.n_bytes_appended), (2, 5));
    assert_eq!(
        (
            stats.n_syncs,
            stats.n_sync_dirs,
            stats.n_faults,
            stats.n_crashes
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(stats.n_ops, fs.op_count());
    assert_eq!(
        stats.n_ops, 7,
        "create_dir_all, create, 2 appends, 2 syncs, sync_dir"
    );
    assert!(format!("{fs:?}").contains("n_crashes: 1"));
}

// ---- Random workloads against a model --------------------------------------------------

/// A random operation on `/d`, whose files are named by `0..NAMES`.
#[derive(Debug, Clone)]
enum RandomStep {
    Create(u8),
    Append(u8, usize),
    Sync(u8),
    SyncDir,
    Rename(u8, u8),
    Remove(u8),
    Crash,
    CutPowerAfter(u64),
}

const NAMES: u8 = 3;

fn random_step() -> impl Strategy<Value = RandomStep> {
    let name = 0..NAMES;
    prop_oneof![
        3 => name.clone().prop_map(RandomStep::Create),
        5 => (name.clone(), 0..1500usize).prop_map(|(n, len)| RandomStep::Append(n, len)),
        3 => name.clone().prop_map(RandomStep::Sync),
        2 => Just(RandomStep::SyncDir),
        2 => (name.clone(), name.clone()).prop_map(|(a, b)| RandomStep::Rename(a, b)),
        1 => name.prop_map(RandomStep::Remove),
        1 => Just(RandomStep::Crash),
        1 => (0..6u64).prop_map(RandomStep::CutPowerAfter),
    ]
}

/// What the test knows about one file: the bytes written and how many are durable.
#[derive(Debug, Default, Clone)]
struct ModelFile {
    written: Vec<u8>,
    synced: usize,
}

/// The model: which file each name holds, and, if no directory change is pending, which
/// file each name durably holds.
#[derive(Debug, Default)]
struct Model {
    files: Vec<ModelFile>,
    live: BTreeMap<u8, usize>,
    durable: BTreeMap<u8, usize>,
    n_pending: usize,
    /// Every file each name has held since the last crash, durably or not.
    ever: BTreeMap<u8, BTreeSet<usize>>,
}

fn file_path(name: u8) -> std::path::PathBuf {
    Path::new("/d").join(name.to_string())
}

impl Model {
    fn bind(&mut self, name: u8, file: usize) {
        self.live.insert(name, file);
        self.ever.entry(name).or_default().insert(file);
        self.n_pending += 1;
    }

    /// Checks the crashed file system against the model, then relearns the model from it.
    fn check_crash(&mut self, fs: &SimFs) {
        let names = fs.list(path("/d")).unwrap();
        if self.n_pending == 0 {
            let expected: Vec<String> = self.durable.keys().map(u8::to_string).collect();
            assert_eq!(
                names, expected,
                "with nothing pending, the durable names survive exactly"
            );
        }
        let mut after = Model::default();
        for n in &names {
            let name: u8 = n.parse().unwrap();
            let data = read(fs, &format!("/d/{n}")).unwrap();
            let candidates = if self.n_pending == 0 {
                vec![self.durable[&name]]
            } else {
                self.ever
                    .get(&name)
                    .into_iter()
                    .flatten()
                    .copied()
                    .collect()
            };
            let plausible = candidates.iter().any(|&id| {
                let f = &self.files[id];
                let clean = data.len().saturating_sub(SECTOR).max(f.synced);
                data.len() >= f.synced
                    && data.len() <= f.written.len()
                    && data[..clean] == f.written[..clean]
            });
            assert!(
                plausible,
                "{n} holds {} bytes that no file it named could leave",
                data.len()
            );
            after.files.push(ModelFile {
                synced: data.len(),
                written: data,
            });
            after.live.insert(name, after.files.len() - 1);
        }
        after.durable = after.live.clone();
        after.ever = after
            .live
            .iter()
            .map(|(&n, &f)| (n, BTreeSet::from([f])))
            .collect();
        *self = after;
    }
}

fn run_random(seed: u64, steps: &[RandomStep]) {
    let fs = setup(seed);
    let mut model = Model::default();
    // The writer of each file created since the last crash, by model file index.
    let mut writers: BTreeMap<usize, Box<dyn WritableFile>> = BTreeMap::new();
    for step in steps {
        if fs.is_powered_off() {
            // Every operation fails and changes nothing; the model stands still.
            assert!(is_power_cut(&fs.list(path("/d")).unwrap_err()));
            if !matches!(step, RandomStep::Crash) {
                continue;
            }
        }
        let result = match *step {
            RandomStep::Create(name) => fs.create(&file_path(name)).map(|file| {
                assert!(
                    !model.live.contains_key(&name),
                    "created over an existing file"
                );
                model.files.push(ModelFile::default());
                model.bind(name, model.files.len() - 1);
                writers.insert(model.files.len() - 1, file);
            }),
            RandomStep::Append(name, len) => {
                match model.live.get(&name).and_then(|id| writers.get_mut(id)) {
                    Some(writer) => {
                        let id = model.live[&name];
                        let salt = byte(model.files[id].written.len());
                        let data = pattern(len, salt);
                        writer
                            .append(&data)
                            .map(|()| model.files[id].written.extend(data))
                    }
                    None => continue,
                }
            }
            RandomStep::Sync(name) => {
                match model.live.get(&name).and_then(|id| writers.get_mut(id)) {
                    Some(writer) => {
                        let id = model.live[&name];
                        writer
                            .sync()
                            .map(|()| model.files[id].synced = model.files[id].written.len())
                    }
                    None => continue,
                }
            }
            RandomStep::SyncDir => fs.sync_dir(path("/d")).map(|()| {
                model.durable = model.live.clone();
                model.n_pending = 0;
            }),
            RandomStep::Rename(from, to) => fs.rename(&file_path(from), &file_path(to)).map(|()| {
                if from != to {
                    let id = model.live.remove(&from).expect("renamed a missing file");
                    model.bind(to, id);
                }
            }),
            RandomStep::Remove(name) => fs.remove(&file_path(name)).map(|()| {
                model.live.remove(&name).expect("removed a missing file");
                model.n_pending += 1;
            }),
            RandomStep::Crash => {
                fs.restart();
                writers.clear();
                model.check_crash(&fs);
                Ok(())
            }
            RandomStep::CutPowerAfter(n) => {
                fs.cut_power_after(n);
                Ok(())
            }
        };
        match result {
            Ok(()) => {}
            Err(e) if is_power_cut(&e) => assert!(fs.is_powered_off()),
            Err(e) => {
                // The only other failures are the model's own: a missing or existing name.
                let expected = match *step {
                    RandomStep::Create(name) => model.live.contains_key(&name),
                    RandomStep::Rename(from, _) | RandomStep::Remove(from) => {
                        !model.live.contains_key(&from)
                    }
                    _ => false,
                };
                assert!(expected, "{step:?} failed unexpectedly: {e}");
            }
        }
        // Listing is an operation too, and may be the one the power is cut at.
        let live: Vec<String> = model.live.keys().map(u8::to_string).collect();
        match fs.list(path("/d")) {
            Ok(names) => assert_eq!(names, live, "after {step:?}"),
            Err(e) => assert!(is_power_cut(&e), "{e}"),
        }
    }
    fs.restart();
    writers.clear();
    model.check_crash(&fs);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random operations with crashes and power cuts never panic, always list what the
    /// model says, and every crash leaves a state some disk could have left.
    #[test]
    fn random_workloads_crash_as_the_model_allows(
        seed in any::<u64>(),
        steps in proptest::collection::vec(random_step(), 1..60),
    ) {
        run_random(seed, &steps);
    }
}

#[test]
fn a_hard_link_shares_the_bytes_and_its_name_needs_a_directory_sync() {
    let (mut kept, mut lost) = (0, 0);
    for seed in 0..64 {
        let fs = setup(seed);
        fs.create_dir_all(path("/e")).unwrap();
        write(&fs, "/d/f", b"table bytes", true);
        fs.sync_dir(path("/d")).unwrap();
        fs.hard_link(path("/d/f"), path("/e/g")).unwrap();
        assert_eq!(read(&fs, "/e/g").as_deref(), Some(&b"table bytes"[..]));
        let exists = fs.hard_link(path("/d/f"), path("/e/g")).unwrap_err();
        assert_eq!(exists.kind(), io::ErrorKind::AlreadyExists);
        let missing = fs.hard_link(path("/d/nope"), path("/e/h")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        // Removing the original name, durably, leaves the link's bytes.
        fs.remove(path("/d/f")).unwrap();
        fs.sync_dir(path("/d")).unwrap();
        assert_eq!(read(&fs, "/e/g").as_deref(), Some(&b"table bytes"[..]));
        let synced = seed % 2 == 0;
        if synced {
            fs.sync_dir(path("/e")).unwrap();
        }
        fs.crash();
        assert_eq!(read(&fs, "/d/f"), None);
        match read(&fs, "/e/g") {
            Some(bytes) => {
                assert_eq!(bytes, b"table bytes", "a link never holds other bytes");
                kept += 1;
            }
            None => {
                assert!(!synced, "a synced link survives the crash");
                lost += 1;
            }
        }
    }
    assert!(kept > 0 && lost > 0, "kept {kept}, lost {lost}");
}

/// A file system that links nothing, as across two devices.
#[derive(Debug)]
struct NoLinks(SimFs);

impl FileSystem for NoLinks {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.0.create(path)
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadableFile>> {
        self.0.open(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.0.remove(path)
    }
    fn hard_link(&self, _: &Path, _: &Path) -> io::Result<()> {
        Err(io::ErrorKind::CrossesDevices.into())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.0.list(dir)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.0.exists(path)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.0.create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.0.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        self.0.lock(path)
    }
}

#[test]
fn link_or_copy_links_where_it_can_and_copies_a_synced_file_where_it_cannot() {
    let fs = setup(7);
    let big = pattern(3 * (1 << 20) + 17, 5);
    write(&fs, "/d/f", &big, true);
    fs.sync_dir(path("/d")).unwrap();
    let linked = crate::link_or_copy(&fs, path("/d/f"), path("/d/g")).unwrap();
    assert_eq!(linked, crate::Transfer::Linked);

    let no_links = NoLinks(fs.clone());
    let copied = crate::link_or_copy(&no_links, path("/d/f"), path("/d/h")).unwrap();
    assert_eq!(copied, crate::Transfer::Copied(big.len() as u64));
    fs.sync_dir(path("/d")).unwrap();
    fs.crash();
    // The copy was synced before its name: after the crash it is whole.
    assert_eq!(read(&fs, "/d/h").unwrap(), big);
    assert_eq!(read(&fs, "/d/g").unwrap(), big);

    // Errors a copy cannot get around are returned as they are.
    let exists = crate::link_or_copy(&fs, path("/d/f"), path("/d/g")).unwrap_err();
    assert_eq!(exists.kind(), io::ErrorKind::AlreadyExists);
    let missing = crate::link_or_copy(&no_links, path("/d/x"), path("/d/y")).unwrap_err();
    assert_eq!(missing.kind(), io::ErrorKind::NotFound);
}
