//! The block cache: counted hits and misses, a byte bound, and the same answers as without.

use std::sync::Arc;

use bytes::Bytes;
use ferris_core::{InternalKey, ValueKind};
use ferris_sstable::{BlockCache, ReadOptions, Table, TableOptions};

use crate::{entries, path, scan, sim, walk, write};

fn small_blocks() -> TableOptions {
    let mut o = TableOptions::default();
    o.block_size = 512;
    o
}

#[test]
fn repeated_reads_hit_and_answers_do_not_change() {
    let (_, fs) = sim();
    let want = entries(300, 1);
    let uncached = write(&fs, "t.sst", &want, small_blocks());
    let cache = Arc::new(BlockCache::new(1 << 20));
    let table =
        Table::open_with(&*fs, &path("t.sst"), ReadOptions::with_cache(cache.clone())).unwrap();

    let key = b"key000123";
    assert_eq!(
        table.get(key, u64::MAX >> 8).unwrap(),
        uncached.get(key, u64::MAX >> 8).unwrap()
    );
    let first = cache.stats();
    assert_eq!((first.hits, first.misses), (0, 1));
    for _ in 0..10 {
        table.get(key, u64::MAX >> 8).unwrap();
    }
    let after = cache.stats();
    assert_eq!((after.hits, after.misses), (10, 1));
    assert!(after.hit_rate() > 0.9);

    assert_eq!(scan(&table).unwrap(), want);
    assert_eq!(scan(&table).unwrap(), want);
    let n_blocks = table.properties().n_data_blocks;
    let stats = cache.stats();
    assert_eq!(stats.misses, n_blocks, "each block read from the file once");
    assert!(stats.bytes > 0 && stats.bytes <= stats.capacity);
}

#[test]
fn the_cache_stays_within_its_capacity_and_is_shared_by_tables() {
    let (_, fs) = sim();
    let cache = Arc::new(BlockCache::new(16 << 10));
    let mut tables = Vec::new();
    for t in 0..4 {
        let name = format!("{t}.sst");
        write(&fs, &name, &entries(400, 1), small_blocks());
        tables.push(
            Table::open_with(&*fs, &path(&name), ReadOptions::with_cache(cache.clone())).unwrap(),
        );
    }
    for table in &tables {
        assert_eq!(scan(table).unwrap().len(), 400);
    }
    let stats = cache.stats();
    assert!(
        stats.bytes <= 16 << 10,
        "{} bytes held in a 16 KiB cache",
        stats.bytes
    );
    // Tables with identical contents still get their own entries: every block of every
    // table was a miss on first read.
    let blocks: u64 = tables.iter().map(|t| t.properties().n_data_blocks).sum();
    assert_eq!(stats.misses, blocks);
}

#[test]
fn a_cursor_that_does_not_fill_the_cache_caches_nothing_but_uses_what_is_cached() {
    let (_, fs) = sim();
    write(&fs, "t.sst", &entries(300, 1), small_blocks());
    let cache = Arc::new(BlockCache::new(1 << 20));
    let table =
        Table::open_with(&*fs, &path("t.sst"), ReadOptions::with_cache(cache.clone())).unwrap();
    let n_blocks = table.properties().n_data_blocks;
    assert!(n_blocks > 2, "the test needs several blocks");

    let bypassing = walk(table.cursor().fill_cache(false)).unwrap();
    let stats = cache.stats();
    assert_eq!(stats.bytes, 0, "nothing was cached");
    assert_eq!((stats.hits, stats.misses), (0, n_blocks));

    // Once a filling cursor has cached the blocks, a bypassing one reads them from there.
    let filling = walk(table.cursor()).unwrap();
    assert_eq!(filling, bypassing);
    assert!(cache.stats().bytes > 0);
    assert_eq!(walk(table.cursor().fill_cache(false)).unwrap(), filling);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (n_blocks, 2 * n_blocks));
}

/// `get_many` asks the cache once per block it needs, where a loop of `get` asks once
/// per key; the answers are `get`'s, and an answer already given is left alone.
#[test]
fn get_many_fetches_each_block_once_and_agrees_with_get() {
    let (_, fs) = sim();
    write(&fs, "t.sst", &entries(300, 3), small_blocks());
    let cache = Arc::new(BlockCache::new(1 << 20));
    let table =
        Table::open_with(&*fs, &path("t.sst"), ReadOptions::with_cache(cache.clone())).unwrap();
    let n_blocks = table.properties().n_data_blocks;
    assert!(n_blocks > 10, "{n_blocks} blocks");

    // Every stored key and a miss after each; one key found already.
    let names: Vec<String> = (0..300)
        .flat_map(|i| [format!("key{i:06}"), format!("key{i:06}x")])
        .collect();
    let keys: Vec<&[u8]> = names.iter().map(|k| k.as_bytes()).collect();
    for snapshot in [0, 150, 20_002, u64::MAX] {
        let before = cache.stats();
        let mut found = vec![None; keys.len()];
        let given = (InternalKey::new("given", 1, ValueKind::Put), Bytes::new());
        found[7] = Some(given.clone());
        table
            .get_many(&keys, snapshot, &mut found, |key, value| {
                (key.to_owned(), value)
            })
            .unwrap();
        let after = cache.stats();
        assert!(
            after.hits + after.misses - before.hits - before.misses <= n_blocks,
            "more block fetches than blocks at snapshot {snapshot}"
        );
        for (i, key) in keys.iter().enumerate() {
            let want = if i == 7 {
                Some(given.clone())
            } else {
                table.get(key, snapshot).unwrap()
            };
            assert_eq!(found[i], want, "key {i} at snapshot {snapshot}");
        }
    }
}
