//! The version set: which tables are live, the manifest that records it, and the super
//! version every read pins.
//!
//! A [`Version`] is the set of live tables per level, never changed once built. A
//! [`SuperVersion`] adds the memtables: everything a read needs, behind one `Arc`. The
//! [`VersionSet`] owns the current super version and the manifest writer, and is the only
//! place either changes: [`VersionSet::install_edit`] for flushes, compactions and
//! recovery alike (an edit is appended to the manifest and fsync'd, and only then the new
//! version is published), [`VersionSet::freeze`] for a full memtable.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use bytes::Bytes;
use ferris_compaction::{CompactionOptions, Strategy, View, WritePressure};
use ferris_core::{Corruption, FileMeta, HasMeta, Levels, Lookup, Memtable, SeqNo};
use ferris_fs::FileSystem;
use ferris_manifest::{LevelState, Manifest, VersionEdit, manifest_file_name};
use ferris_table::{ReadOptions, TableFormat, TableReader};

use crate::error::{Error, Result};
use crate::work::Work;

/// An open table file, shared by every version (and iterator) that holds it.
///
/// When an edit removes the file from the live set, it is marked obsolete; the file is
/// deleted when the last holder lets go. So a table is never deleted under a reader, and
/// never deleted while a version that lists it could still be installed.
#[derive(Debug)]
pub(crate) struct TableFile {
    pub(crate) meta: Arc<FileMeta>,
    pub(crate) reader: Arc<dyn TableReader>,
    fs: Arc<dyn FileSystem>,
    obsolete: AtomicBool,
}

impl HasMeta for TableFile {
    fn meta(&self) -> &FileMeta {
        &self.meta
    }
}

impl TableFile {
    /// Opens table `meta.number` of `dir` through `format`.
    pub(crate) fn open(env: &Env, meta: Arc<FileMeta>) -> Result<Arc<TableFile>> {
        let reader = env
            .options
            .table_format
            .open(&env.fs, &env.dir, meta.number, &env.read)?;
        Ok(Arc::new(TableFile {
            meta,
            reader,
            fs: Arc::clone(&env.fs),
            obsolete: AtomicBool::new(false),
        }))
    }

    /// Marks the file for deletion once nothing holds it any more.
    pub(crate) fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for TableFile {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            let path = self.reader.path();
            match self.fs.remove(path) {
                Ok(()) => tracing::debug!(file = %path.display(), "deleted obsolete table"),
                // Left behind, it is an orphan the next open removes.
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "could not delete obsolete table")
                }
            }
        }
    }
}

/// What every part of the engine reads and nobody changes: the file system, the directory,
/// the options and the block cache.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) dir: PathBuf,
    pub(crate) options: crate::Options,
    /// Reads through the database's block cache.
    pub(crate) read: ReadOptions,
}

impl Env {
    pub(crate) fn format(&self) -> &dyn TableFormat {
        &*self.options.table_format
    }

    pub(crate) fn path(&self, name: impl AsRef<Path>) -> PathBuf {
        self.dir.join(name)
    }
}

/// A version's new levels, and the files an edit removed from them.
type Applied = (Levels<Arc<TableFile>>, Vec<Arc<TableFile>>);

impl Version {
    /// This version with `edit` applied; `added` are the opened files the edit adds, in
    /// its order (a file the edit moves between levels is the one already open). Returns
    /// the files it removes too, for the caller to mark obsolete once the edit is durable.
    fn apply(&self, edit: &VersionEdit, added: Vec<Arc<TableFile>>) -> Result<Applied, String> {
        let removed: Vec<Arc<TableFile>> = edit
            .deleted
            .iter()
            .filter_map(|&(_, number)| self.levels.find(number).map(|(_, f)| Arc::clone(f)))
            .collect();
        let mut added = added.into_iter();
        let mut files = Vec::with_capacity(edit.added.len());
        for (level, meta) in &edit.added {
            let file = match removed.iter().find(|f| f.meta.number == meta.number) {
                Some(moved) => Arc::clone(moved),
                None => added
                    .next()
                    .ok_or_else(|| format!("no open table for file {}", meta.number))?,
            };
            files.push((*level, file));
        }
        let levels = self.levels.apply(&edit.deleted, files)?;
        let gone = removed
            .into_iter()
            .filter(|f| levels.find(f.meta.number).is_none())
            .collect();
        Ok((levels, gone))
    }

    /// The picker's view of this version: the same layout, metadata only.
    pub(crate) fn view(&self) -> View {
        View::new(self.levels.map(|f| Arc::clone(&f.meta)))
    }

    /// The newest version of `key` at or below `snapshot` in the tables: level 0 newest
    /// first, then the one table of each deeper level whose range holds the key.
    fn get(&self, key: &[u8], snapshot: SeqNo) -> Result<Option<Lookup>> {
        let in_range = |f: &TableFile| f.meta.overlaps(key, key);
        for file in self.levels.level(0) {
            if file.meta.min_seq > snapshot || !in_range(file) {
                continue;
            }
            if let Some(found) = file.reader.get(key, snapshot)? {
                return Ok(Some(found));
            }
        }
        for level in self.levels.levels().skip(1) {
            // The first file whose largest key is at or after `key` is the only candidate.
            let i = level.partition_point(|f| f.meta.largest.user_key() < key);
            if let Some(file) = level.get(i).filter(|f| in_range(f))
                && let Some(found) = file.reader.get(key, snapshot)?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

/// A frozen memtable waiting to be flushed.
#[derive(Debug)]
pub(crate) struct Frozen {
    pub(crate) mem: Arc<dyn Memtable>,
    /// The first WAL segment holding writes *not* in this memtable or older ones: once this
    /// memtable is in a table, every segment before it can go.
    pub(crate) next_log: u64,
    /// Freezing order, from 1.
    pub(crate) id: u64,
}

/// Everything a read needs, pinned together: the active memtable, the frozen ones (newest
/// first), and the table version. Replaced, never changed.
#[derive(Debug)]
pub(crate) struct SuperVersion {
    pub(crate) mem: Arc<dyn Memtable>,
    pub(crate) frozen: Vec<Arc<Frozen>>,
    pub(crate) version: Arc<Version>,
}

/// A table version and the compaction strategy's verdict on it: how hard writes must be
/// held back (flow control reads it on every write group), and how many bytes compaction
/// still has to rewrite.
#[derive(Debug, Default)]
pub(crate) struct Version {
    pub(crate) levels: Levels<Arc<TableFile>>,
    pub(crate) pressure: WritePressure,
    pub(crate) pending_bytes: u64,
}

impl SuperVersion {
    /// The newest version of `key` at or below `snapshot`: memtable, frozen memtables,
    /// then tables.
    pub(crate) fn get(&self, key: &[u8], snapshot: SeqNo) -> Result<Option<Bytes>> {
        let in_memory = self.mem.get(key, snapshot);
        let found =
            match in_memory.or_else(|| self.frozen.iter().find_map(|f| f.mem.get(key, snapshot))) {
                Some(found) => Some(found),
                None => self.version.get(key, snapshot)?,
            };
        Ok(match found {
            Some(Lookup::Value(v)) => Some(v),
            Some(Lookup::Deleted) | None => None,
        })
    }
}

/// The current super version and the manifest; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct VersionSet {
    manifest: Mutex<Manifest>,
    current: RwLock<Arc<SuperVersion>>,
    /// The id the last frozen memtable got.
    frozen_ids: AtomicU64,
    strategy: Arc<dyn Strategy>,
    compaction: CompactionOptions,
}

impl VersionSet {
    /// A version set over the tables `levels` and `mem`, starting a new manifest that
    /// holds `state` as its snapshot and pointing CURRENT at it.
    pub(crate) fn create(
        env: &Env,
        state: LevelState,
        levels: Levels<Arc<TableFile>>,
        mem: Arc<dyn Memtable>,
    ) -> Result<VersionSet> {
        let manifest = Manifest::create(&env.fs, &env.dir, state, env.options.max_manifest_size)?;
        let strategy = Arc::clone(&env.options.compaction_strategy);
        let version = Arc::new(judged(&*strategy, &env.options.compaction, levels));
        let set = VersionSet {
            manifest: Mutex::new(manifest),
            current: RwLock::new(Arc::new(SuperVersion {
                mem,
                frozen: Vec::new(),
                version,
            })),
            frozen_ids: AtomicU64::new(0),
            strategy,
            compaction: env.options.compaction,
        };
        Ok(set)
    }

    fn lock(&self) -> MutexGuard<'_, Manifest> {
        self.manifest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What reads pin.
    pub(crate) fn current(&self) -> Arc<SuperVersion> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Hands out a file number (for a table or a manifest), never the same twice.
    pub(crate) fn take_file_number(&self) -> u64 {
        self.lock().take_file_number()
    }

    /// The manifest's number, and the state its edits add up to (for `Db::verify`). The
    /// closure runs under the manifest lock, so no edit lands meanwhile.
    pub(crate) fn with_state<T>(&self, f: impl FnOnce(u64, &LevelState) -> T) -> T {
        let m = self.lock();
        f(m.number(), m.state())
    }

    fn publish(&self, sv: SuperVersion) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(sv);
    }

    /// Makes `edit` durable in the manifest and installs the version it describes: the one
    /// way the set of live tables changes. `added` are the opened tables the edit adds;
    /// `flushed` names the frozen memtable the edit's table replaces.
    ///
    /// A poisoned database writes no more edits: after a failed manifest switch, CURRENT
    /// may no longer name the manifest this would extend. Any failure here poisons the
    /// database before the manifest lock is let go, for the same reason.
    pub(crate) fn install_edit(
        &self,
        env: &Env,
        work: &Work,
        edit: VersionEdit,
        added: Vec<Arc<TableFile>>,
        flushed: Option<u64>,
    ) -> Result<()> {
        let mut m = self.lock();
        work.check()?;
        let sv = self.current();
        // Checked before anything is written: an edit the state refuses never reaches the
        // manifest.
        let (levels, removed) = sv.version.apply(&edit, added).map_err(|reason| {
            let file = env.path(manifest_file_name(m.number()));
            let reason = format!("an edit does not apply to the live version: {reason}");
            work.poisoned_by(Error::Corruption(Corruption::new(file, 0, reason)))
        })?;
        m.append(edit).map_err(|e| work.poisoned_by(e.into()))?;
        self.publish(SuperVersion {
            mem: Arc::clone(&sv.mem),
            frozen: sv
                .frozen
                .iter()
                .filter(|f| Some(f.id) != flushed)
                .cloned()
                .collect(),
            version: Arc::new(judged(&*self.strategy, &self.compaction, levels)),
        });
        for file in removed {
            file.mark_obsolete();
        }
        m.switch_if_large()
            .map_err(|e| work.poisoned_by(e.into()))?;
        Ok(())
    }

    /// The id of the newest memtable frozen so far (0 before the first): once it is
    /// flushed, every memtable frozen so far is.
    pub(crate) fn last_frozen_id(&self) -> u64 {
        self.frozen_ids.load(Ordering::Acquire)
    }

    /// Replaces the active memtable with a new one from `factory`, freezing the old one
    /// (whose writes end before WAL segment `next_log`). Returns the frozen memtable's id.
    pub(crate) fn freeze(&self, env: &Env, next_log: u64) -> u64 {
        // Under the manifest lock, so that it never races an install.
        let _m = self.lock();
        let sv = self.current();
        let frozen = Arc::new(Frozen {
            mem: Arc::clone(&sv.mem),
            next_log,
            id: self.frozen_ids.load(Ordering::Relaxed) + 1,
        });
        let id = frozen.id;
        tracing::debug!(
            id = frozen.id,
            bytes = frozen.mem.approximate_size(),
            "froze the memtable"
        );
        let mut all = vec![frozen];
        all.extend(sv.frozen.iter().cloned());
        self.publish(SuperVersion {
            mem: env.options.memtable.create(),
            frozen: all,
            version: Arc::clone(&sv.version),
        });
        self.frozen_ids.store(id, Ordering::Release);
        id
    }
}

/// A version of `levels`, with `strategy`'s verdict on it.
fn judged(
    strategy: &dyn Strategy,
    options: &CompactionOptions,
    levels: Levels<Arc<TableFile>>,
) -> Version {
    let view = View::new(levels.map(|f| Arc::clone(&f.meta)));
    Version {
        pressure: strategy.write_pressure(&view, options),
        pending_bytes: strategy.pending_compaction_bytes(&view, options),
        levels,
    }
}

/// Opens every table `state` lists.
pub(crate) fn open_tables(env: &Env, state: &LevelState) -> Result<Levels<Arc<TableFile>>> {
    let mut files = Vec::new();
    for (level, meta) in state.levels.files() {
        files.push((level, TableFile::open(env, Arc::clone(meta))?));
    }
    Ok(Levels::from_files(files))
}
