//! Stage 2, the write-ahead log: `lab_wal::LabLog`, or the reference
//! `ferris_log::Framing`.
//!
//! | check | from | what it demands |
//! |---|---|---|
//! | `one_record` | the lab | a record appended and synced comes back, byte for byte, and then the log ends |
//! | `records_in_order` | the lab | records of every size (empty ones, and one of several blocks) come back in order; a sealed log says so |
//! | `a_torn_tail_is_an_event` | the lab | a last record cut short is dropped and reported as `RecoveryEvent::TornTail`, not an error; the records before it come back |
//! | `a_flipped_bit_is_caught` | the lab | a flipped bit in a sealed log's middle record is `Error::Corruption`, never that record with the bit flipped |
//! | `round_trips`, `power_cuts`, `torn_tails`, `bit_flips`, `recovery_modes`, `io_faults`, `hostile_bytes` | `ferris_conformance::log` | the whole contract, on a simulated disk: random records, a power cut after every operation, every truncation, every bit flipped, failing disks, garbage |
//! | `in_a_database` | the lab | `ferris_core::WriteBatch`es logged through the format, a power cut after every operation, the log replayed into a memtable: every acknowledged batch is there, and nothing else |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferris_conformance::log as suite;
use ferris_core::{BatchOp, Error, Lookup, MAX_SEQNO, MemtableFactory, SeqNo, WriteBatch};
use ferris_fs::{FileSystem, SimFs};
use ferris_log::{LogFormat, RecoveryEvent, RecoveryMode};

use crate::{Check, Failure, Subject, caught, lab_failure};

/// The format graded for `subject`.
pub fn format(subject: Subject) -> &'static dyn LogFormat {
    match subject {
        Subject::Lab => &lab_wal::LabLog,
        Subject::Reference => &ferris_log::Framing,
    }
}

/// The stage's checks, in order.
pub const CHECKS: [Check; 12] = [
    Check {
        name: "one_record",
        guarantee: "what was logged is there: a record appended and synced is read back byte \
                    for byte, and then the log ends",
        run: |s| one_record(format(s)),
        seed: None,
    },
    Check {
        name: "records_in_order",
        guarantee: "every record comes back in the order appended, whatever its size (an empty \
                    record is a record), and a sealed log reads as sealed",
        run: |s| records_in_order(format(s)),
        seed: None,
    },
    Check {
        name: "a_torn_tail_is_an_event",
        guarantee: "a last record cut short by a power cut is dropped and reported as a \
                    RecoveryEvent::TornTail, not an error; the records before it come back",
        run: |s| a_torn_tail_is_an_event(format(s)),
        seed: None,
    },
    Check {
        name: "a_flipped_bit_is_caught",
        guarantee: "a record whose bytes changed on disk never comes back: in a sealed log the \
                    damage is an Error::Corruption",
        run: |s| a_flipped_bit_is_caught(format(s)),
        seed: None,
    },
    Check {
        name: "round_trips",
        guarantee: "random records (empty, small, many blocks, at block boundaries), synced at \
                    random, sealed or not, read back in every recovery mode: the same records, \
                    no event",
        run: |s| suite::round_trips(format(s)),
        seed: Some(|s, seed| suite::round_trips_seed(format(s), seed)),
    },
    Check {
        name: "power_cuts",
        guarantee: "after a power cut at any moment, recovery returns a prefix of the records \
                    appended that holds every record a sync acknowledged, and nothing that was \
                    not written",
        run: |s| suite::power_cuts(format(s)),
        seed: None,
    },
    Check {
        name: "torn_tails",
        guarantee: "a log cut short at any length gives back the records wholly before the \
                    cut; a cut inside a record is a TornTail event (a Corruption under \
                    Strict), a cut between records nothing",
        run: |s| suite::torn_tails(format(s)),
        seed: None,
    },
    Check {
        name: "bit_flips",
        guarantee: "every bit flipped in a sealed log's records is a Corruption, never a torn \
                    tail, a wrong record or a panic",
        run: |s| suite::bit_flips(format(s)),
        seed: None,
    },
    Check {
        name: "recovery_modes",
        guarantee: "damage in the middle of a log: Strict and TolerateTornTail fail with \
                    Corruption, PointInTime stops before it, SkipCorrupted skips it, each \
                    reporting what it tolerated",
        run: |s| suite::recovery_modes(format(s)),
        seed: None,
    },
    Check {
        name: "io_faults",
        guarantee: "a failed append or sync is an Io error and poisons the writer; a failed \
                    read is an Io error, never a Corruption",
        run: |s| suite::io_faults(format(s)),
        seed: None,
    },
    Check {
        name: "hostile_bytes",
        guarantee: "bytes that were never a log, and a log with bytes overwritten (huge \
                    lengths), never panic the reader and never give a record that was not \
                    written",
        run: |s| suite::hostile_bytes(format(s)),
        seed: Some(|s, seed| suite::hostile_bytes_seed(format(s), seed)),
    },
    Check {
        name: "in_a_database",
        guarantee: "write batches logged through the format survive a power cut at any moment \
                    as a database needs: replayed into a memtable, every acknowledged batch is \
                    there, and nothing that was not written",
        run: |s| in_a_database(format(s)),
        seed: None,
    },
];

/// Where the lab's checks keep their log.
const DIR: &str = "/wal";
const PATH: &str = "/wal/000001.log";
const ID: u64 = 1;

/// A simulated disk holding the empty directory [`DIR`].
fn disk(seed: u64) -> SimFs {
    let fs = SimFs::new(seed);
    fs.create_dir_all(Path::new(DIR))
        .expect("a new SimFs creates a directory");
    fs
}

/// Writes `records` as a log on `fs`, syncing after each, sealed if `seal`. Returns the
/// durable length after the log's start and after each record.
fn write_log(
    format: &dyn LogFormat,
    fs: &SimFs,
    records: &[&[u8]],
    seal: bool,
) -> ferris_core::Result<Vec<u64>> {
    let path = Path::new(PATH);
    let file = fs.create(path).map_err(|e| Error::io(path, e))?;
    fs.sync_dir(Path::new(DIR)).map_err(|e| Error::io(DIR, e))?;
    let mut writer = format.create(file, path, ID)?;
    writer.sync()?;
    let mut ends = vec![fs.durable_len(path).unwrap_or(0)];
    for record in records {
        writer.append(record)?;
        writer.sync()?;
        ends.push(fs.durable_len(path).unwrap_or(0));
    }
    if seal {
        writer.seal()?;
    }
    Ok(ends)
}

/// What reading a log gave: the records before the end or the error, the events, whether
/// it was sealed, and the error.
struct Read {
    records: Vec<Vec<u8>>,
    events: Vec<RecoveryEvent>,
    sealed: bool,
    error: Option<Error>,
}

/// Reads the log on `fs` under `mode`, stopping after `limit` records.
fn read_log(format: &dyn LogFormat, fs: &SimFs, mode: RecoveryMode, limit: usize) -> Read {
    let mut read = Read {
        records: Vec::new(),
        events: Vec::new(),
        sealed: false,
        error: None,
    };
    let mut reader = match format.open(fs, Path::new(PATH), ID, mode) {
        Ok(reader) => reader,
        Err(e) => {
            read.error = Some(e);
            return read;
        }
    };
    while read.records.len() < limit {
        match reader.next_record() {
            Ok(Some(record)) => read.records.push(record),
            Ok(None) => break,
            Err(e) => {
                read.error = Some(e);
                return read;
            }
        }
    }
    read.events = reader.events().to_vec();
    read.sealed = reader.is_sealed();
    read
}

/// A record in a few words.
fn show(record: &[u8]) -> String {
    if record.len() <= 24 {
        format!("b\"{}\"", record.escape_ascii())
    } else {
        format!("{} bytes", record.len())
    }
}

/// A list of records in a few words.
fn show_all(records: &[impl AsRef<[u8]>]) -> String {
    let shown: Vec<String> = records.iter().map(|r| show(r.as_ref())).collect();
    format!("[{}]", shown.join(", "))
}

/// The file's bytes.
fn bytes_of(fs: &SimFs) -> Result<Vec<u8>, String> {
    let file = fs.open(Path::new(PATH)).map_err(|e| e.to_string())?;
    file.read_vec(0, file.len()).map_err(|e| e.to_string())
}

/// A disk holding `bytes` as the log.
fn disk_holding(bytes: &[u8]) -> SimFs {
    let fs = disk(0);
    let mut file = fs.create(Path::new(PATH)).expect("SimFs creates");
    file.append(bytes).expect("SimFs appends");
    file.sync().expect("SimFs syncs");
    fs
}

/// The check `one_record` of `format`.
///
/// # Errors
///
/// A [`Failure`] saying what came back instead of the record.
pub fn one_record(format: &dyn LogFormat) -> Result<(), Failure> {
    const CASE: &str = "one record, b\"hello\", appended and synced";
    let fail = |detail: String| lab_failure(format.name(), "one_record", CASE, detail);
    caught(format.name(), "one_record", CASE, || {
        let fs = disk(0);
        write_log(format, &fs, &[b"hello"], false)
            .map_err(|e| fail(format!("writing the log failed: {e}")))?;
        let read = read_log(format, &fs, RecoveryMode::TolerateTornTail, 2);
        if let Some(e) = read.error {
            return Err(fail(format!("reading the log back failed: {e}")));
        }
        match &read.records[..] {
            [] => Err(fail(
                "the log read back empty: next_record returned None at once; append must write \
                 the record into the file, and next_record read it back"
                    .into(),
            )
            .with_answers("no record", "b\"hello\"")),
            [one] if one != b"hello" => Err(fail(
                "the record came back with other bytes: a record is returned exactly as given \
                 to append"
                    .into(),
            )
            .with_answers(show(one), "b\"hello\"")),
            [_] => Ok(()),
            more => Err(fail(
                "after its one record the log must end: next_record returns None there".into(),
            )
            .with_answers(show_all(more), "[b\"hello\"]")),
        }
    })
}

/// The check `records_in_order` of `format`.
///
/// # Errors
///
/// A [`Failure`] naming the first record that came back wrong.
pub fn records_in_order(format: &dyn LogFormat) -> Result<(), Failure> {
    const CASE: &str = "records b\"first\", b\"\", b\"third\", 70000 bytes, b\"\", b\"last\", \
                        each synced, then sealed";
    let fail = |detail: String| lab_failure(format.name(), "records_in_order", CASE, detail);
    let big = vec![0x5a; 70_000];
    let records: [&[u8]; 6] = [b"first", b"", b"third", &big, b"", b"last"];
    caught(format.name(), "records_in_order", CASE, || {
        let fs = disk(0);
        write_log(format, &fs, &records, true)
            .map_err(|e| fail(format!("writing the log failed: {e}")))?;
        let read = read_log(format, &fs, RecoveryMode::TolerateTornTail, 10);
        if let Some(e) = read.error {
            return Err(fail(format!(
                "reading the log back failed after {} records: {e}",
                read.records.len()
            )));
        }
        for (i, want) in records.iter().enumerate() {
            match read.records.get(i) {
                Some(got) if got == want => {}
                Some(got) => {
                    let why = if want.is_empty() {
                        "an empty record is a record: it comes back as an empty one"
                    } else if got.is_empty() && i > 0 && records[i - 1].is_empty() {
                        "an empty record must not swallow the record after it"
                    } else {
                        "records come back in the order they were appended, each as given"
                    };
                    return Err(fail(format!("record {i} came back wrong: {why}"))
                        .with_answers(show(got), show(want)));
                }
                None => {
                    let why = if want.is_empty() {
                        "an empty record is a record, not the end of the log"
                    } else if want.len() > 32 * 1024 {
                        "a record may be larger than any block or buffer of the format"
                    } else {
                        "every record appended and synced must come back"
                    };
                    return Err(fail(format!(
                        "the log ended after {i} of {} records: {why}",
                        records.len()
                    ))
                    .with_answers(show_all(&read.records), show_all(&records)));
                }
            }
        }
        if read.records.len() > records.len() {
            return Err(fail(format!(
                "after the {} records appended, the log must end",
                records.len()
            ))
            .with_answers(show_all(&read.records), show_all(&records)));
        }
        if !read.sealed {
            return Err(fail(
                "the log was sealed, but is_sealed() says it was not: seal writes something a \
                 reader recognises"
                    .into(),
            )
            .with_answers("false", "true"));
        }
        Ok(())
    })
}

/// Writes `records` as [`write_log`] does, and returns the log's bytes and where each
/// record ends; or, in a sentence, why the damage checks cannot start from it.
fn written(
    format: &dyn LogFormat,
    records: &[&[u8]],
    seal: bool,
) -> Result<(Vec<u8>, Vec<u64>), String> {
    let fs = disk(0);
    let ends = write_log(format, &fs, records, seal)
        .map_err(|e| format!("writing the log failed: {e}"))?;
    let bytes = bytes_of(&fs).map_err(|e| format!("reading the file: {e}"))?;
    if let Some(i) = ends.windows(2).position(|w| w[1] <= w[0]) {
        return Err(format!(
            "record {i} took no durable bytes (the log's durable length after its sync is {}, \
             before it {}): append writes the record to the file, and sync makes it durable",
            ends[i + 1],
            ends[i]
        ));
    }
    Ok((bytes, ends))
}

/// The check `a_torn_tail_is_an_event` of `format`.
///
/// # Errors
///
/// A [`Failure`] saying what the reader made of the torn record.
pub fn a_torn_tail_is_an_event(format: &dyn LogFormat) -> Result<(), Failure> {
    const CASE: &str = "records b\"one\", b\"two\", then 100 bytes, each synced; the file then \
                        cut in the middle of the third";
    let check = "a_torn_tail_is_an_event";
    let fail = |detail: String| lab_failure(format.name(), check, CASE, detail);
    caught(format.name(), check, CASE, || {
        let third = [0x33; 100];
        let (bytes, ends) = written(format, &[b"one", b"two", &third], false).map_err(fail)?;
        let cut = ((ends[2] + ends[3]) / 2) as usize;
        let fs = disk_holding(&bytes[..cut]);
        let read = read_log(format, &fs, RecoveryMode::TolerateTornTail, 4);
        let want = ["one".as_bytes(), b"two"];
        if let Some(e) = read.error {
            return Err(fail(format!(
                "reading under TolerateTornTail failed after {} records: {e}: a last record cut \
                 short is what a power cut leaves, a torn tail, to be cut off and reported as \
                 an event, not an error",
                read.records.len()
            )));
        }
        if read.records.len() > 2 && read.records[2].len() < third.len() {
            return Err(fail(
                "the record cut short came back, shorter: check each record's length (and \
                 checksum) against the bytes that are there"
                    .into(),
            )
            .with_answers(show_all(&read.records), show_all(&want)));
        }
        if read.records != want {
            return Err(fail(
                "the records before the torn one must come back, and only they".into(),
            )
            .with_answers(show_all(&read.records), show_all(&want)));
        }
        let torn = read
            .events
            .iter()
            .filter(|e| matches!(e, RecoveryEvent::TornTail { .. }))
            .count();
        if torn != 1 {
            return Err(fail(
                "the torn record must be reported, once, as a RecoveryEvent::TornTail: dropping \
                 bytes silently hides what recovery did"
                    .into(),
            )
            .with_answers(format!("{:?}", read.events), "[TornTail { .. }]"));
        }
        Ok(())
    })
}

/// The check `a_flipped_bit_is_caught` of `format`.
///
/// # Errors
///
/// A [`Failure`] saying what the reader made of the damage.
pub fn a_flipped_bit_is_caught(format: &dyn LogFormat) -> Result<(), Failure> {
    const CASE: &str = "records b\"one\", 60 bytes, b\"three\", each synced, then sealed; a bit \
                        flipped in the middle of the second";
    let check = "a_flipped_bit_is_caught";
    let fail = |detail: String| lab_failure(format.name(), check, CASE, detail);
    caught(format.name(), check, CASE, || {
        let second = [0x22; 60];
        let records: [&[u8]; 3] = [b"one", &second, b"three"];
        let (mut bytes, ends) = written(format, &records, true).map_err(fail)?;
        let at = ((ends[1] + ends[2]) / 2) as usize;
        bytes[at] ^= 0x04;
        let fs = disk_holding(&bytes);
        let read = read_log(format, &fs, RecoveryMode::TolerateTornTail, 4);
        if let Some(bad) = read
            .records
            .iter()
            .find(|r| !records.contains(&r.as_slice()))
        {
            return Err(fail(
                "a record came back with bytes that were never written: checksum each record, \
                 and return it only if the checksum matches"
                    .into(),
            )
            .with_answers(show(bad), "Error::Corruption"));
        }
        match read.error {
            Some(Error::Corruption(_)) => Ok(()),
            Some(e) => Err(fail(format!(
                "the damage was reported as another error: bytes that changed on disk are \
                 Error::Corruption (Io is for a disk that refused), got {e}"
            ))
            .with_answers(format!("{e:?}"), "Error::Corruption")),
            None => Err(fail(format!(
                "the damage went unreported ({} records read, events {:?}): the seal after it \
                 shows the writer went on, so it is no torn tail but corruption",
                read.records.len(),
                read.events
            ))
            .with_answers("no error", "Error::Corruption")),
        }
    })
}

/// Keys the database check writes.
const KEYS: [&[u8]; 6] = [b"apple", b"banana", b"cherry", b"damson", b"elder", b"fig"];

/// The batches the database check logs: batch `i` writes a few keys (puts and deletes)
/// from sequence number `seqs[i]` on.
fn batches() -> Vec<WriteBatch> {
    let mut seq: SeqNo = 1;
    (0..16usize)
        .map(|i| {
            let mut batch = WriteBatch::new();
            for j in 0..(1 + i % 3) {
                let key = KEYS[(i * 5 + j * 3) % KEYS.len()];
                if (i + j) % 4 == 3 {
                    batch.delete(key);
                } else {
                    let len = if i == 9 { 40_000 } else { 8 + i };
                    batch.put(key, vec![b'a' + (i % 26) as u8; len]);
                }
            }
            batch.set_seq(seq);
            seq += batch.len() as SeqNo;
            batch
        })
        .collect()
}

/// The newest value of each key after the first `n` of `batches`.
fn model(batches: &[WriteBatch], n: usize) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
    let mut state = BTreeMap::new();
    for batch in &batches[..n] {
        for entry in batch.iter() {
            let value = (entry.kind == BatchOp::Put).then(|| entry.value.to_vec());
            state.insert(entry.key.to_vec(), value);
        }
    }
    state
}

/// The check `in_a_database` of `format`: a database's log, as `ferris-wal` keeps one
/// (a record per write batch, synced every other batch, sealed at the end), cut by a power
/// cut after every file operation; recovery reads the log, decodes each record as a
/// batch, and replays it into a memtable (`ferris_memtable::BTreeFactory`), which must
/// then hold every batch a sync acknowledged and nothing that was not written.
///
/// # Errors
///
/// A [`Failure`] naming the power cut and the key whose value came back wrong.
pub fn in_a_database(format: &dyn LogFormat) -> Result<(), Failure> {
    let check = "in_a_database";
    let batches = batches();
    let n_ops = {
        let fs = disk(0);
        let before = fs.op_count();
        let case = "the log written with no power cut";
        caught(format.name(), check, case, || {
            log_batches(format, &fs, &batches).1.map_err(|e| {
                lab_failure(
                    format.name(),
                    check,
                    case,
                    format!("writing the log failed: {e}"),
                )
            })
        })?;
        fs.op_count() - before
    };
    for cut in 0..=n_ops {
        let case = format!(
            "{} batches logged, a sync every other one, sealed; power cut after {cut} of {n_ops} \
             operations, disk seed {cut}",
            batches.len()
        );
        let fail = |detail: String| lab_failure(format.name(), check, case.clone(), detail);
        caught(format.name(), check, &case, || {
            let fs = disk(cut);
            fs.cut_power_after(cut);
            let (synced, _) = log_batches(format, &fs, &batches);
            fs.restart();
            let memtable = ferris_memtable::BTreeFactory.create();
            let mut replayed = 0;
            if fs.exists(Path::new(PATH)).unwrap_or(false) {
                let read = read_log(
                    format,
                    &fs,
                    RecoveryMode::TolerateTornTail,
                    batches.len() + 1,
                );
                if let Some(e) = read.error {
                    return Err(fail(format!(
                        "recovery failed after {} records: {e}: a power cut leaves at most a torn \
                         tail, which recovery cuts off",
                        read.records.len()
                    )));
                }
                for (i, record) in read.records.iter().enumerate() {
                    let decoded = WriteBatch::decode(record).ok().filter(|b| {
                        batches
                            .get(i)
                            .is_some_and(|want| b.seq() == want.seq() && record == want.as_bytes())
                    });
                    let Some(batch) = decoded else {
                        return Err(fail(format!(
                            "record {i} of the recovered log is not batch {i} as logged: a log \
                             returns each record as appended, in order, and none that was not"
                        ))
                        .with_answers(
                            show(record),
                            batches
                                .get(i)
                                .map_or("no more records".into(), |b| show(b.as_bytes())),
                        ));
                    };
                    memtable.apply(batch.iter());
                    replayed += 1;
                }
            }
            if replayed < synced {
                return Err(fail(format!(
                    "recovery replayed {replayed} batches, but {synced} had been acknowledged \
                     durable (a sync returned Ok after them)"
                ))
                .with_answers(replayed.to_string(), format!("at least {synced}")));
            }
            let want = model(&batches, replayed);
            for key in KEYS {
                let got = match memtable.get(key, MAX_SEQNO) {
                    None => None,
                    Some(Lookup::Deleted) => None,
                    Some(Lookup::Value(v)) => Some(v.to_vec()),
                };
                let expected = want.get(key).cloned().flatten();
                if got != expected {
                    return Err(fail(format!(
                        "after replaying {replayed} batches into a memtable, get(b\"{}\") \
                         disagrees with those batches",
                        key.escape_ascii()
                    ))
                    .with_answers(
                        got.map_or("None".into(), |v| show(&v)),
                        expected.map_or("None".into(), |v| show(&v)),
                    ));
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Logs `batches` on `fs`, syncing after every other one, and seals: how many batches a
/// sync (or the seal) acknowledged, and the first error.
fn log_batches(
    format: &dyn LogFormat,
    fs: &SimFs,
    batches: &[WriteBatch],
) -> (usize, ferris_core::Result<()>) {
    let mut synced = 0;
    let path = PathBuf::from(PATH);
    let result = (|| {
        let file = fs.create(&path).map_err(|e| Error::io(&path, e))?;
        fs.sync_dir(Path::new(DIR)).map_err(|e| Error::io(DIR, e))?;
        let mut writer = format.create(file, &path, ID)?;
        for (i, batch) in batches.iter().enumerate() {
            writer.append(batch.as_bytes())?;
            if i % 2 == 1 {
                writer.sync()?;
                synced = i + 1;
            }
        }
        writer.seal()?;
        synced = batches.len();
        Ok(())
    })();
    (synced, result)
}
