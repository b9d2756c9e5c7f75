//! A database written by an older format version opens, with every key as it was written.
//!
//! `tests/golden/v1/` is a whole database directory written by FerrisDB at commit d656063
//! (manifest format 1, WAL framing 1, table format 1), before keyspaces existed. It was
//! made by this program, then closed cleanly (LOCK left out):
//!
//! ```text
//! options: write_buffer_size = 4 KiB, idle_after = None
//! put key0000..key0199 = "value{i}-a"; compact()            -> tables in level 1
//! put every 10th key = "value{i}-b"; delete key0005, key0015, ...; flush()  -> level 0
//! write batch { put key0000 = "value0-c", delete key0001, put zzz = "last" }
//! put key0002 = "value2-c"; close()                         -> left in the WAL
//! ```
//!
//! So opening it reads tables from two levels and replays a WAL segment, and the test
//! checks the result against the same history run on a model. Its tables record no
//! keyspace (table format 2 added that): they are the default keyspace's, at open and in
//! `Db::verify`, which compares each table's keyspace with the manifest's.

use std::collections::BTreeMap;
use std::path::Path;

use ferris_engine::{Db, Options};

/// The state the golden directory's history adds up to.
fn expected() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut model = BTreeMap::new();
    let key = |i: u32| format!("key{i:04}").into_bytes();
    for i in 0..200u32 {
        model.insert(key(i), format!("value{i}-a").into_bytes());
    }
    for i in (0..200u32).step_by(10) {
        model.insert(key(i), format!("value{i}-b").into_bytes());
    }
    for i in (5..200u32).step_by(10) {
        model.remove(&key(i));
    }
    model.insert(key(0), b"value0-c".to_vec());
    model.remove(&key(1));
    model.insert(b"zzz".to_vec(), b"last".to_vec());
    model.insert(key(2), b"value2-c".to_vec());
    model
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.iter()
        .unwrap()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_version_1_database_opens_with_everything_in_it() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&golden, dir.path());
    let model = expected();

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(contents(&db), model);
    for (key, value) in &model {
        assert_eq!(db.get(key).unwrap().as_deref(), Some(&value[..]));
    }
    assert_eq!(db.get("key0005").unwrap(), None);
    assert!(db.verify().unwrap().problems.is_empty());
    // It goes on as a database of today's format: written, flushed, reopened.
    db.put("after", "upgrade").unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut model = model;
    model.insert(b"after".to_vec(), b"upgrade".to_vec());
    assert_eq!(contents(&db), model);
}
