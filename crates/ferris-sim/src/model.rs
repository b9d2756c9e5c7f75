//! The model: what the database must hold, and after a power cut, what it may hold.
//!
//! The model keeps every value with its expiry time ([`Timed`]), and what a reader sees
//! is that as of a moment on the simulated clock ([`visible`]): an expired value is
//! absent, as the engine reads it. The model keeps only each key's newest value, so an
//! expired one hides nothing older, exactly as the engine's expired version hides the
//! versions behind it.

use std::collections::BTreeMap;
use std::ops::Bound;

use ferris_core::expiry::{self, NEVER};

/// Keys to values: what a reader of a keyspace sees, at one moment.
pub(crate) type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The name of the default keyspace, which always exists.
pub(crate) const DEFAULT: &str = "default";

/// Every live keyspace, by name, with its contents as a reader sees them at one moment.
pub(crate) type State = BTreeMap<String, Model>;

/// A value as the model keeps it: its bytes, and its expiry time in milliseconds on the
/// simulated clock ([`NEVER`] for one that does not expire), fixed when it was written
/// (`ferris_core::expiry::expires_at` of the clock's reading and the time to live).
pub(crate) type Stored = (Vec<u8>, u64);

/// Keys to values with their expiry times: what a correct keyspace holds.
pub(crate) type Timed = BTreeMap<Vec<u8>, Stored>;

/// Every live keyspace, by name, with its contents and their expiry times: what a correct
/// database holds.
pub(crate) type TimedState = BTreeMap<String, Timed>;

/// A state with only the empty default keyspace: a new database.
pub(crate) fn empty_state() -> TimedState {
    TimedState::from([(DEFAULT.to_string(), Timed::new())])
}

/// Whether a stored value is still readable at `now`.
fn live_at(stored: &Stored, now: u64) -> bool {
    !expiry::is_expired(stored.1, now)
}

/// What a reader of keyspace `model` sees of `k` at `now`.
pub(crate) fn get_at<'m>(model: &'m Timed, k: &[u8], now: u64) -> Option<&'m Vec<u8>> {
    (model.get(k)).and_then(|stored| live_at(stored, now).then_some(&stored.0))
}

/// What a reader of `model` sees at `now`.
pub(crate) fn visible_model(model: &Timed, now: u64) -> Model {
    (model.iter())
        .filter(|(_, stored)| live_at(stored, now))
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

/// What a reader of the database sees at `now`: every keyspace, without what has expired.
pub(crate) fn visible(state: &TimedState, now: u64) -> State {
    (state.iter())
        .map(|(name, model)| (name.clone(), visible_model(model, now)))
        .collect()
}

/// One write call, applied atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mutation {
    /// Puts (`Some`, with their expiry times) and deletes (`None`), each in a keyspace
    /// (by name) that is live when the write is issued: a put, a delete or a batch,
    /// across keyspaces or not.
    Write(Vec<(String, Vec<u8>, Option<Stored>)>),
    /// A range delete in a live keyspace: every key from `lo` on, up to `hi` (exclusive;
    /// `None`: to the end), is gone.
    DeleteRange {
        /// The keyspace's name.
        keyspace: String,
        /// The first key deleted.
        lo: Vec<u8>,
        /// The first key past the range, if any.
        hi: Option<Vec<u8>>,
    },
    /// `Db::keyspace` of a keyspace that did not exist: it now does, empty.
    Create(String),
    /// `Db::drop_keyspace` of a live keyspace: it is gone with its contents.
    Drop(String),
}

impl Mutation {
    /// A write into the default keyspace alone.
    pub(crate) fn default_write(entries: Vec<(Vec<u8>, Option<Stored>)>) -> Mutation {
        let entries = entries
            .into_iter()
            .map(|(k, v)| (DEFAULT.to_string(), k, v));
        Mutation::Write(entries.collect())
    }

    /// Whether this creates or drops a keyspace. The engine makes those durable (in the
    /// manifest) before it acknowledges them, without syncing the WAL, so an acknowledged
    /// one survives a power cut even when unsynced writes issued before it do not.
    fn is_schema(&self) -> bool {
        !matches!(self, Mutation::Write(_) | Mutation::DeleteRange { .. })
    }
}

pub(crate) fn apply(state: &mut TimedState, mutation: &Mutation) {
    match mutation {
        Mutation::Write(entries) => {
            for (ks, k, v) in entries {
                let model = state.entry(ks.clone()).or_default();
                match v {
                    Some(v) => model.insert(k.clone(), v.clone()),
                    None => model.remove(k),
                };
            }
        }
        Mutation::DeleteRange { keyspace, lo, hi } => {
            let model = state.entry(keyspace.clone()).or_default();
            let hi = hi.clone().map_or(Bound::Unbounded, Bound::Excluded);
            let doomed: Vec<Vec<u8>> = (entries_in(model, Bound::Included(lo.clone()), hi))
                .map(|(k, _)| k.clone())
                .collect();
            for k in doomed {
                model.remove(&k);
            }
        }
        Mutation::Create(name) => {
            state.entry(name.clone()).or_default();
        }
        Mutation::Drop(name) => {
            state.remove(name);
        }
    }
}

/// The entries of `map` in `lo..hi`, in key order; none for an empty or inverted range
/// (where `BTreeMap::range` would panic, the engine yields nothing).
fn entries_in<V>(
    map: &BTreeMap<Vec<u8>, V>,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
) -> impl Iterator<Item = (&Vec<u8>, &V)> {
    let empty = match (&lo, &hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    };
    (!empty).then(|| map.range((lo, hi))).into_iter().flatten()
}

/// The entries of `model` in `lo..hi`, in key order (see [`entries_in`]).
pub(crate) fn range(
    model: &Model,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    (entries_in(model, lo, hi))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The entries of `model` in `lo..hi` that a reader at `now` sees, in key order.
pub(crate) fn range_at(
    model: &Timed,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    now: u64,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    (entries_in(model, lo, hi))
        .filter(|(_, stored)| live_at(stored, now))
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

/// How many values of `model` in `lo..=hi` expired after `since` and by `now`: what a
/// compaction over that range at `now` may meet that no compaction before `since` could
/// have turned into a tombstone.
pub(crate) fn expired_between(
    model: &Timed,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    since: u64,
    now: u64,
) -> usize {
    (entries_in(model, lo, hi))
        .filter(|(_, (_, at))| *at != NEVER && since < *at && *at <= now)
        .count()
}

/// The history the prefix check needs: the state at the last point where everything
/// acknowledged was durable, and every write issued since, in order.
///
/// After a power cut the recovered state must be `durable` with the first `j` of `since`
/// applied, for some `j`: every durable write is there (`j >= 0`), nothing from later
/// is there without everything before it (no holes), and nothing that was never
/// written appears. The last entry of `since` may be a write that failed because the power
/// went: it may or may not have reached the disk.
///
/// One exception: a keyspace created or dropped is durable when the call returns (the
/// engine writes it to the manifest and syncs that), while unsynced writes issued before
/// it are not. So in the state of prefix `j`, every *acknowledged* creation and drop of
/// `since` is applied in its place, whatever `j` is; only writes (and a creation or drop
/// still in flight at the cut) wait for `j`. With synced writes nothing acknowledged is
/// ever in doubt, and this is the plain prefix rule.
///
/// States hold values with their expiry times; a recovered database is compared with a
/// prefix as a reader sees it now ([`visible`]), since the clock does not stop for a
/// power cut: a value that expired while the power was off is absent from every prefix.
#[derive(Debug)]
pub(crate) struct History {
    /// The state at the last durability point.
    pub(crate) durable: TimedState,
    /// The workload step of the last durability point.
    pub(crate) durable_step: Option<usize>,
    /// Writes issued after it, with their workload steps and whether they were
    /// acknowledged, oldest first.
    pub(crate) since: Vec<(usize, Mutation, bool)>,
    /// Every acknowledged write applied: what reads must see (as of the clock's time).
    pub(crate) current: TimedState,
}

impl Default for History {
    fn default() -> Self {
        History {
            durable: empty_state(),
            durable_step: None,
            since: Vec::new(),
            current: empty_state(),
        }
    }
}

impl History {
    /// Records a write about to be issued: from now on it may be on the disk.
    pub(crate) fn issue(&mut self, step: usize, mutation: Mutation) {
        self.since.push((step, mutation, false));
    }

    /// The write issued last was acknowledged.
    pub(crate) fn acknowledge(&mut self) {
        if let Some((_, mutation, acked)) = self.since.last_mut() {
            apply(&mut self.current, mutation);
            *acked = true;
        }
    }

    /// Everything acknowledged so far is durable, as of `step`.
    pub(crate) fn durable_at(&mut self, step: usize) {
        for (_, mutation, _) in self.since.drain(..) {
            apply(&mut self.durable, &mutation);
        }
        self.durable_step = Some(step);
        debug_assert_eq!(self.durable, self.current);
    }

    /// After a restart: `recovered` (a prefix of the history, checked, with its values'
    /// expiry times) is now what the disk holds, durably, as of `step`.
    pub(crate) fn settle(&mut self, recovered: TimedState, step: usize) {
        self.current = recovered.clone();
        self.durable = recovered;
        self.since.clear();
        self.durable_step = Some(step);
    }

    /// The states a power cut may leave: for each prefix `j`, `durable` with the first `j`
    /// of `since` applied, and every acknowledged keyspace creation and drop after them
    /// (see [`History`]). A creation or drop in flight at the cut may have reached the
    /// manifest whatever became of the unsynced writes before it, so then each prefix
    /// comes with and without it. Longest prefix first.
    fn candidates(&self) -> Vec<(usize, TimedState)> {
        let in_flight_schema =
            matches!(self.since.last(), Some((_, mutation, false)) if mutation.is_schema());
        let mut out = Vec::new();
        for j in (0..=self.since.len()).rev() {
            for with_in_flight in [false, true] {
                if with_in_flight && !in_flight_schema {
                    continue;
                }
                let mut state = self.durable.clone();
                for (i, (_, mutation, acked)) in self.since.iter().enumerate() {
                    let schema = mutation.is_schema() && (*acked || with_in_flight);
                    if i < j || schema {
                        apply(&mut state, mutation);
                    }
                }
                out.push((j, state));
            }
        }
        out
    }

    /// The prefix `recovered` (read at `now`) is: `Some(j)` and the state of prefix `j`
    /// with its expiry times if a reader at `now` sees that state as `recovered` (the
    /// longest such `j`). Every value names the write that made it, and a write fixes its
    /// values' expiry times, so the values a reader sees say what their expiry times are.
    pub(crate) fn matching_prefix(
        &self,
        recovered: &State,
        now: u64,
    ) -> Option<(usize, TimedState)> {
        let candidates = self.candidates();
        (candidates.into_iter()).find(|(_, state)| visible(state, now) == *recovered)
    }

    /// Why `recovered` is no prefix, keyspace by keyspace and key by key: the keyspaces
    /// and keys whose recovered presence or value no prefix gives (lost durable writes,
    /// creations or drops, or values never written), or, when every one on its own is
    /// explained, a note that the combination is not (a hole: a later write kept while an
    /// earlier one was lost).
    /// Values are compared as a reader at `now` sees them.
    pub(crate) fn explain(&self, recovered: &State, now: u64) -> (bool, String) {
        let candidates: Vec<Flat> = (self.candidates().iter())
            .map(|(_, state)| flatten(&visible(state, now)))
            .collect();
        let got = flatten(recovered);
        let durable = flatten(&visible(&self.durable, now));
        let mut keys: Vec<&String> = candidates.iter().flat_map(|c| c.keys()).collect();
        keys.extend(got.keys());
        keys.sort();
        keys.dedup();
        let mut unexplained = Vec::new();
        for k in keys {
            let value = got.get(k);
            if !candidates.iter().any(|c| c.get(k) == value) {
                unexplained.push(format!(
                    "{k}: recovered {}, durable {}",
                    show_value(value),
                    show_value(durable.get(k))
                ));
            }
        }
        let steps: Vec<usize> = self.since.iter().map(|(s, _, _)| *s).collect();
        let context = format!(
            "last durable point at step {:?}; {} write(s) in doubt after it (steps {steps:?})",
            self.durable_step,
            self.since.len()
        );
        if unexplained.is_empty() {
            (
                false,
                format!(
                    "every key holds a value some prefix allows, but no single prefix \
                     matches: a hole ({context})"
                ),
            )
        } else {
            let n = unexplained.len();
            unexplained.truncate(8);
            (
                true,
                format!(
                    "{n} key(s) hold what no prefix allows: {} ({context})",
                    unexplained.join("; ")
                ),
            )
        }
    }
}

/// A state as one map, for explaining a failure: `keyspace <name>` to `live` for each
/// live keyspace other than the default, and each key as `<keyspace>/<key>` (the default
/// keyspace's keys bare, as they always were) to its value.
type Flat = BTreeMap<String, Vec<u8>>;

fn flatten(state: &State) -> Flat {
    let mut flat = Flat::new();
    for (ks, model) in state {
        if ks != DEFAULT {
            flat.insert(format!("keyspace {ks}"), b"live".to_vec());
        }
        for (k, v) in model {
            let name = match ks.as_str() {
                DEFAULT => show(k),
                _ => format!("{ks}/{}", show(k)),
            };
            flat.insert(name, v.clone());
        }
    }
    flat
}

/// A key or value for a failure message: lossy UTF-8, long values cut short.
pub(crate) fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(24) {
        Some((i, _)) => format!("{}…({} bytes)", &text[..i], bytes.len()),
        None => text.into_owned(),
    }
}

pub(crate) fn show_value(v: Option<&Vec<u8>>) -> String {
    v.map_or_else(|| "nothing".to_string(), |v| show(v))
}

/// The first difference between two lists of entries, for a failure message.
pub(crate) fn first_difference(got: &[(Vec<u8>, Vec<u8>)], want: &[(Vec<u8>, Vec<u8>)]) -> String {
    for (i, pair) in got.iter().zip(want).enumerate() {
        if pair.0 != pair.1 {
            return format!(
                "entry {i}: got {} = {}, want {} = {} ({} entries, want {})",
                show(&pair.0.0),
                show(&pair.0.1),
                show(&pair.1.0),
                show(&pair.1.1),
                got.len(),
                want.len()
            );
        }
    }
    format!(
        "got {} entries, want {}; the first {} agree",
        got.len(),
        want.len(),
        got.len().min(want.len())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(pairs: &[(&str, &str)]) -> Model {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    /// A state with only the default keyspace, holding `pairs`.
    fn m(pairs: &[(&str, &str)]) -> State {
        State::from([(DEFAULT.to_string(), model(pairs))])
    }

    fn put(k: &str, v: &str) -> Mutation {
        put_in(DEFAULT, k, v)
    }

    fn put_in(ks: &str, k: &str, v: &str) -> Mutation {
        let (k, v) = (k.as_bytes().to_vec(), v.as_bytes().to_vec());
        Mutation::Write(vec![(ks.to_string(), k, Some(lasting(v)))])
    }

    /// A stored value that never expires.
    fn lasting(value: Vec<u8>) -> Stored {
        (value, NEVER)
    }

    /// A put into the default keyspace that expires at `at`.
    fn put_until(k: &str, v: &str, at: u64) -> Mutation {
        let (k, v) = (k.as_bytes().to_vec(), v.as_bytes().to_vec());
        Mutation::default_write(vec![(k, Some((v, at)))])
    }

    /// The prefix `recovered` is, as read at time 0 (when nothing has expired).
    fn prefix(h: &History, recovered: &State) -> Option<usize> {
        h.matching_prefix(recovered, 0).map(|(j, _)| j)
    }

    #[test]
    fn prefixes_match_and_holes_do_not() {
        let mut h = History::default();
        h.issue(0, put("a", "1"));
        h.acknowledge();
        h.durable_at(0);
        h.issue(1, put("b", "2"));
        h.acknowledge();
        h.issue(2, put("c", "3"));
        assert_eq!(prefix(&h, &m(&[("a", "1")])), Some(0));
        assert_eq!(prefix(&h, &m(&[("a", "1"), ("b", "2")])), Some(1));
        assert_eq!(
            prefix(&h, &m(&[("a", "1"), ("b", "2"), ("c", "3")])),
            Some(2)
        );
        // c without b: a hole.
        let hole = m(&[("a", "1"), ("c", "3")]);
        assert_eq!(prefix(&h, &hole), None);
        assert!(!h.explain(&hole, 0).0);
        // a lost: a durable write gone.
        let lost = m(&[("b", "2")]);
        assert_eq!(prefix(&h, &lost), None);
        let (unexplained, why) = h.explain(&lost, 0);
        assert!(unexplained, "{why}");
        assert!(why.contains("a: recovered nothing, durable 1"), "{why}");
    }

    #[test]
    fn acknowledged_creations_and_drops_hold_in_every_prefix() {
        let mut h = History::default();
        h.issue(0, Mutation::Create("red".into()));
        h.acknowledge();
        h.durable_at(0);
        // Unsynced: a write into red, then red dropped (durable on return), then a
        // batch across default and blue, with blue's creation in between.
        h.issue(1, put_in("red", "a", "1"));
        h.acknowledge();
        h.issue(2, Mutation::Drop("red".into()));
        h.acknowledge();
        h.issue(3, Mutation::Create("blue".into()));
        h.acknowledge();
        let both = Mutation::Write(vec![
            (DEFAULT.into(), b"x".to_vec(), Some(lasting(b"2".to_vec()))),
            ("blue".into(), b"y".to_vec(), Some(lasting(b"3".to_vec()))),
        ]);
        h.issue(4, both);
        let blue = |pairs: &[(&str, &str)]| {
            let mut state = m(pairs);
            state.insert("blue".into(), model(&[]));
            state
        };
        // Every write lost: red stays dropped and blue stays created all the same.
        assert_eq!(prefix(&h, &blue(&[])), Some(3));
        let mut all = m(&[("x", "2")]);
        all.insert("blue".into(), model(&[("y", "3")]));
        assert_eq!(prefix(&h, &all), Some(4));
        // Red come back, or blue gone: no prefix.
        let mut red_back = blue(&[]);
        red_back.insert("red".into(), model(&[("a", "1")]));
        assert_eq!(prefix(&h, &red_back), None);
        let (unexplained, why) = h.explain(&red_back, 0);
        assert!(unexplained, "{why}");
        assert!(why.contains("keyspace red: recovered live"), "{why}");
        assert_eq!(prefix(&h, &m(&[])), None);
        // Half of the batch across keyspaces: no prefix.
        let mut half = m(&[("x", "2")]);
        half.insert("blue".into(), model(&[]));
        assert_eq!(prefix(&h, &half), None);
        assert!(!h.explain(&half, 0).0);
    }

    #[test]
    fn a_creation_in_flight_may_survive_without_the_writes_before_it() {
        let mut h = History::default();
        h.issue(0, put("a", "1"));
        h.acknowledge();
        h.issue(1, Mutation::Create("red".into()));
        // The power went during the creation: it may be in the manifest, while the
        // unsynced put before it never reached the disk.
        let mut red = m(&[]);
        red.insert("red".into(), model(&[]));
        assert_eq!(prefix(&h, &red), Some(0));
        assert_eq!(prefix(&h, &m(&[])), Some(0));
        assert_eq!(prefix(&h, &m(&[("a", "1")])), Some(1));
    }

    #[test]
    fn prefixes_are_judged_as_a_reader_sees_them_at_the_time_of_the_check() {
        let mut h = History::default();
        h.issue(0, put_until("a", "1", 100));
        h.acknowledge();
        h.issue(1, put("b", "2"));
        h.acknowledge();
        h.durable_at(1);
        h.issue(2, put_until("b", "3", 200));
        h.acknowledge();
        // Before either expires, the plain prefix rule.
        assert_eq!(prefix(&h, &m(&[("a", "1"), ("b", "2")])), Some(0));
        assert_eq!(prefix(&h, &m(&[("a", "1"), ("b", "3")])), Some(1));
        // At 150, `a` has expired in every prefix: a database that still shows it lost
        // nothing, it shows what no reader may see.
        let at = |recovered: &State, now| h.matching_prefix(recovered, now).map(|(j, _)| j);
        assert_eq!(at(&m(&[("b", "2")]), 150), Some(0));
        assert_eq!(at(&m(&[("b", "3")]), 150), Some(1));
        let (unexplained, why) = h.explain(&m(&[("a", "1"), ("b", "2")]), 150);
        assert!(unexplained && why.contains("a: recovered 1"), "{why}");
        // At 200 the in-doubt write has expired too, and hides the older `b`: whether
        // it reached the disk or not, a reader sees the same two states apart.
        assert_eq!(at(&m(&[]), 200), Some(1));
        assert_eq!(at(&m(&[("b", "2")]), 200), Some(0));
        // The matched prefix comes with its expiry times, for the model to go on with.
        let (_, state) = h.matching_prefix(&m(&[("b", "3")]), 150).unwrap();
        assert_eq!(state[DEFAULT][&b"b"[..]], (b"3".to_vec(), 200));
        assert_eq!(get_at(&state[DEFAULT], b"b", 199), Some(&b"3".to_vec()));
        assert_eq!(get_at(&state[DEFAULT], b"b", 200), None);
        let all = (Bound::Unbounded, Bound::Unbounded);
        assert_eq!(
            range_at(&state[DEFAULT], all.0.clone(), all.1.clone(), 150).len(),
            1
        );
        assert_eq!(expired_between(&state[DEFAULT], all.0, all.1, 50, 150), 1);
    }

    #[test]
    fn inverted_ranges_are_empty() {
        let model = model(&[("a", "1"), ("b", "2")]);
        let b = |s: &str| s.as_bytes().to_vec();
        assert!(range(&model, Bound::Included(b("b")), Bound::Excluded(b("a"))).is_empty());
        assert!(range(&model, Bound::Excluded(b("a")), Bound::Excluded(b("a"))).is_empty());
        assert_eq!(
            range(&model, Bound::Included(b("a")), Bound::Included(b("a"))).len(),
            1
        );
    }
}
