//! `crates/ferris-fs/src/lib.rs`, exercises 1, 2 and 3.

use std::path::Path;

use ferris_fs::{Fault, FaultKind, FileSystem, Op, SimFs};

#[test]
fn ex1_what_survives_of_an_unsynced_append() -> std::io::Result<()> {
    let mut lengths = Vec::new();
    for seed in 0..8 {
        let fs = SimFs::new(seed);
        let dir = Path::new("/db");
        fs.create_dir_all(dir)?;
        let mut file = fs.create(&dir.join("a"))?;
        file.append(b"synced.")?;
        file.sync()?;
        fs.sync_dir(dir)?;
        file.append(&[b'x'; 2000])?;
        fs.crash();
        let file = fs.open(&dir.join("a"))?;
        let bytes = file.read_vec(0, file.len())?;
        // What was synced always survives; of the rest, some prefix (its last sector
        // possibly torn), from none to all of it.
        assert_eq!(&bytes[..7], b"synced.");
        assert!(bytes.len() <= 2007, "seed {seed}");
        lengths.push(bytes.len());
    }
    // Under seeds 0 to 7: 2007, 1501, 1081, 7, 1219, 2007, 1298 and 7 bytes.
    assert!(lengths.contains(&7) && lengths.contains(&2007));
    assert!(lengths.iter().any(|&n| n > 7 && n < 2007));
    Ok(())
}

#[test]
fn ex2_a_name_is_durable_once_its_directory_is_synced() -> std::io::Result<()> {
    let mut survived = Vec::new();
    for seed in 0..8 {
        let fs = SimFs::new(seed);
        let dir = Path::new("/db");
        fs.create_dir_all(dir)?;
        fs.sync_dir(Path::new("/"))?;
        let mut file = fs.create(&dir.join("a"))?;
        file.append(b"data")?;
        file.sync()?;
        fs.crash();
        survived.push(fs.exists(&dir.join("a"))?);
        // With the directory synced as well, the name survives every crash.
        let fs = SimFs::new(seed);
        fs.create_dir_all(dir)?;
        fs.sync_dir(Path::new("/"))?;
        let mut file = fs.create(&dir.join("a"))?;
        file.append(b"data")?;
        file.sync()?;
        fs.sync_dir(dir)?;
        fs.crash();
        assert!(fs.exists(&dir.join("a"))?, "seed {seed}");
    }
    // Without `sync_dir`, the file's bytes were synced but its name may not be.
    assert!(survived.contains(&true) && survived.contains(&false));
    Ok(())
}

#[test]
fn ex3_a_failed_sync_loses_the_bytes_for_good() -> std::io::Result<()> {
    let fs = SimFs::new(1);
    let dir = Path::new("/db");
    fs.create_dir_all(dir)?;
    let mut file = fs.create(&dir.join("a"))?;
    file.sync()?;
    fs.sync_dir(dir)?;
    file.append(b"lost")?;
    fs.inject(Fault::new(Op::Sync, FaultKind::Eio));
    assert!(file.sync().is_err());
    // The retry succeeds, and proves nothing: the bytes it had to write are gone.
    assert!(file.sync().is_ok());
    fs.crash();
    let file = fs.open(&dir.join("a"))?;
    let bytes = file.read_vec(0, file.len())?;
    // A crash keeps the length it had, and turns the lost bytes into zeros.
    assert!(bytes.iter().all(|&b| b == 0), "{bytes:?}");
    Ok(())
}
