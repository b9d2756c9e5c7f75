//! The model: what the database must hold, and after a power cut, what it may hold.

use std::collections::BTreeMap;
use std::ops::Bound;

/// Keys to values: what a correct database holds.
pub(crate) type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The puts (`Some`) and deletes (`None`) of one write call, applied atomically.
pub(crate) type Mutation = Vec<(Vec<u8>, Option<Vec<u8>>)>;

pub(crate) fn apply(model: &mut Model, mutation: &Mutation) {
    for (k, v) in mutation {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

/// The entries of `model` in `lo..hi`, in key order; empty for an empty or inverted range
/// (where `BTreeMap::range` would panic, the engine yields nothing).
pub(crate) fn range(
    model: &Model,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let empty = match (&lo, &hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    };
    if empty {
        return Vec::new();
    }
    model
        .range((lo, hi))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The history the prefix check needs: the state at the last point where everything
/// acknowledged was durable, and every write issued since, in order.
///
/// After a power cut the recovered state must be `durable` with the first `j` of `since`
/// applied, for some `j`: every durable write is there (`j >= 0`), nothing from later
/// is there without everything before it (no holes), and nothing that was never
/// written appears. The last entry of `since` may be a write that failed because the power
/// went: it may or may not have reached the disk.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// The state at the last durability point.
    pub(crate) durable: Model,
    /// The workload step of the last durability point.
    pub(crate) durable_step: Option<usize>,
    /// Writes issued after it, with their workload steps, oldest first.
    pub(crate) since: Vec<(usize, Mutation)>,
    /// Every acknowledged write applied: what reads must see.
    pub(crate) current: Model,
}

impl History {
    /// Records a write about to be issued: from now on it may be on the disk.
    pub(crate) fn issue(&mut self, step: usize, mutation: Mutation) {
        self.since.push((step, mutation));
    }

    /// The write issued last was acknowledged.
    pub(crate) fn acknowledge(&mut self) {
        if let Some((_, mutation)) = self.since.last() {
            apply(&mut self.current, mutation);
        }
    }

    /// Everything acknowledged so far is durable, as of `step`.
    pub(crate) fn durable_at(&mut self, step: usize) {
        for (_, mutation) in self.since.drain(..) {
            apply(&mut self.durable, &mutation);
        }
        self.durable_step = Some(step);
        debug_assert_eq!(self.durable, self.current);
    }

    /// After a restart: `recovered` (a prefix of the history, checked) is now what the
    /// disk holds, durably, as of `step`.
    pub(crate) fn settle(&mut self, recovered: Model, step: usize) {
        self.current = recovered.clone();
        self.durable = recovered;
        self.since.clear();
        self.durable_step = Some(step);
    }

    /// The prefix `recovered` equals: `Some(j)` if it is `durable` with the first `j`
    /// writes of `since` applied (the longest such `j`).
    pub(crate) fn matching_prefix(&self, recovered: &Model) -> Option<usize> {
        let mut state = self.durable.clone();
        let mut found = (state == *recovered).then_some(0);
        for (j, (_, mutation)) in self.since.iter().enumerate() {
            apply(&mut state, mutation);
            if state == *recovered {
                found = Some(j + 1);
            }
        }
        found
    }

    /// Why `recovered` is no prefix, key by key: the keys whose recovered value no prefix
    /// gives (lost durable writes, or values never written), or, when every key on its own
    /// is explained, a note that the combination is not (a hole: a later write kept while
    /// an earlier one was lost).
    pub(crate) fn explain(&self, recovered: &Model) -> (bool, String) {
        let mut keys: Vec<&Vec<u8>> = self.durable.keys().chain(recovered.keys()).collect();
        for (_, mutation) in &self.since {
            keys.extend(mutation.iter().map(|(k, _)| k));
        }
        keys.sort();
        keys.dedup();
        let mut unexplained = Vec::new();
        for k in keys {
            let got = recovered.get(k);
            let mut allowed = vec![self.durable.get(k)];
            for (_, mutation) in &self.since {
                for (mk, mv) in mutation {
                    if mk == k {
                        allowed.push(mv.as_ref());
                    }
                }
            }
            if !allowed.contains(&got) {
                unexplained.push(format!(
                    "{}: recovered {}, durable {}",
                    show(k),
                    show_value(got),
                    show_value(self.durable.get(k))
                ));
            }
        }
        let steps: Vec<usize> = self.since.iter().map(|(s, _)| *s).collect();
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

    fn m(pairs: &[(&str, &str)]) -> Model {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn put(k: &str, v: &str) -> Mutation {
        vec![(k.as_bytes().to_vec(), Some(v.as_bytes().to_vec()))]
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
        assert_eq!(h.matching_prefix(&m(&[("a", "1")])), Some(0));
        assert_eq!(h.matching_prefix(&m(&[("a", "1"), ("b", "2")])), Some(1));
        assert_eq!(
            h.matching_prefix(&m(&[("a", "1"), ("b", "2"), ("c", "3")])),
            Some(2)
        );
        // c without b: a hole.
        let hole = m(&[("a", "1"), ("c", "3")]);
        assert_eq!(h.matching_prefix(&hole), None);
        assert!(!h.explain(&hole).0);
        // a lost: a durable write gone.
        let lost = m(&[("b", "2")]);
        assert_eq!(h.matching_prefix(&lost), None);
        let (unexplained, why) = h.explain(&lost);
        assert!(unexplained, "{why}");
        assert!(why.contains("a: recovered nothing, durable 1"), "{why}");
    }

    #[test]
    fn inverted_ranges_are_empty() {
        let model = m(&[("a", "1"), ("b", "2")]);
        let b = |s: &str| s.as_bytes().to_vec();
        assert!(range(&model, Bound::Included(b("b")), Bound::Excluded(b("a"))).is_empty());
        assert!(range(&model, Bound::Excluded(b("a")), Bound::Excluded(b("a"))).is_empty());
        assert_eq!(
            range(&model, Bound::Included(b("a")), Bound::Included(b("a"))).len(),
            1
        );
    }
}
