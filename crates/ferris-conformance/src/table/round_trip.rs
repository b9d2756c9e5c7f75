//! Random tables written and read back, every read compared with the model.

use std::sync::Arc;

use ferris_core::InternalKeyRef;
use ferris_core::ValueKind;
use ferris_core::iter::InternalIterator;
use ferris_table::{BlockCache, ReadOptions, TableFormat, TableName, TableProperties, TableReader};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::harness::{
    Context, Disk, NUMBER, Outcome, ensure, entries_difference, open, panic_message, run, scan,
    show_bytes, show_entry, show_lookup,
};
use super::model::{self, Model, Shape};
use super::{Failure, SEEDS};

/// Runs [`round_trip`] for every seed of [`SEEDS`].
///
/// # Errors
///
/// The first [`Failure`].
pub fn round_trips(format: &dyn TableFormat) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| round_trip(format, seed))
}

/// One seed of [`round_trips`]: random entries and options from `seed`, written as a
/// table and read back every way there is.
///
/// - While the table is being written, `len` counts the entries, `estimated_size` is
///   positive, and every file in the directory is this table's, temporary.
/// - Once finished, the directory holds the table under its name and nothing else, and
///   the properties [`TableBuilder::finish`](ferris_table::TableBuilder::finish) returns
///   are those the reader reports: the first and last keys, the counts of entries and
///   tombstones, the smallest and largest sequence numbers, the bytes of keys and values,
///   and the file's length.
/// - Lookups of every user key (and of near misses) at many snapshots, full scans both
///   ways, and a random walk of seeks, `seek_for_prev`s and steps both ways agree with
///   the model; `verify` finds the table intact and accounts for every byte.
/// - Opened with a block cache, the answers are the same; an iterator that does not fill
///   the cache adds nothing to it; two threads reading the table at once both get the
///   right answers.
///
/// # Errors
///
/// A [`Failure`] naming the seed and what differed.
pub fn round_trip(format: &dyn TableFormat, seed: u64) -> Result<(), Failure> {
    run(format, "round_trips", &format_args!("seed {seed}"), || {
        round_trip_case(format, seed)
    })
}

fn round_trip_case(format: &dyn TableFormat, seed: u64) -> Outcome {
    let mut rng = SmallRng::seed_from_u64(seed);
    let shape = Shape {
        // Seed 0 is a table of one entry; the others have up to 8, 60 or 200 user keys.
        keys: if seed == 0 {
            1
        } else {
            [8, 60, 200][seed as usize % 3]
        },
        versions: if seed == 0 {
            1
        } else {
            [2, 6][seed as usize / 3 % 2]
        },
        long_keys: seed % 4 == 3,
        max_value: 5000,
    };
    let model = model::entries(&mut rng, shape);
    let options = model::options(&mut rng);
    let disk = Disk::new(seed);

    let mut builder = format
        .create(&disk.fs, &disk.dir, NUMBER, &options)
        .context("create")?;
    ensure(builder.is_empty(), || "a new builder is not empty".into())?;
    for (i, (key, value)) in model.entries().iter().enumerate() {
        builder.add(key.as_ref(), value).context(format_args!(
            "adding entry {i}, {}",
            show_entry(&(key.clone(), value.clone()))
        ))?;
        ensure(builder.len() == i as u64 + 1, || {
            format!("len() is {} after {} entries", builder.len(), i + 1)
        })?;
    }
    ensure(builder.estimated_size() > 0, || {
        "estimated_size() is 0 with entries added".into()
    })?;
    for name in disk.list()? {
        let parsed = format.parse_file_name(&name);
        ensure(
            parsed
                == Some(TableName {
                    number: NUMBER,
                    temporary: true,
                }),
            || format!("before finish the directory holds {name:?}, which parses as {parsed:?}"),
        )?;
    }
    let properties = builder.finish().context("finish")?;
    let names = disk.list()?;
    ensure(names == [format.file_name(NUMBER)], || {
        format!("after finish the directory holds {names:?}")
    })?;
    let file_len = disk.read_file(&format.file_name(NUMBER))?.len() as u64;
    check_properties(&properties, &model, file_len)?;

    let reader = open(format, &disk, &ReadOptions::default()).context("open")?;
    ensure(reader.properties() == &properties, || {
        format!(
            "the reader's properties {:?} are not those finish returned, {properties:?}",
            reader.properties()
        )
    })?;
    ensure(reader.path() == disk.table_path(format), || {
        format!("the reader's path is {}", reader.path().display())
    })?;
    check_reads(&reader, &model, &mut rng)?;
    let check = reader.verify().context("verify")?;
    ensure(check.is_intact(), || {
        format!("verify found damage in an intact table: {:?}", check.damage)
    })?;
    ensure(check.bytes == file_len, || {
        format!(
            "verify checked {} bytes of a {file_len}-byte table: some lie outside every checksum",
            check.bytes
        )
    })?;
    ensure(check.entries == model.entries().len() as u64, || {
        format!("verify counted {} entries", check.entries)
    })?;
    ensure(check.blocks > 0, || "verify checked no block".into())?;

    check_cache(format, &disk, &model, &mut rng)
}

/// The properties of a table of `model`, `file_len` bytes long.
fn check_properties(p: &TableProperties, model: &Model, file_len: u64) -> Outcome {
    let entries = model.entries();
    let (first, last) = (&entries[0].0, &entries[entries.len() - 1].0);
    let tombstones = entries
        .iter()
        .filter(|(k, _)| k.kind() == ValueKind::Delete)
        .count() as u64;
    let min_seq = entries.iter().map(|(k, _)| k.seq()).min().unwrap_or(0);
    let max_seq = entries.iter().map(|(k, _)| k.seq()).max().unwrap_or(0);
    let raw_bytes: u64 = entries
        .iter()
        .map(|(k, v)| (k.encoded_len() + v.len()) as u64)
        .sum();
    let differences = [
        ("smallest", p.smallest != *first),
        ("largest", p.largest != *last),
        ("entries", p.entries != entries.len() as u64),
        ("tombstones", p.tombstones != tombstones),
        ("min_seq", p.min_seq != min_seq),
        ("max_seq", p.max_seq != max_seq),
        ("raw_bytes", p.raw_bytes != raw_bytes),
        ("file_size", p.file_size != file_len),
    ];
    match differences.iter().find(|(_, differs)| *differs) {
        None => Ok(()),
        Some((field, _)) => Err(format!(
            "the properties' {field} is wrong: {p:?}, for {} entries from {first:?} to {last:?} \
             ({tombstones} tombstones, sequence numbers {min_seq}..={max_seq}, {raw_bytes} raw \
             bytes) in a {file_len}-byte file",
            entries.len()
        )),
    }
}

/// Every kind of read, compared with the model: scans both ways, lookups, and a random
/// walk.
fn check_reads(reader: &Arc<dyn TableReader>, model: &Model, rng: &mut SmallRng) -> Outcome {
    for backward in [false, true] {
        let got = scan(reader, true, backward).context("a scan")?;
        ensure(got == model.entries(), || {
            let way = if backward { "backward" } else { "forward" };
            format!(
                "a {way} scan: {}",
                entries_difference(&got, model.entries())
            )
        })?;
    }
    for (key, snapshot) in model.probes(rng, 40) {
        let got = reader
            .get(&key, snapshot)
            .context(format_args!("get({}, {snapshot})", show_bytes(&key)))?;
        let want = model.get(&key, snapshot);
        ensure(got == want, || {
            format!(
                "get({}, {snapshot}) gave {}, the model says {}",
                show_bytes(&key),
                show_lookup(&got),
                show_lookup(&want)
            )
        })?;
    }
    walk(reader, model, rng, 300)
}

/// One step of a random walk, as it is reported.
enum Step {
    SeekToFirst,
    SeekToLast,
    Seek(String),
    SeekForPrev(String),
    Next,
    Prev,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::SeekToFirst => f.write_str("seek_to_first"),
            Step::SeekToLast => f.write_str("seek_to_last"),
            Step::Seek(target) => write!(f, "seek({target})"),
            Step::SeekForPrev(target) => write!(f, "seek_for_prev({target})"),
            Step::Next => f.write_str("next"),
            Step::Prev => f.write_str("prev"),
        }
    }
}

/// Drives the table's iterator and the model's through the same `steps` random moves,
/// comparing them after each.
fn walk(reader: &Arc<dyn TableReader>, model: &Model, rng: &mut SmallRng, steps: usize) -> Outcome {
    let mut it = Arc::clone(reader).iter(true);
    let mut reference = model.iter();
    let mut history: Vec<Step> = Vec::new();
    for _ in 0..steps {
        let user_key = model.pick_user_key(rng);
        let target = InternalKeyRef {
            user_key: &user_key,
            seq: model.pick_seq(rng),
            kind: if rng.random_bool(0.5) {
                ValueKind::Put
            } else {
                ValueKind::Delete
            },
        };
        let shown = || {
            format!(
                "{}@{}:{:?}",
                show_bytes(target.user_key),
                target.seq,
                target.kind
            )
        };
        let step = match rng.random_range(0..8) {
            0 => Step::SeekToFirst,
            1 => Step::SeekToLast,
            2 | 3 => Step::Seek(shown()),
            4 => Step::SeekForPrev(shown()),
            5 if reference.valid() => Step::Prev,
            _ if reference.valid() => Step::Next,
            _ => Step::Seek(shown()),
        };
        match step {
            Step::SeekToFirst => (it.seek_to_first(), reference.seek_to_first()),
            Step::SeekToLast => (it.seek_to_last(), reference.seek_to_last()),
            Step::Seek(_) => (it.seek(target), reference.seek(target)),
            Step::SeekForPrev(_) => (it.seek_for_prev(target), reference.seek_for_prev(target)),
            Step::Next => (it.next(), reference.next()),
            Step::Prev => (it.prev(), reference.prev()),
        };
        history.push(step);
        let last_steps = || {
            let from = history.len().saturating_sub(4);
            format!("after {:?}", &history[from..])
        };
        it.status()
            .context(format_args!("the iterator, {}", last_steps()))?;
        ensure(it.valid() == reference.valid(), || {
            format!(
                "the iterator is {}valid {}, the model {}",
                if it.valid() { "" } else { "not " },
                last_steps(),
                if reference.valid() {
                    "is on an entry"
                } else {
                    "is not"
                }
            )
        })?;
        if reference.valid() {
            let got = (it.key().to_owned(), it.value());
            let want = (reference.key().to_owned(), reference.value());
            ensure(got == want, || {
                format!(
                    "the iterator is on {}, the model on {}, {}",
                    show_entry(&got),
                    show_entry(&want),
                    last_steps()
                )
            })?;
        }
    }
    Ok(())
}

/// The same answers through a block cache; an iterator that does not fill the cache
/// leaves it empty; two threads at once get the right answers.
fn check_cache(
    format: &dyn TableFormat,
    disk: &Disk,
    model: &Model,
    rng: &mut SmallRng,
) -> Outcome {
    let cache = Arc::new(BlockCache::new(4 << 20));
    let reader = open(format, disk, &ReadOptions::with_cache(Arc::clone(&cache)))
        .context("open with a block cache")?;
    let got = scan(&reader, false, false).context("a scan that does not fill the cache")?;
    ensure(got == model.entries(), || {
        format!(
            "a scan that does not fill the cache: {}",
            entries_difference(&got, model.entries())
        )
    })?;
    let held = cache.stats().bytes;
    ensure(held == 0, || {
        format!("an iterator created with fill_cache false left {held} bytes in the cache")
    })?;
    check_reads(&reader, model, rng)?;
    let seeds: [u64; 2] = [rng.random(), rng.random()];
    std::thread::scope(|s| {
        let threads: Vec<_> = seeds
            .iter()
            .map(|&seed| {
                let reader = &reader;
                s.spawn(move || check_reads(reader, model, &mut SmallRng::seed_from_u64(seed)))
            })
            .collect();
        threads.into_iter().try_for_each(|t| {
            t.join()
                .unwrap_or_else(|payload| Err(format!("panicked: {}", panic_message(&*payload))))
                .map_err(|e| format!("one of two threads reading at once: {e}"))
        })
    })
}
