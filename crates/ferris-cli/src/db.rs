//! The database-level commands: `ferris manifest dump`, `get`, `put`, `delete`, `scan`,
//! `stats`, `checkpoint`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ferris_engine::{Db, Options, Ttl};
use ferris_fs::StdFs;
use ferris_log::{RecoveryMode, SegmentReader};
use ferris_manifest::{KeyspaceDef, VersionEdit, manifest_file_name, read_current};
use serde_json::json;

use crate::Verdict;

/// Opens an existing database for writing (never creates one: a typo must not make a
/// new database).
pub(crate) fn open(dir: &Path) -> Result<Db> {
    let mut options = Options::default();
    options.create_if_missing = false;
    Db::open(dir, options).with_context(|| format!("opening {}", dir.display()))
}

/// Opens an existing database read-only, for the commands that only read: it writes
/// nothing, so they work on a read-only directory and on a database another process has
/// open, which they see as it was at this moment.
pub(crate) fn open_read_only(dir: &Path) -> Result<Db> {
    Db::open_read_only(dir, Options::default())
        .with_context(|| format!("opening {} read-only", dir.display()))
}

/// Keys and values are printed as text when they are UTF-8 without control characters,
/// and escaped otherwise.
pub(crate) fn show(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => bytes.escape_ascii().to_string(),
    }
}

fn key_json(key: &ferris_core::InternalKey) -> serde_json::Value {
    json!({"user_key": show(key.user_key()), "seq": key.seq(), "kind": format!("{:?}", key.kind())})
}

/// What a keyspace is, as the text dump shows it in parentheses: `sstable, leveled`, with
/// `, expiring` added for a keyspace whose values carry an expiry time.
fn what(def: &KeyspaceDef) -> String {
    let expiring = if def.expiring { ", expiring" } else { "" };
    format!("{}, {}{expiring}", def.table_format, def.strategy)
}

pub(crate) fn manifest_dump(dir: &Path, as_json: bool) -> Result<Verdict> {
    let fs = StdFs::default();
    let number = match read_current(&fs, dir) {
        Ok(Some(n)) => n,
        Ok(None) => bail!(
            "{} has no CURRENT file: it is not a FerrisDB database",
            dir.display()
        ),
        Err(e) if e.is_corruption() => {
            out!("{e}");
            return Ok(Verdict::Damaged);
        }
        Err(e) => return Err(e).context("reading CURRENT"),
    };
    let path = dir.join(manifest_file_name(number));
    let mut reader = match SegmentReader::open(&fs, &path, number, RecoveryMode::TolerateTornTail) {
        Ok(r) => r,
        Err(e) if e.is_corruption() => {
            out!("{e}");
            return Ok(Verdict::Damaged);
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut edits = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(record)) => match VersionEdit::decode(&record.data) {
                Ok(edit) => edits.push((record.offset, edit)),
                Err(e) => {
                    out!(
                        "{}: the edit at offset {} does not decode: {e}",
                        path.display(),
                        record.offset
                    );
                    return Ok(Verdict::Damaged);
                }
            },
            Ok(None) => break,
            Err(e) if e.is_corruption() => {
                out!("{e}");
                return Ok(Verdict::Damaged);
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    if edits.is_empty() {
        // CURRENT only ever names a manifest whose first edit was durable.
        out!("{}: the manifest holds no intact edit", path.display());
        return Ok(Verdict::Damaged);
    }
    let mut state = ferris_manifest::LevelState::default();
    for (offset, edit) in &edits {
        if let Err(reason) = state.apply(edit) {
            out!(
                "{}: the edit at offset {offset} is inconsistent: {reason}",
                path.display()
            );
            return Ok(Verdict::Damaged);
        }
    }
    if as_json {
        let edits: Vec<_> = edits
            .iter()
            .map(|(offset, e)| {
                json!({
                    "offset": offset,
                    "format_version": e.format_version,
                    "next_file_number": e.next_file_number,
                    "last_sequence": e.last_sequence,
                    "next_keyspace_id": e.next_keyspace_id,
                    "created": e.created.iter().map(|d| json!({
                        "id": d.id, "name": d.name, "table_format": d.table_format, "strategy": d.strategy,
                        "expiring": d.expiring,
                    })).collect::<Vec<_>>(),
                    "dropped": e.dropped,
                    "log_numbers": e.log_numbers.iter().map(|(k, n)| json!({"keyspace": k, "log_number": n})).collect::<Vec<_>>(),
                    "deleted": e.deleted.iter().map(|(k, l, n)| json!({"keyspace": k, "level": l, "number": n})).collect::<Vec<_>>(),
                    "added": e.added.iter().map(|(k, l, f)| json!({
                        "keyspace": k, "level": l, "number": f.number, "size": f.size,
                        "smallest": key_json(&f.smallest), "largest": key_json(&f.largest),
                        "min_seq": f.min_seq, "max_seq": f.max_seq,
                        "entries": f.entries, "tombstones": f.tombstones,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        // Each level in its read order: level 0 newest first, deeper levels by key.
        let keyspaces: Vec<_> = (state.keyspaces.values())
            .map(|k| {
                let levels: Vec<_> = (k.levels.levels())
                    .map(|files| files.iter().map(|f| f.number).collect::<Vec<_>>())
                    .collect();
                json!({
                    "id": k.def.id, "name": k.def.name, "table_format": k.def.table_format,
                    "strategy": k.def.strategy, "expiring": k.def.expiring,
                    "levels": levels, "log_number": k.log_number,
                })
            })
            .collect();
        let out = json!({
            "manifest": path.display().to_string(),
            "edits": edits,
            "current": {
                "keyspaces": keyspaces,
                "log_number": state.log_number(),
                "next_file_number": state.next_file_number,
                "last_sequence": state.last_sequence,
                "next_keyspace_id": state.next_keyspace_id,
            },
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        out!("{} ({} edits)", path.display(), edits.len());
        for (offset, e) in &edits {
            let mut parts = Vec::new();
            if let Some(v) = e.format_version {
                parts.push(format!("format {v}"));
            }
            if let Some(v) = e.next_file_number {
                parts.push(format!("next file {v}"));
            }
            if let Some(v) = e.last_sequence {
                parts.push(format!("last seq {v}"));
            }
            if let Some(v) = e.next_keyspace_id {
                parts.push(format!("next keyspace {v}"));
            }
            for d in &e.created {
                parts.push(format!("+keyspace {} {:?} ({})", d.id, d.name, what(d)));
            }
            for id in &e.dropped {
                parts.push(format!("-keyspace {id}"));
            }
            // Keyspace 0 is left out of what follows, as in version 1 manifests.
            let ks = |k: &u32| {
                if *k == 0 {
                    String::new()
                } else {
                    format!("k{k} ")
                }
            };
            for (k, v) in &e.log_numbers {
                parts.push(format!("{}log {v}", ks(k)));
            }
            for (k, l, n) in &e.deleted {
                parts.push(format!("{}-L{l} {n:06}.sst", ks(k)));
            }
            for (k, l, f) in &e.added {
                parts.push(format!(
                    "{}+L{l} {:06}.sst ({} bytes, {} entries, keys {}..{}, seqs {}..{})",
                    ks(k),
                    f.number,
                    f.size,
                    f.entries,
                    show(f.smallest.user_key()),
                    show(f.largest.user_key()),
                    f.min_seq,
                    f.max_seq
                ));
            }
            out!("  @{offset:<8} {}", parts.join(", "));
        }
        for event in reader.events() {
            out!("  tolerated: {event:?}");
        }
        out!("current version:");
        for keyspace in state.keyspaces.values() {
            let def = &keyspace.def;
            out!(
                "  keyspace {} {:?} ({}), log number {}",
                def.id,
                def.name,
                what(def),
                keyspace.log_number
            );
            for (level, files) in keyspace.levels.levels().enumerate() {
                if !files.is_empty() {
                    let names: Vec<_> = files
                        .iter()
                        .map(|f| format!("{:06}.sst", f.number))
                        .collect();
                    out!("    L{level}: {}", names.join(" "));
                }
            }
        }
        out!(
            "  log number {}, next file number {}, last sequence {}",
            state.log_number(),
            state.next_file_number,
            state.last_sequence
        );
    }
    Ok(Verdict::Intact)
}

pub(crate) fn get(dir: &Path, key: &str, as_json: bool) -> Result<Verdict> {
    let db = open_read_only(dir)?;
    let value = db.get(key)?;
    if as_json {
        let out = match &value {
            Some(v) => json!({"key": show(key.as_bytes()), "found": true, "value": show(v)}),
            None => json!({"key": show(key.as_bytes()), "found": false, "value": null}),
        };
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        match &value {
            Some(v) => out!("{}", show(v)),
            None => eprintln!("ferris: {key:?} is not set"),
        }
    }
    // Exit 1 for a missing key in both modes, so `ferris get DIR K && ...` works either way.
    Ok(if value.is_some() {
        Verdict::Intact
    } else {
        Verdict::Damaged
    })
}

/// `ferris put`: with a time to live, into a database whose default keyspace expires
/// values (a new one is created so).
pub(crate) fn put(
    dir: &Path,
    key: &str,
    value: &str,
    ttl: Option<Duration>,
    as_json: bool,
) -> Result<Verdict> {
    let mut options = Options::default();
    options.create_if_missing = true;
    if ttl.is_some() && !dir.join("CURRENT").exists() {
        options.ttl = Ttl::On { default: None };
    }
    let db = Db::open(dir, options).with_context(|| format!("opening {}", dir.display()))?;
    match ttl {
        Some(ttl) => db.put_with_ttl(key, value, ttl)?,
        None => db.put(key, value)?,
    }
    // This process holds the lock and is the only writer, so the last sequence number is
    // the one the put was given.
    let seq = db.stats().last_sequence;
    db.close()?;
    if as_json {
        let mut out = json!({"ok": true, "op": "put", "key": show(key.as_bytes()), "seq": seq});
        if let Some(ttl) = ttl {
            out["ttl_secs"] = ttl.as_secs().into();
        }
        out!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(Verdict::Intact)
}

pub(crate) fn delete(dir: &Path, key: &str, as_json: bool) -> Result<Verdict> {
    let db = open(dir)?;
    db.delete(key)?;
    let seq = db.stats().last_sequence;
    db.close()?;
    if as_json {
        let out = json!({"ok": true, "op": "delete", "key": show(key.as_bytes()), "seq": seq});
        out!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(Verdict::Intact)
}

/// `ferris delete-range`: every key starting with `prefix`, or from `from` (inclusive) to
/// `to` (exclusive).
pub(crate) fn delete_range(
    dir: &Path,
    prefix: Option<&str>,
    (from, to): (Option<&str>, Option<&str>),
    as_json: bool,
) -> Result<Verdict> {
    use std::ops::Bound;
    let db = open(dir)?;
    match prefix {
        Some(p) => db.delete_prefix(p)?,
        None => {
            let lo = from.map_or(Bound::Unbounded, Bound::Included);
            let hi = to.map_or(Bound::Unbounded, Bound::Excluded);
            db.delete_range::<&str, _>((lo, hi))?;
        }
    }
    let seq = db.stats().last_sequence;
    db.close()?;
    if as_json {
        let show = |k: Option<&str>| k.map(|k| show(k.as_bytes()));
        let out = json!({"ok": true, "op": "delete_range", "prefix": show(prefix),
            "from": show(from), "to": show(to), "seq": seq});
        out!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(Verdict::Intact)
}

pub(crate) struct ScanArgs<'a> {
    pub(crate) prefix: Option<&'a str>,
    pub(crate) from: Option<&'a str>,
    pub(crate) to: Option<&'a str>,
    pub(crate) reverse: bool,
    pub(crate) limit: Option<usize>,
    pub(crate) json: bool,
}

pub(crate) fn scan(dir: &Path, args: &ScanArgs<'_>) -> Result<Verdict> {
    use std::ops::Bound;
    let db = open_read_only(dir)?;
    let iter = match args.prefix {
        Some(p) => db.prefix(p)?,
        None => {
            let lo = args.from.map_or(Bound::Unbounded, Bound::Included);
            let hi = args.to.map_or(Bound::Unbounded, Bound::Excluded);
            db.range::<&str, _>((lo, hi))?
        }
    };
    let iter: Box<dyn Iterator<Item = _>> = if args.reverse {
        Box::new(iter.rev())
    } else {
        Box::new(iter)
    };
    let mut rows = Vec::new();
    for entry in iter.take(args.limit.unwrap_or(usize::MAX)) {
        let (k, v) = entry?;
        if args.json {
            rows.push(json!({"key": show(&k), "value": show(&v)}));
        } else {
            out!("{}\t{}", show(&k), show(&v));
        }
    }
    if args.json {
        out!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(Verdict::Intact)
}

/// The amplification figures `ferris stats` can honestly compute from the files alone.
struct Amplification {
    /// Bytes of all tables over bytes of the deepest non-empty level; `None` with no table.
    space: Option<f64>,
    /// The deepest non-empty level, the one `space` divides by.
    deepest: Option<usize>,
    /// The tables a point lookup may probe: every level-0 table (they overlap), and one
    /// table in each deeper non-empty level (their tables do not).
    read: usize,
}

impl Amplification {
    fn of(levels: &[ferris_engine::LevelStats]) -> Amplification {
        let total: u64 = levels.iter().map(|l| l.bytes).sum();
        let deepest = levels.iter().rposition(|l| l.files > 0);
        // RocksDB's estimate: the deepest level is taken to hold the live data once, and
        // everything above it to be extra copies. It says nothing of garbage inside the
        // deepest level, and with only level 0 it reads 1.0 however much level 0 overlaps.
        let space = deepest
            .map(|d| levels[d].bytes)
            .filter(|&bytes| bytes > 0)
            .map(|bytes| total as f64 / bytes as f64);
        let l0 = levels.first().map_or(0, |l| l.files);
        let deeper = levels.iter().skip(1).filter(|l| l.files > 0).count();
        Amplification {
            space,
            deepest,
            read: l0 + deeper,
        }
    }
}

pub(crate) fn stats(dir: &Path, as_json: bool) -> Result<Verdict> {
    let db = open_read_only(dir)?;
    let s = db.stats();
    db.close()?;
    let live: u64 = s.levels.iter().map(|l| l.bytes).sum();
    let amp = Amplification::of(&s.levels);
    if as_json {
        let levels: Vec<_> = s
            .levels
            .iter()
            .map(|l| json!({"files": l.files, "bytes": l.bytes}))
            .collect();
        let out = json!({
            "levels": levels,
            "table_bytes": live,
            "memtable_bytes": s.memtable_bytes,
            "last_sequence": s.last_sequence,
            "space_amplification": amp.space,
            "read_amplification": amp.read,
            // The engine counts bytes written only while a process has the database open
            // (`Db::stats`); nothing on disk records them, so a fresh open cannot know.
            "write_amplification": null,
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        out!("level  files        bytes");
        for (i, l) in s.levels.iter().enumerate() {
            out!("L{i:<5} {:>5} {:>12}", l.files, l.bytes);
        }
        out!(
            "tables: {live} bytes; memtable (replayed from the WAL): {} bytes",
            s.memtable_bytes
        );
        out!("last sequence number: {}", s.last_sequence);
        match (amp.space, amp.deepest) {
            (Some(space), Some(0)) => out!(
                "space amplification: {space:.2} (estimate: every table is in L0, so it cannot see copies of a key in overlapping tables)"
            ),
            (Some(space), Some(d)) => out!(
                "space amplification: {space:.2} (estimate: bytes of all tables / bytes of L{d}, the deepest non-empty level)"
            ),
            _ => out!("space amplification: none (no tables)"),
        }
        let l0 = s.levels.first().map_or(0, |l| l.files);
        out!(
            "read amplification: {} (tables a point lookup may probe: {l0} in L0 + one in each of {} deeper non-empty levels)",
            amp.read,
            amp.read - l0
        );
        out!(
            "write amplification: unknown (counted only while a process has the database open: see Db::stats)"
        );
    }
    Ok(Verdict::Intact)
}

pub(crate) fn checkpoint(dir: &Path, target: &Path, as_json: bool) -> Result<Verdict> {
    let db = open(dir)?;
    let stats = (db.checkpoint(target))
        .with_context(|| format!("writing a checkpoint into {}", target.display()))?;
    db.close()?;
    if as_json {
        let out = json!({
            "ok": true,
            "op": "checkpoint",
            "target": target.display().to_string(),
            "seq": stats.sequence,
            "tables_linked": stats.tables_linked,
            "tables_copied": stats.tables_copied,
            "bytes_copied": stats.bytes_copied,
            "tables_written": stats.tables_written,
            "bytes_written": stats.bytes_written,
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        out!(
            "checkpoint at sequence {} in {}: {} tables linked, {} copied ({} bytes), {} written from memory ({} bytes)",
            stats.sequence,
            target.display(),
            stats.tables_linked,
            stats.tables_copied,
            stats.bytes_copied,
            stats.tables_written,
            stats.bytes_written
        );
    }
    Ok(Verdict::Intact)
}
