//! Range iteration: user-key bounds cover every version, both directions agree with a
//! model, and mixing the two ends yields each entry once.

use std::ops::Bound;

use bytes::Bytes;
use ferris_core::InternalKey;
use ferris_sstable::TableOptions;
use proptest::prelude::*;

use crate::{entries, sim, write};

type Entry = (InternalKey, Bytes);

fn model(all: &[Entry], lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Vec<Entry> {
    all.iter()
        .filter(|(k, _)| match lo {
            Bound::Included(l) => k.user_key() >= &l[..],
            Bound::Excluded(l) => k.user_key() > &l[..],
            Bound::Unbounded => true,
        })
        .filter(|(k, _)| match hi {
            Bound::Included(h) => k.user_key() <= &h[..],
            Bound::Excluded(h) => k.user_key() < &h[..],
            Bound::Unbounded => true,
        })
        .cloned()
        .collect()
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    let key = (0usize..60).prop_map(|i| format!("key{i:06}").into_bytes());
    let odd = (0usize..60).prop_map(|i| format!("key{i:06}~").into_bytes());
    prop_oneof![
        Just(Bound::Unbounded),
        key.clone().prop_map(Bound::Included),
        key.prop_map(Bound::Excluded),
        odd.prop_map(Bound::Included),
    ]
}

#[test]
fn iter_both_ways_returns_everything() {
    let (_, fs) = sim();
    let want = entries(100, 3);
    let mut o = TableOptions::default();
    o.block_size = 200;
    let table = write(&fs, "t.sst", &want, o);
    let forward: Vec<Entry> = table.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(forward, want);
    let mut backward: Vec<Entry> = table.iter().rev().collect::<Result<_, _>>().unwrap();
    backward.reverse();
    assert_eq!(backward, want);
}

#[test]
fn an_excluded_start_skips_every_version_and_an_included_end_takes_every_version() {
    let (_, fs) = sim();
    let want = entries(10, 3);
    let table = write(&fs, "t.sst", &want, TableOptions::default());
    let got: Vec<Entry> = table
        .range::<&[u8], _>((
            Bound::Excluded(&b"key000002"[..]),
            Bound::Included(&b"key000004"[..]),
        ))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, want[9..15].to_vec());
}

proptest! {
    #[test]
    fn ranges_match_the_model_from_both_ends(lo in bound(), hi in bound(), pattern in proptest::collection::vec(any::<bool>(), 0..400)) {
        let (_, fs) = sim();
        let all = entries(60, 2);
        let mut o = TableOptions::default();
        o.block_size = 150;
        let table = write(&fs, "t.sst", &all, o);
        let want = model(&all, &lo, &hi);
        let range = || table.range::<Vec<u8>, _>((lo.clone(), hi.clone()));
        let forward: Vec<Entry> = range().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&forward, &want);
        let mut backward: Vec<Entry> = range().rev().collect::<Result<_, _>>().unwrap();
        backward.reverse();
        prop_assert_eq!(&backward, &want);
        // Alternate ends as the pattern says: together they yield each entry exactly once.
        let mut it = range();
        let (mut front, mut back) = (Vec::new(), Vec::new());
        for &from_front in pattern.iter().chain(std::iter::repeat_n(&true, 200)) {
            let item = if from_front { it.next() } else { it.next_back() };
            match item {
                Some(e) => if from_front { front.push(e.unwrap()) } else { back.push(e.unwrap()) },
                None => break,
            }
        }
        back.reverse();
        front.extend(back);
        prop_assert_eq!(front, want);
    }
}

#[test]
fn an_owned_cursor_outlives_the_handle_it_came_from() {
    let (_sim, fs) = crate::sim();
    let all = crate::entries(50, 2);
    let table = std::sync::Arc::new(crate::write(&fs, "owned.sst", &all, Default::default()));
    let mut cursor = table.owned_cursor();
    drop(table);
    cursor.seek_to_last();
    let mut back = Vec::new();
    while cursor.valid() {
        back.push(ferris_core::InternalKey::decode(cursor.key()).unwrap());
        cursor.prev();
    }
    cursor.status().unwrap();
    back.reverse();
    let expected: Vec<_> = all.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(back, expected);
}
