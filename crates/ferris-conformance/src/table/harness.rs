//! What every check shares: running a case and reporting its failure, a simulated disk,
//! building and opening the table under test, and reading all of it.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::iter::InternalIterator;
use ferris_core::{Error, InternalKey, Lookup, SeqNo};
use ferris_fs::{FileSystem, SimFs};
use ferris_table::{ReadOptions, TableFormat, TableOptions, TableProperties, TableReader};

use super::Failure;

/// The number of the table every check writes.
pub(super) const NUMBER: u64 = 12;

/// An entry: an internal key and its value.
pub(super) type Entry = (InternalKey, Bytes);

/// What a case returns: nothing, or what went wrong.
pub(super) type Outcome = Result<(), String>;

/// Runs one case of `check`: an `Err` from `body`, or a panic, becomes a [`Failure`]
/// naming the format, the check and `case`.
pub(super) fn run(
    format: &dyn TableFormat,
    check: &'static str,
    case: &dyn fmt::Display,
    body: impl FnOnce() -> Outcome,
) -> Result<(), Failure> {
    let detail = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(detail)) => detail,
        Err(payload) => format!("panicked: {}", panic_message(&*payload)),
    };
    Err(Failure {
        format: format.name(),
        check,
        case: case.to_string(),
        detail,
    })
}

/// The message of a panic, when it has one.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// `Ok` when `condition` holds, else the detail `explain` writes.
pub(super) fn ensure(condition: bool, explain: impl FnOnce() -> String) -> Outcome {
    if condition { Ok(()) } else { Err(explain()) }
}

/// Says which call an error came from: `format.open(..).context("open")?`.
pub(super) trait Context<T> {
    /// The error as a detail, prefixed with `what`.
    fn context(self, what: impl fmt::Display) -> Result<T, String>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

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
    pub(super) fn list(&self) -> Result<Vec<String>, String> {
        self.fs.list(&self.dir).context("listing the directory")
    }

    /// Puts `bytes` in a file called `name`.
    pub(super) fn put_file(&self, name: &str, bytes: &[u8]) -> Outcome {
        let path = self.dir.join(name);
        let mut file = self.fs.create(&path).context("creating a file")?;
        file.append(bytes).context("writing a file")
    }

    /// The whole of file `name`.
    pub(super) fn read_file(&self, name: &str) -> Result<Vec<u8>, String> {
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
    let mut builder = format.create(&disk.fs, &disk.dir, NUMBER, options)?;
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
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Entries(entries) => write!(f, "{} entries", entries.len()),
            Answer::Lookup(lookup) => write!(f, "{}", show_lookup(lookup)),
        }
    }
}

/// The lookups a read of the whole table makes: a user key and a snapshot each.
pub(super) type Probes = [(Bytes, SeqNo)];

/// Reads everything a caller can: a scan forwards, a scan backwards, then each probe as
/// a lookup. Each answer separately, so that damage in one block fails only the reads
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
    out
}

/// What read `i` of [`reads`] was.
pub(super) fn describe_read(i: usize, probes: &Probes) -> String {
    match i {
        0 => "a forward scan".to_owned(),
        1 => "a backward scan".to_owned(),
        _ => {
            let (key, snapshot) = &probes[i - 2];
            format!("get({}, {snapshot})", show_bytes(key))
        }
    }
}

/// Where two answers differ, in a few words.
pub(super) fn difference(got: &Answer, want: &Answer) -> String {
    match (got, want) {
        (Answer::Entries(got), Answer::Entries(want)) => entries_difference(got, want),
        _ => format!("gave {got:?}, where the model says {want:?}"),
    }
}

/// Where two lists of entries first differ.
pub(super) fn entries_difference(got: &[Entry], want: &[Entry]) -> String {
    match got.iter().zip(want).position(|(g, w)| g != w) {
        Some(i) => format!(
            "entry {i} is {}, where the model has {}",
            show_entry(&got[i]),
            show_entry(&want[i])
        ),
        None => format!("{} entries, where the model has {}", got.len(), want.len()),
    }
}

/// Bytes for a message: escaped, and cut short when long.
pub(super) fn show_bytes(bytes: &[u8]) -> String {
    const SHOWN: usize = 24;
    let shown = bytes[..bytes.len().min(SHOWN)].escape_ascii();
    if bytes.len() > SHOWN {
        format!("b\"{shown}...\" ({} bytes)", bytes.len())
    } else {
        format!("b\"{shown}\"")
    }
}

/// An entry for a message.
pub(super) fn show_entry((key, value): &Entry) -> String {
    format!(
        "{}@{}:{:?} = {}",
        show_bytes(key.user_key()),
        key.seq(),
        key.kind(),
        show_bytes(value)
    )
}

/// A lookup's answer for a message.
pub(super) fn show_lookup(lookup: &Option<Lookup>) -> String {
    match lookup {
        None => "None".to_owned(),
        Some(Lookup::Deleted) => "Deleted".to_owned(),
        Some(Lookup::Value(v)) => format!("Value({})", show_bytes(v)),
    }
}

/// `Ok` when `error` is damage reported as the contract says: a [`Error::Corruption`]
/// naming the table's file, or [`Error::UnsupportedVersion`] (damage can make a version
/// field read as a newer one).
pub(super) fn reported_as_damage(error: &Error, path: &Path) -> Outcome {
    match error {
        Error::Corruption(c) => ensure(c.file == path, || {
            format!(
                "the corruption names {}, not the table's file {}",
                c.file.display(),
                path.display()
            )
        }),
        Error::UnsupportedVersion(_) => Ok(()),
        other => Err(format!("damage reported as {other:?}, not as corruption")),
    }
}
