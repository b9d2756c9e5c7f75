//! The oracle: what the database must hold after a kill, given what was acknowledged.
//!
//! The check is a pure function of the model carried from the last cycle, the numbers of
//! the operations acknowledged in this one, and the contents read back, so its rules can be
//! tested on made-up contents without killing anything (see the tests below).

use std::collections::{BTreeMap, BTreeSet};

use crate::workload::{ACCOUNTS, Op, Workload, WriteId, balance, parse_value};

/// The last write to a key that the model knows took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Last {
    id: WriteId,
    /// `None` for a delete.
    value: Option<Vec<u8>>,
}

/// What the database holds, as far as the parent knows: for each key ever written, the
/// last write known to have taken effect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    keys: BTreeMap<Vec<u8>, Last>,
}

impl Model {
    /// Applies the effects of `op`, written by `id` ([`Model::effects`]).
    pub fn apply(&mut self, id: WriteId, op: &Op) {
        for (key, value) in self.effects(op) {
            self.keys.insert(key, Last { id, value });
        }
    }

    /// What `op` leaves in the database if it runs on what this model holds: its
    /// [`Op::effects`], or for an [`Op::Transfer`] that commits, the two balances it
    /// writes after reading them here ([`Op::transfer_writes`]). Each thread owns its
    /// keys and runs one operation at a time, so when one of its operations runs, its
    /// keys hold what the model of its earlier ones says: this is what the child's
    /// transaction read, unless the database read wrong (then it wrote other values, and
    /// the check finds them).
    pub fn effects(&self, op: &Op) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        match op {
            Op::Transfer {
                from,
                to,
                commit: true,
                ..
            } => {
                // The model only ever holds balances in accounts, so this always writes;
                // a value that is none reads as an empty transfer, which the check then
                // reports at that key.
                let writes = op.transfer_writes(self.value(from), self.value(to));
                (writes.into_iter().flatten())
                    .map(|(key, value)| (key, Some(value)))
                    .collect()
            }
            _ => op.effects(),
        }
    }

    /// The value the model holds for `key`.
    pub fn value(&self, key: &[u8]) -> Option<&[u8]> {
        self.keys.get(key).and_then(|l| l.value.as_deref())
    }

    /// Keys that hold a value.
    pub fn len(&self) -> usize {
        self.keys.values().filter(|l| l.value.is_some()).count()
    }

    /// Whether no key holds a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn describe_want(&self, key: &[u8]) -> String {
        match self.keys.get(key) {
            None => "nothing (the key was never written)".to_string(),
            Some(Last { id, value: None }) => format!("nothing (deleted by {id})"),
            Some(Last { id, value: Some(_) }) => format!("the value written by {id}"),
        }
    }
}

/// What a successful check found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The model to carry into the next cycle: the acknowledged writes, plus each
    /// unacknowledged one the database turned out to hold.
    pub model: Model,
    /// Keys compared (every key the model, the in-flight writes or the database name).
    pub keys_compared: usize,
    /// Acknowledged operations that changed contents (puts, deletes, batches).
    pub acked_writes: u64,
    /// Writes in flight at the kill (not acknowledged) that survived.
    pub unacked_survived: u32,
    /// Writes in flight at the kill that did not survive.
    pub unacked_lost: u32,
    /// Acknowledged transfers that committed ([`Op::Transfer`]), each checked.
    pub acked_transfers: u64,
    /// Transfers in flight at the kill: `[committing, never to commit]`. A committing
    /// one was whole or absent; one never to commit had to leave nothing.
    pub transfers_in_flight: [u32; 2],
}

/// Checks `observed` (every key and value the reopened database holds) after a kill in
/// `cycle`, in which thread `t` had its first `acked[t]` operations acknowledged.
///
/// The rules:
///
/// - every key holds what the acknowledged writes say (the last acknowledged put's value,
///   or nothing after an acknowledged delete), **or** what the one write each thread had
///   in flight at the kill would make it: that write may or may not have reached the WAL;
/// - that in-flight write is all there or not at all: a batch is never half applied;
/// - no key holds anything else (a value never written, an older value, a resurrected
///   delete).
///
/// # Errors
///
/// A list of every violation, each naming the key, what it should hold and what it holds,
/// with the writes named by cycle, thread and operation.
pub fn check(
    model: &Model,
    workload: &Workload,
    cycle: u32,
    acked: &[u64],
    observed: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<Checked, Vec<String>> {
    let mut must = model.clone();
    let (mut acked_writes, mut acked_transfers) = (0, 0);
    let mut transfers_in_flight = [0, 0];
    for (thread, &n) in (0u32..).zip(acked) {
        for op in 0..n {
            let id = WriteId { cycle, thread, op };
            let op = workload.op(cycle, thread, op);
            if !must.effects(&op).is_empty() {
                acked_writes += 1;
            }
            acked_transfers += u64::from(matches!(op, Op::Transfer { commit: true, .. }));
            must.apply(id, &op);
        }
    }

    // Each thread runs one operation at a time, so at most one per thread is in flight:
    // the one after its last acknowledgement.
    let mut in_flight: BTreeMap<Vec<u8>, (u32, Option<Vec<u8>>)> = BTreeMap::new();
    let mut in_flight_ops = Vec::new();
    for (thread, &n) in (0u32..).zip(acked) {
        let id = WriteId {
            cycle,
            thread,
            op: n,
        };
        let op = workload.op(cycle, thread, n);
        // Threads own their keys, so `must` holds what this thread's next operation reads.
        for (key, value) in must.effects(&op) {
            in_flight.insert(key, (thread, value));
        }
        if let Op::Transfer { commit, .. } = op {
            transfers_in_flight[usize::from(!commit)] += 1;
        }
        in_flight_ops.push((id, op));
    }

    let keys: BTreeSet<Vec<u8>> = must
        .keys
        .keys()
        .chain(observed.keys())
        .chain(in_flight.keys())
        .cloned()
        .collect();
    let mut problems = Vec::new();
    // Per thread, the keys showing its in-flight write applied and the keys showing it not.
    let mut with: BTreeMap<u32, Vec<&[u8]>> = BTreeMap::new();
    let mut without: BTreeMap<u32, Vec<&[u8]>> = BTreeMap::new();
    for key in &keys {
        let want = must.value(key);
        let got = observed.get(key).map(Vec::as_slice);
        let alt = in_flight.get(key);
        if got == want {
            if let Some((thread, value)) = alt
                && value.as_deref() != want
            {
                without.entry(*thread).or_default().push(key);
            }
        } else if let Some((thread, value)) = alt
            && got == value.as_deref()
        {
            with.entry(*thread).or_default().push(key);
        } else {
            let mut problem = format!(
                "key {} holds {}, but it must hold {}",
                show(key),
                describe(got),
                must.describe_want(key)
            );
            if let Some((thread, _)) = alt {
                let (id, _) = &in_flight_ops[*thread as usize];
                problem.push_str(&format!(
                    " (or what the unacknowledged {id} wrote: {})",
                    describe(alt.and_then(|(_, v)| v.as_deref()))
                ));
            }
            problems.push(problem);
        }
    }
    // Transfers only move balances between a thread's accounts, so they sum to zero in
    // every state a whole history leaves: a check of wholeness that needs no model.
    for thread in 0..workload.threads {
        let mut sum = 0i64;
        for n in 0..ACCOUNTS {
            let account = workload.account(thread, n);
            let found = observed.get(&account).map(Vec::as_slice);
            match balance(found) {
                Some(b) => sum += b,
                None => problems.push(format!(
                    "account {} holds {}, not a balance",
                    show(&account),
                    describe(found)
                )),
            }
        }
        if sum != 0 {
            problems.push(format!(
                "thread {thread}'s accounts sum to {sum}, not 0: a transfer is torn"
            ));
        }
    }
    for (thread, keys_with) in &with {
        if let Some(keys_without) = without.get(thread) {
            let (id, _) = &in_flight_ops[*thread as usize];
            problems.push(format!(
                "the batch of {id} (unacknowledged) is torn: key {} shows it, key {} does not",
                show(keys_with[0]),
                show(keys_without[0])
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut next = must;
    let mut unacked_survived = 0;
    let mut unacked_lost = 0;
    for (id, op) in &in_flight_ops {
        if with.contains_key(&id.thread) {
            next.apply(*id, op);
            unacked_survived += 1;
        } else if without.contains_key(&id.thread) {
            unacked_lost += 1;
        }
    }
    Ok(Checked {
        model: next,
        keys_compared: keys.len(),
        acked_writes,
        unacked_survived,
        unacked_lost,
        acked_transfers,
        transfers_in_flight,
    })
}

/// Checks `observed` (every key and value a read-only open saw while the child of `cycle`
/// was running) against the acknowledged history: thread `t` had `before[t]` operations
/// acknowledged when the open began, and `after[t]` by the time the child was killed.
///
/// Each thread owns its keys, so each thread's keys must show one prefix of its stream:
/// the model plus its first `k` operations of this cycle, for some `k` from `before[t]`
/// (every write acknowledged before the open is seen) to `after[t] + 1` (nothing is seen
/// that the thread had not written, or begun, by the kill). A batch seen in part matches
/// no prefix, and neither does a lost or invented value.
///
/// # Errors
///
/// One line per thread whose keys match no prefix, and per key no thread owns.
pub fn check_live(
    model: &Model,
    workload: &Workload,
    cycle: u32,
    before: &[u64],
    after: &[u64],
    observed: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut owned = BTreeSet::new();
    for (thread, (&first, &last)) in (0u32..).zip(before.iter().zip(after)) {
        let keys: Vec<Vec<u8>> = workload.keys(thread).collect();
        owned.extend(keys.iter().cloned());
        let mut must = model.clone();
        for op in 0..first {
            let id = WriteId { cycle, thread, op };
            must.apply(id, &workload.op(cycle, thread, op));
        }
        // Keys where the model differs from what was seen; applying an operation changes
        // only the keys it writes, so the count is kept up to date key by key.
        let differs =
            |must: &Model, key: &[u8]| must.value(key) != observed.get(key).map(Vec::as_slice);
        let mut differing = keys.iter().filter(|k| differs(&must, k)).count();
        let mut k = first;
        while differing > 0 && k <= last {
            let op = workload.op(cycle, thread, k);
            let written: BTreeSet<Vec<u8>> =
                must.effects(&op).into_iter().map(|(key, _)| key).collect();
            differing -= written.iter().filter(|key| differs(&must, key)).count();
            must.apply(
                WriteId {
                    cycle,
                    thread,
                    op: k,
                },
                &op,
            );
            differing += written.iter().filter(|key| differs(&must, key)).count();
            k += 1;
        }
        if differing > 0 {
            problems.push(format!(
                "thread {thread}'s keys match no prefix of its writes from op {first} (acknowledged \
                 before the read) to op {} (begun by the kill): a torn batch, a lost write or \
                 a value never written",
                last + 1
            ));
        }
    }
    for key in observed.keys().filter(|key| !owned.contains(*key)) {
        problems.push(format!("key {} belongs to no writer thread", show(key)));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A key for a message: it is printable in this workload, but be safe.
fn show(key: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(key))
}

/// A value found in the database, in words.
fn describe(value: Option<&[u8]>) -> String {
    match value {
        None => "nothing".to_string(),
        Some(v) => match parse_value(v) {
            Some((key, id)) => format!("the value of key {} written by {id}", show(key)),
            None => {
                let head = &v[..v.len().min(40)];
                format!(
                    "a value the workload never writes ({} bytes: {})",
                    v.len(),
                    show(head)
                )
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Workload = Workload {
        seed: 11,
        threads: 2,
        keys_per_thread: 40,
    };

    /// The contents after the first `acked[t]` operations of each thread, plus each
    /// thread's next operation where `applied[t]`.
    fn contents(cycle: u32, acked: &[u64], applied: &[bool]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut model = Model::default();
        for (thread, (&n, &extra)) in (0u32..).zip(acked.iter().zip(applied)) {
            let n = if extra { n + 1 } else { n };
            for op in 0..n {
                model.apply(WriteId { cycle, thread, op }, &W.op(cycle, thread, op));
            }
        }
        observed(&model)
    }

    fn observed(model: &Model) -> BTreeMap<Vec<u8>, Vec<u8>> {
        model
            .keys
            .iter()
            .filter_map(|(k, l)| Some((k.clone(), l.value.clone()?)))
            .collect()
    }

    /// The first operation index of `thread` at or after `from` that is a put.
    fn next_put(cycle: u32, thread: u32, from: u64) -> u64 {
        (from..)
            .find(|&op| matches!(W.op(cycle, thread, op), Op::Put { .. }))
            .unwrap()
    }

    #[test]
    fn exactly_the_acknowledged_writes_pass() {
        let acked = [120, 90];
        let checked = check(
            &Model::default(),
            &W,
            0,
            &acked,
            &contents(0, &acked, &[false, false]),
        )
        .unwrap();
        assert_eq!(checked.unacked_survived, 0);
        assert!(checked.acked_writes > 150);
        assert!(!checked.model.is_empty());
    }

    #[test]
    fn the_in_flight_write_may_survive_and_is_then_carried() {
        let acked = [next_put(0, 0, 50), 90];
        let checked = check(
            &Model::default(),
            &W,
            0,
            &acked,
            &contents(0, &acked, &[true, false]),
        )
        .unwrap();
        assert_eq!(checked.unacked_survived, 1);
        // In the next cycle the surviving write is part of what must be there.
        let expect = contents(0, &acked, &[true, false]);
        assert_eq!(observed(&checked.model), expect);
    }

    #[test]
    fn a_lost_acknowledged_write_is_caught() {
        let n = next_put(0, 1, 30);
        let acked = [40, n + 1];
        let mut observed = contents(0, &acked, &[false, false]);
        let Op::Put { key, .. } = W.op(0, 1, n) else {
            unreachable!()
        };
        // Put the key back to what it held before the acknowledged put.
        let before = contents(0, &[40, n], &[false, false]);
        match before.get(&key) {
            Some(v) => observed.insert(key.clone(), v.clone()),
            None => observed.remove(&key),
        };
        let problems = check(&Model::default(), &W, 0, &acked, &observed).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains(&format!("the value written by cycle 0 thread 1 op {n}")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_resurrected_delete_and_a_foreign_value_are_caught() {
        let acked = [200, 200];
        let mut observed = contents(0, &acked, &[false, false]);
        let mut model = Model::default();
        for op in 0..200 {
            model.apply(
                WriteId {
                    cycle: 0,
                    thread: 0,
                    op,
                },
                &W.op(0, 0, op),
            );
        }
        let deleted = model
            .keys
            .iter()
            .find(|(_, l)| l.value.is_none())
            .map(|(k, _)| k.clone())
            .expect("200 operations delete something");
        observed.insert(deleted, b"t0-000000@0.0.0#".to_vec());
        observed.insert(b"zz".to_vec(), b"garbage".to_vec());
        let problems = check(&Model::default(), &W, 0, &acked, &observed).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("deleted by")));
        assert!(problems.iter().any(|p| p.contains("never writes")));
    }

    #[test]
    fn a_torn_batch_is_caught() {
        // An in-flight batch touching at least two keys whose values it changes.
        let (n, batch) = (100..)
            .map(|op| (op, W.op(0, 0, op)))
            .find(|(_, op)| matches!(op, Op::Batch(_)) && op.effects().len() >= 3)
            .unwrap();
        let acked = [n, 0];
        let mut observed = contents(0, &acked, &[false, false]);
        let mut changed = 0;
        for (key, value) in batch.effects() {
            if observed.get(&key) != value.as_ref() {
                changed += 1;
                if changed == 1 {
                    // Apply only the first changing entry.
                    match value {
                        Some(v) => observed.insert(key, v),
                        None => observed.remove(&key),
                    };
                }
            }
        }
        assert!(changed >= 2, "pick a batch that changes two keys");
        let problems = check(&Model::default(), &W, 0, &acked, &observed).unwrap_err();
        assert!(problems.iter().any(|p| p.contains("torn")), "{problems:?}");
    }

    #[test]
    fn a_state_from_an_earlier_cycle_is_checked_against_the_carried_model() {
        let acked = [60, 60];
        let first = check(
            &Model::default(),
            &W,
            0,
            &acked,
            &contents(0, &acked, &[false, false]),
        )
        .unwrap();
        // Cycle 1 acknowledged nothing: the database must still hold cycle 0's contents.
        let again = check(&first.model, &W, 1, &[0, 0], &observed(&first.model)).unwrap();
        assert_eq!(again.model, first.model);
        // An empty database after cycle 1 loses everything cycle 0 acknowledged.
        let problems = check(&first.model, &W, 1, &[0, 0], &BTreeMap::new()).unwrap_err();
        assert_eq!(problems.len(), first.model.len());
    }

    /// A live read may see any prefix of each thread's stream between what was
    /// acknowledged before it and what was begun by the kill; not less, and never a batch
    /// in part.
    #[test]
    fn a_live_read_must_show_a_prefix_of_each_thread() {
        let acked_put = next_put(0, 0, 20);
        let before = [acked_put + 1, 20];
        let after = [80, 70];
        let live = |seen: &[u64]| {
            let observed = contents(0, seen, &[false, false]);
            check_live(&Model::default(), &W, 0, &before, &after, &observed)
        };
        assert!(live(&before).is_ok());
        assert!(
            live(&[55, 71]).is_ok(),
            "the op in flight at the kill may show"
        );
        let lost = live(&[acked_put, 20]);
        assert!(
            lost.is_err(),
            "the acknowledged put of op {acked_put} is missing"
        );
        let late = next_put(0, 1, 71);
        assert!(
            live(&[55, late + 1]).is_err(),
            "op {late} was begun after the kill"
        );

        let batch = (40..)
            .find(|&op| matches!(W.op(0, 0, op), Op::Batch(ref e) if e.len() > 1))
            .unwrap();
        let Op::Batch(entries) = W.op(0, 0, batch) else {
            unreachable!()
        };
        let mut torn = contents(0, &[batch, 70], &[false, false]);
        let (key, value) = &entries[0];
        match value {
            Some(value) => torn.insert(key.clone(), value.clone()),
            None => torn.remove(key),
        };
        let result = check_live(&Model::default(), &W, 0, &before, &after, &torn);
        assert!(result.is_err(), "half of the batch of op {batch} shows");
    }

    /// The first operation of `thread` at or after `from` that is a transfer that commits
    /// (`commit`) or is dropped uncommitted.
    fn next_transfer(cycle: u32, thread: u32, from: u64, commit: bool) -> u64 {
        (from..)
            .find(|&op| matches!(W.op(cycle, thread, op), Op::Transfer { commit: c, .. } if c == commit))
            .unwrap()
    }

    #[test]
    fn a_committed_transfer_in_flight_is_whole_or_absent_and_its_accounts_sum_to_zero() {
        let n = next_transfer(0, 0, 30, true);
        let acked = [n, 10];
        let check_with =
            |found: &BTreeMap<Vec<u8>, Vec<u8>>| check(&Model::default(), &W, 0, &acked, found);
        // Absent and whole both pass; the transfer survived in the second.
        assert_eq!(
            check_with(&contents(0, &acked, &[false, false]))
                .unwrap()
                .unacked_survived,
            0
        );
        let whole = contents(0, &acked, &[true, false]);
        assert_eq!(check_with(&whole).unwrap().unacked_survived, 1);
        // Half of it: torn, by the in-flight rule and by the sum of the balances.
        let Op::Transfer { from, .. } = W.op(0, 0, n) else {
            unreachable!()
        };
        let mut torn = contents(0, &acked, &[false, false]);
        torn.insert(from.clone(), whole[&from].clone());
        let problems = check_with(&torn).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("is torn")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("accounts sum to")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_transfer_dropped_uncommitted_leaves_nothing() {
        let n = next_transfer(0, 1, 30, false);
        let acked = [10, n];
        let before = contents(0, &acked, &[false, false]);
        // Acknowledged or in flight, it changed nothing: the state without it passes.
        assert!(check(&Model::default(), &W, 0, &[10, n + 1], &before).is_ok());
        assert!(check(&Model::default(), &W, 0, &acked, &before).is_ok());
        // What it buffered, had it reached the database, is a value never written.
        let op = W.op(0, 1, n);
        let mut model = Model::default();
        for op in 0..n {
            model.apply(
                WriteId {
                    cycle: 0,
                    thread: 1,
                    op,
                },
                &W.op(0, 1, op),
            );
        }
        let Op::Transfer { from, to, .. } = &op else {
            unreachable!()
        };
        let [(_, a), (_, b)] = op
            .transfer_writes(model.value(from), model.value(to))
            .unwrap();
        let mut leaked = before.clone();
        leaked.insert(from.clone(), a);
        leaked.insert(to.clone(), b);
        let problems = check(&Model::default(), &W, 0, &[10, n + 1], &leaked).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains(&format!("op {n}"))),
            "{problems:?}"
        );
    }
}
