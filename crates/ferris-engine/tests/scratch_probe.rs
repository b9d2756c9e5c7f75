#![allow(missing_docs, clippy::print_stdout)]
use ferris_core::{InternalKey, ValueKind};
use ferris_engine::{Db, Options};
use ferris_fs::{FileSystem, SimFs};
use ferris_manifest::*;
use std::path::Path;
use std::sync::Arc;

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
fn opts(sim: &SimFs) -> Options {
    let mut o = Options::default();
    o.file_system = Arc::new(sim.clone()) as Arc<dyn FileSystem>;
    o
}

#[test]
fn dump() {
    let edit = VersionEdit {
        added: vec![(
            0,
            FileMeta {
                number: 5,
                size: 300,
                smallest: InternalKey::new(&b"ant"[..], 8, ValueKind::Put),
                largest: InternalKey::new(&b"bee"[..], 2, ValueKind::Delete),
                min_seq: 1,
                max_seq: 9,
                entries: 9,
                tombstones: 1,
            },
        )],
        log_number: Some(4),
        next_file_number: Some(6),
        last_sequence: Some(9),
        ..VersionEdit::default()
    };
    let e = edit.encode();
    println!("EDIT len {} : {}", e.len(), hex(&e));
    let mut out = Vec::new();
    let mut off = 300usize;
    ferris_wal::format::frame_record(&mut out, &mut off, &e);
    println!("FRAMED at 300: {}", hex(&out));
    let del = VersionEdit {
        deleted: vec![(0, 5)],
        added: vec![(1, edit.added[0].1.clone())],
        next_file_number: Some(6),
        ..Default::default()
    };
    println!("MOVE: {}", hex(&del.encode()));
    for n in [1u64, 3, 5, 7] {
        print!("CURRENT {n}: {:?}", encode_current(n));
        println!(" {}", hex(encode_current(n).as_bytes()));
    }
    println!(
        "HDR 3: {}",
        hex(&ferris_wal::format::encode_segment_header(3))
    );

    let sim = SimFs::new(1);
    let db = Db::open("/db", opts(&sim)).unwrap();
    drop(db);
    let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
    let dir = Path::new("/db");
    for name in fs.list(dir).unwrap() {
        let f = fs.open(&dir.join(&name)).unwrap();
        let b = f.read_vec(0, f.len()).unwrap();
        println!(
            "FILE {name} len {} : {}",
            b.len(),
            if b.len() < 200 {
                hex(&b)
            } else {
                String::new()
            }
        );
    }
    let n = read_current(&*fs, dir).unwrap().unwrap();
    let r = replay(&*fs, dir, n).unwrap();
    println!("STATE {:?}", r.state);
}

#[test]
fn cut_during_reopen() {
    let probe = SimFs::new(0);
    let db = Db::open("/db", opts(&probe)).unwrap();
    db.put("k", "v").unwrap();
    drop(db);
    let before = probe.op_count();
    let db = Db::open("/db", opts(&probe)).unwrap();
    drop(db);
    let per_open = probe.op_count() - before;
    println!("ops per reopen {per_open}");
    let mut fails = 0;
    for cut in 0..per_open {
        for seed in 0..3 {
            let sim = SimFs::new(seed * 1000 + cut);
            let db = Db::open("/db", opts(&sim)).unwrap();
            db.put("k", "v").unwrap();
            drop(db);
            sim.cut_power_after(cut);
            let _ = Db::open("/db", opts(&sim));
            sim.restart();
            match Db::open("/db", opts(&sim)) {
                Ok(db) => assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..])),
                Err(e) => {
                    fails += 1;
                    println!(
                        "cut {cut} seed {seed}: {e} / {:?}",
                        std::error::Error::source(&e)
                    );
                }
            }
        }
    }
    println!("FAILS {fails}");
}

#[test]
fn cut_during_rotation() {
    let o = |sim: &SimFs| {
        let mut o = opts(sim);
        o.max_manifest_size = 1;
        o
    };
    let work = |sim: &SimFs| -> Result<(), ferris_engine::Error> {
        let db = Db::open("/db", o(sim))?;
        db.put("a", "1")?;
        db.flush()?;
        db.put("b", "2")?;
        Ok(())
    };
    let probe = SimFs::new(0);
    work(&probe).unwrap();
    let total = probe.op_count();
    let mut fails = 0;
    for cut in 0..total {
        for seed in 0..3 {
            let sim = SimFs::new(seed * 7777 + cut);
            sim.cut_power_after(cut);
            let _ = work(&sim);
            sim.restart();
            if let Err(e) = Db::open("/db", o(&sim)) {
                fails += 1;
                println!(
                    "rot cut {cut}/{total} seed {seed}: {:?}",
                    std::error::Error::source(&e)
                );
            }
        }
    }
    println!("ROT FAILS {fails}");
}

#[test]
fn cut_during_bg_rotation() {
    let o = |sim: &SimFs| {
        let mut o = opts(sim);
        o.max_manifest_size = 1;
        o.write_buffer_size = 4 << 10;
        o
    };
    let work = |sim: &SimFs| -> Result<(), ferris_engine::Error> {
        let db = Db::open("/db", o(sim))?;
        for i in 0..200 {
            db.put(format!("k{i:04}"), "x".repeat(100))?;
        }
        Ok(())
    };
    let probe = SimFs::new(0);
    work(&probe).unwrap();
    let total = probe.op_count();
    let mut fails = 0;
    for cut in 0..total {
        for seed in 0..2 {
            let sim = SimFs::new(seed * 7777 + cut);
            sim.cut_power_after(cut);
            let _ = work(&sim);
            sim.restart();
            if let Err(e) = Db::open("/db", o(&sim)) {
                fails += 1;
                println!(
                    "bg cut {cut}/{total} seed {seed}: {:?}",
                    std::error::Error::source(&e)
                );
            }
        }
    }
    println!("BG FAILS {fails} of {}", total * 2);
}
