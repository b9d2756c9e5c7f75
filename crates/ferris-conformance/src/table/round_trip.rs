//! Random tables written and read back, every read compared with the model.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::{DEFAULT_KEYSPACE, InternalKey, KeyspaceId, Lookup, ValueKind};
use ferris_table::{BlockCache, ReadOptions, TableFormat, TableName, TableProperties, TableReader};
use rand::Rng;
use rand::rngs::SmallRng;

use super::SEEDS;
use super::generate::{self, Shape, pick_seq, pick_user_key, probes};
use super::harness::{Disk, NUMBER, entries_difference, open, scan};
use crate::failure::{Checking, Context, Outcome, Problem, ensure, equal};
use crate::iterator::Walk;
use crate::model::{Model, lookup_agrees};
use crate::{Failure, random, show};

/// The keyspaces the seeds' tables are written for, in turn: seed 0's is 7, and the
/// largest id takes the most bytes a format may spend on it.
const KEYSPACES: [KeyspaceId; 4] = [7, DEFAULT_KEYSPACE, KeyspaceId::MAX, 1];

/// Runs [`round_trips_seed`] for every seed of [`SEEDS`].
///
/// # Errors
///
/// The first [`Failure`].
pub fn round_trips(format: &dyn TableFormat) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| round_trips_seed(format, seed))
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
///   the file's length, and the keyspace the table was written for
///   ([`TableOptions::keyspace`](ferris_table::TableOptions::keyspace): 7 for seed 0).
/// - Lookups of every user key (and of near misses) at many snapshots, batched lookups
///   ([`TableReader::get_many`]) of sorted sets of keys with some answers given
///   beforehand, full scans both ways, and a random walk of seeks, `seek_for_prev`s and steps both ways agree with
///   the model; `verify` finds the table intact and accounts for every byte.
/// - Opened with a block cache, the answers are the same; an iterator that does not fill
///   the cache adds nothing to it; two threads reading the table at once both get the
///   right answers.
///
/// # Errors
///
/// A [`Failure`] naming the seed and what differed.
pub fn round_trips_seed(format: &dyn TableFormat, seed: u64) -> Result<(), Failure> {
    Checking::new(format.name(), "round_trips").seed(seed, || round_trip(format, seed))
}

fn round_trip(format: &dyn TableFormat, seed: u64) -> Outcome {
    let mut rng = random::rng(seed);
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
    let model = generate::entries(&mut rng, shape);
    let mut options = generate::options(&mut rng);
    options.keyspace = KEYSPACES[seed as usize % KEYSPACES.len()];
    let disk = Disk::new(seed);

    let mut builder = format
        .create(&disk.fs, &disk.dir, NUMBER, &options)
        .context("create")?;
    ensure(builder.is_empty(), || "a new builder is not empty")?;
    for (i, (key, value)) in model.entries().iter().enumerate() {
        builder.add(key.as_ref(), value).context(format_args!(
            "adding entry {i}, {}",
            show::entry(key.as_ref(), value)
        ))?;
        ensure(builder.len() == i as u64 + 1, || {
            Problem::mismatch(
                format_args!("len() after {} entries", i + 1),
                builder.len(),
                i + 1,
            )
        })?;
    }
    ensure(
        builder.estimated_size() > 0,
        || "estimated_size() is 0 with entries added",
    )?;
    for name in disk.list()? {
        let parsed = format.parse_file_name(&name);
        ensure(
            parsed
                == Some(TableName {
                    number: NUMBER,
                    temporary: true,
                }),
            || {
                Problem::mismatch(
                    format_args!("parse_file_name({name:?}), a file there before finish"),
                    format_args!("{parsed:?}"),
                    "a temporary file of this table",
                )
            },
        )?;
    }
    let properties = builder.finish().context("finish")?;
    let names = disk.list()?;
    ensure(names == [format.file_name(NUMBER)], || {
        Problem::mismatch(
            "the directory after finish",
            format_args!("{names:?}"),
            format_args!("{:?}", [format.file_name(NUMBER)]),
        )
    })?;
    let file_len = disk.read_file(&format.file_name(NUMBER))?.len() as u64;
    check_properties(&properties, &model, file_len, options.keyspace)?;

    let reader = open(format, &disk, &ReadOptions::default()).context("open")?;
    ensure(reader.properties() == &properties, || {
        Problem::mismatch(
            "the reader's properties",
            format_args!("{:?}", reader.properties()),
            format_args!("{properties:?}, as finish returned"),
        )
    })?;
    ensure(reader.path() == disk.table_path(format), || {
        Problem::mismatch(
            "the reader's path",
            reader.path().display(),
            disk.table_path(format).display(),
        )
    })?;
    check_reads(&reader, &model, &mut rng)?;
    let check = reader.verify().context("verify")?;
    ensure(check.is_intact(), || {
        format!("verify found damage in an intact table: {:?}", check.damage)
    })?;
    ensure(check.bytes == file_len, || {
        Problem::mismatch(
            "the bytes verify checked (any others lie outside every checksum)",
            check.bytes,
            format_args!("{file_len}, the table's length"),
        )
    })?;
    equal(
        "the entries verify counted",
        check.entries,
        model.entries().len() as u64,
    )?;
    ensure(check.blocks > 0, || "verify checked no block")?;

    check_cache(format, &disk, &model, &mut rng)
}

/// The properties of a table of `model`, `file_len` bytes long, written for `keyspace`.
fn check_properties(
    p: &TableProperties,
    model: &Model,
    file_len: u64,
    keyspace: KeyspaceId,
) -> Outcome {
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
    let key = |k: &InternalKey| show::key(k.as_ref());
    ensure(p.smallest == *first, || {
        Problem::mismatch("the properties' smallest", key(&p.smallest), key(first))
    })?;
    ensure(p.largest == *last, || {
        Problem::mismatch("the properties' largest", key(&p.largest), key(last))
    })?;
    equal("the properties' entries", p.entries, entries.len() as u64)?;
    equal("the properties' tombstones", p.tombstones, tombstones)?;
    equal("the properties' min_seq", p.min_seq, min_seq)?;
    equal("the properties' max_seq", p.max_seq, max_seq)?;
    equal("the properties' raw_bytes", p.raw_bytes, raw_bytes)?;
    equal("the properties' file_size", p.file_size, file_len)?;
    equal("the properties' keyspace", p.keyspace, keyspace)
}

/// Every kind of read, compared with the model: scans both ways, lookups, and a random
/// walk.
fn check_reads(reader: &Arc<dyn TableReader>, model: &Model, rng: &mut SmallRng) -> Outcome {
    for backward in [false, true] {
        let way = if backward {
            "a backward scan"
        } else {
            "a forward scan"
        };
        let got = scan(reader, true, backward).context(way)?;
        ensure(got == model.entries(), || {
            entries_difference(way, &got, model.entries())
        })?;
    }
    for (key, snapshot) in probes(model, rng, 40) {
        let got = reader
            .get(&key, snapshot)
            .context(format_args!("get({}, {snapshot})", show::bytes(&key)))?;
        model.check_get(&key, snapshot, &got)?;
    }
    check_get_many(reader, model, rng)?;
    // A random walk of seeks and steps, to targets near the entries and far from them.
    let targets: Vec<InternalKey> = (0..300)
        .map(|_| {
            let kind = if rng.random_bool(0.5) {
                ValueKind::Put
            } else {
                ValueKind::Delete
            };
            InternalKey::new(pick_user_key(model, rng), pick_seq(model, rng), kind)
        })
        .collect();
    Walk::new(Arc::clone(reader).iter(true), model).wander(rng, &targets, 300)
}

/// [`TableReader::get_many`] over random sorted sets of keys (held ones, near misses,
/// keys before and after the table's range), each set at one snapshot, with some answers
/// given beforehand: each key not answered yet gets the model's answer (which `get` is
/// held to too), and each given answer is left alone.
fn check_get_many(reader: &Arc<dyn TableReader>, model: &Model, rng: &mut SmallRng) -> Outcome {
    // Sorts after every generated key: those are at most six bytes of the alphabet, or
    // longer ones that start that way and go on in `x`s.
    let after_all = Bytes::from_static(&[0xff; 7]);
    let given = [Lookup::Value(Bytes::from_static(b"given")), Lookup::Deleted];
    for round in 0..20 {
        let snapshot = pick_seq(model, rng);
        let mut keys: BTreeSet<Bytes> = (0..rng.random_range(0..=60))
            .map(|_| pick_user_key(model, rng))
            .collect();
        if round % 2 == 0 {
            keys.extend([Bytes::new(), after_all.clone()]);
        }
        let keys: Vec<Bytes> = keys.into_iter().collect();
        let before: Vec<Option<Lookup>> = keys
            .iter()
            .map(|_| {
                rng.random_ratio(1, 4)
                    .then(|| given[rng.random_range(0..given.len())].clone())
            })
            .collect();
        let mut found = before.clone();
        let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        reader
            .get_many(&refs, snapshot, &mut found)
            .context(format_args!(
                "get_many of {} keys at {snapshot}",
                keys.len()
            ))?;
        for (i, key) in keys.iter().enumerate() {
            let want = match &before[i] {
                Some(given) => Some(given.clone()),
                None => model.get(key, snapshot),
            };
            let what = format_args!(
                "get_many(...) for key {i} of {}, {}, at {snapshot}{}",
                keys.len(),
                show::bytes(key),
                if before[i].is_some() {
                    ", answered beforehand"
                } else {
                    ""
                }
            );
            lookup_agrees(what, &found[i], &want)?;
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
        entries_difference("a scan that does not fill the cache", &got, model.entries())
    })?;
    let held = cache.stats().bytes;
    ensure(held == 0, || {
        Problem::mismatch(
            "the bytes an iterator created with fill_cache false left in the cache",
            held,
            0,
        )
    })?;
    check_reads(&reader, model, rng)?;
    let seeds: [u64; 2] = [rng.random(), rng.random()];
    std::thread::scope(|s| {
        let threads: Vec<_> = seeds
            .iter()
            .map(|&seed| {
                let reader = &reader;
                s.spawn(move || check_reads(reader, model, &mut random::rng(seed)))
            })
            .collect();
        threads.into_iter().try_for_each(|t| {
            t.join()
                .unwrap_or_else(|payload| Err(Problem::panicked(&*payload)))
                .map_err(|p| p.within("one of two threads reading at once"))
        })
    })
}
