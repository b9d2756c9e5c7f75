//! A failure in a learner's words: the guarantee its check stands for, what broke, the
//! answers, a hint where the answers point at a common mistake, the case, and the
//! command that replays it.

use std::fmt;

use crate::{Check, Failure};

/// Writes `failure` of `check`, indented under its `FAIL` line.
pub(crate) fn explain(
    f: &mut fmt::Formatter<'_>,
    check: &Check,
    failure: &Failure,
    replay: &str,
) -> fmt::Result {
    writeln!(f, "     guarantee: {}", check.guarantee)?;
    let mut lines = failure.detail().lines();
    writeln!(f, "     broke:     {}", lines.next().unwrap_or_default())?;
    // A strategy's failure carries the view it happened on, a line per table.
    for line in lines {
        writeln!(f, "                {line}")?;
    }
    if let Some(got) = failure.got() {
        writeln!(f, "     got:       {got}")?;
    }
    if let Some(expected) = failure.expected() {
        writeln!(f, "     expected:  {expected}")?;
    }
    // The lab's own fixed cases diagnose in their detail already; the suites' random
    // cases get a hint from the shape of their answers.
    if let Some(hint) = hint(failure).filter(|_| check.seed.is_some()) {
        writeln!(f, "     hint:      {hint}")?;
    }
    writeln!(f, "     case:      {}", failure.case())?;
    writeln!(f, "     replay:    {replay}")
}

/// What the answers of a wrong-answer failure suggest, when they match a common mistake.
pub(crate) fn hint(failure: &Failure) -> Option<&'static str> {
    let (got, expected) = (failure.got()?, failure.expected()?);
    let detail = failure.detail();
    let lookup = detail.contains("get(") || detail.contains("get_many(");
    if detail.starts_with("apply of the batch") {
        return Some("apply returns the bytes of the user keys and values it inserted");
    }
    if detail.contains("len() after") {
        return Some(
            "len() counts everything held: every version (a memtable's range deletes too)",
        );
    }
    Some(match (got, expected) {
        ("None", "Deleted") if lookup => {
            "a delete is an answer, Lookup::Deleted: None would send the reader on to older \
             data, where the deleted value still lives"
        }
        ("None", e) if lookup && e.starts_with("Value(") => {
            "a write is missing: there is a version at or below the snapshot, and the newest \
             of them is the answer (are older versions kept when a key is written again?)"
        }
        (g, "None") if lookup && g.starts_with("Value(") => {
            "a value was found where nothing at or below the snapshot was written: a read \
             must not see a write newer than its snapshot"
        }
        ("Deleted", e) if lookup && e.starts_with("Value(") => {
            "a delete hid a value it must not hide: only a delete at or below the snapshot, \
             and newer than the value, hides it"
        }
        (g, e) if lookup && g.starts_with("Value(") && e.starts_with("Value(") => {
            "the wrong version answered: the newest version at or below the snapshot decides"
        }
        ("off the end", e) if e.starts_with("on ") => {
            "the iterator is off the end where the model is on an entry: is it ever on one? \
             (valid() must say true once a seek lands on an entry)"
        }
        (g, "off the end") if g.starts_with("on ") => {
            "the iterator is on an entry where the model has run out: past the last entry \
             (or before the first, moving back) it must become invalid"
        }
        (g, e) if g.starts_with("on ") && e.starts_with("on ") => {
            "the iterator is on the wrong entry: entries come in internal-key order, user \
             keys ascending and, within a key, the newest version (highest sequence number) \
             first"
        }
        _ => return None,
    })
}

/// The message a panic carried.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
