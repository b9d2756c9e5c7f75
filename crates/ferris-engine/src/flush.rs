//! The flush thread: writes the oldest frozen memtable to a level-0 table, records it in
//! the manifest, and lets the WAL segments it covered go.
//!
//! # The next table, prepared ahead
//!
//! A flush holds a whole frozen memtable in memory, and the memtable filling behind it
//! grows for as long as the flush takes, so a short flush means a lower peak. Between
//! flushes the thread creates the next table's file and has the table format prepare it
//! ([`TableBuilder::prefault`], sized like the last table; the default format has the
//! page cache set up for the file), so that the flush itself only copies. On a VM whose
//! balloon driver hands freed memory back to the host, writing a table into new
//! page-cache pages took up to half a second; `docs/benchmarks.md` has the measurements.
//! Elsewhere it costs zero-filling the pages once, in a thread that is waiting anyway. It
//! is skipped while a frozen memtable already waits, so it never delays a flush.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferris_core::{Memtable, SeqNo};
use ferris_manifest::VersionEdit;
use ferris_table::{TableBuilder, TableOptions};

use crate::db::Shared;
use crate::error::Result;
use crate::versions::{Frozen, KeyspaceCore, TableFile};

/// A table file being written (or prepared), under the number it will have, with the
/// options it was created with.
pub(crate) struct NewTable {
    pub(crate) number: u64,
    pub(crate) builder: Box<dyn TableBuilder>,
    options: TableOptions,
}

impl Shared {
    /// The flush thread's loop: flush frozen memtables oldest first until shut down.
    pub(crate) fn flush_loop(self: &Arc<Shared>) {
        let mut next: Option<NewTable> = None;
        // The size of the last table flushed, and its options: what the next one is
        // prepared for.
        let mut last: Option<(u64, TableOptions)> = None;
        loop {
            let ready = !self.work.is_poisoned() && self.versions.oldest_frozen().is_none();
            if let Some((last_size, options)) = last.filter(|_| next.is_none() && ready) {
                // A failure here is like a failed flush: the file system is failing.
                match self.prepare_table(last_size, options) {
                    Ok(table) => next = Some(table),
                    Err(e) => {
                        self.work.poison(e);
                        last = None;
                    }
                }
            }
            // Dropping an unused prepared table at shutdown removes its file.
            let Some((keyspace, frozen)) = self.work.next_job(|_| self.versions.oldest_frozen())
            else {
                return;
            };
            match self.flush(&keyspace, &frozen, &mut next) {
                Ok(Some(size)) => last = Some((size, keyspace.options.table_options(keyspace.id))),
                Ok(None) => {}
                Err(e) => self.work.poison(e),
            }
            // The flushed memtable is freed here, if readers let go of it soon, and not in
            // whichever reader lets go last: freeing a full one takes milliseconds.
            let mem = Arc::clone(&frozen.mem);
            drop(frozen);
            ferris_core::memtable::retire(mem, std::time::Duration::from_millis(5));
        }
    }

    /// Creates the next flush's table and prepares it for `expected_len` bytes (see the
    /// [module docs](self)).
    fn prepare_table(&self, expected_len: u64, options: TableOptions) -> Result<NewTable> {
        let mut table = self.create_table(options)?;
        table.builder.prefault(expected_len)?;
        Ok(table)
    }

    /// Starts a table under a new number, written with `options`.
    pub(crate) fn create_table(&self, options: TableOptions) -> Result<NewTable> {
        let number = self.versions.take_file_number();
        let env = &self.env;
        let builder = env.format().create(&env.fs, &env.dir, number, &options)?;
        Ok(NewTable {
            number,
            builder,
            options,
        })
    }

    /// Finishes `table` (durable under its name), opens it, and describes it for the
    /// manifest. Flushes and compactions both end their tables here.
    pub(crate) fn finish_table(&self, table: NewTable) -> Result<Arc<TableFile>> {
        let properties = table.builder.finish()?;
        let meta = Arc::new(properties.to_meta(table.number));
        TableFile::open(&self.env, meta, table.options.keyspace)
    }

    /// Writes `keyspace`'s `frozen` memtable to a table (the one prepared in `next`, if it
    /// was prepared with the keyspace's options) and installs it. Returns the table's
    /// size, or `None` for an empty memtable, which leaves `next` for the flush after.
    pub(crate) fn flush(
        &self,
        keyspace: &KeyspaceCore,
        frozen: &Frozen,
        next: &mut Option<NewTable>,
    ) -> Result<Option<u64>> {
        let started = std::time::Instant::now();
        let mut added = Vec::new();
        if !frozen.mem.is_empty() {
            let options = keyspace.options.table_options(keyspace.id);
            let table = match next.take().filter(|t| t.options == options) {
                Some(table) => table,
                None => self.create_table(options)?,
            };
            let _flushing = self.work.flushing();
            added.push(self.write_table(table, &frozen.mem)?);
        }
        let size = added.first().map(|f| f.meta.size);
        let entries = added.first().map_or(0, |f| f.meta.entries);
        let id = keyspace.id;
        let clean = frozen.clean.iter().map(|&k| (k, frozen.next_log));
        let edit = VersionEdit {
            added: added.iter().map(|f| (id, 0, (*f.meta).clone())).collect(),
            log_numbers: [(id, frozen.next_log)].into_iter().chain(clean).collect(),
            last_sequence: Some(self.writes.visible()),
            ..VersionEdit::default()
        };
        let (env, work) = (&self.env, &self.work);
        (self.versions).install_edit(env, work, keyspace, edit, added, Some(frozen.id))?;
        // Writers stalled on the frozen memtables can go on now.
        self.work.notify();
        self.stats
            .table_bytes
            .fetch_add(size.unwrap_or(0), Ordering::Relaxed);
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        // The table is durable and recorded: the segments no keyspace needs any more can go.
        // This happens before `flush()` callers are released, so when `Db::flush` returns
        // the segments are gone.
        let needed = self.versions.log_number();
        let wal = self.writes.wal.as_ref();
        if let Some(Err(e)) = wal.map(|wal| wal.remove_segments_before(needed)) {
            tracing::warn!(error = %e, "could not remove old WAL segments; the next open will");
        }
        self.work.update(|s| s.flushed = s.flushed.max(frozen.id));
        tracing::info!(
            keyspace = keyspace.name,
            bytes = size,
            entries,
            millis = started.elapsed().as_millis() as u64,
            "flushed a memtable to level 0"
        );
        Ok(size)
    }

    /// Copies every entry and range tombstone of `mem` into `table`, then finishes and
    /// opens it.
    fn write_table(&self, mut table: NewTable, mem: &Arc<dyn Memtable>) -> Result<Arc<TableFile>> {
        table
            .builder
            .add_memtables(std::slice::from_ref(mem), SeqNo::MAX)?;
        self.finish_table(table)
    }
}
