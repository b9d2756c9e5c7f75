//! [`Op::Txn`]: a transaction against the engine and the model.
//!
//! The model of a transaction is small because the workload is one thread. Its reads see
//! the model's state when it began (its read version) with its own earlier writes laid
//! over it. Its commit is one write of every key it wrote, with the last value it gave
//! each, issued to the [`History`](crate::model::History) like a batch: in doubt until a
//! durability point, then all there or none of it after a power cut. Whether the commit
//! must conflict is known exactly: the only write between its begin and its commit is the
//! one [`TxnOutcome::Interfere`] makes.

use std::collections::BTreeMap;
use std::ops::Bound;

use ferris_engine::{Db, Error, Isolation, Keyspace, TxnError, TxnOptions};

use super::{FailureKind, Handles, Runner, SimFailure};
use crate::model::{self, Model, Mutation, Stored};
use crate::workload::{KEYSPACES, TxnOp, TxnOutcome, TxnStep, key, value};

/// A key of a transaction's footprint: the keyspace's name and the key.
type Place = (String, Vec<u8>);

/// A range a scan read: the keyspace's name and the bounds.
type Scanned = (String, Bound<Vec<u8>>, Bound<Vec<u8>>);

/// What a transaction has done so far, as the model tracks it.
#[derive(Default)]
struct Footprint {
    /// Its buffered writes, the last one of each key (`None`: a delete).
    writes: BTreeMap<Place, Option<Stored>>,
    /// The keys its point reads recorded as read conflict ranges.
    read_keys: Vec<Place>,
    /// The ranges its scans recorded.
    read_ranges: Vec<Scanned>,
}

impl Footprint {
    /// Whether a write of `place` made after the read version conflicts with the commit:
    /// never for a transaction that writes nothing; under serializable isolation if it
    /// touched a key read or a range scanned; under snapshot isolation if it touched a
    /// key written.
    fn conflicts_with(&self, place: &Place, isolation: Isolation) -> bool {
        if self.writes.is_empty() {
            return false;
        }
        match isolation {
            Isolation::Snapshot => self.writes.contains_key(place),
            _ => {
                self.read_keys.contains(place)
                    || (self.read_ranges.iter()).any(|(ks, lo, hi)| {
                        *ks == place.0 && contains(lo.as_ref(), hi.as_ref(), &place.1)
                    })
            }
        }
    }
}

/// Whether `k` lies in `lo..hi` (an inverted range holds nothing).
fn contains(lo: Bound<&Vec<u8>>, hi: Bound<&Vec<u8>>, k: &Vec<u8>) -> bool {
    let above = match lo {
        Bound::Included(lo) => k >= lo,
        Bound::Excluded(lo) => k > lo,
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(hi) => k <= hi,
        Bound::Excluded(hi) => k < hi,
        Bound::Unbounded => true,
    };
    above && below
}

impl Runner<'_> {
    /// [`Op::Txn`](crate::Op::Txn): begins a transaction, runs its steps checking every
    /// read, and ends it as `op.outcome` says. `Ok(false)` if the power cut stopped it.
    pub(super) fn transaction(
        &mut self,
        db: &Db,
        handles: &mut Handles,
        step: usize,
        op: &TxnOp,
    ) -> Result<bool, super::SimFailure> {
        // The live keyspaces it names, with a handle to each; steps in others are left out.
        let mut live: BTreeMap<u8, Keyspace> = BTreeMap::new();
        let named = (op.steps.iter().map(step_keyspace)).chain(match op.outcome {
            TxnOutcome::Interfere { keyspace, .. } => Some(keyspace),
            _ => None,
        });
        for ks in named {
            if live.contains_key(&ks) {
                continue;
            }
            if let Some((handle, true)) = self.handle(db, handles, KEYSPACES[usize::from(ks)])? {
                live.insert(ks, handle);
            }
        }
        let isolation = match op.snapshot_isolation {
            true => Isolation::Snapshot,
            false => Isolation::Serializable,
        };
        let mut options = TxnOptions::new().isolation(isolation);
        if let Some(sync) = op.sync {
            options = options.sync(sync);
        }
        let Some(mut txn) = self.outcome(db.transaction_with(options), "transaction")? else {
            return Ok(false);
        };
        // Taken now (a transaction takes its read version at its first read otherwise), so
        // that it reads the model as a reader saw it when the transaction began. The clock
        // does not move within a step, so expiry is judged alike throughout.
        let Some(read_version) = self.outcome(txn.read_version(), "read version")? else {
            return Ok(false);
        };
        let now = self.now();
        let base = model::visible(&self.history.current, now);
        let mut done = Footprint::default();
        let mut interfered: Option<Place> = None;
        let interfere_at = match op.outcome {
            TxnOutcome::Interfere { at, .. } => Some(at.min(op.steps.len())),
            _ => None,
        };
        for (i, s) in op.steps.iter().enumerate() {
            if interfere_at == Some(i) {
                match self.interfere(db, &live, step, op)? {
                    Some(place) => interfered = place,
                    None => return Ok(false),
                }
            }
            let ks = step_keyspace(s);
            let Some(handle) = live.get(&ks) else {
                continue;
            };
            let name = KEYSPACES[usize::from(ks)];
            let serializable = isolation == Isolation::Serializable;
            let ok = match *s {
                TxnStep::Get {
                    key: k, snapshot, ..
                } => {
                    let k = key(k);
                    let place = (name.to_string(), k.clone());
                    let want = match done.writes.get(&place) {
                        Some(own) => own.as_ref().map(|(v, _)| v),
                        None => {
                            if serializable && !snapshot {
                                done.read_keys.push(place);
                            }
                            base[name].get(&k)
                        }
                    };
                    let what = format!("transaction (read version {read_version}) get in {name}");
                    self.check_get(&what, want, &k, |k| match (snapshot, ks) {
                        (true, _) => txn.snapshot_get_in(handle, k),
                        (false, 0) => txn.get(k),
                        (false, _) => txn.get_in(handle, k),
                    })?
                }
                TxnStep::Scan {
                    lo, hi, reverse, ..
                } => {
                    let (lo, hi) = (lo.map(key), hi.map(key));
                    let want = overlay(&base[name], &done.writes, name, &lo, &hi);
                    if serializable {
                        done.read_ranges
                            .push((name.to_string(), lo.clone(), hi.clone()));
                    }
                    let what = format!("transaction (read version {read_version}) scan of {name}");
                    let bounds = (lo, hi);
                    self.check_scan(&what, &want, reverse, || match ks {
                        0 => txn.range(bounds.clone()),
                        _ => txn.range_in(handle, bounds.clone()),
                    })?
                }
                TxnStep::Put {
                    key: k, value_len, ..
                } => {
                    let (k, v) = (key(k), value(step, i, value_len));
                    let stored = self.stored(name, v.clone(), None);
                    done.writes
                        .insert((name.to_string(), k.clone()), Some(stored));
                    let put = match ks {
                        0 => txn.put(&k, &v),
                        _ => txn.put_in(handle, &k, &v),
                    };
                    self.outcome(put, "transaction put")?.is_some()
                }
                TxnStep::Delete { key: k, .. } => {
                    let k = key(k);
                    done.writes.insert((name.to_string(), k.clone()), None);
                    let delete = match ks {
                        0 => txn.delete(&k),
                        _ => txn.delete_in(handle, &k),
                    };
                    self.outcome(delete, "transaction delete")?.is_some()
                }
            };
            if !ok {
                return Ok(false);
            }
        }
        if interfere_at == Some(op.steps.len()) {
            match self.interfere(db, &live, step, op)? {
                Some(place) => interfered = place,
                None => return Ok(false),
            }
        }
        if op.outcome == TxnOutcome::Abandon {
            drop(txn);
            self.txns.abandoned += 1;
            // It left nothing: every key it wrote reads what the model holds.
            for (name, k) in done.writes.keys() {
                let handle = &live[&ks_index(name)];
                let want = model::get_at(&self.history.current[name], k, now);
                let what = format!("get in {name} after a transaction was dropped uncommitted");
                if !self.check_get(&what, want, k, |k| handle.get(k))? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        let must_conflict = interfered
            .as_ref()
            .is_some_and(|place| done.conflicts_with(place, isolation));
        if must_conflict {
            return match txn.commit() {
                Err(_) if self.sim.is_powered_off() => Ok(false),
                Err(Error::Transaction(TxnError::Conflict { .. })) => {
                    self.txns.conflicted += 1;
                    Ok(true)
                }
                Err(e) => Err(self.fail(
                    FailureKind::Conflict,
                    Some(step),
                    format!(
                        "a transaction must conflict, and failed otherwise: {}",
                        super::error_chain(&e)
                    ),
                )),
                Ok(at) => Err(self.fail(
                    FailureKind::Conflict,
                    Some(step),
                    format!(
                        "a transaction (read version {read_version}) committed at {at}, but \
                         the write of {} in {} after its read version must conflict with it",
                        model::show(&interfered.as_ref().expect("it interfered").1),
                        interfered.as_ref().expect("it interfered").0,
                    ),
                )),
            };
        }
        if done.writes.is_empty() {
            // Read-only: it commits at its read version, and writes nothing.
            let Some(at) = self.outcome(txn.commit(), "read-only commit")? else {
                return Ok(false);
            };
            if at != read_version {
                return Err(self.wrong_read(format!(
                    "a read-only transaction committed at {at}, not at its read version \
                     {read_version}"
                )));
            }
            self.txns.committed += 1;
            return Ok(true);
        }
        let n_writes = done.writes.len() as u64;
        let entries = (done.writes.into_iter()).map(|((ks, k), v)| (ks, k, v));
        self.history.issue(step, Mutation::Write(entries.collect()));
        let at = match txn.commit() {
            Err(_) if self.sim.is_powered_off() => return Ok(false),
            Err(e) => {
                let kind = match e {
                    Error::Transaction(TxnError::Conflict { .. }) => FailureKind::Conflict,
                    _ => FailureKind::UnexpectedError,
                };
                return Err(self.fail(
                    kind,
                    Some(step),
                    format!(
                        "commit of a transaction (read version {read_version}) that \
                         must not conflict: {}",
                        super::error_chain(&e)
                    ),
                ));
            }
            Ok(at) => at,
        };
        self.history.acknowledge();
        self.writes_acknowledged += 1;
        self.txns.committed += 1;
        if op.sync.unwrap_or(self.workload.setup.sync_writes) {
            self.history.durable_at(step);
        }
        // Each entry of the batch takes a sequence number after the read version (and
        // after the interfering write's), and the commit version is the last.
        let least = read_version + n_writes + u64::from(interfered.is_some());
        if at < least {
            return Err(self.wrong_read(format!(
                "a transaction that read at {read_version} and wrote {n_writes} key(s) \
                 committed at {at}, below {least}"
            )));
        }
        Ok(true)
    }

    /// The plain write of [`TxnOutcome::Interfere`], outside the transaction: issued and
    /// checked as any other write. `Ok(None)` if the power cut stopped it; `Ok(Some(None))`
    /// if its keyspace is not live (then nothing is written).
    fn interfere(
        &mut self,
        db: &Db,
        live: &BTreeMap<u8, Keyspace>,
        step: usize,
        op: &TxnOp,
    ) -> Result<Option<Option<Place>>, SimFailure> {
        let TxnOutcome::Interfere {
            keyspace,
            key: k,
            value_len,
            ..
        } = op.outcome
        else {
            return Ok(Some(None));
        };
        let Some(handle) = live.get(&keyspace) else {
            return Ok(Some(None));
        };
        let name = KEYSPACES[usize::from(keyspace)];
        let k = key(k);
        // An entry index past the transaction's own, so its value is unique too.
        let v = value_len.map(|len| value(step, op.steps.len(), len));
        let stored = v.clone().map(|v| self.stored(name, v, None));
        let mutation = Mutation::Write(vec![(name.to_string(), k.clone(), stored)]);
        let written = self.write(step, mutation, || match (&v, keyspace) {
            (Some(v), 0) => db.put(&k, v),
            (Some(v), _) => handle.put(&k, v),
            (None, 0) => db.delete(&k),
            (None, _) => handle.delete(&k),
        })?;
        Ok(written.map(|()| Some((name.to_string(), k))))
    }
}

fn step_keyspace(step: &TxnStep) -> u8 {
    match *step {
        TxnStep::Get { keyspace, .. }
        | TxnStep::Scan { keyspace, .. }
        | TxnStep::Put { keyspace, .. }
        | TxnStep::Delete { keyspace, .. } => keyspace,
    }
}

fn ks_index(name: &str) -> u8 {
    let i = KEYSPACES.iter().position(|n| *n == name);
    i.expect("a keyspace of KEYSPACES") as u8
}

/// What a scan of `name` over `lo..hi` inside the transaction must give: `base` (the
/// model at the read version) with the transaction's writes in the bounds laid over it.
fn overlay(
    base: &Model,
    writes: &BTreeMap<Place, Option<Stored>>,
    name: &str,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut seen: Model = model::range(base, lo.clone(), hi.clone())
        .into_iter()
        .collect();
    for ((ks, k), v) in writes {
        if ks != name || !contains(lo.as_ref(), hi.as_ref(), k) {
            continue;
        }
        match v {
            Some((v, _)) => seen.insert(k.clone(), v.clone()),
            None => seen.remove(k),
        };
    }
    seen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(ks: &str, k: &str) -> Place {
        (ks.to_string(), k.as_bytes().to_vec())
    }

    #[test]
    fn the_model_predicts_conflicts_as_the_isolation_says() {
        let mut done = Footprint::default();
        let b = |s: &str| s.as_bytes().to_vec();
        done.read_keys.push(place("default", "a"));
        done.read_ranges.push((
            "red".into(),
            Bound::Included(b("m")),
            Bound::Excluded(b("p")),
        ));
        // Nothing written: a read-only transaction never conflicts.
        let ser = Isolation::Serializable;
        assert!(!done.conflicts_with(&place("default", "a"), ser));
        done.writes.insert(place("default", "w"), None);
        assert!(done.conflicts_with(&place("default", "a"), ser));
        assert!(
            !done.conflicts_with(&place("red", "a"), ser),
            "another keyspace"
        );
        assert!(done.conflicts_with(&place("red", "n"), ser), "a phantom");
        assert!(
            !done.conflicts_with(&place("red", "p"), ser),
            "past the range"
        );
        assert!(!done.conflicts_with(&place("default", "w"), ser));
        let si = Isolation::Snapshot;
        assert!(done.conflicts_with(&place("default", "w"), si));
        assert!(!done.conflicts_with(&place("default", "a"), si));
    }

    #[test]
    fn a_scan_sees_the_transactions_own_writes_in_its_bounds() {
        let b = |s: &str| s.as_bytes().to_vec();
        let base: Model = [(b("a"), b("1")), (b("c"), b("3")), (b("e"), b("5"))].into();
        let mut writes = BTreeMap::new();
        writes.insert(place("default", "b"), Some((b("2"), 0)));
        writes.insert(place("default", "c"), None);
        writes.insert(place("default", "z"), Some((b("26"), 0)));
        writes.insert(place("red", "d"), Some((b("4"), 0)));
        let (lo, hi) = (Bound::Unbounded, Bound::Excluded(b("x")));
        let got = overlay(&base, &writes, "default", &lo, &hi);
        let want = vec![(b("a"), b("1")), (b("b"), b("2")), (b("e"), b("5"))];
        assert_eq!(got, want);
        let inverted = overlay(&base, &writes, "default", &Bound::Included(b("x")), &hi);
        assert!(inverted.is_empty());
    }
}
