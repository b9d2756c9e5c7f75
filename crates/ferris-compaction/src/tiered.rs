//! Size-tiered ("universal") compaction: few merges of similar-sized sorted runs.

use std::sync::Arc;

use ferris_manifest::{FileMeta, NUM_LEVELS};

use crate::picker::{Choice, CompactionOptions, Reason, Strategy, View};

/// Size-tiered compaction, RocksDB's "universal" style, as a second [`Strategy`].
///
/// The database is a list of **sorted runs**, newest first: each level-0 table is one run,
/// and each non-empty deeper level is one run. When there are at least
/// [`CompactionOptions::l0_compaction_trigger`] runs:
///
/// 1. if the runs above the oldest one together weigh more than
///    [`Tiered::max_size_amplification`] times the oldest, everything is merged into one
///    run (this bounds space amplification);
/// 2. otherwise, starting from the newest run (and, failing that, from each older one in
///    turn), runs are gathered while the next one is no bigger than what was gathered
///    times `1 + size_ratio`; the first such window of at least two runs is merged into
///    one;
/// 3. failing both, the newest runs are merged, just enough of them to get back under the
///    trigger.
///
/// Data is rewritten far less often than with leveled compaction (lower write
/// amplification), at the price of more runs to search (read amplification) and more
/// garbage held between merges (space amplification).
#[derive(Debug, Clone, Copy)]
pub struct Tiered {
    /// How much bigger than the next run may be merged with the runs before it (default
    /// 0.01: sizes within 1%).
    pub size_ratio: f64,
    /// Everything is merged once the newer runs weigh this many times the oldest (default
    /// 2.0, RocksDB's 200%).
    pub max_size_amplification: f64,
}

impl Default for Tiered {
    fn default() -> Self {
        Tiered {
            size_ratio: 0.01,
            max_size_amplification: 2.0,
        }
    }
}

/// One sorted run: a level-0 table, or a whole deeper level.
struct Run {
    level: usize,
    files: Vec<Arc<FileMeta>>,
    bytes: u64,
}

fn runs(view: &View) -> Vec<Run> {
    let mut runs = Vec::new();
    for file in view.levels.first().map_or(&[][..], Vec::as_slice) {
        runs.push(Run {
            level: 0,
            files: vec![file.clone()],
            bytes: file.size,
        });
    }
    for level in 1..NUM_LEVELS {
        let files = view.levels.get(level).cloned().unwrap_or_default();
        if !files.is_empty() {
            let bytes = files.iter().map(|f| f.size).sum();
            runs.push(Run {
                level,
                files,
                bytes,
            });
        }
    }
    runs
}

/// Merges `runs` (newest first, contiguous) into one run. It goes to the
/// level of the oldest run merged. A merge of level-0 tables stays in level 0, unless it
/// took *every* level-0 table and level 1 is free: an older level-0 table left above a
/// merged run in level 1 would shadow its newer versions.
fn merge(view: &View, runs: &[Run], reason: Reason) -> Choice {
    let oldest = runs.last().map_or(0, |r| r.level);
    let all_of_l0 =
        runs.iter().filter(|r| r.level == 0).count() == view.levels.first().map_or(0, Vec::len);
    let output_level = if oldest == 0 && all_of_l0 && view.levels.get(1).is_none_or(Vec::is_empty) {
        1
    } else {
        oldest
    };
    let mut inputs: Vec<(usize, Vec<Arc<FileMeta>>)> = Vec::new();
    for run in runs {
        match inputs.last_mut() {
            Some((level, files)) if *level == run.level => files.extend(run.files.iter().cloned()),
            _ => inputs.push((run.level, run.files.clone())),
        }
    }
    Choice::Merge {
        inputs,
        output_level,
        reason,
    }
}

impl Strategy for Tiered {
    /// Once the run count reaches the trigger: every run but the oldest, which the next
    /// merges would rewrite.
    fn pending_compaction_bytes(&self, view: &View, options: &CompactionOptions) -> u64 {
        let runs = runs(view);
        if runs.len() < options.l0_compaction_trigger.max(2) {
            return 0;
        }
        runs[..runs.len() - 1].iter().map(|r| r.bytes).sum()
    }

    fn choose(&self, view: &View, options: &CompactionOptions) -> Choice {
        let runs = runs(view);
        if runs.len() < options.l0_compaction_trigger.max(2) {
            return Choice::Nothing;
        }
        if runs
            .iter()
            .any(|r| r.files.iter().any(|f| view.busy.contains(&f.number)))
        {
            // One merge at a time: runs must be merged newest-first and contiguously.
            return Choice::Nothing;
        }
        let (oldest, newer) = runs.split_last().expect("at least two runs");
        let newer_bytes: u64 = newer.iter().map(|r| r.bytes).sum();
        if newer_bytes as f64 > self.max_size_amplification * oldest.bytes.max(1) as f64 {
            return merge(view, &runs, Reason::SpaceAmplification);
        }
        // The first window of similar-sized runs, trying each starting run from the newest
        // on (RocksDB's universal compaction does the same): merging runs of like size is
        // what keeps each byte's rewrites logarithmic.
        for start in 0..runs.len() - 1 {
            let mut gathered = runs[start].bytes;
            let mut end = start + 1;
            while end < runs.len()
                && runs[end].bytes as f64 <= gathered as f64 * (1.0 + self.size_ratio)
            {
                gathered += runs[end].bytes;
                end += 1;
            }
            if end - start >= 2 {
                return merge(view, &runs[start..end], Reason::SizeRatio);
            }
        }
        // No similar sizes anywhere: merge just enough of the newest runs to get back under
        // the trigger.
        let n = runs.len() - options.l0_compaction_trigger.max(2) + 2;
        merge(view, &runs[..n.min(runs.len())], Reason::RunCount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferris_core::{InternalKey, ValueKind};

    fn table(number: u64, size: u64) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            number,
            size,
            smallest: InternalKey::new(&b"a"[..], number, ValueKind::Put),
            largest: InternalKey::new(&b"z"[..], number, ValueKind::Put),
            min_seq: number,
            max_seq: number,
            entries: 1,
            tombstones: 0,
        })
    }

    fn view(l0: &[(u64, u64)], deeper: &[(usize, u64)]) -> View {
        let mut levels = vec![Vec::new(); NUM_LEVELS];
        levels[0] = l0.iter().map(|&(n, s)| table(n, s)).collect();
        for (i, &(level, size)) in deeper.iter().enumerate() {
            levels[level].push(table(100 + i as u64, size));
        }
        View::new(levels)
    }

    fn inputs(choice: &Choice) -> Vec<(usize, Vec<u64>)> {
        let Choice::Merge { inputs, .. } = choice else {
            panic!("{choice:?}")
        };
        inputs
            .iter()
            .map(|(l, f)| (*l, f.iter().map(|f| f.number).collect()))
            .collect()
    }

    #[test]
    fn below_the_run_count_nothing_happens() {
        let v = view(&[(3, 10), (2, 10)], &[(6, 1000)]);
        assert_eq!(
            Tiered::default().choose(&v, &CompactionOptions::default()),
            Choice::Nothing
        );
    }

    #[test]
    fn similar_sized_newest_runs_merge() {
        let v = view(&[(4, 10), (3, 10), (2, 10), (1, 500)], &[(6, 10_000)]);
        let choice = Tiered::default().choose(&v, &CompactionOptions::default());
        assert_eq!(inputs(&choice), vec![(0, vec![4, 3, 2])]);
    }

    #[test]
    fn too_much_above_the_oldest_run_merges_everything() {
        let v = view(&[(4, 100), (3, 200), (2, 400)], &[(6, 300)]);
        let choice = Tiered::default().choose(&v, &CompactionOptions::default());
        let Choice::Merge {
            output_level,
            reason,
            ..
        } = &choice
        else {
            panic!()
        };
        assert_eq!((*output_level, *reason), (6, Reason::SpaceAmplification));
        assert_eq!(inputs(&choice), vec![(0, vec![4, 3, 2]), (6, vec![100])]);
    }

    #[test]
    fn a_partial_merge_of_level0_stays_in_level0() {
        let v = view(&[(5, 10), (4, 10), (3, 10), (2, 500), (1, 10_000)], &[]);
        let choice = Tiered::default().choose(&v, &CompactionOptions::default());
        let Choice::Merge { output_level, .. } = &choice else {
            panic!()
        };
        assert_eq!(*output_level, 0);
        assert_eq!(inputs(&choice), vec![(0, vec![5, 4, 3])]);
    }

    #[test]
    fn a_window_of_similar_runs_further_back_is_found() {
        let v = view(&[(5, 10), (4, 400), (3, 400), (2, 400)], &[(6, 100_000)]);
        let choice = Tiered::default().choose(&v, &CompactionOptions::default());
        assert_eq!(inputs(&choice), vec![(0, vec![4, 3, 2])]);
        let Choice::Merge { output_level, .. } = &choice else {
            panic!()
        };
        assert_eq!(*output_level, 0);
    }

    #[test]
    fn a_busy_run_blocks_another_merge() {
        let mut v = view(&[(4, 10), (3, 10), (2, 10), (1, 10)], &[]);
        v.busy.insert(1);
        assert_eq!(
            Tiered::default().choose(&v, &CompactionOptions::default()),
            Choice::Nothing
        );
    }
}
