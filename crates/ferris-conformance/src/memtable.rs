//! The [`Memtable`] suite: run it on a [`MemtableFactory`] with [`check_factory`].
//!
//! The contract is in [`ferris_core::memtable`]. The suite checks it on fresh memtables
//! from the factory, in four checks, each drawing its cases from seeds:
//!
//! | check | what it demands |
//! |---|---|
//! | [`against_model`] | random batches (many versions per key, puts and tombstones, empty and large values, short and long keys) applied one after another, each checked as it lands: [`Memtable::apply`] returns the bytes of keys and values, [`Memtable::approximate_size`] grows with every batch and by at least those bytes, [`Memtable::len`] counts every version, [`Memtable::is_empty`] agrees. Halfway and at the end, [`Memtable::get`] agrees with the model for every key written (and absent ones beside them) at every interesting snapshot (0, every batch's first and last sequence number, every version's sequence number and its neighbours, the largest), and the iterator is walked beside the model as the [`iterator`](crate::iterator) suite walks one: full scans both ways, every kind of seek, turning around, a random walk |
//! | [`range_deletes`] | random batches mixing puts and deletes with range deletes (`WriteBatch::delete_range`, `delete_prefix` and, on half the seeds, their `_in` forms in a keyspace of its own), the first batch a range delete alone: [`Memtable::len`] counts the range deletes too, so that memtable is not empty; [`Memtable::range_tombstones`] returns every one, fragmented; [`Memtable::get`] answers `Deleted` for a key under a range delete it sees that is newer than the key's newest version it sees, and that version otherwise (a snapshot before the delete still reads the key), for keys written and absent ones, at every snapshot around each version and each delete; and the iterator yields the versions alone, no entry for a range delete |
//! | [`iterators_across_applies`] | iterators created and positioned, then moved while more batches are applied, and run to their ends after the memtable's own handle is dropped: every entry they yield is a real entry with its value, each step moves in its direction, and a scan misses none of the entries that were there when it began |
//! | [`concurrent_readers`] | real threads: one writer applies batches at increasing sequence numbers and publishes the last one it applied (release); two readers load it (acquire) and check that a lookup at that snapshot sees, for every key, exactly the newest write up to it, that an iterator created then holds every one of those writes, and that the length and size never go back |
//!
//! [`check_factory`] runs them all; each check runs its seeds, and its `_seed` function
//! runs one, to replay a [`Failure`]. A panic of the memtable, on any thread, is a
//! failure too, with the panic's message.
//!
//! ```
//! use ferris_conformance::{Failure, memtable};
//! use ferris_memtable::BTreeFactory;
//!
//! // In a test of yours, marked `#[test]`:
//! fn btree_memtable_conforms() -> Result<(), Failure> {
//!     memtable::check_factory(&BTreeFactory)
//! }
//! # let _ = btree_memtable_conforms;
//!
//! // The replay of a failure of `concurrent_readers` for seed 2:
//! memtable::concurrent_readers_seed(&BTreeFactory, 2)?;
//! # Ok::<(), Failure>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Range, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_core::{
    DEFAULT_KEYSPACE, InternalIterator, InternalKey, KeyspaceId, Lookup, MAX_SEQNO, Memtable,
    MemtableFactory, SeqNo, ValueKind, WriteBatch,
};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::Failure;
use crate::failure::{Checking, Outcome, Problem, ensure, equal};
use crate::iterator::{Op, Walk, targets};
use crate::model::{Entry, Model, lookup_agrees};
use crate::{random, show};

/// The seeds [`against_model`] and [`iterators_across_applies`] run.
pub const SEEDS: Range<u64> = 0..24;

/// The seeds [`concurrent_readers`] runs.
pub const CONCURRENT_SEEDS: Range<u64> = 0..3;

/// A check of the suite: the factory in, the first failure out.
pub type Check = fn(&dyn MemtableFactory) -> Result<(), Failure>;

/// Every check, with its name, in the order [`check_factory`] runs them.
pub const CHECKS: [(&str, Check); 4] = [
    ("against_model", against_model),
    ("range_deletes", range_deletes),
    ("iterators_across_applies", iterators_across_applies),
    ("concurrent_readers", concurrent_readers),
];

/// Runs every check of the suite on memtables made by `factory`, in the order of
/// [`CHECKS`]: see the [module docs](self).
///
/// # Errors
///
/// The first [`Failure`], naming the factory by its `Debug` form, the check and the seed.
pub fn check_factory(factory: &dyn MemtableFactory) -> Result<(), Failure> {
    CHECKS.iter().try_for_each(|(_, check)| check(factory))
}

/// The name of the implementation in a failure.
fn name(factory: &dyn MemtableFactory) -> String {
    format!("{factory:?}")
}

/// Random batches checked as they land, then lookups and iteration checked against a
/// model, for every seed of [`SEEDS`]: see the [module docs](self).
///
/// # Errors
///
/// The first [`Failure`].
pub fn against_model(factory: &dyn MemtableFactory) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| against_model_seed(factory, seed))
}

/// One seed of [`against_model`].
///
/// # Errors
///
/// A [`Failure`] naming the seed and the answer that differs from the model.
pub fn against_model_seed(factory: &dyn MemtableFactory, seed: u64) -> Result<(), Failure> {
    Checking::new(&name(factory), "against_model").seed(seed, || {
        let mut rng = random::rng(seed);
        let memtable = factory.create();
        // `is_empty` may be the trait's default or the implementation's own: ask both.
        let (len, empty) = (memtable.len(), memtable.is_empty());
        ensure(len == 0 && empty, || {
            Problem::mismatch(
                "a new memtable's len() and is_empty()",
                format_args!("{len} and {empty}"),
                "0 and true",
            )
        })?;
        let n_keys = rng.random_range(1..=30);
        let keys = random::user_keys(&mut rng, n_keys);
        let n_batches = rng.random_range(1..=40);
        let mut model = Model::default();
        // Each batch's first and last sequence numbers: snapshots worth reading at.
        let mut boundaries = BTreeSet::new();
        let mut seq = rng.random_range(1..=1_000);
        for i in 0..n_batches {
            let (batch, entries) = random_batch(&mut rng, &keys, seq);
            apply_checked(&*memtable, &batch, &entries)?;
            model.add(&entries);
            boundaries.extend(entries.first().map(|(k, _)| k.seq()));
            boundaries.extend(entries.last().map(|(k, _)| k.seq()));
            // Sometimes leave a gap, so that some snapshots fall between batches.
            seq += entries.len() as SeqNo + rng.random_range(0..3);
            if i == n_batches / 2 || i == n_batches - 1 {
                check_reads(&memtable, &model, &boundaries, &keys, &mut rng).map_err(|p| {
                    p.within(format_args!("after {} entries", model.entries().len()))
                })?;
            }
        }
        Ok(())
    })
}

/// Range deletes among puts and deletes, checked against a model of the ranges as
/// written, for every seed of [`SEEDS`]: see the [module docs](self).
///
/// # Errors
///
/// The first [`Failure`].
pub fn range_deletes(factory: &dyn MemtableFactory) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| range_deletes_seed(factory, seed))
}

/// One seed of [`range_deletes`].
///
/// # Errors
///
/// A [`Failure`] naming the seed and the answer that differs from the model: a length,
/// the tombstones, a lookup, or an entry of the iterator.
pub fn range_deletes_seed(factory: &dyn MemtableFactory, seed: u64) -> Result<(), Failure> {
    Checking::new(&name(factory), "range_deletes").seed(seed, || {
        let mut rng = random::rng(seed);
        let memtable = factory.create();
        let n_keys = rng.random_range(2..=12);
        let mut keys = random::user_keys(&mut rng, n_keys);
        keys.sort();
        // Half the seeds write to a keyspace of their own, through the `_in` builders,
        // and apply that keyspace's entries, as the engine does.
        let keyspace = if seed.is_multiple_of(2) {
            DEFAULT_KEYSPACE
        } else {
            7
        };
        let mut model = Model::default();
        let mut deletes: Vec<RangeTombstone> = Vec::new();
        let mut newest: SeqNo = 0;
        let mut seq = rng.random_range(1..=1_000);
        for i in 0..rng.random_range(2..=12) {
            // The first batch is a range delete alone: a memtable holding only that is
            // not empty, or it would never be flushed.
            let n_ops = if i == 0 { 0 } else { rng.random_range(1..=6) };
            let batch = RangeBatch::new(&mut rng, &keys, keyspace, seq, n_ops);
            let len = memtable.len();
            memtable.apply(batch.batch.iter_in(keyspace));
            let n = batch.entries.len() + batch.deletes.len();
            equal(
                format_args!(
                    "len() after the batch at {seq}, of {n} entries ({} range deletes)",
                    batch.deletes.len()
                ),
                memtable.len(),
                len + n,
            )?;
            equal(
                format_args!("is_empty() after the batch at {seq}"),
                memtable.is_empty(),
                false,
            )?;
            model.add(&batch.entries);
            newest = (batch.entries.iter().map(|(k, _)| k.seq())).fold(newest, SeqNo::max);
            // A scan trusts it to skip what the memtable's own newer range tombstones cover:
            // it must count every version and no range delete.
            if let Some(claimed) = memtable.newest_version() {
                equal(
                    format_args!("newest_version() after the batch at {seq}"),
                    claimed,
                    newest,
                )?;
            }
            deletes.extend(batch.deletes);
            seq += n as SeqNo + rng.random_range(0..3);
        }
        check_range_reads(&memtable, &model, &deletes, &keys)
            .map_err(|p| p.within(format_args!("after {} range deletes", deletes.len())))
    })
}

/// A batch of [`range_deletes`]: a range delete, then `n_ops` puts, deletes and range
/// deletes, at `seq` onwards in `keyspace`; its versions, and its range deletes as the
/// ranges they must cover.
struct RangeBatch {
    batch: WriteBatch,
    entries: Vec<Entry>,
    deletes: Vec<RangeTombstone>,
}

impl RangeBatch {
    fn new(
        rng: &mut SmallRng,
        keys: &[Bytes],
        keyspace: KeyspaceId,
        seq: SeqNo,
        n_ops: usize,
    ) -> RangeBatch {
        let mut out = RangeBatch {
            batch: WriteBatch::new(),
            entries: Vec::new(),
            deletes: Vec::new(),
        };
        for i in 0..=n_ops {
            let at = seq + i as SeqNo;
            if i == 0 || rng.random_bool(0.3) {
                out.delete_range(rng, keys, keyspace, at);
                continue;
            }
            let key = keys[rng.random_range(0..keys.len())].clone();
            let kind = random::kind(rng);
            let value = match kind {
                ValueKind::Put => random::value(rng),
                ValueKind::Delete => Bytes::new(),
            };
            match kind {
                ValueKind::Put => out.batch.put_in(keyspace, &key, &value),
                ValueKind::Delete => out.batch.delete_in(keyspace, &key),
            };
            out.entries.push((InternalKey::new(key, at, kind), value));
        }
        out.batch.set_seq(seq);
        out
    }

    /// Adds a range delete at `seq` between two of `keys` (or from or to no key), in one
    /// of the forms a batch builds them, and the range it must cover, worked out here
    /// rather than by `ferris_core::range_del::key_range`.
    fn delete_range(&mut self, rng: &mut SmallRng, keys: &[Bytes], ks: KeyspaceId, seq: SeqNo) {
        let i = rng.random_range(0..keys.len());
        let j = rng.random_range(i..keys.len());
        let (a, b) = (keys[i].clone(), keys[j].clone());
        let after = |k: &Bytes| Some(Bytes::from([&k[..], &[0]].concat()));
        let batch = &mut self.batch;
        let (start, end) = match rng.random_range(0..5) {
            // An empty range (`a..a`) would make the batch refused: it is never written.
            0 if i < j => {
                add_range(batch, ks, a.clone()..b.clone());
                (a, Some(b))
            }
            0 | 1 => {
                add_range(batch, ks, a.clone()..=b.clone());
                (a, after(&b))
            }
            2 => {
                add_range(batch, ks, a.clone()..);
                (a, None)
            }
            3 => {
                add_range(batch, ks, ..=b.clone());
                (Bytes::new(), after(&b))
            }
            _ => {
                // Every key beginning with `a`'s first byte: up to the next byte, if any.
                let prefix = a.slice(..1);
                if ks == DEFAULT_KEYSPACE {
                    batch.delete_prefix(&prefix);
                } else {
                    batch.delete_prefix_in(ks, &prefix);
                }
                let end = (prefix[0] != 0xff).then(|| Bytes::from(vec![prefix[0] + 1]));
                (prefix, end)
            }
        };
        self.deletes.push(RangeTombstone { start, end, seq });
    }
}

/// Adds a delete of `range`: through `delete_range` in the default keyspace, and
/// `delete_range_in` in any other.
fn add_range(batch: &mut WriteBatch, ks: KeyspaceId, range: impl RangeBounds<Bytes>) {
    if ks == DEFAULT_KEYSPACE {
        batch.delete_range(range);
    } else {
        batch.delete_range_in(ks, range);
    }
}

/// The newest range delete of `deletes` over `key` at most `snapshot`, if any.
fn newest_delete(deletes: &[RangeTombstone], key: &[u8], snapshot: SeqNo) -> Option<SeqNo> {
    let over = |t: &&RangeTombstone| {
        &t.start[..] <= key && t.end.as_ref().is_none_or(|e| key < &e[..]) && t.seq <= snapshot
    };
    deletes.iter().filter(over).map(|t| t.seq).max()
}

/// The tombstones, lookups at every interesting snapshot, and a scan of the iterator,
/// against `model` (the versions) and `deletes` (the range deletes as written).
fn check_range_reads(
    memtable: &Arc<dyn Memtable>,
    model: &Model,
    deletes: &[RangeTombstone],
    keys: &[Bytes],
) -> Outcome {
    let want = Tombstones::new(deletes.iter().cloned());
    let got = memtable.range_tombstones();
    ensure(*got == want, || {
        Problem::mismatch(
            "range_tombstones()",
            format_args!("{got:?}"),
            format_args!("{want:?}"),
        )
    })?;
    for key in &probes(keys) {
        let mut snapshots: BTreeSet<SeqNo> = [0, MAX_SEQNO].into();
        for seq in model.versions(key).chain(deletes.iter().map(|t| t.seq)) {
            snapshots.extend([seq - 1, seq, seq + 1]);
        }
        for snapshot in snapshots {
            let newest = model.versions(key).find(|&s| s <= snapshot);
            let want = match newest_delete(deletes, key, snapshot) {
                Some(t) if newest.is_none_or(|s| s < t) => Some(Lookup::Deleted),
                _ => model.get(key, snapshot),
            };
            lookup_agrees(
                format_args!("get({}, {snapshot})", show::bytes(key)),
                &memtable.get(key, snapshot),
                &want,
            )?;
        }
    }
    // The model holds the versions alone: an entry for a range delete is one too many.
    let mut walk = Walk::new(Arc::clone(memtable).iter(), model);
    walk.scan_both_ways()?;
    walk.seek_each(&targets(model.entries()))
}

/// Iterators kept while batches are applied, for every seed of [`SEEDS`]: see the
/// [module docs](self).
///
/// # Errors
///
/// The first [`Failure`].
pub fn iterators_across_applies(factory: &dyn MemtableFactory) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| iterators_across_applies_seed(factory, seed))
}

/// One seed of [`iterators_across_applies`].
///
/// # Errors
///
/// A [`Failure`] naming the seed, when an iterator yields an entry that was never applied
/// (or with another value), steps the wrong way, or skips an entry that was there when it
/// began.
pub fn iterators_across_applies_seed(
    factory: &dyn MemtableFactory,
    seed: u64,
) -> Result<(), Failure> {
    Checking::new(&name(factory), "iterators_across_applies")
        .seed(seed, || iterators_across_applies_case(factory, seed))
}

fn iterators_across_applies_case(factory: &dyn MemtableFactory, seed: u64) -> Outcome {
    let mut rng = random::rng(seed);
    let memtable = factory.create();
    let n_keys = rng.random_range(1..=20);
    let keys = random::user_keys(&mut rng, n_keys);
    let mut applied = BTreeMap::new();
    let mut seq = 1;
    let mut apply = |rng: &mut SmallRng, applied: &mut BTreeMap<InternalKey, Bytes>| {
        let (batch, entries) = random_batch(rng, &keys, seq);
        apply_checked(&*memtable, &batch, &entries)?;
        seq += entries.len() as SeqNo;
        applied.extend(entries);
        Ok::<(), Problem>(())
    };
    for _ in 0..rng.random_range(0..10) {
        apply(&mut rng, &mut applied)?;
    }

    // Four scans from four starting points, and one iterator that wanders both ways.
    let sorted: Vec<Entry> = applied.clone().into_iter().collect();
    let targets = targets(&sorted);
    let pick = |rng: &mut SmallRng| targets[rng.random_range(0..targets.len())].clone();
    let starts = [
        Op::SeekToFirst,
        Op::SeekToLast,
        Op::Seek(pick(&mut rng)),
        Op::SeekForPrev(pick(&mut rng)),
    ];
    let mut scans = starts
        .into_iter()
        .map(|start| Scan::new(&memtable, start, &applied))
        .collect::<Outcome<Vec<Scan>>>()?;
    let mut wanderer = Arc::clone(&memtable).iter();
    wanderer.seek(pick(&mut rng).as_ref());

    for _ in 0..rng.random_range(1..=20) {
        apply(&mut rng, &mut applied)?;
        for scan in &mut scans {
            for _ in 0..rng.random_range(0..=4) {
                scan.step(&applied)?;
            }
        }
        for _ in 0..rng.random_range(0..=4) {
            if !wanderer.valid() {
                wanderer.seek(pick(&mut rng).as_ref());
                check_real(&*wanderer, &applied, || "after a seek, the wanderer".into())?;
                continue;
            }
            let op = if rng.random_bool(0.5) {
                Op::Next
            } else {
                Op::Prev
            };
            let from = wanderer.key().to_owned();
            op.apply(&mut *wanderer);
            // Worked out only for a problem: this runs on every step.
            let what = || {
                format!(
                    "after {op:?} from {}, the wanderer",
                    show::key(from.as_ref())
                )
            };
            check_real(&*wanderer, &applied, what)?;
            let ahead = match op {
                _ if !wanderer.valid() => true,
                Op::Next => wanderer.key() > from.as_ref(),
                _ => wanderer.key() < from.as_ref(),
            };
            ensure(ahead, || {
                format!(
                    "{} moved the wrong way, {}",
                    what(),
                    show::position(&*wanderer)
                )
            })?;
        }
    }

    // The iterators keep the memtable alive: drop the handle, then finish every scan.
    drop(memtable);
    for scan in &mut scans {
        while scan.it.valid() {
            scan.step(&applied)?;
        }
        scan.check_none_missed()?;
    }
    Ok(())
}

/// Readers on real threads racing one writer, for every seed of [`CONCURRENT_SEEDS`]:
/// see the [module docs](self).
///
/// # Errors
///
/// The first [`Failure`].
pub fn concurrent_readers(factory: &dyn MemtableFactory) -> Result<(), Failure> {
    CONCURRENT_SEEDS
        .into_iter()
        .try_for_each(|seed| concurrent_readers_seed(factory, seed))
}

/// One seed of [`concurrent_readers`]: the writer's batches, and so what every snapshot
/// must hold, follow from the seed; the moments the readers read at are the threads'
/// own, so a replay reads at other snapshots.
///
/// # Errors
///
/// A [`Failure`] naming the seed, the reader and its snapshot, when a reader at a
/// published snapshot misses a write, sees a wrong value, or sees the length or size
/// shrink; or naming the thread, when the writer or a reader panics.
pub fn concurrent_readers_seed(factory: &dyn MemtableFactory, seed: u64) -> Result<(), Failure> {
    Checking::new(&name(factory), "concurrent_readers")
        .seed(seed, || concurrent_readers_case(factory, seed))
}

fn concurrent_readers_case(factory: &dyn MemtableFactory, seed: u64) -> Outcome {
    const WRITES: usize = 2_000;
    const KEYS: usize = 40;
    const READERS: usize = 2;
    let plan = Plan::new(seed, WRITES, KEYS);
    let memtable = factory.create();
    // The last sequence number whose batch is wholly applied: what readers may read at.
    let published = AtomicU64::new(0);
    let done = AtomicBool::new(false);

    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            // Set even if `apply` panics, so that the readers stop.
            let _done = SetOnDrop(&done);
            let mut rng = random::rng(seed);
            let mut seq = 1;
            while seq <= WRITES as SeqNo {
                let n = rng.random_range(1..=8).min(WRITES as SeqNo + 1 - seq);
                let mut batch = WriteBatch::new();
                for s in seq..seq + n {
                    let (key, lookup) = plan.write(s);
                    match lookup {
                        Lookup::Value(value) => batch.put(key, value),
                        Lookup::Deleted => batch.delete(key),
                    };
                }
                batch.set_seq(seq);
                memtable.apply(batch.iter());
                seq += n;
                // Release: a reader that loads this sees every entry applied before it.
                published.store(seq - 1, Ordering::Release);
            }
        });
        let readers: Vec<_> = (0..READERS)
            .map(|reader| {
                let (memtable, published, done, plan) = (&memtable, &published, &done, &plan);
                s.spawn(move || read_while_written(memtable, published, done, plan, reader))
            })
            .collect();
        // Joined here rather than by the scope, which would replace a thread's panic with
        // its own; the first problem found is the one reported.
        let mut first = writer
            .join()
            .map_err(|panic| Problem::panicked(&*panic).within("the writer"))
            .err();
        for (reader, thread) in readers.into_iter().enumerate() {
            let result = thread.join().unwrap_or_else(|panic| {
                Err(Problem::panicked(&*panic).within(format_args!("reader {reader}")))
            });
            if let Err(problem) = result {
                first.get_or_insert(problem);
            }
        }
        first.map_or(Ok(()), Err)
    })
}

/// One reader of [`concurrent_readers`]: reads at the published snapshot until the writer
/// is done, and once more after.
fn read_while_written(
    memtable: &Arc<dyn Memtable>,
    published: &AtomicU64,
    done: &AtomicBool,
    plan: &Plan,
    reader: usize,
) -> Outcome {
    let (mut len, mut size) = (0, 0);
    let mut round = 0usize;
    loop {
        // Read `done` first: if it was set, `snapshot` is the last write.
        let finished = done.load(Ordering::Acquire);
        let snapshot = published.load(Ordering::Acquire);
        let within = || format!("reader {reader} at snapshot {snapshot}");
        for key in 0..=plan.keys.len() {
            let key_bytes = plan.keys.get(key).map_or(&b"absent"[..], |k| &k[..]);
            lookup_agrees(
                format_args!("get({})", show::bytes(key_bytes)),
                &memtable.get(key_bytes, snapshot),
                &plan.read(key, snapshot),
            )
            .map_err(|p| p.within(within()))?;
        }
        let (now_len, now_size) = (memtable.len(), memtable.approximate_size());
        ensure(
            now_len >= len.max(snapshot as usize) && now_size >= size,
            || {
                Problem::from(format!(
                    "len went from {len} to {now_len} (with {snapshot} writes published), size \
                 from {size} to {now_size}: neither may shrink"
                ))
                .within(within())
            },
        )?;
        (len, size) = (now_len, now_size);
        // Every fourth round, and the last, an iterator too.
        if round.is_multiple_of(4) || finished {
            check_scan_holds(memtable, plan, snapshot).map_err(|p| p.within(within()))?;
        }
        round += 1;
        if finished {
            return Ok(());
        }
    }
}

/// Sets its flag when dropped, by the end of a thread or by a panic.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A batch of one to eight entries at `seq` onwards over `keys`, and its entries as the
/// memtable should hold them.
fn random_batch(rng: &mut SmallRng, keys: &[Bytes], seq: SeqNo) -> (WriteBatch, Vec<Entry>) {
    let mut batch = WriteBatch::new();
    let mut entries: Vec<Entry> = Vec::new();
    for i in 0..rng.random_range(1..=8) {
        // Now and then the key just written again: two versions in one batch.
        let key = match entries.last() {
            Some((last, _)) if rng.random_bool(0.2) => last.user_key_bytes().clone(),
            _ => keys[rng.random_range(0..keys.len())].clone(),
        };
        let kind = random::kind(rng);
        let value = match kind {
            ValueKind::Put => random::value(rng),
            ValueKind::Delete => Bytes::new(),
        };
        match kind {
            ValueKind::Put => batch.put(&key, &value),
            ValueKind::Delete => batch.delete(&key),
        };
        entries.push((InternalKey::new(key, seq + i, kind), value));
    }
    batch.set_seq(seq);
    (batch, entries)
}

/// Applies `batch` (holding `entries`) and checks what `apply`, `approximate_size`, `len`
/// and `is_empty` say about it.
fn apply_checked(memtable: &dyn Memtable, batch: &WriteBatch, entries: &[Entry]) -> Outcome {
    let (size, len) = (memtable.approximate_size(), memtable.len());
    let inserted = memtable.apply(batch.iter());
    let bytes: usize = entries
        .iter()
        .map(|(k, v)| k.user_key().len() + v.len())
        .sum();
    let at = entries[0].0.seq();
    equal(
        format_args!("apply of the batch at {at} (the bytes of its keys and values)"),
        inserted,
        bytes as u64,
    )?;
    let grown = memtable.approximate_size();
    ensure(grown > size && grown - size >= bytes, || {
        Problem::mismatch(
            format_args!("approximate_size() after the batch at {at}, of {bytes} bytes"),
            grown,
            format_args!("at least {} ({size} before it)", size + bytes.max(1)),
        )
    })?;
    let n = entries.len();
    equal(
        format_args!("len() after the batch at {at}, of {n} entries"),
        memtable.len(),
        len + n,
    )?;
    equal(
        format_args!("is_empty() after the batch at {at}"),
        memtable.is_empty(),
        false,
    )
}

/// Keys to look up: the keys written, and absent ones beside them, one byte longer and
/// one byte shorter.
fn probes(keys: &[Bytes]) -> BTreeSet<Bytes> {
    let mut probes: BTreeSet<Bytes> = keys.iter().cloned().collect();
    for key in keys {
        probes.insert(Bytes::from([&key[..], &[0]].concat()));
        if key.len() > 1 {
            probes.insert(key.slice(..key.len() - 1));
        }
    }
    probes
}

/// Lookups at every interesting snapshot, and a walk of the iterator, against `model`;
/// `boundaries` are the batches' first and last sequence numbers.
fn check_reads(
    memtable: &Arc<dyn Memtable>,
    model: &Model,
    boundaries: &BTreeSet<SeqNo>,
    keys: &[Bytes],
    rng: &mut SmallRng,
) -> Outcome {
    for key in &probes(keys) {
        let mut snapshots: BTreeSet<SeqNo> = [0, MAX_SEQNO, SeqNo::MAX].into();
        snapshots.extend(boundaries);
        for seq in model.versions(key) {
            snapshots.extend([seq.saturating_sub(1), seq, seq + 1]);
        }
        for snapshot in snapshots {
            model.check_get(key, snapshot, &memtable.get(key, snapshot))?;
        }
    }
    let mut walk = Walk::new(Arc::clone(memtable).iter(), model);
    walk.scan_both_ways()?;
    let targets = targets(model.entries());
    walk.seek_each(&targets)?;
    walk.wander(rng, &targets, 300)
}

/// `Ok` if the iterator is off the end, or on an entry of `applied` with its value;
/// `what` names the iterator in a problem.
fn check_real(
    it: &dyn InternalIterator,
    applied: &BTreeMap<InternalKey, Bytes>,
    what: impl FnOnce() -> String,
) -> Outcome {
    if !it.valid() {
        return ensure(it.status().is_ok(), || {
            format!("{} {}", what(), show::position(it))
        });
    }
    let real = applied.get(&it.key().to_owned()) == Some(&it.value());
    ensure(real, || {
        format!(
            "{} is {}, which was never applied",
            what(),
            show::position(it)
        )
    })
}

/// An iterator scanning one way from where it was positioned, and what it must not miss.
struct Scan {
    it: Box<dyn InternalIterator>,
    forward: bool,
    /// Where the scan started, for its problems.
    name: String,
    /// The last key it yielded.
    last: Option<InternalKey>,
    /// Everything it yielded.
    seen: BTreeSet<InternalKey>,
    /// The entries there when it was positioned that lie ahead of it.
    owed: Vec<InternalKey>,
}

impl Scan {
    fn new(
        memtable: &Arc<dyn Memtable>,
        start: Op,
        applied: &BTreeMap<InternalKey, Bytes>,
    ) -> Outcome<Scan> {
        let mut it = Arc::clone(memtable).iter();
        start.apply(&mut *it);
        let forward = matches!(start, Op::SeekToFirst | Op::Seek(_));
        let owed = applied
            .keys()
            .filter(|k| match &start {
                Op::Seek(target) => *k >= target,
                Op::SeekForPrev(target) => *k <= target,
                _ => true,
            })
            .cloned()
            .collect();
        let mut scan = Scan {
            it,
            forward,
            name: format!("the scan from {start:?}"),
            last: None,
            seen: BTreeSet::new(),
            owed,
        };
        scan.record(applied)?;
        Ok(scan)
    }

    /// One step in the scan's direction, if it is still on an entry.
    fn step(&mut self, applied: &BTreeMap<InternalKey, Bytes>) -> Outcome {
        if !self.it.valid() {
            return Ok(());
        }
        if self.forward {
            self.it.next();
        } else {
            self.it.prev();
        }
        self.record(applied)
    }

    /// Checks the current entry is real and ahead of the last, and notes it.
    fn record(&mut self, applied: &BTreeMap<InternalKey, Bytes>) -> Outcome {
        check_real(&*self.it, applied, || self.name.clone())?;
        if !self.it.valid() {
            return Ok(());
        }
        let key = self.it.key().to_owned();
        if let Some(last) = &self.last {
            let ahead = if self.forward {
                &key > last
            } else {
                &key < last
            };
            ensure(ahead, || {
                format!(
                    "{} went from {} to {}, the wrong way",
                    self.name,
                    show::key(last.as_ref()),
                    show::key(key.as_ref())
                )
            })?;
        }
        self.seen.insert(key.clone());
        self.last = Some(key);
        Ok(())
    }

    fn check_none_missed(&self) -> Outcome {
        let missed: Vec<String> = self
            .owed
            .iter()
            .filter(|k| !self.seen.contains(*k))
            .map(|k| show::key(k.as_ref()))
            .collect();
        ensure(missed.is_empty(), || {
            format!(
                "{} skipped {} entries that were there when it began: {}",
                self.name,
                missed.len(),
                missed.join(", ")
            )
        })
    }
}

/// What the writer of [`concurrent_readers`] writes at each sequence number, worked
/// out from the seed so that readers can say what any snapshot must hold.
struct Plan {
    keys: Vec<Bytes>,
    /// For each sequence number from 1, the key it writes (an index into `keys`), and the
    /// value or tombstone.
    writes: Vec<(usize, Lookup)>,
}

impl Plan {
    fn new(seed: u64, writes: usize, keys: usize) -> Plan {
        let mut rng = random::rng(seed ^ 0x5eed);
        let keys = random::user_keys(&mut rng, keys);
        let writes = (1..=writes as SeqNo)
            .map(|seq| {
                let key = rng.random_range(0..keys.len());
                let lookup = match random::kind(&mut rng) {
                    ValueKind::Delete => Lookup::Deleted,
                    // The sequence number in the value, so a wrong version is told apart.
                    ValueKind::Put => {
                        let mut value = seq.to_le_bytes().to_vec();
                        value.extend_from_slice(&random::value(&mut rng));
                        Lookup::Value(Bytes::from(value))
                    }
                };
                (key, lookup)
            })
            .collect();
        Plan { keys, writes }
    }

    /// The user key and the value (or tombstone) written at `seq`.
    fn write(&self, seq: SeqNo) -> (&[u8], &Lookup) {
        let (key, lookup) = &self.writes[seq as usize - 1];
        (&self.keys[*key], lookup)
    }

    /// What a lookup of key `key` (an index into `keys`; past them, a key never written)
    /// must find at `snapshot`.
    fn read(&self, key: usize, snapshot: SeqNo) -> Option<Lookup> {
        self.writes[..snapshot as usize]
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, lookup)| lookup.clone())
    }
}

/// An iterator created at `snapshot` holds every write up to it, in order, each with its
/// value.
fn check_scan_holds(memtable: &Arc<dyn Memtable>, plan: &Plan, snapshot: SeqNo) -> Outcome {
    let mut it = Arc::clone(memtable).iter();
    it.seek_to_first();
    let mut last: Option<InternalKey> = None;
    let mut held = vec![false; snapshot as usize];
    while it.valid() {
        let key = it.key().to_owned();
        if let Some(last) = &last {
            ensure(&key > last, || {
                format!(
                    "a scan went from {} to {}, the wrong way",
                    show::key(last.as_ref()),
                    show::key(key.as_ref())
                )
            })?;
        }
        let seq = key.seq();
        if seq <= snapshot {
            let (user_key, lookup) = plan.write(seq);
            let (kind, value) = match lookup {
                Lookup::Value(v) => (ValueKind::Put, v.clone()),
                Lookup::Deleted => (ValueKind::Delete, Bytes::new()),
            };
            let written = InternalKey::new(Bytes::copy_from_slice(user_key), seq, kind);
            ensure(key == written && it.value() == value, || {
                Problem::mismatch(
                    format_args!("a scan, at sequence number {seq}"),
                    show::position(&*it),
                    format_args!("on {}, as written", show::entry(written.as_ref(), &value)),
                )
            })?;
            held[seq as usize - 1] = true;
        }
        last = Some(key);
        it.next();
    }
    ensure(it.status().is_ok(), || {
        format!("a scan {}", show::position(&*it))
    })?;
    match held.iter().position(|h| !h) {
        Some(missing) => Err(Problem::from(format!(
            "a scan lacks the write at {}",
            missing + 1
        ))),
        None => Ok(()),
    }
}
