//! Range tombstones: kept, handed back, and honoured by lookups, in every format.

use std::sync::Arc;

use bytes::Bytes;
use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_core::{InternalKey, Lookup, MAX_SEQNO, SeqNo, ValueKind};
use ferris_table::{ReadOptions, TableFormat, TableOptions, TableProperties, TableReader};
use rand::Rng;
use rand::rngs::SmallRng;

use super::RANGE_SEEDS;
use super::generate::{self, Shape, pick_user_key, probes};
use super::harness::{Disk, NUMBER, entries_difference, open, scan};
use crate::failure::{Checking, Context, Outcome, Problem, ensure, equal};
use crate::model::{Model, lookup_agrees};
use crate::{Failure, random, show};

/// What a format must do with range tombstones
/// ([`TableBuilder::add_range_tombstones`](ferris_table::TableBuilder::add_range_tombstones)):
///
/// - **a fixed case**: `[b, f) @ 10`, `[d, k) @ 20` (overlapping) and `[x, no end) @ 5`,
///   over versions of `a`, `c`, `e`, `g`, `y`: a version older than a tombstone is
///   [`Lookup::Deleted`] from the tombstone's snapshot on, a newer version beats it, a
///   snapshot before it still sees the key, and a key the table holds no version of is
///   `Deleted` under a tombstone and `None` elsewhere;
/// - **a table of tombstones alone** finishes, opens, scans empty, verifies intact, and
///   answers `Deleted` under them;
/// - for each of [`RANGE_SEEDS`], **random entries and random tombstones** (some with no
///   end), added in several calls before, between and after the entries.
///
/// In every case [`TableReader::range_tombstones`] equals the union of what was added,
/// [`TableReader::get`] at many snapshots and [`TableReader::get_many`] of sorted key sets
/// (some answers given beforehand) agree with the model resolved against the tombstones
/// ([`Tombstones::resolve`]), a scan yields the entries and no tombstone, `verify` finds
/// the table intact with every byte accounted for, and the properties from `finish` and
/// from the reader are equal, count the tombstones (`range_tombstones`), take in their
/// sequence numbers, and have bounds that hold both the entries and every key the
/// tombstones cover ([`Tombstones::smallest_key`], [`Tombstones::largest_key`]).
///
/// # Errors
///
/// A [`Failure`] naming the case or seed and what differed.
pub fn range_tombstones(format: &dyn TableFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "range_tombstones");
    checking.case("a fixed table", || fixed(format))?;
    checking.case("a table of range tombstones alone", || {
        tombstones_only(format)
    })?;
    RANGE_SEEDS
        .into_iter()
        .try_for_each(|seed| checking.seed(seed, || random_case(format, seed)))
}

fn tombstone(start: &str, end: Option<&str>, seq: SeqNo) -> RangeTombstone {
    RangeTombstone::new(
        Bytes::from(start.to_owned()),
        end.map(|e| Bytes::from(e.to_owned())),
        seq,
    )
}

fn entry(key: &str, seq: SeqNo, value: Option<&str>) -> (InternalKey, Bytes) {
    let kind = if value.is_some() {
        ValueKind::Put
    } else {
        ValueKind::Delete
    };
    let value = Bytes::from(value.unwrap_or_default().to_owned());
    (
        InternalKey::new(Bytes::from(key.to_owned()), seq, kind),
        value,
    )
}

/// A table and the model it must agree with.
struct Case {
    model: Model,
    /// The tombstones, in the calls they are added in: the first before the entries, the
    /// last after them, any others between.
    adds: Vec<Vec<RangeTombstone>>,
    options: TableOptions,
}

impl Case {
    /// Everything added, fragmented: what the table must hand back.
    fn tombstones(&self) -> Tombstones {
        Tombstones::new(self.adds.iter().flatten().cloned())
    }

    /// What a lookup of `key` at `snapshot` must answer.
    fn answer(&self, tombstones: &Tombstones, key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        let seq = self.model.versions(key).find(|&s| s <= snapshot);
        let point = self.model.get(key, snapshot).zip(seq).map(|(l, s)| (s, l));
        tombstones.resolve(key, snapshot, point)
    }

    /// Builds the table on `disk`, adding tombstones in [`Case::adds`]' calls.
    fn build(&self, format: &dyn TableFormat, disk: &Disk) -> Outcome<TableProperties> {
        let mut builder = format
            .create(&disk.fs, &disk.dir, NUMBER, &self.options)
            .context("create")?;
        let entries = self.model.entries();
        let n = self.adds.len();
        let mut added = 0;
        for (i, add) in self.adds.iter().enumerate() {
            // Call i of n comes after the first i / (n - 1) of the entries: the first
            // call before every entry, the last of several after every entry.
            let upto = if n == 1 {
                0
            } else {
                i * entries.len() / (n - 1)
            };
            for (key, value) in &entries[added..upto] {
                builder.add(key.as_ref(), value).context("add")?;
            }
            added = upto;
            builder
                .add_range_tombstones(&Tombstones::new(add.iter().cloned()))
                .context(format_args!("add_range_tombstones, call {i}"))?;
        }
        for (key, value) in &entries[added..] {
            builder.add(key.as_ref(), value).context("add")?;
        }
        builder.finish().context("finish")
    }
}

/// Builds `case`, opens it, and checks every promise of [`range_tombstones`], looking up
/// `probes` (user keys and snapshots).
fn check_case(format: &dyn TableFormat, case: &Case, probes: &[(Bytes, SeqNo)]) -> Outcome {
    let disk = Disk::new(0);
    let finished = case.build(format, &disk)?;
    let reader = open(format, &disk, &ReadOptions::default()).context("open")?;
    let want = case.tombstones();
    let got = reader.range_tombstones();
    ensure(*got == want, || {
        Problem::mismatch(
            "range_tombstones()",
            format_args!("{:?}", got.iter().collect::<Vec<_>>()),
            format_args!("{:?}", want.iter().collect::<Vec<_>>()),
        )
    })?;
    let scanned = scan(&reader, true, false).context("a scan")?;
    ensure(scanned == case.model.entries(), || {
        entries_difference("a scan", &scanned, case.model.entries())
    })?;
    for (key, snapshot) in probes {
        let got = reader.get(key, *snapshot).context("get")?;
        lookup_agrees(
            format_args!("get({}, {snapshot})", show::bytes(key)),
            &got,
            &case.answer(&want, key, *snapshot),
        )?;
    }
    get_many(&reader, case, &want, probes)?;
    ensure(*reader.properties() == finished, || {
        Problem::mismatch(
            "the reader's properties",
            format_args!("{:?}", reader.properties()),
            format_args!("{finished:?}, as finish returned"),
        )
    })?;
    check_properties(&finished, case, &want)?;
    let check = reader.verify().context("verify")?;
    ensure(check.is_intact(), || {
        format!("verify found damage in an intact table: {:?}", check.damage)
    })?;
    equal("the bytes verify read", check.bytes, finished.file_size)
}

/// `get_many` of every probed key, at each probed snapshot, with every third key answered
/// beforehand (an answer it must leave alone).
fn get_many(
    reader: &Arc<dyn TableReader>,
    case: &Case,
    tombstones: &Tombstones,
    probes: &[(Bytes, SeqNo)],
) -> Outcome {
    let mut keys: Vec<&[u8]> = probes.iter().map(|(k, _)| &k[..]).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut snapshots: Vec<SeqNo> = probes.iter().map(|(_, s)| *s).collect();
    snapshots.sort_unstable();
    snapshots.dedup();
    let given = Some(Lookup::Value(Bytes::from_static(b"given")));
    for snapshot in snapshots {
        let mut found: Vec<Option<Lookup>> = (0..keys.len())
            .map(|i| if i % 3 == 2 { given.clone() } else { None })
            .collect();
        reader
            .get_many(&keys, snapshot, &mut found)
            .context("get_many")?;
        for (i, (key, got)) in keys.iter().zip(&found).enumerate() {
            let want = if i % 3 == 2 {
                given.clone()
            } else {
                case.answer(tombstones, key, snapshot)
            };
            lookup_agrees(
                format_args!("get_many(.., {snapshot}), key {}", show::bytes(key)),
                got,
                &want,
            )?;
        }
    }
    Ok(())
}

/// The properties count the tombstones, hold every key and sequence number of the
/// entries and the tombstones, and no more than the entries give them otherwise.
fn check_properties(p: &TableProperties, case: &Case, tombstones: &Tombstones) -> Outcome {
    let entries = case.model.entries();
    equal(
        "properties.range_tombstones",
        p.range_tombstones,
        tombstones.len() as u64,
    )?;
    equal("properties.entries", p.entries, entries.len() as u64)?;
    let mut seqs: Vec<SeqNo> = entries.iter().map(|(k, _)| k.seq()).collect();
    seqs.extend(tombstones.iter().map(|t| t.seq));
    // A table always holds an entry or a tombstone, so there is a sequence number.
    let (lo, hi) = (seqs.iter().min(), seqs.iter().max());
    equal(
        "properties.min_seq",
        p.min_seq,
        lo.copied().unwrap_or_default(),
    )?;
    equal(
        "properties.max_seq",
        p.max_seq,
        hi.copied().unwrap_or_default(),
    )?;
    if let (Some((first, _)), Some((last, _))) = (entries.first(), entries.last()) {
        ensure(p.smallest <= *first && p.largest >= *last, || {
            Problem::mismatch(
                "the properties' bounds",
                format_args!("{:?} ..= {:?}", p.smallest, p.largest),
                format_args!("bounds holding {first:?} ..= {last:?}"),
            )
        })?;
    }
    let (Some(start), Some(end)) = (tombstones.smallest_key(), tombstones.largest_key()) else {
        return Ok(());
    };
    ensure(
        p.smallest.user_key() <= &start[..] && p.largest.user_key() >= &end[..],
        || {
            Problem::mismatch(
                "the properties' bounds",
                format_args!(
                    "user keys {} ..= {}",
                    show::bytes(p.smallest.user_key()),
                    show::bytes(p.largest.user_key())
                ),
                format_args!(
                    "user keys holding the tombstones' {} ..= {}",
                    show::bytes(start),
                    show::bytes(&end)
                ),
            )
        },
    )
}

/// Every user key of the case and the tombstones' ends, and keys between them, each at
/// snapshots around every sequence number there is.
fn fixed_probes(case: &Case) -> Vec<(Bytes, SeqNo)> {
    let mut seqs: Vec<SeqNo> = case.model.entries().iter().map(|(k, _)| k.seq()).collect();
    seqs.extend(case.adds.iter().flatten().map(|t| t.seq));
    let mut snapshots = vec![0, MAX_SEQNO];
    for s in seqs {
        snapshots.extend([s.saturating_sub(1), s, s + 1]);
    }
    snapshots.sort_unstable();
    snapshots.dedup();
    let keys = [
        "", "a", "b", "c", "d", "e", "f", "g", "k", "q", "x", "y", "z\u{7f}",
    ];
    keys.iter()
        .flat_map(|k| {
            snapshots
                .iter()
                .map(move |&s| (Bytes::from(k.to_owned()), s))
        })
        .collect()
}

fn fixed(format: &dyn TableFormat) -> Outcome {
    let case = Case {
        model: Model::new(vec![
            entry("a", 12, Some("a12")),
            entry("c", 15, Some("c15")),
            entry("c", 8, Some("c8")),
            entry("e", 25, Some("e25")),
            entry("e", 18, None),
            entry("e", 9, Some("e9")),
            entry("g", 3, Some("g3")),
            entry("y", 4, Some("y4")),
            entry("y", 6, Some("y6")),
        ]),
        adds: vec![
            vec![tombstone("b", Some("f"), 10)],
            vec![tombstone("d", Some("k"), 20), tombstone("d", Some("e"), 20)],
            vec![tombstone("x", None, 5)],
        ],
        options: TableOptions::default(),
    };
    check_case(format, &case, &fixed_probes(&case))?;
    // A few answers spelled out, so that a wrong model would show too.
    let disk = Disk::new(0);
    case.build(format, &disk)?;
    let reader = open(format, &disk, &ReadOptions::default()).context("open")?;
    let deleted = Some(Lookup::Deleted);
    let value = |v: &str| Some(Lookup::Value(Bytes::from(v.to_owned())));
    for (key, snapshot, want) in [
        ("c", 9, value("c8")),
        ("c", 10, deleted.clone()),
        ("c", 15, value("c15")),
        ("e", 20, deleted.clone()),
        ("e", 30, value("e25")),
        ("g", 19, value("g3")),
        ("g", 20, deleted.clone()),
        ("b", 10, deleted.clone()),
        ("b", 9, None),
        ("k", 30, None),
        ("y", 5, deleted),
        ("y", 6, value("y6")),
    ] {
        let got = reader.get(key.as_bytes(), snapshot).context("get")?;
        lookup_agrees(format_args!("get({key:?}, {snapshot})"), &got, &want)?;
    }
    Ok(())
}

fn tombstones_only(format: &dyn TableFormat) -> Outcome {
    let case = Case {
        model: Model::new(Vec::new()),
        adds: vec![vec![tombstone("m", Some("p"), 7), tombstone("n", None, 3)]],
        options: TableOptions::default(),
    };
    check_case(format, &case, &fixed_probes(&case))?;
    let disk = Disk::new(0);
    let p = case.build(format, &disk)?;
    // With no entries, the bounds are the tombstones' exactly.
    let tombstones = case.tombstones();
    let start = tombstones.smallest_key().cloned().unwrap_or_default();
    let end = tombstones.largest_key().unwrap_or_default();
    ensure(
        p.smallest.user_key() == &start[..] && p.largest.user_key() == &end[..],
        || {
            Problem::mismatch(
                "the bounds of a table of tombstones alone",
                format_args!(
                    "{} ..= {}",
                    show::bytes(p.smallest.user_key()),
                    show::bytes(p.largest.user_key())
                ),
                format_args!("{} ..= {}", show::bytes(&start), show::bytes(&end)),
            )
        },
    )
}

/// Random tombstones over the model's key space: starts and ends drawn from its keys and
/// near misses, one in five with no end, sequence numbers around the entries'.
fn random_tombstones(model: &Model, rng: &mut SmallRng) -> Vec<RangeTombstone> {
    let max_seq = model
        .entries()
        .iter()
        .map(|(k, _)| k.seq())
        .max()
        .unwrap_or(1);
    (0..rng.random_range(1..6))
        .map(|_| {
            let a = pick_user_key(model, rng);
            let b = pick_user_key(model, rng);
            let (start, end) = if a <= b { (a, b) } else { (b, a) };
            let end = (!rng.random_ratio(1, 5)).then_some(end);
            RangeTombstone::new(start, end, rng.random_range(1..=max_seq + 2))
        })
        .collect()
}

fn random_case(format: &dyn TableFormat, seed: u64) -> Outcome {
    let mut rng = random::rng(seed);
    let shape = Shape {
        keys: [1, 8, 60][seed as usize % 3],
        versions: [1, 4][seed as usize / 3 % 2],
        long_keys: false,
        max_value: 300,
    };
    let model = generate::entries(&mut rng, shape);
    let adds = (0..rng.random_range(1..4))
        .map(|_| random_tombstones(&model, &mut rng))
        .collect();
    let case = Case {
        adds,
        options: generate::options(&mut rng),
        model,
    };
    let mut probes = probes(&case.model, &mut rng, 20);
    for t in case.adds.iter().flatten() {
        probes.push((t.start.clone(), t.seq));
        probes.push((t.start.clone(), t.seq - 1));
        if let Some(end) = &t.end {
            probes.push((end.clone(), MAX_SEQNO));
        }
    }
    check_case(format, &case, &probes)
}
