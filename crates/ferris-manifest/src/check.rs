//! Checking a database's CURRENT and live manifest, for a tool that verifies every file.

use std::io;
use std::path::Path;

use ferris_core::Corruption;
use ferris_fs::FileSystem;
use ferris_log::RecoveryEvent;

use crate::current::{CURRENT, read_current};
use crate::edit::LevelState;
use crate::error::{Error, Result};
use crate::manifest::{manifest_file_name, replay};

/// What [`check`] read, and the damage it found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManifestCheck {
    /// CURRENT's length in bytes (0 when it is missing).
    pub current_bytes: u64,
    /// Whether CURRENT decoded (its checksum held).
    pub current_read: bool,
    /// The manifest's length in bytes.
    pub manifest_bytes: u64,
    /// The manifest's edits, replayed.
    pub edits: u64,
    /// Where the manifest ends in an incomplete record with nothing intact after it: what
    /// a crash during an append leaves. Not damage.
    pub torn_tail: Option<u64>,
    /// Everything wrong, each with its file and offset: a damaged or missing file, a
    /// CURRENT that names another manifest, or edits that do not add up to the state.
    pub damage: Vec<Corruption>,
}

/// Reads CURRENT and manifest `number` of `dir` back from the disk: CURRENT's checksum,
/// and that it names `number`; every record of the manifest, replayed; and, given the
/// `state` its writer holds, that the edits add up to it, level by level. Damage does not
/// stop the check: it is listed.
///
/// Pass no `state` when the writer's state cannot be trusted to match the disk (after a
/// failed append or switch, which leaves the writer refusing edits until a reopen): then
/// CURRENT may name either manifest, and only checksums are checked.
///
/// # Errors
///
/// [`Error::Io`] when a file cannot be read for a reason other than being missing.
pub fn check(
    fs: &dyn FileSystem,
    dir: &Path,
    number: u64,
    state: Option<&LevelState>,
) -> Result<ManifestCheck> {
    let mut out = ManifestCheck::default();
    let current = dir.join(CURRENT);
    out.current_bytes = match fs.open(&current) {
        Ok(file) => file.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(Error::io(&current, e)),
    };
    match read_current(fs, dir) {
        Ok(Some(named)) => {
            out.current_read = true;
            if named != number && state.is_some() {
                let reason = format!(
                    "CURRENT names {} but the database writes {}",
                    manifest_file_name(named),
                    manifest_file_name(number)
                );
                out.damage.push(Corruption::new(&current, 0, reason));
            }
        }
        Ok(None) => out
            .damage
            .push(Corruption::new(&current, 0, "the file is missing")),
        Err(e) => out.damage.push(damage(&current, e)?),
    }
    let manifest = dir.join(manifest_file_name(number));
    match replay(fs, dir, number) {
        Ok(replayed) => {
            out.manifest_bytes = replayed.len;
            out.edits = replayed.edits;
            out.torn_tail = replayed.events.iter().find_map(|event| match event {
                RecoveryEvent::TornTail { offset, .. } => Some(*offset),
                _ => None,
            });
            let mismatch = state.and_then(|state| disagreement(&replayed.state, state));
            if let Some(reason) = mismatch {
                out.damage.push(Corruption::new(&manifest, 0, reason));
            }
        }
        Err(e) => out.damage.push(damage(&manifest, e)?),
    }
    Ok(out)
}

/// [`check`] for a reader that does not write the database (a read-only open), while a
/// writer beside it may be changing it: CURRENT is read for the manifest to check, and
/// only checksums are checked. A writer switching manifests between the two reads, or
/// caught half-way through an edit's copy, looks like damage for one read, so damage is
/// reported only once two reads in a row find the same (at most `attempts` reads); a
/// database whose files keep changing under every read is reported as the last read
/// found it. Returns the manifest checked (`fallback` when there is no CURRENT to read)
/// and what the check found.
///
/// # Errors
///
/// As [`check`].
pub fn check_beside_writer(
    fs: &dyn FileSystem,
    dir: &Path,
    fallback: u64,
    attempts: usize,
) -> Result<(u64, ManifestCheck)> {
    let mut last: Option<(u64, ManifestCheck)> = None;
    for _ in 0..attempts.max(1) {
        // A CURRENT that does not decode is the check's to report.
        let number = read_current(fs, dir).ok().flatten().unwrap_or(fallback);
        let checked = check(fs, dir, number, None)?;
        let same = last
            .as_ref()
            .is_some_and(|(n, c)| *n == number && c.damage == checked.damage);
        if checked.damage.is_empty() || same {
            return Ok((number, checked));
        }
        last = Some((number, checked));
    }
    Ok(last.expect("at least one read"))
}

/// Where the state replayed from the disk and the state the database reads disagree: a
/// keyspace one has and the other has not, or a level whose tables differ.
fn disagreement(on_disk: &LevelState, state: &LevelState) -> Option<String> {
    let ids = |s: &LevelState| s.keyspaces.keys().copied().collect::<Vec<_>>();
    if ids(on_disk) != ids(state) {
        return Some(format!(
            "the manifest lists keyspaces {:?} but the database reads {:?}",
            ids(on_disk),
            ids(state)
        ));
    }
    let numbers = |files: &[std::sync::Arc<crate::FileMeta>]| {
        files.iter().map(|f| f.number).collect::<Vec<_>>()
    };
    for (id, disk) in &on_disk.keyspaces {
        let read = &state.keyspaces[id];
        let level = (0..crate::NUM_LEVELS).find(|&l| disk.levels.level(l) != read.levels.level(l));
        if let Some(level) = level {
            let name = &disk.def.name;
            return Some(format!(
                "keyspace {name:?} level {level}: the manifest lists tables {:?} but the database reads {:?}",
                numbers(disk.levels.level(level)),
                numbers(read.levels.level(level))
            ));
        }
    }
    None
}

/// `error`, met reading `file`, as damage; the error itself when the disk is failing.
fn damage(file: &Path, error: Error) -> Result<Corruption> {
    match error {
        Error::Corruption(c) => Ok(c),
        Error::Io(e) if e.kind() == io::ErrorKind::NotFound => {
            Ok(Corruption::new(file, 0, "the file is missing"))
        }
        Error::Io(e) => Err(Error::Io(e)),
        // A format version this build does not know, in a file the database itself wrote.
        other => Ok(Corruption::new(file, 0, other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ferris_fs::SimFs;

    use super::*;
    use crate::{Manifest, VersionEdit};

    /// An intact manifest checks clean; a CURRENT that names another manifest, edits that
    /// do not add up to the caller's state, and a missing manifest are each listed.
    #[test]
    fn a_check_lists_each_disagreement() {
        let sim = SimFs::new(5);
        let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let mut manifest = Manifest::create(&fs, dir, LevelState::default(), 1 << 20).unwrap();
        manifest
            .append(VersionEdit {
                log_numbers: vec![(0, 3)],
                ..VersionEdit::default()
            })
            .unwrap();
        let number = manifest.number();
        let clean = check(&sim, dir, number, Some(manifest.state())).unwrap();
        assert!(clean.damage.is_empty(), "{:?}", clean.damage);
        assert!(clean.current_read && clean.current_bytes > 0);
        assert_eq!(clean.edits, 2);

        let mut other = manifest.state().clone();
        let default = other.keyspaces.get_mut(&0).unwrap();
        default.levels = default
            .levels
            .apply(
                &[],
                [(
                    1,
                    Arc::new(crate::FileMeta {
                        number: 99,
                        size: 1,
                        smallest: ferris_core::InternalKey::new(
                            &b"a"[..],
                            1,
                            ferris_core::ValueKind::Put,
                        ),
                        largest: ferris_core::InternalKey::new(
                            &b"b"[..],
                            1,
                            ferris_core::ValueKind::Put,
                        ),
                        min_seq: 1,
                        max_seq: 1,
                        entries: 1,
                        tombstones: 0,
                    }),
                )],
            )
            .unwrap();
        let checked = check(&sim, dir, number, Some(&other)).unwrap();
        assert_eq!(checked.damage.len(), 1);
        assert!(
            checked.damage[0]
                .reason
                .starts_with("keyspace \"default\" level 1:"),
            "{:?}",
            checked.damage
        );

        let checked = check(&sim, dir, number + 7, Some(manifest.state())).unwrap();
        assert_eq!(checked.damage.len(), 2, "{:?}", checked.damage);
        assert!(checked.damage[0].reason.starts_with("CURRENT names"));
        assert!(checked.damage[1].reason.contains("missing"));
        // Without a state to hold it to, CURRENT may name either manifest.
        let checked = check(&sim, dir, number + 7, None).unwrap();
        assert_eq!(checked.damage.len(), 1);
    }
}
