//! One test per clause of the `FileSystem` contract, run on every implementation.

use std::io::ErrorKind;

use crate::each_fs;

#[test]
fn create_makes_a_new_empty_file_and_refuses_an_existing_one() {
    for f in each_fs() {
        let file = f.fs.create(&f.path("a")).unwrap();
        assert!(file.is_empty(), "{}", f.name);
        assert_eq!(f.fs.open(&f.path("a")).unwrap().len(), 0, "{}", f.name);
        let err = f.fs.create(&f.path("a")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{}", f.name);
    }
}

#[test]
fn appended_bytes_read_back_at_any_offset() {
    for f in each_fs() {
        let mut w = f.fs.create(&f.path("a")).unwrap();
        w.append(b"hello, ").unwrap();
        w.append(b"world").unwrap();
        assert_eq!(w.len(), 12, "{}", f.name);
        w.sync().unwrap();
        let r = f.fs.open(&f.path("a")).unwrap();
        assert_eq!(r.len(), 12, "{}", f.name);
        let mut buf = [0u8; 5];
        r.read_exact_at(7, &mut buf).unwrap();
        assert_eq!(&buf, b"world", "{}", f.name);
        assert_eq!(r.read_vec(0, 12).unwrap(), b"hello, world", "{}", f.name);
    }
}

#[test]
fn reads_past_the_end_fail_without_allocating() {
    for f in each_fs() {
        let mut w = f.fs.create(&f.path("a")).unwrap();
        w.append(b"0123456789").unwrap();
        let r = f.fs.open(&f.path("a")).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(
            r.read_exact_at(8, &mut buf).unwrap_err().kind(),
            ErrorKind::UnexpectedEof,
            "{}",
            f.name
        );
        assert_eq!(
            r.read_exact_at(u64::MAX, &mut buf).unwrap_err().kind(),
            ErrorKind::UnexpectedEof,
            "{}",
            f.name
        );
        // A bogus length from a corrupt file: an error, not a 2^63-byte allocation.
        assert_eq!(
            r.read_vec(2, u64::MAX / 2).unwrap_err().kind(),
            ErrorKind::UnexpectedEof,
            "{}",
            f.name
        );
        assert_eq!(
            r.read_vec(u64::MAX, 2).unwrap_err().kind(),
            ErrorKind::UnexpectedEof,
            "{}",
            f.name
        );
    }
}

#[test]
fn rename_replaces_the_target_atomically() {
    for f in each_fs() {
        f.fs.create(&f.path("CURRENT"))
            .unwrap()
            .append(b"old")
            .unwrap();
        f.fs.create(&f.path("CURRENT.tmp"))
            .unwrap()
            .append(b"new")
            .unwrap();
        f.fs.rename(&f.path("CURRENT.tmp"), &f.path("CURRENT"))
            .unwrap();
        assert_eq!(
            f.fs.open(&f.path("CURRENT"))
                .unwrap()
                .read_vec(0, 3)
                .unwrap(),
            b"new",
            "{}",
            f.name
        );
        assert!(!f.fs.exists(&f.path("CURRENT.tmp")).unwrap(), "{}", f.name);
        f.fs.sync_dir(&f.dir).unwrap();
        let err = f.fs.rename(&f.path("missing"), &f.path("x")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{}", f.name);
    }
}

#[test]
fn remove_deletes_and_reports_a_missing_file() {
    for f in each_fs() {
        f.fs.create(&f.path("a")).unwrap();
        assert!(f.fs.exists(&f.path("a")).unwrap(), "{}", f.name);
        f.fs.remove(&f.path("a")).unwrap();
        assert!(!f.fs.exists(&f.path("a")).unwrap(), "{}", f.name);
        assert_eq!(
            f.fs.remove(&f.path("a")).unwrap_err().kind(),
            ErrorKind::NotFound,
            "{}",
            f.name
        );
        assert_eq!(
            f.fs.open(&f.path("a")).unwrap_err().kind(),
            ErrorKind::NotFound,
            "{}",
            f.name
        );
    }
}

#[test]
fn list_returns_sorted_names_of_one_directory() {
    for f in each_fs() {
        for name in ["b", "a", "c.log"] {
            f.fs.create(&f.path(name)).unwrap();
        }
        f.fs.create_dir_all(&f.path("sub")).unwrap();
        f.fs.create(&f.dir.join("sub").join("inner")).unwrap();
        assert_eq!(
            f.fs.list(&f.dir).unwrap(),
            ["a", "b", "c.log", "sub"],
            "{}",
            f.name
        );
        assert_eq!(
            f.fs.list(&f.path("nope")).unwrap_err().kind(),
            ErrorKind::NotFound,
            "{}",
            f.name
        );
    }
}

#[test]
fn create_dir_all_makes_parents_and_accepts_existing_ones() {
    for f in each_fs() {
        let deep = f.dir.join("x").join("y").join("z");
        f.fs.create_dir_all(&deep).unwrap();
        f.fs.create_dir_all(&deep).unwrap();
        assert!(
            f.fs.exists(&f.dir.join("x").join("y")).unwrap(),
            "{}",
            f.name
        );
        f.fs.create(&deep.join("file")).unwrap();
        f.fs.sync_dir(&deep).unwrap();
        f.fs.create(&f.path("plain")).unwrap();
        assert!(
            f.fs.create_dir_all(&f.path("plain").join("below")).is_err(),
            "{}: a file in the way",
            f.name
        );
    }
}

#[test]
fn a_file_in_a_missing_directory_cannot_be_created() {
    for f in each_fs() {
        let err = f.fs.create(&f.dir.join("missing").join("a")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{}", f.name);
    }
}

#[test]
fn locks_are_exclusive_and_released_on_drop() {
    for f in each_fs() {
        let lock = f.fs.lock(&f.path("LOCK")).unwrap();
        assert!(
            f.fs.exists(&f.path("LOCK")).unwrap(),
            "{}: the lock file is created",
            f.name
        );
        let err = f.fs.lock(&f.path("LOCK")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{}", f.name);
        drop(lock);
        let _again = f.fs.lock(&f.path("LOCK")).unwrap();
    }
}

#[test]
fn only_the_real_file_system_maps_files() {
    for f in each_fs() {
        let mut w = f.fs.create(&f.path("a")).unwrap();
        w.append(b"mapped bytes").unwrap();
        w.sync().unwrap();
        let r = f.fs.open(&f.path("a")).unwrap();
        match f.name {
            "StdFs" => assert_eq!(r.mapped(), Some(&b"mapped bytes"[..])),
            _ => assert_eq!(r.mapped(), None),
        }
        f.fs.create(&f.path("empty")).unwrap();
        assert_eq!(
            f.fs.open(&f.path("empty")).unwrap().mapped(),
            None,
            "{}: empty files are never mapped",
            f.name
        );
    }
}
