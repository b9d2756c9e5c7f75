//! The layout the specification describes, seen from outside: blocks cut at the block
//! size, indexed by their last keys, and lookups that read one block at most.

use std::sync::Arc;

use bytes::Bytes;
use ferris_core::coding::varint_len;
use ferris_core::{InternalKey, Lookup, MAX_SEQNO, ValueKind};
use ferris_minitable::format::{BLOCK_TRAILER_LEN, Block, FOOTER_LEN, Footer, Handle, Properties};
use ferris_table::{BlockCache, Compression, ReadOptions};

use crate::{
    Entry, entries, open, options, range_tombstones, scan, sim, table_bytes, write, write_with,
};

/// The bytes of block `handle` in `bytes`, without its trailer.
fn block_at(bytes: &[u8], handle: Handle) -> Bytes {
    Bytes::copy_from_slice(&bytes[handle.offset as usize..(handle.offset + handle.size) as usize])
}

/// The footer and the decoded index of a table's bytes.
fn index_of(bytes: &[u8]) -> (Footer, Block) {
    let footer_at = bytes.len() - FOOTER_LEN;
    let footer = Footer::decode(bytes[footer_at..].try_into().unwrap()).unwrap();
    (
        footer,
        Block::decode(block_at(bytes, footer.index)).unwrap(),
    )
}

/// The range-tombstone block lies between the index and the properties, where the
/// properties' handle says; a table of tombstones alone has no data block and an empty
/// index, and still answers lookups under them.
#[test]
fn range_tombstones_lie_between_the_index_and_the_properties() {
    for want in [entries(30, 2), Vec::new()] {
        let (_, fs) = sim();
        write_with(&fs, &want, &range_tombstones(), &options(256)).unwrap();
        let bytes = table_bytes(&fs);
        let footer_at = bytes.len() - FOOTER_LEN;
        let footer = Footer::decode(bytes[footer_at..].try_into().unwrap()).unwrap();
        let props =
            Properties::decode(&block_at(&bytes, footer.properties), footer.version).unwrap();
        let at = props.range_tombstone_block;
        assert_eq!(footer.index.end(), Some(at.offset));
        assert_eq!(at.end(), Some(footer.properties.offset));
        assert_eq!(props.range_tombstones, 5);
        let reader = open(&fs, &ReadOptions::default()).unwrap();
        assert_eq!(scan(&reader).unwrap(), want);
        assert_eq!(
            reader.get(b"key000004", 500).unwrap(),
            Some(Lookup::Deleted)
        );
        assert!(reader.verify().unwrap().is_intact());
        if want.is_empty() {
            assert_eq!((footer.index.offset, footer.index.size), (0, 0));
            assert_eq!(reader.get(b"key000001", MAX_SEQNO).unwrap(), None);
        }
    }
}

/// A tombstone numbered past the largest sequence number would make a block no reader
/// takes back: the builder refuses it, and goes on.
#[test]
fn a_range_tombstone_past_the_largest_sequence_number_is_refused() {
    use ferris_core::range_del::{RangeTombstone, Tombstones};
    use ferris_minitable::MinitableFormat;
    use ferris_table::TableFormat;
    let (_, fs) = sim();
    let mut builder = MinitableFormat
        .create(&fs, crate::dir(), crate::NUMBER, &options(256))
        .unwrap();
    let past = Tombstones::new([RangeTombstone::new("a", None, MAX_SEQNO + 1)]);
    let refused = builder.add_range_tombstones(&past);
    assert!(
        matches!(refused, Err(ferris_core::Error::InvalidInput(_))),
        "{refused:?}"
    );
    // Nothing was added: the builder is still empty.
    assert!(matches!(
        builder.finish(),
        Err(ferris_core::Error::InvalidInput(_))
    ));
}

#[test]
fn blocks_close_at_the_block_size_and_the_index_names_each_last_key() {
    let (_, fs) = sim();
    let want = entries(50, 2);
    write(&fs, &want, &options(128)).unwrap();
    let bytes = table_bytes(&fs);
    let (footer, index) = index_of(&bytes);
    assert!(index.len() > 10, "{} blocks", index.len());
    let mut next_offset = 0;
    let mut seen = Vec::new();
    for i in 0..index.len() {
        let handle = Handle::decode(&index.value(i)).unwrap();
        assert_eq!(handle.offset, next_offset, "blocks lie back to back");
        next_offset = handle.offset + handle.size + BLOCK_TRAILER_LEN as u64;
        let block = Block::decode(block_at(&bytes, handle)).unwrap();
        assert_eq!(block.key(block.len() - 1), index.key(i), "block {i}");
        // A block is closed by the entry that takes it to the block size, so only the
        // last one may be smaller, and none is larger by more than its last entry.
        if i + 1 < index.len() {
            assert!(handle.size >= 128, "block {i} is {} bytes", handle.size);
        }
        let (key, value) = (block.key(block.len() - 1), block.value(block.len() - 1));
        let last_entry =
            varint_len(key.len() as u64) + varint_len(value.len() as u64) + key.len() + value.len();
        assert!(handle.size as usize - last_entry < 128, "block {i}");
        for e in 0..block.len() {
            seen.push((InternalKey::decode(block.key(e)).unwrap(), block.value(e)));
        }
    }
    assert_eq!(next_offset, footer.index.offset);
    assert_eq!(
        footer.index.offset + footer.index.size + BLOCK_TRAILER_LEN as u64,
        footer.properties.offset
    );
    assert_eq!(seen, want);
}

#[test]
fn compression_and_the_bloom_filter_options_change_nothing() {
    let want = entries(40, 2);
    let mut tables = Vec::new();
    for (compression, bloom) in [(Compression::None, 10), (Compression::Zstd, 0)] {
        let (_, fs) = sim();
        let mut o = options(256);
        o.compression = compression;
        o.bloom_bits_per_key = bloom;
        write(&fs, &want, &o).unwrap();
        tables.push(table_bytes(&fs));
    }
    assert_eq!(tables[0], tables[1]);
}

/// Blocks asked of `cache` so far, read or found.
fn lookups(cache: &BlockCache) -> u64 {
    cache.stats().hits + cache.stats().misses
}

/// Blocks read so far through `cache`.
fn misses(cache: &BlockCache) -> u64 {
    cache.stats().misses
}

#[test]
fn a_lookup_reads_one_block_and_none_outside_the_tables_key_range() {
    let (_, fs) = sim();
    write(&fs, &entries(200, 2), &options(256)).unwrap();
    let cache = Arc::new(BlockCache::new(1 << 20));
    let table = open(&fs, &ReadOptions::with_cache(Arc::clone(&cache))).unwrap();
    assert_eq!(
        table.get(b"key000123", MAX_SEQNO).unwrap(),
        Some(Lookup::Value(Bytes::from("value-123-2")))
    );
    assert_eq!(
        (lookups(&cache), misses(&cache)),
        (1, 1),
        "one block for a key it holds"
    );
    table.get(b"key000123", 1).unwrap();
    assert_eq!(cache.stats().hits, 1, "the block read before is cached");
    assert_eq!(table.get(b"key000150x", MAX_SEQNO).unwrap(), None);
    assert_eq!(lookups(&cache), 3, "one block for a key in its range");
    for outside in [&b"a"[..], b"key", b"key000199x", b"zzz"] {
        assert_eq!(table.get(outside, MAX_SEQNO).unwrap(), None);
    }
    assert_eq!(lookups(&cache), 3, "no block for a key outside its range");
}

#[test]
fn an_iterator_that_does_not_fill_the_cache_adds_nothing_but_uses_what_is_there() {
    let (_, fs) = sim();
    let want = entries(100, 1);
    write(&fs, &want, &options(256)).unwrap();
    let cache = Arc::new(BlockCache::new(1 << 20));
    let table = open(&fs, &ReadOptions::with_cache(Arc::clone(&cache))).unwrap();
    let n_blocks = table.verify().unwrap().blocks - 2;
    let bypassing = {
        let mut it = Arc::clone(&table).iter(false);
        let mut out: Vec<Entry> = Vec::new();
        it.seek_to_first();
        while it.valid() {
            out.push((it.key().to_owned(), it.value()));
            it.next();
        }
        out
    };
    assert_eq!(bypassing, want);
    assert_eq!(cache.stats().bytes, 0);
    assert_eq!(misses(&cache), n_blocks);
    assert_eq!(scan(&table).unwrap(), want);
    assert!(cache.stats().bytes > 0);
    assert_eq!(misses(&cache), 2 * n_blocks);
    assert_eq!(scan(&table).unwrap(), want);
    assert_eq!(
        misses(&cache),
        2 * n_blocks,
        "the second filling scan hit every block"
    );
}

/// Versions of one user key spread over many blocks: a lookup at every snapshot finds
/// the right one in the one block the index names, and `seek_for_prev` steps back across
/// a block boundary when the target sorts before a block's first entry.
#[test]
fn versions_of_one_key_straddling_blocks_are_found_at_every_snapshot() {
    let (_, fs) = sim();
    let mut want = vec![(
        InternalKey::new(&b"a"[..], 1, ValueKind::Put),
        Bytes::from("a"),
    )];
    for seq in (10..=300u64).rev() {
        let (kind, value) = if seq.is_multiple_of(7) {
            (ValueKind::Delete, Bytes::new())
        } else {
            (ValueKind::Put, Bytes::from(format!("v{seq}")))
        };
        want.push((InternalKey::new(&b"hot"[..], seq, kind), value));
    }
    want.push((
        InternalKey::new(&b"z"[..], 5, ValueKind::Put),
        Bytes::from("z"),
    ));
    write(&fs, &want, &options(64)).unwrap();
    let table = open(&fs, &ReadOptions::default()).unwrap();
    for snapshot in 0..=320u64 {
        let expected = (10..=300u64).rev().find(|&s| s <= snapshot).map(|seq| {
            if seq.is_multiple_of(7) {
                Lookup::Deleted
            } else {
                Lookup::Value(Bytes::from(format!("v{seq}")))
            }
        });
        assert_eq!(
            table.get(b"hot", snapshot).unwrap(),
            expected,
            "snapshot {snapshot}"
        );
    }
    let mut it = Arc::clone(&table).iter(true);
    for (i, (key, _)) in want.iter().enumerate().skip(1) {
        // The largest internal key of this user key one sequence number newer sorts
        // before the entry, and at or after the one before it (whose sequence number is
        // that one, or whose user key is smaller).
        let just_before = InternalKey::new(
            key.user_key_bytes().clone(),
            key.seq() + 1,
            ValueKind::Delete,
        );
        it.seek_for_prev(just_before.as_ref());
        assert_eq!(it.key(), want[i - 1].0.as_ref(), "entry {i}");
        it.next();
        assert_eq!(it.key(), key.as_ref(), "entry {i}");
        it.seek(key.as_ref());
        it.prev();
        assert_eq!(it.key(), want[i - 1].0.as_ref(), "entry {i}");
    }
    let got: Vec<Entry> = scan(&table).unwrap();
    assert_eq!(got, want);
    let check = table.verify().unwrap();
    assert!(check.is_intact() && check.blocks > 40, "{check:?}");
}

/// Readers on several threads share one table and one cache, and every one of them gets
/// every answer right.
#[test]
fn threads_sharing_a_table_and_its_cache_all_read_it_right() {
    let (_, fs) = sim();
    let want = entries(300, 2);
    write(&fs, &want, &options(256)).unwrap();
    // A cache smaller than the table, so that the threads also evict each other's blocks.
    let cache = Arc::new(BlockCache::new(8 << 10));
    let table = open(&fs, &ReadOptions::with_cache(cache)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4usize {
            let (table, want) = (&table, &want);
            s.spawn(move || {
                for (i, (key, value)) in want.iter().enumerate().skip(t).step_by(4) {
                    let expected = match key.kind() {
                        ValueKind::Put => Lookup::Value(value.clone()),
                        ValueKind::Delete => Lookup::Deleted,
                    };
                    let got = table.get(key.user_key(), key.seq()).unwrap();
                    assert_eq!(got, Some(expected), "thread {t}, entry {i}");
                }
                assert_eq!(&scan(table).unwrap(), want, "thread {t}");
            });
        }
    });
}
