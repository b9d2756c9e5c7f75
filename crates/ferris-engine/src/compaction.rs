//! Executing compactions: the background threads, the merge and its drop rules, output
//! cuts, and installing the result as one version edit.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferris_compaction::{
    Choice, CompactionIterator, MergeRules, OutputCuts, Reason, View, grandparents, is_bottommost,
};
use ferris_core::SeqNo;
use ferris_core::iter::{InternalIterator, MergingIterator};
use ferris_core::level::Levels;
use ferris_manifest::{FileMeta, VersionEdit};
use ferris_sstable::{TableIter, TableWriter};

use crate::db::Inner;
use crate::error::{Error, Result};
use crate::version::{SuperVersion, TableFile, Version, table_path};

/// How often (in entries written) a merge checks whether the database is shutting down,
/// and steps aside for a running flush.
const CHECK_INTERVAL: u64 = 1024;

impl Inner {
    /// A compaction thread's loop: pick, run, repeat, until shut down.
    pub(crate) fn compaction_loop(self: &Arc<Inner>) {
        loop {
            let (choice, manual) = {
                let mut core = self.lock_core();
                loop {
                    if core.shutting_down {
                        return;
                    }
                    if core.poisoned.is_none() {
                        // A write after this load makes the view stale for one choice at
                        // most: an idle merge of level 0 is correct at any time, only
                        // earlier than the trigger.
                        let idle = core.idle_seq == Some(self.last_seq.load(Ordering::Acquire));
                        let view = View {
                            levels: self.super_version().version.metas(),
                            busy: core.busy.clone(),
                            idle,
                        };
                        let manual = core.manual.is_some();
                        let choice = if let Some(range) = &core.manual {
                            let range = range.as_ref().map(|(lo, hi)| (&lo[..], &hi[..]));
                            self.strategy.manual(&view, range)
                        } else {
                            self.strategy.choose(&view, &self.options.compaction)
                        };
                        if choice != Choice::Nothing {
                            for number in input_numbers(&choice) {
                                core.busy.insert(number);
                            }
                            break (choice, manual);
                        }
                        if manual && core.busy.is_empty() {
                            core.manual = None;
                            core.manual_done += 1;
                            self.compacted.notify_all();
                        }
                    }
                    core = self
                        .compaction_wanted
                        .wait(core)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            let result = self.run_compaction(&choice);
            let mut core = self.lock_core();
            for number in input_numbers(&choice) {
                core.busy.remove(&number);
            }
            drop(core);
            if let Err(e) = result {
                tracing::error!(error = %e, manual, "compaction failed; the database refuses writes until reopened");
                self.poison(&format!("a compaction failed: {e}"));
            }
            self.compacted.notify_all();
            self.compaction_wanted.notify_all();
        }
    }

    fn run_compaction(&self, choice: &Choice) -> Result<()> {
        let started = std::time::Instant::now();
        match choice {
            Choice::Nothing => Ok(()),
            Choice::Move { file, from } => {
                let edit = VersionEdit {
                    deleted: vec![(*from, file.number)],
                    added: vec![(from + 1, (**file).clone())],
                    ..VersionEdit::default()
                };
                self.install_edit(&edit, Vec::new())?;
                tracing::info!(
                    table = file.number,
                    from,
                    to = from + 1,
                    "moved a table down"
                );
                Ok(())
            }
            Choice::Drop { files } => {
                let edit = VersionEdit {
                    deleted: files.iter().map(|(l, f)| (*l, f.number)).collect(),
                    ..VersionEdit::default()
                };
                self.install_edit(&edit, Vec::new())?;
                tracing::info!(tables = files.len(), "dropped tables of only tombstones");
                Ok(())
            }
            Choice::Merge {
                inputs,
                output_level,
                reason,
            } => {
                let Some(outputs) = self.merge(inputs, *output_level)? else {
                    return Ok(());
                };
                let read: u64 = inputs.iter().flat_map(|(_, f)| f).map(|f| f.size).sum();
                let written: u64 = outputs.iter().map(|f| f.meta.size).sum();
                let edit = VersionEdit {
                    deleted: choice
                        .tables()
                        .iter()
                        .map(|(l, f)| (*l, f.number))
                        .collect(),
                    added: outputs
                        .iter()
                        .map(|f| (*output_level, (*f.meta).clone()))
                        .collect(),
                    ..VersionEdit::default()
                };
                let n_out = outputs.len();
                self.install_edit(&edit, outputs)?;
                let c = &self.counters;
                c.compactions.fetch_add(1, Ordering::Relaxed);
                if *reason == Reason::Idle {
                    c.idle_compactions.fetch_add(1, Ordering::Relaxed);
                }
                c.compaction_bytes_read.fetch_add(read, Ordering::Relaxed);
                c.table_bytes.fetch_add(written, Ordering::Relaxed);
                tracing::info!(
                    ?reason,
                    output_level,
                    inputs = edit.deleted.len(),
                    outputs = n_out,
                    read,
                    written,
                    millis = started.elapsed().as_millis() as u64,
                    "compacted"
                );
                Ok(())
            }
        }
    }

    /// Writes `edit` to the manifest and installs it on the current version.
    fn install_edit(&self, edit: &VersionEdit, added: Vec<Arc<TableFile>>) -> Result<()> {
        let mut core = self.lock_core();
        // Nothing more goes to the manifest once the database is poisoned: after a failed
        // manifest switch, CURRENT may no longer name the manifest this would extend. The
        // outputs are left behind as leftovers for the next open to remove.
        if let Some(reason) = &core.poisoned {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        let mut edit = edit.clone();
        edit.next_file_number = Some(core.state.next_file_number);
        core.manifest.append(&edit).map_err(Error::Manifest)?;
        core.state
            .apply(&edit)
            .map_err(|reason| Error::Corruption {
                file: self.dir.clone(),
                offset: 0,
                reason: format!("a compaction edit does not apply: {reason}"),
            })?;
        let sv = self.super_version();
        let version = Arc::new(sv.version.apply(&edit, added));
        self.install(SuperVersion {
            mem: sv.mem.clone(),
            imms: sv.imms.clone(),
            version,
        });
        if core.manifest.len() > self.options.max_manifest_size {
            self.rotate_manifest(&mut core)?;
        }
        Ok(())
    }

    /// Merges the inputs into new tables for `output_level`. `None` if the database began
    /// shutting down meanwhile (the partial outputs are removed).
    fn merge(
        &self,
        inputs: &[(usize, Vec<Arc<FileMeta>>)],
        output_level: usize,
    ) -> Result<Option<Vec<Arc<TableFile>>>> {
        let version = self.super_version().version.clone();
        let wanted: std::collections::HashSet<u64> = inputs
            .iter()
            .flat_map(|(_, files)| files.iter().map(|f| f.number))
            .collect();
        let files: Vec<Arc<TableFile>> = version
            .files()
            .filter(|f| wanted.contains(&f.meta.number))
            .cloned()
            .collect();
        // Each input block is read once, and the inputs are deleted once the outputs are
        // in: caching them would only evict the blocks readers need.
        let tables: Vec<Box<dyn InternalIterator>> = files
            .iter()
            .map(|f| {
                let cursor = f.table.owned_cursor().fill_cache(false);
                Box::new(TableIter::new(cursor, f.table.path())) as Box<dyn InternalIterator>
            })
            .collect();
        let metas = version.metas();
        let snapshots: Vec<SeqNo> = self
            .snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        let rules = MergeRules {
            snapshots,
            bottommost: is_bottommost(&metas, inputs, output_level),
        };
        // The rules of what to keep are ferris-compaction's; this loop only writes.
        let mut merge = CompactionIterator::new(MergingIterator::new(tables), rules);
        let mut cuts = OutputCuts::new(
            output_level,
            grandparents(&metas, output_level),
            &self.options.compaction,
        );
        let mut out = Outputs::new(self);
        let mut scratch = Vec::new();
        let mut n = 0u64;
        while merge.valid() {
            // At the first entry and every CHECK_INTERVAL after.
            if n.is_multiple_of(CHECK_INTERVAL) {
                if self.lock_core().shutting_down {
                    out.abandon();
                    return Ok(None);
                }
                // Flushes first: see `Options::flush_priority`.
                self.flush_gate.wait();
            }
            n += 1;
            let key = merge.key();
            // Cut only between user keys, so tables of a level never share a key.
            if merge.first_of_user_key() && cuts.should_cut(key.user_key, out.current_size()) {
                out.finish_current()?;
            }
            scratch.clear();
            key.encode_into(&mut scratch);
            out.add(&scratch, &merge.value())?;
            merge.next();
        }
        if let Err(e) = merge.status() {
            out.abandon();
            return Err(Error::Table(e));
        }
        let stats = merge.stats();
        tracing::debug!(
            read = stats.read,
            kept = stats.kept,
            shadowed = stats.shadowed,
            tombstones_dropped = stats.tombstones_dropped,
            "merged"
        );
        out.finish().map(Some)
    }
}

/// The numbers of the tables a choice reads or removes.
fn input_numbers(choice: &Choice) -> Vec<u64> {
    choice.tables().iter().map(|(_, f)| f.number).collect()
}

/// The tables a merge writes; where they are cut is `OutputCuts`'s rule.
struct Outputs<'a> {
    inner: &'a Inner,
    current: Option<(u64, TableWriter)>,
    done: Vec<Arc<TableFile>>,
    written: Vec<u64>,
}

impl<'a> Outputs<'a> {
    fn new(inner: &'a Inner) -> Outputs<'a> {
        Outputs {
            inner,
            current: None,
            done: Vec::new(),
            written: Vec::new(),
        }
    }

    /// The estimated size of the table being written, if one is open.
    fn current_size(&self) -> Option<u64> {
        self.current.as_ref().map(|(_, w)| w.estimated_size())
    }

    fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if self.current.is_none() {
            let number = self.inner.lock_core().state.take_file_number();
            let path = table_path(&self.inner.dir, number);
            let writer = TableWriter::create(self.inner.fs.clone(), &path, self.table_options())?;
            self.written.push(number);
            self.current = Some((number, writer));
        }
        let (_, writer) = self.current.as_mut().expect("opened above");
        writer.add_encoded(key, value)?;
        Ok(())
    }

    fn table_options(&self) -> ferris_sstable::TableOptions {
        crate::flush::TableSink::table_options(self.inner)
    }

    fn finish_current(&mut self) -> Result<()> {
        let Some((number, writer)) = self.current.take() else {
            return Ok(());
        };
        self.done
            .push(crate::flush::finish_table(self.inner, number, writer)?);
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<Arc<TableFile>>> {
        self.finish_current()?;
        Ok(std::mem::take(&mut self.done))
    }

    /// Removes every output written so far: none was recorded in the manifest.
    fn abandon(&mut self) {
        self.current = None;
        self.done.clear();
        for &number in &self.written {
            let path = table_path(&self.inner.dir, number);
            for p in [path.clone(), path.with_extension("sst.tmp")] {
                let _ = self.inner.fs.remove(&p);
            }
        }
    }
}

impl Version {
    /// The metadata of every table, per level, for the picker.
    pub(crate) fn metas(&self) -> Levels<Arc<FileMeta>> {
        Levels::from_files(
            self.levels
                .iter()
                .enumerate()
                .flat_map(|(level, files)| files.iter().map(move |f| (level, f.meta.clone()))),
        )
    }
}
