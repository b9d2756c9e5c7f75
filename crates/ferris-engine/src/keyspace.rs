//! Keyspaces: separate sorted key spaces in one database, and the handles that reach them.
//!
//! Each keyspace has its own memtable, levels and [`KeyspaceOptions`] (its `KeyspaceCore`
//! in `versions.rs`); all of them share the WAL, the manifest, the sequence numbers, the
//! write queue and the background threads. A batch may span keyspaces and is still one WAL
//! record, so it is atomic across them, and a [`Snapshot`](crate::Snapshot) is one moment
//! of all of them.

use std::ops::RangeBounds;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::iter::{owned_bounds, prefix_bounds};
use ferris_core::{DEFAULT_KEYSPACE, KeyspaceId, WriteBatch};
use ferris_manifest::{DEFAULT_KEYSPACE_NAME, check_keyspace_name};

use crate::db::{Db, LevelStats, WriteOptions};
use crate::error::{Error, Result};
use crate::iter::DbIter;
use crate::options::KeyspaceOptions;
use crate::versions::KeyspaceCore;

/// A handle to one keyspace of a database: the whole reading and writing API, scoped to
/// it. See [`Db::keyspace`].
///
/// It is a cheap clone, `Send + Sync`, and keeps the database open while it lives. Once the
/// keyspace is dropped ([`Db::drop_keyspace`]), every method of every clone fails with
/// [`Error::KeyspaceDropped`].
///
/// ```
/// use ferris_engine::{Db, WriteBatch};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Default::default())?;
/// let accounts = db.keyspace("accounts")?;
/// let audit = db.keyspace("audit")?;
///
/// // One batch, two keyspaces, one atomic write.
/// let mut batch = WriteBatch::new();
/// batch.put_in(accounts.id(), "alice", "90").put_in(audit.id(), "0001", "alice -10");
/// db.write(batch)?;
///
/// assert_eq!(accounts.get("alice")?.as_deref(), Some(&b"90"[..]));
/// assert_eq!(db.get("alice")?, None); // the default keyspace is another key space
/// assert_eq!(db.list_keyspaces()?, ["default", "accounts", "audit"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Keyspace {
    db: Db,
    core: Arc<KeyspaceCore>,
}

/// What [`Keyspace::stats`] reports: one keyspace's tables and memtables.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct KeyspaceStats {
    /// Per level, L0 first.
    pub levels: Vec<LevelStats>,
    /// Bytes the active memtable accounts for.
    pub memtable_bytes: u64,
    /// Frozen memtables waiting to be flushed.
    pub immutable_memtables: usize,
    /// Bytes the frozen memtables account for.
    pub immutable_memtable_bytes: u64,
    /// The compaction strategy's estimate of the bytes compaction must still rewrite.
    pub pending_compaction_bytes: u64,
}

impl KeyspaceStats {
    pub(crate) fn of(keyspace: &KeyspaceCore) -> KeyspaceStats {
        let sv = keyspace.current();
        let levels = (sv.version.levels.levels())
            .map(|files| LevelStats {
                files: files.len(),
                bytes: files.iter().map(|f| f.meta.size).sum(),
            })
            .collect();
        let frozen = sv.frozen.iter().map(|f| f.mem.approximate_size() as u64);
        KeyspaceStats {
            levels,
            memtable_bytes: sv.mem.approximate_size() as u64,
            immutable_memtables: sv.frozen.len(),
            immutable_memtable_bytes: frozen.sum(),
            pending_compaction_bytes: sv.version.pending_bytes,
        }
    }

    /// Adds `other` into these, level by level.
    pub(crate) fn add(&mut self, other: &KeyspaceStats) {
        if self.levels.len() < other.levels.len() {
            self.levels
                .resize(other.levels.len(), LevelStats::default());
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&other.levels) {
            mine.files += theirs.files;
            mine.bytes += theirs.bytes;
        }
        self.memtable_bytes += other.memtable_bytes;
        self.immutable_memtables += other.immutable_memtables;
        self.immutable_memtable_bytes += other.immutable_memtable_bytes;
        self.pending_compaction_bytes += other.pending_compaction_bytes;
    }
}

impl Db {
    /// Opens keyspace `name`, creating it if there is none: with its options from
    /// [`Options::keyspaces`](crate::Options::keyspaces) if named there, else with the
    /// database's own. A keyspace created here is in the manifest (fsync'd) when this
    /// returns, so it survives a crash from then on. `"default"` is the default keyspace.
    ///
    /// Creating (or dropping) a keyspace does not sync the WAL: writes made before it
    /// without `sync` may be lost to a power cut that the creation survives, as they may
    /// be lost to any power cut before the next durable write.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKeyspaceName`] for an empty name, one over 255 bytes, or one with a
    /// control character; when it creates the keyspace, the errors of a manifest write
    /// ([`Error::Io`], [`Error::Poisoned`]), and [`Error::OpenedReadOnly`] in a database
    /// opened read-only; [`Error::Closed`].
    pub fn keyspace(&self, name: &str) -> Result<Keyspace> {
        self.shared.check_open()?;
        if let Some(live) = self.shared.versions.keyspace_named(name) {
            return Ok(self.handle(live));
        }
        let options = self.shared.env.options.keyspaces.get(name).cloned();
        let options = options.unwrap_or_else(|| KeyspaceOptions::from(&self.shared.env.options));
        self.keyspace_with(name, options)
    }

    /// Opens keyspace `name` with `options`, creating it with them if there is none.
    ///
    /// # Errors
    ///
    /// [`Error::KeyspaceOptions`] if the keyspace is open with other options (set them at
    /// open, in [`Options::keyspaces`](crate::Options::keyspaces)); otherwise as
    /// [`Db::keyspace`].
    pub fn keyspace_with(&self, name: &str, options: KeyspaceOptions) -> Result<Keyspace> {
        let shared = &self.shared;
        shared.check_open()?;
        check_keyspace_name(name).map_err(|reason| Error::InvalidKeyspaceName {
            name: name.to_string(),
            reason,
        })?;
        let core = match shared.versions.keyspace_named(name) {
            Some(live) => live,
            None => {
                shared.check_writable()?;
                let work = &shared.work;
                let first_log = (shared.writes.wal()?.active_segment_id())
                    .map_err(|e| work.poisoned_by(e.into()))?;
                let versions = &shared.versions;
                versions.create_keyspace(&shared.env, work, name, options.clone(), first_log)?
            }
        };
        if let Some(reason) = core.options.difference(&options) {
            return Err(Error::KeyspaceOptions {
                name: name.to_string(),
                reason,
            });
        }
        Ok(self.handle(core))
    }

    /// The names of the live keyspaces, in the order they were created (the default
    /// keyspace first).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`].
    pub fn list_keyspaces(&self) -> Result<Vec<String>> {
        self.shared.check_open()?;
        let all = self.shared.versions.keyspaces();
        Ok(all.iter().map(|k| k.name.clone()).collect())
    }

    /// Drops keyspace `name` with everything in it: durable in the manifest when this
    /// returns, so it never comes back after a crash. Its tables are deleted once no reader
    /// holds them, and every handle to it fails with [`Error::KeyspaceDropped`] from now
    /// on. Dropping a keyspace that does not exist is not an error. Its name may be used
    /// again for a new, empty keyspace.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for the default keyspace, which cannot be dropped; the
    /// errors of a manifest write ([`Error::Io`], [`Error::Poisoned`]);
    /// [`Error::OpenedReadOnly`]; [`Error::Closed`].
    pub fn drop_keyspace(&self, name: &str) -> Result<()> {
        let shared = &self.shared;
        shared.check_writable()?;
        if name == DEFAULT_KEYSPACE_NAME {
            return Err(Error::InvalidInput(
                "the default keyspace cannot be dropped".into(),
            ));
        }
        match shared.versions.keyspace_named(name) {
            Some(keyspace) => (shared.versions).drop_keyspace(&shared.env, &shared.work, &keyspace),
            None => Ok(()),
        }
    }

    fn handle(&self, core: Arc<KeyspaceCore>) -> Keyspace {
        Keyspace {
            db: self.clone(),
            core,
        }
    }
}

impl Keyspace {
    /// The keyspace's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The keyspace's id, for [`WriteBatch::put_in`](crate::WriteBatch::put_in) and [`WriteBatch::delete_in`](crate::WriteBatch::delete_in). Ids
    /// are never reused within a database, even after a drop.
    pub fn id(&self) -> KeyspaceId {
        self.core.id
    }

    pub(crate) fn core(&self) -> &Arc<KeyspaceCore> {
        &self.core
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Sets `key` to `value` in this keyspace.
    ///
    /// # Errors
    ///
    /// As [`Db::write`]; [`Error::KeyspaceDropped`].
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.put_opt(key, value, WriteOptions::default())
    }

    /// Sets `key` to `value` in this keyspace, made as `options` say.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::put`].
    pub fn put_opt(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: WriteOptions,
    ) -> Result<()> {
        (self.db.shared).put(
            &self.core,
            key.as_ref(),
            Some(value.as_ref()),
            None,
            options,
        )
    }

    /// [`Db::put_with_ttl`] in this keyspace: `key` reads as deleted once `ttl` has
    /// passed. The keyspace must have been created with
    /// [`KeyspaceOptions::ttl`](crate::KeyspaceOptions::ttl) on.
    ///
    /// # Errors
    ///
    /// As [`Db::put_with_ttl`]; [`Error::KeyspaceDropped`].
    pub fn put_with_ttl(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) -> Result<()> {
        let (key, value, options) = (key.as_ref(), value.as_ref(), WriteOptions::default());
        (self.db.shared).put(&self.core, key, Some(value), Some(ttl), options)
    }

    /// Deletes `key` from this keyspace.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::put`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.delete_opt(key, WriteOptions::default())
    }

    /// Deletes `key` from this keyspace, made as `options` say.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::put`].
    pub fn delete_opt(&self, key: impl AsRef<[u8]>, options: WriteOptions) -> Result<()> {
        (self.db.shared).put(&self.core, key.as_ref(), None, None, options)
    }

    /// [`Db::delete_range`] in this keyspace.
    ///
    /// # Errors
    ///
    /// As [`Db::delete_range`]; [`Error::KeyspaceDropped`].
    pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        let id = self.core.id;
        self.db
            .write(std::mem::take(WriteBatch::new().delete_range_in(id, range)))
    }

    /// [`Db::delete_prefix`] in this keyspace.
    ///
    /// # Errors
    ///
    /// As [`Db::delete_range`]; [`Error::KeyspaceDropped`].
    pub fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        let id = self.core.id;
        self.db.write(std::mem::take(
            WriteBatch::new().delete_prefix_in(id, prefix),
        ))
    }

    /// The value of `key` in this keyspace, or `None`.
    ///
    /// # Errors
    ///
    /// As [`Db::get`]; [`Error::KeyspaceDropped`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.db.shared.get_at(&self.core, key.as_ref(), None)
    }

    /// The entries of this keyspace whose keys lie in `bounds`, in key order; `.rev()`
    /// walks backwards.
    ///
    /// # Errors
    ///
    /// As [`Db::range`]; [`Error::KeyspaceDropped`].
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, bounds: R) -> Result<DbIter> {
        (self.db.shared).iter_at(&self.core, None, owned_bounds(&bounds))
    }

    /// The entries of this keyspace whose keys start with `prefix`, in key order.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::range`].
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<DbIter> {
        (self.db.shared).iter_at(&self.core, None, prefix_bounds(prefix.as_ref()))
    }

    /// Every entry of this keyspace, in key order.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::range`].
    pub fn iter(&self) -> Result<DbIter> {
        self.range::<&[u8], _>(..)
    }

    /// Writes this keyspace's memtable to a table and waits, as [`Db::flush`] does for
    /// every keyspace.
    ///
    /// # Errors
    ///
    /// As [`Db::flush`]; [`Error::KeyspaceDropped`].
    pub fn flush(&self) -> Result<()> {
        self.core.check()?;
        self.db.shared.flush_and_wait(Some(&self.core))
    }

    /// A full manual compaction of this keyspace, as [`Db::compact`] does for every
    /// keyspace.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::flush`].
    pub fn compact(&self) -> Result<()> {
        self.core.check()?;
        self.db.shared.compact(Some(&self.core), None)
    }

    /// A manual compaction of this keyspace's tables holding keys in `bounds`.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::flush`].
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, bounds: R) -> Result<()> {
        self.core.check()?;
        crate::db::compact_range(&self.db.shared, Some(&self.core), bounds)
    }

    /// This keyspace's tables and memtables; see [`KeyspaceStats`].
    ///
    /// # Errors
    ///
    /// [`Error::KeyspaceDropped`].
    pub fn stats(&self) -> Result<KeyspaceStats> {
        self.core.check()?;
        Ok(KeyspaceStats::of(&self.core))
    }

    /// Whether this is the default keyspace.
    pub fn is_default(&self) -> bool {
        self.core.id == DEFAULT_KEYSPACE
    }
}
