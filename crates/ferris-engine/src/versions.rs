//! The version set: the keyspaces, which tables each has live, the manifest that records
//! it, and the super versions reads pin.
//!
//! A [`Version`] is one keyspace's set of live tables per level, never changed once built.
//! A [`SuperVersion`] adds the keyspace's memtables: everything a read needs, behind one
//! `Arc`. Each [`KeyspaceCore`] holds its current super version; the [`VersionSet`] holds
//! the keyspaces and the manifest writer, and is the only place either changes:
//! [`VersionSet::install_edit`] for flushes, compactions and recovery alike (an edit is
//! appended to the manifest and fsync'd, and only then the new version is published),
//! [`VersionSet::freeze`] for a full memtable, and creating and dropping keyspaces, each one
//! edit under the same manifest lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use bytes::Bytes;
use ferris_compaction::{View, WritePressure};
use ferris_core::{
    Corruption, DEFAULT_KEYSPACE, FileMeta, HasMeta, KeyspaceId, Levels, Lookup, Memtable, SeqNo,
};
use ferris_fs::FileSystem;
use ferris_manifest::{KeyspaceDef, LevelState, Manifest, VersionEdit, manifest_file_name};
use ferris_table::levels::LevelTable;
use ferris_table::{ReadOptions, TableFormat, TableReader};

use crate::KeyspaceOptions;
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

impl LevelTable for TableFile {
    fn reader(&self) -> &dyn TableReader {
        &*self.reader
    }
}

impl TableFile {
    /// Opens table `meta.number` of `dir` through `format`, as a table of `keyspace`: one
    /// that recorded another keyspace is corruption, never served.
    pub(crate) fn open(
        env: &Env,
        meta: Arc<FileMeta>,
        keyspace: KeyspaceId,
    ) -> Result<Arc<TableFile>> {
        let reader = env
            .options
            .table_format
            .open(&env.fs, &env.dir, meta.number, &env.read)?;
        reader
            .properties()
            .check_keyspace(reader.path(), keyspace)?;
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
    /// This version with `edit` applied (the files of `edit`, all of this version's
    /// keyspace); `added` are the opened files the edit adds, in its order (a file the edit
    /// moves between levels is the one already open). Returns the files it removes too, for
    /// the caller to mark obsolete once the edit is durable.
    fn apply(&self, edit: &VersionEdit, added: Vec<Arc<TableFile>>) -> Result<Applied, String> {
        let deleted: Vec<(usize, u64)> = edit.deleted.iter().map(|&(_, l, n)| (l, n)).collect();
        let removed: Vec<Arc<TableFile>> = deleted
            .iter()
            .filter_map(|&(_, number)| self.levels.find(number).map(|(_, f)| Arc::clone(f)))
            .collect();
        let mut added = added.into_iter();
        let mut files = Vec::with_capacity(edit.added.len());
        for (_, level, meta) in &edit.added {
            let file = match removed.iter().find(|f| f.meta.number == meta.number) {
                Some(moved) => Arc::clone(moved),
                None => added
                    .next()
                    .ok_or_else(|| format!("no open table for file {}", meta.number))?,
            };
            files.push((*level, file));
        }
        let levels = self.levels.apply(&deleted, files)?;
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
}

/// A frozen memtable waiting to be flushed.
#[derive(Debug)]
pub(crate) struct Frozen {
    pub(crate) mem: Arc<dyn Memtable>,
    /// The first WAL segment holding writes *not* in this memtable or older ones: once this
    /// memtable is in a table, every segment before it can go.
    pub(crate) next_log: u64,
    /// Freezing order, from 1, across keyspaces.
    pub(crate) id: u64,
    /// The other keyspaces that held nothing in memory when this one froze: none of their
    /// writes before `next_log` are outside their tables either, so this flush's edit
    /// moves their log numbers up too, and an idle keyspace never holds WAL segments back.
    pub(crate) clean: Vec<KeyspaceId>,
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
    /// The tables holding range tombstones, with their levels, which every scan over
    /// their keys consults: found once per version, not once per scan.
    pub(crate) tombstone_tables: Vec<(usize, Arc<TableFile>)>,
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
                None => ferris_table::levels::get(&self.version.levels, key, snapshot)?,
            };
        Ok(match found {
            Some(Lookup::Value(v)) => Some(v),
            Some(Lookup::Deleted) | None => None,
        })
    }
}

/// One keyspace's part of the engine: what it is, its current super version, and whether
/// it was dropped. Shared by its handles, the version set and the background threads.
#[derive(Debug)]
pub(crate) struct KeyspaceCore {
    pub(crate) id: KeyspaceId,
    pub(crate) name: String,
    pub(crate) options: KeyspaceOptions,
    current: RwLock<Arc<SuperVersion>>,
    dropped: AtomicBool,
    /// The WAL segment the active memtable's first write went to, or 0 while it is empty:
    /// how far back the writes only memory holds go.
    pub(crate) first_log: AtomicU64,
}

impl KeyspaceCore {
    pub(crate) fn new(
        id: KeyspaceId,
        name: String,
        options: KeyspaceOptions,
        levels: Levels<Arc<TableFile>>,
        mem: Arc<dyn Memtable>,
    ) -> KeyspaceCore {
        let version = Arc::new(judged(&options, levels));
        KeyspaceCore {
            id,
            name,
            options,
            current: RwLock::new(Arc::new(SuperVersion {
                mem,
                frozen: Vec::new(),
                version,
            })),
            dropped: AtomicBool::new(false),
            first_log: AtomicU64::new(0),
        }
    }

    /// What reads pin.
    pub(crate) fn current(&self) -> Arc<SuperVersion> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn publish(&self, sv: SuperVersion) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(sv);
    }

    /// [`Error::KeyspaceDropped`] once the keyspace is dropped.
    pub(crate) fn check(&self) -> Result<()> {
        match self.dropped.load(Ordering::Acquire) {
            false => Ok(()),
            true => Err(Error::KeyspaceDropped {
                name: self.name.clone(),
            }),
        }
    }

    /// Whether the keyspace holds anything in memory, active or frozen.
    pub(crate) fn in_memory(&self) -> bool {
        let sv = self.current();
        !sv.mem.is_empty() || !sv.frozen.is_empty()
    }
}

/// The keyspaces and the manifest; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct VersionSet {
    manifest: Mutex<Manifest>,
    /// Changed only under the manifest lock.
    keyspaces: RwLock<BTreeMap<KeyspaceId, Arc<KeyspaceCore>>>,
    /// The default keyspace, never dropped, for the database's own methods.
    pub(crate) default: Arc<KeyspaceCore>,
    /// The id the last frozen memtable got.
    frozen_ids: AtomicU64,
    /// The strongest write pressure of any keyspace's version ([`VersionSet::pressure`]),
    /// kept as versions change: flow control reads it on every write group.
    pressure: AtomicU8,
    /// Dropped keyspaces whose frozen memtables the flush thread must still let go of, in
    /// freezing order, so that `Db::flush` callers waiting for them are released.
    draining: Mutex<Vec<Arc<KeyspaceCore>>>,
}

impl VersionSet {
    /// A version set over `keyspaces` (which hold the default keyspace), recorded in
    /// `manifest` (a new one, or for a database opened read-only, the one it replayed).
    pub(crate) fn new(
        manifest: Manifest,
        keyspaces: BTreeMap<KeyspaceId, Arc<KeyspaceCore>>,
    ) -> VersionSet {
        let versions = VersionSet {
            manifest: Mutex::new(manifest),
            default: Arc::clone(&keyspaces[&DEFAULT_KEYSPACE]),
            keyspaces: RwLock::new(keyspaces),
            frozen_ids: AtomicU64::new(0),
            pressure: AtomicU8::new(0),
            draining: Mutex::default(),
        };
        versions.refresh_pressure();
        versions
    }

    /// Publishes `sv` as `keyspace`'s super version, and the write pressure it implies.
    /// Called only under the manifest lock, so two publishes never store their pressures
    /// out of order.
    fn publish(&self, keyspace: &KeyspaceCore, sv: SuperVersion) {
        keyspace.publish(sv);
        self.refresh_pressure();
    }

    fn refresh_pressure(&self) {
        let each = self.keyspaces().into_iter();
        let strongest = each.map(|k| k.current().version.pressure).max();
        let code = strongest.unwrap_or_default().code();
        self.pressure.store(code, Ordering::Release);
    }

    fn lock(&self) -> MutexGuard<'_, Manifest> {
        self.manifest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live keyspaces, by id.
    pub(crate) fn keyspaces(&self) -> Vec<Arc<KeyspaceCore>> {
        let map = self
            .keyspaces
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.values().cloned().collect()
    }

    /// The live keyspace `id`.
    pub(crate) fn keyspace(&self, id: KeyspaceId) -> Option<Arc<KeyspaceCore>> {
        if id == DEFAULT_KEYSPACE {
            return Some(Arc::clone(&self.default));
        }
        let map = self
            .keyspaces
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(&id).cloned()
    }

    /// The live keyspace named `name`.
    pub(crate) fn keyspace_named(&self, name: &str) -> Option<Arc<KeyspaceCore>> {
        let map = self
            .keyspaces
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        map.values().find(|k| k.name == name).cloned()
    }

    /// The strongest write pressure any keyspace's strategy asks for: the keyspaces share
    /// one WAL and one write queue, so one falling behind holds all writes back.
    pub(crate) fn pressure(&self) -> WritePressure {
        WritePressure::from_code(self.pressure.load(Ordering::Acquire))
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

    /// Makes `edit` durable in the manifest and installs the version of `keyspace` it
    /// describes: the one way the set of live tables changes. `added` are the opened
    /// tables the edit adds; `flushed` names the frozen memtable the edit's table replaces.
    /// A keyspace dropped meanwhile takes no edit: the tables are let go.
    ///
    /// A poisoned database writes no more edits: after a failed manifest switch, CURRENT
    /// may no longer name the manifest this would extend. Any failure here poisons the
    /// database before the manifest lock is let go, for the same reason.
    pub(crate) fn install_edit(
        &self,
        env: &Env,
        work: &Work,
        keyspace: &KeyspaceCore,
        mut edit: VersionEdit,
        added: Vec<Arc<TableFile>>,
        flushed: Option<u64>,
    ) -> Result<()> {
        let mut m = self.lock();
        work.check()?;
        let sv = keyspace.current();
        let frozen = || {
            let mut left = sv.frozen.clone();
            left.retain(|f| Some(f.id) != flushed);
            left
        };
        if keyspace.check().is_err() {
            // Dropped: the tables go, and so does the frozen memtable flushed into one.
            added.iter().for_each(|f| f.mark_obsolete());
            self.publish(
                keyspace,
                SuperVersion {
                    mem: Arc::clone(&sv.mem),
                    frozen: frozen(),
                    version: Arc::clone(&sv.version),
                },
            );
            return Ok(());
        }
        // A clean keyspace this flush moves forward may have been dropped since.
        edit.log_numbers
            .retain(|(id, _)| m.state().keyspaces.contains_key(id));
        // Checked before anything is written: an edit the state refuses never reaches the
        // manifest.
        let (levels, removed) = sv.version.apply(&edit, added).map_err(|reason| {
            let file = env.path(manifest_file_name(m.number()));
            let reason = format!("an edit does not apply to the live version: {reason}");
            work.poisoned_by(Error::Corruption(Corruption::new(file, 0, reason)))
        })?;
        m.append(edit).map_err(|e| work.poisoned_by(e.into()))?;
        self.publish(
            keyspace,
            SuperVersion {
                mem: Arc::clone(&sv.mem),
                frozen: frozen(),
                version: Arc::new(judged(&keyspace.options, levels)),
            },
        );
        for file in removed {
            file.mark_obsolete();
        }
        m.switch_if_large()
            .map_err(|e| work.poisoned_by(e.into()))?;
        Ok(())
    }

    /// The first WAL segment some keyspace still needs.
    pub(crate) fn log_number(&self) -> u64 {
        self.lock().state().log_number()
    }

    /// Creates keyspace `name` with `options`, its writes starting at WAL segment
    /// `first_log`, durable in the manifest when this returns; or returns the live one of
    /// that name.
    pub(crate) fn create_keyspace(
        &self,
        env: &Env,
        work: &Work,
        name: &str,
        options: KeyspaceOptions,
        first_log: u64,
    ) -> Result<Arc<KeyspaceCore>> {
        let mut m = self.lock();
        if let Some(live) = self.keyspace_named(name) {
            return Ok(live);
        }
        work.check()?;
        let id = m.state().next_keyspace_id;
        // `first_log` was read before the lock: a flush may since have retired every
        // segment up to the other keyspaces' log numbers, and a log number below them
        // would name a segment that is gone (the next open calls that corruption). The
        // keyspace has no writes before its creation, so any segment up to the one its
        // first write lands in will do.
        let first_log = first_log.max(m.state().log_number());
        let edit = VersionEdit {
            created: vec![KeyspaceDef {
                id,
                name: name.to_string(),
                table_format: env.format().name().to_string(),
                strategy: options.compaction_strategy.name().to_string(),
                expiring: options.ttl.is_on(),
            }],
            next_keyspace_id: Some(id + 1),
            log_numbers: vec![(id, first_log)],
            ..VersionEdit::default()
        };
        m.append(edit).map_err(|e| work.poisoned_by(e.into()))?;
        let mem = env.options.memtable.create();
        let core = Arc::new(KeyspaceCore::new(
            id,
            name.to_string(),
            options,
            Levels::default(),
            mem,
        ));
        let mut map = self
            .keyspaces
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert(id, Arc::clone(&core));
        tracing::info!(keyspace = name, id, "created a keyspace");
        Ok(core)
    }

    /// Drops `keyspace`: durable in the manifest when this returns. Its tables are deleted
    /// once no reader holds them, its memtables once the last reader lets go, and its WAL
    /// entries are skipped by every later recovery.
    pub(crate) fn drop_keyspace(
        &self,
        env: &Env,
        work: &Work,
        keyspace: &Arc<KeyspaceCore>,
    ) -> Result<()> {
        let mut m = self.lock();
        keyspace.check()?;
        work.check()?;
        let edit = VersionEdit {
            dropped: vec![keyspace.id],
            ..VersionEdit::default()
        };
        m.append(edit).map_err(|e| work.poisoned_by(e.into()))?;
        keyspace.dropped.store(true, Ordering::Release);
        let sv = keyspace.current();
        // Draining before it leaves the map: the flush thread's `oldest_frozen` reads the
        // map, then the draining list, and must find its frozen memtables in one of them,
        // or it would wait for a wake-up that may never come while `Db::flush` waits for
        // them.
        if !sv.frozen.is_empty() {
            let mut draining = self.draining.lock().unwrap_or_else(PoisonError::into_inner);
            draining.push(Arc::clone(keyspace));
        }
        let mut map = self
            .keyspaces
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.remove(&keyspace.id);
        // Let go before publishing: the new pressure is read from the keyspace map.
        drop(map);
        for (_, file) in sv.version.levels.files() {
            file.mark_obsolete();
        }
        // Handles may live on: they must not keep the tables (or the data in memory), so
        // the space is given back as soon as the reads in flight let go. Frozen memtables
        // stay until the flush thread lets go of them (see `oldest_frozen`).
        self.publish(
            keyspace,
            SuperVersion {
                mem: env.options.memtable.create(),
                frozen: sv.frozen.clone(),
                version: Arc::new(Version::default()),
            },
        );
        tracing::info!(keyspace = keyspace.name, "dropped a keyspace");
        Ok(())
    }

    /// The id of the newest memtable frozen so far (0 before the first): once it is
    /// flushed, every memtable frozen so far is.
    pub(crate) fn last_frozen_id(&self) -> u64 {
        self.frozen_ids.load(Ordering::Acquire)
    }

    /// Replaces `keyspace`'s active memtable with a new one from `factory`, freezing the
    /// old one (whose writes end before WAL segment `next_log`). Returns the frozen
    /// memtable's id.
    pub(crate) fn freeze(&self, env: &Env, keyspace: &KeyspaceCore, next_log: u64) -> u64 {
        // Under the manifest lock, so that it never races an install.
        let _m = self.lock();
        let clean = (self.keyspaces().iter())
            .filter(|k| k.id != keyspace.id && !k.in_memory())
            .map(|k| k.id)
            .collect();
        let sv = keyspace.current();
        let frozen = Arc::new(Frozen {
            mem: Arc::clone(&sv.mem),
            next_log,
            id: self.frozen_ids.load(Ordering::Relaxed) + 1,
            clean,
        });
        let id = frozen.id;
        tracing::debug!(
            id = frozen.id,
            keyspace = keyspace.name,
            bytes = frozen.mem.approximate_size(),
            "froze a memtable"
        );
        let mut all = vec![frozen];
        all.extend(sv.frozen.iter().cloned());
        self.publish(
            keyspace,
            SuperVersion {
                mem: env.options.memtable.create(),
                frozen: all,
                version: Arc::clone(&sv.version),
            },
        );
        keyspace.first_log.store(0, Ordering::Release);
        self.frozen_ids.store(id, Ordering::Release);
        id
    }

    /// The oldest frozen memtable of any keyspace (or of one dropped while it had frozen
    /// memtables), with its keyspace: what to flush next.
    pub(crate) fn oldest_frozen(&self) -> Option<(Arc<KeyspaceCore>, Arc<Frozen>)> {
        let mut all = self.keyspaces();
        let mut draining = self.draining.lock().unwrap_or_else(PoisonError::into_inner);
        draining.retain(|k| !k.current().frozen.is_empty());
        all.extend(draining.iter().cloned());
        drop(draining);
        let each = all.into_iter().filter_map(|k| {
            let frozen = k.current().frozen.last().cloned()?;
            Some((k, frozen))
        });
        each.min_by_key(|(_, f)| f.id)
    }
}

/// A version of `levels`, with the keyspace's strategy's verdict on it.
fn judged(options: &KeyspaceOptions, levels: Levels<Arc<TableFile>>) -> Version {
    let view = View::new(levels.map(|f| Arc::clone(&f.meta)));
    let (strategy, compaction) = (&options.compaction_strategy, &options.compaction);
    let with_tombstones = levels
        .files()
        .filter(|(_, f)| !f.reader.range_tombstones().is_empty());
    Version {
        pressure: strategy.write_pressure(&view, compaction),
        pending_bytes: strategy.pending_compaction_bytes(&view, compaction),
        tombstone_tables: with_tombstones.map(|(l, f)| (l, Arc::clone(f))).collect(),
        levels,
    }
}

/// Opens every table of `levels`, the manifest's record of keyspace `keyspace`.
pub(crate) fn open_tables(
    env: &Env,
    levels: &Levels<Arc<FileMeta>>,
    keyspace: KeyspaceId,
) -> Result<Levels<Arc<TableFile>>> {
    let mut files = Vec::new();
    for (level, meta) in levels.files() {
        files.push((level, TableFile::open(env, Arc::clone(meta), keyspace)?));
    }
    Ok(Levels::from_files(files))
}
