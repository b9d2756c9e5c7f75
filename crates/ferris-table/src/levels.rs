//! Point lookups across the levels of an LSM tree: which tables to ask, in which order.
//!
//! A key's newest version is in the newest table that holds it. Level 0's tables overlap,
//! so each whose key range holds the key is asked, newest first; a deeper level's tables
//! do not overlap, so at most one of them can hold it: the first whose largest key is at
//! or after it. [`get`] does this for one key; [`get_many`] for many sorted keys at once,
//! asking each table only for the keys in its range that no newer table answered, in one
//! [`TableReader::get_many`] call.

use std::sync::Arc;

use ferris_core::level::{HasMeta, Levels, partition_keys};
use ferris_core::{Lookup, Result, SeqNo};

use crate::TableReader;

/// A live table as the lookups across levels need it: its metadata and its reader.
pub trait LevelTable: HasMeta {
    /// The open table.
    fn reader(&self) -> &dyn TableReader;
}

impl<T: LevelTable + ?Sized> LevelTable for Arc<T> {
    fn reader(&self) -> &dyn TableReader {
        (**self).reader()
    }
}

/// The newest version of `key` at or below `snapshot` in `levels`: level 0 newest first
/// (skipping tables whose keys or sequence numbers cannot hold it), then the one table of
/// each deeper level whose range holds the key.
///
/// # Errors
///
/// A table's read error.
pub fn get<T: LevelTable + Clone>(
    levels: &Levels<T>,
    key: &[u8],
    snapshot: SeqNo,
) -> Result<Option<Lookup>> {
    for file in levels.level(0) {
        let meta = file.meta();
        if meta.min_seq > snapshot || !meta.overlaps(key, key) {
            continue;
        }
        if let Some(found) = file.reader().get(key, snapshot)? {
            return Ok(Some(found));
        }
    }
    for level in levels.levels().skip(1) {
        // The first file whose largest key is at or after `key` is the only candidate.
        let i = level.partition_point(|f| f.meta().largest.user_key() < key);
        if let Some(file) = level.get(i).filter(|f| f.meta().overlaps(key, key))
            && let Some(found) = file.reader().get(key, snapshot)?
        {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// [`get`] for each of `keys` (strictly ascending) whose `found` entry is `None`, setting
/// it to what the tables hold; entries already `Some` (answered by a memtable, say) are
/// left alone. Each level is asked only for the keys the levels above left unanswered,
/// and each table once, for the keys in its range.
///
/// # Errors
///
/// A table's read error; `found` may then hold some answers.
///
/// # Panics
///
/// If `keys` and `found` differ in length.
pub fn get_many<T: LevelTable + Clone>(
    levels: &Levels<T>,
    keys: &[&[u8]],
    snapshot: SeqNo,
    found: &mut [Option<Lookup>],
) -> Result<()> {
    assert_eq!(keys.len(), found.len(), "one answer per key");
    debug_assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys ascending");
    let mut pending = Pending::default();
    for (i, (key, slot)) in keys.iter().zip(found.iter()).enumerate() {
        if slot.is_none() {
            pending.keys.push(*key);
            pending.places.push(i);
        }
    }
    pending.answers.resize(pending.keys.len(), None);
    // Level 0 newest first: a table skips the keys a newer one answered.
    for file in levels.level(0) {
        let meta = file.meta();
        if meta.min_seq > snapshot {
            continue;
        }
        let lo = (pending.keys).partition_point(|k| *k < meta.smallest.user_key());
        let hi = (pending.keys).partition_point(|k| *k <= meta.largest.user_key());
        let answers = &mut pending.answers[lo..hi];
        file.reader()
            .get_many(&pending.keys[lo..hi], snapshot, answers)?;
    }
    pending.settle(found);
    for level in levels.levels().skip(1) {
        if pending.keys.is_empty() {
            break;
        }
        for (file, range) in partition_keys(level, &pending.keys) {
            let answers = &mut pending.answers[range.clone()];
            file.reader()
                .get_many(&pending.keys[range], snapshot, answers)?;
        }
        pending.settle(found);
    }
    Ok(())
}

/// The keys the tables still have to answer, ascending, with where each answer goes.
#[derive(Default)]
struct Pending<'k> {
    keys: Vec<&'k [u8]>,
    places: Vec<usize>,
    answers: Vec<Option<Lookup>>,
}

impl Pending<'_> {
    /// Moves the answers found into `found`, keeping only the keys still unanswered.
    fn settle(&mut self, found: &mut [Option<Lookup>]) {
        let mut kept = 0;
        for i in 0..self.keys.len() {
            match self.answers[i].take() {
                Some(answer) => found[self.places[i]] = Some(answer),
                None => {
                    self.keys[kept] = self.keys[i];
                    self.places[kept] = self.places[i];
                    kept += 1;
                }
            }
        }
        self.keys.truncate(kept);
        self.places.truncate(kept);
        self.answers.truncate(kept);
    }
}
