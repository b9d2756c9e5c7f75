//! What the table checks share: a simulated disk, building and opening the table under
//! test, and reading all of it.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::iter::InternalIterator;
use ferris_core::range_del::Tombstones;
use ferris_core::{Error, Lookup, MAX_SEQNO, SeqNo};
use ferris_fs::{FileSystem, SimFs};
use ferris_table::{ReadOptions, TableFormat, TableOptions, TableProperties, TableReader};

use crate::failure::{Context, Outcome, Problem, ensure};
use crate::model::Entry;
use crate::show;

/// The number of the table every check writes.
pub(super) const NUMBER: u64 = 12;

/// A fresh simulated disk holding the empty directory `/db`, whose crashes are drawn from
/// `seed`.
pub(super) struct Disk {
    pub(super) sim: SimFs,
    pub(super) fs: Arc<dyn FileSystem>,
    pub(super) dir: PathBuf,
}

impl Disk {
    pub(super) fn new(seed: u64) -> Disk {
        let sim = SimFs::new(seed);
        let dir = PathBuf::from("/db");
        sim.create_dir_all(&dir)
            .expect("a new SimFs creates a directory");
        Disk {
            fs: Arc::new(sim.clone()),
            sim,
            dir,
        }
    }

    /// The names in the directory.
    pub(super) fn list(&self) -> Outcome<Vec<String>> {
        self.fs.list(&self.dir).context("listing the directory")
    }

    /// Puts `bytes` in a file called `name`.
    pub(super) fn put_file(&self, name: &str, bytes: &[u8]) -> Outcome {
        let path = self.dir.join(name);
        let mut file = self.fs.create(&path).context("creating a file")?;
        file.append(bytes).context("writing a file")
    }

    /// The whole of file `name`.
    pub(super) fn read_file(&self, name: &str) -> Outcome<Vec<u8>> {
        let file = self
            .fs
            .open(&self.dir.join(name))
            .context("opening a file")?;
        file.read_vec(0, file.len()).context("reading a file")
    }

    /// The path of table [`NUMBER`] in `format`.
    pub(super) fn table_path(&self, format: &dyn TableFormat) -> PathBuf {
        format.path(&self.dir, NUMBER)
    }
}

/// Builds table [`NUMBER`] of `entries` on `disk`: create, add each, finish. A builder
/// that fails is dropped, as the engine drops one.
pub(super) fn build(
    format: &dyn TableFormat,
    disk: &Disk,
    entries: &[Entry],
    options: &TableOptions,
) -> ferris_core::Result<TableProperties> {
    build_with(format, disk, entries, &Tombstones::default(), options)
}

/// [`build`], with range tombstones too (added before the entries).
pub(super) fn build_with(
    format: &dyn TableFormat,
    disk: &Disk,
    entries: &[Entry],
    tombstones: &Tombstones,
    options: &TableOptions,
) -> ferris_core::Result<TableProperties> {
    let mut builder = format.create(&disk.fs, &disk.dir, NUMBER, options)?;
    builder.add_range_tombstones(tombstones)?;
    for (key, value) in entries {
        builder.add(key.as_ref(), value)?;
    }
    builder.finish()
}

/// Opens table [`NUMBER`] on `disk`.
pub(super) fn open(
    format: &dyn TableFormat,
    disk: &Disk,
    options: &ReadOptions,
) -> ferris_core::Result<Arc<dyn TableReader>> {
    format.open(&disk.fs, &disk.dir, NUMBER, options)
}

/// At most this many entries are taken from a scan: an iterator that never ends (a bug
/// the suite must report, not hang on) shows up as a scan too long.
const SCAN_LIMIT: usize = 100_000;

/// Every entry of `reader`, forwards or backwards (then returned in forward order),
/// through an iterator that fills the cache or not.
pub(super) fn scan(
    reader: &Arc<dyn TableReader>,
    fill_cache: bool,
    backward: bool,
) -> ferris_core::Result<Vec<Entry>> {
    let mut it = Arc::clone(reader).iter(fill_cache);
    let mut out = Vec::new();
    if backward {
        it.seek_to_last();
    } else {
        it.seek_to_first();
    }
    while it.valid() && out.len() <= SCAN_LIMIT {
        out.push((it.key().to_owned(), it.value()));
        if backward {
            it.prev();
        } else {
            it.next();
        }
    }
    it.status()?;
    if backward {
        out.reverse();
    }
    Ok(out)
}

/// The answer to one of the reads [`reads`] makes.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// A whole scan.
    Entries(Vec<Entry>),
    /// A point lookup.
    Lookup(Option<Lookup>),
    /// A batch of lookups.
    Lookups(Vec<Option<Lookup>>),
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Entries(entries) => write!(f, "{} entries", entries.len()),
            Answer::Lookup(lookup) => f.write_str(&show::lookup(lookup)),
            Answer::Lookups(lookups) => f
                .debug_list()
                .entries(lookups.iter().map(show::lookup))
                .finish(),
        }
    }
}

/// The lookups a read of the whole table makes: a user key and a snapshot each.
pub(super) type Probes = [(Bytes, SeqNo)];

/// Reads everything a caller can: a scan forwards, a scan backwards, each probe as a
/// lookup, then every probed key in one `get_many` at the newest snapshot. Each answer
/// separately, so that damage in one block fails only the reads
/// that touch it.
pub(super) fn reads(
    reader: &Arc<dyn TableReader>,
    probes: &Probes,
) -> Vec<ferris_core::Result<Answer>> {
    let mut out = vec![
        scan(reader, true, false).map(Answer::Entries),
        scan(reader, true, true).map(Answer::Entries),
    ];
    for (key, snapshot) in probes {
        out.push(reader.get(key, *snapshot).map(Answer::Lookup));
    }
    let keys: BTreeSet<&[u8]> = probes.iter().map(|(key, _)| &key[..]).collect();
    let keys: Vec<&[u8]> = keys.into_iter().collect();
    let mut found = vec![None; keys.len()];
    let batch = reader.get_many(&keys, MAX_SEQNO, &mut found);
    out.push(batch.map(|()| Answer::Lookups(found)));
    out
}

/// What read `i` of [`reads`] was.
pub(super) fn describe_read(i: usize, probes: &Probes) -> String {
    match i {
        0 => "a forward scan".to_owned(),
        1 => "a backward scan".to_owned(),
        _ if i - 2 < probes.len() => {
            let (key, snapshot) = &probes[i - 2];
            format!("get({}, {snapshot})", show::bytes(key))
        }
        _ => "get_many of every probed key, at the newest snapshot".to_owned(),
    }
}

/// How `what` answered `got`, where the answer should have been `want`.
pub(super) fn difference(what: impl fmt::Display, got: &Answer, want: &Answer) -> Problem {
    match (got, want) {
        (Answer::Entries(got), Answer::Entries(want)) => entries_difference(what, got, want),
        _ => Problem::mismatch(what, format_args!("{got:?}"), format_args!("{want:?}")),
    }
}

/// Where `got`, the entries `what` gave, first differ from `want`.
pub(super) fn entries_difference(
    what: impl fmt::Display,
    got: &[Entry],
    want: &[Entry],
) -> Problem {
    let show = |(key, value): &Entry| show::entry(key.as_ref(), value);
    match got.iter().zip(want).position(|(g, w)| g != w) {
        Some(i) => Problem::mismatch(
            format_args!("{what}, entry {i}"),
            show(&got[i]),
            show(&want[i]),
        ),
        None => Problem::mismatch(
            format_args!("{what}, the number of entries"),
            got.len(),
            want.len(),
        ),
    }
}

/// `Ok` when `error` is damage reported as the contract says: a [`Error::Corruption`]
/// naming the table's file, or [`Error::UnsupportedVersion`] (damage can make a version
/// field read as a newer one).
pub(super) fn reported_as_damage(error: &Error, path: &Path) -> Outcome {
    match error {
        Error::Corruption(c) => ensure(c.file == path, || {
            Problem::mismatch(
                "the file the corruption names",
                c.file.display(),
                path.display(),
            )
        }),
        Error::UnsupportedVersion(_) => Ok(()),
        other => Err(Problem::mismatch(
            "the error for damage",
            format_args!("{other:?}"),
            "Corruption naming the table's file, or UnsupportedVersion",
        )),
    }
}
