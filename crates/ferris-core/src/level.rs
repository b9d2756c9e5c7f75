//! What is known of a table file without opening it, and the levels the files sit in.
//!
//! Three parts of FerrisDB look at the same picture: the manifest records which tables
//! are live in which level, the compaction picker chooses what to merge from it, and the
//! engine reads through it. Each needs something different *per file* (the manifest and
//! the picker only the [`FileMeta`], the engine an open table as well), but the layout is
//! one and the same, and so are its rules. [`Levels`] is that layout, generic over what a
//! file is, and [`Levels::apply`] is the one place where an edit (files removed, files
//! added) is checked and applied:
//!
//! - **level 0** holds tables in the order they were written, **newest first**: each is
//!   one flush (or one merged run), and their key ranges may overlap, so a read must ask
//!   them in that order;
//! - **levels 1 and deeper** are each one sorted run: tables **sorted by smallest key**,
//!   whose key ranges never overlap, so a read asks at most one table per level.
//!
//! ```
//! use ferris_core::level::{FileMeta, Levels};
//! use ferris_core::{InternalKey, ValueKind};
//!
//! let meta = |number, lo: &str, hi: &str, seq| FileMeta {
//!     number,
//!     size: 100,
//!     smallest: InternalKey::new(lo.as_bytes().to_vec(), seq, ValueKind::Put),
//!     largest: InternalKey::new(hi.as_bytes().to_vec(), seq, ValueKind::Put),
//!     min_seq: seq,
//!     max_seq: seq,
//!     entries: 2,
//!     tombstones: 0,
//! };
//! let levels = Levels::default()
//!     .apply(&[], vec![(0, meta(1, "a", "m", 10)), (0, meta(2, "c", "z", 20))])?;
//! // Level 0 reads newest first.
//! let numbers: Vec<u64> = levels.level(0).iter().map(|f| f.number).collect();
//! assert_eq!(numbers, [2, 1]);
//! // A compaction's edit: both inputs out, one output into level 1.
//! let levels = levels.apply(&[(0, 1), (0, 2)], vec![(1, meta(3, "a", "z", 20))])?;
//! assert_eq!(levels.level(0).len(), 0);
//! assert_eq!(levels.level_bytes(1), 100);
//! // An edit that does not fit the state is refused, and the state is unchanged.
//! assert!(levels.apply(&[(0, 3)], vec![]).is_err());
//! # Ok::<(), String>(())
//! ```

use std::ops::{Bound, Range};
use std::sync::Arc;

use bytes::Bytes;

use crate::key::{InternalKey, SeqNo};

/// The number of levels, L0 to L6.
pub const NUM_LEVELS: usize = 7;

/// What the manifest records about one table file, and all the compaction picker knows
/// of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The file number, unique in the database; the table format names the file after it.
    pub number: u64,
    /// The file's size in bytes.
    pub size: u64,
    /// The smallest internal key in the table.
    pub smallest: InternalKey,
    /// The largest internal key in the table.
    pub largest: InternalKey,
    /// The smallest sequence number in the table.
    pub min_seq: SeqNo,
    /// The largest sequence number in the table.
    pub max_seq: SeqNo,
    /// Entries (versions), tombstones included.
    pub entries: u64,
    /// Tombstones.
    pub tombstones: u64,
}

impl FileMeta {
    /// Whether the table's user-key range overlaps `[lo, hi]` (inclusive user keys).
    pub fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        self.smallest.user_key() <= hi && self.largest.user_key() >= lo
    }

    /// Whether the table's keys may lie between the scan bounds `lo` and `hi`.
    pub fn meets(&self, lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
        !crate::iter::below_lo(lo, self.largest.user_key())
            && !crate::iter::above_hi(hi, self.smallest.user_key())
    }
}

/// Anything that stands for one table file: its [`FileMeta`], or a handle that holds it
/// (the engine's open tables).
pub trait HasMeta {
    /// The file's metadata.
    fn meta(&self) -> &FileMeta;
}

impl HasMeta for FileMeta {
    fn meta(&self) -> &FileMeta {
        self
    }
}

impl<T: HasMeta + ?Sized> HasMeta for Arc<T> {
    fn meta(&self) -> &FileMeta {
        (**self).meta()
    }
}

/// The live table files of each level, never changed once built: level 0 newest first
/// (by largest sequence number), deeper levels sorted by smallest key. See the
/// [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels<T> {
    levels: Vec<Vec<T>>,
}

impl<T> Default for Levels<T> {
    fn default() -> Self {
        Levels {
            levels: (0..NUM_LEVELS).map(|_| Vec::new()).collect(),
        }
    }
}

impl<T: HasMeta + Clone> Levels<T> {
    /// The layout of `files` (level, file), sorted as each level requires.
    ///
    /// # Panics
    ///
    /// If a level is `NUM_LEVELS` or more.
    pub fn from_files(files: impl IntoIterator<Item = (usize, T)>) -> Levels<T> {
        let mut levels = Levels::default();
        for (level, file) in files {
            levels.levels[level].push(file);
        }
        levels.sort();
        levels
    }

    fn sort(&mut self) {
        // Level 0 newest first. The file number breaks ties, so the order is total.
        self.levels[0].sort_by(|a, b| {
            (b.meta().max_seq, b.meta().number).cmp(&(a.meta().max_seq, a.meta().number))
        });
        for level in &mut self.levels[1..] {
            level.sort_by(|a, b| a.meta().smallest.cmp(&b.meta().smallest));
        }
    }

    /// The files of `level`, in the level's order; empty past the last level.
    pub fn level(&self, level: usize) -> &[T] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// Every level's files, level 0 first.
    pub fn levels(&self) -> impl Iterator<Item = &[T]> {
        self.levels.iter().map(Vec::as_slice)
    }

    /// Every file with its level, level 0 first.
    pub fn files(&self) -> impl Iterator<Item = (usize, &T)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(level, files)| files.iter().map(move |f| (level, f)))
    }

    /// How many files there are, in all levels.
    pub fn len(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// True when no level holds a file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The total size of `level`'s files, in bytes.
    pub fn level_bytes(&self, level: usize) -> u64 {
        self.level(level).iter().map(|f| f.meta().size).sum()
    }

    /// The file numbered `number`, with its level.
    pub fn find(&self, number: u64) -> Option<(usize, &T)> {
        self.files().find(|(_, f)| f.meta().number == number)
    }

    /// The files of `level` whose user-key ranges overlap `[lo, hi]`.
    pub fn overlapping<'a>(
        &'a self,
        level: usize,
        lo: &'a [u8],
        hi: &'a [u8],
    ) -> impl Iterator<Item = &'a T> {
        self.level(level)
            .iter()
            .filter(move |f| f.meta().overlaps(lo, hi))
    }

    /// The deepest level holding a file, or 0.
    pub fn deepest_nonempty(&self) -> usize {
        (0..NUM_LEVELS)
            .rev()
            .find(|&l| !self.levels[l].is_empty())
            .unwrap_or(0)
    }

    /// The same layout with each file turned into something else (an open table into its
    /// metadata, say).
    pub fn map<U: HasMeta + Clone>(&self, mut f: impl FnMut(&T) -> U) -> Levels<U> {
        Levels {
            levels: self
                .levels
                .iter()
                .map(|files| files.iter().map(&mut f).collect())
                .collect(),
        }
    }

    /// This layout with an edit applied: the files `deleted` (level, number) removed and
    /// the files `added` (level, file) added. A file both deleted and added moves between
    /// levels.
    ///
    /// # Errors
    ///
    /// A description of the first inconsistency, when a deleted file is not in the level
    /// named, a level is out of range, or an added file is already live (and not deleted
    /// by the same edit) or added twice. `self` is never changed.
    pub fn apply(
        &self,
        deleted: &[(usize, u64)],
        added: impl IntoIterator<Item = (usize, T)>,
    ) -> Result<Levels<T>, String> {
        let mut next = self.clone();
        for &(level, number) in deleted {
            let files = next.levels.get_mut(level).ok_or_else(|| {
                format!("deletes file {number} from level {level}, which does not exist")
            })?;
            let i = files
                .iter()
                .position(|f| f.meta().number == number)
                .ok_or_else(|| format!("deletes file {number} which is not in level {level}"))?;
            files.remove(i);
        }
        for (level, file) in added {
            let number = file.meta().number;
            if next.find(number).is_some() {
                return Err(format!(
                    "adds file {number} to level {level}, but it is already live"
                ));
            }
            next.levels
                .get_mut(level)
                .ok_or_else(|| {
                    format!("adds file {number} to level {level}, which does not exist")
                })?
                .push(file);
        }
        next.sort();
        Ok(next)
    }
}

/// For user keys in ascending order, the files of `run` that hold them: each file whose
/// key range holds at least one of `keys`, in order, with the range of indices into
/// `keys` it holds. A key outside every file is in no range.
///
/// `run` is one sorted run, a level 1 or deeper: files sorted by smallest key, their
/// ranges not overlapping. When one user key ends a file and begins the next, it goes to
/// the first, which holds its newest versions: the file a single lookup asks. This is
/// how a batch of lookups visits a level: one pass over the keys and the files, each
/// step a binary search, so a level of many files and a few keys costs a few searches.
///
/// ```
/// use ferris_core::level::{FileMeta, partition_keys};
/// use ferris_core::{InternalKey, ValueKind};
///
/// let file = |number, lo: &str, hi: &str| FileMeta {
///     number,
///     size: 100,
///     smallest: InternalKey::new(lo.as_bytes().to_vec(), 1, ValueKind::Put),
///     largest: InternalKey::new(hi.as_bytes().to_vec(), 1, ValueKind::Put),
///     min_seq: 1,
///     max_seq: 1,
///     entries: 2,
///     tombstones: 0,
/// };
/// let run = [file(1, "b", "d"), file(2, "f", "h"), file(3, "k", "m")];
/// let keys = ["a", "b", "c", "e", "g", "h", "z"];
/// let parts: Vec<(u64, std::ops::Range<usize>)> = partition_keys(&run, &keys)
///     .into_iter()
///     .map(|(f, range)| (f.number, range))
///     .collect();
/// // "a", "e" and "z" fall in no file; file 3 holds none of the keys.
/// assert_eq!(parts, [(1, 1..3), (2, 4..6)]);
/// ```
pub fn partition_keys<'r, T: HasMeta, K: AsRef<[u8]>>(
    run: &'r [T],
    keys: &[K],
) -> Vec<(&'r T, Range<usize>)> {
    let mut parts = Vec::new();
    let (mut f, mut k) = (0, 0);
    while f < run.len() && k < keys.len() {
        let key = keys[k].as_ref();
        // Skip the files that end before the key, then the keys before the file.
        f += run[f..].partition_point(|file| file.meta().largest.user_key() < key);
        let Some(file) = run.get(f) else { break };
        let meta = file.meta();
        k += keys[k..].partition_point(|key| key.as_ref() < meta.smallest.user_key());
        let end = k + keys[k..].partition_point(|key| key.as_ref() <= meta.largest.user_key());
        if end > k {
            parts.push((file, k..end));
        }
        k = end;
        f += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ValueKind;

    fn meta(number: u64, lo: u8, hi: u8, seq: SeqNo) -> FileMeta {
        FileMeta {
            number,
            size: 10 * number,
            smallest: InternalKey::new(vec![lo], seq, ValueKind::Put),
            largest: InternalKey::new(vec![hi], seq, ValueKind::Put),
            min_seq: seq,
            max_seq: seq,
            entries: 1,
            tombstones: 0,
        }
    }

    #[test]
    fn an_edit_that_contradicts_the_state_is_refused() {
        let levels = Levels::from_files([(0, meta(1, 1, 5, 1)), (1, meta(2, 1, 5, 1))]);
        assert!(levels.apply(&[(1, 1)], []).is_err(), "file 1 is in level 0");
        assert!(
            levels.apply(&[], [(2, meta(2, 1, 5, 1))]).is_err(),
            "already live"
        );
        assert!(levels.apply(&[(9, 1)], []).is_err(), "no level 9");
        let twice = [(2, meta(3, 1, 5, 1)), (3, meta(3, 1, 5, 1))];
        assert!(levels.apply(&[], twice).is_err(), "added twice");
        // A move: deleted and added by one edit.
        let moved = levels.apply(&[(1, 2)], [(2, meta(2, 1, 5, 1))]).unwrap();
        assert_eq!(moved.find(2).map(|(l, _)| l), Some(2));
        assert_eq!(
            levels.find(2).map(|(l, _)| l),
            Some(1),
            "the original is unchanged"
        );
    }

    proptest! {
        /// Whatever order files arrive in, level 0 ends newest first and the deeper levels
        /// sorted by smallest key.
        #[test]
        fn levels_keep_their_order(
            files in proptest::collection::vec((0usize..NUM_LEVELS, any::<u8>(), 0u64..100), 0..40)
        ) {
            let files: Vec<_> = files
                .into_iter()
                .enumerate()
                .map(|(i, (level, lo, seq))| (level, meta(i as u64, lo, lo.saturating_add(3), seq)))
                .collect();
            let mut levels = Levels::<FileMeta>::default();
            for (level, file) in &files {
                levels = levels.apply(&[], [(*level, file.clone())]).unwrap();
            }
            prop_assert_eq!(&levels, &Levels::from_files(files.clone()));
            prop_assert_eq!(levels.len(), files.len());
            let l0 = levels.level(0);
            prop_assert!(l0.windows(2).all(|w| (w[0].max_seq, w[0].number) > (w[1].max_seq, w[1].number)));
            for level in 1..NUM_LEVELS {
                let l = levels.level(level);
                prop_assert!(l.windows(2).all(|w| w[0].smallest <= w[1].smallest));
            }
        }

        /// Each key lands in the file a single lookup would ask (the first whose range
        /// holds it), and only there.
        #[test]
        fn partition_keys_finds_each_key_its_file(
            bounds in proptest::collection::btree_set(any::<u8>(), 0..20),
            keys in proptest::collection::btree_set(any::<u8>(), 0..30),
            share in any::<bool>(),
        ) {
            // Files from consecutive bounds: [b0, b1], [b2, b3], ... or, with `share`,
            // [b0, b1], [b1, b2], ... (a user key ending one file and beginning the next).
            let bounds: Vec<u8> = bounds.into_iter().collect();
            let step = if share { 1 } else { 2 };
            let run: Vec<FileMeta> = (0..bounds.len().saturating_sub(1))
                .step_by(step)
                .map(|i| meta(i as u64, bounds[i], bounds[i + 1], 1))
                .collect();
            let keys: Vec<[u8; 1]> = keys.into_iter().map(|k| [k]).collect();
            let mut want = vec![None; keys.len()];
            for (i, key) in keys.iter().enumerate() {
                want[i] = run.iter().find(|f| f.overlaps(key, key)).map(|f| f.number);
            }
            let mut got = vec![None; keys.len()];
            for (file, range) in partition_keys(&run, &keys) {
                prop_assert!(!range.is_empty());
                for slot in &mut got[range] {
                    prop_assert_eq!(*slot, None, "a key in two files");
                    *slot = Some(file.number);
                }
            }
            prop_assert_eq!(got, want);
        }
    }
}
