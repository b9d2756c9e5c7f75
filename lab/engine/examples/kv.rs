//! Your engine on your own disk: `cargo run -p lab-engine --example kv`.
//!
//! Opens a `LabDb` in a temporary directory on the real file system, writes, reads at a
//! snapshot, flushes, writes again, closes and reopens, and prints what each read answers
//! beside what it should. With the starter as shipped every read answers `None`;
//! `cargo xtask lab check engine` says why, check by check.

#![allow(clippy::print_stdout)]

use std::sync::Arc;

use ferris_fs::{FileSystem, StdFs};
use lab_engine::LabDb;

/// Prints a read's answer beside the one it should give.
fn show(what: &str, got: Option<bytes::Bytes>, should: Option<&str>) {
    let got = got.map(|v| String::from_utf8_lossy(&v).into_owned());
    let verdict = if got.as_deref() == should {
        "ok"
    } else {
        "WRONG"
    };
    println!(
        "{what:<36} {:<16} (should be {should:?}) {verdict}",
        format!("{got:?}")
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let fs: Arc<dyn FileSystem> = Arc::new(StdFs::default());
    let mut db = LabDb::open(Arc::clone(&fs), dir.path())?;

    db.put(b"apple", b"red", true)?;
    let snapshot = db.snapshot();
    db.put(b"apple", b"green", true)?;
    db.put(b"fig", b"purple", true)?;
    db.delete(b"fig", true)?;
    show("get(apple)", db.get(b"apple")?, Some("green"));
    show("get(fig), deleted", db.get(b"fig")?, None);
    show(
        "get_at(apple, snapshot)",
        db.get_at(b"apple", snapshot)?,
        Some("red"),
    );

    db.flush()?;
    db.put(b"pear", b"yellow", true)?;
    show(
        "get(apple), after a flush",
        db.get(b"apple")?,
        Some("green"),
    );
    let scan: Vec<String> = (db.scan()?.iter())
        .map(|(k, v)| format!("{}={}", k.escape_ascii(), v.escape_ascii()))
        .collect();
    println!("scan: {scan:?} (should be [\"apple=green\", \"pear=yellow\"])");

    db.close()?;
    let db = LabDb::open(fs, dir.path())?;
    show(
        "get(pear), after reopen (the log)",
        db.get(b"pear")?,
        Some("yellow"),
    );
    show(
        "get(apple), after reopen (a table)",
        db.get(b"apple")?,
        Some("green"),
    );
    db.close()?;
    Ok(())
}
