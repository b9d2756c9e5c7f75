//! `ferris verify`: every checksum of every live file, and every problem with its file and
//! offset.

use std::path::Path;

use anyhow::{Context, Result};
use ferris_engine::{FileCheck, VerifyReport};
use serde_json::json;

use crate::Verdict;

pub(crate) fn verify(dir: &Path, as_json: bool) -> Result<Verdict> {
    let (report, opened) = match crate::db::open_read_only(dir) {
        Ok(db) => {
            let report = db
                .verify()
                .with_context(|| format!("verifying {}", dir.display()))?;
            db.close()?;
            (report, true)
        }
        // Opening reads CURRENT, the manifest, every table's footer and meta blocks, and
        // replays the WAL: damage there stops the open. It is still damage, and is reported
        // as such, file and offset included.
        Err(e) => match e
            .downcast_ref::<ferris_engine::Error>()
            .and_then(ferris_engine::Error::corruption)
        {
            Some(problem) => {
                let mut report = VerifyReport::default();
                report.problems.push(problem.clone());
                (report, false)
            }
            None => return Err(e),
        },
    };
    if as_json {
        print_json(dir, &report, opened)?;
    } else {
        print_text(&report, opened);
    }
    Ok(if report.is_clean() {
        Verdict::Intact
    } else {
        Verdict::Damaged
    })
}

/// The file's name, for the table of files (problems give the whole path).
fn name(file: &FileCheck) -> String {
    file.path.file_name().map_or_else(
        || file.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn print_text(report: &VerifyReport, opened: bool) {
    for f in &report.files {
        let mut line = format!(
            "  {:<9} {:<16} {:>12}",
            f.kind.as_str(),
            name(f),
            count(f.bytes, "byte")
        );
        if f.blocks > 0 {
            line.push_str(&format!(", {}", count(f.blocks, "block")));
        }
        line.push_str(&format!(", {}", count(f.records, "record")));
        if let Some(offset) = f.torn_tail {
            line.push_str(&format!(", torn tail at {offset} (not damage)"));
        }
        out!("{line}");
    }
    for problem in &report.problems {
        out!(
            "DAMAGED {} at offset {}: {}",
            problem.file.display(),
            problem.offset,
            problem.reason
        );
    }
    if !opened {
        out!("the database cannot be opened: it is damaged");
        return;
    }
    let verdict = match report.problems.len() {
        0 => "intact".to_string(),
        n => count(n as u64, "problem"),
    };
    out!(
        "checked {}, {}, {}, {}: {verdict}",
        count(report.files.len() as u64, "file"),
        count(report.bytes(), "byte"),
        count(report.blocks(), "block"),
        count(report.records(), "record")
    );
}

/// `1 record`, `2 records`.
fn count(n: u64, what: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {what}{s}")
}

fn print_json(dir: &Path, report: &VerifyReport, opened: bool) -> Result<()> {
    let files: Vec<_> = report
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path.display().to_string(),
                "kind": f.kind.as_str(),
                "bytes": f.bytes,
                "blocks": f.blocks,
                "records": f.records,
                "torn_tail": f.torn_tail,
            })
        })
        .collect();
    let problems: Vec<_> = report
        .problems
        .iter()
        .map(|p| {
            json!({
                "file": p.file.display().to_string(),
                "offset": p.offset,
                "reason": p.reason,
            })
        })
        .collect();
    let out = json!({
        "dir": dir.display().to_string(),
        "opened": opened,
        "intact": report.is_clean(),
        "files": files,
        "totals": {
            "files": report.files.len(),
            "bytes": report.bytes(),
            "blocks": report.blocks(),
            "records": report.records(),
        },
        "problems": problems,
    });
    out!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
