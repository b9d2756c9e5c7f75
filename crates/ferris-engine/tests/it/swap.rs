//! Components plugged in from outside: this test crate is a downstream crate, and the
//! memtable, table format and compaction strategy below are its own, given to the engine
//! through `Options`. Also FIFO compaction doing what it is for: dropping the oldest data.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferris_compaction::{Choice, CompactionOptions, Strategy, View, WritePressure};
use ferris_core::range_del::Tombstones;
use ferris_core::{BatchIter, InternalIterator, Lookup, Memtable, MemtableFactory, SeqNo};
use ferris_engine::Db;
use ferris_fs::{FileSystem, SimFs};
use ferris_table::{ReadOptions, TableBuilder, TableFormat, TableName, TableOptions, TableReader};

use crate::{DIR, stable_options};

/// A memtable of this crate's own: the B-tree one, counting the batches it is given.
#[derive(Debug)]
struct Counted {
    inner: Arc<dyn Memtable>,
    applied: Arc<AtomicUsize>,
}

impl Memtable for Counted {
    fn apply(&self, entries: BatchIter<'_>) -> u64 {
        self.applied.fetch_add(1, Ordering::Relaxed);
        self.inner.apply(entries)
    }
    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        self.inner.get(user_key, snapshot)
    }
    fn range_tombstones(&self) -> Arc<Tombstones> {
        self.inner.range_tombstones()
    }
    fn iter(self: Arc<Self>) -> Box<dyn InternalIterator> {
        Arc::clone(&self.inner).iter()
    }
    fn approximate_size(&self) -> usize {
        self.inner.approximate_size()
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
}

#[derive(Debug, Default)]
struct CountedFactory {
    applied: Arc<AtomicUsize>,
}

impl MemtableFactory for CountedFactory {
    fn create(&self) -> Arc<dyn Memtable> {
        Arc::new(Counted {
            inner: ferris_memtable::BTreeFactory.create(),
            applied: Arc::clone(&self.applied),
        })
    }
}

/// A table format of this crate's own: the minitable, counting the tables it writes.
#[derive(Debug, Default)]
struct CountedFormat {
    created: AtomicUsize,
}

impl TableFormat for CountedFormat {
    fn name(&self) -> &'static str {
        "counted"
    }
    fn file_name(&self, number: u64) -> String {
        ferris_minitable::MinitableFormat.file_name(number)
    }
    fn parse_file_name(&self, name: &str) -> Option<TableName> {
        ferris_minitable::MinitableFormat.parse_file_name(name)
    }
    fn create(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &TableOptions,
    ) -> ferris_core::Result<Box<dyn TableBuilder>> {
        self.created.fetch_add(1, Ordering::Relaxed);
        ferris_minitable::MinitableFormat.create(fs, dir, number, options)
    }
    fn open(
        &self,
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        options: &ReadOptions,
    ) -> ferris_core::Result<Arc<dyn TableReader>> {
        ferris_minitable::MinitableFormat.open(fs, dir, number, options)
    }
}

/// A strategy of this crate's own: never compact, never hold writes back.
#[derive(Debug)]
struct Never;

impl Strategy for Never {
    fn choose(&self, _: &View, _: &CompactionOptions) -> Choice {
        Choice::Nothing
    }
    fn pending_compaction_bytes(&self, _: &View, _: &CompactionOptions) -> u64 {
        0
    }
    fn write_pressure(&self, _: &View, _: &CompactionOptions) -> WritePressure {
        WritePressure::None
    }
    fn manual(&self, _: &View, _: Option<(&[u8], &[u8])>) -> Choice {
        Choice::Nothing
    }
}

/// The engine runs on components it has never heard of, reads what they hold, and
/// reopens on them: every write goes through this crate's memtable, every table through
/// this crate's format, and this crate's strategy keeps every table in level 0.
#[test]
fn a_downstream_crate_plugs_in_its_own_components() {
    let sim = SimFs::new(41);
    let factory = Arc::new(CountedFactory::default());
    let format = Arc::new(CountedFormat::default());
    let mut options = stable_options(&sim);
    options.memtable = Arc::clone(&factory) as Arc<dyn MemtableFactory>;
    options.table_format = Arc::clone(&format) as Arc<dyn TableFormat>;
    options.compaction_strategy = Arc::new(Never);
    let db = Db::open(DIR, options.clone()).unwrap();
    for round in 0..5 {
        for i in 0..50 {
            db.put(format!("k{i:03}"), format!("v{round}-{i}")).unwrap();
        }
        db.flush().unwrap();
    }
    db.compact().unwrap();
    let stats = db.stats();
    assert_eq!(stats.levels[0].files, 5, "{stats:?}");
    assert!(factory.applied.load(Ordering::Relaxed) >= 250);
    // The flush thread prepares the next flush's table ahead (see the engine's flush
    // module), so one more may have been created; closing removes it unused.
    let created = format.created.load(Ordering::Relaxed);
    assert!((5..=6).contains(&created), "{created} tables created");
    drop(db);
    let tables = sim
        .list(Path::new(DIR))
        .unwrap()
        .iter()
        .filter(|name| format.parse_file_name(name).is_some())
        .count();
    assert_eq!(tables, 5, "every table on disk is one of level 0's");
    let db = Db::open(DIR, options).unwrap();
    for i in 0..50 {
        let value = db.get(format!("k{i:03}")).unwrap();
        assert_eq!(value.as_deref(), Some(format!("v4-{i}").as_bytes()));
    }
    assert_eq!(db.iter().unwrap().count(), 50);
    assert!(db.verify().unwrap().is_clean());
}

/// FIFO compaction keeps the newest data under its cap and drops the oldest whole
/// tables, and never holds writes back for the many level-0 tables it keeps.
#[test]
fn fifo_compaction_drops_the_oldest_tables_past_its_cap() {
    let sim = SimFs::new(42);
    let mut options = stable_options(&sim);
    let cap = 64 << 10;
    options.compaction_strategy = Arc::new(ferris_fifo::Fifo::new(cap));
    options.compaction.l0_stop_trigger = 4;
    options.compaction.l0_slowdown_trigger = 2;
    let db = Db::open(DIR, options).unwrap();
    let value = vec![b'v'; 200];
    for round in 0..40u32 {
        for i in 0..50u32 {
            db.put(format!("r{round:02}-{i:03}"), &value).unwrap();
        }
        db.flush().unwrap();
    }
    // A manual compaction runs FIFO's own manual step: it drops what is over the cap.
    db.compact().unwrap();
    let stats = db.stats();
    let bytes: u64 = stats.levels.iter().map(|l| l.bytes).sum();
    assert!(
        bytes <= cap,
        "{bytes} bytes of tables over a cap of {cap}: {stats:?}"
    );
    assert!(
        stats.levels[0].files > 4,
        "FIFO keeps its tables in level 0"
    );
    assert_eq!(stats.stalls, 0, "FIFO never stops writes for level 0");
    assert!(
        db.get("r00-000").unwrap().is_none(),
        "the oldest data is gone"
    );
    assert_eq!(db.get("r39-049").unwrap().as_deref(), Some(&value[..]));
    // What is left is a whole suffix of the history: every round after the oldest kept
    // one is complete.
    let rounds: Vec<u32> = db
        .iter()
        .unwrap()
        .map(|kv| {
            let key = kv.unwrap().0;
            std::str::from_utf8(&key[1..3]).unwrap().parse().unwrap()
        })
        .collect();
    let oldest = rounds[0];
    for round in oldest + 1..40 {
        assert_eq!(
            rounds.iter().filter(|&&r| r == round).count(),
            50,
            "round {round}"
        );
    }
}
