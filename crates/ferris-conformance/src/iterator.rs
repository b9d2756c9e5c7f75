//! The [`InternalIterator`] suite: any iterator, walked beside
//! [`VecIter`] over the same entries.
//!
//! The contract (in `ferris_core::iter`) promises internal-key order, seeks that land on
//! the first entry at or after a target (`seek`) or the last at or before it
//! (`seek_for_prev`), steps both ways that may follow any move, and a status that stays
//! `Ok` while nothing failed. [`VecIter`] is the simplest implementation there is (a sorted
//! vector and an index), so it is the model: [`check_iterator`] builds the iterator under
//! test and a `VecIter` over the same entries, does the same thing to both, and after
//! every move checks that they agree on whether they are on an entry, which key, which
//! value, and that the status is `Ok`.
//!
//! For each seed it draws a set of entries (none, a few, or up to 150, over user keys
//! short and long with several versions each, puts with empty and large values,
//! tombstones, sequence numbers 0 and [`MAX_SEQNO`] now and then) and walks them:
//!
//! 1. a full scan forwards from `seek_to_first` and backwards from `seek_to_last`;
//! 2. `seek` and `seek_for_prev` to every interesting target, each followed by steps that
//!    turn around: targets on every entry, beside every entry (one sequence number up or
//!    down, the other kind), on the first and last possible versions of every user key,
//!    on absent keys just after a user key and on its prefix, before the first entry and
//!    after the last;
//! 3. a random walk of seeks and steps.
//!
//! ```
//! use ferris_core::InternalIterator;
//! use ferris_core::iter::VecIter;
//!
//! // The model checked against itself; your iterator goes here.
//! ferris_conformance::iterator::check_iterator(|entries| {
//!     Box::new(VecIter::new(entries)) as Box<dyn InternalIterator>
//! });
//! ```

use std::collections::VecDeque;
use std::fmt;

use bytes::Bytes;
use ferris_core::iter::{VecIter, first_of, last_of};
use ferris_core::{InternalIterator, InternalKey, MAX_SEQNO, ValueKind};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::random;

/// How many seeds [`check_iterator`] runs: `0..SEEDS`.
pub const SEEDS: u64 = 48;

/// Runs the suite over seeds `0..`[`SEEDS`]: see the [module docs](self).
///
/// `build` makes the iterator under test over the entries it is given, which come sorted
/// in internal-key order with no internal key twice, and with empty values for
/// tombstones, as a table builder or a memtable would hold them. It is called once per
/// seed.
///
/// # Panics
///
/// Panics, naming the seed and what broke, at the first move after which the iterator
/// disagrees with the model or reports an error. Replay it with
/// [`check_iterator_seed`].
pub fn check_iterator(build: impl Fn(Vec<(InternalKey, Bytes)>) -> Box<dyn InternalIterator>) {
    for seed in 0..SEEDS {
        check_iterator_seed(&build, seed);
    }
}

/// The suite for one seed: what [`check_iterator`] runs for each, and how a failure it
/// reports is replayed.
///
/// # Panics
///
/// As [`check_iterator`].
pub fn check_iterator_seed(
    build: &dyn Fn(Vec<(InternalKey, Bytes)>) -> Box<dyn InternalIterator>,
    seed: u64,
) {
    let mut rng = random::rng(seed);
    // Seed 0 has no entries at all, and a few more seeds have only a few.
    let max = match seed {
        0 => 0,
        1..=4 => 3,
        _ => 150,
    };
    let entries = random::entries(&mut rng, max);
    let context = format!(
        "check_iterator_seed(_, {seed}) over {} entries",
        entries.len()
    );
    let mut walk = Walk::new(build(entries.clone()), &entries, context);
    walk.scan_both_ways();
    let targets = targets(&entries);
    walk.seek_each(&targets);
    walk.wander(&mut rng, &targets, 400);
}

/// One move of an iterator.
#[derive(Clone)]
pub(crate) enum Op {
    SeekToFirst,
    SeekToLast,
    Seek(InternalKey),
    SeekForPrev(InternalKey),
    Next,
    Prev,
}

impl Op {
    pub(crate) fn apply(&self, it: &mut dyn InternalIterator) {
        match self {
            Op::SeekToFirst => it.seek_to_first(),
            Op::SeekToLast => it.seek_to_last(),
            Op::Seek(target) => it.seek(target.as_ref()),
            Op::SeekForPrev(target) => it.seek_for_prev(target.as_ref()),
            Op::Next => it.next(),
            Op::Prev => it.prev(),
        }
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::SeekToFirst => f.write_str("seek_to_first"),
            Op::SeekToLast => f.write_str("seek_to_last"),
            Op::Seek(target) => write!(f, "seek({target:?})"),
            Op::SeekForPrev(target) => write!(f, "seek_for_prev({target:?})"),
            Op::Next => f.write_str("next"),
            Op::Prev => f.write_str("prev"),
        }
    }
}

/// Where an iterator is, in words, for a failure message.
pub(crate) fn describe(it: &dyn InternalIterator) -> String {
    if !it.valid() {
        return match it.status() {
            Ok(()) => "off the end".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
    }
    let value = it.value();
    let shown = &value[..value.len().min(16)];
    format!(
        "at {:?} with a {}-byte value starting \"{}\"",
        it.key(),
        value.len(),
        shown.escape_ascii()
    )
}

/// The iterator under test and the model, moved together.
pub(crate) struct Walk {
    it: Box<dyn InternalIterator>,
    model: VecIter,
    context: String,
    /// The last few moves, for the failure message.
    recent: VecDeque<Op>,
}

impl Walk {
    /// How many of the last moves a failure message lists.
    const RECENT: usize = 8;

    /// A walk of `it` beside a model over `entries`; `context` names the check and seed.
    pub(crate) fn new(
        it: Box<dyn InternalIterator>,
        entries: &[(InternalKey, Bytes)],
        context: String,
    ) -> Walk {
        Walk {
            it,
            model: VecIter::new(entries.to_vec()),
            context,
            recent: VecDeque::with_capacity(Walk::RECENT),
        }
    }

    /// Whether the model is on an entry, so that `next` and `prev` are allowed.
    fn valid(&self) -> bool {
        self.model.valid()
    }

    /// Makes one move on both, and checks they agree.
    pub(crate) fn step(&mut self, op: Op) {
        op.apply(&mut *self.it);
        op.apply(&mut self.model);
        if self.recent.len() == Walk::RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(op);
        let agree = self.it.status().is_ok()
            && self.it.valid() == self.model.valid()
            && (!self.model.valid()
                || (self.it.key() == self.model.key() && self.it.value() == self.model.value()));
        if !agree {
            panic!(
                "{}: after {:?} the iterator is {}, but it should be {}",
                self.context,
                self.recent,
                describe(&*self.it),
                describe(&self.model),
            );
        }
    }

    /// Every entry forwards from the first, then backwards from the last.
    pub(crate) fn scan_both_ways(&mut self) {
        self.step(Op::SeekToFirst);
        while self.valid() {
            self.step(Op::Next);
        }
        self.step(Op::SeekToLast);
        while self.valid() {
            self.step(Op::Prev);
        }
    }

    /// Both seeks to each target, each followed by steps that turn around.
    pub(crate) fn seek_each(&mut self, targets: &[InternalKey]) {
        use Op::{Next, Prev};
        for target in targets {
            self.step(Op::Seek(target.clone()));
            self.steps(&[Next, Next, Prev, Prev, Prev, Next]);
            self.step(Op::SeekForPrev(target.clone()));
            self.steps(&[Prev, Prev, Next, Next, Next, Prev]);
        }
    }

    /// `ops` in turn, for as long as the iterator is on an entry.
    fn steps(&mut self, ops: &[Op]) {
        for op in ops {
            if !self.valid() {
                return;
            }
            self.step(op.clone());
        }
    }

    /// `n` random moves: seeks to random targets, and steps both ways.
    pub(crate) fn wander(&mut self, rng: &mut SmallRng, targets: &[InternalKey], n: usize) {
        for _ in 0..n {
            let op = match rng.random_range(0..20) {
                0 => Op::SeekToFirst,
                1 => Op::SeekToLast,
                2..8 if self.valid() => Op::Next,
                8..14 if self.valid() => Op::Prev,
                roll => {
                    let target = targets[rng.random_range(0..targets.len())].clone();
                    if roll % 2 == 0 {
                        Op::Seek(target)
                    } else {
                        Op::SeekForPrev(target)
                    }
                }
            };
            self.step(op);
        }
    }
}

/// Seek targets on, beside, between and around `entries` (sorted): see the
/// [module docs](self).
pub(crate) fn targets(entries: &[(InternalKey, Bytes)]) -> Vec<InternalKey> {
    // Before every key (the empty user key sorts first), and after every key the
    // generators make (none starts with four 0xff bytes).
    let mut targets = vec![first_of(b"").to_owned(), last_of(&[0xff; 80]).to_owned()];
    let mut previous: Option<&[u8]> = None;
    for (key, _) in entries {
        let user = key.user_key();
        if previous != Some(user) {
            previous = Some(user);
            targets.push(first_of(user).to_owned());
            targets.push(last_of(user).to_owned());
            // Absent: just after every version of `user`, and its prefix.
            targets.push(first_of(&[user, &[0]].concat()).to_owned());
            if let Some((_, prefix)) = user.split_last() {
                targets.push(first_of(prefix).to_owned());
            }
        }
        let seq = key.seq();
        let other = match key.kind() {
            ValueKind::Put => ValueKind::Delete,
            ValueKind::Delete => ValueKind::Put,
        };
        targets.push(key.clone());
        targets.push(InternalKey::new(key.user_key_bytes().clone(), seq, other));
        if seq < MAX_SEQNO {
            targets.push(InternalKey::new(
                key.user_key_bytes().clone(),
                seq + 1,
                ValueKind::Put,
            ));
        }
        if seq > 0 {
            let older = seq - 1;
            targets.push(InternalKey::new(
                key.user_key_bytes().clone(),
                older,
                ValueKind::Delete,
            ));
        }
    }
    targets
}
