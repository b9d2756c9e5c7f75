//! Power cuts and failing disks: what a build leaves behind, and how failed reads are
//! reported.

use bytes::Bytes;
use ferris_core::{Error, InternalKey, ValueKind};
use ferris_fs::{Fault, FaultKind, Op};
use ferris_table::{ReadOptions, TableFormat, TableName, TableOptions, TableProperties};

use super::generate::{self, Shape, probes};
use super::harness::{
    Answer, Disk, NUMBER, Probes, build, describe_read, difference, entries_difference, open,
    reads, scan,
};
use crate::failure::{Checking, Context, Outcome, Problem, ensure};
use crate::model::{Entry, Model};
use crate::{Failure, random};

/// The tables the crash checks write: small ones of many blocks, and one of several
/// MiB, so that a format that gathers its writes in a buffer still writes during
/// `add`.
fn crash_tables() -> Vec<(Model, TableOptions)> {
    let mut out = Vec::new();
    for seed in 0..2 {
        let mut rng = random::rng(seed);
        let shape = Shape {
            keys: [8, 60][seed as usize],
            versions: 4,
            long_keys: seed == 1,
            max_value: 5000,
        };
        let model = generate::entries(&mut rng, shape);
        let mut options = generate::options(&mut rng);
        options.block_size = 128;
        out.push((model, options));
    }
    let big: Vec<Entry> = (0..12u32)
        .map(|i| {
            let key = InternalKey::new(Bytes::from(format!("big{i:04}")), 7, ValueKind::Put);
            (key, Bytes::from(vec![i as u8; 256 << 10]))
        })
        .collect();
    out.push((Model::new(big), TableOptions::default()));
    out
}

/// After a crash or a failed build: every file left is this table's (live or
/// temporary), temporaries only where `temporaries_allowed`, and a table under its name
/// is the whole table. Returns whether the table is there.
fn check_leftovers(
    format: &dyn TableFormat,
    disk: &Disk,
    model: &Model,
    temporaries_allowed: bool,
) -> Outcome<bool> {
    let mut live = false;
    for name in disk.list()? {
        match format.parse_file_name(&name) {
            Some(TableName {
                number: NUMBER,
                temporary: false,
            }) => live = true,
            Some(TableName {
                number: NUMBER,
                temporary: true,
            }) if temporaries_allowed => {}
            parsed => {
                return Err(Problem::mismatch(
                    format_args!("parse_file_name({name:?}), a file left in the directory"),
                    format_args!("{parsed:?}"),
                    if temporaries_allowed {
                        "this table, live or temporary"
                    } else {
                        "this table, live"
                    },
                ));
            }
        }
    }
    if live {
        let reader = open(format, disk, &ReadOptions::default())
            .context("opening the table left under its name")?;
        let got = scan(&reader, true, false).context("scanning the table left under its name")?;
        ensure(got == model.entries(), || {
            entries_difference(
                "a scan of the table left under its name",
                &got,
                model.entries(),
            )
        })?;
        let check = reader.verify().context("verify")?;
        ensure(check.is_intact(), || {
            format!(
                "the table left under its name is damaged: {:?}",
                check.damage
            )
        })?;
    }
    Ok(live)
}

/// A power cut (on `SimFs`) after each file-system operation of a build, from the first
/// to the last, of a few tables (one of several MiB): after the restart, the directory
/// holds nothing but the table and its temporary file; the table, if it is there under
/// its name, is whole and intact; and it is there whenever
/// [`TableBuilder::finish`](ferris_table::TableBuilder::finish) returned `Ok`, always
/// when the power was cut after the build's last operation.
///
/// # Errors
///
/// A [`Failure`] naming the table, the operation the power was cut after, and what was
/// left.
pub fn power_cuts(format: &dyn TableFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "power_cuts");
    for (table, (model, options)) in crash_tables().iter().enumerate() {
        let n_ops = checking.case(format_args!("table {table}, no power cut"), || {
            let disk = Disk::new(0);
            let before = disk.sim.op_count();
            build(format, &disk, model.entries(), options).context("a build")?;
            Ok(disk.sim.op_count() - before)
        })?;
        for cut in 0..=n_ops {
            // What survives a crash is drawn from the disk's seed: a few seeds per cut,
            // and more for the cut after the last operation, where a table `finish`
            // acknowledged must survive every draw (a missing directory sync loses it in
            // about half of them).
            let n_seeds = if cut == n_ops { 16 } else { 2 };
            for seed in 0..n_seeds {
                let case = format!(
                    "table {table}, power cut after {cut} of {n_ops} operations, disk seed {seed}"
                );
                checking.case(case, || {
                    let disk = Disk::new(seed);
                    disk.sim.cut_power_after(cut);
                    let finished = build(format, &disk, model.entries(), options);
                    disk.sim.restart();
                    let live = check_leftovers(format, &disk, model, true)?;
                    ensure(
                        live || finished.is_err(),
                        || "finish returned Ok, but after the power cut there is no table",
                    )?;
                    ensure(cut < n_ops || finished.is_ok(), || {
                        Problem::mismatch(
                            "the build, with no power cut in its way",
                            format_args!("{finished:?}"),
                            "Ok",
                        )
                    })
                })?;
            }
        }
    }
    Ok(())
}

/// Each file-system operation of a build failing once with `EIO` (on `SimFs`): a
/// create, each append, the sync, the rename and the directory sync. The build fails
/// with [`Error::Io`]; after a failed `add` every later `add` and `finish` fails too (the
/// builder cannot know what reached the disk); no temporary file is left once the
/// builder is gone; and the table is not under its name, unless the failure was the
/// directory sync after the rename (then it is there, whole). Then each read of a
/// finished table failing once: `open`, scans, lookups and `verify` fail with
/// [`Error::Io`] or give the right answer, and never report a failed read as
/// [`Error::Corruption`].
///
/// # Errors
///
/// A [`Failure`] naming the operation that failed and what came of it.
pub fn io_faults(format: &dyn TableFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "io_faults");
    let tables = crash_tables();
    let (model, options) = &tables[2];
    for op in [Op::Create, Op::Append, Op::Sync, Op::Rename, Op::SyncDir] {
        for skip in 0.. {
            let case = format!("{op} number {} of a build fails", skip + 1);
            let fired = checking.case(case, || {
                let disk = Disk::new(skip);
                disk.sim.inject(Fault::new(op, FaultKind::Eio).after(skip));
                let result = build_on_after_failure(format, &disk, model.entries(), options)?;
                if disk.sim.stats().n_faults == 0 {
                    result.map(drop).context("the build")?;
                    return Ok(false);
                }
                match result {
                    Err(Error::Io(_)) => {}
                    other => {
                        return Err(Problem::mismatch(
                            "the build",
                            format_args!("{other:?}"),
                            "Err(Io)",
                        ));
                    }
                }
                let live = check_leftovers(format, &disk, model, false)?;
                ensure(
                    !live || op == Op::SyncDir,
                    || "the failed build left the table under its name",
                )?;
                Ok(true)
            })?;
            if !fired {
                break;
            }
        }
    }
    failed_reads(checking, format)
}

/// Builds the table as [`build`] does, but goes on after a failed `add`, as a careless
/// caller would: the builder cannot know what of its file reached the disk, so every
/// later `add`, and `finish`, must fail too. Returns the first error, or what `finish`
/// returned when nothing failed before it.
fn build_on_after_failure(
    format: &dyn TableFormat,
    disk: &Disk,
    entries: &[Entry],
    options: &TableOptions,
) -> Outcome<ferris_core::Result<TableProperties>> {
    let mut builder = match format.create(&disk.fs, &disk.dir, NUMBER, options) {
        Ok(builder) => builder,
        Err(e) => return Ok(Err(e)),
    };
    let mut failed: Option<Error> = None;
    for (i, (key, value)) in entries.iter().enumerate() {
        match (builder.add(key.as_ref(), value), &failed) {
            (Err(e), None) => failed = Some(e),
            (Ok(()), Some(e)) => {
                return Err(Problem::from(format!(
                    "add accepted entry {i} after an earlier add failed with {e:?}"
                )));
            }
            _ => {}
        }
    }
    let finished = builder.finish();
    match (finished, failed) {
        (Ok(_), Some(e)) => Err(Problem::from(format!(
            "finish succeeded after an add failed with {e:?}"
        ))),
        (_, Some(e)) => Ok(Err(e)),
        (finished, None) => Ok(finished),
    }
}

/// The read half of [`io_faults`].
fn failed_reads(checking: Checking<'_>, format: &dyn TableFormat) -> Result<(), Failure> {
    let tables = crash_tables();
    let (model, options) = &tables[1];
    let disk = Disk::new(0);
    let mut rng = random::rng(0);
    let probes = probes(model, &mut rng, 10);
    let clean = checking.case("reading the table with no fault", || {
        build(format, &disk, model.entries(), options).context("a build")?;
        let reader = open(format, &disk, &ReadOptions::default()).context("open")?;
        reads(&reader, &probes)
            .into_iter()
            .enumerate()
            .map(|(i, answer)| answer.context(describe_read(i, &probes)))
            .collect::<Outcome<Vec<Answer>>>()
    })?;
    for op in [Op::Open, Op::Read] {
        for skip in 0.. {
            disk.sim.clear_faults();
            let before = disk.sim.stats().n_faults;
            disk.sim.inject(Fault::new(op, FaultKind::Eio).after(skip));
            let case = format!("{op} number {} of open, reads and verify fails", skip + 1);
            checking.case(case, || {
                read_everything_once(format, &disk, &probes, &clean)
            })?;
            if disk.sim.stats().n_faults == before {
                break;
            }
        }
    }
    disk.sim.clear_faults();
    Ok(())
}

/// Opens the table and reads all of it: every error must be an I/O error, every answer
/// the clean one.
fn read_everything_once(
    format: &dyn TableFormat,
    disk: &Disk,
    probes: &Probes,
    clean: &[Answer],
) -> Outcome {
    let is_io = |what: &str, e: &Error| {
        ensure(matches!(e, Error::Io(_)), || {
            Problem::mismatch(
                format_args!("{what}, where only a read failed"),
                format_args!("{e:?}"),
                "an Io error",
            )
        })
    };
    let reader = match open(format, disk, &ReadOptions::default()) {
        Ok(reader) => reader,
        Err(e) => return is_io("open", &e),
    };
    for (i, answer) in reads(&reader, probes).into_iter().enumerate() {
        match answer {
            Ok(answer) => ensure(answer == clean[i], || {
                difference(describe_read(i, probes), &answer, &clean[i])
            })?,
            Err(e) => is_io(&describe_read(i, probes), &e)?,
        }
    }
    match reader.verify() {
        Ok(check) => ensure(check.is_intact(), || {
            format!(
                "verify reported a failed read as damage: {:?}",
                check.damage
            )
        }),
        Err(e) => is_io("verify", &e),
    }
}
