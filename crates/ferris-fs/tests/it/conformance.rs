//! The [`FileSystem`] contract, clause by clause, on every implementation.

use std::io::ErrorKind;
use std::sync::Arc;
use std::thread;

use rstest::rstest;

use crate::{Harness, Impl};

#[rstest]
fn create_makes_an_empty_file_and_refuses_an_existing_path(
    #[values(Impl::Std, Impl::Sim)] imp: Impl,
) {
    let h = Harness::new(imp);
    let file = h.fs.create(&h.path("a")).unwrap();
    assert!(file.is_empty());
    assert_eq!(h.fs.open(&h.path("a")).unwrap().len(), 0);
    assert_eq!(
        h.fs.create(&h.path("a")).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    h.fs.create_dir_all(&h.path("sub")).unwrap();
    assert_eq!(
        h.fs.create(&h.path("sub")).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
}

#[rstest]
fn appended_bytes_are_read_back_at_any_offset(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    let mut file = h.fs.create(&h.path("a")).unwrap();
    file.append(b"hello, ").unwrap();
    file.append(b"").unwrap();
    file.append(b"world").unwrap();
    assert_eq!(file.len(), 12);
    file.sync().unwrap();

    let reader = h.fs.open(&h.path("a")).unwrap();
    assert_eq!(reader.len(), 12);
    let mut buf = [0; 5];
    reader.read_exact_at(7, &mut buf).unwrap();
    assert_eq!(&buf, b"world");
    reader.read_exact_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    assert_eq!(reader.read_vec(3, 6).unwrap(), b"lo, wo");
    assert_eq!(
        reader.read_vec(12, 0).unwrap(),
        b"",
        "an empty read at the end is fine"
    );
}

/// Appends of several MiB, which on `StdFs` start write-back as they go (every MiB), read
/// back whole, before and after the sync, into a reserved length too.
#[rstest]
fn long_appends_read_back_whole_while_and_after_written_back(
    #[values(Impl::Std, Impl::Sim)] imp: Impl,
) {
    let h = Harness::new(imp);
    let mut file = h.fs.create(&h.path("a")).unwrap();
    file.reserve(2 << 20).unwrap();
    let chunk: Vec<u8> = (0..=250u8).cycle().take(300_000).collect();
    for _ in 0..12 {
        file.append(&chunk).unwrap();
    }
    let check = |len: u64| {
        let reader = h.fs.open(&h.path("a")).unwrap();
        assert_eq!(reader.len(), len);
        let all = reader.read_vec(0, 12 * 300_000).unwrap();
        assert!(all.chunks(300_000).all(|c| c == chunk.as_slice()));
    };
    check(12 * 300_000);
    file.sync().unwrap();
    file.append(&chunk).unwrap();
    file.sync().unwrap();
    check(13 * 300_000);
}

#[rstest]
fn reads_past_the_end_are_unexpected_eof(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    h.write("a", b"0123456789");
    let reader = h.fs.open(&h.path("a")).unwrap();
    let mut buf = [0; 4];
    for offset in [7, 10, 11, u64::MAX - 1] {
        assert_eq!(
            reader.read_exact_at(offset, &mut buf).unwrap_err().kind(),
            ErrorKind::UnexpectedEof,
            "at {offset}"
        );
    }
    // A length read from a corrupt file: checked before anything is allocated.
    for (offset, len) in [
        (0, u64::MAX),
        (1, u64::MAX),
        (0, 1 << 60),
        (5, 6),
        (u64::MAX, 1),
    ] {
        let err = reader.read_vec(offset, len).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::UnexpectedEof,
            "{len} bytes at {offset}"
        );
    }
}

#[rstest]
fn a_reserved_length_reads_as_zeros_until_appends_fill_it(
    #[values(Impl::Std, Impl::Sim)] imp: Impl,
) {
    let h = Harness::new(imp);
    let mut file = h.write("a", b"abc");
    file.reserve(8).unwrap();
    assert_eq!(file.len(), 3, "len counts appended bytes only");
    assert_eq!(h.read("a"), b"abc\0\0\0\0\0");
    let reader = h.fs.open(&h.path("a")).unwrap();
    assert_eq!(
        reader.read_vec(5, 3).unwrap(),
        b"\0\0\0",
        "a read of zeros only"
    );
    assert_eq!(
        reader.read_vec(2, 3).unwrap(),
        b"c\0\0",
        "and one across the end"
    );
    file.append(b"de").unwrap();
    file.sync().unwrap();
    assert_eq!(h.read("a"), b"abcde\0\0\0", "appends overwrite the zeros");
    file.append(b"fghij").unwrap();
    assert_eq!(h.read("a"), b"abcdefghij", "and run past them");
    file.reserve(4).unwrap();
    assert_eq!(h.read("a"), b"abcdefghij", "never below what was appended");
    file.reserve(16).unwrap();
    file.reserve(0).unwrap();
    assert_eq!(
        h.read("a"),
        b"abcdefghij",
        "zero cuts back to what was appended"
    );
    assert_eq!(file.len(), 10);
}

#[rstest]
fn a_prefaulted_length_behaves_as_a_reserved_one(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    let mut file = h.write("a", b"abc");
    file.prefault(300_000).unwrap();
    assert_eq!(file.len(), 3, "len counts appended bytes only");
    let mut expected = b"abc".to_vec();
    expected.resize(300_000, 0);
    assert_eq!(h.read("a"), expected, "zeros past the appended bytes");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8 + 1).collect();
    file.append(&data).unwrap();
    expected[3..200_003].copy_from_slice(&data);
    assert_eq!(h.read("a"), expected, "appends overwrite the zeros");
    file.reserve(0).unwrap();
    file.sync().unwrap();
    expected.truncate(200_003);
    assert_eq!(h.read("a"), expected, "and reserve(0) cuts the rest off");
    file.prefault(10).unwrap();
    assert_eq!(h.read("a").len(), 200_003, "never below what was appended");
}

#[rstest]
fn a_reader_keeps_the_length_it_was_opened_with(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    let mut writer = h.write("a", b"abc");
    let reader = h.fs.open(&h.path("a")).unwrap();
    writer.append(b"def").unwrap();
    writer.sync().unwrap();
    assert_eq!(reader.len(), 3);
    assert_eq!(
        reader.read_vec(0, 4).unwrap_err().kind(),
        ErrorKind::UnexpectedEof
    );
    assert_eq!(h.read("a"), b"abcdef", "a new reader sees everything");
}

#[rstest]
fn rename_moves_a_file_and_replaces_the_target(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    h.write("CURRENT", b"old");
    h.write("CURRENT.tmp", b"new");
    h.fs.rename(&h.path("CURRENT.tmp"), &h.path("CURRENT"))
        .unwrap();
    h.fs.sync_dir(&h.dir).unwrap();
    assert_eq!(h.read("CURRENT"), b"new");
    assert!(!h.fs.exists(&h.path("CURRENT.tmp")).unwrap());
    assert_eq!(h.fs.list(&h.dir).unwrap(), ["CURRENT"]);

    h.fs.rename(&h.path("CURRENT"), &h.path("OTHER")).unwrap();
    assert_eq!(h.fs.list(&h.dir).unwrap(), ["OTHER"]);
    let err = h.fs.rename(&h.path("CURRENT"), &h.path("X")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[rstest]
fn a_hard_link_is_a_second_name_for_the_same_bytes(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    h.write("a", b"immutable");
    h.fs.create_dir_all(&h.path("sub")).unwrap();
    let link = h.path("sub").join("b");
    h.fs.hard_link(&h.path("a"), &link).unwrap();
    h.fs.remove(&h.path("a")).unwrap();
    let file = h.fs.open(&link).unwrap();
    assert_eq!(file.read_vec(0, file.len()).unwrap(), b"immutable");
    let err = h.fs.hard_link(&link, &link).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    let err = h.fs.hard_link(&h.path("a"), &h.path("c")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let moved = ferris_fs::link_or_copy(&*h.fs, &link, &h.path("c")).unwrap();
    assert_eq!(moved, ferris_fs::Transfer::Linked);
}

#[rstest]
fn remove_deletes_a_file(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    h.write("a", b"x");
    h.fs.remove(&h.path("a")).unwrap();
    assert!(!h.fs.exists(&h.path("a")).unwrap());
    assert_eq!(
        h.fs.open(&h.path("a")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        h.fs.remove(&h.path("a")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    h.fs.create(&h.path("a")).unwrap(); // the name is free again
}

#[rstest]
fn list_names_files_and_directories_sorted(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    assert_eq!(h.fs.list(&h.dir).unwrap(), Vec::<String>::new());
    for name in ["b.log", "a.sst", "c", "000010.sst", "000002.sst"] {
        h.write(name, b"");
    }
    h.fs.create_dir_all(&h.path("sub/deeper")).unwrap();
    h.write("sub/nested", b"");
    assert_eq!(
        h.fs.list(&h.dir).unwrap(),
        ["000002.sst", "000010.sst", "a.sst", "b.log", "c", "sub"]
    );
    assert_eq!(h.fs.list(&h.path("sub")).unwrap(), ["deeper", "nested"]);
}

#[rstest]
fn exists_tells_files_and_directories_from_nothing(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    h.write("file", b"");
    h.fs.create_dir_all(&h.path("dir")).unwrap();
    assert!(h.fs.exists(&h.path("file")).unwrap());
    assert!(h.fs.exists(&h.path("dir")).unwrap());
    assert!(h.fs.exists(&h.dir).unwrap());
    assert!(!h.fs.exists(&h.path("nothing")).unwrap());
    assert!(!h.fs.exists(&h.path("nothing/below")).unwrap());
}

#[rstest]
fn create_dir_all_makes_parents_and_may_be_repeated(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    h.fs.create_dir_all(&h.path("a/b/c")).unwrap();
    h.fs.create_dir_all(&h.path("a/b/c")).unwrap();
    h.fs.create_dir_all(&h.path("a")).unwrap();
    h.write("a/b/c/f", b"x");
    assert_eq!(h.read("a/b/c/f"), b"x");
    h.fs.sync_dir(&h.path("a/b/c")).unwrap();
    h.write("f", b"");
    assert!(
        h.fs.create_dir_all(&h.path("f")).is_err(),
        "a file stands there"
    );
}

#[rstest]
fn missing_paths_are_not_found(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    let errors = [
        h.fs.open(&h.path("missing")).map(drop).unwrap_err(),
        h.fs.create(&h.path("missing/f")).map(drop).unwrap_err(),
        h.fs.lock(&h.path("missing/LOCK")).map(drop).unwrap_err(),
        h.fs.list(&h.path("missing")).unwrap_err(),
        h.fs.remove(&h.path("missing")).unwrap_err(),
        h.fs.rename(&h.path("missing"), &h.path("other"))
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }
}

#[rstest]
fn a_lock_is_exclusive_until_dropped(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    let lock = h.fs.lock(&h.path("LOCK")).unwrap();
    assert!(
        h.fs.exists(&h.path("LOCK")).unwrap(),
        "taking a lock creates the file"
    );
    assert_eq!(
        h.fs.lock(&h.path("LOCK")).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    let other = h.fs.lock(&h.path("OTHER")).unwrap();
    drop(lock);
    let _again = h.fs.lock(&h.path("LOCK")).unwrap();
    assert_eq!(
        h.fs.lock(&h.path("OTHER")).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    drop(other);
}

#[rstest]
fn a_lock_keeps_an_existing_files_contents(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Harness::new(imp);
    h.write("LOCK", b"pid 42");
    let _lock = h.fs.lock(&h.path("LOCK")).unwrap();
    assert_eq!(h.read("LOCK"), b"pid 42");
}

#[rstest]
fn only_non_empty_std_files_are_mapped_and_only_when_asked(
    #[values(Impl::Std, Impl::Sim)] imp: Impl,
) {
    let h = Harness::new(imp);
    h.write("full", b"mapped bytes");
    h.write("empty", b"");
    // The default reads with pread, and SimFs never maps.
    let full = h.fs.open(&h.path("full")).unwrap();
    assert_eq!(full.mapped(), None);
    assert_eq!(full.read_vec(0, 6).unwrap(), b"mapped");
    if imp == Impl::Std {
        let mut options = ferris_fs::StdFsOptions::default();
        options.mmap = true;
        let mapping: &dyn ferris_fs::FileSystem = &ferris_fs::StdFs::with_options(options);
        let full = mapping.open(&h.path("full")).unwrap();
        let empty = mapping.open(&h.path("empty")).unwrap();
        assert_eq!(full.mapped(), Some(&b"mapped bytes"[..]));
        assert_eq!(empty.mapped(), None);
        assert_eq!(
            full.read_vec(0, 6).unwrap(),
            b"mapped",
            "reads work either way"
        );
    }
}

/// Threads writing their own files through one shared file system each read back exactly
/// what they wrote, and the directory lists every file.
#[rstest]
fn threads_share_a_file_system(#[values(Impl::Std, Impl::Sim)] imp: Impl) {
    let h = Arc::new(Harness::new(imp));
    let record = |t: u8, i: u8| -> Vec<u8> { vec![t ^ i; 64 + usize::from(i)] };
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let h = Arc::clone(&h);
            thread::spawn(move || {
                let mut file = h.fs.create(&h.path(&format!("thread-{t}"))).unwrap();
                for i in 0..50 {
                    file.append(&record(t, i)).unwrap();
                    if i % 10 == 0 {
                        file.sync().unwrap();
                    }
                    h.fs.list(&h.dir).unwrap();
                }
                file.sync().unwrap();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    h.fs.sync_dir(&h.dir).unwrap();
    assert_eq!(
        h.fs.list(&h.dir).unwrap(),
        ["thread-0", "thread-1", "thread-2", "thread-3"]
    );
    for t in 0..4 {
        let expected: Vec<u8> = (0..50).flat_map(|i| record(t, i)).collect();
        assert_eq!(h.read(&format!("thread-{t}")), expected, "thread {t}");
    }
}
