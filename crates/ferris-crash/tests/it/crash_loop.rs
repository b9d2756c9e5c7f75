//! The short crash loop CI runs, and the harness's own failure reports.

use std::process::Command;

use ferris_crash::{CrashConfig, CrashReport, crash_loop};
use ferris_sim::{CompactionStrategy, Components, MemtableKind, TableFormatKind};

use crate::{child_exe, seed};

/// Twelve cycles of write, SIGKILL, reopen and check, with `Db::verify` every fourth,
/// with `components` plugged into the child and the reopen. Checks the loop did something
/// worth checking, and returns its report and the database directory.
fn short_loop(components: Components) -> (CrashReport, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CrashConfig::new(dir.path().join("db"), seed());
    config.cycles = 12;
    config.keys_per_thread = 300;
    config.max_run = std::time::Duration::from_millis(400);
    config.verify_every = 4;
    config.components = components;
    let mut cycles = Vec::new();
    let report = crash_loop(&config, child_exe(), &mut |c| cycles.push(c.clone()))
        .unwrap_or_else(|e| panic!("{components}: {e:?}"));
    eprintln!("{components}:\n{report}");
    assert_eq!(report.cycles, 12);
    assert_eq!(cycles.len(), 12);
    assert_eq!(report.verifies, 3);
    // The loop must have done something worth checking: acknowledged writes, and a
    // database that holds keys after the last kill.
    assert!(report.acked_writes > 0, "{report}");
    assert_eq!(
        report.acked_writes,
        cycles.iter().map(|c| c.acked_writes).sum::<u64>()
    );
    assert!(report.keys_live > 0, "{report}");
    assert!(report.child_flushes > 0, "{report}");
    // Read-only opens beside the running children read the database, and each saw a
    // prefix of every writer's history (a cycle fails otherwise).
    assert!(report.live_reads > 0, "{report}");
    (report, dir)
}

/// The table files in `dir`'s database, by extension.
fn table_files(dir: &tempfile::TempDir, extension: &str) -> usize {
    std::fs::read_dir(dir.path().join("db"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(extension)
        })
        .count()
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let (_, dir) = short_loop(Components::default());
    assert!(table_files(&dir, ".sst") > 0);
}

/// Issue 18: each second implementation of a part passes the crash loop plugged in.
#[test]
fn acknowledged_writes_survive_sigkill_with_the_btree_memtable() {
    short_loop(Components::default().with_memtable(MemtableKind::BTree));
}

/// The child and the reopen really used minitables: the database holds no sorted table.
#[test]
fn acknowledged_writes_survive_sigkill_with_minitables() {
    let (_, dir) = short_loop(Components::default().with_table_format(TableFormatKind::Minitable));
    assert!(table_files(&dir, ".mtb") > 0);
    assert_eq!(table_files(&dir, ".sst"), 0);
}

/// FIFO merges nothing, and under `FIFO_CAP` drops nothing: no child compacted, so
/// every flushed table stays in level 0, and kills aimed at a full level 0 land on
/// flushes into an ever longer one.
#[test]
fn acknowledged_writes_survive_sigkill_with_fifo_compaction() {
    let (report, _) = short_loop(Components::default().with_strategy(CompactionStrategy::Fifo));
    assert_eq!(report.child_compactions, 0, "{report}");
}

/// A child that exits by itself instead of being killed is a failure, and the report
/// quotes its stderr.
#[test]
fn a_child_that_fails_to_open_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // A directory holding a file FerrisDB did not write is not a database: the child's
    // open fails and it exits with an error before the parent kills it.
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    std::fs::write(db.join("notes.txt"), "mine").unwrap();
    let mut config = CrashConfig::new(&db, seed());
    config.cycles = 1;
    config.max_run = std::time::Duration::from_secs(5);
    // The child fails in milliseconds, before any kill plan's deadline except the "during
    // open" ones (then the kill comes first, and the parent's own open fails): every seed
    // fails, and within a few seeds one shows the child's own exit.
    let mut texts = Vec::new();
    for s in 0..10 {
        config.seed = s;
        let error = crash_loop(&config, child_exe(), &mut |_| {})
            .expect_err("a directory that is not a database must fail the loop");
        let text = format!("{error:?}");
        assert!(text.contains("cycle 0"), "{text}");
        assert!(text.contains("notes.txt"), "{text}");
        texts.push(text);
    }
    assert!(
        texts.iter().any(|t| t.contains("exited by itself")),
        "{texts:#?}"
    );
}

/// The child rejects bad arguments rather than writing somewhere unexpected.
#[test]
fn the_child_rejects_bad_arguments() {
    let out = Command::new(child_exe())
        .arg("--bogus")
        .arg("1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument"));
}

/// The oracle has teeth end to end: a stand-in child that acknowledges writes it never
/// made (it prints `ack` lines and writes nothing) must fail the loop, naming a write.
#[cfg(unix)]
#[test]
fn acknowledgements_of_writes_never_made_are_caught() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let liar = dir.path().join("liar.sh");
    let acks: String = (0..10).map(|n| format!("echo 'ack 0 {n}'\n")).collect();
    std::fs::write(
        &liar,
        format!("#!/bin/sh\necho ready\n{acks}exec sleep 30\n"),
    )
    .unwrap();
    std::fs::set_permissions(&liar, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut config = CrashConfig::new(dir.path().join("db"), 0);
    config.cycles = 1;
    config.threads = 1;
    config.max_run = std::time::Duration::from_millis(200);
    // A kill aimed at the open may land before the script prints; over a few seeds most
    // land after, and each of those must fail.
    let texts: Vec<String> = (0..6)
        .filter_map(|seed| {
            config.seed = seed;
            config.dir = dir.path().join(format!("db{seed}"));
            crash_loop(&config, &liar, &mut |_| {})
                .err()
                .map(|e| format!("{e:?}"))
        })
        .collect();
    assert!(
        !texts.is_empty(),
        "every run passed: the oracle missed ten lost writes"
    );
    // Caught after the kill (the reopen lacks the acknowledged writes), or before it, by
    // the read-only open beside the running child (the script said `ready` without ever
    // creating the database).
    for text in &texts {
        assert!(
            text.contains("must hold the value written by cycle 0 thread 0 op")
                || text.contains("a read-only open beside the running child"),
            "{text}"
        );
    }
}
