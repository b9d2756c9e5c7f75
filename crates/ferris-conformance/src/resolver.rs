//! The conflict-resolver contract, checked: [`check_resolver`] runs any
//! [`ConflictResolver`] against a model that keeps every commit forever, and then lets it
//! decide the commits of random concurrent transactions and replays their history.
//!
//! The model is the contract of `ferris_txn::ConflictResolver` as code: a list of every
//! commit's write ranges, checked by brute force (the newest commit after the read
//! version whose writes meet the first read range that has one), and the rule for what a
//! resolver forgets (commits at or below a trim; after each record, the oldest while the
//! rest weigh more than `max_history_bytes` or the oldest is more than `max_age_ms` older
//! than the newest; everything at a skip). Where the model has forgotten a commit a check
//! would need, the answer must be `TooOld`; everywhere else it must be the model's,
//! exactly, and so must [`oldest`](ConflictResolver::oldest) after every change.
//!
//! | check | what it demands |
//! |---|---|
//! | [`conflicts`] | point and range writes against point and range reads: a conflict exactly when they share a key (ranges are half-open, `k\0` is not `k`), naming the first range read and the newest commit |
//! | [`read_version_edges`] | a write **at** the read version is in the snapshot (no conflict), one after it is a conflict; a check of nothing always passes |
//! | [`keyspaces_apart`] | the same key in two keyspaces never conflicts, a whole keyspace written conflicts with every read in it |
//! | [`too_old`] | after a trim, a skip, the age limit or the byte limit, a read version below what was forgotten is `TooOld`, never `Ok`; out-of-order and too-large commits are refused |
//! | [`against_model`] | random records, checks, trims and skips (each seed of [`SEEDS`]), under default and tight limits, answer as the model does |
//! | [`serializable`] | random concurrent transactions over a dozen keys (each seed of [`HISTORY_SEEDS`]), committed only when the resolver admits them as the engine's write-queue leader does; the history must replay in commit order with `ferris_txn_check::replay`: no lost update, no write skew, no phantom |
//!
//! A resolver is given to the suite as a name and a function that makes one
//! ([`Make`]: the oldest version it may check, and its limits), since the checks need
//! fresh resolvers with limits of their own:
//!
//! ```
//! use ferris_conformance::resolver;
//! use ferris_txn::{ConflictResolver, Resolver};
//!
//! fn make(oldest: u64, limits: ferris_txn::ResolverLimits) -> Box<dyn ConflictResolver> {
//!     Box::new(Resolver::new(oldest, limits))
//! }
//! resolver::check_resolver("Resolver", make)?;
//! resolver::serializable_seed("Resolver", make, 3)?;
//! # Ok::<(), ferris_conformance::Failure>(())
//! ```
//!
//! # Limits
//!
//! The histories of [`serializable`] are interleaved by a seeded generator on one thread,
//! not by real threads: the resolver is called where the engine calls it, from one
//! leader at a time, so its own concurrency is not what is tested (the engine's
//! serializability checker, `cargo xtask txn-check`, runs real threads). Snapshot
//! isolation is not checked: it is the same `check`, given other ranges.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use ferris_core::{KeyspaceId, SeqNo, WriteBatch};
use ferris_txn::{Check as TxnCheck, ConflictResolver, KeyRange, ResolverLimits, TxnError};
use ferris_txn_check::{Committed, Space, State, Step, replay};
use rand::Rng;
use rand::rngs::SmallRng;

use crate::Failure;
use crate::failure::{Checking, Outcome, Problem, ensure};
use crate::random::rng;

/// The seeds of the random operation sequences [`against_model`] runs.
pub const SEEDS: Range<u64> = 0..48;

/// The seeds of the random transaction histories [`serializable`] runs.
pub const HISTORY_SEEDS: Range<u64> = 0..24;

/// Makes a resolver that knows of no commit at or below `oldest` (a read version below it
/// is too old), with `limits`: what the suite is given of an implementation.
pub type Make = fn(SeqNo, ResolverLimits) -> Box<dyn ConflictResolver>;

/// A check of the suite: the implementation's name and maker in, the first failure out.
pub type Check = fn(&str, Make) -> Result<(), Failure>;

/// Every check, with its name, in the order [`check_resolver`] runs them.
pub const CHECKS: [(&str, Check); 6] = [
    ("conflicts", conflicts),
    ("read_version_edges", read_version_edges),
    ("keyspaces_apart", keyspaces_apart),
    ("too_old", too_old),
    ("against_model", against_model),
    ("serializable", serializable),
];

/// Runs every check of the suite on the resolvers `make` makes, in the order of
/// [`CHECKS`]: see the [module docs](self).
///
/// # Errors
///
/// The first [`Failure`], named `name`, with the call whose answer was wrong, after what,
/// and both answers.
pub fn check_resolver(name: &str, make: Make) -> Result<(), Failure> {
    CHECKS.iter().try_for_each(|(_, check)| check(name, make))
}

/// One call on a resolver, as the fixed cases and the random ones list them.
#[derive(Clone)]
pub(crate) enum Op {
    /// `record(commit, writes, now_ms)`.
    Record(SeqNo, Vec<KeyRange>, u64),
    /// `check(read_version, reads)`.
    Check(SeqNo, Vec<KeyRange>),
    /// `trim(version)`.
    Trim(SeqNo),
    /// `skip(commit)`.
    Skip(SeqNo),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Record(c, w, now) => write!(f, "record({c}, {w:?}, {now})"),
            Op::Check(v, r) => write!(f, "check({v}, {r:?})"),
            Op::Trim(t) => write!(f, "trim({t})"),
            Op::Skip(c) => write!(f, "skip({c})"),
        }
    }
}

/// An answer, as a failure prints it.
fn show(answer: &Result<(), TxnError>) -> String {
    match answer {
        Ok(()) => "Ok(())".to_owned(),
        Err(e) => format!("Err({e:?})"),
    }
}

/// One remembered commit of the model.
#[derive(Debug)]
struct Commit {
    seq: SeqNo,
    at_ms: u64,
    writes: Vec<KeyRange>,
    bytes: usize,
}

/// The contract as code: every commit kept, and the forgetting rule of
/// [`ConflictResolver`] applied to a count of the oldest ones. [`check_resolver`] compares
/// a resolver with it; it is public so that a resolver's own property tests can too
/// (`ferris-txn`'s do, with what its `Resolver` has beyond the trait: how many commits it
/// remembers and what they weigh).
#[derive(Debug)]
pub struct Model {
    limits: ResolverLimits,
    /// Every commit that wrote anything, oldest first.
    commits: Vec<Commit>,
    /// How many of `commits`, from the front, a resolver has forgotten.
    forgotten: usize,
    oldest: SeqNo,
    last: SeqNo,
}

impl Model {
    /// A model of a resolver made with `oldest` and `limits`.
    pub fn new(oldest: SeqNo, limits: ResolverLimits) -> Model {
        Model {
            limits,
            commits: Vec::new(),
            forgotten: 0,
            oldest,
            last: oldest,
        }
    }

    fn weigh(&self, ranges: &[KeyRange]) -> Result<usize, TxnError> {
        let bytes = ranges.iter().map(KeyRange::charged_bytes).sum();
        match bytes > self.limits.max_txn_bytes {
            true => Err(TxnError::TooLarge {
                bytes,
                limit: self.limits.max_txn_bytes,
            }),
            false => Ok(bytes),
        }
    }

    /// What [`ConflictResolver::check`] must answer.
    ///
    /// # Errors
    ///
    /// The error the resolver must give.
    pub fn check(&self, read_version: SeqNo, reads: &[KeyRange]) -> Result<(), TxnError> {
        self.weigh(reads)?;
        if !reads.is_empty() && read_version < self.oldest {
            return Err(TxnError::TooOld {
                read_version,
                oldest: self.oldest,
            });
        }
        for range in reads {
            // Brute force, over every commit ever made.
            let newest = (self.commits.iter())
                .filter(|c| c.seq > read_version && c.writes.iter().any(|w| w.intersects(range)))
                .map(|c| c.seq)
                .max();
            if let Some(committed_at) = newest {
                return Err(TxnError::Conflict {
                    range: range.clone(),
                    committed_at,
                });
            }
        }
        Ok(())
    }

    /// [`ConflictResolver::record`], and what it must answer.
    ///
    /// # Errors
    ///
    /// The error the resolver must give.
    pub fn record(&mut self, seq: SeqNo, writes: &[KeyRange], at_ms: u64) -> Result<(), TxnError> {
        if seq <= self.last {
            return Err(TxnError::OutOfOrder {
                commit: seq,
                after: self.last,
            });
        }
        let bytes = self.weigh(writes)?;
        self.last = seq;
        if !writes.is_empty() {
            self.commits.push(Commit {
                seq,
                at_ms,
                writes: writes.to_vec(),
                bytes,
            });
        }
        loop {
            let remembered = &self.commits[self.forgotten..];
            let Some(front) = remembered.first() else {
                break;
            };
            let weight: usize = remembered.iter().map(|c| c.bytes).sum();
            let too_old = at_ms.saturating_sub(front.at_ms) > self.limits.max_age_ms;
            if !too_old && weight <= self.limits.max_history_bytes {
                break;
            }
            self.forget_oldest();
        }
        Ok(())
    }

    /// [`ConflictResolver::trim`].
    pub fn trim(&mut self, version: SeqNo) {
        while self
            .commits
            .get(self.forgotten)
            .is_some_and(|c| c.seq <= version)
        {
            self.forget_oldest();
        }
    }

    /// [`ConflictResolver::skip`].
    pub fn skip(&mut self, commit: SeqNo) {
        while self.forgotten < self.commits.len() {
            self.forget_oldest();
        }
        self.oldest = self.oldest.max(commit);
        self.last = self.last.max(commit);
    }

    /// What [`ConflictResolver::oldest`] must answer.
    pub fn oldest(&self) -> SeqNo {
        self.oldest
    }

    /// The last commit recorded (or skipped to), or the `oldest` it was made with.
    pub fn last(&self) -> SeqNo {
        self.last
    }

    /// How many commits that wrote something a resolver still remembers.
    pub fn remembered(&self) -> usize {
        self.commits.len() - self.forgotten
    }

    /// What those commits weigh: their writes' charged bytes.
    pub fn remembered_bytes(&self) -> usize {
        self.commits[self.forgotten..].iter().map(|c| c.bytes).sum()
    }

    fn forget_oldest(&mut self) {
        self.oldest = self.oldest.max(self.commits[self.forgotten].seq);
        self.forgotten += 1;
    }
}

/// Runs `ops` on a resolver made with `oldest` and `limits` and on the model, comparing
/// every answer, and `oldest()` after every change.
pub(crate) fn run_ops(make: Make, oldest: SeqNo, limits: ResolverLimits, ops: &[Op]) -> Outcome {
    let mut resolver = make(oldest, limits);
    let mut model = Model::new(oldest, limits);
    for (i, op) in ops.iter().enumerate() {
        let within = || context(&ops[..i], op);
        let (got, expected) = match op {
            Op::Record(c, w, now) => (resolver.record(*c, w, *now), model.record(*c, w, *now)),
            Op::Check(v, r) => (resolver.check(*v, r), model.check(*v, r)),
            Op::Trim(t) => {
                resolver.trim(*t);
                model.trim(*t);
                (Ok(()), Ok(()))
            }
            Op::Skip(c) => {
                resolver.skip(*c);
                model.skip(*c);
                (Ok(()), Ok(()))
            }
        };
        if got != expected {
            return Err(Problem::mismatch(op, show(&got), show(&expected)).within(within()));
        }
        if !matches!(op, Op::Check(..)) && resolver.oldest() != model.oldest() {
            return Err(Problem::mismatch(
                format_args!("oldest() after {op}"),
                resolver.oldest(),
                model.oldest(),
            )
            .within(within()));
        }
    }
    Ok(())
}

/// The calls before `op` that a failure of `op` shows: all of them when they are few;
/// else, for a check, the records whose writes meet its reads and every trim and skip
/// (what decides its answer), and for any other call the last few.
fn context(before: &[Op], op: &Op) -> String {
    const FEW: usize = 8;
    if before.is_empty() {
        return "on a new resolver".to_owned();
    }
    let shown: Vec<String> = if before.len() <= FEW {
        before.iter().map(Op::to_string).collect()
    } else if let Op::Check(_, reads) = op {
        let matters = |o: &&Op| match o {
            Op::Record(_, writes, _) => {
                writes.iter().any(|w| reads.iter().any(|r| r.intersects(w)))
            }
            Op::Trim(_) | Op::Skip(_) => true,
            Op::Check(..) => false,
        };
        let shown: Vec<String> = before.iter().filter(matters).map(Op::to_string).collect();
        let n = before.len();
        return match shown.is_empty() {
            true => format!("after {n} calls, no record among them writing what it reads"),
            false => format!(
                "after {n} calls, of which these write what it reads, trim or skip: {}",
                shown.join(", ")
            ),
        };
    } else {
        let n = before.len();
        let last: Vec<String> = before[n - FEW..].iter().map(Op::to_string).collect();
        return format!("after {n} calls, the last {FEW}: {}", last.join(", "));
    };
    format!("after {}", shown.join(", "))
}

/// `key` alone, in keyspace 0.
fn k(key: &str) -> KeyRange {
    KeyRange::key(0, key)
}

/// The keys of `range` in keyspace 0.
fn r(range: impl std::ops::RangeBounds<&'static str>) -> KeyRange {
    KeyRange::bounds(0, range).expect("the suite's ranges are not empty")
}

/// Runs fixed cases, each a description and its calls, on default limits.
fn fixed(
    name: &str,
    check: &'static str,
    make: Make,
    cases: Vec<(&str, Vec<Op>)>,
) -> Result<(), Failure> {
    let checking = Checking::new(name, check);
    for (case, ops) in cases {
        checking.case(case, || run_ops(make, 0, ResolverLimits::default(), &ops))?;
    }
    Ok(())
}

/// Point and range writes against point and range reads: a conflict exactly when they
/// share a key, naming the first range read that has one and the newest commit that
/// wrote into it.
///
/// # Errors
///
/// A [`Failure`] naming the call, the calls before it, and both answers.
pub fn conflicts(name: &str, make: Make) -> Result<(), Failure> {
    use Op::{Check, Record};
    fixed(
        name,
        "conflicts",
        make,
        vec![
            (
                "a point write, point reads",
                vec![
                    Record(2, vec![k("b")], 0),
                    Check(1, vec![k("b")]),
                    Check(1, vec![k("a")]),
                    Check(1, vec![k("b\0")]),
                    Check(1, vec![k("bb")]),
                ],
            ),
            (
                "a point write, range reads",
                vec![
                    Record(2, vec![k("m")], 0),
                    Check(1, vec![r("a".."z")]),
                    Check(1, vec![r("a".."m")]),
                    Check(1, vec![r("a"..="m")]),
                    Check(1, vec![r("n"..)]),
                    Check(1, vec![KeyRange::prefix(0, "m")]),
                    Check(1, vec![KeyRange::prefix(0, "")]),
                ],
            ),
            (
                "range writes, point and range reads",
                vec![
                    Record(3, vec![r("c".."f")], 0),
                    Check(2, vec![k("c")]),
                    Check(2, vec![k("e\u{7f}")]),
                    Check(2, vec![k("f")]),
                    Check(2, vec![r("a".."c")]),
                    Check(2, vec![r("a"..="c")]),
                    Check(2, vec![r("f"..)]),
                    Record(4, vec![r("x"..)], 0),
                    Check(3, vec![k("zzz")]),
                    Check(3, vec![r("w".."x")]),
                ],
            ),
            (
                "the first range read, the newest commit",
                vec![
                    Record(5, vec![k("a")], 0),
                    Record(6, vec![k("a"), k("b")], 0),
                    Record(7, vec![k("c")], 0),
                    Check(4, vec![k("z"), k("b"), k("a")]),
                    Check(4, vec![k("a"), k("c")]),
                    Check(5, vec![k("a")]),
                    Check(6, vec![r("a".."c"), k("c")]),
                ],
            ),
        ],
    )
}

/// A write at the read version is in the transaction's snapshot and does not conflict;
/// a write after it does; a check of nothing always passes.
///
/// # Errors
///
/// A [`Failure`] naming the call, the calls before it, and both answers.
pub fn read_version_edges(name: &str, make: Make) -> Result<(), Failure> {
    use Op::{Check, Record};
    fixed(
        name,
        "read_version_edges",
        make,
        vec![
            (
                "a write at the read version and one after it",
                vec![
                    Record(5, vec![k("k")], 0),
                    Check(5, vec![k("k")]),
                    Check(4, vec![k("k")]),
                    Check(6, vec![k("k")]),
                    Record(9, vec![k("k")], 0),
                    Check(5, vec![k("k")]),
                    Check(8, vec![k("k")]),
                    Check(9, vec![k("k")]),
                    Check(100, vec![k("k")]),
                ],
            ),
            (
                "a check of nothing",
                vec![
                    Record(3, vec![k("k")], 0),
                    Check(0, vec![]),
                    Check(2, vec![]),
                ],
            ),
            (
                "a commit that wrote nothing",
                vec![
                    Record(2, vec![], 0),
                    Check(1, vec![k("k")]),
                    Record(3, vec![k("k")], 0),
                    Check(2, vec![k("k")]),
                ],
            ),
        ],
    )
}

/// The same key in two keyspaces never conflicts; a whole keyspace written conflicts
/// with every read in it.
///
/// # Errors
///
/// A [`Failure`] naming the call, the calls before it, and both answers.
pub fn keyspaces_apart(name: &str, make: Make) -> Result<(), Failure> {
    use Op::{Check, Record};
    fixed(
        name,
        "keyspaces_apart",
        make,
        vec![
            (
                "one key in three keyspaces",
                vec![
                    Record(2, vec![KeyRange::key(1, "k")], 0),
                    Check(1, vec![KeyRange::key(0, "k")]),
                    Check(1, vec![KeyRange::key(2, "k")]),
                    Check(1, vec![KeyRange::key(1, "k")]),
                    Check(1, vec![KeyRange::prefix(0, ""), KeyRange::prefix(2, "")]),
                    Check(1, vec![KeyRange::prefix(0, ""), KeyRange::prefix(1, "")]),
                ],
            ),
            (
                "a whole keyspace written",
                vec![
                    Record(2, vec![KeyRange::key(1, "k")], 0),
                    Record(3, vec![KeyRange::prefix(0, "")], 0),
                    Check(2, vec![KeyRange::key(0, "z")]),
                    Check(2, vec![KeyRange::key(1, "z")]),
                    Check(2, vec![KeyRange::prefix(1, "")]),
                    Check(1, vec![KeyRange::prefix(1, "")]),
                ],
            ),
        ],
    )
}

/// After a trim, a skip, the age limit or the byte limit, a read version below what was
/// forgotten is `TooOld`, never `Ok`; commits out of order and ranges over the size limit
/// are refused.
///
/// # Errors
///
/// A [`Failure`] naming the call, the calls before it, and both answers.
pub fn too_old(name: &str, make: Make) -> Result<(), Failure> {
    use Op::{Check, Record, Skip, Trim};
    let checking = Checking::new(name, "too_old");
    let default = ResolverLimits::default();
    let cases: Vec<(&str, SeqNo, ResolverLimits, Vec<Op>)> = vec![
        (
            "trims",
            0,
            default,
            vec![
                Record(3, vec![k("a")], 0),
                Record(7, vec![k("b")], 0),
                Trim(5),
                Check(2, vec![k("b")]),
                Check(4, vec![k("b")]),
                Check(2, vec![]),
                Trim(7),
                Check(5, vec![k("b")]),
                Check(7, vec![k("b")]),
                Trim(100),
                Check(8, vec![k("b")]),
            ],
        ),
        (
            "a skip",
            0,
            default,
            vec![
                Record(3, vec![k("a")], 0),
                Skip(10),
                Check(9, vec![k("z")]),
                Check(10, vec![k("a")]),
                Record(10, vec![k("a")], 0),
                Record(11, vec![k("a")], 0),
                Check(10, vec![k("a")]),
            ],
        ),
        (
            "a resolver opened at version 10",
            10,
            default,
            vec![
                Check(9, vec![k("k")]),
                Check(10, vec![k("k")]),
                Record(10, vec![k("k")], 0),
                Record(12, vec![k("k")], 0),
                Record(11, vec![k("b")], 0),
                Check(10, vec![k("k")]),
            ],
        ),
        (
            "max_age_ms 100",
            0,
            ResolverLimits {
                max_age_ms: 100,
                ..default
            },
            vec![
                Record(1, vec![k("a")], 0),
                Record(2, vec![k("b")], 50),
                Record(3, vec![k("c")], 150),
                Check(0, vec![k("b")]),
                Check(1, vec![k("b")]),
                Record(4, vec![k("d")], 1_000),
                Check(3, vec![k("d")]),
            ],
        ),
        // A two-byte key is charged 2 + 3 + 32 = 37 bytes: the history holds two.
        (
            "max_history_bytes 100",
            0,
            ResolverLimits {
                max_history_bytes: 100,
                ..default
            },
            vec![
                Record(1, vec![k("k1")], 0),
                Record(2, vec![k("k2")], 0),
                Record(3, vec![k("k3")], 0),
                Check(0, vec![k("k3")]),
                Record(4, vec![k("k4")], 0),
                Check(1, vec![k("k2")]),
                Check(2, vec![k("k3")]),
            ],
        ),
        (
            "max_txn_bytes 50",
            0,
            ResolverLimits {
                max_txn_bytes: 50,
                ..default
            },
            vec![
                Check(0, vec![k("k1"), k("k2")]),
                Record(1, vec![k("k1"), k("k2")], 0),
                Check(0, vec![k("k1")]),
                Record(2, vec![k("k1")], 0),
                Check(0, vec![k("k1")]),
            ],
        ),
    ];
    for (case, oldest, limits, ops) in cases {
        checking.case(case, || run_ops(make, oldest, limits, &ops))?;
    }
    Ok(())
}

/// Random records, checks, trims and skips, for every seed of [`SEEDS`]: see
/// [`against_model_seed`].
///
/// # Errors
///
/// The first failing seed's [`Failure`].
pub fn against_model(name: &str, make: Make) -> Result<(), Failure> {
    SEEDS
        .into_iter()
        .try_for_each(|seed| against_model_seed(name, make, seed))
}

/// The limits of a seed: the defaults, a history of a few hundred bytes, or one of 20 ms.
fn seed_limits(seed: u64) -> ResolverLimits {
    let default = ResolverLimits::default();
    match seed % 3 {
        0 => default,
        1 => ResolverLimits {
            max_history_bytes: 400,
            max_txn_bytes: 250,
            ..default
        },
        _ => ResolverLimits {
            max_age_ms: 20,
            ..default
        },
    }
}

/// A random key of one or two bytes from a small alphabet, so that keys collide, one is
/// often a prefix of another, and `\0` and `\xff` catch ends of ranges.
fn random_key(rng: &mut SmallRng) -> Vec<u8> {
    const ALPHABET: [u8; 4] = [0x00, b'a', b'b', 0xff];
    let len = rng.random_range(1..=2);
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect()
}

/// A random conflict range in keyspace 0 or 1: mostly single keys, some ranges, a few
/// prefixes and ranges open at the end.
fn random_range(rng: &mut SmallRng) -> KeyRange {
    let keyspace: KeyspaceId = rng.random_range(0..2);
    let (a, b) = (random_key(rng), random_key(rng));
    match rng.random_range(0..100) {
        0..60 => KeyRange::key(keyspace, a),
        60..85 => {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            KeyRange::new(keyspace, lo.clone(), Some(Bytes::from(hi)))
                .unwrap_or_else(|| KeyRange::key(keyspace, lo))
        }
        85..95 => KeyRange::prefix(keyspace, &a[..1]),
        _ => KeyRange::new(keyspace, a, None).expect("an open range holds keys"),
    }
}

/// The random operations of `seed`: records (1 to 3 versions apart, 0 to 9 ms apart),
/// checks at read versions a little behind the last commit, trims, and now and then a
/// skip.
pub(crate) fn random_ops(seed: u64) -> Vec<Op> {
    let mut rng = rng(seed);
    let (mut last, mut now) = (0u64, 0u64);
    let mut ops = Vec::new();
    for _ in 0..80 {
        let ranges = |rng: &mut SmallRng| -> Vec<KeyRange> {
            (0..rng.random_range(0..=4))
                .map(|_| random_range(rng))
                .collect()
        };
        let op = match rng.random_range(0..100) {
            0..45 => {
                last += rng.random_range(1..=3);
                now += rng.random_range(0..10);
                Op::Record(last, ranges(&mut rng), now)
            }
            45..90 => Op::Check(
                last.saturating_sub(rng.random_range(0..8)),
                ranges(&mut rng),
            ),
            90..97 => Op::Trim(last.saturating_sub(rng.random_range(0..6))),
            _ => {
                last += rng.random_range(1..=3);
                Op::Skip(last)
            }
        };
        ops.push(op);
    }
    ops
}

/// The random operations of `seed` ([`SEEDS`] lists the suite's), under the limits of
/// `seed` (the defaults, a history of 400 bytes, or one of 20 ms), on the resolver and
/// the model: every answer, and `oldest()` after every change, must agree.
///
/// # Errors
///
/// A [`Failure`] naming the seed, the call, the calls before it, and both answers.
pub fn against_model_seed(name: &str, make: Make, seed: u64) -> Result<(), Failure> {
    Checking::new(name, "against_model").seed(seed, || {
        run_ops(make, 0, seed_limits(seed), &random_ops(seed))
    })
}

/// Random concurrent transactions, for every seed of [`HISTORY_SEEDS`]: see
/// [`serializable_seed`].
///
/// # Errors
///
/// The first failing seed's [`Failure`].
pub fn serializable(name: &str, make: Make) -> Result<(), Failure> {
    HISTORY_SEEDS
        .into_iter()
        .try_for_each(|seed| serializable_seed(name, make, seed))
}

/// Keys per keyspace in a history: few, so that transactions collide.
const HISTORY_KEYS: u32 = 6;

/// Key `n` of a history: fixed width, so key order is number order.
fn history_key(n: u32) -> Bytes {
    Bytes::from(format!("k{n:02}"))
}

/// A key of a history: its keyspace and its bytes.
type Key = (Space, Bytes);

/// A transaction's writes: per key, a value, or `None` for a delete.
type Writes = BTreeMap<Key, Option<Bytes>>;

/// The committed versions of every key: what a snapshot at any read version reads.
#[derive(Default)]
struct Versions(BTreeMap<Key, Vec<(SeqNo, Option<Bytes>)>>);

impl Versions {
    fn get(&self, key: &Key, at: SeqNo) -> Option<Bytes> {
        let versions = self.0.get(key)?;
        let (_, value) = versions.iter().rev().find(|(seq, _)| *seq <= at)?;
        value.clone()
    }

    fn latest(&self) -> State {
        (self.0.keys())
            .filter_map(|key| Some((key.clone(), self.get(key, SeqNo::MAX)?)))
            .collect()
    }
}

/// A transaction of a history, running.
struct Running {
    id: usize,
    read_version: SeqNo,
    steps: Vec<Step>,
    reads: Vec<KeyRange>,
    writes: Writes,
}

impl Running {
    /// One random step: a point read, a scan, a put or a delete, reading its snapshot
    /// with its own writes laid over it, and noting what a serializable read records.
    fn step(&mut self, rng: &mut SmallRng, versions: &Versions) {
        let space: Space = rng.random_range(0..2);
        let key = history_key(rng.random_range(0..HISTORY_KEYS));
        let keyspace = KeyspaceId::from(space);
        let step = match rng.random_range(0..100) {
            0..35 => {
                let found = match self.writes.get(&(space, key.clone())) {
                    // Read-your-writes: answered from the buffer, recording nothing.
                    Some(written) => written.clone(),
                    None => {
                        self.reads.push(KeyRange::key(keyspace, &key));
                        versions.get(&(space, key.clone()), self.read_version)
                    }
                };
                Step::Get { space, key, found }
            }
            35..50 => {
                let a = rng.random_range(0..HISTORY_KEYS);
                let b = rng.random_range(a + 1..=HISTORY_KEYS);
                let (lo, hi) = (history_key(a), history_key(b));
                let mut found: BTreeMap<Bytes, Bytes> = (a..b)
                    .map(history_key)
                    .filter_map(|k| {
                        Some((k.clone(), versions.get(&(space, k), self.read_version)?))
                    })
                    .collect();
                let bounds = (space, lo.clone())..(space, hi.clone());
                for ((_, k), v) in self.writes.range(bounds) {
                    match v {
                        Some(v) => found.insert(k.clone(), v.clone()),
                        None => found.remove(k),
                    };
                }
                let reverse = rng.random_bool(0.5);
                let mut found: Vec<(Bytes, Bytes)> = found.into_iter().collect();
                if reverse {
                    found.reverse();
                }
                let range =
                    KeyRange::new(keyspace, lo.clone(), Some(hi.clone())).expect("lo is below hi");
                self.reads.push(range);
                Step::Scan {
                    space,
                    lo,
                    hi,
                    reverse,
                    found,
                }
            }
            50..85 => {
                let value = Bytes::from(format!("t{}.{}", self.id, self.steps.len()));
                self.writes
                    .insert((space, key.clone()), Some(value.clone()));
                Step::Put { space, key, value }
            }
            _ => {
                self.writes.insert((space, key.clone()), None);
                Step::Delete { space, key }
            }
        };
        self.steps.push(step);
    }

    /// Its writes as the batch the engine would write.
    fn batch(&self) -> WriteBatch {
        let mut batch = WriteBatch::new();
        for ((space, key), value) in &self.writes {
            match value {
                Some(value) => batch.put_in(KeyspaceId::from(*space), key, value),
                None => batch.delete_in(KeyspaceId::from(*space), key),
            };
        }
        batch
    }
}

/// A history in the making: the versions committed, the transactions running, and the
/// resolver deciding which commit.
struct History {
    resolver: Box<dyn ConflictResolver>,
    versions: Versions,
    running: Vec<Running>,
    committed: Vec<Committed>,
    last: SeqNo,
    now_ms: u64,
    next_id: usize,
    writers: usize,
}

impl History {
    fn begin(&mut self) {
        self.running.push(Running {
            id: self.next_id,
            read_version: self.last,
            steps: Vec::new(),
            reads: Vec::new(),
            writes: BTreeMap::new(),
        });
        self.next_id += 1;
    }

    /// Commits `txn` as the engine does: a transaction that wrote nothing at once, at its
    /// read version; one that wrote through the resolver's `admit`, as a write group of
    /// one, which says whether and where it commits.
    fn commit(&mut self, txn: Running) -> Outcome {
        if txn.writes.is_empty() {
            self.committed.push(Committed {
                thread: txn.id,
                commit: txn.read_version,
                steps: txn.steps,
            });
            return Ok(());
        }
        let batch = txn.batch();
        let mut check = TxnCheck {
            read_version: txn.read_version,
            ranges: txn.reads.iter().collect(),
            refused: None,
            commit: 0,
        };
        self.now_ms += 1;
        let last = (self.resolver).admit(self.last, &batch, Some(&mut check), self.now_ms, true);
        if check.refused.is_some() {
            ensure(last == self.last, || {
                format!(
                    "admit refused a transaction (at read version {}) but returned {last}, not \
                     the last sequence number before it, {}",
                    txn.read_version, self.last
                )
            })?;
            return Ok(());
        }
        let commit = self.last + batch.len() as u64;
        ensure(last == commit && check.commit == commit, || {
            format!(
                "admit let through a transaction of {} writes after {} but returned {last} and \
                 commit version {}, not {commit}",
                batch.len(),
                self.last,
                check.commit
            )
        })?;
        self.apply(commit, &txn.writes);
        self.writers += 1;
        self.committed.push(Committed {
            thread: txn.id,
            commit,
            steps: txn.steps,
        });
        Ok(())
    }

    /// A plain write of one key, not a transaction: it cannot be refused.
    fn plain_write(&mut self, rng: &mut SmallRng) {
        let space: Space = rng.random_range(0..2);
        let key = history_key(rng.random_range(0..HISTORY_KEYS));
        let value = Bytes::from(format!("plain{}", self.next_id));
        self.next_id += 1;
        let mut batch = WriteBatch::new();
        batch.put_in(KeyspaceId::from(space), &key, &value);
        self.now_ms += 1;
        self.last = self
            .resolver
            .admit(self.last, &batch, None, self.now_ms, true);
        let writes = BTreeMap::from([((space, key.clone()), Some(value.clone()))]);
        let commit = self.last;
        self.apply(commit, &writes);
        self.committed.push(Committed {
            thread: self.next_id - 1,
            commit,
            steps: vec![Step::Put { space, key, value }],
        });
    }

    fn apply(&mut self, commit: SeqNo, writes: &Writes) {
        for (key, value) in writes {
            let versions = self.versions.0.entry(key.clone()).or_default();
            versions.push((commit, value.clone()));
        }
        self.last = commit;
        // As the engine's leader: forget what no running transaction can conflict with.
        let oldest = (self.running.iter().map(|t| t.read_version).min()).unwrap_or(commit);
        self.resolver.trim(oldest);
    }
}

/// Transactions each history begins.
const HISTORY_TXNS: usize = 60;

/// The random history of `seed` ([`HISTORY_SEEDS`] lists the suite's): up to four
/// transactions at a time, each reading (points and scans) and writing over six keys in
/// each of two keyspaces, interleaved by a seeded generator, with plain writes among
/// them. Each transaction that wrote commits only if the resolver's
/// [`admit`](ConflictResolver::admit) lets it, as a write group of one, and the resolver is
/// trimmed to the oldest running read version after each commit, as the engine's leader
/// does. Then `ferris_txn_check::replay` runs the committed transactions one at a time in
/// commit order: each must read there what it read here. At least one transaction that
/// wrote must commit: refusing everything is safe and useless.
///
/// # Errors
///
/// A [`Failure`] naming the seed: the first transaction whose reads no serial order
/// explains (the replay's `Violation`), or an `admit` that numbered a commit wrongly.
pub fn serializable_seed(name: &str, make: Make, seed: u64) -> Result<(), Failure> {
    Checking::new(name, "serializable").seed(seed, || {
        let mut rng = rng(seed);
        let mut history = History {
            resolver: make(0, ResolverLimits::default()),
            versions: Versions::default(),
            running: Vec::new(),
            committed: Vec::new(),
            last: 0,
            now_ms: 0,
            next_id: 0,
            writers: 0,
        };
        let mut begun = 0;
        while begun < HISTORY_TXNS || !history.running.is_empty() {
            let action = rng.random_range(0..100);
            if begun < HISTORY_TXNS
                && (history.running.is_empty() || (action < 25 && history.running.len() < 4))
            {
                history.begin();
                begun += 1;
            } else if action < 30 {
                history.plain_write(&mut rng);
            } else {
                let i = rng.random_range(0..history.running.len());
                let done = history.running[i].steps.len() >= 5 || action >= 85;
                if done {
                    let txn = history.running.swap_remove(i);
                    history.commit(txn)?;
                } else {
                    history.running[i].step(&mut rng, &history.versions);
                }
            }
        }
        ensure(history.writers > 0, || {
            format!(
                "no transaction that wrote was let commit in {HISTORY_TXNS}: refusing \
                 everything is safe, and useless"
            )
        })?;
        let state = replay(history.committed).map_err(|violation| {
            Problem::from(format!(
                "the transactions this resolver let commit are not serializable (a \"thread\" \
                 here is a transaction's number, in the order begun, plain writes counted): \
                 {violation}"
            ))
        })?;
        ensure(state == history.versions.latest(), || {
            "the replay's final state differs from the committed versions (a bug in the \
             suite, not the resolver)"
        })
    })
}
