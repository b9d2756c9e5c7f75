//! `ferris wal dump`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use ferris_core::{BatchEntry, BatchOp, DEFAULT_KEYSPACE, WriteBatch};
use ferris_fs::StdFs;
use ferris_wal::format::{check_record_format, parse_segment_file_name};
use ferris_wal::{RecoveryEvent, RecoveryMode, SegmentReader};
use serde_json::json;

use crate::Verdict;
use crate::db::show;

/// How many bytes of a value an entry's line shows before it says how long the rest is.
const VALUE_SHOWN: usize = 32;

/// One entry of a batch for people: its sequence number, kind, keyspace when it is not the
/// default one, key and (the start of) its value.
fn entry_text(e: &BatchEntry<'_>) -> String {
    let keyspace = if e.keyspace == DEFAULT_KEYSPACE {
        String::new()
    } else {
        format!("keyspace {}: ", e.keyspace)
    };
    let (kind, value) = match e.kind {
        BatchOp::Put if e.value.len() > VALUE_SHOWN => (
            "put",
            format!(
                " = {}... ({} bytes)",
                show(&e.value[..VALUE_SHOWN]),
                e.value.len()
            ),
        ),
        BatchOp::Put => ("put", format!(" = {}", show(e.value))),
        BatchOp::Delete => ("delete", String::new()),
        BatchOp::DeleteRange if e.value.is_empty() => ("delete", " .. (no end)".to_string()),
        BatchOp::DeleteRange => ("delete", format!(" .. {}", show(e.value))),
    };
    format!("@{} {kind:<6} {keyspace}{}{value}", e.seq, show(e.key))
}

pub(crate) fn dump(path: &Path, as_json: bool) -> Result<Verdict> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let Some(segment_id) = parse_segment_file_name(name) else {
        bail!(
            "{} is not named like a WAL segment (NNNNNN.wal)",
            path.display()
        );
    };
    let fs = StdFs::default();
    // Skip damage rather than stop at it, so the dump shows everything still readable.
    let mut reader = match SegmentReader::open(&fs, path, segment_id, RecoveryMode::SkipCorrupted) {
        Ok(reader) => reader,
        Err(e) if e.is_corruption() => {
            out!("{e}");
            return Ok(Verdict::Damaged);
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    // A segment whose records are newer than this build's batches is refused as the WAL's
    // recovery refuses it, rather than shown as records that are "not a write batch".
    check_record_format(path, reader.record_format())
        .with_context(|| format!("reading {}", path.display()))?;
    let mut records = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(record)) => records.push(record),
            Ok(None) => break,
            Err(e) if e.is_corruption() => {
                out!("{e}");
                return Ok(Verdict::Damaged);
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    let events = reader.events().to_vec();
    let damaged = events
        .iter()
        .any(|e| !matches!(e, RecoveryEvent::TornTail { .. }));

    if as_json {
        let records: Vec<_> = records
            .iter()
            .map(|r| {
                let batch = WriteBatch::decode(&r.data).ok().map(
                    |b| json!({"seq": b.seq(), "entries": b.len(), "keyspaces": b.keyspaces()}),
                );
                json!({"offset": r.offset, "len": r.data.len(), "checksum": "ok", "batch": batch})
            })
            .collect();
        let events: Vec<_> = events.iter().map(event_json).collect();
        let out = json!({
            "file": path.display().to_string(),
            "segment_id": segment_id,
            "record_format": reader.record_format(),
            "sealed": reader.is_sealed(),
            "records": records,
            "events": events,
            "damaged": damaged,
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        out!(
            "segment {segment_id}: {} records, {}",
            records.len(),
            if reader.is_sealed() {
                "sealed"
            } else {
                "not sealed"
            }
        );
        out!(
            "{:>10}  {:>8}  {:<8}  contents",
            "offset",
            "length",
            "checksum"
        );
        for r in &records {
            let batch = WriteBatch::decode(&r.data).ok();
            let contents = match &batch {
                Some(b) => format!("batch: seq {}, {} entries", b.seq(), b.len()),
                None => "not a write batch".to_owned(),
            };
            out!(
                "{:>10}  {:>8}  {:<8}  {contents}",
                r.offset,
                r.data.len(),
                "ok"
            );
            for entry in batch.iter().flat_map(|b| b.iter()) {
                out!("{:>10}  {:>8}  {:<8}    {}", "", "", "", entry_text(&entry));
            }
        }
        for e in &events {
            out!("{}", event_text(e));
        }
    }
    Ok(if damaged {
        Verdict::Damaged
    } else {
        Verdict::Intact
    })
}

fn event_text(e: &RecoveryEvent) -> String {
    match e {
        RecoveryEvent::TornTail {
            offset,
            dropped_bytes,
            ..
        } => {
            format!(
                "torn tail at offset {offset}: {dropped_bytes} bytes of an unfinished write (what a crash leaves)"
            )
        }
        RecoveryEvent::SkippedCorruption {
            offset,
            skipped_bytes,
            reason,
            ..
        } => {
            format!("DAMAGED at offset {offset}: {reason} ({skipped_bytes} bytes skipped)")
        }
        RecoveryEvent::StoppedAtCorruption { offset, reason, .. } => {
            format!("DAMAGED at offset {offset}: {reason}")
        }
        RecoveryEvent::MissingSegment { segment_id } => format!("segment {segment_id} is missing"),
        other => format!("{other:?}"),
    }
}

fn event_json(e: &RecoveryEvent) -> serde_json::Value {
    match e {
        RecoveryEvent::TornTail {
            offset,
            dropped_bytes,
            ..
        } => {
            json!({"kind": "torn_tail", "offset": offset, "bytes": dropped_bytes})
        }
        RecoveryEvent::SkippedCorruption {
            offset,
            skipped_bytes,
            reason,
            ..
        } => {
            json!({"kind": "corruption", "offset": offset, "bytes": skipped_bytes, "reason": reason})
        }
        other => json!({"kind": "other", "text": event_text(other)}),
    }
}
