//! The flush thread: writes the oldest frozen memtable to a level-0 table, records it in
//! the manifest, and lets the WAL segments it covered go.
//!
//! # The next table, prepared ahead
//!
//! A flush holds a whole frozen memtable in memory, and the memtable filling behind it
//! grows for as long as the flush takes, so a short flush means a lower peak. Between
//! flushes the thread creates the next table's file and has the page cache set up for it
//! ([`TableWriter::prefault`], sized like the last table), so that the flush itself only
//! copies. On the 2-core bench VM, whose balloon driver hands freed memory back to the
//! host, writing a 36 MB table into new page-cache pages took from 10 to 490 ms, and the
//! memtable behind a flush grew to as much as 43 MiB. With a prototype of this preparation,
//! a ten-million-key fill peaked at 199, 201 and 200 MB of RSS against 220, 218 and 217
//! without, at the same speed (three alternating runs each, 2026-12-05), and `cargo xtask
//! bench --compare rocksdb,fjall --num 10000000 --reads 1000000 --workloads
//! fillrandom,readrandom --repeat 3` went from peak RSS level with RocksDB's to 0.92 times
//! it (see `docs/benchmarks.md`). Elsewhere it costs zero-filling the pages once, in a
//! thread that is waiting anyway. It is skipped while a frozen memtable already waits, so
//! it never delays a flush.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use ferris_manifest::{FileMeta, ManifestWriter, VersionEdit, manifest_file_name, write_current};
use ferris_sstable::{Table, TableOptions, TableWriter};

use crate::db::Inner;
use crate::error::{Error, Result};
use crate::version::{Immutable, SuperVersion, TableFile, table_path};
use ferris_memtable::SkipListMemtable as Memtable;

impl Inner {
    /// The flush thread's loop: flush frozen memtables oldest first until shut down.
    pub(crate) fn flush_loop(self: &Arc<Inner>) {
        let mut next: Option<NextTable> = None;
        // The size of the last table flushed: what the next one is prepared for.
        let mut last_size = 0;
        loop {
            let ready =
                !self.poisoned.load(Ordering::Acquire) && self.super_version().imms.is_empty();
            if next.is_none() && last_size > 0 && ready {
                match self.prepare_table(last_size) {
                    Ok(table) => next = Some(table),
                    Err(e) => {
                        // Like a failed flush: the file system is failing under us.
                        tracing::error!(error = %e, "preparing the next flush's table failed; the database refuses writes until reopened");
                        self.poison(&format!("preparing the next flush's table failed: {e}"));
                        last_size = 0;
                    }
                }
            }
            let imm = {
                let mut core = self.lock_core();
                loop {
                    if core.shutting_down {
                        drop(core);
                        if let Some(table) = next.take() {
                            self.discard_table(table);
                        }
                        return;
                    }
                    let oldest = self.super_version().imms.last().cloned();
                    if let (None, Some(imm)) = (&core.poisoned, oldest) {
                        break imm;
                    }
                    core = self
                        .flush_wanted
                        .wait(core)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            match self.flush(&imm, &mut next) {
                Ok(Some(size)) => last_size = size,
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "flush failed; the database refuses writes until reopened");
                    self.poison(&format!("a flush failed: {e}"));
                }
            }
        }
    }

    /// Creates the next flush's table and prefaults it for `expected_len` bytes (see the
    /// [module docs](self)). On failure the file is removed again.
    fn prepare_table(&self, expected_len: u64) -> Result<NextTable> {
        let mut table = self.create_table()?;
        if let Err(e) = table.writer.prefault(expected_len) {
            self.discard_table(table);
            return Err(e.into());
        }
        Ok(table)
    }

    /// Creates a table file under a new number, for a flush.
    fn create_table(&self) -> Result<NextTable> {
        let number = self.lock_core().state.take_file_number();
        let path = table_path(&self.dir, number);
        let writer = TableWriter::create(self.fs.clone(), &path, self.table_options())?;
        Ok(NextTable { number, writer })
    }

    /// Drops a table never written or recorded, and removes its temporary file.
    fn discard_table(&self, table: NextTable) {
        drop(table.writer);
        let path = table_path(&self.dir, table.number).with_extension("sst.tmp");
        match self.fs.remove(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(file = %path.display(), error = %e, "could not remove an unused table file; the next open will");
            }
            _ => {}
        }
    }

    /// Writes `imm` to a table (the one prepared in `next`, if any) and installs it.
    /// Returns the table's size, or `None` for an empty memtable, which leaves `next`
    /// for the flush after.
    fn flush(&self, imm: &Immutable, next: &mut Option<NextTable>) -> Result<Option<u64>> {
        let started = std::time::Instant::now();
        let written = if imm.mem.is_empty() {
            None
        } else {
            let table = match next.take() {
                Some(table) => table,
                None => self.create_table()?,
            };
            let _running = self.flush_gate.enter();
            Some(write_table_with(
                self,
                table.number,
                table.writer,
                &imm.mem,
            )?)
        };
        let (added, number, size, entries) = match written {
            Some(file) => {
                let (number, size, entries) = (file.meta.number, file.meta.size, file.meta.entries);
                (vec![file], Some(number), Some(size), entries)
            }
            None => (Vec::new(), None, None, 0),
        };

        let mut core = self.lock_core();
        // As for compactions: a poisoned database writes no more manifest edits.
        if let Some(reason) = &core.poisoned {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        let edit = VersionEdit {
            added: added.iter().map(|f| (0, (*f.meta).clone())).collect(),
            log_number: Some(imm.next_log),
            next_file_number: Some(core.state.next_file_number),
            last_sequence: Some(self.last_seq.load(Ordering::Acquire)),
            ..VersionEdit::default()
        };
        core.manifest.append(&edit).map_err(Error::Manifest)?;
        core.state
            .apply(&edit)
            .map_err(|reason| Error::Corruption {
                file: self.dir.join(manifest_file_name(core.manifest.number())),
                offset: 0,
                reason,
            })?;
        let sv = self.super_version();
        let version = Arc::new(sv.version.apply(&edit, added));
        self.install(SuperVersion {
            mem: sv.mem.clone(),
            imms: sv.imms.iter().filter(|i| i.id != imm.id).cloned().collect(),
            version,
        });
        self.counters
            .table_bytes
            .fetch_add(size.unwrap_or(0), Ordering::Relaxed);
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        if core.manifest.len() > self.options.max_manifest_size {
            self.rotate_manifest(&mut core)?;
        }
        drop(core);
        // Writers stalled on the frozen memtables can go on now.
        self.flushed.notify_all();
        self.compaction_wanted.notify_all();
        // The table is durable and recorded: the segments it covered are not needed. This
        // happens before `flush()` callers are released, so when `Db::flush` returns the
        // segments are gone.
        if let Err(e) = self.wal.remove_segments_before(imm.next_log) {
            tracing::warn!(error = %e, "could not remove old WAL segments; the next open will");
        }
        self.lock_core().flushed_imm_id = imm.id;
        self.flushed.notify_all();
        tracing::info!(
            table = number,
            bytes = size,
            entries,
            millis = started.elapsed().as_millis() as u64,
            "flushed a memtable to level 0"
        );
        Ok(size)
    }

    /// Starts a new manifest holding a snapshot of the state, points CURRENT at it, and
    /// removes the old one. A failure poisons the database before the core lock is let go:
    /// CURRENT may already name the new manifest, so no other thread may append another
    /// edit to the old one.
    pub(crate) fn rotate_manifest(&self, core: &mut crate::db::Core) -> Result<()> {
        let result = self.switch_manifest(core);
        if let Err(e) = &result {
            core.poisoned
                .get_or_insert_with(|| format!("a manifest switch failed: {e}"));
            self.poisoned.store(true, Ordering::Release);
        }
        result
    }

    fn switch_manifest(&self, core: &mut crate::db::Core) -> Result<()> {
        let number = core.state.take_file_number();
        let manifest = ManifestWriter::create(&self.fs, &self.dir, number, &core.state.snapshot())
            .map_err(Error::Manifest)?;
        write_current(&*self.fs, &self.dir, number).map_err(Error::Manifest)?;
        let old = std::mem::replace(&mut core.manifest, manifest);
        let old_path = self.dir.join(manifest_file_name(old.number()));
        if let Err(e) = self.fs.remove(&old_path) {
            tracing::warn!(file = %old_path.display(), error = %e, "could not remove the old manifest");
        }
        tracing::info!(manifest = number, "started a new manifest");
        Ok(())
    }
}

/// Writes `mem` as table `number` and opens it; `None` for an empty memtable.
pub(crate) fn write_table(
    inner: &impl TableSink,
    number: u64,
    mem: &Memtable,
) -> Result<Option<Arc<TableFile>>> {
    if mem.is_empty() {
        return Ok(None);
    }
    let path = table_path(inner.dir(), number);
    let writer = TableWriter::create(inner.fs().clone(), &path, inner.table_options())?;
    write_table_with(inner, number, writer, mem).map(Some)
}

/// Writes the entries of `mem` (not empty) through `writer`, created for table
/// `number`, and opens the table.
fn write_table_with(
    inner: &impl TableSink,
    number: u64,
    mut writer: TableWriter,
    mem: &Memtable,
) -> Result<Arc<TableFile>> {
    let mut scratch = Vec::new();
    mem.try_for_each(|key, value| {
        scratch.clear();
        key.encode_into(&mut scratch);
        writer.add_encoded(&scratch, value)
    })?;
    finish_table(inner, number, writer)
}

/// Finishes table `number` (sync, rename), opens it, and describes it for the manifest.
/// Flushes and compactions both end their tables here.
pub(crate) fn finish_table(
    inner: &impl TableSink,
    number: u64,
    writer: TableWriter,
) -> Result<Arc<TableFile>> {
    let (fs, path) = (inner.fs(), table_path(inner.dir(), number));
    let props = writer.finish()?;
    let table = Table::open_with(&**fs, &path, inner.read_options().clone())?;
    let meta = FileMeta {
        number,
        size: table.file_size(),
        smallest: decode_bound(&path, &props.smallest_key)?,
        largest: decode_bound(&path, &props.largest_key)?,
        min_seq: props.min_seq,
        max_seq: props.max_seq,
        entries: props.n_entries,
        tombstones: props.n_tombstones,
    };
    Ok(TableFile::new(fs, Arc::new(meta), table))
}

/// A flush's table file, not yet written: the next flush's, when created and prefaulted
/// ahead (see the [module docs](self)).
struct NextTable {
    number: u64,
    writer: TableWriter,
}

/// Where [`write_table`] writes, and how: the running engine, or recovery before it runs.
pub(crate) trait TableSink {
    fn fs(&self) -> &Arc<dyn ferris_fs::FileSystem>;
    fn dir(&self) -> &std::path::Path;
    fn read_options(&self) -> &ferris_sstable::ReadOptions;
    fn options(&self) -> &crate::Options;
    fn table_options(&self) -> TableOptions {
        let o = self.options();
        let mut t = TableOptions::default();
        t.block_size = o.block_size;
        t.bloom_bits_per_key = o.bloom_bits_per_key;
        t.compression = o.compression;
        t
    }
}

impl TableSink for Inner {
    fn fs(&self) -> &Arc<dyn ferris_fs::FileSystem> {
        &self.fs
    }
    fn dir(&self) -> &std::path::Path {
        &self.dir
    }
    fn read_options(&self) -> &ferris_sstable::ReadOptions {
        &self.read_options
    }
    fn options(&self) -> &crate::Options {
        &self.options
    }
}

fn decode_bound(path: &std::path::Path, key: &[u8]) -> Result<ferris_core::InternalKey> {
    ferris_core::InternalKey::decode(key).map_err(|e| Error::Corruption {
        file: path.to_path_buf(),
        offset: 0,
        reason: format!("a key the table just wrote does not decode: {e}"),
    })
}

/// Where compactions step aside while a flush writes its table (see
/// [`Options::flush_priority`](crate::Options::flush_priority)). The flush thread holds a
/// [`FlushRunning`] while it writes; a compaction calls [`FlushGate::wait`] between
/// entries, which returns at once unless a flush is running and the gate is enabled.
#[derive(Debug)]
pub(crate) struct FlushGate {
    enabled: bool,
    running: Mutex<bool>,
    finished: Condvar,
}

impl FlushGate {
    pub(crate) fn new(enabled: bool) -> FlushGate {
        FlushGate {
            enabled,
            running: Mutex::new(false),
            finished: Condvar::new(),
        }
    }

    /// Marks a flush as running until the returned guard is dropped.
    pub(crate) fn enter(&self) -> FlushRunning<'_> {
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = true;
        FlushRunning { gate: self }
    }

    /// Blocks while a flush is running, if the gate is enabled. A flush never waits for a
    /// compaction, so this always ends: when the flush's table is written (or failed).
    pub(crate) fn wait(&self) {
        if !self.enabled {
            return;
        }
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        drop(
            self.finished
                .wait_while(running, |running| *running)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
}

/// A flush writing its table; see [`FlushGate::enter`].
pub(crate) struct FlushRunning<'a> {
    gate: &'a FlushGate,
}

impl Drop for FlushRunning<'_> {
    fn drop(&mut self) {
        *self
            .gate
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = false;
        self.gate.finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::FlushGate;

    /// A waiter is held for exactly as long as a flush runs, and a disabled gate or an
    /// idle one never holds anyone.
    #[test]
    fn a_compaction_waits_for_the_running_flush_only() {
        let gate = Arc::new(FlushGate::new(true));
        gate.wait();
        let disabled = FlushGate::new(false);
        let _flushing = disabled.enter();
        disabled.wait();

        let running = gate.enter();
        let passed = Arc::new(AtomicBool::new(false));
        let waiter = std::thread::spawn({
            let (gate, passed) = (Arc::clone(&gate), Arc::clone(&passed));
            move || {
                gate.wait();
                passed.store(true, Ordering::SeqCst);
            }
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!passed.load(Ordering::SeqCst), "passed a running flush");
        drop(running);
        waiter.join().unwrap();
        assert!(passed.load(Ordering::SeqCst));
        gate.wait();
    }
}
