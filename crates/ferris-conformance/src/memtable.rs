//! The [`Memtable`] suite: run it on a [`MemtableFactory`] with [`check_factory`].
//!
//! The contract is in [`ferris_core::memtable`]. The suite checks it in three parts, each a
//! public function taking a factory and a seed, so that a failure names its seed and can be
//! replayed alone:
//!
//! - [`check_against_model`]: random batches (many versions per key, puts and tombstones,
//!   empty and large values, short and long keys) applied one after another, each checked
//!   as it lands: [`Memtable::apply`] returns the bytes of keys and values,
//!   [`Memtable::approximate_size`] grows with every batch and by at least those bytes,
//!   [`Memtable::len`] counts every version, [`Memtable::is_empty`] agrees. Halfway and at
//!   the end, [`Memtable::get`] is checked against a model for every key written (and
//!   absent ones beside them) at every interesting snapshot (0, every batch's first and
//!   last sequence number, every version's sequence number and its neighbours, the
//!   largest), and the iterator is walked beside a model as the [`iterator`](crate::iterator)
//!   suite walks one: full scans both ways, every kind of seek, turning around, a random
//!   walk.
//! - [`check_iterators_across_applies`]: iterators created and positioned, then moved
//!   while more batches are applied, and run to their ends after the memtable's own handle
//!   is dropped. Every entry they yield is a real entry with its value, each step moves in
//!   its direction, and a scan misses none of the entries that were there when it began.
//! - [`check_concurrent_readers`]: real threads. One writer applies batches at increasing
//!   sequence numbers and publishes the last one it applied (release); readers load it
//!   (acquire) and check that a lookup at that snapshot sees, for every key, exactly the
//!   newest write up to it, that an iterator created then holds every one of those writes,
//!   and that the length and size never go back.
//!
//! ```
//! ferris_conformance::memtable::check_factory(&ferris_memtable::BTreeFactory);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use ferris_core::iter::VecIter;
use ferris_core::{
    InternalIterator, InternalKey, Lookup, MAX_SEQNO, Memtable, MemtableFactory, SeqNo, ValueKind,
    WriteBatch,
};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::iterator::{Op, Walk, describe, targets};
use crate::random;

/// How many seeds [`check_factory`] runs [`check_against_model`] and
/// [`check_iterators_across_applies`] with: `0..SEEDS`.
pub const SEEDS: u64 = 24;

/// How many seeds [`check_factory`] runs [`check_concurrent_readers`] with:
/// `0..CONCURRENT_SEEDS`.
pub const CONCURRENT_SEEDS: u64 = 3;

/// Runs the whole suite on memtables made by `factory`: see the [module docs](self).
///
/// # Panics
///
/// Panics at the first broken promise, naming the check, its seed and what broke; call
/// that check with that seed to replay it.
pub fn check_factory(factory: &dyn MemtableFactory) {
    for seed in 0..SEEDS {
        check_against_model(factory, seed);
        check_iterators_across_applies(factory, seed);
    }
    for seed in 0..CONCURRENT_SEEDS {
        check_concurrent_readers(factory, seed);
    }
}

/// Random batches checked as they land, then lookups and iteration checked against a
/// model: see the [module docs](self).
///
/// # Panics
///
/// Panics, naming the seed and what broke, when the memtable disagrees with the model.
pub fn check_against_model(factory: &dyn MemtableFactory, seed: u64) {
    let context = format!("memtable::check_against_model(_, {seed})");
    let mut rng = random::rng(seed);
    let memtable = factory.create();
    // `is_empty` may be the trait's default or the implementation's own: ask both.
    let len = memtable.len();
    assert!(
        memtable.is_empty() && len == 0,
        "{context}: a new memtable holds {len} entries"
    );
    let n_keys = rng.random_range(1..=30);
    let keys = random::user_keys(&mut rng, n_keys);
    let n_batches = rng.random_range(1..=40);
    let mut model = Model::default();
    let mut seq = rng.random_range(1..=1_000);
    for i in 0..n_batches {
        let (batch, entries) = random_batch(&mut rng, &keys, seq);
        apply_checked(&*memtable, &batch, &entries, &context);
        model.add(&entries);
        // Sometimes leave a gap, so that some snapshots fall between batches.
        seq += entries.len() as SeqNo + rng.random_range(0..3);
        if i == n_batches / 2 || i == n_batches - 1 {
            check_reads(&memtable, &model, &keys, &mut rng, &context);
        }
    }
}

/// Iterators kept while batches are applied: see the [module docs](self).
///
/// # Panics
///
/// Panics, naming the seed and what broke, when an iterator yields an entry that was never
/// applied (or with another value), steps the wrong way, or skips an entry that was there
/// when it began.
pub fn check_iterators_across_applies(factory: &dyn MemtableFactory, seed: u64) {
    let context = format!("memtable::check_iterators_across_applies(_, {seed})");
    let mut rng = random::rng(seed);
    let memtable = factory.create();
    let n_keys = rng.random_range(1..=20);
    let keys = random::user_keys(&mut rng, n_keys);
    let mut applied = BTreeMap::new();
    let mut seq = 1;
    let mut apply = |rng: &mut SmallRng, applied: &mut BTreeMap<InternalKey, Bytes>| {
        let (batch, entries) = random_batch(rng, &keys, seq);
        apply_checked(&*memtable, &batch, &entries, &context);
        seq += entries.len() as SeqNo;
        applied.extend(entries);
    };
    for _ in 0..rng.random_range(0..10) {
        apply(&mut rng, &mut applied);
    }

    // Four scans from four starting points, and one iterator that wanders both ways.
    let sorted: Vec<(InternalKey, Bytes)> = applied.clone().into_iter().collect();
    let targets = targets(&sorted);
    let pick = |rng: &mut SmallRng| targets[rng.random_range(0..targets.len())].clone();
    let starts = [
        Op::SeekToFirst,
        Op::SeekToLast,
        Op::Seek(pick(&mut rng)),
        Op::SeekForPrev(pick(&mut rng)),
    ];
    let mut scans: Vec<Scan> = starts
        .into_iter()
        .map(|start| Scan::new(&memtable, start, &applied, &context))
        .collect();
    let mut wanderer = Arc::clone(&memtable).iter();
    wanderer.seek(pick(&mut rng).as_ref());

    for _ in 0..rng.random_range(1..=20) {
        apply(&mut rng, &mut applied);
        for scan in &mut scans {
            for _ in 0..rng.random_range(0..=4) {
                scan.step(&applied);
            }
        }
        for _ in 0..rng.random_range(0..=4) {
            if !wanderer.valid() {
                wanderer.seek(pick(&mut rng).as_ref());
                check_real(&*wanderer, &applied, &context, "after a seek, the wanderer");
                continue;
            }
            let op = if rng.random_bool(0.5) {
                Op::Next
            } else {
                Op::Prev
            };
            let from = wanderer.key().to_owned();
            op.apply(&mut *wanderer);
            let what = format!("after {op:?} from {from:?}, the wanderer");
            check_real(&*wanderer, &applied, &context, &what);
            let ahead = match op {
                _ if !wanderer.valid() => true,
                Op::Next => wanderer.key() > from.as_ref(),
                _ => wanderer.key() < from.as_ref(),
            };
            assert!(
                ahead,
                "{context}: {what} moved the wrong way, to {}",
                describe(&*wanderer)
            );
        }
    }

    // The iterators keep the memtable alive: drop the handle, then finish every scan.
    drop(memtable);
    for scan in &mut scans {
        while scan.it.valid() {
            scan.step(&applied);
        }
        scan.check_none_missed();
    }
}

/// Readers on real threads racing one writer: see the [module docs](self).
///
/// # Panics
///
/// Panics (with the first panic of the writer or a reader), naming the seed and what broke, when a reader at a published snapshot misses a write, sees a wrong value, or
/// sees the length or size shrink.
pub fn check_concurrent_readers(factory: &dyn MemtableFactory, seed: u64) {
    const WRITES: usize = 2_000;
    const KEYS: usize = 40;
    const READERS: usize = 2;
    let context = format!("memtable::check_concurrent_readers(_, {seed})");
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
        let readers = (0..READERS).map(|reader| {
            let (memtable, published, done) = (&memtable, &published, &done);
            let (plan, context) = (&plan, &context);
            s.spawn(move || {
                let (mut len, mut size) = (0, 0);
                let mut round = 0usize;
                loop {
                    // Read `done` first: if it was set, `snapshot` is the last write.
                    let finished = done.load(Ordering::Acquire);
                    let snapshot = published.load(Ordering::Acquire);
                    let context = format!("{context}, reader {reader} at snapshot {snapshot}");
                    for key in 0..=plan.keys.len() {
                        let key_bytes = plan.keys.get(key).map_or(&b"absent"[..], |k| &k[..]);
                        let got = memtable.get(key_bytes, snapshot);
                        let want = plan.read(key, snapshot);
                        assert!(
                            got == want,
                            "{context}: get(\"{}\") returned {got:?}, but the writes up to it say {want:?}",
                            key_bytes.escape_ascii()
                        );
                    }
                    let (now_len, now_size) = (memtable.len(), memtable.approximate_size());
                    assert!(
                        now_len >= len.max(snapshot as usize) && now_size >= size,
                        "{context}: len went from {len} to {now_len}, size from {size} to {now_size}"
                    );
                    (len, size) = (now_len, now_size);
                    // Every fourth round, and the last, an iterator too.
                    if round.is_multiple_of(4) || finished {
                        check_scan_holds(memtable, plan, snapshot, &context);
                    }
                    round += 1;
                    if finished {
                        break;
                    }
                }
            })
        });
        let readers: Vec<_> = readers.collect();
        // Joined here rather than by the scope, which would replace a thread's panic
        // message with its own.
        let mut panicked = None;
        for thread in std::iter::once(writer).chain(readers) {
            if let Err(panic) = thread.join() {
                panicked.get_or_insert(panic);
            }
        }
        if let Some(panic) = panicked {
            std::panic::resume_unwind(panic);
        }
    });
}

/// Sets its flag when dropped, by the end of a thread or by a panic.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Every version, and every user key's versions by sequence number, as applied.
#[derive(Default)]
struct Model {
    entries: Vec<(InternalKey, Bytes)>,
    by_key: BTreeMap<Bytes, BTreeMap<SeqNo, Lookup>>,
    /// Each batch's first and last sequence numbers.
    boundaries: BTreeSet<SeqNo>,
}

impl Model {
    fn add(&mut self, entries: &[(InternalKey, Bytes)]) {
        for (key, value) in entries {
            let lookup = match key.kind() {
                ValueKind::Put => Lookup::Value(value.clone()),
                ValueKind::Delete => Lookup::Deleted,
            };
            self.by_key
                .entry(key.user_key_bytes().clone())
                .or_default()
                .insert(key.seq(), lookup);
        }
        self.boundaries
            .extend(entries.first().map(|(k, _)| k.seq()));
        self.boundaries.extend(entries.last().map(|(k, _)| k.seq()));
        self.entries.extend_from_slice(entries);
    }

    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        let versions = self.by_key.get(user_key)?;
        versions
            .range(..=snapshot)
            .next_back()
            .map(|(_, l)| l.clone())
    }
}

/// A batch of one to eight entries at `seq` onwards over `keys`, and its entries as the
/// memtable should hold them.
fn random_batch(
    rng: &mut SmallRng,
    keys: &[Bytes],
    seq: SeqNo,
) -> (WriteBatch, Vec<(InternalKey, Bytes)>) {
    let mut batch = WriteBatch::new();
    let mut entries: Vec<(InternalKey, Bytes)> = Vec::new();
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
fn apply_checked(
    memtable: &dyn Memtable,
    batch: &WriteBatch,
    entries: &[(InternalKey, Bytes)],
    context: &str,
) {
    let (size, len) = (memtable.approximate_size(), memtable.len());
    let inserted = memtable.apply(batch.iter());
    let bytes: usize = entries
        .iter()
        .map(|(k, v)| k.user_key().len() + v.len())
        .sum();
    let at = entries[0].0.seq();
    assert!(
        inserted == bytes as u64,
        "{context}: apply of the batch at {at} returned {inserted}, but its keys and values hold {bytes} bytes"
    );
    let grown = memtable.approximate_size();
    assert!(
        grown > size && grown - size >= bytes,
        "{context}: the batch at {at} holds {bytes} bytes, but approximate_size went from {size} to {grown}"
    );
    let n = entries.len();
    assert!(
        memtable.len() == len + n,
        "{context}: len went from {len} to {} with the batch at {at}, which holds {n} entries",
        memtable.len()
    );
    assert!(
        !memtable.is_empty(),
        "{context}: is_empty after the batch at {at}"
    );
}

/// Lookups at every interesting snapshot, and a walk of the iterator, against `model`.
fn check_reads(
    memtable: &Arc<dyn Memtable>,
    model: &Model,
    keys: &[Bytes],
    rng: &mut SmallRng,
    context: &str,
) {
    // Keys written, and absent ones beside them: one byte longer, one byte shorter.
    let mut probes: BTreeSet<Bytes> = keys.iter().cloned().collect();
    for key in keys {
        probes.insert(Bytes::from([&key[..], &[0]].concat()));
        if key.len() > 1 {
            probes.insert(key.slice(..key.len() - 1));
        }
    }
    for key in &probes {
        let mut snapshots: BTreeSet<SeqNo> = [0, MAX_SEQNO, SeqNo::MAX].into();
        snapshots.extend(&model.boundaries);
        for &seq in model.by_key.get(key).into_iter().flat_map(|v| v.keys()) {
            snapshots.extend([seq - 1, seq, seq + 1]);
        }
        for snapshot in snapshots {
            let got = memtable.get(key, snapshot);
            let want = model.get(key, snapshot);
            assert!(
                got == want,
                "{context}: get(\"{}\", {snapshot}) after {} entries returned {got:?}, but the model says {want:?}",
                key.escape_ascii(),
                model.entries.len()
            );
        }
    }
    let sorted = VecIter::new(model.entries.clone()).entries().to_vec();
    let walk_context = format!("{context}, the iterator after {} entries", sorted.len());
    let mut walk = Walk::new(Arc::clone(memtable).iter(), &sorted, walk_context);
    walk.scan_both_ways();
    let targets = targets(&sorted);
    walk.seek_each(&targets);
    walk.wander(rng, &targets, 300);
}

/// Panics unless the iterator is off the end, or on an entry of `applied` with its value.
fn check_real(
    it: &dyn InternalIterator,
    applied: &BTreeMap<InternalKey, Bytes>,
    context: &str,
    what: &str,
) {
    if !it.valid() {
        assert!(
            it.status().is_ok(),
            "{context}: {what} failed: {}",
            describe(it)
        );
        return;
    }
    let real = applied.get(&it.key().to_owned()) == Some(&it.value());
    assert!(
        real,
        "{context}: {what} is {}, which was never applied",
        describe(it)
    );
}

/// An iterator scanning one way from where it was positioned, and what it must not miss.
struct Scan {
    it: Box<dyn InternalIterator>,
    forward: bool,
    /// Names the check, the seed and where the scan started.
    context: String,
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
        context: &str,
    ) -> Scan {
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
            context: format!("{context}, the scan from {start:?}"),
            last: None,
            seen: BTreeSet::new(),
            owed,
        };
        scan.record(applied);
        scan
    }

    /// One step in the scan's direction, if it is still on an entry.
    fn step(&mut self, applied: &BTreeMap<InternalKey, Bytes>) {
        if !self.it.valid() {
            return;
        }
        if self.forward {
            self.it.next();
        } else {
            self.it.prev();
        }
        self.record(applied);
    }

    /// Checks the current entry is real and ahead of the last, and notes it.
    fn record(&mut self, applied: &BTreeMap<InternalKey, Bytes>) {
        check_real(&*self.it, applied, &self.context, "the scan");
        if !self.it.valid() {
            return;
        }
        let key = self.it.key().to_owned();
        if let Some(last) = &self.last {
            let ahead = if self.forward {
                &key > last
            } else {
                &key < last
            };
            assert!(ahead, "{}: after {last:?} it went to {key:?}", self.context);
        }
        self.seen.insert(key.clone());
        self.last = Some(key);
    }

    fn check_none_missed(&self) {
        let missed: Vec<&InternalKey> = self
            .owed
            .iter()
            .filter(|k| !self.seen.contains(*k))
            .collect();
        assert!(
            missed.is_empty(),
            "{}: the scan skipped {missed:?}, which were there when it began",
            self.context
        );
    }
}

/// What the writer of [`check_concurrent_readers`] writes at each sequence number, worked
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
fn check_scan_holds(memtable: &Arc<dyn Memtable>, plan: &Plan, snapshot: SeqNo, context: &str) {
    let mut it = Arc::clone(memtable).iter();
    it.seek_to_first();
    let mut last: Option<InternalKey> = None;
    let mut held = vec![false; snapshot as usize];
    while it.valid() {
        let key = it.key().to_owned();
        if let Some(last) = &last {
            assert!(
                &key > last,
                "{context}: the scan went from {last:?} to {key:?}"
            );
        }
        let seq = key.seq();
        if seq <= snapshot {
            let (user_key, lookup) = plan.write(seq);
            let value = match lookup {
                Lookup::Value(v) => v.clone(),
                Lookup::Deleted => Bytes::new(),
            };
            let kind = match lookup {
                Lookup::Value(_) => ValueKind::Put,
                Lookup::Deleted => ValueKind::Delete,
            };
            assert!(
                key.user_key() == user_key && key.kind() == kind && it.value() == value,
                "{context}: the scan found {}, which is not what was written at {seq}",
                describe(&*it)
            );
            held[seq as usize - 1] = true;
        }
        last = Some(key);
        it.next();
    }
    assert!(
        it.status().is_ok(),
        "{context}: the scan failed: {}",
        describe(&*it)
    );
    if let Some(missing) = held.iter().position(|h| !h) {
        panic!("{context}: the scan lacks the write at {}", missing + 1);
    }
}
