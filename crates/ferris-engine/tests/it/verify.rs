//! `Db::verify`: a clean database verifies clean, a flipped byte in any kind of live file
//! is reported with its file and offset, and verification runs alongside writes, flushes
//! and compactions without false alarms, on a read-only handle beside a writer too.

use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ferris_engine::{Corruption, Db, Error, FileKind, VerifyReport, WriteBatch};
use ferris_fs::{FileSystem, ReadableFile, SimFs};
use ferris_wal::{RecoveryMode, SegmentReader};

use crate::{DIR, Leaving, hooked, open_sim, path, stable_options};

/// The WAL's block: a record's fragments never cross one's boundary.
const BLOCK: u64 = 32 << 10;

/// Flips one bit of `path` on the simulated disk, by writing the file again.
fn flip_sim(sim: &SimFs, path: &Path, offset: u64) {
    let mut bytes = {
        let file = sim.open(path).unwrap();
        file.read_vec(0, file.len()).unwrap()
    };
    bytes[offset as usize] ^= 0x10;
    sim.remove(path).unwrap();
    let mut file = sim.create(path).unwrap();
    file.append(&bytes).unwrap();
    file.sync().unwrap();
}

/// Flips one bit of a real file in place, as bit rot would: the file is never truncated,
/// so a reader that has it mapped sees the change but never a shorter file.
fn flip_real(path: &Path, offset: u64) {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.read_exact(&mut byte).unwrap();
    byte[0] ^= 0x10;
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&byte).unwrap();
    file.sync_all().unwrap();
}

fn files_of(report: &VerifyReport, kind: FileKind) -> Vec<PathBuf> {
    report
        .files
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| f.path.clone())
        .collect()
}

/// The one problem of `report`.
fn only_problem(report: &VerifyReport) -> &Corruption {
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    &report.problems[0]
}

#[test]
fn a_clean_database_verifies_clean_and_counts_what_it_read() {
    let sim = SimFs::new(40);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    let value = vec![7u8; 100];
    for i in 0..400 {
        db.put(format!("key{i:05}"), &value).unwrap();
    }
    db.flush().unwrap();
    // Compact and wait, so no background compaction deletes a table between the check and
    // the size comparison below (a table compacted away was checked, but cannot be
    // opened afterwards).
    db.compact().unwrap();
    db.put("unflushed", "in the WAL").unwrap();
    let report = db.verify().unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
    assert_eq!(files_of(&report, FileKind::Current), [path("CURRENT")]);
    assert_eq!(files_of(&report, FileKind::Manifest).len(), 1);
    assert!(!files_of(&report, FileKind::Wal).is_empty());
    let tables: Vec<_> = report
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Table)
        .collect();
    assert!(!tables.is_empty(), "{report:#?}");
    for t in &tables {
        let len = sim.open(&t.path).unwrap().len();
        assert_eq!(
            t.bytes,
            len,
            "every byte of {} is checked",
            t.path.display()
        );
        assert!(t.blocks > 3 && t.records > 0, "{t:?}");
    }
    let table_entries: u64 = tables.iter().map(|t| t.records).sum();
    assert!(table_entries >= 400, "{table_entries}");
    assert!(report.bytes() > 400 * 100);
    assert!(
        report.records() > table_entries,
        "WAL records and edits count too"
    );
    assert_eq!(
        report.blocks(),
        tables.iter().map(|t| t.blocks).sum::<u64>()
    );
}

#[test]
fn a_flipped_byte_in_a_live_table_is_reported_with_its_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = ferris_engine::Options::default();
    options.idle_after = None; // the table must stay where it is
    let db = Db::open(dir.path(), options).unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..2000 {
        batch.put(format!("key{i:05}"), format!("value{i}"));
    }
    db.write(batch).unwrap();
    db.flush().unwrap();
    let report = db.verify().unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
    let tables = files_of(&report, FileKind::Table);
    assert_eq!(tables.len(), 1, "{report:#?}");
    // A byte inside the second data block (blocks are about 4 KiB): reads of other keys
    // never notice, and the block cache may hold an intact copy.
    flip_real(&tables[0], 5000);
    let report = db.verify().unwrap();
    let problem = only_problem(&report);
    assert_eq!(problem.file, tables[0]);
    assert!(
        problem.offset > 0 && problem.offset <= 5000,
        "the damaged block's start: {problem}"
    );
    assert!(problem.reason.contains("checksum"), "{problem}");
    // Every other file was still checked.
    assert!(files_of(&report, FileKind::Manifest).len() == 1);
}

#[test]
fn damage_in_a_live_wal_segment_is_reported_with_its_offset() {
    let sim = SimFs::new(41);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    for i in 0..5 {
        db.put(format!("k{i}"), "v").unwrap();
    }
    db.close().unwrap();
    drop(db);
    // Reopening replays the segment and keeps it until its writes are flushed.
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    let report = db.verify().unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
    let segments = files_of(&report, FileKind::Wal);
    assert_eq!(
        segments.len(),
        2,
        "the replayed one and the new one: {report:#?}"
    );
    // Inside the first record: the segment header is 32 bytes, the fragment header 7.
    flip_sim(&sim, &segments[0], 32 + 7 + 3);
    let problem = &db.verify().unwrap().problems;
    assert_eq!(problem.len(), 1, "{problem:#?}");
    assert_eq!(problem[0].file, segments[0]);
    assert_eq!(
        problem[0].offset, 32,
        "the damaged fragment: {}",
        problem[0]
    );
}

#[test]
fn damage_in_current_or_the_manifest_is_reported() {
    let sim = SimFs::new(42);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    db.put("k", "v").unwrap();
    db.flush().unwrap();
    let report = db.verify().unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
    let manifest = files_of(&report, FileKind::Manifest).remove(0);

    flip_sim(&sim, &path("CURRENT"), 3);
    let report = db.verify().unwrap();
    let problem = only_problem(&report);
    assert_eq!(
        (problem.file.as_path(), problem.offset),
        (path("CURRENT").as_path(), 0)
    );
    flip_sim(&sim, &path("CURRENT"), 3); // repaired

    flip_sim(&sim, &manifest, 40); // inside the first edit
    let report = db.verify().unwrap();
    let problem = only_problem(&report);
    assert_eq!(problem.file, manifest, "{problem}");
    assert_eq!(problem.offset, 32, "the damaged record: {problem}");
}

/// A database on a simulated disk holding one table; returns the table's path.
fn db_with_a_table(seed: u64) -> (SimFs, Db, PathBuf) {
    let (sim, db) = open_sim(seed);
    db.put("k", "v").unwrap();
    db.flush().unwrap();
    let table = files_of(&db.verify().unwrap(), FileKind::Table).remove(0);
    (sim, db, table)
}

#[test]
fn a_missing_live_table_is_a_problem_not_an_error() {
    let (sim, db, table) = db_with_a_table(43);
    sim.remove(&table).unwrap();
    let report = db.verify().unwrap();
    let problem = only_problem(&report);
    assert_eq!(problem.file, table);
    assert!(problem.reason.contains("missing"), "{problem}");
}

/// When the damage is where opening reads (a table's footer), `Db::open` fails; the error
/// holds the same `Corruption` verification would have reported.
#[test]
fn damage_that_stops_open_converts_to_a_problem() {
    let (sim, db, table) = db_with_a_table(44);
    db.close().unwrap();
    drop(db);
    let len = sim.open(&table).unwrap().len();
    flip_sim(&sim, &table, len - 1); // the footer's magic
    let err = Db::open(DIR, stable_options(&sim)).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    let problem = err.corruption().expect("a corruption error");
    assert_eq!((&problem.file, problem.offset), (&table, len - 64));
    assert!(Error::Closed.corruption().is_none());
}

#[test]
fn verify_on_a_closed_database_is_an_error() {
    let (_sim, db) = open_sim(45);
    db.close().unwrap();
    assert!(matches!(db.verify(), Err(Error::Closed)));
}

/// Verification pins the live files, and reads CURRENT and the manifest under the lock
/// that flushes and compactions change them under: while they run (and the manifest is
/// rotated every few flushes), it must never report damage that is not there.
#[test]
fn verify_alongside_writes_flushes_and_compactions_finds_nothing() {
    let (_sim, db) = open_sim(46);
    let writing = AtomicUsize::new(1);
    let verified = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let _leaving = Leaving(&writing);
            let value = vec![3u8; 200];
            for i in 0..3000 {
                db.put(format!("key{:05}", (i * 7919) % 1000), &value)
                    .unwrap();
            }
        });
        let mut verified = 0;
        while writing.load(Ordering::Acquire) > 0 || verified < 3 {
            let report = db.verify().unwrap();
            assert!(
                report.is_clean(),
                "after {verified}: {:#?}",
                report.problems
            );
            assert_eq!(files_of(&report, FileKind::Manifest).len(), 1);
            verified += 1;
        }
        writer.join().unwrap();
        verified
    });
    let stats = db.stats();
    assert!(stats.flushes > 3, "{stats:?}");
    assert!(verified >= 3);
}

/// A file that reads as zeros over `range`, and as the disk holds it elsewhere.
#[derive(Debug)]
struct Zeroed {
    inner: Box<dyn ReadableFile>,
    range: Range<u64>,
}

impl ReadableFile for Zeroed {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_exact_at(offset, buf)?;
        let end = offset + buf.len() as u64;
        let (from, to) = (self.range.start.max(offset), self.range.end.min(end));
        if from < to {
            buf[(from - offset) as usize..(to - offset) as usize].fill(0);
        }
        Ok(())
    }
}

/// Which opens of which file read as zeros where: the file, the range, and for how many
/// more opens.
type Zeroings = Arc<Mutex<Vec<(PathBuf, Range<u64>, usize)>>>;

/// The offset of the first record of WAL segment `path` longer than `min_len` bytes.
fn record_longer_than(sim: &SimFs, path: &Path, min_len: usize) -> u64 {
    let id =
        ferris_wal::format::parse_segment_file_name(path.file_name().unwrap().to_str().unwrap())
            .unwrap();
    let mut reader = SegmentReader::open(sim, path, id, RecoveryMode::Strict).unwrap();
    std::iter::from_fn(|| reader.next_record().unwrap())
        .find(|r| r.data.len() > min_len)
        .expect("such a record")
        .offset
}

/// Regression: `Db::verify` on a database opened read-only, beside its writer, reported
/// the record the writer was appending as damage. With no WAL of its own, the reader has
/// no length of finished appends to stop at, so it read the live segment whole, and a
/// record caught half-copied (its first fragment's end not yet there, its last fragment,
/// in the next block, already there) looked like damage followed by intact records.
/// Now damage in a segment a writer may be appending to counts only where a second read
/// finds it again (`ferris_wal::SegmentEnd::Growing`), so a write in progress, seen once,
/// is not reported; damage that stays is, in the newest segment and in an older one; and
/// a record cut short at the very end is a torn tail, as recovery reads it.
#[test]
fn verify_on_a_read_only_handle_does_not_report_a_record_being_appended() {
    let sim = SimFs::new(47);
    let mut options = stable_options(&sim);
    options.write_buffer_size = 1 << 20;
    let writer = Db::open(DIR, options.clone()).unwrap();
    writer.put("a", "in the older segment").unwrap();
    writer.close().unwrap();
    drop(writer);
    // The reopen replays the first segment and keeps it; the big value goes to the second,
    // a first fragment in one block and a last one in the next.
    let writer = Db::open(DIR, options.clone()).unwrap();
    writer.put("big", vec![9u8; 40_000]).unwrap();

    let zeroings = Zeroings::default();
    options.file_system = hooked(&sim, {
        let zeroings = Arc::clone(&zeroings);
        move |sim, path| {
            let file = sim.open(path)?;
            let mut zeroings = zeroings.lock().unwrap();
            let Some((_, range, left)) = (zeroings.iter_mut()).find(|z| z.0 == path && z.2 > 0)
            else {
                return Ok(file);
            };
            *left -= 1;
            let range = range.clone();
            Ok(Box::new(Zeroed { inner: file, range }))
        }
    });
    let reader = Db::open_read_only(DIR, options).unwrap();
    let report = reader.verify().unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
    let segments = files_of(&report, FileKind::Wal);
    assert_eq!(segments.len(), 2, "{report:#?}");
    let (older, newest) = (&segments[0], &segments[1]);
    let big = record_longer_than(&sim, newest, 32 << 10);
    let first_fragment = big + 100..(big / BLOCK + 1) * BLOCK;
    let zero = |path: &PathBuf, range: Range<u64>, opens: usize| {
        *zeroings.lock().unwrap() = vec![(path.clone(), range, opens)];
        reader.verify().unwrap()
    };

    // Caught half-copied by one read, whole by the next: a write in progress.
    let report = zero(newest, first_fragment.clone(), 1);
    assert!(report.is_clean(), "{:#?}", report.problems);
    let check = report.files.iter().find(|f| &f.path == newest).unwrap();
    assert_eq!((check.records, check.torn_tail), (1, None));

    // The same on every read: damage, at the record's first fragment.
    let report = zero(newest, first_fragment, usize::MAX);
    let problem = only_problem(&report);
    assert_eq!((&problem.file, problem.offset), (newest, big));

    // Damage that stays in the older, sealed segment is reported too: a record's checksum
    // zeroed.
    let small = record_longer_than(&sim, older, 0);
    let report = zero(older, small..small + 4, usize::MAX);
    let problem = only_problem(&report);
    assert_eq!((&problem.file, problem.offset), (older, small));

    // Cut short at the end of the newest segment, with nothing intact after it: a torn
    // tail (a write in progress, or what a crash leaves), not damage.
    let report = zero(newest, big + 100..u64::MAX, usize::MAX);
    assert!(report.is_clean(), "{:#?}", report.problems);
    let check = report.files.iter().find(|f| &f.path == newest).unwrap();
    assert_eq!((check.records, check.torn_tail), (0, Some(big)));
}

/// A handle opened read-only verifies again and again, on a real file system, while a
/// writer beside it appends records that span blocks, flushes and retires segments and
/// tables: what it catches half-copied is a write in progress, never damage.
#[test]
fn verify_on_a_read_only_handle_beside_a_writer_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = ferris_engine::Options::default();
    options.write_buffer_size = 512 << 10;
    let writer = Db::open(dir.path(), options.clone()).unwrap();
    writer.put("first", "before the reader").unwrap();
    let reader = Db::open_read_only(dir.path(), options).unwrap();
    let writing = AtomicUsize::new(1);
    let verified = std::thread::scope(|s| {
        let thread = s.spawn(|| {
            let _leaving = Leaving(&writing);
            for i in 0..300u32 {
                let value = vec![(i % 251) as u8; 20_000 + (i as usize * 997) % 30_000];
                writer.put(format!("key{i:04}"), value).unwrap();
            }
        });
        let mut verified = 0;
        while writing.load(Ordering::Acquire) > 0 || verified < 3 {
            let report = reader.verify().unwrap();
            assert!(
                report.is_clean(),
                "after {verified}: {:#?}",
                report.problems
            );
            verified += 1;
        }
        thread.join().unwrap();
        verified
    });
    assert!(verified >= 3);
    assert!(writer.stats().flushes > 0, "{:?}", writer.stats());
}

/// A writer switching manifests between a read-only verify's read of CURRENT and its
/// read of the manifest CURRENT named leaves that manifest gone for one read: a switch
/// in progress, not damage (`ferris_manifest::check_beside_writer` reads again). A
/// manifest missing on every read is damage all the same.
#[test]
fn verify_on_a_read_only_handle_does_not_report_a_manifest_being_switched() {
    let sim = SimFs::new(48);
    let mut options = stable_options(&sim);
    let writer = Db::open(DIR, options.clone()).unwrap();
    writer.put("k", "v").unwrap();
    writer.close().unwrap();
    drop(writer);
    let missing = Arc::new(std::sync::Mutex::new(0usize));
    options.file_system = hooked(&sim, {
        let missing = Arc::clone(&missing);
        move |sim, path| {
            let manifest = path.to_string_lossy().contains("MANIFEST-");
            let mut missing = missing.lock().unwrap();
            if manifest && *missing > 0 {
                *missing -= 1;
                return Err(std::io::Error::from(std::io::ErrorKind::NotFound));
            }
            sim.open(path)
        }
    });
    let reader = Db::open_read_only(DIR, options).unwrap();
    let verify = |opens: usize| {
        *missing.lock().unwrap() = opens;
        reader.verify().unwrap()
    };
    assert!(verify(0).is_clean());
    let report = verify(1);
    assert!(report.is_clean(), "{:#?}", report.problems);
    let report = verify(usize::MAX);
    let problem = only_problem(&report);
    assert!(
        problem.file.to_string_lossy().contains("MANIFEST-"),
        "{problem:?}"
    );
    assert_eq!(problem.reason, "the file is missing");
}
