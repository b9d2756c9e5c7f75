//! The [`InternalIterator`] suite: any iterator, walked beside a model over the same
//! entries.
//!
//! The contract (in `ferris_core::iter`) promises internal-key order, seeks that land on
//! the first entry at or after a target (`seek`) or the last at or before it
//! (`seek_for_prev`), steps both ways that may follow any move, and a status that stays
//! `Ok` while nothing failed. [`VecIter`] is the simplest
//! implementation there is (a sorted vector and an index), so it is the model: each check
//! builds the iterator under test and a `VecIter` over the same entries, does the same
//! thing to both, and after every move checks that they agree on whether they are on an
//! entry, which key, which value, and that the status is `Ok`.
//!
//! The iterator under test is made by a function you give, [`Build`]: it gets the
//! entries, sorted in internal-key order with no internal key twice and with empty values
//! for tombstones (as a table builder or a memtable would hold them), and returns the
//! iterator over them. Each seed draws a set of entries (seed 0 none, seeds 1 to 4 a few,
//! the others up to 150, over user keys short and long with several versions each, puts
//! with empty and large values, tombstones, sequence numbers 0 and
//! [`MAX_SEQNO`] now and then), and each check walks them:
//!
//! | check | what it demands |
//! |---|---|
//! | [`scans`] | a full scan forwards from `seek_to_first`, then backwards from `seek_to_last`, yields every entry and ends |
//! | [`seeks`] | `seek` and `seek_for_prev` to every interesting target, each followed by steps that turn around: targets on every entry, beside every entry (one sequence number up or down, the other kind), on the first and last possible versions of every user key, on absent keys just after a user key and on its prefix, before the first entry and after the last |
//! | [`random_walks`] | 400 random moves: seeks to those targets, `seek_to_first`, `seek_to_last`, and steps both ways |
//!
//! [`check_iterator`] runs the three checks; each runs every seed of [`SEEDS`], and its
//! `_seed` function runs one, to replay a [`Failure`]. A failure lists the last
//! moves, where the iterator is and where the model is. This one is from this crate's
//! tests, of an iterator whose `seek_for_prev` lands an entry too early:
//!
//! ```text
//! early failed seeks, seed 1: the iterator over 3 entries, after [next, next, prev, prev, prev, seek_for_prev(b""@72057594037927935:Put), seek(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff..." (80 bytes)@0:Delete), seek_for_prev(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff..." (80 bytes)@0:Delete)]: got on b"\x00b\x00"@5:Delete = b"", expected on b"\x00b\x00"@1:Put = b"\xd6@vi\xd5\xe2\x8a\x12IPP\xeeN:\x03e\xba\x88J\xd5>E\xe9\x16..." (114 bytes)
//! ```
//!
//! ```
//! use ferris_conformance::{Failure, iterator};
//! use ferris_core::iter::VecIter;
//!
//! // The model checked against itself; your iterator goes here.
//! fn vec_iter_conforms() -> Result<(), Failure> {
//!     iterator::check_iterator("vec", |entries| Box::new(VecIter::new(entries)))
//! }
//! # let _ = vec_iter_conforms;
//!
//! // The replay of a failure of `random_walks` for seed 7:
//! iterator::random_walks_seed("vec", &|entries| Box::new(VecIter::new(entries)), 7)?;
//! # Ok::<(), Failure>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use ferris_core::iter::{VecIter, first_of, last_of};
use ferris_core::{InternalIterator, InternalKey, MAX_SEQNO, ValueKind};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::Failure;
use crate::failure::{Checking, Outcome, Problem};
use crate::model::Model;
use crate::{random, show};

/// The seeds each check runs.
pub const SEEDS: Range<u64> = 0..48;

/// Makes the iterator under test over the entries it is given (sorted, each internal key
/// once, tombstones with empty values). It is called once per seed of each check.
pub type Build<'a> = dyn Fn(Vec<(InternalKey, Bytes)>) -> Box<dyn InternalIterator> + 'a;

/// A check of the suite: the iterator's name and how to build it in, the first failure
/// out.
pub type Check = fn(&str, &Build<'_>) -> Result<(), Failure>;

/// Every check, with its name, in the order [`check_iterator`] runs them.
pub const CHECKS: [(&str, Check); 3] = [
    ("scans", scans),
    ("seeks", seeks),
    ("random_walks", random_walks),
];

/// Runs every check of the suite on the iterators `build` makes, in the order of
/// [`CHECKS`]; `name` names them in a failure.
///
/// # Errors
///
/// The first [`Failure`]: the check, the seed ([`scans_seed`], [`seeks_seed`] or
/// [`random_walks_seed`] replays it), the last moves, and where the iterator is and
/// should be.
pub fn check_iterator(
    name: &str,
    build: impl Fn(Vec<(InternalKey, Bytes)>) -> Box<dyn InternalIterator>,
) -> Result<(), Failure> {
    CHECKS.iter().try_for_each(|(_, check)| check(name, &build))
}

/// Full scans both ways, for every seed of [`SEEDS`]: see the [module docs](self).
///
/// # Errors
///
/// The first [`Failure`].
pub fn scans(name: &str, build: &Build<'_>) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| scans_seed(name, build, seed))
}

/// One seed of [`scans`].
///
/// # Errors
///
/// A [`Failure`] naming the seed, the last moves, and where the iterator is and should
/// be.
pub fn scans_seed(name: &str, build: &Build<'_>, seed: u64) -> Result<(), Failure> {
    walk_seed(name, "scans", build, seed, |walk, _, _| {
        walk.scan_both_ways()
    })
}

/// Seeks of both kinds to every interesting target, each followed by steps that turn
/// around, for every seed of [`SEEDS`]: see the [module docs](self).
///
/// # Errors
///
/// The first [`Failure`].
pub fn seeks(name: &str, build: &Build<'_>) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| seeks_seed(name, build, seed))
}

/// One seed of [`seeks`].
///
/// # Errors
///
/// A [`Failure`] naming the seed, the last moves, and where the iterator is and should
/// be.
pub fn seeks_seed(name: &str, build: &Build<'_>, seed: u64) -> Result<(), Failure> {
    walk_seed(name, "seeks", build, seed, |walk, model, _| {
        walk.seek_each(&targets(model.entries()))
    })
}

/// Random walks of seeks and steps, for every seed of [`SEEDS`]: see the
/// [module docs](self).
///
/// # Errors
///
/// The first [`Failure`].
pub fn random_walks(name: &str, build: &Build<'_>) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| random_walks_seed(name, build, seed))
}

/// One seed of [`random_walks`].
///
/// # Errors
///
/// A [`Failure`] naming the seed, the last moves, and where the iterator is and should
/// be.
pub fn random_walks_seed(name: &str, build: &Build<'_>, seed: u64) -> Result<(), Failure> {
    walk_seed(name, "random_walks", build, seed, |walk, model, rng| {
        walk.wander(rng, &targets(model.entries()), 400)
    })
}

/// Runs `moves` on the iterator `build` makes over the entries of `seed`, beside the
/// model: the case of `check` for `seed`.
fn walk_seed(
    name: &str,
    check: &'static str,
    build: &Build<'_>,
    seed: u64,
    moves: impl FnOnce(&mut Walk, &Model, &mut SmallRng) -> Outcome,
) -> Result<(), Failure> {
    Checking::new(name, check).seed(seed, || {
        let mut rng = random::rng(seed);
        // Seed 0 has no entries at all, and a few more seeds have only a few.
        let max = match seed {
            0 => 0,
            1..=4 => 3,
            _ => 150,
        };
        let model = random::entries(&mut rng, max);
        let mut walk = Walk::new(build(model.entries().to_vec()), &model);
        moves(&mut walk, &model, &mut rng)
    })
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
            Op::Seek(target) => write!(f, "seek({})", show::key(target.as_ref())),
            Op::SeekForPrev(target) => write!(f, "seek_for_prev({})", show::key(target.as_ref())),
            Op::Next => f.write_str("next"),
            Op::Prev => f.write_str("prev"),
        }
    }
}

/// The iterator under test and the model, moved together.
pub(crate) struct Walk {
    it: Box<dyn InternalIterator>,
    model: VecIter,
    /// The last few moves, for the failure.
    recent: VecDeque<Op>,
}

impl Walk {
    /// How many of the last moves a failure lists.
    const RECENT: usize = 8;

    /// A walk of `it` beside `model`, which holds the same entries.
    pub(crate) fn new(it: Box<dyn InternalIterator>, model: &Model) -> Walk {
        Walk {
            it,
            model: model.iter(),
            recent: VecDeque::with_capacity(Walk::RECENT),
        }
    }

    /// Whether the model is on an entry, so that `next` and `prev` are allowed.
    fn valid(&self) -> bool {
        self.model.valid()
    }

    /// Makes one move on both, and checks they agree.
    pub(crate) fn step(&mut self, op: Op) -> Outcome {
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
        if agree {
            return Ok(());
        }
        Err(Problem::mismatch(
            format_args!(
                "the iterator over {} entries, after {:?}",
                self.model.entries().len(),
                self.recent
            ),
            show::position(&*self.it),
            show::position(&self.model),
        ))
    }

    /// Every entry forwards from the first, then backwards from the last.
    pub(crate) fn scan_both_ways(&mut self) -> Outcome {
        self.step(Op::SeekToFirst)?;
        while self.valid() {
            self.step(Op::Next)?;
        }
        self.step(Op::SeekToLast)?;
        while self.valid() {
            self.step(Op::Prev)?;
        }
        Ok(())
    }

    /// Both seeks to each target, each followed by steps that turn around.
    pub(crate) fn seek_each(&mut self, targets: &[InternalKey]) -> Outcome {
        use Op::{Next, Prev};
        for target in targets {
            self.step(Op::Seek(target.clone()))?;
            self.steps(&[Next, Next, Prev, Prev, Prev, Next])?;
            self.step(Op::SeekForPrev(target.clone()))?;
            self.steps(&[Prev, Prev, Next, Next, Next, Prev])?;
        }
        Ok(())
    }

    /// `ops` in turn, for as long as the iterator is on an entry.
    fn steps(&mut self, ops: &[Op]) -> Outcome {
        for op in ops {
            if !self.valid() {
                break;
            }
            self.step(op.clone())?;
        }
        Ok(())
    }

    /// `n` random moves: seeks to targets drawn from `targets`, and steps both ways.
    pub(crate) fn wander(
        &mut self,
        rng: &mut SmallRng,
        targets: &[InternalKey],
        n: usize,
    ) -> Outcome {
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
            self.step(op)?;
        }
        Ok(())
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
