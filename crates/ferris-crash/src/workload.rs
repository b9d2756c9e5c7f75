//! The workload both processes agree on: which operation a writer thread performs at each
//! step, and the bytes of every key and value.
//!
//! The child never tells the parent *what* it wrote, only *that* a numbered operation
//! returned `Ok`. The parent regenerates the operation from the same numbers. That keeps
//! the pipe traffic to a few bytes per write, and it means a value found on disk can be
//! traced back to the exact operation that wrote it.

use std::time::Duration;

use ferris_engine::{CompactionOptions, Compression, Options};
use ferris_sim::Components;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Who wrote a value: the cycle (one child process), the writer thread within it, and the
/// operation's index in that thread's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WriteId {
    /// The cycle, counting from 0.
    pub cycle: u32,
    /// The writer thread.
    pub thread: u32,
    /// The operation's index in that thread's stream, counting from 0.
    pub op: u64,
}

impl std::fmt::Display for WriteId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cycle {} thread {} op {}",
            self.cycle, self.thread, self.op
        )
    }
}

/// One step of a writer thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `Db::put`.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value; it names the key and the [`WriteId`] (see [`parse_value`]).
        value: Vec<u8>,
    },
    /// `Db::delete`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// `Db::write` of an atomic batch: each entry a put (`Some`) or a delete (`None`). A
    /// key may appear twice; the later entry wins.
    Batch(Vec<(Vec<u8>, Option<Vec<u8>>)>),
    /// `Db::flush`: no effect on the contents, but a flush is then certainly running.
    Flush,
    /// `Db::compact_range` over a stretch of the thread's keys.
    CompactRange {
        /// The first key of the range.
        lo: Vec<u8>,
        /// The last key of the range (inclusive).
        hi: Vec<u8>,
    },
    /// Thread 0 only: every writer stops for this long, so the idle thread flushes and
    /// compacts (`Options::idle_after` is short in the child).
    Pause(Duration),
    /// A transaction moving `amount` from one of the thread's accounts to another
    /// ([`Workload::account`]): it reads both balances, writes both back changed
    /// ([`Op::transfer_writes`]), holds for `hold` (so kills land while it is open),
    /// and commits if `commit`, or else is dropped uncommitted and must leave nothing.
    /// A read-modify-write: what it writes depends on what it read, so its effects come
    /// from the model ([`Model::effects`](crate::Model::effects)), not from
    /// [`Op::effects`]. The thread's accounts always sum to zero, unless a commit is torn.
    Transfer {
        /// Who performs it: its values name it, like every other write's.
        id: WriteId,
        /// The account the amount leaves.
        from: Vec<u8>,
        /// The account it goes to (never `from`).
        to: Vec<u8>,
        /// How much.
        amount: i64,
        /// Commit, or drop it uncommitted.
        commit: bool,
        /// How long it stays open after its writes, before the commit or the drop.
        hold: Duration,
    },
}

impl Op {
    /// What the operation leaves in the database, one entry per key it touches (a later
    /// entry of a batch for the same key replaces an earlier one): `Some(value)` for a
    /// put, `None` for a delete. Empty for operations that change no contents, and for an
    /// [`Op::Transfer`], whose writes depend on what it reads: see
    /// [`Model::effects`](crate::Model::effects).
    pub fn effects(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        match self {
            Op::Put { key, value } => vec![(key.clone(), Some(value.clone()))],
            Op::Delete { key } => vec![(key.clone(), None)],
            Op::Batch(entries) => {
                let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
                for (key, value) in entries {
                    out.retain(|(k, _)| k != key);
                    out.push((key.clone(), value.clone()));
                }
                out
            }
            Op::Flush | Op::CompactRange { .. } | Op::Pause(_) | Op::Transfer { .. } => Vec::new(),
        }
    }

    /// What an [`Op::Transfer`] writes, given the values it read of its two accounts
    /// (`None`: never written, a balance of zero): each account's new value, naming the
    /// transfer and holding the new balance. `None` if this is no transfer, or if a value
    /// read holds no balance (no transfer ever wrote it: the read was wrong). The child
    /// computes its writes with it from what its transaction read; the parent, from what
    /// the model says it must have read.
    pub fn transfer_writes(
        &self,
        from_value: Option<&[u8]>,
        to_value: Option<&[u8]>,
    ) -> Option<[(Vec<u8>, Vec<u8>); 2]> {
        let Op::Transfer {
            id,
            from,
            to,
            amount,
            ..
        } = self
        else {
            return None;
        };
        let (from_balance, to_balance) = (balance(from_value)?, balance(to_value)?);
        Some([
            (
                from.clone(),
                balance_value(from, *id, from_balance - amount),
            ),
            (to.clone(), balance_value(to, *id, to_balance + amount)),
        ])
    }
}

/// The balance an account's value holds (`None` for no value: zero), or `None` if the
/// value is not an account's (it has no `#bal=` part).
pub fn balance(value: Option<&[u8]>) -> Option<i64> {
    let Some(value) = value else {
        return Some(0);
    };
    let hash = value.iter().position(|&b| b == b'#')?;
    let text = std::str::from_utf8(value[hash + 1..].strip_prefix(b"bal=")?).ok()?;
    text.parse().ok()
}

/// An account's value: `<key>@<cycle>.<thread>.<op>#bal=<balance>`, the shape of every
/// other value ([`parse_value`] reads it), with the balance as its padding.
fn balance_value(key: &[u8], id: WriteId, balance: i64) -> Vec<u8> {
    let mut v = key.to_vec();
    v.extend_from_slice(format!("@{}.{}.{}#bal={balance}", id.cycle, id.thread, id.op).as_bytes());
    v
}

/// How many accounts each thread has: keys past its `keys_per_thread` ordinary keys, which
/// only [`Op::Transfer`] writes (so their balances always sum to zero), spread over the
/// keyspaces like the others.
pub const ACCOUNTS: u32 = 6;

/// The shape of the workload: how many writer threads and how many keys each owns.
///
/// Each thread owns its keys (`t<thread>-<n>`), so the order of the writes to any one key
/// is the order of one thread's stream, which the parent knows; the threads still share the
/// write queue, so their writes are grouped into one WAL record and one fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// The run's seed; with the cycle and thread it fixes every operation.
    pub seed: u64,
    /// Writer threads in the child.
    pub threads: u32,
    /// Keys per thread. Half the writes go to the first 32 of them, so keys are
    /// overwritten and deleted often.
    pub keys_per_thread: u32,
}

/// The hot keys of each thread: half of all writes land on them.
const HOT_KEYS: u32 = 32;

/// The keyspaces the workload writes: key `n` of every thread lives in
/// `KEYSPACES[n % 3]` ([`Workload::keyspace_of`]), so a batch of several keys usually
/// spans keyspaces, and must still be whole or absent after a kill. The child creates
/// `red` and `blue` before it reports `ready`.
pub const KEYSPACES: [&str; 3] = ["default", "red", "blue"];

impl Workload {
    /// The `op`th operation of `thread` in `cycle`. A pure function: the child performs it,
    /// the parent regenerates it to know what an acknowledgement acknowledged.
    ///
    /// # Panics
    ///
    /// If `keys_per_thread` is 0 (there is no key to write; [`crate::crash_loop`] uses at
    /// least 1).
    pub fn op(&self, cycle: u32, thread: u32, op: u64) -> Op {
        let id = WriteId { cycle, thread, op };
        let mut rng = SmallRng::seed_from_u64(mix(&[self.seed, cycle.into(), thread.into(), op]));
        let roll = rng.random_range(0..10_000u32);
        match roll {
            0..5_400 => {
                let key = self.key(thread, self.pick(&mut rng));
                let value = value(&key, id, &mut rng);
                Op::Put { key, value }
            }
            5_400..6_000 => {
                let from = rng.random_range(0..ACCOUNTS);
                let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                let commit = rng.random_bool(0.75);
                // Uncommitted ones stay open longer: a kill then finds one open more often.
                let hold = match commit {
                    true => rng.random_range(0..=500),
                    false => rng.random_range(500..=3_000),
                };
                Op::Transfer {
                    id,
                    from: self.account(thread, from),
                    to: self.account(thread, to),
                    amount: rng.random_range(1..=100),
                    commit,
                    hold: Duration::from_micros(hold),
                }
            }
            6_000..7_500 => Op::Delete {
                key: self.key(thread, self.pick(&mut rng)),
            },
            7_500..9_960 => {
                let n = rng.random_range(2..=8);
                let entries = (0..n)
                    .map(|_| {
                        let key = self.key(thread, self.pick(&mut rng));
                        let value = if rng.random_bool(0.8) {
                            Some(value(&key, id, &mut rng))
                        } else {
                            None
                        };
                        (key, value)
                    })
                    .collect();
                Op::Batch(entries)
            }
            9_960..9_980 => Op::Flush,
            9_980..9_990 => {
                let a = rng.random_range(0..self.keys_per_thread);
                let b = (a + rng.random_range(0..self.keys_per_thread / 4 + 1))
                    .min(self.keys_per_thread - 1);
                Op::CompactRange {
                    lo: self.key(thread, a),
                    hi: self.key(thread, b),
                }
            }
            _ if thread == 0 => Op::Pause(Duration::from_millis(rng.random_range(60..120))),
            _ => Op::Flush,
        }
    }

    /// Key number `n` of `thread`.
    pub fn key(&self, thread: u32, n: u32) -> Vec<u8> {
        format!("t{thread}-{n:06}").into_bytes()
    }

    /// Account `n` (below [`ACCOUNTS`]) of `thread`: its key number `keys_per_thread + n`,
    /// past every key the other operations write.
    pub fn account(&self, thread: u32, n: u32) -> Vec<u8> {
        self.key(thread, self.keys_per_thread + n)
    }

    /// Every key `thread` may write: its ordinary keys and its accounts.
    pub fn keys(&self, thread: u32) -> impl Iterator<Item = Vec<u8>> + '_ {
        (0..self.keys_per_thread + ACCOUNTS).map(move |n| self.key(thread, n))
    }

    /// The keyspace `key` lives in (an index into [`KEYSPACES`]), if it is one of the
    /// workload's keys: its number modulo 3.
    pub fn keyspace_of(&self, key: &[u8]) -> Option<usize> {
        let dash = key.iter().position(|&b| b == b'-')?;
        let n: u32 = std::str::from_utf8(&key[dash + 1..]).ok()?.parse().ok()?;
        Some(n as usize % KEYSPACES.len())
    }

    /// The thread that owns `key`, if it is one of the workload's keys.
    pub fn owner(&self, key: &[u8]) -> Option<u32> {
        let rest = key.strip_prefix(b"t")?;
        let dash = rest.iter().position(|&b| b == b'-')?;
        std::str::from_utf8(&rest[..dash]).ok()?.parse().ok()
    }

    fn pick(&self, rng: &mut SmallRng) -> u32 {
        if rng.random_bool(0.5) {
            rng.random_range(0..HOT_KEYS.min(self.keys_per_thread))
        } else {
            rng.random_range(0..self.keys_per_thread)
        }
    }
}

/// A value: `<key>@<cycle>.<thread>.<op>#` and then 0 to 300 bytes of padding, so values
/// differ in size and tables hold many blocks. Every value names the key it belongs to and
/// the write that made it, so a value under the wrong key, or one never written, is caught.
fn value(key: &[u8], id: WriteId, rng: &mut SmallRng) -> Vec<u8> {
    let mut v = key.to_vec();
    v.extend_from_slice(format!("@{}.{}.{}#", id.cycle, id.thread, id.op).as_bytes());
    let pad = rng.random_range(0..=300);
    let fill = rng.random_range(b'a'..=b'z');
    v.extend(std::iter::repeat_n(fill, pad));
    v
}

/// The key and the write named in a value, if it has the workload's shape.
pub fn parse_value(value: &[u8]) -> Option<(&[u8], WriteId)> {
    let at = value.iter().position(|&b| b == b'@')?;
    let hash = at + value[at..].iter().position(|&b| b == b'#')?;
    let id = std::str::from_utf8(&value[at + 1..hash]).ok()?;
    let mut parts = id.split('.');
    let cycle = parts.next()?.parse().ok()?;
    let thread = parts.next()?.parse().ok()?;
    let op = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((&value[..at], WriteId { cycle, thread, op }))
}

/// SplitMix64 over the parts: a seed for each operation's generator that differs in every
/// bit when any part changes.
fn mix(parts: &[u64]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for &p in parts {
        h ^= p;
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h = z ^ (z >> 31);
    }
    h
}

/// The level-0 table count at which the child's compaction starts; the parent uses it to
/// time kills for when a compaction is due or running.
pub const L0_TRIGGER: usize = 4;

/// The options the child opens the database with: writes synced, and everything
/// small (32 KiB memtables, 16 KiB WAL segments, 32 KiB tables, an 8 KiB manifest, a
/// 128 KiB level 1), so that flushes, WAL rotations, manifest rotations and compactions
/// happen many times a second. `idle_after` is 20 ms so a [`Op::Pause`] triggers idle work.
/// Odd cycles write zstd-compressed tables, so a database holds both kinds. Every fourth
/// cycle (3, 7, …) turns `sync_writes` off: a SIGKILL must not lose those writes either.
///
/// `components` are then plugged in ([`Components::apply`]): the run's memtable, table
/// format and strategy (leveled, the engine's default, unless they name another).
pub fn db_options(cycle: u32, components: &Components) -> Options {
    let mut compaction = CompactionOptions::default();
    compaction.l0_compaction_trigger = L0_TRIGGER;
    compaction.l0_slowdown_trigger = 12;
    compaction.l0_stop_trigger = 20;
    compaction.level1_target_bytes = 128 << 10;
    compaction.level_multiplier = 4;
    compaction.target_file_size = 32 << 10;
    compaction.max_grandparent_overlap_bytes = 320 << 10;

    let mut options = Options::default();
    // Every fourth cycle writes without fsync: the engine promises those writes survive a
    // crash of the process too (they are in the page cache when the write returns).
    options.sync_writes = cycle % 4 != 3;
    options.write_buffer_size = 32 << 10;
    options.max_immutable_memtables = 2;
    options.block_size = 1024;
    options.wal_segment_size = 16 << 10;
    options.max_manifest_size = 8 << 10;
    options.compaction = compaction;
    options.compaction_threads = 2;
    options.idle_after = Some(Duration::from_millis(20));
    options.compression = if cycle % 2 == 1 {
        Compression::Zstd
    } else {
        Compression::None
    };
    components.apply(&mut options);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload() -> Workload {
        Workload {
            seed: 7,
            threads: 3,
            keys_per_thread: 500,
        }
    }

    #[test]
    fn ops_are_a_pure_function_of_their_numbers() {
        let w = workload();
        for op in 0..200 {
            assert_eq!(w.op(3, 1, op), w.op(3, 1, op));
        }
        let a: Vec<_> = (0..50).map(|op| w.op(0, 0, op)).collect();
        let b: Vec<_> = (0..50).map(|op| w.op(1, 0, op)).collect();
        assert_ne!(a, b, "another cycle writes other values");
    }

    #[test]
    fn values_name_their_key_and_write() {
        let w = workload();
        let mut puts = 0;
        for op in 0..500 {
            for (key, value) in w.op(2, 1, op).effects() {
                assert_eq!(w.owner(&key), Some(1));
                if let Some(value) = value {
                    let (k, id) = parse_value(&value).expect("workload value");
                    assert_eq!(k, &key[..]);
                    assert_eq!(
                        id,
                        WriteId {
                            cycle: 2,
                            thread: 1,
                            op
                        }
                    );
                    puts += 1;
                }
            }
        }
        assert!(puts > 300, "only {puts} puts in 500 operations");
        assert_eq!(w.keyspace_of(&w.key(1, 7)), Some(1));
        assert_eq!(w.keyspace_of(&w.key(2, 33)), Some(0));
        assert_eq!(w.keyspace_of(b"no dash"), None);
        // Batches span keyspaces.
        let spanning = (0..500).filter(|&op| match w.op(2, 1, op) {
            Op::Batch(entries) => entries
                .iter()
                .any(|(k, _)| w.keyspace_of(k) != w.keyspace_of(&entries[0].0)),
            _ => false,
        });
        assert!(spanning.count() > 50);
        assert_eq!(parse_value(b"no marker"), None);
        assert_eq!(parse_value(b"k@1.2#"), None);
    }

    #[test]
    fn a_later_batch_entry_replaces_an_earlier_one() {
        let op = Op::Batch(vec![
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"b".to_vec(), Some(b"2".to_vec())),
            (b"a".to_vec(), None),
        ]);
        assert_eq!(
            op.effects(),
            vec![(b"b".to_vec(), Some(b"2".to_vec())), (b"a".to_vec(), None)]
        );
    }

    #[test]
    fn the_mix_has_every_kind_of_operation() {
        let w = workload();
        let ops: Vec<_> = (0..20_000).map(|op| w.op(0, 0, op)).collect();
        let count = |f: fn(&Op) -> bool| ops.iter().filter(|op| f(op)).count();
        assert!(count(|o| matches!(o, Op::Put { .. })) > 10_000);
        let transfer = |commit: bool| move |o: &&Op| matches!(o, Op::Transfer { commit: c, from, to, .. } if *c == commit && from != to);
        assert!(ops.iter().filter(transfer(true)).count() > 600);
        assert!(ops.iter().filter(transfer(false)).count() > 200);
        assert!(count(|o| matches!(o, Op::Delete { .. })) > 2_000);
        assert!(count(|o| matches!(o, Op::Batch(_))) > 4_000);
        assert!(count(|o| matches!(o, Op::Flush)) > 10);
        assert!(count(|o| matches!(o, Op::CompactRange { .. })) > 5);
        assert!(count(|o| matches!(o, Op::Pause(_))) > 5);
        // Only thread 0 pauses: it stops all writers at once.
        assert!((0..20_000).all(|op| !matches!(w.op(0, 1, op), Op::Pause(_))));
    }

    #[test]
    fn a_transfer_moves_a_balance_and_names_itself() {
        let w = workload();
        let id = WriteId {
            cycle: 1,
            thread: 2,
            op: 3,
        };
        let op = Op::Transfer {
            id,
            from: w.account(2, 0),
            to: w.account(2, 4),
            amount: 30,
            commit: true,
            hold: Duration::ZERO,
        };
        assert_eq!(w.account(2, 0), w.key(2, 500));
        let [(from, a), (to, b)] = op.transfer_writes(None, None).unwrap();
        assert_eq!(
            (balance(Some(&a)), balance(Some(&b))),
            (Some(-30), Some(30))
        );
        assert_eq!(parse_value(&a), Some((&from[..], id)));
        assert_eq!(parse_value(&b), Some((&to[..], id)));
        let [(_, a2), (_, b2)] = op.transfer_writes(Some(&b), Some(&a)).unwrap();
        assert_eq!((balance(Some(&a2)), balance(Some(&b2))), (Some(0), Some(0)));
        // A value that is no account's: the read was wrong, and there is nothing to write.
        let plain = w.op(0, 0, 0);
        assert!(plain.transfer_writes(None, None).is_none());
        assert!(
            op.transfer_writes(Some(b"t2-000500@0.0.0#xxxx"), None)
                .is_none()
        );
        assert_eq!(w.keys(2).count(), 506);
        assert_eq!(w.keyspace_of(&w.account(2, 1)), Some(0));
    }
}
