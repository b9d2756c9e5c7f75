//! Batched point reads: [`Db::multi_get`].
//!
//! A loop of `get` pins a super version, loads the sequence number and walks the levels
//! once per key. A batch does each once for all of its keys: it sorts and dedupes them,
//! asks the memtables, then the tables (`ferris_table::levels::get_many`: each level only
//! for the keys still unanswered, each table for the sorted keys in its range in one
//! [`TableReader::get_many`](ferris_table::TableReader::get_many) call, which reads each of
//! its blocks once for all of them).

use bytes::Bytes;
use ferris_core::expiry;
use ferris_core::key::compare_user_keys;
use ferris_core::{Lookup, SeqNo};

use crate::db::{Db, ReadPoint, Shared, Snapshot};
use crate::error::Result;
use crate::keyspace::Keyspace;
use crate::versions::{KeyspaceCore, SuperVersion};

impl SuperVersion {
    /// What [`SuperVersion::get`] answers for each of `keys` at `snapshot`, in their
    /// order. `keys` are strictly ascending.
    pub(crate) fn multi_get(&self, keys: &[&[u8]], snapshot: SeqNo) -> Result<Vec<Option<Bytes>>> {
        let mut found: Vec<Option<Lookup>> =
            keys.iter().map(|k| self.mem.get(k, snapshot)).collect();
        for frozen in &self.frozen {
            for (key, slot) in keys.iter().zip(&mut found) {
                if slot.is_none() {
                    *slot = frozen.mem.get(key, snapshot);
                }
            }
        }
        ferris_table::levels::get_many(&self.version.levels, keys, snapshot, &mut found)?;
        Ok(found
            .into_iter()
            .map(|found| match found {
                Some(Lookup::Value(v)) => Some(v),
                Some(Lookup::Deleted) | None => None,
            })
            .collect())
    }
}

impl Db {
    /// The value of each of `keys` in the default keyspace, in the order given, or `None`
    /// for a key that is not set: what [`Db::get`] answers for each, all read at one
    /// moment (one sequence number, one set of tables), as if from a snapshot. Keys may
    /// repeat. [`Keyspace::multi_get`] and [`Snapshot::multi_get_in`] do the same in
    /// another keyspace or at a snapshot.
    ///
    /// Faster than a loop of `get` when there are several keys: the keys are sorted, the
    /// memtables asked, and then each level only for the keys still unanswered, each
    /// table once for all the keys in its range, so a block holding several of them is
    /// read once.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = ferris_engine::Db::open(dir.path(), Default::default())?;
    /// db.put("apple", "red")?;
    /// db.put("pear", "green")?;
    /// db.flush()?;
    /// db.delete("pear")?;
    /// let values = db.multi_get(["pear", "apple", "plum", "apple"])?;
    /// assert_eq!(values, [None, Some("red".into()), None, Some("red".into())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Db::get`]: [`Error::Corruption`](crate::Error::Corruption) or
    /// [`Error::Io`](crate::Error::Io) if a table read fails or finds damage (no value is
    /// returned then); [`Error::Closed`](crate::Error::Closed).
    pub fn multi_get<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Vec<Option<Bytes>>> {
        multi_get_at(&self.shared, &self.shared.versions.default, keys, None)
    }
}

impl Keyspace {
    /// [`Db::multi_get`] in this keyspace.
    ///
    /// # Errors
    ///
    /// As [`Db::multi_get`]; [`Error::KeyspaceDropped`](crate::Error::KeyspaceDropped).
    pub fn multi_get<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Vec<Option<Bytes>>> {
        let shared = &self.db().shared;
        multi_get_at(shared, self.core(), keys, None)
    }
}

impl Snapshot {
    /// [`Db::multi_get`] in the default keyspace, as of the snapshot.
    ///
    /// # Errors
    ///
    /// As [`Db::multi_get`].
    pub fn multi_get<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Vec<Option<Bytes>>> {
        let shared = &self.db().shared;
        multi_get_at(shared, &shared.versions.default, keys, self.at())
    }

    /// [`Db::multi_get`] in `keyspace`, as of the snapshot.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::multi_get`].
    pub fn multi_get_in<K: AsRef<[u8]>>(
        &self,
        keyspace: &Keyspace,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Vec<Option<Bytes>>> {
        multi_get_at(&self.db().shared, keyspace.core(), keys, self.at())
    }
}

/// The values of `keys` in `keyspace` at `at` (or now), in the order given.
fn multi_get_at<K: AsRef<[u8]>>(
    shared: &Shared,
    keyspace: &KeyspaceCore,
    keys: impl IntoIterator<Item = K>,
    at: ReadPoint,
) -> Result<Vec<Option<Bytes>>> {
    let keys: Vec<K> = keys.into_iter().collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by(|&a, &b| compare_user_keys(keys[a].as_ref(), keys[b].as_ref()));
    // The distinct keys in order, and for each key given, which of them it is.
    let mut distinct: Vec<&[u8]> = Vec::with_capacity(keys.len());
    let mut which = vec![0; keys.len()];
    for i in order {
        let key = keys[i].as_ref();
        if distinct.last() != Some(&key) {
            distinct.push(key);
        }
        which[i] = distinct.len() - 1;
    }
    let (sv, seq) = shared.pin(keyspace, at.map(|a| a.0))?;
    let now = shared.expiry_now(keyspace, at);
    let values = (sv.multi_get(&distinct, seq)?.into_iter())
        .map(|found| expiry::read_found(&shared.env.dir, found, now))
        .collect::<ferris_core::Result<Vec<_>>>()?;
    Ok(which.into_iter().map(|d| values[d].clone()).collect())
}
