//! File names: the format owns them, and recovery trusts what `parse_file_name` says.

use ferris_core::{InternalKey, ValueKind};
use ferris_table::{TableFormat, TableName, TableOptions};

use super::harness::{Disk, NUMBER};
use crate::Failure;
use crate::failure::{Checking, Context, Outcome, Problem, ensure};

/// Table numbers whose names must parse back: the edges of the six-digit padding, and
/// of `u64`.
const NUMBERS: [u64; 8] = [
    0,
    1,
    NUMBER,
    999_999,
    1_000_000,
    123_456_789,
    u64::MAX - 1,
    u64::MAX,
];

/// Names of the other files in a database directory, which no table format may claim.
const OTHER_FILES: [&str; 9] = [
    "",
    "CURRENT",
    "CURRENT.tmp",
    "LOCK",
    "LOG",
    "MANIFEST-000012",
    "000012.log",
    "000012.wal",
    "000012",
];

/// The format's names: [`TableFormat::name`] is a short lowercase word;
/// [`TableFormat::parse_file_name`] inverts [`TableFormat::file_name`] (live, not
/// temporary) for every number, including 0 and `u64::MAX`; names are distinct single
/// path components and [`TableFormat::path`] joins them to the directory; the names of
/// the database's other files, and a table's name with a `~` after it, are not tables;
/// a name `parse_file_name` takes for a live table is that table's `file_name` (so
/// `0000012.sst` is not a second name for table 12);
/// and every file a builder has written before `finish` parses as that table,
/// temporary (so recovery can remove it).
///
/// # Errors
///
/// A [`Failure`] naming the number or name at fault.
pub fn names(format: &dyn TableFormat) -> Result<(), Failure> {
    let name = format.name();
    let checking = Checking::new(name, "names");
    checking.case("the format's name", || {
        ensure(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            || format!("name() is {name:?}, not a short lowercase word"),
        )
    })?;
    let dir = std::path::Path::new("/db");
    let mut seen = std::collections::BTreeSet::new();
    for number in NUMBERS {
        checking.case(format_args!("table {number}"), || {
            let file_name = format.file_name(number);
            ensure(!file_name.is_empty() && !file_name.contains('/'), || {
                format!("file_name({number}) is {file_name:?}, not one path component")
            })?;
            ensure(seen.insert(file_name.clone()), || {
                format!("file_name({number}) is {file_name:?}, the name of another number too")
            })?;
            let parsed = format.parse_file_name(&file_name);
            let live = TableName {
                number,
                temporary: false,
            };
            ensure(parsed == Some(live), || {
                Problem::mismatch(
                    format_args!("parse_file_name({file_name:?})"),
                    format_args!("{parsed:?}"),
                    format_args!("{:?}", Some(live)),
                )
            })?;
            let path = format.path(dir, number);
            ensure(path == dir.join(&file_name), || {
                Problem::mismatch(
                    format_args!("path(\"/db\", {number})"),
                    path.display(),
                    dir.join(&file_name).display(),
                )
            })?;
            let backup = format!("{file_name}~");
            let parsed = format.parse_file_name(&backup);
            ensure(parsed.is_none(), || {
                Problem::mismatch(
                    format_args!("parse_file_name({backup:?})"),
                    format_args!("{parsed:?}"),
                    "None: an editor's backup is no table",
                )
            })?;
            one_name_per_table(format, &file_name)
        })?;
    }
    for other in OTHER_FILES {
        checking.case(format_args!("the name {other:?}"), || {
            let parsed = format.parse_file_name(other);
            ensure(parsed.is_none(), || {
                Problem::mismatch(
                    format_args!("parse_file_name({other:?})"),
                    format_args!("{parsed:?}"),
                    "None: that file is not a table",
                )
            })
        })?;
    }
    checking.case("a table being written", || {
        temporaries_are_recognised(format)
    })
}

/// Names near `file_name` (a digit more, a letter's case changed, a character fewer)
/// that `parse_file_name` takes for a live table must be that table's own name: one
/// table, one name. Otherwise a directory could hold two files for one table, and
/// whoever lists it (recovery, a tool) would take the wrong one for the table.
fn one_name_per_table(format: &dyn TableFormat, file_name: &str) -> Outcome {
    let mut near = vec![
        format!("0{file_name}"),
        format!("1{file_name}"),
        file_name.to_uppercase(),
        file_name.to_lowercase(),
        file_name[1..].to_owned(),
    ];
    near.retain(|name| name != file_name);
    for name in near {
        if let Some(TableName {
            number,
            temporary: false,
        }) = format.parse_file_name(&name)
        {
            let own = format.file_name(number);
            ensure(own == name, || {
                format!(
                    "parse_file_name({name:?}) is table {number}, whose name is {own:?}: two \
                     names for one table"
                )
            })?;
        }
    }
    Ok(())
}

/// Every file in the directory while a builder is at work is its table's, temporary.
fn temporaries_are_recognised(format: &dyn TableFormat) -> Outcome {
    let disk = Disk::new(0);
    let mut builder = format
        .create(&disk.fs, &disk.dir, NUMBER, &TableOptions::default())
        .context("create")?;
    let value = vec![7u8; 100_000];
    for i in 0..30u64 {
        let key = InternalKey::new(i.to_be_bytes().to_vec(), 1, ValueKind::Put);
        builder.add(key.as_ref(), &value).context("add")?;
    }
    let expected = Some(TableName {
        number: NUMBER,
        temporary: true,
    });
    for name in disk.list()? {
        let parsed = format.parse_file_name(&name);
        ensure(parsed == expected, || {
            Problem::mismatch(
                format_args!("parse_file_name({name:?}), a file the builder wrote"),
                format_args!("{parsed:?}"),
                format_args!("{expected:?}"),
            )
        })?;
    }
    Ok(())
}
