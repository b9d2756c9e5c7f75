//! Your memtable in a real database: `cargo run -p lab-memtable --example db`.
//!
//! Opens a `ferris_engine::Db` in a temporary directory with
//! `options.memtable = Arc::new(LabFactory)`, the one line that plugs a memtable into
//! FerrisDB (`docs/concepts/swapping-components.md`), and prints what each read answers
//! beside what it should. Everything the database holds passes through your memtable
//! first: writes, reads at a snapshot, the flush that walks its iterator into a table,
//! and the reopen that replays the log into a new one. With the starter as shipped,
//! every read of an unflushed key answers `None`; `cargo xtask lab check memtable` says
//! why, guarantee by guarantee.

#![allow(clippy::print_stdout)]

use std::sync::Arc;

use ferris_engine::{Db, Options};
use lab_memtable::LabFactory;

/// Prints a read's answer beside the one it should give.
fn show(what: &str, got: Option<bytes::Bytes>, should: Option<&str>) {
    let got = got.map(|v| String::from_utf8_lossy(&v).into_owned());
    let verdict = if got.as_deref() == should {
        "ok"
    } else {
        "WRONG"
    };
    println!(
        "{what:<40} {:<10} (should be {should:?}) {verdict}",
        format!("{got:?}")
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut options = Options::default();
    options.memtable = Arc::new(LabFactory);
    let db = Db::open(dir.path(), options.clone())?;

    db.put("apple", "red")?;
    let snapshot = db.snapshot()?;
    db.put("apple", "green")?;
    db.delete("fig")?;
    show("get(apple)", db.get("apple")?, Some("green"));
    show(
        "get(apple) at the earlier snapshot",
        snapshot.get("apple")?,
        Some("red"),
    );
    show("get(fig), deleted", db.get("fig")?, None);
    drop(snapshot);

    // The flush writes your memtable's iterator into a table; a fresh memtable follows.
    db.flush()?;
    db.put("pear", "yellow")?;
    show("get(apple) after a flush", db.get("apple")?, Some("green"));
    show(
        "get(pear), in the new memtable",
        db.get("pear")?,
        Some("yellow"),
    );

    // Reopened, the database replays its log into a new memtable of yours.
    drop(db);
    let db = Db::open(dir.path(), options)?;
    show("get(pear) after reopening", db.get("pear")?, Some("yellow"));
    Ok(())
}
