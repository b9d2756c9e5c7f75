//! Where a merge's output goes: whether it is bottommost, and where its tables end.

use std::sync::Arc;

use ferris_core::level::{FileMeta, HasMeta, Levels};

use crate::picker::{CompactionOptions, key_range};

/// Whether the output of merging `inputs` into `output_level` is **bottommost**: no table
/// outside the inputs, in the output level or below, overlaps the inputs' user-key range,
/// so nothing older than the inputs can hold a version of a key they hold. Level-0 tables
/// left out of a merge into level 0 count: they sit in the output level.
///
/// A bottommost merge may drop the tombstones every snapshot sees
/// ([`MergeRules::bottommost`](crate::MergeRules::bottommost)).
pub fn is_bottommost<T: HasMeta + Clone>(
    levels: &Levels<T>,
    inputs: &[(usize, Vec<Arc<FileMeta>>)],
    output_level: usize,
) -> bool {
    let all: Vec<Arc<FileMeta>> = inputs.iter().flat_map(|(_, f)| f.iter().cloned()).collect();
    let (lo, hi) = key_range(&all);
    let is_input = |number: u64| all.iter().any(|f| f.number == number);
    levels
        .files()
        .filter(|(level, _)| *level >= output_level)
        .all(|(_, f)| is_input(f.meta().number) || !f.meta().overlaps(lo, hi))
}

/// The **grandparents** of a merge into `output_level`: the tables of the level below it,
/// which a later merge of an output table into that level would have to rewrite. Empty
/// below the last level.
pub fn grandparents<T: HasMeta + Clone>(levels: &Levels<T>, output_level: usize) -> &[T] {
    levels.level(output_level + 1)
}

/// The output-cut rule: where a merge's output tables end.
///
/// A merge into level 1 or deeper writes a sequence of tables, and ends the one being
/// written, before the first entry of a user key, once either
///
/// - it has reached [`CompactionOptions::target_file_size`] (estimated), or
/// - its key range has come to overlap more than
///   [`CompactionOptions::max_grandparent_overlap_bytes`] of the grandparents (the level
///   below the output, [`grandparents`]): a later merge of that table into the level
///   below would otherwise have to rewrite all of them (LevelDB's rule).
///
/// Cuts fall only between user keys, so the tables of a level never share one. A merge
/// into level 0 (a tiered merge of level-0 runs) is never cut: each level-0 table is one
/// sorted run, and cutting it would make several.
///
/// ```
/// use std::sync::Arc;
/// use ferris_compaction::{CompactionOptions, OutputCuts};
/// use ferris_core::level::FileMeta;
/// use ferris_core::{InternalKey, ValueKind};
///
/// let grandparent = |lo: &str, hi: &str, size| FileMeta {
///     number: 1,
///     size,
///     smallest: InternalKey::new(lo.as_bytes().to_vec(), 1, ValueKind::Put),
///     largest: InternalKey::new(hi.as_bytes().to_vec(), 1, ValueKind::Put),
///     min_seq: 1,
///     max_seq: 1,
///     entries: 1,
///     tombstones: 0,
/// };
/// let mut options = CompactionOptions::default();
/// options.target_file_size = 1000;
/// options.max_grandparent_overlap_bytes = 500;
/// let below = [grandparent("a", "c", 400), grandparent("d", "f", 400)];
/// let mut cuts = OutputCuts::new(1, &below, &options);
/// assert!(!cuts.should_cut(b"a", None), "no output open: nothing to cut");
/// assert!(!cuts.should_cut(b"d", Some(100)), "passed 400 bytes of grandparents");
/// assert!(cuts.should_cut(b"g", Some(200)), "passed 800 bytes of grandparents");
/// assert!(cuts.should_cut(b"h", Some(1000)), "a full table");
/// ```
#[derive(Debug, Clone)]
pub struct OutputCuts {
    /// Never cut: the output goes to level 0.
    level0: bool,
    target_file_size: u64,
    max_grandparent_overlap_bytes: u64,
    /// The grandparents' largest user keys and sizes, in key order.
    grandparents: Vec<(Vec<u8>, u64)>,
    /// The grandparents passed so far.
    passed: usize,
    /// Bytes of the grandparents passed while the current output was being written.
    overlapped: u64,
}

impl OutputCuts {
    /// The rule for a merge into `output_level` over `grandparents`, the tables of the
    /// level below it in key order ([`grandparents`]).
    pub fn new<T: HasMeta>(
        output_level: usize,
        grandparents: &[T],
        options: &CompactionOptions,
    ) -> OutputCuts {
        OutputCuts {
            level0: output_level == 0,
            target_file_size: options.target_file_size,
            max_grandparent_overlap_bytes: options.max_grandparent_overlap_bytes,
            grandparents: grandparents
                .iter()
                .map(|g| (g.meta().largest.user_key().to_vec(), g.meta().size))
                .collect(),
            passed: 0,
            overlapped: 0,
        }
    }

    /// Asked before the first entry of each user key, in key order: whether the output
    /// being written (`open`: its estimated size so far, `None` when no output is open)
    /// should end before `user_key`. After a `true`, the caller finishes it and writes
    /// `user_key` into a new one.
    pub fn should_cut(&mut self, user_key: &[u8], open: Option<u64>) -> bool {
        if self.level0 {
            return false;
        }
        // Every grandparent wholly before this key overlaps the output written so far.
        while let Some((largest, size)) = self.grandparents.get(self.passed)
            && largest.as_slice() < user_key
        {
            if open.is_some() {
                self.overlapped += size;
            }
            self.passed += 1;
        }
        let cut = open.is_some_and(|size| {
            size >= self.target_file_size || self.overlapped > self.max_grandparent_overlap_bytes
        });
        // The next entry starts a new output (after a cut, or when none is open), and the
        // overlap counts from there.
        if cut || open.is_none() {
            self.overlapped = 0;
        }
        cut
    }
}

#[cfg(test)]
mod tests {
    use ferris_core::{InternalKey, ValueKind};
    use proptest::prelude::*;

    use super::*;

    fn meta(number: u64, lo: &[u8], hi: &[u8], size: u64) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            number,
            size,
            smallest: InternalKey::new(lo.to_vec(), number, ValueKind::Put),
            largest: InternalKey::new(hi.to_vec(), number, ValueKind::Put),
            min_seq: number,
            max_seq: number,
            entries: 1,
            tombstones: 0,
        })
    }

    #[test]
    fn bottommost_looks_at_the_output_level_and_below_outside_the_inputs() {
        let l0 = meta(9, b"c", b"f", 10);
        let l1 = meta(5, b"a", b"d", 10);
        let l2 = meta(2, b"x", b"z", 10);
        let levels = Levels::from_files([(0, l0.clone()), (1, l1.clone()), (2, l2.clone())]);
        let inputs = vec![(0, vec![l0.clone()]), (1, vec![l1.clone()])];
        assert!(is_bottommost(&levels, &inputs, 1), "level 2 is elsewhere");
        let l3 = meta(1, b"e", b"e", 10);
        let levels = levels.apply(&[], [(3, l3)]).unwrap();
        assert!(!is_bottommost(&levels, &inputs, 1), "level 3 holds e");
        // A tiered merge of the newer level-0 table leaves an older one in level 0.
        let old = meta(3, b"a", b"d", 10);
        let levels = Levels::from_files([(0, l0.clone()), (0, old)]);
        assert!(!is_bottommost(&levels, &[(0, vec![l0])], 0));
    }

    #[test]
    fn level0_outputs_are_never_cut() {
        let options = CompactionOptions {
            target_file_size: 1,
            max_grandparent_overlap_bytes: 0,
            ..CompactionOptions::default()
        };
        let mut cuts = OutputCuts::new(0, &[meta(1, b"a", b"b", 100)], &options);
        assert!(!cuts.should_cut(b"z", Some(1 << 30)));
    }

    /// The cut rule as the engine's `Outputs::maybe_cut` applied it, over a list of keys
    /// with the size each output has reached before each key: the model the type is
    /// checked against.
    fn model(
        grandparents: &[(Vec<u8>, u64)],
        keys: &[(Vec<u8>, u64)],
        options: &CompactionOptions,
    ) -> Vec<usize> {
        let (mut passed, mut overlapped, mut open, mut cuts) = (0, 0, false, Vec::new());
        for (i, (key, size)) in keys.iter().enumerate() {
            while passed < grandparents.len() && grandparents[passed].0.as_slice() < key.as_slice()
            {
                if open {
                    overlapped += grandparents[passed].1;
                }
                passed += 1;
            }
            if open
                && (*size >= options.target_file_size
                    || overlapped > options.max_grandparent_overlap_bytes)
            {
                cuts.push(i);
                open = false;
            }
            if !open {
                open = true;
                overlapped = 0;
            }
        }
        cuts
    }

    proptest! {
        /// Over synthetic grandparents and key streams, the cuts fall where LevelDB's rule
        /// (as the engine applied it) puts them, and never at a key's second entry.
        #[test]
        fn cuts_fall_where_the_model_puts_them(
            grandparent_keys in proptest::collection::btree_set(any::<u8>(), 0..12),
            grandparent_sizes in proptest::collection::vec(1u64..300, 12),
            keys in proptest::collection::btree_map(any::<u8>(), 1u64..200, 1..60),
            target in 1u64..800,
            max_overlap in 0u64..800,
        ) {
            let options = CompactionOptions {
                target_file_size: target,
                max_grandparent_overlap_bytes: max_overlap,
                ..CompactionOptions::default()
            };
            let grandparents: Vec<Arc<FileMeta>> = grandparent_keys
                .iter()
                .zip(&grandparent_sizes)
                .enumerate()
                .map(|(i, (&k, &size))| meta(i as u64, &[k], &[k], size))
                .collect();
            // Each key adds its entry size to the output; a cut starts a new one.
            let mut cuts = OutputCuts::new(2, &grandparents, &options);
            let (mut current, mut got, mut sizes) = (None::<u64>, Vec::new(), Vec::new());
            for (i, (&k, &entry_size)) in keys.iter().enumerate() {
                sizes.push((vec![k], current.unwrap_or(0)));
                if cuts.should_cut(&[k], current) {
                    got.push(i);
                    current = None;
                }
                current = Some(current.unwrap_or(0) + entry_size);
            }
            let g: Vec<(Vec<u8>, u64)> = grandparents.iter().map(|g| (g.largest.user_key().to_vec(), g.size)).collect();
            prop_assert_eq!(got, model(&g, &sizes, &options));
        }
    }
}
