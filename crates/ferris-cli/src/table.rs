//! `ferris table dump`.

use std::path::Path;

use anyhow::{Context, Result};
use ferris_core::InternalKeyRef;
use ferris_core::range_del::Fragment;
use ferris_fs::StdFs;
use ferris_sstable::{Error, Table};
use serde_json::json;

use crate::Verdict;

/// A key for people: the user key escaped, then `@seq:Kind`.
fn show_key(encoded: &[u8]) -> String {
    match InternalKeyRef::decode(encoded) {
        Ok(k) => format!("{k:?}"),
        Err(_) => format!("<not an internal key: {}>", encoded.escape_ascii()),
    }
}

/// A table's bound for people: `(none)` in a table without entries, whose properties
/// hold no key.
fn show_bound(n_entries: u64, encoded: &[u8]) -> String {
    if n_entries == 0 {
        return "(none)".to_owned();
    }
    show_key(encoded)
}

/// A range tombstone fragment for people: `[start, end) @seq, seq`.
fn show_fragment(f: &Fragment) -> String {
    let end = f
        .end
        .as_ref()
        .map_or_else(|| "(no end)".to_owned(), |e| e.escape_ascii().to_string());
    let seqs: Vec<String> = f.seqs.iter().map(ToString::to_string).collect();
    format!("[{}, {end}) @{}", f.start.escape_ascii(), seqs.join(", "))
}

pub(crate) fn dump(path: &Path, blocks: bool, as_json: bool) -> Result<Verdict> {
    match dump_inner(path, blocks, as_json) {
        Ok(()) => Ok(Verdict::Intact),
        Err(e @ Error::Corruption { .. }) | Err(e @ Error::UnsupportedVersion { .. }) => {
            out!("{e}");
            Ok(Verdict::Damaged)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn dump_inner(path: &Path, blocks: bool, as_json: bool) -> Result<(), Error> {
    let table = Table::open(&StdFs::default(), path)?;
    let p = table.properties();
    let index = table.index_entries()?;
    let mut block_dumps = Vec::new();
    if blocks {
        for (_, handle) in &index {
            let block = table.data_block(*handle)?;
            let mut it = block.iter(ferris_core::key::compare_encoded);
            let mut entries = Vec::new();
            it.seek_to_first();
            while it.valid() {
                entries.push((it.key().to_vec(), it.value_slice().len()));
                it.next();
            }
            if let Err(e) = it.status() {
                return Err(Error::corruption(
                    path,
                    handle.offset,
                    format!("data block: {e}"),
                ));
            }
            block_dumps.push((*handle, entries));
        }
    }

    if as_json {
        let index_json: Vec<_> = index
            .iter()
            .map(|(k, h)| json!({"separator": show_key(k), "offset": h.offset, "size": h.size}))
            .collect();
        let blocks_json: Vec<_> = block_dumps
            .iter()
            .map(|(h, entries)| {
                let entries: Vec<_> = entries
                    .iter()
                    .map(|(k, len)| json!({"key": show_key(k), "value_len": len}))
                    .collect();
                json!({"offset": h.offset, "size": h.size, "entries": entries})
            })
            .collect();
        let tombstones_json: Vec<_> = table
            .range_tombstones()
            .fragments()
            .iter()
            .map(|f| {
                json!({
                    "start": f.start.escape_ascii().to_string(),
                    "end": f.end.as_ref().map(|e| e.escape_ascii().to_string()),
                    "seqs": f.seqs,
                })
            })
            .collect();
        let out = json!({
            "file": path.display().to_string(),
            "properties": {
                "entries": p.n_entries,
                "tombstones": p.n_tombstones,
                "data_blocks": p.n_data_blocks,
                "smallest_key": show_bound(p.n_entries, &p.smallest_key),
                "largest_key": show_bound(p.n_entries, &p.largest_key),
                "min_seq": p.min_seq,
                "max_seq": p.max_seq,
                "raw_bytes": p.raw_bytes,
                "data_uncompressed_bytes": p.data_uncompressed_bytes,
                "data_stored_bytes": p.data_stored_bytes,
                "keyspace": p.keyspace,
                "range_tombstones": p.range_tombstones,
            },
            "range_tombstones": tombstones_json,
            "index": index_json,
            "blocks": blocks_json,
        });
        out!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values always serialize")
        );
        return Ok(());
    }
    out!("table {}", path.display());
    out!("  keyspace:     {}", p.keyspace);
    out!(
        "  entries:      {} ({} tombstones)",
        p.n_entries,
        p.n_tombstones
    );
    out!(
        "  keys:         {} .. {}",
        show_bound(p.n_entries, &p.smallest_key),
        show_bound(p.n_entries, &p.largest_key)
    );
    out!("  sequences:    {} .. {}", p.min_seq, p.max_seq);
    out!(
        "  data blocks:  {} ({} bytes raw, {} stored, {} bytes of keys and values)",
        p.n_data_blocks,
        p.data_uncompressed_bytes,
        p.data_stored_bytes,
        p.raw_bytes
    );
    let tombstones = table.range_tombstones();
    if !tombstones.is_empty() {
        out!("range tombstones ({}):", p.range_tombstones);
        for f in tombstones.fragments() {
            out!("  {}", show_fragment(f));
        }
    }
    out!("index:");
    for (k, h) in &index {
        out!("  {:>10}  {:>6}  {}", h.offset, h.size, show_key(k));
    }
    for (h, entries) in &block_dumps {
        out!(
            "block at {} ({} bytes stored, {} entries):",
            h.offset,
            h.size,
            entries.len()
        );
        for (k, len) in entries {
            out!("  {}  ({len} bytes)", show_key(k));
        }
    }
    Ok(())
}
