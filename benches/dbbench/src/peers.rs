//! The peers: RocksDB, fjall and sled, each behind its cargo feature, each opened with the
//! same [`Settings`] as FerrisDB. What "the same" means per engine is written down in
//! [`describe`] (printed with every run) and in `docs/benchmarks.md`.

#[cfg(any(feature = "rocksdb", feature = "fjall", feature = "sled"))]
use std::path::Path;

#[cfg(any(feature = "rocksdb", feature = "fjall", feature = "sled"))]
use anyhow::Result;

#[cfg(any(feature = "rocksdb", feature = "fjall"))]
use crate::engine::{Codec, KeyspaceEntry};
#[cfg(any(feature = "rocksdb", feature = "fjall", feature = "sled"))]
use crate::engine::{Engine, Entry, Seen};
use crate::engine::{EngineKind, Settings};

/// How `kind` is configured from `settings`, in one line for the report.
pub fn describe(kind: EngineKind, settings: &Settings) -> String {
    let sync = if settings.sync {
        "fsync per write/batch"
    } else {
        "WAL on, no fsync"
    };
    let mib = |b: u64| b >> 20;
    match kind {
        EngineKind::Ferris => format!(
            "{sync}; compression {:?}; block cache {} MiB; write buffer {} MiB, 2 immutable; bloom {} bits/key; tables {}; leveled compaction, 1 flush + 1 compaction thread, flush priority auto",
            settings.compression,
            mib(settings.cache_bytes),
            mib(settings.memtable_bytes),
            settings.bloom_bits_per_key,
            if settings.mmap {
                "memory-mapped"
            } else {
                "read with pread"
            }
        ),
        EngineKind::Rocksdb => format!(
            "{sync}; compression {:?} (bottommost too); LRU block cache {} MiB; write_buffer_size {} MiB, max_write_buffer_number 3; bloom {} bits/key; 4 KiB blocks; max_background_jobs 2; other options RocksDB's defaults",
            settings.compression,
            mib(settings.cache_bytes),
            mib(settings.memtable_bytes),
            settings.bloom_bits_per_key
        ),
        EngineKind::Fjall => format!(
            "{}; compression {}; cache {} MiB; max_memtable_size {} MiB; bloom {} bits/key; other options fjall's defaults",
            if settings.sync {
                "persist(SyncAll) after each write/batch"
            } else {
                "journal written to the OS per write, no fsync"
            },
            match settings.compression {
                crate::engine::Codec::None => "none",
                crate::engine::Codec::Zstd => "lz4 (fjall has no zstd)",
            },
            mib(settings.cache_bytes),
            mib(settings.memtable_bytes),
            settings.bloom_bits_per_key
        ),
        EngineKind::Sled => format!(
            "{}; no block compression, no bloom filters (sled has neither); cache_capacity {} MiB; flush_every_ms 500 (its default)",
            if settings.sync {
                "flush() after each write/batch"
            } else {
                "no flush per write"
            },
            mib(settings.cache_bytes),
        ),
    }
}

/// RocksDB through the `rocksdb` crate.
#[cfg(feature = "rocksdb")]
pub(crate) struct Rocks {
    db: rocksdb::DB,
    write: rocksdb::WriteOptions,
    /// The column families of `Settings::keyspaces`, by number.
    families: Vec<String>,
}

/// RocksDB's options for `settings`, shared by the plain `DB` and the
/// `OptimisticTransactionDB` of the transaction workloads (`txn.rs`).
#[cfg(feature = "rocksdb")]
pub(crate) fn rocks_options(settings: &Settings) -> Result<rocksdb::Options> {
    use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, Options};
    let compression = match settings.compression {
        Codec::None => DBCompressionType::None,
        Codec::Zstd => DBCompressionType::Zstd,
    };
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&Cache::new_lru_cache(usize::try_from(
        settings.cache_bytes,
    )?));
    table.set_bloom_filter(f64::from(settings.bloom_bits_per_key), false);
    table.set_block_size(4096);
    let mut options = Options::default();
    options.create_if_missing(true);
    options.set_block_based_table_factory(&table);
    options.set_compression_type(compression);
    options.set_bottommost_compression_type(compression);
    options.set_write_buffer_size(usize::try_from(settings.memtable_bytes)?);
    // FerrisDB keeps one active and up to two immutable memtables.
    options.set_max_write_buffer_number(3);
    // FerrisDB runs one flush and one compaction thread.
    options.set_max_background_jobs(2);
    Ok(options)
}

#[cfg(feature = "rocksdb")]
impl Rocks {
    pub(crate) fn open(dir: &Path, settings: &Settings) -> Result<Rocks> {
        let mut options = rocks_options(settings)?;
        let mut write = rocksdb::WriteOptions::default();
        write.set_sync(settings.sync);
        // Each column family with the same options as the default one.
        let families: Vec<String> = (0..settings.keyspaces).map(|i| format!("ks{i}")).collect();
        // The default family is named too: `cf_handle` lends out only the families opened
        // by name, and the batched MultiGet takes a handle.
        let descriptors: Vec<_> = (std::iter::once(rocksdb::DEFAULT_COLUMN_FAMILY_NAME))
            .chain(families.iter().map(String::as_str))
            .map(|name| rocksdb::ColumnFamilyDescriptor::new(name, options.clone()))
            .collect();
        options.create_missing_column_families(true);
        let db = match settings.ttl {
            // `DBWithTTL`: each value carries its write time (whole seconds), and the
            // compaction filter it installs drops a value once `ttl` has passed.
            Some(ttl) => {
                rocksdb::DB::open_cf_descriptors_with_ttl(&options, dir, descriptors, ttl)?
            }
            None => rocksdb::DB::open_cf_descriptors(&options, dir, descriptors)?,
        };
        Ok(Rocks {
            db,
            write,
            families,
        })
    }
}

#[cfg(feature = "rocksdb")]
impl Engine for Rocks {
    fn stats_note(&self) -> String {
        let p = |name: &str| {
            self.db
                .property_value(name)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        format!(
            "L0 {} files, L1 {}, memtable {} entries, {} flushes pending",
            p("rocksdb.num-files-at-level0"),
            p("rocksdb.num-files-at-level1"),
            p("rocksdb.num-entries-active-mem-table"),
            p("rocksdb.mem-table-flush-pending")
        )
    }

    fn write(&self, entries: &[Entry<'_>]) -> Result<()> {
        if let [(key, value)] = entries {
            self.db.put_opt(key, value, &self.write)?;
        } else {
            let mut batch = rocksdb::WriteBatch::default();
            for (key, value) in entries {
                batch.put(key, value);
            }
            self.db.write_opt(batch, &self.write)?;
        }
        Ok(())
    }

    /// Column families; the handle is looked up by name per entry (the `rocksdb` crate's
    /// single-threaded `DB` lends handles out, it does not store them).
    fn write_in(&self, entries: &[KeyspaceEntry<'_>]) -> Option<Result<()>> {
        let cf = |ks: usize| {
            let name = &self.families[ks];
            (self.db.cf_handle(name)).ok_or_else(|| anyhow::anyhow!("no column family {name}"))
        };
        let write = || -> Result<()> {
            if let [(ks, key, value)] = entries {
                self.db.put_cf_opt(cf(*ks)?, key, value, &self.write)?;
            } else {
                let mut batch = rocksdb::WriteBatch::default();
                for (ks, key, value) in entries {
                    batch.put_cf(cf(*ks)?, key, value);
                }
                self.db.write_opt(batch, &self.write)?;
            }
            Ok(())
        };
        Some(write())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Seen>> {
        Ok(self.db.get_pinned(key)?.map(|v| Seen::value(&v)))
    }

    /// RocksDB's batched `MultiGet` (`rocksdb_batched_multi_get_cf`), values pinned as
    /// `get_pinned` does.
    fn multi_get(&self, keys: &[&[u8]]) -> Result<Vec<Option<Seen>>> {
        let cf = self
            .db
            .cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME)
            .ok_or_else(|| anyhow::anyhow!("no default column family"))?;
        self.db
            .batched_multi_get_cf(cf, keys, false)
            .into_iter()
            .map(|v| Ok(v?.map(|v| Seen::value(&v))))
            .collect()
    }

    /// RocksDB's `Checkpoint`: hard links for the table files, after a flush of the
    /// memtables (its default), and copies of the manifest and the live WAL.
    fn checkpoint(&self, target: &Path) -> Option<Result<()>> {
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&self.db);
        Some(
            checkpoint
                .and_then(|c| c.create_checkpoint(target))
                .map_err(Into::into),
        )
    }

    /// `CompactRange` over every key with its default options, which flush the memtable
    /// first and, with `DBWithTTL`'s compaction filter installed, rewrite the bottommost
    /// level too.
    fn compact(&self) -> Option<Result<()>> {
        self.db.compact_range::<&[u8], &[u8]>(None, None);
        Some(Ok(()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        Ok(self.db.delete_opt(key, &self.write)?)
    }

    /// `DeleteRange` on the default column family.
    fn delete_range(&self, from: &[u8], to: &[u8]) -> Option<Result<()>> {
        let delete = || -> Result<()> {
            let cf = (self.db.cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME))
                .ok_or_else(|| anyhow::anyhow!("no default column family"))?;
            Ok(self.db.delete_range_cf_opt(cf, from, to, &self.write)?)
        };
        Some(delete())
    }

    fn scan(&self, start: &[u8], n: usize) -> Result<Seen> {
        let mut iter = self.db.raw_iterator();
        iter.seek(start);
        let mut seen = Seen::default();
        while seen.entries < n && iter.valid() {
            add_raw(&mut seen, &iter);
            iter.next();
        }
        iter.status()?;
        Ok(seen)
    }

    fn scan_all(&self, reverse: bool) -> Result<Seen> {
        let mut iter = self.db.raw_iterator();
        let mut seen = Seen::default();
        if reverse {
            iter.seek_to_last();
            while iter.valid() {
                add_raw(&mut seen, &iter);
                iter.prev();
            }
        } else {
            iter.seek_to_first();
            while iter.valid() {
                add_raw(&mut seen, &iter);
                iter.next();
            }
        }
        iter.status()?;
        Ok(seen)
    }

    fn close(self: Box<Self>) -> Result<()> {
        // Dropping the handle waits for background work to stop.
        drop(self);
        Ok(())
    }
}

/// Adds the entry a RocksDB raw iterator is at: its key and value are slices into
/// RocksDB's own memory, read in place.
#[cfg(feature = "rocksdb")]
fn add_raw(seen: &mut Seen, iter: &rocksdb::DBRawIterator<'_>) {
    if let (Some(key), Some(value)) = (iter.key(), iter.value()) {
        seen.add(key, value);
    }
}

/// fjall, one keyspace.
#[cfg(feature = "fjall")]
pub(crate) struct Fjall {
    db: fjall::Database,
    keyspace: fjall::Keyspace,
    /// The keyspaces of `Settings::keyspaces`, by number.
    keyspaces: Vec<fjall::Keyspace>,
    sync: bool,
}

/// fjall's options for a keyspace under `settings`, shared by the plain `Database` and
/// the `OptimisticTxDatabase` of the transaction workloads (`txn.rs`).
#[cfg(feature = "fjall")]
pub(crate) fn fjall_keyspace_options(settings: &Settings) -> fjall::KeyspaceCreateOptions {
    use fjall::config::{
        BloomConstructionPolicy, CompressionPolicy, FilterPolicy, FilterPolicyEntry,
    };
    let compression = match settings.compression {
        Codec::None => CompressionPolicy::disabled(),
        Codec::Zstd => CompressionPolicy::all(fjall::CompressionType::Lz4),
    };
    fjall::KeyspaceCreateOptions::default()
        .max_memtable_size(settings.memtable_bytes)
        .data_block_compression_policy(compression)
        .filter_policy(FilterPolicy::all(FilterPolicyEntry::Bloom(
            BloomConstructionPolicy::BitsPerKey(settings.bloom_bits_per_key as f32),
        )))
}

#[cfg(feature = "fjall")]
impl Fjall {
    pub(crate) fn open(dir: &Path, settings: &Settings) -> Result<Fjall> {
        let db = fjall::Database::builder(dir)
            .cache_size(settings.cache_bytes)
            .open()?;
        let open = |name: &str| db.keyspace(name, || fjall_keyspace_options(settings));
        let keyspace = open("bench")?;
        let keyspaces = (0..settings.keyspaces)
            .map(|i| open(&format!("ks{i}")))
            .collect::<Result<_, _>>()?;
        Ok(Fjall {
            db,
            keyspace,
            keyspaces,
            sync: settings.sync,
        })
    }

    fn persist(&self) -> Result<()> {
        if self.sync {
            self.db.persist(fjall::PersistMode::SyncAll)?;
        }
        Ok(())
    }
}

#[cfg(feature = "fjall")]
impl Engine for Fjall {
    fn write(&self, entries: &[Entry<'_>]) -> Result<()> {
        if let [(key, value)] = entries {
            self.keyspace.insert(*key, *value)?;
        } else {
            let mut batch = self.db.batch();
            for (key, value) in entries {
                batch.insert(&self.keyspace, *key, *value);
            }
            batch.commit()?;
        }
        self.persist()
    }

    fn write_in(&self, entries: &[KeyspaceEntry<'_>]) -> Option<Result<()>> {
        let write = || -> Result<()> {
            if let [(ks, key, value)] = entries {
                self.keyspaces[*ks].insert(*key, *value)?;
            } else {
                let mut batch = self.db.batch();
                for (ks, key, value) in entries {
                    batch.insert(&self.keyspaces[*ks], *key, *value);
                }
                batch.commit()?;
            }
            self.persist()
        };
        Some(write())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Seen>> {
        Ok(self.keyspace.get(key)?.map(|v| Seen::value(&v)))
    }

    // No `multi_get`: fjall 3.1 has no batched read, so the `multiget` workload runs the
    // trait's default, a loop of `get`.

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.keyspace.remove(key)?;
        self.persist()
    }

    fn scan(&self, start: &[u8], n: usize) -> Result<Seen> {
        let mut seen = Seen::default();
        for guard in self.keyspace.range(start..).take(n) {
            let (key, value) = guard.into_inner()?;
            seen.add(&key, &value);
        }
        Ok(seen)
    }

    fn scan_all(&self, reverse: bool) -> Result<Seen> {
        let mut seen = Seen::default();
        if reverse {
            for guard in self.keyspace.iter().rev() {
                let (key, value) = guard.into_inner()?;
                seen.add(&key, &value);
            }
        } else {
            for guard in self.keyspace.iter() {
                let (key, value) = guard.into_inner()?;
                seen.add(&key, &value);
            }
        }
        Ok(seen)
    }

    fn close(self: Box<Self>) -> Result<()> {
        drop(self);
        Ok(())
    }
}

/// sled 0.34, its stable release.
#[cfg(feature = "sled")]
pub(crate) struct Sled {
    db: sled::Db,
    sync: bool,
}

#[cfg(feature = "sled")]
impl Sled {
    pub(crate) fn open(dir: &Path, settings: &Settings) -> Result<Sled> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(settings.cache_bytes)
            .open()?;
        Ok(Sled {
            db,
            sync: settings.sync,
        })
    }

    fn flush(&self) -> Result<()> {
        if self.sync {
            self.db.flush()?;
        }
        Ok(())
    }
}

#[cfg(feature = "sled")]
impl Engine for Sled {
    fn write(&self, entries: &[Entry<'_>]) -> Result<()> {
        if let [(key, value)] = entries {
            self.db.insert(*key, *value)?;
        } else {
            let mut batch = sled::Batch::default();
            for (key, value) in entries {
                batch.insert(*key, *value);
            }
            self.db.apply_batch(batch)?;
        }
        self.flush()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Seen>> {
        Ok(self.db.get(key)?.map(|v| Seen::value(&v)))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.db.remove(key)?;
        self.flush()
    }

    fn scan(&self, start: &[u8], n: usize) -> Result<Seen> {
        let mut seen = Seen::default();
        for entry in self.db.range(start..).take(n) {
            let (key, value) = entry?;
            seen.add(&key, &value);
        }
        Ok(seen)
    }

    fn scan_all(&self, reverse: bool) -> Result<Seen> {
        let mut seen = Seen::default();
        if reverse {
            for entry in self.db.iter().rev() {
                let (key, value) = entry?;
                seen.add(&key, &value);
            }
        } else {
            for entry in self.db.iter() {
                let (key, value) = entry?;
                seen.add(&key, &value);
            }
        }
        Ok(seen)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}
