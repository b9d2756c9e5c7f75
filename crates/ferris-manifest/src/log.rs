//! The live manifest: its writer and the state its edits add up to, kept in step.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_fs::FileSystem;

use crate::current::write_current;
use crate::edit::{LevelState, VersionEdit};
use crate::error::{Error, Result};
use crate::manifest::{ManifestWriter, manifest_file_name};

/// A database's live manifest: the file edits are appended to, the state they add up to,
/// and the switch to a fresh manifest once this one grows past a size.
///
/// This is what an engine holds while it runs (LevelDB's `VersionSet::LogAndApply`, less
/// the versions): every change to the set of live files is checked against the state,
/// made durable with [`Manifest::append`], and only then counted as done; when the file
/// has grown past its limit, [`Manifest::switch_if_large`] writes the whole state as the
/// first record of a new manifest and switches CURRENT to it, so a manifest never grows
/// without bound and recovery replays a short log.
///
/// ```
/// use std::sync::Arc;
/// use ferris_fs::{FileSystem, SimFs};
/// use ferris_manifest::{LevelState, Manifest, VersionEdit, read_current, replay};
///
/// let fs: Arc<dyn FileSystem> = Arc::new(SimFs::new(7));
/// fs.create_dir_all("/db".as_ref())?;
/// let mut manifest = Manifest::create(&fs, "/db".as_ref(), LevelState::default(), 256)?;
/// for log in 2..20 {
///     manifest.append(VersionEdit { log_numbers: vec![(0, log)], ..VersionEdit::default() })?;
///     manifest.switch_if_large()?;
/// }
/// // Whichever manifest is live now, CURRENT names it and it replays to the same state.
/// let number = read_current(&*fs, "/db".as_ref())?.expect("CURRENT");
/// assert_eq!(number, manifest.number());
/// assert_eq!(replay(&*fs, "/db".as_ref(), number)?.state, *manifest.state());
/// assert_eq!(manifest.state().log_number(), 19);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Durability
///
/// An edit takes effect when [`Manifest::append`] returns: its record was fsync'd. A
/// switch writes and fsyncs the new manifest (and the directory) before it replaces
/// CURRENT (`CURRENT.tmp`, fsync, rename, fsync the directory), so a power cut at any
/// moment leaves CURRENT naming a complete manifest with the same state. After any failure
/// the caller cannot know what reached the disk and must stop writing edits: CURRENT may
/// already name the new manifest.
#[derive(Debug)]
pub struct Manifest {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    number: u64,
    /// `None` for a manifest opened with [`Manifest::read_only`].
    writer: Option<ManifestWriter>,
    state: LevelState,
    max_size: u64,
}

impl Manifest {
    /// Starts a new manifest in `dir` holding `state` as its snapshot (under a file number
    /// taken from `state`) and points CURRENT at it. It switches to a fresh one once it
    /// grows past `max_size` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the manifest or CURRENT cannot be written and synced.
    pub fn create(
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        mut state: LevelState,
        max_size: u64,
    ) -> Result<Manifest> {
        let number = state.take_file_number();
        let writer = ManifestWriter::create(fs, dir, number, &state.snapshot())?;
        write_current(&**fs, dir, number)?;
        Ok(Manifest {
            fs: Arc::clone(fs),
            dir: dir.to_path_buf(),
            number,
            writer: Some(writer),
            state,
            max_size,
        })
    }

    /// Manifest `number` of `dir`, already replayed into `state` (by
    /// [`replay`](crate::replay)), held for reading only: it writes nothing, and
    /// [`Manifest::append`] refuses every edit. What a database opened read-only holds, so
    /// that it reads its state the way a writer does.
    pub fn read_only(
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        state: LevelState,
    ) -> Manifest {
        Manifest {
            fs: Arc::clone(fs),
            dir: dir.to_path_buf(),
            number,
            writer: None,
            state,
            max_size: u64::MAX,
        }
    }

    /// The state every edit so far adds up to.
    pub fn state(&self) -> &LevelState {
        &self.state
    }

    /// The live manifest's file number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Hands out a file number (for a table or a manifest), never the same twice. The
    /// next edit records it as used.
    pub fn take_file_number(&mut self) -> u64 {
        self.state.take_file_number()
    }

    /// Checks that `edit` fits the state, records the next file number in it, appends it
    /// and fsyncs it, then applies it to the state.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if the edit contradicts the state, or the manifest was
    /// opened [read-only](Manifest::read_only) (nothing is written); [`Error::Io`] if the
    /// write or fsync fails.
    pub fn append(&mut self, mut edit: VersionEdit) -> Result<()> {
        let Some(writer) = &mut self.writer else {
            return Err(Error::InvalidInput("the manifest is open read-only".into()));
        };
        edit.next_file_number = Some(self.state.next_file_number);
        let mut next = self.state.clone();
        next.apply(&edit).map_err(Error::InvalidInput)?;
        writer.append(&edit)?;
        self.state = next;
        Ok(())
    }

    /// Once the manifest has grown past its limit: starts a new manifest holding a
    /// snapshot of the state, points CURRENT at it, and removes the old one. Returns
    /// whether it switched.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the new manifest or CURRENT cannot be written. A manifest left
    /// behind unremoved is no error: the next open removes it.
    pub fn switch_if_large(&mut self) -> Result<bool> {
        // A read-only manifest never grows.
        if self
            .writer
            .as_ref()
            .is_none_or(|w| w.len() <= self.max_size)
        {
            return Ok(false);
        }
        let number = self.state.take_file_number();
        let writer = ManifestWriter::create(&self.fs, &self.dir, number, &self.state.snapshot())?;
        write_current(&*self.fs, &self.dir, number)?;
        self.writer = Some(writer);
        let old = std::mem::replace(&mut self.number, number);
        let old_path = self.dir.join(manifest_file_name(old));
        if let Err(e) = self.fs.remove(&old_path) {
            tracing::warn!(file = %old_path.display(), error = %e, "could not remove the old manifest");
        }
        tracing::info!(manifest = number, "started a new manifest");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use ferris_fs::SimFs;

    use super::*;
    use crate::{read_current, replay};

    /// An edit that contradicts the state writes nothing and changes nothing: the
    /// manifest on disk and the state in memory stay in step.
    #[test]
    fn an_edit_that_does_not_apply_is_not_written() {
        let sim = SimFs::new(3);
        let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
        fs.create_dir_all(Path::new("/db")).unwrap();
        let mut manifest =
            Manifest::create(&fs, Path::new("/db"), LevelState::default(), 1 << 20).unwrap();
        let before = manifest.state().clone();
        let bad = VersionEdit {
            deleted: vec![(0, 0, 42)],
            ..VersionEdit::default()
        };
        assert!(matches!(manifest.append(bad), Err(Error::InvalidInput(_))));
        assert_eq!(*manifest.state(), before);
        let number = read_current(&sim, Path::new("/db")).unwrap().unwrap();
        let replayed = replay(&sim, Path::new("/db"), number).unwrap();
        assert_eq!(replayed.state, before);
        assert_eq!(replayed.edits, 1);
    }

    /// A manifest held read-only writes nothing and refuses edits; the position a reader
    /// compares moves with every edit a writer appends and every switch it makes.
    #[test]
    fn a_read_only_manifest_refuses_edits_and_the_position_tracks_the_writer() {
        let sim = SimFs::new(4);
        let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        assert_eq!(crate::manifest_position(&sim, dir).unwrap(), None);
        let mut writer = Manifest::create(&fs, dir, LevelState::default(), 200).unwrap();
        let start = crate::manifest_position(&sim, dir).unwrap().unwrap();
        assert_eq!(start.0, writer.number());

        let number = read_current(&sim, dir).unwrap().unwrap();
        let state = replay(&sim, dir, number).unwrap().state;
        let mut reader = Manifest::read_only(&fs, dir, number, state.clone());
        let files = sim.list(dir).unwrap();
        let edit = VersionEdit {
            log_numbers: vec![(0, 2)],
            ..VersionEdit::default()
        };
        assert!(matches!(
            reader.append(edit.clone()),
            Err(Error::InvalidInput(_))
        ));
        assert!(!reader.switch_if_large().unwrap());
        assert_eq!((reader.number(), reader.state()), (number, &state));
        assert_eq!(sim.list(dir).unwrap(), files);

        writer.append(edit).unwrap();
        let appended = crate::manifest_position(&sim, dir).unwrap().unwrap();
        assert_eq!(appended.0, start.0);
        assert!(appended.1 > start.1);
        while !writer.switch_if_large().unwrap() {
            writer.append(VersionEdit::default()).unwrap();
        }
        let switched = crate::manifest_position(&sim, dir).unwrap().unwrap();
        assert_eq!(switched.0, writer.number());
        assert_ne!(switched.0, start.0);
    }

    /// A read that fails once is tried again; one that fails the same way while the
    /// manifest stands still is the answer; one that fails while a writer keeps appending
    /// edits is given up after the attempts allowed.
    #[test]
    fn a_consistent_read_retries_passing_failures_only() {
        use crate::{Raced, read_consistent};
        let sim = SimFs::new(5);
        let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let mut writer = Manifest::create(&fs, dir, LevelState::default(), 1 << 20).unwrap();
        let failure = || Error::InvalidInput("missing".into());

        let mut calls = 0;
        let once = read_consistent(&sim, dir, 4, || {
            calls += 1;
            if calls == 1 {
                Err(failure())
            } else {
                Ok(calls)
            }
        });
        assert_eq!(once.unwrap(), 2);

        calls = 0;
        let lasting = read_consistent(&sim, dir, 4, || -> Result<()> {
            calls += 1;
            Err(failure())
        });
        assert!(matches!(
            lasting,
            Err(Raced::Failed(Error::InvalidInput(_)))
        ));
        assert_eq!(calls, 2);

        let changing = read_consistent(&sim, dir, 4, || -> Result<()> {
            writer.append(VersionEdit::default()).unwrap();
            Err(failure())
        });
        assert!(matches!(changing, Err(Raced::Changing { attempts: 4, .. })));
    }
}
