//! Carrying out compactions: the background threads ask the strategy what to do, and run
//! its choice. The rules of a merge (which versions to keep, where to end an output
//! table) are `ferris_compaction`'s, pure and tested without I/O; this module reads the
//! inputs, writes the outputs and installs the result as one version edit.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferris_compaction::{
    Choice, CompactionIterator, MergeRules, OutputCuts, Reason, grandparents, is_bottommost,
    rewrite_bottom,
};
use ferris_core::FileMeta;
use ferris_core::iter::MergingIterator;
use ferris_core::range_del::Tombstones;
use ferris_manifest::VersionEdit;

use crate::db::Shared;
use crate::error::Result;
use crate::flush::NewTable;
use crate::versions::{KeyspaceCore, TableFile};

/// How often (in entries) a merge checks whether the database is shutting down, and
/// steps aside for a running flush.
const CHECK_INTERVAL: u64 = 1024;

impl Shared {
    /// A compaction thread's loop: pick, run, repeat, until shut down. Each round asks
    /// every keyspace's strategy in turn, starting after the keyspace served last, so that
    /// one busy keyspace does not starve the others.
    pub(crate) fn compaction_loop(self: &Arc<Shared>) {
        let mut after = None;
        while let Some((keyspace, choice, manual)) = self.work.next_job(|work| {
            let keyspaces = self.versions.keyspaces();
            let start = keyspaces
                .iter()
                .position(|k| Some(k.id) > after)
                .unwrap_or(0);
            let idle = work.idle_seq == Some(self.writes.visible());
            for keyspace in keyspaces[start..].iter().chain(&keyspaces[..start]) {
                // A write after this load makes the view stale for one choice at most: an
                // idle merge of level 0 is correct at any time, only earlier than the
                // trigger.
                let mut view = keyspace.current().version.view();
                view.busy = work.busy.clone();
                view.idle = idle;
                let options = &keyspace.options;
                let strategy = &options.compaction_strategy;
                let manual = work.manual.get(&keyspace.id);
                let choice = match manual {
                    Some(range) => {
                        let range = range.as_ref().map(|(lo, hi)| (&lo[..], &hi[..]));
                        match strategy.manual(&view, range) {
                            // The filter must see what is already at the bottom too.
                            Choice::Nothing
                                if options.compaction_filter.is_some() || options.ttl.is_on() =>
                            {
                                rewrite_bottom(&view, range, work.manual_mark)
                            }
                            choice => choice,
                        }
                    }
                    None => strategy.choose(&view, &options.compaction),
                };
                if choice != Choice::Nothing {
                    work.busy
                        .extend(choice.tables().iter().map(|(_, f)| f.number));
                    return Some((Arc::clone(keyspace), choice, manual.is_some()));
                }
                if manual.is_some() && work.busy.is_empty() {
                    work.manual.remove(&keyspace.id);
                }
            }
            // Manual compactions of dropped keyspaces have nothing left to do either.
            work.manual
                .retain(|id, _| keyspaces.iter().any(|k| k.id == *id));
            if work.manual_wanted > work.manual_done && work.manual.is_empty() {
                work.manual_done = work.manual_wanted;
                // The manual compaction's caller waits for this.
                self.work.wake();
            }
            None
        }) {
            after = Some(keyspace.id);
            let result = self.run_compaction(&keyspace, &choice);
            if let Err(e) = result {
                tracing::error!(error = %e, manual, "compaction failed");
                self.work.poison(e);
            }
            self.work.update(|s| {
                for (_, file) in choice.tables() {
                    s.busy.remove(&file.number);
                }
            });
        }
    }

    fn run_compaction(&self, keyspace: &KeyspaceCore, choice: &Choice) -> Result<()> {
        let started = std::time::Instant::now();
        let id = keyspace.id;
        let deleted = choice
            .tables()
            .iter()
            .map(|(l, f)| (id, *l, f.number))
            .collect();
        let (added, outputs) = match choice {
            Choice::Move { file, from } => {
                tracing::info!(table = file.number, from, "moving a table down");
                (vec![(id, from + 1, (**file).clone())], Vec::new())
            }
            Choice::Drop { files } => {
                tracing::info!(tables = files.len(), "dropping whole tables");
                (Vec::new(), Vec::new())
            }
            Choice::Merge {
                inputs,
                output_level,
                reason,
            } => {
                let Some(outputs) = self.merge(keyspace, inputs, *output_level)? else {
                    return Ok(());
                };
                let read: u64 = inputs.iter().flat_map(|(_, f)| f).map(|f| f.size).sum();
                let written: u64 = outputs.iter().map(|f| f.meta.size).sum();
                let stats = &self.stats;
                stats.compactions.fetch_add(1, Ordering::Relaxed);
                if *reason == Reason::Idle {
                    stats.idle_compactions.fetch_add(1, Ordering::Relaxed);
                }
                stats
                    .compaction_bytes_read
                    .fetch_add(read, Ordering::Relaxed);
                stats.table_bytes.fetch_add(written, Ordering::Relaxed);
                tracing::info!(
                    keyspace = keyspace.name,
                    ?reason,
                    output_level,
                    outputs = outputs.len(),
                    read,
                    written,
                    millis = started.elapsed().as_millis() as u64,
                    "compacted"
                );
                let added = (outputs.iter()).map(|f| (id, *output_level, (*f.meta).clone()));
                (added.collect(), outputs)
            }
            _ => return Ok(()),
        };
        let edit = VersionEdit {
            deleted,
            added,
            ..VersionEdit::default()
        };
        (self.versions).install_edit(&self.env, &self.work, keyspace, edit, outputs, None)
    }

    /// Merges the inputs into new tables for `output_level`: the strategy's choice of
    /// tables, `ferris_compaction`'s rules of what to keep and where to cut. `None` if
    /// the database began shutting down meanwhile (the outputs written so far are
    /// removed).
    fn merge(
        &self,
        keyspace: &KeyspaceCore,
        inputs: &[(usize, Vec<Arc<FileMeta>>)],
        output_level: usize,
    ) -> Result<Option<Vec<Arc<TableFile>>>> {
        let version = Arc::clone(&keyspace.current().version);
        let levels = &version.levels;
        // Each input block is read once, and the inputs are deleted once the outputs are
        // in: caching them would only evict the blocks readers need.
        let readers: Vec<_> = (inputs.iter().flat_map(|(_, files)| files))
            .filter_map(|meta| levels.find(meta.number))
            .map(|(_, f)| &f.reader)
            .collect();
        let sources = readers.iter().map(|r| Arc::clone(r).iter(false)).collect();
        let rules = MergeRules {
            snapshots: self.snapshot_seqs(),
            bottommost: is_bottommost(levels, inputs, output_level),
            filter: (keyspace.options.filter(|| self.env.options.clock.now()))
                .map(|f| (f, output_level)),
            range_tombstones: Tombstones::merged(readers.iter().map(|r| r.range_tombstones())),
        };
        let mut merge = CompactionIterator::new(MergingIterator::new(sources), rules);
        let options = &keyspace.options;
        let mut cuts = OutputCuts::new(
            output_level,
            grandparents(levels, output_level),
            &options.compaction,
        );
        let mut outputs = Vec::new();
        let table_options = options.table_options(keyspace.id);
        let finished = self.write_outputs(&mut merge, &mut cuts, table_options, &mut outputs);
        if !matches!(finished, Ok(true)) {
            // None of them is in the manifest: they go when dropped.
            for file in &outputs {
                file.mark_obsolete();
            }
        }
        Ok(finished?.then_some(outputs))
    }

    /// Writes what `merge` keeps into new tables, cut where `cuts` says, appending each
    /// finished one to `outputs`. False if the database began shutting down meanwhile.
    fn write_outputs(
        &self,
        merge: &mut CompactionIterator<MergingIterator>,
        cuts: &mut OutputCuts,
        options: ferris_table::TableOptions,
        outputs: &mut Vec<Arc<TableFile>>,
    ) -> Result<bool> {
        // Dropped unfinished (on an error or at shutdown), a table removes its file.
        let mut current: Option<NewTable> = None;
        let mut n = 0u64;
        while merge.valid() {
            // At the first entry and every CHECK_INTERVAL after.
            // Flushes first (see `Options::flush_priority`), and stop at shutdown.
            if n.is_multiple_of(CHECK_INTERVAL) && !self.work.let_flush_pass() {
                return Ok(false);
            }
            n += 1;
            // Cut only between user keys, so tables of a level never share a key.
            let open = current.as_ref().map(|t| t.builder.estimated_size());
            if merge.first_of_user_key()
                && cuts.should_cut(merge.key().user_key, open)
                && let Some(mut table) = current.take()
            {
                // Its part of the range tombstones: up to its last key, and no further.
                table
                    .builder
                    .add_range_tombstones(&merge.cut_range_tombstones())?;
                outputs.push(self.finish_table(table)?);
            }
            let table = match &mut current {
                Some(table) => table,
                None => current.insert(self.create_table(options)?),
            };
            table.builder.add(merge.key(), &merge.value())?;
            merge.next();
        }
        merge.status()?;
        // The rest of the range tombstones; a table of them alone if no entry was kept, for
        // they may still hide versions in the levels below.
        let rest = merge.rest_range_tombstones();
        if current.is_none() && !rest.is_empty() {
            current = Some(self.create_table(options)?);
        }
        if let Some(mut table) = current {
            table.builder.add_range_tombstones(&rest)?;
            outputs.push(self.finish_table(table)?);
        }
        Ok(true)
    }
}
