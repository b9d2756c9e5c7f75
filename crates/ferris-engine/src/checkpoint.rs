//! Checkpoints: a consistent copy of the database, taken while writes go on.
//!
//! A checkpoint is the database as of one sequence number `S`, in a directory of its own
//! that opens as a normal database. It is taken in three steps:
//!
//! 1. **Capture**, in the write queue: a job that leads a group alone, so no write is half
//!    applied and no memtable is being frozen. It reads `S` and pins every keyspace's super
//!    version. Every write up to `S` is then in one of the pinned memtables or tables, and
//!    nothing newer is in a pinned table (a table holds only frozen writes, all older than
//!    the capture). Writers wait for this step only, which takes microseconds.
//! 2. **Copy**, outside the queue, as writes go on: every pinned table is given its name in
//!    the target by a hard link (no byte copied, the disk space shared) or, across file
//!    systems, by a copy. The pinned super versions keep the tables from being deleted by
//!    a compaction meanwhile. What the pinned memtables hold up to `S` (a memtable keeps
//!    taking writes after the capture, and those are skipped) is written as one new
//!    level-0 table per keyspace. The checkpoint needs no WAL: its tables hold all of it.
//! 3. **Commit**: a new manifest listing those tables (`last_sequence` = `S`), synced with
//!    its directory, then CURRENT, written the usual way (`CURRENT.tmp`, fsync, rename,
//!    fsync the directory).
//!
//! CURRENT is the commit point. A power cut or a failure before it leaves table files and
//! perhaps a manifest without CURRENT, which [`Db::open`](crate::Db::open) refuses as
//! [`Error::NotADatabase`] rather than guess: never a half checkpoint that opens. On a
//! failure the files written so far are removed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ferris_core::{Levels, Memtable, SeqNo};
use ferris_fs::Transfer;
use ferris_manifest::{KeyspaceDef, KeyspaceState, LevelState, Manifest};

use crate::db::Shared;
use crate::error::{Error, Result};
use crate::versions::{KeyspaceCore, SuperVersion};
use crate::write::Job;

/// What each keyspace's super version was at the capture.
pub(crate) type Captured = Arc<Mutex<Vec<(Arc<KeyspaceCore>, Arc<SuperVersion>)>>>;

/// What a checkpoint wrote, returned by [`Db::checkpoint`](crate::Db::checkpoint).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointStats {
    /// The sequence number the checkpoint holds every write up to, and none after.
    pub sequence: SeqNo,
    /// Tables given their name in the target by a hard link.
    pub tables_linked: usize,
    /// Tables copied (the target is on another file system).
    pub tables_copied: usize,
    /// Bytes of the copied tables.
    pub bytes_copied: u64,
    /// Tables written from the memtables (at most one per keyspace).
    pub tables_written: usize,
    /// Bytes of those tables.
    pub bytes_written: u64,
}

impl Shared {
    /// Pins every keyspace's super version at one sequence number (step 1 of the module
    /// docs); runs in the write-group leader.
    pub(crate) fn capture(&self, into: &Captured) -> Result<u64> {
        let pinned = (self.versions.keyspaces().into_iter())
            .map(|k| {
                let sv = k.current();
                (k, sv)
            })
            .collect();
        *into.lock().unwrap_or_else(PoisonError::into_inner) = pinned;
        Ok(self.writes.visible())
    }

    /// Writes a checkpoint of the database into `target` (see the [module docs](self)).
    pub(crate) fn checkpoint(&self, target: &Path) -> Result<CheckpointStats> {
        self.check_open()?;
        self.prepare_target(target)?;
        let captured = Captured::default();
        let sequence = self.submit(Job::Capture(Arc::clone(&captured)))?;
        let pinned = std::mem::take(&mut *captured.lock().unwrap_or_else(PoisonError::into_inner));
        let mut written = Vec::new();
        let result = self.write_checkpoint(target, sequence, &pinned, &mut written);
        if result.is_err() {
            // Without CURRENT these files are no database; removing them leaves the
            // target as it was found, empty. A removal that fails leaves a directory
            // that does not open, which is what a crash here would leave too.
            for path in written.iter().rev() {
                let removed = self.env.fs.remove(path);
                if let Err(e) = removed.or_else(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                }) {
                    tracing::warn!(file = %path.display(), error = %e, "could not remove a failed checkpoint's file");
                }
            }
        }
        result
    }

    /// The target must be a new or empty directory outside the database.
    fn prepare_target(&self, target: &Path) -> Result<()> {
        let (fs, dir) = (&*self.env.fs, &self.env.dir);
        let refuse = |reason: &str| {
            Err(Error::CheckpointTarget {
                path: target.to_path_buf(),
                reason: reason.into(),
            })
        };
        if target.starts_with(dir) {
            // Inside the database, the checkpoint's files would be strangers to it.
            return refuse("it is the database's own directory or inside it");
        }
        if fs.exists(target).map_err(|e| Error::io(target, e))? {
            let names = fs.list(target).map_err(|e| Error::io(target, e))?;
            if !names.is_empty() {
                return refuse("it is not empty");
            }
            return Ok(());
        }
        fs.create_dir_all(target)
            .map_err(|e| Error::io(target, e))?;
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
        }
        Ok(())
    }

    /// Steps 2 and 3 of the module docs; every file created goes into `written` first.
    fn write_checkpoint(
        &self,
        target: &Path,
        sequence: SeqNo,
        pinned: &[(Arc<KeyspaceCore>, Arc<SuperVersion>)],
        written: &mut Vec<PathBuf>,
    ) -> Result<CheckpointStats> {
        let (fs, format) = (&self.env.fs, self.env.format());
        let mut stats = CheckpointStats {
            sequence,
            ..CheckpointStats::default()
        };
        let mut state = LevelState {
            keyspaces: Default::default(),
            last_sequence: sequence,
            next_keyspace_id: self.versions.with_state(|_, s| s.next_keyspace_id),
            next_file_number: 0,
        };
        for (keyspace, sv) in pinned {
            let mut files = Vec::new();
            for (level, table) in sv.version.levels.files() {
                let name = format.file_name(table.meta.number);
                let to = target.join(&name);
                written.push(to.clone());
                match ferris_fs::link_or_copy(&**fs, &self.env.path(&name), &to) {
                    Ok(Transfer::Linked) => stats.tables_linked += 1,
                    Ok(Transfer::Copied(bytes)) => {
                        stats.tables_copied += 1;
                        stats.bytes_copied += bytes;
                    }
                    Err(e) => return Err(Error::io(to, e)),
                }
                files.push((level, Arc::clone(&table.meta)));
            }
            if let Some(meta) = self.write_memtables(target, keyspace, sv, sequence, written)? {
                stats.tables_written += 1;
                stats.bytes_written += meta.size;
                files.push((0, Arc::new(meta)));
            }
            let def = KeyspaceDef {
                id: keyspace.id,
                name: keyspace.name.clone(),
                table_format: format.name().to_string(),
                strategy: keyspace.options.compaction_strategy.name().to_string(),
                expiring: keyspace.options.ttl.is_on(),
            };
            let levels = Levels::from_files(files);
            let log_number = 0;
            (state.keyspaces).insert(
                keyspace.id,
                KeyspaceState {
                    def,
                    levels,
                    log_number,
                },
            );
        }
        // A number above every table's, here and in the target; the manifest takes it.
        state.next_file_number = self.versions.take_file_number();
        let manifest = ferris_manifest::manifest_file_name(state.next_file_number);
        written.push(target.join(manifest));
        written.push(target.join(ferris_manifest::CURRENT_TMP));
        // Writes the manifest, syncs the directory (and with it every table's name), then
        // commits with CURRENT.
        Manifest::create(fs, target, state, u64::MAX)?;
        tracing::info!(target = %target.display(), ?stats, "took a checkpoint");
        Ok(stats)
    }

    /// Writes what `sv`'s memtables hold at or below `sequence` to one table in `target`,
    /// or nothing if they hold nothing that old.
    fn write_memtables(
        &self,
        target: &Path,
        keyspace: &KeyspaceCore,
        sv: &SuperVersion,
        sequence: SeqNo,
        written: &mut Vec<PathBuf>,
    ) -> Result<Option<ferris_core::FileMeta>> {
        let mems = std::iter::once(&sv.mem).chain(sv.frozen.iter().map(|f| &f.mem));
        let mems: Vec<Arc<dyn Memtable>> = mems.filter(|m| !m.is_empty()).cloned().collect();
        if mems.is_empty() {
            return Ok(None);
        }
        let number = self.versions.take_file_number();
        let env = &self.env;
        written.push(target.join(env.format().file_name(number)));
        let options = keyspace.options.table_options(keyspace.id);
        let mut builder = env.format().create(&env.fs, target, number, &options)?;
        // Writes after the capture are skipped: not part of the checkpoint.
        if !builder.add_memtables(&mems, sequence)? {
            // Dropping an unfinished builder removes its temporary file.
            return Ok(None);
        }
        Ok(Some(builder.finish()?.to_meta(number)))
    }
}
