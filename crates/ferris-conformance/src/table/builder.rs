//! The builder's side of the contract: what it refuses, and what it leaves behind.

use bytes::Bytes;
use ferris_core::{Error, InternalKey, MAX_SEQNO, ValueKind};
use ferris_table::{ReadOptions, TableFormat, TableOptions};

use super::harness::{Disk, NUMBER, build, entries_difference, open, scan};
use crate::Failure;
use crate::failure::{Checking, Context, Outcome, Problem, ensure};

/// The builder's promises, beyond the happy path:
///
/// - finishing a builder with no entries is [`Error::InvalidInput`], and leaves no file;
/// - adding a key that does not sort after the last one (the same key again, a newer
///   version of it, a smaller user key) is [`Error::InvalidInput`], the rejected entry
///   is not added, and the builder goes on to finish a table of the entries it
///   accepted;
/// - a builder dropped before `finish`, after megabytes of entries, leaves no file, and
///   the same table number can then be built again.
///
/// # Errors
///
/// A [`Failure`] naming the promise broken.
pub fn builder_contract(format: &dyn TableFormat) -> Result<(), Failure> {
    let checking = Checking::new(format.name(), "builder_contract");
    checking.case("finishing an empty builder", || empty_builder(format))?;
    checking.case("adding keys out of order", || out_of_order(format))?;
    checking.case("dropping an unfinished builder", || dropped_builder(format))
}

fn key(user_key: &str, seq: u64, kind: ValueKind) -> InternalKey {
    InternalKey::new(Bytes::from(user_key.to_owned()), seq, kind)
}

fn empty_builder(format: &dyn TableFormat) -> Outcome {
    let disk = Disk::new(0);
    let builder = format
        .create(&disk.fs, &disk.dir, NUMBER, &TableOptions::default())
        .context("create")?;
    // Both: a format may override `is_empty`, and the two must agree.
    #[allow(clippy::len_zero)]
    let empty = builder.is_empty() && builder.len() == 0;
    ensure(empty, || {
        Problem::mismatch("a new builder's len()", builder.len(), 0)
    })?;
    match builder.finish() {
        Err(Error::InvalidInput(_)) => {}
        other => {
            return Err(Problem::mismatch(
                "finish",
                format_args!("{other:?}"),
                "Err(InvalidInput)",
            ));
        }
    }
    let names = disk.list()?;
    ensure(names.is_empty(), || {
        format!("the failed finish left {names:?}")
    })
}

fn out_of_order(format: &dyn TableFormat) -> Outcome {
    let disk = Disk::new(0);
    let accepted = [
        (key("b", 5, ValueKind::Put), Bytes::from("b5")),
        (key("b", 4, ValueKind::Delete), Bytes::new()),
        (key("c", MAX_SEQNO, ValueKind::Put), Bytes::from("c")),
    ];
    let mut builder = format
        .create(&disk.fs, &disk.dir, NUMBER, &TableOptions::default())
        .context("create")?;
    builder
        .add(accepted[0].0.as_ref(), &accepted[0].1)
        .context("adding the first entry")?;
    let rejected = [
        key("b", 5, ValueKind::Put),
        // A newer version of the same key sorts before an older one.
        key("b", 6, ValueKind::Put),
        key("a", 9, ValueKind::Put),
        key("", 1, ValueKind::Put),
    ];
    for (i, bad) in rejected.iter().enumerate() {
        match builder.add(bad.as_ref(), b"rejected") {
            Err(Error::InvalidInput(_)) => {}
            other => {
                return Err(Problem::mismatch(
                    format_args!("adding {bad:?} after {:?}", accepted[0].0),
                    format_args!("{other:?}"),
                    "Err(InvalidInput)",
                ));
            }
        }
        ensure(builder.len() == 1, || {
            Problem::mismatch(
                format_args!("len() after {} rejected entries", i + 1),
                builder.len(),
                1,
            )
        })?;
    }
    for (k, v) in &accepted[1..] {
        builder
            .add(k.as_ref(), v)
            .context(format_args!("adding {k:?} after rejected entries"))?;
    }
    builder.finish().context("finish")?;
    let reader = open(format, &disk, &ReadOptions::default()).context("open")?;
    let got = scan(&reader, true, false).context("a scan")?;
    ensure(got == accepted, || {
        entries_difference("a scan of the entries accepted", &got, &accepted)
    })
}

fn dropped_builder(format: &dyn TableFormat) -> Outcome {
    let disk = Disk::new(0);
    let entries: Vec<_> = (0..24u32)
        .map(|i| {
            let value = Bytes::from(vec![i as u8; 100_000]);
            (key(&format!("key{i:04}"), 1, ValueKind::Put), value)
        })
        .collect();
    let mut builder = format
        .create(&disk.fs, &disk.dir, NUMBER, &TableOptions::default())
        .context("create")?;
    for (k, v) in &entries {
        builder.add(k.as_ref(), v).context("add")?;
    }
    drop(builder);
    let names = disk.list()?;
    ensure(names.is_empty(), || {
        format!(
            "a builder dropped after {} entries left {names:?}",
            entries.len()
        )
    })?;
    build(format, &disk, &entries, &TableOptions::default())
        .context("building the same table number again")?;
    let names = disk.list()?;
    ensure(names == [format.file_name(NUMBER)], || {
        Problem::mismatch(
            "the directory after building again",
            format_args!("{names:?}"),
            format_args!("{:?}", [format.file_name(NUMBER)]),
        )
    })
}
