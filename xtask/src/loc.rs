//! `cargo xtask loc`: lines of code per crate, the way the engine's size limit counts them.
//!
//! A line of code is a line of a `.rs` file under a crate's `src/` that is not blank, not a
//! comment (`//`, `///`, `//!`) and not inside a `#[cfg(test)]` item. Doc comments and
//! tests are where a crate should be generous; the count measures what a reader of the
//! logic has to hold in mind. The engine is meant to wire its parts, not to be one of
//! them: its code stays at most [`ENGINE_LIMIT`] lines, and a test below fails past it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The most lines of code `crates/ferris-engine/src` may hold. It was 2,000 for one
/// keyspace; keyspaces (each with its own versions, options and flushes, created and
/// dropped through the manifest, and a WAL that retires a segment only when no keyspace
/// needs it) and batched reads added wiring, and their logic that is not wiring went to
/// the crates it belongs to (the manifest's keyspace records and checks, the batch's
/// keyspace encoding, the split of sorted keys among a level's tables); 2,800 then.
/// The operations of issue 20 added wiring: the read-only open (`Db::open_read_only`: a
/// second way to open, its errors, and a database with no WAL that refuses writes and
/// verifies beside a live writer; the read-only manifest, the manifest position and the
/// retry of a read that raced a writer went to `ferris-manifest`), checkpoints (a
/// write-queue job and the wiring of links, memtable tables and a manifest for the copy;
/// the links and copies are `ferris_fs::link_or_copy`, the filtered table writing
/// `TableBuilder::add_all`) and compaction filters (the filter is
/// `ferris_compaction::CompactionFilter`, the bottom rewrite `rewrite_bottom`): 3,100.
/// Range deletes fit inside that, once WAL replay had moved to `ferris-wal`. Expiring
/// values (TTL) added wiring to every read and write path: gets, batched gets and scans
/// judge expiry at a time a snapshot carries, writes resolve times to live, the manifest's
/// flag sets a keyspace's options, compactions add the expiry filter; the logic went to
/// `ferris_core::expiry` (the trailer, the clocks, `Unexpired` for scans),
/// `WriteBatch::resolve_expiry` and `ferris_compaction::ExpiryFilter`: 3,180.
/// Transactions (issue 21) added a public API of their own (`Db::transaction`, `Db::run`
/// and a `Transaction` with the database's reading and writing methods, each a line or two
/// of wiring) and the leader's admission of each group member; the logic went to
/// `ferris-txn`: the resolver and its `admit`, the write buffer, the conflict ranges a
/// read records (`TxnBuffer`), the overlay a scan sees its own writes through, the
/// options and the retry backoff: 3,450, with the lazy read version (a snapshot taken at
/// the first read) and the history let go once no transaction is live. The engine's
/// chapter split into four (issue 22): the chapters are doc-only modules, whose five
/// `mod` declarations count as code; and the flush thread frees the memtable it flushed
/// (`ferris_core::memtable::retire`, three lines of wiring): 3,455.
pub(crate) const ENGINE_LIMIT: usize = 3_455;

#[derive(clap::Args)]
pub(crate) struct LocArgs {
    /// Crates to count (folder names under `crates/`); every crate when none is given.
    crates: Vec<String>,
}

pub(crate) fn run(args: &LocArgs) -> Result<()> {
    let root = workspace_root();
    let mut names = args.crates.clone();
    if names.is_empty() {
        for entry in std::fs::read_dir(root.join("crates"))? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
    }
    for name in names {
        let src = root.join("crates").join(&name).join("src");
        let files = count_dir(&src).with_context(|| format!("counting {}", src.display()))?;
        let total: usize = files.iter().map(|(_, n)| n).sum();
        if name == "ferris-engine" {
            println!("{name}: {total} lines of code (limit {ENGINE_LIMIT})");
        } else {
            println!("{name}: {total} lines of code");
        }
        for (path, n) in files {
            let shown = path.strip_prefix(&src).unwrap_or(&path);
            println!("  {n:>6}  {}", shown.display());
        }
    }
    Ok(())
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir` with its lines of code, sorted by path.
pub(crate) fn count_dir(dir: &Path) -> Result<Vec<(PathBuf, usize)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)?;
                out.push((path, count(&text)));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The lines of code in one file's `text`; see the [module docs](self).
pub(crate) fn count(text: &str) -> usize {
    let mut n = 0;
    // Inside a `#[cfg(test)]` item: the brace depth at which it ends.
    let mut test_depth: Option<i64> = None;
    let mut cfg_test = false;
    let mut depth: i64 = 0;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") {
            continue;
        }
        let before = depth;
        depth += braces(trimmed);
        if let Some(end) = test_depth {
            if depth <= end {
                test_depth = None;
            }
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            cfg_test = true;
            continue;
        }
        if cfg_test {
            cfg_test = false;
            // An item on one line (`mod tests;`, a `use`) ends where it starts.
            if depth > before {
                test_depth = Some(before);
            }
            continue;
        }
        n += 1;
    }
    n
}

/// Opening minus closing braces on a line, outside string and character literals (well
/// enough for rustfmt'd code: a brace in a string is counted out).
fn braces(line: &str) -> i64 {
    let mut delta = 0;
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            '\'' if !in_string => {
                // A char literal like '{' (a lifetime has no closing quote close by).
                let rest: String = chars.clone().take(3).collect();
                if rest.len() >= 2 && rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                }
            }
            '{' if !in_string => delta += 1,
            '}' if !in_string => delta -= 1,
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ => {}
        }
    }
    delta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_test_modules_do_not_count() {
        let text = r#"
//! A module.

/// A function.
fn f() -> &'static str {
    // A comment.
    "{ not a brace" // trailing
}

#[cfg(test)]
mod tests {
    #[test]
    fn t() {
        let x = '{';
    }
}

#[cfg(test)]
use std::fmt;

fn g() {}
"#;
        assert_eq!(count(text), 4);
    }

    /// The engine wires its parts and is kept small (issue 18): this fails when its code
    /// passes the limit. `cargo xtask loc ferris-engine` lists it file by file.
    #[test]
    fn the_engine_stays_within_its_line_limit() {
        let src = workspace_root().join("crates/ferris-engine/src");
        let total: usize = count_dir(&src).unwrap().iter().map(|(_, n)| n).sum();
        assert!(
            total <= ENGINE_LIMIT,
            "crates/ferris-engine/src has {total} lines of code, over the limit of {ENGINE_LIMIT}: \
             move what is not wiring into the crate whose job it is"
        );
    }
}
