//! Transactions: a snapshot to read at, and `ferris_txn::TxnBuffer` for what the
//! transaction keeps until commit.
//!
//! The resolver, the write buffer, the conflict ranges and the overlay that lets a scan
//! see the transaction's own writes are `ferris_txn`'s (chapter 11 of the book); the commit
//! is a write job the write-queue leader admits (`write.rs`). This module only wires them
//! to the database.

use std::ops::RangeBounds;
use std::sync::atomic::{Ordering, fence};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ferris_core::iter::{owned_bounds, prefix_bounds};
use ferris_core::{DEFAULT_KEYSPACE, KeyspaceId, SeqNo};
use ferris_txn::{Overlay, TxnBuffer, TxnOptions};

use crate::db::{Db, Snapshot, WriteOptions};
use crate::error::{Error, Result};
use crate::iter::DbIter;
use crate::keyspace::Keyspace;
use crate::versions::KeyspaceCore;

/// A transaction: reads at one read version, buffers its writes, and commits them
/// atomically if no transaction that committed after its read version changed what it
/// read. See [`Db::transaction_with`].
///
/// Its methods mirror the database's: those without a keyspace work on the default
/// keyspace, the `_in` ones on another, and one transaction may read and write any number
/// of keyspaces. Reads see the transaction's own writes, in point reads and in scans both
/// ways. Dropping a transaction without committing discards its writes.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let db = ferris_engine::Db::open(dir.path(), Default::default())?;
/// db.put("alice", "100")?;
/// let mut a = db.transaction()?;
/// let mut b = db.transaction()?;
/// // Both read the balance, both write it back: a lost update, unless one is refused.
/// for txn in [&mut a, &mut b] {
///     let balance: u64 = std::str::from_utf8(&txn.get("alice")?.unwrap())?.parse()?;
///     txn.put("alice", (balance + 10).to_string())?;
/// }
/// a.commit()?;
/// let refused = b.commit().unwrap_err();
/// assert!(refused.is_retryable());
/// assert_eq!(db.get("alice")?.as_deref(), Some(&b"110"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Transaction {
    db: Db,
    /// The snapshot its reads read, taken at the first read that needs the database:
    /// its read version. A transaction that only writes never takes one.
    snapshot: OnceLock<Snapshot>,
    options: TxnOptions,
    buffer: TxnBuffer,
}

/// A scan inside a transaction: the database at the read version with the transaction's
/// own writes (those made before the scan began) laid over it. Double-ended, like
/// [`DbIter`].
pub type TxnIter = Overlay<DbIter>;

impl Db {
    /// Begins a serializable transaction, reading the database as of now. See
    /// [`Db::transaction_with`].
    ///
    /// # Errors
    ///
    /// [`Error::Closed`].
    pub fn transaction(&self) -> Result<Transaction> {
        self.transaction_with(TxnOptions::default())
    }

    /// Begins a transaction that runs as `options` say.
    ///
    /// Its **read version** is the sequence number of the last write published when it
    /// first reads the database (as FoundationDB takes it, lazily: a transaction that only
    /// writes needs none); it reads a snapshot taken there, whatever commits meanwhile, and
    /// judges expiry as of then. Its writes wait in the
    /// transaction until [`Transaction::commit`], which writes them as one batch (one WAL
    /// record: all or nothing across a crash) if the resolver finds no conflict: under
    /// [`Isolation::Serializable`](crate::Isolation::Serializable), no transaction that
    /// committed after the read version wrote a key it read, or into a range it scanned (a
    /// scan records its whole range, so an insert into it conflicts although the key did
    /// not exist); under [`Isolation::Snapshot`](crate::Isolation::Snapshot), none wrote a
    /// key it writes.
    ///
    /// While a transaction is live, every write is recorded in the resolver, plain ones
    /// included, so a plain write conflicts with a transaction that read its key. The
    /// resolver remembers commits for the window of
    /// [`Options::transaction_limits`](crate::Options::transaction_limits) (five seconds
    /// and 64 MiB by default); a transaction that runs longer may fail with
    /// [`TxnError::TooOld`](crate::TxnError::TooOld).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`].
    pub fn transaction_with(&self, options: TxnOptions) -> Result<Transaction> {
        self.shared.check_open()?;
        // Counted live before it can read: pairs with the write-queue leader's fence, so a
        // group written meanwhile is either read by it or recorded (`Shared::resolve`).
        self.shared.writes.live_txns.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        Ok(Transaction {
            db: self.clone(),
            snapshot: OnceLock::new(),
            options,
            buffer: TxnBuffer::new(options.isolation),
        })
    }

    /// Runs `f` in a serializable transaction and commits it, retrying from a new read
    /// version when the commit fails with a retryable error ([`Error::is_retryable`]: a
    /// conflict, or a read version too old), after [`ferris_txn::backoff`]: FoundationDB's
    /// `db.run`. Returns what `f` returned for the attempt that committed.
    ///
    /// `f` may run more than once, so it should do nothing outside the transaction that
    /// cannot be repeated. An error `f` returns ends the run at once, with nothing written.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = ferris_engine::Db::open(dir.path(), Default::default())?;
    /// db.put("alice", "100")?;
    /// let balance = db.run(|txn| {
    ///     let balance: u64 = match txn.get("alice")? {
    ///         Some(v) => String::from_utf8_lossy(&v).parse().unwrap_or(0),
    ///         None => 0,
    ///     };
    ///     txn.put("alice", (balance + 10).to_string())?;
    ///     Ok::<_, ferris_engine::Error>(balance + 10)
    /// })?;
    /// assert_eq!(balance, 110);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// What `f` returns; the commit's last error after
    /// [`TxnOptions::max_retries`](crate::TxnOptions::max_retries) retries; any other
    /// error of [`Transaction::commit`] at once.
    pub fn run<T, E: From<Error>>(
        &self,
        f: impl FnMut(&mut Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run_with(TxnOptions::default(), f)
    }

    /// [`Db::run`], with transactions that run as `options` say.
    ///
    /// # Errors
    ///
    /// As [`Db::run`].
    pub fn run_with<T, E: From<Error>>(
        &self,
        options: TxnOptions,
        mut f: impl FnMut(&mut Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut attempt = 0;
        loop {
            let mut txn = self.transaction_with(options)?;
            let value = f(&mut txn)?;
            match txn.commit() {
                Ok(_) => return Ok(value),
                Err(e) if e.is_retryable() && attempt < options.max_retries => {
                    attempt += 1;
                    std::thread::sleep(ferris_txn::backoff(attempt));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Transaction {
    /// The sequence number the transaction reads at, taken now if no read has taken it.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`].
    pub fn read_version(&self) -> Result<SeqNo> {
        taken(&self.snapshot, &self.db).map(Snapshot::sequence)
    }

    /// The value of `key` in the default keyspace as the transaction sees it: its own
    /// last write of the key, or else the value at its read version, which (under
    /// serializable isolation) records the key as read.
    ///
    /// # Errors
    ///
    /// As [`Db::get`].
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.read(&self.default(), key.as_ref(), true)
    }

    /// The value of `key` in `keyspace`, as [`Transaction::get`].
    ///
    /// # Errors
    ///
    /// As [`Snapshot::get_in`].
    pub fn get_in(&mut self, keyspace: &Keyspace, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        self.read(keyspace.core(), key.as_ref(), true)
    }

    /// [`Transaction::get_in`] as a **snapshot read**: it records no conflict range, so a
    /// commit that changes the key after the read version does not make this transaction
    /// conflict (FoundationDB's snapshot reads). For a read the caller knows may be
    /// stale without harm: a statistic, a hint, a value checked some other way.
    ///
    /// # Errors
    ///
    /// As [`Snapshot::get_in`].
    pub fn snapshot_get_in(
        &mut self,
        keyspace: &Keyspace,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<Bytes>> {
        self.read(keyspace.core(), key.as_ref(), false)
    }

    /// The default keyspace, for the methods without `_in`.
    fn default(&self) -> Arc<KeyspaceCore> {
        Arc::clone(&self.db.shared.versions.default)
    }

    fn read(&mut self, core: &KeyspaceCore, key: &[u8], record: bool) -> Result<Option<Bytes>> {
        let (snapshot, db) = (&self.snapshot, &self.db);
        (self.buffer).read(core.id, key, record, || {
            let snapshot = taken(snapshot, db)?;
            db.shared.get_at(core, key, snapshot.at())
        })
    }

    /// The entries of the default keyspace in `bounds` as the transaction sees them, in
    /// key order (`.rev()` walks backwards). Under serializable isolation the whole of
    /// `bounds` becomes a read conflict range, so a commit that inserts a key anywhere in
    /// it conflicts (no phantoms), however few entries the scan finds or the caller reads.
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&mut self, bounds: R) -> Result<TxnIter> {
        self.scan(&self.default(), owned_bounds(&bounds), true)
    }

    /// The entries of `keyspace` in `bounds`, as [`Transaction::range`].
    ///
    /// # Errors
    ///
    /// As [`Snapshot::range_in`].
    pub fn range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        keyspace: &Keyspace,
        bounds: R,
    ) -> Result<TxnIter> {
        self.scan(keyspace.core(), owned_bounds(&bounds), true)
    }

    /// The entries of the default keyspace starting with `prefix`, as
    /// [`Transaction::range`].
    ///
    /// # Errors
    ///
    /// As [`Db::range`].
    pub fn prefix(&mut self, prefix: impl AsRef<[u8]>) -> Result<TxnIter> {
        self.scan(&self.default(), prefix_bounds(prefix.as_ref()), true)
    }

    /// The entries of `keyspace` starting with `prefix`, as [`Transaction::range`].
    ///
    /// # Errors
    ///
    /// As [`Snapshot::range_in`].
    pub fn prefix_in(&mut self, keyspace: &Keyspace, prefix: impl AsRef<[u8]>) -> Result<TxnIter> {
        self.scan(keyspace.core(), prefix_bounds(prefix.as_ref()), true)
    }

    /// [`Transaction::range_in`] as a snapshot read: it records no conflict range (see
    /// [`Transaction::snapshot_get_in`]).
    ///
    /// # Errors
    ///
    /// As [`Snapshot::range_in`].
    pub fn snapshot_range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        keyspace: &Keyspace,
        bounds: R,
    ) -> Result<TxnIter> {
        self.scan(keyspace.core(), owned_bounds(&bounds), false)
    }

    fn scan(
        &mut self,
        core: &KeyspaceCore,
        bounds: (std::ops::Bound<Bytes>, std::ops::Bound<Bytes>),
        record: bool,
    ) -> Result<TxnIter> {
        let (snapshot, db) = (&self.snapshot, &self.db);
        (self.buffer).scan(core.id, bounds, record, |bounds| {
            let snapshot = taken(snapshot, db)?;
            db.shared.iter_at(core, snapshot.at(), bounds)
        })
    }

    /// Sets `key` to `value` in the default keyspace, when the transaction commits.
    ///
    /// # Errors
    ///
    /// [`Error::Limit`] for an empty key, or a key or value over the limits.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.write(DEFAULT_KEYSPACE, key.as_ref(), Some(value.as_ref()))
    }

    /// Sets `key` to `value` in `keyspace`, when the transaction commits.
    ///
    /// # Errors
    ///
    /// As [`Transaction::put`].
    pub fn put_in(
        &mut self,
        keyspace: &Keyspace,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<()> {
        self.write(keyspace.id(), key.as_ref(), Some(value.as_ref()))
    }

    /// Deletes `key` from the default keyspace, when the transaction commits.
    ///
    /// # Errors
    ///
    /// [`Error::Limit`] for an empty key or one over the limit.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<()> {
        self.write(DEFAULT_KEYSPACE, key.as_ref(), None)
    }

    /// Deletes `key` from `keyspace`, when the transaction commits.
    ///
    /// # Errors
    ///
    /// As [`Transaction::delete`].
    pub fn delete_in(&mut self, keyspace: &Keyspace, key: impl AsRef<[u8]>) -> Result<()> {
        self.write(keyspace.id(), key.as_ref(), None)
    }

    fn write(&mut self, keyspace: KeyspaceId, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let writes = self.buffer.writes_mut();
        Ok(match value {
            Some(value) => writes.put(keyspace, key, value),
            None => writes.delete(keyspace, key),
        }?)
    }

    /// Commits, and returns the **commit version**: the sequence number of the
    /// transaction's last write, its place in the serial order (for a transaction that
    /// wrote nothing, its read version).
    ///
    /// Writes every buffered write as one batch (one WAL record, durable when
    /// this returns unless [`TxnOptions::sync`](crate::TxnOptions::sync) or the database's
    /// [`Options::sync_writes`](crate::Options::sync_writes) says otherwise) at sequence
    /// numbers after every earlier commit, if the resolver finds no conflict; otherwise
    /// writes nothing. A transaction that wrote nothing commits at once: what it read was
    /// one consistent snapshot, so it is serializable at its read version and cannot
    /// conflict.
    ///
    /// # Errors
    ///
    /// [`Error::Transaction`] with [`TxnError::Conflict`](crate::TxnError::Conflict)
    /// (naming a range it conflicted on) or [`TxnError::TooOld`](crate::TxnError::TooOld),
    /// both retryable ([`Db::run`] retries them), or
    /// [`TxnError::TooLarge`](crate::TxnError::TooLarge) when its read or write ranges
    /// weigh more than the limit; otherwise the errors of [`Db::write`]. Nothing is
    /// written on error.
    pub fn commit(mut self) -> Result<SeqNo> {
        // A transaction that never read has nothing its reads could have missed: it reads
        // as of now.
        let shared = &self.db.shared;
        let read_version =
            (self.snapshot.get()).map_or_else(|| shared.writes.visible(), Snapshot::sequence);
        let buffer = std::mem::take(&mut self.buffer);
        let Some((batch, check)) = buffer.into_commit(read_version) else {
            return Ok(read_version);
        };
        let write = WriteOptions {
            sync: self.options.sync,
        };
        shared.write(batch, write, Some(Box::new(check)))
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        (self.db.shared.writes.live_txns).fetch_sub(1, Ordering::SeqCst);
    }
}

/// The transaction's snapshot, taken now if no read has taken it.
fn taken<'a>(snapshot: &'a OnceLock<Snapshot>, db: &Db) -> Result<&'a Snapshot> {
    match snapshot.get() {
        Some(snapshot) => Ok(snapshot),
        None => {
            let now = db.snapshot()?;
            Ok(snapshot.get_or_init(|| now))
        }
    }
}
